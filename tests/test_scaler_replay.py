"""Scaling bounds from Elasticsearch's scaler replayed on the stats a target reported
(``elsercheck.scaler.replay``): the arrivals a run offered decide how long a reaction may take."""

from __future__ import annotations

from elsercheck.load.expectations import RunRecord, check_all
from elsercheck.load.plans import TIMING_PROFILES, build_plan
from elsercheck.scaler import replay

FAST = TIMING_PROFILES["fast"]
STEP = build_plan("step", FAST, 40)  # base 0-4 s, up 4-14 s, down 14-23 s
SERVICE_MS = 60.0


def stats_trace(
    arrivals: list[tuple[float, int]], points: list[tuple[float, int]], every: float = 0.5,
    until: float = 23.0,
) -> list[dict]:  # fmt: skip
    """Poll rows whose counters follow ``arrivals`` = [(at_s, requests)] (each served within its
    poll) and whose allocations follow ``points`` = [(from_s, allocations)]."""
    rows, t = [], 0.0
    while t <= until:
        allocations = [n for start, n in points if start <= t][-1]
        served = sum(count for at, count in arrivals if at <= t)
        rows.append({
            "elapsed_s": t, "state": "started", "allocation_count": allocations,
            "target_allocation_count": allocations, "number_of_allocations": allocations,
            "inference_count": served, "number_of_pending_requests": 0,
            "average_inference_time_ms": SERVICE_MS if served else None, "poll_error": None,
        })  # fmt: skip
        t = round(t + every, 3)
    return rows


# One request at a time, 40/s over the up stage: 2.4 allocations of work.
STEADY = [(4 + i / 40, 1) for i in range(400)]
# The same work as bulks: clumps of 120 chunks, the first one 4 s after the users rose.
CLUMPS = [(8.0, 120), (9.2, 120), (10.1, 120), (11.9, 120), (12.4, 120), (13.3, 120)]
TRICKLE = [(4 + i, 1) for i in range(10)]  # 1/s of 60 ms: 0.06 allocations, nothing to scale


def up(arrivals: list[tuple[float, int]], points: list[tuple[float, int]]):  # -> Expectation
    record = RunRecord(STEP, stats_trace(arrivals, points), min_allocations=0, max_allocations=4)
    return next(item for item in check_all(record) if item.name == "scale-up@up")


def test_a_steady_load_keeps_the_ticks_bound() -> None:
    # ES's scaler reacts within the few ticks the default bound allows: it stays.
    rows = stats_trace(STEADY, [(0, 1)])
    decided = replay.latest_first(rows, FAST.tick_s, FAST.cooldown_s, 0, 4, 4.0, 14.0,
                                  lambda n: n > 1)  # fmt: skip
    assert decided is not None and decided - 4.0 <= 2 * FAST.tick_s
    item = up(STEADY, [(0, 1), (5.5, 3)])
    assert item.passed is True and item.observed["bound_s"] == 5.0
    assert up(STEADY, [(0, 1), (10.0, 3)]).passed is False  # 6 s: beyond it


def test_clumps_arriving_late_extend_the_bound_to_when_es_would_react() -> None:
    rows = stats_trace(CLUMPS, [(0, 1)])
    decided = replay.latest_first(rows, FAST.tick_s, FAST.cooldown_s, 0, 4, 4.0, 14.0,
                                  lambda n: n > 1)  # fmt: skip
    assert decided is not None and decided >= 8.0  # not before the first clump came
    item = up(CLUMPS, [(0, 1), (9.5, 4)])  # 5.5 s: a fixed 5 s bound called this a failure
    assert item.passed is True, item.detail
    assert item.observed["bound_s"] > 5.0 and "replayed" in item.detail
    late = up(CLUMPS, [(0, 1), (13.0, 4)])  # well after ES would have reacted
    assert late.passed is False and late.observed["bound_s"] < 9.0
    never = up(CLUMPS, [(0, 1)])
    assert never.passed is False and "stayed at 1 allocations" in never.detail


def test_a_load_es_would_not_scale_for_is_not_due() -> None:
    item = up(TRICKLE, [(0, 1)])
    assert item.passed is None and "not due" in item.detail


def test_a_scaler_that_never_scales_down_still_fails() -> None:
    # Load until 14 s, then none: ES's scaler (cooldown 3 s) lowers the allocations; a target
    # that stays up fails, one that falls when ES would passes.
    arrivals = [(4 + i / 40, 1) for i in range(400)]
    stuck = RunRecord(STEP, stats_trace(arrivals, [(0, 1), (5.5, 3)]), max_allocations=4)
    down = next(item for item in check_all(stuck) if item.name == "scale-down@down")
    assert down.passed is False, down.detail
    falls = RunRecord(STEP, stats_trace(arrivals, [(0, 1), (5.5, 3), (18.0, 1)]),
                      max_allocations=4)  # fmt: skip
    down = next(item for item in check_all(falls) if item.name == "scale-down@down")
    assert down.passed is True, down.detail


def test_old_run_files_without_counters_keep_the_ticks_bound() -> None:
    rows = [{k: v for k, v in row.items() if k not in replay.COLUMNS}
            for row in stats_trace(CLUMPS, [(0, 1), (9.5, 4)])]  # fmt: skip
    record = RunRecord(STEP, rows, min_allocations=0, max_allocations=4)
    item = next(item for item in check_all(record) if item.name == "scale-up@up")
    assert item.passed is False and item.observed["bound_s"] == 5.0
