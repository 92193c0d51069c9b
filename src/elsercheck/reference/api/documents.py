"""Single-document APIs (ES RestIndexAction, RestCreateAction via RestIndexAction,
RestUpdateAction, RestDeleteAction, RestGetAction): each write is a one-item bulk
(``TransportIndexAction``/``TransportDeleteAction``/``TransportUpdateAction`` hand the item
to ``TransportBulkAction``), so it goes through the same item path, semantic_text inference
included; the item's failure becomes the request's error.

Every URL parameter of the REST spec is modelled or refused naming it (``WRITE_PARAMS`` and
``GET_PARAMS``: the refused ones are in ``UNMODELLED``).
"""

from __future__ import annotations

from typing import Any

from ..indices import bulk as bulk_items
from ..indices import source_filter
from ..indices.store import Doc
from ..wire import xcontent
from ..wire.errors import EsError, validation_failed
from ..wire.router import Route
from .call import Call, Reply
from .indices import _auto_id, _index, index_not_found, write_items

INDEX = "indices:data/write/index"
UPDATE = "indices:data/write/update"
DELETE_DOC = "indices:data/write/delete"
GET = "indices:data/read/get"

# Parameters Elasticsearch has on these APIs that change what is stored, where, or what is
# read, and that the reference server does not model: refused naming them (501)
UNMODELLED = frozenset(
    {
        "routing",
        "_slice",
        "preference",
        "stored_fields",
        "force_synthetic_source",
        "_source_exclude_vectors",
        "lang",
        "prefer_v2_templates",
    }
)
# GetRequest.version: a read that fails unless the version matches; not modelled on reads
GET_UNMODELLED = frozenset({"version", "version_type"})  # fmt: skip
_WRITE = ("refresh", "timeout", "wait_for_active_shards", "require_alias", "require_data_stream",
          "include_source_on_error")  # fmt: skip
INDEX_PARAMS = (*_WRITE, "op_type", "if_seq_no", "if_primary_term", "version", "version_type",
                "pipeline", "routing", "_slice", "prefer_v2_templates")  # fmt: skip
CREATE_PARAMS = (*_WRITE, "version", "version_type", "pipeline", "routing")
UPDATE_PARAMS = (*_WRITE, "if_seq_no", "if_primary_term", "retry_on_conflict", "lang", "routing",
                 "_slice", "_source", "_source_includes", "_source_excludes")  # fmt: skip
DELETE_PARAMS = ("refresh", "timeout", "wait_for_active_shards", "if_seq_no", "if_primary_term",
                 "version", "version_type", "routing", "_slice")  # fmt: skip
GET_PARAMS = ("realtime", "refresh", "_source", "_source_includes", "_source_excludes",
              "version", "version_type", "routing", "_slice", "preference", "stored_fields",
              "force_synthetic_source", "_source_exclude_vectors")  # fmt: skip


def _refuse_unmodelled(call: Call) -> None:
    for name in sorted(UNMODELLED & call.query.keys()):
        raise bulk_items.not_modelled(f"the parameter [{name}] of [{call.route.path}]")


def _write_options(call: Call) -> dict[str, Any]:
    """The URL parameters a single write shares with ``_bulk`` (``RestIndexAction``)."""
    _refuse_unmodelled(call)
    query = call.query
    if bulk_items.boolean(query, "require_data_stream"):
        raise bulk_items.not_modelled(f"the parameter [require_data_stream=true] of "
                                      f"[{call.route.path}]")  # fmt: skip
    if "include_source_on_error" in query and not bulk_items.boolean(
        query, "include_source_on_error"
    ):
        raise bulk_items.not_modelled("the parameter [include_source_on_error=false]")
    bulk_items.refresh_policy(query)
    bulk_items.active_shards(query)
    call.timeout("timeout", 60.0)
    return {"require_alias": bulk_items.boolean(query, "require_alias")}


def _versioning(call: Call) -> None:
    """``version``/``version_type``: internal versioning with a version is refused by ES itself
    (``IndexRequest.validate``, ``DeleteRequest.validate``); external versions are not
    modelled."""
    version_type = call.query.get("version_type", "internal")
    if version_type not in ("internal", "external", "external_gte", "force"):
        raise EsError("illegal_argument_exception", f"No version type match [{version_type}]")
    if version_type != "internal":
        raise bulk_items.not_modelled(f"the parameter [version_type={version_type}] "
                                      "(external versioning)")  # fmt: skip
    if "version" in call.query:
        call.integer("version", 0)
        raise validation_failed(
            ["internal versioning can not be used for optimistic concurrency control. Please "
             "use `if_seq_no` and `if_primary_term` instead"],
            "action_request_validation_exception",
        )  # fmt: skip


def _cas(call: Call, item: bulk_items.Item) -> None:
    for name in ("if_seq_no", "if_primary_term"):
        if name in call.query:
            setattr(item, name, call.integer(name, 0))
    bulk_items.check_cas(item.if_seq_no, item.if_primary_term)


def _document(call: Call) -> tuple[Any, EsError | None]:
    """The document as the shard parses it (``DocumentParser``): a bad one fails the write."""
    if not call.body:
        raise EsError("parse_exception", "request body is required")
    if call.content_format in (None, xcontent.JSON):
        return bulk_items.source(call.body)
    value = call.json()
    if not isinstance(value, dict):
        return None, bulk_items.document_parsing("[1:1] Malformed content, must start with an "
                                                 "object")  # fmt: skip
    return value, None


async def _write(call: Call, item: bulk_items.Item, doc_id: str) -> Reply:
    """The one-item bulk and its answer as the single-document API renders it
    (``DocWriteResponse.innerToXContent``; ``Location`` on 201, ``RestIndexAction``)."""
    bulk_items.validate([item])
    call.authorize(lambda principal: None)  # the item is authorized on its index
    outcome = (await write_items(call, [item], [doc_id]))[0]
    if isinstance(outcome, EsError):
        raise outcome
    answer = dict(next(iter(outcome.values())))
    status = answer.pop("status")
    headers = []
    if status == 201:
        headers.append(("Location", f"/{answer['_index']}/_doc/{doc_id}"))
    return Reply(answer, status, headers)


async def index_doc(call: Call) -> Reply:
    """``RestIndexAction``: ``op_type`` index (the default with an id) or create (without)."""
    options = _write_options(call)
    _versioning(call)
    doc_id = call.path_params.get("id")
    op_type = call.query.get("op_type", "index" if doc_id is not None else "create")
    if op_type not in ("index", "create"):  # IndexRequest.opType(String)
        raise EsError("illegal_argument_exception",
                      f"opType must be 'create' or 'index', found: [{op_type}]")  # fmt: skip
    return await _put(call, op_type, doc_id, options)


async def create_doc(call: Call) -> Reply:
    """``RestCreateAction``: ``op_type`` create."""
    options = _write_options(call)
    _versioning(call)
    return await _put(call, "create", call.path_params["id"], options)


async def _put(call: Call, op: str, doc_id: str | None, options: dict[str, Any]) -> Reply:
    body, error = _document(call)
    item = bulk_items.Item(op, call.path_params["index"], doc_id, body, error)
    item.require_alias = options["require_alias"]
    item.pipeline = call.query.get("pipeline")  # RestIndexAction: IndexRequest.setPipeline
    _cas(call, item)
    return await _write(call, item, doc_id or _auto_id())


async def update_doc(call: Call) -> Reply:
    """``RestUpdateAction``: doc merge, ``doc_as_upsert``, ``upsert``, ``detect_noop``;
    ``script`` is refused (not modelled). ``retry_on_conflict`` only matters when writes
    race on the primary, which here they never do."""
    options = _write_options(call)
    for name in ("_source", "_source_includes", "_source_excludes"):
        if name in call.query:  # the "get" part of the update response
            raise bulk_items.not_modelled(f"the parameter [{name}] of the update API")
    call.integer("retry_on_conflict", 0)
    if not call.body:
        raise EsError("parse_exception", "request body is required")
    body = bulk_items.update_body(call.json() if call.content_format not in (None, xcontent.JSON)
                                  else call.body)  # fmt: skip
    if "script" in body:
        raise bulk_items.script_refused()
    doc_id = call.path_params["id"]
    item = bulk_items.Item("update", call.path_params["index"], doc_id, body)
    item.require_alias = options["require_alias"]
    _cas(call, item)
    return await _write(call, item, doc_id)


async def delete_doc(call: Call) -> Reply:
    """``RestDeleteAction``: 200 ``deleted`` or 404 ``not_found``, both with the body."""
    _refuse_unmodelled(call)
    bulk_items.refresh_policy(call.query)
    bulk_items.active_shards(call.query)
    call.timeout("timeout", 60.0)
    _versioning(call)
    doc_id = call.path_params["id"]
    item = bulk_items.Item("delete", call.path_params["index"], doc_id)
    _cas(call, item)
    return await _write(call, item, doc_id)


async def get_doc(call: Call) -> Reply:
    """``RestGetAction`` (and ``HEAD``: ``RestGetAction`` answers 200/404 without a body):
    realtime by default (the latest write, refreshed or not), ``_source`` filtering as
    ``FetchSourceContext.parseFromRestRequest``."""
    _refuse_unmodelled(call)
    for name in sorted(GET_UNMODELLED & call.query.keys()):
        raise bulk_items.not_modelled(f"the parameter [{name}] of [{call.route.path}]")
    realtime = call.flag("realtime", True)
    refresh = call.flag("refresh", False)
    fetch = source_filter.from_rest(call.query) or source_filter.SourceContext()
    try:
        index = _index(call)
    except EsError:
        if call.method == "HEAD":
            return Reply({}, 404)
        raise
    call.authorize(lambda principal: call.state.security.authorize_index(
        principal, GET, [index.name]))  # fmt: skip
    if refresh:
        index.refresh()
    doc_id = call.path_params["id"]
    doc = (index.docs if realtime else index.snapshot()).get(doc_id)
    if doc is None:
        return Reply({"_index": index.name, "_id": doc_id, "found": False}, 404)
    hidden = []  # RestGetAction honours the index's exclude_source_vectors default (#131907)
    if source_filter.excludes_vectors_by_default(
        index.settings, call.state.version.has("exclude-source-vectors-default")
    ):
        hidden = source_filter.vector_paths(index.mapping.plain)
    return Reply(render_doc(index.name, doc, fetch, hidden))


def render_doc(
    index: str, doc: Doc, fetch: source_filter.SourceContext, hidden: list[str]
) -> dict[str, Any]:
    """``GetResult.toXContent``: metadata, ``found``, then ``_source`` (when fetched, without
    the ``hidden`` vector fields)."""
    out: dict[str, Any] = {
        "_index": index, "_id": doc.id, "_version": doc.version, "_seq_no": doc.seq_no,
        "_primary_term": 1, "found": True,
    }  # fmt: skip
    if fetch.fetch:
        out["_source"] = fetch.apply(source_filter.without(doc.source, hidden))
    return out


ROUTES = [
    Route("PUT", "/{index}/_doc/{id}", index_doc, INDEX, INDEX_PARAMS, "required"),
    Route("POST", "/{index}/_doc/{id}", index_doc, INDEX, INDEX_PARAMS, "required"),
    Route("POST", "/{index}/_doc", index_doc, INDEX, INDEX_PARAMS, "required"),
    Route("PUT", "/{index}/_create/{id}", create_doc, INDEX, CREATE_PARAMS, "required"),
    Route("POST", "/{index}/_create/{id}", create_doc, INDEX, CREATE_PARAMS, "required"),
    Route("POST", "/{index}/_update/{id}", update_doc, UPDATE, UPDATE_PARAMS, "required"),
    Route("DELETE", "/{index}/_doc/{id}", delete_doc, DELETE_DOC, DELETE_PARAMS),
    Route("GET", "/{index}/_doc/{id}", get_doc, GET, GET_PARAMS),
]

__all__ = ["ROUTES", "index_not_found"]
