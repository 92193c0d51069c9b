"""A load run's headline numbers, from its files (``rundir.py``), and a terminal summary.

``summarize(run_dir)`` never raises on an empty or partial run: what a missing file would
have told becomes ``None`` (figures) or ``0`` (counts). Definitions:

- requests: inference requests only (request_type ``POST``); ``ok`` have an empty
  ``error_kind``. ``error_rate_pct`` = failed / total × 100.
- ``throughput_rps``: ok requests per second of the load window, from the first request sent
  to the last answer received (the run's set-up and teardown, e.g. a model download, would
  otherwise dilute it).
- ``latency_ms``: exact percentiles of successful inference requests (``stats.py``).
- ``allocations.scale_events``: each change of ``target_allocation_count`` (the scaler's
  decision) with when ``allocation_count`` reached it (``reached_s``, null if it did not
  before the next change). ``time_to_scale_up_s``: from the load rise (the start of the
  first stage expecting a scale-up in run.json, else the first upward decision) until
  ``allocation_count`` first reached its maximum — how long added capacity took to arrive.
- ``lifecycle``: rows of request_type ``LIFECYCLE`` per name (``create``,
  ``time_to_fully_allocated``, ``infer once``, ``delete``), whose ``latency_ms`` is the
  measured duration; figures in seconds over the successful ones.
- ``by_name``: per requests.csv ``name`` (the input-length bucket, ``batch-<bucket>`` for
  batches), in ``rundir.BUCKETS`` order, batches after single inputs.
- ``ingest`` / ``search``: the ``BULK`` / ``SEARCH`` rows of the ingest, search and mixed
  workloads (``ingest_summary.py``); ``None`` when the run has none (summary_version 2).
- ``cost``: allocation-hours, vCPU-hours, idle share, per 1,000 successful inferences
  (``cost.py``); ``cold_starts``: each scale-from-zero, time to the first success and the
  failures on the way (``cold_starts.py``) (summary_version 3).
- ``time_base`` (summary_version 4): the target's clock (``speedup``, ``time_lapse``:
  elsercheck.timebase), the base of each section's durations and rates (``bases``: ``wall``,
  what the load generator measured, everywhere but ``cost``'s hours, which are ``cluster``;
  ``cost.wall_seconds`` / ``cost.cluster_seconds`` say theirs) and the start point of each
  kind of figure (``start_points``): times like ``elapsed_s``, ``first_s`` or
  ``zero_since_s`` count from the run's start, durations name theirs.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from ..timebase import CLUSTER, START_POINTS, WALL, Base, TimeBase
from . import ingest_summary, rundir
from .cold_starts import cold_starts
from .cost import cost
from .runfiles import OK_KIND, RunFiles, load_run
from .stats import latency_stats

SUMMARY_VERSION = 4  # 2: ingest and search; 3: cost and cold_starts; 4: time_base

# The time base of each section's durations and rates (summary ``time_base.bases``).
SECTION_BASES: dict[str, Base] = {
    "run_seconds": WALL,
    "requests": WALL,
    "latency_ms": WALL,
    "by_name": WALL,
    "allocations": WALL,
    "lifecycle": WALL,
    "ingest": WALL,
    "search": WALL,
    "cold_starts": WALL,
    "cost": CLUSTER,  # its hours; wall_seconds and cluster_seconds say their base by name
}
# Where the figures of each section count from (timebase.START_POINTS).
SECTION_STARTS: dict[str, str] = {
    "elapsed_s, first_s, last_s, zero_since_s, first_arrival_s, allocated_s, reached_s": "run",
    "requests.duration_s": "first request sent → last answer received",
    "latency_ms": "request",
    "allocations.time_to_scale_up_s": "time_to_scale_up",
    "cold_starts.*_s (time to first success)": "cold_start",
    "lifecycle.time_to_fully_allocated": "time_to_fully_allocated",
}


def summarize(run_dir: Path, vcpu_hour_price: float | None = None) -> dict[str, Any]:
    """The headline numbers of the run under ``run_dir`` (see the module docstring)."""
    return summarize_files(load_run(run_dir), vcpu_hour_price)


def summarize_files(files: RunFiles, vcpu_hour_price: float | None = None) -> dict[str, Any]:
    """As :func:`summarize`, from files already loaded (the report loads them once);
    ``vcpu_hour_price`` puts a cost figure into ``cost``."""
    return {
        "summary_version": SUMMARY_VERSION,
        "run_id": files.run_id,
        "files": sorted(files.present),
        "malformed_rows": files.malformed_rows,
        "run_seconds": files.metadata.run_seconds,
        "requests": _requests(files),
        "latency_ms": latency_stats(_ok_latencies(files)),
        "by_name": _by_name(files),
        "errors": _errors(files),
        "allocations": _allocations(files.allocations, files.metadata.load_rise_s),
        "expectations": _expectations(files.expectations),
        "lifecycle": _lifecycle(files.lifecycle),
        "other_requests": _other_requests(files.other_requests),
        "ingest": ingest_summary.ingest(files.other_requests),
        "search": ingest_summary.search(files.other_requests),
        "cost": cost(files, vcpu_hour_price),
        "cold_starts": cold_starts(files),
        "time_base": time_base(files.metadata.clock),
    }


def time_base(clock: TimeBase) -> dict[str, Any]:
    """The summary's ``time_base`` section (see the module docstring)."""
    return {
        **clock.describe(),
        "bases": dict(SECTION_BASES),
        "start_points": {
            figures: START_POINTS.get(start, start) for figures, start in SECTION_STARTS.items()
        },
    }


def write_load_summary(run_dir: Path, summary: dict[str, Any] | None = None) -> Path:
    """Write ``load-summary.json`` (rundir.SUMMARY_JSON) into the run directory."""
    path = run_dir / rundir.SUMMARY_JSON
    rundir.write_json(path, summary if summary is not None else summarize(run_dir))
    return path


def _ok_latencies(files: RunFiles, name_code: int | None = None) -> list[float]:
    inference = files.inference
    return [
        latency
        for latency, kind, name in zip(
            inference.latency_ms, inference.kind_code, inference.name_code, strict=True
        )
        if kind == 0 and (name_code is None or name == name_code)
    ]


def _requests(files: RunFiles) -> dict[str, Any]:
    inference = files.inference
    total = len(inference)
    ok = sum(1 for kind in inference.kind_code if kind == 0)
    first = min(inference.elapsed_s) if total else None
    last = max(inference.completed_s(index) for index in range(total)) if total else None
    window = (last - first) if first is not None and last is not None else None
    return {
        "total": total,
        "ok": ok,
        "failed": total - ok,
        "error_rate_pct": _pct(total - ok, total),
        "throughput_rps": round(ok / window, 3) if window else None,
        "first_s": _round(first),
        "last_s": _round(last),
        "duration_s": _round(window),
    }


def _by_name(files: RunFiles) -> dict[str, dict[str, Any]]:
    inference = files.inference
    totals = Counter(inference.name_code)
    failed = Counter(
        name for name, kind in zip(inference.name_code, inference.kind_code, strict=True) if kind
    )
    result = {}
    for code in sorted(totals, key=lambda code: _bucket_order(inference.names[code])):
        total = totals[code]
        result[inference.names[code]] = {
            "total": total,
            "ok": total - failed[code],
            "failed": failed[code],
            "error_rate_pct": _pct(failed[code], total),
            "latency_ms": latency_stats(_ok_latencies(files, code)),
        }
    return result


_BUCKET_ORDER = {name: index for index, name in enumerate(rundir.BUCKETS)}
BATCH_PREFIX = "batch-"


def _bucket_order(name: str) -> tuple[bool, int, str]:
    """Short inputs first, batches after single inputs, unknown names last (by name)."""
    batch = name.startswith(BATCH_PREFIX)
    bucket = name.removeprefix(BATCH_PREFIX)
    return (batch, _BUCKET_ORDER.get(bucket, len(_BUCKET_ORDER)), name)


def _errors(files: RunFiles) -> dict[str, Any]:
    inference = files.inference
    counts = Counter(inference.kinds[kind] for kind in inference.kind_code if kind)
    by_kind = {kind: counts.pop(kind, 0) for kind in rundir.ERROR_KINDS}
    by_kind.update(sorted(counts.items()))  # kinds a newer harness may add: keep, do not drop
    return {
        "total": sum(by_kind.values()),
        "documented_under_load": sum(by_kind[k] for k in rundir.DOCUMENTED_LOAD_ERRORS),
        "by_kind": by_kind,
    }


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _allocations(rows: list[dict[str, Any]], load_rise_s: float | None = None) -> dict[str, Any]:
    counts = [(row["elapsed_s"], _int(row.get("allocation_count"))) for row in rows]
    counts = [(at, count) for at, count in counts if count is not None]
    events = _scale_events(rows)
    known = [count for _, count in counts if count is not None]  # the same, typed as present
    peak = max(known, default=None)
    first_up = next((event for event in events if event["to"] > event["from"]), None)
    rise = load_rise_s
    if rise is None and first_up is not None:
        rise = first_up["elapsed_s"]
    time_to_scale_up = None
    if first_up is not None and rise is not None:
        peak_at = next((at for at, count in counts if count == peak and at >= rise), None)
        time_to_scale_up = None if peak_at is None else _round(peak_at - rise)
    targets = [_int(row.get("target_allocation_count")) for row in rows]
    pending = [_int(row.get("number_of_pending_requests")) for row in rows]
    inference_ms = [
        row["average_inference_time_ms"]
        for row in rows
        if isinstance(row.get("average_inference_time_ms"), int | float)
    ]
    return {
        "samples": len(rows),
        "poll_errors": sum(1 for row in rows if row.get("poll_error")),
        "initial_allocation_count": counts[0][1] if counts else None,
        "final_allocation_count": counts[-1][1] if counts else None,
        "max_allocation_count": peak,
        "min_allocation_count": min(known, default=None),
        "max_target_allocation_count": max((t for t in targets if t is not None), default=None),
        "scale_events": events,
        "scale_ups": sum(1 for event in events if event["to"] > event["from"]),
        "scale_downs": sum(1 for event in events if event["to"] < event["from"]),
        "first_scale_up_s": first_up["elapsed_s"] if first_up else None,
        "time_to_scale_up_s": time_to_scale_up,
        "max_pending_requests": max((p for p in pending if p is not None), default=None),
        "max_average_inference_time_ms": _round(max(inference_ms, default=None)),
    }


def _scale_events(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Changes of target_allocation_count, each with when allocation_count reached it."""
    samples = [
        (row["elapsed_s"], _int(row.get("target_allocation_count")),
         _int(row.get("allocation_count")))
        for row in rows
    ]  # fmt: skip
    samples = [sample for sample in samples if sample[1] is not None]
    events: list[dict[str, Any]] = []
    previous: int | None = None
    for at, target, _ in samples:
        if previous is not None and target != previous:
            events.append(
                {"elapsed_s": _round(at), "from": previous, "to": target, "reached_s": None}
            )
        previous = target
    for index, event in enumerate(events):
        until = events[index + 1]["elapsed_s"] if index + 1 < len(events) else math.inf
        up = event["to"] > event["from"]
        for at, _, count in samples:
            if at < event["elapsed_s"] or count is None:
                continue
            if at > until:
                break
            if (count >= event["to"]) if up else (count <= event["to"]):
                event["reached_s"] = _round(at)
                break
    return events


def _status(item: dict[str, Any]) -> str:
    """An Expectation's status: ``inconclusive`` (the load machine was behind), or from
    ``passed``: True, False, or anything else for "did not apply"."""
    if item.get("inconclusive") is True:
        return "inconclusive"
    passed = item.get("passed")
    return "pass" if passed is True else "fail" if passed is False else "skipped"


def _expectations(items: list[dict[str, Any]]) -> dict[str, Any]:
    listed: list[dict[str, Any]] = [
        {
            "name": str(item.get("name") or "?"),
            "status": _status(item),
            "description": str(item.get("description") or ""),
            "detail": str(item.get("detail") or ""),
            "observed": item.get("observed") if isinstance(item.get("observed"), dict) else {},
        }
        for item in items
    ]
    counts = Counter(item["status"] for item in listed)
    return {
        "total": len(listed),
        "pass": counts["pass"],
        "fail": counts["fail"],
        "skipped": counts["skipped"],
        "inconclusive": counts["inconclusive"],
        "items": listed,
    }


def _lifecycle(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    counts: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    seconds: dict[str, list[float]] = {}
    for row in rows:
        counts[row["name"]] += 1
        latency = row.get("latency_ms")
        if row.get("error_kind") or not isinstance(latency, int | float):
            failed[row["name"]] += 1
        else:
            seconds.setdefault(row["name"], []).append(latency / 1000)
    result = {}
    for name, count in counts.items():
        stats = latency_stats(seconds.get(name, ()))
        result[name] = {
            "count": count,
            "failed": failed[name],
            "median_s": stats["p50"],
            "mean_s": stats["mean"],
            "min_s": stats["min"],
            "max_s": stats["max"],
        }
    return result


def _other_requests(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for row in rows:
        entry = result.setdefault(str(row.get("request_type")), {"total": 0, "failed": 0})
        entry["total"] += 1
        entry["failed"] += row.get("error_kind", OK_KIND) != OK_KIND
    return result


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 3) if whole else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def format_text(summary: dict[str, Any]) -> str:
    """A few lines for the terminal: requests, latency, errors, allocations, expectations."""
    requests, latency = summary["requests"], summary["latency_ms"]
    allocations, expectations = summary["allocations"], summary["expectations"]
    clock = TimeBase.from_summary(summary)
    wall = f" ({WALL})" if clock.time_lapse else ""
    lines = [
        f"load run {summary['run_id']}: {requests['total']} inference requests, "
        f"{requests['ok']} ok, {requests['failed']} failed "
        f"({_fmt(requests['error_rate_pct'], ' %')}) in {clock.text(requests['duration_s'])}"
        f" → {_fmt(requests['throughput_rps'], ' req/s')}{wall}",
        f"  latency ms{wall}: "
        + "  ".join(f"{key} {_fmt(latency[key])}" for key in ("p50", "p90", "p99", "max", "mean")),
    ]
    if not requests["total"] and (summary.get("ingest") or summary.get("search")):
        lines = [f"load run {summary['run_id']}: no inference requests (ingest/search workload)"]
    lines.append(f"  {clock.clock_text()}")
    errors = summary["errors"]["by_kind"]
    if any(errors.values()):
        lines.append("  errors: " + ", ".join(f"{kind}×{n}" for kind, n in errors.items() if n))
    if allocations["samples"]:
        lines.append(
            f"  allocations: {_fmt(allocations['initial_allocation_count'])} → "
            f"{_fmt(allocations['final_allocation_count'])} (max "
            f"{_fmt(allocations['max_allocation_count'])}, min "
            f"{_fmt(allocations['min_allocation_count'])}), "
            f"{len(allocations['scale_events'])} scale events, scaled up in "
            f"{clock.text(allocations['time_to_scale_up_s'])} (from the load rise)"
        )
    lines += _cost_lines(summary.get("cost"), summary.get("cold_starts"), clock)
    if expectations["total"]:
        lines.append(
            f"  expectations: {expectations['pass']} pass, {expectations['fail']} FAIL, "
            f"{expectations['skipped']} skipped"
            + (
                f", {expectations['inconclusive']} inconclusive"
                if expectations.get("inconclusive")
                else ""
            )
            + "".join(
                f"\n    {'✗' if item['status'] == 'fail' else '?'} {item['name']}: {item['detail']}"
                for item in expectations["items"]
                if item["status"] in ("fail", "inconclusive")
            )
        )
    ingest, search = summary.get("ingest"), summary.get("search")
    if ingest:
        lines.append(
            f"  ingest: {ingest['total']} bulks ({ingest['failed']} failed), "
            f"{ingest['documents_acknowledged']}/{ingest['documents']} documents acknowledged → "
            f"{_fmt(ingest['documents_per_s'], ' docs/s')}, "
            f"{_fmt(ingest['chunks_per_s'], ' chunks/s')}; item failures "
            f"{_fmt(ingest['item_failure_rate_pct'], ' %')}; bulk p90 "
            f"{_fmt(ingest['latency_ms']['p90'], ' ms')}"
        )
    if search:
        lines.append(
            f"  search: {search['total']} semantic searches ({search['failed']} failed), p90 "
            f"{_fmt(search['latency_ms']['p90'], ' ms')}"
        )
    lifecycle = summary["lifecycle"]
    if lifecycle:
        lines.append(
            "  lifecycle: "
            + ", ".join(
                f"{name} {clock.text(entry['median_s'], 2)} (×{entry['count']})"
                for name, entry in lifecycle.items()
            )
        )
    return "\n".join(lines)


def _cost_lines(
    cost: dict[str, Any] | None, cold: dict[str, Any] | None, clock: TimeBase
) -> list[str]:
    lines = []
    if cost and cost["allocation_hours"] is not None:
        lapse = f" ({CLUSTER} hours)" if clock.time_lapse else ""
        price = (
            f"; cost {cost['cost']:.4g} at {cost['vcpu_hour_price']:g}/vCPU-h"
            if cost["cost"] is not None
            else ""
        )
        lines.append(
            f"  cost: {cost['allocation_hours']:.4g} allocation-h, "
            f"{_fmt(cost['vcpu_hours'], '', 4)} vCPU-h{lapse}, idle "
            f"{_fmt(cost['idle_share_pct'], ' %')}; per 1,000 successful inferences "
            f"{_fmt(cost['allocation_hours_per_1000'], '', 5)} allocation-h{price}"
        )
    if cold and cold["count"]:
        failures = ", ".join(f"{kind}×{n}" for kind, n in cold["failures_by_kind"].items())
        lines.append(
            f"  cold starts: {cold['count']}, first arrival at zero → first success p50 "
            f"{clock.text(cold['p50_s'])}, p95 {clock.text(cold['p95_s'])} (n={cold['n']})"
            + (f"; failures on the way: {failures}" if failures else "")
        )
    return lines
