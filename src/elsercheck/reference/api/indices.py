"""Index, bulk and search handlers for semantic_text (ES RestCreateIndexAction,
RestDeleteIndexAction, RestGetMappingAction, RestRefreshAction, RestCountAction,
RestBulkAction, RestSearchAction), the slice of them a semantic search workload uses."""

from __future__ import annotations

import fnmatch
import time
from typing import Any

import orjson

from ..indices import ingest
from ..indices.store import WRITE_SHARDS, Index
from ..rules import semantic_text as st
from ..rules import service_settings as ss
from ..rules.endpoint_config import EndpointConfig
from ..wire.errors import EsError, status_exception, validation_failed
from ..wire.router import Route
from .call import Call, Reply

CREATE = "indices:admin/create"
DELETE = "indices:admin/delete"
GET_MAPPING = "indices:admin/mappings/get"
RESOLVE = "indices:admin/resolve/index"
REFRESH = "indices:admin/refresh"
BULK = "indices:data/write/bulk"
BULK_SHARD = "indices:data/write/bulk[s]"  # authorised per index (BulkShardRequest)
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
    mapping = st.parse_mappings(body.get("mappings"), settings, state.version)
    for spec in mapping.semantic.values():  # resolved now when the endpoint exists
        config = state.find(spec.inference_id)
        if config is not None:
            spec.model_settings = st.model_settings(config.task_type)
    state.indices.indices[name] = Index(name, mapping, settings)
    return Reply({"acknowledged": True, "shards_acknowledged": True, "index": name})


async def delete_index(call: Call) -> Reply:
    index = _index(call)
    _authorize(call, DELETE, [index.name])
    del call.state.indices.indices[index.name]
    return Reply({"acknowledged": True})


async def get_mapping(call: Call) -> Reply:
    index = _index(call)
    _authorize(call, GET_MAPPING, [index.name])
    return Reply({index.name: {"mappings": index.mapping.to_json()}})


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


async def refresh(call: Call) -> Reply:
    index = _index(call)
    _authorize(call, REFRESH, [index.name])
    index.refresh()
    return Reply({"_shards": dict(WRITE_SHARDS)})


async def count(call: Call) -> Reply:
    index = _index(call)
    _authorize(call, SEARCH, [index.name])
    query = (call.json(wrap_as_map=True) if call.body else {}).get("query")
    hits = await _matches(call, index, query)
    return Reply({"count": len(hits), "_shards": dict(SEARCH_SHARDS)})


# -- bulk ------------------------------------------------------------------------------------
def _parse_bulk(call: Call) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """NDJSON (``BulkRequestParser``): action line, then source line; ``index`` and ``create``."""
    if not call.body.endswith(b"\n"):
        raise EsError("illegal_argument_exception",
                      "The bulk request must be terminated by a newline [\\n]")  # fmt: skip
    lines = [line for line in call.body.split(b"\n") if line.strip()]
    default_index = call.path_params.get("index")
    actions = []
    line_no = 0
    while line_no < len(lines):
        try:
            action = orjson.loads(lines[line_no])
        except orjson.JSONDecodeError:
            reason = f"[{line_no + 1}:1] Unexpected character in action line"
            raise EsError("x_content_parse_exception", reason) from None
        if not isinstance(action, dict) or len(action) != 1:
            raise EsError("illegal_argument_exception",
                          f"Malformed action/metadata line [{line_no + 1}], expected "
                          "START_OBJECT or END_OBJECT but found [VALUE_STRING]")  # fmt: skip
        op, meta = next(iter(action.items()))
        if op not in ("index", "create"):
            raise EsError("illegal_argument_exception",
                          f"Malformed action/metadata line [{line_no + 1}], expected field "
                          f"[create], [delete], [index] or [update] but found [{op}]")  # fmt: skip
        meta = meta if isinstance(meta, dict) else {}
        index = meta.get("_index", default_index)
        if index is None:
            raise validation_failed(["index is missing"], "action_request_validation_exception")
        if line_no + 1 >= len(lines):
            raise EsError("illegal_argument_exception", "The bulk request must be terminated "
                          "by a newline [\\n]")  # fmt: skip
        source = orjson.loads(lines[line_no + 1])
        doc_id = meta.get("_id")
        actions.append((op, str(index), None if doc_id is None else str(doc_id), source))
        line_no += 2
    if not actions:
        raise validation_failed(["no requests added"], "action_request_validation_exception")
    return actions


def _auto_id() -> str:
    """``UUIDs.base64UUID``-shaped: 20 URL-safe characters."""
    import base64
    import os

    return base64.urlsafe_b64encode(os.urandom(15)).decode()


def _supported(config: EndpointConfig) -> EsError | None:
    if config.service_settings.model_id in ss.ELSER_MODELS:
        return None
    return status_exception(
        f"The reference server does not model inference for [{config.service_settings.model_id}]"
        f" ({config.task_type})", 501,
    )  # fmt: skip


async def bulk(call: Call) -> Reply:
    started = time.monotonic()
    state = call.state
    actions = _parse_bulk(call)
    _authorize(call, BULK_SHARD, sorted({name for _, name, _, _ in actions}))
    items: list[dict[str, Any] | None] = [None] * len(actions)
    ids = [doc_id or _auto_id() for _, _, doc_id, _ in actions]
    by_index: dict[str, list[int]] = {}
    for position, (_, name, _, _) in enumerate(actions):
        if state.indices.get(name) is None:  # action.auto_create_index: an empty mapping
            st.validate_index_name(name)
            state.indices.indices[name] = Index(name, st.Mapping(), {})
        by_index.setdefault(name, []).append(position)

    async def run(config: EndpointConfig, texts: list[str]) -> Any:
        return await state.inference.infer(config, texts, None)

    for name, positions in by_index.items():
        index = state.indices.indices[name]
        sources = [actions[p][3] for p in positions]
        results = await ingest.infer_items(sources, index.mapping, state.find, run, _supported)
        for position, result in zip(positions, results, strict=True):
            op = actions[position][0]
            doc_id = ids[position]
            if isinstance(result, EsError):
                items[position] = _failure(op, name, doc_id, result)
                continue
            if op == "create" and doc_id in index.docs:
                current = index.docs[doc_id].version
                items[position] = _failure(op, name, doc_id, EsError(
                    "version_conflict_engine_exception",
                    f"[{doc_id}]: version conflict, document already exists (current version "
                    f"[{current}])", 409,
                    extra={"index_uuid": index.uuid, "shard": "0", "index": name},
                ))  # fmt: skip
                continue
            for field, chunks in result.items():  # the mapping learns the model settings
                spec = index.mapping.semantic[field]
                if spec.model_settings is None and chunks:
                    config = state.find(spec.inference_id)
                    if config is not None:
                        spec.model_settings = st.model_settings(config.task_type)
            doc = index.write(doc_id, actions[position][3], result)
            created = doc.version == 1
            items[position] = {op: {
                "_index": name, "_id": doc_id, "_version": doc.version,
                "result": "created" if created else "updated", "_shards": dict(WRITE_SHARDS),
                "_seq_no": doc.seq_no, "_primary_term": 1, "status": 201 if created else 200,
            }}  # fmt: skip
    if call.query.get("refresh") in ("", "true", "wait_for"):
        for name in by_index:
            state.indices.indices[name].refresh()
    took = int((time.monotonic() - started) * 1000)
    errors = any("error" in next(iter(i.values())) for i in items if i)
    return Reply({"errors": errors, "took": took, "items": items})


def _failure(op: str, index: str, doc_id: str, error: EsError) -> dict[str, Any]:
    """``BulkItemResponse.Failure``: _index, _id, status, error (no root_cause)."""
    detail = error.body()["error"]
    detail.pop("root_cause", None)
    return {op: {"_index": index, "_id": doc_id, "status": error.status, "error": detail}}


# -- search ----------------------------------------------------------------------------------
async def search(call: Call) -> Reply:
    started = time.monotonic()
    index = _index(call)
    _authorize(call, SEARCH, [index.name])
    body = call.json(wrap_as_map=True) if call.body else {}
    size = int(body.get("size", call.integer("size", 10)))
    start = int(body.get("from", call.integer("from", 0)))
    hits = await _matches(call, index, body.get("query"))
    hits.sort(key=lambda h: (-h[1], h[0].seq_no))
    page = hits[start : start + size]
    return Reply({
        "took": int((time.monotonic() - started) * 1000), "timed_out": False,
        "_shards": dict(SEARCH_SHARDS),
        "hits": {
            "total": {"value": len(hits), "relation": "eq"},
            "max_score": max((s for _, s in hits), default=None),
            "hits": [{"_index": index.name, "_id": d.id, "_score": s, "_source": d.source}
                     for d, s in page],
        },
    })  # fmt: skip


async def _matches(call: Call, index: Index, query: Any) -> list[tuple[Any, float]]:
    """(document, score) of the documents the query matches."""
    docs = index.searchable()
    if query is None or query == {} or "match_all" in (query or {}):
        return [(d, 1.0) for d in docs]
    if not isinstance(query, dict) or len(query) != 1:
        raise EsError("parsing_exception", "[_na] query malformed, must start with start_object",
                      400)  # fmt: skip
    kind, spec = next(iter(query.items()))
    if kind == "semantic":
        field, text = spec.get("field"), spec.get("query")
        # SemanticQueryBuilder.doRewriteBuildSemanticQuery: unmapped → no hits; another type →
        # "Field [f] of type [t] does not support semantic queries"
        if field in index.mapping.plain:
            kind_name = index.mapping.plain[field].get("type", "object")
            reason = f"Field [{field}] of type [{kind_name}] does not support semantic queries"
            raise EsError("illegal_argument_exception", reason)
        if field not in index.mapping.semantic:
            return []
        vector = await _query_vector(call, index, field, text, None, "semantic")
    elif kind == "match":
        field, value = next(iter(spec.items()))
        text = value.get("query") if isinstance(value, dict) else value
        if field not in index.mapping.semantic:
            return _plain_match(docs, field, str(text))
        vector = await _query_vector(call, index, field, str(text), None, "match")
    elif kind == "sparse_vector":
        field = spec.get("field")
        if isinstance(spec.get("query_vector"), dict):
            vector = {str(k): float(v) for k, v in spec["query_vector"].items()}
        else:
            vector = await _query_vector(call, index, field, spec.get("query"),
                                         spec.get("inference_id"), "sparse_vector")  # fmt: skip
    else:
        raise EsError("parsing_exception", f"unknown query [{kind}]", 400)
    scored = []
    for doc in docs:
        chunks = doc.chunks.get(field, [])
        # SemanticQueryBuilder → nested query on the chunks with ScoreMode.Max; the sparse
        # query per chunk is a sum of FeatureField linear queries: weight × stored weight.
        scores = [sum(w * c.embedding.get(t, 0.0) for t, w in vector.items()) for c in chunks]
        best = max(scores, default=0.0)
        if best > 0:
            scored.append((doc, best))
    return scored


async def _query_vector(
    call: Call, index: Index, field: Any, text: Any, inference_id: str | None, kind: str
) -> dict[str, float]:
    spec = index.mapping.semantic.get(field) if isinstance(field, str) else None
    if spec is None and inference_id is None:
        reason = f"Field [{field}] of type [unknown] is not supported for [{kind}] query"
        raise EsError("illegal_argument_exception", reason)
    if not isinstance(text, str):
        raise EsError("parsing_exception", f"[{kind}] requires a query", 400)
    assert spec is not None or inference_id is not None
    endpoint_id = inference_id or (spec.search_inference_id or spec.inference_id)  # type: ignore[union-attr]
    config = call.state.find(endpoint_id)
    if config is None:
        raise EsError("resource_not_found_exception",
                      f"Inference endpoint not found [{endpoint_id}]")  # fmt: skip
    refused = _supported(config)
    if refused is not None:
        raise refused
    timeout = call.state.config.timing.inference_timeout_seconds
    results = await call.state.inference.infer(config, [text], timeout)
    return results[0].embedding


def _plain_match(docs: list[Any], field: str, text: str) -> list[tuple[Any, float]]:
    """A ``match`` on a non-semantic field: documents sharing a lower-cased word (scored by the
    number of query words they hold; BM25 is not modelled)."""
    words = set(text.lower().split())
    out = []
    for doc in docs:
        value = str(doc.source.get(field, "")).lower().split()
        score = float(len(words & set(value)))
        if score:
            out.append((doc, score))
    return out


_BULK = ("refresh", "pipeline", "routing", "timeout", "wait_for_active_shards")
_SEARCH = ("size", "from")
ROUTES = [
    Route("PUT", "/{index}", create_index, CREATE, ("timeout", "master_timeout"), "optional"),
    Route("DELETE", "/{index}", delete_index, DELETE, ("timeout", "master_timeout")),
    Route("GET", "/{index}/_mapping", get_mapping, GET_MAPPING),
    Route("GET", "/_resolve/index/{index}", resolve_index, RESOLVE),
    Route("POST", "/{index}/_refresh", refresh, REFRESH),
    Route("GET", "/{index}/_count", count, SEARCH, (), "optional"),
    Route("POST", "/{index}/_count", count, SEARCH, (), "optional"),
    Route("POST", "/_bulk", bulk, BULK, _BULK, "required"),
    Route("POST", "/{index}/_bulk", bulk, BULK, _BULK, "required"),
    Route("PUT", "/{index}/_bulk", bulk, BULK, _BULK, "required"),
    Route("GET", "/{index}/_search", search, SEARCH, _SEARCH, "optional"),
    Route("POST", "/{index}/_search", search, SEARCH, _SEARCH, "optional"),
]
