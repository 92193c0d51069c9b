"""Whether the load generator kept its open-loop schedule, from the rows of ``requests.csv``.

Each load arrival (``POST``, ``BULK``, ``SEARCH`` rows) carries ``schedule_lag_ms``: how long
after its due time the generator sent it (or found no free sender: ``backlog``). A generator
that falls behind offers less load than the plan says, and later: the target is then judged on
load it never got. :func:`summarize` is run.json's ``generator`` object; the expectation
``generator-kept-up`` (``expectations.py``) fails on it, naming the generator, not the target.

Late means more than :data:`LATE_THRESHOLD_MS` behind schedule. 250 ms, fixed rather than a
share of the mean inter-arrival time: what a late arrival distorts is the load the target sees
per measurement window, by at most lag / window, and the shortest window modelled is the fast
profile's 1 s scaler tick (10 s on a cluster): a quarter of it keeps an arrival within its tick
or the next. It is also above the stalls that a healthy generator sees on a busy shared
machine (the OS not running it: 200–280 ms measured on a 2-core machine running two load
tests and their servers), which a tenth of the inter-arrival time (0.1 ms at 1,000 req/s per
user) or 50 ms would flag. A generator that cannot keep up is late by amounts that grow by the
second, so it is caught whatever the exact value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# The load users' rows of requests.csv (inference, bulk, search; not the lifecycle user's).
LOAD_REQUEST_TYPES = ("POST", "BULK", "SEARCH")
LATE_THRESHOLD_MS = 250.0
BEHIND_GAP_S = 1.0  # late arrivals less than this apart belong to one span of being behind
MAX_BEHIND_SPANS = 50  # run.json lists the longest ones


def load_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows of open-loop arrivals (not the lifecycle user's steps)."""
    return [row for row in rows if row.get("request_type") in LOAD_REQUEST_TYPES]


def summarize(
    rows: Iterable[Mapping[str, Any]],
    unmade: int = 0,
    threshold_ms: float = LATE_THRESHOLD_MS,
) -> dict[str, Any]:
    """run.json's ``generator``: arrivals (made + ``unmade``: due but never made because the
    run stopped while a user was behind), sent, backlog, late (lag > ``threshold_ms``), the lag
    percentiles in ms (None without lag data) and the spans ``[from_s, to_s]`` (seconds since
    the run start, from the first late arrival's due time to when the last one was made) in
    which the generator was behind: late or backlog arrivals less than :data:`BEHIND_GAP_S`
    apart."""
    arrivals = load_rows(rows)
    backlog = sum(1 for row in arrivals if row.get("error_kind") == "backlog")
    lags = sorted(float(lag) for row in arrivals if (lag := row.get("schedule_lag_ms")) is not None)
    late = sum(1 for lag in lags if lag > threshold_ms)
    spans = behind_spans(arrivals, threshold_ms)
    longest = sorted(spans, key=lambda span: span[1] - span[0], reverse=True)[:MAX_BEHIND_SPANS]
    return {
        "arrivals": len(arrivals) + unmade,
        "sent": len(arrivals) - backlog,
        "backlog": backlog,
        "unmade": unmade,
        "late": late,
        "late_threshold_ms": threshold_ms,
        "lag_ms": {
            "p50": round(_percentile(lags, 0.50), 3),
            "p99": round(_percentile(lags, 0.99), 3),
            "max": round(lags[-1], 3),
        }
        if lags
        else None,
        "behind": sorted(longest),
        "behind_spans": len(spans),
        "behind_s": round(sum(end - start for start, end in spans), 3),
    }


def behind_spans(
    arrivals: Iterable[Mapping[str, Any]], threshold_ms: float = LATE_THRESHOLD_MS
) -> list[list[float]]:
    """``[from_s, to_s]`` spans in which arrivals were late or backlog (see :func:`summarize`)."""
    marks = []
    for row in arrivals:
        lag = row.get("schedule_lag_ms")
        made = row.get("elapsed_s")
        if made is None or not (row.get("error_kind") == "backlog" or (lag or 0) > threshold_ms):
            continue
        marks.append((float(made) - float(lag or 0) / 1000.0, float(made)))
    spans: list[list[float]] = []
    for due, made in sorted(marks):
        if spans and due - spans[-1][1] <= BEHIND_GAP_S:
            spans[-1][1] = max(spans[-1][1], made)
        else:
            spans.append([due, made])
    return [[round(start, 3), round(end, 3)] for start, end in spans]


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n q), at least the first
    return ordered[int(rank) - 1]
