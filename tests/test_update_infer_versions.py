"""`_update`, inference requests, preconfigured endpoints and trained-model stats, per modelled
Elasticsearch version (reference/versions.py; docs/es-source-findings.md A3, A6–A8)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from elsercheck.reference import versions
from elsercheck.reference.config import ServerConfig
from elsercheck.timing import PRESETS
from tests.conftest import assert_error, elser_body
from tests.inprocess import InProcessServer

VERSIONS = versions.supported()
PARSER = "cluster:internal/xpack/inference"
ELSER = ".elser_model_2_linux-x86_64"
DEFAULT_IDS = [".elser-2-elasticsearch", ".multilingual-e5-small-elasticsearch",
               ".rerank-v1-elasticsearch"]  # fmt: skip


class Servers:
    """One open in-process server per (version, conformant), started on first use."""

    def __init__(self) -> None:
        self._running: dict[tuple[str, bool], InProcessServer] = {}

    def client(self, line: str, conformant: bool = False) -> httpx.Client:
        key = (line, conformant)
        if key not in self._running:
            config = ServerConfig(
                security=False, timing=PRESETS["instant"],
                es_version=versions.resolve(line), conformant=conformant,
            )  # fmt: skip
            server = InProcessServer(config)
            server.__enter__()
            self._running[key] = server
        return self._running[key].client(timeout=30)

    def close(self) -> None:
        for server in self._running.values():
            server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    running = Servers()
    yield running
    running.close()


def _version(line: str) -> versions.EsVersion:
    return versions.resolve(line)


def _create(client: httpx.Client, inference_id: str) -> None:
    response = client.put(f"/_inference/sparse_embedding/{inference_id}", json=elser_body())
    assert response.status_code == 200, response.text


# -- _update: route, parameters, body rules before the 404 ------------------------------------
# 9.5 (row update-body-parse-400): the answers that changed, by the ≤ 9.4 reason.
UPDATE_BODY_9_5 = {
    "Failed to parse [task_type] in update request [{task_type=5}]": (
        400, "Failed to parse [task_type] in update request [{task_type=5}]"),
    "Unable to parse service settings in the request [{service_settings=x}]": (
        400, "Unable to parse [service_settings] in the request [{service_settings=x}]"),
    "Unable to parse task settings in the request [{task_settings=[1]}]": (
        400, "Unable to parse [task_settings] in the request [{task_settings=[1]}]"),
}  # fmt: skip


@pytest.mark.parametrize("line", VERSIONS)
def test_update_null_in_section(servers: Servers, line: str) -> None:
    """≤ 9.4: ``entry.getValue() instanceof Object`` fails for a null (500); 9.5 passes it on
    to the service's update parser, not modelled here: refused with 501, never a guess."""
    body = {"service_settings": {"num_allocations": None}}
    with servers.client(line) as client:
        response = client.put("/_inference/sparse_embedding/missing/_update", json=body)
    if _version(line).has("update-body-parse-400"):
        assert response.status_code == 501, response.text
        assert "[service_settings]" in response.json()["error"]["reason"]
    else:
        assert_error(
            response,
            500,
            "status_exception",
            "Failed to parse update request [{service_settings={num_allocations=null}}]",
        )


@pytest.mark.parametrize("line", VERSIONS)
def test_update_chunking_section_not_object(servers: Servers, line: str) -> None:
    body = {"chunking_settings": "x"}
    with servers.client(line) as client:
        response = client.put("/_inference/sparse_embedding/missing/_update", json=body)
    if _version(line).has("update-chunking-settings"):  # 9.5 test copy, id 54696924471
        reason = "Unable to parse [chunking_settings] in the request [{chunking_settings=x}]"
    else:
        reason = ("Request contained fields which cannot be updated, remove these fields and "
                  "try again [{chunking_settings=x}]")  # fmt: skip
    assert_error(response, 400, "status_exception", reason)


@pytest.mark.parametrize("line", VERSIONS)
@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({}, 400, "Request body is empty"),
        ({"foo": 1}, 400,
         "Request contained fields which cannot be updated, remove these fields and try again "
         "[{foo=1}]"),
        # HashMap order, not request order: "bar" hashes to bucket 2, "foo" to bucket 7
        ({"foo": 1, "bar": 2}, 400,
         "Request contained fields which cannot be updated, remove these fields and try again "
         "[{bar=2, foo=1}]"),
        ({"task_type": 5}, 500, "Failed to parse [task_type] in update request [{task_type=5}]"),
        ({"service_settings": "x"}, 400,
         "Unable to parse service settings in the request [{service_settings=x}]"),
        ({"task_settings": [1]}, 400,
         "Unable to parse task settings in the request [{task_settings=[1]}]"),
        ({"service_settings": {"num_allocations": 2}}, 404,
         "The inference endpoint [missing] does not exist and cannot be updated"),
    ],
    ids=["empty", "unknown-key", "hashmap-order", "task-type-not-string", "service-not-object",
         "task-not-object", "not-found"],
)  # fmt: skip
def test_update_body_rules_before_not_found(
    servers: Servers, line: str, body: dict, status: int, reason: str
) -> None:
    if _version(line).has("update-body-parse-400"):  # 9.5: CachedParsedSettings.moveFieldToMap
        status, reason = UPDATE_BODY_9_5.get(reason, (status, reason))
    with servers.client(line) as client:
        response = client.put("/_inference/sparse_embedding/missing/_update", json=body)
    type_ = "resource_not_found_exception" if status == 404 else "status_exception"
    assert_error(response, status, type_, reason)


@pytest.mark.parametrize("line", VERSIONS)
def test_update_chunking_settings_field(servers: Servers, line: str, unique_id: str) -> None:
    body = {"chunking_settings": {"strategy": "word", "max_chunk_size": 100, "overlap": 10}}
    with servers.client(line) as client:
        # the nested map prints in java.util.HashMap order too (checked against a JVM)
        if not _version(line).has("update-chunking-settings"):
            assert_error(
                client.put(f"/_inference/sparse_embedding/{unique_id}/_update", json=body), 400,
                "status_exception",
                "Request contained fields which cannot be updated, remove these fields and try "
                "again [{chunking_settings={overlap=10, max_chunk_size=100, strategy=word}}]",
            )  # fmt: skip
            return
        _create(client, unique_id)
        response = client.put(f"/_inference/sparse_embedding/{unique_id}/_update", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["chunking_settings"] == body["chunking_settings"]
        stored = client.get(f"/_inference/{unique_id}").json()["endpoints"][0]
        assert stored["chunking_settings"] == body["chunking_settings"]
        # validated as on PUT: the same answer PUT gives for the same settings
        bad = {"strategy": "word", "max_chunk_size": 5, "overlap": 1}
        on_update = client.put(
            f"/_inference/sparse_embedding/{unique_id}/_update", json={"chunking_settings": bad}
        )
        on_put = client.put(
            f"/_inference/sparse_embedding/{unique_id}-x",
            json={**elser_body(), "chunking_settings": bad},
        )
        assert on_update.status_code == 400 and on_update.json() == on_put.json()


@pytest.mark.parametrize("line", VERSIONS)
def test_update_one_segment_and_params(servers: Servers, line: str) -> None:
    body = {"service_settings": {"num_allocations": 2}}
    with servers.client(line) as client:
        assert_error(
            client.put("/_inference/missing/_update", json=body), 400, "status_exception",
            "Inference ID must be provided in the path",
        )  # fmt: skip
        path = "/_inference/sparse_embedding/missing/_update"
        assert client.put(path + "?master_timeout=5s", json=body).status_code == 404
        with_timeout = client.put(path + "?timeout=5s", json=body)
    if _version(line).has("update-timeout-param"):
        assert with_timeout.status_code == 404, with_timeout.text
    else:
        assert_error(
            with_timeout, 400, "illegal_argument_exception",
            f"request [{path}] contains unrecognized parameter: [timeout]",
        )  # fmt: skip


@pytest.mark.parametrize("line", VERSIONS)
def test_update_default_endpoint(servers: Servers, line: str) -> None:
    body = {"service_settings": {"num_allocations": 2}}
    with servers.client(line) as client:
        response = client.put(
            "/_inference/sparse_embedding/.elser-2-elasticsearch/_update", json=body
        )
        # an invalid id is no longer rejected up front from 9.5 (#150368): body rules, then 404
        bad_id = client.put("/_inference/sparse_embedding/Bad_Id/_update", json={})
    if _version(line).has("update-default-endpoint-message"):
        assert_error(
            response, 400, "status_exception",
            "Default endpoint [.elser-2-elasticsearch] cannot be updated",
        )  # fmt: skip
        assert_error(bad_id, 400, "status_exception", "Request body is empty")
    else:
        assert_error(
            response, 400, "action_request_validation_exception",
            "Validation Failed: 1: Invalid inference_id; '.elser-2-elasticsearch' can contain "
            "lowercase alphanumeric (a-z and 0-9), hyphens or underscores; must start and end "
            "with alphanumeric;",
        )  # fmt: skip
        assert bad_id.json()["error"]["type"] == "action_request_validation_exception"


# -- _update: what takes effect ---------------------------------------------------------------------
@pytest.mark.parametrize("conformant", [False, True], ids=["with-bugs", "conformant"])
@pytest.mark.parametrize("line", VERSIONS)
def test_update_num_threads(servers: Servers, line: str, conformant: bool, unique_id: str) -> None:
    """ES #137129 (8.19, 9.1): silently ignored; fixed by #138122 / #138191 (9.2 on)."""
    body = {"service_settings": {"num_threads": 4}}
    with servers.client(line, conformant) as client:
        _create(client, unique_id)
        response = client.put(f"/_inference/sparse_embedding/{unique_id}/_update", json=body)
    has_bug = not conformant and not _version(line).has("update-num-threads-rejected")
    if has_bug:
        assert response.status_code == 200, response.text
        assert response.json()["service_settings"]["num_threads"] == 1
    else:
        assert_error(
            response, 400, "validation_exception",
            "Validation Failed: 1: [num_threads] cannot be updated;",
        )  # fmt: skip


@pytest.mark.parametrize("line", VERSIONS)
def test_update_unknown_service_settings(servers: Servers, line: str, unique_id: str) -> None:
    body = {"service_settings": {"num_allocations": 2, "foo": 1}}
    with servers.client(line) as client:
        _create(client, unique_id)
        response = client.put(f"/_inference/sparse_embedding/{unique_id}/_update", json=body)
        stored = client.get(f"/_inference/{unique_id}").json()["endpoints"][0]
        task = client.put(
            f"/_inference/sparse_embedding/{unique_id}/_update", json={"task_settings": {"t": 1}}
        )
    if _version(line).has("update-unknown-settings-rejected"):
        # ELSER task settings consume nothing, so validateConsumedUpdateSettings reports them
        assert task.status_code == 400 and "[{t=1}] unknown to" in task.json()["error"]["reason"]
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["type"] == "status_exception"
        assert "[{foo=1}] unknown to the [elasticsearch] service" in error["reason"]
        assert stored["service_settings"]["num_allocations"] == 1  # nothing applied
    else:
        assert response.status_code == 200, response.text
        assert response.json()["service_settings"]["num_allocations"] == 2
        assert task.status_code == 200, task.text  # ignored: ELSER has no task settings


@pytest.mark.parametrize("line", VERSIONS)
def test_update_task_type_rules(servers: Servers, line: str, unique_id: str) -> None:
    body = {"service_settings": {"num_allocations": 2}}
    with servers.client(line) as client:
        _create(client, unique_id)
        assert_error(
            client.put(f"/_inference/text_embedding/{unique_id}/_update", json=body), 400,
            "status_exception", "Task type must match the task type of the existing endpoint",
        )  # fmt: skip
        same = client.put(
            f"/_inference/sparse_embedding/{unique_id}/_update",
            json={**body, "task_type": "sparse_embedding"},
        )
        assert same.status_code == 200, same.text
        unchanged = client.put(
            f"/_inference/sparse_embedding/{unique_id}/_update", json={"service_settings": {}}
        )
        assert unchanged.json() == same.json()


# -- inference request body -----------------------------------------------------------------------
# 9.5 (#150116): the rerank fields are unknown to the parser, whatever their value.
INFER_PARSE_9_5 = {
    f"[1:25] [{PARSER}] query doesn't support values of type: VALUE_NUMBER":
        f"[1:16] [{PARSER}] unknown field [query]",
    f"[1:25] [{PARSER}] failed to parse field [top_n]": f"[1:16] [{PARSER}] unknown field [top_n]",
}  # fmt: skip


@pytest.mark.parametrize("line", VERSIONS)
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"input": 5}', f"[1:11] [{PARSER}] input doesn't support values of type: VALUE_NUMBER"),
        ('{"input": true}', f"[1:11] [{PARSER}] input doesn't support values of type: VALUE_BOOLEAN"),
        ('{"input": null}', f"[1:11] [{PARSER}] input doesn't support values of type: VALUE_NULL"),
        ('{"input": {"a": 1}}', f"[1:11] [{PARSER}] input doesn't support values of type: START_OBJECT"),
        ('{"input": ["a", ["b"]]}', f"[1:11] [{PARSER}] failed to parse field [input]"),
        ('{"input": ["a", null]}', f"[1:11] [{PARSER}] failed to parse field [input]"),
        ('{"input": "x",\n "inptu": 1}', f"[2:2] [{PARSER}] unknown field [inptu] did you mean [input]?"),
        ('{"input": "x", "zzz": 1}', f"[1:16] [{PARSER}] unknown field [zzz]"),
        ('{"input": "x", "query": 5}', f"[1:25] [{PARSER}] query doesn't support values of type: VALUE_NUMBER"),
        ('{"input": "x", "task_settings": "s"}', f"[1:33] [{PARSER}] task_settings doesn't support values of type: VALUE_STRING"),
        ('{"input": "x", "top_n": "many"}', f"[1:25] [{PARSER}] failed to parse field [top_n]"),
        ('{"input": "x", "timeout": "soon"}', f"[1:27] [{PARSER}] failed to parse field [timeout]"),
        ('  []', f"[1:3] [{PARSER}] Expected START_OBJECT but was: START_ARRAY"),
    ],
    ids=["number", "boolean", "null", "object", "nested-array", "null-item", "suggestion",
         "unknown", "query-number", "task-settings-string", "top-n", "timeout", "not-object"],
)  # fmt: skip
def test_infer_parse_errors(servers: Servers, line: str, content: str, reason: str) -> None:
    if _version(line).has("inference-rerank-fields-removed"):  # 9.5, #150116
        reason = INFER_PARSE_9_5.get(reason, reason)
    with servers.client(line) as client:
        response = client.post(
            "/_inference/sparse_embedding/.elser-2-elasticsearch", content=content,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
    assert_error(response, 400, "x_content_parse_exception", reason)


@pytest.mark.parametrize("line", VERSIONS)
def test_infer_array_scalars_become_strings(servers: Servers, line: str) -> None:
    with servers.client(line) as client:
        mixed = client.post(
            "/_inference/.elser-2-elasticsearch", content='{"input": ["1", 1.50, true]}',
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        strings = client.post(
            "/_inference/.elser-2-elasticsearch", json={"input": ["1", "1.50", "true"]}
        )
    assert mixed.status_code == 200, mixed.text
    assert mixed.json() == strings.json()  # p.text(): the literal as written


@pytest.mark.parametrize("line", VERSIONS)
@pytest.mark.parametrize("typed", [True, False], ids=["task-type-in-url", "any"])
def test_infer_validation(servers: Servers, line: str, typed: bool) -> None:
    path = "/_inference/" + ("sparse_embedding/" if typed else "") + ".elser-2-elasticsearch"

    def reason(field: str) -> str:
        return (
            f"Validation Failed: 1: Field [{field}] cannot be specified for task type "
            "[sparse_embedding];"
        )

    with servers.client(line) as client:
        # only the first failing rule is reported; from 9.5 (#150116) top_n is a parse error,
        # which comes before any validation rule
        if _version(line).has("inference-rerank-fields-removed"):
            assert_error(client.post(path, json={"input": [], "top_n": 1}), 400,
                         "x_content_parse_exception",
                         f"[1:13] [{PARSER}] unknown field [top_n]")  # fmt: skip
        else:
            assert_error(
                client.post(path, json={"input": [], "top_n": 1}), 400,
                "action_request_validation_exception",
                "Validation Failed: 1: Field [input] cannot be an empty array;",
            )  # fmt: skip
        everything = {"input": "x", "return_documents": True, "top_n": 1, "query": "q",
                      "input_type": "ingest"}  # fmt: skip
        answers = {
            "return_documents": client.post(path, json=everything),
            "top_n": client.post(path, json={"input": "x", "top_n": 2, "query": "q"}),
            "query": client.post(path, json={"input": "x", "query": "q", "input_type": "ingest"}),
            "input_type": client.post(path, json={"input": "x", "input_type": "search"}),
        }
    if _version(line).has("inference-rerank-fields-removed"):
        # 9.5 (#150116): no longer declared, so unknown fields on both URLs (the first in the
        # body wins); input_type alone is still a validation rule of the typed URL
        for field, body_field in (("return_documents", "return_documents"), ("top_n", "top_n"),
                                  ("query", "query")):  # fmt: skip
            assert_error(answers[field], 400, "x_content_parse_exception",
                         f"[1:14] [{PARSER}] unknown field [{body_field}]")  # fmt: skip
        if typed:
            assert_error(answers["input_type"], 400, "action_request_validation_exception",
                         reason("input_type"))  # fmt: skip
        else:
            assert answers["input_type"].status_code == 200, answers["input_type"].text
        return
    if not typed:  # the one-segment URL is task type `any`: exempt from all four
        for field, response in answers.items():
            assert response.status_code == 200, (field, response.text)
        return
    assert_error(answers["return_documents"], 400, "action_request_validation_exception",
                 reason("return_documents"))  # fmt: skip
    assert_error(answers["top_n"], 400, "action_request_validation_exception", reason("top_n"))
    query_rejected = _version(line).has("inference-query-rejected")  # #131641, 9.2.0
    assert_error(answers["query"], 400, "action_request_validation_exception",
                 reason("query" if query_rejected else "input_type"))  # fmt: skip
    assert_error(answers["input_type"], 400, "action_request_validation_exception",
                 reason("input_type"))  # fmt: skip


@pytest.mark.parametrize("line", VERSIONS)
def test_infer_lookup_order(servers: Servers, line: str) -> None:
    """The proxy looks the endpoint up first only for the one-segment URL (task type any)."""
    with servers.client(line) as client:
        any_url = client.post("/_inference/nowhere", json={"inputs": "x"})
        typed = client.post("/_inference/sparse_embedding/nowhere", json={"inputs": "x"})
        valid_typed = client.post("/_inference/sparse_embedding/nowhere", json={"input": "x"})
    assert_error(
        any_url, 404, "resource_not_found_exception", "Inference endpoint not found [nowhere]"
    )
    assert typed.json()["error"]["type"] == "x_content_parse_exception"
    assert valid_typed.status_code == 404


# -- preconfigured endpoints ----------------------------------------------------------------------
@pytest.mark.parametrize("line", VERSIONS)
def test_default_endpoints_listed(servers: Servers, line: str) -> None:
    with servers.client(line) as client:
        listed = client.get("/_inference").json()["endpoints"]
        one = client.get("/_inference/rerank/.rerank-v1-elasticsearch").json()["endpoints"]
    defaults = {e["inference_id"]: e for e in listed if e["inference_id"].startswith(".")}
    assert sorted(defaults) == DEFAULT_IDS
    adaptive = {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 32}
    sentence = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
    assert defaults[".multilingual-e5-small-elasticsearch"] == {
        "inference_id": ".multilingual-e5-small-elasticsearch", "task_type": "text_embedding",
        "service": "elasticsearch",
        "service_settings": {"num_threads": 1, "model_id": ".multilingual-e5-small_linux-x86_64",
                             "adaptive_allocations": adaptive},
        "chunking_settings": sentence,
    }  # fmt: skip
    rerank = defaults[".rerank-v1-elasticsearch"]
    assert list(rerank) == [
        "inference_id",
        "task_type",
        "service",
        "service_settings",
        "task_settings",
    ]
    assert rerank["service_settings"] == {"num_threads": 1, "model_id": ".rerank-v1",
                                          "adaptive_allocations": adaptive}  # fmt: skip
    assert rerank["task_settings"] == {"return_documents": True}
    assert one == [rerank]
    assert defaults[".elser-2-elasticsearch"]["chunking_settings"] == sentence


@pytest.mark.parametrize("line", VERSIONS)
def test_default_endpoint_delete(servers: Servers, line: str) -> None:
    with servers.client(line) as client:
        assert_error(
            client.delete("/_inference/.multilingual-e5-small-elasticsearch"), 400,
            "status_exception",
            "[.multilingual-e5-small-elasticsearch] is a reserved inference endpoint. Use the "
            "force=true query parameter to delete the inference endpoint.",
        )  # fmt: skip
        # the task type is checked before the reserved id
        assert (
            client.delete("/_inference/rerank/.elser-2-elasticsearch")
            .json()["error"]["reason"]
            .startswith("Requested task type [rerank] does not match")
        )
        warm = client.post("/_inference/.elser-2-elasticsearch", json={"input": "warm"})
        assert warm.status_code == 200, warm.text
        forced = client.delete("/_inference/.elser-2-elasticsearch?force=true")
        assert forced.json() == {"acknowledged": True, "pipelines": [], "indexes": []}
        stats = client.get("/_ml/trained_models/_stats").json()["trained_model_stats"]
        deployments = {s.get("deployment_stats", {}).get("deployment_id") for s in stats}
        assert ".elser-2-elasticsearch" not in deployments
        # re-created on the next retrieval (#124781)
        again = client.get("/_inference/.elser-2-elasticsearch")
        assert again.status_code == 200
        assert (
            client.post("/_inference/.elser-2-elasticsearch", json={"input": "x"}).status_code
            == 200
        )


# -- trained model stats count --------------------------------------------------------------------
def test_stats_count_is_models_not_deployments(servers: Servers, unique_id: str) -> None:
    with servers.client(versions.NEWEST) as client:
        _create(client, unique_id + "-a")
        _create(client, unique_id + "-b")
        body = client.get(f"/_ml/trained_models/{ELSER}/_stats").json()
        everything = client.get("/_ml/trained_models/_stats").json()
    deployments = {s["deployment_stats"]["deployment_id"] for s in body["trained_model_stats"]}
    assert {unique_id + "-a", unique_id + "-b"} <= deployments
    assert body["count"] == 1
    models = {s["model_id"] for s in everything["trained_model_stats"]}
    assert everything["count"] == len(models) < len(everything["trained_model_stats"])
