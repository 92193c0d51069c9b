"""Inference requests binned into time windows: throughput, latency percentiles, errors;
and the ingest workload's bulks in the same windows (documents and chunks per second).

Requests count in the window in which their answer arrived (as locust counts them). The window
grows with the run so a chart keeps at most ~150 points: 1 s for a 2-minute run, 5 s for
10 minutes, 30 s for an hour.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..runs import ingest_summary
from ..runs.runfiles import InferenceRequests
from ..runs.stats import PERCENTILES

WINDOWS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
MAX_WINDOWS = 150


def window_seconds(duration_s: float) -> int:
    """The smallest window of WINDOWS_S giving at most MAX_WINDOWS windows."""
    for window in WINDOWS_S:
        if duration_s / window <= MAX_WINDOWS:
            return window
    return WINDOWS_S[-1]


@dataclass
class RequestSeries:
    window_s: int
    starts: np.ndarray  # window start, seconds since the run start
    throughput: np.ndarray  # ok requests per second
    failed_rate: np.ndarray  # failed requests per second
    latency: dict[str, np.ndarray] = field(default_factory=dict)  # p50/p90/p99 ms; NaN if none
    errors: dict[str, np.ndarray] = field(default_factory=dict)  # failed requests per kind

    @property
    def centres(self) -> np.ndarray:
        return self.starts + self.window_s / 2

    @property
    def empty(self) -> bool:
        return not len(self.starts)


def request_series(inference: InferenceRequests, end_s: float = 0.0) -> RequestSeries:
    """Bin the run's inference requests; ``end_s`` stretches the axis (e.g. to the last poll)."""
    sent = np.frombuffer(inference.elapsed_s, dtype=np.float64) if len(inference) else np.zeros(0)
    latency = np.frombuffer(inference.latency_ms, dtype=np.float64) if len(inference) else sent
    kinds = np.asarray(inference.kind_code, dtype=np.int64)
    done = sent + np.nan_to_num(latency, nan=0.0) / 1000
    end = max(float(done.max()) if len(done) else 0.0, end_s)
    window = window_seconds(end)
    count = max(math.ceil(end / window), 1) if len(done) or end_s else 0
    index = np.clip((done // window).astype(np.int64), 0, max(count - 1, 0))
    ok = kinds == 0
    series = RequestSeries(
        window_s=window,
        starts=np.arange(count, dtype=np.float64) * window,
        throughput=np.bincount(index[ok], minlength=count)[:count] / window,
        failed_rate=np.bincount(index[~ok], minlength=count)[:count] / window,
    )
    series.latency = _percentiles(index[ok], latency[ok], count)
    for code in sorted(set(kinds[~ok].tolist())):
        series.errors[inference.kinds[code]] = np.bincount(index[kinds == code], minlength=count)[
            :count
        ].astype(np.float64)
    return series


def _percentiles(index: np.ndarray, values: np.ndarray, count: int) -> dict[str, np.ndarray]:
    result = {key: np.full(count, np.nan) for key in PERCENTILES}
    finite = np.isfinite(values)
    index, values = index[finite], values[finite]
    if not len(values):
        return result
    order = np.argsort(index, kind="stable")
    index, values = index[order], values[order]
    windows, first = np.unique(index, return_index=True)
    for window, group in zip(windows, np.split(values, first[1:]), strict=True):
        figures = np.percentile(group, list(PERCENTILES.values()))  # linear, as stats.py
        for key, figure in zip(PERCENTILES, figures, strict=True):
            result[key][window] = figure
    return result


@dataclass
class IngestSeries:
    window_s: int
    starts: np.ndarray
    documents: np.ndarray  # acknowledged documents per second
    chunks: np.ndarray  # their chunks per second (pro rata in partly failed bulks)

    @property
    def centres(self) -> np.ndarray:
        return self.starts + self.window_s / 2


def ingest_series(rows: Sequence[Mapping[str, Any]], like: RequestSeries) -> IngestSeries | None:
    """The run's BULK rows binned into ``like``'s windows (answer time, as requests);
    ``None`` without bulks. Answers after ``like``'s last window count in it."""
    bulks = ingest_summary.rows_of(rows, ingest_summary.BULK_TYPE)
    if not bulks or like.empty:
        return None
    count, window = len(like.starts), like.window_s
    done = np.array([ingest_summary.done_s(row) for row in bulks], dtype=np.float64)
    index = np.clip((done // window).astype(np.int64), 0, count - 1)
    documents = np.array([ingest_summary.acknowledged(row) for row in bulks], dtype=np.float64)
    chunks = np.array([ingest_summary.acknowledged_chunks(row) for row in bulks])
    return IngestSeries(
        window_s=window,
        starts=like.starts,
        documents=np.bincount(index, weights=documents, minlength=count)[:count] / window,
        chunks=np.bincount(index, weights=chunks, minlength=count)[:count] / window,
    )
