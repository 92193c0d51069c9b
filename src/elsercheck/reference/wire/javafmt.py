"""Render JSON values the way Java's ``toString`` does inside Elasticsearch messages.

Messages such as ``Configuration contains settings [{foo=bar}] unknown to ...`` embed
``Map.toString()`` of maps built by the XContent parser; reproducing that text needs Java's
number formatting and ``java.util.HashMap`` iteration order, kept here.

HashMap order (``java.util.HashMap``, JDK 21+ as bundled with Elasticsearch 8.19/9.x): entries
iterate by bucket index ``(h ^ (h >>> 16)) & (capacity - 1)`` ascending, ``h`` being
``String.hashCode()``, entries of one bucket in insertion order (a resize splits a bucket keeping
relative order). Capacity never shrinks when keys are removed, so the order of a leftover map
depends on the size of the map the parser built, not on what is left.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

MAX_DEPTH = 50  # deeper structures print as "..." (messages stay short; no recursion limit)
_DEFAULT_CAPACITY = 16  # HashMap() (AbstractXContentParser.SIMPLE_MAP_FACTORY = HashMap::new)
_LOAD_FACTOR = 0.75


def string_hash(text: str) -> int:
    """``String.hashCode()``: ``s[0]*31^(n-1) + … + s[n-1]`` over UTF-16 units, 32-bit signed."""
    h = 0
    for unit in _utf16_units(text):
        h = (31 * h + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def _utf16_units(text: str) -> list[int]:
    data = text.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def parsed_map_capacity(size: int) -> int:
    """Table size of a ``new HashMap<>()`` after ``size`` puts (resize when size > 0.75 × cap)."""
    capacity = _DEFAULT_CAPACITY
    while size > capacity * _LOAD_FACTOR:
        capacity *= 2
    return capacity


def copied_map_capacity(size: int) -> int:
    """Table size of ``new HashMap<>(map)`` (JDK 19+ ``putMapEntries``: ``ceil(s / 0.75)``)."""
    wanted = -(-size * 4 // 3) if size else 0
    capacity = 1
    while capacity < wanted:
        capacity *= 2
    return max(capacity, 1)


def hashmap_order(keys: list[str], capacity: int) -> list[str]:
    """``keys`` (in insertion order) in the iteration order of a HashMap of ``capacity``."""

    def bucket(key: str) -> int:
        h = string_hash(key) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (capacity - 1)

    return sorted(keys, key=bucket)  # sorted() is stable: ties keep insertion order


def java_double(value: float) -> str:
    """``Double.toString``: ``5.0``, ``0.001``, ``1.0E7``, ``1.5E-4``, ``NaN``, ``Infinity``."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if str(value).startswith("-") else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(value)  # shortest round-trip digits, positional in this range
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    digits_text = "".join(map(str, digits)).rstrip("0") or "0"
    power = int(exponent) + len(digits) - 1
    mantissa = digits_text[0] + "." + (digits_text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{power}"


def java_str(value: Any, depth: int = 0) -> str:
    """``String.valueOf(value)`` for a value parsed from JSON (objects are HashMaps)."""
    if depth > MAX_DEPTH and isinstance(value, dict | list):
        return "..."
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, dict):
        return java_map(value, parsed_map_capacity(len(value)), depth)
    if isinstance(value, list):
        return java_list(value, depth)
    return str(value)


def java_map(value: dict[str, Any], capacity: int, depth: int = 0) -> str:
    """``HashMap.toString()`` of ``value`` in a table of ``capacity`` buckets: ``{k=v, k2=v2}``."""
    keys = hashmap_order(list(value), capacity)
    return "{" + ", ".join(f"{k}={java_str(value[k], depth + 1)}" for k in keys) + "}"


def java_list(values: list[Any], depth: int = 0) -> str:
    """``Arrays.toString`` / ``List.toString``: ``[a, b]``."""
    return "[" + ", ".join(java_str(v, depth + 1) for v in values) + "]"
