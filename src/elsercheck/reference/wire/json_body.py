"""Parsing request bodies as Elasticsearch's XContent layer would: strict JSON.

Jackson in Elasticsearch rejects duplicate keys, ``NaN``/``Infinity`` and invalid UTF-8, and
limits nesting; Python's ``json`` accepts the first two, so the hooks below restore ES's
strictness. Every failure is an ``EsError`` (400), never a server error.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import EsError

MAX_DEPTH = 1000  # Jackson StreamReadConstraints default nesting limit


class _Duplicate(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(f"Duplicate field '{key}'")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Non-standard token '{name}': enable JSON_READ_NAN_NUMBERS to allow")


# What ``json.loads(text, object_pairs_hook=_pairs, parse_constant=_reject_constant)`` builds
# on every call, built once (a decoder keeps no state between documents).
_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_reject_constant)


def _depth_ok(text: str) -> bool:
    # Fewer brackets in all than the limit cannot nest past it: skip the Python-level scan
    # (the common case, and the inference hot path); str.count runs at C speed.
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return True
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return False
        elif char in "]}":
            depth -= 1
    return True


def parse(raw: bytes, wrap_as_map: bool) -> Any:
    """Parse ``raw``; ``wrap_as_map`` mimics ``XContentHelper.convertToMap``'s wrapping error."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise parse_error(
            f"Invalid UTF-8 start byte 0x{raw[exc.start]:02x}", 1, exc.start + 1, wrap_as_map
        ) from None
    if not _depth_ok(text):
        raise parse_error(
            f"Document nesting depth exceeds the maximum allowed ({MAX_DEPTH})", 1, 1, wrap_as_map
        )
    try:
        if text.startswith("\ufeff"):  # json.loads refuses it before decoding: so do we
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise parse_error(exc.msg, exc.lineno, exc.colno, wrap_as_map) from None
    except (ValueError, RecursionError) as exc:
        raise parse_error(str(exc), 1, 1, wrap_as_map) from None
    if wrap_as_map and not isinstance(value, dict):
        raise parse_error("Expected START_OBJECT", 1, 1, wrap_as_map)
    return value


def parse_error(message: str, line: int, column: int, wrap_as_map: bool) -> EsError:
    """``x_content_parse_exception`` ``[line:column] message``, wrapped as ``convertToMap``
    wraps it when ``wrap_as_map``; shared by every body format (wire/xcontent.py)."""
    cause = EsError("x_content_parse_exception", f"[{line}:{column}] {message}")
    if wrap_as_map:
        return EsError("parse_exception", "Failed to parse content to map", caused_by=cause)
    return cause
