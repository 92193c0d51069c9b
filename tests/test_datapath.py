"""The indices data path no request can break (issue 22 items 3 and 6): malformed bulks,
mappings and searches are answered as Elasticsearch answers them (a 400 or an item failure,
never a 500), deep documents are bounded, big bulks and searches leave the event loop to
others, a bulk racing an index delete loses nothing it acknowledged, ES's validations and
per-item authorization apply."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from elsercheck.endpoints import elser_body
from tests.conftest import assert_error
from tests.inprocess import InProcessServer

NDJSON = {"Content-Type": "application/x-ndjson"}


def ndjson(*lines: Any) -> bytes:
    return b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n"
                    for line in lines)  # fmt: skip


def _item_error(response: httpx.Response, position: int = 0) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errors"] is True
    return dict(next(iter(body["items"][position].values())))


# -- malformed source lines: item failures, never a 500 -------------------------------------
@pytest.mark.parametrize(
    ("source", "type_"),
    [
        (b"[1,2]", "document_parsing_exception"),
        (b'{"a": ', "document_parsing_exception"),
        (b'{"a": "\xff\xfe"}', "document_parsing_exception"),
        (b"5", "document_parsing_exception"),
    ],
    ids=["array", "invalid-json", "invalid-utf8", "number"],
)
def test_bad_source_fails_its_item_only(es: httpx.Client, source: bytes, type_: str) -> None:
    body = ndjson({"index": {"_id": "bad"}}, source, {"index": {"_id": "good"}}, {"a": 1})
    response = es.post("/bad-src/_bulk?refresh=true", content=body, headers=NDJSON)
    try:
        failed = _item_error(response)
        assert failed["status"] == 400 and failed["error"]["type"] == type_
        assert response.json()["items"][1]["index"]["status"] == 201
        assert es.get("/bad-src/_count").json()["count"] == 1
    finally:
        es.delete("/bad-src")


def test_lone_surrogate_source_is_indexed_and_searchable(es: httpx.Client) -> None:
    body = ndjson({"index": {"_id": "s"}}, b'{"a": "x\\ud800y"}')
    response = es.post("/surrogate/_bulk?refresh=true", content=body, headers=NDJSON)
    try:
        assert response.status_code == 200 and response.json()["errors"] is False, response.text
        search = es.post("/surrogate/_search", json={})
        assert search.status_code == 200 and search.json()["hits"]["total"]["value"] == 1
    finally:
        es.delete("/surrogate")


def test_deep_document_is_bounded_and_search_keeps_working(es: httpx.Client) -> None:
    deep = b'{"a":' * 1020 + b"1" + b"}" * 1020  # beyond the parser's nesting limit
    mapped = b'{"a":' * 21 + b"1" + b"}" * 21  # 21 objects: beyond index.mapping.depth.limit
    ok = b'{"a":' * 19 + b"1" + b"}" * 19
    body = ndjson({"index": {"_id": "1"}}, deep, {"index": {"_id": "2"}}, mapped,
                  {"index": {"_id": "3"}}, ok)  # fmt: skip
    response = es.post("/deep/_bulk?refresh=true", content=body, headers=NDJSON)
    try:
        assert _item_error(response, 0)["error"]["type"] == "document_parsing_exception"
        second = _item_error(response, 1)["error"]
        assert second == {"type": "illegal_argument_exception", "reason": "Limit of mapping "
                          "depth [20] has been exceeded due to object field ["
                          + ".".join(["a"] * 20) + "]"}  # fmt: skip
        assert response.json()["items"][2]["index"]["status"] == 201
        search = es.post("/deep/_search", json={})
        assert search.status_code == 200 and search.json()["hits"]["total"]["value"] == 1
    finally:
        es.delete("/deep")


# -- malformed bodies: ES's 400s ------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "type_", "reason"),
    [
        ({"size": "abc"}, 400, "number_format_exception", 'For input string: "abc"'),
        ({"from": "x"}, 400, "number_format_exception", 'For input string: "x"'),
        ({"query": 5}, 400, "parsing_exception", "Unknown key for a VALUE_NUMBER in [query]."),
        ({"size": -1}, 400, "illegal_argument_exception",
         "[size] parameter cannot be negative, found [-1]"),
        ({"query": {"match": {}}}, 400, "parsing_exception", "No text specified for text query"),
        ({"query": {"semantic": {"field": "content"}}}, 400, "x_content_parse_exception", None),
        ({"query": {"semantic": 5}}, 400, "parsing_exception", None),
        ({"query": {"sparse_vector": {"query_vector": {"a": 1}}}}, 400,
         "x_content_parse_exception", None),
        ({"query": {"sparse_vector": {"field": "content", "query_vector": {"a": "b"}}}}, 400,
         "x_content_parse_exception", None),
    ],
    ids=["size", "from", "query", "negative-size", "match", "semantic", "semantic-number",
         "sparse-no-field", "sparse-bad-vector"],
)  # fmt: skip
def test_malformed_search_is_400(
    es: httpx.Client, body: dict[str, Any], status: int, type_: str, reason: str | None
) -> None:
    assert es.put("/searched").status_code == 200
    try:
        assert_error(es.post("/searched/_search", json=body), status, type_, reason)
    finally:
        es.delete("/searched")


def test_result_window_is_limited(es: httpx.Client) -> None:
    assert es.put("/window").status_code == 200
    try:
        response = es.post("/window/_search", json={"from": 9_995, "size": 10})
        assert_error(response, 400, "search_phase_execution_exception", "all shards failed")
        cause = response.json()["error"]["caused_by"]
        assert cause["reason"].startswith("Result window is too large, from + size must be less "
                                          "than or equal to: [10000] but was [10005].")  # fmt: skip
        assert es.post("/window/_search", json={"from": 9_990, "size": 10}).status_code == 200
    finally:
        es.delete("/window")


def test_mapping_type_not_a_string_is_400(es: httpx.Client) -> None:
    body = {"mappings": {"properties": {"t": {"type": ["text"]}}}}
    assert_error(es.put("/typed", json=body), 400, "mapper_parsing_exception",
                 "Failed to parse mapping: No handler for type [[text]] declared on field [t]")  # fmt: skip


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("a*b", 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'),
        ("a%20b", 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'),
        ("..", "must not be '.' or '..'"),
        ("x" * 300, "index name is too long, (300 > 255)"),
        ("a%23b", "must not contain '#'"),
    ],
    ids=["star", "space", "dots", "long", "hash"],
)
def test_index_names_as_elasticsearch(es: httpx.Client, name: str, why: str) -> None:
    shown = name.replace("%20", " ").replace("%2E", ".").replace("%23", "#")
    if shown != "..":  # a client normalises /.. away; ES would answer as for /
        assert_error(es.put(f"/{name}"), 400, "invalid_index_name_exception",
                     f"Invalid index name [{shown}], {why}")  # fmt: skip
    bulk = es.post("/_bulk", content=ndjson({"index": {"_index": shown}}, {"a": 1}),
                   headers=NDJSON)  # fmt: skip
    assert _item_error(bulk)["error"]["reason"] == f"Invalid index name [{shown}], {why}"


def test_index_name_object_and_empty_in_bulk(es: httpx.Client) -> None:
    response = es.post("/_bulk", content=ndjson({"index": {"_index": {"a": 1}}}, {"a": 1}),
                       headers=NDJSON)  # fmt: skip
    assert_error(response, 400, "illegal_argument_exception",
                 "Malformed action/metadata line [1], expected a simple value for field "
                 "[_index] but found [START_OBJECT]")  # fmt: skip
    empty = es.post("/_bulk", content=ndjson({"index": {"_index": ""}}, {"a": 1}), headers=NDJSON)
    assert _item_error(empty)["error"]["reason"] == "Invalid index name [], must not be empty"


@pytest.mark.parametrize(
    ("settings_", "reason"),
    [
        ({"number_of_shards": 0},
         "Failed to parse value [0] for setting [index.number_of_shards] must be >= 1"),
        ({"number_of_shards": 2000},
         "Failed to parse value [2000] for setting [index.number_of_shards] must be <= 1024"),
        ({"index": {"number_of_replicas": -1}},
         "Failed to parse value [-1] for setting [index.number_of_replicas] must be >= 0"),
    ],
)  # fmt: skip
def test_shard_settings_bounds(es: httpx.Client, settings_: dict[str, Any], reason: str) -> None:
    response = es.put("/shards", json={"settings": settings_})
    assert_error(response, 400, "illegal_argument_exception", reason)


def test_total_fields_limit(es: httpx.Client) -> None:
    properties = {f"f{i}": {"type": "keyword"} for i in range(1001)}
    response = es.put("/fields", json={"mappings": {"properties": properties}})
    assert_error(response, 400, "illegal_argument_exception",
                 "Limit of total fields [1000] has been exceeded")  # fmt: skip
    del properties["f0"]
    assert es.put("/fields", json={"mappings": {"properties": properties}}).status_code == 200
    es.delete("/fields")


def test_id_over_512_bytes_fails_the_bulk(es: httpx.Client) -> None:
    long_id = "é" * 257  # 514 bytes
    response = es.post("/ids/_bulk", content=ndjson({"index": {"_id": long_id}}, {"a": 1}),
                       headers=NDJSON)  # fmt: skip
    assert_error(response, 400, "action_request_validation_exception",
                 f"Validation Failed: 1: id [{long_id}] is too long, must be no longer than 512 "
                 "bytes but was: 514;")  # fmt: skip


# -- delete and update items ----------------------------------------------------------------
def test_bulk_delete_and_update(es: httpx.Client) -> None:
    body = ndjson(
        {"index": {"_id": "1"}}, {"a": 1, "o": {"x": 1}},
        {"update": {"_id": "1"}}, {"doc": {"b": 2, "o": {"y": 2}}},
        {"update": {"_id": "1"}}, {"doc": {"b": 2}},
        {"update": {"_id": "2"}}, {"doc": {"c": 3}},
        {"update": {"_id": "3"}}, {"doc": {"c": 3}, "doc_as_upsert": True},
        {"update": {"_id": "1"}}, {"script": {"source": "ctx._source.a++"}},
        {"delete": {"_id": "3"}},
        {"delete": {"_id": "4"}},
    )  # fmt: skip
    response = es.post("/upd/_bulk?refresh=true", content=body, headers=NDJSON)
    try:
        items = [next(iter(i.values())) for i in response.json()["items"]]
        assert [i.get("result", i["status"]) for i in items] == [
            "created", "updated", "noop", 404, "created", 501, "deleted", "not_found"
        ]  # fmt: skip
        assert items[3]["error"]["type"] == "document_missing_exception"
        assert "does not model scripted updates" in items[5]["error"]["reason"]
        assert items[6]["_version"] == 2 and items[7]["status"] == 404
        hits = es.post("/upd/_search", json={}).json()["hits"]["hits"]
        assert [h["_source"] for h in hits] == [{"a": 1, "o": {"x": 1, "y": 2}, "b": 2}]
    finally:
        es.delete("/upd")


# -- races and the event loop ---------------------------------------------------------------
def test_bulk_racing_index_delete_loses_no_acknowledged_write(
    data_server: InProcessServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index is deleted while the bulk waits for inference: its items fail with
    index_not_found (no 500, nothing acknowledged that is not there)."""
    inference = data_server.app.state.inference
    original = inference.infer
    waiting = threading.Event()
    release = asyncio.Event()  # set on the server's loop once the delete is answered

    async def held(*args: Any, **kwargs: Any) -> Any:
        waiting.set()
        await release.wait()
        return await original(*args, **kwargs)

    monkeypatch.setattr(inference, "infer", held)
    field = {"mappings": {"properties": {"content": {"type": "semantic_text"}}}}
    docs = ndjson(*[line for i in range(20) for line in ({"index": {}}, {"content": f"d {i}"})])
    with data_server.client(timeout=120) as c:
        assert c.put("/raced", json=field).status_code == 200
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            bulk = pool.submit(c.post, "/raced/_bulk", content=docs, headers=NDJSON)
            assert waiting.wait(60)
            deleted = c.delete("/raced")
            data_server._loop.call_soon_threadsafe(release.set)
            response = bulk.result(120)
    assert deleted.status_code == 200, deleted.text
    assert response.status_code == 200, response.text
    items = [i["index"] for i in response.json()["items"]]
    assert {i["status"] for i in items} == {404}
    assert items[0]["error"]["type"] == "index_not_found_exception"
    assert data_server.app.state.indices.get("raced") is None


def test_big_bulk_does_not_hold_other_requests_up(data_server: InProcessServer) -> None:
    docs = ndjson(*[line for i in range(60_000) for line in ({"index": {}}, {"n": i})])
    order: list[str] = []

    async def concurrently() -> None:
        async with data_server.async_client(timeout=300) as c:
            assert (await c.put("/big")).status_code == 200

            async def bulk() -> None:
                response = await c.post("/big/_bulk", content=docs, headers=NDJSON)
                assert response.status_code == 200
                order.append("bulk")

            async def small() -> None:
                await asyncio.sleep(0.05)  # the bulk is under way
                assert (await c.get("/")).status_code == 200
                order.append("small")

            await asyncio.gather(bulk(), small())

    try:
        asyncio.run(concurrently())
    finally:
        with data_server.client() as c:
            c.delete("/big")
    assert order == ["small", "bulk"]


# -- per-item authorization -----------------------------------------------------------------
def test_bulk_items_are_authorized_one_by_one(
    client: httpx.Client, anonymous: httpx.Client
) -> None:
    key = client.post("/_security/api_key", json={"name": "w", "role_descriptors": {"r": {
        "cluster": [], "indices": [{"names": ["mine-*"], "privileges": ["write"]}]}}})  # fmt: skip
    assert key.status_code == 200, key.text
    auth = {"Authorization": f"ApiKey {key.json()['encoded']}", **NDJSON}
    assert client.put("/mine-1").status_code == 200
    try:
        body = ndjson({"index": {"_index": "mine-1"}}, {"a": 1},
                      {"index": {"_index": "other"}}, {"a": 1},
                      {"index": {"_index": "mine-2"}}, {"a": 1})  # fmt: skip
        response = anonymous.post("/_bulk", content=body, headers=auth)
        items = [next(iter(i.values())) for i in response.json()["items"]]
        assert [i["status"] for i in items] == [201, 403, 403], response.text
        assert "[indices:data/write/index:op_type/index]" in items[1]["error"]["reason"]
        assert items[2]["error"]["reason"].startswith("action [indices:admin/auto_create]")
        assert "auto_configure,create_index,manage,all" in items[2]["error"]["reason"]
        assert client.get("/mine-2/_count").status_code == 404  # write cannot create an index
    finally:
        client.delete("/mine-1")


# -- property: no request breaks the server -------------------------------------------------
_json = hs.recursive(
    hs.none() | hs.booleans() | hs.integers(-(2**40), 2**40) | hs.text(max_size=8),
    lambda inner: hs.lists(inner, max_size=3) | hs.dictionaries(hs.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
_line = _json.map(lambda v: json.dumps(v).encode()) | hs.binary(max_size=12)
_action = hs.sampled_from(["index", "create", "delete", "update", "other"]).flatmap(
    lambda op: hs.fixed_dictionaries({op: hs.dictionaries(
        hs.sampled_from(["_index", "_id", "routing", "x"]), _json, max_size=2)})
)  # fmt: skip
_bulk = hs.lists(hs.tuples(_action.map(lambda v: json.dumps(v).encode()) | _line, _line),
                 min_size=1, max_size=4)  # fmt: skip
_query = hs.dictionaries(
    hs.sampled_from(["match", "semantic", "sparse_vector", "match_all", "term"]),
    _json,
    max_size=2,
)
_search = hs.fixed_dictionaries({}, optional={
    "size": _json, "from": _json, "query": _query | _json,
})  # fmt: skip
_mapping = hs.dictionaries(
    hs.text(min_size=1, max_size=4),
    hs.fixed_dictionaries({}, optional={
        "type": hs.sampled_from(["text", "keyword", "semantic_text", "nope"]) | _json,
        "properties": _json, "inference_id": _json,
    }) | _json,
    max_size=3,
)  # fmt: skip


def _no_server_error(response: httpx.Response) -> None:
    """Below 500, or the 501 that names what the reference server does not model."""
    if response.status_code == 501:
        assert "does not model" in response.json()["error"]["reason"], response.text
    else:
        assert response.status_code < 500, response.text


@settings(max_examples=60, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(bulk=_bulk, search=_search, mapping=_mapping, settings_=_json)
def test_no_request_breaks_the_server(
    es: httpx.Client, data_server: InProcessServer, bulk: list[tuple[bytes, bytes]], search: dict[str, Any],
    mapping: dict[str, Any], settings_: Any,
) -> None:  # fmt: skip
    created = es.put("/prop", json={"mappings": {"properties": mapping}, "settings": settings_})
    _no_server_error(created)
    body = b"".join(a + b"\n" + s + b"\n" for a, s in bulk)
    for path in ("/prop/_bulk", "/_bulk"):
        response = es.post(path, content=body, headers=NDJSON)
        _no_server_error(response)
    for path in ("/prop/_search", "/prop/_count"):
        response = es.post(path, json=search if path.endswith("search") else
                           {k: v for k, v in search.items() if k == "query"})  # fmt: skip
        _no_server_error(response)
    assert es.get("/").status_code == 200  # still answering
    data_server.app.state.indices.indices.clear()  # whatever the bulks auto-created


def test_a_huge_inference_input_is_parsed_off_the_event_loop(
    es: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 20 MB of input (ELSER reads its first 512 tokens): parsed in a thread, so other clients
    # are served meanwhile. Before, its scan looped per character on the event loop (a 94.5 MB
    # input stalled every other client for 18.7 s). A small body stays on the loop.
    from elsercheck.reference.api import inference

    on_loop: list[bool] = []
    parse = inference.ir.parse

    def recording(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:  # a worker thread has no running loop
            on_loop.append(False)
        return parse(*args, **kwargs)

    monkeypatch.setattr(inference.ir, "parse", recording)
    assert es.put("/_inference/sparse_embedding/huge-input", json=elser_body()).status_code == 200
    try:
        text = 'lorem ipsum "dolor" sit amet ' * 700_000
        response = es.post("/_inference/sparse_embedding/huge-input",
                           json={"input": [text, "small"]})  # fmt: skip
        assert response.status_code == 200, response.text
        assert len(response.json()["sparse_embedding"]) == 2
        small = es.post("/_inference/sparse_embedding/huge-input", json={"input": "small"})
        assert small.json()["sparse_embedding"][0] == response.json()["sparse_embedding"][1]
    finally:
        es.delete("/_inference/huge-input")
    assert on_loop == [False, True]
