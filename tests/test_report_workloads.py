"""The report of the ingest / search / mixed workloads (requests.csv BULK and SEARCH rows).

The expected numbers are worked out by hand from ``loadrun_fixtures.BULKS`` / ``SEARCHES``:
acknowledged documents 10+8+10+5+10 = 43, chunks pro rata 30+16+40+12+30 = 128, over the
ingest window 2.0 s (first bulk sent) to 42.0 s (last answer) = 40 s; item failures 2+5 = 7
(status_exception 5, mapper_parsing 2) of the 50 documents of answered bulks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from elsercheck.report import command, history
from elsercheck.report.metrics import METRICS
from elsercheck.report.timeseries import ingest_series, request_series
from elsercheck.runs.ingest_summary import parse_item_failures
from elsercheck.runs.runfiles import load_run

from .loadrun_fixtures import write_run
from .test_report import validate

# What a report compares and says: its charts are sketched, not drawn (conftest.py).
pytestmark = pytest.mark.usefixtures("sketched_charts")

INFERENCE_SECTIONS = ["comparison", "throughput", "allocations", "cost", "errors", "buckets",
                      "expectations", "lifecycle", "conformance", "metadata"]  # fmt: skip
# The ingest / search workloads' own metrics (cold starts are optional too, but of any workload).
OPTIONAL = sorted(
    metric.key for metric in METRICS if metric.optional and metric.path[0] in ("ingest", "search")
)


def report(*args: str | Path) -> int:
    return command.main([str(arg) for arg in args])


def summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


def page(run_dir: Path) -> str:
    return (run_dir / "report.html").read_text(encoding="utf-8")


def sections(html: str) -> list[str]:
    return re.findall(r"<section id='([^']+)'>", html)


def section(html: str, key: str) -> str:
    match = re.search(rf"<section id='{key}'>(.*?)</section>", html, re.S)
    assert match, f"no {key} section"
    return match[1]


def nightly(reports: Path, day: int, **options: Any) -> Path:
    run_id = f"202611{day:02d}t100000-{day:04x}"
    return write_run(reports / "load" / run_id, run_id=run_id,
                     started_at=f"2026-11-{day:02d}T10:00:00Z", **options)  # fmt: skip


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    return tmp_path / "reports"


def test_mixed_run_summary_numbers(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = write_run(reports / "load" / "mixed", workload="mixed")
    assert report(run_dir, "--no-history") == 0
    out = capsys.readouterr().out
    assert ("ingest: 6 bulks (1 failed), 43/60 documents acknowledged → 1.1 docs/s, "
            "3.2 chunks/s; item failures 14.0 %; bulk p90 460.0 ms") in out  # fmt: skip
    assert "search: 11 semantic searches (1 failed), p90 91.0 ms" in out
    document = summary(run_dir)
    validate(document)
    assert document["schema_version"] == 4 and document["run"]["workload"] == "mixed"
    ingest, search = document["load"]["ingest"], document["load"]["search"]
    assert (ingest["total"], ingest["ok"], ingest["failed"]) == (6, 5, 1)
    assert ingest["errors_by_kind"] == {"429": 1}
    assert (ingest["documents"], ingest["documents_acknowledged"]) == (60, 43)
    assert (ingest["chunks"], ingest["chunks_acknowledged"]) == (174, 128.0)
    assert ingest["duration_s"] == 40.0
    assert ingest["documents_per_s"] == 1.075  # 43 / 40
    assert ingest["chunks_per_s"] == 3.2  # 128 / 40
    assert ingest["item_failures"] == 7 and ingest["item_failure_rate_pct"] == 14.0  # 7 / 50
    assert ingest["item_failures_by_kind"] == {
        "inference_exception/status_exception": 5, "mapper_parsing_exception": 2,
    }  # fmt: skip
    # ok bulks of 100…500 ms; the failed one (5 ms) is not among them
    assert ingest["latency_ms"] == {"count": 5, "p50": 300.0, "p90": 460.0, "p99": 496.0,
                                    "max": 500.0, "mean": 300.0, "min": 100.0}  # fmt: skip
    assert (search["total"], search["ok"], search["failed"]) == (11, 10, 1)
    assert search["errors_by_kind"] == {"5xx": 1}
    # ok searches of 10…100 ms: p50 55, p90 91, p99 99.1; window 5.0 s to 50.1 s
    assert search["latency_ms"]["p50"] == 55.0 and search["latency_ms"]["p90"] == 91.0
    assert search["latency_ms"]["p99"] == 99.1 and search["latency_ms"]["max"] == 100.0
    assert search["duration_s"] == 45.1 and search["throughput_rps"] == round(10 / 45.1, 3)
    # Inference numbers are those of the POST rows alone.
    assert document["load"]["requests"]["total"] == 1199


def test_mixed_run_page(reports: Path) -> None:
    run_dir = write_run(reports / "load" / "mixed", workload="mixed")
    assert report(run_dir, "--no-history") == 0
    html = page(run_dir)
    assert sections(html) == [*INFERENCE_SECTIONS[:2], "ingest", "search",
                              *INFERENCE_SECTIONS[2:]]  # fmt: skip
    ingest = section(html, "ingest")
    assert re.search(r'<svg class="chart" id="chart-ingest"[^>]*><title>Ingest: documents and '
                     r"chunks per second \(1 s windows\)</title>", ingest)  # fmt: skip
    assert "1.07 documents/s" in ingest and "3.20 chunks/s" in ingest  # 2 digits in prose
    assert "43 of 60 documents acknowledged" in ingest and "14.00 %" in ingest
    assert "<code>inference_exception/status_exception</code></td><td>5<" in ingest
    assert "<code>mapper_parsing_exception</code></td><td>2<" in ingest
    assert re.search(r"<code>bulk</code></td><td>5</td><td>300.0</td><td>460.0</td>"
                     r"<td>496.0</td><td>500.0</td>", ingest)  # fmt: skip
    search = section(html, "search")
    assert "11 semantic searches, 1 failed (5xx ×1)" in search
    assert re.search(r"<code>semantic</code></td><td>10</td><td>55.0</td><td>91.0</td>"
                     r"<td>99.1</td><td>100.0</td>", search)  # fmt: skip
    for value, label in (("1.1", "documents/s"), ("3.2", "chunks/s"), ("14.00 %", "item failures"),
                         ("460.0 ms", "bulk p90"), ("91.0 ms", "search p90")):  # fmt: skip
        assert f"<div class='card'><b>{value}</b><span>{label}</span></div>" in html, label


def test_ingest_series_bins_documents_and_chunks(tmp_path: Path) -> None:
    files = load_run(write_run(tmp_path / "run", workload="ingest"))
    series = request_series(files.inference, end_s=60.0)
    assert series.window_s == 1 and len(series.starts) == 60
    ingest = ingest_series(files.other_requests, series)
    assert ingest is not None
    assert ingest.documents.sum() == 43 and ingest.chunks.sum() == 128  # 1 s windows
    # answers at 2.1, 12.2, 22.3, 32.4, 42.0 s; the failed bulk (41.005 s) adds nothing
    assert np.flatnonzero(ingest.documents).tolist() == [2, 12, 22, 32, 42]
    assert ingest.documents[[2, 12, 32]].tolist() == [10, 8, 5]
    assert ingest.chunks[[2, 12, 32]].tolist() == [30, 16, 12]
    assert ingest_series([], series) is None


def test_ingest_only_run(reports: Path) -> None:
    run_dir = write_run(reports / "load" / "ingest", workload="ingest")
    assert report(run_dir, "--no-history") == 0
    document = summary(run_dir)
    validate(document)
    assert document["load"]["requests"]["total"] == 0 and document["load"]["search"] is None
    assert document["load"]["ingest"]["documents_per_s"] == 1.075
    html = page(run_dir)
    assert "ingest" in sections(html) and "search" not in sections(html)
    assert 'id="chart-ingest"' in html and "search p90" not in html


def test_inference_run_is_unchanged(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history_dir = reports / "history"
    assert report(nightly(reports, 20), "--history", history_dir) == 0
    run_dir = nightly(reports, 21)
    assert report(run_dir, "--history", history_dir) == 0
    out = capsys.readouterr().out
    assert "lifecycle:" in out and "ingest:" not in out and "search:" not in out
    document = summary(run_dir)
    validate(document)
    assert document["load"]["ingest"] is None and document["load"]["search"] is None
    html = page(run_dir)
    assert sections(html) == [*INFERENCE_SECTIONS[:-2], "trends", *INFERENCE_SECTIONS[-2:]]
    assert 'id="chart-ingest"' not in html
    for text in ("documents/s", "chunks/s", "bulk p90", "search p90", "Bulk"):
        assert text not in html, text
    # The comparison and the trends list the inference metrics only.
    metrics = [row["metric"] for row in document["comparison"]["rows"]]
    assert metrics == [metric.key for metric in METRICS if not metric.optional]
    assert "cold_start_p95_s" not in metrics  # no run of the comparison went to zero
    trends = re.search(r'<svg class="chart" id="chart-trends".*?</svg>', html, re.S)
    assert trends and "Ingest documents/s" not in trends[0] and "Search latency" not in trends[0]


def test_slower_bulks_and_searches_are_regressions(
    reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history_dir = reports / "history"
    assert report(nightly(reports, 20, workload="mixed"), "--history", history_dir) == 0
    slower = nightly(reports, 21, workload="mixed", latency_factor=1.6)
    assert report(slower, "--history", history_dir) == 3
    assert "regression: Bulk latency p90 460 → 736 ms" in capsys.readouterr().out
    document = summary(slower)
    validate(document)
    rows = {row["metric"]: row for row in document["comparison"]["rows"]}
    assert set(OPTIONAL) <= set(rows)
    assert rows["bulk_latency_p90_ms"]["regression"] and rows["search_latency_p90_ms"]["regression"]
    assert rows["search_latency_p90_ms"]["contender"] == pytest.approx(91.0 * 1.6)
    # The slower last answer (41.5 s + 0.8 s) stretches the window to 40.3 s: -0.7 %, no
    # regression; item failures are those of the fixture in both runs.
    documents = rows["ingest_documents_per_s"]
    assert documents["contender"] == round(43 / 40.3, 3) and not documents["regression"]
    assert rows["ingest_item_failure_rate_pct"]["diff"] == 0.0
    assert "bulk_latency_p90_ms" in document["comparison"]["regressions"]
    html = page(slower)
    trends = re.search(r'<svg class="chart" id="chart-trends".*?</svg>', html, re.S)
    assert trends and "Ingest documents/s" in trends[0] and "Search latency p90" in trends[0]


def test_item_failure_rate_regresses_in_points(reports: Path) -> None:
    history_dir = reports / "history"
    assert report(nightly(reports, 20, workload="ingest"), "--history", history_dir) == 0
    worse = nightly(reports, 21, workload="ingest")
    # One more bulk of 10 documents, all failed items: 17 / 60 = 28.333 % (+14.3 points)
    csv_path = worse / "requests.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = dict.fromkeys(header, "")
    row.update(timestamp="1795000020.0", elapsed_s="20.0", request_type="BULK", name="bulk",
               status="200", latency_ms="100.0", documents="10", chunks="10",
               acknowledged="0", item_failures="inference_exception/status_exception:10")  # fmt: skip
    lines.append(",".join(row[column] for column in header))
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert report(worse, "--history", history_dir) == 3
    rows = {row["metric"]: row for row in summary(worse)["comparison"]["rows"]}
    failure_rate = rows["ingest_item_failure_rate_pct"]
    assert failure_rate["contender"] == 28.333 and failure_rate["regression"]
    assert summary(worse)["load"]["ingest"]["item_failures_by_kind"] == {
        "inference_exception/status_exception": 15, "mapper_parsing_exception": 2,
    }  # fmt: skip


def test_runs_of_another_workload_are_no_baseline(reports: Path) -> None:
    history_dir = reports / "history"
    assert report(nightly(reports, 20), "--history", history_dir) == 0  # inference, same shape
    mixed = nightly(reports, 21, workload="mixed")
    assert report(mixed, "--history", history_dir) == 0
    assert summary(mixed)["comparison"] is None
    ingest = nightly(reports, 22, workload="ingest")  # no inference request at all
    assert report(ingest, "--history", history_dir) == 0
    assert summary(ingest)["comparison"] is None
    again = nightly(reports, 23, workload="ingest")
    assert report(again, "--history", history_dir) == 0
    assert summary(again)["comparison"]["baseline_run_id"] == "20261122t100000-0016"


def test_version_1_history_entries_stay_baselines(reports: Path) -> None:
    history_dir = reports / "history"
    old = nightly(reports, 20)
    assert report(old, "--history", history_dir) == 0
    # What the report wrote before schema 2: no ingest / search, no workload.
    entry = history_dir / "20261120t100000-0014.json"
    document = json.loads(entry.read_text(encoding="utf-8"))
    document["schema_version"] = 1
    for key in ("ingest", "search"):
        del document["load"][key]
    document["load"]["summary_version"] = 1
    entry.write_text(json.dumps(document), encoding="utf-8")
    assert [e["run"]["run_id"] for e in history.load(history_dir)] == ["20261120t100000-0014"]
    contender = nightly(reports, 21)
    assert report(contender, "--history", history_dir) == 0
    comparison = summary(contender)["comparison"]
    assert comparison["baseline_run_id"] == "20261120t100000-0014"
    assert not {row["metric"] for row in comparison["rows"]} & set(OPTIONAL)


def test_parse_item_failures() -> None:
    assert parse_item_failures("a:2;b/c:3;a:1") == {"a": 3, "b/c": 3}
    assert parse_item_failures("bad;x:many;:4;y:0;") == {}
    assert parse_item_failures(None) == {} and parse_item_failures("") == {}
