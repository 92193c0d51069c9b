"""Exact latency statistics from raw samples (no histogram, no rounding).

Percentiles interpolate linearly between the closest ranks — numpy's default and what
esrally reports — so p50 of 10, 20, 30, 40 is 25 and p90 of 10…50 is 46.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

PERCENTILES: dict[str, float] = {"p50": 50.0, "p90": 90.0, "p99": 99.0}


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) of an ascending sequence; ``None`` when it is empty."""
    if not ordered:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, not {q}")
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    fraction = rank - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def latency_stats(values: Iterable[float]) -> dict[str, float | int | None]:
    """count, p50/p90/p99, max, mean and min of the finite values, rounded to µs.

    Every key is present; the figures are ``None`` when there is no value.
    """
    ordered = sorted(value for value in values if math.isfinite(value))
    stats: dict[str, float | int | None] = {"count": len(ordered)}
    for key, q in PERCENTILES.items():
        stats[key] = _round(percentile(ordered, q))
    stats["max"] = _round(ordered[-1]) if ordered else None
    stats["mean"] = _round(math.fsum(ordered) / len(ordered)) if ordered else None
    stats["min"] = _round(ordered[0]) if ordered else None
    return stats


def _round(value: float | None) -> float | None:
    # Three decimals of a millisecond: finer than any clock the harness uses, and stable in JSON.
    return None if value is None else round(value, 3)
