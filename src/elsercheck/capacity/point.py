"""What one point of a sweep measured, read from its load run's files (cluster time).

The window is the run after a warm-up share (users start, the queue settles) up to the end of
the offered load: arrivals are requests sent in it, throughput is successful completions
(send time + latency) in it, latencies are those of the requests sent in it. Pending requests
come from ``allocations.csv`` (the stats API, polled by the run's monitor): their least-squares
growth over the window. Wall-clock figures are converted once, here: rates divided by the
target's speedup, latencies multiplied by it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..load import simulator
from ..runs import rundir
from ..runs.stats import latency_stats
from ..timebase import TimeBase

WARMUP_SHARE = 0.2  # of the run's length, left out of the window
MIN_BINS = 10  # throughput bins of a window
# Outcomes that say the deployment (or the generator's in-flight cap) could not keep up.
OVERLOAD_KINDS = frozenset({"429", "408", "timeout", "backlog"})


@dataclass(frozen=True)
class Point:
    """One measured point; rates per cluster second, latencies in cluster ms."""

    offered_rps: float
    window_s: float  # cluster seconds
    sent_rps: float
    throughput_rps: float
    latency_ms: dict[str, Any]  # latency_stats of successes: count, p50, p90, p99, max, ...
    per_second_rps: tuple[float, ...]  # completion rate per bin of the window (~1 wall s)
    bin_s: float  # cluster seconds per bin
    sent_per_bin: tuple[int, ...] = ()  # arrivals per bin: how steadily the generator sent
    rejected: dict[str, int] = field(default_factory=dict)  # overload outcome kind -> count
    errors: dict[str, int] = field(default_factory=dict)  # every failure kind -> count
    pending_growth: float | None = None  # fitted change of pending requests over the window
    pending_max: int | None = None
    run_dir: str = ""
    # Ingest bulks only (None otherwise): documents and chunks the window's arrivals carried,
    # per cluster second, and their item failures by kind (a bulk answered 200 can fail items).
    documents_rps: float | None = None
    chunks_rps: float | None = None
    item_failures: dict[str, int] = field(default_factory=dict)
    # The embedded server's event-loop lag during the run (load/simulator.py): kept_up False
    # means the simulator was behind and the figures are distorted; None on a cluster.
    simulator: dict[str, Any] | None = None
    # Deployment requests per unit sent in the window (an inference's inputs, a bulk's chunks,
    # a search's one query): the unit the stats API's pending count is in.
    requests_per_unit: float = 1.0
    # Their mean square: the window's arrivals counted in deployment requests are a compound
    # Poisson count, whose variance is units × this (1 when every unit is one request).
    requests_sq_per_unit: float = 1.0

    @property
    def rejected_share(self) -> float:
        sent = self.sent_rps * self.window_s
        return sum(self.rejected.values()) / sent if sent > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["per_second_rps"] = [round(v, 3) for v in self.per_second_rps]
        data["sent_per_bin"] = list(self.sent_per_bin)
        for key in ("offered_rps", "window_s", "bin_s", "sent_rps", "throughput_rps",
                    "pending_growth", "documents_rps", "chunks_rps",
                    "requests_per_unit", "requests_sq_per_unit"):  # fmt: skip
            if data[key] is not None:
                data[key] = round(data[key], 4)
        return data


def read_point(
    run_dir: Path,
    offered_rps: float,
    duration_s: float,
    clock: TimeBase,
    request_type: str = "POST",
) -> Point:
    """The point of the run in ``run_dir`` that offered ``offered_rps`` (cluster rate of the
    workload's unit) for ``duration_s`` wall seconds on the target's ``clock``;
    ``request_type``: the requests.csv rows of the workload (``units.py``)."""
    start = WARMUP_SHARE * duration_s
    end = duration_s
    wall_window = max(end - start, 1e-9)
    rows = [
        row
        for row in rundir.read_csv(run_dir / rundir.REQUESTS_CSV)
        if row.get("request_type") == request_type and row.get("elapsed_s") is not None
    ]
    sent = [row for row in rows if start <= row["elapsed_s"] < end]
    ok = [row for row in sent if not row["error_kind"]]
    # Bins of about a wall second, at least MIN_BINS of them (the bootstrap resamples them).
    bins = max(MIN_BINS, math.floor(wall_window))
    per_bin = [0] * bins
    completed = 0
    for row in rows:
        if row["error_kind"] or row.get("latency_ms") is None:
            continue
        done = row["elapsed_s"] + row["latency_ms"] / 1000.0
        if start <= done < end:
            completed += 1
            index = int((done - start) / wall_window * bins)
            per_bin[min(index, bins - 1)] += 1
    bin_s = wall_window / bins
    sent_bins = [0] * bins
    for row in sent:
        sent_bins[min(int((row["elapsed_s"] - start) / wall_window * bins), bins - 1)] += 1
    failures = Counter(row["error_kind"] for row in sent if row["error_kind"])
    latency = latency_stats(clock.to_cluster(row["latency_ms"]) for row in ok)
    allocation_rows = list(rundir.read_csv(run_dir / rundir.ALLOCATIONS_CSV))
    growth, pending_max = _pending(allocation_rows, start, end)
    per_document = request_type == "BULK"
    column = "chunks" if per_document else "inputs"
    window_s = clock.to_cluster(wall_window)
    return Point(
        offered_rps=offered_rps,
        window_s=window_s,
        sent_rps=clock.cluster_rate(len(sent) / wall_window),
        throughput_rps=clock.cluster_rate(completed / wall_window),
        latency_ms=latency,
        per_second_rps=tuple(clock.cluster_rate(count / bin_s) for count in per_bin),
        bin_s=clock.to_cluster(bin_s),
        sent_per_bin=tuple(sent_bins),
        rejected={k: v for k, v in failures.items() if k in OVERLOAD_KINDS},
        errors=dict(failures),
        pending_growth=growth,
        pending_max=pending_max,
        run_dir=str(run_dir),
        documents_rps=_carried(sent, "documents", window_s) if per_document else None,
        chunks_rps=_carried(sent, "chunks", window_s) if per_document else None,
        item_failures=_item_failures(sent) if per_document else {},
        simulator=simulator.summarize(allocation_rows),
        requests_per_unit=_requests_per_unit(sent, column),
        requests_sq_per_unit=_requests_per_unit(sent, column, power=2),
    )


def _requests_per_unit(rows: list[dict[str, Any]], column: str, power: int = 1) -> float:
    """Mean deployment requests per row (``column``: a bulk's chunks, an inference's inputs; a
    search's one query has neither recorded as more than one), or the mean of their ``power``;
    1 when none is recorded."""
    counts = [row[column] for row in rows if isinstance(row.get(column), int) and row[column] > 0]
    return sum(c**power for c in counts) / len(counts) if counts else 1.0


def _carried(rows: list[dict[str, Any]], column: str, window_s: float) -> float:
    """What the rows carried (documents, chunks) per cluster second of the window."""
    return sum(row.get(column) or 0 for row in rows) / window_s


def _item_failures(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Bulk item failures by kind: ``kind:count`` pairs joined by ``;`` (``rundir.py``)."""
    kinds: Counter[str] = Counter()
    for row in rows:
        for pair in str(row.get("item_failures") or "").split(";"):
            kind, _, count = pair.rpartition(":")
            if kind and count.strip().isdigit():
                kinds[kind] += int(count)
    return dict(kinds)


def _pending(
    allocation_rows: list[dict[str, Any]], start: float, end: float
) -> tuple[float | None, int | None]:
    """Least-squares growth of ``number_of_pending_requests`` over [start, end) and its max."""
    points = [
        (row["elapsed_s"], row["number_of_pending_requests"])
        for row in allocation_rows
        if row.get("elapsed_s") is not None
        and row.get("number_of_pending_requests") is not None
        and start <= row["elapsed_s"] < end
    ]
    if len(points) < 3:
        return None, max((p for _, p in points), default=None)
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_p = sum(p for _, p in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var <= 0:
        return None, max(p for _, p in points)
    slope = sum((t - mean_t) * (p - mean_p) for t, p in points) / var
    return slope * (end - start), max(p for _, p in points)
