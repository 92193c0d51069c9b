"""The 8.x trained-model path (``/_ml/trained_models`` and its deployments) and ingest pipelines
with the ``inference`` processor feeding ``_bulk?pipeline=``, the single-document API and
``index.default_pipeline``, against the in-process reference server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from elsercheck.reference.config import ServerConfig
from elsercheck.timing import PRESETS
from tests.conftest import assert_error, elser_body
from tests.inprocess import InProcessServer

ELSER = ".elser_model_2_linux-x86_64"
TEXT = {"input": {"field_names": ["text_field"]}}


@pytest.fixture
def es() -> Iterator[httpx.Client]:
    """A fresh open server per test: models and deployments are cluster-wide state."""
    yield from _serve(ServerConfig(security=False, timing=PRESETS["instant"]))


def _serve(config: ServerConfig) -> Iterator[httpx.Client]:
    with InProcessServer(config) as server, server.client(timeout=30) as client:
        yield client


@pytest.fixture
def slow_download() -> Iterator[httpx.Client]:
    timing = replace(PRESETS["instant"], model_download_seconds=0.4)
    yield from _serve(ServerConfig(security=False, timing=timing))


def _ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def test_put_downloads_then_fully_defined(slow_download: httpx.Client) -> None:
    es = slow_download
    config = _ok(es.put(f"/_ml/trained_models/{ELSER}", json=TEXT))
    assert config["model_id"] == ELSER
    assert config["input"] == {"field_names": ["text_field"]}
    assert "fully_defined" not in config
    status = _ok(es.get(f"/_ml/trained_models/{ELSER}?include=definition_status"))
    assert status["count"] == 1
    assert status["trained_model_configs"][0]["fully_defined"] is False
    deadline = time.monotonic() + 10
    while not es.get(f"/_ml/trained_models/{ELSER}?include=definition_status").json()[
        "trained_model_configs"
    ][0]["fully_defined"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert_error(es.put(f"/_ml/trained_models/{ELSER}", json=TEXT), 400,
                 "resource_already_exists_exception",
                 f"Trained machine learning model [{ELSER}] already exists")  # fmt: skip


def test_wait_for_completion_and_listing(slow_download: httpx.Client) -> None:
    es = slow_download
    _ok(es.put("/_ml/trained_models/.elser_model_2?wait_for_completion=true", json=TEXT))
    listed = _ok(es.get("/_ml/trained_models?include=definition_status"))
    ids = [c["model_id"] for c in listed["trained_model_configs"]]
    assert ids == [".elser_model_2", "lang_ident_model_1"]
    assert listed["trained_model_configs"][0]["fully_defined"] is True
    stats = _ok(es.get("/_ml/trained_models/_stats"))
    assert [s["model_id"] for s in stats["trained_model_stats"]] == ids  # one list of models
    page = _ok(es.get("/_ml/trained_models?size=1&from=1"))
    assert page["count"] == 2 and page["trained_model_configs"][0]["model_id"] == ids[1]
    assert_error(es.get("/_ml/trained_models/nope"), 404, "resource_not_found_exception",
                 "No known trained model with model_id [nope]")  # fmt: skip
    assert _ok(es.get("/_ml/trained_models/nope*"))["count"] == 0
    assert es.get("/_ml/trained_models/nope*?allow_no_match=false").status_code == 404
    assert es.get("/_ml/trained_models?include=definition").status_code == 501


def test_e5_and_rerank_refused_by_name(es: httpx.Client) -> None:
    for model in (".multilingual-e5-small", ".rerank-v1"):
        response = es.put(f"/_ml/trained_models/{model}", json=TEXT)
        assert response.status_code == 501, response.text
        assert model in response.json()["error"]["reason"]
        assert "does not model" in response.json()["error"]["reason"]


def test_deployment_lifecycle_shared_with_inference(es: httpx.Client) -> None:
    _ok(es.put(f"/_ml/trained_models/{ELSER}?wait_for_completion=true", json=TEXT))
    started = _ok(es.post(
        f"/_ml/trained_models/{ELSER}/deployment/_start?deployment_id=my-elser"
        "&number_of_allocations=2&threads_per_allocation=2&wait_for=fully_allocated"
    ))  # fmt: skip
    params = started["assignment"]["task_parameters"]
    assert params["deployment_id"] == "my-elser" and params["number_of_allocations"] == 2
    assert params["queue_capacity"] == 1024
    assert_error(es.post(f"/_ml/trained_models/{ELSER}/deployment/_start?deployment_id=my-elser"),
                 400, "status_exception", "Could not start model deployment because an existing "
                 "deployment with the same id [my-elser] exist")  # fmt: skip
    # an endpoint cannot take the id of an ML deployment (api/inference.py, ES
    # TransportPutInferenceModelAction: the id matches a trained model assignment)
    assert_error(es.put("/_inference/sparse_embedding/my-elser", json=elser_body()), 400,
                 "status_exception", "Inference endpoint IDs must be unique. Requested inference "
                 "endpoint ID [my-elser] matches existing trained model ID(s) but must not.")  # fmt: skip
    assert es.get("/_inference/my-elser").status_code == 404
    stats = _ok(es.get("/_ml/trained_models/my-elser/_stats"))
    deployment = stats["trained_model_stats"][0]["deployment_stats"]
    assert deployment["allocation_status"]["state"] == "fully_allocated"
    assert deployment["threads_per_allocation"] == 2
    inferred = _ok(es.post("/_ml/trained_models/my-elser/_infer",
                           json={"docs": [{"text_field": "hello world"}]}))  # fmt: skip
    tokens = inferred["inference_results"][0]["predicted_value"]
    assert tokens and all(isinstance(w, float) for w in tokens.values())
    # an inference endpoint on the started deployment answers the same tokens
    _ok(es.put("/_inference/sparse_embedding/on-ml", json={
        "service": "elasticsearch", "service_settings": {"deployment_id": "my-elser"}}))  # fmt: skip
    via_endpoint = _ok(es.post("/_inference/on-ml", json={"input": "hello world"}))
    assert via_endpoint["sparse_embedding"][0]["embedding"] == tokens
    assert_error(es.delete(f"/_ml/trained_models/{ELSER}"), 409, "status_exception",
                 f"Cannot delete model [{ELSER}] as it is currently deployed; use force to "
                 "delete the model")  # fmt: skip
    updated = _ok(es.post("/_ml/trained_models/my-elser/deployment/_update",
                          json={"number_of_allocations": 1}))  # fmt: skip
    assert updated["assignment"]["task_parameters"]["number_of_allocations"] == 1
    assert _ok(es.post("/_ml/trained_models/my-elser/deployment/_stop")) == {"stopped": True}
    assert es.get("/_ml/trained_models/my-elser/_stats").status_code == 404
    assert _ok(es.delete(f"/_ml/trained_models/{ELSER}")) == {"acknowledged": True}
    assert es.get(f"/_ml/trained_models/{ELSER}").status_code == 404


def test_start_validation(es: httpx.Client) -> None:
    response = es.post(f"/_ml/trained_models/{ELSER}/deployment/_start?threads_per_allocation=3")
    assert_error(response, 400, "action_request_validation_exception", None)
    assert "[threads_per_allocation] must be a power of 2" in response.text
    assert_error(es.post(f"/_ml/trained_models/{ELSER}/deployment/_start"), 404,
                 "resource_not_found_exception",
                 f"No known trained model with model_id [{ELSER}]")  # fmt: skip
    assert es.post("/_ml/trained_models/x/deployment/_start?priority=low").status_code == 501


def _pipeline(es: httpx.Client, name: str, processors: list) -> None:
    _ok(es.put(f"/_ingest/pipeline/{name}", json={"processors": processors}))


def test_bulk_pipeline_with_inference_endpoint(es: httpx.Client) -> None:
    _ok(es.put("/_inference/sparse_embedding/my-elser", json=elser_body()))
    _pipeline(es, "elser-io", [
        {"inference": {"model_id": "my-elser", "input_output": [
            {"input_field": "content", "output_field": "content_embedding"}]}},
        {"set": {"field": "stage", "value": "embedded"}},
        {"remove": {"field": "drop_me"}},
    ])  # fmt: skip
    assert _ok(es.get("/_ingest/pipeline/elser-io"))["elser-io"]["processors"][1] == {
        "set": {"field": "stage", "value": "embedded"}}  # fmt: skip
    body = (
        '{"index": {"_index": "docs", "_id": "1"}}\n{"content": "hello world", "drop_me": 1}\n'
        '{"index": {"_index": "docs", "_id": "2"}}\n{"content": "no drop field"}\n'
    )
    answer = _ok(es.post("/_bulk?pipeline=elser-io&refresh=true", content=body,
                         headers={"content-type": "application/x-ndjson"}))  # fmt: skip
    assert answer["errors"] is True
    assert answer["items"][0]["index"]["status"] == 201
    failure = answer["items"][1]["index"]["error"]
    assert failure["reason"] == "field [drop_me] not present as part of path [drop_me]"
    doc = _ok(es.get("/docs/_doc/1"))["_source"]
    assert doc["stage"] == "embedded" and "drop_me" not in doc
    direct = _ok(es.post("/_inference/my-elser", json={"input": "hello world"}))
    assert doc["content_embedding"] == direct["sparse_embedding"][0]["embedding"]
    assert es.get("/docs/_doc/2").status_code == 404
    # the pipeline's endpoint is protected (ES TransportDeleteInferenceEndpointAction)
    dry = _ok(es.delete("/_inference/my-elser?dry_run=true"))
    assert dry["pipelines"] == ["elser-io"] and dry["acknowledged"] is False
    assert_error(es.delete("/_inference/my-elser"), 409, "status_exception",
                 "Inference endpoint my-elser is referenced by pipelines: [elser-io]. Ensure that "
                 "no pipelines are using this inference endpoint, or use force to ignore this "
                 "warning and delete the inference endpoint.")  # fmt: skip
    assert _ok(es.delete("/_ingest/pipeline/elser-io")) == {"acknowledged": True}
    assert es.get("/_ingest/pipeline/elser-io").status_code == 404


def test_default_pipeline_field_map_form_on_deployment(es: httpx.Client) -> None:
    """The 8.x guide: target_field ``ml`` and results_field ``tokens`` → ``ml.tokens``."""
    _ok(es.put("/_ml/trained_models/.elser_model_2?wait_for_completion=true", json=TEXT))
    _ok(es.post("/_ml/trained_models/.elser_model_2/deployment/_start?wait_for=started"))
    _pipeline(es, "elser-v2-test", [{"inference": {
        "model_id": ".elser_model_2", "target_field": "ml",
        "field_map": {"text": "text_field"},
        "inference_config": {"text_expansion": {"results_field": "tokens"}}}}])  # fmt: skip
    stats = _ok(es.get("/_ml/trained_models/.elser_model_2/_stats"))
    assert stats["trained_model_stats"][0]["pipeline_count"] == 1
    _ok(es.put("/guide", json={
        "settings": {"index": {"default_pipeline": "elser-v2-test"}},
        "mappings": {"properties": {"text": {"type": "text"},
                                    "ml": {"properties": {"tokens": {"type": "sparse_vector"}}}}},
    }))  # fmt: skip
    _ok(es.put("/guide/_doc/1?refresh=true", json={"text": "a passage"}), 201)
    source = _ok(es.get("/guide/_doc/1"))["_source"]
    assert source["ml"]["model_id"] == ".elser_model_2"
    # 9.5: the sparse_vector is kept out of _source answers (exclude_source_vectors, #131907);
    # the query below finds the document by it
    assert "tokens" not in source["ml"]
    # the 8.x guide's query: sparse_vector with the model's deployment as inference_id
    hits = _ok(es.post("/guide/_search", json={"query": {"sparse_vector": {
        "field": "ml.tokens", "inference_id": ".elser_model_2", "query": "a passage"}}}))  # fmt: skip
    assert [h["_id"] for h in hits["hits"]["hits"]] == ["1"]
    _ok(es.put("/guide/_doc/2?pipeline=_none", json={"text": "raw"}), 201)
    assert "ml" not in _ok(es.get("/guide/_doc/2"))["_source"]
    assert_error(es.post("/_ml/trained_models/.elser_model_2/deployment/_stop"), 409,
                 "status_exception", "Cannot stop deployment [.elser_model_2] as it is referenced "
                 "by ingest processors; use force to stop the deployment")  # fmt: skip
    assert _ok(es.post("/_ml/trained_models/.elser_model_2/deployment/_stop?force=true"))


def test_unmodelled_processors_refused_at_put(es: httpx.Client) -> None:
    response = es.put("/_ingest/pipeline/p", json={"processors": [{"lowercase": {"field": "a"}}]})
    assert response.status_code == 501 and "[lowercase]" in response.text
    response = es.put("/_ingest/pipeline/p", json={"processors": [
        {"set": {"field": "a", "value": "b", "if": "ctx.a == null"}}]})  # fmt: skip
    assert response.status_code == 501 and "[if]" in response.text
    response = es.put("/_ingest/pipeline/p", json={"processors": [{"set": {"field": "a"}}]})
    assert_error(response, 400, "parse_exception", "[value] required property is missing")
    response = es.put("/_ingest/pipeline/p", json={"processors": [{"inference": {
        "model_id": "m", "target_field": "x",
        "input_output": [{"input_field": "a", "output_field": "b"}]}}]})  # fmt: skip
    assert_error(response, 400, "parse_exception", None)
    assert "incompatible with [input_output]" in response.text
    missing = es.post("/_bulk?pipeline=absent", content='{"index":{"_index":"x"}}\n{"a":1}\n',
                      headers={"content-type": "application/x-ndjson"})  # fmt: skip
    error = _ok(missing)["items"][0]["index"]["error"]
    assert error["reason"] == "pipeline with id [absent] does not exist"


def test_xpack_usage_only_where_its_form_was_read() -> None:
    """9.5 answers the inference section only (tests/test_yaml_rest.py runs Elastic's usage
    file); 8.19's form was not verified: refused naming it."""
    from elsercheck.reference import versions

    config = ServerConfig(security=False, timing=PRESETS["instant"],
                          es_version=versions.resolve("8.19"))  # fmt: skip
    for client in _serve(config):
        response = client.get("/_xpack/usage")
        assert response.status_code == 501 and "/_xpack/usage" in response.text
    for client in _serve(ServerConfig(security=False, timing=PRESETS["instant"])):
        assert list(_ok(client.get("/_xpack/usage"))) == ["inference"]
