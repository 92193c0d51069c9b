"""semantic_text on the reference server: index mappings, bulk ingest (chunking, batched
inference, item failures), semantic search, endpoint deletion and index privileges."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from elsercheck.reference import versions
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.indices import ingest
from elsercheck.reference.rules import chunkers
from elsercheck.timing import PRESETS
from tests.conftest import assert_error
from tests.inprocess import InProcessServer

ELSER = ".elser_model_2_linux-x86_64"
NDJSON = {"Content-Type": "application/x-ndjson"}


def endpoint_body(chunking: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service": "elasticsearch",
        "service_settings": {"model_id": ELSER, "num_allocations": 1, "num_threads": 1},
    }
    if chunking is not None:
        body["chunking_settings"] = chunking
    return body


def ndjson(*lines: dict[str, Any]) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


def semantic_index(client: httpx.Client, name: str, inference_id: str | None) -> None:
    field: dict[str, Any] = {"type": "semantic_text"}
    if inference_id is not None:
        field["inference_id"] = inference_id
    body = {"mappings": {"properties": {"content": field, "title": {"type": "keyword"}}}}
    response = client.put(f"/{name}", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"acknowledged": True, "shards_acknowledged": True, "index": name}


@pytest.fixture
def word_endpoint(es: httpx.Client, unique_id: str) -> Iterator[str]:
    """An ELSER endpoint chunking by 10 words with overlap 2."""
    body = endpoint_body({"strategy": "word", "max_chunk_size": 10, "overlap": 2})
    response = es.put(f"/_inference/sparse_embedding/{unique_id}", json=body)
    assert response.status_code == 200, response.text
    yield unique_id
    es.delete(f"/_inference/{unique_id}?force=true")


# -- chunkers (ES WordBoundaryChunker / SentenceBoundaryChunker) -----------------------------
def test_word_chunker_windows_overlap() -> None:
    text = " ".join(f"w{i}" for i in range(25))
    spans = chunkers.chunk(text, {"strategy": "word", "max_chunk_size": 10, "overlap": 2})
    pieces = [text[s:e].split() for s, e in spans]
    # windows of 10 words, each starting 8 words after the previous one
    assert pieces[0] == [f"w{i}" for i in range(10)]
    assert pieces[1] == [f"w{i}" for i in range(8, 18)]
    assert pieces[2] == [f"w{i}" for i in range(16, 25)]
    # the tail (9 words, more than the overlap) is the last chunk: three in all
    assert len(pieces) == 3


def test_sentence_chunker_packs_sentences_and_overlaps_one() -> None:
    text = "One two three. Four five six. Seven eight nine. Ten eleven twelve."
    spans = chunkers.chunk(text, {"strategy": "sentence", "max_chunk_size": 6,
                                  "sentence_overlap": 1})  # fmt: skip
    assert [text[s:e].strip() for s, e in spans] == [
        "One two three. Four five six.",
        "Four five six. Seven eight nine.",
        "Seven eight nine. Ten eleven twelve.",
    ]
    spans = chunkers.chunk(text, {"strategy": "sentence", "max_chunk_size": 6,
                                  "sentence_overlap": 0})  # fmt: skip
    assert [text[s:e].strip() for s, e in spans] == [
        "One two three. Four five six.", "Seven eight nine. Ten eleven twelve."
    ]  # fmt: skip


def test_sentence_longer_than_a_chunk_is_split_on_words() -> None:
    text = " ".join(f"w{i}" for i in range(30)) + "."
    spans = chunkers.chunk(text, {"strategy": "sentence", "max_chunk_size": 20,
                                  "sentence_overlap": 0})  # fmt: skip
    assert len(spans) == 2
    assert len(text[spans[0][0] : spans[0][1]].split()) == 20


def test_none_strategy_is_one_chunk() -> None:
    text = "A. B. C. " * 100
    assert chunkers.chunk(text, {"strategy": "none"}) == [(0, len(text))]


# -- index, mapping, count, refresh, delete --------------------------------------------------
def test_mapping_round_trip(es: httpx.Client, word_endpoint: str) -> None:
    semantic_index(es, "mapping-rt", word_endpoint)
    try:
        response = es.get("/mapping-rt/_mapping")
        assert response.status_code == 200
        assert response.json() == {"mapping-rt": {"mappings": {"properties": {
            "content": {"type": "semantic_text", "inference_id": word_endpoint,
                        "model_settings": {"service": "elasticsearch",
                                           "task_type": "sparse_embedding"}},
            "title": {"type": "keyword"},
        }}}}  # fmt: skip
        again = es.put("/mapping-rt", json={})
        assert_error(again, 400, "resource_already_exists_exception", None)
        assert again.json()["error"]["reason"].startswith("index [mapping-rt/")
        assert again.json()["error"]["index"] == "mapping-rt"
    finally:
        assert es.delete("/mapping-rt").json() == {"acknowledged": True}
    gone = es.get("/mapping-rt/_count")
    assert_error(gone, 404, "index_not_found_exception", "no such index [mapping-rt]")
    error = gone.json()["error"]
    assert error["index_uuid"] == "_na_" and error["index"] == "mapping-rt"
    assert error["resource.type"] == "index_or_alias" and error["resource.id"] == "mapping-rt"


def test_unknown_inference_id_is_accepted_at_mapping_and_fails_at_ingest(es: httpx.Client) -> None:
    semantic_index(es, "missing-ep", "no-such-endpoint")
    try:
        mapping = es.get("/missing-ep/_mapping").json()["missing-ep"]["mappings"]
        assert mapping["properties"]["content"] == {
            "type": "semantic_text", "inference_id": "no-such-endpoint"
        }  # fmt: skip
        response = es.post("/missing-ep/_bulk", content=ndjson(
            {"index": {"_id": "1"}}, {"content": "hello"}), headers=NDJSON)  # fmt: skip
        body = response.json()
        assert response.status_code == 200 and body["errors"] is True
        assert body["items"] == [{"index": {"_index": "missing-ep", "_id": "1", "status": 404,
            "error": {"type": "resource_not_found_exception",
                      "reason": "Inference id [no-such-endpoint] not found for field [content]"}}}]  # fmt: skip
    finally:
        es.delete("/missing-ep")


def test_empty_inference_id_and_unknown_type_are_mapping_errors(es: httpx.Client) -> None:
    response = es.put("/bad-map", json={"mappings": {"properties": {
        "content": {"type": "semantic_text", "inference_id": ""}}}})  # fmt: skip
    assert_error(response, 400, "mapper_parsing_exception",
                 "Failed to parse mapping: [inference_id] on mapper [content] of type "
                 "[semantic_text] must not be empty")  # fmt: skip
    response = es.put("/bad-map", json={"mappings": {"properties": {"x": {"type": "nope"}}}})
    assert_error(response, 400, "mapper_parsing_exception",
                 "Failed to parse mapping: No handler for type [nope] declared on field [x]")  # fmt: skip
    response = es.put("/Bad-Name")
    assert_error(response, 400, "invalid_index_name_exception",
                 "Invalid index name [Bad-Name], must be lowercase")  # fmt: skip


@pytest.mark.parametrize("line", versions.supported())
def test_default_inference_id_per_version(line: str) -> None:
    """No EIS on the embedded server: ML-node ELSER in every version; 9.4+ can pin it."""
    config = ServerConfig(security=False, timing=PRESETS["instant"],
                          es_version=versions.resolve(line))  # fmt: skip
    with InProcessServer(config) as server, server.client(timeout=30) as c:
        semantic_index(c, "defaults", None)
        field = c.get("/defaults/_mapping").json()["defaults"]["mappings"]["properties"]["content"]
        assert field["inference_id"] == ".elser-2-elasticsearch"
        pinned = c.put("/pinned", json={
            "settings": {"index.semantic_text.default_inference_id": "my-ep"},
            "mappings": {"properties": {"content": {"type": "semantic_text"}}}})  # fmt: skip
        if versions.resolve(line).has("semantic-text-default-id-setting"):
            assert pinned.status_code == 200, pinned.text
            props = c.get("/pinned/_mapping").json()["pinned"]["mappings"]["properties"]
            assert props["content"] == {"type": "semantic_text", "inference_id": "my-ep"}
        else:
            assert_error(pinned, 400, "illegal_argument_exception", None)
            assert (
                "unknown setting [index.semantic_text.default_inference_id]"
                in (pinned.json()["error"]["reason"])
            )


# -- bulk ------------------------------------------------------------------------------------
def test_bulk_chunks_follow_chunking_settings(
    es: httpx.Client, data_server: InProcessServer, word_endpoint: str
) -> None:
    semantic_index(es, "chunks", word_endpoint)
    try:
        long_text = " ".join(f"token{i}" for i in range(27))  # 10-word windows, step 8: 4
        response = es.post("/chunks/_bulk?refresh=true", content=ndjson(
            {"index": {"_id": "short"}}, {"content": "a few words only"},
            {"create": {}}, {"content": long_text},
        ), headers=NDJSON)  # fmt: skip
        body = response.json()
        assert response.status_code == 200 and body["errors"] is False, body
        first, second = (next(iter(i.values())) for i in body["items"])
        assert list(body) == ["errors", "took", "items"]
        assert first == {"_index": "chunks", "_id": "short", "_version": 1, "result": "created",
                         "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": 0,
                         "_primary_term": 1, "status": 201}  # fmt: skip
        assert list(body["items"][1]) == ["create"] and len(second["_id"]) == 20
        docs = data_server.app.state.indices.get("chunks").docs
        assert len(docs["short"].chunks["content"]) == 1
        assert len(docs[second["_id"]].chunks["content"]) == 4
        assert es.get("/chunks/_count").json()["count"] == 2
        again = es.post("/chunks/_bulk", content=ndjson(
            {"index": {"_id": "short"}}, {"content": "new words"},
            {"create": {"_id": "short"}}, {"content": "x"}), headers=NDJSON)  # fmt: skip
        updated, conflict = (next(iter(i.values())) for i in again.json()["items"])
        assert updated["result"] == "updated" and updated["_version"] == 2
        assert updated["status"] == 200
        assert conflict["status"] == 409
        assert conflict["error"]["type"] == "version_conflict_engine_exception"
        assert conflict["error"]["reason"] == (
            "[short]: version conflict, document already exists (current version [2])"
        )
    finally:
        es.delete("/chunks")


def test_chunks_go_to_the_deployment_ten_at_a_time(
    es: httpx.Client, data_server: InProcessServer, word_endpoint: str
) -> None:
    semantic_index(es, "batches", word_endpoint)
    deployment = data_server.app.state.deployments.get(word_endpoint)
    assert deployment is not None
    before = deployment.counters.inference_count
    calls: list[int] = []
    infer = deployment.infer

    async def counted(texts, timeout):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return await infer(texts, timeout)

    deployment.infer = counted  # type: ignore[method-assign]
    try:
        text = " ".join(f"t{i}" for i in range(8 * 24 + 5))  # 25 chunks of ≤ 10 words
        assert len(chunkers.chunk(text, {"strategy": "word", "max_chunk_size": 10,
                                         "overlap": 2})) == 25  # fmt: skip
        response = es.post("/batches/_bulk", content=ndjson({"index": {}}, {"content": text}),
                           headers=NDJSON)  # fmt: skip
        assert response.json()["errors"] is False
        # 25 chunks → 3 inference calls (10 + 10 + 5): EMBEDDING_MAX_BATCH_SIZE ...
        assert sorted(calls) == [5, 10, 10] and ingest.MODEL_BATCH_SIZE == 10
        # ... and each chunk its own deployment request (taskOperation: task.infer per input)
        assert deployment.counters.inference_count - before == 25
    finally:
        del deployment.infer
        es.delete("/batches")


def test_item_failures_at_zero_allocations(
    es: httpx.Client, data_server: InProcessServer, word_endpoint: str
) -> None:
    semantic_index(es, "zero", word_endpoint)
    deployments = data_server.app.state.deployments
    deployment = deployments.get(word_endpoint)

    async def target(count: int) -> None:
        deployments.set_target(deployment, count)

    data_server.run(target(0), timeout=10)
    try:
        response = es.post("/zero/_bulk", content=ndjson(
            {"index": {"_id": "1"}}, {"content": "needs inference"},
            {"index": {"_id": "2"}}, {"title": "no semantic value"}), headers=NDJSON)  # fmt: skip
        body = response.json()
        assert response.status_code == 200 and body["errors"] is True
        failed, plain = (i["index"] for i in body["items"])
        assert failed == {"_index": "zero", "_id": "1", "status": 409, "error": {
            "type": "inference_exception",
            "reason": f"Exception when running inference id [{word_endpoint}] on field [content]",
            "caused_by": {"type": "status_exception", "reason": (
                f"Trained model deployment [{word_endpoint}] is not allocated to any nodes")},
        }}  # fmt: skip
        assert plain["status"] == 201  # nothing to infer: indexed
    finally:
        data_server.run(target(1), timeout=10)
        es.delete("/zero")


def test_item_failures_when_the_queue_is_full() -> None:
    config = ServerConfig(security=False, timing=PRESETS["instant"], queue_capacity=0)
    with InProcessServer(config) as server, server.client(timeout=30) as c:
        assert c.put("/_inference/sparse_embedding/q", json=endpoint_body()).status_code == 200
        semantic_index(c, "full", "q")
        response = c.post("/full/_bulk", content=ndjson({"index": {"_id": "1"}},
                          {"content": "x"}), headers=NDJSON)  # fmt: skip
        item = response.json()["items"][0]["index"]
        assert item["status"] == 429
        assert item["error"]["type"] == "inference_exception"
        assert item["error"]["caused_by"]["type"] == "es_rejected_execution_exception"


def test_bulk_request_errors(es: httpx.Client) -> None:
    response = es.post("/_bulk", content=b'{"index":{"_index":"x"}}\n{"a":1}', headers=NDJSON)
    assert_error(response, 400, "illegal_argument_exception",
                 "The bulk request must be terminated by a newline [\\n]")  # fmt: skip
    response = es.post("/_bulk", content=ndjson({"delete_all": {}}, {}), headers=NDJSON)
    assert_error(response, 400, "illegal_argument_exception",
                 "Malformed action/metadata line [1], expected field [create], [delete], "
                 "[index] or [update] but found [delete_all]")  # fmt: skip


# -- search ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["semantic", "match", "sparse_vector"])
def test_search_ranks_the_document_with_the_query_words_first(
    es: httpx.Client, word_endpoint: str, kind: str
) -> None:
    name = f"rank-{kind.replace('_', '-')}"
    semantic_index(es, name, word_endpoint)
    try:
        docs = {
            "a": "Mountains rise above the valley where rivers meet the sea.",
            "b": "The tokenizer splits every sentence into words before encoding.",
            "c": "Bakers knead dough at dawn and sell fresh bread by noon.",
        }
        lines = []
        for doc_id, text in docs.items():
            lines += [{"index": {"_id": doc_id}}, {"content": text}]
        assert es.post(f"/{name}/_bulk?refresh=true", content=ndjson(*lines),
                       headers=NDJSON).json()["errors"] is False  # fmt: skip
        text = "bakers knead dough"
        query = {
            "semantic": {"semantic": {"field": "content", "query": text}},
            "match": {"match": {"content": text}},
            "sparse_vector": {"sparse_vector": {"field": "content", "query": text}},
        }[kind]
        response = es.post(f"/{name}/_search", json={"query": query})
        assert response.status_code == 200, response.text
        body = response.json()
        hits = body["hits"]["hits"]
        assert hits[0]["_id"] == "c"
        assert hits[0]["_source"] == {"content": docs["c"]}  # as sent: no inference results
        assert body["hits"]["max_score"] == hits[0]["_score"] > 0
        assert all(h["_score"] <= hits[0]["_score"] for h in hits)
        assert list(hits[0]) == ["_index", "_id", "_score", "_source"]
        assert body["hits"]["total"]["relation"] == "eq"
    finally:
        es.delete(f"/{name}")


def test_semantic_score_is_the_best_chunk(es: httpx.Client, word_endpoint: str) -> None:
    """A document whose matching words sit in one chunk among many scores as that chunk."""
    semantic_index(es, "maxchunk", word_endpoint)
    try:
        filler = " ".join(f"filler{i}" for i in range(40))
        lines = [{"index": {"_id": "alone"}}, {"content": "bakers knead dough"},
                 {"index": {"_id": "long"}}, {"content": f"bakers knead dough {filler}"}]  # fmt: skip
        es.post("/maxchunk/_bulk?refresh=true", content=ndjson(*lines), headers=NDJSON)
        hits = es.post("/maxchunk/_search", json={"query": {"semantic": {
            "field": "content", "query": "bakers knead dough"}}}).json()["hits"]["hits"]  # fmt: skip
        scores = {h["_id"]: h["_score"] for h in hits}
        # max over chunks, not a sum: the filler chunks add nothing
        assert scores["long"] <= scores["alone"] * 1.0001
    finally:
        es.delete("/maxchunk")


# -- DELETE of a referenced endpoint (TransportDeleteInferenceEndpointAction) -----------------
def test_delete_endpoint_referenced_by_an_index(es: httpx.Client, unique_id: str) -> None:
    assert (
        es.put(f"/_inference/sparse_embedding/{unique_id}", json=endpoint_body()).status_code == 200
    )
    semantic_index(es, "refd", unique_id)
    try:
        message = (
            f" Inference endpoint {unique_id} is being used in the mapping for indexes: [refd]. "
            "Ensure that no index mappings are using this inference endpoint, or use force to "
            "ignore this warning and delete the inference endpoint."
        )
        refused = es.delete(f"/_inference/{unique_id}")
        assert_error(refused, 409, "status_exception", message)
        dry = es.delete(f"/_inference/{unique_id}?dry_run=true")
        assert dry.json() == {"acknowledged": False, "pipelines": [], "indexes": ["refd"],
                              "error_message": message}  # fmt: skip
        forced = es.delete(f"/_inference/{unique_id}?force=true")
        assert forced.json() == {"acknowledged": True, "pipelines": [], "indexes": []}
        assert es.get(f"/_inference/{unique_id}").status_code == 404
    finally:
        es.delete("/refd")


# -- privileges ------------------------------------------------------------------------------
def test_index_privileges(client: httpx.Client, anonymous: httpx.Client) -> None:
    key = client.post("/_security/api_key", json={"name": "idx", "role_descriptors": {"r": {
        "cluster": [], "indices": [{"names": ["readable-*"], "privileges": ["read"]}]}}})  # fmt: skip
    assert key.status_code == 200, key.text
    auth = {"Authorization": f"ApiKey {key.json()['encoded']}"}
    assert client.put("/readable-1").status_code == 200
    try:
        denied = anonymous.put("/readable-2", headers=auth)
        assert_error(denied, 403, "security_exception",
                     f"action [indices:admin/create] is unauthorized for API key id "
                     f"[{key.json()['id']}] of user [elastic] on indices [readable-2], this "
                     "action is granted by the index privileges [create_index,manage,all]")  # fmt: skip
        assert anonymous.get("/readable-1/_count", headers=auth).json()["count"] == 0
        write = anonymous.post("/readable-1/_bulk", content=ndjson({"index": {}}, {"a": 1}),
                            headers={**auth, **NDJSON})  # fmt: skip
        assert_error(write, 403, "security_exception", None)
    finally:
        client.delete("/readable-1")


def test_field_chunking_settings_override_the_endpoint(
    es: httpx.Client, data_server: InProcessServer, word_endpoint: str
) -> None:
    """semantic_text ``chunking_settings`` (#121041) win over the endpoint's (10 words)."""
    field = {"type": "semantic_text", "inference_id": word_endpoint,
             "chunking_settings": {"strategy": "none"}}  # fmt: skip
    assert (
        es.put("/own-chunks", json={"mappings": {"properties": {"content": field}}}).status_code
        == 200
    )
    try:
        rendered = es.get("/own-chunks/_mapping").json()["own-chunks"]["mappings"]["properties"]
        assert rendered["content"]["chunking_settings"] == {"strategy": "none"}
        text = " ".join(f"w{i}" for i in range(40))
        es.post("/own-chunks/_bulk", content=ndjson({"index": {"_id": "1"}}, {"content": text},
                                                   {"index": {"_id": "2"}}, {"content": "   "}),
                headers=NDJSON)  # fmt: skip
        docs = data_server.app.state.indices.get("own-chunks").docs
        assert len(docs["1"].chunks["content"]) == 1  # the endpoint's settings would give 5
        assert docs["2"].chunks == {}  # a blank value needs no inference
    finally:
        es.delete("/own-chunks")
    bad = {"type": "semantic_text", "chunking_settings": {"strategy": "word"}}
    response = es.put("/bad-chunks", json={"mappings": {"properties": {"content": bad}}})
    assert_error(response, 400, "mapper_parsing_exception", None)


def test_semantic_query_on_other_fields(es: httpx.Client, word_endpoint: str) -> None:
    """SemanticQueryBuilder: an unmapped field matches nothing; another type is refused."""
    semantic_index(es, "other-fields", word_endpoint)
    try:
        es.post("/other-fields/_bulk?refresh=true", content=ndjson(
            {"index": {"_id": "1"}}, {"content": "text", "title": "t"}), headers=NDJSON)  # fmt: skip
        unmapped = es.post("/other-fields/_search", json={"query": {"semantic": {
            "field": "nowhere", "query": "text"}}})  # fmt: skip
        assert unmapped.json()["hits"]["total"]["value"] == 0
        keyword = es.post("/other-fields/_search", json={"query": {"semantic": {
            "field": "title", "query": "text"}}})  # fmt: skip
        assert_error(keyword, 400, "illegal_argument_exception",
                     "Field [title] of type [keyword] does not support semantic queries")  # fmt: skip
    finally:
        es.delete("/other-fields")
