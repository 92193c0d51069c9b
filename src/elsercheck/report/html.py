"""The self-contained ``report.html``: inline CSS and SVG, no script, no remote resource.

The page is the :data:`SECTIONS` table in order; a section renders to ``None`` when the run
has nothing for it (it is then left out of the page and its navigation). Every text that
comes from a run file is HTML-escaped here, once, by :func:`esc`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..load.rundir import DOCUMENTED_LOAD_ERRORS, ERROR_KINDS
from .charts import Chart
from .compare import Row
from .metrics import POINTS
from .stages import Span


def esc(value: Any) -> str:
    """Text (or anything, as text) safe inside HTML content and quoted attributes."""
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 1, unit: str = "") -> str:
    """A number for a table cell: ``–`` for none, thousands separators, fixed decimals."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return esc(value) + unit


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


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], css: str = "") -> str:
    """A table from already-escaped cells."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='{css}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _observed(observed: Mapping[str, Any]) -> str:
    return "<br>".join(
        f"<code>{esc(key)}</code> {f'{value:g}' if isinstance(value, float) else fmt(value)}"
        for key, value in observed.items()
    )


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
        state = "regression" if row.regression else "improvement" if row.improvement else ""
        verdict = {"regression": "✗ regression", "improvement": "✓ better"}.get(state, "")
        unit = f" {metric.unit}" if metric.unit else ""
        rows.append(
            [
                f"{esc(metric.label)} <span class='muted'>({esc(metric.key)})</span>",
                fmt(row.baseline, 2, unit),
                fmt(row.contender, 2, unit),
                f"<span class='{state}'>{_signed(row.diff, 2)}</span>",
                f"<span class='{state}'>{_signed(row.diff_pct, 1, ' %')}</span>",
                f"{threshold} <span class='muted'>({esc(metric.worse)} is worse)</span>",
                f"<span class='{state}'>{verdict}</span>",
            ]
        )
    baseline = esc(comparison["baseline_run_id"])
    started = esc(comparison.get("baseline_started_at") or "")
    return (
        f"<p>Baseline <code>{baseline}</code> {started} — contender "
        f"<code>{esc(comparison['contender_run_id'])}</code> (this run).</p>"
        + _table(
            ["Metric", "Baseline", "Contender", "Diff", "Diff %", "Threshold", ""], rows, "compare"
        )
    )


def _signed(value: float | None, digits: int, unit: str = "") -> str:
    return "–" if value is None else f"{value:+,.{digits}f}{unit}"


def _throughput(page: Page) -> str | None:
    charts = page.chart("throughput") + page.chart("latency")
    return charts or None


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
        f"{allocations['scale_downs']} scale-down decisions; time to scale up "
        f"{fmt(allocations['time_to_scale_up_s'], 1, ' s')}; max pending requests "
        f"{fmt(allocations['max_pending_requests'])}; {allocations['samples']} stats polls "
        f"({allocations['poll_errors']} failed).</p>"
    )
    table = (
        _table(["decided at", "target", "reached at", "took"], events)
        if events
        else "<p class='muted'>No scale events: target_allocation_count never changed.</p>"
    )
    return page.chart("allocations") + facts + table + page.chart("queue")


def _errors(page: Page) -> str | None:
    errors = page.load["errors"]
    rows = [
        [f"<code>{esc(kind)}</code>", fmt(count),
         esc(ERROR_KINDS.get(kind, "not a known kind")),
         "documented under load" if kind in DOCUMENTED_LOAD_ERRORS else ""]
        for kind, count in errors["by_kind"].items()
        if count
    ]  # fmt: skip
    if not rows:
        return "<p class='ok'>No failed inference requests.</p>"
    return page.chart("errors") + _table(["kind", "requests", "meaning", ""], rows)


def _buckets(page: Page) -> str | None:
    by_name = page.load["by_name"]
    if not by_name:
        return None
    rows = [
        [f"<code>{esc(name)}</code>", fmt(entry["total"]), fmt(entry["failed"]),
         *(fmt(entry["latency_ms"][key]) for key in ("p50", "p90", "p99", "max", "mean"))]
        for name, entry in by_name.items()
    ]  # fmt: skip
    header = ["name (input length)", "requests", "failed", "p50 ms", "p90 ms", "p99 ms", "max ms",
              "mean ms"]  # fmt: skip
    return page.chart("buckets") + _table(header, rows)


def _expectations(page: Page) -> str | None:
    expectations = page.load["expectations"]
    if not expectations["total"]:
        return "<p class='muted'>No expectations were recorded (expectations.json missing).</p>"
    rows = [
        [f"<span class='{item['status']}'>{esc(item['status'])}</span>",
         f"<code>{esc(item['name'])}</code><br><span class='muted'>"
         f"{esc(item['description'])}</span>",
         esc(item["detail"]), _observed(item["observed"])]
        for item in expectations["items"]
    ]  # fmt: skip
    counts = (
        f"<p>{expectations['pass']} pass · {expectations['fail']} fail · "
        f"{expectations['skipped']} skipped</p>"
    )
    return counts + _table(
        ["status", "expectation", "detail", "observed (times in s from the run start)"], rows
    )


def _lifecycle(page: Page) -> str | None:
    lifecycle = page.load["lifecycle"]
    if not lifecycle:
        return None
    rows = [
        [f"<code>{esc(name)}</code>", fmt(entry["count"]), fmt(entry["failed"]),
         *(fmt(entry[key], 2) for key in ("median_s", "mean_s", "min_s", "max_s"))]
        for name, entry in lifecycle.items()
    ]  # fmt: skip
    return _table(["step", "count", "failed", "median s", "mean s", "min s", "max s"], rows)


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
            _table(
                ["failed check", "message"],
                ([f"<code>{esc(f['name'])}</code>", esc(f["message"])] for f in gate["failures"]),
            )
        )
    if gate["leftovers"]:
        parts.append(f"<p class='bad'>Not deleted: {esc(', '.join(gate['leftovers']))}</p>")
    links = [f"<a href='{esc(gate['junit'])}'>junit.xml</a>"]
    if gate.get("html"):
        links.insert(0, f"<a href='{esc(gate['html'])}'>gate report</a>")
    parts.append("<p>" + " · ".join(links) + "</p>")
    return "".join(parts)


def _metadata(page: Page) -> str | None:
    run = page.document["run"]
    generator = page.document.get("generator", {})
    rows = [
        ["run id", f"<code>{esc(run.get('run_id'))}</code>"],
        ["started / finished", f"{esc(run.get('started_at') or '–')} / "
                               f"{esc(run.get('finished_at') or '–')}"],
        ["target", f"<code>{esc(run.get('target') or '–')}</code> — Elasticsearch "
                   f"{esc(run.get('target_version') or 'unknown')}"],
        ["shape", esc(run.get("shape") or "–")],
        ["endpoint", _json(run.get("endpoint"))],
        ["scaler timing", _pairs(run.get("timing"))],
        ["options", _pairs(run.get("options"))],
        ["workers", fmt(run.get("workers"))],
        ["machine", _pairs(run.get("machine"))],
        ["tools", _pairs(run.get("tools"))],
        ["load run exit code", fmt(run.get("exit_code"))],
        ["report", f"elsercheck {esc(generator.get('elsercheck', '?'))}, "
                   f"{esc(page.document.get('generated_at', ''))}"],
    ]  # fmt: skip
    stages = [
        [esc(span.label), fmt(span.start_s, 1, " s"), fmt(span.end_s, 1, " s")]
        for span in page.spans
    ]
    table = "<table class='meta'><tbody>" + "".join(
        f"<tr><th>{esc(key)}</th><td>{value}</td></tr>" for key, value in rows
    )
    table += "</tbody></table>"
    if stages:
        table += "<h3>Stages</h3>" + _table(["stage", "from", "to"], stages)
    leftovers = run.get("leftovers") or []
    if leftovers:
        table += f"<p class='bad'>Endpoints not deleted: {esc(', '.join(map(str, leftovers)))}</p>"
    return table


def _pairs(value: Any) -> str:
    if not isinstance(value, Mapping):
        return fmt(value)
    return " · ".join(
        f"{esc(key)} <code>{esc(_compact(item))}</code>" for key, item in value.items()
    )


def _compact(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _json(value: Any) -> str:
    return f"<pre>{esc(json.dumps(value, indent=2))}</pre>" if value is not None else "–"


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    render: Callable[[Page], str | None]


SECTIONS: tuple[Section, ...] = (
    Section("comparison", "Comparison with the baseline", _comparison),
    Section("throughput", "Throughput and latency over time", _throughput),
    Section("allocations", "Allocations", _allocations),
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
)

STYLE = """
:root{--ok:#0a7d32;--bad:#b3261e;--warn:#8a6d00;--muted:#6e6e73;--line:#e3e3e6;--bg:#f5f5f7}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1d1f}
header,main{max-width:1100px;margin:0 auto;padding:0 1.5rem}
header{padding-top:1.2rem}h1{font-size:1.45rem;margin:.2rem 0}h2{font-size:1.15rem;
margin-top:2rem;padding-top:.6rem;border-top:1px solid var(--line)}h3{font-size:1rem}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:.4rem 0;
z-index:1}nav a{margin-right:.9rem;color:#0b57d0;text-decoration:none;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.6rem;
margin:1rem 0}.card{background:var(--bg);border-radius:8px;padding:.6rem .8rem}
.card b{display:block;font-size:1.25rem}.card span{color:var(--muted);font-size:12px}
table{border-collapse:collapse;width:100%;margin:.6rem 0}td,th{border-bottom:1px solid
var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}thead th{background:var(--bg)}
table.meta th{width:12rem;background:none;color:var(--muted);font-weight:normal}
table.compare td:nth-child(n+2){text-align:right;white-space:nowrap}
figure{margin:.8rem 0}svg.chart{width:100%;height:auto;max-width:1000px}
.ok,.pass,.improvement{color:var(--ok)}.bad,.fail,.regression{color:var(--bad);font-weight:600}
.skipped{color:var(--warn)}.muted{color:var(--muted)}code{font-size:12.5px}
pre{background:var(--bg);padding:.5rem;overflow-x:auto;font-size:12px;margin:0}
.verdict{padding:.6rem .9rem;border-radius:8px;margin:.8rem 0}.verdict.ok{background:#e7f5ec}
.verdict.bad,.verdict.regression{background:#fbeaea}
footer{color:var(--muted);font-size:12px;margin:2rem 0}
"""

VERDICT_TEXT = {
    "ok": "Passed",
    "failed": "Failed",
    "regression": "Performance regression",
}


def _cards(load: Mapping[str, Any]) -> str:
    cards = []
    for label, path, digits, unit in CARDS:
        node: Any = load
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        cards.append(f"<div class='card'><b>{fmt(node, digits, unit)}</b><span>{esc(label)}"
                     "</span></div>")  # fmt: skip
    return "<div class='cards'>" + "".join(cards) + "</div>"


def render_page(page: Page) -> str:
    """The whole report as one HTML string."""
    document = page.document
    run, verdict = document["run"], document["verdict"]
    status = verdict["status"]
    css = {"ok": "ok", "failed": "bad", "regression": "regression"}[status]
    reasons = "".join(f"<li>{esc(reason)}</li>" for reason in verdict["reasons"])
    rendered = [(section, section.render(page)) for section in SECTIONS]
    rendered = [(section, body) for section, body in rendered if body]
    links = " · ".join(
        f"<a href='{esc(href)}'>{esc(label)}</a>" for label, href in page.links.items()
    )
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>elsercheck load report {esc(run['run_id'])}</title>",
        f"<style>{STYLE}</style></head><body><header>",
        f"<h1>Load report <code>{esc(run['run_id'])}</code></h1>",
        f"<p class='muted'>{esc(run.get('target') or 'unknown target')} — Elasticsearch "
        f"{esc(run.get('target_version') or 'unknown')} — shape {esc(run.get('shape') or '–')}"
        f" — {esc(run.get('started_at') or '')}</p>",
        f"<div class='verdict {css}'><strong class='{css}'>{VERDICT_TEXT[status]}</strong>"
        f" (exit code {verdict['exit_code']})" + (f"<ul>{reasons}</ul>" if reasons else "")
        + "</div>",
        _cards(page.load),
        f"<p>{links}</p>" if links else "",
        "</header><nav><div style='max-width:1100px;margin:0 auto;padding:0 1.5rem'>",
        "".join(f"<a href='#{section.key}'>{esc(section.title)}</a>" for section, _ in rendered),
        "</div></nav><main>",
    ]  # fmt: skip
    for section, body in rendered:
        parts.append(f"<section id='{section.key}'><h2>{esc(section.title)}</h2>{body}</section>")
    parts.append(
        "<footer>Generated by elsercheck report. Latencies are exact (from requests.csv), "
        "percentiles interpolate linearly between closest ranks; requests count in the window "
        "their answer arrived in. Times are seconds since the run start.</footer>"
    )
    parts.append("</main></body></html>\n")
    return "".join(parts)


def write_page(page: Page, path: Path) -> Path:
    """Write the page to ``path`` (UTF-8); returns ``path``."""
    path.write_text(render_page(page), encoding="utf-8")
    return path
