"""Traffic descriptions: the --traffic text and a recorded load run's offered rate."""

from __future__ import annotations

from pathlib import Path

import pytest

from elsercheck.capacity.traffic import DAY_S, Traffic, parse_traffic, traffic_from_run
from elsercheck.runs import rundir

from . import loadrun_fixtures


def test_parse_peak_trough_idle() -> None:
    traffic = parse_traffic("peak=40,trough=2,idle_hours=12")
    assert (traffic.peak_rps, traffic.trough_rps, traffic.idle_hours) == (40.0, 2.0, 12.0)
    assert traffic.profile == ()
    assert traffic.source == "--traffic peak=40,trough=2,idle_hours=12"
    assert traffic.idle_gaps_s() == (12 * 3600.0,)
    # 12 active hours, half of them at peak when peak_hours is not given
    assert traffic.day_segments() == ((40.0, 6 * 3600.0), (2.0, 6 * 3600.0), (0.0, 12 * 3600.0))


def test_parse_defaults_and_spacing() -> None:
    flat = parse_traffic(" peak = 10 ")
    assert (flat.peak_rps, flat.trough_rps, flat.idle_gaps_s()) == (10.0, 10.0, ())
    shaped = parse_traffic("peak=10,trough=1,peak-hours=4")
    assert shaped.day_segments() == ((10.0, 4 * 3600.0), (1.0, 20 * 3600.0))


def test_zero_trough_makes_the_trough_hours_idle() -> None:
    traffic = parse_traffic("peak=40,trough=0,peak_hours=8")
    assert traffic.idle_gaps_s() == (16 * 3600.0,)
    assert traffic.duration_s == DAY_S


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "peak=<requests/s> is required"),
        ("trough=2", "peak=<requests/s> is required"),
        ("peak", "'peak' is not key=value"),
        ("peak=forty", "peak='forty' is not a number"),
        ("peak=40,rate=3", "unknown key 'rate'"),
        ("peak=40,peak=50", "peak given twice"),
        ("peak=-1", "peak must be a finite number >= 0"),
        ("peak=inf", "peak must be a finite number >= 0"),
        ("peak=0", "peak must be above 0"),
        ("peak=4,trough=5", "trough (5) is above peak (4)"),
        ("peak=4,idle_hours=24", "idle_hours must be below 24"),
        ("peak=4,idle_hours=20,peak_hours=6", "peak_hours + idle_hours at most 24"),
    ],
)
def test_parse_errors_are_one_line(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_traffic(text)
    message = str(caught.value)
    assert reason in message
    assert "\n" not in message
    assert message.startswith("traffic: ")


def _write_run(path: Path, sends: list[float], *, speedup: float | None, seconds: float) -> Path:
    """A run dir with inference rows sent at ``sends`` (wall s) lasting ``seconds``."""
    path.mkdir()
    timing = {"tick_s": 1.0, "cooldown_s": 3.0, "scale_to_zero_s": 6.0, "allocation_start_s": 1.0}
    if speedup is not None:
        timing["speedup"] = speedup
    end = f"2026-11-25T10:00:{seconds:02.0f}+00:00" if seconds < 60 else "2026-11-25T10:01:00+00:00"
    rundir.write_json(
        path / rundir.RUN_JSON,
        {"run_id": "r1", "started_at": "2026-11-25T10:00:00+00:00", "finished_at": end,
         "timing": timing},
    )  # fmt: skip
    rows = [
        {"timestamp": 1_795_000_000.0 + t, "elapsed_s": t, "request_type": "POST",
         "name": "short", "status": 200 if i % 3 else 429, "latency_ms": 30.0,
         "error_kind": "" if i % 3 else "429"}
        for i, t in enumerate(sends)
    ]  # fmt: skip
    rows.append({"elapsed_s": 0.5, "request_type": "LIFECYCLE", "name": "create", "status": 200})
    rundir.write_csv(path / rundir.REQUESTS_CSV, rundir.REQUEST_COLUMNS, rows)
    return path


def test_traffic_from_run_bins_arrivals_in_cluster_time(tmp_path: Path) -> None:
    # Fast-timing run (speedup 10), 6 wall s = 60 cluster s, 10 s cluster bins = 1 wall s.
    # Wall second 0: 20 sends, 1: 20, 2-3: none (idle 20 cluster s), 4: 5, 5: 10.
    sends = [i / 20 for i in range(20)] + [1 + i / 20 for i in range(20)]
    sends += [4 + i / 5 for i in range(5)] + [5 + i / 10 for i in range(10)]
    traffic = traffic_from_run(_write_run(tmp_path / "run", sends, speedup=10.0, seconds=6))
    # 20 requests in 1 wall s are 20 in 10 cluster s: 2 rps of the cluster.
    assert traffic.profile == (
        (0.0, 2.0), (10.0, 2.0), (20.0, 0.0), (30.0, 0.0), (40.0, 0.5), (50.0, 1.0),
    )  # fmt: skip
    assert (traffic.peak_rps, traffic.trough_rps) == (2.0, 0.0)
    assert traffic.idle_gaps_s() == (20.0,)
    assert traffic.duration_s == 60.0
    assert "55 inference arrivals" in traffic.source and "×10 clock" in traffic.source


def test_traffic_from_run_without_speedup_is_cluster_time(tmp_path: Path) -> None:
    sends = [i / 4 for i in range(100)]  # 4 rps for 25 s
    traffic = traffic_from_run(
        _write_run(tmp_path / "run", sends, speedup=None, seconds=25), bin_s=5.0
    )
    assert [rps for _, rps in traffic.profile] == [4.0] * 5
    assert traffic.idle_gaps_s() == ()
    assert "cluster clock" in traffic.source


def test_traffic_from_run_drops_a_short_last_bin(tmp_path: Path) -> None:
    sends = [float(i) for i in range(22)]  # 1 rps, run 22 s: 2 bins of 10 s, 2 s left over
    traffic = traffic_from_run(
        _write_run(tmp_path / "run", sends, speedup=None, seconds=22), bin_s=10.0
    )
    assert traffic.profile == ((0.0, 1.0), (10.0, 1.0))


def test_traffic_from_run_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a directory"):
        traffic_from_run(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="has no requests"):
        traffic_from_run(empty)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / rundir.REQUESTS_CSV).write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="not UTF-8"):
        traffic_from_run(bad)


def test_traffic_to_json_profile_and_day() -> None:
    day = parse_traffic("peak=40,trough=2,idle_hours=12").to_json()
    assert day["peak_hours"] == 6.0 and day["idle_gaps_s"] == [43200.0]
    run = Traffic(3.0, 0.0, profile=((0.0, 3.0), (10.0, 0.0)), source="x").to_json()
    assert run["profile"] == [[0.0, 3.0], [10.0, 0.0]] and run["idle_gaps_s"] == [10.0]


def test_traffic_from_the_shared_step_run_fixture(tmp_path: Path) -> None:
    # 2 users × 4 rps for 10 s, 8 users for 30 s, 2 users for 20 s (no speedup recorded)
    run = loadrun_fixtures.write_run(tmp_path / "step")
    traffic = traffic_from_run(run)
    assert [t for t, _ in traffic.profile] == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert [rps for _, rps in traffic.profile] == pytest.approx([8, 32, 32, 32, 8, 8], abs=0.11)
    assert traffic.peak_rps == pytest.approx(32, abs=0.11)
    assert traffic.trough_rps == pytest.approx(8, abs=0.11)
    assert traffic.idle_gaps_s() == ()


def test_traffic_from_a_search_run_counts_searches(tmp_path: Path) -> None:
    # Ten searches at 5, 10 … 50 s and a failed one at 30 s: 1, 2, 2, 3, 2, 1 per 10 s bin
    run = loadrun_fixtures.write_run(tmp_path / "search", workload="search")
    traffic = traffic_from_run(run)
    assert "11 search arrivals" in traffic.source
    assert [rps for _, rps in traffic.profile] == pytest.approx([0.1, 0.2, 0.2, 0.3, 0.2, 0.1])
