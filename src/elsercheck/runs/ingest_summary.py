"""Headline numbers of the ingest and search workloads (requests.csv ``BULK`` / ``SEARCH``).

Definitions (rows as ``runfiles.RunFiles.other_requests`` holds them):

- a bulk is *ok* when its request succeeded (empty ``error_kind``); item failures inside a
  200 answer do not fail it, they count per kind (``item_failures``, ``kind:count;...``).
- ``documents_per_s``: documents acknowledged per second of the ingest window, from the first
  bulk sent to the last answer received (as ``requests.throughput_rps`` for inference).
- ``chunks_per_s``: the same for chunks. requests.csv has the chunks of a whole bulk only, so
  a partly failed bulk counts its chunks pro rata: ``chunks × acknowledged / documents``.
- ``item_failure_rate_pct``: item failures / documents of the bulks that got a bulk answer
  (``acknowledged`` recorded) × 100.
- ``latency_ms``: exact statistics of the ok bulks (searches), as for inference.

A run without such rows has ``None`` for the section: old run directories read as before.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .stats import latency_stats

BULK_TYPE = "BULK"
SEARCH_TYPE = "SEARCH"


def rows_of(rows: Iterable[Mapping[str, Any]], request_type: str) -> list[Mapping[str, Any]]:
    """The rows of one request_type, in file order."""
    return [row for row in rows if row.get("request_type") == request_type]


def parse_item_failures(text: Any) -> dict[str, int]:
    """``kind:count;kind:count`` → {kind: count}; unreadable pairs are skipped."""
    result: dict[str, int] = {}
    for pair in str(text or "").split(";"):
        kind, sep, count = pair.rpartition(":")
        if not sep or not kind.strip():
            continue
        try:
            number = int(count)
        except ValueError:
            continue
        if number > 0:
            result[kind.strip()] = result.get(kind.strip(), 0) + number
    return result


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def is_ok(row: Mapping[str, Any]) -> bool:
    """A request that succeeded (empty error_kind)."""
    return not row.get("error_kind")


def done_s(row: Mapping[str, Any]) -> float:
    """When the answer (or the failure) arrived, in seconds since the run start."""
    latency = _number(row.get("latency_ms"))
    return float(row["elapsed_s"]) + (latency / 1000 if latency is not None else 0.0)


def acknowledged(row: Mapping[str, Any]) -> int:
    """Documents of the bulk that were indexed (0 when no bulk answer came)."""
    value = _number(row.get("acknowledged"))
    return int(value) if value is not None and is_ok(row) else 0


def acknowledged_chunks(row: Mapping[str, Any]) -> float:
    """The bulk's chunks that were indexed, pro rata to its acknowledged documents."""
    documents, chunks = _number(row.get("documents")), _number(row.get("chunks"))
    if not documents or chunks is None:
        return 0.0
    return chunks * acknowledged(row) / documents


def _window(rows: Sequence[Mapping[str, Any]]) -> float | None:
    if not rows:
        return None
    return max(done_s(row) for row in rows) - min(float(row["elapsed_s"]) for row in rows)


def _requests(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    ok = sum(1 for row in rows if is_ok(row))
    kinds: dict[str, int] = {}
    for row in rows:
        if not is_ok(row):
            kinds[str(row["error_kind"])] = kinds.get(str(row["error_kind"]), 0) + 1
    return {
        "total": len(rows),
        "ok": ok,
        "failed": len(rows) - ok,
        "error_rate_pct": _pct(len(rows) - ok, len(rows)),
        "errors_by_kind": dict(sorted(kinds.items())),
    }


def _ok_latencies(rows: Iterable[Mapping[str, Any]]) -> list[float]:
    values = (_number(row.get("latency_ms")) for row in rows if is_ok(row))
    return [value for value in values if value is not None]


def ingest(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The ingest section of the load summary; ``None`` without BULK rows."""
    bulks = rows_of(rows, BULK_TYPE)
    if not bulks:
        return None
    answered = [row for row in bulks if is_ok(row) and _number(row.get("acknowledged")) is not None]
    failures: dict[str, int] = {}
    for row in answered:
        for kind, count in parse_item_failures(row.get("item_failures")).items():
            failures[kind] = failures.get(kind, 0) + count
    documents_answered = sum(int(_number(row.get("documents")) or 0) for row in answered)
    window = _window(bulks)
    documents_ok = sum(acknowledged(row) for row in bulks)
    chunks_ok = math.fsum(acknowledged_chunks(row) for row in bulks)
    return {
        **_requests(bulks),
        "documents": sum(int(_number(row.get("documents")) or 0) for row in bulks),
        "documents_acknowledged": documents_ok,
        "chunks": sum(int(_number(row.get("chunks")) or 0) for row in bulks),
        "chunks_acknowledged": _round(chunks_ok),
        "item_failures": sum(failures.values()),
        "item_failure_rate_pct": _pct(sum(failures.values()), documents_answered),
        "item_failures_by_kind": dict(sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))),
        "documents_per_s": _round(documents_ok / window) if window else None,
        "chunks_per_s": _round(chunks_ok / window) if window else None,
        "duration_s": _round(window),
        "latency_ms": latency_stats(_ok_latencies(bulks)),
    }


def search(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The search section of the load summary; ``None`` without SEARCH rows."""
    searches = rows_of(rows, SEARCH_TYPE)
    if not searches:
        return None
    window = _window(searches)
    requests = _requests(searches)
    return {
        **requests,
        "throughput_rps": _round(requests["ok"] / window) if window else None,
        "duration_s": _round(window),
        "latency_ms": latency_stats(_ok_latencies(searches)),
    }


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 3) if whole else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
