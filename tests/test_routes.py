"""Success shapes and error answers of every route but PUT."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from elsercheck.reference.versions import NEWEST, RELEASES
from tests.conftest import assert_error, elser_body

ELSER = ".elser_model_2_linux-x86_64"


@pytest.fixture
def endpoint(client: httpx.Client, unique_id: str) -> Iterator[str]:
    """A created ELSER endpoint (1 allocation, 1 thread), deleted afterwards."""
    response = client.put(f"/_inference/sparse_embedding/{unique_id}", json=elser_body())
    assert response.status_code == 200, response.text
    yield unique_id
    client.delete(f"/_inference/{unique_id}")


# -- GET / and headers -------------------------------------------------------------------------
def test_cluster_info(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["x-elastic-product"] == "Elasticsearch"
    body = response.json()
    assert body["version"]["number"] == RELEASES[NEWEST].number  # the default version
    assert body["tagline"] == "You Know, for Search"
    assert list(body) == ["name", "cluster_name", "cluster_uuid", "version", "tagline"]


def test_head_root_has_no_body(client: httpx.Client) -> None:
    response = client.head("/")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["x-elastic-product"] == "Elasticsearch"


def test_compatible_with_media_type_is_echoed(client: httpx.Client) -> None:
    media = "application/vnd.elasticsearch+json; compatible-with=9"
    response = client.get("/", headers={"Accept": media})
    assert (
        response.headers["content-type"] == "application/vnd.elasticsearch+json;compatible-with=9"
    )


# -- PUT success ----------------------------------------------------------------------------------
def test_put_response_shape(client: httpx.Client, unique_id: str) -> None:
    response = client.put(f"/_inference/sparse_embedding/{unique_id}", json=elser_body())
    try:
        assert response.status_code == 200, response.text
        body = response.json()
        assert list(body) == [
            "inference_id", "task_type", "service", "service_settings", "chunking_settings"
        ]  # fmt: skip
        assert body["service_settings"] == {
            "num_allocations": 1, "num_threads": 1, "model_id": ELSER
        }  # fmt: skip
        assert body["chunking_settings"] == {
            "strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1
        }  # fmt: skip
        assert "warning" not in response.headers
    finally:
        client.delete(f"/_inference/{unique_id}")


def test_put_elser_service_is_stored_as_elasticsearch(client: httpx.Client, unique_id: str) -> None:
    body = {"service": "elser", "service_settings": {"num_allocations": 1, "num_threads": 1}}
    response = client.put(
        f"/_inference/{unique_id}", json={**body, "task_type": "sparse_embedding"}
    )
    try:
        assert response.status_code == 200, response.text
        assert response.json()["service"] == "elasticsearch"
        assert response.json()["service_settings"]["model_id"] == ELSER
        warnings = response.headers.get_list("warning")
        assert any("The [elser] service is deprecated" in w for w in warnings), warnings
        # the default server is the newest modelled version
        number = RELEASES[NEWEST].number
        assert all(w.startswith(f"299 Elasticsearch-{number}-") for w in warnings), warnings
    finally:
        client.delete(f"/_inference/{unique_id}")


def test_put_adaptive_omits_num_allocations(client: httpx.Client, unique_id: str) -> None:
    adaptive = {"enabled": True, "min_number_of_allocations": 1, "max_number_of_allocations": 4}
    body = {
        "service": "elasticsearch",
        "service_settings": {"model_id": ELSER, "num_threads": 2, "adaptive_allocations": adaptive},
        "chunking_settings": {"strategy": "word", "max_chunk_size": 100, "overlap": 20},
    }
    response = client.put(f"/_inference/sparse_embedding/{unique_id}", json=body)
    try:
        assert response.status_code == 200, response.text
        settings = response.json()["service_settings"]
        assert "num_allocations" not in settings
        assert settings["adaptive_allocations"] == adaptive
        assert response.json()["chunking_settings"] == body["chunking_settings"]
        # GET shows the live allocation count (the adaptive minimum at first).
        listed = client.get(f"/_inference/{unique_id}").json()["endpoints"][0]
        assert listed["service_settings"]["num_allocations"] == 1
    finally:
        client.delete(f"/_inference/{unique_id}")


@pytest.mark.parametrize(
    "chunking",
    [
        {"strategy": "none"},
        {"strategy": "sentence", "max_chunk_size": 20, "sentence_overlap": 0},
        {"strategy": "word", "max_chunk_size": 300, "overlap": 150},
        {"strategy": "recursive", "max_chunk_size": 100, "separators": ["\n\n", "\n"]},
    ],
)
def test_put_valid_chunking(client: httpx.Client, unique_id: str, chunking: dict) -> None:
    body = {**elser_body(), "chunking_settings": chunking}
    response = client.put(f"/_inference/sparse_embedding/{unique_id}", json=body)
    try:
        assert response.status_code == 200, response.text
        assert response.json()["chunking_settings"] == chunking
    finally:
        client.delete(f"/_inference/{unique_id}")


def test_put_timeout_408_keeps_endpoint(unique_id: str) -> None:
    """A short PUT timeout answers 408 while the endpoint stays stored (ES TransportStartTrainedModelDeploymentAction)."""
    from elsercheck.reference.config import ServerConfig
    from elsercheck.timing import PRESETS
    from tests.inprocess import InProcessServer

    timing = PRESETS["instant"].with_overrides(
        model_download_seconds=0.5, deployment_start_seconds=0.3
    )
    with (
        InProcessServer(ServerConfig(security=False, timing=timing)) as server,
        server.client() as c,
    ):
        path = f"/_inference/sparse_embedding/{unique_id}"
        first = c.put(path + "?timeout=100ms", json=elser_body())
        assert_error(
            first, 408, "status_exception",
            f"Model download task is currently running. Wait for trained model [{ELSER}] download "
            "task to complete then try again",
        )  # fmt: skip
        assert c.get(path).status_code == 200
        assert_error(
            c.put(path, json=elser_body()), 400, "resource_already_exists_exception",
            f"Inference endpoint [{unique_id}] already exists",
        )  # fmt: skip
        # After the download, a second endpoint times out on the deployment start instead.
        c.put(path + "-2", json=elser_body())  # waits for download and start
        third = c.put(path + "-3?timeout=100ms", json=elser_body())
        assert_error(
            third, 408, "status_exception",
            f"Timed out after [100ms] waiting for trained model deployment [{unique_id}-3] to "
            "start. Use the trained model stats API to track the state of the deployment and try "
            "again once it has started.",
        )  # fmt: skip


# -- GET ------------------------------------------------------------------------------------------
def test_get_forms(client: httpx.Client, endpoint: str) -> None:
    one = client.get(f"/_inference/{endpoint}").json()["endpoints"]
    typed = client.get(f"/_inference/sparse_embedding/{endpoint}").json()["endpoints"]
    assert one == typed and one[0]["inference_id"] == endpoint
    for path in ("/_inference", "/_inference/_all", "/_inference/sparse_embedding/_all"):
        ids = [e["inference_id"] for e in client.get(path).json()["endpoints"]]
        assert endpoint in ids and ".elser-2-elasticsearch" in ids
        assert ids == sorted(ids)
    # The only text_embedding endpoint is the preconfigured E5 one (defaultConfigs).
    typed_ids = [
        e["inference_id"] for e in client.get("/_inference/text_embedding/_all").json()["endpoints"]
    ]
    assert typed_ids == [".multilingual-e5-small-elasticsearch"]


def test_get_default_endpoint(client: httpx.Client) -> None:
    body = client.get("/_inference/.elser-2-elasticsearch").json()["endpoints"][0]
    assert body["service"] == "elasticsearch"
    assert body["service_settings"]["adaptive_allocations"] == {
        "enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 32
    }  # fmt: skip


def test_get_not_found(client: httpx.Client) -> None:
    assert_error(
        client.get("/_inference/missing-endpoint"), 404, "resource_not_found_exception",
        "Inference endpoint not found [missing-endpoint]",
    )  # fmt: skip


def test_get_task_type_mismatch(client: httpx.Client, endpoint: str) -> None:
    assert_error(
        client.get(f"/_inference/text_embedding/{endpoint}"), 400, "status_exception",
        "Requested task type [text_embedding] does not match the inference endpoint's task type "
        "[sparse_embedding]",
    )  # fmt: skip


# -- DELETE -----------------------------------------------------------------------------------------
def test_delete_and_gone(client: httpx.Client, unique_id: str) -> None:
    client.put(f"/_inference/sparse_embedding/{unique_id}", json=elser_body())
    dry = client.delete(f"/_inference/{unique_id}?dry_run=true")
    assert dry.json() == {
        "acknowledged": False,
        "pipelines": [],
        "indexes": [],
        "error_message": "",
    }
    assert client.get(f"/_inference/{unique_id}").status_code == 200
    deleted = client.delete(f"/_inference/sparse_embedding/{unique_id}")
    assert deleted.json() == {"acknowledged": True, "pipelines": [], "indexes": []}
    assert client.get(f"/_inference/{unique_id}").status_code == 404
    stats = client.get("/_ml/trained_models/_stats").json()["trained_model_stats"]
    assert unique_id not in {s.get("deployment_stats", {}).get("deployment_id") for s in stats}
    assert_error(
        client.delete(f"/_inference/{unique_id}"), 404, "resource_not_found_exception",
        f"Inference endpoint not found [{unique_id}]",
    )  # fmt: skip


def test_delete_reserved(client: httpx.Client) -> None:
    assert_error(
        client.delete("/_inference/.elser-2-elasticsearch"), 400, "status_exception",
        "[.elser-2-elasticsearch] is a reserved inference endpoint. Use the force=true query "
        "parameter to delete the inference endpoint.",
    )  # fmt: skip


def test_delete_bad_flag(client: httpx.Client, endpoint: str) -> None:
    assert_error(
        client.delete(f"/_inference/{endpoint}?force=maybe"), 400, "illegal_argument_exception",
        "Failed to parse value [maybe] as only [true] or [false] are allowed.",
    )  # fmt: skip


# -- _update ----------------------------------------------------------------------------------------
def test_update_allocations(client: httpx.Client, endpoint: str) -> None:
    body = {"service_settings": {"num_allocations": 3}}
    response = client.put(f"/_inference/sparse_embedding/{endpoint}/_update", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["service_settings"]["num_allocations"] == 3
    stats = client.get(f"/_ml/trained_models/{endpoint}/_stats").json()
    assert stats["trained_model_stats"][0]["deployment_stats"]["number_of_allocations"] == 3


def test_update_to_adaptive(client: httpx.Client, endpoint: str) -> None:
    adaptive = {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 2}
    body = {"service_settings": {"adaptive_allocations": adaptive}}
    response = client.put(f"/_inference/sparse_embedding/{endpoint}/_update", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["service_settings"]["adaptive_allocations"] == adaptive


@pytest.mark.parametrize(
    ("body", "status", "type_", "reason"),
    [
        ({"service_settings": {"num_allocations": 0}}, 400, "validation_exception",
         "Validation Failed: 1: [service_settings] Invalid value [0]. [num_allocations] must be a "
         "positive integer;"),
        # the default server is 9.5: #138122 rejects num_threads (test_update_versions has 8.19/9.1)
        ({"service_settings": {"num_threads": 2}}, 400, "validation_exception",
         "Validation Failed: 1: [num_threads] cannot be updated;"),
        ({"service_settings": {"num_allocations": 2,
                               "adaptive_allocations": {"enabled": True}}},
         400, "action_request_validation_exception",
         "Validation Failed: 1: [number_of_allocations] cannot be set if adaptive allocations is "
         "enabled;"),
        # ServiceUtils.resolveTaskType: the body must agree with the URL before the lookup
        ({"task_type": "rerank", "service_settings": {"num_allocations": 2}}, 400,
         "status_exception",
         "Cannot resolve conflicting task_type parameter in the request URL [sparse_embedding] "
         "and the request body [rerank]"),
    ],
    ids=["zero", "threads", "both", "task-type"],
)  # fmt: skip
def test_update_errors(
    client: httpx.Client, endpoint: str, body: dict, status: int, type_: str, reason: str
) -> None:
    response = client.put(f"/_inference/sparse_embedding/{endpoint}/_update", json=body)
    assert_error(response, status, type_, reason)


def test_update_one_segment_quirk(client: httpx.Client, endpoint: str) -> None:
    body = {"service_settings": {"num_allocations": 2}}
    assert_error(
        client.put(f"/_inference/{endpoint}/_update", json=body), 400, "status_exception",
        "Inference ID must be provided in the path",
    )  # fmt: skip


def test_update_default_and_missing(client: httpx.Client) -> None:
    body = {"service_settings": {"num_allocations": 2}}
    assert_error(
        client.put("/_inference/sparse_embedding/.elser-2-elasticsearch/_update", json=body),
        400, "status_exception", "Default endpoint [.elser-2-elasticsearch] cannot be updated",
    )  # fmt: skip
    assert_error(
        client.put("/_inference/sparse_embedding/nope/_update", json=body),
        404, "resource_not_found_exception",
        "The inference endpoint [nope] does not exist and cannot be updated",
    )  # fmt: skip


# -- inference ----------------------------------------------------------------------------------------
def test_infer_shapes_and_determinism(client: httpx.Client, endpoint: str) -> None:
    single = client.post(f"/_inference/sparse_embedding/{endpoint}", json={"input": "hello"})
    assert single.status_code == 200, single.text
    assert len(single.json()["sparse_embedding"]) == 1
    texts = ["The quick brown fox", "tokenization matters", "hello"]
    many = client.post(f"/_inference/{endpoint}", json={"input": texts}).json()["sparse_embedding"]
    assert len(many) == 3
    assert many[2] == single.json()["sparse_embedding"][0]
    for result in many:
        assert result["is_truncated"] is False
        assert result["embedding"] and all(w > 0 for w in result["embedding"].values())
    assert any(token.startswith("##") for token in many[1]["embedding"])


def test_infer_truncates_past_512_tokens(client: httpx.Client, endpoint: str) -> None:
    long_text = " ".join(f"word{i}" for i in range(600))
    result = client.post(f"/_inference/{endpoint}", json={"input": long_text}).json()
    assert result["sparse_embedding"][0]["is_truncated"] is True


@pytest.mark.parametrize(
    ("path", "body", "status", "type_", "reason"),
    [
        ("sparse_embedding/{id}", {}, 400, "action_request_validation_exception",
         "Validation Failed: 1: Field [input] cannot be null;"),
        ("sparse_embedding/{id}", {"input": []}, 400, "action_request_validation_exception",
         "Validation Failed: 1: Field [input] cannot be an empty array;"),
        ("sparse_embedding/{id}", {"input": "x", "input_type": "ingest"}, 400,
         "action_request_validation_exception",
         "Validation Failed: 1: Field [input_type] cannot be specified for task type "
         "[sparse_embedding];"),
        ("text_embedding/{id}", {"input": "x"}, 400, "status_exception",
         "Incompatible task_type, the requested type [text_embedding] does not match the model "
         "type [sparse_embedding]"),
        ("sparse_embedding/not-there", {"input": "x"}, 404, "resource_not_found_exception",
         "Inference endpoint not found [not-there]"),
        ("{id}/_stream", {"input": "x"}, 405, "status_exception",
         "Streaming is not allowed for service [elasticsearch]."),
        ("sparse_embedding/{id}", {"input": "x", "foo": 1}, 400, "x_content_parse_exception",
         None),
    ],
    ids=["null", "empty", "input-type", "task-type", "missing", "stream", "unknown-field"],
)  # fmt: skip
def test_infer_errors(
    client: httpx.Client, endpoint: str, path: str, body: dict, status: int, type_: str,
    reason: str | None,
) -> None:  # fmt: skip
    response = client.post(f"/_inference/{path.format(id=endpoint)}", json=body)
    assert_error(response, status, type_, reason)


def test_infer_unknown_field_reason(client: httpx.Client, endpoint: str) -> None:
    response = client.post(f"/_inference/{endpoint}", json={"input": "x", "foo": 1})
    assert response.json()["error"]["reason"].endswith(
        "[cluster:internal/xpack/inference] unknown field [foo]"
    )


def test_default_endpoint_starts_on_first_inference(client: httpx.Client) -> None:
    response = client.post("/_inference/.elser-2-elasticsearch", json={"input": "warm up"})
    assert response.status_code == 200, response.text
    stats = client.get("/_ml/trained_models/.elser-2-elasticsearch/_stats").json()
    assert stats["trained_model_stats"][0]["deployment_stats"]["state"] == "started"


# -- trained model stats ------------------------------------------------------------------------------
def test_stats_shape_and_counts(client: httpx.Client, endpoint: str) -> None:
    for _ in range(3):
        client.post(f"/_inference/{endpoint}", json={"input": ["a b", "c"]})
    body = client.get(f"/_ml/trained_models/{endpoint}/_stats").json()
    assert body["count"] == 1
    entry = body["trained_model_stats"][0]
    assert entry["model_id"] == ELSER
    stats = entry["deployment_stats"]
    assert stats["deployment_id"] == endpoint
    assert stats["allocation_status"] == {
        "allocation_count": 1, "target_allocation_count": 1, "state": "fully_allocated"
    }  # fmt: skip
    # Each input is its own deployment request (TransportInferTrainedModelDeploymentAction.
    # taskOperation: task.infer per input): 3 requests of 2 inputs count 6.
    assert stats["inference_count"] == 6
    node = stats["nodes"][0]
    assert node["inference_count"] == 6 and node["number_of_pending_requests"] == 0
    assert node["routing_state"] == {"routing_state": "started"}
    assert node["throughput_last_minute"] == 6
    for key in ("error_count", "rejected_execution_count", "timeout_count"):
        assert key not in stats and node[key] == 0


def test_stats_all_and_by_model(client: httpx.Client, endpoint: str) -> None:
    everything = client.get("/_ml/trained_models/_stats").json()
    models = [s["model_id"] for s in everything["trained_model_stats"]]
    assert "lang_ident_model_1" in models and models == sorted(models)
    by_model = client.get(f"/_ml/trained_models/{ELSER}/_stats").json()["trained_model_stats"]
    assert endpoint in {s["deployment_stats"]["deployment_id"] for s in by_model}
    paged = client.get("/_ml/trained_models/_stats?size=1").json()
    assert len(paged["trained_model_stats"]) == 1 and paged["count"] == everything["count"]


def test_stats_not_found(client: httpx.Client) -> None:
    assert_error(
        client.get("/_ml/trained_models/no-model/_stats"), 404, "resource_not_found_exception",
        "No known trained model with model_id [no-model]",
    )  # fmt: skip
    wildcard = client.get("/_ml/trained_models/nothing*/_stats")
    assert wildcard.json() == {"count": 0, "trained_model_stats": []}
    assert client.get("/_ml/trained_models/nothing*/_stats?allow_no_match=false").status_code == 404


# -- routing errors (RestController) ---------------------------------------------------------------------------
def test_unknown_path(client: httpx.Client) -> None:
    response = client.get("/_nothing/here")
    assert response.status_code == 400
    assert response.json() == {
        "error": "no handler found for uri [/_nothing/here] and method [GET]", "status": 400
    }  # fmt: skip
    assert response.headers["x-elastic-product"] == "Elasticsearch"


def test_wrong_method(client: httpx.Client) -> None:
    response = client.patch("/_inference/x")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET,POST,PUT,DELETE"
    assert response.json() == {
        "error": "Incorrect HTTP method for uri [/_inference/x] and method [PATCH], allowed: "
        "[GET, POST, PUT, DELETE]",
        "status": 405,
    }


def test_unrecognized_parameters(client: httpx.Client, endpoint: str) -> None:
    response = client.post(f"/_inference/{endpoint}?timout=5s", json={"input": "x"})
    assert_error(
        response, 400, "illegal_argument_exception",
        f"request [/_inference/{endpoint}] contains unrecognized parameter: [timout] -> did you "
        "mean [timeout]?",
    )  # fmt: skip
    several = client.get(f"/_inference/{endpoint}?a=1&b=2")
    assert several.json()["error"]["reason"] == (
        f"request [/_inference/{endpoint}] contains unrecognized parameters: [a], [b]"
    )
    assert client.get(f"/_inference/{endpoint}?pretty&human").status_code == 200


def test_missing_body(client: httpx.Client) -> None:
    assert_error(
        client.put("/_inference/sparse_embedding/no-body"), 400, "parse_exception",
        "request body is required",
    )  # fmt: skip


def test_body_not_supported(client: httpx.Client) -> None:
    response = client.request("GET", "/_inference", json={"a": 1})
    assert_error(
        response, 400, "illegal_argument_exception",
        "request [GET /_inference] does not support having a body",
    )  # fmt: skip


def test_pretty(client: httpx.Client) -> None:
    assert client.get("/?pretty").text.startswith('{\n  "name"')


def test_stats_paging_bounds(client: httpx.Client) -> None:
    assert_error(
        client.get("/_ml/trained_models/_stats?size=-1"), 400, "illegal_argument_exception",
        "[size] parameter cannot be negative, found [-1]",
    )  # fmt: skip
    assert_error(
        client.get("/_ml/trained_models/_stats?from=9999&size=2"), 400,
        "illegal_argument_exception",
        "The sum of parameters [from] and [size] cannot be higher than 10000.",
    )  # fmt: skip
