"""Every PUT validation rule (ES TransportPutInferenceModelAction): status, error type and exact reason."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import assert_error, elser_body

ID_REASON = (
    "Validation Failed: 1: Invalid inference_id; '{id}' can contain lowercase alphanumeric (a-z "
    "and 0-9), hyphens or underscores; must start and end with alphanumeric;"
)
ELSER = ".elser_model_2_linux-x86_64"


def settings_body(**settings: object) -> dict[str, object]:
    return {"service": "elasticsearch", "service_settings": settings}


def chunking_body(chunking: object) -> dict[str, object]:
    body = elser_body()
    body["chunking_settings"] = chunking
    return body


# (case id, path suffix after /_inference/, body, status, error type, reason)
CASES: list[tuple[str, str, object, int, str, str]] = [
    # -- ids (MlStrings.isValidId) -------------------------------------------------------------
    *[
        (f"id-{bad}", f"sparse_embedding/{bad}", elser_body(), 400,
         "action_request_validation_exception", ID_REASON.format(id=bad))
        for bad in ("Upper", "-lead", "trail-", "_lead", "trail_", ".dot-first", "trail.")
    ],
    ("id-_all", "sparse_embedding/_all", elser_body(), 400,
     "action_request_validation_exception", ID_REASON.format(id="_all")),
    # -- task type (ServiceUtils.resolveTaskType) ------------------------------------------------
    ("path-task-type-unknown", "nonsense/my-id", elser_body(), 400, "status_exception",
     "Unknown task_type [nonsense]"),
    ("no-task-type", "no-task-type", elser_body(), 400, "status_exception",
     "model is missing required setting [task_type]"),
    ("body-task-type-any", "any-task", {**elser_body(), "task_type": "any"}, 400,
     "status_exception", "task_type [any] is not valid type for inference"),
    ("body-task-type-unknown", "odd-task", {**elser_body(), "task_type": "odd"}, 400,
     "status_exception", "Unknown task_type [odd]"),
    ("task-type-conflict", "sparse_embedding/conflict", {**elser_body(), "task_type": "rerank"},
     400, "status_exception",
     "Cannot resolve conflicting task_type parameter in the request URL [sparse_embedding] and "
     "the request body [rerank]"),
    # -- service (masterOperation) -----------------------------------------------------------------
    ("no-service", "sparse_embedding/no-service", {"service_settings": {}}, 400,
     "status_exception", "Inference endpoint configuration is missing the [service] setting"),
    ("unknown-service", "sparse_embedding/unknown-service",
     {"service": "nope", "service_settings": {}}, 400, "status_exception",
     "Unknown service [nope]"),
    ("other-provider", "sparse_embedding/other-provider",
     {"service": "openai", "service_settings": {}}, 400, "status_exception",
     "Unknown service [openai]"),
    # -- top level (parseRequestConfig) -------------------------------------------------------------
    ("no-service-settings", "sparse_embedding/no-ss", {"service": "elasticsearch"}, 400,
     "status_exception", "Missing required field [service_settings]"),
    ("unknown-top-level", "sparse_embedding/unknown-top", {**elser_body(), "foo": "bar"}, 400,
     "status_exception",
     "Model configuration contains settings [{foo=bar}] unknown to the [elasticsearch] service"),
    ("unknown-service-setting", "sparse_embedding/unknown-ss",
     elser_body(foo=1), 400, "status_exception",
     "Model configuration contains settings [{foo=1}] unknown to the [elasticsearch] service"),
    ("task-settings-not-empty", "sparse_embedding/ts",
     {**elser_body(), "task_settings": {"x": True}}, 400, "status_exception",
     "Model configuration contains settings [{x=true}] unknown to the [elasticsearch] service"),
    # -- service settings (ElasticsearchInternalServiceSettings), accumulated -----------------------
    ("threads-missing", "sparse_embedding/threads-missing",
     settings_body(model_id=ELSER, num_allocations=1), 400, "validation_exception",
     "Validation Failed: 1: [service_settings] does not contain the required setting "
     "[num_threads];"),
    ("threads-zero", "sparse_embedding/threads-zero",
     elser_body(num_threads=0), 400, "validation_exception",
     "Validation Failed: 1: [service_settings] Invalid value [0]. [num_threads] must be a "
     "positive integer;"),
    ("allocations-negative", "sparse_embedding/alloc-neg",
     settings_body(model_id=ELSER, num_threads=1, num_allocations=-2), 400,
     "validation_exception",
     "Validation Failed: 1: [service_settings] Invalid value [-2]. [num_allocations] must be a "
     "positive integer;2: [service_settings] does not contain one of the required settings "
     "[num_allocations, adaptive_allocations];"),
    ("threads-string", "sparse_embedding/threads-str",
     elser_body(num_threads="two"), 400, "validation_exception",
     "Validation Failed: 1: field [num_threads] is not of the expected type. The value [two] "
     "cannot be converted to a [Integer];"),
    ("threads-float", "sparse_embedding/threads-float",
     elser_body(num_threads=1.5), 400, "validation_exception",
     "Validation Failed: 1: field [num_threads] is not of the expected type. The value [1.5] "
     "cannot be converted to a [Integer];"),
    ("neither-allocations", "sparse_embedding/neither",
     settings_body(model_id=ELSER, num_threads=1), 400, "validation_exception",
     "Validation Failed: 1: [service_settings] does not contain one of the required settings "
     "[num_allocations, adaptive_allocations];"),
    ("accumulated", "sparse_embedding/accumulated",
     settings_body(model_id=ELSER, num_allocations=0, num_threads=-1), 400,
     "validation_exception",
     "Validation Failed: 1: [service_settings] Invalid value [0]. [num_allocations] must be a "
     "positive integer;2: [service_settings] Invalid value [-1]. [num_threads] must be a "
     "positive integer;3: [service_settings] does not contain one of the required settings "
     "[num_allocations, adaptive_allocations];"),
    ("adaptive-unknown-key", "sparse_embedding/adaptive-key",
     settings_body(model_id=ELSER, num_threads=1,
                   adaptive_allocations={"enabled": True, "bogus": 1}),
     400, "validation_exception",
     "Validation Failed: 1: [adaptive_allocations] does not allow the setting [bogus];"),
    ("adaptive-min-negative", "sparse_embedding/adaptive-min",
     settings_body(model_id=ELSER, num_threads=1,
                   adaptive_allocations={"enabled": True, "min_number_of_allocations": -1}),
     400, "validation_exception",
     "Validation Failed: 1: [min_number_of_allocations] must be a non-negative integer or null;"),
    ("adaptive-max-zero", "sparse_embedding/adaptive-max",
     settings_body(model_id=ELSER, num_threads=1,
                   adaptive_allocations={"enabled": True, "max_number_of_allocations": 0}),
     400, "validation_exception",
     "Validation Failed: 1: [max_number_of_allocations] must be a positive integer or null;"),
    ("adaptive-min-above-max", "sparse_embedding/adaptive-order",
     settings_body(model_id=ELSER, num_threads=1,
                   adaptive_allocations={"enabled": True, "min_number_of_allocations": 5,
                                         "max_number_of_allocations": 2}),
     400, "validation_exception",
     "Validation Failed: 1: [min_number_of_allocations] must not be larger than "
     "[max_number_of_allocations];"),
    ("adaptive-enabled-not-bool", "sparse_embedding/adaptive-bool",
     settings_body(model_id=ELSER, num_threads=1, adaptive_allocations={"enabled": "yes"}),
     400, "validation_exception",
     "Validation Failed: 1: field [enabled] is not of the expected type. The value [yes] cannot "
     "be converted to a [Boolean];"),
    ("model-id-empty", "sparse_embedding/model-empty",
     elser_body(model_id=""), 400, "validation_exception",
     "Validation Failed: 1: [service_settings] Invalid value empty string. [model_id] must be a "
     "non-empty string;"),
    ("model-id-missing", "sparse_embedding/model-missing",
     settings_body(num_allocations=1, num_threads=1), 400, "illegal_argument_exception",
     "Error parsing service settings, model_id must be provided"),
    # -- ELSER model ids (ElserModels) --------------------------------------------------------------
    ("elser-v1", "sparse_embedding/elser-v1", elser_body(model_id=".elser_model_1"), 400,
     "illegal_argument_exception",
     "Error parsing request config, model id does not match any models available on this "
     "platform. Was [.elser_model_1]. You may need to use a platform agnostic model."),
    ("custom-model", "sparse_embedding/custom", elser_body(model_id="my-eland-model"), 400,
     "illegal_argument_exception",
     "Error parsing request config, model id does not match any models available on this "
     "platform. Was [my-eland-model]. You may need to load it into the cluster using eland."),
    ("unknown-deployment", "sparse_embedding/unknown-dep",
     settings_body(deployment_id="no-such-deployment"), 404, "resource_not_found_exception",
     "Cannot find deployment [no-such-deployment]"),
    # -- deployment start (StartTrainedModelDeploymentAction) ----------------------------------------
    ("threads-not-power-of-two", "sparse_embedding/threads-3", elser_body(num_threads=3), 400,
     "action_request_validation_exception",
     "Validation Failed: 1: [threads_per_allocation] must be a power of 2 less than or equal to "
     "32;"),
    ("threads-64", "sparse_embedding/threads-64", elser_body(num_threads=64), 400,
     "action_request_validation_exception",
     "Validation Failed: 1: [threads_per_allocation] must be a power of 2 less than or equal to "
     "32;"),
    ("allocations-with-adaptive", "sparse_embedding/both-alloc",
     elser_body(adaptive_allocations={"enabled": True}), 400,
     "action_request_validation_exception",
     "Validation Failed: 1: [number_of_allocations] cannot be set if adaptive allocations is "
     "enabled;"),
    # -- chunking (ChunkingSettingsBuilder) ----------------------------------------------------------
    ("chunking-no-strategy", "sparse_embedding/chunk-none",
     chunking_body({"max_chunk_size": 100}), 400, "illegal_argument_exception",
     "Can't generate Chunker without ChunkingStrategy provided"),
    ("chunking-bad-strategy", "sparse_embedding/chunk-bad",
     chunking_body({"strategy": "paragraph"}), 400, "illegal_argument_exception",
     "Invalid chunkingStrategy paragraph"),
    ("sentence-too-small", "sparse_embedding/sentence-small",
     chunking_body({"strategy": "sentence", "max_chunk_size": 10}), 400,
     "validation_exception",
     "Validation Failed: 1: [chunking_settings] Invalid value [10]. [max_chunk_size] must be a "
     "greater than or equal to [20.0];"),
    ("word-too-small", "sparse_embedding/word-small",
     chunking_body({"strategy": "word", "max_chunk_size": 9, "overlap": 1}), 400,
     "validation_exception",
     "Validation Failed: 1: [chunking_settings] Invalid value [9]. [max_chunk_size] must be a "
     "greater than or equal to [10.0];"),
    ("chunk-above-300", "sparse_embedding/chunk-big",
     chunking_body({"strategy": "sentence", "max_chunk_size": 301}), 400,
     "validation_exception",
     "Validation Failed: 1: [chunking_settings] Invalid value [301]. [max_chunk_size] must be a "
     "less than or equal to [300.0];"),
    ("word-overlap-too-big", "sparse_embedding/word-overlap",
     chunking_body({"strategy": "word", "max_chunk_size": 100, "overlap": 51}), 400,
     "validation_exception",
     "Validation Failed: 1: [chunking_settings] Invalid value [51]. [overlap] must be a less "
     "than or equal to [50.0];"),
    ("word-overlap-missing", "sparse_embedding/word-no-overlap",
     chunking_body({"strategy": "word", "max_chunk_size": 100}), 400, "validation_exception",
     "Validation Failed: 1: [chunking_settings] does not contain the required setting "
     "[overlap];"),
    ("sentence-size-missing", "sparse_embedding/sentence-no-size",
     chunking_body({"strategy": "sentence"}), 400, "validation_exception",
     "Validation Failed: 1: [chunking_settings] does not contain the required setting "
     "[max_chunk_size];"),
    ("sentence-overlap-2", "sparse_embedding/sentence-overlap",
     chunking_body({"strategy": "sentence", "max_chunk_size": 100, "sentence_overlap": 2}),
     400, "validation_exception", "Validation Failed: 1: sentence_overlap[2] must be either 0 or 1;"),
    ("word-unknown-keys", "sparse_embedding/word-keys",
     chunking_body({"strategy": "word", "max_chunk_size": 100, "overlap": 10,
                    "sentence_overlap": 1}),
     400, "validation_exception",
     "Validation Failed: 1: Word based chunking settings can not have the following settings: "
     "[sentence_overlap];"),
    ("sentence-unknown-keys", "sparse_embedding/sentence-keys",
     chunking_body({"strategy": "sentence", "max_chunk_size": 100, "overlap": 10}), 400,
     "validation_exception",
     "Validation Failed: 1: Sentence based chunking settings can not have the following "
     "settings: [overlap];"),
    ("none-extra-keys", "sparse_embedding/none-keys",
     chunking_body({"strategy": "none", "max_chunk_size": 100}), 400, "validation_exception",
     "Validation Failed: 1: When chunking is disabled (none), settings can not have the "
     "following: [max_chunk_size];"),
    ("recursive-both", "sparse_embedding/recursive-both",
     chunking_body({"strategy": "recursive", "max_chunk_size": 100,
                    "separator_group": "markdown", "separators": ["\n"]}),
     400, "validation_exception",
     "Validation Failed: 1: Recursive chunking settings can not have both separators and "
     "separator_set;"),
    ("chunking-accumulated", "sparse_embedding/chunk-acc",
     chunking_body({"strategy": "sentence", "max_chunk_size": 5, "sentence_overlap": 3,
                    "foo": 1}),
     400, "validation_exception",
     "Validation Failed: 1: Sentence based chunking settings can not have the following "
     "settings: [foo];2: [chunking_settings] Invalid value [5]. [max_chunk_size] must be a "
     "greater than or equal to [20.0];3: sentence_overlap[3] must be either 0 or 1;"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "status", "type_", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_put_rule(
    client: httpx.Client, path: str, body: object, status: int, type_: str, reason: str
) -> None:
    response = client.put(f"/_inference/{path}", json=body)
    assert_error(response, status, type_, reason)
    # A rejected PUT leaves nothing behind (the reference server fixes elastic#137127).
    inference_id = path.rsplit("/", 1)[-1]
    if not inference_id.startswith((".", "_")) and inference_id == inference_id.lower():
        assert client.get(f"/_inference/{inference_id}").status_code in (400, 404)


def test_reserved_id_fails_on_syntax_first(client: httpx.Client) -> None:
    """Reserved ids start with a dot, so the id check answers before the reserved check."""
    response = client.put("/_inference/sparse_embedding/.elser-2-elasticsearch", json=elser_body())
    assert_error(
        response, 400, "action_request_validation_exception",
        ID_REASON.format(id=".elser-2-elasticsearch"),
    )  # fmt: skip


def test_duplicate_id(client: httpx.Client, unique_id: str) -> None:
    path = f"/_inference/sparse_embedding/{unique_id}"
    assert client.put(path, json=elser_body()).status_code == 200
    try:
        response = client.put(path, json=elser_body())
        assert_error(
            response, 400, "resource_already_exists_exception",
            f"Inference endpoint [{unique_id}] already exists",
        )  # fmt: skip
    finally:
        client.delete(path)


def test_borrowed_deployment(client: httpx.Client, unique_id: str) -> None:
    """`deployment_id` reuses a live deployment, which outlives the borrowing endpoint."""
    path = f"/_inference/sparse_embedding/{unique_id}"
    assert client.put(path, json=elser_body()).status_code == 200
    try:
        # Borrow the deployment under another id.
        other = f"{unique_id}-borrow"
        body = settings_body(deployment_id=unique_id)
        reused = client.put(f"/_inference/sparse_embedding/{other}", json=body)
        assert reused.status_code == 200, reused.text
        assert reused.json()["service_settings"]["deployment_id"] == unique_id
        client.delete(f"/_inference/{other}")
        # The borrowed deployment must survive the borrower's deletion.
        stats = client.get(f"/_ml/trained_models/{unique_id}/_stats").json()
        assert stats["trained_model_stats"][0]["deployment_stats"]["deployment_id"] == unique_id
    finally:
        client.delete(path)


def test_duplicate_json_keys(client: httpx.Client) -> None:
    raw = b'{"service": "elser", "service": "elasticsearch", "service_settings": {}}'
    response = client.put(
        "/_inference/sparse_embedding/dup-keys",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "parse_exception", "Failed to parse content to map")
    assert "Duplicate field 'service'" in response.json()["error"]["caused_by"]["reason"]


def test_malformed_json(client: httpx.Client) -> None:
    response = client.put(
        "/_inference/sparse_embedding/bad-json",
        content=b'{"service": ',
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "parse_exception", "Failed to parse content to map")
    assert response.json()["error"]["caused_by"]["type"] == "x_content_parse_exception"


def test_bad_timeout_value(client: httpx.Client) -> None:
    response = client.put("/_inference/sparse_embedding/t-timeout?timeout=soon", json=elser_body())
    assert_error(
        response, 400, "parse_exception",
        "failed to parse setting [timeout] with value [soon] as a time value: unit is missing or "
        "unrecognized",
    )  # fmt: skip


def test_id_of_existing_trained_model(client: httpx.Client) -> None:
    response = client.put("/_inference/sparse_embedding/lang_ident_model_1", json=elser_body())
    assert_error(
        response, 400, "status_exception",
        "Inference endpoint IDs must be unique. Requested inference endpoint ID "
        "[lang_ident_model_1] matches existing trained model ID(s) but must not.",
    )  # fmt: skip


def test_null_chunking_strategy_is_missing(client: httpx.Client) -> None:
    body = {**elser_body(), "chunking_settings": {"strategy": None}}
    response = client.put("/_inference/sparse_embedding/null-strategy", json=body)
    assert_error(
        response, 400, "illegal_argument_exception",
        "Can't generate Chunker without ChunkingStrategy provided",
    )  # fmt: skip


def test_recursive_separators_must_be_strings(client: httpx.Client) -> None:
    chunking = {"strategy": "recursive", "max_chunk_size": 100, "separators": ["\n", 5]}
    response = client.put(
        "/_inference/sparse_embedding/sep-types",
        json={**elser_body(), "chunking_settings": chunking},
    )
    assert_error(
        response, 400, "validation_exception",
        "Validation Failed: 1: field [separators] is not of the expected type. The value [5] cannot "
        "be converted to a [String];",
    )  # fmt: skip


def test_recursive_needs_separators_or_group(client: httpx.Client) -> None:
    chunking = {"strategy": "recursive", "max_chunk_size": 100, "separator_group": None}
    response = client.put(
        "/_inference/sparse_embedding/sep-none",
        json={**elser_body(), "chunking_settings": chunking},
    )
    assert_error(
        response, 400, "validation_exception",
        "Validation Failed: 1: [chunking_settings] does not contain one of the required settings "
        "[separator_group, separators];",
    )  # fmt: skip
