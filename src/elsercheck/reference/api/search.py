"""Search and count (ES ``RestSearchAction``, ``RestCountAction``): the body and URL
elements the reference server models, per :data:`MODELLED_BODY` and :data:`MODELLED_PARAMS`;
every other element Elasticsearch knows is refused naming it (501, "does not model"), never
ignored. Queries: :mod:`..indices.query`; retrievers: :mod:`..indices.retrievers`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..indices import bulk as bulk_items
from ..indices import source_filter
from ..indices.query import (
    Context,
    Node,
    Parser,
    Sparse,
    linear_score,
    not_modelled,
    parsing,
    walk,
)
from ..indices.retrievers import Compound, Retriever, RetrieverParser, Standard
from ..indices.scoring import f32, feature_value, field_values
from ..indices.store import Index, in_order
from ..wire.errors import EsError
from ..wire.javafmt import java_str
from ..wire.router import Route
from . import ml_uploads
from .call import Call, Reply
from .indices import SEARCH, SEARCH_SHARDS, _authorize, _index, _supported

MAX_RESULT_WINDOW = 10_000  # IndexSettings.MAX_RESULT_WINDOW_SETTING
TRACK_TOTAL_HITS_UP_TO = 10_000  # SearchContext.DEFAULT_TRACK_TOTAL_HITS_UP_TO

# The search body (elasticsearch-specification specification/_global/search/SearchRequest.ts
# body; ``aggs`` is ``aggregations``' alias): SearchSourceBuilder.parseXContent keys.
ES_BODY = frozenset({
    "aggregations", "aggs", "collapse", "explain", "ext", "from", "highlight",
    "track_total_hits", "indices_boost", "docvalue_fields", "knn", "rank", "min_score",
    "post_filter", "profile", "query", "rescore", "retriever", "script_fields", "search_after",
    "size", "slice", "sort", "_source", "fields", "suggest", "terminate_after", "timeout",
    "track_scores", "version", "seq_no_primary_term", "stored_fields", "pit", "runtime_mappings",
    "stats", "project_routing",
})  # fmt: skip
# Modelled in every modelled version (8.19, 9.1-9.5); nothing here differs between them.
MODELLED_BODY = frozenset({
    "query", "retriever", "size", "from", "_source", "min_score", "fields", "track_total_hits",
    "highlight",
})  # fmt: skip
# The URL parameters of the search API (SearchRequest.ts query_parameters): the route accepts
# them all so that those not modelled are refused by name instead of "unrecognized parameter".
ES_PARAMS = (
    "allow_no_indices", "allow_partial_search_results", "analyzer", "analyze_wildcard",
    "batched_reduce_size", "ccs_minimize_roundtrips", "default_operator", "df",
    "docvalue_fields", "expand_wildcards", "explain", "ignore_throttled", "ignore_unavailable",
    "include_named_queries_score", "lenient", "max_concurrent_shard_requests", "preference",
    "pre_filter_shard_size", "request_cache", "routing", "_slice", "scroll", "search_type",
    "stats", "stored_fields", "suggest_field", "suggest_mode", "suggest_size", "suggest_text",
    "terminate_after", "timeout", "track_total_hits", "track_scores", "typed_keys",
    "rest_total_hits_as_int", "version", "_source", "_source_excludes", "_source_exclude_vectors",
    "_source_includes", "seq_no_primary_term", "q", "size", "from", "sort",
    "force_synthetic_source",
)  # fmt: skip
MODELLED_PARAMS = frozenset({"size", "from", "_source", "_source_includes", "_source_excludes"})


# -- request checks ------------------------------------------------------------------------
def _check_params(call: Call) -> None:
    for name in call.query:
        if name in ES_PARAMS and name not in MODELLED_PARAMS:
            raise not_modelled(f"the search URL parameter [{name}]")


def _check_body(body: dict[str, Any]) -> None:
    """``SearchSourceBuilder.parseXContent``: an unknown key is a parsing_exception; a known
    one the reference server does not model is refused by name."""
    for key, value in body.items():
        if key not in ES_BODY:
            raise parsing(f"Unknown key for a {bulk_items._token(value)} in [{key}].")
        if key not in MODELLED_BODY:
            detail = {"knn": " (dense vectors; ELSER is sparse)"}
            raise not_modelled(f"the search body element [{key}]{detail.get(key, '')}")
    if "query" in body and not isinstance(body["query"], dict):
        raise parsing(f"Unknown key for a {bulk_items._token(body['query'])} in [query].")
    if "retriever" in body:
        # SearchSourceBuilder.parseXContent: retriever excludes query, knn, rank, …
        specified = [k for k in ("query", "min_score") if k in body]
        if specified:
            raise EsError("illegal_argument_exception",
                          f"cannot specify [retriever] and [{', '.join(specified)}]")  # fmt: skip


def _window(call: Call, body: dict[str, Any], name: str, default: int) -> int:
    """``size``/``from`` of the body (``SearchSourceBuilder.parseXContent``: ``intValue()``, a
    non-number string is a ``NumberFormatException``) or the URL (``RestSearchAction``)."""
    if name not in body:
        value = call.integer(name, default)
    else:
        raw = body[name]
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise EsError("parsing_exception", f"Unknown key for a {bulk_items._token(raw)} in "
                          f"[{name}].", 400)  # fmt: skip
        try:
            value = int(float(raw))
        except (ValueError, OverflowError):
            raise EsError("number_format_exception", f'For input string: "{raw}"', 400) from None
    if value < 0 and not (name == "size" and value == -1 and name not in body):
        raise EsError("illegal_argument_exception",
                      f"[{name}] parameter cannot be negative, found [{value}]")  # fmt: skip
    return value


def _result_window(call: Call, index: Index, start: int, size: int) -> None:
    """``DefaultSearchContext.preProcess``: from + size ≤ ``index.max_result_window``; the
    shard failure reaches the client as ``search_phase_execution_exception``."""
    if start + size <= MAX_RESULT_WINDOW:
        return
    cause = EsError(
        "illegal_argument_exception",
        f"Result window is too large, from + size must be less than or equal to: "
        f"[{MAX_RESULT_WINDOW}] but was [{start + size}]. See the scroll api for a more efficient "
        "way to request large data sets. This limit can be set by changing the "
        "[index.max_result_window] index level setting.",
    )  # fmt: skip
    raise EsError(
        "search_phase_execution_exception", "all shards failed", 400, caused_by=cause,
        extra={"phase": "query", "grouped": True, "failed_shards": [
            {"shard": 0, "index": index.name, "node": call.state.deployments.node.node_id,
             "reason": {"type": cause.type, "reason": cause.reason}}]},
    )  # fmt: skip


# -- _source and fields --------------------------------------------------------------------
def _source_filter(call: Call, body: dict[str, Any]) -> source_filter.SourceContext:
    """``FetchSourceContext.fromXContent`` (body ``_source``: boolean, a pattern, a list, or
    includes/excludes/``exclude_vectors``) and ``parseFromRestRequest`` (URL ``_source``,
    ``_source_includes``, ``_source_excludes``: the URL's replaces the body's).

    ``exclude_vectors`` (#128735, 8.19 back-port #129142; 9.1 by merge date): ``true`` leaves
    vector fields out. Before 9.2 vectors are returned by default; from 9.2 new indices leave
    them out (#131907) and ``false`` rehydrates them from the index — with a precision (and, for
    semantic_text, an ``_inference_fields`` rendering) the reference server does not model:
    refused."""
    fetch, includes, excludes = True, [], []
    exclude_vectors: bool | None = None
    if "_source" in body:
        raw = body["_source"]
        if isinstance(raw, bool):
            fetch = raw
        elif isinstance(raw, str):
            includes = [raw]
        elif isinstance(raw, list) and all(isinstance(p, str) for p in raw):
            includes = list(raw)
        elif isinstance(raw, dict):
            for key, value in raw.items():
                names = [value] if isinstance(value, str) else value
                if key in ("includes", "include"):
                    includes = list(names)
                elif key in ("excludes", "exclude"):
                    excludes = list(names)
                elif key == "exclude_vectors" and isinstance(value, bool):
                    exclude_vectors = value
                else:
                    raise parsing(f"Unknown key for a {bulk_items._token(value)} in [{key}].")
        else:
            raise parsing("Expected one of [TRUE, FALSE, VALUE_STRING, START_ARRAY, "
                          f"START_OBJECT] but found [{bulk_items._token(raw)}]")  # fmt: skip
    if exclude_vectors is False and call.state.version.has("exclude-source-vectors-default"):
        raise not_modelled("[_source] [exclude_vectors: false] (vectors and semantic_text "
                           "embeddings rehydrated from the index)")  # fmt: skip
    # RestSearchAction: a context from the URL replaces the body's
    from_url = source_filter.from_rest(call.query)
    if from_url is not None:
        return from_url
    return source_filter.SourceContext(fetch, includes, excludes, exclude_vectors)


def _hidden_vectors(call: Call, index: Index, fetch: source_filter.SourceContext) -> list[str]:
    """The vector fields left out of each hit's ``_source``: the request's ``exclude_vectors``,
    else the index's ``index.mapping.exclude_source_vectors`` (true from 9.2, #131907)."""
    exclude = fetch.exclude_vectors
    if exclude is None:
        exclude = source_filter.excludes_vectors_by_default(
            index.settings, call.state.version.has("exclude-source-vectors-default"))  # fmt: skip
    return source_filter.vector_paths(index.mapping.plain) if exclude else []


def _fields(body: dict[str, Any]) -> list[str]:
    """``fields`` (``FieldAndFormat``): plain names of text/keyword fields are modelled; a
    ``format``, patterns and other field types are refused; ``_inference_fields`` is
    :func:`_inference_fields`."""
    raw = body.get("fields")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise parsing(f"Unknown key for a {bulk_items._token(raw)} in [fields].")
    names = []
    for item in raw:
        if isinstance(item, dict):
            if set(item) - {"field"}:
                raise not_modelled(f"[fields] options {sorted(set(item) - {'field'})}")
            item = item.get("field")
        if not isinstance(item, str):
            raise parsing("[fields] entries must be a field name or an object with [field]")
        if "*" in item:
            raise not_modelled(f"field patterns in [fields] ([{item}])")
        names.append(item)
    return names


def _field_values(ctx: Context, doc: Any, names: list[str]) -> dict[str, list[Any]]:
    """``FetchFieldsPhase`` for text/keyword fields: the source values (``ignore_above``
    drops longer keyword values; dynamic ``.keyword`` sub-fields have 256)."""
    out: dict[str, list[Any]] = {}
    for name in names:
        if name == INFERENCE_FIELDS:
            inference = _inference_fields(ctx, doc)
            if inference:
                out[name] = [inference]
            continue
        ftype = ctx.type_of(name)
        if ftype.kind == "unmapped":
            continue
        if ftype.kind not in ("text", "keyword"):
            raise not_modelled(f"[fields] for a field of type [{ftype.kind}] ([{name}])")
        raw = [v for v in field_values(doc.source, ftype.source_path) if not isinstance(v, dict)]
        values = [v if isinstance(v, str) else java_str(v) for v in raw]
        if ftype.kind == "keyword":
            values = ftype.indexed(values)
        if values:
            out[name] = values
    return out


INFERENCE_FIELDS = "_inference_fields"  # InferenceMetadataFieldsMapper.NAME


def _inference_fields(ctx: Context, doc: Any) -> dict[str, Any]:
    """``fields: ["_inference_fields"]``: ES SemanticInferenceMetadataFieldsMapper.FieldType
    .valueFetcher gives one map, semantic_text field → its inference as
    ``SemanticTextFieldType.valueFetcherWithInferenceResults`` reads it back from the index
    (``inference_id``, ``model_settings``, ``chunks`` per source field with offsets and
    embeddings). Sparse embeddings come from the index: FeatureField precision
    (:func:`feature_value`), terms in index order (sorted) — as the docs' example shows
    (docs/reference/elasticsearch/mapping-reference/semantic-text.md, "Return semantic field
    embeddings using fields"). A field with ``copy_to`` sources or a ``search_inference_id``
    is refused: the chunks per source field and that key's rendering are not modelled."""
    out: dict[str, Any] = {}
    for name, spec in ctx.mapping.semantic.items():
        chunks = doc.chunks.get(name)
        if not chunks:
            continue
        if any(name in targets for targets in ctx.mapping.copied_to.values()):
            raise not_modelled(f"[fields] [{INFERENCE_FIELDS}] for a semantic_text field with "
                               f"copy_to sources ([{name}])")  # fmt: skip
        if spec.search_inference_id is not None:
            raise not_modelled(f"[fields] [{INFERENCE_FIELDS}] for a semantic_text field with "
                               f"a search_inference_id ([{name}])")  # fmt: skip
        inference: dict[str, Any] = {"inference_id": spec.inference_id}
        if spec.model_settings is not None:
            inference["model_settings"] = dict(spec.model_settings)
        inference["chunks"] = {name: [
            {"start_offset": c.start, "end_offset": c.end,
             "embeddings": {t: feature_value(w) for t, w in sorted(c.embedding.items())}}
            for c in chunks
        ]}  # fmt: skip
        out[name] = {"inference": inference}
    return out


def _track_total_hits(body: dict[str, Any]) -> int | None:
    """``track_total_hits``: true (exact), false (no total), an int (up to), default 10,000."""
    raw = body.get("track_total_hits", TRACK_TOTAL_HITS_UP_TO)
    if raw is True:
        return 2**31 - 1
    if raw is False:
        return None
    if isinstance(raw, int) and raw >= 0:
        return raw
    reason = f"[track_total_hits] parameter must be positive or equals to -1, got {raw}"
    raise EsError("illegal_argument_exception", reason)


# -- highlight -----------------------------------------------------------------------------
HIGHLIGHT_OPTIONS = ("type", "number_of_fragments", "order")
DEFAULT_NUMBER_OF_FRAGMENTS = 5  # HighlightBuilder.DEFAULT_NUMBER_OF_FRAGMENTS


def _highlight(body: dict[str, Any], ctx: Context) -> dict[str, tuple[int, bool]]:
    """``highlight`` as the ``semantic`` highlighter serves it: field → (fragments, by score).
    Only semantic_text fields (whose default highlighter it is,
    ``SemanticTextFieldType.getDefaultHighlighter``) and the options ``type`` (``semantic``),
    ``number_of_fragments`` and ``order`` (``score``/``none``) are modelled."""
    raw = body.get("highlight")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise parsing(f"Unknown key for a {bulk_items._token(raw)} in [highlight].")
    if "retriever" in body:
        raise not_modelled("[highlight] with a [retriever]")
    for key in raw:
        if key != "fields" and key not in HIGHLIGHT_OPTIONS:
            raise not_modelled(f"the highlight option [{key}]")
    fields = raw.get("fields")
    entries: list[tuple[str, Any]] = []
    if isinstance(fields, dict):
        entries = list(fields.items())
    elif isinstance(fields, list):
        entries = [item for entry in fields if isinstance(entry, dict) for item in entry.items()]
    else:
        raise parsing("[highlight] requires [fields]")
    out: dict[str, tuple[int, bool]] = {}
    for name, options in entries:
        options = {**{k: v for k, v in raw.items() if k != "fields"}, **(options or {})}
        for key in options:
            if key not in HIGHLIGHT_OPTIONS:
                raise not_modelled(f"the highlight option [{key}]")
        kind = options.get("type", "semantic")
        if kind != "semantic" or ctx.type_of(name).kind != "semantic":
            raise not_modelled(f"the [{kind}] highlighter (on field [{name}]); only the semantic "
                               "highlighter on semantic_text fields is modelled")  # fmt: skip
        count = options.get("number_of_fragments", DEFAULT_NUMBER_OF_FRAGMENTS)
        if isinstance(count, bool) or not isinstance(count, int):
            raise parsing("[highlight] failed to parse field [number_of_fragments]")
        order = options.get("order", "none")
        if order not in ("score", "none"):
            raise EsError("illegal_argument_exception", f"Unknown order [{order}]")
        out[name] = (1 if count <= 0 else count, order == "score")
    return out


def _snippets(doc: Any, name: str, vectors: list[dict[str, float]], fragments: int,
              by_score: bool) -> list[str] | None:  # fmt: skip
    """``SemanticTextHighlighter.highlight``: the chunks the field's sparse queries match,
    scored as their SHOULD sum, the best ``fragments`` (≤ 0 → 1), in chunk order unless
    ``order: score``."""
    if not vectors:
        return None
    chunks = doc.chunks.get(name, [])
    queries = [[(t, f32(w)) for t, w in v.items()] for v in vectors]
    scored = []
    for position, chunk in enumerate(chunks):
        score = f32(sum(linear_score(q, chunk.embedding) for q in queries))
        if score > 0:
            scored.append((position, chunk, score))
    if not scored:
        return None
    value = doc.source.get(name)
    if not isinstance(value, str):
        raise not_modelled(f"highlighting a multi-valued semantic_text field ([{name}])")
    scored.sort(key=lambda c: -c[2])
    top = scored[:fragments]
    if not by_score:
        top.sort(key=lambda c: c[0])
    return [value[chunk.start : chunk.end] for _, chunk, _ in top]


# -- inference for semantic nodes ----------------------------------------------------------
async def _resolve_vectors(call: Call, index: Index, nodes: list[Node]) -> None:
    for node in nodes:
        if isinstance(node, Sparse) and node.vector is None:
            node.vector = await _query_vector(call, index, node.field, node.text,
                                              node.inference_id, node.kind)  # fmt: skip


async def _query_vector(
    call: Call, index: Index, field: Any, text: Any, inference_id: str | None, kind: str
) -> dict[str, float]:
    spec = index.mapping.semantic.get(field) if isinstance(field, str) else None
    if spec is None and inference_id is None:
        reason = f"Field [{field}] of type [unknown] is not supported for [{kind}] query"
        raise EsError("illegal_argument_exception", reason)
    if not isinstance(text, str):
        raise EsError("parsing_exception", f"[{kind}] requires a query", 400)
    endpoint_id = inference_id or (spec.search_inference_id or spec.inference_id)  # type: ignore[union-attr]
    if inference_id is not None:  # an uploaded tree model or an alias: not modelled
        ml_uploads.refuse_local_inference(call, inference_id, f"the [{kind}] query")
    config = call.state.find(endpoint_id)
    if config is None and inference_id is not None:
        deployed = await _on_deployment(call, inference_id, text)
        if deployed is not None:
            return deployed
    if config is None and kind == "text_expansion":
        # CoordinatedInferenceAction → InferModelAction on a model id that is none of the
        # above: ML Messages.INFERENCE_NOT_FOUND (the path inferred, not traced line by line)
        raise EsError("resource_not_found_exception",
                      f"Could not find trained model [{endpoint_id}]")  # fmt: skip
    if config is None:
        raise EsError("resource_not_found_exception",
                      f"Inference endpoint not found [{endpoint_id}]")  # fmt: skip
    refused = _supported(config)
    if refused is not None:
        raise refused
    timeout = call.state.config.timing.inference_timeout_seconds
    results = await call.state.inference.infer(config, [text], timeout, "search")
    return dict(results[0].embedding)


async def _on_deployment(call: Call, model_id: str, text: str) -> dict[str, float] | None:
    """``sparse_vector`` with an ``inference_id`` that names a trained model deployment (or its
    model) rather than an endpoint: ES SparseVectorQueryBuilder → CoordinatedInferenceAction,
    which infers on the deployment (the 8.x ML path's query)."""
    deployments = call.state.deployments
    deployment = deployments.get(model_id) or next(
        (d for d in deployments.items.values() if d.model_id == model_id), None
    )
    if deployment is None:
        return None
    if deployment.allocation_count == 0:
        raise deployment.unavailable(triggered_scale_up=False)
    timeout = call.state.config.timing.inference_timeout_seconds
    results = await deployment.infer([text], timeout)
    return dict(results[0].embedding)


# -- handlers ------------------------------------------------------------------------------
_SNAPSHOT_CACHE: dict[int, tuple[Any, Context]] = {}  # id(snapshot) → (snapshot, its context)
_CACHED_SNAPSHOTS = 16


def _context(index: Index) -> Context:
    """The snapshot's evaluation context, shared by the searches that read the same refresh:
    field statistics (analysis of every document) are built once per refresh and field, as
    Lucene keeps them per segment, not per search."""
    snapshot = index.snapshot()
    cached = _SNAPSHOT_CACHE.get(id(snapshot))
    if cached is not None and cached[0] is snapshot and cached[1].mapping is index.mapping:
        return Context(cached[1].docs, index.mapping, cached[1]._stats, cached[1]._types)
    ctx = Context(in_order(snapshot), index.mapping)
    if len(_SNAPSHOT_CACHE) >= _CACHED_SNAPSHOTS:
        _SNAPSHOT_CACHE.pop(next(iter(_SNAPSHOT_CACHE)))
    _SNAPSHOT_CACHE[id(snapshot)] = (snapshot, ctx)
    return ctx


def _plan(ctx: Context, body: dict[str, Any], warnings: list[str]) -> Retriever:
    """The request as one retriever: ``query`` (or none) is a standard retriever; the
    queries' deprecation warnings are added to ``warnings``."""
    queries = Parser(ctx, warnings)
    if "retriever" in body:
        return RetrieverParser(queries).parse(body["retriever"])
    query = body.get("query")
    node = queries.parse(query) if query is not None and query != {} else None
    min_score = body.get("min_score")
    if min_score is not None and (isinstance(min_score, bool)
                                  or not isinstance(min_score, int | float)):  # fmt: skip
        raise parsing("[min_score] must be a number")
    return Standard([], None if min_score is None else float(min_score), node)


def _nodes(plan: Retriever) -> list[Node]:
    return [n for top in plan.nodes() for n in walk(top)]


async def search(call: Call) -> Reply:
    started = time.monotonic()
    index = _index(call)
    _authorize(call, SEARCH, [index.name])
    _check_params(call)
    body = call.json(wrap_as_map=True) if call.body else {}
    _check_body(body)
    size = _window(call, body, "size", 10)
    start = _window(call, body, "from", 0)
    _result_window(call, index, start, size)
    fetch = _source_filter(call, body)
    hidden = _hidden_vectors(call, index, fetch)
    names = _fields(body)
    up_to = _track_total_hits(body)
    ctx = _context(index)
    plan = _plan(ctx, body, call.warnings)
    highlights = _highlight(body, ctx)
    if isinstance(plan, Compound) and "size" in body and size > plan.rank_window_size:
        raise EsError("action_request_validation_exception",
                      f"Validation Failed: 1: [{plan.kind}] requires [rank_window_size: "
                      f"{plan.rank_window_size}] be greater than or equal to [size: {size}];",
                      400)  # fmt: skip
    await _resolve_vectors(call, index, _nodes(plan))
    ranked, matched = await asyncio.to_thread(plan.run, ctx, None)
    by_id = {d.id: d for d in ctx.docs}
    sparse = [n for n in _nodes(plan) if isinstance(n, Sparse) and n.vector]

    def hit(doc_id: str, score: float) -> dict[str, Any]:
        doc = by_id[doc_id]
        out: dict[str, Any] = {"_index": index.name, "_id": doc_id, "_score": score}
        if fetch.fetch:
            out["_source"] = fetch.apply(source_filter.without(doc.source, hidden))
        if names:
            values = _field_values(ctx, doc, names)
            if values:
                out["fields"] = values
        found = {}
        for name, (fragments, by_score) in highlights.items():
            vectors = [n.vector or {} for n in sparse if n.field == name]
            snippets = _snippets(doc, name, vectors, fragments, by_score)
            if snippets:
                found[name] = snippets
        if found:
            out["highlight"] = found
        return out

    total_count = len(matched) if isinstance(plan, Compound) else len(ranked)
    hits: dict[str, Any] = {}
    if up_to is not None:
        relation = "eq" if total_count <= up_to else "gte"
        hits["total"] = {"value": min(total_count, up_to), "relation": relation}
    hits["max_score"] = max((s for _, s in ranked), default=None)
    hits["hits"] = [hit(d, s) for d, s in ranked[start : start + size]]
    return Reply({
        "took": int((time.monotonic() - started) * 1000), "timed_out": False,
        "_shards": dict(SEARCH_SHARDS), "hits": hits,
    }, offload=True)  # fmt: skip


async def count(call: Call) -> Reply:
    """``RestCountAction``: the body holds a ``query`` only."""
    index = _index(call)
    _authorize(call, SEARCH, [index.name])
    body = call.json(wrap_as_map=True) if call.body else {}
    for key, value in body.items():
        if key != "query":  # RestActions.getQueryContent
            raise parsing(f"request does not support [{key}]")
        if not isinstance(value, dict):
            raise parsing(f"Unknown key for a {bulk_items._token(value)} in [query].")
    ctx = _context(index)
    query = body.get("query")
    plan = Standard([], None, Parser(ctx, call.warnings).parse(query) if query else None)
    await _resolve_vectors(call, index, _nodes(plan))
    ranked, _ = await asyncio.to_thread(plan.run, ctx, None)
    return Reply({"count": len(ranked), "_shards": dict(SEARCH_SHARDS)})


_SEARCH = ES_PARAMS
ROUTES = [
    Route("GET", "/{index}/_count", count, SEARCH, (), "optional"),
    Route("POST", "/{index}/_count", count, SEARCH, (), "optional"),
    Route("GET", "/{index}/_search", search, SEARCH, _SEARCH, "optional"),
    Route("POST", "/{index}/_search", search, SEARCH, _SEARCH, "optional"),
]
