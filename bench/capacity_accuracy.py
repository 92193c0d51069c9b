"""Comparison 5: does `elsercheck capacity` on the embedded server measure the model's capacity?

The embedded reference server's capacity is known (``capacity/model.py``): at saturation one
allocation completes 1 / E[service time] units per cluster second (``model_rps``), and the
sweep's own rules (the p99 objective, kept over its repeats) put its knee at
``model_knee_rps``, which a queue model of the deployment computes. Each round runs
``elsercheck capacity`` (embedded server, the time-lapse ``elsercheck.sim_scale`` chooses for
the cell) for the default inference mix, search and ingest, at 1 and at 16 allocations, and
compares per allocation (``…_ratio`` = 1 − relative error): the cell's saturation point with
the model's saturation (goal ≥ 0.9: within 10 %; raw: whether the model lies in its
interval), and the sweep's capacity with the model's knee (reported: one sweep's knee spreads
±15-25 %); the simulator's lag during the points is reported beside.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from elsercheck.sim_scale import BEYOND_SLOWEST

from .common import PYTHON, BenchError, Context, bench_env
from .report import Ratio, Result, closeness, summarize

CELLS = (("inference", 1), ("inference", 16), ("search", 1), ("search", 16), ("ingest", 1),
         ("ingest", 16))  # fmt: skip
QUICK_CELLS = (("inference", 1),)
MAX_MINUTES = 8  # per sweep (a wall-clock bound; a sweep cut short is flagged bounded)
# Search at 16 allocations (~775 searches per cluster second) runs in slow motion on 2 cores
# (lapse-0.5 or -0.2: two or five wall seconds per cluster second, by the measured ceiling).
# Its points are shortened to 12 cluster seconds, still some 9,000 searches each, so that the
# sweep fits in its own bound.
CELL_OPTIONS: dict[tuple[str, int], tuple[list[str], float]] = {
    ("search", 16): (["--point-seconds", "12"], 25),
}


def sweep(ctx: Context, workload: str, allocations: int, round_: int) -> dict[str, Any] | None:
    """One ``elsercheck capacity`` run; its capacity.json, or None when the sweep was refused
    as beyond what this machine simulates faithfully at any time-lapse (its log says so)."""
    out = ctx.scratch / f"capacity-{workload}-a{allocations}-{round_}"
    options, minutes = CELL_OPTIONS.get((workload, allocations), ([], MAX_MINUTES))
    command = [PYTHON, "-m", "elsercheck", "capacity", "--workload", workload,
               "--allocations", str(allocations), "--max-minutes", f"{minutes:g}",
               "--seed", str(round_), "--report-dir", str(out), *options]  # fmt: skip
    with (ctx.scratch / f"capacity-{workload}-a{allocations}-{round_}.log").open("w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=bench_env(),
                              timeout=minutes * 60 + 300, check=False)  # fmt: skip
    path = out / "capacity.json"
    if not path.exists() and done.returncode == 2 and BEYOND_SLOWEST in _text(log.name):
        return None
    if not path.exists():
        raise BenchError(f"capacity {workload} ×{allocations} wrote no capacity.json "
                         f"(exit {done.returncode}; see {log.name})")  # fmt: skip
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _inside(value: float | None, interval: list[float | None]) -> bool | None:
    low, high = interval
    return None if value is None or low is None or high is None else low <= value <= high


def _text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def figures(data: dict[str, Any]) -> dict[str, Any]:
    """Per allocation: the sweep's capacity and its interval, the saturation point's and its
    interval, the model's knee and saturation, the time-lapse, and the simulator's worst lag
    share over the points."""
    [cell] = data["cells"]
    n = cell["allocations"]
    saturated = cell.get("saturation") or {}
    lags = [p["simulator"] for p in cell["points"] if p.get("simulator")]
    lags += [saturated["simulator"]] if saturated.get("simulator") else []
    return {
        "measured": cell["per_allocation_rps"],
        "interval": cell["per_allocation_ci"],
        "saturation": saturated.get("per_allocation_rps"),
        "saturation_interval": saturated.get("per_allocation_ci", [None, None]),
        "saturated": saturated.get("saturated"),
        "model_knee": (cell.get("model_knee_rps") or 0) / n or None,
        "model_saturation": (cell.get("model_rps") or 0) / n or None,
        "timing": data["timing"],
        "bounded": cell["bounded"],
        "simulator_worst_share": max((lag["share"] for lag in lags), default=None),
        "simulator_kept_up": all(lag["kept_up"] for lag in lags) if lags else None,
        "simulator_max_lag_ms": max((lag["max_lag_ms"] for lag in lags), default=None),
    }


def run(ctx: Context) -> Result:
    result = Result()
    cells = QUICK_CELLS if ctx.quick else CELLS
    rounds = 1 if ctx.quick else ctx.runs
    per_cell: dict[str, list[dict[str, Any]]] = {}
    for round_ in range(rounds):
        for workload, allocations in cells:
            key = f"{workload}_a{allocations}"
            data = sweep(ctx, workload, allocations, round_)
            if data is None:
                refused = f"{key}: refused, beyond what this machine simulates (see its log)"
                if refused not in result.notes:
                    result.notes.append(refused)
                ctx.status(f"capacity accuracy: round {round_ + 1}/{rounds} {refused}")
                continue
            found = figures(data)
            per_cell.setdefault(key, []).append(found)
            ctx.status(
                f"capacity accuracy: round {round_ + 1}/{rounds} {key}: saturation "
                f"{found['saturation']} per allocation (interval "
                f"{found['saturation_interval']}; model {found['model_saturation']}), capacity "
                f"{found['measured']} (interval {found['interval']}; model knee "
                f"{found['model_knee']}); timing {found['timing']['profile']}; simulator kept "
                f"up: {found['simulator_kept_up']}"
            )
    for key, runs in per_cell.items():
        saturation = [r["saturation"] for r in runs]
        model = [r["model_saturation"] for r in runs]
        result.ratios.append(
            Ratio(
                f"capacity_{key}_saturation_vs_model_ratio",
                f"measured saturation per allocation ({key})",
                "the model's saturation (capacity/model.py capacity_per_allocation)",
                [closeness(m, k) if m and k else float("nan")
                 for m, k in zip(saturation, model, strict=True)],
                summarize(saturation), summarize(model), "units/s per allocation",
            )
        )  # fmt: skip
        measured = [r["measured"] for r in runs]
        knee = [r["model_knee"] for r in runs]
        result.ratios.append(
            Ratio(
                f"capacity_{key}_vs_model_ratio", f"measured capacity per allocation ({key})",
                "the model's knee (capacity/model.py knee_per_allocation)",
                [closeness(m, k) if m and k else float("nan")
                 for m, k in zip(measured, knee, strict=True)],
                summarize(measured), summarize(knee), "units/s per allocation",
            )
        )  # fmt: skip
    result.raw = {
        key: {
            "runs": runs,
            "model_in_saturation_interval": [
                _inside(r["model_saturation"], r["saturation_interval"]) for r in runs
            ],
            "model_in_interval": [_inside(r["model_knee"], r["interval"]) for r in runs],
        }
        for key, runs in per_cell.items()
    }
    result.notes.append(
        "`elsercheck capacity` on the embedded server (default options: the time-lapse "
        "elsercheck.sim_scale picks for this machine, the objective from the probe, 2 repeats) "
        "per workload at 1 and 16 allocations. `…_saturation_vs_model_ratio` = 1 − |measured − "
        "model| / model for the cell's saturation point against the model's saturation; "
        "`…_vs_model_ratio` the same for the sweep's capacity against the rate at which the "
        "modelled deployment's p99 reaches the objective as the sweep keeps it; raw: whether "
        "each model lies in its interval, and the simulator's lag (share of each point "
        "stalled)."
    )
    return result
