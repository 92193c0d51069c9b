"""The run history: one summary.json per run, stored as ``<history>/<run_id>.json``.

The baselines of a run are, unless one is named, the latest earlier runs (``--baselines``,
default 5) of the same load shape, workload and target timing that completed at least one
request (runs of different shapes, workloads or clocks are not comparable, and a run without
a single answer has no numbers to compare with). Runs from before the ``workload`` field are
inference runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..timebase import TimeBase

# Readable summaries: 2 added ingest and search, 3 cost, cold starts and the noise-aware
# comparison, 4 load.time_base (all else as 1); an older summary simply lacks the newer metrics.
SCHEMA_VERSIONS = (1, 2, 3, 4)
DEFAULT_BASELINES = 5  # --baselines: how many earlier comparable runs measure the noise
MAX_BASELINES = 30
TREND_RUNS = 30  # the trend charts show this many most recent runs
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class HistoryError(ValueError):
    """A named baseline that the history does not hold."""


def entry_path(history_dir: Path, run_id: str) -> Path:
    """Where a run's summary lives in the history (the id made safe as a file name)."""
    return history_dir / f"{_UNSAFE.sub('_', run_id) or 'run'}.json"


def store(history_dir: Path, document: Mapping[str, Any]) -> Path:
    """Add (or replace) the run's summary in the history."""
    history_dir.mkdir(parents=True, exist_ok=True)
    path = entry_path(history_dir, str(document["run"]["run_id"]))
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def load(history_dir: Path) -> list[dict[str, Any]]:
    """Every readable summary (SCHEMA_VERSIONS) in the history, oldest first."""
    if not history_dir.is_dir():
        return []
    entries = []
    for path in history_dir.glob("*.json"):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a foreign or half-written file must not break tonight's report
        if (
            isinstance(document, dict)
            and document.get("schema_version") in SCHEMA_VERSIONS
            and isinstance(document.get("run"), dict)
            and isinstance(document.get("load"), dict)
            and document["run"].get("run_id")
        ):
            entries.append(document)
    return sorted(entries, key=sort_key)


def sort_key(document: Mapping[str, Any]) -> tuple[str, str]:
    """Runs in the order they started (generation time when the start is unknown)."""
    run = document.get("run") or {}
    return (str(run.get("started_at") or document.get("generated_at") or ""), str(run["run_id"]))


def _same_kind(entry: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Same load shape, workload (no workload field: an inference run) and kind of target
    (its timing: the embedded server's time-lapse is no peer of a cluster's real time)."""
    return all(
        (entry["run"].get(key) or default) == (current["run"].get(key) or default)
        for key, default in (("shape", None), ("workload", "inference"))
    ) and target_kind(entry["run"]) == target_kind(current["run"])


def target_kind(run: Mapping[str, Any]) -> tuple[str | None, float]:
    """The target's timing profile and clock speed-up (run.json ``timing``)."""
    timing = run.get("timing")
    profile = timing.get("profile") if isinstance(timing, Mapping) else None
    return profile, TimeBase.from_run(run).speedup


# The load summary's sections whose ``ok`` counts answered requests.
ANSWERED = ("requests", "ingest", "search")


def _comparable(entry: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    load = entry.get("load") or {}
    answered = any(((load.get(key) or {}).get("ok") or 0) > 0 for key in ANSWERED)
    return _same_kind(entry, current) and answered


def pick_baseline(
    entries: Iterable[Mapping[str, Any]],
    current: Mapping[str, Any],
    baseline_run_id: str | None = None,
) -> Mapping[str, Any] | None:
    """The named run, else the latest comparable run before ``current``; ``None`` if none."""
    picked = pick_baselines(entries, current, 1, baseline_run_id)
    return picked[-1] if picked else None


def pick_baselines(
    entries: Iterable[Mapping[str, Any]],
    current: Mapping[str, Any],
    count: int = DEFAULT_BASELINES,
    baseline_run_id: str | None = None,
) -> list[Mapping[str, Any]]:
    """The named run alone, else the ``count`` latest comparable runs before ``current``,
    oldest first (empty when there is none)."""
    run_id = current["run"]["run_id"]
    others = [entry for entry in entries if entry["run"]["run_id"] != run_id]
    if baseline_run_id is not None:
        for entry in others:
            if entry["run"]["run_id"] == baseline_run_id:
                return [entry]
        raise HistoryError(f"baseline run {baseline_run_id!r} is not in the history")
    earlier = [
        entry
        for entry in others
        if sort_key(entry) < sort_key(current) and _comparable(entry, current)
    ]
    return sorted(earlier, key=sort_key)[-count:] if count > 0 else []


def trend_runs(
    entries: Iterable[Mapping[str, Any]], current: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """The runs of the trend charts: same shape and workload as ``current``, with it, oldest
    first."""
    run_id = current["run"]["run_id"]
    same = [
        entry
        for entry in entries
        if entry["run"]["run_id"] != run_id and _same_kind(entry, current)
    ]
    return sorted([*same, current], key=sort_key)[-TREND_RUNS:]
