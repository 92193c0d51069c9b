"""Index and bulk handlers for semantic_text (ES RestCreateIndexAction,
RestDeleteIndexAction, RestGetMappingAction, RestRefreshAction, RestBulkAction), the slice of
them a semantic search workload uses. Search and count: ``search.py``."""

from __future__ import annotations

import asyncio
import fnmatch
import time
from typing import Any

from ..indices import bulk as bulk_items
from ..indices import ingest
from ..indices.store import Chunk, Index
from ..rules import semantic_text as st
from ..rules import service_settings as ss
from ..rules.endpoint_config import EndpointConfig
from ..wire.errors import EsError, status_exception
from ..wire.router import Route
from . import ingest as ingest_pipelines
from .call import Call, Reply

CREATE = "indices:admin/create"
DELETE = "indices:admin/delete"
GET_MAPPING = "indices:admin/mappings/get"
RESOLVE = "indices:admin/resolve/index"
REFRESH = "indices:admin/refresh"
BULK = "indices:data/write/bulk"
SEARCH = "indices:data/read/search"
SEARCH_SHARDS = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}


def index_not_found(name: str) -> EsError:
    """``IndexNotFoundException`` (``ResourceNotFoundException`` with index metadata)."""
    return EsError(
        "index_not_found_exception", f"no such index [{name}]", 404,
        extra={"resource.type": "index_or_alias", "resource.id": name, "index_uuid": "_na_",
               "index": name},
    )  # fmt: skip


def _authorize(call: Call, action: str, names: list[str]) -> None:
    """Index privileges on the named indices (``RBACEngine.authorizeIndexAction``)."""
    security = call.state.security
    call.authorize(lambda principal: security.authorize_index(principal, action, names))


def _index(call: Call) -> Index:
    name = call.path_params["index"]
    index = call.state.indices.get(name)
    if index is None:
        raise index_not_found(name)
    return index


async def create_index(call: Call) -> Reply:
    """``MetadataCreateIndexService``: name → exists → settings → mappings."""
    name = call.path_params["index"]
    state = call.state
    st.validate_index_name(name)
    bulk_items.active_shards(call.query)  # ActiveShardCount: 0/1 at once, more never here
    _authorize(call, CREATE, [name])
    body = call.json(wrap_as_map=True) if call.body else {}
    existing = state.indices.get(name)
    if existing is not None:
        raise EsError(
            "resource_already_exists_exception", f"index [{name}/{existing.uuid}] already exists",
            400, extra={"index_uuid": existing.uuid, "index": name},
        )  # fmt: skip
    settings = st.flat_settings(body.get("settings"))
    st.check_settings(settings, state.version)
    mapping = st.parse_mappings(body.get("mappings"), settings, state.version,
                                eis_elser=state.eis_elser_authorized)  # fmt: skip
    for spec in mapping.semantic.values():  # resolved now when the endpoint exists
        config = state.find(spec.inference_id)
        if config is not None:
            spec.model_settings = st.model_settings(config.task_type, config.service)
    state.indices.indices[name] = Index(name, mapping, settings)
    return Reply({"acknowledged": True, "shards_acknowledged": True, "index": name})


async def resolve_index(call: Call) -> Reply:
    """``ResolveIndexAction``: the indices a comma-separated list of names and ``*`` patterns
    names. A pattern expands to the indices the caller may see, silently filtered
    (``IndicesAndAliasesResolver`` with wildcards); a concrete name that does not exist is
    ``index_not_found_exception`` (``IndicesOptions.strictExpandOpen``). Aliases and data
    streams are not modelled (always empty)."""
    state = call.state
    found: set[str] = set()
    for expression in call.path_params["index"].split(","):
        if "*" not in expression:
            if state.indices.get(expression) is None:
                raise index_not_found(expression)
            _authorize(call, RESOLVE, [expression])
            found.add(expression)
            continue
        for name in state.indices.indices:
            if fnmatch.fnmatchcase(name, expression) and _may(call, RESOLVE, name):
                found.add(name)
    call.authorized = True
    indices = [{"name": name, "attributes": ["open"]} for name in sorted(found)]
    return Reply({"indices": indices, "aliases": [], "data_streams": []})


def _may(call: Call, action: str, name: str) -> bool:
    try:
        _authorize(call, action, [name])
    except EsError:
        return False
    return True


# -- bulk ------------------------------------------------------------------------------------
# The item action each op is authorized as (BulkItemRequest → AuthorizationService
# .authorizeBulkItems: IndexRequest ops carry their op_type)
ITEM_ACTIONS = {
    "index": "indices:data/write/index:op_type/index",
    "create": "indices:data/write/index:op_type/create",
    "delete": "indices:data/write/delete",
    "update": "indices:data/write/update",
}
AUTO_CREATE = "indices:admin/auto_create"  # AutoCreateAction: TransportBulkAction.createIndex
WRITE_SLICE = 500  # items written between two turns of the event loop


def _auto_id() -> str:
    """``UUIDs.base64UUID``-shaped: 20 URL-safe characters."""
    import base64
    import os

    return base64.urlsafe_b64encode(os.urandom(15)).decode()


def _supported(config: EndpointConfig) -> EsError | None:
    if config.service_settings.model_id in ss.ELSER_MODELS or config.service == "elastic":
        return None
    return status_exception(
        f"The reference server does not model inference for [{config.service_settings.model_id}]"
        f" ({config.task_type})", 501,
    )  # fmt: skip


def _denial(call: Call, action: str, name: str) -> EsError | None:
    """The 403 an item gets when the caller may not do ``action`` on ``name``."""
    try:
        _authorize(call, action, [name])
    except EsError as error:
        return error
    return None


async def bulk(call: Call) -> Reply:
    """``TransportBulkAction``: items fail one by one (invalid index name, unauthorized, index
    gone, bad source, inference); only a malformed body fails the request. The body is parsed
    off the event loop and written in slices, so a big bulk never holds other requests up."""
    started = time.monotonic()
    options = bulk_items.url_options(call.query)  # RestBulkAction.prepareRequest
    items = await asyncio.to_thread(
        bulk_items.parse, call.body, call.path_params.get("index"), options
    )
    security = call.state.security
    call.authorize(lambda principal: security.authorize_composite(principal, BULK))
    # each item is authorized below, on its own index
    ids = [item.id or _auto_id() for item in items]
    outcomes = await write_items(call, items, ids)
    replies = [
        _failure(item.op, str(item.index), doc_id, outcome)
        if isinstance(outcome, EsError) else outcome
        for item, doc_id, outcome in zip(items, ids, outcomes, strict=True)
    ]  # fmt: skip
    took = int((time.monotonic() - started) * 1000)
    errors = any("error" in next(iter(r.values())) for r in replies if r)
    return Reply({"errors": errors, "took": took, "items": replies}, offload=True)


async def write_items(
    call: Call, items: list[bulk_items.Item], ids: list[str]
) -> list[dict[str, Any] | EsError]:
    """Each item's answer (``{op: {...}}``) or its failure, in order: the shard-level work of
    ``TransportBulkAction`` that a single-document write shares (``TransportIndexAction``,
    ``TransportDeleteAction`` and ``TransportUpdateAction`` run as one-item bulks)."""
    state = call.state
    await ingest_pipelines.apply(call, items)  # pipelines run before the items are routed
    outcomes: list[dict[str, Any] | EsError | None] = [None] * len(items)

    def fail(position: int, error: EsError) -> None:
        outcomes[position] = error

    by_index: dict[str, list[int]] = {}
    for position, item in enumerate(items):
        if item.error is not None:
            fail(position, item.error)
        else:
            by_index.setdefault(str(item.index), []).append(position)
    targets: dict[str, tuple[Index, list[int]]] = {}
    for name, positions in by_index.items():
        index = state.indices.get(name)
        invalid = st.index_name_error(name) if index is None else None
        allowed = []
        # TransportBulkAction: only index/create/update items create a missing index
        creates = any(items[p].op != "delete" for p in positions)
        for position in positions:
            denied = invalid or _denial(call, ITEM_ACTIONS[items[position].op], name)
            if denied is None and index is None and not creates:
                denied = index_not_found(name)
            if denied is None and index is None:
                denied = _denial(call, AUTO_CREATE, name)
            if denied is None and items[position].require_alias:  # no aliases here
                denied = bulk_items.not_an_alias(name)
            if denied is not None:
                fail(position, denied)
            else:
                allowed.append(position)
        if not allowed:
            continue
        if index is None:  # action.auto_create_index: an empty mapping
            index = state.indices.indices[name] = Index(name, st.Mapping(), {})
        targets[name] = (index, allowed)

    async def run(config: EndpointConfig, texts: list[str]) -> Any:
        return await state.inference.infer(config, texts, None, "ingest")

    for name, (index, positions) in targets.items():
        results: list[Any] = [{} for _ in positions]
        if index.mapping.semantic:
            inferred = [p for p in positions if items[p].op != "delete"]
            sources = [
                st.inference_values(index.mapping, _inference_source(items[p])) for p in inferred
            ]
            answers = await ingest.infer_items(sources, index.mapping, state.find, run, _supported)
            by_position = dict(zip(inferred, answers, strict=True))
            results = [by_position.get(p, {}) for p in positions]
        for done, (position, result) in enumerate(zip(positions, results, strict=True)):
            if done and done % WRITE_SLICE == 0:
                await asyncio.sleep(0)  # let other requests in between slices
            if state.indices.get(name) is not index:  # deleted (or re-created) meanwhile
                fail(position, index_not_found(name))
            elif isinstance(result, EsError):
                fail(position, result)
            else:
                outcomes[position] = _apply(state, index, items[position], ids[position], result)
    if bulk_items.refreshes(call.query):
        for index, _ in targets.values():
            index.refresh()
    return [outcome if outcome is not None else {} for outcome in outcomes]


def _inference_source(item: bulk_items.Item) -> dict[str, Any]:
    """The fields an item sends to inference: an update's partial doc (or upsert)
    (``ShardBulkInferenceActionFilter`` on an ``UpdateRequest``)."""
    if item.op != "update":
        return dict(item.body)
    return {**(item.body.get("upsert") or {}), **(item.body.get("doc") or {})}


def _shard_error(index: Index, error: EsError) -> EsError:
    error.extra.update({"index_uuid": index.uuid, "shard": "0", "index": index.name})
    return error


def _apply(state: Any, index: Index, item: bulk_items.Item, doc_id: str,
           chunks: dict[str, list[Chunk]]) -> dict[str, Any] | EsError:  # fmt: skip
    """One item's write on the primary (``TransportShardBulkAction.executeBulkItemRequest``)."""
    op, name = item.op, index.name
    current = index.docs.get(doc_id)
    conflict = bulk_items.seq_no_conflict(item, doc_id, current)
    if conflict is not None:
        return _shard_error(index, conflict)
    if op == "delete":
        found, version, seq_no = index.delete(doc_id)
        return {op: {
            "_index": name, "_id": doc_id, "_version": version,
            "result": "deleted" if found else "not_found", "_shards": index.shards(),
            "_seq_no": seq_no, "_primary_term": 1, "status": 200 if found else 404,
        }}  # fmt: skip
    source = item.body
    if op == "create" and current is not None:
        return _shard_error(index, EsError(
            "version_conflict_engine_exception",
            f"[{doc_id}]: version conflict, document already exists (current version "
            f"[{current.version}])", 409,
        ))  # fmt: skip
    if op == "update":
        body = item.body
        if "script" in body:
            return bulk_items.script_refused()
        doc = body.get("doc") or {}
        if current is None:
            if not body.get("doc_as_upsert") and "upsert" not in body:
                missing = EsError(
                    "document_missing_exception", f"[{doc_id}]: document missing", 404
                )
                return _shard_error(index, missing)
            source = doc if body.get("doc_as_upsert") else body["upsert"]
        else:
            source, changed = bulk_items.merge(current.source, doc)
            if not changed and body.get("detect_noop", True) is not False:
                return {op: {
                    "_index": name, "_id": doc_id, "_version": current.version,
                    "result": "noop", "_shards": {"total": 0, "successful": 0, "failed": 0},
                    "_seq_no": current.seq_no, "_primary_term": 1, "status": 200,
                }}  # fmt: skip
            chunks = {**current.chunks, **chunks}  # the fields not in doc keep theirs
    for field, field_chunks in chunks.items():  # the mapping learns the model settings
        spec = index.mapping.semantic[field]
        if spec.model_settings is None and field_chunks:
            config = state.find(spec.inference_id)
            if config is not None:
                spec.model_settings = st.model_settings(config.task_type, config.service)
    written = index.write(doc_id, source, chunks)
    created = current is None
    return {op: {
        "_index": name, "_id": doc_id, "_version": written.version,
        "result": "created" if created else "updated", "_shards": index.shards(),
        "_seq_no": written.seq_no, "_primary_term": 1, "status": 201 if created else 200,
    }}  # fmt: skip


def _failure(op: str, index: str, doc_id: str, error: EsError) -> dict[str, Any]:
    """``BulkItemResponse.Failure``: _index, _id, status, error (no root_cause)."""
    detail = error.body()["error"]
    detail.pop("root_cause", None)
    return {op: {"_index": index, "_id": doc_id, "status": error.status, "error": detail}}


_BULK = bulk_items.BULK_URL_PARAMS  # REST spec bulk: every parameter, modelled or refused
ROUTES = [
    Route(
        "PUT",
        "/{index}",
        create_index,
        CREATE,
        ("timeout", "master_timeout", "wait_for_active_shards"),
        "optional",
    ),
    Route("GET", "/_resolve/index/{index}", resolve_index, RESOLVE),
    Route("POST", "/_bulk", bulk, BULK, _BULK, "required"),
    Route("PUT", "/_bulk", bulk, BULK, _BULK, "required"),  # literal beats PUT /{index}
    Route("POST", "/{index}/_bulk", bulk, BULK, _BULK, "required"),
    Route("PUT", "/{index}/_bulk", bulk, BULK, _BULK, "required"),
]
