"""The load shape's stages (run.json ``stages``) as spans on the report's time axis.

Stage dicts are ``load.plans.Stage.to_json``: ``label``, ``start_s``, ``duration_s`` (the
stage's own length), ``users`` (``users_from`` for a ramp), ``expect`` (the scaling reaction
it should provoke). Also accepted, for other writers: ``name``, ``end_s``, ``rate``/
``offered_rate``; without ``start_s`` stages run back to back from 0. A stage whose end cannot
be told is listed but not drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_START = ("start_s", "start")
_END = ("end_s", "end", "until_s")
_DURATION = ("duration_s", "seconds", "duration")
_USERS = ("users", "user_count")
_RATE = ("rate", "offered_rate", "rps")


@dataclass(frozen=True)
class Span:
    start_s: float
    end_s: float | None
    label: str  # the full description, for tables
    name: str  # the stage's label alone, for charts


def _first(stage: Mapping[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        value = stage.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def spans(stages: Iterable[Any] | None) -> list[Span]:
    """One span per stage dict, in order (non-dict entries are ignored)."""
    result: list[Span] = []
    previous_end = 0.0
    for number, stage in enumerate(stages or (), start=1):
        if not isinstance(stage, Mapping):
            continue
        start = _first(stage, _START)
        start = previous_end if start is None else start
        end = _first(stage, _END)
        duration = _first(stage, _DURATION)
        if end is None and duration is not None:
            end = start + duration
        users, rate = _first(stage, _USERS), _first(stage, _RATE)
        users_from = _first(stage, ("users_from",))
        name = str(stage.get("label") or stage.get("name") or f"stage {number}")
        label = name
        if users is not None:
            ramp = f"{users_from:g}→" if users_from is not None else ""
            label += f" · {ramp}{users:g} users"
        if rate is not None:
            label += f" · {rate:g} req/s"
        if stage.get("expect"):
            label += f" · expect {stage['expect']}"
        result.append(Span(start, end, label, name))
        if end is not None:
            previous_end = end
    return result
