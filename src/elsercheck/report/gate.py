"""The conformance gate's result next to a load run, for the report's conformance section.

Reports live under ``reports/load/<run-id>/`` and ``reports/gate/<run-id>/``; a gate run with
the same id (``elsercheck run`` does both) is found without being named.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ..gate_report import OUTCOMES, GateSummary, read_junit

JUNIT = "junit.xml"
GATE_HTML = "gate.html"
LEFTOVERS_JSON = "leftovers.json"
MAX_LISTED_FAILURES = 50


class GateError(ValueError):
    """``--gate-dir`` names something without a JUnit file."""


def find_junit(run_dir: Path, run_id: str, gate_dir: Path | None = None) -> Path | None:
    """The gate's junit.xml: ``gate_dir`` (a directory or the file itself) when given, else the
    first of ``RUN_DIR/gate/``, ``RUN_DIR/`` and ``RUN_DIR/../../gate/<run_id>/`` holding one."""
    if gate_dir is not None:
        candidate = gate_dir if gate_dir.is_file() else gate_dir / JUNIT
        if not candidate.is_file():
            raise GateError(f"no {JUNIT} in {gate_dir}")
        return candidate
    for directory in (run_dir / "gate", run_dir, run_dir.parent.parent / "gate" / run_id):
        if (directory / JUNIT).is_file():
            return directory / JUNIT
    return None


def gate_json(junit: Path, relative_to: Path) -> dict[str, Any]:
    """summary.json's ``gate`` section; an unreadable file is a non-conformant gate."""
    base = {
        "junit": _relative(junit, relative_to),
        "html": _relative(junit.parent / GATE_HTML, relative_to)
        if (junit.parent / GATE_HTML).is_file()
        else None,
    }
    try:
        cases = read_junit(junit)
    except (ET.ParseError, OSError, ValueError) as exc:
        return {
            **base, "conformant": False, "total": 0, "counts": dict.fromkeys(OUTCOMES, 0),
            "seconds": 0.0, "failures": [], "leftovers": [],
            "error": f"cannot read {junit.name}: {exc}",
        }  # fmt: skip
    summary = GateSummary(cases, leftovers=_leftovers(junit.parent / LEFTOVERS_JSON))
    counts = summary.counts
    return {
        **base,
        "conformant": summary.conformant,
        "total": len(cases),
        "counts": {outcome: counts[outcome] for outcome in OUTCOMES},
        "seconds": round(sum(case.seconds for case in cases), 3),
        "failures": [
            {
                "name": case.name,
                "message": case.message.splitlines()[0][:300] if case.message else "",
            }
            for case in summary.failures[:MAX_LISTED_FAILURES]
        ],
        "leftovers": summary.leftovers,
        "error": None,
    }


def _leftovers(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(item) for item in data] if isinstance(data, list) else []


def _relative(path: Path, start: Path) -> str:
    # Relative, so the report's links keep working when reports/ is copied or published.
    try:
        return os.path.relpath(path, start)
    except ValueError:  # another drive on Windows
        return str(path)
