"""``_source`` filtering, one home for the document and search APIs: the URL parameters as ES
``FetchSourceContext.parseFromRestRequest`` reads them and ``XContentMapValues.filter``."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SourceContext:
    """``FetchSourceContext``: whether ``_source`` is fetched, and its include/exclude patterns."""

    fetch: bool = True
    includes: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)

    def apply(self, source: dict[str, Any]) -> Any:
        """The filtered ``_source`` (the source itself when nothing filters it)."""
        if not self.includes and not self.excludes:
            return source
        return filter_source(source, self.includes, self.excludes)


def _split(value: str) -> list[str]:
    """``Strings.splitStringByCommaToArray``: empty entries dropped."""
    return [part for part in value.split(",") if part]


def from_rest(query: dict[str, str]) -> SourceContext | None:
    """``FetchSourceContext.parseFromRestRequest``: ``_source`` is ``true``/``false``
    (Booleans.isTrue/isFalse) or a list of includes, ``_source_includes`` replaces those
    includes, ``_source_excludes``; ``None`` when none of the three is given. ``fetch`` stays
    false only for ``_source=false`` (``fetchSource == null || fetchSource``)."""
    if not {"_source", "_source_includes", "_source_excludes"} & query.keys():
        return None
    fetch = True
    includes: list[str] = []
    raw = query.get("_source")
    if raw == "false":
        fetch = False
    elif raw is not None and raw != "true":
        includes = _split(raw)
    if "_source_includes" in query:
        includes = _split(query["_source_includes"])
    return SourceContext(fetch, includes, _split(query.get("_source_excludes", "")))


def filter_source(source: Any, includes: list[str], excludes: list[str], prefix: str = "") -> Any:
    """``XContentMapValues.filter``: keep paths matching an include (or a parent/child of
    one), drop paths matching an exclude; ``*`` wildcards; arrays filtered element-wise;
    objects the filter leaves empty go."""
    if isinstance(source, list):
        return [filter_source(v, includes, excludes, prefix) for v in source]
    if not isinstance(source, dict):
        return source
    out: dict[str, Any] = {}
    for key, value in source.items():
        path = f"{prefix}{key}"
        if any(fnmatch.fnmatchcase(path, p) for p in excludes):
            continue
        exact = not includes or any(fnmatch.fnmatchcase(path, p) for p in includes)
        partial = any(
            p.startswith(path + ".") or fnmatch.fnmatchcase(path + ".", p[: len(path) + 1])
            for p in includes
        )
        if exact:
            kept = filter_source(value, [], excludes, path + ".") if excludes else value
        elif partial and isinstance(value, dict | list):
            kept = filter_source(value, includes, excludes, path + ".")
            if kept in ({}, []):
                continue
        else:
            continue
        out[key] = kept
    return out
