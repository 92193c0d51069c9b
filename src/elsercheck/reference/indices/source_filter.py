"""``_source`` filtering, one home for the document and search APIs: the URL parameters as ES
``FetchSourceContext.parseFromRestRequest`` reads them and ``XContentMapValues.filter``."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

EXCLUDE_VECTORS_SETTING = "index.mapping.exclude_source_vectors"
VECTOR_TYPES = frozenset({"sparse_vector", "dense_vector"})  # the vector types a mapping holds


@dataclass(frozen=True)
class SourceContext:
    """``FetchSourceContext``: whether ``_source`` is fetched, its include/exclude patterns and
    ``exclude_vectors`` (``None``: the index's default)."""

    fetch: bool = True
    includes: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    exclude_vectors: bool | None = None

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


def vector_paths(properties: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted paths of the vector fields of a mapping's ``properties`` (objects walked)."""
    out: list[str] = []
    for name, spec in properties.items():
        if not isinstance(spec, dict):
            continue
        if spec.get("type") in VECTOR_TYPES:
            out.append(prefix + name)
        elif isinstance(spec.get("properties"), dict):
            out.extend(vector_paths(spec["properties"], f"{prefix}{name}."))
    return out


def excludes_vectors_by_default(settings: dict[str, Any], has_default: bool) -> bool:
    """Whether an index leaves its vectors out of ``_source`` answers when the request does not
    say: ES IndexSettings ``index.mapping.exclude_source_vectors``, true by default for indices
    created from 9.2 (#131907; ``has_default``), false before."""
    if not has_default:
        return False
    raw = settings.get(EXCLUDE_VECTORS_SETTING, True)
    return str(raw).lower() != "false"


def without(source: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """``source`` without the values at ``paths`` (objects left empty stay, as ES keeps them)."""
    if not paths:
        return source
    return filter_source(source, [], paths) if any(_present(source, p) for p in paths) else source


def _present(source: dict[str, Any], path: str) -> bool:
    here: Any = source
    for part in path.split("."):
        if not isinstance(here, dict) or part not in here:
            return False
        here = here[part]
    return True
