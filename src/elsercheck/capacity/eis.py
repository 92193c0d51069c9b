"""For a traffic: is ELSER on the Elastic Inference Service (EIS) or on an ML-node deployment
cheaper, and at what latency? (``elsercheck capacity --compare-eis``.)

EIS has no allocations: its capacity for a workload is the **rate-limit knee**, the rate at
which the first of its documented limits is reached (Elastic's EIS rate-limit docs,
https://www.elastic.co/docs/explore-analyze/elastic-inference/eis-rate-limits, values in
``reference.config.EisLimits``: per minute in a sliding window, requests, and tokens per usage
context; "whichever limit is reached first" answers 429):

    knee (units/s) = min(requests/min ÷ EIS requests per unit, tokens/min ÷ tokens per unit) ÷ 60

A unit is what the workload's load user sends (``units.py``): an inference request is one EIS
request (ES sends the REST API's whole input in one request), a semantic search one (its query
text), an ingest bulk ⌈chunks ÷ max_batch_size⌉ (ES batches a bulk's chunks, 16 by default:
#132646, #141185). Tokens per unit are the load generator's documented estimate
(``load/corpus.estimate_tokens``) over the corpus and mix, or the mean of a recorded EIS load
run's requests (``--eis-run``), which also gives EIS's latency at that traffic.

Usage context and its token limit: ES ``ElasticInferenceServiceUsageContext.fromInputType``
(``load/eis.USAGE_CONTEXT``); the REST inference API's requests are ``unspecified``, which
Elastic documents no token limit for: counted against the ingest limit, as the reference
server does (``reference/eis/upstream.TOKEN_BUCKET``), an assumption the report states.

Cost: EIS bills per million tokens (elastic/docs-content #3112, eis.md "Pricing": "All models
on EIS incur a charge per million tokens", the figure on Elastic's pricing page, not in the
docs; #3638, #7938); so the price is an option with no default (``--price-per-million-tokens``):
without it no EIS cost is given. The ML node's cost is the
recommendation's vCPU-hours a day (``recommend.py``) times ``--vcpu-hour-price``. Both are
given per day, per 1,000 units and per million tokens, over the same traffic (its day: the
peak/trough/idle split, or a recorded profile stretched to 24 h).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..endpoints import EIS_SERVICE
from ..load.corpus import DEFAULT_BATCH_SIZES, Corpus, parse_mix
from ..load.documents import load as load_documents
from ..load.eis import USAGE_CONTEXT
from ..load.workloads import bulk_tokens, request_tokens
from ..reference.config import EisLimits
from ..reference.eis.upstream import TOKEN_BUCKET
from ..reference.rules.elastic_service import DEFAULT_MAX_BATCH_SIZE
from ..runs import rundir
from ..runs.stats import percentile
from ..timebase import TimeBase
from .recommend import Recommendation
from .traffic import Traffic
from .units import unit_of

MILLION = 1_000_000
# EIS's limits are per minute in a sliding window (the rate-limit docs): a measured point waits
# this long (cluster time) first, so that the previous point's requests have left the window.
WINDOW_S = 60.0
POINT_WINDOWS = 3  # a measured point lasts at least this many windows (the first one's burst)


class ComparisonError(ValueError):
    """A comparison that cannot be made (one line)."""


@dataclass(frozen=True)
class Demand:
    """What one unit of the workload asks of EIS, and where the figures come from."""

    workload: str
    usage_context: str  # search, ingest or unspecified
    requests_per_unit: float  # EIS requests
    tokens_per_unit: float
    source: str

    @property
    def rate(self) -> str:
        """The rate label of the workload's unit (``req/s``, ``searches/s``, ``bulks/s``)."""
        return unit_of(self.workload).rate

    @property
    def token_limit(self) -> str:
        """The usage context whose token limit applies (``TOKEN_BUCKET``)."""
        return TOKEN_BUCKET[self.usage_context]


def demand_of(workload: str, corpus: str, mix: str, batch_share: float, bulk_size: int) -> Demand:
    """The estimate from the corpus and the mix the sweep sends."""
    unit = unit_of(workload)
    context = USAGE_CONTEXT[unit.request_type]
    if workload == "ingest":
        documents = load_documents(corpus or None)
        chunks = bulk_size * statistics.fmean(d.chunks for d in documents)
        return Demand(workload, context, math.ceil(chunks / DEFAULT_MAX_BATCH_SIZE),
                      bulk_tokens(documents, bulk_size),
                      f"estimated: {bulk_size} corpus documents a bulk, {chunks:.3g} chunks in "
                      f"batches of {DEFAULT_MAX_BATCH_SIZE}")  # fmt: skip
    loaded = Corpus.load(corpus or None)
    if workload == "search":
        tokens = statistics.fmean(item.tokens for item in loaded.bucket("query"))
        return Demand(workload, context, 1.0, tokens, "estimated: the corpus' queries")
    tokens = request_tokens(loaded, parse_mix(mix), batch_share, DEFAULT_BATCH_SIZES)
    return Demand(workload, context, 1.0, tokens,
                  f"estimated: mix {mix}, batch share {batch_share:g}")  # fmt: skip


@dataclass(frozen=True)
class MeasuredEis:
    """A recorded load run against an EIS endpoint: its demand and latency (cluster ms)."""

    demand: Demand
    p50_ms: float | None
    p99_ms: float | None
    run_id: str


def measured_run(run_dir: Path, workload: str) -> MeasuredEis:
    """Tokens per unit and latency of the workload's rows in a load run whose endpoint ran
    on EIS (run.json ``endpoint.service``); :class:`ComparisonError` otherwise."""
    run_json = run_dir / rundir.RUN_JSON
    try:
        run = rundir.read_json(run_json)
        rows = list(rundir.read_csv(run_dir / rundir.REQUESTS_CSV))
    except (OSError, ValueError) as exc:
        raise ComparisonError(f"--eis-run {run_dir}: not a load run ({exc})") from None
    endpoint = run.get("endpoint") if isinstance(run, dict) else None
    service = endpoint.get("service") if isinstance(endpoint, dict) else None
    if service != EIS_SERVICE:
        raise ComparisonError(
            f"--eis-run {run_dir}: its endpoint's service is {service!r}, not "
            f"{EIS_SERVICE!r} (give a load run against an EIS endpoint)"
        )
    unit = unit_of(workload)
    mine = [r for r in rows if r.get("request_type") == unit.request_type]
    tokens = [float(r["tokens"]) for r in mine if r.get("tokens") not in (None, "")]
    if not tokens:
        raise ComparisonError(f"--eis-run {run_dir}: no {unit.noun} with tokens in requests.csv")
    clock = TimeBase.from_run(run if isinstance(run, dict) else None)
    latencies = sorted(
        clock.to_cluster(float(r["latency_ms"])) for r in mine if r.get("status") == 200
    )
    per_request = 1.0  # an inference request or a search: one EIS request
    if workload == "ingest":  # a bulk: its chunks in batches
        chunks = [float(r["chunks"]) for r in mine if r.get("chunks") not in (None, "")]
        if chunks:
            per_request = math.ceil(statistics.fmean(chunks) / DEFAULT_MAX_BATCH_SIZE)
    demand = Demand(workload, USAGE_CONTEXT[unit.request_type], per_request,
                    statistics.fmean(tokens),
                    f"measured: {len(tokens)} {unit.noun} of run {run.get('run_id')}")  # fmt: skip
    return MeasuredEis(demand, percentile(latencies, 50), percentile(latencies, 99),
                       str(run.get("run_id")))  # fmt: skip


@dataclass(frozen=True)
class Knee:
    """EIS's admitted rate at its limits for one demand."""

    units_per_s: float
    binding: str  # "requests" or "tokens": the limit reached first
    requests_per_minute: int
    tokens_per_minute: int
    token_limit: str  # the usage context whose token limit applies


def knee(demand: Demand, limits: EisLimits | None = None) -> Knee:
    """The rate of units at which the first limit is reached (``limits``: the documented ones
    unless given)."""
    limits = limits or EisLimits()
    tpm = (limits.search_tokens_per_minute if demand.token_limit == "search"
           else limits.ingest_tokens_per_minute)  # fmt: skip
    by_requests = limits.requests_per_minute / demand.requests_per_unit / 60
    by_tokens = tpm / demand.tokens_per_unit / 60
    binding = "tokens" if by_tokens < by_requests else "requests"
    return Knee(min(by_requests, by_tokens), binding, limits.requests_per_minute, tpm,
                demand.token_limit)  # fmt: skip


def units_per_day(traffic: Traffic) -> float:
    """Units a day: the day's peak/trough/idle split, or the profile stretched to 24 h."""
    if traffic.profile:
        total = sum(rate * traffic.bin_s for _, rate in traffic.profile)
        return total * 86_400.0 / traffic.duration_s
    return sum(rate * seconds for rate, seconds in traffic.day_segments())


@dataclass(frozen=True)
class Side:
    """One way of serving the traffic: cost a day (None: no price given) and latency."""

    name: str
    cost_per_day: float | None
    p99_ms: float | None
    latency_source: str
    cost_basis: str

    def per(self, amount_per_day: float, scale: float) -> float | None:
        if self.cost_per_day is None or amount_per_day <= 0:
            return None
        return self.cost_per_day / amount_per_day * scale


@dataclass(frozen=True)
class Comparison:
    """EIS versus the ML-node recommendation for one traffic, with the verdict in numbers."""

    demand: Demand
    knee: Knee
    peak_units_per_s: float
    units_per_day: float
    tokens_per_day: float
    fits: bool
    refused_share_at_peak: float  # of the peak's units, beyond the knee
    measured_knee: float | None  # the admitted rate an EIS sweep measured, when one ran
    ml: Side
    eis: Side
    verdict: str
    assumptions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        def side(item: Side) -> dict[str, Any]:
            return {**asdict(item),
                    "cost_per_1000_units": item.per(self.units_per_day, 1000),
                    "cost_per_million_tokens": item.per(self.tokens_per_day, MILLION)}  # fmt: skip

        return {
            "demand": asdict(self.demand),
            "knee": asdict(self.knee),
            "peak_units_per_s": self.peak_units_per_s,
            "units_per_day": self.units_per_day,
            "tokens_per_day": self.tokens_per_day,
            "fits": self.fits,
            "refused_share_at_peak": self.refused_share_at_peak,
            "measured_knee_units_per_s": self.measured_knee,
            "ml_node": side(self.ml),
            "eis": side(self.eis),
            "verdict": self.verdict,
            "assumptions": list(self.assumptions),
        }

    def lines(self) -> list[str]:
        """The terminal rendering."""
        k, d = self.knee, self.demand
        out = [
            f"EIS versus the ML node for this traffic ({d.workload}; {d.source}: "
            f"{d.tokens_per_unit:,.1f} tokens and {d.requests_per_unit:g} EIS request(s) per "
            f"unit, one of the {unit_of(d.workload).noun}):",
            f"  EIS limits: {k.requests_per_minute:,} requests/min, {k.tokens_per_minute:,} "
            f"{k.token_limit} tokens/min → knee {k.units_per_s:,.2f} {d.rate} "
            f"(the {k.binding} limit first)"
            + ("" if self.measured_knee is None
               else f", measured {self.measured_knee:,.2f} {d.rate} admitted")
            + f"; peak {self.peak_units_per_s:,.2f} {d.rate} "
            + ("fits" if self.fits else f"does not fit: {self.refused_share_at_peak:.0%} of "
               "the peak beyond the limit (429)"),
            f"  a day: {self.units_per_day:,.0f} {unit_of(d.workload).noun}, "
            f"{self.tokens_per_day:,.0f} tokens",
        ]  # fmt: skip
        for item in (self.ml, self.eis):
            cost = ("no price given" if item.cost_per_day is None
                    else f"{item.cost_per_day:,.2f} a day ({item.cost_basis})")  # fmt: skip
            p99 = "p99 not measured" if item.p99_ms is None else f"p99 {item.p99_ms:,.0f} ms"
            out.append(f"  {item.name}: {cost}; {p99} ({item.latency_source})")
        out.append(f"  verdict: {self.verdict}")
        out.extend(f"  assumption: {text}" for text in self.assumptions)
        return out


def compare(
    demand: Demand,
    traffic: Traffic,
    recommendation: Recommendation,
    *,
    ml_p99_ms: float | None,
    limits: EisLimits | None = None,
    price_per_million_tokens: float | None = None,
    eis_p99_ms: float | None = None,
    eis_latency_source: str | None = None,
    measured_knee: float | None = None,
) -> Comparison:
    """The comparison for ``traffic`` (the workload's units per cluster second); the peak
    fits EIS when it is within the measured knee (an EIS sweep ran), else the limits' knee."""
    if price_per_million_tokens is not None and not (
        math.isfinite(price_per_million_tokens) and price_per_million_tokens >= 0
    ):
        raise ComparisonError(f"--price-per-million-tokens must be a finite number >= 0, not "
                              f"{price_per_million_tokens}")  # fmt: skip
    limits = limits or EisLimits()
    at = knee(demand, limits)
    peak = traffic.peak_rps
    admitted = at.units_per_s if measured_knee is None else measured_knee
    fits = peak <= admitted
    refused = 0.0 if fits or peak <= 0 else 1 - admitted / peak
    per_day = units_per_day(traffic)
    tokens = per_day * demand.tokens_per_unit
    cost = recommendation.cost
    ml = Side("ML node", cost.cost_per_day, ml_p99_ms,
              "the capacity point's p99, cluster ms",
              f"{cost.vcpu_hours_per_day:,.1f} vCPU-hours × the vCPU-hour price")  # fmt: skip
    price = price_per_million_tokens
    eis = Side("EIS", None if price is None else tokens / MILLION * price, eis_p99_ms,
               eis_latency_source or "give --eis-run: a load run against an EIS endpoint",
               "" if price is None else f"{tokens / MILLION:,.2f} million tokens × {price:g} "
               "per million")  # fmt: skip
    assumptions = []
    if demand.usage_context == "unspecified":
        assumptions.append("the REST inference API's requests (usage context unspecified) are "
                           "counted against the ingest token limit: Elastic documents token "
                           "limits for search and ingest only")  # fmt: skip
    assumptions.append(
        "EIS limits as documented (defaults of reference.config.EisLimits); a project's own "
        "limits may differ"
        if limits == EisLimits()
        else "EIS limits as the embedded server was given them (--eis-limits), not Elastic's"
    )
    return Comparison(demand, at, peak, per_day, tokens, fits, refused, measured_knee, ml, eis,
                      _verdict(fits, refused, admitted, at.binding, ml, eis, demand.rate),
                      tuple(assumptions))  # fmt: skip


def _verdict(fits: bool, refused: float, admitted: float, binding: str, ml: Side, eis: Side,
             rate: str) -> str:  # fmt: skip
    if not fits:
        return (f"ML node: EIS's {binding} limit admits {admitted:,.2f} {rate}, "
                f"{refused:.0%} of the peak would be answered 429 (ask Elastic for higher "
                "limits to reconsider)")  # fmt: skip
    if ml.cost_per_day is None or eis.cost_per_day is None:
        missing = [flag for flag, side in (("--vcpu-hour-price", ml),
                                           ("--price-per-million-tokens", eis))
                   if side.cost_per_day is None]  # fmt: skip
        return f"the traffic fits EIS's limits; no cost verdict without {' and '.join(missing)}"
    cheaper, dearer = (eis, ml) if eis.cost_per_day <= ml.cost_per_day else (ml, eis)
    assert cheaper.cost_per_day is not None and dearer.cost_per_day is not None
    saving = dearer.cost_per_day - cheaper.cost_per_day
    text = (f"{cheaper.name}: {cheaper.cost_per_day:,.2f} a day against "
            f"{dearer.cost_per_day:,.2f} ({saving:,.2f} a day less)")  # fmt: skip
    if cheaper.p99_ms is not None and dearer.p99_ms is not None:
        relation = "above" if cheaper.p99_ms > dearer.p99_ms else "at or below"
        text += (f", its p99 {cheaper.p99_ms:,.0f} ms {relation} the {dearer.name}'s "
                 f"{dearer.p99_ms:,.0f} ms")  # fmt: skip
    else:
        text += "; latency not compared (one side's p99 not measured)"
    return text
