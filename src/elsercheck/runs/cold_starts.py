"""Scale-from-zero in a load run: how long the first arrival at zero waited for a success.

A cold start is a stretch of polls with ``allocation_count`` 0 (allocations.csv) during which
a request needing inference was sent (inference, bulk, search), ended by the first poll with
count ≥ 1 — or by the run's end if allocations never came. The run's start counts when the
first poll shows 0 (the endpoint began at zero). Per cold start:

- ``first_arrival_s``: the first request sent while at zero (seconds since the run start);
- ``time_to_first_success_s``: from it until the first successful answer to a request sent
  at or after it (``None`` when none succeeded before the next cold start or the run's end);
- ``failures_by_kind``: requests sent from the first arrival until that success that failed
  (409 while starting, 429, 408, timeouts …), by ``error_kind``.

``p50_s`` / ``p95_s`` interpolate over the cold starts that reached a success (``n``); ``None``
when there were none. Times are wall seconds, as everywhere in the summary (its
``time_base``); the report and the terminal summary show a time-lapse target's cluster time
beside them (elsercheck.timebase). Start points: ``*_since_s``, ``first_arrival_s`` and
``allocated_s`` count from the run's start, ``time_to_first_success_s`` from the first arrival.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from .cost import BULK_TYPE, SEARCH_TYPE, polls
from .runfiles import OK_KIND, RunFiles
from .stats import percentile

# One request needing inference: (sent s, answered s, error_kind).
Outcome = tuple[float, float, str]


def outcomes(files: RunFiles) -> list[Outcome]:
    """Every inference, bulk and search request as (sent, answered, error_kind), by send time."""
    inference = files.inference
    rows: list[Outcome] = [
        (inference.elapsed_s[i], inference.completed_s(i), inference.kinds[inference.kind_code[i]])
        for i in range(len(inference))
    ]
    for row in files.other_requests:
        if row.get("request_type") not in (BULK_TYPE, SEARCH_TYPE):
            continue
        latency = row.get("latency_ms")
        latency_s = latency / 1000 if isinstance(latency, int | float) else 0.0
        sent = float(row["elapsed_s"])
        rows.append((sent, sent + latency_s, str(row.get("error_kind") or OK_KIND)))
    return sorted(rows)


def zero_stretches(samples: Sequence[tuple[float, int]]) -> list[tuple[float, float | None]]:
    """(start, end) of each run of polls at 0: start is the first such poll (0.0 for the
    run's start), end the first poll back at ≥ 1 (``None``: still at zero at the end)."""
    stretches: list[tuple[float, float | None]] = []
    start: float | None = None
    for index, (at, count) in enumerate(samples):
        if count == 0 and start is None:
            start = 0.0 if index == 0 else at
        elif count > 0 and start is not None:
            stretches.append((start, at))
            start = None
    if start is not None:
        stretches.append((start, None))
    return stretches


def cold_starts(files: RunFiles) -> dict[str, Any]:
    """The ``load.cold_starts`` section (see the module docstring)."""
    stretches = zero_stretches(polls(files.allocations))
    requests = outcomes(files) if stretches else []  # millions of rows: only when needed
    events: list[dict[str, Any]] = []
    for index, (start, end) in enumerate(stretches):
        first = next(
            (sent for sent, _, _ in requests if sent >= start and (end is None or sent < end)),
            None,
        )
        if first is None:
            continue  # at zero with nobody asking: no cold start
        limit = stretches[index + 1][0] if index + 1 < len(stretches) else None
        later = [r for r in requests if r[0] >= first and (limit is None or r[0] < limit)]
        success = min((done for _, done, kind in later if kind == OK_KIND), default=None)
        failures = Counter(
            kind
            for sent, _, kind in later
            if kind != OK_KIND and (success is None or sent < success)
        )
        events.append(
            {
                "zero_since_s": round(start, 3),
                "allocated_s": None if end is None else round(end, 3),
                "first_arrival_s": round(first, 3),
                "time_to_first_success_s": None if success is None else round(success - first, 3),
                "failures": sum(failures.values()),
                "failures_by_kind": dict(sorted(failures.items())),
            }
        )
    times: list[float] = sorted(
        e["time_to_first_success_s"] for e in events if e["time_to_first_success_s"] is not None
    )
    failures_by_kind: Counter[str] = Counter()
    for event in events:
        failures_by_kind.update(event["failures_by_kind"])
    return {
        "count": len(events),
        "n": len(times),
        "p50_s": _round(percentile(times, 50)),
        "p95_s": _round(percentile(times, 95)),
        "max_s": times[-1] if times else None,
        "failures": sum(failures_by_kind.values()),
        "failures_by_kind": dict(sorted(failures_by_kind.items())),
        "events": events,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
