"""The four body formats of Elasticsearch's XContent layer: which one a request is in, which one
the answer is written in, and parsing/rendering each.

Media types (ES ``XContentType``, ``MediaTypeRegistry``, ``ParsedMediaType.parseMediaType``):
``application/{json,yaml,cbor,smile}``, ``application/x-ndjson`` and ``application/*`` (JSON),
and the ``application/vnd.elasticsearch+{json,x-ndjson,yaml,cbor,smile}`` forms whose
``compatible-with`` parameter must be digits. Anything else (``text/plain``, form bodies) is no
XContent type: the REST controller answers 406 for a body in it.

The answer's format (``AbstractRestChannel.newBuilder`` / ``newErrorBuilder``): ``?format=``
(``XContentType.fromFormat``), else the ``Accept`` header, else the request's own
``Content-Type``, else JSON.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import cbor2

from . import json_body, smile, yaml_body
from .errors import EsError


@dataclass(frozen=True)
class Format:
    """One ``XContentType`` (its canonical form; the ``vnd`` variants parse the same)."""

    name: str  # the ?format= value and the subtype

    @property
    def media_type(self) -> str:
        return f"application/{self.name}"


JSON = Format("json")
YAML = Format("yaml")
CBOR = Format("cbor")
SMILE = Format("smile")

# subtype -> format: XContentType.headerValues(), plain and vendor forms
_SUBTYPES = {"json": JSON, "x-ndjson": JSON, "*": JSON, "yaml": YAML, "cbor": CBOR, "smile": SMILE}
_VENDOR_SUBTYPES = {"json": JSON, "x-ndjson": JSON, "yaml": YAML, "cbor": CBOR, "smile": SMILE}
# XContentType.queryParameter(): json, smile, yaml, cbor and the vnd_ variants
QUERY_FORMATS = {f.name: f for f in (JSON, YAML, CBOR, SMILE)} | {
    f"vnd_{f.name}": f for f in (JSON, YAML, CBOR, SMILE)
}
_TCHAR = re.compile(r"[a-zA-z0-9!#$%&'*+\-.^_`|~]+")  # ParsedMediaType.TCHAR_PATTERN, A-z sic
_VENDOR = "vnd.elasticsearch+"


class MalformedMediaType(ValueError):
    """``ParsedMediaType.parseMediaType`` throws: the header is not ``type/subtype;k=v``."""


@dataclass(frozen=True)
class MediaType:
    """A header value resolved against the registry."""

    format: Format
    vendor: bool
    compatible_with: str | None


@functools.lru_cache(maxsize=256)  # clients repeat the same few header values: parse once
def parse_media_type(value: str) -> MediaType | None:
    """``XContentType.fromMediaType``: ``None`` for a media range (``,``), ``*/*`` or a type
    that is not XContent; :class:`MalformedMediaType` for a value that is not a media type."""
    if "," in value or value == "*/*":
        return None
    elements = re.split(r"[\s\t]*;", value.lower())
    parts = elements[0].split("/")
    if len(parts) != 2 or not all(_TCHAR.fullmatch(p.strip()) for p in parts):
        raise MalformedMediaType(value)
    kind, subtype = (p.strip() for p in parts)
    params: dict[str, str] = {}
    for element in elements[1:]:
        element = element.strip()
        if not element:
            continue
        pair = element.split("=")
        # spaces are allowed between parameters, not around '='
        if len(pair) != 2 or not pair[0] or not pair[1]:
            raise MalformedMediaType(value)
        if pair[0][-1].isspace() or pair[1][0].isspace():
            raise MalformedMediaType(value)
        params[pair[0].strip()] = pair[1].strip()
    if kind != "application":
        return None
    if subtype.startswith(_VENDOR):
        found = _VENDOR_SUBTYPES.get(subtype[len(_VENDOR) :])
        version = params.get("compatible-with")
        if found is None or (version is not None and not version.isdigit()):
            return None
        return MediaType(found, True, version)
    found = _SUBTYPES.get(subtype)
    return MediaType(found, False, None) if found else None


def parse(raw: bytes, fmt: Format | None, wrap_as_map: bool) -> Any:
    """The body as parsed values; every failure is a 400 ``EsError`` as for JSON
    (``wrap_as_map``: ``XContentHelper.convertToMap``'s ``Failed to parse content to map``)."""
    if fmt is None or fmt is JSON:
        return json_body.parse(raw, wrap_as_map)  # the hot path, unchanged
    if fmt is YAML:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json_body.parse_error(
                f"Invalid UTF-8 start byte 0x{raw[exc.start]:02x}", 1, exc.start + 1, wrap_as_map
            ) from None
        try:
            value = yaml_body.loads(text)
        except RecursionError:
            raise _depth_error(wrap_as_map) from None
        except yaml_body.YamlError as exc:
            raise json_body.parse_error(str(exc), exc.line, exc.column, wrap_as_map) from None
    elif fmt is CBOR:
        value = _cbor(raw, wrap_as_map)
    else:
        try:
            value = smile.loads(raw, json_body.MAX_DEPTH)
        except smile.SmileError as exc:
            # Jackson's binary parsers report no line; the column is the byte offset
            raise json_body.parse_error(str(exc), -1, exc.offset, wrap_as_map) from None
    if wrap_as_map and value is None:  # an empty document is an empty map (findNonEmptyMapStart)
        return {}
    if wrap_as_map and not isinstance(value, dict):
        raise json_body.parse_error("Expected START_OBJECT", 1, 1, wrap_as_map)
    return value


def _depth_error(wrap_as_map: bool) -> EsError:
    return json_body.parse_error(
        f"Document nesting depth exceeds the maximum allowed ({json_body.MAX_DEPTH})",
        1, 1, wrap_as_map,
    )  # fmt: skip


def _cbor(raw: bytes, wrap_as_map: bool) -> Any:
    if not raw:
        return None
    try:
        value = cbor2.loads(raw, max_depth=json_body.MAX_DEPTH, allow_duplicate_keys=False)
    except cbor2.CBORDecodeError as exc:
        message = str(exc)
        if "depth" in message:
            raise _depth_error(wrap_as_map) from None
        raise json_body.parse_error(message, -1, 0, wrap_as_map) from None
    except RecursionError:
        raise _depth_error(wrap_as_map) from None
    _check_json_values(value, wrap_as_map)
    return value


def _check_json_values(value: Any, wrap_as_map: bool) -> None:
    """CBOR can carry what JSON cannot (byte strings, tags, non-text keys); Jackson's CBOR
    parser reports a field name that is not text as an error."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise json_body.parse_error(
                        f"Unsupported key type for a field name: {type(key).__name__}",
                        -1, 0, wrap_as_map,
                    )  # fmt: skip
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
        elif not isinstance(item, str | int | float | bool) and item is not None:
            raise json_body.parse_error(
                f"Unsupported value type: {type(item).__name__}", -1, 0, wrap_as_map
            )


def render(body: Any, fmt: Format) -> bytes:
    """``body`` in a binary or YAML format (JSON is the server's own writer, api/call.py)."""
    if fmt is YAML:
        return yaml_body.dumps(body)
    if fmt is CBOR:
        # Jackson's CBORGenerator writes objects and arrays of unknown size as indefinite-length
        return cbor2.dumps(body, indefinite_containers=True)
    if fmt is SMILE:
        return smile.dumps(body)
    raise ValueError(f"not a binary or YAML format: {fmt}")
