"""summary.json: the versioned machine summary of one load run (schema: summary.schema.json).

::

    {"schema_version": 4, "generated_at": ISO-8601, "generator": {"elsercheck": version},
     "run": run.json metadata (credential-free), "load": summarize(), "gate": null | {...},
     "comparison": null | {...}, "verdict": {"status", "exit_code", "reasons"}}

The verdict's exit code: 1 when the load run failed (a failed expectation, a non-zero exit code
in run.json) or the gate is not conformant; else 3 on a regression beyond its threshold and
beyond the baselines' noise interval (compare.py); else 0.
A failure outranks a regression, so a CI that tolerates 3 never hides a failed run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import __version__
from ..exit_codes import ExitCode, most_severe
from ..target import without_userinfo
from .compare import Row
from .metrics import PCT

# 2: load.ingest and load.search (null without BULK / SEARCH rows); 3: load.cost,
# load.cold_starts and the noise-aware comparison (n, interval, verdict per row); 4:
# load.time_base (the clock, each section's time base, the start points: elsercheck.timebase)
SCHEMA_VERSION = 4
STATUS_BY_EXIT = {
    ExitCode.OK: "ok",
    ExitCode.FAILED: "failed",
    ExitCode.REGRESSION: "regression",
    ExitCode.INCONCLUSIVE: "inconclusive",
}

# run.json is written credential-free; this is a second net for keys that never belong in a
# report (a future option named *token*, a URL with user:password@).
_SECRET_KEY = re.compile(r"pass|secret|token|api_?key|authori[sz]ation|credential", re.I)
REDACTED = "[redacted]"


def redact(value: Any) -> Any:
    """``value`` with secret-looking keys masked and credentials removed from URLs."""
    if isinstance(value, Mapping):
        return {
            str(key): REDACTED if _SECRET_KEY.search(str(key)) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str) and "@" in value and "://" in value:
        return _strip_userinfo(value)
    return value


def _strip_userinfo(url: str) -> str:
    try:
        return without_userinfo(url)
    except ValueError:
        return REDACTED


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# The run.json fields summary.json promises a type for (summary.schema.json), and how a
# value of another type is brought into line: a harness bug must not break the report.
RUN_FIELD_TYPES: dict[str, Callable[[Any], Any]] = {
    "started_at": _text,
    "finished_at": _text,
    "target": _text,
    "target_version": _text,
    "shape": _text,
    "workload": _text,
    "stages": _list,
    "exit_code": _integer,
}


def run_metadata(run: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """run.json as the report shows it: redacted, typed, ``run_id`` always present."""
    metadata = redact(dict(run))
    for key, normalise in RUN_FIELD_TYPES.items():
        if key in metadata:
            metadata[key] = normalise(metadata[key])
    metadata["run_id"] = str(metadata.get("run_id") or run_id)
    return metadata


def verdict(
    load: Mapping[str, Any],
    gate: Mapping[str, Any] | None,
    run: Mapping[str, Any],
    rows: Sequence[Row] | None,
) -> dict[str, Any]:
    """Status, exit code and the reasons for it, in words."""
    failures = [
        f"expectation failed: {item['name']}: {item['detail']}"
        for item in load["expectations"]["items"]
        if item["status"] == "fail"
    ]
    unsure = [
        f"expectation inconclusive: {item['name']}: {item['detail']}"
        for item in load["expectations"]["items"]
        if item["status"] == "inconclusive"
    ]
    exit_code = run.get("exit_code")
    if isinstance(exit_code, int) and exit_code not in (ExitCode.OK, ExitCode.INCONCLUSIVE):
        failures.append(f"the load run exited with code {exit_code}")
    if gate is not None and not gate["conformant"]:
        failures.append(
            "conformance gate: not conformant "
            f"({gate['counts'].get('failed', 0)} failed, {gate['counts'].get('error', 0)} errors)"
        )
    regressions = [_regression_text(row) for row in rows or () if row.regression]
    code = most_severe(
        ExitCode.FAILED if failures else ExitCode.OK,
        ExitCode.INCONCLUSIVE if unsure else ExitCode.OK,
        ExitCode.REGRESSION if regressions else ExitCode.OK,
    )
    return {
        "status": STATUS_BY_EXIT[code],
        "exit_code": int(code),
        "reasons": failures + unsure + regressions,
    }


def _regression_text(row: Row) -> str:
    metric = row.metric
    change = (
        f"{row.diff_pct:+.1f} %" if metric.threshold_unit == PCT and row.diff_pct is not None
        else f"{row.diff:+.2f} {metric.threshold_unit}"
    )  # fmt: skip
    interval = row.interval
    noise = (
        f"mean of {row.n} runs, beyond their noise interval {interval[0]:.4g}…{interval[1]:.4g}"
        if interval is not None
        else f"spread not measured: {row.n} baseline run{'s' if row.n != 1 else ''}"
    )
    return (
        f"regression: {metric.label} {row.baseline:.4g} → {row.contender:.4g} {metric.unit} "
        f"({change}; threshold {metric.threshold:g} {metric.threshold_unit}; {noise})"
    )


def new_document(
    run: Mapping[str, Any], load: Mapping[str, Any], gate: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A summary.json without comparison and verdict (they need the history)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "generator": {"elsercheck": __version__},
        "run": run,
        "load": load,
        "gate": gate,
        "comparison": None,
        "verdict": None,
    }
