"""The plan of offered rates of one sweep: pure, from the points judged so far.

Start from the probe's model-free estimate (a share below it), step up geometrically until a
point fails, then bisect (geometric middle) between the highest sustained and the lowest failed
rate until they are within :attr:`SweepPlan.resolution` of each other. When the very first
point fails, step down instead. A generator that fell behind ends the climb: higher rates would
measure the generator, not the target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .knee import Judgement, knee

# Bisection stops when the lowest failed rate is within this share above the highest sustained
# one (``--resolution``): 5 % takes about two points more per cell than 15 %.
DEFAULT_RESOLUTION = 0.05


@dataclass(frozen=True)
class SweepPlan:
    """``estimate_rps``: the probe's estimate of the saturation rate (cluster req/s)."""

    estimate_rps: float
    start_share: float = 0.5  # the first point offers this share of the estimate
    step: float = 1.5  # geometric factor while no point failed (or none was sustained)
    resolution: float = DEFAULT_RESOLUTION  # stop when failed / sustained - 1 is within this
    floor_share: float = 0.01  # never below this share of the estimate

    def next_rate(self, history: Sequence[tuple[float, Judgement]]) -> float | None:
        """The next offered rate, or ``None`` when the knee is found (or cannot be)."""
        if not history:
            return self.estimate_rps * self.start_share
        if any(j.inconclusive for _, j in history):
            return None  # the generator could not offer more
        bracket = knee(history)
        low, high = bracket.sustained_rps, bracket.failed_rps
        if high is None:
            assert low is not None
            return low * self.step
        if low is None:
            lower = high / self.step
            return lower if lower >= self.estimate_rps * self.floor_share else None
        if high / low - 1 <= self.resolution:
            return None
        return math.sqrt(low * high)
