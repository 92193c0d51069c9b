"""Whether one point of a sweep was sustained, and where the knee is: pure functions.

A point is *sustained* when every rule of :data:`RULES` holds: the deployment completed what was
offered (throughput not below the arrivals), its queue did not grow over the window (the stats
API's ``number_of_pending_requests``, ES ``AssignmentStats.NodeStats``), it rejected or timed out
next to nothing (429 ``es_rejected_execution_exception`` when the queue is full, 408 after the
inference timeout: ES ``InferenceAction``/``TrainedModelAssignmentNodeService``), no bulk item
failed (ingest: a document that was not indexed was not served; ingest waits in the queue
without a timeout, so a full queue shows as failed items of a 200 bulk,
``ShardBulkInferenceActionFilter``), and its p99 stayed within the objective. A generator that
could not send the offered rate makes the point *inconclusive*: the deployment was not the
bottleneck that failed it; so does an embedded server whose simulation fell behind its modelled
time (the point's ``simulator``, load/simulator.py): the load machine, not the model, set it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .point import Point

# Thresholds of the rules, as data (the README's capacity section names them).
THROUGHPUT_SHORTFALL = 0.08  # completions may lag arrivals by this share (requests in flight)
THROUGHPUT_SHORTFALL_SD = 2.0  # ... or by this many √(arrivals), whichever is more
QUEUE_GROWTH_SHARE = 0.05  # pending may grow by this share of the window's arrivals ...
QUEUE_GROWTH_MIN = 3.0  # ... and by at least this many requests (noise of a small queue)
# ... and by this many standard deviations of the window's arrivals counted in deployment
# requests: a batch or bulk of many arriving near the window's end lifts a stable queue. One:
# past saturation a 60 s window's growth is only 1-3 of them (1.1-1.3× the virtual clock's
# saturation, median), so a wider limit lets overload pass as sustained.
QUEUE_GROWTH_SD = 1.0
REJECTED_SHARE = 0.01  # 429, 408, client timeouts and the generator's backlog together
GENERATOR_SHORTFALL = 0.10  # arrivals below the offered rate by more: the generator fell behind


@dataclass(frozen=True)
class Judgement:
    """One point's verdict: ``sustained``; ``reasons`` says why not (empty when it was);
    ``inconclusive`` when the load machine (generator or simulator), not the target, fell
    short."""

    sustained: bool
    reasons: tuple[str, ...]
    inconclusive: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "sustained": self.sustained,
            "reasons": list(self.reasons),
            "inconclusive": self.inconclusive,
        }


def judge(point: Point, slo_p99_ms: float) -> Judgement:
    """The verdict of one point against the latency objective (cluster-time ms)."""
    reasons: list[str] = []
    sent = point.sent_rps * point.window_s
    # Completions lag arrivals by what is in flight at the window's ends: a few requests, which
    # weigh more in a small window, hence the count-based floor.
    allowed = max(THROUGHPUT_SHORTFALL * sent, THROUGHPUT_SHORTFALL_SD * math.sqrt(sent))
    if sent - point.throughput_rps * point.window_s > allowed:
        reasons.append(
            f"throughput {point.throughput_rps:.3g}/s below arrivals {point.sent_rps:.3g}/s"
        )
    # The pending count is in deployment requests (one per input or chunk: ES
    # TransportInferTrainedModelDeploymentAction.taskOperation queues task.infer per input), the
    # arrivals in units: a bulk of 25 chunks arriving at the window's end lifts it by 25, not 1.
    # So the arrivals' noise is a compound Poisson count's, √(units × E[requests per unit²]),
    # not √units × the mean: with the default mix's batches 1.5 times that, whose limit failed
    # stable points on noise alone (7 of 94 points of 10 virtual-clock sweeps, at 0.59-0.99 of
    # the model's knee; pending +14 against 12 at 58 % of it in a real 20 s point).
    growth_limit = max(
        point.requests_per_unit * max(QUEUE_GROWTH_MIN, QUEUE_GROWTH_SHARE * sent),
        QUEUE_GROWTH_SD * math.sqrt(sent * point.requests_sq_per_unit),
    )
    if point.pending_growth is not None and point.pending_growth > growth_limit:
        reasons.append(
            f"pending requests grew by {point.pending_growth:.0f} over the window "
            f"(limit {growth_limit:.0f})"
        )
    if point.rejected_share > REJECTED_SHARE:
        kinds = ", ".join(f"{kind} ×{count}" for kind, count in sorted(point.rejected.items()))
        reasons.append(f"{point.rejected_share:.1%} rejected or timed out ({kinds})")
    if point.item_failures:
        kinds = ", ".join(f"{kind} ×{count}" for kind, count in sorted(point.item_failures.items()))
        reasons.append(f"{sum(point.item_failures.values())} bulk item(s) failed ({kinds})")
    p99 = point.latency_ms.get("p99")
    if p99 is None:
        reasons.append("no successful request in the window")
    elif p99 > slo_p99_ms:
        reasons.append(f"p99 {p99:.0f} ms above the objective {slo_p99_ms:.0f} ms")
    if generator_behind(point):
        reasons.append(
            f"the generator sent {point.sent_rps:.3g}/s of {point.offered_rps:.3g}/s offered"
        )
    behind = generator_behind(point)
    lag = point.simulator
    simulator_behind = lag is not None and not lag.get("kept_up", True)
    if simulator_behind:
        assert lag is not None
        reasons.append(
            f"the embedded server's simulation was behind (its event loop stalled "
            f"{lag.get('share', 0):.1%} of the run): its timings are distorted"
        )
    # Behind and nothing else wrong: the target was never offered the rate, no verdict on it.
    # A simulator behind distorts every figure of the point: no verdict either.
    inconclusive = simulator_behind or (behind and len(reasons) == 1)
    return Judgement(not reasons, tuple(reasons), inconclusive)


def generator_behind(point: Point) -> bool:
    """Whether the arrivals fell short of the offered rate by more than
    :data:`GENERATOR_SHORTFALL` and by more than Poisson counting noise (three standard
    deviations of the expected count)."""
    expected = point.offered_rps * point.window_s
    sent = point.sent_rps * point.window_s
    return sent < (1 - GENERATOR_SHORTFALL) * expected and expected - sent > 3 * math.sqrt(expected)


@dataclass(frozen=True)
class Knee:
    """Between the highest sustained and the lowest failed offered rate (cluster req/s);
    either may be ``None`` (nothing sustained; nothing failed within the sweep)."""

    sustained_rps: float | None
    failed_rps: float | None

    @property
    def rps(self) -> float | None:
        """The knee's offered rate: the middle of its bracket, or the side that is known."""
        if self.sustained_rps is not None and self.failed_rps is not None:
            return (self.sustained_rps + self.failed_rps) / 2
        return self.failed_rps

    def to_json(self) -> dict[str, float | None]:
        return {"sustained_rps": self.sustained_rps, "failed_rps": self.failed_rps, "rps": self.rps}


def knee(verdicts: Sequence[tuple[float, Judgement]]) -> Knee:
    """The knee from (offered rate, judgement) pairs, inconclusive ones left out.

    The highest sustained rate below the lowest failed one (a rate sustained above a failure is
    noise at the edge and does not move the knee up).
    """
    decided = [(rate, j) for rate, j in verdicts if not j.inconclusive]
    failed = [rate for rate, j in decided if not j.sustained]
    lowest_failed = min(failed) if failed else None
    sustained = [
        rate
        for rate, j in decided
        if j.sustained and (lowest_failed is None or rate < lowest_failed)
    ]
    return Knee(max(sustained) if sustained else None, lowest_failed)
