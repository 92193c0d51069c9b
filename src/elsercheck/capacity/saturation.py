"""The deployment's throughput when never idle: each cell's saturation point.

Elastic's ELSER benchmarks publish this figure (documents per second at a number of
allocations, every allocation busy: ml-nlp-elser.md "Benchmark information"), and so does
Rally's ``elser-ingest-speedtest`` (bulks as fast as the deployment takes them). The sweep's
knee is another figure, the rate that keeps a p99 objective; it is noisy by nature (a window's
p99 is a few long batches), while the saturation throughput is a count of finished work.

The point keeps the deployment busy without flooding it: :func:`outstanding` units in flight
(each load user one at a time, offered more than the deployment completes), so its queue never
empties and stays far below ``queue_capacity`` (no 429, no timeout). Throughput is the work
completed in the window (``point.py``'s: after the warm-up share) per cluster second. A unit
completes with all its deployment requests, so counting units makes the mix's long batches
noise: a unit's service time varies by 2.4 times its mean in the default mix, ±12 % in a
minute at one allocation. Each completed inference request is counted by its work instead, in
units of the mix's mean: per input and per token as the probe's requests took them in the
model (the stats API's model time read after each, fitted to their inputs and tokens;
``deployment.Probe.work_ms``), the mix's exact mean inputs and tokens the unit. The work
is then the busy time, give or take the work in progress at the ends (:func:`estimate`).
Bulks vary less (0.13), but 40 of them at one allocation still drew 4.6 % too few chunks in
one run: a bulk is weighed by its chunks' tokens over a bulk's mean. Searches (one short
query each) are counted.

Saturated means a request was waiting at (nearly) every stats poll of the window, more pending
than allocations; otherwise the figure is a lower bound and says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..load import simulator
from ..runs import rundir
from ..timebase import TimeBase
from .point import WARMUP_SHARE
from .statistics import t_quantile

# Offered rate over the higher of the probe's estimate of saturation and the best throughput
# the sweep saw (at most saturation; a low knee can leave it at half). A sender with its unit
# in flight drops the arrivals due meanwhile (``backlog``) and sends at its next one: at an
# offered k × saturation it waits 1/k of a cycle, so about (1 - 1/k) of the senders have a
# unit in flight. From the sweep alone k was 1.5 once (a knee at 0.4 of saturation): a third
# in flight, idle allocations even with twice the senders.
OVERDRIVE = 3.0
# Senders (one unit in flight each), per allocation and beyond: with a third to two thirds
# of them in flight, more units than allocations are queued nearly always. A sender waits
# out its next arrival after each answer, so at one allocation 4 + 4 inference senders left
# it idle 3 % of the time (nothing waiting at 4 % of the polls), and 4 + 8 still 2.1 % (the
# stats API's model time over the window; no request in flight 1.5 % of it, between polls
# that all saw one waiting): 6.11–6.17 for the model's 6.27 in four bench runs, the model
# outside the interval in two. 4 + 16: busy throughout, 6.29 (6.26–6.32). A search's round
# trip also holds the index's search and two HTTP hops, long against its one short query's
# model time: more of them. A bulk puts up to ten chunks in the queue at once
# (reference/indices/ingest.py): fewer. Far below the deployment's queue_capacity (1024
# requests) in every case.
IN_FLIGHT = {"inference": (4.0, 16), "search": (8.0, 8), "ingest": (0.4, 4)}
ATTEMPTS = 2  # a window with allocations idle at times runs again, twice the senders and rate
MIN_UNITS = 40  # the window holds at least this many units at the estimate (bulks: ±1 of 40)
# Stats polls with a request waiting, at least, for a saturated window: more pending than
# allocations (number_of_pending_requests counts the running ones too), so every one was
# busy. At 96 % one allocation still lost 3 % of its time.
QUEUED_SHARE = 0.97
Z95 = 1.96
BATCHES = 10  # runs of consecutive completions of the batch-means interval


@dataclass(frozen=True)
class SaturationPlan:
    """How the saturation point runs: offered rate (cluster units/s), senders, and its length
    in cluster seconds (window plus warm-up)."""

    rate: float
    users: int
    seconds: float


def outstanding(allocations: int, workload: str) -> int:
    """Units kept in flight at the saturation point."""
    share, extra = IN_FLIGHT.get(workload, IN_FLIGHT["inference"])
    return math.ceil(share * allocations) + extra


def plan(
    allocations: int, workload: str, estimate_rps: float, seen_rps: Sequence[float],
    point_seconds: float, seconds: float | None = None,
) -> SaturationPlan:  # fmt: skip
    """The saturation point of a cell: the higher of ``estimate_rps`` (the probe's) and
    ``seen_rps`` (the sweep's throughputs and sustained rates) sets the offered rate;
    ``seconds`` given (cluster) is the point's length, else at least ``point_seconds`` and long
    enough for :data:`MIN_UNITS` units after the warm-up at the best throughput seen (or the
    estimate, when the sweep measured nothing)."""
    seen = max(seen_rps, default=0.0)
    best = max(seen, estimate_rps)
    length = seconds
    if length is None:
        length = point_seconds
        if (expected := seen or estimate_rps) > 0:
            length = max(length, MIN_UNITS / expected / (1 - WARMUP_SHARE))
    return SaturationPlan(OVERDRIVE * best, outstanding(allocations, workload), length)


@dataclass(frozen=True)
class Saturation:
    """What the saturation point measured (cluster time): ``rps`` units of the mix's mean
    work per second (``weighted``) or units counted; its 95 % interval; whether the deployment
    was ``saturated`` (``queued_share`` of polls with requests pending)."""

    offered_rps: float
    window_s: float
    rps: float
    ci_low: float
    ci_high: float
    method: str
    units: int
    weighted: bool
    queued_share: float | None
    saturated: bool
    errors: dict[str, int]
    simulator: dict[str, Any] | None
    run_dir: str = ""

    @property
    def inconclusive(self) -> bool:
        """The embedded server's simulation fell behind: its timings are distorted."""
        return self.simulator is not None and not self.simulator.get("kept_up", True)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("offered_rps", "window_s", "rps", "ci_low", "ci_high", "queued_share"):
            if data[key] is not None:
                data[key] = round(data[key], 4)
        data["inconclusive"] = self.inconclusive
        return data


def state(inconclusive: bool, saturated: bool) -> str:
    """What a saturation point's figure is, in the words every report uses."""
    if inconclusive:
        return "inconclusive: the embedded server's simulation was behind"
    return "saturated" if saturated else "not saturated: a lower bound"


Weigh = Callable[[Mapping[str, Any]], float]


def read_saturation(
    run_dir: Path, offered_rps: float, duration_s: float, clock: TimeBase, request_type: str,
    allocations: int, weigh: Weigh | None = None,
) -> Saturation:  # fmt: skip
    """The saturation point of the run in ``run_dir`` (``duration_s`` wall seconds on the
    target's ``clock``): completions in the window per cluster second, each weighed by
    ``weigh(row)`` (its work in units of the mix's mean) when given, else counted."""
    start, end = WARMUP_SHARE * duration_s, duration_s
    done: list[tuple[float, float]] = []  # (completion, work) of the window's completions
    errors: dict[str, int] = {}
    for row in rundir.read_csv(run_dir / rundir.REQUESTS_CSV):
        if row.get("request_type") != request_type or row.get("elapsed_s") is None:
            continue
        kind = row["error_kind"]
        if kind:
            if kind != "backlog" and start <= row["elapsed_s"] < end:  # backlog: never sent
                errors[kind] = errors.get(kind, 0) + 1
            continue
        if row.get("latency_ms") is None:
            continue
        finished = row["elapsed_s"] + row["latency_ms"] / 1000.0
        if start <= finished < end:
            done.append((finished, weigh(row) if weigh is not None else 1.0))
    rate, half = estimate(done, start, end)  # per wall second
    window = max(end - start, 1e-9)
    allocation_rows = list(rundir.read_csv(run_dir / rundir.ALLOCATIONS_CSV))
    queued = queued_share(allocation_rows, start, end, allocations)
    how = "work-weighted completions" if weigh is not None else "completions"
    return Saturation(
        offered_rps=offered_rps,
        window_s=clock.to_cluster(window),
        rps=clock.cluster_rate(rate),
        ci_low=clock.cluster_rate(max(rate - half, 0.0)),
        ci_high=clock.cluster_rate(rate + half),
        method=f"{len(done)} {how}; interval: batch means and the work in progress",
        units=len(done),
        weighted=weigh is not None,
        queued_share=queued,
        saturated=queued is not None and queued >= QUEUED_SHARE and not errors,
        errors=errors,
        simulator=simulator.summarize(allocation_rows),
        run_dir=str(run_dir),
    )


def estimate(done: Sequence[tuple[float, float]], start: float, end: float) -> tuple[float, float]:
    """The rate of work completed in [start, end) from ``done`` ((completion time, work) of
    the completions in it) and its 95 % half-width.

    A unit's work is credited when it completes, so credited work runs behind the busy time
    by the work in progress. The rate is measured from the first completion to the last, the
    work completed after the first over that span: at a completion the allocation that
    finished has nothing in progress (one allocation: exact, whatever a batch of long
    passages straddling the window's ends would have made of it, ±15 % of a minute).

    The interval is the wider of two. Batch means: the completions in :data:`BATCHES` runs
    of consecutive ones, each a ratio of its work to its span (from the run before's last
    completion), Student's t over their residuals; they catch work that wanders like a
    random walk (units counted, their service times varying; weights that miss). And the
    work in progress, L(t) = rate × t − W(t), zero at both ends by the rate's definition,
    read after every completion: its root mean square × √6 (√2 for two independent ends,
    √3 for a bridge's variance averaging a third of its end's), for the work in progress of
    other allocations at the span's ends. Checked on saturated queues of the real mixes
    (tests/test_capacity_saturation.py)."""
    ordered = sorted(done)
    if len(ordered) < BATCHES + 1:  # too few to measure a span by: the window's count
        rate = math.fsum(work for _, work in ordered) / max(end - start, 1e-9)
        return rate, rate
    first = ordered[0][0]
    after = ordered[1:]
    span = max(ordered[-1][0] - first, 1e-9)
    rate = math.fsum(work for _, work in after) / span
    if rate <= 0:
        return rate, rate
    lags: list[float] = []
    credited = 0.0
    for finished, work in after:
        credited += work
        lags.append(rate * (finished - first) - credited)
    bridge = Z95 * math.sqrt(6.0 * math.fsum(lag * lag for lag in lags) / len(lags)) / span
    residuals, previous, count = [], first, len(after)
    for batch in range(BATCHES):
        run = after[batch * count // BATCHES : (batch + 1) * count // BATCHES]
        work = math.fsum(w for _, w in run)
        residuals.append(work - rate * (run[-1][0] - previous))
        previous = run[-1][0]
    spread = math.sqrt(BATCHES * math.fsum(r * r for r in residuals) / (BATCHES - 1)) / span
    return rate, max(bridge, t_quantile(BATCHES - 1) * spread)


def queued_share(
    allocation_rows: Sequence[Mapping[str, Any]], start: float, end: float, allocations: int
) -> float | None:
    """The share of the window's stats polls at which a request waited: more pending
    (``number_of_pending_requests``, running ones included) than ``allocations``; None
    without polls (no stats API)."""
    pending = [
        row["number_of_pending_requests"]
        for row in allocation_rows
        if row.get("elapsed_s") is not None
        and start <= row["elapsed_s"] < end
        and row.get("number_of_pending_requests") is not None
    ]
    return sum(1 for value in pending if value > allocations) / len(pending) if pending else None


def work_weights(
    per_input_ms: float, per_token_ms: float, mean_inputs: float, mean_tokens: float
) -> Weigh | None:
    """A unit's work in units of the mean one's: ``per_input_ms`` × its inputs +
    ``per_token_ms`` × its tokens (a row's ``inputs`` and ``tokens``), over the same of the
    mean inputs and tokens (exact ones, ``corpus.expected_per_request``: the mean of 50,000
    draws of the default mix is 1.9 % short of its tokens, and an estimate as far off); None
    when the mean unit has no work."""
    mean = per_input_ms * mean_inputs + per_token_ms * mean_tokens
    if mean <= 0:
        return None

    def weigh(row: Mapping[str, Any]) -> float:
        inputs, tokens = row.get("inputs"), row.get("tokens")
        n = inputs if isinstance(inputs, int | float) else 1
        t = tokens if isinstance(tokens, int | float) else 0
        return (per_input_ms * n + per_token_ms * t) / mean

    return weigh
