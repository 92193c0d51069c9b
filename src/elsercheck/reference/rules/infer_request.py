"""The inference request body (ES ``InferenceAction.Request.PARSER`` and ``Request.validate``).

The body is read by an ``ObjectParser`` named after the action (``cluster:internal/xpack/inference``
since the inference proxy action of #121804, i.e. in every modelled version): parse errors are
``x_content_parse_exception`` with Jackson's ``[line:column]`` of the offending token, the first
one in document order wins. ``validate()`` then reports only its first failing rule, as an
``action_request_validation_exception``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..versions import EsVersion
from ..wire import timevalue
from ..wire.errors import EsError, validation_failed
from ..wire.javafmt import java_str
from ..wire.router import did_you_mean

PARSER = "cluster:internal/xpack/inference"

# Field -> tokens its ObjectParser.ValueType supports (declareStringArray: STRING_ARRAY,
# declareString: STRING, declareObject: OBJECT, declareBoolean: BOOLEAN, declareInt: INT).
FIELDS: dict[str, tuple[str, ...]] = {
    "input": ("START_ARRAY", "VALUE_STRING"),
    "input_type": ("VALUE_STRING",),
    "task_settings": ("START_OBJECT",),
    "query": ("VALUE_STRING",),
    "return_documents": ("VALUE_BOOLEAN", "VALUE_STRING"),
    "top_n": ("VALUE_NUMBER", "VALUE_STRING"),
    "timeout": ("VALUE_STRING",),
}
# #150116 (9.5, row inference-rerank-fields-removed): InferenceAction.Request.PARSER no longer
# declares the rerank fields; rerank bodies go to RerankAction instead (store id 54780343638).
RERANK_FIELDS = ("query", "return_documents", "top_n")


def declared_fields(version: EsVersion) -> tuple[str, ...]:
    """The fields the inference body parser declares at ``version``, in declaration order."""
    if version.has("inference-rerank-fields-removed"):
        return tuple(name for name in FIELDS if name not in RERANK_FIELDS)
    return tuple(FIELDS)


# InputType.fromRestString: the external input types (internal ones and "unspecified" are not
# accepted from REST). Case-insensitive (inferred from InputType.fromString's toUpperCase).
REST_INPUT_TYPES = ("ingest", "search", "classification", "clustering")
INT_RANGE = (-(2**31), 2**31 - 1)

MESSAGES = {
    "unknown_field": "[{pos}] [{parser}] unknown field [{field}]{suggestion}",
    "wrong_token": "[{pos}] [{parser}] {field} doesn't support values of type: {token}",
    "failed_field": "[{pos}] [{parser}] failed to parse field [{field}]",
    "not_object": "[{pos}] [{parser}] Expected START_OBJECT but was: {token}",
    "input_null": "Field [input] cannot be null",
    "input_empty": "Field [input] cannot be an empty array",
    "query_null": "Field [query] cannot be null for task type [{task_type}]",
    "query_empty": "Field [query] cannot be empty for task type [{task_type}]",
    "not_for_task": "Field [{field}] cannot be specified for task type [{task_type}]",
}


@dataclass
class Token:
    kind: str  # Jackson JsonToken name
    raw: str  # the literal as written (scalars)
    offset: int | None = None  # where it starts in the JSON text; None: another format
    source: str = field(default="", repr=False)  # that JSON text

    @property
    def position(self) -> str:
        """``line:column``, only computed for an error message (most requests have none);
        ``1:1`` for a token decoded from YAML / CBOR / SMILE (not modelled)."""
        return "1:1" if self.offset is None else text_position(self.source, self.offset)


def text_position(text: str, offset: int) -> str:
    """Jackson's token location of ``offset`` in ``text``: 1-based line; 1-based column
    counted in UTF-8 bytes, as ``UTF8StreamJsonParser``."""
    line_start = text.rfind("\n", 0, offset) + 1
    line = text.count("\n", 0, offset) + 1
    column = len(text[line_start:offset].encode("utf-8", "surrogatepass")) + 1
    return f"{line}:{column}"


@dataclass
class Member:
    name: str
    key: Token
    value: Token
    items: list[Token] = field(default_factory=list)  # the elements of an array value


@dataclass
class InferRequest:
    """The parsed body: what ``Request.Builder`` would hold."""

    texts: list[str] | None = None
    input_type: str | None = None
    query: str | None = None
    return_documents: bool | None = None
    top_n: int | None = None
    present: set[str] = field(default_factory=set)


# The body of a JSON string after its opening quote, up to (not including) the closing one:
# runs of ordinary characters and escapes (the document was validated already).
_STRING_BODY = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*', re.S)


class _Scanner:
    """Top-level members of an already-validated JSON document, with Jackson token locations
    (1-based line; 1-based column counted in UTF-8 bytes, as ``UTF8StreamJsonParser``)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def _ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t\r\n":
            self.i += 1

    def _kind(self) -> str:
        char = self.text[self.i]
        return {
            "{": "START_OBJECT", "[": "START_ARRAY", '"': "VALUE_STRING", "t": "VALUE_BOOLEAN",
            "f": "VALUE_BOOLEAN", "n": "VALUE_NULL",
        }.get(char, "VALUE_NUMBER")  # fmt: skip

    def _skip_string(self) -> None:
        # One regular-expression match, not a loop per character: a 90 MB input string is
        # skipped in milliseconds instead of blocking the event loop for seconds.
        match = _STRING_BODY.match(self.text, self.i + 1)
        assert match is not None  # the pattern matches the empty string
        self.i = match.end() + 1

    def _skip_value(self) -> None:
        char = self.text[self.i]
        if char == '"':
            self._skip_string()
        elif char in "{[":
            depth = 0
            while True:
                char = self.text[self.i]
                if char == '"':
                    self._skip_string()
                    continue
                if char in "{[":
                    depth += 1
                elif char in "}]":
                    depth -= 1
                self.i += 1
                if depth == 0:
                    return
        else:
            start = self.i
            while self.i < len(self.text) and self.text[self.i] not in ",]} \t\r\n":
                self.i += 1
            if self.i == start:
                self.i += 1

    def _token(self) -> Token:
        start = self.i
        kind = self._kind()
        self._skip_value()
        return Token(kind, self.text[start : self.i], start, self.text)

    def first(self) -> Token:
        self._ws()
        return Token(self._kind(), "", self.i, self.text)

    def members(self) -> list[Member]:
        self._ws()
        self.i += 1  # {
        out: list[Member] = []
        while True:
            self._ws()
            if self.text[self.i] == "}":
                return out
            if self.text[self.i] == ",":
                self.i += 1
                continue
            key = self._token()
            self._ws()
            self.i += 1  # :
            self._ws()
            start = self.i
            value = self._token()
            items: list[Token] = []
            if value.kind == "START_ARRAY":
                end, self.i = self.i, start + 1
                while True:
                    self._ws()
                    if self.text[self.i] == "]":
                        break
                    if self.text[self.i] == ",":
                        self.i += 1
                        continue
                    items.append(self._token())
                self.i = end
            out.append(Member(key.raw[1:-1], key, value, items))


def _value_token(value: Any) -> Token:
    """A token for a value decoded from YAML / CBOR / SMILE (no source text to locate)."""
    if isinstance(value, dict):
        kind = "START_OBJECT"
    elif isinstance(value, list):
        kind = "START_ARRAY"
    elif isinstance(value, str):
        kind = "VALUE_STRING"
    elif isinstance(value, bool):
        kind = "VALUE_BOOLEAN"
    elif value is None:
        kind = "VALUE_NULL"
    else:
        kind = "VALUE_NUMBER"
    return Token(kind, java_str(value) if kind in ("VALUE_NUMBER", "VALUE_BOOLEAN") else "")


def _decoded_members(body: dict[str, Any]) -> list[Member]:
    return [
        Member(
            name,
            Token("FIELD_NAME", ""),
            _value_token(value),
            [_value_token(v) for v in value] if isinstance(value, list) else [],
        )
        for name, value in body.items()
    ]


def parse(raw: bytes, body: Any, version: EsVersion, *, json_text: bool = True) -> InferRequest:
    """``PARSER.apply``: ``body`` is ``raw`` already decoded in its own format. Token locations
    are exact for JSON; for YAML / CBOR / SMILE bodies they print as ``1:1`` (not modelled).
    ``version`` decides which fields the parser declares (:func:`declared_fields`)."""
    fields = declared_fields(version)
    if json_text and _plain(raw, body):
        texts = body.get("input")
        if len(body) == 1 and isinstance(texts, str | list):  # the usual body: input alone
            return InferRequest(
                texts=[texts] if isinstance(texts, str) else list(texts), present={"input"}
            )
        # Without an escape, each name and string reads as written, so the decoded members
        # are the scanned ones but for token locations, which only an error prints: scan for
        # them only then (the inference hot path pays one pass over the body, not two).
        try:
            return _build(body, _decoded_members(body), fields)
        except EsError:
            pass
    scanner = _Scanner(raw.decode("utf-8", "surrogatepass")) if json_text else None
    if not isinstance(body, dict):
        first = scanner.first() if scanner is not None else _value_token(body)
        raise _parse_error(MESSAGES["not_object"], first.position, token=first.kind)
    members = scanner.members() if scanner is not None else _decoded_members(body)
    return _build(body, members, fields)


def _plain(raw: bytes, body: Any) -> bool:
    """A JSON object whose members read the same decoded as scanned: no escape anywhere (a
    name like ``inp\\u0075t`` is looked up as written), and an ``input`` array of strings only
    (a number's text is taken as written, ``1e5``, which its decoded value does not keep)."""
    if not isinstance(body, dict) or b"\\" in raw:
        return False
    texts = body.get("input")
    return not isinstance(texts, list) or all(type(text) is str for text in texts)


def _build(body: dict[str, Any], members: list[Member], fields: tuple[str, ...]) -> InferRequest:
    request = InferRequest()
    for member in members:
        _check_declared(member, fields, FIELDS, _parse_error)
        name, value = member.name, member.value
        try:
            _set(request, name, body[name], member)
        except ValueError:
            raise _parse_error(MESSAGES["failed_field"], value.position, field=name) from None
        request.present.add(name)
    return request


def _set(request: InferRequest, name: str, value: Any, member: Member) -> None:
    """One field's value, or ValueError where the declared parser would throw."""
    if name == "input":
        if isinstance(value, str):
            request.texts = [value]
            return
        texts = []
        for item, parsed in zip(member.items, value, strict=True):
            # parseArray accepts values; p.text() then fails on null and objects, and a
            # nested array is "expected value but got [START_ARRAY]"
            if item.kind in ("START_OBJECT", "START_ARRAY", "VALUE_NULL"):
                raise ValueError(name)
            texts.append(parsed if item.kind == "VALUE_STRING" else item.raw)
        request.texts = texts
    elif name == "input_type":
        if value.lower() not in REST_INPUT_TYPES:
            raise ValueError(name)
        request.input_type = value.lower()
    elif name == "query":
        request.query = value
    elif name == "return_documents":
        if isinstance(value, str):
            if value not in ("true", "false"):  # Booleans.parseBoolean
                raise ValueError(name)
            value = value == "true"
        request.return_documents = value
    elif name == "top_n":
        request.top_n = _int_value(value)
    elif name == "timeout":
        try:
            timevalue.parse(value, name)
        except EsError:
            raise ValueError(name) from None


def _int_value(value: Any) -> int:
    """``XContentParser.intValue()`` with coercion: decimals truncate, out of range fails."""
    try:
        number = float(value) if isinstance(value, str) else value
    except ValueError:
        raise ValueError("top_n") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("top_n")
    result = int(number)
    if not INT_RANGE[0] <= result <= INT_RANGE[1]:
        raise ValueError("top_n")
    return result


def _check_declared(
    member: Member, names: tuple[str, ...], kinds: dict[str, tuple[str, ...]],
    error: Callable[..., EsError],
) -> None:  # fmt: skip
    """ObjectParser's two refusals of a member: a field it does not declare (with its "did you
    mean"), and a token its declared field does not take."""
    name, value = member.name, member.value
    if name not in names:
        suggestion = did_you_mean(name, names)
        raise error(
            MESSAGES["unknown_field"], member.key.position, field=name,
            suggestion=f" did you mean {suggestion}?" if suggestion else "",
        )  # fmt: skip
    if value.kind not in kinds[name]:
        raise error(MESSAGES["wrong_token"], value.position, field=name, token=value.kind)


def _parse_error(template: str, position: str, **values: str) -> EsError:
    return EsError(
        "x_content_parse_exception", template.format(pos=position, parser=PARSER, **values)
    )


def validate(request: InferRequest, url_task_type: str | None, version: EsVersion) -> None:
    """``Request.validate``: the first failing rule only. ``url_task_type`` None is ``any`` (the
    one-segment URL), which is exempt from the task-type rules."""
    task = url_task_type or "any"
    error = _first_error(request, task, version)
    if error is not None:
        raise validation_failed([error], "action_request_validation_exception")


def _first_error(request: InferRequest, task: str, version: EsVersion) -> str | None:
    if request.texts is None:
        return MESSAGES["input_null"]
    if not request.texts:
        return MESSAGES["input_empty"]
    if task == "rerank":
        if request.query is None:
            return MESSAGES["query_null"].format(task_type=task)
        if request.query == "":
            return MESSAGES["query_empty"].format(task_type=task)
    elif task != "any":
        for name in ("return_documents", "top_n"):
            if name in request.present:
                return MESSAGES["not_for_task"].format(field=name, task_type=task)
        # #131641 (9.2.0): embedding requests reject a query, after return_documents/top_n
        embedding = task in ("sparse_embedding", "text_embedding")
        if embedding and version.has("inference-query-rejected") and request.query is not None:
            return MESSAGES["not_for_task"].format(field="query", task_type=task)
    if task not in ("text_embedding", "any") and request.input_type is not None:
        return MESSAGES["not_for_task"].format(field="input_type", task_type=task)
    return None


# -- 9.5: the rerank body (#150116, row inference-rerank-fields-removed) -------------------------
# TransportInferenceActionProxy parses a rerank request with RerankRequest.PARSER (server
# org.elasticsearch.inference.RerankRequest, store id 55203300962): a ConstructingObjectParser
# named "RerankRequest" declaring input (OBJECT_ARRAY_OR_STRING, required), query
# (OBJECT_OR_STRING, required), top_n (int), return_documents (boolean), task_settings (object).
# No input_type, no timeout. Then RerankAction.Request.validate (store id 55489277960).
RERANK_PARSER = "RerankRequest"
RERANK_BODY_FIELDS: dict[str, tuple[str, ...]] = {
    "input": ("START_ARRAY", "VALUE_STRING", "START_OBJECT"),
    "query": ("VALUE_STRING", "START_OBJECT"),
    "top_n": ("VALUE_NUMBER", "VALUE_STRING"),
    "return_documents": ("VALUE_BOOLEAN", "VALUE_STRING"),
    "task_settings": ("START_OBJECT",),
}
RERANK_MESSAGES = {
    "input_empty": "Field [input] cannot be an empty array",
    "query_empty": "Field [query] cannot be empty",
    "top_n_min": "Field [top_n] must be greater than or equal to 1",
    # ConstructingObjectParser.Target.finish (store id 221809438): the missing required
    # constructor arguments in declaration order, an IllegalArgumentException (400)
    "required": "Required [{fields}]",
    # Not read: InferenceString.PARSER (object inputs): refused rather than guessed.
    "object_not_modelled": (
        "The reference server does not model object values of [{field}] in a rerank request "
        "(InferenceString) on Elasticsearch 9.5"
    ),
}


@dataclass
class RerankBody:
    """What ``RerankRequest`` holds (text inputs only)."""

    inputs: list[str]
    query: str
    top_n: int | None = None


def parse_rerank(raw: bytes, body: Any, *, json_text: bool = True) -> RerankBody:
    """``RerankRequest.PARSER.apply`` (9.5). Object values raise a 501 :class:`EsError` (not
    modelled); parse errors are ``x_content_parse_exception``."""
    scanner = _Scanner(raw.decode("utf-8", "surrogatepass")) if json_text else None
    if not isinstance(body, dict):
        first = scanner.first() if scanner is not None else _value_token(body)
        raise _rerank_error(MESSAGES["not_object"], first.position, token=first.kind)
    members = scanner.members() if scanner is not None else _decoded_members(body)
    values: dict[str, Any] = {}
    for member in members:
        _check_declared(member, tuple(RERANK_BODY_FIELDS), RERANK_BODY_FIELDS, _rerank_error)
        name, value = member.name, member.value
        tokens = member.items if value.kind == "START_ARRAY" else [value]
        if name in ("input", "query") and any(t.kind == "START_OBJECT" for t in tokens):
            objects = [v for v in (body[name] if isinstance(body[name], list) else [body[name]])
                       if isinstance(v, dict)]  # fmt: skip
            # Any failure inside the field parser (InferenceString.PARSER's ConstructingObject
            # Parser, its data type / format checks, parseStringOrObject's unsupported type)
            # is wrapped by ObjectParser as "failed to parse field"; an object of the right
            # shape would need InferenceString's type and format rules, not modelled.
            if all(_inference_string_shape(o) for o in objects):
                raise EsError(
                    "status_exception",
                    RERANK_MESSAGES["object_not_modelled"].format(field=name),
                    501,
                )
            raise _rerank_error(MESSAGES["failed_field"], value.position, field=name)
        try:
            values[name] = _rerank_value(name, body[name], tokens)
        except ValueError:
            raise _rerank_error(MESSAGES["failed_field"], value.position, field=name) from None
    missing = [name for name in ("input", "query") if name not in values]
    if missing:
        raise EsError(
            "illegal_argument_exception",
            RERANK_MESSAGES["required"].format(fields=", ".join(missing)),
            400,
        )
    return RerankBody(values["input"], values["query"], values.get("top_n"))


def _inference_string_shape(value: dict[str, Any]) -> bool:
    """Only ``type``, ``format`` and ``value``, all strings, ``type`` and ``value`` present
    (InferenceString.PARSER's declared fields and constructor arguments)."""
    return (
        set(value) <= {"type", "format", "value"}
        and {"type", "value"} <= set(value)
        and all(isinstance(v, str) for v in value.values())
    )


def _rerank_value(name: str, value: Any, tokens: list[Token]) -> Any:
    if name == "input":
        # parseStringOrObject: anything but a string (or an object) is "Unsupported token"
        if any(t.kind != "VALUE_STRING" for t in tokens):
            raise ValueError(name)
        return [value] if isinstance(value, str) else list(value)
    if name == "top_n":
        return _int_value(value)
    if name == "return_documents" and isinstance(value, str) and value not in ("true", "false"):
        raise ValueError(name)  # Booleans.parseBoolean
    return value


def _rerank_error(template: str, position: str, **values: str) -> EsError:
    return EsError(
        "x_content_parse_exception", template.format(pos=position, parser=RERANK_PARSER, **values)
    )


def validate_rerank(request: RerankBody) -> None:
    """``RerankAction.Request.validate``: every failing rule, accumulated."""
    errors = []
    if not request.inputs:
        errors.append(RERANK_MESSAGES["input_empty"])
    if request.query == "":
        errors.append(RERANK_MESSAGES["query_empty"])
    if request.top_n is not None and request.top_n < 1:
        errors.append(RERANK_MESSAGES["top_n_min"])
    if errors:
        raise validation_failed(errors, "action_request_validation_exception")
