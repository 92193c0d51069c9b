"""Baselines vs contender, metric by metric, in the manner of ``esrally compare``, with the
run-to-run noise of the baselines taken into account.

With ``n`` ≥ :data:`MIN_SPREAD_RUNS` earlier comparable runs that have a metric, its
reference value is their mean and its noise interval the prediction interval for one new
run, ``mean ± t(0.975, n−1) · s · sqrt(1 + 1/n)`` (``s``: their sample standard deviation).
A row is a regression only when the contender is worse than the reference by more than the
metric's threshold (strictly: exactly +25 % against a 25 % threshold passes) AND lies beyond
the interval on the worse side. With fewer runs the spread is not measured: the reference is
the latest of them and the threshold alone decides, as with a single named ``--baseline``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .metrics import HIGHER, METRICS, PCT, Metric

MIN_SPREAD_RUNS = 3  # fewer baselines: no spread (two values say little about a spread)
# t(0.975, df) for df = 1 … 30 (two-sided 95 %; any statistics table); above: the normal 1.96.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip
NORMAL_975 = 1.96
REGRESSION, IMPROVEMENT, WITHIN_NOISE = "regression", "improvement", "within noise"


def t_975(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (≥ 1)."""
    return T_975[df - 1] if df <= len(T_975) else NORMAL_975


def prediction_interval(values: Sequence[float]) -> tuple[float, float] | None:
    """``mean ± t(0.975, n−1)·s·sqrt(1+1/n)``: where one more run falls with 95 % probability
    if nothing changed; ``None`` with fewer than :data:`MIN_SPREAD_RUNS` values."""
    n = len(values)
    if n < MIN_SPREAD_RUNS:
        return None
    mean = math.fsum(values) / n
    half = t_975(n - 1) * statistics.stdev(values) * math.sqrt(1 + 1 / n)
    return mean - half, mean + half


@dataclass(frozen=True)
class Row:
    metric: Metric
    baseline: float | None  # the reference: mean of the baselines, or the latest one
    contender: float | None
    samples: tuple[float, ...] = ()  # the baselines' values, oldest first (n = len)

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def interval(self) -> tuple[float, float] | None:
        return prediction_interval(self.samples)

    @property
    def diff(self) -> float | None:
        if self.baseline is None or self.contender is None:
            return None
        return self.contender - self.baseline

    @property
    def diff_pct(self) -> float | None:
        if self.diff is None or not self.baseline:
            return None  # no relative change from zero or from nothing
        return 100 * self.diff / abs(self.baseline)

    @property
    def worse_by(self) -> float | None:
        """The change in the threshold's unit, positive when the contender is worse."""
        change = self.diff_pct if self.metric.threshold_unit == PCT else self.diff
        if change is None:
            return None
        return change if self.metric.worse == HIGHER else -change

    def _beyond(self, worse: bool) -> bool:
        """The contender lies outside the noise interval on the worse (or better) side;
        always true when the spread is not measured (the threshold alone decides)."""
        interval = self.interval
        if interval is None or self.contender is None:
            return True
        higher_side = (self.metric.worse == HIGHER) == worse
        return self.contender > interval[1] if higher_side else self.contender < interval[0]

    @property
    def over_threshold(self) -> bool:
        threshold, worse_by = self.metric.threshold, self.worse_by
        return threshold is not None and worse_by is not None and worse_by > threshold

    @property
    def regression(self) -> bool:
        return self.over_threshold and self._beyond(worse=True)

    @property
    def improvement(self) -> bool:
        threshold, worse_by = self.metric.threshold, self.worse_by
        better = threshold is not None and worse_by is not None and -worse_by > threshold
        return better and self._beyond(worse=False)

    @property
    def verdict(self) -> str:
        """regression, improvement, within noise (over the threshold, inside the interval)."""
        if self.regression:
            return REGRESSION
        if self.improvement:
            return IMPROVEMENT
        return WITHIN_NOISE if self.over_threshold else ""

    def to_json(self) -> dict[str, Any]:
        """The row as summary.json's ``comparison.rows`` items."""
        interval = self.interval
        return {
            "metric": self.metric.key,
            "label": self.metric.label,
            "unit": self.metric.unit,
            "worse": self.metric.worse,
            "baseline": _round(self.baseline),
            "contender": _round(self.contender),
            "diff": _round(self.diff),
            "diff_pct": _round(self.diff_pct),
            "threshold": self.metric.threshold,
            "threshold_unit": self.metric.threshold_unit,
            "regression": self.regression,
            "improvement": self.improvement,
            "n": self.n,
            "spread_measured": interval is not None,
            "interval": None if interval is None else [_round(interval[0]), _round(interval[1])],
            "verdict": self.verdict,
        }


def compare(
    baseline: Mapping[str, Any] | None,
    contender: Mapping[str, Any] | None,
    metrics: Iterable[Metric] = METRICS,
) -> list[Row]:
    """One row per metric, from two ``load`` summaries (summarize() output); an optional
    metric (one workload's) only when either run has it."""
    return compare_runs([baseline] if baseline is not None else [], contender, metrics)


def compare_runs(
    baselines: Sequence[Mapping[str, Any] | None],
    contender: Mapping[str, Any] | None,
    metrics: Iterable[Metric] = METRICS,
) -> list[Row]:
    """One row per metric, from the baselines' ``load`` summaries (oldest first) and the
    contender's; a metric's samples are the baselines that have it (an older summary may not)."""
    rows = []
    for metric in metrics:
        values = tuple(v for v in (metric.value(b) for b in baselines) if v is not None)
        reference = (
            math.fsum(values) / len(values)
            if len(values) >= MIN_SPREAD_RUNS
            else (values[-1] if values else None)
        )
        rows.append(Row(metric, reference, metric.value(contender), values))
    return [
        row
        for row in rows
        if not row.metric.optional or row.baseline is not None or row.contender is not None
    ]


def comparison_json(
    rows: list[Row],
    baseline_run: Mapping[str, Any],
    contender_run_id: str,
    baseline_runs: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """summary.json's ``comparison`` section; ``baseline_run`` is the latest baseline,
    ``baseline_runs`` all of them (oldest first; default: that one)."""
    runs = list(baseline_runs) or [baseline_run]
    return {
        "baseline_run_id": baseline_run.get("run_id"),
        "baseline_started_at": baseline_run.get("started_at"),
        "baseline_run_ids": [str(run.get("run_id")) for run in runs],
        "min_spread_runs": MIN_SPREAD_RUNS,
        "contender_run_id": contender_run_id,
        "rows": [row.to_json() for row in rows],
        "regressions": [row.metric.key for row in rows if row.regression],
    }


def _round(value: float | None) -> float | None:
    """Three decimals, or four significant digits of a smaller value (hours per 1,000)."""
    if value is None or value == 0 or not math.isfinite(value):
        return value
    return round(value, max(3, 3 - math.floor(math.log10(abs(value)))))
