"""Scaling expectations on synthetic monitor traces: each check passes, fails or is skipped."""

from __future__ import annotations

from elsercheck.load.expectations import CHECKS, RunRecord, check_all, exit_code
from elsercheck.load.plans import TIMING_PROFILES, build_plan
from elsercheck.load.rundir import error_kind

FAST = TIMING_PROFILES["fast"]
STEP = build_plan("step", FAST, 40)  # base 0-4 s, up 4-14 s, down 14-23 s
CYCLE = build_plan("cycle", FAST, 40)  # ... idle 23-35 s, reload 35-42 s


def trace(points: list[tuple[float, int]], every: float = 0.5, until: float = 23.0) -> list[dict]:
    """Poll rows with the target (and count) following ``points`` = [(from_s, allocations)]."""
    rows, t = [], 0.0
    while t <= until:
        value = [n for start, n in points if start <= t][-1]
        rows.append({"elapsed_s": t, "state": "started", "allocation_count": value,
                     "target_allocation_count": value, "poll_error": None})  # fmt: skip
        t = round(t + every, 3)
    return rows


def by_name(results):
    return {item.name: item for item in results}


def test_a_good_step_run_passes_everything():
    rows = trace([(0, 1), (5.5, 3), (7, 4), (19, 3), (21, 2)])
    ok = [{"request_type": "POST", "elapsed_s": 1.0, "latency_ms": 30.0, "error_kind": ""}]
    record = RunRecord(STEP, rows, ok, min_allocations=0, max_allocations=4)
    results = by_name(check_all(record))
    assert results["allocation-bounds"].passed is True
    up = results["scale-up@up"]
    assert up.passed is True and up.observed["delay_s"] == 1.5 and up.observed["to"] == 4
    down = results["scale-down@down"]
    assert down.passed is True and down.observed["delay_s"] == 5.0
    assert exit_code(results.values()) == 0


def test_no_scale_up_fails_with_what_was_seen():
    rows = trace([(0, 1)])
    results = by_name(check_all(RunRecord(STEP, rows, min_allocations=0, max_allocations=4)))
    assert results["scale-up@up"].passed is False
    assert "stayed at 1 allocations" in results["scale-up@up"].detail
    assert results["scale-down@down"].passed is None  # nothing to scale down
    assert exit_code(results.values()) == 1


def test_a_late_scale_up_fails_its_bound():
    rows = trace([(0, 1), (12, 2)])
    up = by_name(check_all(RunRecord(STEP, rows, max_allocations=4)))["scale-up@up"]
    assert up.passed is False and up.observed["delay_s"] == 8.0 and up.observed["bound_s"] == 5.0


def test_never_scaling_down_fails():
    rows = trace([(0, 1), (5, 4)])
    down = by_name(check_all(RunRecord(STEP, rows, max_allocations=4)))["scale-down@down"]
    assert down.passed is False and "stayed at 4 allocations" in down.detail


def test_above_max_fails_bounds():
    rows = trace([(0, 1), (5, 6)])
    bounds = by_name(check_all(RunRecord(STEP, rows, max_allocations=4)))["allocation-bounds"]
    assert bounds.passed is False and bounds.observed["max_seen"] == 6


def test_below_min_after_reaching_it_fails_bounds():
    rows = trace([(0, 0), (1, 2), (10, 1)])
    record = RunRecord(STEP, rows, min_allocations=2, max_allocations=4)
    bounds = by_name(check_all(record))["allocation-bounds"]
    assert bounds.passed is False and "below min" in bounds.detail


def test_already_at_max_skips_scale_up():
    rows = trace([(0, 4)])
    up = by_name(check_all(RunRecord(STEP, rows, max_allocations=4)))["scale-up@up"]
    assert up.passed is None and "already at max" in up.detail


def test_a_run_cut_short_skips_what_was_not_due():
    rows = trace([(0, 1), (5, 3)], until=12)
    results = by_name(check_all(RunRecord(STEP, rows, max_allocations=4, ended_s=12)))
    assert results["scale-down@down"].passed is None
    assert "run ended before" in results["scale-down@down"].detail


def with_pending(rows: list[dict], points: list[tuple[float, int]]) -> list[dict]:
    """The rows with ``number_of_pending_requests`` following ``points`` = [(from_s, pending)]."""
    for row in rows:
        row["number_of_pending_requests"] = [n for s, n in points if s <= row["elapsed_s"]][-1]
    return rows


def test_scale_down_is_timed_from_the_drained_queue():
    # Load falls at 14 s; the peak's queue drains until 18 s; the first fall at 22 s is 4 s
    # after the drain (bound 9 s): a pass, timed from the drain, not from the fall (8 s).
    rows = with_pending(trace([(0, 1), (5.5, 4), (22, 3)], until=30), [(0, 0), (5, 300), (18, 0)])
    down = by_name(check_all(RunRecord(STEP, rows, max_allocations=4)))["scale-down@down"]
    assert down.passed is True, down.detail
    assert down.observed["queue_drained_at_s"] == 18.0 and down.observed["delay_s"] == 4.0
    assert "4.0 s after the queue drained (it drained 4 s after the load fell)" in down.detail


def test_a_queue_draining_to_the_end_skips_scale_down_and_says_why():
    rows = with_pending(trace([(0, 1), (5.5, 4)]), [(0, 0), (5, 300)])
    down = by_name(check_all(RunRecord(STEP, rows, max_allocations=4)))["scale-down@down"]
    assert down.passed is None
    assert "still draining" in down.detail and "300 pending" in down.detail


def test_a_drained_queue_without_a_fall_still_fails():
    rows = with_pending(trace([(0, 1), (5, 4)], until=30), [(0, 0), (5, 50), (16, 0)])
    down = by_name(check_all(RunRecord(STEP, rows, max_allocations=4)))["scale-down@down"]
    assert down.passed is False and "stayed at 4 allocations" in down.detail


def cycle_requests(conflicts: int, served: bool) -> list[dict]:
    rows = [{"request_type": "POST", "elapsed_s": 35.0 + i * 0.1, "latency_ms": 2.0,
             "error_kind": "409"} for i in range(conflicts)]  # fmt: skip
    if served:
        rows.append(
            {"request_type": "POST", "elapsed_s": 36.0, "latency_ms": 40.0, "error_kind": ""}
        )
    return rows


def test_zero_and_back_from_zero():
    rows = trace([(0, 1), (5, 4), (18, 2), (24, 1), (29, 0), (35.5, 1)], until=42)
    record = RunRecord(CYCLE, rows, cycle_requests(3, served=True), min_allocations=0,
                       max_allocations=4)  # fmt: skip
    results = by_name(check_all(record))
    assert results["zero@idle"].passed is True and results["zero@idle"].observed["delay_s"] == 6.0
    back = results["from-zero@reload"]
    assert back.passed is True
    assert back.observed["conflicts_409"] == 3 and back.observed["first_served_s"] == 1.04
    assert results["errors-documented"].passed is True


def test_never_reaching_zero_fails_and_skips_from_zero():
    rows = trace([(0, 1), (5, 4), (18, 1)], until=41)
    results = by_name(check_all(RunRecord(CYCLE, rows, [], min_allocations=0, max_allocations=4)))
    assert results["zero@idle"].passed is False
    assert results["from-zero@reload"].passed is None


def test_min_above_zero_skips_zero():
    rows = trace([(0, 1), (5, 4), (18, 1)], until=41)
    results = by_name(check_all(RunRecord(CYCLE, rows, [], min_allocations=1, max_allocations=4)))
    assert results["zero@idle"].passed is None


def test_undocumented_errors_fail():
    requests = [{"request_type": "POST", "elapsed_s": 1.0, "latency_ms": 1.0, "error_kind": kind}
                for kind in ("429", "5xx", "connection", "")]  # fmt: skip
    errors = by_name(check_all(RunRecord(STEP, trace([(0, 1)]), requests)))["errors-documented"]
    assert errors.passed is False
    assert "5xx" in errors.detail and "connection" in errors.detail
    assert errors.observed == {"429": 1, "5xx": 1, "connection": 1}


def test_no_data_is_a_failure_not_a_pass():
    results = check_all(RunRecord(STEP, []))
    assert exit_code(results) == 1
    assert by_name(results)["allocation-bounds"].detail == "no data recorded"


def test_every_check_is_registered_once():
    assert list(CHECKS) == [
        "allocation-bounds", "scale-up", "scale-down", "zero", "from-zero", "errors-documented",
        "generator-kept-up",
    ]  # fmt: skip


def test_backlog_is_the_generators_not_the_targets():
    """An arrival the generator could not send is no error of the target; beyond 1 % the run
    did not offer its planned load, and says so."""

    def requests(backlog: int, total: int = 200) -> list[dict]:
        return [{"request_type": "POST", "elapsed_s": 1.0, "latency_ms": 1.0,
                 "error_kind": "backlog" if i < backlog else ""} for i in range(total)]  # fmt: skip

    few = by_name(check_all(RunRecord(STEP, trace([(0, 1)]), requests(1))))
    assert (
        few["errors-documented"].passed is True and "backlog" not in few["errors-documented"].detail
    )
    assert few["generator-kept-up"].passed is True
    assert few["generator-kept-up"].observed["backlog"] == 1
    many = by_name(check_all(RunRecord(STEP, trace([(0, 1)]), requests(10))))
    assert (
        many["generator-kept-up"].passed is False
        and "10 of 200" in many["generator-kept-up"].detail
    )
    assert by_name(check_all(RunRecord(STEP, [])))["generator-kept-up"].detail == "no data recorded"


def test_error_kinds():
    assert error_kind(200) == ""
    assert error_kind(409, "HTTP 409") == "409"
    assert error_kind(503, "HTTP 503") == "5xx"
    assert error_kind(401, "HTTP 401") == "4xx"
    assert error_kind(0, ConnectionRefusedError("refused")) == "connection"
    assert error_kind(0, TimeoutError("timed out")) == "timeout"
    assert error_kind(0, "backlog: max outstanding requests reached") == "backlog"
