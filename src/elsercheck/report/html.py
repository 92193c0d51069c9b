"""The self-contained ``report.html``: inline CSS and SVG, no script, no remote resource.

The page is the :data:`SECTIONS` table in order; a section renders to ``None`` when the run
has nothing for it (it is then left out of the page and its navigation). Every text that
comes from a run file is HTML-escaped here, once: by :func:`~elsercheck.pagekit.esc` or by the
page kit's tables, which escape every cell that is not already :class:`~elsercheck.pagekit.Html`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import pagekit
from ..pagekit import Html, code, esc, fmt, key_value_table, link, span, table
from ..runs.rundir import DOCUMENTED_LOAD_ERRORS, ERROR_KINDS
from ..timebase import TimeBase
from .charts import Chart
from .compare import IMPROVEMENT, MIN_SPREAD_RUNS, REGRESSION, WITHIN_NOISE, Row
from .metrics import POINTS
from .stages import Span


@dataclass
class Page:
    """Everything a section may show."""

    document: Mapping[str, Any]  # summary.json
    charts: Mapping[str, Chart | None] = field(default_factory=dict)
    spans: Sequence[Span] = ()
    rows: Sequence[Row] | None = None  # comparison with the baseline, when there is one
    links: Mapping[str, str] = field(default_factory=dict)  # label → relative href

    @property
    def load(self) -> Mapping[str, Any]:
        return self.document["load"]

    def chart(self, key: str) -> str:
        chart = self.charts.get(key)
        return f"<figure>{chart.svg}</figure>" if chart else ""


def _observed(observed: Mapping[str, Any]) -> Html:
    return Html("<br>".join(
        f"{code(key)} {esc(f'{value:g}') if isinstance(value, float) else fmt(value)}"
        for key, value in observed.items()
    ))  # fmt: skip


# -- sections ------------------------------------------------------------------------------------


def _comparison(page: Page) -> str | None:
    comparison = page.document.get("comparison")
    if not comparison or page.rows is None:
        return (
            "<p class='muted'>No baseline: the history holds no earlier run of this shape "
            "(or no history was given).</p>"
        )
    rows = []
    for row in page.rows:
        metric = row.metric
        threshold = (
            "–"
            if metric.threshold is None
            else f"{'±' if metric.threshold_unit == POINTS else ''}{metric.threshold:g} "
            f"{esc(metric.threshold_unit)}"
        )
        state = {REGRESSION: "regression", IMPROVEMENT: "improvement"}.get(row.verdict, "")
        verdict = {REGRESSION: "✗ regression", IMPROVEMENT: "✓ better",
                   WITHIN_NOISE: "within noise"}.get(row.verdict, "")  # fmt: skip
        unit = f" {metric.unit}" if metric.unit else ""
        rows.append(
            [
                Html(f"{esc(metric.label)} {span('muted', f'({metric.key})')}"),
                _number(row.baseline, unit),
                _number(row.contender, unit),
                span(state, _signed(row.diff, 2)),
                span(state, _signed(row.diff_pct, 1, " %")),
                Html(f"{threshold} {span('muted', f'({metric.worse} is worse)')}"),
                _interval(row),
                span(state or ("muted" if verdict else ""), verdict),
            ]
        )
    runs = comparison.get("baseline_run_ids") or [comparison["baseline_run_id"]]
    baseline = esc(comparison["baseline_run_id"])
    started = esc(comparison.get("baseline_started_at") or "")
    if len(runs) >= MIN_SPREAD_RUNS:
        against = (
            f"<p>Baselines: the {len(runs)} latest comparable runs, <code>{esc(runs[0])}</code> "
            f"… <code>{baseline}</code> {started}; the baseline column is their mean. "
        )
    else:
        against = (
            f"<p>Baseline <code>{baseline}</code> {started} ({len(runs)} comparable "
            f"run{'s' if len(runs) != 1 else ''}: spread not measured, the threshold alone "
            "decides). "
        )
    return (
        against + f"Contender <code>{esc(comparison['contender_run_id'])}</code> (this run). "
        f"A regression is worse than the baseline by more than the threshold and, with "
        f"{MIN_SPREAD_RUNS} or more baselines, beyond their noise interval: mean ± "
        "t(0.975, n−1)·s·√(1+1/n), where one more run falls 95 % of the time when nothing "
        "changed.</p>"
        + table(
            [
                "Metric",
                "Baseline",
                "Contender",
                "Diff",
                "Diff %",
                "Threshold",
                "Noise interval (n)",
                "",
            ],
            rows,
            "compare",
        )
    )


def _number(value: float | None, unit: str = "") -> Html:
    """Two decimals, or four significant digits of a small figure (hours per 1,000)."""
    if value is not None and value != 0 and abs(value) < 0.1:
        return esc(f"{value:.4g}{unit}")
    return fmt(value, 2, unit)


def _interval(row: Row) -> Html:
    interval = row.interval
    if interval is None:
        return Html(span("muted", f"spread not measured (n={row.n})"))
    return Html(f"{_number(interval[0])} … {_number(interval[1])} {span('muted', f'(n={row.n})')}")


def _signed(value: float | None, digits: int, unit: str = "") -> str:
    return "–" if value is None else f"{value:+,.{digits}f}{unit}"


def _throughput(page: Page) -> str | None:
    charts = page.chart("throughput") + page.chart("latency")
    return charts or None


LATENCY_KEYS = ("p50", "p90", "p99", "max")


def _latency_table(rows: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """Exact latency percentiles of ok requests, one row per request kind."""
    return table(
        ["requests", "ok", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        [[label, fmt(latency["count"]), *(fmt(latency[key]) for key in LATENCY_KEYS)]
         for label, latency in rows],
    )  # fmt: skip


def _request_errors(entry: Mapping[str, Any]) -> str:
    kinds = ", ".join(f"{kind} ×{count}" for kind, count in entry["errors_by_kind"].items())
    return f" ({esc(kinds)})" if kinds else ""


def _ingest(page: Page) -> str | None:
    ingest = page.load.get("ingest")
    if not ingest:
        return None
    facts = (
        f"<p>{fmt(ingest['total'])} bulk requests, {fmt(ingest['failed'])} failed"
        f"{_request_errors(ingest)}; {fmt(ingest['documents_acknowledged'])} of "
        f"{fmt(ingest['documents'])} documents acknowledged → "
        f"<strong>{fmt(ingest['documents_per_s'], 2, ' documents/s')}</strong>, "
        f"<strong>{fmt(ingest['chunks_per_s'], 2, ' chunks/s')}</strong> over "
        f"{fmt(ingest['duration_s'], 1, ' s')}; item failure rate "
        f"{fmt(ingest['item_failure_rate_pct'], 2, ' %')}.</p>"
    )
    failures = ingest["item_failures_by_kind"]
    failure_table = (
        "<h3>Item failures by kind</h3>"
        + table(
            ["kind (error.type/caused_by.type)", "documents"],
            [[code(kind), fmt(count)] for kind, count in failures.items()],
        )
        if failures
        else "<p class='ok'>No item failures: every answered bulk indexed all its documents.</p>"
    )
    latency = "<h3>Bulk latency</h3>" + _latency_table([(code("bulk"), ingest["latency_ms"])])
    return page.chart("ingest") + facts + latency + failure_table


def _search(page: Page) -> str | None:
    search = page.load.get("search")
    if not search:
        return None
    shape = (page.document.get("run", {}).get("options") or {}).get("search_query", "semantic")
    facts = (
        f"<p>{fmt(search['total'])} {esc(shape)} searches, {fmt(search['failed'])} failed"
        f"{_request_errors(search)}; {fmt(search['throughput_rps'], 2, ' searches/s')} over "
        f"{fmt(search['duration_s'], 1, ' s')}.</p>"
    )
    return facts + _latency_table([(code(shape), search["latency_ms"])])


def _allocations(page: Page) -> str | None:
    allocations = page.load["allocations"]
    if not allocations["samples"]:
        return None
    events = [
        [fmt(e["elapsed_s"], 1, " s"), f"{e['from']} → {e['to']}",
         fmt(e["reached_s"], 1, " s"),
         fmt(None if e["reached_s"] is None else e["reached_s"] - e["elapsed_s"], 1, " s")]
        for e in allocations["scale_events"]
    ]  # fmt: skip
    facts = (
        f"<p>allocation_count {fmt(allocations['initial_allocation_count'])} → "
        f"{fmt(allocations['final_allocation_count'])}, between "
        f"{fmt(allocations['min_allocation_count'])} and "
        f"{fmt(allocations['max_allocation_count'])}; {allocations['scale_ups']} scale-up and "
        f"{allocations['scale_downs']} scale-down decisions; time to scale up (from the load "
        f"rise) {esc(TimeBase.from_summary(page.load).text(allocations['time_to_scale_up_s']))};"
        " max pending requests "
        f"{fmt(allocations['max_pending_requests'])}; {allocations['samples']} stats polls "
        f"({allocations['poll_errors']} failed).</p>"
    )
    scale_events = (
        table(["decided at", "target", "reached at", "took"], events)
        if events
        else "<p class='muted'>No scale events: target_allocation_count never changed.</p>"
    )
    return page.chart("allocations") + facts + scale_events + page.chart("queue")


def _hours(value: float | None) -> Html:
    return Html("–") if value is None else esc(f"{value:.4g}")


def _cost(page: Page) -> str | None:
    cost = page.load.get("cost")
    if not cost or cost["allocation_hours"] is None:
        return None
    time_base = TimeBase.from_summary(page.load)
    if time_base.time_lapse:
        clock = (
            f"<p>Time-lapse: the target's clock runs {time_base.speedup:g} times faster than the "
            f"cluster it stands for, so cluster time = wall time × {time_base.speedup:g}: the "
            f"polls span {esc(time_base.text(cost['wall_seconds']))}. Hours below are cluster "
            "hours.</p>"
        )
    else:
        clock = f"<p>The polls span {fmt(cost['wall_seconds'], 1, ' s')}.</p>"
    threads = cost["num_threads"]
    rows = [
        ["allocation-hours", _hours(cost["allocation_hours"])],
        ["vCPU-hours", Html(f"{_hours(cost['vcpu_hours'])} " + span(
            "muted", f"(× num_threads {threads})" if threads else
            "(num_threads unknown: the run did not create the endpoint)"))],
        ["idle allocation-hours", _hours(cost["idle_allocation_hours"])],
        ["idle share of allocation-time", fmt(cost["idle_share_pct"], 1, " %")],
        ["successful inferences", fmt(cost["successful_inferences"])],
        ["allocation-hours per 1,000 inferences", _hours(cost["allocation_hours_per_1000"])],
        ["vCPU-hours per 1,000 inferences", _hours(cost["vcpu_hours_per_1000"])],
    ]  # fmt: skip
    if cost["vcpu_hour_price"] is not None:
        rows += [
            [f"cost at {cost['vcpu_hour_price']:g} per vCPU-hour", _hours(cost["cost"])],
            ["cost per 1,000 inferences", _hours(cost["cost_per_1000"])],
        ]
    definition = (
        "<p class='muted'>Each poll's allocation_count holds until the next poll. Idle: a poll "
        "interval with allocations held and no inference, bulk or search request sent. "
        "Successful inferences: ok inference requests, ok searches and acknowledged bulk "
        "documents. vCPU-hours = allocation-hours × num_threads.</p>"
    )
    return clock + key_value_table(rows) + definition


def _cold_starts(page: Page) -> str | None:
    cold = page.load.get("cold_starts")
    if not cold or not cold["count"]:
        return None
    kinds = ", ".join(f"{kind} ×{n}" for kind, n in cold["failures_by_kind"].items())
    time_base = TimeBase.from_summary(page.load)
    facts = (
        f"<p>{cold['count']} scale-from-zero: time from the first arrival at zero to the "
        f"first success p50 <strong>{esc(time_base.text(cold['p50_s']))}</strong>, p95 "
        f"<strong>{esc(time_base.text(cold['p95_s']))}</strong>, max "
        f"{esc(time_base.text(cold['max_s']))} (n={cold['n']}); {cold['failures']} failed "
        f"requests on the way{f' ({esc(kinds)})' if kinds else ''}.</p>"
    )
    rows = [
        [fmt(e["zero_since_s"], 1, " s"), fmt(e["first_arrival_s"], 1, " s"),
         fmt(e["allocated_s"], 1, " s"), fmt(e["time_to_first_success_s"], 1, " s"),
         fmt(e["failures"]),
         ", ".join(f"{kind} ×{n}" for kind, n in e["failures_by_kind"].items()) or "–"]
        for e in cold["events"]
    ]  # fmt: skip
    note = (
        "<p class='muted'>At zero since: the first poll with allocation_count 0 (0 when the "
        "run began at zero); allocated: the first poll back at ≥ 1. Wall-clock seconds since "
        "the run's start; to first success: from the first arrival.</p>"
    )
    return facts + table(
        ["at zero since", "first arrival", "allocated at", "to first success", "failures",
         "by kind"], rows,
    ) + note  # fmt: skip


def _errors(page: Page) -> str | None:
    errors = page.load["errors"]
    rows = [
        [code(kind), fmt(count),
         ERROR_KINDS.get(kind, "not a known kind"),
         "documented under load" if kind in DOCUMENTED_LOAD_ERRORS else ""]
        for kind, count in errors["by_kind"].items()
        if count
    ]  # fmt: skip
    if not rows:
        return "<p class='ok'>No failed inference requests.</p>"
    return page.chart("errors") + table(["kind", "requests", "meaning", ""], rows)


def _buckets(page: Page) -> str | None:
    by_name = page.load["by_name"]
    if not by_name:
        return None
    rows = [
        [code(name), fmt(entry["total"]), fmt(entry["failed"]),
         *(fmt(entry["latency_ms"][key]) for key in ("p50", "p90", "p99", "max", "mean"))]
        for name, entry in by_name.items()
    ]  # fmt: skip
    header = ["name (input length)", "requests", "failed", "p50 ms", "p90 ms", "p99 ms", "max ms",
              "mean ms"]  # fmt: skip
    return page.chart("buckets") + table(header, rows)


def _expectations(page: Page) -> str | None:
    expectations = page.load["expectations"]
    if not expectations["total"]:
        return "<p class='muted'>No expectations were recorded (expectations.json missing).</p>"
    rows = [
        [span(item["status"], item["status"]),
         Html(f"{code(item['name'])}<br>{span('muted', item['description'])}"),
         item["detail"], _observed(item["observed"])]
        for item in expectations["items"]
    ]  # fmt: skip
    counts = (
        f"<p>{expectations['pass']} pass · {expectations['fail']} fail · "
        f"{expectations['skipped']} skipped"
        + (
            f" · {expectations['inconclusive']} inconclusive (the load machine was behind)"
            if expectations.get("inconclusive")
            else ""
        )
        + "</p>"
    )
    return counts + table(
        ["status", "expectation", "detail", "observed (times in s from the run start)"], rows
    )


def _lifecycle(page: Page) -> str | None:
    lifecycle = page.load["lifecycle"]
    if not lifecycle:
        return None
    rows = [
        [code(name), fmt(entry["count"]), fmt(entry["failed"]),
         *(fmt(entry[key], 2) for key in ("median_s", "mean_s", "min_s", "max_s"))]
        for name, entry in lifecycle.items()
    ]  # fmt: skip
    return table(["step", "count", "failed", "median s", "mean s", "min s", "max s"], rows)


def _trends(page: Page) -> str | None:
    return page.chart("trends") or None


def _conformance(page: Page) -> str | None:
    gate = page.document.get("gate")
    if not gate:
        return "<p class='muted'>No conformance gate ran for this run (no junit.xml found).</p>"
    verdict = "Conformant" if gate["conformant"] else "Not conformant"
    css = "ok" if gate["conformant"] else "bad"
    parts = [
        f"<p class='{css}'><strong>{verdict}</strong> — "
        + " · ".join(f"{n} {esc(outcome)}" for outcome, n in gate["counts"].items())
        + f" ({fmt(gate['seconds'], 1, ' s')} of checks)</p>"
    ]
    if gate.get("error"):
        parts.append(f"<p class='bad'>{esc(gate['error'])}</p>")
    if gate["failures"]:
        parts.append(
            table(
                ["failed check", "message"],
                ([code(f["name"]), f["message"]] for f in gate["failures"]),
            )
        )
    if gate["leftovers"]:
        parts.append(f"<p class='bad'>Not deleted: {esc(', '.join(gate['leftovers']))}</p>")
    links = [link(gate["junit"], "junit.xml")]
    if gate.get("html"):
        links.insert(0, link(gate["html"], "gate report"))
    parts.append("<p>" + " · ".join(links) + "</p>")
    return "".join(parts)


def _metadata(page: Page) -> str | None:
    run = page.document["run"]
    generator = page.document.get("generator", {})
    rows = [
        ["run id", code(run.get("run_id"))],
        ["started / finished", f"{run.get('started_at') or '–'} / "
                               f"{run.get('finished_at') or '–'}"],
        ["target", Html(f"{code(run.get('target') or '–')} — Elasticsearch "
                        f"{esc(run.get('target_version') or 'unknown')}")],
        ["shape", run.get("shape") or "–"],
        ["endpoint", _json(run.get("endpoint"))],
        ["scaler timing", _pairs(run.get("timing"))],
        ["options", _pairs(run.get("options"))],
        ["workers", fmt(run.get("workers"))],
        ["machine", _pairs(run.get("machine"))],
        ["tools", _pairs(run.get("tools"))],
        ["load run exit code", fmt(run.get("exit_code"))],
        ["report", f"elsercheck {generator.get('elsercheck', '?')}, "
                   f"{page.document.get('generated_at', '')}"],
    ]  # fmt: skip
    stages = [
        [stage.label, fmt(stage.start_s, 1, " s"), fmt(stage.end_s, 1, " s")]
        for stage in page.spans
    ]
    body: str = key_value_table(rows)
    if stages:
        body += "<h3>Stages</h3>" + table(["stage", "from", "to"], stages)
    leftovers = run.get("leftovers") or []
    if leftovers:
        body += f"<p class='bad'>Endpoints not deleted: {esc(', '.join(map(str, leftovers)))}</p>"
    return body


def _pairs(value: Any) -> Html:
    if not isinstance(value, Mapping):
        return fmt(value)
    return Html(" · ".join(f"{esc(key)} {code(_compact(item))}" for key, item in value.items()))


def _compact(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _json(value: Any) -> Html:
    return Html(f"<pre>{esc(json.dumps(value, indent=2))}</pre>" if value is not None else "–")


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    render: Callable[[Page], str | None]


SECTIONS: tuple[Section, ...] = (
    Section("comparison", "Comparison with the baseline", _comparison),
    Section("throughput", "Throughput and latency over time", _throughput),
    Section("ingest", "Ingest (bulk into semantic_text)", _ingest),
    Section("search", "Search", _search),
    Section("allocations", "Allocations", _allocations),
    Section("cost", "Cost", _cost),
    Section("cold-starts", "Cold starts", _cold_starts),
    Section("errors", "Errors", _errors),
    Section("buckets", "Latency by input length", _buckets),
    Section("expectations", "Scaling expectations", _expectations),
    Section("lifecycle", "Endpoint lifecycle", _lifecycle),
    Section("trends", "Trends", _trends),
    Section("conformance", "Conformance gate", _conformance),
    Section("metadata", "Run", _metadata),
)

# The headline cards: (label, path into the load summary, digits, unit).
CARDS: tuple[tuple[str, tuple[str, ...], int, str], ...] = (
    ("throughput", ("requests", "throughput_rps"), 1, " req/s"),
    ("p50", ("latency_ms", "p50"), 1, " ms"),
    ("p90", ("latency_ms", "p90"), 1, " ms"),
    ("p99", ("latency_ms", "p99"), 1, " ms"),
    ("max", ("latency_ms", "max"), 1, " ms"),
    ("error rate", ("requests", "error_rate_pct"), 2, " %"),
    ("requests", ("requests", "total"), 0, ""),
    ("max allocations", ("allocations", "max_allocation_count"), 0, ""),
    ("time to scale up", ("allocations", "time_to_scale_up_s"), 1, " s"),
    ("idle share", ("cost", "idle_share_pct"), 1, " %"),
)
# Shown only when the run has the section (ingest, search workloads).
WORKLOAD_CARDS: tuple[tuple[str, tuple[str, ...], int, str], ...] = (
    ("documents/s", ("ingest", "documents_per_s"), 1, ""),
    ("chunks/s", ("ingest", "chunks_per_s"), 1, ""),
    ("item failures", ("ingest", "item_failure_rate_pct"), 2, " %"),
    ("bulk p90", ("ingest", "latency_ms", "p90"), 1, " ms"),
    ("search p90", ("search", "latency_ms", "p90"), 1, " ms"),
)

VERDICT_TEXT = {
    "ok": "Passed",
    "failed": "Failed",
    "regression": "Performance regression",
    "inconclusive": "Inconclusive: the load machine was behind",
}


def _cards(load: Mapping[str, Any]) -> Html:
    badges = []
    workload_cards = [card for card in WORKLOAD_CARDS if load.get(card[1][0])]
    for label, path, digits, unit in (*CARDS, *workload_cards):
        node: Any = load
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        badges.append((label, fmt(node, digits, unit)))
    # The base of the figures above: what the load generator measured (summary time_base).
    time_base = TimeBase.from_summary(load)
    clock = f"wall (×{time_base.speedup:g} time-lapse)" if time_base.time_lapse else "one clock"
    badges.append(("time base", esc(clock)))
    return pagekit.cards(badges)


def render_page(page: Page) -> str:
    """The whole report as one HTML string."""
    document = page.document
    run, verdict = document["run"], document["verdict"]
    status = verdict["status"]
    # inconclusive: the load machine fell behind (exit 4), neither a pass nor the target's failure
    css = {"ok": "ok", "failed": "bad", "regression": "regression", "inconclusive": "skipped"}[
        status
    ]
    reasons = "".join(f"<li>{esc(reason)}</li>" for reason in verdict["reasons"])
    rendered = [(section, section.render(page)) for section in SECTIONS]
    rendered = [(section, body) for section, body in rendered if body]
    links = " · ".join(link(href, label) for label, href in page.links.items())
    header = "".join([
        f"<h1>Load report {code(run['run_id'])}</h1>",
        f"<p class='muted'>{esc(run.get('target') or 'unknown target')} — Elasticsearch "
        f"{esc(run.get('target_version') or 'unknown')} — shape {esc(run.get('shape') or '–')}"
        f" — {esc(run.get('started_at') or '')}</p>",
        pagekit.verdict(css, VERDICT_TEXT[status], Html(
            f" (exit code {verdict['exit_code']})" + (f"<ul>{reasons}</ul>" if reasons else ""))),
        _cards(page.load),
        f"<p>{links}</p>" if links else "",
    ])  # fmt: skip
    nav = "".join(link(f"#{section.key}", section.title) for section, _ in rendered)
    main = "".join(
        f"<section id='{section.key}'><h2>{esc(section.title)}</h2>{body}</section>"
        for section, body in rendered
    )
    footer = (
        "Generated by elsercheck report. Latencies are exact (from requests.csv), "
        "percentiles interpolate linearly between closest ranks; requests count in the window "
        "their answer arrived in. Times are seconds since the run start."
    )
    return pagekit.page(f"elsercheck load report {run['run_id']}", header, main, nav, footer)


def write_page(page: Page, path: Path) -> Path:
    """Write the page to ``path`` (UTF-8); returns ``path``."""
    return pagekit.write(path, render_page(page))
