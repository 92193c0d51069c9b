"""Pure parts of the bench: summaries, percentiles, goals, ``bench.json`` and the table.

No I/O besides writing the two report files, no timing: unit-tested in ``tests/test_bench.py``.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


def summarize(values: Iterable[float | None]) -> dict[str, Any]:
    """Median and min–max of several runs (``None`` and NaN runs are left out)."""
    kept = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not kept:
        return {"median": None, "min": None, "max": None, "runs": []}
    return {
        "median": statistics.median(kept),
        "min": min(kept),
        "max": max(kept),
        "runs": kept,
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100), linear between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def closeness(ours: float, reference: float) -> float:
    """1 − relative error of ``ours`` against ``reference``: 1.0 is exact, higher is better."""
    if reference == 0 or math.isnan(ours) or math.isnan(reference):
        return float("nan")
    return 1.0 - abs(ours - reference) / abs(reference)


@dataclass(frozen=True)
class Goal:
    """A ratio's target: met when the ratio's median is at least ``minimum``."""

    minimum: float
    text: str  # how the goal was worded, e.g. "≥ 1.5× the CLI's cases/s"

    def met(self, ratio: float | None) -> bool | None:
        if ratio is None or math.isnan(ratio):
            return None
        return ratio >= self.minimum


@dataclass
class Ratio:
    """One ``…_ratio``: ours over the peer, higher meaning better, with its runs."""

    name: str
    ours: str  # what "ours" is, e.g. "elsercheck gate -w 1, cases/s"
    peer: str
    values: list[float]
    ours_figure: dict[str, Any] | None = None  # summarize() of our raw figure
    peer_figure: dict[str, Any] | None = None
    unit: str = ""

    def summary(self) -> dict[str, Any]:
        return summarize(self.values)


@dataclass
class Result:
    """What one comparison returns: its ratios, raw figures and remarks."""

    ratios: list[Ratio] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def ratio_entry(ratio: Ratio, goal: Goal | None) -> dict[str, Any]:
    summary = ratio.summary()
    return {
        "value": summary["median"],
        "min": summary["min"],
        "max": summary["max"],
        "runs": summary["runs"],
        "ours": ratio.ours,
        "peer": ratio.peer,
        "unit": ratio.unit,
        "ours_figure": ratio.ours_figure,
        "peer_figure": ratio.peer_figure,
        "goal": None if goal is None else {"minimum": goal.minimum, "text": goal.text},
        "goal_met": None if goal is None else goal.met(summary["median"]),
    }


def comparison_entry(
    name: str, title: str, goals: dict[str, Goal], result: Result | None,
    error: str | None = None, seconds: float | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The ``bench.json`` entry of one comparison (``error`` when it could not run)."""
    ratios = (
        {} if result is None else {r.name: ratio_entry(r, goals.get(r.name)) for r in result.ratios}
    )
    return {
        "name": name,
        "title": title,
        "seconds": None if seconds is None else round(seconds, 1),
        "error": error,
        "ratios": ratios,
        "raw": {} if result is None else result.raw,
        "notes": [] if result is None else result.notes,
    }


def bench_document(
    comparisons: list[dict[str, Any]], machine: dict[str, Any], started_at: str,
    wall_s: float, notes: list[str],
) -> dict[str, Any]:  # fmt: skip
    """The whole ``bench.json``; ``ratios`` repeats every ratio by name for quick lookup."""
    flat = {
        name: entry["value"]
        for comparison in comparisons
        for name, entry in comparison["ratios"].items()
    }
    missed = [
        name
        for comparison in comparisons
        for name, entry in comparison["ratios"].items()
        if entry["goal_met"] is False
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "started_at": started_at,
        "wall_s": round(wall_s, 1),
        "machine": machine,
        "ratios": flat,
        "goals_missed": missed,
        "notes": notes,
        "comparisons": comparisons,
    }


def _num(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


def _figure(figure: dict[str, Any] | None, unit: str) -> str:
    if not figure or figure.get("median") is None:
        return "–"
    text = _num(figure["median"])
    if len(figure.get("runs", [])) > 1:
        text += f" ({_num(figure['min'])}–{_num(figure['max'])})"
    return f"{text} {unit}".rstrip()


def table_rows(document: dict[str, Any]) -> list[list[str]]:
    """One row per ratio: comparison, ratio, ours, peer, ratio median (min–max), goal, met."""
    rows = []
    for comparison in document["comparisons"]:
        if comparison["error"]:
            rows.append(
                [comparison["title"], "–", "–", "–", "–", "–", f"error: {comparison['error']}"]
            )
            continue
        for name, entry in comparison["ratios"].items():
            value = _num(entry["value"])
            if len(entry["runs"]) > 1:
                value += f" ({_num(entry['min'])}–{_num(entry['max'])})"
            met = {True: "yes", False: "**no**", None: "–"}[entry["goal_met"]]
            rows.append(
                [
                    comparison["title"],
                    f"`{name}`",
                    f"{entry['ours']}: {_figure(entry['ours_figure'], entry['unit'])}",
                    f"{entry['peer']}: {_figure(entry['peer_figure'], entry['unit'])}",
                    value,
                    entry["goal"]["text"] if entry["goal"] else "–",
                    met,
                ]
            )
    return rows


HEADER = ["comparison", "ratio", "ours", "peer", "ratio: median (min–max)", "goal", "met"]


def markdown_table(document: dict[str, Any]) -> str:
    rows = [HEADER, *table_rows(document)]
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("---" for _ in HEADER) + "|")
    return "\n".join(lines) + "\n"


def markdown(document: dict[str, Any]) -> str:
    """``bench.md``: the table, then each comparison's notes, then the machine."""
    machine = document["machine"]
    parts = [
        "# elsercheck bench\n",
        f"Run {document['started_at']}, {document['wall_s']:.0f} s in all. Ratios are ours over "
        "the peer, higher is better; each is the median of the per-run ratios (each run measures "
        "both sides back to back), with min–max over the runs. Raw figures: `bench.json`.\n",
        markdown_table(document),
    ]
    if document["goals_missed"]:
        parts.append(
            "Goals missed: " + ", ".join(f"`{n}`" for n in document["goals_missed"]) + "\n"
        )
    for comparison in document["comparisons"]:
        if comparison["notes"] or comparison["error"]:
            parts.append(f"## {comparison['title']}\n")
            if comparison["error"]:
                parts.append(f"Could not run: {comparison['error']}\n")
            parts.extend(f"- {note}" for note in comparison["notes"])
            parts.append("")
    if document["notes"]:
        parts.append("## Remarks\n")
        parts.extend(f"- {note}" for note in document["notes"])
        parts.append("")
    parts.append("## Machine\n")
    tools = ", ".join(f"{k} {v}" for k, v in machine.get("tools", {}).items() if v)
    parts.append(
        f"{machine.get('cpu_model') or '?'}; {machine.get('cpus')} CPUs "
        f"({machine.get('cpus_usable')} usable); {machine.get('memory_gib')} GiB; "
        f"{machine.get('platform')}; Python {machine.get('python')}; load average at start "
        f"{machine.get('load_average_at_start')}; pinning: {machine.get('pinning')}.\n\n"
        f"Tools: {tools}.\n"
    )
    return "\n".join(parts)


def write_reports(document: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "bench.json"
    md_path = out_dir / "bench.md"
    json_path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown(document), encoding="utf-8")
    return json_path, md_path
