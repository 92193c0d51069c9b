"""A load run against an Elastic Inference Service endpoint (service ``elastic``): no
allocations and no scaler there, but rate limits in requests and tokens per minute per usage
context, answered with 429 and ``Retry-After``.

What changes for such a run (``expectations.check_all`` asks :func:`is_eis`):

* the allocation checks (bounds, scale-up, scale-down, zero, from-zero) are skipped, each with
  the reason: an EIS endpoint has no deployment statistics to poll;
* one check takes their place, ``eis-rate-limits``: every 429 an EIS endpoint answered under
  load carries ``Retry-After`` (Elastic's EIS rate-limit docs: 429 "until the sliding window
  moves on"; ES ``BaseResponseHandler.addRetryAfterHeaderIfPresent`` passes EIS's header on);
  its detail and ``observed`` give the offered versus admitted requests and tokens per minute
  per usage context and the 429 share (:func:`usage`).

Tokens are the load generator's documented estimate (``corpus.estimate_tokens``: BERT's basic
tokenizer plus a WordPiece split rule, within about 17 % of bert-base-uncased on the bundled
passages; no tokenizer vocabulary is shipped), counted per request when it is sent: the
inference answer of Elasticsearch reports no token usage. Per minute means per minute of the
cluster's clock (wall time × the run's ``speedup``: a time-lapse target's window is shorter).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..endpoints import EIS_SERVICE
from ..runs.rundir import Expectation

# The usage context each load request reaches EIS in (ES ElasticInferenceServiceUsageContext
# .fromInputType: a semantic query's InputType.SEARCH/INTERNAL_SEARCH is "search", semantic_text
# ingest's INTERNAL_INGEST is "ingest", the REST inference API sends no input type:
# "unspecified").
USAGE_CONTEXT = {"SEARCH": "search", "BULK": "ingest", "POST": "unspecified"}
# The checks an EIS run skips, and why.
ALLOCATION_CHECKS = ("allocation-bounds", "scale-up", "scale-down", "zero", "from-zero")
NO_ALLOCATIONS = (
    "not applicable: the endpoint runs on the Elastic Inference Service (service elastic), "
    "which has no allocations and no adaptive-allocations scaler"
)
CHECK = "eis-rate-limits"


def is_eis(service: str | None) -> bool:
    """Whether an endpoint of ``service`` (its ``GET _inference`` answer) runs on EIS."""
    return service == EIS_SERVICE


@dataclass(frozen=True)
class ContextUsage:
    """One usage context's requests and tokens in a run, offered (sent) and admitted (200)."""

    context: str
    offered_requests: int
    admitted_requests: int
    offered_tokens: int
    admitted_tokens: int
    rate_limited: int  # answered 429
    with_retry_after: int  # of those, how many carried Retry-After

    def per_minute(self, minutes: float) -> dict[str, float]:
        """The four counts per cluster minute over ``minutes``."""
        span = max(minutes, 1e-9)
        return {
            "offered_requests_per_minute": round(self.offered_requests / span, 1),
            "admitted_requests_per_minute": round(self.admitted_requests / span, 1),
            "offered_tokens_per_minute": round(self.offered_tokens / span, 1),
            "admitted_tokens_per_minute": round(self.admitted_tokens / span, 1),
        }


def _int(value: Any) -> int:
    try:
        return int(float(value or 0))
    except (TypeError, ValueError):
        return 0


def usage(rows: Sequence[Mapping[str, Any]]) -> dict[str, ContextUsage]:
    """Requests and tokens per usage context from ``requests.csv`` rows of the load users
    (backlog rows were never sent: not offered). A bulk's admitted tokens are its tokens times
    the share of its documents acknowledged (EIS limits each batch of chunks on its own; a bulk
    answers 200 with item failures, no header: ``rate_limited`` counts 429 answers only)."""
    sums: dict[str, list[int]] = {}
    for row in rows:
        context = USAGE_CONTEXT.get(str(row.get("request_type")))
        if context is None or row.get("error_kind") == "backlog":
            continue
        status, tokens = _int(row.get("status")), _int(row.get("tokens"))
        admitted = status == 200
        admitted_tokens = tokens if admitted else 0
        if admitted and row.get("request_type") == "BULK":
            documents = _int(row.get("documents"))
            acknowledged = _int(row.get("acknowledged"))
            admitted = documents > 0 and acknowledged == documents
            admitted_tokens = tokens * acknowledged // documents if documents else 0
        limited = status == 429
        carried = limited and bool(row.get("retry_after"))
        counts = sums.setdefault(context, [0] * 6)
        for index, value in enumerate((1, admitted, tokens, admitted_tokens, limited, carried)):
            counts[index] += int(value)
    return {context: ContextUsage(context, *counts) for context, counts in sorted(sums.items())}


def check_rate_limits(rows: Sequence[Mapping[str, Any]], minutes: float) -> Expectation:
    """``eis-rate-limits``: every 429 carries ``Retry-After``; the usage in the detail."""
    found = usage(rows)
    if not found:
        return Expectation(CHECK, "429s carry Retry-After; tokens per usage context", False,
                           "no data recorded")  # fmt: skip
    limited = sum(u.rate_limited for u in found.values())
    carried = sum(u.with_retry_after for u in found.values())
    offered = sum(u.offered_requests for u in found.values())
    parts = []
    observed: dict[str, Any] = {"minutes": round(minutes, 3)}
    for item in found.values():
        rates = item.per_minute(minutes)
        observed[item.context] = {**rates, "rate_limited": item.rate_limited,
                                  "with_retry_after": item.with_retry_after,
                                  "offered_tokens": item.offered_tokens,
                                  "admitted_tokens": item.admitted_tokens}  # fmt: skip
        parts.append(
            f"{item.context}: offered {rates['offered_tokens_per_minute']:,.0f} tokens/min "
            f"({rates['offered_requests_per_minute']:,.0f} req/min), admitted "
            f"{rates['admitted_tokens_per_minute']:,.0f} tokens/min "
            f"({rates['admitted_requests_per_minute']:,.0f} req/min)"
        )
    share = limited / offered if offered else 0.0
    observed.update(rate_limited=limited, with_retry_after=carried, share_429=round(share, 4))
    figures = "; ".join(parts) + f"; 429 on {limited} of {offered} ({share:.1%})"
    if not limited:
        passed: bool | None = None
        verdict = "no 429 met: Retry-After not checked"
    else:
        passed = carried == limited
        verdict = (f"{carried} of {limited} 429s carried Retry-After"
                   + ("" if passed else " (EIS documents it on every 429)"))  # fmt: skip
    return Expectation(CHECK, "429s carry Retry-After; tokens per usage context", passed,
                       f"{verdict}; {figures}", observed)  # fmt: skip


def skipped_allocation_check(name: str) -> Expectation:
    """An allocation check that does not apply to an EIS endpoint, saying why."""
    return Expectation(name, "allocations follow the load (ML node)", None, NO_ALLOCATIONS)
