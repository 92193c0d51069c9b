"""Timing profiles: every duration the reference server simulates, in one settings object.

``realistic`` uses Elasticsearch's defaults (cited per field). ``fast`` runs the same
algorithms with durations scaled down so a full scale up → down → zero cycle completes in well
under a minute, for tests and ``make run``. Any field can be overridden by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

# Settings a zero would break: why, for the error message. (Every setting must be a finite
# number >= 0: an infinite download never ends, a NaN tick stops the scaler.)
NOT_ZERO = {"scaler_tick_seconds": "a zero tick would spin the scaler and the load monitor"}
FRACTIONS = frozenset({"thread_parallel_fraction"})  # at most 1, or service times turn negative


def setting_problem(name: str, value: float) -> str | None:
    """Why ``value`` cannot be the timing setting ``name`` ("must …"); ``None`` if it can."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "must be a finite number"
    if value < 0:
        return "must not be negative"
    if value == 0 and name in NOT_ZERO:
        return f"must be above 0 ({NOT_ZERO[name]})"
    if value > 1 and name in FRACTIONS:
        return "must be at most 1 (a fraction)"
    return None


class TimingError(ValueError):
    """A timing setting out of its bounds; ``name`` is the setting, the message says why."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name} {problem}")
        self.name = name
        self.problem = problem


@dataclass(frozen=True)
class Timing:
    # Deployment lifecycle
    model_download_seconds: float = 60.0  # first use of a model id: download from Elastic
    deployment_start_seconds: float = 15.0  # load the model into a native process
    allocation_start_seconds: float = 5.0  # each allocation added by scaling up
    # Inference service time: ~360 ms per 256-token doc on one single-thread allocation of the
    # x86-optimised ELSER v2, i.e. Elastic's published 22 docs/s at 8 allocations (ELSER docs,
    # https://www.elastic.co/guide/en/machine-learning/current/ml-nlp-elser.html#elser-hw-benchmarks)
    per_request_overhead_ms: float = 10.0
    per_token_ms: float = 1.36
    portable_model_slowdown: float = 22 / 14  # cross-platform ELSER v2: 14 docs/s vs 22
    thread_parallel_fraction: float = 0.8  # Amdahl: share of a request that threads speed up
    inference_time_scale: float = 1.0  # multiplies every simulated service time
    # Adaptive allocations (ES AdaptiveAllocationsScalerService)
    scaler_tick_seconds: float = 10.0
    scale_down_cooldown_seconds: float = 300.0
    scale_to_zero_seconds: float = 86400.0  # 24 h default since PR #128914
    # Default timeouts (ES InferenceAction.Request, StartTrainedModelDeploymentAction: 30 s)
    inference_timeout_seconds: float = 30.0
    put_timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        for item in fields(self):
            problem = setting_problem(item.name, getattr(self, item.name))
            if problem:
                raise TimingError(item.name, problem)

    def with_overrides(self, **overrides: float) -> Timing:
        """A copy with named durations replaced; unknown names raise ``TypeError``, values
        out of bounds :class:`TimingError`."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown timing setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **overrides)

    def service_time_seconds(self, tokens: int, threads: int, portable: bool) -> float:
        """Time one allocation spends on a request of ``tokens`` tokens."""
        base = (self.per_request_overhead_ms + self.per_token_ms * tokens) / 1000.0
        speedup = 1.0 / (
            (1 - self.thread_parallel_fraction) + self.thread_parallel_fraction / max(threads, 1)
        )
        slowdown = self.portable_model_slowdown if portable else 1.0
        return base * slowdown / speedup * self.inference_time_scale


PRESETS: dict[str, Timing] = {
    "realistic": Timing(),
    "fast": Timing(
        model_download_seconds=0.6,
        deployment_start_seconds=0.3,
        allocation_start_seconds=0.1,
        inference_time_scale=0.25,
        scaler_tick_seconds=1.0,
        scale_down_cooldown_seconds=3.0,
        scale_to_zero_seconds=5.0,
    ),
    # For unit-level HTTP tests: nothing waits.
    "instant": Timing(
        model_download_seconds=0.0,
        deployment_start_seconds=0.0,
        allocation_start_seconds=0.0,
        inference_time_scale=0.0,
        scaler_tick_seconds=0.05,
        scale_down_cooldown_seconds=0.5,
        scale_to_zero_seconds=1.0,
    ),
}


def preset(name: str) -> Timing:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown timing profile {name!r}; choose from {', '.join(PRESETS)}"
        ) from None
