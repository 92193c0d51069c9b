"""Elasticsearch ``TimeValue`` strings: ``30s``, ``500ms``, ``1m`` (parse and print)."""

from __future__ import annotations

import re

from .errors import EsError

UNITS = {"nanos": 1e-9, "micros": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"(-?\d+(?:\.\d+)?)(nanos|micros|ms|s|m|h|d)")
# Largest first, for printing.
_PRINT = (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 1e-3), ("micros", 1e-6))


MAX_SECONDS = 2**63 / 1e9  # TimeValue holds a long of nanoseconds at most


def parse(value: str, setting: str) -> float | None:
    """Seconds in ``value``; ``None`` for ``-1`` (no timeout). Bad values answer like ES (400)."""
    text = value.strip().lower()
    if text == "-1":
        return None
    if text == "0":
        return 0.0
    match = _PATTERN.fullmatch(text)
    prefix = f"failed to parse setting [{setting}] with value [{value}] as a time value"
    if not match:
        raise EsError("parse_exception", f"{prefix}: unit is missing or unrecognized")
    seconds = float(match.group(1)) * UNITS[match.group(2)]
    if seconds < 0:
        raise EsError("parse_exception", f"{prefix}: negative durations are not supported")
    if not seconds < MAX_SECONDS:
        raise EsError("parse_exception", prefix)
    return seconds


def format_seconds(seconds: float) -> str:
    """``TimeValue.toString()``: the largest whole unit, one decimal when not integral."""
    for unit, size in _PRINT:
        if abs(seconds) >= size:
            amount = round(seconds / size, 1)
            return f"{int(amount)}{unit}" if amount == int(amount) else f"{amount}{unit}"
    return f"{round(seconds * 1e9)}nanos"
