"""The headline metrics compared between runs: where each lives, which way is worse, and
the default regression threshold. One table; the comparison, the trend charts and the
``--threshold`` option all read it.

A threshold is a relative change in percent (``%``) or, for rates that are already
percentages, an absolute change in percentage points (``points``): an error rate going from
0.5 % to 1.5 % is +1 point, not +200 %. ``None`` means "shown, never a regression" unless
``--threshold`` sets one.

A regression also has to lie beyond the noise of the earlier runs (compare.py): a threshold
is the smallest change that matters, the interval the largest one noise explains.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

HIGHER, LOWER = "higher", "lower"  # the direction in which "worse" lies
PCT, POINTS = "%", "points"


@dataclass(frozen=True)
class Metric:
    key: str  # the name used by --threshold and in summary.json's comparison
    label: str
    unit: str
    path: tuple[str, ...]  # into summary.json's "load" section (summarize())
    worse: str  # HIGHER or LOWER
    threshold: float | None
    threshold_unit: str = PCT
    trend: bool = False  # drawn in the history trend charts
    # Of one workload only (ingest, search): left out of a comparison and the trends when
    # no run in it has a value, so an inference-only run's report stays as it was.
    optional: bool = False

    def value(self, load: Mapping[str, Any] | None) -> float | None:
        """This metric's value in a ``load`` summary, or ``None`` when absent."""
        node: Any = load
        for key in self.path:
            if not isinstance(node, Mapping):
                return None
            node = node.get(key)
        return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


METRICS: tuple[Metric, ...] = (
    Metric("throughput_rps", "Throughput", "req/s", ("requests", "throughput_rps"),
           LOWER, 15.0, trend=True),
    Metric("latency_p50_ms", "Latency p50", "ms", ("latency_ms", "p50"), HIGHER, 25.0, trend=True),
    Metric("latency_p90_ms", "Latency p90", "ms", ("latency_ms", "p90"), HIGHER, 25.0),
    Metric("latency_p99_ms", "Latency p99", "ms", ("latency_ms", "p99"), HIGHER, 25.0, trend=True),
    Metric("latency_mean_ms", "Latency mean", "ms", ("latency_ms", "mean"), HIGHER, 25.0),
    # One slow request decides the maximum: too noisy to gate on by default.
    Metric("latency_max_ms", "Latency max", "ms", ("latency_ms", "max"), HIGHER, None),
    Metric("error_rate_pct", "Error rate", "%", ("requests", "error_rate_pct"),
           HIGHER, 2.0, POINTS, trend=True),
    Metric("time_to_scale_up_s", "Time to scale up", "s", ("allocations", "time_to_scale_up_s"),
           HIGHER, 50.0, trend=True),
    Metric("first_scale_up_s", "First scale-up decision", "s",
           ("allocations", "first_scale_up_s"), HIGHER, None),
    # More allocations under the same load is not worse in itself (cost vs capacity): shown only.
    Metric("max_allocations", "Max allocations", "", ("allocations", "max_allocation_count"),
           LOWER, None, trend=True),
    Metric("max_pending_requests", "Max pending requests", "",
           ("allocations", "max_pending_requests"), HIGHER, None),
    Metric("time_to_fully_allocated_s", "Time to fully allocated (median)", "s",
           ("lifecycle", "time_to_fully_allocated", "median_s"), HIGHER, None),
    # Cost (load.cost): per 1,000 successful inferences, so a run that served more is not
    # "worse" for holding more allocations; idle share in points like the error rate.
    Metric("allocation_hours_per_1000", "Allocation-hours per 1,000 inferences", "h",
           ("cost", "allocation_hours_per_1000"), HIGHER, 25.0, trend=True),
    Metric("vcpu_hours_per_1000", "vCPU-hours per 1,000 inferences", "h",
           ("cost", "vcpu_hours_per_1000"), HIGHER, None),
    Metric("idle_share_pct", "Idle share of allocation-time", "%", ("cost", "idle_share_pct"),
           HIGHER, 10.0, POINTS, trend=True),
    # Scale-from-zero (load.cold_starts): only runs that went to zero and were woken have it.
    Metric("cold_start_p95_s", "Cold start p95 (first arrival → first success)", "s",
           ("cold_starts", "p95_s"), HIGHER, 50.0, optional=True),
    # Ingest and search workloads (load.ingest_summary), judged as their inference peers.
    Metric("ingest_documents_per_s", "Ingest documents/s", "docs/s",
           ("ingest", "documents_per_s"), LOWER, 15.0, trend=True, optional=True),
    Metric("ingest_chunks_per_s", "Ingest chunks/s", "chunks/s", ("ingest", "chunks_per_s"),
           LOWER, 15.0, optional=True),
    Metric("ingest_item_failure_rate_pct", "Bulk item failure rate", "%",
           ("ingest", "item_failure_rate_pct"), HIGHER, 2.0, POINTS, trend=True, optional=True),
    Metric("bulk_latency_p90_ms", "Bulk latency p90", "ms", ("ingest", "latency_ms", "p90"),
           HIGHER, 25.0, optional=True),
    Metric("search_latency_p90_ms", "Search latency p90", "ms", ("search", "latency_ms", "p90"),
           HIGHER, 25.0, trend=True, optional=True),
)  # fmt: skip

BY_KEY: dict[str, Metric] = {metric.key: metric for metric in METRICS}
OFF = ("off", "none")  # --threshold METRIC=off: never a regression


def parse_threshold(text: str) -> tuple[str, float | None]:
    """``METRIC=PCT`` (or ``METRIC=off``) → (key, threshold); ``ValueError`` with a reason."""
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip().removesuffix("%").strip()
    if not sep or not key or not value:
        raise ValueError(f"expected METRIC=PCT, not {text!r}")
    if key not in BY_KEY:
        raise ValueError(f"unknown metric {key!r}; one of: {', '.join(BY_KEY)}")
    if value.lower() in OFF:
        return key, None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"threshold of {key} must be a number or 'off', not {value!r}") from None
    if not number >= 0:  # also rejects NaN
        raise ValueError(f"threshold of {key} must not be negative")
    return key, number


def with_thresholds(overrides: Iterable[tuple[str, float | None]]) -> tuple[Metric, ...]:
    """METRICS with the given thresholds replaced (the last override of a key wins)."""
    table = dict(overrides)
    return tuple(
        replace(metric, threshold=table[metric.key]) if metric.key in table else metric
        for metric in METRICS
    )
