"""Recommended adaptive-allocations settings follow from the numbers (each case by hand)."""

from __future__ import annotations

import json
import math
from types import MappingProxyType

import pytest

from elsercheck.capacity import recommend as rec
from elsercheck.capacity.recommend import MeasuredCapacity, recommend
from elsercheck.capacity.traffic import Traffic, parse_traffic
from elsercheck.load.plans import TIMING_PROFILES, ScalerTiming
from elsercheck.scaler import adaptive_scaler

# 5 rps per allocation, interval 4.5–5.5, one thread, p99 objective 500 ms.
CAPACITY = MeasuredCapacity(5.0, 4.5, 5.5, 1, 500.0)
GRID = {1: 5.0, 2: 8.0, 4: 11.0}
GRID_P99 = {1: 400.0, 2: 250.0, 4: 180.0}
FAST = TIMING_PROFILES["fast"]  # ×10 clock: cooldown 30 s, scale to zero 60 s of the cluster


def _capacity(**changes: object) -> MeasuredCapacity:
    values = {**CAPACITY.__dict__, **changes}
    return MeasuredCapacity(**values)


def test_constants_match_the_scaler_port() -> None:
    assert rec.SCALE_UP_THRESHOLD == adaptive_scaler.SCALE_UP_THRESHOLD
    # ES defaults of the scaler timing the recommendation assumes without one
    assert (
        ScalerTiming().scale_to_zero_s
        == adaptive_scaler.SCALE_TO_ZERO_AFTER_NO_REQUESTS_TIME_SECONDS
    )
    assert ScalerTiming().cooldown_s == adaptive_scaler.SCALE_UP_COOLDOWN_TIME_SECONDS


def test_max_from_peak_headroom_and_the_interval_low_end() -> None:
    # 40 × 1.2 = 48 rps ÷ 4.5 = 10.67 → 11 (at the point estimate 5 it would be 10)
    result = recommend(CAPACITY, parse_traffic("peak=40,trough=2"))
    assert result.max_number_of_allocations.value == 11
    reason = result.max_number_of_allocations.reason
    assert "40 rps" in reason and "48 rps" in reason and "4.5 rps" in reason
    assert "10.7 → 11" in reason
    assert "81% busy" in reason  # 40 / (11 × 4.5)
    assert "scale-up threshold" not in reason


def test_exact_multiple_is_not_rounded_up() -> None:
    # 40 × 1.2 = 48 ÷ 4.8 = 10 exactly: 10, not 11 from a float's last bit
    capacity = _capacity(per_allocation_rps=5.0, ci_low=4.8)
    assert recommend(capacity, parse_traffic("peak=40")).max_number_of_allocations.value == 10


def test_small_headroom_warns_about_the_scaler_threshold() -> None:
    # 40.5 ÷ 4.5 = 9 allocations 100 % busy at the low end: the scaler wants more than max
    result = recommend(CAPACITY, parse_traffic("peak=40.5"), headroom=0.0)
    assert result.max_number_of_allocations.value == 9
    assert "above the scaler's 90% scale-up threshold" in result.max_number_of_allocations.reason


def test_trough_without_idle_keeps_min_for_the_trough() -> None:
    # trough 10 × 1.2 = 12 ÷ 4.5 = 2.67 → 3; no idle stretch: never scale to zero
    result = recommend(_capacity(cold_start_s=0.1), parse_traffic("peak=40,trough=10"))
    assert result.min_number_of_allocations.value == 3
    assert "never idles" in result.min_number_of_allocations.reason
    assert result.scale_to_zero.value == "never"


def test_long_idle_stretch_and_quick_cold_start_give_min_zero() -> None:
    # 12 idle hours against ES's 24 h default: the setting must come down to
    # ⌊(43200 − 300) / 2 / 60⌋ min = 357 min = 21420 s
    capacity = _capacity(cold_start_s=0.3)
    result = recommend(capacity, parse_traffic("peak=40,trough=2,idle_hours=12"))
    assert result.min_number_of_allocations.value == 0
    assert result.scale_to_zero.value == 21420
    reason = result.min_number_of_allocations.reason
    assert "12 h" in reason and "5 min cooldown" in reason and "0.3 s" in reason
    assert "scale_to_zero_time" in result.scale_to_zero.reason
    assert result.service_settings() == {
        "num_threads": 1,
        "adaptive_allocations": {
            "enabled": True,
            "min_number_of_allocations": 0,
            "max_number_of_allocations": 11,
        },
    }


def test_idle_stretch_beyond_the_current_setting_keeps_it() -> None:
    # Fast target: scale to zero after 60 s + 30 s cooldown (cluster); a 120 s idle stretch
    profile = ((0.0, 9.0), (10.0, 9.0), *((20.0 + 10 * i, 0.0) for i in range(12)), (140.0, 4.5))
    traffic = Traffic(9.0, 0.0, profile=profile, source="test")
    result = recommend(_capacity(cold_start_s=0.1), traffic, scaler=FAST)
    assert result.min_number_of_allocations.value == 0
    assert result.scale_to_zero.value == 60
    assert result.scale_to_zero.reason.startswith("keep 1 min")


def test_cold_start_above_the_objective_keeps_one_allocation() -> None:
    capacity = _capacity(cold_start_s=20.0)
    result = recommend(capacity, parse_traffic("peak=40,trough=2,idle_hours=12"))
    assert result.min_number_of_allocations.value == 1
    reason = result.min_number_of_allocations.reason
    assert "20 s (measured)" in reason and "above the 500 ms objective" in reason
    assert "409" in reason
    assert result.scale_to_zero.value == "never"
    assert result.scale_to_zero.reason.startswith("never (min 1): the cold start of 20 s")


def test_accepted_cold_start_gives_zero_and_says_who_misses_the_objective() -> None:
    capacity = _capacity(cold_start_s=20.0)
    traffic = parse_traffic("peak=40,trough=2,idle_hours=12")
    result = recommend(capacity, traffic, max_cold_start_s=30.0)
    assert result.min_number_of_allocations.value == 0
    reason = result.min_number_of_allocations.reason
    assert "within the accepted 30 s" in reason
    assert "above the 500 ms objective" in reason and "1 cold start per 24 h" in reason


def test_sparse_trough_requests_are_noted() -> None:
    # Fast target (zero after 60 s + 30 s): a trough of one request per 1000 s reaches zero
    # between requests, so each of them meets a cold start
    traffic = parse_traffic("peak=40,trough=0.001,idle_hours=12")
    result = recommend(_capacity(cold_start_s=0.1), traffic, scaler=FAST)
    assert result.min_number_of_allocations.value == 0
    assert result.scale_to_zero.value == 60
    assert result.notes == (
        "trough requests are 16.7 min apart on average, longer than 1.5 min: most of them meet a"
        " cold start",
    )
    assert recommend(_capacity(cold_start_s=0.1), traffic).notes == ()  # 24 h default


def test_unmeasured_cold_start_uses_the_targets_allocation_start() -> None:
    # Fast target: allocation start 1 wall s = 10 cluster s, above 500 ms → min 1
    traffic = Traffic(4.0, 0.0, profile=((0.0, 4.0), *((10.0 * i, 0.0) for i in range(1, 20))))
    result = recommend(CAPACITY, traffic, scaler=FAST)
    assert result.min_number_of_allocations.value == 1
    assert "10 s (the target's allocation start; not measured)" in (
        result.min_number_of_allocations.reason
    )


def test_idle_stretch_shorter_than_scale_to_zero_plus_cooldown() -> None:
    # ES defaults: at least 1 min + 5 min cooldown; a 5 min idle stretch never reaches zero
    profile = ((0.0, 2.0), *((10.0 * i, 0.0) for i in range(1, 31)), (310.0, 2.0))
    result = recommend(_capacity(cold_start_s=0.1), Traffic(2.0, 0.0, profile=profile))
    assert result.min_number_of_allocations.value == 1
    assert "5 min, is not longer than" in result.min_number_of_allocations.reason


@pytest.mark.parametrize(
    ("workload", "slo", "p99", "threads", "max_n"),
    [
        # throughput per vCPU: 1/2/4 threads → low 4.5/7.2/9.9 → 11/7/5 allocations = 11/14/20 vCPUs
        ("ingest", 500.0, GRID_P99, 1, 11),
        ("inference", 500.0, GRID_P99, 1, 11),
        # 1 thread misses a 300 ms objective: 2 threads, 7 allocations
        ("ingest", 300.0, GRID_P99, 2, 7),
        # search: the lowest p99 → 4 threads, 48 ÷ 9.9 = 4.85 → 5
        ("search", 500.0, GRID_P99, 4, 5),
        # search without p99s: the highest per-allocation rate is the shortest request
        ("search", 500.0, {}, 4, 5),
        # nothing meets 100 ms: the best there is
        ("search", 100.0, GRID_P99, 4, 5),
    ],
)
def test_threads_chosen_from_a_grid(
    workload: str, slo: float, p99: dict[int, float], threads: int, max_n: int
) -> None:
    capacity = _capacity(workload=workload, slo_p99_ms=slo, by_threads=GRID, p99_ms_by_threads=p99)
    result = recommend(capacity, parse_traffic("peak=40,trough=2"))
    assert result.num_threads.value == threads
    assert result.max_number_of_allocations.value == max_n
    reason = result.num_threads.reason
    if workload == "search":
        assert "low latency" in reason
    else:
        assert "11/14/20 vCPUs" in reason
    assert ("none met" in reason) == (slo == 100.0)


def test_without_a_grid_threads_stay_and_the_reason_says_a_grid_would_tell() -> None:
    result = recommend(_capacity(num_threads=2), parse_traffic("peak=40"))
    assert result.num_threads.value == 2
    assert "--threads 1,2,4 grid" in result.num_threads.reason


def test_cost_over_the_day_split() -> None:
    # min 0, scale to zero after 21420 s: peak 6 h at ⌈40 ÷ 5 ÷ 0.9⌉ = 9, trough 6 h at 1,
    # idle 12 h at 1 allocation for 21420 + 300 s: 54 + 6 + 6.0333 allocation-hours
    capacity = _capacity(cold_start_s=0.3)
    traffic = parse_traffic("peak=40,trough=2,idle_hours=12")
    cost = recommend(capacity, traffic, vcpu_hour_price=0.1).cost
    assert cost.allocation_hours_per_day == pytest.approx(54 + 6 + 21720 / 3600)
    assert cost.vcpu_hours_per_day == pytest.approx(cost.allocation_hours_per_day)
    assert cost.cost_per_day == pytest.approx(0.1 * cost.vcpu_hours_per_day)
    assert cost.fixed_allocation_hours_per_day == 11 * 24
    assert "peak hours assumed" in cost.reason
    # min 1 instead (slow cold start): the idle 12 h cost 12 allocation-hours
    slow = recommend(_capacity(cold_start_s=20.0), traffic).cost
    assert slow.allocation_hours_per_day == pytest.approx(54 + 6 + 12)
    assert slow.cost_per_day is None


def test_cost_doubles_in_vcpus_with_two_threads() -> None:
    capacity = _capacity(num_threads=2)
    cost = recommend(capacity, parse_traffic("peak=40,trough=2,peak_hours=12")).cost
    # 12 h at 9, 12 h at 1 → 120 allocation-hours, 240 vCPU-hours
    assert cost.allocation_hours_per_day == pytest.approx(120)
    assert cost.vcpu_hours_per_day == pytest.approx(240)


def test_cost_over_a_profile() -> None:
    # 2 bins at 9 rps → 2 allocations, 120 s idle → 60 + 30 s at 1, 1 bin at 4.5 → 1:
    # 40 + 90 + 10 = 140 allocation-seconds in 150 s, stretched to a day
    profile = ((0.0, 9.0), (10.0, 9.0), *((20.0 + 10 * i, 0.0) for i in range(12)), (140.0, 4.5))
    traffic = Traffic(9.0, 0.0, profile=profile)
    result = recommend(_capacity(cold_start_s=0.1), traffic, scaler=FAST)
    assert result.max_number_of_allocations.value == 3  # 9 × 1.2 ÷ 4.5 = 2.4
    assert result.cost.allocation_hours_per_day == pytest.approx(140 / 3600 * 86400 / 150)
    assert "recorded profile" in result.cost.reason


@pytest.mark.parametrize(
    ("changes", "traffic", "kwargs", "message"),
    [
        ({"per_allocation_rps": 0.0, "ci_low": 0.0}, "peak=1", {}, "above 0 rps"),
        ({"ci_low": 5.5}, "peak=1", {}, "must be above 0 and hold 5"),
        ({"ci_low": math.nan}, "peak=1", {}, "finite"),
        ({"slo_p99_ms": 0.0}, "peak=1", {}, "objective must be above 0"),
        ({"num_threads": 0}, "peak=1", {}, "at least 1"),
        ({"by_threads": {2: -1.0}}, "peak=1", {}, "is not a measurement"),
        ({}, "peak=1", {"headroom": -0.1}, "headroom"),
        ({}, "peak=1", {"max_cold_start_s": math.inf}, "max cold start"),
        ({}, "peak=1", {"vcpu_hour_price": -1.0}, "price"),
    ],
)
def test_bad_input_gets_a_one_line_reason(
    changes: dict[str, object], traffic: str, kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        recommend(_capacity(**changes), parse_traffic(traffic), **kwargs)  # type: ignore[arg-type]
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_zero_peak_traffic_is_refused() -> None:
    with pytest.raises(ValueError, match="peak must be above 0"):
        recommend(CAPACITY, Traffic(0.0, 0.0))


def test_json_and_lines_carry_every_setting() -> None:
    capacity = _capacity(cold_start_s=0.3, by_threads=GRID, p99_ms_by_threads=GRID_P99)
    result = recommend(capacity, parse_traffic("peak=40,trough=2,idle_hours=12"))
    data = json.loads(json.dumps(result.to_json()))
    assert data["max_number_of_allocations"]["value"] == 11
    assert data["min_number_of_allocations"]["value"] == 0
    assert data["scale_to_zero"]["value"] == 21420
    assert data["num_threads"]["value"] == 1
    assert data["capacity"]["by_threads"] == {"1": 5.0, "2": 8.0, "4": 11.0}
    frozen = _capacity(by_threads=MappingProxyType(GRID))
    assert frozen.to_json()["by_threads"] == data["capacity"]["by_threads"]
    assert data["traffic"]["idle_gaps_s"] == [43200.0]
    assert data["cost"]["fixed_allocation_hours_per_day"] == 264.0
    lines = result.lines()
    assert lines[0].startswith("Recommended settings (traffic peak 40 rps, trough 2 rps")
    text = "\n".join(lines)
    for name, value in [
        ("num_threads", "1"),
        ("max_number_of_allocations", "11"),
        ("min_number_of_allocations", "0"),
        ("scale_to_zero_time", "357 min"),
    ]:
        assert any(line.split()[0] == name and f" {value}  " in line for line in lines), text
    assert lines[-1].startswith("  cost: 66 allocation-hours, 66 vCPU-hours a day")
