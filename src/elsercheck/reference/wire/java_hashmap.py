"""``HashMap.toString()`` of a map Elasticsearch parsed from a request body.

``XContentHelper.convertToMap(content, false, type)`` and ``XContentParser.map()`` build
``java.util.HashMap``s (``AbstractXContentParser.SIMPLE_MAP_FACTORY = HashMap::new``), so a
message that embeds such a map lists its keys in hash-bucket order, not in request order:
bucket ``(h ^ (h >>> 16)) & (n - 1)`` ascending (``h`` = ``String.hashCode``, ``n`` = the table
size, 16 doubled while the map held more than ``0.75 n`` entries), ties in insertion order
(``java.util.HashMap.hash`` / ``resize``; a resize splits buckets keeping relative order).
"""

from __future__ import annotations

from typing import Any

from .javafmt import MAX_DEPTH, java_str


def string_hash(text: str) -> int:
    """``String.hashCode``: ``s[0]*31^(n-1) + … + s[n-1]`` over UTF-16 code units, as int32."""
    h = 0
    for unit in text.encode("utf-16-be", "surrogatepass").hex(" ", 2).split():
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h


def table_size(max_entries: int) -> int:
    """The table length after holding ``max_entries`` (default capacity 16, load factor 0.75)."""
    size = 16
    while max_entries > size * 3 // 4:
        size *= 2
    return size


def hashmap_order(keys: list[str], max_entries: int | None = None) -> list[str]:
    """``keys`` (in insertion order) in ``HashMap`` iteration order.

    ``max_entries``: the most entries the map ever held (removals never shrink the table)."""
    n = table_size(len(keys) if max_entries is None else max_entries)

    def bucket(key: str) -> int:
        h = string_hash(key)
        return (h ^ (h >> 16)) & (n - 1)

    return sorted(keys, key=bucket)  # stable: ties keep insertion order


def java_map_str(value: Any, max_entries: int | None = None, depth: int = 0) -> str:
    """``String.valueOf`` of a parsed body value whose maps are ``HashMap``s."""
    if depth > MAX_DEPTH and isinstance(value, dict | list):
        return "..."
    if isinstance(value, dict):
        keys = hashmap_order(list(value), max_entries)
        inner = (f"{k}={java_map_str(value[k], None, depth + 1)}" for k in keys)
        return "{" + ", ".join(inner) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_map_str(v, None, depth + 1) for v in value) + "]"
    return java_str(value)
