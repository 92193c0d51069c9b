"""The ``filter_path`` URL parameter: a response reduced to the fields it names.

ES AbstractRestChannel.newBuilder reads ``filter_path`` (comma-separated,
``Strings.tokenizeByCommaToSet``); expressions starting with ``-`` exclude, the others include
(XContentBuilder with includes/excludes → ES FilterPath.compile, FilterPathBasedFilter). Each
expression is a dot-separated path; a segment may hold ``*`` wildcards (ES Glob.globMatch) and
``**`` matches any number of levels. Arrays are transparent: their objects are filtered with
the same paths. Exclusions apply first, then inclusions (documented: "Both inclusive and
exclusive filtering can be combined … the exclusive filters will be applied first"). An object
left with nothing selected disappears; a response with nothing selected is ``{}``.
"""

from __future__ import annotations

import fnmatch
from typing import Any

Path = tuple[str, ...]
_DROP = object()  # nothing selected


def parse(expression: str) -> tuple[list[Path], list[Path]]:
    """The inclusive and exclusive paths of a ``filter_path`` value."""
    includes: list[Path] = []
    excludes: list[Path] = []
    for item in (part.strip() for part in expression.split(",")):
        if not item:
            continue
        target = excludes if item.startswith("-") else includes
        path = tuple(segment for segment in item.lstrip("-").split(".") if segment)
        if path:
            target.append(path)
    return includes, excludes


def apply(body: Any, expression: str) -> Any:
    """``body`` filtered by ``expression`` (see the module docstring)."""
    includes, excludes = parse(expression)
    if excludes:
        body = _exclude(body, excludes)
    if includes:
        kept = _include(body, includes)
        body = {} if kept is _DROP else kept
    return body


def _matches(pattern: str, name: str) -> bool:
    return pattern == name or ("*" in pattern and fnmatch.fnmatchcase(name, pattern))


def _advance(paths: list[Path], name: str) -> tuple[bool, list[Path]]:
    """Whether a path ends at field ``name``, and the paths that go on below it."""
    ends = False
    below: list[Path] = []
    for path in paths:
        head, rest = path[0], path[1:]
        if head == "**":
            below.append(path)  # ** may match more levels...
            if rest:  # ...or none: try the rest here
                rest_ends, rest_below = _advance([rest], name)
                ends = ends or rest_ends
                below.extend(rest_below)
            else:
                ends = True
            continue
        if _matches(head, name):
            if rest:
                below.append(rest)
            else:
                ends = True
    return ends, below


def _include(value: Any, paths: list[Path]) -> Any:
    if isinstance(value, list):
        kept = [item for item in (_include(v, paths) for v in value if isinstance(v, dict | list))
                if item is not _DROP]  # fmt: skip
        return kept if kept else _DROP
    if not isinstance(value, dict):
        return _DROP  # a scalar where the paths want fields below it
    out: dict[str, Any] = {}
    for name, child in value.items():
        ends, below = _advance(paths, name)
        if ends:
            out[name] = child
        elif below:
            kept = _include(child, below)
            if kept is not _DROP:
                out[name] = kept
    return out if out else _DROP


def _exclude(value: Any, paths: list[Path]) -> Any:
    if isinstance(value, list):
        return [_exclude(item, paths) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for name, child in value.items():
        ends, below = _advance(paths, name)
        if ends:
            continue
        out[name] = _exclude(child, below) if below else child
    return out
