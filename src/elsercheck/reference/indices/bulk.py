"""A ``_bulk`` body as Elasticsearch reads it, and what update items do to a document.

* ``BulkRequestParser.parse``: NDJSON, an action line then (except for ``delete``) a source
  line. A malformed action line fails the whole request; a source line is not parsed there:
  ``index``/``create`` sources are parsed at the shard (``DocumentParser.parseDocument``), so a
  source that is not JSON, not UTF-8 or not an object fails its item only
  (``document_parsing_exception``). An ``update`` line is parsed at once
  (``UpdateRequest.fromXContent``): a malformed one fails the request.
* ``BulkRequest.validate`` collects each item's ``validate()``: ``index is missing``
  (``IndexRequest``), ``id is missing`` (``DeleteRequest``, ``UpdateRequest``), ``script or doc
  is missing`` (``UpdateRequest``), an id over 512 bytes (``IndexRequest.validate``).
* A source nested deeper than ``index.mapping.depth.limit`` (20) objects fails its item as
  the dynamic mapping update would (``MappingLookup.checkObjectDepthLimit``); beyond the
  parser's nesting limit (1000, Jackson ``StreamReadConstraints``) it is a parse failure.
* Updates merge ``doc`` into the source (``UpdateHelper.prepareUpdateIndexRequest`` →
  ``XContentHelper.update``: maps merge recursively, other values are replaced; unchanged is a
  ``noop``, ``detect_noop`` defaults to true). Scripted updates are not modelled: such an item
  fails naming that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..rules.semantic_text import DEPTH_LIMIT
from ..wire import json_body, params, timevalue
from ..wire.errors import EsError, not_modelled, status_exception, validation_failed

OPS = ("index", "create", "delete", "update")
MAX_ID_BYTES = 512  # IndexRequest.validate
# Action/metadata keys of BulkRequestParser that the reference server applies, and the ones it
# knows but does not model (refused, never ignored); any other key is unknown to Elasticsearch
MODELLED_META = frozenset(
    {"_index", "_id", "if_seq_no", "if_primary_term", "require_alias", "pipeline"}
)
UNMODELLED_META = frozenset({
    "routing", "op_type", "version", "version_type", "retry_on_conflict", "_source",
    "require_data_stream", "dynamic_templates", "list_executed_pipelines",
})  # fmt: skip
# URL parameters of RestBulkAction (REST spec bulk) and what the reference server does with
# them: modelled, modelled for some values only (checked in url_options), or refused naming
# them (never accepted and ignored)
UNMODELLED_URL = frozenset({
    "routing", "_source", "_source_includes", "_source_excludes", "_slice",
})  # fmt: skip
BULK_URL_PARAMS = (
    "refresh", "timeout", "wait_for_active_shards", "require_alias", "require_data_stream",
    "list_executed_pipelines", "include_source_on_error", "pipeline", *sorted(UNMODELLED_URL),
)  # fmt: skip
REFRESH_VALUES = {"": "true", "true": "true", "false": "false", "wait_for": "wait_for"}
# UpdateRequest.fromXContent fields
UPDATE_FIELDS = frozenset(
    {"doc", "doc_as_upsert", "upsert", "detect_noop", "script", "scripted_upsert", "_source"}
)


@dataclass
class Item:
    op: str
    index: str | None
    id: str | None
    body: Any = None  # index/create: the document; update: the update request; delete: None
    error: EsError | None = None  # the item's failure, known from its source line alone
    require_alias: bool = False  # DocWriteRequest.isRequireAlias
    if_seq_no: int | None = None  # DocWriteRequest.ifSeqNo / ifPrimaryTerm (compare and write)
    if_primary_term: int | None = None
    pipeline: str | None = None  # IndexRequest.getPipeline: the URL's, or the action line's


def refresh_policy(query: dict[str, str]) -> str:
    """``WriteRequest.RefreshPolicy.parse``: ``true`` (or empty), ``false``, ``wait_for``."""
    value = query.get("refresh", "false")
    if value not in REFRESH_VALUES:
        raise EsError("illegal_argument_exception", f"Unknown value for refresh: [{value}].")
    return REFRESH_VALUES[value]


def refreshes(query: dict[str, str]) -> bool:
    """Whether a write makes itself visible before answering: ``wait_for`` waits for the
    next refresh, which on the reference server is the same as refreshing at once."""
    return refresh_policy(query) != "false"


def boolean(query: dict[str, str], name: str) -> bool:
    """``RestRequest.paramAsBoolean`` with false as the default."""
    return params.as_boolean(query, name)


def active_shards(query: dict[str, str]) -> None:
    """``ActiveShardCount.parseString``: the default 1 (or 0) is what one node gives at once;
    ``all``/2 need the replica this one-node cluster never assigns, so ES would wait for
    ``timeout`` and fail. That wait is not modelled: refused, naming it."""
    value = query.get("wait_for_active_shards")
    if value is None or value in ("0", "1"):
        return
    if value != "all" and not (value.isdigit() or value == "index-setting"):
        raise EsError("illegal_argument_exception",
                      f"cannot parse ActiveShardCount[{value}]")  # fmt: skip
    raise not_modelled(f"[wait_for_active_shards={value}] (the replica is never assigned on "
                       "this one-node cluster)")  # fmt: skip


def url_options(query: dict[str, str]) -> dict[str, Any]:
    """``RestBulkAction.prepareRequest``: the URL parameters, each applied or refused."""
    for name in sorted(UNMODELLED_URL & query.keys()):
        raise not_modelled(f"the parameter [{name}] of the bulk API")
    for name in ("require_data_stream", "list_executed_pipelines"):
        if boolean(query, name):  # no data streams, no pipelines to list
            raise not_modelled(f"the parameter [{name}=true] of the bulk API")
    if "include_source_on_error" in query and not boolean(query, "include_source_on_error"):
        raise not_modelled("the parameter [include_source_on_error=false] of the bulk API")
    refresh_policy(query)
    active_shards(query)
    if "timeout" in query:  # nothing waits for a shard here: parsed, never reached
        timevalue.parse(query["timeout"], "timeout")
    # RestBulkAction: ``pipeline`` is the items' default (applied in api/ingest.py)
    return {"require_alias": boolean(query, "require_alias"), "pipeline": query.get("pipeline")}


def not_an_alias(name: str) -> EsError:
    """``TransportBulkAction``: ``require_alias`` on a target that is not an alias (the
    reference server has no aliases, so every target) fails the item."""
    return EsError(
        "index_not_found_exception",
        f"no such index [{name}] and [require_alias] request flag is [true] and [{name}] is not "
        "an alias", 404,
        extra={"resource.type": "index_expression", "resource.id": name, "index_uuid": "_na_",
               "index": name},
    )  # fmt: skip


def seq_no_conflict(item: Item, doc_id: str, current: Any) -> EsError | None:
    """``InternalEngine.planIndexingAsPrimary``/``planDeletionAsPrimary``: compare-and-write on
    ``if_seq_no``/``if_primary_term`` (``VersionConflictEngineException``; the primary term
    is always 1 here)."""
    if item.if_seq_no is None:
        return None
    if current is not None and current.seq_no == item.if_seq_no and item.if_primary_term == 1:
        return None
    found = (
        " but no document was found" if current is None
        else f" current document has seqNo [{current.seq_no}] and primary term [1]"
    )  # fmt: skip
    return EsError(
        "version_conflict_engine_exception",
        f"[{doc_id}]: version conflict, required seqNo [{item.if_seq_no}], primary term "
        f"[{item.if_primary_term}].{found}", 409,
    )  # fmt: skip


def _token(value: Any) -> str:
    """The XContent token a parsed value started with."""
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, str):
        return "VALUE_STRING"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    return "VALUE_NULL" if value is None else "VALUE_NUMBER"


def _malformed(line: int, detail: str) -> EsError:
    return EsError("illegal_argument_exception",
                   f"Malformed action/metadata line [{line}], {detail}")  # fmt: skip


def _action(raw: bytes, line: int) -> tuple[str, dict[str, Any]]:
    try:
        action = orjson.loads(raw)
    except orjson.JSONDecodeError:
        action = json_body.parse(raw, False)  # raises x_content_parse_exception
    if not isinstance(action, dict):
        raise _malformed(line, f"expected START_OBJECT or END_OBJECT but found [{_token(action)}]")
    if len(action) != 1:
        raise _malformed(line, "expected START_OBJECT or END_OBJECT but found [FIELD_NAME]")
    op, meta = next(iter(action.items()))
    if op not in OPS:
        raise _malformed(line, f"expected field [create], [delete], [index] or [update] but "
                         f"found [{op}]")  # fmt: skip
    if not isinstance(meta, dict):
        raise _malformed(line, f"expected START_OBJECT but found [{_token(meta)}]")
    for key, value in meta.items():
        if isinstance(value, dict | list):
            raise _malformed(line, f"expected a simple value for field [{key}] but found "
                             f"[{_token(value)}]")  # fmt: skip
        if key not in MODELLED_META | UNMODELLED_META:
            raise EsError(
                "illegal_argument_exception",
                f"Action/metadata line [{line}] contains an unknown parameter [{key}]",
            )
        if key in UNMODELLED_META:
            raise status_exception(
                f"The reference server does not model the bulk action/metadata parameter [{key}]"
                f" (line [{line}])", 501,
            )  # fmt: skip
    return op, meta


def _simple(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse(
    body: bytes, default_index: str | None, options: dict[str, Any] | None = None
) -> list[Item]:
    """The items of a bulk body; raises for what fails the whole request."""
    if not body.endswith(b"\n"):
        raise EsError("illegal_argument_exception",
                      "The bulk request must be terminated by a newline [\\n]")  # fmt: skip
    lines = [line for line in body.split(b"\n") if line.strip()]
    items: list[Item] = []
    at = 0
    while at < len(lines):
        op, meta = _action(lines[at], at + 1)
        index = _simple(meta.get("_index", default_index))
        item = Item(op, index, _simple(meta.get("_id")))
        item.require_alias = _meta_flag(meta, "require_alias", (options or {}).get("require_alias"))
        item.if_seq_no = _meta_long(meta, "if_seq_no")
        item.if_primary_term = _meta_long(meta, "if_primary_term")
        item.pipeline = _simple(meta.get("pipeline", (options or {}).get("pipeline")))
        check_cas(item.if_seq_no, item.if_primary_term)
        if op != "delete":
            if at + 1 >= len(lines):
                raise EsError("illegal_argument_exception", "The bulk request must be "
                              "terminated by a newline [\\n]")  # fmt: skip
            if op == "update":
                item.body = update_body(lines[at + 1])
            else:
                item.body, item.error = source(lines[at + 1])
            at += 1
        items.append(item)
        at += 1
    _validate(items)
    return items


def _meta_flag(meta: dict[str, Any], name: str, default: bool | None) -> bool:
    value = meta.get(name, default)
    return value is True or str(value).lower() == "true"


def _meta_long(meta: dict[str, Any], name: str) -> int | None:
    """``BulkRequestParser``: ``parser.longValue()`` of a number or numeric string."""
    value = meta.get(name)
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        raise EsError("illegal_argument_exception",
                      f"Failed to parse value [{value}] for field [{name}]") from None  # fmt: skip


def check_cas(if_seq_no: int | None, if_primary_term: int | None) -> None:
    """``IndexRequest.setIfSeqNo``/``setIfPrimaryTerm``: negative values are refused at once."""
    if if_seq_no is not None and if_seq_no < 0:
        raise EsError("illegal_argument_exception",
                      f"sequence number must be non negative. got [{if_seq_no}].")  # fmt: skip
    if if_primary_term is not None and if_primary_term < 0:
        raise EsError("illegal_argument_exception",
                      f"primary term must be non negative. got [{if_primary_term}]")  # fmt: skip


def item_messages(item: Item) -> list[str]:
    """``DocWriteRequest.validateSeqNoBasedCASParams`` and ``IndexRequest.validate``'s
    compare-and-write checks of one item."""
    messages = []
    if item.if_seq_no is not None and item.if_primary_term in (None, 0):
        messages.append("ifSeqNo is set, but primary term is [0]")
    if item.if_seq_no is None and item.if_primary_term not in (None, 0):
        messages.append(f"ifSeqNo is unassigned, but primary term is [{item.if_primary_term}]")
    if item.op == "create" and item.if_seq_no is not None:
        messages.append("create operations do not support compare and set. use index instead")
    return messages


def _validate(items: list[Item]) -> None:
    """``BulkRequest.validate``: every item's messages, numbered in one exception."""
    messages: list[str] = []
    for item in items:
        messages += item_messages(item)
        if item.index is None:
            messages.append("index is missing")
        if item.op in ("delete", "update") and not item.id:
            messages.append("id is missing")
        if item.op == "update" and "doc" not in item.body and "script" not in item.body:
            messages.append("script or doc is missing")
        size = len(item.id.encode("utf-8", "surrogatepass")) if item.id is not None else 0
        if size > MAX_ID_BYTES:
            messages.append(f"id [{item.id}] is too long, must be no longer than {MAX_ID_BYTES} "
                            f"bytes but was: {size}")  # fmt: skip
    if not items:
        messages.append("no requests added")
    if messages:
        raise validation_failed(messages, "action_request_validation_exception")


def validate(items: list[Item]) -> None:
    """``BulkRequest.validate`` (and a single write's own ``validate``)."""
    _validate(items)


def update_body(raw: bytes | Any) -> dict[str, Any]:
    """``UpdateRequest.fromXContent`` of a bulk line (bytes) or an already parsed body."""
    body = json_body.parse(raw, False) if isinstance(raw, bytes) else raw
    if not isinstance(body, dict):
        raise EsError("x_content_parse_exception",
                      f"[1:1] Expected START_OBJECT but found [{_token(body)}]")  # fmt: skip
    for key, value in body.items():
        if key not in UPDATE_FIELDS:
            raise EsError(
                "x_content_parse_exception", f"[1:2] [UpdateRequest] unknown field [{key}]"
            )
        if key in ("doc", "upsert") and not isinstance(value, dict):
            raise EsError("x_content_parse_exception",
                          f"[1:2] [UpdateRequest] failed to parse field [{key}]")  # fmt: skip
    return body


def document_parsing(reason: str, cause: EsError | None = None) -> EsError:
    """``DocumentParsingException`` (``document_parsing_exception``, 400)."""
    return EsError("document_parsing_exception", reason, 400, caused_by=cause)


def source(raw: bytes) -> tuple[dict[str, Any] | None, EsError | None]:
    """An index/create source line parsed as the shard would: (document, None) or (None, the
    item's failure)."""
    try:
        if raw.count(b"{") + raw.count(b"[") > json_body.MAX_DEPTH:
            value = json_body.parse(raw, False)  # the nesting limit checked first
        else:
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:  # the XContent parser's message (or what it accepts)
                value = json_body.parse(raw, False)
    except EsError as error:
        return None, document_parsing(f"{error.reason.split('] ', 1)[0]}] failed to parse: "
                                      f"{error.reason.split('] ', 1)[-1]}", error)  # fmt: skip
    if not isinstance(value, dict):
        return None, document_parsing("[1:1] Malformed content, must start with an object")
    if raw.count(b"{") > DEPTH_LIMIT:
        deep = too_deep(value)
        if deep is not None:
            reason = (
                f"Limit of mapping depth [{DEPTH_LIMIT}] has been exceeded due to object field "
                f"[{deep}]"
            )
            return None, EsError("illegal_argument_exception", reason)
    return value, None


def too_deep(document: dict[str, Any]) -> str | None:
    """The first object path a dynamic mapping would map deeper than the depth limit (objects
    in arrays keep their array's path), walked without recursion."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        prefix, value = stack.pop()
        if isinstance(value, list):
            stack.extend((prefix, v) for v in value)
            continue
        if not isinstance(value, dict):
            continue
        for key, child in value.items():
            if isinstance(child, dict | list):
                path = f"{prefix}{key}"
                if isinstance(child, dict) and path.count(".") + 2 > DEPTH_LIMIT:
                    return path
                stack.append((f"{path}.", child))
    return None


def merge(current: dict[str, Any], changes: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``XContentHelper.update``: ``current`` with ``changes`` merged in; whether it changed."""
    merged = dict(current)
    changed = False
    for key, value in changes.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merged[key], inner = merge(old, value)
            changed = changed or inner
        elif key not in merged or old != value:
            merged[key] = value
            changed = True
    return merged, changed


SCRIPT_NOT_MODELLED = (
    "The reference server does not model scripted updates ([script] in a bulk update)"
)


def script_refused() -> EsError:
    return status_exception(SCRIPT_NOT_MODELLED, 501)
