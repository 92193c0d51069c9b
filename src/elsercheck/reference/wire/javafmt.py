"""Render JSON values the way Java's ``toString`` does inside Elasticsearch messages.

Messages such as ``Model configuration contains settings [{foo=bar}] unknown to ...`` embed
``Map.toString()``; reproducing that text needs one small formatter, kept here.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 50  # deeper structures print as "..." (messages stay short; no recursion limit)


def java_str(value: Any, depth: int = 0) -> str:
    """``String.valueOf(value)`` for a value parsed from JSON."""
    if depth > MAX_DEPTH and isinstance(value, dict | list):
        return "..."
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_str(v, depth + 1)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return java_list(value, depth)
    return str(value)


def java_list(values: list[Any], depth: int = 0) -> str:
    """``Arrays.toString`` / ``List.toString``: ``[a, b]``."""
    return "[" + ", ".join(java_str(v, depth + 1) for v in values) + "]"
