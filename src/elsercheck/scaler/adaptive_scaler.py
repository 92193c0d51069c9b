"""Elasticsearch's adaptive allocations scaler (ES ml/inference/adaptiveallocations) as pure units.

* :class:`Stats` / :func:`sum_stats` — the per-interval measurements of
  ``AdaptiveAllocationsScalerService.java``.
* :class:`AdaptiveAllocationsScaler` — port of ``AdaptiveAllocationsScaler.java``: two
  Kalman filters (request rate, inference time) turned into a load estimate and an allocation
  count.
* :class:`AdaptiveAllocationsController` — the per-deployment part of
  ``AdaptiveAllocationsScalerService.java`` and of scale-from-zero
  (``TransportInternalInferModelAction``), driven by the caller: it is handed the time and the
  stats, it never reads a clock or performs I/O.

Where the reference describes two versions, this follows the newer one (PR #128914): the
scale-to-zero idle time is accumulated from tick intervals without requests and reset by any
request or a scale-from-zero, and both the scale-to-zero time and the scale-down cooldown are
parameters. The older behaviour is the same with ``scale_to_zero_seconds=15 * 60``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .kalman import KalmanFilter1d, java_div

# Scale up while the pessimistic (lower-bound) load exceeds 90 % of the allocations...
SCALE_UP_THRESHOLD = 0.9
# ...and down while the optimistic (upper-bound) load fits in 85 % of one allocation fewer.
# Using different bounds and thresholds for the two directions gives hysteresis.
SCALE_DOWN_THRESHOLD = 0.85
# Cap used when max_number_of_allocations is not set, against runaway scaling.
MAX_NUMBER_OF_ALLOCATIONS_SAFEGUARD = 32
# Roughly the last 100 measurements (~15 min at 10 s ticks) shape the estimates.
SMOOTHING_FACTOR = 100
# The service's tick period (xpack.ml.trained_models.adaptive_allocations.trigger_time).
DEFAULT_TIME_INTERVAL_SECONDS = 10
# Newer default of xpack.ml.trained_models.adaptive_allocations.scale_to_zero_time (24 h);
# releases before PR #128914 used a fixed 15 minutes.
SCALE_TO_ZERO_AFTER_NO_REQUESTS_TIME_SECONDS = 24 * 60 * 60
# xpack.ml.trained_models.adaptive_allocations.scale_cooldown_time (5 min): no scale-down this
# long after a scale-up.
SCALE_UP_COOLDOWN_TIME_SECONDS = 5 * 60

# RoutingState value that marks an allocation that is still starting on a node.
ROUTING_STATE_STARTING = "starting"


@dataclass(frozen=True)
class Stats:
    """Request counts and mean inference time, either cumulative (one node) or for an interval.

    ``inference_time_seconds`` is the mean time per successful request; it is ``nan`` when
    ``success_count`` is 0 and no meaningful mean exists.
    """

    success_count: int
    pending_count: int
    failed_count: int
    inference_time_seconds: float

    @property
    def request_count(self) -> int:
        """All requests seen: succeeded + pending + failed."""
        return self.success_count + self.pending_count + self.failed_count

    @property
    def total_inference_time_seconds(self) -> float:
        """Summed inference time of the successful requests (0 when there are none)."""
        # Zero successes weigh nothing; guarding avoids 0 * nan poisoning sums and differences.
        if self.success_count == 0:
            return 0.0
        return self.success_count * self.inference_time_seconds

    def __sub__(self, before: Stats) -> Stats:
        """The activity between cumulative snapshot ``before`` and this one.

        Counts are floored at 0 (counters reset when a node restarts). Pending is a gauge, so
        its "delta" is ``max(0, pending_now - pending_before)`` exactly as Elasticsearch
        computes it. The mean inference time of the interval is the growth of the total
        inference time divided by the new successes, ``nan`` if there were none.
        """
        success = max(0, self.success_count - before.success_count)
        pending = max(0, self.pending_count - before.pending_count)
        failed = max(0, self.failed_count - before.failed_count)
        if success > 0:
            total = self.total_inference_time_seconds - before.total_inference_time_seconds
            inference_time = total / success
        else:
            inference_time = math.nan
        return Stats(success, pending, failed, inference_time)

    @classmethod
    def from_node(cls, node: NodeSnapshot) -> Stats:
        """The cumulative stats of one node, as ES AdaptiveAllocationsScalerService builds them."""
        failed = node.error_count + node.timeout_count + node.rejected_execution_count
        # The stats API omits the average before the first inference; ES reads that as 0.
        average_ms = node.average_inference_time_ms or 0.0
        return cls(
            success_count=node.inference_count,
            pending_count=node.number_of_pending_requests,
            failed_count=failed,
            inference_time_seconds=average_ms / 1000.0,
        )


def sum_stats(deltas: Iterable[Stats]) -> Stats:
    """Sum per-node interval stats; the inference time is the success-weighted mean.

    Nodes without successes carry no weight in the mean; the result's inference time is
    ``nan`` if no node had a success.
    """
    success = pending = failed = 0
    total_time = 0.0
    for delta in deltas:
        success += delta.success_count
        pending += delta.pending_count
        failed += delta.failed_count
        total_time += delta.total_inference_time_seconds
    inference_time = total_time / success if success > 0 else math.nan
    return Stats(success, pending, failed, inference_time)


class AdaptiveAllocationsScaler:
    """Decides one deployment's allocations from measured load (ES AdaptiveAllocationsScaler)."""

    def __init__(
        self,
        deployment_id: str,
        current_allocations: int,
        min_allocations: int | None = None,
        max_allocations: int | None = None,
        scale_to_zero_seconds: float = SCALE_TO_ZERO_AFTER_NO_REQUESTS_TIME_SECONDS,
    ) -> None:
        """Create a scaler for a deployment that currently has ``current_allocations``.

        ``min_allocations`` / ``max_allocations`` are the adaptive-allocations bounds (``None``
        = unset). With ``min_allocations`` unset or 0 the deployment scales to zero after
        strictly more than ``scale_to_zero_seconds`` of tick time without any request.
        """
        self.deployment_id = deployment_id
        # The request rate may jump because users change behaviour, so detect that
        # automatically. The inference time changes mainly when the allocation count changes,
        # which this class knows and passes to the filter explicitly instead.
        self._rate = KalmanFilter1d(f"{deployment_id}:rate", SMOOTHING_FACTOR, True)
        self._time = KalmanFilter1d(f"{deployment_id}:time", SMOOTHING_FACTOR, False)
        self._allocations = current_allocations
        self.min_allocations = min_allocations
        self.max_allocations = max_allocations
        self.scale_to_zero_seconds = scale_to_zero_seconds
        self._time_without_requests = 0.0
        self._dynamics_changed = False

    def set_min_max(self, min_allocations: int | None, max_allocations: int | None) -> None:
        """Apply new adaptive-allocations bounds (``_update`` API); used by the next scale()."""
        self.min_allocations = min_allocations
        self.max_allocations = max_allocations

    def process(self, stats: Stats, interval_seconds: float, current_allocations: int) -> None:
        """Feed one interval's ``stats`` (summed over nodes) lasting ``interval_seconds``.

        ``current_allocations`` is the deployment's current (target) allocation count.
        """
        if not (interval_seconds > 0 and math.isfinite(interval_seconds)):
            raise ValueError(f"interval_seconds must be positive and finite: {interval_seconds}")
        requests = stats.request_count
        if requests > 0:
            self._time_without_requests = 0.0
        else:
            self._time_without_requests += interval_seconds

        # Requests are taken as a Poisson process: the variance of the count equals its mean,
        # so the rate's variance is that mean over interval². Counts below 1 cannot be measured
        # reliably, hence the floor. The *estimated* rate is used because the measured one
        # would bias the variance (and the estimate) downwards.
        rate = requests / interval_seconds
        rate_estimate = self._rate.estimate if self._rate.has_value else rate
        rate_variance = max(1.0, rate_estimate * interval_seconds) / (
            interval_seconds * interval_seconds
        )
        self._rate.add(rate, rate_variance, False)

        if requests > 0 and not math.isnan(stats.inference_time_seconds):
            # The inference time distribution is unknown; assume its std. dev. equals its mean,
            # so the variance of the mean of `requests` samples is mean² / requests. Again the
            # estimate, not the measurement, avoids bias.
            time = stats.inference_time_seconds
            time_estimate = self._time.estimate if self._time.has_value else time
            self._time.add(time, time_estimate * time_estimate / requests, self._dynamics_changed)

        self._allocations = current_allocations
        self._dynamics_changed = False

    def reset_time_without_requests(self) -> None:
        """Restart the idle timer (a scale-from-zero request arrived; ES maybeStartAllocation)."""
        self._time_without_requests = 0.0

    @property
    def load_lower(self) -> float:
        """Lower bound of the load, in allocations that would be 100 % busy."""
        rate = max(0.0, self._rate.lower)
        time = max(0.0, self._time.lower if self._time.has_value else 1.0)
        return rate * time

    @property
    def load_upper(self) -> float:
        """Upper bound of the load, in allocations that would be 100 % busy."""
        time = self._time.upper if self._time.has_value else 1.0
        return self._rate.upper * time

    @property
    def request_rate_estimate(self) -> float | None:
        """Estimated requests per second, ``None`` before the first measurement."""
        return self._rate.estimate if self._rate.has_value else None

    @property
    def inference_time_estimate(self) -> float | None:
        """Estimated seconds per inference, ``None`` before the first timed measurement."""
        return self._time.estimate if self._time.has_value else None

    @property
    def time_without_requests_seconds(self) -> float:
        """Tick time accumulated since the last request (or reset)."""
        return self._time_without_requests

    @property
    def number_of_allocations(self) -> int:
        """The allocation count last processed or decided."""
        return self._allocations

    def scale(self) -> int | None:
        """Return the new allocation count, or ``None`` to keep the current one."""
        if not self._rate.has_value:
            return None
        old = n = self._allocations

        # The result is clamped to at most this, so counting further up cannot change it; the
        # bound also keeps an (absurd) infinite load from looping forever.
        ceiling = max(MAX_NUMBER_OF_ALLOCATIONS_SAFEGUARD, self.min_allocations or 0)
        ceiling = max(ceiling, self.max_allocations or 0) + 1
        load_lower = self.load_lower
        # java_div: with 0 allocations any positive load means "scale up" (x / 0 = inf).
        while n < ceiling and java_div(load_lower, n) > SCALE_UP_THRESHOLD:
            n += 1
        load_upper = self.load_upper
        while n > 1 and load_upper / (n - 1) < SCALE_DOWN_THRESHOLD:
            n -= 1

        if self.max_allocations is None:
            n = min(n, MAX_NUMBER_OF_ALLOCATIONS_SAFEGUARD)
        if self.min_allocations is not None:
            n = max(n, self.min_allocations)
        if self.max_allocations is not None:
            n = min(n, self.max_allocations)
        # Strictly greater: 900 idle seconds with a 900 s limit do not scale to zero yet.
        if not self.min_allocations and self._time_without_requests > self.scale_to_zero_seconds:
            n = 0

        self._allocations = n
        if n == old:
            return None
        # The inference time per request changes with the allocation count; let the time
        # filter jump on its next measurement.
        self._dynamics_changed = True
        return n


@dataclass(frozen=True)
class NodeSnapshot:
    """One node's entry of ``deployment_stats.nodes`` (ES AssignmentStats.NodeStats).

    The counters are cumulative since the allocation started on that node.
    ``routing_state`` and ``start_time_seconds`` (on the caller's clock) feed the newer
    "recently started" scale-down guard of the scaler service; leave the defaults to disable it.
    """

    inference_count: int = 0
    number_of_pending_requests: int = 0
    error_count: int = 0
    timeout_count: int = 0
    rejected_execution_count: int = 0
    average_inference_time_ms: float | None = None
    routing_state: str = "started"
    start_time_seconds: float | None = None


class AdaptiveAllocationsController:
    """ES AdaptiveAllocationsScalerService's logic for ONE adaptive deployment, caller-driven.

    Call :meth:`tick` every ``DEFAULT_TIME_INTERVAL_SECONDS`` with the stats API's view of the
    deployment and apply the returned count; call :meth:`on_request_at_zero` when an inference
    request finds no started allocation.
    """

    def __init__(
        self,
        deployment_id: str,
        *,
        enabled: bool = True,
        min_allocations: int | None = None,
        max_allocations: int | None = None,
        scale_to_zero_seconds: float = SCALE_TO_ZERO_AFTER_NO_REQUESTS_TIME_SECONDS,
        cooldown_seconds: float = SCALE_UP_COOLDOWN_TIME_SECONDS,
    ) -> None:
        """Create the controller.

        ``enabled``/``min_allocations``/``max_allocations`` are the deployment's
        ``adaptive_allocations`` settings; ``scale_to_zero_seconds`` is the idle time after
        which a deployment with min unset/0 goes to zero; ``cooldown_seconds`` is how long
        after a scale-up no scale-down (including to zero) is made.
        """
        self.deployment_id = deployment_id
        self.enabled = enabled
        self.cooldown_seconds = cooldown_seconds
        self._scale_to_zero_seconds = scale_to_zero_seconds
        # The initial count does not matter: process() always sets it before scale().
        self._scaler = AdaptiveAllocationsScaler(
            deployment_id, 0, min_allocations, max_allocations, scale_to_zero_seconds
        )
        self._baselines: dict[str, Stats] = {}
        self._last_tick: float | None = None
        self._last_scale_up: float | None = None
        self._scale_from_zero_in_flight = False

    @property
    def scaler(self) -> AdaptiveAllocationsScaler:
        """The underlying scaler (for inspection)."""
        return self._scaler

    @property
    def scale_to_zero_seconds(self) -> float:
        """Idle time after which the deployment is scaled to zero (when min is unset/0)."""
        return self._scale_to_zero_seconds

    @scale_to_zero_seconds.setter
    def scale_to_zero_seconds(self, value: float) -> None:
        # A dynamic cluster setting in ES: applies from the next scale() on.
        self._scale_to_zero_seconds = value
        self._scaler.scale_to_zero_seconds = value

    @property
    def last_scale_up_seconds(self) -> float | None:
        """When this controller last scaled the deployment up (starts the cooldown)."""
        return self._last_scale_up

    @property
    def scale_from_zero_in_flight(self) -> bool:
        """Whether a requested scale-from-zero has not been reported complete yet."""
        return self._scale_from_zero_in_flight

    @property
    def can_scale_from_zero(self) -> bool:
        """Whether a request at zero allocations triggers a scale to 1 (adaptive on, min 0/unset).

        This is what ES's ``maybeStartAllocation`` returns, also while a scale-up is already in
        flight; it decides the ``; starting deployment of one allocation`` suffix of the 409.
        """
        return self.enabled and not self._scaler.min_allocations

    def update_settings(
        self, enabled: bool, min_allocations: int | None, max_allocations: int | None
    ) -> None:
        """Apply ``adaptive_allocations`` from the ``_update`` API; effective at the next tick."""
        if not enabled:
            # ES drops the scaler and the per-node baselines of a non-adaptive deployment.
            self._baselines.clear()
        elif not self.enabled:
            # ...and creates a fresh scaler (empty filters) when adaptive is turned back on.
            self._scaler = AdaptiveAllocationsScaler(
                self.deployment_id, 0, scale_to_zero_seconds=self._scale_to_zero_seconds
            )
        self.enabled = enabled
        self._scaler.set_min_max(min_allocations, max_allocations)

    def tick(
        self,
        now_seconds: float,
        node_stats: Mapping[str, NodeSnapshot],
        current_allocations: int,
        deployment_started: bool,
    ) -> int | None:
        """Run one scaler tick and return the allocation count to apply, or ``None``.

        ``node_stats`` maps node id to that node's cumulative stats (empty when the deployment
        has no allocations); ``current_allocations`` is the deployment's target count
        (``deployment_stats.number_of_allocations``); ``deployment_started`` is whether
        ``deployment_stats.state == "started"``. A returned scale-up starts the cooldown, so
        the caller is expected to apply what it gets.
        """
        if self._last_tick is not None and not now_seconds > self._last_tick:
            raise ValueError(f"tick at {now_seconds} is not after the previous {self._last_tick}")
        # The first tick has no interval: it only records baselines.
        interval = None if self._last_tick is None else now_seconds - self._last_tick
        self._last_tick = now_seconds
        if current_allocations >= 1:
            # The scale-from-zero update has been applied; a later request at zero may retry.
            self._scale_from_zero_in_flight = False
        if not self.enabled:
            return None

        deltas: list[Stats] = []
        recently_started = False
        for node_id, node in node_stats.items():
            stats = Stats.from_node(node)
            before = self._baselines.get(node_id)
            self._baselines[node_id] = stats
            if before is not None:
                deltas.append(stats - before)
            # Newer ES: an allocation that is starting, or started within the cooldown (maybe
            # by another node's scale-from-zero), also blocks scale-downs.
            if node.routing_state == ROUTING_STATE_STARTING or (
                node.start_time_seconds is not None
                and now_seconds < node.start_time_seconds + self.cooldown_seconds
            ):
                recently_started = True

        # No node with a previous snapshot (e.g. at zero allocations) means no measurement, so
        # the scaler is not consulted; only a request can bring the deployment back up.
        if interval is None or not deltas:
            return None
        # Measurement and scale() run even when the deployment is not started (as in ES), so
        # the filters and the idle timer stay current; only the decision is dropped below.
        self._scaler.process(sum_stats(deltas), interval, current_allocations)
        new_allocations = self._scaler.scale()
        if new_allocations is None:
            return None

        recent_scale_up = (
            self._last_scale_up is not None
            and now_seconds < self._last_scale_up + self.cooldown_seconds
        )
        if new_allocations < current_allocations and (recent_scale_up or recently_started):
            return None  # scale-down (including to zero) during the cooldown
        if not deployment_started:
            return None
        if new_allocations > current_allocations:
            self._last_scale_up = now_seconds
        return new_allocations

    def on_request_at_zero(self, now_seconds: float) -> bool:
        """Handle an inference request that found no started allocation (ES maybeStartAllocation).

        Returns True if the caller should now request 1 allocation: adaptive allocations are
        enabled, min is unset/0 and no such request is already in flight. The in-flight mark
        is cleared by :meth:`scale_from_zero_completed` or by a tick that sees at least one
        allocation. Whenever scaling from zero is possible the idle timer is reset; a new
        request also starts the scale-down cooldown.
        """
        if not self.can_scale_from_zero:
            return False
        self._scaler.reset_time_without_requests()
        if self._scale_from_zero_in_flight:
            return False
        self._scale_from_zero_in_flight = True
        self._last_scale_up = now_seconds
        return True

    def scale_from_zero_completed(self) -> None:
        """Report that the scale-from-zero update finished (applied or failed)."""
        self._scale_from_zero_in_flight = False
