"""Rule zero for the search API: every request element Elastic's specification lists is either
modelled (a well-formed example answers 200) or refused with a message naming it and saying
the reference server does not model it. Never accepted and ignored.

The element lists come from ``tests/data/search_spec_elements.json``, extracted once from
elastic/elasticsearch-specification (commit and files in its ``provenance``): the body of
``_global.search.Request``, its URL parameters, ``QueryContainer`` and ``RetrieverContainer``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from elsercheck.reference.config import ServerConfig
from elsercheck.timing import PRESETS
from tests.inprocess import InProcessServer

SPEC = json.loads((Path(__file__).parent / "data" / "search_spec_elements.json").read_text())
STANDARD = {"standard": {"query": {"match": {"title": "quick"}}}}

# Well-formed examples of what is modelled; anything the spec lists and this does not hold must
# be refused by name.
MODELLED_BODY: dict[str, Any] = {
    "query": {"match_all": {}}, "retriever": STANDARD, "size": 1, "from": 0, "_source": False,
    "min_score": 0, "fields": ["tag"], "track_total_hits": True,
    "highlight": {"fields": {"content": {"type": "semantic"}}},
}  # fmt: skip
MODELLED_QUERIES: dict[str, Any] = {
    "match_all": {}, "match_none": {}, "bool": {"must": [{"match_all": {}}]},
    "match": {"title": "quick"}, "multi_match": {"query": "fox", "fields": ["title", "tag"]},
    "term": {"tag": "pet"}, "terms": {"tag": ["pet"]}, "range": {"n": {"gte": 1}},
    "exists": {"field": "tag"}, "ids": {"values": ["d1"]},
    "query_string": {"query": "quick", "default_field": "title"},
    "simple_query_string": {"query": "quick", "fields": ["title"]},
    "semantic": {"field": "content", "query": "x"},
    "sparse_vector": {"field": "content", "query_vector": {"a": 1.0}},
    "text_expansion": {"sv": {"model_id": ".elser-2-elasticsearch", "model_text": "quick"}},
}  # fmt: skip
MODELLED_RETRIEVERS: dict[str, Any] = {
    "standard": STANDARD["standard"],
    "rrf": {"retrievers": [STANDARD, {"standard": {"query": {"term": {"tag": "pet"}}}}]},
    "linear": {"retrievers": [{"retriever": STANDARD, "weight": 2, "normalizer": "minmax"}]},
}  # fmt: skip
MODELLED_PARAMS = {"size": "1", "from": "0", "_source": "false", "_source_includes": "tag",
                   "_source_excludes": "tag"}  # fmt: skip


@pytest.fixture(scope="module")
def es() -> Iterator[httpx.Client]:
    config = ServerConfig(security=False, timing=PRESETS["instant"], conformant=True)
    with InProcessServer(config) as server, server.client(timeout=60) as client:
        mapping = {"properties": {"title": {"type": "text"}, "tag": {"type": "keyword"},
                                  "n": {"type": "long"}, "content": {"type": "semantic_text"},
                                  "sv": {"type": "sparse_vector"}}}  # fmt: skip
        assert client.put("/rz", json={"mappings": mapping}).status_code == 200
        doc = {"title": "the quick fox", "tag": "pet", "n": 3}
        assert client.put("/rz/_bulk?refresh=true", headers={"Content-Type": "application/x-ndjson"},
                          content='{"index":{"_id":"d1"}}\n' + json.dumps(doc) + "\n").status_code == 200  # fmt: skip
        yield client


def _judge(response: httpx.Response, name: str, modelled: bool) -> None:
    if modelled:
        assert response.status_code == 200, (name, response.text)
        return
    assert response.status_code == 501, (name, response.text)
    reason = response.json()["error"]["reason"]
    assert f"[{name}]" in reason and "does not model" in reason, (name, reason)


def test_the_provenance_is_stamped_and_the_lists_are_whole() -> None:
    assert SPEC["provenance"]["repository"] == "elastic/elasticsearch-specification"
    assert len(SPEC["provenance"]["commit"]) == 40
    # the containers' sizes at that commit: a truncated extraction fails here
    assert len(SPEC["queries"]) >= 60 and len(SPEC["retrievers"]) >= 9
    assert {"query", "retriever", "knn", "aggregations", "aggs"} <= set(SPEC["body"])
    assert {"q", "_source_includes", "scroll"} <= set(SPEC["url_params"])
    assert set(MODELLED_QUERIES) <= set(SPEC["queries"])  # nothing modelled outside the spec


@pytest.mark.parametrize("name", SPEC["body"])
def test_body_element(es: httpx.Client, name: str) -> None:
    body = {name: MODELLED_BODY.get(name, {})}
    _judge(es.post("/rz/_search", json=body), name, name in MODELLED_BODY)


@pytest.mark.parametrize("name", SPEC["queries"])
def test_query(es: httpx.Client, name: str) -> None:
    body = {"query": {name: MODELLED_QUERIES.get(name, {})}}
    _judge(es.post("/rz/_search", json=body), name, name in MODELLED_QUERIES)


@pytest.mark.parametrize("name", SPEC["retrievers"])
def test_retriever(es: httpx.Client, name: str) -> None:
    body = {"retriever": {name: MODELLED_RETRIEVERS.get(name, {})}}
    _judge(es.post("/rz/_search", json=body), name, name in MODELLED_RETRIEVERS)


@pytest.mark.parametrize("name", SPEC["url_params"])
def test_url_parameter(es: httpx.Client, name: str) -> None:
    value = MODELLED_PARAMS.get(name, "x")
    _judge(es.post("/rz/_search", params={name: value}, json={}), name, name in MODELLED_PARAMS)
