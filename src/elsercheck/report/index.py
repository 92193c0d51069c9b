"""``reports/index.html``: a landing page linking the load, gate and selftest reports.

Load runs come newest first with their verdict and headline numbers (from each run's
summary.json when it has one); gate runs newest first with their verdict (from junit.xml).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..gate_report import GateSummary, read_junit
from ..pagekit import Html, esc, fmt, link, page, span, table, write
from .build import REPORT_HTML, SUMMARY_JSON

INDEX_HTML = "index.html"
MAX_LISTED = 100  # per kind; older reports stay on disk, just unlisted


@dataclass(frozen=True)
class Listed:
    href: str  # relative to the reports root
    run_id: str
    when: str  # ISO 8601, for ordering and display
    cells: tuple[Html, ...]  # table cells after the run id


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read_summary(path: Path) -> Mapping[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _load_runs(root: Path) -> list[Listed]:
    listed = []
    for report in (root / "load").glob(f"*/{REPORT_HTML}"):
        document = _read_summary(report.parent / SUMMARY_JSON)
        run = document.get("run") or {}
        load = document.get("load") or {}
        requests, latency = load.get("requests") or {}, load.get("latency_ms") or {}
        status = (document.get("verdict") or {}).get("status", "?")
        listed.append(
            Listed(
                href=report.relative_to(root).as_posix(),
                run_id=str(run.get("run_id") or report.parent.name),
                when=str(run.get("started_at") or _mtime(report)),
                cells=(
                    span(status, status),
                    esc(run.get("shape") or "–"),
                    esc(run.get("target_version") or "–"),
                    fmt(requests.get("throughput_rps"), 1, " req/s"),
                    fmt(latency.get("p99"), 1, " ms"),
                    fmt(requests.get("error_rate_pct"), 2, " %"),
                ),
            )
        )
    return listed


def _gate_runs(root: Path) -> list[Listed]:
    listed = []
    for report in (root / "gate").glob("*/gate.html"):
        junit = report.parent / "junit.xml"
        try:
            summary = GateSummary(read_junit(junit)) if junit.is_file() else None
        except (ET.ParseError, OSError, ValueError):
            summary = None
        if summary is None:
            verdict = span("skipped", "unknown")
        elif summary.conformant:
            verdict = span("ok", "conformant")
        else:
            verdict = span("bad", f"{len(summary.failures)} failed")
        listed.append(
            Listed(
                href=report.relative_to(root).as_posix(),
                run_id=report.parent.name,
                when=_mtime(report),
                cells=(verdict, fmt(len(summary.cases) if summary else None)),
            )
        )
    return listed


def _selftest(root: Path) -> list[Listed]:
    report = root / "selftest" / "selftest.html"
    if not report.is_file():
        return []
    return [Listed(report.relative_to(root).as_posix(), "selftest", _mtime(report), ())]


@dataclass(frozen=True)
class Kind:
    title: str
    header: tuple[str, ...]
    find: Callable[[Path], list[Listed]]


KINDS: tuple[Kind, ...] = (
    Kind(
        "Load runs",
        ("run", "when", "verdict", "shape", "Elasticsearch", "throughput", "p99", "error rate"),
        _load_runs,
    ),
    Kind("Conformance gate runs", ("run", "when", "verdict", "checks"), _gate_runs),
    Kind("Gate selftest", ("report", "when"), _selftest),
)


def write_index(reports_root: Path) -> Path:
    """Write ``reports_root/index.html`` listing the reports found under it; returns its path."""
    reports_root.mkdir(parents=True, exist_ok=True)
    parts = []
    for kind in KINDS:
        listed = sorted(kind.find(reports_root), key=lambda item: (item.when, item.run_id))
        rows = [[link(item.href, item.run_id), item.when, *item.cells]
                for item in listed[::-1][:MAX_LISTED]]  # fmt: skip
        none = "<p class='muted'>none yet</p>"
        parts.append(f"<h2>{esc(kind.title)}</h2>" + (table(kind.header, rows) if rows else none))
    main = "".join(parts)
    return write(
        reports_root / INDEX_HTML, page("elsercheck reports", "<h1>elsercheck reports</h1>", main)
    )
