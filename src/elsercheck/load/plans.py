"""Load shapes as data: stage plans derived from the target's scaler timing.

A shape is a list of :class:`Stage`; each stage holds (or ramps) a number of users for a
duration and may name the scaling reaction it should provoke (``expect``), which the
expectations checker then looks for. Stage lengths come from :class:`ScalerTiming`, so the same
shape takes seconds on the reference server's ``fast`` timing and minutes on a real cluster.
Rates are given in the cluster's time and multiplied by the timing's ``speedup``
(:func:`wall_rate`): with durations divided by it (through the timing), a fast run is the
realistic run of the cluster fast stands for, with the clock sped up.

The registry :data:`SHAPES` maps a name to a builder; the locust ``LoadTestShape`` in
``loadtests/`` and the ``elsercheck load`` command both read it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from ..timebase import TimeBase
from ..timing import PRESETS, Timing


@dataclass(frozen=True)
class ScalerTiming:
    """How fast the target's adaptive allocations react (ES AdaptiveAllocationsScalerService).

    Defaults are Elasticsearch's: 10 s ticks, 5 min scale-down cooldown, 24 h to scale to zero
    (PR #128914; set ``xpack.ml.trained_models.adaptive_allocations.scale_to_zero_time`` lower
    on the cluster and pass the same value here to run ``idle-to-zero`` in reasonable time).
    ``allocation_start_s`` is how long a new allocation takes to serve (model load on a node).
    ``speedup`` is how many times faster than cluster time the target's clock runs (the
    reference server's fast profile: 10; a real cluster: 1).
    """

    tick_s: float = 10.0
    cooldown_s: float = 300.0
    scale_to_zero_s: float = 86400.0
    allocation_start_s: float = 30.0
    speedup: float = 1.0

    def with_overrides(self, **values: float | None) -> ScalerTiming:
        """A copy with the given (non-``None``) values replaced."""
        return replace(self, **{key: value for key, value in values.items() if value is not None})

    def to_json(self) -> dict[str, float]:
        return asdict(self)


# The reference server's timing fields the scaler timing is made of (load options override
# them by these names, on the embedded server and in the plan alike).
SCALER_FIELDS = (
    "scaler_tick_seconds",
    "scale_down_cooldown_seconds",
    "scale_to_zero_seconds",
    "allocation_start_seconds",
    "deployment_start_seconds",
)


def scaler_timing(timing: Timing) -> ScalerTiming:
    """The scaler timing of a target that behaves like the reference server with ``timing``."""
    return ScalerTiming(
        tick_s=timing.scaler_tick_seconds,
        cooldown_s=timing.scale_down_cooldown_seconds,
        scale_to_zero_s=timing.scale_to_zero_seconds,
        # A new allocation serves once started; the first one also loads the model.
        allocation_start_s=max(
            1.0, timing.allocation_start_seconds + timing.deployment_start_seconds
        ),
        speedup=timing.speedup,
    )


def wall_rate(rate_per_user: float, timing: ScalerTiming) -> float:
    """Requests per wall-clock second of one user who sends ``rate_per_user`` per second of the
    cluster's time, on a target whose clock runs ``timing.speedup`` times faster."""
    return TimeBase.of(timing).wall_rate(rate_per_user)


# One per reference timing profile (realistic: Elasticsearch's defaults; fast: the reference
# server's fast profile), derived from its numbers rather than copied.
TIMING_PROFILES: dict[str, ScalerTiming] = {
    name: scaler_timing(timing) for name, timing in PRESETS.items()
}


# What a stage should provoke, and how long after its start the reaction may take.
EXPECT_SCALE_UP = "scale-up"
EXPECT_SCALE_DOWN = "scale-down"
EXPECT_ZERO = "zero"
EXPECT_FROM_ZERO = "from-zero"


def reaction_bound_s(expect: str, timing: ScalerTiming, stage_s: float) -> float:
    """Seconds after a stage starts by which the expected reaction must be visible.

    Scale-up: the rate filter flags the change on the first full tick and the next tick has the
    estimate, so a few ticks plus an allocation start (for a ramp, its whole duration too).
    Scale-down waits out the cooldown after the last scale-up first, then the estimate's fall
    below the lower bound (several ticks), seen by a poll up to half a tick later: allowed the
    whole stage that expects it (cooldown + 6 ticks), so one late tick is not a failure.
    Zero needs the idle time and the cooldown. From zero: the first request starts one
    allocation.
    """
    ticks = 4 * timing.tick_s
    bounds = {
        EXPECT_SCALE_UP: ticks + timing.allocation_start_s,
        EXPECT_SCALE_DOWN: timing.cooldown_s + 6 * timing.tick_s,
        EXPECT_ZERO: max(timing.scale_to_zero_s, timing.cooldown_s) + ticks,
        EXPECT_FROM_ZERO: 2 * timing.tick_s + 2 * timing.allocation_start_s,
    }
    return bounds[expect] + (stage_s if expect == EXPECT_SCALE_UP and stage_s else 0.0)


@dataclass(frozen=True)
class Stage:
    """Users held (or ramped linearly from ``users_from`` to ``users``) for ``duration_s``."""

    label: str
    duration_s: float
    users: int
    users_from: int | None = None  # set for a ramp
    expect: str | None = None  # the reaction this stage should provoke
    ramp: bool = False  # the scale-up bound counts from the end of a ramp

    def users_at(self, offset_s: float) -> int:
        if self.users_from is None or self.duration_s <= 0:
            return self.users
        share = min(max(offset_s / self.duration_s, 0.0), 1.0)
        return round(self.users_from + (self.users - self.users_from) * share)

    def to_json(self, start_s: float) -> dict[str, object]:
        return {**asdict(self), "start_s": round(start_s, 3)}


@dataclass(frozen=True)
class Plan:
    """A named shape's stages for one timing and peak."""

    shape: str
    stages: tuple[Stage, ...]
    timing: ScalerTiming

    @property
    def duration_s(self) -> float:
        return sum(stage.duration_s for stage in self.stages)

    def starts(self) -> list[float]:
        """Start time of each stage, in seconds from the run start."""
        out, at = [], 0.0
        for stage in self.stages:
            out.append(at)
            at += stage.duration_s
        return out

    def users_at(self, elapsed_s: float) -> int | None:
        """Users wanted ``elapsed_s`` into the run; ``None`` once the plan is over."""
        for start, stage in zip(self.starts(), self.stages, strict=True):
            if elapsed_s < start + stage.duration_s:
                return stage.users_at(elapsed_s - start)
        return None

    def to_json(self) -> list[dict[str, object]]:
        return [
            stage.to_json(start) for start, stage in zip(self.starts(), self.stages, strict=True)
        ]


def _base(peak: int) -> int:
    """The quiet level between bursts: about a tenth of the peak, at least one user."""
    return max(1, math.ceil(peak / 10))


def _hold_peak(timing: ScalerTiming) -> float:
    # Long enough to scale up step by step to the maximum and be seen holding it.
    return 8 * timing.tick_s + 2 * timing.allocation_start_s


def _step(timing: ScalerTiming, peak: int) -> list[Stage]:
    base = _base(peak)
    return [
        Stage("base", 3 * timing.tick_s + timing.allocation_start_s, base),
        Stage("up", _hold_peak(timing), peak, expect=EXPECT_SCALE_UP),
        Stage("down", timing.cooldown_s + 6 * timing.tick_s, base, expect=EXPECT_SCALE_DOWN),
    ]


def _ramp(timing: ScalerTiming, peak: int) -> list[Stage]:
    base = _base(peak)
    rise = 8 * timing.tick_s
    return [
        Stage("ramp-up", rise, peak, users_from=base, expect=EXPECT_SCALE_UP, ramp=True),
        Stage("hold", 4 * timing.tick_s + timing.allocation_start_s, peak),
        Stage("ramp-down", 4 * timing.tick_s, base, users_from=peak, expect=EXPECT_SCALE_DOWN),
        Stage("base", timing.cooldown_s + 4 * timing.tick_s, base),
    ]


def _spike(timing: ScalerTiming, peak: int) -> list[Stage]:
    base = _base(peak)
    return [
        Stage("base", 3 * timing.tick_s + timing.allocation_start_s, base),
        Stage("spike", 4 * timing.tick_s + timing.allocation_start_s, peak, expect=EXPECT_SCALE_UP),
        Stage("after", timing.cooldown_s + 6 * timing.tick_s, base, expect=EXPECT_SCALE_DOWN),
    ]


def _idle_to_zero(timing: ScalerTiming, peak: int) -> list[Stage]:
    load = max(1, peak // 2)
    idle = max(timing.scale_to_zero_s, timing.cooldown_s) + 6 * timing.tick_s
    return [
        Stage("load", 4 * timing.tick_s + timing.allocation_start_s, load),
        Stage("idle", idle, 0, expect=EXPECT_ZERO),
        Stage(
            "reload",
            5 * timing.tick_s + 2 * timing.allocation_start_s,
            load,
            expect=EXPECT_FROM_ZERO,
        ),
    ]


def _cycle(timing: ScalerTiming, peak: int) -> list[Stage]:
    # Every reaction in one short run: up, down, zero, and back from zero (make run's default).
    return [*_step(timing, peak), *_idle_to_zero(timing, _base(peak) * 2)[1:]]


# How long the constant shape holds its users unless --duration cuts it (elsercheck capacity
# always gives --duration): long enough for any point of a capacity sweep.
CONSTANT_TICKS = 60


def _constant(timing: ScalerTiming, peak: int) -> list[Stage]:
    # One offered rate held (peak users × rate per user): a point of `elsercheck capacity`.
    return [Stage("constant", CONSTANT_TICKS * timing.tick_s, peak)]


@dataclass(frozen=True)
class ShapeInfo:
    build: Callable[[ScalerTiming, int], list[Stage]]
    description: str


SHAPES: dict[str, ShapeInfo] = {
    "step": ShapeInfo(_step, "a tenth of the peak, the peak, then back: scale up, then down"),
    "ramp": ShapeInfo(_ramp, "linear ramp to the peak, hold, ramp down: gradual scale up/down"),
    "spike": ShapeInfo(_spike, "a short burst at the peak over a quiet base: fast scale-up"),
    "cycle": ShapeInfo(_cycle, "step, then silence to zero and load again: every reaction once"),
    "idle-to-zero": ShapeInfo(
        _idle_to_zero,
        "load, silence past the scale-to-zero time, load again: zero and the 409 scale-from-zero",
    ),
    "constant": ShapeInfo(
        _constant, "the peak held until --duration: one offered rate (elsercheck capacity)"
    ),
}


def build_plan(shape: str, timing: ScalerTiming, peak_users: int) -> Plan:
    """The stages of ``shape``; unknown names and a peak below 1 raise ``ValueError``."""
    if shape not in SHAPES:
        raise ValueError(f"unknown load shape {shape!r}; choose from {', '.join(SHAPES)}")
    if peak_users < 1:
        raise ValueError(f"peak users must be at least 1, not {peak_users}")
    return Plan(shape, tuple(SHAPES[shape].build(timing, peak_users)), timing)
