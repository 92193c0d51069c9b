"""The report's charts: matplotlib figures rendered to inline SVG strings.

No pyplot: each figure is a plain ``Figure`` on an Agg canvas, so nothing global (backend,
open-figure registry) changes and nothing needs a display. SVG text stays text
(``svg.fonttype: none``): small files, searchable, crisp at any zoom. Each SVG gets a
``<title>`` and ``aria-label`` and ids salted with the chart's key, so several charts share
a page without id clashes and the same run renders the same bytes.

Every time chart shares one x axis (seconds since the run start) and the load stages as
shaded spans. A chart function returns ``None`` when it has nothing to draw.
"""

from __future__ import annotations

import functools
import html
import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

from .metrics import Metric
from .stages import Span
from .timeseries import IngestSeries, RequestSeries

# Series colours, distinct per series of a chart and across the main charts (the screenshot
# test counts each one's pixels).
COLOURS: dict[str, str] = {
    "throughput": "#1f77b4",
    "failed": "#d62728",
    "users": "#7f7f7f",
    "offered_rate": "#9467bd",
    "p50": "#2ca02c",
    "p90": "#ff7f0e",
    "p99": "#d62728",
    "allocation_count": "#3949ab",
    "target_allocation_count": "#e65100",
    "scale_event": "#555555",
    "pending": "#17becf",
    "inference_time": "#8c564b",
    "documents": "#00897b",
    "chunks": "#c0ca33",
    "trend": "#1f77b4",
    "current": "#d62728",
}
ERROR_COLOURS: dict[str, str] = {
    "409": "#ff7f0e", "429": "#d62728", "408": "#9467bd", "5xx": "#8c564b",
    "4xx": "#e377c2", "connection": "#7f7f7f", "timeout": "#bcbd22", "backlog": "#17becf",
}  # fmt: skip
_OTHER_ERROR = "#444444"
_STAGE_FILL = ("#f2f2f2", "#e6e6e6")

_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "axes.axisbelow": True,
}
WIDTH_IN = 10.0
P = ParamSpec("P")


@dataclass(frozen=True)
class Chart:
    key: str  # stable id, also the SVG id salt
    title: str
    svg: str


def render(figure: Figure, key: str, title: str) -> Chart:
    """The figure as an inline ``<svg>`` element with a ``<title>``."""
    buffer = io.StringIO()
    with matplotlib.rc_context({**_RC, "svg.hashsalt": key}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML declaration and DOCTYPE: inline in HTML
    text = _namespace_ids(text, key)
    tag_end = text.index(">")
    label = html.escape(title, quote=True)
    opening = text[:tag_end].replace(
        "<svg", f'<svg class="chart" id="chart-{key}" role="img" aria-label="{label}"', 1
    )
    return Chart(key, title, f"{opening}><title>{html.escape(title)}</title>{text[tag_end + 1 :]}")


_ID = re.compile(r'(\sid=")([^"]+")')
_REFERENCE = re.compile(r'(url\(#|href="#)([^)"]+)')


def _namespace_ids(svg: str, key: str) -> str:
    """Prefix every id (and reference to one) with the chart key: matplotlib numbers its
    groups ``figure_1``, ``axes_1``… in every figure, which would clash on a shared page."""
    svg = _ID.sub(lambda match: f"{match[1]}{key}-{match[2]}", svg)
    return _REFERENCE.sub(lambda match: f"{match[1]}{key}-{match[2]}", svg)


def _styled(function: Callable[P, Chart | None]) -> Callable[P, Chart | None]:
    """Build the whole chart under the report's style: matplotlib reads most rcParams when
    an artist is created, not when the figure is saved."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Chart | None:
        with matplotlib.rc_context(_RC):
            return function(*args, **kwargs)

    return wrapper


def _figure(height: float = 3.4, rows: int = 1, cols: int = 1) -> tuple[Figure, Any]:
    """A figure laid out by matplotlib (charts without the shared time axis)."""
    figure = Figure(figsize=(WIDTH_IN, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.subplots(rows, cols, squeeze=False)


# Fixed margins (fractions of the figure) for the time charts, so their x axes line up on the
# page whether or not a chart has a right-hand axis; the legend sits in the bottom margin.
TIME_HEIGHT_IN = 3.6
TIME_MARGINS = {"left": 0.075, "right": 0.925, "top": 0.87, "bottom": 0.24}


def _time_figure(spans: Sequence[Span], x_max: float, title: str) -> tuple[Figure, Any]:
    """A time chart: stage spans (named above the plot), limits, labels, title."""
    figure = Figure(figsize=(WIDTH_IN, TIME_HEIGHT_IN))
    FigureCanvasAgg(figure)
    figure.subplots_adjust(**TIME_MARGINS)
    ax = figure.subplots()
    for number, span in enumerate(spans):
        if span.end_s is None or span.end_s <= span.start_s:
            continue
        ax.axvspan(span.start_s, span.end_s, color=_STAGE_FILL[number % 2], zorder=0, lw=0)
        ax.annotate(
            span.name, ((span.start_s + span.end_s) / 2, 1.0), xycoords=ax.get_xaxis_transform(),
            xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize=8,
            color="#555555", annotation_clip=True,
        )  # fmt: skip
    ax.set_xlim(0, max(x_max, 1.0))
    ax.set_xlabel("seconds since the run start")
    ax.set_title(title, pad=14 if spans else 6)
    return figure, ax


def _column(rows: Sequence[Mapping[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(elapsed_s, value) of the rows where ``key`` holds a number."""
    points = [
        (row["elapsed_s"], float(row[key]))
        for row in rows
        if isinstance(row.get(key), int | float) and isinstance(row.get("elapsed_s"), int | float)
    ]
    if not points:
        return np.zeros(0), np.zeros(0)
    x, y = zip(*points, strict=True)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _legend(*axes: Any) -> None:
    """One legend for the series of all ``axes`` (twins included), below the plot."""
    handles, labels = [], []
    for ax in axes:
        more_handles, more_labels = ax.get_legend_handles_labels()
        handles += more_handles
        labels += more_labels
    if not handles:
        return
    figure = axes[0].figure
    # "outside" makes constrained layout reserve the room; fixed margins already have it.
    constrained = figure.get_layout_engine() is not None
    figure.legend(
        handles, labels, loc="outside lower center" if constrained else "lower center",
        fontsize=9, ncols=min(len(handles), 5),
    )  # fmt: skip


@_styled
def throughput_chart(
    series: RequestSeries, allocations: Sequence[Mapping[str, Any]], spans: Sequence[Span],
    x_max: float,
) -> Chart | None:  # fmt: skip
    """Ok and failed requests per second, with the offered load (users, rate) on a second axis."""
    users = _column(allocations, "user_count")
    offered = _column(allocations, "offered_rate")
    if series.empty and not len(users[0]) and not len(offered[0]):
        return None
    title = f"Throughput and load ({series.window_s} s windows)"
    figure, ax = _time_figure(spans, x_max, title)
    ax.plot(series.centres, series.throughput, color=COLOURS["throughput"], lw=2.2,
            label="ok requests/s")  # fmt: skip
    if series.failed_rate.any():
        ax.plot(series.centres, series.failed_rate, color=COLOURS["failed"], lw=1.6,
                label="failed requests/s")  # fmt: skip
    ax.set_ylabel("requests per second")
    ax.set_ylim(bottom=0)
    load_ax = ax.twinx()
    load_ax.grid(False)
    if len(users[0]):
        load_ax.step(*users, where="post", color=COLOURS["users"], lw=1.4, ls="--",
                     label="users")  # fmt: skip
    if len(offered[0]):
        load_ax.step(*offered, where="post", color=COLOURS["offered_rate"], lw=1.4, ls=":",
                     label="offered rate (req/s)")  # fmt: skip
    load_ax.set_ylabel("users / offered req/s")
    load_ax.set_ylim(bottom=0)
    _legend(ax, load_ax)
    return render(figure, "throughput", title)


@_styled
def ingest_chart(
    series: IngestSeries | None, allocations: Sequence[Mapping[str, Any]], spans: Sequence[Span],
    x_max: float,
) -> Chart | None:  # fmt: skip
    """Acknowledged documents and chunks per second, allocation_count on a second axis (the
    time axis of the other charts, so a stall lines up with the deployment's scaling)."""
    if series is None:
        return None
    title = f"Ingest: documents and chunks per second ({series.window_s} s windows)"
    figure, ax = _time_figure(spans, x_max, title)
    ax.plot(series.centres, series.documents, color=COLOURS["documents"], lw=2.2,
            label="documents/s")  # fmt: skip
    ax.plot(series.centres, series.chunks, color=COLOURS["chunks"], lw=1.8,
            label="chunks/s")  # fmt: skip
    ax.set_ylabel("per second (acknowledged)")
    ax.set_ylim(bottom=0)
    count = _column(allocations, "allocation_count")
    allocation_ax = ax.twinx()
    allocation_ax.grid(False)
    if len(count[0]):
        allocation_ax.step(*count, where="post", color=COLOURS["allocation_count"], lw=1.4,
                           ls="--", label="allocation_count")  # fmt: skip
        allocation_ax.set_ylim(0, math.ceil(max(count[1].max(), 1.0)) + 1)
        allocation_ax.yaxis.get_major_locator().set_params(integer=True)
    allocation_ax.set_ylabel("allocations")
    _legend(ax, allocation_ax)
    return render(figure, "ingest", title)


@_styled
def latency_chart(series: RequestSeries, spans: Sequence[Span], x_max: float) -> Chart | None:
    """p50/p90/p99 of successful requests per window."""
    if series.empty or all(np.isnan(values).all() for values in series.latency.values()):
        return None
    title = f"Latency of successful requests ({series.window_s} s windows)"
    figure, ax = _time_figure(spans, x_max, title)
    for key, values in series.latency.items():
        ax.plot(series.centres, values, color=COLOURS[key], lw=2.0, label=key, marker=".", ms=3)
    ax.set_ylabel("latency (ms)")
    ax.set_ylim(bottom=0)
    _legend(ax)
    return render(figure, "latency", title)


@_styled
def allocations_chart(
    allocations: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]],
    spans: Sequence[Span], x_max: float,
) -> Chart | None:  # fmt: skip
    """allocation_count vs target_allocation_count, scale events marked."""
    count = _column(allocations, "allocation_count")
    target = _column(allocations, "target_allocation_count")
    if not len(count[0]) and not len(target[0]):
        return None
    title = "Allocations"
    figure, ax = _time_figure(spans, x_max, title)
    ax.step(*target, where="post", color=COLOURS["target_allocation_count"], lw=1.8, ls="--",
            label="target_allocation_count")  # fmt: skip
    ax.step(*count, where="post", color=COLOURS["allocation_count"], lw=2.4,
            label="allocation_count")  # fmt: skip
    for number, event in enumerate(events):
        ax.axvline(event["elapsed_s"], color=COLOURS["scale_event"], lw=0.9, ls=":",
                   label="scale event" if number == 0 else None)  # fmt: skip
        ax.annotate(
            f"{event['from']}→{event['to']}", (event["elapsed_s"], event["to"]),
            xytext=(3, 4), textcoords="offset points", fontsize=8, color=COLOURS["scale_event"],
        )  # fmt: skip
    top = max([*count[1].tolist(), *target[1].tolist(), 1.0])
    ax.set_ylim(0, math.ceil(top) + 1)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("allocations")
    _legend(ax)
    return render(figure, "allocations", title)


@_styled
def queue_chart(
    allocations: Sequence[Mapping[str, Any]], spans: Sequence[Span], x_max: float
) -> Chart | None:
    """number_of_pending_requests and average_inference_time_ms from the stats API."""
    pending = _column(allocations, "number_of_pending_requests")
    inference = _column(allocations, "average_inference_time_ms")
    if not len(pending[0]) and not len(inference[0]):
        return None
    title = "Queue and inference time (trained model stats)"
    figure, ax = _time_figure(spans, x_max, title)
    ax.plot(*pending, color=COLOURS["pending"], lw=2.0, label="number_of_pending_requests")
    ax.set_ylabel("pending requests")
    ax.set_ylim(bottom=0)
    time_ax = ax.twinx()
    time_ax.grid(False)
    time_ax.plot(*inference, color=COLOURS["inference_time"], lw=1.6,
                 label="average_inference_time_ms")  # fmt: skip
    time_ax.set_ylabel("average inference time (ms)")
    time_ax.set_ylim(bottom=0)
    _legend(ax, time_ax)
    return render(figure, "queue", title)


@_styled
def errors_chart(series: RequestSeries, spans: Sequence[Span], x_max: float) -> Chart | None:
    """Failed requests per window, stacked by error kind."""
    if not series.errors:
        return None
    title = f"Failed requests by kind ({series.window_s} s windows)"
    figure, ax = _time_figure(spans, x_max, title)
    edges = np.append(series.starts, series.starts[-1] + series.window_s)
    bottom = np.zeros(len(series.starts))
    for kind, counts in series.errors.items():
        # One filled staircase per kind: the look of stacked bars, one SVG path instead of many.
        ax.stairs(bottom + counts, edges, baseline=bottom, fill=True, lw=0,
                  color=ERROR_COLOURS.get(kind, _OTHER_ERROR), label=kind)  # fmt: skip
        bottom = bottom + counts
    ax.set_ylim(bottom=0)
    ax.set_ylabel(f"failed requests per {series.window_s} s")
    _legend(ax)
    return render(figure, "errors", title)


@_styled
def buckets_chart(by_name: Mapping[str, Mapping[str, Any]]) -> Chart | None:
    """p50/p90/p99 per input-length bucket (requests.csv ``name``), grouped bars."""
    names = [name for name, entry in by_name.items() if entry["latency_ms"]["count"]]
    if not names:
        return None
    title = "Latency by input length (requests.csv name)"
    figure, axes = _figure(height=max(3.0, 1.2 + 0.5 * len(names)))
    ax = axes[0][0]
    keys = ("p50", "p90", "p99")
    height = 0.8 / len(keys)
    positions = np.arange(len(names))
    for offset, key in enumerate(keys):
        values = [by_name[name]["latency_ms"][key] for name in names]
        ax.barh(positions + offset * height, values, height=height, color=COLOURS[key], label=key)
    ax.set_yticks(positions + height, names)
    ax.invert_yaxis()  # first bucket on top, as in the table
    ax.set_xlabel("latency (ms)")
    ax.grid(axis="y", visible=False)
    _legend(ax)
    ax.set_title(title)
    return render(figure, "buckets", title)


@_styled
def trend_chart(
    runs: Sequence[tuple[str, Mapping[str, float | None]]], metrics: Sequence[Metric],
    current_run_id: str,
) -> Chart | None:  # fmt: skip
    """Headline metrics across the history, one small panel each; the current run in red."""
    if len(runs) < 2:
        return None
    title = f"Trends over the last {len(runs)} runs"
    cols = 3
    rows = math.ceil(len(metrics) / cols)
    figure, axes = _figure(height=2.6 * rows, rows=rows, cols=cols)
    x = np.arange(len(runs))
    labels = [run_id[:15] for run_id, _ in runs]
    for number, metric in enumerate(metrics):
        ax = axes[number // cols][number % cols]
        values = np.array([np.nan if v.get(metric.key) is None else v[metric.key] for _, v in runs])
        ax.plot(x, values, color=COLOURS["trend"], lw=1.8, marker="o", ms=4)
        current = [i for i, (run_id, _) in enumerate(runs) if run_id == current_run_id]
        ax.plot(x[current], values[current], "o", color=COLOURS["current"], ms=7)
        ax.set_title(f"{metric.label} ({metric.unit})" if metric.unit else metric.label,
                     fontsize=10)  # fmt: skip
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
        top = np.nanmax(values) if not np.isnan(values).all() else 0.0
        ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)  # room above the highest marker
    for number in range(len(metrics), rows * cols):
        axes[number // cols][number % cols].set_visible(False)
    figure.suptitle(title, fontweight="bold")
    return render(figure, "trends", title)
