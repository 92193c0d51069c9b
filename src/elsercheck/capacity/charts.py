"""The capacity page's charts (inline SVG through the report's ``render``): achieved throughput
against the offered rate with the knee and the objective's verdicts marked, and latency
percentiles per point with the objective as a line. Input: capacity.json's cells."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..report.charts import _RC, COLOURS, WIDTH_IN, Chart, render

CELL_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
SUSTAINED, FAILED = COLOURS["p50"], COLOURS["failed"]


def _figure(height: float = 3.8) -> tuple[Figure, Any]:
    figure = Figure(figsize=(WIDTH_IN, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.subplots()


def throughput_chart(
    cells: Sequence[Mapping[str, Any]], noun: str = "requests", rate: str = "req/s"
) -> Chart | None:
    """Achieved throughput vs offered rate per cell; the knee as a dashed line. ``noun`` and
    ``rate``: the workload's unit (``units.py``)."""
    runs = [(cell, point) for cell in cells for point in cell["points"]]
    if not runs:
        return None
    with matplotlib.rc_context(_RC):
        figure, ax = _figure()
        top = max(max(p["offered_rps"], p["throughput_rps"]) for _, p in runs) * 1.08
        ax.plot([0, top], [0, top], color="#bbbbbb", linewidth=1, label="throughput = offered")
        for index, cell in enumerate(cells):
            colour = CELL_COLOURS[index % len(CELL_COLOURS)]
            points = sorted(cell["points"], key=lambda p: p["offered_rps"])
            if not points:
                continue
            name = f"{cell['allocations']} alloc × {cell['threads']} thr"
            ax.plot([p["offered_rps"] for p in points], [p["throughput_rps"] for p in points],
                    color=colour, linewidth=1, alpha=0.6)  # fmt: skip
            for sustained, marker in ((True, "o"), (False, "x")):
                chosen = [p for p in points if p["sustained"] == sustained]
                ax.scatter([p["offered_rps"] for p in chosen],
                           [p["throughput_rps"] for p in chosen], color=colour, marker=marker,
                           zorder=3, label=f"{name}, {'within' if sustained else 'beyond'} "
                           "the objective")  # fmt: skip
            knee = cell["knee"]["rps"]
            if knee is not None:
                ax.axvline(knee, color=colour, linestyle="--", linewidth=1.2,
                           label=f"{name} knee {knee:.2f} {rate}")  # fmt: skip
            if cell.get("capacity_rps") is not None:
                ax.axhspan(cell["ci_low_rps"], cell["ci_high_rps"], color=colour, alpha=0.12,
                           label=f"{name} capacity 95 % CI")  # fmt: skip
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel(f"offered rate ({noun} per cluster second)")
        ax.set_ylabel(f"throughput ({rate})")
        ax.set_title("Throughput vs offered rate")
        ax.legend(loc="upper left", fontsize=8)
        return render(figure, "capacity-throughput", "Throughput vs offered rate")


def latency_chart(
    cells: Sequence[Mapping[str, Any]], slo_p99_ms: float, noun: str = "requests"
) -> Chart | None:
    """p50/p90/p99 per point against the offered rate; the objective as a line."""
    runs = [point for cell in cells for point in cell["points"] if point["latency_ms"]["p99"]]
    if not runs:
        return None
    with matplotlib.rc_context(_RC):
        figure, ax = _figure()
        styles = {"p50": ":", "p90": "--", "p99": "-"}
        for index, cell in enumerate(cells):
            colour = CELL_COLOURS[index % len(CELL_COLOURS)]
            points = sorted((p for p in cell["points"] if p["latency_ms"]["p99"]),
                            key=lambda p: p["offered_rps"])  # fmt: skip
            name = f"{cell['allocations']}×{cell['threads']}"
            for key, style in styles.items():
                ax.plot([p["offered_rps"] for p in points],
                        [p["latency_ms"][key] for p in points], color=colour, linestyle=style,
                        marker=".", label=f"{name} {key}")  # fmt: skip
        ax.axhline(slo_p99_ms, color=COLOURS["failed"], linewidth=1.2,
                   label=f"objective p99 ≤ {slo_p99_ms:g} ms")  # fmt: skip
        ax.set_yscale("log")
        ax.set_xlabel(f"offered rate ({noun} per cluster second)")
        ax.set_ylabel("latency (cluster ms, log)")
        ax.set_title("Latency percentiles per point")
        ax.legend(loc="upper left", fontsize=8, ncols=3)
        return render(figure, "capacity-latency", "Latency percentiles per point")
