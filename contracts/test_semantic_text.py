"""Inference where users meet it: an index with a ``semantic_text`` field on the run's ELSER
endpoint — ingest, search, and the endpoint-delete rules a mapping brings (ES
SemanticTextFieldMapper, ShardBulkInferenceActionFilter, SemanticQueryBuilder,
TransportDeleteInferenceEndpointAction).

Safe on a shared cluster: the index carries the run prefix and is deleted when the test ends;
nothing else is read or written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from contract_support import EndpointTracker, assert_es_error, started_endpoint

DOCS = {
    "elser": "ELSER is a learned sparse encoder: it expands text into weighted vocabulary tokens.",
    "bread": "Knead the dough, let it rise for an hour, then bake the loaf until golden brown.",
}


@pytest.fixture(scope="module")
def endpoint(es: httpx.Client, tracker: EndpointTracker, allocation_wait: float) -> Iterator[str]:
    """A started ELSER endpoint of this run, for the index's ``semantic_text`` field."""
    with started_endpoint(es, tracker, "semantic", allocation_wait) as inference_id:
        yield inference_id


@pytest.fixture
def index(es: httpx.Client, tracker: EndpointTracker, endpoint: str) -> Iterator[str]:
    """A run-prefixed index whose ``content`` field is ``semantic_text`` on ``endpoint``."""
    name = tracker.new_id("idx")
    mappings = {"properties": {"content": {"type": "semantic_text", "inference_id": endpoint}}}
    try:
        created = es.put(f"/{name}", json={"mappings": mappings})
        assert created.status_code == 200, created.text
        assert created.json().get("acknowledged") is True
        yield name
    finally:
        es.delete(f"/{name}")


def _bulk(es: httpx.Client, index: str) -> httpx.Response:
    lines = []
    for doc_id, text in DOCS.items():
        lines += [json.dumps({"index": {"_id": doc_id}}), json.dumps({"content": text})]
    return es.post(f"/{index}/_bulk", content="\n".join(lines) + "\n",
                   headers={"Content-Type": "application/x-ndjson"}, timeout=120)  # fmt: skip


def test_mapping_names_the_endpoint(es: httpx.Client, index: str, endpoint: str) -> None:
    mapping = es.get(f"/{index}/_mapping")
    assert mapping.status_code == 200, mapping.text
    field = mapping.json()[index]["mappings"]["properties"]["content"]
    assert field["type"] == "semantic_text" and field["inference_id"] == endpoint


def test_ingest_then_semantic_search(es: httpx.Client, index: str) -> None:
    bulk = _bulk(es, index)
    assert bulk.status_code == 200, bulk.text
    body = bulk.json()
    assert body["errors"] is False, body
    assert [item["index"]["status"] for item in body["items"]] == [201, 201], body
    assert es.post(f"/{index}/_refresh").status_code == 200
    count = es.get(f"/{index}/_count")
    assert count.status_code == 200 and count.json()["count"] == len(DOCS), count.text
    search = es.post(f"/{index}/_search", json={
        "query": {"semantic": {"field": "content", "query": "sparse encoder vocabulary tokens"}}})  # fmt: skip
    assert search.status_code == 200, search.text
    hits = search.json()["hits"]["hits"]
    assert hits and hits[0]["_id"] == "elser", hits
    assert hits[0]["_source"]["content"] == DOCS["elser"]  # _source as sent


def test_endpoint_in_use_cannot_be_deleted(es: httpx.Client, index: str, endpoint: str) -> None:
    """Without ``force`` a mapping's endpoint is kept, the answer names the index; ``dry_run``
    lists it (TransportDeleteInferenceEndpointAction.buildErrorString / handleDryRun)."""
    refused = es.delete(f"/_inference/sparse_embedding/{endpoint}")
    # The text starts with a space on some versions (pipelines' sentence would come first).
    assert_es_error(refused, 409, "status_exception", None)
    reason = refused.json()["error"]["reason"]
    assert (
        f"Inference endpoint {endpoint} is being used in the mapping for indexes: [{index}]"
        in reason
    )
    dry = es.delete(f"/_inference/sparse_embedding/{endpoint}", params={"dry_run": "true"})
    assert dry.status_code == 200, dry.text
    assert dry.json()["acknowledged"] is False and index in dry.text
    assert es.get(f"/_inference/{endpoint}").status_code == 200  # still there
