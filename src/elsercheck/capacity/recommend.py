"""Adaptive-allocations settings for a traffic, from a measured capacity, each with its reason.

Input: :class:`MeasuredCapacity` (requests/s one allocation sustains within the latency
objective, with its confidence interval, optionally per ``num_threads``) and a
:class:`~elsercheck.capacity.traffic.Traffic` (peak, trough, idle stretches or a profile).
Output: :class:`Recommendation`: ``num_threads``, ``max_number_of_allocations``,
``min_number_of_allocations`` and the scale-to-zero time, each a :class:`Reasoned` value whose
sentence shows the numbers, plus the allocation- and vCPU-hours a day they cost. Everything is
in cluster time (a time-lapse target's :class:`ScalerTiming` is converted by its ``speedup``).

The rules, and why:

1. **num_threads.** Each allocation serves one request at a time with ``num_threads`` threads,
   so more threads shorten a request (Amdahl) but cost ``num_threads`` vCPUs per allocation
   (vCPUs = allocations × threads: Elastic's trained-model-autoscaling docs,
   https://www.elastic.co/docs/deploy-manage/autoscaling/trained-model-autoscaling). With a
   ``--threads`` grid (``by_threads``/``p99_ms_by_threads``) only counts whose p99 meets the
   objective are candidates; a *search* workload wants latency (the lowest p99, else the
   highest per-allocation rate, i.e. the shortest request), *ingest* and plain *inference* want
   throughput per vCPU (the fewest vCPUs at peak: max allocations × threads). Other counts'
   lower bounds scale with their rate (same relative interval as the measured one). Without a
   grid the measured count stays, and the reason says a grid would tell.
2. **max_number_of_allocations** = ⌈peak × (1 + headroom) / capacity's interval LOW end⌉:
   the peak must fit even if the capacity is at the pessimistic end of what was measured. The
   scaler adds an allocation while its lower load bound exceeds 90 % of the allocations
   (ES ``AdaptiveAllocationsScaler.scale``, ``SCALE_UP_THRESHOLD = 0.9``); a headroom of at
   least 1/0.9 − 1 ≈ 11 % keeps the peak below that at max, else the reason warns.
3. **min_number_of_allocations.** ES scales a deployment with min 0 (or unset) to zero after
   ``xpack.ml.trained_models.adaptive_allocations.scale_to_zero_time`` without any request
   (``AdaptiveAllocationsScaler.scale``; default 24 h and the setting itself since PR #128914,
   Elastic's docs give 1 min as its minimum), and not within the scale-down cooldown after a
   scale-up (``AdaptiveAllocationsScalerService``, ``scale_cooldown_time``, 5 min). The next
   request then meets a cold start (allocation start, model load): release builds answer 409
   ``not allocated to any nodes; starting deployment of one allocation`` until it is up
   (``TransportInternalInferModelAction``), the queueing variant (PR #115400) makes it wait, up
   to 429/408. So min 0 only when (a) the traffic has idle stretches longer than the
   scale-to-zero time plus the cooldown (else zero is never reached and min 0 saves nothing),
   and (b) the cold start is acceptable: at most the latency objective, or at most
   ``max_cold_start_s`` when the caller says so. Otherwise min covers the trough within the
   objective: ⌈trough × (1 + headroom) / interval low⌉, at least 1 (the scaler never goes
   below 1 while there are requests, but it follows a change only after some ticks of its
   Kalman filters, so the floor serves the trough at once).
4. **Scale-to-zero time** (a cluster setting, for every adaptive deployment): with min 0 the
   current setting if the longest idle stretch already exceeds it plus the cooldown, else
   the whole minutes in half of (stretch − cooldown), at least 1 min: zero for about half the
   stretch while shorter lulls keep their allocation. With min ≥ 1: ``"never"``.
5. **Cost.** The scaler settles at ⌈load / 0.9⌉ allocations for a steady load of
   rate / per-allocation rate busy allocations (rule 2's threshold; the point estimate: a cost
   is an expectation), clamped to [max(min, 1), max]; in an idle stretch 1 (or min)
   allocation until zero is reached (min 0: after the scale-to-zero time plus cooldown).
   Per day over the peak/trough/idle split, or over the recorded profile stretched to 24 h
   (the scaler's lag is not modelled). vCPU-hours = allocation-hours × threads; cost =
   vCPU-hours × the price when one is given. A fixed deployment of max allocations around
   the clock is given for comparison.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..load.plans import ScalerTiming
from ..timebase import TimeBase
from .traffic import DAY_S, Traffic
from .units import UNITS

DEFAULT_HEADROOM = 0.2
# ES AdaptiveAllocationsScaler: scale up while the lower load bound per allocation exceeds this.
SCALE_UP_THRESHOLD = 0.9
# Minimum of xpack.ml.trained_models.adaptive_allocations.scale_to_zero_time (Elastic's
# trained-model-autoscaling docs: 1 min).
MIN_SCALE_TO_ZERO_S = 60.0
# Workloads that want a short request more than throughput per vCPU.
LATENCY_WORKLOADS = frozenset({"search"})
NEVER = "never"
_EPS = 1e-9  # 48 / 4.8 must give 10 allocations, not 11


@dataclass(frozen=True)
class MeasuredCapacity:
    """What a capacity sweep measured for one endpoint setting (cluster-time requests/s).

    ``per_allocation_rps`` with its interval ``ci_low``–``ci_high`` at ``num_threads``;
    ``slo_p99_ms`` the objective it was measured against; ``cold_start_s`` the time from a
    request at zero allocations to its first success, when measured; ``by_threads`` /
    ``p99_ms_by_threads`` the per-allocation rate and p99 per threads count of a grid.
    """

    per_allocation_rps: float
    ci_low: float
    ci_high: float
    num_threads: int
    slo_p99_ms: float
    cold_start_s: float | None = None
    by_threads: Mapping[int, float] = field(default_factory=dict)
    p99_ms_by_threads: Mapping[int, float] = field(default_factory=dict)
    workload: str = "inference"

    def to_json(self) -> dict[str, Any]:
        # Built by hand: asdict() cannot deep-copy a read-only mapping (MappingProxyType).
        return {
            "per_allocation_rps": self.per_allocation_rps,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "num_threads": self.num_threads,
            "slo_p99_ms": self.slo_p99_ms,
            "cold_start_s": self.cold_start_s,
            "by_threads": {str(k): v for k, v in sorted(self.by_threads.items())},
            "p99_ms_by_threads": {str(k): v for k, v in sorted(self.p99_ms_by_threads.items())},
            "workload": self.workload,
        }


@dataclass(frozen=True)
class Reasoned:
    """A recommended value and the sentence, with numbers, that leads to it."""

    value: int | str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "reason": self.reason}


@dataclass(frozen=True)
class CostEstimate:
    """Allocation- and vCPU-hours a day the recommended settings use on the traffic."""

    allocation_hours_per_day: float
    vcpu_hours_per_day: float
    fixed_allocation_hours_per_day: float  # max allocations around the clock, for comparison
    cost_per_day: float | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {key: _r(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class Recommendation:
    """The recommended endpoint settings, each with its reason."""

    num_threads: Reasoned
    max_number_of_allocations: Reasoned
    min_number_of_allocations: Reasoned
    scale_to_zero: Reasoned  # seconds (int) with min 0, else "never"
    cost: CostEstimate
    capacity: MeasuredCapacity
    traffic: Traffic
    headroom: float
    notes: tuple[str, ...] = ()

    def service_settings(self) -> dict[str, Any]:
        """The ``service_settings`` part of an inference endpoint with these settings."""
        return {
            "num_threads": self.num_threads.value,
            "adaptive_allocations": {
                "enabled": True,
                "min_number_of_allocations": self.min_number_of_allocations.value,
                "max_number_of_allocations": self.max_number_of_allocations.value,
            },
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "service_settings": self.service_settings(),
            "num_threads": self.num_threads.to_json(),
            "max_number_of_allocations": self.max_number_of_allocations.to_json(),
            "min_number_of_allocations": self.min_number_of_allocations.to_json(),
            "scale_to_zero": self.scale_to_zero.to_json(),
            "cost": self.cost.to_json(),
            "headroom": self.headroom,
            "capacity": self.capacity.to_json(),
            "traffic": self.traffic.to_json(),
            "notes": list(self.notes),
        }

    def lines(self) -> list[str]:
        """A short rendering for the terminal: one line per setting, reason after it."""
        cap = self.capacity
        head = (
            f"Recommended settings (traffic peak {_n(self.traffic.peak_rps)} rps, trough"
            f" {_n(self.traffic.trough_rps)} rps; capacity {_n(cap.per_allocation_rps)} rps per"
            f" allocation, interval {_n(cap.ci_low)}–{_n(cap.ci_high)}):"
        )
        rows = [
            ("num_threads", self.num_threads),
            ("max_number_of_allocations", self.max_number_of_allocations),
            ("min_number_of_allocations", self.min_number_of_allocations),
            ("scale_to_zero_time", self.scale_to_zero),
        ]
        lines = [head]
        for name, item in rows:
            value = item.value if isinstance(item.value, str) else str(item.value)
            if name == "scale_to_zero_time" and not isinstance(item.value, str):
                value = _duration(float(item.value))
            lines.append(f"  {name:<26} {value:>8}  {item.reason}")
        cost = self.cost
        price = f", {cost.cost_per_day:.2f} a day" if cost.cost_per_day is not None else ""
        lines.append(
            f"  cost: {_n(cost.allocation_hours_per_day)} allocation-hours,"
            f" {_n(cost.vcpu_hours_per_day)} vCPU-hours a day{price}"
            f" (fixed at max: {_n(cost.fixed_allocation_hours_per_day)} allocation-hours)"
        )
        lines.extend(f"  note: {note}" for note in self.notes)
        return lines


def recommend(
    capacity: MeasuredCapacity,
    traffic: Traffic,
    *,
    headroom: float = DEFAULT_HEADROOM,
    max_cold_start_s: float | None = None,
    vcpu_hour_price: float | None = None,
    scaler: ScalerTiming | None = None,
) -> Recommendation:
    """Settings for ``traffic`` from ``capacity`` (rules in the module docstring).

    ``headroom``: share above the peak the max allocations must carry. ``max_cold_start_s``:
    the longest cold start the caller accepts (default: the latency objective).
    ``vcpu_hour_price``: price of one vCPU-hour, for a cost a day. ``scaler``: the target's
    scaler timing (default Elasticsearch's; a time-lapse's values are scaled to cluster time).
    Raises ``ValueError`` with a one-line reason for inputs no recommendation can follow from.
    """
    _check(capacity, traffic, headroom, max_cold_start_s, vcpu_hour_price)
    timing = _cluster_timing(scaler or ScalerTiming())
    notes: list[str] = []

    threads, point, low, threads_reason = _choose_threads(capacity, traffic.peak_rps, headroom)
    max_n, max_reason = _max_allocations(traffic.peak_rps, headroom, point, low, capacity)
    min_n, s2z, min_reason, s2z_reason = _min_allocations(
        capacity, traffic, headroom, low, timing, max_cold_start_s, notes
    )
    cost = _cost(traffic, point, threads, min_n, max_n, s2z, timing, vcpu_hour_price)
    if capacity.workload not in LATENCY_WORKLOADS | {"ingest", "inference"}:
        notes.append(f"workload {capacity.workload!r} treated as throughput-bound")
    unit = UNITS.get(capacity.workload)
    if unit is not None and unit.workload != "inference":
        # The capacity and the traffic count the same unit (traffic_from_run counts the
        # workload's rows): an ingest capacity of bulks/s against a traffic of bulks/s.
        notes.append(
            f"rps here counts {unit.noun} per second, the {unit.workload} capacity's unit; "
            "the traffic is in the same unit"
        )
    return Recommendation(
        num_threads=Reasoned(threads, threads_reason),
        max_number_of_allocations=Reasoned(max_n, max_reason),
        min_number_of_allocations=Reasoned(min_n, min_reason),
        scale_to_zero=Reasoned(NEVER if s2z is None else round(s2z), s2z_reason),
        cost=cost,
        capacity=capacity,
        traffic=traffic,
        headroom=headroom,
        notes=tuple(notes),
    )


def _check(
    capacity: MeasuredCapacity,
    traffic: Traffic,
    headroom: float,
    max_cold_start_s: float | None,
    price: float | None,
) -> None:
    cap = capacity
    if not (_finite(cap.per_allocation_rps) and cap.per_allocation_rps > 0):
        raise ValueError(
            f"capacity per allocation must be above 0 rps, not {cap.per_allocation_rps}"
        )
    if not (_finite(cap.ci_low) and _finite(cap.ci_high)):
        raise ValueError("capacity interval must be finite numbers")
    if not 0 < cap.ci_low <= cap.per_allocation_rps <= cap.ci_high:
        raise ValueError(
            f"capacity interval {cap.ci_low:g}–{cap.ci_high:g} must be above 0 and hold"
            f" {cap.per_allocation_rps:g}"
        )
    if cap.num_threads < 1:
        raise ValueError(f"num_threads must be at least 1, not {cap.num_threads}")
    if not (_finite(cap.slo_p99_ms) and cap.slo_p99_ms > 0):
        raise ValueError(f"latency objective must be above 0 ms, not {cap.slo_p99_ms}")
    if cap.cold_start_s is not None and not (_finite(cap.cold_start_s) and cap.cold_start_s >= 0):
        raise ValueError(f"cold start must be a finite number >= 0 s, not {cap.cold_start_s}")
    for threads, rps in cap.by_threads.items():
        if threads < 1 or not (_finite(rps) and rps > 0):
            raise ValueError(f"by_threads: {threads} threads → {rps} rps is not a measurement")
    if not (_finite(traffic.peak_rps) and traffic.peak_rps > 0):
        raise ValueError(f"traffic peak must be above 0 rps, not {traffic.peak_rps}")
    if not 0 <= traffic.trough_rps <= traffic.peak_rps:
        raise ValueError(
            f"traffic trough {traffic.trough_rps:g} must be between 0 and the peak"
            f" {traffic.peak_rps:g}"
        )
    if not (_finite(headroom) and headroom >= 0):
        raise ValueError(f"headroom must be a finite number >= 0, not {headroom}")
    if max_cold_start_s is not None and not (_finite(max_cold_start_s) and max_cold_start_s >= 0):
        raise ValueError(f"max cold start must be a finite number >= 0 s, not {max_cold_start_s}")
    if price is not None and not (_finite(price) and price >= 0):
        raise ValueError(f"vCPU-hour price must be a finite number >= 0, not {price}")


def _cluster_timing(timing: ScalerTiming) -> ScalerTiming:
    """``timing`` in the cluster's seconds (a time-lapse target's durations × its speedup)."""
    clock = TimeBase.of(timing)
    return ScalerTiming(
        tick_s=clock.to_cluster(timing.tick_s),
        cooldown_s=clock.to_cluster(timing.cooldown_s),
        scale_to_zero_s=clock.to_cluster(timing.scale_to_zero_s),
        allocation_start_s=clock.to_cluster(timing.allocation_start_s),
        speedup=1.0,
    )


def _allocations_for(rate: float, headroom: float, per_allocation: float) -> int:
    return math.ceil(rate * (1 + headroom) / per_allocation - _EPS)


def _choose_threads(
    capacity: MeasuredCapacity, peak: float, headroom: float
) -> tuple[int, float, float, str]:
    """(threads, per-allocation rps, its interval low end, reason)."""
    measured = capacity.num_threads
    grid = dict(capacity.by_threads)
    grid[measured] = capacity.per_allocation_rps  # the sweep's own figure for its count
    if len(grid) == 1:
        return (
            measured,
            capacity.per_allocation_rps,
            capacity.ci_low,
            f"measured at {measured} thread{'s' if measured > 1 else ''} only; a --threads"
            " 1,2,4 grid would tell whether more threads per allocation shorten a request"
            " (search) or fewer give more throughput per vCPU (ingest)",
        )
    relative_low = capacity.ci_low / capacity.per_allocation_rps
    counts = sorted(grid)
    low = {t: grid[t] * relative_low for t in counts}
    p99 = {t: capacity.p99_ms_by_threads.get(t) for t in counts}
    vcpus = {t: _allocations_for(peak, headroom, low[t]) * t for t in counts}
    slo = capacity.slo_p99_ms
    meets = [t for t in counts if p99[t] is None or p99[t] <= slo]  # type: ignore[operator]
    missed = ""
    if not meets:
        meets = counts
        missed = f"; none met the {_n(slo)} ms objective, so the best of all"
    listing = "/".join(str(t) for t in counts)
    p99_text = (
        f"p99 at {listing} threads = "
        + "/".join("?" if p99[t] is None else _n(p99[t]) for t in counts)  # type: ignore[arg-type]
        + f" ms against the {_n(slo)} ms objective"
    )
    if capacity.workload in LATENCY_WORKLOADS:
        known = [t for t in meets if p99[t] is not None]
        if known:
            chosen = min(known, key=lambda t: (p99[t], vcpus[t]))
            why = f"{capacity.workload} wants low latency: {p99_text}; {chosen} threads"
            why += " give the lowest"
        else:
            chosen = max(meets, key=lambda t: (grid[t], -vcpus[t]))
            why = (
                f"{capacity.workload} wants low latency: {listing} threads serve "
                + "/".join(_n(grid[t]) for t in counts)
                + f" rps per allocation, so {chosen} threads give the shortest request"
            )
    else:
        chosen = min(meets, key=lambda t: (vcpus[t], t))
        why = (
            f"{capacity.workload} wants throughput per vCPU: {listing} threads need "
            + "/".join(str(vcpus[t] // t) for t in counts)
            + " allocations = "
            + "/".join(str(vcpus[t]) for t in counts)
            + f" vCPUs at peak; {chosen} {'threads need' if chosen > 1 else 'thread needs'}"
            + " the fewest"
        )
        if any(p99[t] is not None for t in counts):
            why += f" within the objective; {p99_text}"
    return chosen, grid[chosen], low[chosen], why + missed


def _max_allocations(
    peak: float, headroom: float, point: float, low: float, capacity: MeasuredCapacity
) -> tuple[int, str]:
    need = peak * (1 + headroom)
    n = max(1, _allocations_for(peak, headroom, low))
    busy = peak / (n * low)
    reason = (
        f"peak {_n(peak)} rps × (1 + {_n(headroom)} headroom) = {_n(need)} rps ÷"
        f" {_n(low)} rps per allocation (the interval's low end; point {_n(point)}) ="
        f" {_n(need / low)} → {n}; at peak {n} allocations are {busy:.0%} busy at the low end,"
        f" {peak / (n * point):.0%} at the point estimate"
    )
    if busy > SCALE_UP_THRESHOLD:
        reason += (
            f"; above the scaler's {SCALE_UP_THRESHOLD:.0%} scale-up threshold: it would want"
            f" more than {n} (raise the headroom above"
            f" {1 / SCALE_UP_THRESHOLD - 1:.0%})"
        )
    return n, reason


def _min_allocations(
    capacity: MeasuredCapacity,
    traffic: Traffic,
    headroom: float,
    low: float,
    timing: ScalerTiming,
    max_cold_start_s: float | None,
    notes: list[str],
) -> tuple[int, float | None, str, str]:
    """(min allocations, scale-to-zero seconds or None, min's reason, scale-to-zero's reason)."""
    trough = traffic.trough_rps
    trough_n = max(1, _allocations_for(trough, headroom, low)) if trough > 0 else 1
    floor_reason = (
        f"trough {_n(trough)} rps × (1 + {_n(headroom)}) ÷ {_n(low)} rps per allocation →"
        f" {trough_n}"
        if trough > 0
        else "at least 1 allocation stays"
    )
    gaps = traffic.idle_gaps_s()
    longest = gaps[0] if gaps else 0.0
    current = timing.scale_to_zero_s
    cooldown = timing.cooldown_s
    if longest > current + cooldown:
        s2z: float | None = current
    elif longest > MIN_SCALE_TO_ZERO_S + cooldown:
        s2z = max(MIN_SCALE_TO_ZERO_S, math.floor((longest - cooldown) / 2 / 60) * 60)
    else:
        s2z = None
    if not gaps:
        gap_text = "the traffic never idles"
        short = "the traffic never idles"
    else:
        gap_text = f"the longest idle stretch is {_duration(longest)}"
        short = (
            f"the longest idle stretch, {_duration(longest)}, is not longer than the"
            f" scale-to-zero time (at least {_duration(MIN_SCALE_TO_ZERO_S)}) plus the"
            f" {_duration(cooldown)} cooldown"
        )
    if s2z is None:
        reason = f"{floor_reason}; not 0: {short}, so zero would never be reached"
        return trough_n, None, reason, f"never (min {trough_n}): {short}"

    cold, measured = capacity.cold_start_s, True
    if cold is None:
        cold, measured = timing.allocation_start_s, False
    origin = "measured" if measured else "the target's allocation start; not measured"
    cold_text = f"the cold start of {_duration(cold)} ({origin})"
    objective_s = capacity.slo_p99_ms / 1000
    limit = objective_s if max_cold_start_s is None else max_cold_start_s
    limit_text = (
        f"the {_n(capacity.slo_p99_ms)} ms objective"
        if max_cold_start_s is None
        else f"the accepted {_duration(max_cold_start_s)}"
    )
    stretches = sum(1 for gap in gaps if gap > s2z + cooldown)
    if cold > limit:
        reason = (
            f"{floor_reason}; not 0 although {gap_text}: {cold_text} is above {limit_text};"
            " requests arriving at zero allocations would miss it (Elasticsearch answers 409"
            " until an allocation starts)"
        )
        return trough_n, None, reason, f"never (min {trough_n}): {cold_text} is above {limit_text}"

    at_zero = sum(gap - s2z - cooldown for gap in gaps if gap > s2z + cooldown)
    per_day = at_zero * DAY_S / traffic.duration_s
    reason = (
        f"0: {gap_text}, longer than the scale-to-zero time {_duration(s2z)} plus the"
        f" {_duration(cooldown)} cooldown, so about {_duration(per_day)} a day at zero; {cold_text}"
        f" is within {limit_text}"
    )
    if cold > objective_s:
        reason += (
            f", but above the {_n(capacity.slo_p99_ms)} ms objective: the requests of"
            f" {stretches} cold start{'s' if stretches != 1 else ''} per"
            f" {_duration(traffic.duration_s)} miss it (409 until an allocation starts)"
        )
    if trough > 0:
        reason += f"; the scaler brings up the {trough_n} the trough needs"
        if 1 / trough > s2z + cooldown:
            notes.append(
                f"trough requests are {_duration(1 / trough)} apart on average, longer than"
                f" {_duration(s2z + cooldown)}: most of them meet a cold start"
            )
    if s2z == current:
        s2z_reason = (
            f"keep {_duration(s2z)}: idle stretches of {_duration(longest)} reach zero after it"
            f" plus the {_duration(cooldown)} cooldown"
        )
    else:
        s2z_reason = (
            f"set xpack.ml.trained_models.adaptive_allocations.scale_to_zero_time to"
            f" {_duration(s2z)} (now {_duration(current)}): half the {_duration(longest)} idle"
            f" stretch after the {_duration(cooldown)} cooldown, so shorter lulls keep their"
            " allocation; a cluster setting, for every adaptive deployment"
        )
    return 0, s2z, reason, s2z_reason


def _cost(
    traffic: Traffic,
    point: float,
    threads: int,
    min_n: int,
    max_n: int,
    s2z: float | None,
    timing: ScalerTiming,
    price: float | None,
) -> CostEstimate:
    floor = max(min_n, 1)

    def busy(rate: float) -> int:
        # The scaler's steady state: the smallest count whose load share is within 0.9.
        wanted = math.ceil(rate / point / SCALE_UP_THRESHOLD - _EPS)
        return min(max_n, max(floor, wanted))

    def idle(seconds: float) -> float:
        """Allocation-seconds of an idle stretch."""
        if min_n == 0 and s2z is not None and seconds > s2z + timing.cooldown_s:
            return s2z + timing.cooldown_s  # one allocation until it goes to zero
        return floor * seconds

    if traffic.profile:
        total = 0.0
        quiet = 0.0
        for _, rate in traffic.profile:
            if rate > 0:
                total += idle(quiet) + busy(rate) * traffic.bin_s
                quiet = 0.0
            else:
                quiet += traffic.bin_s
        total += idle(quiet)
        per_day = total / 3600 * DAY_S / traffic.duration_s
        basis = (
            f"the recorded profile ({_duration(traffic.duration_s)}, mean"
            f" {_n(total / traffic.duration_s)} allocations) repeated over 24 h"
        )
    else:
        parts = []
        total = 0.0
        for rate, seconds in traffic.day_segments():
            if rate > 0:
                n = busy(rate)
                total += n * seconds
                parts.append(f"{_n(rate)} rps for {_n(seconds / 3600)} h → {n}")
            else:
                allocation_s = idle(seconds)
                total += allocation_s
                parts.append(
                    f"idle {_n(seconds / 3600)} h → {_n(allocation_s / 3600)} allocation-hours"
                )
        per_day = total / 3600
        assumed = " (peak hours assumed: half the active day)" if traffic.peak_hours is None else ""
        basis = "; ".join(parts) + assumed
    vcpu = per_day * threads
    cost = None if price is None else vcpu * price
    priced = "" if price is None else f"; × {_n(price)} per vCPU-hour = {vcpu * price:.2f} a day"
    reason = (
        f"{basis}; the scaler settles at ⌈rate ÷ {_n(point)} rps ÷ {SCALE_UP_THRESHOLD}⌉"
        f" allocations within [{floor}, {max_n}]; × {threads} thread"
        f"{'s' if threads > 1 else ''} = {_n(vcpu)} vCPU-hours{priced}"
    )
    return CostEstimate(
        allocation_hours_per_day=per_day,
        vcpu_hours_per_day=vcpu,
        fixed_allocation_hours_per_day=max_n * 24.0,
        cost_per_day=cost,
        reason=reason,
    )


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _n(value: float) -> str:
    """A number for a sentence: at most 3 significant digits below 100, no trailing zeros."""
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _r(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def _duration(seconds: float) -> str:
    """12 h, 357 min, 1.5 h, 90 s: whole hours, else whole minutes, else 3 digits."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"
