"""The Elastic Inference Service (EIS), where the target has it: an ``elastic``-service endpoint
listed by ``GET /_inference/_all`` (``.elser-2-elastic`` on clusters EIS authorises). Without
one every check here is skipped, naming why.

Expectations from Elastic's docs (EIS, ELSER on EIS, its rate limits: 429 "until the sliding
window moves on") and Elasticsearch's source (ElasticInferenceServiceSparseEmbeddingsServiceSettings
.fromMap, ServiceUtils.throwIfNotEmptyMap, ElasticInferenceServiceResponseHandler: Retry-After
passed on). Nothing here provokes a rate limit on purpose; a 429 met is checked for its shape.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from contract_support import EndpointTracker, Profile, assert_es_error

ELSER_ON_EIS = ".elser-2-elastic"


@pytest.fixture(scope="module")
def eis_endpoints(es: httpx.Client) -> list[dict[str, Any]]:
    listed = es.get("/_inference/_all")
    assert listed.status_code == 200, listed.text
    found = [e for e in listed.json()["endpoints"] if e.get("service") == "elastic"]
    if not found:
        pytest.skip("the target has no Elastic Inference Service endpoint (GET /_inference/_all "
                    "lists no `elastic` service): EIS checks not applicable")  # fmt: skip
    return found


@pytest.fixture(scope="module")
def sparse_eis(eis_endpoints: list[dict[str, Any]]) -> dict[str, Any]:
    sparse = [e for e in eis_endpoints if e.get("task_type") == "sparse_embedding"]
    if not sparse:
        pytest.skip("the target's EIS endpoints include no sparse_embedding (ELSER) endpoint")
    return next((e for e in sparse if e["inference_id"] == ELSER_ON_EIS), sparse[0])


def assert_rate_limit_answer(response: httpx.Response) -> None:
    """A 429 from EIS: the error envelope and ``Retry-After`` (delay-seconds)."""
    assert_es_error(response, 429, "status_exception", None)
    retry_after = response.headers.get("retry-after")
    assert retry_after is not None and retry_after.isdigit(), (
        f"429 without a usable Retry-After header: {dict(response.headers)}"
    )


def test_eis_endpoint_shape(sparse_eis: dict[str, Any]) -> None:
    settings = sparse_eis["service_settings"]
    assert isinstance(settings.get("model_id"), str) and settings["model_id"]
    for key in ("num_allocations", "num_threads", "adaptive_allocations"):
        assert key not in settings, f"{key} on an EIS endpoint: {sparse_eis}"


def test_inference_on_eis_returns_sparse_embeddings(
    es: httpx.Client, sparse_eis: dict[str, Any]
) -> None:
    answer = es.post(f"/_inference/sparse_embedding/{sparse_eis['inference_id']}",
                     json={"input": ["ELSER on the Elastic Inference Service", "second"]})  # fmt: skip
    if answer.status_code == 429:
        assert_rate_limit_answer(answer)
        pytest.skip("EIS rate-limited the request (its shape was checked)")
    assert answer.status_code == 200, answer.text
    results = answer.json()["sparse_embedding"]
    assert len(results) == 2
    for result in results:
        weights = result["embedding"]
        assert weights and all(isinstance(v, float | int) and v >= 0 for v in weights.values())


@pytest.mark.parametrize("key,value", [("num_allocations", 1), ("num_threads", 1),
                                       ("adaptive_allocations", {"enabled": True})])  # fmt: skip
def test_eis_put_refuses_ml_node_settings(
    es: httpx.Client, tracker: EndpointTracker, profile: Profile,
    sparse_eis: dict[str, Any], key: str, value: Any,
) -> None:  # fmt: skip
    """ServiceUtils.throwIfNotEmptyMap: deployment settings are unknown to the elastic service."""
    inference_id = tracker.new_id("eis-bad")
    settings = {"model_id": sparse_eis["service_settings"]["model_id"], key: value}
    answer = tracker.put(inference_id, {"service": "elastic", "service_settings": settings})
    rendered = f"{key}={value}" if not isinstance(value, dict) else f"{key}={{enabled=true}}"
    assert_es_error(answer, 400, "status_exception",
                    profile.reason("eis_unknown_settings", settings="{" + rendered + "}"))  # fmt: skip


def test_eis_put_requires_model_id(
    es: httpx.Client, tracker: EndpointTracker, profile: Profile, sparse_eis: dict[str, Any]
) -> None:
    answer = tracker.put(tracker.new_id("eis-nomodel"),
                         {"service": "elastic", "service_settings": {}})  # fmt: skip
    assert_es_error(answer, 400, "validation_exception", profile.reason("eis_model_id_missing"))


def test_eis_put_refuses_rate_limit(
    es: httpx.Client, tracker: EndpointTracker, profile: Profile, sparse_eis: dict[str, Any]
) -> None:
    """Elasticsearch no longer rate-limits EIS itself (#133845, 9.2): RateLimitSettings
    .rejectRateLimitFieldForRequestContext refuses ``rate_limit`` in a PUT."""
    reason = profile.reason("eis_rate_limit_refused")
    if reason is None:
        pytest.skip("this version (or an inexact profile) has no rate_limit refusal to pin: "
                    "before 9.2 (#133845) Elasticsearch accepted rate_limit for EIS")  # fmt: skip
    settings = {"model_id": sparse_eis["service_settings"]["model_id"],
                "rate_limit": {"requests_per_minute": 100}}  # fmt: skip
    answer = tracker.put(tracker.new_id("eis-rate"), {"service": "elastic",
                                                       "service_settings": settings})  # fmt: skip
    assert_es_error(answer, 400, "validation_exception", reason)
