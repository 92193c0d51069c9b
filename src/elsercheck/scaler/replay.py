"""Elasticsearch's scaler replayed on the deployment stats a target reported during a load run.

A load run polls ``GET /_ml/trained_models/<id>/_stats`` every half second or so
(``allocations.csv``): the cumulative counters (``inference_count``, pending, errors,
``average_inference_time_ms``) are the very inputs ES's scaler service reads each tick
(ES AdaptiveAllocationsScalerService.trigger → AdaptiveAllocationsScaler.process/scale). Fed to
:class:`~elsercheck.scaler.adaptive_scaler.AdaptiveAllocationsController` tick by tick, they
say when Elasticsearch's scaler would have decided to scale, given the arrivals the run really
offered — one request at a time, or bulks arriving as clumps of chunks, whose burstiness the
scaler's Kalman filters see as noise and wait out. That, not a fixed number of ticks, is how
long a reaction may take.

The cluster's tick phase is unknown, so the replay runs at several phases and reports the
latest decision: the bound must hold whichever phase the target's scaler ticks at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .adaptive_scaler import AdaptiveAllocationsController, NodeSnapshot

# Tick phases tried, as fractions of a tick.
PHASES = (0.0, 0.25, 0.5, 0.75)
# The stats columns the replay needs (allocations.csv).
COLUMNS = ("inference_count", "number_of_pending_requests", "average_inference_time_ms")

Tick = tuple[float, int, int]  # (tick time, the target's allocations, what ES would want)


def replayable(polls: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the polls carry the counters the scaler reads (older run files do not)."""
    return bool(polls) and all(polls[0].get(column) not in (None, "") for column in COLUMNS[:2])


def _number(row: Mapping[str, Any], column: str) -> float:
    value = row.get(column)
    return float(value) if value not in (None, "") else 0.0


def _snapshot(row: Mapping[str, Any]) -> dict[str, NodeSnapshot]:
    """The deployment's stats as one node's (ES sums nodes; the deltas add up the same)."""
    if int(_number(row, "allocation_count")) < 1:
        return {}  # no allocation: no node reports, the scaler is not consulted
    average = row.get("average_inference_time_ms")
    return {
        "node": NodeSnapshot(
            inference_count=int(_number(row, "inference_count")),
            number_of_pending_requests=int(_number(row, "number_of_pending_requests")),
            error_count=int(_number(row, "error_count")),
            timeout_count=int(_number(row, "timeout_count")),
            rejected_execution_count=int(_number(row, "rejected_execution_count")),
            average_inference_time_ms=float(average) if average not in (None, "") else None,
        )
    }


def ticks(
    polls: Sequence[Mapping[str, Any]], tick_s: float, cooldown_s: float,
    min_allocations: int | None, max_allocations: int | None, phase: float,
) -> list[Tick]:  # fmt: skip
    """Each tick of ES's scaler fed the polled stats: the target's allocations then, and the
    allocations ES would want (the same when it would keep them).

    Ticks fall at ``phase * tick_s + k * tick_s`` on the polls' clock (``elapsed_s``); each
    reads the last poll at or before it. The current allocations are the target's own
    (``number_of_allocations``): the question is what ES would decide from the state the
    target was in. Scale-to-zero is left out (``check_zero`` judges it).
    """
    if not polls or tick_s <= 0:
        return []
    controller = AdaptiveAllocationsController(
        "replay", min_allocations=min_allocations, max_allocations=max_allocations,
        scale_to_zero_seconds=float("inf"), cooldown_seconds=cooldown_s,
    )  # fmt: skip
    found: list[Tick] = []
    first, last = float(polls[0]["elapsed_s"]), float(polls[-1]["elapsed_s"])
    now = first + phase * tick_s
    index = 0
    while now <= last:
        while index + 1 < len(polls) and float(polls[index + 1]["elapsed_s"]) <= now:
            index += 1
        row = polls[index]
        current = int(_number(row, "number_of_allocations") or _number(row, "allocation_count"))
        decided = controller.tick(now, _snapshot(row), current, row.get("state") == "started")
        found.append((now, current, current if decided is None else decided))
        now += tick_s
    return found


def latest_first(
    polls: Sequence[Mapping[str, Any]], tick_s: float, cooldown_s: float,
    min_allocations: int | None, max_allocations: int | None, after_s: float, until_s: float,
    wanted: Callable[[int], bool],
) -> float | None:  # fmt: skip
    """The latest, over tick phases, of the first tick in ``[after_s, until_s]`` at which ES
    would want (or the target already has) allocations that ``wanted`` accepts; ``None`` when
    at some phase that never happens in time (then Elasticsearch need not have reacted)."""
    latest = None
    for phase in PHASES:
        first = next(
            (
                now
                for now, _, desired in ticks(
                    polls, tick_s, cooldown_s, min_allocations, max_allocations, phase
                )
                if after_s <= now <= until_s and wanted(desired)
            ),
            None,
        )
        if first is None:
            return None
        latest = first if latest is None else max(latest, first)
    return latest
