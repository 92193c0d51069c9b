"""``capacity.json``: the machine-readable outcome of a sweep (schema: capacity.schema.json).

A change that breaks readers increments :data:`SCHEMA_VERSION`. Rates are requests per cluster
second in the workload's unit (``rate_unit``: requests, semantic searches or bulks; an ingest
cell's capacity also per document and chunk), latencies cluster milliseconds (see the package
docstring).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..runs import rundir
from .cell import CellResult

SCHEMA_VERSION = 1
CAPACITY_JSON = "capacity.json"
CAPACITY_HTML = "capacity.html"
SCHEMA_PATH = Path(__file__).with_name("capacity.schema.json")


def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def document(
    settings: dict[str, Any],
    cells: list[CellResult],
    recommendation: dict[str, Any] | None = None,
    exit_code: int = 0,
    interrupted_by: str | None = None,
) -> dict[str, Any]:
    """The whole capacity.json: the sweep's ``settings`` (see :func:`settings`), every cell,
    the recommendation (``None`` until one is asked for with a traffic description) and the
    stop signal that cut the sweep short (``"SIGINT"`` …; ``None`` when it ran to its end)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "generator": {"elsercheck": __version__},
        **settings,
        "cells": [cell.to_json() for cell in cells],
        "recommendation": recommendation,
        "exit_code": exit_code,
        "interrupted_by": interrupted_by,
    }


def settings(
    *, run_id: str, target: str, target_version: str | None, embedded: bool, timing: str,
    speedup: float, workload: str, mix: str, batch_share: float, model_id: str,
    slo_p99_ms: float, slo_source: str, point_seconds: float, max_minutes: float, repeats: int,
    rate_unit: str = "requests", bulk_size: int | None = None, resolution: float | None = None,
) -> dict[str, Any]:  # fmt: skip
    """What the sweep was asked to measure, as capacity.json records it."""
    return {
        "run_id": run_id,
        "target": target,
        "target_version": target_version,
        "embedded": embedded,
        "timing": {"profile": timing, "speedup": speedup},
        "workload": workload,
        "rate_unit": rate_unit,
        "bulk_size": bulk_size,
        "mix": mix,
        "batch_share": batch_share,
        "model_id": model_id,
        "slo_p99_ms": slo_p99_ms,
        "slo_source": slo_source,
        "point_seconds": point_seconds,
        "max_minutes": max_minutes,
        "repeats": repeats,
        "resolution": resolution,
    }


def write(report_dir: Path, data: dict[str, Any]) -> Path:
    path = report_dir / CAPACITY_JSON
    rundir.write_json(path, data)
    return path
