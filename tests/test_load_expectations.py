"""Scaling expectations on synthetic monitor traces: each check passes, fails or is skipped."""

from __future__ import annotations

from elsercheck.load import generator
from elsercheck.load.expectations import CHECKS, RunRecord, check_all, exit_code
from elsercheck.load.plans import TIMING_PROFILES, build_plan
from elsercheck.runs.rundir import error_kind

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
        "generator-kept-up", "simulator-kept-up",
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
    # Behind: no verdict (inconclusive, never a pass), and the target is not blamed.
    assert (
        many["generator-kept-up"].inconclusive is True
        and many["generator-kept-up"].passed is None
        and "10 of 200" in many["generator-kept-up"].detail
    )
    assert by_name(check_all(RunRecord(STEP, [])))["generator-kept-up"].detail == "no data recorded"


def test_late_arrivals_fail_the_generator_not_the_target():
    """More than 1 % of arrivals sent beyond the lateness threshold fails generator-kept-up,
    with the detail naming the generator; late arrivals are no error of the target."""

    def requests(late: int, total: int = 200) -> list[dict]:
        return [{"request_type": "SEARCH" if i % 2 else "POST", "elapsed_s": 1.0 + i / 100,
                 "latency_ms": 1.0, "error_kind": "",
                 "schedule_lag_ms": 400.0 if i < late else 2.0} for i in range(total)]  # fmt: skip

    few = by_name(check_all(RunRecord(STEP, trace([(0, 1)]), requests(2))))["generator-kept-up"]
    assert few.passed is True and few.observed["late"] == 2
    many = by_name(check_all(RunRecord(STEP, trace([(0, 1)]), requests(3))))
    kept_up = many["generator-kept-up"]
    assert kept_up.inconclusive is True and kept_up.passed is None
    assert kept_up.status == "inconclusive" and kept_up.observed["late"] == 3
    assert "load generator fell behind its schedule: 3 of 200" in kept_up.detail
    assert "250 ms" in kept_up.detail and kept_up.observed["lag_ms"]["max"] == 400.0
    assert many["errors-documented"].passed is True
    # Arrivals due but never made (the run stopped while the generator was behind) count as
    # not sent.
    unmade = RunRecord(STEP, trace([(0, 1)]), requests(0), unmade_arrivals=5)
    result = by_name(check_all(unmade))["generator-kept-up"]
    assert result.inconclusive is True and "5 of 205 arrivals not sent" in result.detail


def test_generator_summary_counts_lag_and_spans_of_being_behind():
    rows = [{"request_type": "POST", "elapsed_s": t, "error_kind": kind, "schedule_lag_ms": lag}
            for t, kind, lag in [(1.0, "", 1.0), (2.0, "", 380.0), (2.5, "backlog", 10.0),
                                 (3.0, "", 3.0), (9.0, "", 600.0), (9.2, "", 700.0)]]  # fmt: skip
    rows.append({"request_type": "LIFECYCLE", "elapsed_s": 5.0, "error_kind": ""})
    summary = generator.summarize(rows, unmade=2)
    assert summary["arrivals"] == 8 and summary["sent"] == 5 and summary["backlog"] == 1
    assert summary["late"] == 3 and summary["unmade"] == 2
    assert summary["lag_ms"] == {"p50": 10.0, "p99": 700.0, "max": 700.0}
    # Behind from the first late arrival's due time (2.0 - 0.38) to the backlog at 2.5; then
    # from 9.0 - 0.6 to 9.2 (the two late arrivals there are less than 1 s apart).
    assert summary["behind"] == [[1.62, 2.5], [8.4, 9.2]]
    assert summary["behind_spans"] == 2 and summary["behind_s"] == 1.68
    assert generator.summarize([])["lag_ms"] is None


def test_error_kinds():
    assert error_kind(200) == ""
    assert error_kind(409, "HTTP 409") == "409"
    assert error_kind(503, "HTTP 503") == "5xx"
    assert error_kind(401, "HTTP 401") == "4xx"
    assert error_kind(0, ConnectionRefusedError("refused")) == "connection"
    assert error_kind(0, TimeoutError("timed out")) == "timeout"
    assert error_kind(0, "backlog: max outstanding requests reached") == "backlog"


def test_a_load_machine_behind_turns_real_time_failures_inconclusive():
    """A scaling reaction missed while the generator was behind is no failure of the target:
    inconclusive, with the generator's figures, and exit 4; failures that are not real-time
    (allocations above max) stay failures."""
    late = [{"request_type": "POST", "elapsed_s": 1.0 + i / 100, "latency_ms": 1.0,
             "error_kind": "", "schedule_lag_ms": 400.0 if i < 10 else 2.0}
            for i in range(200)]  # fmt: skip
    results = by_name(check_all(RunRecord(STEP, trace([(0, 1)]), late, max_allocations=4)))
    up = results["scale-up@up"]
    assert up.passed is None and up.inconclusive and up.status == "inconclusive"
    assert "stayed at 1 allocations" in up.detail and "the load machine was behind" in up.detail
    assert "10 of 200" in up.detail  # the figures
    assert exit_code(results.values()) == 4
    above = by_name(check_all(RunRecord(STEP, trace([(0, 1), (5, 6)]), late, max_allocations=4)))
    assert above["allocation-bounds"].passed is False
    assert exit_code(above.values()) == 1
    # On time, the same trace fails the target.
    on_time = [dict(row, schedule_lag_ms=2.0) for row in late]
    failed = by_name(check_all(RunRecord(STEP, trace([(0, 1)]), on_time, max_allocations=4)))
    assert failed["scale-up@up"].passed is False and exit_code(failed.values()) == 1


def test_a_stalled_embedded_server_is_the_load_machine_behind():
    """The embedded server's event loop stalled (its lag counters, polled with the stats): its
    simulated reaction times do not hold, so real-time failures are inconclusive."""
    rows = trace([(0, 1)])
    for row in rows:  # 0.5 s of stalls per second from 5 s on: half the run behind
        behind = max(0.0, row["elapsed_s"] - 5) / 2
        row.update(server_lag_samples=int(row["elapsed_s"] * 20), server_lag_stalls=int(behind),
                   server_lag_behind_s=behind, server_lag_max_ms=500.0)  # fmt: skip
    ok = [{"request_type": "POST", "elapsed_s": 1.0, "latency_ms": 30.0, "error_kind": ""}]
    results = by_name(check_all(RunRecord(STEP, rows, ok, max_allocations=4)))
    simulator = results["simulator-kept-up"]
    assert simulator.inconclusive and "stalled" in simulator.detail
    assert simulator.observed["behind_s"] == 9.0
    assert results["scale-up@up"].inconclusive is True
    quiet = trace([(0, 1)])
    for row in quiet:
        row.update(server_lag_samples=int(row["elapsed_s"] * 20), server_lag_stalls=0,
                   server_lag_behind_s=0.0, server_lag_max_ms=3.0)  # fmt: skip
    results = by_name(check_all(RunRecord(STEP, quiet, ok, max_allocations=4)))
    assert results["simulator-kept-up"].passed is True
    assert results["scale-up@up"].passed is False
    # A real cluster: not measured, skipped.
    cluster = by_name(check_all(RunRecord(STEP, trace([(0, 1)]), ok)))["simulator-kept-up"]
    assert cluster.passed is None and not cluster.inconclusive and "not measured" in cluster.detail


def test_answers_to_requests_sent_after_the_plan_ended_are_not_judged():
    """Teardown: the run's endpoint is being deleted (409, then 404) while a distributed run's
    workers still send a last few due arrivals; before the plan's end a 404 is still judged."""
    rows = trace([(0, 1)])
    end = STEP.duration_s
    late = [{"request_type": "POST", "elapsed_s": end + 0.6, "latency_ms": 6.0, "error_kind": kind}
            for kind in ("409", "4xx", "4xx")]  # fmt: skip
    ok = [{"request_type": "POST", "elapsed_s": 1.0, "latency_ms": 30.0, "error_kind": ""}]
    errors = by_name(check_all(RunRecord(STEP, rows, ok + late)))["errors-documented"]
    assert errors.passed is True and errors.detail == "errors: none"
    during = [dict(row, elapsed_s=end - 1.0) for row in late]
    errors = by_name(check_all(RunRecord(STEP, rows, ok + during)))["errors-documented"]
    assert errors.passed is False and "2 × 4xx" in errors.detail
