"""summarize(): exact numbers on a hand-made run; empty, partial and damaged runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from elsercheck.runs import rundir
from elsercheck.runs.rundir import Expectation
from elsercheck.runs.stats import latency_stats, percentile
from elsercheck.runs.summary import format_text, summarize, write_load_summary


def _request(at: float, latency: float, name: str, kind: str = "", type_: str = "POST") -> dict:
    status = {"": 200, "409": 409, "429": 429, "backlog": 0}[kind]
    return {"timestamp": 1_800_000_000 + at, "elapsed_s": at, "request_type": type_, "name": name,
            "status": status, "latency_ms": latency, "error_kind": kind}  # fmt: skip


# Five successful inference requests of 10..50 ms, three failed ones, lifecycle and other rows.
REQUESTS = [
    _request(0.0, 10.0, "short"),
    _request(0.5, 1.0, "long", "409"),
    _request(1.0, 20.0, "short"),
    _request(2.0, 30.0, "short"),
    _request(2.5, 5.0, "short", "429"),
    _request(3.0, 40.0, "long"),
    _request(4.0, 50.0, "long"),
    _request(4.5, 0.0, "long", "backlog"),
    _request(0.1, 2000.0, "time_to_fully_allocated", type_="LIFECYCLE"),
    _request(0.2, 3000.0, "time_to_fully_allocated", type_="LIFECYCLE"),
    {
        **_request(0.3, 9000.0, "time_to_fully_allocated", type_="LIFECYCLE"),
        "error_kind": "timeout",
    },
    _request(0.4, 700.0, "create", type_="LIFECYCLE"),
    {**_request(0.6, 3.0, "x", type_="GET")},
]
# (target, allocation_count) per second: scale 1 → 2 at 2 s (reached 3 s), 2 → 1 at 5 s (6 s).
ALLOCATIONS = [(1, 1), (1, 1), (2, 1), (2, 2), (2, 2), (1, 2), (1, 1)]


def _allocation_rows() -> list[dict[str, Any]]:
    return [
        {"elapsed_s": float(second), "allocation_count": count, "target_allocation_count": target,
         "number_of_pending_requests": 3 * count, "average_inference_time_ms": 20.0 + second}
        for second, (target, count) in enumerate(ALLOCATIONS)
    ]  # fmt: skip


def _tiny_run(run_dir: Path, with_run_json: bool = True) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    rundir.write_csv(run_dir / rundir.REQUESTS_CSV, rundir.REQUEST_COLUMNS, REQUESTS)
    rundir.write_csv(
        run_dir / rundir.ALLOCATIONS_CSV, rundir.ALLOCATION_COLUMNS, _allocation_rows()
    )
    results = [
        Expectation("a", "d", True, "ok"),
        Expectation("b", "d", False, "too slow", {"delay_s": 12.5}),
        Expectation("c", "d", None, "did not apply"),
    ]
    rundir.write_json(run_dir / rundir.EXPECTATIONS_JSON, rundir.expectations_to_json(results))
    if with_run_json:
        stages = [{"label": "base", "start_s": 0.0, "duration_s": 1.0, "users": 1},
                  {"label": "up", "start_s": 1.0, "duration_s": 4.0, "users": 4,
                   "expect": "scale-up"}]  # fmt: skip
        rundir.write_json(
            run_dir / rundir.RUN_JSON,
            {"run_id": "tiny", "started_at": "2026-11-21T10:00:00Z",
             "finished_at": "2026-11-21T10:00:07.5Z", "stages": stages},
        )  # fmt: skip
    return run_dir


def test_percentiles_interpolate_between_closest_ranks() -> None:
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([10, 20, 30, 40, 50], 90) == pytest.approx(46)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    assert latency_stats([float("nan"), 5.0]) == {
        "count": 1, "p50": 5.0, "p90": 5.0, "p99": 5.0, "max": 5.0, "mean": 5.0, "min": 5.0,
    }  # fmt: skip


def test_summary_of_a_tiny_run_is_exact(tmp_path: Path) -> None:
    summary = summarize(_tiny_run(tmp_path / "run"))
    assert summary["run_id"] == "tiny"
    assert summary["run_seconds"] == 7.5
    assert summary["requests"] == {
        "total": 8, "ok": 5, "failed": 3, "error_rate_pct": 37.5,
        # 5 ok answers between the first send (0 s) and the last answer (the backlog at 4.5 s)
        "throughput_rps": round(5 / 4.5, 3), "first_s": 0.0, "last_s": 4.5, "duration_s": 4.5,
    }  # fmt: skip
    assert summary["latency_ms"] == {
        "count": 5, "p50": 30.0, "p90": 46.0, "p99": 49.6, "max": 50.0, "mean": 30.0, "min": 10.0,
    }  # fmt: skip
    # Input-length buckets in corpus order (short before long), not alphabetical.
    assert list(summary["by_name"]) == ["short", "long"]
    short, long = summary["by_name"]["short"], summary["by_name"]["long"]
    assert (short["total"], short["ok"], short["failed"]) == (4, 3, 1)
    assert short["latency_ms"]["p50"] == 20.0 and short["latency_ms"]["p90"] == 28.0
    assert (long["total"], long["failed"]) == (4, 2)
    assert long["latency_ms"]["p50"] == 45.0 and long["latency_ms"]["p99"] == 49.9
    errors = summary["errors"]
    assert errors["total"] == 3 and errors["documented_under_load"] == 2
    assert errors["by_kind"] == {
        "409": 1, "429": 1, "408": 0, "5xx": 0, "4xx": 0, "connection": 0, "timeout": 0,
        "backlog": 1,
    }  # fmt: skip
    allocations = summary["allocations"]
    assert allocations["scale_events"] == [
        {"elapsed_s": 2.0, "from": 1, "to": 2, "reached_s": 3.0},
        {"elapsed_s": 5.0, "from": 2, "to": 1, "reached_s": 6.0},
    ]
    assert (allocations["max_allocation_count"], allocations["min_allocation_count"]) == (2, 1)
    assert (allocations["scale_ups"], allocations["scale_downs"]) == (1, 1)
    assert allocations["first_scale_up_s"] == 2.0
    # From the start of the stage expecting a scale-up (1 s) to 2 allocations (3 s).
    assert allocations["time_to_scale_up_s"] == 2.0
    assert allocations["max_pending_requests"] == 6
    assert allocations["max_average_inference_time_ms"] == 26.0
    assert summary["expectations"]["pass"] == 1
    assert summary["expectations"]["fail"] == 1
    assert summary["expectations"]["skipped"] == 1
    assert summary["expectations"]["items"][1]["observed"] == {"delay_s": 12.5}
    lifecycle = summary["lifecycle"]["time_to_fully_allocated"]
    assert lifecycle == {"count": 3, "failed": 1, "median_s": 2.5, "mean_s": 2.5,
                         "min_s": 2.0, "max_s": 3.0}  # fmt: skip
    assert summary["lifecycle"]["create"]["median_s"] == 0.7
    assert summary["other_requests"] == {"GET": {"total": 1, "failed": 0}}


def test_without_run_json_the_scale_up_counts_from_the_first_decision(tmp_path: Path) -> None:
    summary = summarize(_tiny_run(tmp_path / "run", with_run_json=False))
    assert summary["run_id"] == "run"  # the directory name
    assert summary["run_seconds"] is None
    assert summary["allocations"]["time_to_scale_up_s"] == 1.0  # 2 s decision → 3 s reached


def test_format_text_names_the_headline_numbers(tmp_path: Path) -> None:
    text = format_text(summarize(_tiny_run(tmp_path / "run")))
    lines = text.splitlines()
    assert lines[0].startswith("load run tiny: 8 inference requests, 5 ok, 3 failed (37.5 %)")
    assert "p50 30.0" in text and "p99 49.6" in text
    assert "409×1, 429×1, backlog×1" in text
    assert "1 pass, 1 FAIL, 1 skipped" in text and "✗ b: too slow" in text
    assert "time_to_fully_allocated 2.50 s (×3)" in text
    assert len(lines) < 12


def test_empty_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "empty"
    run_dir.mkdir()
    rundir.write_csv(run_dir / rundir.REQUESTS_CSV, rundir.REQUEST_COLUMNS, [])
    rundir.write_csv(run_dir / rundir.ALLOCATIONS_CSV, rundir.ALLOCATION_COLUMNS, [])
    summary = summarize(run_dir)
    assert summary["requests"]["total"] == 0
    assert summary["requests"]["throughput_rps"] is None
    assert summary["requests"]["error_rate_pct"] is None
    assert summary["latency_ms"]["p50"] is None and summary["latency_ms"]["count"] == 0
    assert summary["allocations"]["max_allocation_count"] is None
    assert summary["allocations"]["scale_events"] == []
    assert summary["expectations"]["total"] == 0
    assert summary["by_name"] == {} and summary["lifecycle"] == {}
    assert "0 inference requests" in format_text(summary)


def test_missing_directory_reads_as_empty(tmp_path: Path) -> None:
    summary = summarize(tmp_path / "nothing")
    assert summary["files"] == [] and summary["requests"]["total"] == 0


def test_partial_and_damaged_files(tmp_path: Path) -> None:
    run_dir = tmp_path / "partial"
    run_dir.mkdir()
    rows = [{**_request(1.0, 12.0, "512"), "elapsed_s": None}, _request(2.0, 14.0, "512")]
    rundir.write_csv(run_dir / rundir.REQUESTS_CSV, rundir.REQUEST_COLUMNS, rows)
    with (run_dir / rundir.REQUESTS_CSV).open("a") as handle:
        handle.write("1800000003.0,3.0,POST,512")  # a killed writer's last line
    (run_dir / rundir.EXPECTATIONS_JSON).write_text('[{"name": "half')  # half-written JSON
    summary = summarize(run_dir)
    assert summary["files"] == [rundir.EXPECTATIONS_JSON, rundir.REQUESTS_CSV]
    assert summary["malformed_rows"] == 1
    assert summary["requests"]["total"] == 2
    assert list(summary["by_name"]) == ["512"]  # a numeric name stays text
    # No elapsed_s and no run.json start: the row counts from its own timestamp (t = 0).
    assert summary["requests"]["first_s"] == 0.0
    assert summary["expectations"]["total"] == 0
    assert summary["allocations"]["samples"] == 0


def test_write_load_summary(tmp_path: Path) -> None:
    path = write_load_summary(_tiny_run(tmp_path / "run"))
    assert path.name == rundir.SUMMARY_JSON
    assert rundir.read_json(path)["latency_ms"]["p90"] == 46.0


def test_no_locust_import() -> None:
    """locust monkey-patches the process on import; the readers must never pull it in."""
    code = (
        "import sys, elsercheck.runs.summary, elsercheck.report.command, elsercheck.report.build,"
        " elsercheck.report.index; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
