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
     num_threads=1, adaptive_allocations={"enabled": True, "min_number_of_allocations": -1}),
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
     {"value": 19, "bound": "20.0"}),
    ("word-below-10", "sparse_embedding/{id}", with_chunking({"strategy": "word",
     "max_chunk_size": 9, "overlap": 1}), 400, "validation_exception", "chunk_below_min",
     {"value": 9, "bound": "10.0"}),
    ("chunk-above-300", "sparse_embedding/{id}", with_chunking({"strategy": "sentence",
     "max_chunk_size": 301}), 400, "validation_exception", "chunk_above_max", {"value": 301}),
    ("word-overlap-above-half", "sparse_embedding/{id}", with_chunking({"strategy": "word",
     "max_chunk_size": 100, "overlap": 51}), 400, "validation_exception", "overlap_too_big",
     {"value": 51, "bound": "50.0"}),
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
    ("path", "body", "status", "type_", "key", "values"),
    [rule[1:] for rule in PUT_RULES],
    ids=[rule[0] for rule in PUT_RULES],
)
def test_put_rule(
    es: httpx.Client, tracker: EndpointTracker, profile: Profile, path: str, body: Any,
    status: int, type_: str, key: str, values: dict[str, Any],
) -> None:  # fmt: skip
    inference_id = tracker.new_id("rule")
    full_path = path.format(id=inference_id)
    stored_id = full_path.rsplit("/", 1)[-1]
    try:
        response = es.put(f"/_inference/{full_path}", json=body, timeout=120)
        expected = {k: str(v).replace("{id}", inference_id) for k, v in values.items()}
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
    assert_es_error(response, 400, "status_exception", profile.reason("default_update", id=default))


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
