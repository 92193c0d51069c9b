"""``capacity.html``: the sweep's page in the house style (``pagekit``), from capacity.json.

Top: the recommendation when there is one, else the capacity per allocation; then the charts,
the cells and every point with its verdict. Every value from the document is escaped once, by
the page kit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import pagekit
from ..pagekit import Html, code, esc, fmt, key_value_table, span, table
from . import charts, saturation
from .result import CAPACITY_HTML
from .units import UNITS, Unit


def _unit(data: Mapping[str, Any]) -> Unit:
    """The document's unit (files before ``rate_unit`` are inference: requests)."""
    return UNITS.get(data.get("workload", "inference"), UNITS["inference"])


def render(data: Mapping[str, Any]) -> str:
    cells = data["cells"]
    unit = _unit(data)
    title = f"elsercheck capacity {data['run_id']}"
    header = Html(f"<h1>{esc(title)}</h1>") + _verdict(data)
    parts = [_recommendation(data), _eis_comparison(data), _cards(cells, unit)]
    throughput = charts.throughput_chart(cells, unit.noun, unit.rate)
    latency = charts.latency_chart(cells, data["slo_p99_ms"], unit.noun)
    parts.append("<h2 id='charts'>Throughput and latency</h2>")
    parts += [f"<figure>{chart.svg}</figure>" for chart in (throughput, latency) if chart]
    parts.append("<h2 id='cells'>Capacity per setting</h2>" + _cells(cells, unit))
    parts.append("<h2 id='points'>Points</h2>" + _points(cells, unit))
    parts.append("<h2 id='settings'>Settings</h2>" + _settings(data))
    nav = " ".join(f"<a href='#{key}'>{label}</a>" for key, label in (
        ("recommendation", "recommendation"), ("charts", "charts"), ("cells", "capacity"),
        ("points", "points"), ("settings", "settings")))  # fmt: skip
    footer = (f"elsercheck {esc(data['generator']['elsercheck'])} · rates in {esc(unit.noun)} "
              "per second and latencies in the cluster's time")  # fmt: skip
    return pagekit.page(title, header, "".join(parts), nav, footer)


def write(report_dir: Path, data: Mapping[str, Any]) -> Path:
    return pagekit.write(report_dir / CAPACITY_HTML, render(data))


def _verdict(data: Mapping[str, Any]) -> Html:
    if data.get("interrupted_by"):
        points = sum(len(cell["points"]) for cell in data["cells"])
        return pagekit.verdict("bad", f"Interrupted ({data['interrupted_by']}): ",
                               f"the sweep was stopped; below are the {points} point(s) it "
                               "finished, and a cell cut short has no capacity")  # fmt: skip
    if data.get("error"):
        return pagekit.verdict("bad", "Sweep stopped: ", data["error"])
    found = [c for c in data["cells"] if c["per_allocation_rps"] is not None]
    if not found:
        return pagekit.verdict("bad", "No capacity: ", "no offered rate was sustained within "
                               f"the objective p99 ≤ {data['slo_p99_ms']:g} ms")  # fmt: skip
    best = found[0]
    low, high = best["per_allocation_ci"]
    unit = _unit(data)
    docs, chunks = best.get("per_allocation_documents_rps"), best.get("per_allocation_chunks_rps")
    also = (f" = {docs:.2f} documents/s, {chunks:.2f} chunks/s"
            if docs is not None and chunks is not None else "")  # fmt: skip
    size = f" of {data['bulk_size']} documents" if data.get("bulk_size") else ""
    return pagekit.verdict(
        "ok", f"{best['per_allocation_rps']:.2f} {unit.noun}/s per allocation{also}",
        f" ({unit.noun}{size}; {best['allocations']} allocation(s) × {best['threads']} "
        f"thread(s); 95 % CI {low:.2f}–{high:.2f} {unit.rate}; objective p99 ≤ "
        f"{data['slo_p99_ms']:g} ms)",
    )  # fmt: skip


SETTINGS = (
    ("num_threads", "num_threads"),
    ("max_number_of_allocations", "max_number_of_allocations"),
    ("min_number_of_allocations", "min_number_of_allocations"),
    ("scale_to_zero", "scale_to_zero_time (cluster setting), s"),
)


def _recommendation(data: Mapping[str, Any]) -> str:
    head = "<h2 id='recommendation'>Recommendation</h2>"
    advice = data.get("recommendation")
    if not advice:
        return head + ("<p class='muted'>No traffic description given: the recommendation "
                       "(allocations, threads, scale-to-zero time) needs the peak and trough "
                       "rate (<code>--traffic peak=40,trough=2</code> or "
                       "<code>--traffic-from-run DIR</code>).</p>")  # fmt: skip
    traffic = advice["traffic"]
    rows = [(label, code(advice[key]["value"]), advice[key]["reason"]) for key, label in SETTINGS]
    cost = advice["cost"]
    price = "" if cost.get("cost_per_day") is None else f", {cost['cost_per_day']:.2f} a day"
    parts = [
        head,
        f"<p>Traffic: peak {fmt(traffic['peak_rps'], 2)} {esc(_unit(data).rate)}, trough "
        f"{fmt(traffic['trough_rps'], 2)} {esc(_unit(data).rate)} "
        f"({esc(traffic.get('source') or 'given')}); "
        f"headroom {esc(advice['headroom'])}.</p>",
        table(["setting", "value", "reason"], rows),
        f"<p>Cost: {fmt(cost['allocation_hours_per_day'], 1)} allocation-hours, "
        f"{fmt(cost['vcpu_hours_per_day'], 1)} vCPU-hours a day{esc(price)} (fixed at the "
        f"maximum: {fmt(cost['fixed_allocation_hours_per_day'], 1)} allocation-hours). "
        f"<span class='muted'>{esc(cost['reason'])}</span></p>",
        "<p>service_settings:</p><pre>"
        + esc(json.dumps(advice["service_settings"], indent=2))
        + "</pre>",
    ]
    parts += [f"<p class='muted'>note: {esc(note)}</p>" for note in advice.get("notes", [])]
    return "".join(parts)


def _eis_comparison(data: Mapping[str, Any]) -> str:
    """``--compare-eis``: the verdict, then each side's cost and latency (capacity/eis.py)."""
    found = data.get("eis_comparison")
    if not found:
        return ""
    knee, demand = found["knee"], found["demand"]

    def money(value: Any) -> str:
        return "–" if value is None else f"{value:,.2f}"

    def p99(value: Any) -> str:
        return "not measured" if value is None else f"{value:,.0f} ms"

    rows = [(side["name"], money(side["cost_per_day"]), money(side["cost_per_1000_units"]),
             money(side["cost_per_million_tokens"]), p99(side["p99_ms"]),
             side["latency_source"]) for side in (found["ml_node"], found["eis"])]  # fmt: skip
    measured = found.get("measured_knee_units_per_s")
    also = "" if measured is None else f", measured {measured:,.2f} admitted"
    fits = (
        "fits"
        if found["fits"]
        else (f"does not fit: {found['refused_share_at_peak']:.0%} of the peak beyond the limit")
    )
    return "".join([
        "<h2 id='eis'>EIS versus the ML node</h2>",
        f"<p><b>{esc(found['verdict'])}</b></p>",
        f"<p>EIS limits {knee['requests_per_minute']:,} requests/min, "
        f"{knee['tokens_per_minute']:,} {esc(knee['token_limit'])} tokens/min: knee "
        f"{knee['units_per_s']:,.2f} {esc(_unit(data).rate)} (the {esc(knee['binding'])} limit "
        f"first){esc(also)}; peak {found['peak_units_per_s']:,.2f}: {esc(fits)}. "
        f"{demand['tokens_per_unit']:,.1f} tokens per unit ({esc(demand['source'])}); "
        f"{found['tokens_per_day']:,.0f} tokens a day.</p>",
        table(["", "cost a day", "per 1,000 units", "per million tokens", "p99", "latency from"],
              rows),
        *(f"<p class='muted'>assumption: {esc(text)}</p>" for text in found["assumptions"]),
    ])  # fmt: skip


def _cards(cells: list[Mapping[str, Any]], unit: Unit) -> Html:
    items = []
    for cell in cells:
        name = f"{cell['allocations']} alloc × {cell['threads']} thr"
        per = cell["per_allocation_rps"]
        items.append((f"{name}: per allocation, {unit.rate}", fmt(per, 2)))
        if unit.per_document:
            for key, label in (("documents", "documents/s"), ("chunks", "chunks/s")):
                value = cell.get(f"per_allocation_{key}_rps")
                items.append((f"{name}: per allocation, {label}", fmt(value, 2)))
        items.append((f"{name}: knee, {unit.rate}", fmt(cell["knee"]["rps"], 2)))
        found = cell.get("saturation") or {}
        if "per_allocation_rps" in found:
            items.append((f"{name}: saturation per allocation, {unit.rate}",
                          fmt(found["per_allocation_rps"], 2)))  # fmt: skip
    return pagekit.cards(items)


def _cells(cells: list[Mapping[str, Any]], unit: Unit) -> Html:
    header = ["allocations", "threads", f"capacity {unit.rate}", "95 % CI", "per allocation",
              "knee between", "probe estimate", "model", "notes"]  # fmt: skip
    if unit.per_document:
        header[5:5] = ["per allocation documents/s", "per allocation chunks/s"]
        header.insert(-1, "model chunks/s")
    rows = []
    for cell in cells:
        low, high = cell["ci_low_rps"], cell["ci_high_rps"]
        knee = cell["knee"]
        flags = ((cell["bounded"], "bounded by --max-minutes"),
                 (cell["generator_limited"], "generator-limited: a lower bound"),
                 (cell.get("interrupted", False), "interrupted"))  # fmt: skip
        notes = [text for flag, text in flags if flag]
        row = [
            cell["allocations"], cell["threads"], fmt(cell["capacity_rps"], 2),
            "–" if low is None else f"{low:.2f}–{high:.2f}",
            fmt(cell["per_allocation_rps"], 2),
            f"{fmt(knee['sustained_rps'], 2)} – {fmt(knee['failed_rps'], 2)}",
            fmt(cell["estimate_rps"], 2), fmt(cell["model_rps"], 2),
            "; ".join(notes) + (f" ({cell['ci_method']})" if cell["ci_method"] else ""),
        ]  # fmt: skip
        if unit.per_document:
            row[5:5] = [fmt(cell.get("per_allocation_documents_rps"), 2),
                        fmt(cell.get("per_allocation_chunks_rps"), 2)]  # fmt: skip
            row.insert(-1, fmt(cell.get("model_chunks_rps"), 2))
        row.insert(header.index("model"), _saturation(cell.get("saturation")))
        rows.append(row)
    header.insert(header.index("model"), "saturation per allocation")
    return table(header, rows)


def _saturation(found: Mapping[str, Any] | None) -> str:
    """A cell's saturation throughput per allocation, its interval and state."""
    if not found:
        return "–"
    if "skipped" in found:
        return f"skipped: {found['skipped']}"
    low, high = found["per_allocation_ci"]
    figure = f"{fmt(found['per_allocation_rps'], 2)} ({fmt(low, 2)}–{fmt(high, 2)})"
    if found["saturated"] and not found["inconclusive"]:
        return figure
    return f"{figure} {saturation.state(found['inconclusive'], found['saturated'])}"


def _points(cells: list[Mapping[str, Any]], unit: Unit) -> Html:
    header = ["setting", f"offered {unit.rate}", "sent", "throughput", "p50 ms", "p90 ms",
              "p99 ms", "pending growth", "errors", "verdict"]  # fmt: skip
    rows = []
    for cell in cells:
        for point in cell["points"]:
            latency = point["latency_ms"]
            verdict = (span("ok", "sustained") if point["sustained"]
                       else span("muted" if point["inconclusive"] else "bad",
                                 "; ".join(point["reasons"])))  # fmt: skip
            purpose = "" if point["purpose"] == "sweep" else f" ({point['purpose']})"
            failed = {**point["errors"], **{f"item {k}": v for k, v in
                                            point.get("item_failures", {}).items()}}  # fmt: skip
            errors = ", ".join(f"{k} ×{v}" for k, v in sorted(failed.items())) or "–"
            rows.append([
                f"{cell['allocations']}×{cell['threads']}{purpose}", fmt(point["offered_rps"], 2),
                fmt(point["sent_rps"], 2), fmt(point["throughput_rps"], 2),
                fmt(latency["p50"], 0), fmt(latency["p90"], 0), fmt(latency["p99"], 0),
                fmt(point["pending_growth"], 1), errors, verdict,
            ])  # fmt: skip
    return table(header, rows)


def _settings(data: Mapping[str, Any]) -> Html:
    timing = data["timing"]
    return key_value_table([
        ("target", data["target"]),
        ("timing", f"{timing['profile']} (clock ×{timing['speedup']:g})"),
        ("workload", _workload(data)),
        ("model", data["model_id"]),
        ("objective", f"p99 ≤ {data['slo_p99_ms']:g} ms ({data['slo_source']})"),
        ("per point", f"{data['point_seconds']:g} cluster s, capacity point run "
                      f"{data['repeats']} time(s)"),
        ("bound", f"{data['max_minutes']:g} min"),
    ])  # fmt: skip


def _workload(data: Mapping[str, Any]) -> str:
    """The workload and what shapes its unit."""
    name = data["workload"]
    if name == "ingest":
        return f"ingest: bulks of {data.get('bulk_size')} corpus documents (documents.jsonl)"
    if name == "search":
        return "search: semantic queries of the corpus' query bucket on a seeded run index"
    return f"{name}, mix {data['mix']}, batch share {data['batch_share']:g}"
