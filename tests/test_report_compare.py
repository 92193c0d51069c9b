"""Comparison with the history: regressions, thresholds, baseline choice, trends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from elsercheck.report import command, history
from elsercheck.report.compare import compare
from elsercheck.report.metrics import BY_KEY, METRICS, parse_threshold, with_thresholds

from .loadrun_fixtures import write_run
from .test_report import SCHEMA

# What a report compares and says: its charts are sketched, not drawn (conftest.py).
pytestmark = pytest.mark.usefixtures("sketched_charts")

LATENCY_METRICS = ("latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_mean_ms")


def report(*args: str | Path) -> int:
    return command.main([str(arg) for arg in args])


def nightly(reports: Path, day: int, **options: Any) -> Path:
    """A run of 2026-11-<day> under reports/load/<run-id>/."""
    run_id = f"202611{day:02d}t100000-{day:04x}"
    return write_run(reports / "load" / run_id, run_id=run_id,
                     started_at=f"2026-11-{day:02d}T10:00:00Z", **options)  # fmt: skip


def summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    return tmp_path / "reports"


def test_slower_run_is_a_regression(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history_dir = reports / "history"
    assert report(nightly(reports, 20), "--history", history_dir) == 0
    slower = nightly(reports, 21, latency_factor=1.6)
    assert report(slower, "--history", history_dir) == 3
    out = capsys.readouterr().out
    assert "REGRESSION (exit 3)" in out and "regression: Latency p99" in out

    document = summary(slower)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    comparison = document["comparison"]
    assert comparison["baseline_run_id"] == "20261120t100000-0014"
    assert sorted(comparison["regressions"]) == sorted(LATENCY_METRICS)
    p99 = next(row for row in comparison["rows"] if row["metric"] == "latency_p99_ms")
    assert p99["regression"] and p99["diff_pct"] > 25 and p99["threshold"] == 25.0
    assert document["verdict"]["status"] == "regression"

    page = (slower / "report.html").read_text(encoding="utf-8")
    assert "Performance regression" in page and "✗ regression" in page
    assert 'id="chart-trends"' in page  # two runs: a trend
    assert sorted(path.name for path in history_dir.iterdir()) == [
        "20261120t100000-0014.json", "20261121t100000-0015.json",
    ]  # fmt: skip
    for path in history_dir.iterdir():
        jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(path.read_text()))


def test_within_thresholds_passes(reports: Path) -> None:
    history_dir = reports / "history"
    assert report(nightly(reports, 20), "--history", history_dir) == 0
    contender = nightly(reports, 21, latency_factor=1.05, seed=8)
    assert report(contender, "--history", history_dir) == 0
    assert summary(contender)["comparison"]["regressions"] == []


def test_threshold_overrides(reports: Path) -> None:
    history_dir = reports / "history"
    report(nightly(reports, 20), "--history", history_dir)
    slower = nightly(reports, 21, latency_factor=1.6)
    # Loosening p99 alone is not enough: p50, p90 and mean still regress.
    assert report(slower, "--history", history_dir, "--threshold", "latency_p99_ms=100") == 3
    assert "latency_p99_ms" not in summary(slower)["comparison"]["regressions"]
    loosened = [arg for key in LATENCY_METRICS for arg in ("--threshold", f"{key}=100")]
    assert report(slower, "--history", history_dir, *loosened) == 0
    # 'off' disables a threshold; a metric without a default can be gated on demand.
    offs = [arg for key in LATENCY_METRICS for arg in ("--threshold", f"{key}=off")]
    assert report(slower, "--history", history_dir, *offs) == 0
    assert report(slower, "--history", history_dir, *offs, "--threshold", "latency_max_ms=10") == 3
    assert summary(slower)["comparison"]["regressions"] == ["latency_max_ms"]


def test_failure_outranks_a_regression(reports: Path) -> None:
    history_dir = reports / "history"
    report(nightly(reports, 20), "--history", history_dir)
    assert report(nightly(reports, 21, latency_factor=1.6, failed=True), "--history",
                  history_dir) == 1  # fmt: skip


def test_baseline_is_the_previous_run_of_the_same_shape(reports: Path) -> None:
    history_dir = reports / "history"
    report(nightly(reports, 18), "--history", history_dir)  # fast, step
    report(nightly(reports, 19, latency_factor=1.6, shape="spike"), "--history", history_dir)
    report(nightly(reports, 20, latency_factor=1.6), "--history", history_dir)  # slow, step: 3
    latest = nightly(reports, 21, latency_factor=1.6)
    # Previous step run (the 20th, equally slow), not the spike run of the 19th: no regression.
    assert report(latest, "--history", history_dir) == 0
    assert summary(latest)["comparison"]["baseline_run_id"] == "20261120t100000-0014"
    # Against the fast run of the 18th, named.
    assert report(latest, "--history", history_dir, "--baseline", "20261118t100000-0012") == 3
    # Reporting an older run again compares it with its own predecessor, not a newer run.
    assert report(reports / "load" / "20261120t100000-0014", "--history", history_dir) == 3
    assert (
        summary(reports / "load" / "20261120t100000-0014")["comparison"]["baseline_run_id"]
        == "20261118t100000-0012"
    )


# -- the comparison itself, on hand-made summaries -------------------------------------------------


def load(**figures: float | None) -> dict[str, Any]:
    """A minimal load summary with the given metric values (by metric key)."""
    document: dict[str, Any] = {}
    for key, value in figures.items():
        node = document
        *parents, leaf = BY_KEY[key].path
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return document


def row(metric: str, baseline: float | None, contender: float | None, threshold: float | None = -1):
    metrics = METRICS if threshold == -1 else with_thresholds([(metric, threshold)])
    rows = compare(load(**{metric: baseline}), load(**{metric: contender}), metrics)
    return next(r for r in rows if r.metric.key == metric)


@pytest.mark.parametrize(
    ("metric", "baseline", "contender", "regression", "improvement"),
    [
        ("latency_p99_ms", 100.0, 125.0, False, False),  # exactly at +25 %: passes
        ("latency_p99_ms", 100.0, 125.1, True, False),
        ("latency_p99_ms", 100.0, 70.0, False, True),
        ("throughput_rps", 100.0, 80.0, True, False),  # lower is worse: −20 % against 15 %
        ("throughput_rps", 100.0, 90.0, False, False),
        ("throughput_rps", 100.0, 130.0, False, True),
        ("error_rate_pct", 1.0, 2.5, False, False),  # +1.5 points against 2 points
        ("error_rate_pct", 1.0, 3.5, True, False),  # +250 % but what counts is +2.5 points
        ("error_rate_pct", 0.0, 2.1, True, False),  # from zero: points still compare
        ("time_to_scale_up_s", 0.0, 10.0, False, False),  # no relative change from zero
        ("time_to_scale_up_s", None, 10.0, False, False),  # nothing to compare with
        ("max_allocations", 4.0, 1.0, False, False),  # shown only, no default threshold
    ],
)
def test_rows(
    metric: str, baseline: float | None, contender: float, regression: bool, improvement: bool
) -> None:
    compared = row(metric, baseline, contender)
    assert (compared.regression, compared.improvement) == (regression, improvement)


def test_row_figures() -> None:
    compared = row("throughput_rps", 200.0, 150.0)
    assert compared.diff == -50.0 and compared.diff_pct == -25.0 and compared.worse_by == 25.0
    as_json = compared.to_json()
    assert as_json["worse"] == "lower" and as_json["threshold_unit"] == "%"
    assert row("max_allocations", 4.0, 1.0, threshold=50).regression


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("latency_p99_ms=40", ("latency_p99_ms", 40.0)), ("error_rate_pct=0.5%", ("error_rate_pct", 0.5)),
     ("throughput_rps = off", ("throughput_rps", None))],
)  # fmt: skip
def test_parse_threshold(text: str, parsed: tuple[str, float | None]) -> None:
    assert parse_threshold(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [("p99=1", "unknown metric 'p99'"), ("latency_p99_ms", "expected METRIC=PCT"),
     ("latency_p99_ms=-1", "must not be negative"), ("latency_p99_ms=nan", "must not be negative"),
     ("latency_p99_ms=x", "must be a number or 'off'")],
)  # fmt: skip
def test_parse_threshold_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_threshold(text)


def test_every_metric_resolves_in_a_real_summary(tmp_path: Path) -> None:
    """The metric table's paths point at real summary fields (a renamed field would be None)."""
    run_dir = write_run(tmp_path / "run")
    assert report(run_dir, "--no-history") == 0
    values = {metric.key: metric.value(summary(run_dir)["load"]) for metric in METRICS}
    # An inference run: every metric but the ingest/search workloads' own ones.
    assert all(value is not None for key, value in values.items() if not BY_KEY[key].optional)
    assert all(values[metric.key] is None for metric in METRICS if metric.optional), values
    mixed = write_run(tmp_path / "mixed", workload="mixed")
    assert report(mixed, "--no-history") == 0
    values = {metric.key: metric.value(summary(mixed)["load"]) for metric in METRICS}
    # Every metric but the cold starts' (the fixture never goes to zero: test_report_cost).
    assert all(value is not None for key, value in values.items()
               if key != "cold_start_p95_s"), values  # fmt: skip
    assert values["cold_start_p95_s"] is None


def test_unreadable_history_entries_are_ignored(tmp_path: Path) -> None:
    history_dir = tmp_path / "history"
    history_dir.mkdir()
    (history_dir / "broken.json").write_text("{")
    (history_dir / "other.json").write_text('{"schema_version": 2, "run": {"run_id": "x"}}')
    assert history.load(history_dir) == []
    assert history.entry_path(history_dir, "../evil id").name == ".._evil_id.json"
