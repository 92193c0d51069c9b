"""Cost and cold starts in the load report, and the noise-aware comparison.

Hand-computed numbers of ``loadrun_fixtures.write_cold_run`` (polls every second, 0 … 20 s;
each poll's count holds for the second after it):

- allocation-seconds (wall): 5 polls at 1 (3–7 s) + 5 polls at 2 (12–16 s) = 5 + 10 = 15;
  the clock runs 10 × faster, so 150 cluster seconds = 0.041667 allocation-hours, × 2 threads
  = 0.083333 vCPU-hours; idle: [7, 8) at 1 and [16, 17) at 2 had no arrival = 3 of 15 = 20 %.
- 10 successful inferences: 4.166667 allocation-hours and 8.333333 vCPU-hours per 1,000; at
  0.05 a vCPU-hour 0.004167, or 0.416667 per 1,000.
- cold start 1: at zero since the run's start, first arrival 0.5 s, first success answered at
  3.1 s (sent 3.0 s + 100 ms) → 2.6 s, failures 409 ×2, 429, timeout; cold start 2: at zero
  from 8 s, first arrival 9.2 s, first success 12.3 s → 3.1 s, failures 408, 409. The last
  stretch at zero (17–20 s) had no arrival: no cold start. p50 = 2.85 s, p95 = 2.6 + 0.95 ×
  0.5 = 3.075 s (linear between the two), n = 2.

The step run of ``write_run`` holds 1 allocation for 0–15 s (16 s), 2 for 16–18 s (6), 4 for
19–49 s (124) and 1 for 50–59 s (10): 156 allocation-seconds at speedup 1, never idle.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path
from typing import Any

import pytest

from elsercheck.report import command
from elsercheck.report.compare import compare_runs, prediction_interval, t_975
from elsercheck.report.metrics import BY_KEY

from .loadrun_fixtures import write_cold_run, write_run
from .test_report import validate

# What a report compares and says: its charts are sketched, not drawn (conftest.py).
pytestmark = pytest.mark.usefixtures("sketched_charts")


def report(*args: str | Path) -> int:
    return command.main([str(arg) for arg in args])


def summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


def section(run_dir: Path, key: str) -> str | None:
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    match = re.search(rf"<section id='{key}'>(.*?)</section>", html, re.S)
    return match[1] if match else None


def nightly(reports: Path, day: int, **options: Any) -> Path:
    run_id = f"202611{day:02d}t100000-{day:04x}"
    return write_run(reports / "load" / run_id, run_id=run_id,
                     started_at=f"2026-11-{day:02d}T10:00:00Z", **options)  # fmt: skip


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    return tmp_path / "reports"


# -- cost and cold starts --------------------------------------------------------------------------


def test_cost_of_a_scale_to_zero_run(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = write_cold_run(reports / "load" / "cold")
    assert report(run_dir, "--no-history", "--vcpu-hour-price", "0.05") == 0
    document = summary(run_dir)
    validate(document)
    assert document["schema_version"] == 4
    assert document["load"]["cost"] == {
        "polls": 21, "wall_seconds": 20.0, "speedup": 10.0, "time_lapse": True,
        "cluster_seconds": 200.0, "num_threads": 2,
        "allocation_hours": 0.041667, "vcpu_hours": 0.083333,
        "idle_allocation_hours": 0.008333, "idle_share_pct": 20.0,
        "successful_inferences": 10,
        "allocation_hours_per_1000": 4.166667, "vcpu_hours_per_1000": 8.333333,
        "vcpu_hour_price": 0.05, "cost": 0.004167, "cost_per_1000": 0.416667,
    }  # fmt: skip
    out = capsys.readouterr().out
    assert "cost: 0.04167 allocation-h, 0.0833 vCPU-h (cluster hours)" in out
    assert "times: time-lapse ×10: cluster time = wall time × 10" in out
    assert "idle 20.0 %" in out and "cost 0.004167 at 0.05/vCPU-h" in out
    # One figure per cold start, its base named (the issue: 1.241 s here, 0.6 s there).
    assert ("cold starts: 2, first arrival at zero → first success p50 28.5 s cluster "
            "(2.9 s wall), p95 30.8 s cluster (3.1 s wall) (n=2)") in out  # fmt: skip


def test_two_cold_starts(reports: Path) -> None:
    run_dir = write_cold_run(reports / "load" / "cold")
    assert report(run_dir, "--no-history") == 0
    cold = summary(run_dir)["load"]["cold_starts"]
    assert (cold["count"], cold["n"]) == (2, 2)
    assert (cold["p50_s"], cold["p95_s"], cold["max_s"]) == (2.85, 3.075, 3.1)
    assert cold["failures"] == 6
    assert cold["failures_by_kind"] == {"408": 1, "409": 3, "429": 1, "timeout": 1}
    assert cold["events"] == [
        {"zero_since_s": 0.0, "allocated_s": 3.0, "first_arrival_s": 0.5,
         "time_to_first_success_s": 2.6, "failures": 4,
         "failures_by_kind": {"409": 2, "429": 1, "timeout": 1}},
        {"zero_since_s": 8.0, "allocated_s": 12.0, "first_arrival_s": 9.2,
         "time_to_first_success_s": 3.1, "failures": 2,
         "failures_by_kind": {"408": 1, "409": 1}},
    ]  # fmt: skip
    # No price: no cost figure, the hours still there.
    cost = summary(run_dir)["load"]["cost"]
    assert cost["cost"] is None and cost["cost_per_1000"] is None
    assert cost["allocation_hours"] == 0.041667


def test_cost_and_cold_start_sections(reports: Path) -> None:
    run_dir = write_cold_run(reports / "load" / "cold")
    assert report(run_dir, "--no-history", "--vcpu-hour-price", "0.05") == 0
    cost = section(run_dir, "cost")
    assert cost is not None
    assert "Time-lapse: the target's clock runs 10 times faster" in cost
    assert "cluster time = wall time × 10" in cost
    assert "the polls span 200.0 s cluster (20.0 s wall)" in cost
    assert "<th>allocation-hours</th><td>0.04167</td>" in cost
    assert "<th>vCPU-hours</th><td>0.08333 <span class='muted'>(× num_threads 2)</span>" in cost
    assert "<th>idle share of allocation-time</th><td>20.0 %</td>" in cost
    assert "<th>cost at 0.05 per vCPU-hour</th><td>0.004167</td>" in cost
    cold = section(run_dir, "cold-starts")
    assert cold is not None
    assert "2 scale-from-zero" in cold
    assert "p50 <strong>28.5 s cluster (2.9 s wall)</strong>" in cold
    assert "p95 <strong>30.8 s cluster (3.1 s wall)</strong>" in cold and "(n=2)" in cold
    assert "6 failed requests on the way (408 ×1, 409 ×3, 429 ×1, timeout ×1)" in cold
    assert re.search(r"<td>8.0 s</td><td>9.2 s</td><td>12.0 s</td><td>3.1 s</td><td>2</td>"
                     r"<td>408 ×1, 409 ×1</td>", cold)  # fmt: skip


def test_cost_of_the_step_run_and_no_cold_start(reports: Path) -> None:
    run_dir = write_run(reports / "load" / "step")
    assert report(run_dir, "--no-history") == 0
    load = summary(run_dir)["load"]
    cost, ok = load["cost"], load["requests"]["ok"]
    assert cost["speedup"] == 1.0 and not cost["time_lapse"] and cost["num_threads"] == 1
    assert cost["allocation_hours"] == round(156 / 3600, 6) == cost["vcpu_hours"]
    assert cost["idle_share_pct"] == 0.0 and cost["successful_inferences"] == ok
    assert cost["allocation_hours_per_1000"] == round(1000 * 156 / 3600 / ok, 6)
    assert load["cold_starts"] == {"count": 0, "n": 0, "p50_s": None, "p95_s": None,
                                   "max_s": None, "failures": 0, "failures_by_kind": {},
                                   "events": []}  # fmt: skip
    assert section(run_dir, "cold-starts") is None
    assert "Time-lapse" not in (section(run_dir, "cost") or "")


def test_endpoint_not_created_has_no_vcpu_hours(reports: Path) -> None:
    run_dir = write_cold_run(reports / "load" / "cold")
    run = json.loads((run_dir / "run.json").read_text())
    run["endpoint"] = {"inference_id": "existing", "created": False, "settings": None}
    (run_dir / "run.json").write_text(json.dumps(run))
    assert report(run_dir, "--no-history", "--vcpu-hour-price", "0.05") == 0
    cost = summary(run_dir)["load"]["cost"]
    assert cost["num_threads"] is None and cost["vcpu_hours"] is None and cost["cost"] is None
    assert cost["allocation_hours"] == 0.041667
    assert "num_threads unknown" in (section(run_dir, "cost") or "")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--vcpu-hour-price", "-1", "expected a price of 0 or more"),
     ("--vcpu-hour-price", "nan", "expected a price of 0 or more"),
     ("--baselines", "0", "expected a number from 1 to 30"),
     ("--baselines", "31", "expected a number from 1 to 30")],
)  # fmt: skip
def test_bad_report_options_are_one_line_exit_2(
    reports: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    run_dir = write_cold_run(reports / "load" / "cold")
    with pytest.raises(SystemExit) as exited:
        report(run_dir, option, value)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# -- noise-aware comparison ------------------------------------------------------------------------


def test_prediction_interval_by_hand() -> None:
    # 9, 10, 11: mean 10, s 1, t(0.975, 2) = 4.303: 10 ± 4.303·sqrt(4/3) = 10 ± 4.9687
    low, high = prediction_interval([9.0, 10.0, 11.0]) or (0, 0)
    assert low == pytest.approx(5.0313, abs=1e-4) and high == pytest.approx(14.9687, abs=1e-4)
    assert prediction_interval([9.0, 11.0]) is None  # n < 3: spread not measured
    assert t_975(4) == 2.776 and t_975(100) == 1.96


def rows_for(samples: list[float], contender: float, metric: str = "latency_p99_ms"):
    path = BY_KEY[metric].path

    def load(value: float) -> dict[str, Any]:
        node: dict[str, Any] = {}
        root = node
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
        return root

    rows = compare_runs([load(v) for v in samples], load(contender))
    return next(row for row in rows if row.metric.key == metric)


@pytest.mark.parametrize(
    ("contender", "verdict"),
    [(14.0, "within noise"),  # +40 % against 25 %, inside 5.03 … 14.97
     (15.0, "regression"),  # beyond both
     (12.0, ""),  # +20 %: under the threshold
     (5.0, "improvement"), (6.0, "")],  # −50 %, below the interval; −40 %, inside it
)  # fmt: skip
def test_rows_respect_the_noise(contender: float, verdict: str) -> None:
    row = rows_for([9.0, 10.0, 11.0], contender)
    assert row.baseline == 10.0 and row.n == 3 and row.verdict == verdict
    assert row.regression == (verdict == "regression")
    as_json = row.to_json()
    assert as_json["spread_measured"] and as_json["interval"] == [5.031, 14.969]


def test_rows_without_spread_use_the_threshold_and_the_latest_run() -> None:
    row = rows_for([11.0, 10.0], 14.0)
    assert row.baseline == 10.0 and row.interval is None and row.regression  # +40 %
    assert row.to_json()["interval"] is None and not row.to_json()["spread_measured"]


def history_of(reports: Path, factors: list[float]) -> Path:
    """Reported runs of days 10, 11, … with latencies scaled by ``factors``."""
    history_dir = reports / "history"
    for index, factor in enumerate(factors):
        run_dir = nightly(reports, 10 + index, latency_factor=factor)
        assert report(run_dir, "--history", history_dir) in (0, 3)
    return history_dir


def p99_of(reports: Path, days: range) -> list[float]:
    return [
        summary(next((reports / "load").glob(f"202611{day:02d}t*")))["load"]["latency_ms"]["p99"]
        for day in days
    ]


def test_a_change_inside_the_noise_passes(reports: Path, capsys) -> None:
    # Baselines at 0.8, 1.0, 1.2 × the latencies; the contender is 1.3 ×: +30 % on the mean,
    # over the 25 % threshold, but inside mean ± 4.303·s·sqrt(4/3) (s = 0.2 × the mean).
    history_dir = history_of(reports, [0.8, 1.0, 1.2])
    contender = nightly(reports, 20, latency_factor=1.3)
    assert report(contender, "--history", history_dir) == 0
    document = summary(contender)
    validate(document)
    comparison = document["comparison"]
    assert len(comparison["baseline_run_ids"]) == 3 and comparison["regressions"] == []
    p99 = next(row for row in comparison["rows"] if row["metric"] == "latency_p99_ms")
    values = p99_of(reports, range(10, 13))
    mean = statistics.fmean(values)
    half = 4.303 * statistics.stdev(values) * math.sqrt(1 + 1 / 3)
    assert p99["n"] == 3 and p99["baseline"] == pytest.approx(mean, abs=1e-3)
    assert p99["interval"] == pytest.approx([mean - half, mean + half], abs=2e-3)
    assert p99["diff_pct"] > 25 and not p99["regression"] and p99["verdict"] == "within noise"
    html = section(contender, "comparison") or ""
    assert "the 3 latest comparable runs" in html and "within noise" in html
    assert re.search(rf"{mean - half:,.2f} … {mean + half:,.2f} <span class='muted'>\(n=3\)"
                     r"</span>", html)  # fmt: skip
    assert "compared with 20261112t100000-000c and 2 earlier run(s): no regression" in (
        capsys.readouterr().out
    )


def test_a_change_beyond_noise_and_threshold_fails(reports: Path, capsys) -> None:
    history_dir = history_of(reports, [0.8, 1.0, 1.2])
    capsys.readouterr()
    contender = nightly(reports, 20, latency_factor=2.2)  # +120 %, far outside the interval
    assert report(contender, "--history", history_dir) == 3
    out = capsys.readouterr().out
    assert re.search(r"regression: Latency p99 .* \(\+1\d\d\.\d %; threshold 25 %; mean of 3 "
                     r"runs, beyond their noise interval", out)  # fmt: skip
    comparison = summary(contender)["comparison"]
    assert "latency_p99_ms" in comparison["regressions"]
    assert "✗ regression" in (section(contender, "comparison") or "")


def test_fewer_than_three_baselines_use_the_threshold(reports: Path, capsys) -> None:
    # The same +30 % as inside the noise above, but with two baselines: no spread measured,
    # the threshold against the latest (1.0 ×) decides.
    history_dir = history_of(reports, [1.2, 1.0])
    capsys.readouterr()
    contender = nightly(reports, 20, latency_factor=1.3)
    assert report(contender, "--history", history_dir) == 3
    out = capsys.readouterr().out
    assert "(spread not measured: threshold only)" in out
    assert "spread not measured: 2 baseline runs" in out
    p99 = next(r for r in summary(contender)["comparison"]["rows"]
               if r["metric"] == "latency_p99_ms")  # fmt: skip
    assert p99["n"] == 2 and p99["interval"] is None and p99["regression"]
    assert p99["baseline"] == p99_of(reports, range(11, 12))[0]
    html = section(contender, "comparison") or ""
    assert "spread not measured (n=2)" in html and "threshold alone" in html


def test_baselines_option_limits_the_runs(reports: Path) -> None:
    history_dir = history_of(reports, [0.8, 1.0, 1.2])
    contender = nightly(reports, 20, latency_factor=1.3)
    # Only the latest two: no spread, +8 % on the latest (1.2 ×): passes on the threshold.
    assert report(contender, "--history", history_dir, "--baselines", "2") == 0
    assert summary(contender)["comparison"]["baseline_run_ids"] == [
        "20261111t100000-000b", "20261112t100000-000c",
    ]  # fmt: skip


def test_cold_start_metric_compares_runs_that_have_it(reports: Path) -> None:
    history_dir = reports / "history"
    first = write_cold_run(reports / "load" / "a", run_id="20261120t100000-aaaa",
                           started_at="2026-11-20T10:00:00Z")  # fmt: skip
    assert report(first, "--history", history_dir) == 0
    second = write_cold_run(reports / "load" / "b", run_id="20261121t100000-bbbb",
                            started_at="2026-11-21T10:00:00Z")  # fmt: skip
    assert report(second, "--history", history_dir) == 0
    rows = {row["metric"]: row for row in summary(second)["comparison"]["rows"]}
    assert rows["cold_start_p95_s"]["baseline"] == rows["cold_start_p95_s"]["contender"] == 3.075
    assert rows["idle_share_pct"]["contender"] == 20.0
    assert rows["allocation_hours_per_1000"]["contender"] == 4.167


def test_schema_2_history_entries_stay_baselines(reports: Path) -> None:
    history_dir = reports / "history"
    old = nightly(reports, 20)
    assert report(old, "--history", history_dir) == 0
    entry = history_dir / "20261120t100000-0014.json"
    document = json.loads(entry.read_text(encoding="utf-8"))
    document["schema_version"] = 2  # what the report wrote before cost and cold starts
    for key in ("cost", "cold_starts"):
        del document["load"][key]
    document["load"]["summary_version"] = 2
    entry.write_text(json.dumps(document), encoding="utf-8")
    contender = nightly(reports, 21)
    assert report(contender, "--history", history_dir) == 0
    rows = {row["metric"]: row for row in summary(contender)["comparison"]["rows"]}
    assert rows["latency_p99_ms"]["n"] == 1
    assert rows["allocation_hours_per_1000"]["n"] == 0
    assert rows["allocation_hours_per_1000"]["baseline"] is None
