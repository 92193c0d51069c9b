"""Unit tests for the adaptive allocations scaler and its controller (ES AdaptiveAllocationsScaler).

Time is a plain number (a fake clock); traffic is synthetic: each tick serves ``rate * interval``
requests of ``seconds_each`` spread over the nodes, and the nodes report cumulative counters the
way the trained-model stats API does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elsercheck.scaler.adaptive_scaler import (
    MAX_NUMBER_OF_ALLOCATIONS_SAFEGUARD,
    SCALE_DOWN_THRESHOLD,
    SCALE_TO_ZERO_AFTER_NO_REQUESTS_TIME_SECONDS,
    SCALE_UP_COOLDOWN_TIME_SECONDS,
    SCALE_UP_THRESHOLD,
    AdaptiveAllocationsController,
    AdaptiveAllocationsScaler,
    NodeSnapshot,
    Stats,
    sum_stats,
)

NAN = math.nan

# --------------------------------------------------------------------------- helpers


@dataclass
class FakeNode:
    """Cumulative per-node counters, as a node of the stats API would report them."""

    inference_count: int = 0
    total_seconds: float = 0.0
    pending: int = 0
    errors: int = 0
    routing_state: str = "started"

    def serve(self, count: int, seconds_each: float) -> None:
        self.inference_count += count
        self.total_seconds += count * seconds_each

    def snapshot(self) -> NodeSnapshot:
        average_ms = (
            self.total_seconds / self.inference_count * 1000.0 if self.inference_count else None
        )
        return NodeSnapshot(
            inference_count=self.inference_count,
            number_of_pending_requests=self.pending,
            error_count=self.errors,
            average_inference_time_ms=average_ms,
            routing_state=self.routing_state,
        )


class Simulation:
    """Drives a controller with a fake clock and applies every returned allocation count."""

    def __init__(
        self,
        controller: AdaptiveAllocationsController,
        allocations: int = 1,
        nodes: tuple[str, ...] = ("node-a", "node-b"),
        interval: float = 10.0,
    ) -> None:
        self.controller = controller
        self.allocations = allocations
        self.nodes = {node_id: FakeNode() for node_id in nodes}
        self.interval = interval
        self.now = 0.0
        # The first tick only records the baseline.
        assert controller.tick(self.now, self.snapshots(), allocations, True) is None

    def snapshots(self) -> dict[str, NodeSnapshot]:
        return {node_id: node.snapshot() for node_id, node in self.nodes.items()}

    def step(self, rate: float, seconds_each: float = 0.1, started: bool = True) -> int | None:
        """Advance one tick serving ``rate`` requests/s; apply and return the decision."""
        self.now += self.interval
        count = round(rate * self.interval)
        for i, node in enumerate(self.nodes.values()):
            share = count // len(self.nodes) + (1 if i < count % len(self.nodes) else 0)
            node.serve(share, seconds_each)
        decision = self.controller.tick(self.now, self.snapshots(), self.allocations, started)
        if decision is not None:
            self.allocations = decision
        return decision

    def run(self, ticks: int, rate: float, seconds_each: float = 0.1) -> list[int | None]:
        return [self.step(rate, seconds_each) for _ in range(ticks)]


def feed(scaler: AdaptiveAllocationsScaler, stats: Stats, interval: float, n: int) -> int | None:
    scaler.process(stats, interval, n)
    return scaler.scale()


# --------------------------------------------------------------------------- Stats


def test_constants_match_elasticsearch() -> None:
    assert SCALE_UP_THRESHOLD == 0.9
    assert SCALE_DOWN_THRESHOLD == 0.85
    assert MAX_NUMBER_OF_ALLOCATIONS_SAFEGUARD == 32
    assert SCALE_UP_COOLDOWN_TIME_SECONDS == 300
    assert SCALE_TO_ZERO_AFTER_NO_REQUESTS_TIME_SECONDS == 24 * 3600


def test_request_count_sums_success_pending_failed() -> None:
    assert Stats(5, 2, 3, 0.1).request_count == 10


def test_subtraction_gives_interval_activity_and_mean_time() -> None:
    before = Stats(10, 4, 1, 0.1)  # total inference time 1.0 s
    now = Stats(30, 6, 3, 0.2)  # total inference time 6.0 s
    delta = now - before
    assert (delta.success_count, delta.pending_count, delta.failed_count) == (20, 2, 2)
    assert delta.inference_time_seconds == pytest.approx(5.0 / 20)


def test_subtraction_floors_counts_and_treats_pending_as_gauge() -> None:
    delta = Stats(5, 1, 0, 0.1) - Stats(10, 7, 2, 0.1)  # e.g. node restarted
    assert (delta.success_count, delta.pending_count, delta.failed_count) == (0, 0, 0)
    assert math.isnan(delta.inference_time_seconds)
    assert delta.request_count == 0


def test_subtraction_without_successes_has_nan_time() -> None:
    delta = Stats(10, 0, 5, 0.1) - Stats(10, 0, 1, 0.1)
    assert delta.failed_count == 4 and delta.request_count == 4
    assert math.isnan(delta.inference_time_seconds)


def test_from_node_maps_stats_api_fields() -> None:
    node = NodeSnapshot(
        inference_count=7,
        number_of_pending_requests=3,
        error_count=1,
        timeout_count=2,
        rejected_execution_count=4,
        average_inference_time_ms=250.0,
    )
    assert Stats.from_node(node) == Stats(7, 3, 7, 0.25)
    # No average reported yet (no inference served): read as 0, like ES's orElse(0.0).
    assert Stats.from_node(NodeSnapshot()) == Stats(0, 0, 0, 0.0)


def test_sum_stats_weights_inference_time_by_successes() -> None:
    total = sum_stats([Stats(10, 1, 0, 0.1), Stats(30, 0, 2, 0.3), Stats(0, 2, 1, NAN)])
    assert (total.success_count, total.pending_count, total.failed_count) == (40, 3, 3)
    # (10 * 0.1 + 30 * 0.3) / 40; the node without successes carries no weight.
    assert total.inference_time_seconds == pytest.approx(10.0 / 40)
    assert math.isnan(sum_stats([Stats(0, 1, 0, NAN)]).inference_time_seconds)
    assert math.isnan(sum_stats([]).inference_time_seconds)


# --------------------------------------------------------------------------- scaler (AdaptiveAllocationsScaler)


def test_no_decision_before_any_measurement() -> None:
    assert AdaptiveAllocationsScaler("d", 1).scale() is None


def test_scale_up_and_down_es_case() -> None:
    # Port of Elasticsearch's AdaptiveAllocationsScalerTests.testAutoscaling_scaleUpAndDown.
    s = AdaptiveAllocationsScaler("d", 1, scale_to_zero_seconds=60)
    assert feed(s, Stats(500, 100, 100, 0.020), 10, 1) == 2
    assert feed(s, Stats(800, 100, 50, 0.025), 10, 2) == 3
    assert feed(s, Stats(1000, 0, 0, 0.025), 10, 3) is None
    # No load any more: down one step at a time, every other tick.
    assert feed(s, Stats(0, 0, 0, NAN), 10, 3) is None
    assert feed(s, Stats(0, 0, 0, NAN), 10, 3) == 2
    assert feed(s, Stats(0, 0, 0, NAN), 10, 2) is None
    assert feed(s, Stats(0, 0, 0, NAN), 10, 2) == 1


def test_hysteresis_prevents_oscillation_es_case() -> None:
    # Port of testAutoscaling_noOscillating: 0.88 busy stays at 1, 0.98 goes to 2, and falling
    # back to 0.88 does not return to 1.
    s = AdaptiveAllocationsScaler("d", 1, scale_to_zero_seconds=60)
    assert feed(s, Stats(880, 0, 0, 0.010), 10, 1) is None
    assert feed(s, Stats(880, 0, 0, 0.010), 10, 1) is None
    assert feed(s, Stats(920, 0, 0, 0.010), 10, 1) is None
    assert feed(s, Stats(950, 0, 0, 0.010), 10, 1) is None
    assert feed(s, Stats(980, 0, 0, 0.010), 10, 1) == 2
    assert feed(s, Stats(980, 0, 0, 0.010), 10, 2) is None
    assert feed(s, Stats(880, 0, 0, 0.010), 10, 2) is None
    assert feed(s, Stats(880, 0, 0, 0.010), 10, 2) is None


def test_min_and_max_clamp_es_case() -> None:
    # Port of testAutoscaling_respectMinMaxAllocations.
    s = AdaptiveAllocationsScaler("d", 1, min_allocations=2, max_allocations=5)
    assert feed(s, Stats(0, 0, 0, 0.010), 10, 1) == 2
    assert feed(s, Stats(0, 0, 0, 0.010), 10, 2) is None
    assert feed(s, Stats(100, 10000, 1000, 0.010), 10, 2) == 5
    assert feed(s, Stats(500, 10000, 1000, 0.010), 10, 5) is None
    for _ in range(3):
        s.process(Stats(0, 0, 0, 0.010), 10, 5)
    assert s.scale() == 2


def test_safeguard_caps_at_32_and_new_max_applies_at_next_scale() -> None:
    s = AdaptiveAllocationsScaler("d", 1)
    assert feed(s, Stats(1_000_000, 10_000_000, 1, 0.05), 10, 1) == 32
    # _update of min/max takes effect on the next scale(), without a new measurement.
    s.set_min_max(2, 77)
    assert s.scale() == 77
    s.set_min_max(2, 10)
    assert s.scale() == 10


def test_min_above_safeguard_wins_when_max_unset() -> None:
    s = AdaptiveAllocationsScaler("d", 1, min_allocations=40)
    assert feed(s, Stats(0, 0, 0, NAN), 10, 1) == 40


def test_scale_to_zero_after_strictly_more_than_15_minutes_es_case() -> None:
    # Port of testAutoscaling_scaleDownToZeroAllocations (1-second ticks, 15-minute limit).
    s = AdaptiveAllocationsScaler("d", 1, scale_to_zero_seconds=15 * 60)
    for _ in range(3600):  # an hour with one request a second
        assert feed(s, Stats(1, 0, 0, 0.05), 1, 1) is None
    for _ in range(900):  # exactly 15 minutes idle: not yet
        assert feed(s, Stats(0, 0, 0, 0.05), 1, 1) is None
    assert feed(s, Stats(1, 0, 0, 0.05), 1, 1) is None  # a request resets the idle time
    for _ in range(900):
        assert feed(s, Stats(0, 0, 0, 0.05), 1, 1) is None
    assert feed(s, Stats(0, 0, 0, 0.05), 1, 1) == 0  # the 901st idle second
    for _ in range(900):  # stays at zero
        assert feed(s, Stats(0, 0, 0, 0.05), 1, 0) is None


def test_pending_or_failed_requests_also_reset_idle_time() -> None:
    s = AdaptiveAllocationsScaler("d", 1, scale_to_zero_seconds=30)
    for _ in range(3):
        assert feed(s, Stats(0, 0, 0, NAN), 10, 1) is None
    assert s.time_without_requests_seconds == 30
    assert feed(s, Stats(0, 1, 0, NAN), 10, 1) is None
    assert s.time_without_requests_seconds == 0
    for _ in range(3):
        assert feed(s, Stats(0, 0, 0, NAN), 10, 1) is None
    assert feed(s, Stats(0, 0, 1, NAN), 10, 1) is None
    assert s.time_without_requests_seconds == 0


@pytest.mark.parametrize("min_allocations", [1, 2])
def test_never_scales_to_zero_with_min_of_one_or_more(min_allocations: int) -> None:
    s = AdaptiveAllocationsScaler("d", min_allocations, min_allocations, None, 60)
    for _ in range(3600):
        feed(s, Stats(0, 0, 0, NAN), 1, min_allocations)
        assert s.number_of_allocations == min_allocations


def test_scales_to_zero_with_explicit_min_zero() -> None:
    s = AdaptiveAllocationsScaler("d", 1, min_allocations=0, scale_to_zero_seconds=60)
    decisions = [feed(s, Stats(0, 0, 0, NAN), 10, 1) for _ in range(7)]
    assert decisions == [None] * 6 + [0]


def test_load_at_zero_allocations_scales_up() -> None:
    # Java's load / 0 = inf > 0.9, so a measured load with 0 allocations means scale up.
    s = AdaptiveAllocationsScaler("d", 0)
    assert feed(s, Stats(20, 0, 0, 0.1), 10, 0) == 1


def test_allocation_change_lets_inference_time_jump() -> None:
    # After a scale() changed the count, the next time measurement is flagged as a dynamics
    # change, so the estimate follows it instead of being smoothed.
    flagged = AdaptiveAllocationsScaler("flagged", 2, min_allocations=2, max_allocations=2)
    unflagged = AdaptiveAllocationsScaler("unflagged", 2, min_allocations=2, max_allocations=2)
    for s in (flagged, unflagged):
        for _ in range(20):
            feed(s, Stats(10, 0, 0, 0.1), 10, 2)
    flagged.set_min_max(3, 3)
    assert flagged.scale() == 3
    flagged.process(Stats(10, 0, 0, 0.5), 10, 3)
    unflagged.process(Stats(10, 0, 0, 0.5), 10, 2)
    assert flagged.inference_time_estimate == pytest.approx(0.5, rel=0.01)
    assert unflagged.inference_time_estimate is not None
    assert unflagged.inference_time_estimate < 0.3


def test_process_rejects_non_positive_interval() -> None:
    with pytest.raises(ValueError):
        AdaptiveAllocationsScaler("d", 1).process(Stats(1, 0, 0, 0.1), 0, 1)


stats_strategy = st.builds(
    Stats,
    st.integers(0, 5000),
    st.integers(0, 500),
    st.integers(0, 500),
    st.one_of(st.just(NAN), st.floats(0.001, 5.0)),
)


@st.composite
def bounds(draw: st.DrawFn) -> tuple[int | None, int | None]:
    max_allocations = draw(st.one_of(st.none(), st.integers(1, 40)))
    min_allocations = draw(st.one_of(st.none(), st.integers(0, max_allocations or 40)))
    return min_allocations, max_allocations


@settings(max_examples=200, deadline=None)
@given(
    bounds(),
    st.integers(0, 100),
    st.lists(st.tuples(stats_strategy, st.floats(0.5, 60.0)), min_size=1, max_size=30),
    st.floats(0.0, 300.0),
)
def test_result_always_within_bounds(
    minmax: tuple[int | None, int | None],
    start: int,
    trace: list[tuple[Stats, float]],
    scale_to_zero_seconds: float,
) -> None:
    min_allocations, max_allocations = minmax
    lowest = min_allocations or 0
    highest = (
        max_allocations
        if max_allocations is not None
        else max(MAX_NUMBER_OF_ALLOCATIONS_SAFEGUARD, lowest)
    )
    s = AdaptiveAllocationsScaler(
        "d", start, min_allocations, max_allocations, scale_to_zero_seconds
    )
    n = start
    for stats, interval in trace:
        s.process(stats, interval, n)
        decision = s.scale()
        assert decision is None or decision != n
        n = n if decision is None else decision
        assert lowest <= n <= highest


# --------------------------------------------------------------------------- controller


def test_first_tick_is_baseline_only() -> None:
    c = AdaptiveAllocationsController("d")
    busy = {"node-a": NodeSnapshot(inference_count=1_000_000, average_inference_time_ms=100.0)}
    assert c.tick(0.0, busy, 1, True) is None
    assert c.scaler.request_rate_estimate is None
    # The second tick measures only what happened since the baseline: nothing.
    assert c.tick(10.0, busy, 1, True) is None
    assert c.scaler.request_rate_estimate == 0.0


def test_node_appearing_later_starts_with_a_baseline() -> None:
    c = AdaptiveAllocationsController("d")
    a = NodeSnapshot(inference_count=100, average_inference_time_ms=100.0)
    assert c.tick(0.0, {"a": a}, 1, True) is None
    b = NodeSnapshot(inference_count=5000, average_inference_time_ms=100.0)
    a2 = NodeSnapshot(inference_count=200, average_inference_time_ms=100.0)
    assert c.tick(10.0, {"a": a2, "b": b}, 1, True) is None
    assert c.scaler.request_rate_estimate == pytest.approx(10.0)  # only node a's 100 requests


def test_no_node_stats_means_no_measurement_and_no_scaling() -> None:
    c = AdaptiveAllocationsController("d", scale_to_zero_seconds=60)
    for t in range(0, 3600, 10):
        assert c.tick(float(t), {}, 1, True) is None
    assert c.scaler.request_rate_estimate is None


def test_tick_time_must_advance() -> None:
    c = AdaptiveAllocationsController("d")
    c.tick(10.0, {}, 1, True)
    with pytest.raises(ValueError):
        c.tick(10.0, {}, 1, True)


def test_steady_load_keeps_allocation_count() -> None:
    # ~2 busy allocations (19-21 req/s x 0.1 s) -> ceil(2 / 0.9) = 3, and it stays there.
    sim = Simulation(AdaptiveAllocationsController("d"), allocations=3)
    for i in range(200):
        assert sim.step(19 if i % 2 else 21) is None
    assert sim.allocations == 3


def test_steady_load_from_cold_start_settles_within_five_ticks_and_stays() -> None:
    # From empty filters the first estimates are wide, so the count climbs 1 -> 2 -> 3 over a
    # few ticks (4 with this trace) rather than at once.
    sim = Simulation(AdaptiveAllocationsController("d"), allocations=1)
    sim.run(5, rate=20)
    assert sim.allocations == 3
    assert sim.run(200, rate=20) == [None] * 200


@pytest.mark.parametrize(
    ("rate", "seconds_each"),
    [(12.0, 0.25), (40.0, 0.1), (35.0, 0.2), (80.0, 0.2), (160.0, 0.1)],
)
def test_step_up_reaches_ceil_load_over_threshold_within_two_ticks(
    rate: float, seconds_each: float
) -> None:
    # Loads chosen so that load / 0.9 is not just below an integer (see the next test).
    sim = Simulation(AdaptiveAllocationsController("d"), allocations=1)
    assert sim.run(20, rate=2.0, seconds_each=seconds_each) == [None] * 20
    load = rate * seconds_each
    expected = math.ceil(load / SCALE_UP_THRESHOLD)
    sim.run(2, rate=rate, seconds_each=seconds_each)
    assert sim.allocations == expected
    # ...and no further change while the load holds.
    assert sim.run(50, rate=rate, seconds_each=seconds_each) == [None] * 50


def test_scale_up_uses_lower_bound_of_load() -> None:
    # 100 req/s x 0.1 s = 10 busy allocations; 10 / 0.9 = 11.1, yet the count settles at 11:
    # scale-up needs loadLower / 11 > 0.9, i.e. loadLower > 9.9, and the lower bound of the
    # estimate stays about 1 % under the true load.
    sim = Simulation(AdaptiveAllocationsController("d"), allocations=1)
    sim.run(60, rate=100)
    assert sim.allocations == 11
    assert 9.7 < sim.controller.scaler.load_lower < 9.9 < 10.0 < sim.controller.scaler.load_upper


def test_drop_waits_for_cooldown_then_scales_down() -> None:
    sim = Simulation(AdaptiveAllocationsController("d"), allocations=1)
    sim.run(10, rate=5)
    assert sim.step(40) == 5
    scale_up_at = sim.now
    assert sim.controller.last_scale_up_seconds == scale_up_at
    # Load drops right away; no scale-down while now < scale_up_at + 300 s (29 ticks).
    while sim.now + sim.interval < scale_up_at + SCALE_UP_COOLDOWN_TIME_SECONDS:
        assert sim.step(5) is None
        assert sim.allocations == 5
    # The tick exactly at the end of the cooldown may scale down (the guard is now < end).
    assert sim.step(5) == 1
    assert sim.now == scale_up_at + SCALE_UP_COOLDOWN_TIME_SECONDS


def test_scale_down_steps_gradually_without_cooldown() -> None:
    # Without a recent scale-up, decaying load steps the count down (cooldown 0 disables it).
    c = AdaptiveAllocationsController("d", cooldown_seconds=0)
    sim = Simulation(c, allocations=1)
    sim.run(5, rate=60)  # 6 busy -> 7 allocations
    assert sim.allocations == 7
    decisions = [d for d in sim.run(40, rate=0) if d is not None]
    assert decisions and decisions == sorted(decisions, reverse=True)
    assert sim.allocations == 1


def test_idle_scales_to_zero_only_after_strictly_more_than_limit() -> None:
    c = AdaptiveAllocationsController("d", scale_to_zero_seconds=900)
    sim = Simulation(c, allocations=1)
    sim.run(10, rate=1)
    # 90 idle ticks of 10 s = exactly 900 s: not yet.
    assert sim.run(90, rate=0) == [None] * 90
    assert c.scaler.time_without_requests_seconds == 900
    assert sim.step(0) == 0


def test_idle_1_second_ticks_900_then_901_via_controller() -> None:
    c = AdaptiveAllocationsController("d", scale_to_zero_seconds=15 * 60)
    sim = Simulation(c, allocations=1, interval=1.0)
    sim.run(60, rate=1)
    assert sim.run(900, rate=0) == [None] * 900
    assert sim.step(0) == 0


@pytest.mark.parametrize("min_allocations", [1, 3])
def test_idle_never_scales_to_zero_with_min(min_allocations: int) -> None:
    c = AdaptiveAllocationsController(
        "d", min_allocations=min_allocations, scale_to_zero_seconds=60
    )
    sim = Simulation(c, allocations=min_allocations)
    sim.run(500, rate=0)
    assert sim.allocations == min_allocations


def test_scale_to_zero_is_held_back_by_cooldown() -> None:
    c = AdaptiveAllocationsController("d", scale_to_zero_seconds=30)
    sim = Simulation(c, allocations=1)
    sim.run(5, rate=5)
    assert sim.step(40) == 5
    scale_up_at = sim.now
    decisions = sim.run(40, rate=0)
    first_change = next(i for i, d in enumerate(decisions) if d is not None)
    assert decisions[first_change] == 0
    assert scale_up_at + (first_change + 1) * 10 == scale_up_at + SCALE_UP_COOLDOWN_TIME_SECONDS


def test_min_max_clamps_and_safeguard_via_controller() -> None:
    sim = Simulation(AdaptiveAllocationsController("d", max_allocations=4), allocations=1)
    sim.step(100, seconds_each=0.5)  # 50 busy allocations
    assert sim.allocations == 4
    sim = Simulation(AdaptiveAllocationsController("d"), allocations=1)
    sim.step(100, seconds_each=0.5)
    assert sim.allocations == MAX_NUMBER_OF_ALLOCATIONS_SAFEGUARD
    sim = Simulation(AdaptiveAllocationsController("d", min_allocations=2), allocations=1)
    sim.step(0)
    assert sim.allocations == 2


def test_update_settings_take_effect_at_next_tick() -> None:
    c = AdaptiveAllocationsController("d")
    sim = Simulation(c, allocations=3)
    assert sim.run(10, rate=20) == [None] * 10
    c.update_settings(True, None, 2)
    assert sim.step(20) == 2
    c.update_settings(True, 4, None)
    assert sim.step(20) == 4


def test_not_started_deployment_is_not_scaled_but_still_measured() -> None:
    c = AdaptiveAllocationsController("d")
    sim = Simulation(c, allocations=1)
    for _ in range(10):
        assert sim.step(40, started=False) is None
    assert sim.allocations == 1
    assert c.last_scale_up_seconds is None
    assert c.scaler.request_rate_estimate == pytest.approx(40.0, rel=0.05)
    assert sim.step(40) == 5  # once started, the (already warm) estimate applies at once


def test_disabled_controller_does_nothing_and_restarts_with_baseline() -> None:
    c = AdaptiveAllocationsController("d", enabled=False)
    sim = Simulation(c, allocations=1)
    assert sim.run(10, rate=100) == [None] * 10
    assert c.on_request_at_zero(sim.now) is False
    c.update_settings(True, None, None)
    assert sim.step(40) is None  # first enabled tick: baseline only
    assert sim.step(40) == 5  # 4 busy -> ceil(4 / 0.9)


def test_recently_starting_node_blocks_scale_down() -> None:
    c = AdaptiveAllocationsController("d", cooldown_seconds=300)
    sim = Simulation(c, allocations=4)
    sim.nodes["node-b"].routing_state = "starting"
    assert sim.run(20, rate=1) == [None] * 20
    assert sim.allocations == 4
    sim.nodes["node-b"].routing_state = "started"
    assert sim.step(1) == 1


def test_node_started_within_cooldown_blocks_scale_down() -> None:
    c = AdaptiveAllocationsController("d", cooldown_seconds=300)
    started = {"a": NodeSnapshot(inference_count=0, start_time_seconds=95.0)}
    assert c.tick(100.0, started, 4, True) is None
    assert c.tick(110.0, started, 4, True) is None  # would scale down: 95 + 300 > 110
    assert c.tick(395.0, started, 4, True) == 1  # cooldown over


# --------------------------------------------------------------------------- scale from zero


def test_scale_from_zero_is_deduplicated_while_in_flight() -> None:
    c = AdaptiveAllocationsController("d")
    assert c.can_scale_from_zero
    assert c.on_request_at_zero(100.0) is True
    assert c.scale_from_zero_in_flight
    assert c.on_request_at_zero(101.0) is False
    assert c.on_request_at_zero(102.0) is False
    assert c.last_scale_up_seconds == 100.0  # duplicates do not move the cooldown
    c.scale_from_zero_completed()
    assert c.on_request_at_zero(103.0) is True


def test_tick_seeing_an_allocation_ends_the_in_flight_scale_from_zero() -> None:
    c = AdaptiveAllocationsController("d")
    assert c.on_request_at_zero(0.0) is True
    c.tick(10.0, {}, 0, True)
    assert c.on_request_at_zero(11.0) is False  # still 0 allocations: still in flight
    c.tick(20.0, {}, 1, True)
    assert not c.scale_from_zero_in_flight
    assert c.on_request_at_zero(21.0) is True


@pytest.mark.parametrize(
    ("enabled", "min_allocations", "expected"),
    [(True, None, True), (True, 0, True), (True, 1, False), (False, None, False)],
)
def test_scale_from_zero_needs_adaptive_and_min_zero(
    enabled: bool, min_allocations: int | None, expected: bool
) -> None:
    c = AdaptiveAllocationsController("d", enabled=enabled, min_allocations=min_allocations)
    assert c.can_scale_from_zero is expected
    assert c.on_request_at_zero(0.0) is expected


def test_scale_from_zero_resets_idle_time_and_starts_cooldown() -> None:
    c = AdaptiveAllocationsController("d", scale_to_zero_seconds=30)
    sim = Simulation(c, allocations=1)
    sim.run(5, rate=1)
    sim.run(3, rate=0)
    assert c.scaler.time_without_requests_seconds == 30
    assert c.on_request_at_zero(sim.now) is True
    request_at = sim.now
    assert c.scaler.time_without_requests_seconds == 0
    c.scale_from_zero_completed()
    # Idle again: the scaler wants 0 after > 30 s, but the cooldown holds it until +300 s.
    decisions = sim.run(40, rate=0)
    first_change = next(i for i, d in enumerate(decisions) if d is not None)
    assert decisions[first_change] == 0
    assert request_at + (first_change + 1) * 10 == request_at + SCALE_UP_COOLDOWN_TIME_SECONDS
