"""The documented lifecycle of an ELSER endpoint, and the rules that need a live one.

create → wait for ``fully_allocated`` (the seeds' instruction) → infer → get → update →
delete → 404 (ES inference and ML deployment actions, cited per test).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contract_support import (
    ELSER_X86,
    EndpointTracker,
    Profile,
    adaptive_body,
    assert_es_error,
    elser_body,
    started_endpoint,
    wait_fully_allocated,
    wait_zero_allocations,
)


@pytest.fixture(scope="module")
def live(es: httpx.Client, tracker: EndpointTracker, allocation_wait: float) -> Iterator[str]:
    """One started ELSER endpoint shared by this module's read-only tests."""
    with started_endpoint(es, tracker, "live", allocation_wait) as inference_id:
        yield inference_id


def test_lifecycle(es: httpx.Client, tracker: EndpointTracker, allocation_wait: float,
                   profile: Profile) -> None:  # fmt: skip
    inference_id = tracker.new_id("lifecycle")
    try:
        _lifecycle(es, tracker, allocation_wait, profile, inference_id)
    finally:
        tracker.delete(inference_id)  # also when a step failed: no endpoint is left behind


def _lifecycle(es: httpx.Client, tracker: EndpointTracker, allocation_wait: float,
               profile: Profile, inference_id: str) -> None:  # fmt: skip
    created = tracker.put(inference_id, elser_body())
    assert created.status_code in (200, 408), created.text
    if created.status_code == 200:
        body = created.json()
        assert body["inference_id"] == inference_id
        assert body["task_type"] == "sparse_embedding"
        assert body["service"] == "elasticsearch"
        assert body["service_settings"]["model_id"] == ELSER_X86
        assert body["service_settings"]["num_threads"] == 1
    stats = wait_fully_allocated(es, inference_id, allocation_wait)
    assert stats["allocation_status"]["allocation_count"] >= 1

    inferred = es.post(f"/_inference/sparse_embedding/{inference_id}", json={"input": ["a", "b"]})
    assert inferred.status_code == 200, inferred.text
    results = inferred.json()["sparse_embedding"]
    assert len(results) == 2
    for result in results:
        assert isinstance(result["is_truncated"], bool)
        assert all(isinstance(w, float | int) and w > 0 for w in result["embedding"].values())

    fetched = es.get(f"/_inference/sparse_embedding/{inference_id}")
    assert [e["inference_id"] for e in fetched.json()["endpoints"]] == [inference_id]

    updated = es.put(
        f"/_inference/sparse_embedding/{inference_id}/_update",
        json={"service_settings": {"num_allocations": 2}},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["service_settings"]["num_allocations"] == 2

    deleted = tracker.delete(inference_id)
    assert deleted.status_code == 200 and deleted.json()["acknowledged"] is True
    gone = es.get(f"/_inference/{inference_id}")
    assert_es_error(gone, 404, "resource_not_found_exception",
                    profile.reason("not_found", id=inference_id))  # fmt: skip


def test_rejected_put_leaves_nothing(es: httpx.Client, tracker: EndpointTracker) -> None:
    """A PUT refused at deployment start must not leave the endpoint stored (#137127)."""
    inference_id = tracker.new_id("rejected")
    try:
        response = tracker.put(inference_id, elser_body(num_threads=3))
        assert response.status_code == 400, response.text
        assert es.get(f"/_inference/{inference_id}").status_code == 404
    finally:
        tracker.remove(inference_id)


def test_deleted_means_gone(
    es: httpx.Client, tracker: EndpointTracker, allocation_wait: float
) -> None:
    inference_id = tracker.new_id("gone")
    try:
        assert tracker.put(inference_id, elser_body()).status_code in (200, 408)
        wait_fully_allocated(es, inference_id, allocation_wait)
        assert tracker.delete(inference_id).status_code == 200
        assert es.get(f"/_inference/{inference_id}").status_code == 404
        assert es.post(f"/_inference/{inference_id}", json={"input": "x"}).status_code == 404
        listed = [e["inference_id"] for e in es.get("/_inference/_all").json()["endpoints"]]
        assert inference_id not in listed
        stats = es.get("/_ml/trained_models/_stats").json()["trained_model_stats"]
        assert inference_id not in {
            (s.get("deployment_stats") or {}).get("deployment_id") for s in stats
        }
    finally:
        tracker.delete(inference_id)


def test_duplicate_put(
    es: httpx.Client, tracker: EndpointTracker, live: str, profile: Profile
) -> None:
    """A second PUT of a running ELSER endpoint meets its deployment first: ES checks for a
    trained-model assignment under the id before it reads the body (TransportPutInferenceModel
    Action.masterOperation → modelAssignments; ES ModelIdUniquenessIT)."""
    response = es.put(f"/_inference/sparse_embedding/{live}", json=elser_body())
    assert_es_error(response, 400, "status_exception",
                    profile.reason("id_matches_deployment", id=live))  # fmt: skip


def test_get_forms_agree(es: httpx.Client, live: str) -> None:
    one = es.get(f"/_inference/{live}").json()["endpoints"]
    typed = es.get(f"/_inference/sparse_embedding/{live}").json()["endpoints"]
    assert one == typed
    everything = [e["inference_id"] for e in es.get("/_inference/_all").json()["endpoints"]]
    assert live in everything and everything == sorted(everything)


def test_get_with_wrong_task_type(es: httpx.Client, live: str, profile: Profile) -> None:
    response = es.get(f"/_inference/text_embedding/{live}")
    assert_es_error(response, 400, "status_exception", profile.reason(
        "task_type_mismatch", requested="text_embedding", actual="sparse_embedding"))  # fmt: skip


@pytest.mark.parametrize(
    ("body", "key"),
    [({}, "input_null"), ({"input": []}, "input_empty")],
    ids=["input-null", "input-empty"],
)
def test_infer_input_rules(
    es: httpx.Client, live: str, profile: Profile, body: dict, key: str
) -> None:
    response = es.post(f"/_inference/sparse_embedding/{live}", json=body)
    assert_es_error(response, 400, "action_request_validation_exception", profile.reason(key))


def test_update_refuses_num_threads(es: httpx.Client, live: str, profile: Profile) -> None:
    """``num_threads`` cannot change after the deployment started: ``_update`` must say so, not
    answer 200 and ignore it (#137129; rejected from 9.3, #138122)."""
    response = es.put(f"/_inference/sparse_embedding/{live}/_update",
                      json={"service_settings": {"num_allocations": 1, "num_threads": 2}})  # fmt: skip
    assert_es_error(response, 400, "validation_exception", profile.reason("update_num_threads"))


def test_update_unknown_service_settings(es: httpx.Client, live: str, profile: Profile) -> None:
    """Unknown ``service_settings`` keys in ``_update``: rejected from 9.5 (#149430), ignored
    before."""
    response = es.put(f"/_inference/sparse_embedding/{live}/_update",
                      json={"service_settings": {"num_allocations": 1, "elsercheck_foo": 1}})  # fmt: skip
    if profile.feature("update_unknown_settings_rejected"):
        assert_es_error(response, 400, "status_exception", profile.reason(
            "update_unknown_settings", settings="{elsercheck_foo=1}"))  # fmt: skip
    else:
        assert response.status_code == 200, response.text
        assert "elsercheck_foo" not in response.json().get("service_settings", {})


def test_elser_refused_for_text_embedding(es: httpx.Client, tracker: EndpointTracker) -> None:
    """ELSER is a sparse model: an endpoint under ``text_embedding`` must be refused, not stored
    to fail at inference (#122249)."""
    inference_id = tracker.new_id("elser-dense")
    try:
        response = tracker.put(inference_id, elser_body(), task_type="text_embedding")
        assert 400 <= response.status_code < 500, response.text
        assert es.get(f"/_inference/{inference_id}").status_code == 404
    finally:
        tracker.remove(inference_id)


def test_infer_with_wrong_task_type(es: httpx.Client, live: str, profile: Profile) -> None:
    response = es.post(f"/_inference/text_embedding/{live}", json={"input": "x"})
    assert_es_error(response, 400, "status_exception", profile.reason(
        "incompatible_task_type", requested="text_embedding", actual="sparse_embedding"))  # fmt: skip


def test_stream_not_allowed(es: httpx.Client, live: str, profile: Profile) -> None:
    response = es.post(f"/_inference/{live}/_stream", json={"input": "x"})
    assert_es_error(response, 405, "status_exception", profile.reason("stream_not_allowed"))


def test_inference_timeout(es: httpx.Client, live: str, profile: Profile) -> None:
    """An inference that outlives ``timeout`` answers 408 (ES AbstractPyTorchAction.onTimeout)."""
    long_text = " ".join(["semantic search with learned sparse encoders"] * 60)
    response = es.post(f"/_inference/{live}", params={"timeout": "1ms"}, json={"input": long_text})
    status, type_ = profile.expect("inference-timeout", 408, "status_exception")
    assert_es_error(response, status, type_, profile.reason("inference_timeout", timeout="1ms"))


def test_sparse_embedding_is_deterministic(es: httpx.Client, live: str) -> None:
    text = {"input": "the same text gives the same tokens"}
    first = es.post(f"/_inference/{live}", json=text).json()
    assert first == es.post(f"/_inference/{live}", json=text).json()


def test_trained_model_stats_shape(es: httpx.Client, live: str) -> None:
    body = es.get(f"/_ml/trained_models/{live}/_stats").json()
    entries = [s for s in body["trained_model_stats"]
               if (s.get("deployment_stats") or {}).get("deployment_id") == live]  # fmt: skip
    assert len(entries) == 1
    stats = entries[0]["deployment_stats"]
    assert stats["model_id"] == entries[0]["model_id"]
    assert stats["state"] in ("starting", "started", "stopping", "failed")
    status = stats["allocation_status"]
    expected = (
        "starting" if status["allocation_count"] == 0 and status["target_allocation_count"] > 0
        else "started" if status["allocation_count"] < status["target_allocation_count"]
        else "fully_allocated"
    )  # fmt: skip
    assert status["state"] == expected
    # ES AssignmentStats: deployment-level number_of_allocations is the target, which for this
    # endpoint is the num_allocations it was created with; per-node number_of_allocations are
    # the nodes' current allocations, so the started nodes' add up to allocation_count.
    assert stats["number_of_allocations"] == status["target_allocation_count"] == 1, status
    if status["state"] == "fully_allocated":
        started = [n for n in stats["nodes"]
                   if n["routing_state"]["routing_state"] == "started"]  # fmt: skip
        assert sum(n["number_of_allocations"] for n in started) == status["allocation_count"]
    for node in stats["nodes"]:
        assert node["routing_state"]["routing_state"] in (
            "starting",
            "started",
            "stopping",
            "failed",
            "stopped",
        )
        assert node["number_of_pending_requests"] >= 0


def test_scale_from_zero_answers_409(es: httpx.Client, tracker: EndpointTracker, profile: Profile,
                                     pytestconfig: pytest.Config, allocation_wait: float) -> None:  # fmt: skip
    wait = pytestconfig.getoption("--scale-to-zero-wait")
    if wait is None:
        pytest.skip("needs --scale-to-zero-wait: the target's scale-to-zero time (24 h by default)")
    inference_id = tracker.new_id("zero")
    assert tracker.put(inference_id, adaptive_body(0, 1)).status_code in (200, 408)
    try:
        _scale_to_zero_then_409(es, inference_id, wait, allocation_wait, profile)
    finally:
        tracker.delete(inference_id)


def _scale_to_zero_then_409(es: httpx.Client, inference_id: str, wait: float,
                            allocation_wait: float, profile: Profile) -> None:  # fmt: skip
    wait_fully_allocated(es, inference_id, allocation_wait)
    wait_zero_allocations(es, inference_id, wait)
    response = es.post(f"/_inference/{inference_id}", json={"input": "wake up"})
    assert_es_error(
        response, 409, "status_exception", profile.reason("not_allocated", id=inference_id)
    )
