"""Timing profiles: every duration the reference server simulates, in one settings object.

``realistic`` uses Elasticsearch's defaults (cited per field). ``fast`` is a true time-lapse: the
realistic timing of a cluster with a short scale-down cooldown and scale-to-zero time (settings
an operator can make) and a quick model load (:data:`FAST_CLUSTER_SETTINGS`), with the clock
sped up :data:`FAST_SPEEDUP` times: every simulated duration (scaler tick, start-ups, cooldown,
idle time, service times) is divided by the same factor, and the load multiplies its arrival
rates by it (:attr:`Timing.speedup`). Per tick the scaler then sees the same request counts,
the same inference times relative to its tick and so the same Kalman bounds as on that
cluster, and decides the same (tests/test_time_lapse.py proves it). A full scale up → down →
zero cycle takes well under a minute. Any field can be overridden by name.

Not scaled (:data:`UNSCALED`): the request timeouts, which clients set or which ES answers in
its messages, and the ratios of the service-time model. Nor, outside this object: the HTTP
read timeout and keep-alive (connections live on the client's clock), the faults' delays
(breakage/faults.py: a proxy's or network's wall-clock trouble), the stats API's "last minute"
window (deployment.py: the field names fix its unit), the load generator's network timeouts,
and the load plans' 1 s floor on a start (a margin for busy machines, plans.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

# Settings a zero would break: why, for the error message. (Every setting must be a finite
# number >= 0: an infinite download never ends, a NaN tick stops the scaler.)
NOT_ZERO = {
    "scaler_tick_seconds": "a zero tick would spin the scaler and the load monitor",
    "speedup": "a stopped clock has no time-lapse",
}
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
    # Deployment lifecycle (not ES settings: the network, the disk and the node's CPU)
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
    # Adaptive allocations (ES AdaptiveAllocationsScalerService; settings of PR #128914, in
    # MachineLearning.java): the tick is DEFAULT_TIME_INTERVAL_SECONDS = 10 (the PR's review diff
    # also adds xpack.ml.trained_models.adaptive_allocations.trigger_time, minimum 10 s)
    scaler_tick_seconds: float = 10.0
    # xpack.ml.trained_models.adaptive_allocations.scale_cooldown_time (SCALE_UP_COOLDOWN_TIME,
    # default 5 min; before PR #128914 the constant SCALE_UP_COOLDOWN_TIME_MILLIS)
    scale_down_cooldown_seconds: float = 300.0
    # xpack.ml.trained_models.adaptive_allocations.scale_to_zero_time
    # (SCALE_TO_ZERO_AFTER_NO_REQUESTS_TIME, default 24 h since PR #128914; minimum 1 min per
    # Elastic's trained-model-autoscaling docs, 15 min per the PR text)
    scale_to_zero_seconds: float = 86400.0
    # Default timeouts (ES InferenceAction.Request, StartTrainedModelDeploymentAction: 30 s)
    inference_timeout_seconds: float = 30.0
    put_timeout_seconds: float = 30.0
    # Elastic Inference Service (only with ServerConfig.eis). Not ES settings unless cited:
    # the first authorization answer after node start (a network call to EIS; ES
    # AuthorizationPoller.start sends it at once), then every
    # xpack.inference.elastic.authorization_request_interval (10 min, ES
    # ElasticInferenceServiceSettings; its 0-5 min jitter is left out: deterministic).
    eis_first_authorization_seconds: float = 2.0
    eis_authorization_interval_seconds: float = 600.0
    # One HTTP round trip ES -> EIS and EIS's service time per token (GPU; Elastic publishes no
    # figure: stand-ins, overridable like every field).
    eis_round_trip_seconds: float = 0.05
    eis_per_token_seconds: float = 0.00002
    # ES RetrySettings: xpack.inference.http.retry.initial_delay 1s, max_delay_bound 5s,
    # timeout 30s (RetryingHttpSender retries 429/500/503 with backoff within the timeout)
    eis_retry_initial_delay_seconds: float = 1.0
    eis_retry_max_delay_seconds: float = 5.0
    eis_retry_timeout_seconds: float = 30.0
    # How many times faster than the cluster it stands for this clock runs (set by
    # time_lapse(); the load multiplies its per-user arrival rates by it)
    speedup: float = 1.0

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

    def time_lapse(self, factor: float) -> Timing:
        """This timing with the clock running ``factor`` times faster: every duration but the
        :data:`UNSCALED` ones divided by ``factor``, service times through
        ``inference_time_scale``, and ``speedup`` multiplied."""
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor > 0:
            raise TimingError("speedup", "must be above 0")
        scaled = {
            item.name: getattr(self, item.name) / factor
            for item in fields(self)
            if item.name not in UNSCALED
        }
        return replace(self, **scaled, speedup=self.speedup * factor)

    def service_time_seconds(self, tokens: int, threads: int, portable: bool) -> float:
        """Time one allocation spends on a request of ``tokens`` tokens."""
        base = (self.per_request_overhead_ms + self.per_token_ms * tokens) / 1000.0
        speedup = 1.0 / (
            (1 - self.thread_parallel_fraction) + self.thread_parallel_fraction / max(threads, 1)
        )
        slowdown = self.portable_model_slowdown if portable else 1.0
        return base * slowdown / speedup * self.inference_time_scale


# The fields time_lapse() leaves as they are, and why.
UNSCALED: dict[str, str] = {
    # The service-time model: time_lapse() scales service times through inference_time_scale;
    # these are its milliseconds at scale 1 and its ratios.
    "per_request_overhead_ms": "service time at scale 1 (scaled through inference_time_scale)",
    "per_token_ms": "service time at scale 1 (scaled through inference_time_scale)",
    "portable_model_slowdown": "a ratio of two service times",
    "thread_parallel_fraction": "a fraction of a service time",
    # Timeouts: a client sets them (or gets ES's default) in wall-clock seconds and times out
    # on its own clock as well, and ES writes them into its answers ("timeout [30s] waiting for
    # inference result"), which must read as Elasticsearch's. So in an overload a fast run
    # answers 408 after 30 wall seconds, i.e. `speedup` times later in cluster time.
    "inference_timeout_seconds": "a request timeout: the client's clock, and on the wire",
    "put_timeout_seconds": "a request timeout: the client's clock, and on the wire",
    "speedup": "multiplied, not divided: it is the factor itself",
}

# The fast profile's clock runs this many times faster than the cluster it stands for.
# 10 keeps the 1 s scaler tick; service times get 10 times shorter, so the load sends 10 times
# as many requests per second for the same busy allocations.
FAST_SPEEDUP = 10.0

# The cluster the fast profile is a time-lapse of: Elasticsearch's defaults with these
# operator settings, so that a whole up → down → zero cycle fits in a test.
FAST_CLUSTER_SETTINGS: dict[str, float] = {
    # xpack.ml.trained_models.adaptive_allocations.scale_cooldown_time: 30s
    "scale_down_cooldown_seconds": 30.0,
    # xpack.ml.trained_models.adaptive_allocations.scale_to_zero_time: 1m (the docs' minimum)
    "scale_to_zero_seconds": 60.0,
    # Not settings but the machine: xpack.ml.model_repository pointing at a local copy of the
    # model (the air-gapped setup of Elastic's ELSER docs), a read from disk rather than a
    # download over the internet; and a node that loads the model in 5 s, not 15 (fast disk,
    # model in the page cache). Tests create dozens of deployments: this keeps the gate quick.
    "model_download_seconds": 6.0,
    "deployment_start_seconds": 5.0,
}

# Slower time-lapses of the same cluster, for runs that ask more of the simulator than this
# machine serves at FAST_SPEEDUP (elsercheck.sim_scale picks one): the same cluster settings,
# the clock sped up fewer times, so the same cluster rates cost fewer requests per wall second.
# Below 1 the clock runs slower than the cluster's (slow motion: at 0.2 a cluster second takes
# five wall seconds), so that a deployment one core cannot serve at its real rate (16
# allocations of searches: some 1,160 per cluster second with the sweep's headroom) is still
# simulated faithfully, at the price of a longer run.
LAPSE_FACTORS = (5.0, 2.0, 1.0, 0.5, 0.2, 0.1)


def lapse_name(factor: float) -> str:
    """The profile name of the fast cluster at ``factor`` (``fast`` at FAST_SPEEDUP)."""
    return "fast" if factor == FAST_SPEEDUP else f"lapse-{factor:g}"


PRESETS: dict[str, Timing] = {
    "realistic": Timing(),
    "fast": Timing(**FAST_CLUSTER_SETTINGS).time_lapse(FAST_SPEEDUP),
    **{
        lapse_name(factor): Timing(**FAST_CLUSTER_SETTINGS).time_lapse(factor)
        for factor in LAPSE_FACTORS
    },
    # For unit-level HTTP tests: nothing waits (not a time-lapse: its clock is the cluster's).
    "instant": Timing(
        model_download_seconds=0.0,
        deployment_start_seconds=0.0,
        allocation_start_seconds=0.0,
        inference_time_scale=0.0,
        scaler_tick_seconds=0.05,
        scale_down_cooldown_seconds=0.5,
        scale_to_zero_seconds=1.0,
        eis_first_authorization_seconds=0.0,
        eis_round_trip_seconds=0.0,
        eis_per_token_seconds=0.0,
        eis_retry_initial_delay_seconds=0.01,
        eis_retry_max_delay_seconds=0.02,
        eis_retry_timeout_seconds=0.1,
    ),
}


def preset(name: str) -> Timing:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown timing profile {name!r}; choose from {', '.join(PRESETS)}"
        ) from None
