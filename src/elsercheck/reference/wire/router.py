"""Request routing with the semantics of ES ``RestController.tryAllHandlers``.

Routes are data: method, path pattern, handler, the action used for authorization, the query
parameters the handler consumes and whether it takes a body. Matching prefers literal path
segments over ``{placeholders}`` and falls back to placeholders when the literal route lacks
the method, as ES's ``PathTrie`` does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .errors import EsError, RoutingError

# Order of RestRequest.Method, used when listing allowed methods.
METHOD_ORDER = ("GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE", "CONNECT")
# Response parameters every handler accepts (BaseRestHandler / RestResponse).
GLOBAL_PARAMS = frozenset({"pretty", "human", "error_trace", "filter_path", "format"})


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[Any], Awaitable[Any]]
    action: str | None  # cluster action checked by authorization; None: no authentication
    params: tuple[str, ...] = ()
    body: str = "none"  # "none", "optional" or "required"
    # (parameter, versions.CHANGES name): accepted only by versions that have the change.
    versioned_params: tuple[tuple[str, str], ...] = ()

    @cached_property  # split once: matching runs for every request
    def segments(self) -> tuple[str, ...]:
        return tuple(s for s in self.path.split("/") if s)

    def match(self, segments: list[str]) -> dict[str, str] | None:
        pattern = self.segments
        if len(pattern) != len(segments):
            return None
        bound: dict[str, str] = {}
        for expected, actual in zip(pattern, segments, strict=True):
            if expected.startswith("{"):
                bound[expected[1:-1]] = decode_component(actual)
            elif expected != actual:
                return None
        return bound

    def explicitness(self) -> tuple[int, ...]:
        return tuple(0 if s.startswith("{") else 1 for s in self.segments)


def _literal(segment: str) -> bool:
    return not segment.startswith("{")


def decode_component(raw: str) -> str:
    """``RestUtils.decodeComponent``: percent-decode one raw path segment exactly once.

    ``PathTrie`` matches literal segments on the raw path and decodes only the values bound to
    ``{placeholders}``, once (``RestUtils.REST_DECODER``): ``victim%252dep`` is the id
    ``victim%2dep``, never ``victim-ep``. ``+`` stays ``+`` (``es.rest.url_plus_as_space`` is
    off), ``%%`` is ``%``, and a malformed escape is an ``IllegalArgumentException`` (400).
    """
    if "%" not in raw:
        return raw
    out = bytearray()
    i, size = 0, len(raw)
    while i < size:
        char = raw[i]
        if char != "%":
            out.append(ord(char) & 0xFF)  # (byte) c: the raw path is read as Latin-1
            i += 1
            continue
        if i == size - 1:
            raise _bad_escape(f"unterminated escape sequence at end of string: {raw}")
        if raw[i + 1] == "%":
            out.append(0x25)
            i += 2
            continue
        if i + 1 == size - 1:
            raise _bad_escape(f"partial escape sequence at end of string: {raw}")
        pair = raw[i + 1 : i + 3]
        if not all(c in "0123456789abcdefABCDEF" for c in pair):
            raise _bad_escape(f"invalid escape sequence `%{pair}' at index {i} of: {raw}")
        out.append(int(pair, 16))
        i += 3
    return out.decode("utf-8", "replace")  # new String(bytes, UTF_8) replaces bad sequences


def _bad_escape(reason: str) -> EsError:
    return EsError("illegal_argument_exception", reason)


def raw_segments(raw_path: str) -> list[str]:
    """The path's segments as sent (still percent-encoded)."""
    return [s for s in raw_path.split("/") if s]


def _similarity(a: str, b: str) -> float:
    """Lucene ``LevenshteinDistance.getDistance``: 1 - edits / longest length."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    longest = max(len(a), len(b)) or 1
    return 1 - previous[-1] / longest


def did_you_mean(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    """``[x]`` or ``any of [x, y]`` for candidates more than half similar; ``""`` for none
    (``BaseRestHandler.unrecognized`` and ``SuggestingErrorOnUnknown.suggest`` agree)."""
    scored = sorted(
        ((_similarity(name, c), c) for c in candidates if _similarity(name, c) > 0.5),
        key=lambda item: (-item[0], item[1]),
    )
    keys = [c for _, c in scored]
    if not keys:
        return ""
    return f"[{keys[0]}]" if len(keys) == 1 else "any of [" + ", ".join(keys) + "]"


def unrecognized_params(path: str, invalid: list[str], candidates: list[str]) -> EsError:
    """``BaseRestHandler.unrecognized``: names with a "did you mean" suggestion."""
    parts = []
    for name in invalid:
        text = f"[{name}]"
        suggestion = did_you_mean(name, candidates)
        if suggestion:
            text += f" -> did you mean {suggestion}?"
        parts.append(text)
    plural = "s" if len(invalid) > 1 else ""
    return EsError(
        "illegal_argument_exception",
        f"request [{path}] contains unrecognized parameter{plural}: {', '.join(parts)}",
    )


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = sorted(routes, key=lambda r: r.explicitness(), reverse=True)
        # Only routes with as many segments as the path can match it: try just those, in the
        # same (most explicit first) order; resolve() needs only those of the request's method.
        self._by_length: dict[int, list[Route]] = {}
        self._by_length_method: dict[tuple[int, str], list[Route]] = {}
        for route in self.routes:
            self._by_length.setdefault(len(route.segments), []).append(route)
            key = (len(route.segments), route.method)
            self._by_length_method.setdefault(key, []).append(route)
        # ... and of those, only the ones whose first segment can be the path's: the literal
        # itself or a placeholder (same order). A first segment no route names literally
        # can match only the placeholder ones (key None).
        self._by_first: dict[tuple[int, str, str | None], list[Route]] = {}
        for (length, method), routes in self._by_length_method.items():
            literals = {r.segments[0] for r in routes if r.segments and _literal(r.segments[0])}
            for first in (*literals, None):
                self._by_first[(length, method, first)] = [
                    r for r in routes
                    if not r.segments or not _literal(r.segments[0]) or r.segments[0] == first
                ]  # fmt: skip

    def candidates(self, raw_path: str) -> list[tuple[Route, dict[str, str]]]:
        segments = raw_segments(raw_path)
        found = []
        for route in self._by_length.get(len(segments), ()):
            bound = route.match(segments)
            if bound is not None:
                found.append((route, bound))
        return found

    def allowed_methods(self, raw_path: str) -> list[str]:
        # HEAD is served by GET handlers but, as in ES, not listed unless registered.
        methods = {route.method for route, _ in self.candidates(raw_path)}
        return [m for m in METHOD_ORDER if m in methods]

    def resolve(self, method: str, raw_path: str, uri: str) -> tuple[Route, dict[str, str]]:
        """The route for a request (``raw_path`` still percent-encoded), or the 400/405
        ``RoutingError`` Elasticsearch answers."""
        lookup = "GET" if method == "HEAD" else method
        segments = raw_segments(raw_path)
        # The first match of the request's method in candidates() order, without matching the
        # routes of other methods (needed only for the 405's Allow list).
        first = segments[0] if segments else None
        routes = self._by_first.get((len(segments), lookup, first))
        if routes is None:  # a first segment no route of this shape names literally
            routes = self._by_first.get((len(segments), lookup, None), [])
        for route in routes:
            bound = route.match(segments)
            if bound is not None:
                return route, bound
        matches = self.candidates(raw_path)
        if not matches:
            raise RoutingError(f"no handler found for uri [{uri}] and method [{method}]", 400)
        allowed = self.allowed_methods(raw_path)
        raise RoutingError(
            f"Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: "
            f"[{', '.join(allowed)}]",
            405,
            {"Allow": ",".join(allowed)},
        )
