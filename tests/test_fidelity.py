"""Fidelity corrections of issue 23 item 4 and the source re-reading that followed (each test
names the Elasticsearch source it follows; docs/es-source-findings.md, section "Fidelity
re-reading (issue 23)")."""

from __future__ import annotations

import struct

import httpx

from elsercheck.endpoints import elser_body
from elsercheck.reference.indices import source_filter
from elsercheck.reference.rules import service_settings as ss
from elsercheck.reference.serve import EmbeddedServer
from tests.conftest import PASSWORD, assert_error
from tests.inprocess import InProcessServer


# -- min_number_of_allocations: -1 (AdaptiveAllocationsSettings.RESET_PLACEHOLDER) -------------
def test_minus_one_bounds_skip_validation() -> None:
    """ES AdaptiveAllocationsSettings.validate skips a bound of -1; -2 is still refused."""
    assert ss.validate_adaptive(ss.AdaptiveAllocations(True, -1, -1)) == []
    assert ss.validate_adaptive(ss.AdaptiveAllocations(True, -1, 4)) == []
    assert ss.validate_adaptive(ss.AdaptiveAllocations(True, -2, None)) == [
        ss.MESSAGES["min_negative"]
    ]


def test_merge_resets_minus_one_and_null_object() -> None:
    """ES TrainedModelAssignmentClusterService.getAdaptiveAllocationsSettings / merge."""
    original = ss.AdaptiveAllocations(True, 2, 8)
    assert ss.merge_adaptive(original, None) == original
    assert ss.merge_adaptive(original, ss.RESET) is None
    assert ss.merge_adaptive(None, ss.AdaptiveAllocations(True, 1, None)) == ss.AdaptiveAllocations(
        True, 1, None
    )
    merged = ss.merge_adaptive(original, ss.AdaptiveAllocations(None, -1, 16))
    assert merged == ss.AdaptiveAllocations(True, None, 16)


def test_put_with_minus_one_min_is_accepted_and_stored(es: httpx.Client) -> None:
    adaptive = {"enabled": True, "min_number_of_allocations": -1, "max_number_of_allocations": 2}
    body = elser_body(adaptive_allocations=adaptive)
    del body["service_settings"]["num_allocations"]
    response = es.put("/_inference/sparse_embedding/min-minus-one", json=body)
    try:
        assert response.status_code == 200, response.text
        assert response.json()["service_settings"]["adaptive_allocations"] == adaptive
    finally:
        es.delete("/_inference/min-minus-one?force=true")
    bad = {**adaptive, "min_number_of_allocations": -2}
    body["service_settings"]["adaptive_allocations"] = bad
    assert_error(es.put("/_inference/sparse_embedding/min-minus-two", json=body), 400,
                 "validation_exception", "Validation Failed: 1: [min_number_of_allocations] must "
                 "be a non-negative integer or null;")  # fmt: skip


# -- compatible-with refusals (RestRequest → RestCompatibleVersionHelper.getCompatibleVersion) ---
COMPAT = "application/vnd.elasticsearch+json; compatible-with={}"


def _compat_error(response: httpx.Response) -> tuple[str, str]:
    assert_error(response, 400, "media_type_header_exception",
                 "Invalid media-type value on headers [Accept, Content-Type]")  # fmt: skip
    cause = response.json()["error"]["caused_by"]
    return cause["type"], cause["reason"]


def test_compatible_with_refusals_carry_the_helpers_reason(es: httpx.Client) -> None:
    seven = COMPAT.format(7)
    assert _compat_error(es.get("/", headers={"Accept": seven})) == (
        "status_exception",
        f"Accept version must be either version 9 or 8, but found 7. Accept={seven}",
    )
    eight, nine = COMPAT.format(8), COMPAT.format(9)
    body = b'{"query": {"match_all": {}}}'
    mismatch = es.post(
        "/no-such-index/_search", content=body, headers={"Accept": eight, "Content-Type": nine}
    )
    assert _compat_error(mismatch)[1] == (
        "A compatible version is required on both Content-Type and Accept headers if either one "
        "has requested a compatible version and the compatible versions must match. "
        f"Accept={eight}, Content-Type={nine}"
    )
    one_sided = es.post("/no-such-index/_search", content=body,
                        headers={"Accept": nine, "Content-Type": "application/json"})  # fmt: skip
    assert _compat_error(one_sided)[1] == (
        "A compatible version is required on both Content-Type and Accept headers if either one "
        f"has requested a compatible version. Accept={nine}, Content-Type=application/json"
    )
    content_seven = es.post("/no-such-index/_search", content=body,
                            headers={"Accept": nine, "Content-Type": seven})  # fmt: skip
    assert _compat_error(content_seven)[1] == (
        f"Content-Type version must be either version 9 or 8, but found 7. Content-Type={seven}"
    )
    # without a body only Accept is checked; both on 8 is served
    assert es.get("/", headers={"Accept": eight, "Content-Type": nine}).status_code == 200
    both = es.post("/no-such-index/_search", content=body,
                   headers={"Accept": eight, "Content-Type": eight})  # fmt: skip
    assert_error(both, 404, "index_not_found_exception", "no such index [no-such-index]")


# -- response headers (ES DefaultRestChannel.sendResponse) -------------------------------------
def test_no_server_or_date_header_on_the_wire(wire_server: EmbeddedServer) -> None:
    """Netty answers carry what DefaultRestChannel sets: no ``server``, no ``date``."""
    with httpx.Client(base_url=wire_server.url, auth=("elastic", PASSWORD), timeout=30) as c:
        for response in (c.get("/"), c.get("/no-such-index")):
            assert "server" not in response.headers and "date" not in response.headers
            assert response.headers["x-elastic-product"] == "Elasticsearch"


# -- fields: ["_inference_fields"] (SemanticInferenceMetadataFieldsMapper) -----------------------
def test_inference_fields_in_fields(es: httpx.Client) -> None:
    assert es.put("/_inference/sparse_embedding/inf-fields", json=elser_body()).status_code == 200
    mapping = {"properties": {"content": {"type": "semantic_text", "inference_id": "inf-fields"},
                              "title": {"type": "keyword"}}}  # fmt: skip
    try:
        assert es.put("/inf-idx", json={"mappings": mapping}).status_code == 200
        text = "Paris is the capital of France."
        put = es.put("/inf-idx/_doc/1?refresh=true", json={"content": text, "title": "t"})
        assert put.status_code == 201, put.text
        body = {"query": {"ids": {"values": ["1"]}}, "fields": ["_inference_fields", "title"]}
        hit = es.post("/inf-idx/_search", json=body).json()["hits"]["hits"][0]
        assert "_inference_fields" not in hit["_source"]
        assert hit["fields"]["title"] == ["t"]
        [inference] = hit["fields"]["_inference_fields"]
        field = inference["content"]["inference"]
        assert field["inference_id"] == "inf-fields"
        assert field["model_settings"] == {"service": "elasticsearch",
                                           "task_type": "sparse_embedding"}  # fmt: skip
        [chunk] = field["chunks"]["content"]
        assert (chunk["start_offset"], chunk["end_offset"]) == (0, len(text))
        tokens = list(chunk["embeddings"])
        assert tokens == sorted(tokens) and tokens
        # index precision: FeatureField keeps the float's top 17 bits (low 15 bits zero)
        for weight in chunk["embeddings"].values():
            assert struct.unpack(">I", struct.pack(">f", weight))[0] & 0x7FFF == 0
    finally:
        es.delete("/inf-idx")
        es.delete("/_inference/inf-fields?force=true")


# -- text_expansion (TextExpansionQueryBuilder, deprecated) -------------------------------------
TE_WARNING = "text_expansion is deprecated. Use sparse_vector instead."


def test_text_expansion_scores_as_sparse_vector_and_warns(es: httpx.Client) -> None:
    assert es.put("/_inference/sparse_embedding/te-ep", json=elser_body()).status_code == 200
    mapping = {"properties": {"ml.tokens": {"type": "sparse_vector"}, "tag": {"type": "keyword"}}}
    try:
        assert es.put("/te-idx", json={"mappings": mapping}).status_code == 200
        # a dotted field name is an object (ObjectMapper.TypeParser.parseProperties)
        props = es.get("/te-idx/_mapping").json()["te-idx"]["mappings"]["properties"]
        assert props["ml"] == {"properties": {"tokens": {"type": "sparse_vector"}}}
        docs = {"1": "the quick brown fox", "2": "a lazy dog sleeps", "3": "quick dogs run"}
        for doc_id, text in docs.items():
            tokens = es.post("/_inference/te-ep", json={"input": text}).json()
            vector = tokens["sparse_embedding"][0]["embedding"]
            put = es.put(f"/te-idx/_doc/{doc_id}", json={"ml": {"tokens": vector}})
            assert put.status_code == 201, put.text
        es.post("/te-idx/_refresh")
        query = {"text_expansion": {"ml.tokens": {"model_id": "te-ep", "model_text": "quick dog",
                                                  "boost": 2}}}  # fmt: skip
        response = es.post("/te-idx/_search", json={"query": query})
        assert response.status_code == 200, response.text
        assert TE_WARNING in response.headers["warning"]
        hits = [(h["_id"], h["_score"]) for h in response.json()["hits"]["hits"]]
        same = {"sparse_vector": {"field": "ml.tokens", "inference_id": "te-ep",
                                  "query": "quick dog", "boost": 2}}  # fmt: skip
        expected = es.post("/te-idx/_search", json={"query": same}).json()["hits"]["hits"]
        assert hits and hits == [(h["_id"], h["_score"]) for h in expected]
        assert "warning" not in es.post("/te-idx/_search", json={"query": same}).headers
    finally:
        es.delete("/te-idx")
        es.delete("/_inference/te-ep?force=true")


def test_text_expansion_parse_errors(es: httpx.Client) -> None:
    assert es.put("/te-errs", json={"mappings": {"properties": {
        "sv": {"type": "sparse_vector"}, "tag": {"type": "keyword"}}}}).status_code == 200  # fmt: skip
    try:

        def search(query: object) -> httpx.Response:
            return es.post("/te-errs/_search", json={"query": {"text_expansion": query}})

        assert_error(search({"sv": {"model_text": "x"}}), 400, "illegal_argument_exception",
                     "[text_expansion] requires a model_id value")  # fmt: skip
        assert_error(search({"sv": {"model_id": "m"}}), 400, "parsing_exception",
                     "No text specified for text query")  # fmt: skip
        assert_error(search({"sv": {"model_id": "m", "model_text": "x", "nope": 1}}), 400,
                     "parsing_exception", "[text_expansion] query does not support [nope]")  # fmt: skip
        assert_error(search({"a": {}, "b": {}}), 400, "parsing_exception",
                     "[text_expansion] query doesn't support multiple fields, found [a, b]")  # fmt: skip
        refused = search({"tag": {"model_id": "m", "model_text": "x"}})
        assert refused.status_code == 501 and "[keyword]" in refused.text
        missing = search({"sv": {"model_id": "no-such-model", "model_text": "x"}})
        assert_error(missing, 404, "resource_not_found_exception",
                     "Could not find trained model [no-such-model]")  # fmt: skip
        assert TE_WARNING in missing.headers["warning"]
    finally:
        es.delete("/te-errs")


# -- keyword ignore_above (KeywordFieldMapper) --------------------------------------------------
def test_keyword_ignore_above_values_are_not_indexed(es: httpx.Client) -> None:
    mapping = {"properties": {"k": {"type": "keyword", "ignore_above": 5}}}
    assert es.put("/ia", json={"mappings": mapping}).status_code == 200
    try:
        for doc_id, value in (("1", "short"), ("2", "toolong")):
            assert es.put(f"/ia/_doc/{doc_id}?refresh=true", json={"k": value}).status_code == 201

        def ids(query: object) -> list[str]:
            body = {"query": query, "fields": ["k"]}
            return sorted(
                h["_id"] for h in es.post("/ia/_search", json=body).json()["hits"]["hits"]
            )

        assert ids({"term": {"k": "short"}}) == ["1"]
        assert ids({"term": {"k": "toolong"}}) == []
        assert ids({"exists": {"field": "k"}}) == ["1"]
        hit = es.post("/ia/_search", json={"query": {"ids": {"values": ["2"]}}, "fields": ["k"]})
        assert "fields" not in hit.json()["hits"]["hits"][0]
        assert hit.json()["hits"]["hits"][0]["_source"] == {"k": "toolong"}
    finally:
        es.delete("/ia")


# -- _source filtering, one home (FetchSourceContext.parseFromRestRequest) ----------------------
def test_source_context_from_rest() -> None:
    assert source_filter.from_rest({}) is None
    off = source_filter.from_rest({"_source": "false", "_source_includes": "a"})
    assert off is not None and off.fetch is False  # fetchSource stays false
    ctx = source_filter.from_rest({"_source": "a,b", "_source_includes": "c"})
    assert ctx == source_filter.SourceContext(True, ["c"], [])  # _source_includes replaces
    doc = {"a": {"x": 1, "y": 2}, "b": [{"x": 3, "z": 4}], "c": 5}
    assert source_filter.filter_source(doc, ["*.x"], []) == {"a": {"x": 1}, "b": [{"x": 3}]}
    assert source_filter.SourceContext(True, [], ["a"]).apply(doc) == {"b": doc["b"], "c": 5}


def test_search_url_source_replaces_the_body_context(es: httpx.Client) -> None:
    assert es.put("/sf/_doc/1?refresh=true", json={"a": 1, "b": 2}).status_code == 201
    try:
        body = {"_source": {"includes": ["a"]}}
        hit = es.post("/sf/_search?_source_excludes=a", json=body).json()["hits"]["hits"][0]
        assert hit["_source"] == {"b": 2}
        got = es.get("/sf/_doc/1?_source=false&_source_includes=a").json()
        assert "_source" not in got
    finally:
        es.delete("/sf")


# -- semantic_text on an ELSER endpoint stored under text_embedding (#122249) -------------------
def test_semantic_text_on_elser_text_embedding_endpoint_fails_at_ingest(
    open_server: InProcessServer,
) -> None:
    """The bug lets the endpoint be created; every use reaches the deployment, which refuses
    the text_embedding call (TrainedModelDeploymentTask.infer): a bulk item fails with it."""
    with open_server.client(timeout=30) as es:
        assert es.put("/_inference/text_embedding/elser-te", json=elser_body()).status_code == 200
        mapping = {"properties": {"f": {"type": "semantic_text", "inference_id": "elser-te"}}}
        try:
            assert es.put("/st-te", json={"mappings": mapping}).status_code == 200
            response = es.put("/st-te/_doc/1", json={"f": "hello"})
            assert_error(response, 403, "inference_exception",
                         "Exception when running inference id [elser-te] on field [f]")  # fmt: skip
            cause = response.json()["error"]["caused_by"]["reason"]
            assert cause == ("Trained model [.elser_model_2_linux-x86_64] is configured for task "
                             "[text_expansion] but called with task [text_embedding]")  # fmt: skip
        finally:
            es.delete("/st-te")
            es.delete("/_inference/elser-te?force=true")


# -- index.mapping.exclude_source_vectors (9.2+, #131907) and _source.exclude_vectors ------------
def _vector_server(line: str) -> InProcessServer:
    from elsercheck.reference import versions
    from elsercheck.reference.config import ServerConfig
    from elsercheck.timing import PRESETS

    config = ServerConfig(security=False, timing=PRESETS["instant"], conformant=True,
                          es_version=versions.resolve(line))  # fmt: skip
    return InProcessServer(config)


def test_vectors_left_out_of_source_from_9_2() -> None:
    doc = {"t": "x", "ml": {"tokens": {"a": 1.5}}}
    mapping = {"properties": {"t": {"type": "text"}, "ml.tokens": {"type": "sparse_vector"}}}
    for line, shown in (("9.1", True), ("9.2", False), ("9.5", False)):
        with _vector_server(line) as server, server.client(timeout=30) as es:
            assert es.put("/v", json={"mappings": mapping}).status_code == 200
            assert es.put("/v/_doc/1?refresh=true", json=doc).status_code == 201
            got = es.get("/v/_doc/1").json()["_source"]
            hit = es.post("/v/_search", json={}).json()["hits"]["hits"][0]["_source"]
            for source in (got, hit):
                assert ("tokens" in source["ml"]) is shown, (line, source)
            excluded = es.post("/v/_search", json={"_source": {"exclude_vectors": True}})
            assert "tokens" not in excluded.json()["hits"]["hits"][0]["_source"]["ml"]
            included = es.post("/v/_search", json={"_source": {"exclude_vectors": False}})
            if shown:
                assert included.json()["hits"]["hits"][0]["_source"] == doc
            else:
                assert included.status_code == 501 and "exclude_vectors" in included.text
    with _vector_server("9.5") as server, server.client(timeout=30) as es:
        settings = {"index": {"mapping": {"exclude_source_vectors": False}}}
        assert es.put("/k", json={"settings": settings, "mappings": mapping}).status_code == 200
        assert es.put("/k/_doc/1?refresh=true", json=doc).status_code == 201
        assert es.get("/k/_doc/1").json()["_source"] == doc


def test_empty_adaptive_allocations_render_enabled_false() -> None:
    """ES AdaptiveAllocationsSettings.toXContent writes ``enabled`` always (false when the
    request left it out): ``adaptive_allocations: {}`` reads back as ``{"enabled": false}``
    in the endpoint and in the deployment stats, as the specification requires."""
    body = elser_body(adaptive_allocations={})
    with _vector_server("9.5") as server, server.client(timeout=30) as es:
        put = es.put("/_inference/sparse_embedding/empty-adaptive", json=body)
        assert put.status_code == 200, put.text
        assert put.json()["service_settings"]["adaptive_allocations"] == {"enabled": False}
        got = es.get("/_inference/empty-adaptive").json()["endpoints"][0]
        assert got["service_settings"]["adaptive_allocations"] == {"enabled": False}
        stats = es.get("/_ml/trained_models/empty-adaptive/_stats").json()
        deployment = stats["trained_model_stats"][0]["deployment_stats"]
        assert deployment["adaptive_allocations"] == {"enabled": False}
