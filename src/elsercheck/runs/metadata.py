"""run.json as typed metadata: the fields the readers of a run use, read and checked once.

run.json is written by the load runner and the locust processes (``rundir.RUN_FIELDS``); a
reader must survive a run cut short or written by an older elsercheck, so every field is
optional here: absent or of the wrong type reads as ``None`` (``workload``: ``inference``, the
only workload before the field; ``clock``: one clock). The raw mapping stays in
``RunFiles.run`` for the report's metadata table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..timebase import TimeBase

# A stage's ``expect`` that should provoke a scale-up (load.plans.EXPECT_SCALE_UP).
SCALE_UP_STAGE = "scale-up"


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


@dataclass(frozen=True)
class StageMetadata:
    """One stage of the run's shape (``load.plans.Stage.to_json``), wall seconds from the
    run's start."""

    label: str
    start_s: float | None
    duration_s: float | None
    expect: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StageMetadata:
        """A stage from its run.json dict (unknown keys ignored)."""
        return cls(
            label=str(data.get("label") or data.get("name") or ""),
            start_s=_number(data.get("start_s")),
            duration_s=_number(data.get("duration_s")),
            expect=_text(data.get("expect")),
        )


@dataclass(frozen=True)
class RunMetadata:
    """The typed fields of one run.json (see the module docstring; not
    ``load.expectations.RunRecord``, what the expectations judge during the run)."""

    run_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    target: str | None = None
    target_version: str | None = None
    shape: str | None = None
    workload: str = "inference"
    timing_profile: str | None = None
    clock: TimeBase = field(default_factory=TimeBase)
    stages: tuple[StageMetadata, ...] = ()
    num_threads: int | None = None  # of the endpoint the run created; None: not created
    exit_code: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RunMetadata:
        """The metadata of a run.json object (anything else reads as empty metadata)."""
        if not isinstance(data, Mapping):
            return cls()
        timing = data.get("timing")
        stages = data.get("stages")
        exit_code = data.get("exit_code")
        return cls(
            run_id=_text(data.get("run_id")),
            started_at=_time(data.get("started_at")),
            finished_at=_time(data.get("finished_at")),
            target=_text(data.get("target")),
            target_version=_text(data.get("target_version")),
            shape=_text(data.get("shape")),
            workload=_text(data.get("workload")) or "inference",
            timing_profile=_text(timing.get("profile")) if isinstance(timing, Mapping) else None,
            clock=TimeBase.from_run(data),
            stages=tuple(
                StageMetadata.from_json(stage)
                for stage in stages or ()
                if isinstance(stage, Mapping)
            )
            if isinstance(stages, list)
            else (),
            num_threads=_threads(data.get("endpoint")),
            exit_code=exit_code
            if isinstance(exit_code, int) and not isinstance(exit_code, bool)
            else None,
        )

    @property
    def run_seconds(self) -> float | None:
        """Wall seconds from run.json's start to its finish; ``None`` if either is unknown."""
        if self.started_at is None or self.finished_at is None:
            return None
        try:
            return round((self.finished_at - self.started_at).total_seconds(), 3)
        except TypeError:  # one with a time zone, one without
            return None

    @property
    def load_rise_s(self) -> float | None:
        """Start of the first stage that should provoke a scale-up (wall seconds since the
        run's start), ``None`` without one."""
        for stage in self.stages:
            if stage.expect == SCALE_UP_STAGE:
                return stage.start_s
        return None


def _threads(endpoint: Any) -> int | None:
    node: Any = endpoint
    for key in ("settings", "service_settings", "num_threads"):
        node = node.get(key) if isinstance(node, Mapping) else None
    value = _number(node)
    return int(value) if value is not None and value >= 1 else None
