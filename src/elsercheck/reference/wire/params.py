"""URL parameter values as Elasticsearch's RestRequest reads them."""

from __future__ import annotations

from .errors import EsError


def as_boolean(query: dict[str, str], name: str, default: bool = False) -> bool:
    """``RestRequest.paramAsBoolean`` (``Booleans.parseBoolean``): ``true``, ``false`` or the
    empty value (``?name`` alone, true); anything else is an ``illegal_argument_exception``."""
    value = query.get(name)
    if value is None:
        return default
    if value in ("", "true"):
        return True
    if value == "false":
        return False
    raise EsError(
        "illegal_argument_exception",
        f"Failed to parse value [{value}] as only [true] or [false] are allowed.",
    )
