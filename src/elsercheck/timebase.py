"""The time base: wall time versus cluster time, one type for every conversion.

A target's clock may run faster than the cluster it stands for: the reference server's
``fast`` profile is a time-lapse (elsercheck.timing) of a cluster, ``speedup`` times faster.
On it a run measures **wall** time (what the clock on the wall says: the load generator's
timestamps, latencies, the monitor's polls); the real cluster it models would take ``speedup``
times as long, the **cluster** time. So

- cluster seconds = wall seconds × speedup (durations, latencies, hours);
- cluster rates = wall rates ÷ speedup (requests, documents per second);

and a real cluster (speedup 1) has one clock: both bases agree.

:class:`TimeBase` holds the speedup and does every conversion; :func:`TimeBase.from_run` is
the one reader of run.json's ``timing.speedup``. Figures carry their base when written:
:meth:`TimeBase.text` gives a figure in words ("6.0 s cluster (0.6 s wall)"); summary.json names
the base of each section's figures in its ``time_base`` (elsercheck.runs.summary).

Start points (:data:`START_POINTS`): every time of a run's files (``elapsed_s`` of
requests.csv and allocations.csv, stage starts in run.json) counts wall seconds from the load
generator's test start (``run``); each duration the reports show names its own start and end
in :data:`START_POINTS` so that two figures of one thing never come from different points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Base = Literal["wall", "cluster"]
WALL: Base = "wall"
CLUSTER: Base = "cluster"
BASES: tuple[Base, ...] = (WALL, CLUSTER)

# From where each kind of figure is measured (the reports and summary.json name these).
START_POINTS: dict[str, str] = {
    "run": "seconds since the load generator's test start (elapsed_s 0 in the run's files)",
    "cold_start": "from the first request sent while allocation_count was 0 to the first "
    "successful answer to a request sent at or after it",
    "time_to_scale_up": "from the load rise (the first stage expecting a scale-up, else the "
    "first upward decision) until allocation_count first reached its maximum",
    "time_to_fully_allocated": "from the endpoint's PUT to the first stats poll showing "
    "fully_allocated (the lifecycle users' measure)",
    "request": "from a request's send to its answer (a latency)",
}


class TimeBaseError(ValueError):
    """A speedup that cannot be a clock's pace (not a finite number above 0)."""


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


@dataclass(frozen=True)
class TimeBase:
    """A target's clock: ``speedup`` times faster than the cluster it stands for."""

    speedup: float = 1.0

    def __post_init__(self) -> None:
        value = _number(self.speedup)
        if value is None or value <= 0:
            raise TimeBaseError(f"speedup must be a finite number above 0, not {self.speedup!r}")

    @classmethod
    def of(cls, timing: Any) -> TimeBase:
        """The time base of a timing object (``elsercheck.timing.Timing``, a load plan's
        ``ScalerTiming``: anything with a ``speedup``)."""
        return cls(float(timing.speedup))

    @classmethod
    def from_run(cls, run: Mapping[str, Any] | None) -> TimeBase:
        """run.json's ``timing.speedup``: the one place it is read. Absent or unusable (not
        a finite number above 0) it is 1, a real cluster's own clock: a run file written
        without it, or by hand, still reads."""
        timing = run.get("timing") if isinstance(run, Mapping) else None
        value = _number(timing.get("speedup")) if isinstance(timing, Mapping) else None
        return cls(value) if value is not None and value > 0 else cls()

    @classmethod
    def from_summary(cls, load: Mapping[str, Any] | None) -> TimeBase:
        """The time base of a load summary (summary.json's ``load``): its ``time_base``
        (summary_version 4), else ``cost.speedup`` (version 3), else one clock (older)."""
        load = load if isinstance(load, Mapping) else {}
        for section in ("time_base", "cost"):
            node = load.get(section)
            value = _number(node.get("speedup")) if isinstance(node, Mapping) else None
            if value is not None and value > 0:
                return cls(value)
        return cls()

    @property
    def time_lapse(self) -> bool:
        """Whether wall and cluster time differ."""
        return self.speedup != 1.0

    def to_cluster(self, wall_s: float) -> float:
        """A wall duration (seconds or milliseconds alike: a duration, a latency, a time since
        the run's start) in cluster time."""
        return wall_s * self.speedup

    def to_wall(self, cluster_s: float) -> float:
        """A cluster duration (any unit) as this clock's wall time."""
        return cluster_s / self.speedup

    def cluster_rate(self, wall_rate: float) -> float:
        """A rate per wall second (requests/s, documents/s) as a rate per cluster second."""
        return wall_rate / self.speedup

    def wall_rate(self, cluster_rate: float) -> float:
        """A rate per cluster second as the rate this clock must see per wall second."""
        return cluster_rate * self.speedup

    def in_base(self, wall_s: float, base: Base) -> float:
        """Wall seconds expressed in ``base``."""
        return self.to_cluster(wall_s) if base == CLUSTER else wall_s

    def describe(self) -> dict[str, Any]:
        """The clock in a document: ``{"speedup", "time_lapse"}``."""
        return {"speedup": self.speedup, "time_lapse": self.time_lapse}

    def clock_text(self) -> str:
        """One line naming the bases, for the head of a summary in words."""
        if not self.time_lapse:
            return "times: the target's own clock (wall time is cluster time)"
        return (
            f"times: time-lapse ×{self.speedup:g}: cluster time = wall time × {self.speedup:g}, "
            f"cluster rates = wall rates ÷ {self.speedup:g}"
        )

    def text(self, wall_s: float | None, digits: int = 1, unit: str = "s") -> str:
        """A duration measured in wall seconds, in words with its base: on a time-lapse the
        cluster figure first ("6.0 s cluster (0.6 s wall)"), else "0.6 s" (one clock)."""
        if wall_s is None:
            return "–"
        if not self.time_lapse:
            return f"{wall_s:.{digits}f} {unit}"
        return (
            f"{self.to_cluster(wall_s):.{digits}f} {unit} {CLUSTER} "
            f"({wall_s:.{digits}f} {unit} {WALL})"
        )
