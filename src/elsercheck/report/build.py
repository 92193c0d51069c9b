"""Build a load run's report: summary.json, report.html and the history entry.

Order matters: the comparison needs the history as it was before this run, and the stored
history entry carries the comparison and verdict, so the entry is written last.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..runs import ingest_summary, rundir
from ..runs.runfiles import RunFileError, RunFiles, is_run_dir, load_run
from ..runs.summary import summarize_files
from . import charts, history
from .compare import Row, compare_runs, comparison_json
from .document import new_document, run_metadata, verdict
from .gate import find_junit, gate_json
from .html import Page, write_page
from .metrics import Metric, with_thresholds
from .stages import spans as stage_spans
from .timeseries import ingest_series, request_series

REPORT_HTML = "report.html"
SUMMARY_JSON = "summary.json"


class ReportUsageError(ValueError):
    """The command cannot run as asked (no run directory, unknown baseline, bad gate dir)."""


@dataclass
class ReportOptions:
    run_dir: Path
    history_dir: Path | None = None  # None: no history (no comparison, nothing stored)
    baseline: str | None = None  # run id in the history; default: the previous comparable runs
    baselines: int = history.DEFAULT_BASELINES  # how many earlier comparable runs
    vcpu_hour_price: float | None = None  # --vcpu-hour-price: a cost figure
    thresholds: Sequence[tuple[str, float | None]] = ()  # --threshold overrides
    gate_dir: Path | None = None  # default: found next to the run (gate.find_junit)


@dataclass
class ReportResult:
    exit_code: int
    html: Path
    summary_json: Path
    document: dict[str, Any]
    history_entry: Path | None = None
    rows: list[Row] = field(default_factory=list)


def build_report(options: ReportOptions) -> ReportResult:
    """Write ``report.html`` and ``summary.json`` into the run directory; store the history
    entry. Raises :class:`ReportUsageError` when the run directory is not a load run."""
    run_dir = options.run_dir
    if not run_dir.is_dir():
        raise ReportUsageError(f"{run_dir} is not a directory")
    if not is_run_dir(run_dir):
        raise ReportUsageError(
            f"{run_dir} is not a load run directory (no {rundir.RUN_JSON}, "
            f"{rundir.REQUESTS_CSV}, {rundir.ALLOCATIONS_CSV} or {rundir.EXPECTATIONS_JSON})"
        )
    try:
        files = load_run(run_dir)
    except RunFileError as exc:
        raise ReportUsageError(str(exc)) from None
    if not files.present - files.unreadable.keys():  # a lone corrupt file is no run to report
        reasons = "; ".join(f"{name} is {why}" for name, why in sorted(files.unreadable.items()))
        raise ReportUsageError(f"{run_dir} has no readable run file ({reasons})")
    try:
        junit = find_junit(run_dir, files.run_id, options.gate_dir)
    except ValueError as exc:
        raise ReportUsageError(str(exc)) from None
    gate = gate_json(junit, run_dir) if junit else None
    document = new_document(
        run_metadata(files.run, files.run_id),
        summarize_files(files, options.vcpu_hour_price),
        gate,
    )
    metrics = with_thresholds(options.thresholds)

    if options.baseline and not options.history_dir:
        raise ReportUsageError("--baseline needs a history")
    entries = history.load(options.history_dir) if options.history_dir else []
    try:
        baselines = history.pick_baselines(entries, document, options.baselines, options.baseline)
    except history.HistoryError as exc:
        raise ReportUsageError(str(exc)) from None
    rows = None
    if baselines:
        rows = compare_runs([entry["load"] for entry in baselines], document["load"], metrics)
        document["comparison"] = comparison_json(
            rows,
            baselines[-1]["run"],
            document["run"]["run_id"],
            [entry["run"] for entry in baselines],
        )
    document["verdict"] = verdict(document["load"], gate, document["run"], rows)

    summary_path = run_dir / SUMMARY_JSON
    summary_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    page = _page(files, document, rows, history.trend_runs(entries, document), metrics, junit)
    html_path = write_page(page, run_dir / REPORT_HTML)
    entry = history.store(options.history_dir, document) if options.history_dir else None
    return ReportResult(
        document["verdict"]["exit_code"], html_path, summary_path, document, entry, rows or []
    )


def _page(
    files: RunFiles,
    document: Mapping[str, Any],
    rows: list[Row] | None,
    trend_runs: Sequence[Mapping[str, Any]],
    metrics: Iterable[Metric],
    junit: Path | None,
) -> Page:
    load = document["load"]
    spans = stage_spans(document["run"].get("stages"))
    last_poll = max((row["elapsed_s"] for row in files.allocations), default=0.0)
    last_stage = max((span.end_s or 0.0 for span in spans), default=0.0)
    last_other = max((ingest_summary.done_s(row) for row in files.other_requests), default=0.0)
    series = request_series(files.inference, end_s=max(last_poll, last_stage, last_other))
    x_max = max(float(series.starts[-1] + series.window_s) if len(series.starts) else 0.0,
                last_poll, last_stage)  # fmt: skip
    runs = [
        (str(run["run"]["run_id"]), {m.key: m.value(run.get("load")) for m in metrics})
        for run in trend_runs
    ]
    trend_metrics = [  # a workload's own metrics only when a run in the trend has them
        metric for metric in metrics
        if metric.trend and (not metric.optional or any(v[metric.key] is not None for _, v in runs))
    ]  # fmt: skip
    rendered = (
        charts.throughput_chart(series, files.allocations, spans, x_max),
        charts.latency_chart(series, spans, x_max),
        charts.ingest_chart(
            ingest_series(files.other_requests, series), files.allocations, spans, x_max
        ),
        charts.allocations_chart(
            files.allocations, load["allocations"]["scale_events"], spans, x_max
        ),
        charts.queue_chart(files.allocations, spans, x_max),
        charts.errors_chart(series, spans, x_max),
        charts.buckets_chart(load["by_name"]),
        charts.trend_chart(runs, trend_metrics, document["run"]["run_id"]),
    )
    return Page(
        document=document,
        charts={chart.key: chart for chart in rendered if chart is not None},
        spans=spans,
        rows=rows,
        links=_links(files.path, junit),
    )


# Files next to the report worth a link, when present: (label, file name).
LINKED_FILES = (
    ("locust's report", rundir.LOCUST_HTML),
    ("summary.json", SUMMARY_JSON),
    ("requests.csv", rundir.REQUESTS_CSV),
    ("allocations.csv", rundir.ALLOCATIONS_CSV),
    ("expectations.json", rundir.EXPECTATIONS_JSON),
    ("run.json", rundir.RUN_JSON),
    ("leftovers", rundir.LEFTOVERS_TXT),
)


def _links(run_dir: Path, junit: Path | None) -> dict[str, str]:
    links = {
        label: name
        for label, name in LINKED_FILES
        if name == SUMMARY_JSON or (run_dir / name).is_file()  # summary.json: written already
    }
    if junit is not None and (junit.parent / "gate.html").is_file():
        links["gate report"] = os.path.relpath(junit.parent / "gate.html", run_dir)
    return links
