"""Baseline vs contender, metric by metric, in the manner of ``esrally compare``.

A row is a regression when the contender is worse than the baseline by more than the
metric's threshold (strictly: exactly +25 % against a 25 % threshold passes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .metrics import HIGHER, METRICS, PCT, Metric


@dataclass(frozen=True)
class Row:
    metric: Metric
    baseline: float | None
    contender: float | None

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

    @property
    def regression(self) -> bool:
        threshold, worse_by = self.metric.threshold, self.worse_by
        return threshold is not None and worse_by is not None and worse_by > threshold

    @property
    def improvement(self) -> bool:
        threshold, worse_by = self.metric.threshold, self.worse_by
        return threshold is not None and worse_by is not None and -worse_by > threshold

    def to_json(self) -> dict[str, Any]:
        """The row as summary.json's ``comparison.rows`` items."""
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
        }


def compare(
    baseline: Mapping[str, Any] | None,
    contender: Mapping[str, Any] | None,
    metrics: Iterable[Metric] = METRICS,
) -> list[Row]:
    """One row per metric, from two ``load`` summaries (summarize() output); an optional
    metric (one workload's) only when either run has it."""
    rows = [Row(metric, metric.value(baseline), metric.value(contender)) for metric in metrics]
    return [
        row
        for row in rows
        if not row.metric.optional or row.baseline is not None or row.contender is not None
    ]


def comparison_json(
    rows: list[Row], baseline_run: Mapping[str, Any], contender_run_id: str
) -> dict[str, Any]:
    """summary.json's ``comparison`` section."""
    return {
        "baseline_run_id": baseline_run.get("run_id"),
        "baseline_started_at": baseline_run.get("started_at"),
        "contender_run_id": contender_run_id,
        "rows": [row.to_json() for row in rows],
        "regressions": [row.metric.key for row in rows if row.regression],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
