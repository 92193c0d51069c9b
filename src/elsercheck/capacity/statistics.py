"""Confidence intervals of a measured throughput, and when a point needs repeating.

Over repeats of a point: Student's t-interval of their mean throughputs. Within one run: a
bootstrap of the per-bin throughputs' mean (seeded: the same run gives the same interval).
Neither assumes the latency distribution; both are about the rate the deployment completed.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
# Repeat a point when its per-bin arrival counts vary this many times more than Poisson noise
# explains: the generator sent unsteadily (a pause of the load machine, a busy neighbour).
# Arrivals, not completions: a mix with long batches completes in bursts by nature.
REPEAT_DISPERSION = 2.0
# Over this many runs of a point a t-interval; fewer: a bootstrap of their pooled bins.
T_INTERVAL_RUNS = 3

# Two-sided 95 % Student t quantiles by degrees of freedom (scipy.stats.t.ppf(0.975, df));
# beyond the table the normal quantile is close enough.
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
         9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 30: 2.042}  # fmt: skip
_Z975 = 1.960


def t_quantile(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (at least 1)."""
    if df < 1:
        raise ValueError("a t-interval needs at least two values")
    known = [d for d in _T975 if d <= df]
    return _T975[max(known)] if df <= 30 else _Z975


def t_interval(values: Sequence[float]) -> tuple[float, float]:
    """The 95 % t-interval of the mean of ``values`` (two or more)."""
    mean = statistics.fmean(values)
    half = t_quantile(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean - half, mean + half


def bootstrap_interval(values: Sequence[float], seed: int = 0) -> tuple[float, float]:
    """The 95 % percentile-bootstrap interval of the mean of ``values`` (one or more)."""
    if len(values) == 1:
        return values[0], values[0]
    rng = random.Random(seed)
    n = len(values)
    means = sorted(math.fsum(rng.choices(values, k=n)) / n for _ in range(BOOTSTRAP_RESAMPLES))
    tail = (1 - CONFIDENCE) / 2
    return means[int(tail * BOOTSTRAP_RESAMPLES)], means[int((1 - tail) * BOOTSTRAP_RESAMPLES) - 1]


def throughput_interval(
    repeats: Sequence[float], per_bin: Sequence[Sequence[float]]
) -> tuple[float, float, str]:
    """The interval of a point's throughput and its method: the t-interval over ``repeats``
    (their mean throughputs) when there are :data:`T_INTERVAL_RUNS` or more, else a bootstrap
    of the runs' pooled per-bin throughputs."""
    if len(repeats) >= T_INTERVAL_RUNS:
        low, high = t_interval(repeats)
        return low, high, f"t-interval over {len(repeats)} runs"
    bins = [value for run in per_bin for value in run]
    if not bins:
        return math.nan, math.nan, "no data"
    low, high = bootstrap_interval(bins)
    runs = f"{len(repeats)} run{'s' if len(repeats) != 1 else ''}"
    return low, high, f"bootstrap of {len(bins)} per-bin throughputs of {runs}"


def dispersion(counts: Sequence[float]) -> float:
    """Variance over mean of per-bin counts: about 1 for Poisson arrivals, far above when the
    rate was unsteady."""
    if len(counts) < 2:
        return 0.0
    mean = statistics.fmean(counts)
    return statistics.variance(counts) / mean if mean > 0 else 0.0


def needs_repeat(counts: Sequence[float]) -> bool:
    """Whether a point's per-bin arrival counts are too unsteady for a verdict."""
    return dispersion(counts) > REPEAT_DISPERSION
