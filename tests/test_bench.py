"""The pure parts of ``bench/`` (``make bench``): summaries, ratios, goals, the report files,
and the parsers of the tools' output. No benchmark runs here."""

from __future__ import annotations

import json
import math

import pytest
from bench import report
from bench.gate_throughput import parse_cli_summary
from bench.latency_accuracy import server_latencies
from bench.registry import COMPARISONS
from bench.server_capacity import parse_wrk


def test_summarize_gives_median_and_range_and_drops_missing_runs() -> None:
    assert report.summarize([3.0, None, 1.0, float("nan"), 2.0]) == {
        "median": 2.0, "min": 1.0, "max": 3.0, "runs": [3.0, 1.0, 2.0],
    }  # fmt: skip
    assert report.summarize([])["median"] is None


def test_percentile_interpolates_between_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert report.percentile(values, 0) == 10.0
    assert report.percentile(values, 50) == 25.0
    assert report.percentile(values, 100) == 40.0
    assert math.isnan(report.percentile([], 50))


def test_closeness_is_one_when_exact_and_symmetric_in_error() -> None:
    assert report.closeness(100.0, 100.0) == 1.0
    assert report.closeness(105.0, 100.0) == pytest.approx(0.95)
    assert report.closeness(95.0, 100.0) == pytest.approx(0.95)


def _document() -> dict:
    goals = {"a_ratio": report.Goal(1.5, "≥ 1.5×"), "b_ratio": report.Goal(0.5, "≥ 0.5")}
    result = report.Result(
        ratios=[
            report.Ratio(
                "a_ratio",
                "ours",
                "peer",
                [1.0, 2.0, 1.6],
                report.summarize([10, 20, 16]),
                report.summarize([10, 10, 10]),
                "x/s",
            ),
            report.Ratio("b_ratio", "ours", "peer", [0.4, 0.3, 0.45]),
            report.Ratio("c_ratio", "ours", "peer", [0.9]),
        ],
        raw={"figure": 1},
        notes=["a note"],
    )
    entries = [
        report.comparison_entry("one", "1. One", goals, result, seconds=12.34),
        report.comparison_entry("two", "2. Two", {}, None, error="BenchError: no wrk"),
    ]
    return report.bench_document(
        entries, {"cpus": 2, "tools": {}}, "2026-01-01T00:00:00Z", 99.9, []
    )


def test_bench_document_shape_ratios_and_goals() -> None:
    document = _document()
    assert document["schema_version"] == report.SCHEMA_VERSION
    assert document["ratios"] == {"a_ratio": 1.6, "b_ratio": 0.4, "c_ratio": 0.9}
    assert document["goals_missed"] == ["b_ratio"]
    one, two = document["comparisons"]
    entry = one["ratios"]["a_ratio"]
    assert (entry["value"], entry["min"], entry["max"]) == (1.6, 1.0, 2.0)
    assert entry["goal"] == {"minimum": 1.5, "text": "≥ 1.5×"} and entry["goal_met"] is True
    assert one["ratios"]["c_ratio"]["goal_met"] is None  # no goal: reported only
    assert one["seconds"] == 12.3 and one["raw"] == {"figure": 1}
    assert two["error"] == "BenchError: no wrk" and two["ratios"] == {}
    json.dumps(document)  # serialisable as it is


def test_every_ratio_name_ends_in_ratio() -> None:
    names = [name for c in COMPARISONS for name in c.goals]
    assert names and all(name.endswith("_ratio") for name in names)
    assert len({c.name for c in COMPARISONS}) == len(COMPARISONS)


def test_markdown_table_has_a_row_per_ratio_and_marks_misses(tmp_path) -> None:
    document = _document()
    table = report.markdown_table(document)
    lines = table.strip().splitlines()
    assert lines[0].startswith("| comparison |") and set(lines[1]) <= set("|-")
    assert len(lines) == 2 + 3 + 1  # header, rule, three ratios, one failed comparison
    assert "1.60 (1.00–2.00)" in table and "16.0 (10.0–20.0) x/s" in table
    assert "**no**" in table and "error: BenchError: no wrk" in table
    json_path, md_path = report.write_reports(document, tmp_path)
    assert json.loads(json_path.read_text())["ratios"]["a_ratio"] == 1.6
    assert "a note" in md_path.read_text() and "Goals missed: `b_ratio`" in md_path.read_text()


WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:9301/fixed
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20ms  300.00us   9.00ms   90.00%
    Req/Sec    26.00k     1.00k   28.00k    80.00%
  Latency Distribution
     50%  850.00us
     75%    1.10ms
     90%    1.40ms
     99%    2.10ms
  78000 requests in 3.00s, 11.00MB read
  Non-2xx or 3xx responses: 12
Requests/sec:  26000.00
Transfer/sec:      3.67MB
"""


def test_parse_wrk() -> None:
    figures = parse_wrk(WRK_OUTPUT)
    assert figures["rps"] == 26000.0 and figures["requests"] == 78000
    assert figures["non_2xx"] == 12
    assert figures["p50_ms"] == pytest.approx(0.85) and figures["p99_ms"] == pytest.approx(2.1)


def test_parse_cli_summary() -> None:
    text = (
        "Test cases:\n  1947 generated, 5 found 5 unique failures, 48 skipped\n\n"
        "======================= 5 failures, 2 warnings in 9.92s ========================\n"
    )
    assert parse_cli_summary(text) == (1947, 9.92)


def test_server_latencies_keep_the_clients_span_and_successes() -> None:
    samples = [[99.0, 5.0, 200], [100.0, 21.0, 200], [100.5, 30.0, 409], [101.0, 22.0, 200]]
    assert server_latencies(samples, first=100.0, last=101.0) == [21.0, 22.0]
