"""The request/response objects handlers work with, and JSON rendering."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from ..breakage.defects import PRIVILEGES_IGNORED
from ..wire import params, timevalue, xcontent
from ..wire.errors import EsError

if TYPE_CHECKING:
    from ..state import ServerState
    from ..wire.router import Route
    from ..wire.security import Principal


@dataclass
class Reply:
    body: Any
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    offload: bool = False  # a body that may be large: rendered off the event loop


@dataclass
class Call:
    """One request as a handler sees it."""

    state: ServerState
    route: Route
    method: str
    path: str
    uri: str
    query: dict[str, str]
    path_params: dict[str, str]
    body: bytes
    principal: Principal | None = None
    authorized: bool = False
    warnings: list[str] = field(default_factory=list)
    content_format: xcontent.Format | None = None  # the body's XContentType (Content-Type)

    def authorize(self, check: Callable[[Principal], None] | None = None) -> None:
        """Check the route's cluster action for the caller (after request validation, as ES);
        ``check`` replaces the plain action check where a privilege looks at the request."""
        self.authorized = True
        if PRIVILEGES_IGNORED in self.state.defects:  # deliberate defect: no privilege check
            return
        if self.principal is not None and self.route.action is not None:
            if check is not None:
                check(self.principal)
            else:
                self.state.security.authorize(self.principal, self.route.action)

    def json(self, wrap_as_map: bool = False) -> Any:
        """The body's values, parsed in its own format (JSON, YAML, CBOR or SMILE) as the
        handlers' ``XContentHelper`` / ``request.contentParser()`` parse it."""
        return xcontent.parse(self.body, self.content_format, wrap_as_map)

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter; ``?name`` alone means true, as in ES."""
        return params.as_boolean(self.query, name, default)

    def timeout(self, name: str, default: float) -> float | None:
        """A TimeValue parameter in seconds; ``None`` (``-1``) waits without limit."""
        value = self.query.get(name)
        return default if value is None else timevalue.parse(value, name)

    def integer(self, name: str, default: int) -> int:
        value = self.query.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise EsError(
                "illegal_argument_exception",
                f"Failed to parse int parameter [{name}] with value [{value}]",
            ) from None


def render(body: Any, pretty: bool) -> bytes:
    """JSON bytes; falls back to ``json`` for what orjson refuses (lone surrogates echoed from
    input, integers beyond 64 bits), which it escapes as ``\\udXXX`` as Jackson would."""
    try:
        if pretty:
            return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"
        return orjson.dumps(body)
    except (orjson.JSONEncodeError, TypeError):
        return (
            json.dumps(body, indent=2 if pretty else None, default=str) + ("\n" if pretty else "")
        ).encode()
