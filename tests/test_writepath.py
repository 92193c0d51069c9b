"""The write path (issue 23 items 1 and 2): bulk on every route of the REST spec, the
single-document APIs, index administration and mappings, each request element either modelled
or refused naming it (rule zero), and semantic_text inference on every way in (bulk, single
document, copy_to)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import assert_error
from tests.inprocess import InProcessServer

SPEC = json.loads((Path(__file__).parent / "data" / "rest_spec_write_path.json").read_text())
NDJSON = {"Content-Type": "application/x-ndjson"}
ELSER = ".elser_model_2_linux-x86_64"


# -- rule zero: every URL parameter of the spec's write-path APIs ---------------------------
# A valid value for each parameter, so that a refusal can only be "not modelled"
VALUES = {
    "refresh": "true", "timeout": "1m", "master_timeout": "30s", "wait_for_active_shards": "1",
    "require_alias": "false", "require_data_stream": "false", "list_executed_pipelines": "false",
    "include_source_on_error": "true", "op_type": "index", "if_seq_no": "0",
    "if_primary_term": "1", "version": "1", "version_type": "internal", "pipeline": "p",
    "routing": "r", "_slice": "s", "_source": "true", "_source_includes": "t",
    "_source_excludes": "u", "realtime": "true", "preference": "_local", "stored_fields": "t",
    "force_synthetic_source": "false", "_source_exclude_vectors": "false", "lang": "painless",
    "retry_on_conflict": "1", "allow_no_indices": "true", "expand_wildcards": "open",
    "ignore_unavailable": "true", "flat_settings": "true", "include_defaults": "false",
    "local": "false", "features": "settings", "preserve_existing": "false", "reopen": "false",
    "write_index_only": "false", "prefer_v2_templates": "true",
}  # fmt: skip
# ES's own answer to a modelled parameter that is an error (not a refusal)
ES_ERRORS = {
    "version": ("action_request_validation_exception", "internal versioning can not be used"),
    # modelled (api/ingest.py): the pipeline named must exist (IngestService.getPipeline)
    "pipeline": ("illegal_argument_exception", "pipeline with id [p] does not exist"),
}
# IndexRequest.validate: a POST without id is a create, which has no compare-and-write
CREATE_CAS = (
    "action_request_validation_exception",
    "create operations do not support compare and set. use index instead",
)
# APIs refused as a whole (the refusal names the API, whatever the parameter)
REFUSED_APIS = {"indices.put_mapping"}
BODIES: dict[str, Any] = {
    "bulk": b'{"index":{"_index":"rz","_id":"b"}}\n{"t":"x"}\n',
    "index": {"t": "y"}, "create": {"t": "y"}, "update": {"doc": {"t": "z"}},
    "indices.put_settings": {"index": {"refresh_interval": "2s"}},
    "indices.put_mapping": {"properties": {}},
}  # fmt: skip


def _cases() -> list[tuple[str, str, str, str]]:
    cases = []
    for name, endpoint in SPEC["endpoints"].items():
        for url in endpoint["urls"]:
            for method in url["methods"]:
                for param in endpoint["query"]:
                    cases.append((name, method, url["path"], param))
    return cases


def _path(name: str, template: str) -> str:
    index = "rz-new" if name == "indices.create" else "rz"
    doc = "new" if name == "create" else "1"
    return template.replace("{index}", index).replace("{id}", doc).replace("{name}", "index.*")


def test_spec_extract_is_provenance_stamped_and_complete() -> None:
    assert len(SPEC["provenance"]["commit"]) == 40
    assert {"bulk", "index", "create", "update", "get", "exists", "delete", "indices.create",
            "indices.delete", "indices.put_settings", "indices.put_mapping"} <= set(
        SPEC["endpoints"])  # fmt: skip
    assert set(VALUES) >= {p for e in SPEC["endpoints"].values() for p in e["query"]}


@pytest.mark.parametrize(("api", "method", "template", "param"), _cases(),
                         ids=lambda v: str(v))  # fmt: skip
def test_every_spec_parameter_is_modelled_or_refused(
    es: httpx.Client, api: str, method: str, template: str, param: str
) -> None:
    es.delete("/rz,rz-new?ignore_unavailable=true")
    assert es.put("/rz/_doc/1?refresh=true", json={"t": "x"}).json()["_seq_no"] == 0
    query = {param: VALUES[param]}
    if param == "if_seq_no":
        query["if_primary_term"] = "1"
    if param == "if_primary_term":
        query["if_seq_no"] = "0"
    body = BODIES.get(api)
    headers = NDJSON if api == "bulk" else {}
    content = body if isinstance(body, bytes) else None
    response = es.request(method, _path(api, template), params=query, content=content,
                          json=None if content else body, headers=headers)  # fmt: skip
    assert response.status_code != 500, response.text
    if response.status_code < 300 or (method == "HEAD" and response.status_code == 404):
        return
    if method == "HEAD":  # no body to name it: the GET of the same resource must
        assert response.status_code == 501
        return
    error = response.json()["error"]
    if api in REFUSED_APIS:
        assert response.status_code == 501 and "does not model" in error["reason"], error
        assert template in error["reason"]
        return
    if template == "/{index}/_doc" and param in ("if_seq_no", "if_primary_term"):
        assert (error["type"], CREATE_CAS[1] in error["reason"]) == (CREATE_CAS[0], True)
        return
    if param in ES_ERRORS and api != "get":
        assert error["type"] == ES_ERRORS[param][0] and ES_ERRORS[param][1] in error["reason"]
        return
    assert f"[{param}" in error["reason"] and "does not model" in error["reason"], error
    assert response.status_code in (400, 501)


def test_put_mapping_is_refused_naming_it(es: httpx.Client) -> None:
    es.put("/pm")
    try:
        response = es.put("/pm/_mapping", json={"properties": {"a": {"type": "keyword"}}})
        assert_error(response, 501, "status_exception",
                     "The reference server does not model updating a mapping "
                     "([PUT /{index}/_mapping])")  # fmt: skip
    finally:
        es.delete("/pm")


# -- bulk routes ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("path", ["/_bulk", "/bk/_bulk"])
def test_bulk_on_every_route(es: httpx.Client, method: str, path: str) -> None:
    body = b'{"index":{"_index":"bk","_id":"1"}}\n{"a":1}\n'
    try:
        response = es.request(method, f"{path}?refresh=wait_for", content=body, headers=NDJSON)
        assert response.status_code == 200, response.text
        assert response.json()["items"][0]["index"]["status"] == 201
        assert es.get("/bk/_count").json()["count"] == 1  # visible: refresh applied
    finally:
        es.delete("/bk")


def test_bulk_refresh_value_and_require_alias(es: httpx.Client) -> None:
    body = b'{"index":{"_index":"ra","_id":"1"}}\n{"a":1}\n'
    assert_error(es.post("/_bulk?refresh=soon", content=body, headers=NDJSON), 400,
                 "illegal_argument_exception", "Unknown value for refresh: [soon].")  # fmt: skip
    response = es.post("/_bulk?require_alias=true", content=body, headers=NDJSON)
    item = response.json()["items"][0]["index"]
    assert item["status"] == 404 and item["error"]["reason"] == (
        "no such index [ra] and [require_alias] request flag is [true] and [ra] is not an alias"
    )
    assert es.head("/ra").status_code == 404  # nothing auto-created


def test_bulk_compare_and_write_in_action_lines(es: httpx.Client) -> None:
    es.put("/cas/_doc/1", json={"a": 1})
    try:
        lines = (b'{"index":{"_index":"cas","_id":"1","if_seq_no":0,"if_primary_term":1}}\n'
                 b'{"a":2}\n'
                 b'{"index":{"_index":"cas","_id":"1","if_seq_no":0,"if_primary_term":1}}\n'
                 b'{"a":3}\n')  # fmt: skip
        items = es.post("/_bulk", content=lines, headers=NDJSON).json()["items"]
        assert items[0]["index"]["result"] == "updated"
        assert items[1]["index"]["error"]["reason"] == (
            "[1]: version conflict, required seqNo [0], primary term [1]. current document has "
            "seqNo [1] and primary term [1]"
        )
    finally:
        es.delete("/cas")


# -- single documents -------------------------------------------------------------------------
def test_document_lifecycle_as_elasticsearch_renders_it(es: httpx.Client) -> None:
    try:
        created = es.put("/docs/_doc/1", json={"a": 1, "o": {"x": 1, "y": 2}})
        assert created.status_code == 201 and created.headers["location"] == "/docs/_doc/1"
        assert created.json() == {
            "_index": "docs", "_id": "1", "_version": 1, "result": "created",
            "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": 0,
            "_primary_term": 1,
        }  # fmt: skip
        auto = es.post("/docs/_doc", json={"a": 2}).json()
        assert auto["result"] == "created" and len(auto["_id"]) == 20
        conflict = es.put("/docs/_create/1", json={"a": 1})
        assert_error(
            conflict,
            409,
            "version_conflict_engine_exception",
            "[1]: version conflict, document already exists (current version [1])",
        )
        assert es.put("/docs/_doc/1?op_type=create", json={"a": 1}).status_code == 409
        updated = es.post("/docs/_update/1", json={"doc": {"b": 2}}).json()
        assert (updated["result"], updated["_version"]) == ("updated", 2)
        noop = es.post("/docs/_update/1", json={"doc": {"b": 2}}).json()
        assert noop["result"] == "noop" and noop["_shards"]["total"] == 0
        upsert = es.post("/docs/_update/2", json={"doc": {"c": 1}, "doc_as_upsert": True})
        assert upsert.status_code == 201 and upsert.json()["result"] == "created"
        missing = es.post("/docs/_update/3", json={"doc": {"c": 1}})
        assert_error(missing, 404, "document_missing_exception", "[3]: document missing")
        script = es.post("/docs/_update/1", json={"script": {"source": "ctx._source.a++"}})
        assert script.status_code == 501 and "scripted updates" in script.text
        got = es.get("/docs/_doc/1")
        assert got.json() == {
            "_index": "docs", "_id": "1", "_version": 2, "_seq_no": 2, "_primary_term": 1,
            "found": True, "_source": {"a": 1, "o": {"x": 1, "y": 2}, "b": 2},
        }  # fmt: skip
        assert es.get("/docs/_doc/1?_source_includes=o.x").json()["_source"] == {"o": {"x": 1}}
        assert es.get("/docs/_doc/1?_source_excludes=o").json()["_source"] == {"a": 1, "b": 2}
        assert es.get("/docs/_doc/1?_source=a,b").json()["_source"] == {"a": 1, "b": 2}
        assert "_source" not in es.get("/docs/_doc/1?_source=false").json()
        assert es.head("/docs/_doc/1").status_code == 200
        assert es.head("/docs/_doc/9").status_code == 404
        stale = es.put("/docs/_doc/1?if_seq_no=0&if_primary_term=1", json={"a": 9})
        assert_error(stale, 409, "version_conflict_engine_exception",
                     "[1]: version conflict, required seqNo [0], primary term [1]. current "
                     "document has seqNo [2] and primary term [1]")  # fmt: skip
        assert es.put("/docs/_doc/1?if_seq_no=2&if_primary_term=1", json={"a": 9}).is_success
        deleted = es.delete("/docs/_doc/1")
        assert deleted.status_code == 200 and deleted.json()["result"] == "deleted"
        gone = es.delete("/docs/_doc/1")
        assert gone.status_code == 404 and gone.json()["result"] == "not_found"
        assert es.get("/docs/_doc/1").json() == {"_index": "docs", "_id": "1", "found": False}
        assert_error(
            es.delete("/nodocs/_doc/1"), 404, "index_not_found_exception", "no such index [nodocs]"
        )  # deletes create no index
    finally:
        es.delete("/docs")


def test_get_is_realtime_unless_asked(es: httpx.Client) -> None:
    es.put("/rt", json={"settings": {"refresh_interval": "-1"}})
    try:
        es.put("/rt/_doc/1", json={"a": 1})
        assert es.get("/rt/_doc/1").json()["found"] is True
        assert es.get("/rt/_doc/1?realtime=false").status_code == 404
        assert es.get("/rt/_count").json()["count"] == 0  # refresh_interval -1: not yet
        assert es.post("/rt/_refresh").json()["_shards"] == {
            "total": 2,
            "successful": 1,
            "failed": 0,
        }
        assert es.get("/rt/_doc/1?realtime=false").status_code == 200
    finally:
        es.delete("/rt")


# -- index administration ---------------------------------------------------------------------
def test_index_admin(es: httpx.Client) -> None:
    assert es.put("/adm?wait_for_active_shards=1").status_code == 200
    try:
        assert es.head("/adm").status_code == 200 and es.head("/adm").content == b""
        assert es.head("/nope").status_code == 404
        got = es.get("/adm").json()["adm"]
        assert got["aliases"] == {} and got["settings"]["index"]["provided_name"] == "adm"
        waits = es.put("/adm2?wait_for_active_shards=all")
        assert waits.status_code == 501 and "[wait_for_active_shards=all]" in waits.text
        assert es.put("/adm/_settings", json={"index": {"number_of_replicas": 0}}).is_success
        flat = es.get("/adm/_settings?flat_settings=true").json()["adm"]["settings"]
        assert flat["index.number_of_replicas"] == "0"
        assert es.put("/adm/_doc/1", json={"a": 1}).json()["_shards"]["total"] == 1
        static = es.put("/adm/_settings", json={"index": {"number_of_shards": 2}})
        uuid = flat["index.uuid"]
        assert_error(static, 400, "illegal_argument_exception",
                     "Can't update non dynamic settings [[index.number_of_shards]] for open "
                     f"indices [[adm/{uuid}]]")  # fmt: skip
        other = es.put("/adm/_settings", json={"index": {"max_result_window": 5}})
        assert other.status_code == 400 and "[index.max_result_window]" in other.text
        assert es.get("/_refresh").is_success and es.post("/_refresh").is_success
        assert_error(es.delete("/adm*"), 400, "illegal_argument_exception",
                     "Wildcard expressions or all indices are not allowed")  # fmt: skip
        assert_error(es.delete("/nope"), 404, "index_not_found_exception",
                     "no such index [nope]")  # fmt: skip
        assert es.delete("/nope?ignore_unavailable=true").json() == {"acknowledged": True}
        assert es.delete("/adm,nope?ignore_unavailable=true").is_success
        assert es.head("/adm").status_code == 404
    finally:
        es.delete("/adm?ignore_unavailable=true")


# -- mappings ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mappings", "named"),
    [
        ({"properties": {"t": {"type": "text", "analyzer": "english"}}}, "[analyzer]"),
        (
            {"properties": {"k": {"type": "keyword", "eager_global_ordinals": True}}},
            "[eager_global_ordinals]",
        ),
        ({"dynamic": "strict", "properties": {}}, "[dynamic]"),
        ({"dynamic_templates": []}, "[dynamic_templates]"),
        (
            {
                "properties": {
                    "t": {"type": "text", "fields": {"raw": {"type": "keyword", "normalizer": "n"}}}
                }
            },
            "[normalizer]",
        ),
        (
            {"properties": {"t": {"type": "text", "copy_to": "k"}, "k": {"type": "keyword"}}},
            "[copy_to]",
        ),
    ],
    ids=[
        "analyzer",
        "eager_global_ordinals",
        "dynamic",
        "dynamic_templates",
        "multi-field",
        "copy_to",
    ],
)
def test_unmodelled_mapping_parameters_are_refused(
    es: httpx.Client, mappings: dict[str, Any], named: str
) -> None:
    response = es.put("/maps", json={"mappings": mappings})
    assert response.status_code == 400, response.text
    assert named in response.json()["error"]["reason"]
    assert "does not model" in response.json()["error"]["reason"]
    assert es.head("/maps").status_code == 404


def test_multi_fields_are_kept(es: httpx.Client) -> None:
    props = {"t": {"type": "text", "fields": {"raw": {"type": "keyword"}}}}
    assert es.put("/multi", json={"mappings": {"properties": props}}).is_success
    try:
        assert es.get("/multi/_mapping").json()["multi"]["mappings"]["properties"] == props
    finally:
        es.delete("/multi")


@pytest.fixture
def endpoint(es: httpx.Client, unique_id: str) -> Iterator[str]:
    body = {
        "service": "elasticsearch",
        "service_settings": {"model_id": ELSER, "num_allocations": 1, "num_threads": 1},
    }
    response = es.put(f"/_inference/sparse_embedding/{unique_id}", json=body)
    assert response.status_code == 200, response.text
    yield unique_id
    es.delete(f"/_inference/{unique_id}?force=true")


def test_copy_to_and_single_documents_are_inferred(
    es: httpx.Client, data_server: InProcessServer, endpoint: str
) -> None:
    props = {"title": {"type": "text", "copy_to": "content"},
             "content": {"type": "semantic_text", "inference_id": endpoint}}  # fmt: skip
    assert es.put("/cp", json={"mappings": {"properties": props}}).is_success
    try:
        assert es.put("/cp/_doc/1", json={"title": "copied words"}).status_code == 201
        assert es.put("/cp/_doc/2", json={"content": "own words"}).status_code == 201
        assert es.put("/cp/_doc/3", json={"other": "nothing to infer"}).status_code == 201
        index = data_server.app.state.indices.get("cp")
        assert index is not None
        docs = index.docs
        assert len(docs["1"].chunks["content"]) == 1  # the copied title, inferred
        assert len(docs["2"].chunks["content"]) == 1
        assert docs["3"].chunks == {}
        assert docs["1"].source == {"title": "copied words"}  # copy_to leaves _source alone
        es.post("/cp/_refresh")
        hits = es.post("/cp/_search", json={"query": {"semantic": {
            "field": "content", "query": "copied words"}}}).json()["hits"]["hits"]  # fmt: skip
        assert hits[0]["_id"] == "1"
    finally:
        es.delete("/cp")
