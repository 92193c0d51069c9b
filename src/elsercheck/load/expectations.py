"""Scaling expectations checked at the end of a load run, from what the monitor recorded.

Each check is a function in the :data:`CHECKS` registry taking a :class:`RunRecord` and
returning :class:`~elsercheck.runs.rundir.Expectation` results; ``passed=None`` means the check
did not apply (for example no scale-to-zero when ``min_number_of_allocations`` > 0).
Expectations come from Elasticsearch's adaptive allocations (ES AdaptiveAllocationsScaler,
AdaptiveAllocationsScalerService, TransportInternalInferModelAction): allocations stay
within min/max, follow a rise in load up within a few scaler ticks, go down once the cooldown
allows, reach zero after the scale-to-zero time when min is 0, and start again on demand.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..exit_codes import ExitCode
from ..runs.rundir import DOCUMENTED_LOAD_ERRORS, ERROR_KINDS, Expectation
from ..scaler import replay
from . import eis, generator, simulator
from .plans import (
    EXPECT_FROM_ZERO,
    EXPECT_SCALE_DOWN,
    EXPECT_SCALE_UP,
    EXPECT_ZERO,
    Plan,
    Stage,
    reaction_bound_s,
)

# The load users' rows of requests.csv (inference, bulk, search; not the lifecycle user's).
LOAD_REQUEST_TYPES = generator.LOAD_REQUEST_TYPES

# Elasticsearch's cap when max_number_of_allocations is unset (MAX_NUMBER_OF_ALLOCATIONS_SAFEGUARD)
DEFAULT_MAX_ALLOCATIONS = 32


@dataclass(frozen=True)
class RunRecord:
    """What a finished run observed, as the checks need it."""

    plan: Plan
    allocations: Sequence[dict[str, Any]]  # allocations.csv rows, elapsed_s ascending
    requests: Sequence[dict[str, Any]] = ()  # requests.csv rows
    min_allocations: int | None = None
    max_allocations: int | None = None
    adaptive: bool = True
    ended_s: float | None = None  # when the run actually stopped (it may have been cut short)
    unmade_arrivals: int = 0  # due but never made: the generator was behind when users stopped
    service: str | None = None  # the endpoint's (GET _inference); "elastic": EIS, eis.py
    stage_starts: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.stage_starts:
            object.__setattr__(self, "stage_starts", self.plan.starts())

    @property
    def polls(self) -> list[dict[str, Any]]:
        """Successful polls of a deployment that exists."""
        return [row for row in self.allocations if not row.get("poll_error") and row.get("state")]

    @property
    def last_s(self) -> float:
        if self.ended_s is not None:
            return self.ended_s
        return max((row["elapsed_s"] for row in self.allocations), default=0.0)


def _value_at(polls: Sequence[dict[str, Any]], column: str, at_s: float) -> int | None:
    """The last polled value of ``column`` at or before ``at_s``."""
    value = None
    for row in polls:
        if row["elapsed_s"] > at_s:
            break
        if row.get(column) is not None:
            value = int(row[column])
    return value


def _first_after(
    polls: Sequence[dict[str, Any]], start_s: float, test: Callable[[dict[str, Any]], bool]
) -> float | None:
    for row in polls:
        if row["elapsed_s"] >= start_s and test(row):
            return float(row["elapsed_s"])
    return None


def _first_decrease(polls: Sequence[dict[str, Any]], start_s: float) -> float | None:
    """When the target first drops after ``start_s`` (a scale-down, whatever came before)."""
    previous = None
    for row in polls:
        target = int(row["target_allocation_count"] or 0)
        if row["elapsed_s"] >= start_s and previous is not None and target < previous:
            return float(row["elapsed_s"])
        previous = target
    return None


def _poll_gap(polls: Sequence[dict[str, Any]]) -> float:
    """The median time between two polls: how late a poll may see a decision."""
    gaps = sorted(b["elapsed_s"] - a["elapsed_s"] for a, b in itertools.pairwise(polls))
    return float(gaps[len(gaps) // 2]) if gaps else 0.0


@dataclass(frozen=True)
class Due:
    """When a reaction is due: ``bound_s`` after ``start``, and why."""

    bound_s: float
    replayed_s: float | None  # ES's scaler replayed on the target's stats: its latest decision
    applies: bool = True  # False: replayed, ES's scaler need not have reacted at all
    basis: str = "ticks"


def _due(record: RunRecord, start: float, until: float, default: float,
         wanted: Callable[[int], bool]) -> Due:  # fmt: skip
    """The bound for a reaction after ``start``: ``default`` (ticks of the scaler's timing), or
    longer where ES's scaler, replayed on the target's own stats, would take longer with the
    arrivals this run offered (clumps of chunks are noise its filters wait out). The replay's
    latest decision over tick phases, plus one tick and one poll interval to be seen."""
    polls = record.polls
    if not replay.replayable(polls):
        return Due(default, None)
    timing = record.plan.timing
    decided = replay.latest_first(
        polls, timing.tick_s, timing.cooldown_s, record.min_allocations, record.max_allocations,
        start, until, wanted,
    )  # fmt: skip
    if decided is None:
        return Due(default, None, applies=False, basis="replay")
    replayed = decided - start + timing.tick_s + _poll_gap(polls)
    if replayed <= default:
        return Due(default, round(decided - start, 3))
    return Due(round(replayed, 3), round(decided - start, 3), basis="replay")


def _stages_expecting(record: RunRecord, expect: str) -> list[tuple[float, Stage]]:
    return [
        (start, stage)
        for start, stage in zip(record.stage_starts, record.plan.stages, strict=True)
        if stage.expect == expect
    ]


def check_bounds(record: RunRecord) -> list[Expectation]:
    """Allocations never above max; never below min once the deployment first reached it."""
    polls = record.polls
    if not polls:
        return [_no_data("allocation-bounds", "allocations within min/max")]
    ceiling = record.max_allocations or DEFAULT_MAX_ALLOCATIONS
    floor = record.min_allocations or 0
    counts = [int(row["allocation_count"] or 0) for row in polls]
    targets = [int(row["target_allocation_count"] or 0) for row in polls]
    reached = _first_after(polls, 0.0, lambda row: int(row["allocation_count"] or 0) >= floor)
    after_reached = [
        int(row["allocation_count"] or 0)
        for row in polls
        if reached is not None and row["elapsed_s"] >= reached
    ]
    below = [count for count in after_reached if count < floor]
    above = max(max(counts), max(targets))
    passed = above <= ceiling and not below
    detail = (
        f"allocation_count {min(counts)}..{max(counts)}, target up to {max(targets)}; "
        f"allowed {floor}..{ceiling}" + (f"; {len(below)} poll(s) below min" if below else "")
    )
    return [
        Expectation(
            "allocation-bounds",
            "allocations never above max or below min",
            passed,
            detail,
            {
                "min_seen": min(counts),
                "max_seen": max(counts),
                "max_target_seen": max(targets),
                "min_allowed": floor,
                "max_allowed": ceiling,
            },
        )
    ]


def check_scale_up(record: RunRecord) -> list[Expectation]:
    """Target allocations rise within the bound after each stage that raises the load."""
    results = []
    ceiling = record.max_allocations or DEFAULT_MAX_ALLOCATIONS
    for start, stage in _stages_expecting(record, EXPECT_SCALE_UP):
        name = f"scale-up@{stage.label}"
        bound = reaction_bound_s(
            EXPECT_SCALE_UP, record.plan.timing, stage.duration_s if stage.ramp else 0
        )
        before = _value_at(record.polls, "target_allocation_count", start) or 0
        if before >= ceiling:
            results.append(
                Expectation(
                    name,
                    "allocations rise after load rises",
                    None,
                    f"already at max ({before}) when the load rose",
                )
            )
            continue
        if record.last_s < start + bound and record.last_s < start + stage.duration_s:
            results.append(_cut_short(name, "allocations rise after load rises", start + bound))
            continue

        def rose(row: dict[str, Any], before: int = before) -> bool:
            return int(row["target_allocation_count"] or 0) > before

        seen = _first_after(record.polls, start, rose)
        due = _due(record, start, start + max(stage.duration_s, bound), bound,
                   functools.partial(operator.lt, before))  # fmt: skip
        if not due.applies and (seen is None or seen - start > bound):
            results.append(_not_due(name, "allocations rise after load rises", "scale up"))
            continue
        bound = due.bound_s
        peak = max(
            (
                int(r["target_allocation_count"] or 0)
                for r in record.polls
                if start <= r["elapsed_s"] < start + stage.duration_s
            ),
            default=before,
        )
        results.append(
            _reaction(
                name, "allocations rise after load rises", start, seen, bound,
                f"{before} → {peak} allocations; first rise {{delay}} s after the load rose "
                f"(bound {bound:g} s{_basis(due)})",
                f"stayed at {before} allocations for {stage.duration_s:g} s of {stage.users} users"
                f" (bound {bound:g} s{_basis(due)})",
                load_rose_at_s=start, scaled_up_at_s=seen, replayed_s=due.replayed_s,
                **{"from": before, "to": peak},
            )
        )  # fmt: skip
    return results


def check_scale_down(record: RunRecord) -> list[Expectation]:
    """Target allocations fall within cooldown + a few ticks after the load falls and the
    deployment's queue has drained.

    The scaler's estimate lags, so it may still scale up once right after the load falls; the
    first drop after the fall counts, whatever the level it drops from. While requests queued
    at the peak drain (a bulk ingest leaves hundreds of chunks), the scaler counts the
    completions as requests (AdaptiveAllocationsScalerService.Stats.sub: success delta plus
    max(0, pending delta)) and rightly holds its allocations: the bound counts from the first
    poll without pending requests. A run that ends while the queue still drains has not
    reached the point where the expectation applies (skipped, not failed).
    """
    results = []
    for start, stage in _stages_expecting(record, EXPECT_SCALE_DOWN):
        name = f"scale-down@{stage.label}"
        bound = reaction_bound_s(EXPECT_SCALE_DOWN, record.plan.timing, 0)
        peak = max(
            (
                int(row["target_allocation_count"] or 0)
                for row in record.polls
                if start <= row["elapsed_s"] < start + stage.duration_s
            ),
            default=_value_at(record.polls, "target_allocation_count", start) or 0,
        )
        floor = max(record.min_allocations or 0, 1)
        if peak <= floor:
            results.append(
                Expectation(
                    name,
                    "allocations fall after load falls",
                    None,
                    f"nothing to scale down ({peak} allocation(s) when the load fell)",
                )
            )
            continue
        drained = _first_after(record.polls, start, _queue_empty)
        if drained is None and _value_at(record.polls, "number_of_pending_requests", 1e12):
            results.append(_still_draining(name, record, start))
            continue
        drained = start if drained is None else drained  # no poll after the fall: cut short
        seen = _first_decrease(record.polls, start)
        level = _value_at(record.polls, "target_allocation_count", drained) or peak
        due = _due(record, drained, record.last_s, bound, functools.partial(operator.gt, level))
        if not due.applies and (seen is None or seen - drained > bound):
            results.append(_not_due(name, "allocations fall after load falls", "scale down"))
            continue
        bound = due.bound_s
        in_time = seen is not None and seen - drained <= bound
        if not in_time and record.last_s < drained + min(bound, stage.duration_s):
            results.append(_cut_short(name, "allocations fall after load falls", drained + bound))
            continue
        after = _value_at(record.polls, "target_allocation_count", seen) if seen else peak
        since = (
            f"the queue drained (it drained {drained - start:.3g} s after the load fell)"
            if drained > start
            else "the load fell"
        )
        results.append(
            _reaction(
                name, "allocations fall after load falls", drained, seen, bound,
                f"{peak} → {after} allocations; first fall {{delay}} s after {since} "
                f"(bound {bound:g} s{_basis(due)})",
                f"stayed at {peak} allocations for {record.last_s - drained:.3g} s after {since}"
                f" (bound {bound:g} s{_basis(due)})",
                load_fell_at_s=start, queue_drained_at_s=drained, scaled_down_at_s=seen,
                replayed_s=due.replayed_s,
                **{"from": peak, "to": after},
            )
        )  # fmt: skip
    return results


def check_zero(record: RunRecord) -> list[Expectation]:
    """With min 0, allocations reach zero within the scale-to-zero time (+ cooldown) of idling."""
    results = []
    for start, stage in _stages_expecting(record, EXPECT_ZERO):
        name = f"zero@{stage.label}"
        if not record.adaptive or (record.min_allocations or 0) > 0:
            results.append(
                Expectation(
                    name,
                    "allocations reach zero when idle",
                    None,
                    "min_number_of_allocations > 0 (or adaptive off): never zero",
                )
            )
            continue
        bound = reaction_bound_s(EXPECT_ZERO, record.plan.timing, 0)
        if record.last_s < start + min(bound, stage.duration_s):
            results.append(_cut_short(name, "allocations reach zero when idle", start + bound))
            continue
        seen = _first_after(
            record.polls,
            start,
            lambda row: (
                int(row["allocation_count"] or 0) == 0
                and int(row["target_allocation_count"] or 0) == 0
            ),
        )
        results.append(
            _reaction(
                name, "allocations reach zero when idle", start, seen, bound,
                f"zero allocations {{delay}} s after the load stopped (bound {bound:g} s)",
                f"still allocated after {stage.duration_s:g} s without load",
                idle_from_s=start, zero_at_s=seen,
            )
        )  # fmt: skip
    return results


def check_from_zero(record: RunRecord) -> list[Expectation]:
    """After zero, new load starts an allocation and is served (409s first are documented)."""
    results = []
    for start, stage in _stages_expecting(record, EXPECT_FROM_ZERO):
        name = f"from-zero@{stage.label}"
        at_start = _value_at(record.polls, "allocation_count", start)
        if at_start is None or at_start > 0:
            results.append(
                Expectation(
                    name,
                    "load after zero starts an allocation",
                    None,
                    f"the deployment was not at zero when the load returned ({at_start})",
                )
            )
            continue
        bound = reaction_bound_s(EXPECT_FROM_ZERO, record.plan.timing, 0)
        if record.last_s < start + min(bound, stage.duration_s):
            results.append(_cut_short(name, "load after zero starts an allocation", start + bound))
            continue
        allocated = _first_after(
            record.polls, start, lambda row: int(row["allocation_count"] or 0) >= 1
        )
        window = [
            row
            for row in record.requests
            if row.get("request_type") in LOAD_REQUEST_TYPES and row["elapsed_s"] >= start
        ]
        conflicts = sum(1 for row in window if row.get("error_kind") == "409")
        served = next(
            (
                row["elapsed_s"] + row["latency_ms"] / 1000
                for row in window
                if not row.get("error_kind")
            ),
            None,
        )
        delay = None if allocated is None else round(allocated - start, 3)
        served_delay = None if served is None else round(served - start, 3)
        passed = delay is not None and delay <= bound and served is not None
        detail = (
            f"allocation back {delay} s after the load returned (bound {bound:g} s); first answer "
            f"served at +{served_delay} s; {conflicts} × 409 while scaling from zero"
        )
        results.append(
            Expectation(
                name,
                "load after zero starts an allocation",
                passed,
                detail,
                {
                    "load_returned_at_s": start,
                    "allocated_at_s": allocated,
                    "delay_s": delay,
                    "first_served_s": served_delay,
                    "conflicts_409": conflicts,
                    "bound_s": bound,
                },
            )
        )
    return results


def check_errors(record: RunRecord) -> list[Expectation]:
    """Only answers Elasticsearch documents under load (409 scaling from zero, 429, 408).

    Requests sent after the plan ended are left out: the run is tearing down then (its
    endpoint is being deleted: 409 while the deployment stops, then 404), and a distributed
    run's workers may still send a last few arrivals they had due; the target answers them
    rightly, and they are no load the plan offered."""
    end = record.plan.duration_s
    kinds = Counter(
        row["error_kind"]
        for row in record.requests
        if row.get("error_kind")
        and row.get("request_type") in LOAD_REQUEST_TYPES
        and not (end > 0 and float(row["elapsed_s"]) > end)
    )
    if not record.requests:
        return [_no_data("errors-documented", "only documented errors under load")]
    kinds.pop("backlog", None)  # not an answer of the target: check_generator judges it
    unexpected = {kind: n for kind, n in kinds.items() if kind not in DOCUMENTED_LOAD_ERRORS}
    described = ", ".join(f"{n} × {kind}" for kind, n in sorted(kinds.items())) or "none"
    detail = f"errors: {described}"
    if unexpected:
        detail += "; not documented under load: " + "; ".join(
            f"{kind} ({ERROR_KINDS.get(kind, kind)})" for kind in sorted(unexpected)
        )
    return [
        Expectation(
            "errors-documented",
            "only documented errors under load (409/429/408)",
            not unexpected,
            detail,
            dict(kinds),
        )
    ]


# Share of arrivals the generator may fail to send (its own open-loop overflow), or send late
# (beyond generator.LATE_THRESHOLD_MS), before the run no longer offered the load its plan
# says: a busy load machine drops or delays a few, not one in 100.
MAX_BACKLOG_SHARE = 0.01
MAX_LATE_SHARE = 0.01


def check_generator(record: RunRecord) -> list[Expectation]:
    """The generator sent the offered load, on time: arrivals it could not send (``backlog``,
    the user's outstanding-request cap; or due but never made when the run stopped) and
    arrivals sent later than their schedule said are the load machine's limit, not the
    target's."""
    summary = generator.summarize(record.requests, record.unmade_arrivals)
    arrivals = summary["arrivals"]
    if not arrivals:
        return [_no_data("generator-kept-up", "the generator sent the offered load")]
    backlog, unmade, late = summary["backlog"], summary["unmade"], summary["late"]
    share = (backlog + unmade) / arrivals
    late_share = late / arrivals
    threshold = summary["late_threshold_ms"]
    problems = []
    if backlog or unmade:
        problems.append(
            f"{backlog + unmade} of {arrivals} arrivals not sent ({share:.2%}): the load "
            "machine's outstanding-request cap"
            + (f"; {unmade} due but never made when the run stopped" if unmade else "")
        )
    if late:
        lag = summary["lag_ms"] or {}
        problems.append(
            f"the load generator fell behind its schedule: {late} of {arrivals} arrivals sent "
            f"more than {threshold:g} ms late ({late_share:.2%}; lag p99 {lag.get('p99')} ms, "
            f"max {lag.get('max')} ms; behind for {summary['behind_s']:g} s)"
        )
    return [
        Expectation(
            "generator-kept-up",
            f"the generator sent the offered load on time (backlog ≤ {MAX_BACKLOG_SHARE:.0%}, "
            f"late > {threshold:g} ms ≤ {MAX_LATE_SHARE:.0%})",
            share <= MAX_BACKLOG_SHARE and late_share <= MAX_LATE_SHARE,
            "; ".join(problems) if problems else f"all {arrivals} arrivals sent on time",
            {
                "backlog": backlog,
                "unmade": unmade,
                "arrivals": arrivals,
                "share": round(share, 4),
                "late": late,
                "late_share": round(late_share, 4),
                "late_threshold_ms": threshold,
                "lag_ms": summary["lag_ms"],
                "behind_s": summary["behind_s"],
            },
        )
    ]


def check_simulator(record: RunRecord) -> list[Expectation]:
    """The embedded reference server kept its simulated time: its event loop was not behind
    (``GET /_elsercheck/lag``; not measured on a real cluster, whose time is its own)."""
    name, description = (
        "simulator-kept-up",
        (
            "the embedded server kept its simulated time "
            f"(stalled ≤ {simulator.MAX_BEHIND_SHARE:.0%} of the run)"
        ),
    )
    lag = simulator.summarize(record.allocations)
    if lag is None:
        return [Expectation(name, description, None, "not measured: the target is no embedded "
                            "reference server (a cluster's time is its own)")]  # fmt: skip
    worst = (
        f"worst wake-up {lag['max_lag_ms']:g} ms late"
        if lag.get("max_lag_in_run", True)
        else f"no wake-up later than the server's worst before the run ({lag['max_lag_ms']:g} ms)"
    )
    detail = (
        f"event loop stalled {lag['stalls']} time(s) for {lag['behind_s']:.3g} s in "
        f"{lag['span_s']:.3g} s ({lag['share']:.2%}); {worst}"
    )
    observed = {key: lag[key] for key in ("stalls", "behind_s", "span_s", "share", "max_lag_ms")}
    return [Expectation(name, description, lag["kept_up"], detail, observed)]


def _reaction(name: str, description: str, start: float, seen: float | None, bound: float,
              seen_detail: str, missing_detail: str, **observed: Any) -> Expectation:  # fmt: skip
    """A reaction that had to be seen within ``bound`` s of ``start``; ``{delay}`` in
    ``seen_detail`` becomes the measured delay."""
    delay = None if seen is None else round(seen - start, 3)
    passed = delay is not None and delay <= bound
    detail = seen_detail.format(delay=delay) if delay is not None else missing_detail
    return Expectation(name, description, passed, detail,
                       {**observed, "delay_s": delay, "bound_s": bound})  # fmt: skip


def _basis(due: Due) -> str:
    if due.basis == "replay" and due.replayed_s is not None:
        return (f": Elasticsearch's scaler, replayed on the target's stats, decides "
                f"{due.replayed_s:g} s in at the latest tick phase")  # fmt: skip
    return ""


def _not_due(name: str, description: str, action: str) -> Expectation:
    return Expectation(
        name,
        description,
        None,
        f"not due: Elasticsearch's scaler, replayed on the stats the target reported, would not "
        f"{action} at every tick phase with the arrivals this run offered",
    )


def _queue_empty(row: dict[str, Any]) -> bool:
    return not int(row.get("number_of_pending_requests") or 0)


def _still_draining(name: str, record: RunRecord, start: float) -> Expectation:
    pending = _value_at(record.polls, "number_of_pending_requests", record.last_s)
    return Expectation(
        name,
        "allocations fall after load falls",
        None,
        f"the queue was still draining when the run ended ({pending} pending, "
        f"{record.last_s - start:.3g} s after the load fell): the load exceeded what the "
        "allocations could serve",
        {"load_fell_at_s": start, "pending_at_end": pending},
    )


def _no_data(name: str, description: str) -> Expectation:
    return Expectation(name, description, False, "no data recorded")


def _cut_short(name: str, description: str, needed_s: float) -> Expectation:
    return Expectation(
        name,
        description,
        None,
        f"run ended before the reaction was due (needed until {needed_s:g} s)",
    )


CHECKS: dict[str, Callable[[RunRecord], list[Expectation]]] = {
    "allocation-bounds": check_bounds,
    "scale-up": check_scale_up,
    "scale-down": check_scale_down,
    "zero": check_zero,
    "from-zero": check_from_zero,
    "errors-documented": check_errors,
    "generator-kept-up": check_generator,
    "simulator-kept-up": check_simulator,
}
# The load machine's own checks: when one fails, the run did not offer or simulate in time
# what its plan says, and the real-time checks below cannot blame the target.
LOAD_MACHINE_CHECKS = ("generator-kept-up", "simulator-kept-up")
REAL_TIME_CHECKS = ("scale-up", "scale-down", "zero", "from-zero")


def _checked(record: RunRecord) -> list[Expectation]:
    if not eis.is_eis(record.service):
        return [result for check in CHECKS.values() for result in check(record)]
    results = [
        result
        for name, check in CHECKS.items()
        for result in ([eis.skipped_allocation_check(name)] if name in eis.ALLOCATION_CHECKS
                       else check(record))
    ]  # fmt: skip
    load_rows = [row for row in record.requests if row.get("request_type") in LOAD_REQUEST_TYPES]
    # Per minute of the load: from the run's start to its last request sent (the run ends
    # later: in-flight requests drain, the endpoint is deleted).
    span_s = max((float(row["elapsed_s"]) for row in load_rows), default=0.0)
    return [*results, eis.check_rate_limits(load_rows, span_s * record.plan.timing.speedup / 60)]


def check_all(record: RunRecord) -> list[Expectation]:
    """Every registered check, in registry order; real-time failures while the load machine
    was behind become inconclusive (with the figures), never passes. An endpoint on EIS skips
    the allocation checks (saying why) and adds its rate-limit check (``eis.py``)."""
    results = _checked(record)
    # Measured behind: a check with no data recorded blames neither side.
    behind = [
        r for r in results if r.name in LOAD_MACHINE_CHECKS and r.passed is False and r.observed
    ]
    if not behind:
        return results
    why = "inconclusive: the load machine was behind (" + "; ".join(
        f"{r.name}: {r.detail}" for r in behind) + ")"  # fmt: skip
    return [
        replace(r, passed=None, inconclusive=True,
                detail=r.detail if r in behind else f"{r.detail} — {why}")
        if r in behind or (r.passed is False and r.name.split("@")[0] in REAL_TIME_CHECKS)
        else r
        for r in results
    ]  # fmt: skip


def exit_code(results: Iterable[Expectation]) -> int:
    """FAILED when a check failed; INCONCLUSIVE when none failed but one had no verdict (the
    load machine was behind); else OK (skipped checks do not fail a run)."""
    results = list(results)
    if any(item.passed is False for item in results):
        return ExitCode.FAILED
    return ExitCode.INCONCLUSIVE if any(item.inconclusive for item in results) else ExitCode.OK
