"""One cell of a capacity sweep (fixed allocations and threads): the points, the knee, the
capacity and its interval. Measuring a point is a callable, so the sweep's logic runs without a
target in tests.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .knee import Judgement, Knee, judge, knee
from .point import Point
from .saturation import Saturation
from .statistics import needs_repeat, throughput_interval
from .sweep import DEFAULT_RESOLUTION, SweepPlan

MAX_POINTS = 24  # a sweep never measures more points than this per cell (repeats included)
# The capacity point's arrivals may fall short of its offered rate by this many standard
# deviations of their Poisson count before they, not the offered rate, are the capacity.
CAPACITY_SHORTFALL_SD = 2.0


@dataclass(frozen=True)
class Measured:
    """One run of a point: its offered rate (cluster req/s), what it measured, the verdict."""

    rate: float
    point: Point
    judgement: Judgement
    purpose: str = "sweep"  # sweep, noise (the spread asked for it), repeat (--repeats)

    def to_json(self) -> dict[str, Any]:
        return {
            "offered_rps": round(self.rate, 4),
            "purpose": self.purpose,
            **self.judgement.to_json(),
            **self.point.to_json(),
        }


@dataclass
class CellResult:
    """A cell's outcome; rates per cluster second, in the workload's unit (``units.py``); an
    ingest cell's capacity also in documents and chunks per second."""

    allocations: int
    threads: int
    estimate_rps: float
    slo_p99_ms: float
    runs: list[Measured] = field(default_factory=list)
    knee: Knee = field(default_factory=lambda: Knee(None, None))
    capacity_rps: float | None = None  # the highest offered rate that held (or its arrivals)
    ci_low: float | None = None
    ci_high: float | None = None
    ci_method: str = ""
    bounded: bool = False  # --max-minutes ended the sweep before the knee was found
    generator_limited: bool = False  # the generator could not offer more: a lower bound
    model_rps: float | None = None  # the reference server's true capacity, when known
    # ... and the rate at which its modelled p99 reaches the objective (capacity/model.py
    # knee_per_allocation × allocations): what the sweep measures, when known
    model_knee_rps: float | None = None
    start_s: float | None = None  # cluster seconds from the endpoint's PUT to fully_allocated
    # Ingest only: what the capacity point's bulks carried, per cluster second (mean of its
    # runs, as the capacity), and the model's chunks per second.
    capacity_documents_rps: float | None = None
    capacity_chunks_rps: float | None = None
    model_chunks_rps: float | None = None
    interrupted: bool = False  # a stop signal ended the sweep before this cell's knee
    # The throughput with every allocation busy (saturation.py), measured after the sweep;
    # why it was not, when it was not.
    saturation: Saturation | None = None
    saturation_skipped: str = ""

    @property
    def capacity_p99_ms(self) -> float | None:
        """The highest p99 of the sustained runs at the capacity point."""
        best = self.knee.sustained_rps
        values = [
            float(p99)
            for m in self.runs
            if m.rate == best
            and m.judgement.sustained
            and (p99 := m.point.latency_ms.get("p99")) is not None
        ]
        return max(values) if values else None

    @property
    def per_allocation(self) -> tuple[float | None, float | None, float | None]:
        """(capacity, CI low, CI high) per allocation."""
        return tuple(  # type: ignore[return-value]
            None if v is None else v / self.allocations
            for v in (self.capacity_rps, self.ci_low, self.ci_high)
        )

    def per_allocation_of(self, value: float | None) -> float | None:
        """``value`` (a cell-wide rate) per allocation."""
        return None if value is None else value / self.allocations

    def to_json(self) -> dict[str, Any]:
        per, low, high = self.per_allocation
        return {
            "allocations": self.allocations,
            "threads": self.threads,
            "estimate_rps": _round(self.estimate_rps),
            "slo_p99_ms": self.slo_p99_ms,
            "capacity_rps": _round(self.capacity_rps),
            "ci_low_rps": _round(self.ci_low),
            "ci_high_rps": _round(self.ci_high),
            "ci_method": self.ci_method,
            "per_allocation_rps": _round(per),
            "per_allocation_ci": [_round(low), _round(high)],
            "knee": {k: _round(v) for k, v in self.knee.to_json().items()},
            "bounded": self.bounded,
            "generator_limited": self.generator_limited,
            "model_rps": _round(self.model_rps),
            "model_knee_rps": _round(self.model_knee_rps),
            "start_s": _round(self.start_s),
            "capacity_p99_ms": _round(self.capacity_p99_ms),
            "capacity_documents_rps": _round(self.capacity_documents_rps),
            "capacity_chunks_rps": _round(self.capacity_chunks_rps),
            "per_allocation_documents_rps": _round(
                self.per_allocation_of(self.capacity_documents_rps)
            ),
            "per_allocation_chunks_rps": _round(self.per_allocation_of(self.capacity_chunks_rps)),
            "model_chunks_rps": _round(self.model_chunks_rps),
            "interrupted": self.interrupted,
            "saturation": self._saturation_json(),
            "points": [run.to_json() for run in self.runs],
        }

    def _saturation_json(self) -> dict[str, Any] | None:
        found = self.saturation
        if found is None:
            return {"skipped": self.saturation_skipped} if self.saturation_skipped else None
        per = [_round(self.per_allocation_of(v)) for v in (found.rps, found.ci_low, found.ci_high)]
        return {**found.to_json(), "per_allocation_rps": per[0], "per_allocation_ci": per[1:]}


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 4)


def sweep_cell(
    result: CellResult,
    measure: Callable[[float], Point],
    repeats: int,
    deadline: float,
    emit: Callable[[str], None] = print,
    clock: Callable[[], float] = time.monotonic,
    resolution: float = DEFAULT_RESOLUTION,
) -> CellResult:
    """Sweep the offered rate from ``result.estimate_rps`` to the knee (bracketed within
    ``resolution``), repeat the capacity point ``repeats`` times in all, and fill in
    ``result``. Stops at ``deadline`` (``clock`` time), marking the result ``bounded``."""
    plan = SweepPlan(result.estimate_rps, resolution=resolution)
    history: list[tuple[float, Judgement]] = []
    slowest = 0.0

    def run(rate: float, purpose: str) -> Measured | None:
        nonlocal slowest
        if len(result.runs) >= MAX_POINTS or clock() + slowest > deadline:
            result.bounded = True
            return None
        started = clock()
        point = measure(rate)
        slowest = max(slowest, clock() - started)
        measured = Measured(rate, point, judge(point, result.slo_p99_ms), purpose)
        result.runs.append(measured)
        emit(_line(result, measured))
        return measured

    def held_at(rate: float) -> int:
        return sum(1 for m in result.runs if m.rate == rate and m.judgement.sustained)

    def hold(rate: float) -> bool:
        """Run ``rate`` again until it held ``repeats`` times or failed once (the failure
        joins the history); False when the sweep ran out of points or time."""
        while held_at(rate) < repeats:
            extra = run(rate, "repeat")
            if extra is None:
                return False
            if not extra.judgement.sustained:
                history.append((rate, extra.judgement))
                break
        return True

    # A window's p99 is noisy near the knee: once a failure brackets it, a rate counts as
    # sustained only when it holds ``repeats`` times, as the capacity point must, so the
    # bisection closes in on the rate kept with even odds over ``repeats`` windows (the model's
    # knee, capacity/model.py). A failed repeat of the capacity point resumes the bisection
    # below it instead of falling back to the next rate that held once, perhaps a whole climb
    # step lower.
    stopped = False
    while not stopped:
        while (rate := plan.next_rate(history)) is not None:
            first = run(rate, "sweep")
            if first is None:
                stopped = True
                break
            verdict = first.judgement
            if needs_repeat(first.point.sent_per_bin) and not verdict.inconclusive:
                again = run(rate, "noise")
                if (
                    again is not None
                    and not again.judgement.inconclusive
                    and not (again.judgement.sustained)
                ):
                    verdict = again.judgement  # sustained only if it holds both times
            history.append((rate, verdict))
            if verdict.sustained and knee(history).failed_rps is not None and not hold(rate):
                stopped = True
                break
        best = knee(history).sustained_rps
        if stopped or best is None or held_at(best) >= repeats:
            break
        stopped = not hold(best)  # the capacity point holds ``repeats`` times, or bisect on
    result.generator_limited = any(j.inconclusive for _, j in history)
    result.knee = knee(history)
    best = result.knee.sustained_rps
    if best is None:
        return result
    held = [m for m in result.runs if m.rate == best and m.judgement.sustained]
    # The capacity is the highest offered rate that held. What its runs sent is that rate plus
    # Poisson counting noise (one allocation's bulks: a handful per window, ±50 %), so it
    # stands in only when it fell short by more than that noise: a generator behind its
    # schedule must not inflate the capacity. Its interval: down by the throughput's relative
    # noise at that rate, up to the lowest failed rate (the true knee lies in that bracket).
    window = sum(m.point.window_s for m in held)
    arrivals = sum(m.point.sent_rps * m.point.window_s for m in held)
    behind = best * window - arrivals > CAPACITY_SHORTFALL_SD * math.sqrt(best * window)
    sent = arrivals / window if behind else best
    result.capacity_rps = sent
    documents = [m.point.documents_rps for m in held if m.point.documents_rps is not None]
    chunks = [m.point.chunks_rps for m in held if m.point.chunks_rps is not None]
    if documents and chunks and arrivals > 0:
        # Ingest: the documents and chunks the same runs' bulks carried, at the capacity's rate
        # of bulks (per bulk as carried, times the bulks per second of the capacity).
        per_second = sent * window / arrivals
        result.capacity_documents_rps = per_second * sum(documents) / len(documents)
        result.capacity_chunks_rps = per_second * sum(chunks) / len(chunks)
    throughputs = [m.point.throughput_rps for m in held]
    low, high, method = throughput_interval(throughputs, [m.point.per_second_rps for m in held])
    mean = sum(throughputs) / len(throughputs)
    result.ci_low = min(sent, sent * low / mean if mean > 0 else sent)
    noise_high = sent * high / mean if mean > 0 else sent
    result.ci_high = max(sent, result.knee.failed_rps or noise_high)
    result.ci_method = method + (", up to the lowest failed rate" if result.knee.failed_rps else "")
    return result


def _line(result: CellResult, run: Measured) -> str:
    point, verdict = run.point, run.judgement
    p99 = point.latency_ms.get("p99")
    status = "ok" if verdict.sustained else ("??" if verdict.inconclusive else "KNEE")
    why = "" if verdict.sustained else f"  ({'; '.join(verdict.reasons)})"
    label = "" if run.purpose == "sweep" else f" [{run.purpose}]"
    return (
        f"  {result.allocations} alloc × {result.threads} thr  offered {run.rate:8.2f}/s  "
        f"sent {point.sent_rps:8.2f}/s  done {point.throughput_rps:8.2f}/s  "
        f"p99 {'–' if p99 is None else f'{p99:,.0f}'} ms  pending max "
        f"{'–' if point.pending_max is None else point.pending_max}  {status}{label}{why}"
    )
