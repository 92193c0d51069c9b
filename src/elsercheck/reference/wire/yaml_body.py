"""YAML bodies as Elasticsearch's ``YamlXContentImpl`` (Jackson's YAML module) reads and writes
them.

Reading uses PyYAML's safe loader narrowed to what Jackson's ``YAMLParser`` resolves: only
``true``/``false`` are booleans (not YAML 1.1's ``yes``/``on``), no timestamps, keys are the
scalar's text, and a repeated key is an error (``STRICT_DUPLICATE_DETECTION``, on in
Elasticsearch for every XContent type). Writing follows Jackson's ``YAMLGenerator`` defaults:
a ``---`` document start, block style, plain keys, double-quoted strings, array items at
their parent's indentation.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

import yaml

_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Loader(yaml.SafeLoader):
    """SafeLoader with Jackson's scalar resolution and duplicate-key check."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[str, Any]:
    loader.flatten_mapping(node)
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "Unsupported key: a field name must be a scalar", key_node.start_mark
            )
        key = key_node.value  # Jackson reports the key's text: `1:` is the field "1"
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"Duplicate field '{key}'", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)


class YamlError(ValueError):
    """Content that is not valid YAML; ``line``/``column`` are 1-based."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


def loads(text: str) -> Any:
    """The document's value (``None`` when empty); raises :class:`YamlError`."""
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlError(exc.problem or str(exc), line, column) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc), 1, 1) from None


# -- writing -------------------------------------------------------------------------------------
_ESCAPES = {
    "\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
    "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\xa0": "\\_",
    "\u2028": "\\L", "\u2029": "\\P",
}  # fmt: skip
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\\x7f-\x9f\xa0\u2028\u2029\ud800-\udfff\ufeff]')
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_RESERVED_KEYS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"})


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _ESCAPES.get(char) or (f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}")


def _quoted(text: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _key(text: str) -> str:
    if _PLAIN_KEY.fullmatch(text) and text.lower() not in _RESERVED_KEYS:
        return text
    return _quoted(text)


def java_double(value: float) -> str:
    """``Double.toString``: shortest digits, ``1.0E-5`` outside [1e-3, 1e7)."""
    if math.isnan(value):
        return ".NaN"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)  # plain notation in this range, as Java's
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    power = len(text) - 1 + int(exponent)
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{power}"


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    return _quoted(str(value))


def _node(value: Any, indent: str, lead: str, lines: list[str]) -> None:
    """Write ``value`` whose first line starts with ``lead`` (``<indent>key:`` or
    ``<indent>-``); nested lines are indented from ``indent``."""
    item = lead.endswith("-")
    if isinstance(value, dict) and value:
        inner = indent + "  "
        if not item:
            lines.append(lead)
        for i, (key, child) in enumerate(value.items()):
            first = lead + " " if item and i == 0 else inner
            _node(child, inner, first + _key(str(key)) + ":", lines)
    elif isinstance(value, list) and value:
        # Jackson's default (INDENT_ARRAYS off): a key's items at the key's own indentation
        inner = indent + "  " if item else indent
        if not item:
            lines.append(lead)
        for i, child in enumerate(value):
            _node(child, inner, (lead + " -" if item and i == 0 else inner + "-"), lines)
    else:
        text = "{}" if isinstance(value, dict) else "[]" if isinstance(value, list) else None
        lines.append(f"{lead} {text or _scalar(value)}")


def dumps(value: Any) -> bytes:
    """``value`` as a YAML document, the way Jackson's ``YAMLGenerator`` writes it."""
    lines = ["---"]
    if isinstance(value, dict) and value:
        for key, child in value.items():
            _node(child, "", _key(str(key)) + ":", lines)
    elif isinstance(value, list) and value:
        for child in value:
            _node(child, "", "-", lines)
    else:
        _node(value, "", "---", lines)
        lines.pop(0)
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
