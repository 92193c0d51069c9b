"""Every PUT validation rule (ES TransportPutInferenceModelAction): status, error type and exact reason.

The rule table runs on every modelled version (conformant: upstream bugs off, so a rejected PUT
leaves nothing behind); rules that differ between versions have their own parametrized tests.
docs/es-source-findings.md §A1 (order), §A2 (numbers), §A4, §A5 and Part B give the sources.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from elsercheck.reference import versions
from elsercheck.reference.config import ServerConfig
from elsercheck.timing import PRESETS
from tests.conftest import PASSWORD, assert_error, elser_body
from tests.inprocess import InProcessServer

VERSIONS = versions.supported()
ServerFor = Callable[..., InProcessServer]


@pytest.fixture(scope="module")
def server_for() -> Iterator[ServerFor]:
    """``server_for("9.1", conformant=True, platform_x86=True)``: one shared server per kind."""
    running: dict[tuple[str, bool, bool], InProcessServer] = {}

    def get(line: str, conformant: bool = True, platform_x86: bool = True) -> InProcessServer:
        key = (line, conformant, platform_x86)
        if key not in running:
            config = ServerConfig(
                password=PASSWORD, timing=PRESETS["instant"], es_version=versions.resolve(line),
                conformant=conformant, platform_x86=platform_x86,
            )  # fmt: skip
            running[key] = InProcessServer(config).start()
        return running[key]

    try:
        yield get
    finally:
        for server in running.values():
            server.stop()


@pytest.fixture
def es_client(server_for: ServerFor) -> Callable[..., httpx.Client]:
    """``es_client("9.3")``: an ``elastic`` client of that version's (conformant) server."""
    clients: list[httpx.Client] = []

    def make(line: str, conformant: bool = True, platform_x86: bool = True) -> httpx.Client:
        client = server_for(line, conformant, platform_x86).client(
            auth=("elastic", PASSWORD), timeout=30
        )
        clients.append(client)
        return client

    yield make  # type: ignore[misc]
    for client in clients:
        client.close()


def unknown_settings(settings: str) -> str:
    """ServiceUtils.unknownSettingsError (short form, see endpoint_config.MESSAGES)."""
    return f"Configuration contains settings [{settings}] unknown to the [elasticsearch] service"


def for_version(reason: str, line: str) -> str:
    """The 9.1 wording of a bound message as ``line`` words it (row chunk-message-wording)."""
    if versions.resolve(line).has("chunk-message-wording"):
        return reason.replace("must be a greater", "must be greater").replace(
            "must be a less", "must be less"
        )
    return reason


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
     "status_exception", unknown_settings("{foo=bar}")),
    ("unknown-service-setting", "sparse_embedding/unknown-ss",
     elser_body(foo=1), 400, "status_exception", unknown_settings("{foo=1}")),
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
                   adaptive_allocations={"enabled": True, "min_number_of_allocations": -2}),
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
    # Value and bound both print as Java doubles (§A2: ServiceUtils widens the ints).
    ("sentence-too-small", "sparse_embedding/sentence-small",
     chunking_body({"strategy": "sentence", "max_chunk_size": 10}), 400,
     "validation_exception",
     "Validation Failed: 1: [chunking_settings] Invalid value [10.0]. [max_chunk_size] must be a "
     "greater than or equal to [20.0];"),
    ("word-too-small", "sparse_embedding/word-small",
     chunking_body({"strategy": "word", "max_chunk_size": 9, "overlap": 1}), 400,
     "validation_exception",
     "Validation Failed: 1: [chunking_settings] Invalid value [9.0]. [max_chunk_size] must be a "
     "greater than or equal to [10.0];"),
    ("word-overlap-too-big", "sparse_embedding/word-overlap",
     chunking_body({"strategy": "word", "max_chunk_size": 100, "overlap": 51}), 400,
     "validation_exception",
     "Validation Failed: 1: [chunking_settings] Invalid value [51.0]. [overlap] must be a less "
     "than or equal to [50.0];"),
    ("chunk-size-zero", "sparse_embedding/chunk-zero",
     chunking_body({"strategy": "sentence", "max_chunk_size": 0}), 400, "validation_exception",
     "Validation Failed: 1: [chunking_settings] Invalid value [0]. [max_chunk_size] must be a "
     "positive integer;"),
    ("strategy-upper-case", "sparse_embedding/chunk-upper",
     chunking_body({"strategy": "WORD", "max_chunk_size": 100, "overlap": 10}), 400,
     "illegal_argument_exception", "Invalid chunkingStrategy WORD"),
    ("strategy-number", "sparse_embedding/chunk-number", chunking_body({"strategy": 5}), 400,
     "illegal_argument_exception", "Invalid chunkingStrategy 5"),
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
     "settings: [foo];2: [chunking_settings] Invalid value [5.0]. [max_chunk_size] must be a "
     "greater than or equal to [20.0];3: sentence_overlap[3] must be either 0 or 1;"),
]  # fmt: skip


@pytest.mark.parametrize("line", VERSIONS)
@pytest.mark.parametrize(
    ("path", "body", "status", "type_", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_put_rule(
    es_client: Callable[..., httpx.Client], line: str, path: str, body: object, status: int,
    type_: str, reason: str,
) -> None:  # fmt: skip
    client = es_client(line)
    response = client.put(f"/_inference/{path}", json=body)
    assert_error(response, status, type_, for_version(reason, line))
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
    """An endpoint whose deployment runs under its id: masterOperation's modelAssignments(id)
    check answers before the body is parsed (§A1 step 9; ES ModelIdUniquenessIT), so the
    duplicate never reaches storeModel's "already exists"."""
    path = f"/_inference/sparse_embedding/{unique_id}"
    assert client.put(path, json=elser_body()).status_code == 200
    try:
        for body in (elser_body(), {"service": "elasticsearch"}, {**elser_body(), "foo": 1}):
            assert_error(
                client.put(path, json=body), 400, "status_exception",
                f"Inference endpoint IDs must be unique. Requested inference endpoint ID "
                f"[{unique_id}] matches existing trained model ID(s) but must not.",
            )  # fmt: skip
        # Steps before the assignment check still win: the service is checked first.
        assert_error(
            client.put(path, json={"service_settings": {}}), 400, "status_exception",
            "Inference endpoint configuration is missing the [service] setting",
        )  # fmt: skip
    finally:
        client.delete(path)


def test_duplicate_id_without_own_deployment(client: httpx.Client, unique_id: str) -> None:
    """An endpoint borrowing another deployment has no assignment under its own id: a second
    PUT reaches ModelRegistry.storeModel, which answers "already exists"."""
    owner = f"/_inference/sparse_embedding/{unique_id}"
    borrower = f"{owner}-b"
    assert client.put(owner, json=elser_body()).status_code == 200
    try:
        body = settings_body(deployment_id=unique_id)
        assert client.put(borrower, json=body).status_code == 200
        assert_error(
            client.put(borrower, json=body), 400, "resource_already_exists_exception",
            f"Inference endpoint [{unique_id}-b] already exists",
        )  # fmt: skip
    finally:
        client.delete(borrower)
        client.delete(owner)


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


# -- §A1: which error wins when several are present ----------------------------------------------
ORDER_CASES: list[tuple[str, dict[str, object], int, str, str]] = [
    ("missing-service-settings-beats-chunking",
     {"service": "elasticsearch", "chunking_settings": {"strategy": "WORD"}}, 400,
     "status_exception", "Missing required field [service_settings]"),
    ("chunking-beats-unknown-top-level",
     {**chunking_body({"strategy": "WORD"}), "foo": 1}, 400, "illegal_argument_exception",
     "Invalid chunkingStrategy WORD"),
    ("unknown-top-level-beats-missing-model-id",
     {"service": "elasticsearch", "service_settings": {"num_threads": 1}, "foo": 1}, 400,
     "status_exception", unknown_settings("{foo=1}")),
    ("unknown-top-level-beats-value-errors",
     {**elser_body(num_threads=0, bar=2), "foo": 1}, 400, "status_exception",
     unknown_settings("{foo=1}")),
    ("missing-model-id-beats-value-errors",
     settings_body(num_threads=0, num_allocations=-1, foo=1), 400, "illegal_argument_exception",
     "Error parsing service settings, model_id must be provided"),
    ("value-errors-beat-platform",
     settings_body(model_id=".elser_model_1", num_threads="x", foo=1), 400,
     "validation_exception",
     "Validation Failed: 1: field [num_threads] is not of the expected type. The value [x] "
     "cannot be converted to a [Integer];2: [service_settings] does not contain one of the "
     "required settings [num_allocations, adaptive_allocations];"),
    ("platform-beats-unknown-service-settings",
     elser_body(model_id=".elser_model_1", foo=1), 400, "illegal_argument_exception",
     "Error parsing request config, model id does not match any models available on this "
     "platform. Was [.elser_model_1]. You may need to use a platform agnostic model."),
    ("unknown-service-settings-last",
     elser_body(model_id=".elser_model_2", foo=1), 400, "status_exception",
     unknown_settings("{foo=1}")),
    ("value-errors-beat-unknown-service-settings",
     elser_body(num_threads=0, foo=1), 400, "validation_exception",
     "Validation Failed: 1: [service_settings] Invalid value [0]. [num_threads] must be a "
     "positive integer;"),
    ("unknown-top-level-beats-unsupported-task-type",
     {**elser_body(), "task_type": "rerank", "foo": 1}, 400, "status_exception",
     unknown_settings("{foo=1}")),
]  # fmt: skip


@pytest.mark.parametrize("line", VERSIONS)
@pytest.mark.parametrize(
    ("body", "status", "type_", "reason"),
    [case[1:] for case in ORDER_CASES],
    ids=[case[0] for case in ORDER_CASES],
)
def test_put_check_order(
    es_client: Callable[..., httpx.Client], line: str, body: dict[str, object], status: int,
    type_: str, reason: str,
) -> None:  # fmt: skip
    path = (
        "/_inference/order-check"
        if "task_type" in body
        else "/_inference/sparse_embedding/order-check"
    )
    assert_error(es_client(line).put(path, json=body), status, type_, reason)


def test_platform_check_on_non_x86(es_client: Callable[..., httpx.Client]) -> None:
    """On a cluster whose ML nodes are not all linux-x86_64 the optimised model is refused,
    after the value checks and before unknown service_settings keys (elserCase)."""
    client = es_client("9.1", platform_x86=False)
    x86 = ".elser_model_2_linux-x86_64"
    assert_error(
        client.put("/_inference/sparse_embedding/arm", json=elser_body(model_id=x86, foo=1)),
        400, "illegal_argument_exception",
        f"Error parsing request config, model id does not match any models available on this "
        f"platform. Was [{x86}]. You may need to use a platform agnostic model.",
    )  # fmt: skip
    assert_error(
        client.put("/_inference/sparse_embedding/arm", json=elser_body(model_id=x86, num_threads=0)),
        400, "validation_exception",
        "Validation Failed: 1: [service_settings] Invalid value [0]. [num_threads] must be a "
        "positive integer;",
    )  # fmt: skip


# -- Java HashMap order of leftover maps (§A1) -----------------------------------------------------
# Buckets (h ^ h>>>16) & 15 of String.hashCode: zeta 0, bar 2, alpha 7, foo 7 (foo after alpha:
# inserted later); nested maps and values print with Java toString.
def test_unknown_keys_print_in_hashmap_order(client: httpx.Client) -> None:
    body = {**elser_body(), "zeta": 1, "alpha": [1, 2.5], "foo": {"b": None, "a": True},
            "bar": "x"}  # fmt: skip
    response = client.put("/_inference/sparse_embedding/hash-order", json=body)
    assert_error(
        response, 400, "status_exception",
        unknown_settings("{zeta=1, bar=x, alpha=[1, 2.5], foo={a=true, b=null}}"),
    )  # fmt: skip


def test_unknown_keys_order_uses_the_parsed_map_size(client: httpx.Client) -> None:
    """13 keys made the parser's HashMap grow to 32 buckets; the leftovers keep that table
    (k05–k09 sit in buckets 16–21 of 32, but in 0–5 of 16)."""
    extra = {f"k{i:02d}": i for i in range(11)}
    response = client.put("/_inference/sparse_embedding/hash-32", json={**elser_body(), **extra})
    assert_error(
        response, 400, "status_exception",
        unknown_settings(
            "{k00=0, k10=10, k02=2, k01=1, k04=4, k03=3, k06=6, k05=5, k08=8, k07=7, k09=9}"
        ),
    )  # fmt: skip


def test_unknown_service_settings_in_hashmap_order(client: httpx.Client) -> None:
    response = client.put(
        "/_inference/sparse_embedding/hash-ss", json=elser_body(zeta=1, alpha=2, foo=3, bar=4)
    )
    assert_error(
        response, 400, "status_exception", unknown_settings("{zeta=1, bar=4, alpha=2, foo=3}")
    )


def test_chunking_unknown_keys_in_copied_hashmap_order(client: httpx.Client) -> None:
    """WordBoundaryChunkingSettings.fromMap gets ``new HashMap<>(settings)``: 6 keys give a
    table of 8, where baz (bucket 2) comes before foo (bucket 7); in 16 foo would come first."""
    chunking = {"strategy": "word", "max_chunk_size": 100, "overlap": 10, "foo": 1, "bar": 2,
                "baz": 3}  # fmt: skip
    response = client.put("/_inference/sparse_embedding/hash-chunk", json=chunking_body(chunking))
    assert_error(
        response, 400, "validation_exception",
        "Validation Failed: 1: Word based chunking settings can not have the following settings: "
        "[bar, baz, foo];",
    )  # fmt: skip


# -- chunking bounds per version (§A2, Part B chunk-upper-bound-*, chunk-message-wording) ---------
@pytest.mark.parametrize("line", VERSIONS)
@pytest.mark.parametrize("strategy", ["word", "sentence"])
def test_chunk_size_above_300(
    es_client: Callable[..., httpx.Client], line: str, strategy: str
) -> None:
    chunking: dict[str, object] = {"strategy": strategy, "max_chunk_size": 301}
    if strategy == "word":
        chunking["overlap"] = 10
    client = es_client(line)
    response = client.put(
        f"/_inference/sparse_embedding/big-{strategy}", json=chunking_body(chunking)
    )
    if versions.resolve(line).has("chunk-cap-elser-model"):
        # 9.2+: no general cap; ElserInternalModel refuses it when the model is built.
        assert_error(
            response, 400, "illegal_argument_exception",
            "ELSER based models do not support chunk sizes larger than 300. Requested chunk "
            "size: 301",
        )  # fmt: skip
    else:
        assert_error(
            response, 400, "validation_exception",
            "Validation Failed: 1: [chunking_settings] Invalid value [301.0]. [max_chunk_size] "
            "must be a less than or equal to [300.0];",
        )  # fmt: skip
    assert client.get(f"/_inference/big-{strategy}").status_code == 404


@pytest.mark.parametrize("line", VERSIONS)
def test_elser_chunk_cap_comes_after_every_other_check(
    es_client: Callable[..., httpx.Client], line: str
) -> None:
    body = chunking_body({"strategy": "sentence", "max_chunk_size": 301})
    body["service_settings"]["foo"] = 1  # type: ignore[index]
    response = es_client(line).put("/_inference/sparse_embedding/big-late", json=body)
    if versions.resolve(line).has("chunk-cap-elser-model"):
        assert_error(response, 400, "status_exception", unknown_settings("{foo=1}"))
    else:  # the 9.1 cap is a chunking_settings error, which beats service_settings problems
        assert response.json()["error"]["type"] == "validation_exception"


@pytest.mark.parametrize("line", ["9.1", "9.2"])
def test_borrowed_deployment_has_no_elser_chunk_cap(
    es_client: Callable[..., httpx.Client], line: str
) -> None:
    """9.2+: the deployment_id path builds an ElasticDeployedModel (no ELSER window check); 9.1
    still has the general chunking cap."""
    client = es_client(line)
    assert (
        client.put("/_inference/sparse_embedding/cap-owner", json=elser_body()).status_code == 200
    )
    try:
        body = {**settings_body(deployment_id="cap-owner"),
                "chunking_settings": {"strategy": "sentence", "max_chunk_size": 400}}  # fmt: skip
        response = client.put("/_inference/sparse_embedding/cap-borrower", json=body)
        if line == "9.1":
            assert response.json()["error"]["type"] == "validation_exception"
        else:
            assert response.status_code == 200, response.text
            assert response.json()["chunking_settings"]["max_chunk_size"] == 400
    finally:
        client.delete("/_inference/cap-borrower")
        client.delete("/_inference/cap-owner")


@pytest.mark.parametrize("line", VERSIONS)
def test_chunk_size_300_accepted(es_client: Callable[..., httpx.Client], line: str) -> None:
    client = es_client(line)
    chunking = {"strategy": "word", "max_chunk_size": 300, "overlap": 150}
    response = client.put("/_inference/sparse_embedding/chunk-300", json=chunking_body(chunking))
    try:
        assert response.status_code == 200, response.text
        assert response.json()["chunking_settings"] == chunking
    finally:
        client.delete("/_inference/chunk-300")


@pytest.mark.parametrize("line", VERSIONS)
def test_bound_message_wording(es_client: Callable[..., httpx.Client], line: str) -> None:
    response = es_client(line).put(
        "/_inference/sparse_embedding/wording",
        json=chunking_body({"strategy": "sentence", "max_chunk_size": 5}),
    )
    article = "" if versions.resolve(line).has("chunk-message-wording") else "a "
    assert_error(
        response, 400, "validation_exception",
        f"Validation Failed: 1: [chunking_settings] Invalid value [5.0]. [max_chunk_size] must be "
        f"{article}greater than or equal to [20.0];",
    )  # fmt: skip


# -- §A4 task_settings, §A5 strategies -------------------------------------------------------------
@pytest.mark.parametrize("line", VERSIONS)
def test_task_settings_dropped(es_client: Callable[..., httpx.Client], line: str) -> None:
    """elserCase never reads task_settings: accepted, not stored, not echoed."""
    client = es_client(line)
    body = {**elser_body(), "task_settings": {"anything": 1, "nested": {"x": True}}}
    response = client.put("/_inference/sparse_embedding/ts-dropped", json=body)
    try:
        assert response.status_code == 200, response.text
        assert "task_settings" not in response.json()
        stored = client.get("/_inference/ts-dropped").json()["endpoints"][0]
        assert "task_settings" not in stored
    finally:
        client.delete("/_inference/ts-dropped")


@pytest.mark.parametrize("line", VERSIONS)
def test_none_chunking_ignores_extra_keys(
    es_client: Callable[..., httpx.Client], line: str
) -> None:
    """ChunkingSettingsBuilder returns NoneChunkingSettings.INSTANCE before any key check."""
    client = es_client(line)
    chunking = {"strategy": "none", "max_chunk_size": 5, "foo": 1}
    response = client.put("/_inference/sparse_embedding/none-keys", json=chunking_body(chunking))
    try:
        assert response.status_code == 200, response.text
        assert response.json()["chunking_settings"] == {"strategy": "none"}
        stored = client.get("/_inference/none-keys").json()["endpoints"][0]
        assert stored["chunking_settings"] == {"strategy": "none"}
    finally:
        client.delete("/_inference/none-keys")


# -- task types: embedding (Part B embedding-task-type) and #122249 --------------------------------
@pytest.mark.parametrize("line", VERSIONS)
@pytest.mark.parametrize("where", ["path", "body"])
def test_embedding_task_type(es_client: Callable[..., httpx.Client], line: str, where: str) -> None:
    client = es_client(line)
    if where == "path":
        response = client.put("/_inference/embedding/emb", json=elser_body())
    else:
        response = client.put("/_inference/emb", json={**elser_body(), "task_type": "embedding"})
    if versions.resolve(line).has("embedding-task-type"):
        # A known task type from 9.3; ELSER under it is refused as for the other non-sparse
        # task types (ElasticsearchInternalService for 9.3+ was not read; see endpoint_config).
        assert_error(
            response, 400, "status_exception",
            "The [elasticsearch] service does not support task type [embedding]",
        )  # fmt: skip
    else:
        assert_error(response, 400, "status_exception", "Unknown task_type [embedding]")


@pytest.mark.parametrize("line", VERSIONS)
def test_text_embedding_rejected_when_conformant(
    es_client: Callable[..., httpx.Client], line: str
) -> None:
    response = es_client(line).put("/_inference/text_embedding/te", json=elser_body())
    assert_error(
        response, 400, "status_exception",
        "The [elasticsearch] service does not support task type [text_embedding]",
    )  # fmt: skip


@pytest.mark.parametrize("line", VERSIONS)
def test_text_embedding_accepted_with_upstream_bug(
    es_client: Callable[..., httpx.Client], line: str
) -> None:
    """elastic/elasticsearch#122249: elserCase never checks the task type; the endpoint is
    stored and started, and inference fails in the ML deployment (TrainedModelDeploymentTask)."""
    assert "elser-text-embedding-accepted" in {b.defect for b in versions.resolve(line).bugs}
    client = es_client(line, conformant=False)
    path = "/_inference/text_embedding/te-bug"
    response = client.put(path, json=elser_body())
    try:
        assert response.status_code == 200, response.text
        echoed = response.json()
        assert echoed["task_type"] == "text_embedding"
        assert echoed["chunking_settings"] == {"strategy": "sentence", "max_chunk_size": 250,
                                               "sentence_overlap": 1}  # fmt: skip
        assert client.get("/_inference/te-bug").status_code == 200
        assert_error(
            client.post("/_inference/te-bug", json={"input": "hello"}), 403, "status_exception",
            "Trained model [.elser_model_2_linux-x86_64] is configured for task [text_expansion] "
            "but called with task [text_embedding]",
        )  # fmt: skip
    finally:
        client.delete("/_inference/te-bug")
