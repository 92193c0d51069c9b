"""What a load run cost in allocations, from the monitor's polls (allocations.csv) and run.json.

Definitions (summary.json ``load.cost``):

- Each poll's ``allocation_count`` holds until the next poll (a step function); the last poll
  closes the measured span. ``allocation_seconds`` = Σ count × gap, over the polls' span.
- Time-lapse: a target whose clock runs ``timing.speedup`` times faster than the cluster it
  stands for (the reference server's ``fast`` profile) is a time-lapse of that cluster
  (elsercheck.timebase). ``allocation_hours`` and ``vcpu_hours`` are in cluster time;
  ``wall_seconds`` is what the clock on the wall said, ``cluster_seconds`` the same span in
  cluster time.
- ``vcpu_hours`` = allocation-hours × ``num_threads`` of the endpoint the run created (each
  allocation runs that many inference threads on as many vCPUs); ``None`` when the run did
  not create the endpoint (its threads are not in run.json).
- Idle: a poll interval is idle when allocations were held (count > 0) and no request that
  needs inference (inference, bulk, search: not the lifecycle user's steps) was sent in it.
  ``idle_share_pct`` = idle allocation-seconds / allocation-seconds × 100.
- Successful inferences: ok inference requests + ok semantic searches + acknowledged bulk
  documents (each one inferred once); ``*_per_1000`` divide by them, ``None`` without any.
- ``price``: ``--vcpu-hour-price`` (currency-neutral); ``cost`` = vcpu-hours × price.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .runfiles import OK_KIND, RunFiles

BULK_TYPE, SEARCH_TYPE = "BULK", "SEARCH"


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def polls(rows: Sequence[Mapping[str, Any]]) -> list[tuple[float, int]]:
    """(elapsed_s, allocation_count) of the polls that report a count, in time order."""
    result = []
    for row in rows:
        count = _number(row.get("allocation_count"))
        at = _number(row.get("elapsed_s"))
        if count is not None and at is not None:
            result.append((at, int(count)))
    return sorted(result)


def arrivals(files: RunFiles) -> list[float]:
    """Send times of every request that needs inference, ascending."""
    times = list(files.inference.elapsed_s)
    times += [
        float(row["elapsed_s"])
        for row in files.other_requests
        if row.get("request_type") in (BULK_TYPE, SEARCH_TYPE)
    ]
    return sorted(times)


def successful_inferences(files: RunFiles) -> int:
    """Ok inference requests + ok searches + acknowledged bulk documents."""
    count = sum(1 for kind in files.inference.kind_code if kind == 0)
    for row in files.other_requests:
        if row.get("error_kind", OK_KIND) != OK_KIND:
            continue
        if row.get("request_type") == SEARCH_TYPE:
            count += 1
        elif row.get("request_type") == BULK_TYPE:
            count += int(_number(row.get("acknowledged")) or 0)
    return count


def cost(files: RunFiles, vcpu_hour_price: float | None = None) -> dict[str, Any]:
    """The ``load.cost`` section (see the module docstring)."""
    samples = polls(files.allocations)
    sent = arrivals(files)
    clock, threads = files.metadata.clock, files.metadata.num_threads
    allocation_s = idle_s = 0.0
    for (at, count), (following, _) in itertools.pairwise(samples):
        gap = following - at
        allocation_s += count * gap
        # Any arrival in [at, following)? bisect finds the first send time at or after `at`.
        index = bisect.bisect_left(sent, at)
        if count > 0 and not (index < len(sent) and sent[index] < following):
            idle_s += count * gap
    wall_s = samples[-1][0] - samples[0][0] if samples else None
    allocation_hours = clock.to_cluster(allocation_s) / 3600 if samples else None
    vcpu_hours = allocation_hours * threads if allocation_hours is not None and threads else None
    successes = successful_inferences(files)
    cost_value = (
        vcpu_hours * vcpu_hour_price
        if vcpu_hours is not None and vcpu_hour_price is not None
        else None
    )
    return {
        "polls": len(samples),
        "wall_seconds": _round(wall_s, 3),
        "speedup": clock.speedup,
        "time_lapse": clock.time_lapse,
        "cluster_seconds": _round(None if wall_s is None else clock.to_cluster(wall_s), 3),
        "num_threads": threads,
        "allocation_hours": _round(allocation_hours),
        "vcpu_hours": _round(vcpu_hours),
        "idle_allocation_hours": _round(clock.to_cluster(idle_s) / 3600 if samples else None),
        "idle_share_pct": _round(100 * idle_s / allocation_s if allocation_s else None, 3),
        "successful_inferences": successes,
        "allocation_hours_per_1000": _per_1000(allocation_hours, successes),
        "vcpu_hours_per_1000": _per_1000(vcpu_hours, successes),
        "vcpu_hour_price": vcpu_hour_price,
        "cost": _round(cost_value),
        "cost_per_1000": _per_1000(cost_value, successes),
    }


def _per_1000(value: float | None, successes: int) -> float | None:
    return None if value is None or not successes else _round(1000 * value / successes)


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)
