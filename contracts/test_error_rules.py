"""One test per documented error rule (ES TransportPutInferenceModelAction et al.): status and error type always, the
reason text where the target's version profile pins it. None of these requests create
anything on a conformant target; the tracker removes whatever a non-conformant one stores."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from contract_support import ELSER_X86, EndpointTracker, Profile, assert_es_error, elser_body


def settings_only(**settings: Any) -> dict[str, Any]:
    return {"service": "elasticsearch", "service_settings": settings}


def with_chunking(chunking: Any) -> dict[str, Any]:
    return {**elser_body(), "chunking_settings": chunking}


# (rule, path under /_inference/ with {id}, body, status, type, profile key, reason values)
PUT_RULES: list[tuple[str, str, Any, int, str, str, dict[str, Any]]] = [
    ("id-uppercase", "sparse_embedding/Upper-{id}", elser_body(), 400,
     "action_request_validation_exception", "invalid_id", {"id": "Upper-{id}"}),
    ("id-trailing-dash", "sparse_embedding/{id}-", elser_body(), 400,
     "action_request_validation_exception", "invalid_id", {"id": "{id}-"}),
    ("id-leading-dot", "sparse_embedding/.{id}", elser_body(), 400,
     "action_request_validation_exception", "invalid_id", {"id": ".{id}"}),
    ("task-type-unknown", "bogus_task/{id}", elser_body(), 400, "status_exception",
     "unknown_task_type", {"value": "bogus_task"}),
    ("task-type-missing", "{id}", elser_body(), 400, "status_exception", "missing_task_type", {}),
    ("task-type-any", "{id}", {**elser_body(), "task_type": "any"}, 400, "status_exception",
     "any_task_type", {}),
    ("task-type-conflict", "sparse_embedding/{id}", {**elser_body(), "task_type": "rerank"}, 400,
     "status_exception", "conflicting_task_type", {"path": "sparse_embedding", "body": "rerank"}),
    ("service-missing", "sparse_embedding/{id}", {"service_settings": {}}, 400,
     "status_exception", "missing_service", {}),
    ("service-unknown", "sparse_embedding/{id}", {"service": "no-such-service",
     "service_settings": {}}, 400, "status_exception", "unknown_service",
     {"name": "no-such-service"}),
    ("service-settings-missing", "sparse_embedding/{id}", {"service": "elasticsearch"}, 400,
     "status_exception", "missing_service_settings", {}),
    ("unknown-top-level-key", "sparse_embedding/{id}", {**elser_body(), "foo": "bar"}, 400,
     "status_exception", "unknown_settings", {"settings": "{foo=bar}"}),
    ("threads-missing", "sparse_embedding/{id}",
     settings_only(model_id=ELSER_X86, num_allocations=1), 400, "validation_exception",
     "threads_missing", {}),
    ("threads-zero", "sparse_embedding/{id}", elser_body(num_threads=0), 400,
     "validation_exception", "threads_not_positive", {"value": 0}),
    ("allocations-missing", "sparse_embedding/{id}", settings_only(model_id=ELSER_X86,
     num_threads=1), 400, "validation_exception", "neither_allocations", {}),
    ("adaptive-unknown-key", "sparse_embedding/{id}", settings_only(model_id=ELSER_X86,
     num_threads=1, adaptive_allocations={"enabled": True, "foo": 1}), 400,
     "validation_exception", "adaptive_unknown_key", {"key": "foo"}),
    ("adaptive-min-negative", "sparse_embedding/{id}", settings_only(model_id=ELSER_X86,
     num_threads=1, adaptive_allocations={"enabled": True, "min_number_of_allocations": -2}),
     400, "validation_exception", "adaptive_min_negative", {}),
    ("adaptive-max-zero", "sparse_embedding/{id}", settings_only(model_id=ELSER_X86,
     num_threads=1, adaptive_allocations={"enabled": True, "max_number_of_allocations": 0}),
     400, "validation_exception", "adaptive_max_not_positive", {}),
    ("adaptive-min-above-max", "sparse_embedding/{id}", settings_only(model_id=ELSER_X86,
     num_threads=1, adaptive_allocations={"enabled": True, "min_number_of_allocations": 4,
     "max_number_of_allocations": 2}), 400, "validation_exception", "adaptive_min_above_max", {}),
    ("model-id-missing", "sparse_embedding/{id}", settings_only(num_allocations=1,
     num_threads=1), 400, "illegal_argument_exception", "model_id_required", {}),
    ("elser-v1-unavailable", "sparse_embedding/{id}", elser_body(model_id=".elser_model_1"), 400,
     "illegal_argument_exception", "wrong_platform", {"model_id": ".elser_model_1"}),
    ("threads-not-power-of-two", "sparse_embedding/{id}", elser_body(num_threads=3), 400,
     "action_request_validation_exception", "threads_power_of_two", {}),
    ("allocations-and-adaptive", "sparse_embedding/{id}",
     elser_body(adaptive_allocations={"enabled": True}), 400,
     "action_request_validation_exception", "allocations_with_adaptive", {}),
    ("chunking-no-strategy", "sparse_embedding/{id}", with_chunking({"max_chunk_size": 100}),
     400, "illegal_argument_exception", "no_strategy", {}),
    ("chunking-bad-strategy", "sparse_embedding/{id}", with_chunking({"strategy": "page"}), 400,
     "illegal_argument_exception", "bad_strategy", {"value": "page"}),
    ("sentence-below-20", "sparse_embedding/{id}", with_chunking({"strategy": "sentence",
     "max_chunk_size": 19}), 400, "validation_exception", "chunk_below_min",
     {"value": 19, "bound": 20}),
    ("word-below-10", "sparse_embedding/{id}", with_chunking({"strategy": "word",
     "max_chunk_size": 9, "overlap": 1}), 400, "validation_exception", "chunk_below_min",
     {"value": 9, "bound": 10}),
    ("chunk-above-300", "sparse_embedding/{id}", with_chunking({"strategy": "sentence",
     "max_chunk_size": 301}), 400, "validation_exception", "chunk_above_max", {"value": 301}),
    ("word-overlap-above-half", "sparse_embedding/{id}", with_chunking({"strategy": "word",
     "max_chunk_size": 100, "overlap": 51}), 400, "validation_exception", "overlap_too_big",
     {"value": 51, "bound": 50}),
    ("sentence-overlap-2", "sparse_embedding/{id}", with_chunking({"strategy": "sentence",
     "max_chunk_size": 100, "sentence_overlap": 2}), 400, "validation_exception",
     "sentence_overlap", {"value": 2}),
    ("word-unknown-keys", "sparse_embedding/{id}", with_chunking({"strategy": "word",
     "max_chunk_size": 100, "overlap": 10, "sentence_overlap": 1}), 400, "validation_exception",
     "word_unknown_keys", {"keys": "sentence_overlap"}),
    ("sentence-unknown-keys", "sparse_embedding/{id}", with_chunking({"strategy": "sentence",
     "max_chunk_size": 100, "overlap": 10}), 400, "validation_exception",
     "sentence_unknown_keys", {"keys": "overlap"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "path", "body", "status", "type_", "key", "values"),
    PUT_RULES,
    ids=[rule[0] for rule in PUT_RULES],
)
def test_put_rule(
    es: httpx.Client, tracker: EndpointTracker, profile: Profile, rule: str, path: str,
    body: Any, status: int, type_: str, key: str, values: dict[str, Any],
) -> None:  # fmt: skip
    inference_id = tracker.new_id("rule")
    full_path = path.format(id=inference_id)
    stored_id = full_path.rsplit("/", 1)[-1]
    status, type_ = profile.expect(rule, status, type_)  # a version may answer otherwise
    try:
        response = es.put(f"/_inference/{full_path}", json=body, timeout=120)
        expected = {
            k: v.replace("{id}", inference_id) if isinstance(v, str) else v
            for k, v in values.items()
        }
        assert_es_error(response, status, type_, profile.reason(key, **expected))
    finally:
        # A non-conformant target may have stored it anyway: remove only our own id.
        if stored_id.startswith(tracker.prefix):
            tracker.remove(stored_id)


def test_reserved_default_endpoint_cannot_be_deleted(es: httpx.Client, profile: Profile) -> None:
    default = ".elser-2-elasticsearch"
    if es.get(f"/_inference/{default}").status_code != 200:
        pytest.skip(f"target has no preconfigured {default} endpoint")
    response = es.delete(f"/_inference/{default}")
    assert_es_error(
        response, 400, "status_exception", profile.reason("reserved_delete", id=default)
    )


def test_reserved_default_endpoint_cannot_be_updated(es: httpx.Client, profile: Profile) -> None:
    default = ".elser-2-elasticsearch"
    if es.get(f"/_inference/{default}").status_code != 200:
        pytest.skip(f"target has no preconfigured {default} endpoint")
    response = es.put(
        f"/_inference/sparse_embedding/{default}/_update",
        json={"service_settings": {"num_allocations": 2}},
    )
    status, type_ = profile.expect("default-update", 400, "status_exception")
    assert_es_error(response, status, type_, profile.reason("default_update", id=default))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/_inference/{id}", None),
        ("DELETE", "/_inference/{id}", None),
        ("POST", "/_inference/sparse_embedding/{id}", {"input": "x"}),
    ],
    ids=["get", "delete", "infer"],
)
def test_unknown_endpoint(
    es: httpx.Client, tracker: EndpointTracker, profile: Profile, method: str, path: str,
    body: dict[str, Any] | None,
) -> None:  # fmt: skip
    missing = tracker.new_id("missing")
    response = es.request(method, path.format(id=missing), json=body)
    assert_es_error(
        response, 404, "resource_not_found_exception", profile.reason("not_found", id=missing)
    )


def test_embedding_task_type(es: httpx.Client, tracker: EndpointTracker, profile: Profile) -> None:
    """``embedding`` is a task type from 9.3 (ES TaskType, #138198); before, an unknown one.
    What ELSER answers under it from 9.3 is not pinned: only that it is no longer unknown."""
    inference_id = tracker.new_id("embedding")
    try:
        response = es.put(f"/_inference/embedding/{inference_id}", json=elser_body())
        if profile.feature("embedding_task_type"):
            error = response.json().get("error") if response.status_code >= 400 else None
            reason = error.get("reason", "") if isinstance(error, dict) else ""
            assert "Unknown task_type" not in reason, response.text
        else:
            assert_es_error(response, 400, "status_exception",
                            profile.reason("unknown_task_type", value="embedding"))  # fmt: skip
    finally:
        tracker.remove(inference_id)


# Inference request rules checked before the endpoint is looked up (ES InferenceAction.Request
# parser and validate(), run before the transport action): a missing endpoint is enough.
# (rule, body, status, type, profile key or None; a feature that turns the rule on)
INFER_RULES: list[tuple[str, dict[str, Any], int, str, str | None, str | None]] = [
    ("top-n", {"input": "x", "top_n": 1}, 400, "action_request_validation_exception",
     "top_n_for_sparse", None),
    ("return-documents", {"input": "x", "return_documents": True}, 400,
     "action_request_validation_exception", "return_documents_for_sparse", None),
    ("query", {"input": "x", "query": "q"}, 400, "action_request_validation_exception",
     "query_for_sparse", "inference_query_rejected"),
    ("input-number", {"input": 5}, 400, "x_content_parse_exception", None, None),
    ("input-object", {"input": {"text": "x"}}, 400, "x_content_parse_exception", None, None),
    ("unknown-field", {"input": "x", "elsercheck_bogus": 1}, 400, "x_content_parse_exception",
     None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "body", "status", "type_", "key", "feature"), INFER_RULES,
    ids=[rule[0] for rule in INFER_RULES],
)  # fmt: skip
def test_infer_request_rule(
    es: httpx.Client, tracker: EndpointTracker, profile: Profile, rule: str,
    body: dict[str, Any], status: int, type_: str, key: str | None, feature: str | None,
) -> None:  # fmt: skip
    missing = tracker.new_id("infer-rule")
    response = es.post(f"/_inference/sparse_embedding/{missing}", json=body)
    if feature is not None and not profile.feature(feature):
        # Accepted at this version: the request goes on to the (missing) endpoint.
        assert_es_error(response, 404, "resource_not_found_exception",
                        profile.reason("not_found", id=missing))  # fmt: skip
        return
    status, type_ = profile.expect(rule, status, type_)
    assert_es_error(response, status, type_, profile.reason(key) if key else None)


# _update body rules, checked before the endpoint is looked up (ES UpdateInferenceModelAction
# .Request.getContentAsSettings, RestUpdateInferenceModelAction): a missing endpoint is enough.
def test_update_empty_body(es: httpx.Client, tracker: EndpointTracker, profile: Profile) -> None:
    missing = tracker.new_id("upd-empty")
    response = es.put(f"/_inference/sparse_embedding/{missing}/_update", json={})
    assert_es_error(response, 400, "status_exception", profile.reason("update_empty_body"))


def test_update_timeout_parameter(
    es: httpx.Client, tracker: EndpointTracker, profile: Profile
) -> None:
    missing = tracker.new_id("upd-timeout")
    path = f"/_inference/sparse_embedding/{missing}/_update"
    response = es.put(path, params={"timeout": "30s"},
                      json={"service_settings": {"num_allocations": 1}})  # fmt: skip
    if profile.feature("update_timeout_param"):
        assert_es_error(response, 404, "resource_not_found_exception", None)
    else:
        assert_es_error(response, 400, "illegal_argument_exception", profile.reason(
            "unrecognized_parameter", path=path, name="timeout"))  # fmt: skip


def test_update_chunking_settings(
    es: httpx.Client, tracker: EndpointTracker, profile: Profile
) -> None:
    missing = tracker.new_id("upd-chunking")
    response = es.put(f"/_inference/sparse_embedding/{missing}/_update",
                      json={"chunking_settings": {"strategy": "none"}})  # fmt: skip
    if profile.feature("update_chunking_settings"):
        assert_es_error(response, 404, "resource_not_found_exception", None)
    else:
        assert_es_error(response, 400, "status_exception", profile.reason(
            "update_not_updatable", fields="{chunking_settings={strategy=none}}"))  # fmt: skip
