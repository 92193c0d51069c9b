"""The effective OpenAPI spec: vendored upstream, overlay, parsed examples, and the applier."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_openapi
from openapi_spec_validator.validation import OpenAPIV30SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from elsercheck import spec
from elsercheck.paths import resource_dir

OPENAPI = resource_dir("openapi")
UPSTREAM = OPENAPI / spec.UPSTREAM_FILE
PROVENANCE = OPENAPI / "upstream" / "PROVENANCE.md"
PINNED_HASHES = OPENAPI / "upstream.sha256"
# CI clones the repository with shared/ beside it, as on the developers' machines.
SHARED_UPSTREAM = OPENAPI.parent.parent / "shared" / "upstream"
SPEC_URI = "urn:elsercheck:effective-spec"

COMMON_ERRORS = {400, 401, 403, 405, 429}
# What each ELSER-relevant operation can answer besides 200 (the ES sources the overlay cites), written out
# independently of the overlay so that a wrong trait there fails here.
EXPECTED_ERRORS: dict[str, set[int]] = {
    "inference-put": COMMON_ERRORS | {404, 406, 408},
    "inference-put-1": COMMON_ERRORS | {404, 406, 408},
    "inference-put-elser": COMMON_ERRORS | {404, 406, 408},
    "inference-put-elasticsearch": COMMON_ERRORS | {404, 406, 408},
    "inference-get": COMMON_ERRORS,
    "inference-get-1": COMMON_ERRORS | {404},
    "inference-get-2": COMMON_ERRORS | {404},
    "inference-get-3": COMMON_ERRORS,
    "inference-delete": COMMON_ERRORS | {404, 409},
    "inference-delete-1": COMMON_ERRORS | {404, 409},
    "inference-update": COMMON_ERRORS | {404, 406, 409},
    "inference-update-1": COMMON_ERRORS | {404, 406, 409},
    "inference-inference": COMMON_ERRORS | {404, 406, 408, 409},
    "inference-inference-1": COMMON_ERRORS | {404, 406, 408, 409},
    "inference-sparse-embedding": COMMON_ERRORS | {404, 406, 408, 409},
    "ml-get-trained-models-stats": COMMON_ERRORS | {404},
    "ml-get-trained-models-stats-1": COMMON_ERRORS | {404},
    "info": COMMON_ERRORS,
}
ROUTING_SHAPE_STATUSES = {400, 405, 406}  # REST-controller errors: {"error": "<text>", ...}
ENVELOPE_STATUSES = {400, 401, 403, 404, 405, 408, 409, 429}
# Elastic's own examples that contradict upstream's `required` (upstream examples/).
RELAXED_EXAMPLES = {"PutElserRequestExample2", "PutElasticsearchRequestExample6"}
# Response examples of ELSER operations that break their own schema upstream.
KNOWN_BAD_RESPONSE_EXAMPLES = {"RootNodeInfoResponseExample1"}  # numeric build_hash


# --- helpers -------------------------------------------------------------------------------------


def pointer(*parts: str) -> str:
    """A JSON Pointer from unescaped parts."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def resolve(document: dict[str, Any], node: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Follow a local ``$ref``; return the pointer it named (or None) and the target."""
    if "$ref" not in node:
        return None, node
    ref = node["$ref"]
    assert ref.startswith("#/"), ref
    target: Any = document
    for part in ref[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return ref[1:], target


class Schemas:
    """OpenAPI 3.0 schema validators for nodes of one document, addressed by JSON Pointer."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT4)
        self.registry = Registry().with_resource(SPEC_URI, resource)

    def at(self, json_pointer: str) -> OAS30Validator:
        return OAS30Validator({"$ref": f"{SPEC_URI}#{json_pointer}"}, registry=self.registry)

    def errors(self, json_pointer: str, instance: Any) -> list[str]:
        return [error.message for error in self.at(json_pointer).iter_errors(instance)]

    def schema(self, name: str) -> OAS30Validator:
        return self.at(pointer("components", "schemas", name))


def operation(document: dict[str, Any], operation_id: str) -> tuple[str, dict[str, Any]]:
    """The pointer and object of an ELSER-relevant operation."""
    method, path = spec.ELSER_OPERATIONS[operation_id]
    return pointer("paths", path, method), document["paths"][path][method]


def media_type_examples(
    document: dict[str, Any], base: str, holder: dict[str, Any]
) -> list[tuple[str, str, Any]]:
    """(name, schema pointer, value) of the JSON examples of a request body or response."""
    ref, resolved = resolve(document, holder)
    media_pointer = (ref or base) + pointer("content", "application/json")
    media = resolved.get("content", {}).get("application/json", {})
    return [
        (name, media_pointer + "/schema", example["value"])
        for name, example in media.get("examples", {}).items()
    ]


def git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def effective() -> dict[str, Any]:
    return spec.build_effective_spec()


@pytest.fixture(scope="module")
def schemas(effective: dict[str, Any]) -> Schemas:
    return Schemas(effective)


@pytest.fixture(scope="module")
def upstream_schemas() -> Schemas:
    """Upstream with parsed examples but without the overlay."""
    return Schemas(spec.parse_example_values(spec.load_upstream()))


# --- the vendored file ---------------------------------------------------------------------------


def test_vendored_file_is_byte_identical_to_shared_upstream() -> None:
    shared = SHARED_UPSTREAM / UPSTREAM.name
    if not shared.is_file():
        pytest.skip(f"no shared upstream copy at {shared}")
    assert UPSTREAM.read_bytes() == shared.read_bytes(), "re-vendor openapi/upstream/ from shared/"
    shared_readme = SHARED_UPSTREAM / "README.md"
    if shared_readme.is_file():
        assert PROVENANCE.read_bytes() == shared_readme.read_bytes()


def test_vendored_files_match_their_pinned_sha256() -> None:
    """PROVENANCE.md gives the sha256 of Elastic's whole 6 MB file, not of the subset; the
    subset and the example files are pinned in openapi/upstream.sha256 (sha256sum format)."""
    pinned = {}
    for line in PINNED_HASHES.read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        pinned[name] = digest
    vendored = sorted(
        str(path.relative_to(OPENAPI))
        for path in (OPENAPI / "upstream").rglob("*")
        if path.is_file() and path.name != "PROVENANCE.md"
    )
    assert sorted(pinned) == vendored
    for name, digest in pinned.items():
        assert hashlib.sha256((OPENAPI / name).read_bytes()).hexdigest() == digest, name


def test_vendored_file_matches_the_provenance_record() -> None:
    provenance = PROVENANCE.read_text(encoding="utf-8")
    recorded = json.loads(UPSTREAM.read_text(encoding="utf-8"))["info"]["x-upstream"]
    commit = re.search(r"\| commit \| `([0-9a-f]{40})`", provenance)
    blob = re.search(r"\| git blob of that file at that commit \| `([0-9a-f]{40})`", provenance)
    sha256 = re.search(r"\| sha256 of that file \| `([0-9a-f]{64})`", provenance)
    assert commit and blob and sha256, "PROVENANCE.md lost its source table"
    assert recorded["commit"] == commit.group(1)
    assert recorded["blob"] == blob.group(1)
    assert f"`{recorded['path']}`" in provenance


def test_example_files_match_the_provenance_blob_ids() -> None:
    rows = re.findall(
        r"^\| `([^`]+\.yaml)`[^|]*\| `([0-9a-f]{40})` \|$", PROVENANCE.read_text(), re.M
    )
    assert len(rows) == 16
    for relative, blob in rows:
        assert git_blob_id(OPENAPI / "upstream" / "examples" / relative) == blob, relative


# --- the effective spec --------------------------------------------------------------------------


def test_effective_spec_is_valid_openapi_3_0(effective: dict[str, Any]) -> None:
    assert effective["openapi"].startswith("3.0.")
    validate_openapi(effective, cls=OpenAPIV30SpecValidator)


def test_every_overlay_action_selects_something() -> None:
    overlay = spec.load_overlay()
    counts = spec.action_match_counts(spec.parse_example_values(spec.load_upstream()), overlay)
    dead = [a["target"] for a, n in zip(overlay["actions"], counts, strict=True) if n == 0]
    assert not dead, f"overlay actions that select nothing: {dead}"


def test_overlay_document_is_overlay_1_0() -> None:
    overlay = spec.load_overlay()
    assert overlay["overlay"] == "1.0.0"
    assert {"title", "version"} <= overlay["info"].keys()
    for action in overlay["actions"]:
        assert action["target"].startswith("$")
        assert ("update" in action) != (action.get("remove") is True), action["target"]


def test_build_is_deterministic_and_does_not_mutate_inputs() -> None:
    upstream, overlay = spec.load_upstream(), spec.load_overlay()
    upstream_before, overlay_before = copy.deepcopy(upstream), copy.deepcopy(overlay)
    first = spec.build_effective_spec(upstream, overlay)
    second = spec.build_effective_spec(upstream, overlay)
    assert upstream == upstream_before
    assert overlay == overlay_before
    assert spec.dump_spec(first) == spec.dump_spec(second)
    assert first == spec.build_effective_spec()


def test_elser_operations_exist_upstream() -> None:
    upstream = spec.load_upstream()
    assert set(spec.ELSER_OPERATIONS) == set(EXPECTED_ERRORS)
    for operation_id, (method, path) in spec.ELSER_OPERATIONS.items():
        assert upstream["paths"][path][method]["operationId"] == operation_id


# --- errors and headers --------------------------------------------------------------------------


def envelope(status: int) -> dict[str, Any]:
    cause = {"type": "status_exception", "reason": "something"}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


@pytest.mark.parametrize("operation_id", sorted(EXPECTED_ERRORS))
def test_elser_operation_documents_its_errors(
    effective: dict[str, Any], schemas: Schemas, operation_id: str
) -> None:
    _, op = operation(effective, operation_id)
    statuses = {int(code) for code in op["responses"]} - {200}
    assert statuses == EXPECTED_ERRORS[operation_id]
    for status in sorted(statuses):
        ref, _ = resolve(effective, op["responses"][str(status)])
        assert ref == pointer("components", "responses", f"elsercheck.error-{status}")
        schema = ref + pointer("content", "application/json", "schema")
        assert (schemas.errors(schema, envelope(status)) == []) == (status in ENVELOPE_STATUSES)
        routing = {"error": "no handler found for uri [/x] and method [GET]", "status": status}
        assert (schemas.errors(schema, routing) == []) == (status in ROUTING_SHAPE_STATUSES)
        assert schemas.errors(schema, envelope(418)), "status must be pinned"
        assert schemas.errors(schema, {**routing, "status": 418}), "status must be pinned"
        broken = envelope(status)
        del broken["error"]["root_cause"]
        assert schemas.errors(schema, broken), "root_cause is required"


@pytest.mark.parametrize("operation_id", sorted(EXPECTED_ERRORS))
def test_every_response_of_elser_operations_has_the_product_header(
    effective: dict[str, Any], operation_id: str
) -> None:
    _, op = operation(effective, operation_id)
    assert "200" in op["responses"]
    for code, response in op["responses"].items():
        _, resolved = resolve(effective, response)
        _, header = resolve(effective, resolved["headers"]["X-elastic-product"])
        assert header["required"] is True, code
        assert header["schema"] == {"type": "string", "enum": ["Elasticsearch"]}, code


def test_every_response_in_the_document_has_the_product_header(effective: dict[str, Any]) -> None:
    responses = list(effective["components"]["responses"].values())
    for path_item in effective["paths"].values():
        for op in path_item.values():
            responses.extend(r for r in op["responses"].values() if "$ref" not in r)
    missing = [r.get("description", "")[:40] for r in responses if "headers" not in r]
    assert not missing


def test_401_and_405_carry_their_headers(effective: dict[str, Any]) -> None:
    responses = effective["components"]["responses"]
    assert "WWW-Authenticate" in responses["elsercheck.error-401"]["headers"]
    assert "Allow" in responses["elsercheck.error-405"]["headers"]


def test_security_schemes_and_requirement(effective: dict[str, Any]) -> None:
    schemes = effective["components"]["securitySchemes"]
    assert schemes["apiKeyAuth"] == {**schemes["apiKeyAuth"], "type": "apiKey", "in": "header"}
    assert schemes["apiKeyAuth"]["name"] == "Authorization"
    assert schemes["basicAuth"]["type"] == "http" and schemes["basicAuth"]["scheme"] == "basic"
    assert schemes["bearerAuth"]["type"] == "http" and schemes["bearerAuth"]["scheme"] == "bearer"
    assert effective["security"] == [{"apiKeyAuth": []}, {"basicAuth": []}, {"bearerAuth": []}]


# --- examples ------------------------------------------------------------------------------------


def test_example_values_are_objects(effective: dict[str, Any]) -> None:
    still_strings = []
    parsed = 0
    for path, path_item in effective["paths"].items():
        for method, op in path_item.items():
            holders = [op.get("requestBody", {}), *op["responses"].values()]
            for holder in holders:
                _, resolved = resolve(effective, holder)
                for media in resolved.get("content", {}).values():
                    for name, example in media.get("examples", {}).items():
                        if isinstance(example["value"], str):
                            still_strings.append((method, path, name))
                        else:
                            parsed += 1
    # Only the two server-sent-event transcripts of the chat-completion stream are not JSON.
    assert {path for _, path, _ in still_strings} == {
        "/_inference/chat_completion/{inference_id}/_stream"
    }
    assert len(still_strings) == 2
    assert parsed >= 150


def elser_examples(document: dict[str, Any], kind: str) -> list[tuple[str, str, Any]]:
    found: dict[tuple[str, str], Any] = {}
    for operation_id in spec.ELSER_OPERATIONS:
        base, op = operation(document, operation_id)
        if kind == "request":
            holders = [(base + "/requestBody", op["requestBody"])] if "requestBody" in op else []
        else:
            holders = [(base + pointer("responses", c), r) for c, r in op["responses"].items()]
        for holder_pointer, holder in holders:
            for name, schema_pointer, value in media_type_examples(
                document, holder_pointer, holder
            ):
                found[(name, schema_pointer)] = value
    return [(name, ptr, value) for (name, ptr), value in sorted(found.items())]


def test_elser_request_examples_validate(effective: dict[str, Any], schemas: Schemas) -> None:
    examples = elser_examples(effective, "request")
    assert {name for name, _, _ in examples} >= RELAXED_EXAMPLES | {
        "PutElserRequestExample1",
        "PutElasticsearchRequestExample1",
        "SparseEmbeddingRequestExample1",
    }
    for name, schema_pointer, value in examples:
        assert isinstance(value, dict), name
        assert schemas.errors(schema_pointer, value) == [], name


def test_relaxed_examples_fail_upstream_and_pass_effective(
    schemas: Schemas, upstream_schemas: Schemas
) -> None:
    examples = elser_examples(upstream_schemas.document, "request")
    relevant = [(n, p, v) for n, p, v in examples if n in RELAXED_EXAMPLES]
    assert {name for name, _, _ in relevant} == RELAXED_EXAMPLES
    for name, schema_pointer, value in relevant:
        assert upstream_schemas.errors(schema_pointer, value), f"{name} passed upstream"
        assert schemas.errors(schema_pointer, value) == [], name


def test_elser_response_examples_validate(effective: dict[str, Any], schemas: Schemas) -> None:
    examples = elser_examples(effective, "response")
    names = {name for name, _, _ in examples}
    assert {"EndpointNotFound", "MissingCredentials", "NoHandler", "QueueFull"} <= names
    assert names >= KNOWN_BAD_RESPONSE_EXAMPLES
    for name, schema_pointer, value in examples:
        errors = schemas.errors(schema_pointer, value)
        if name in KNOWN_BAD_RESPONSE_EXAMPLES:
            assert errors, f"{name} is valid now: drop it from KNOWN_BAD_RESPONSE_EXAMPLES"
        else:
            assert errors == [], name


# --- bounds, enums, required ---------------------------------------------------------------------


def test_documented_bounds_are_present(effective: dict[str, Any]) -> None:
    found = effective["components"]["schemas"]
    for name in (
        "inference._types.ElserServiceSettings",
        "inference._types.ElasticsearchServiceSettings",
    ):
        properties = found[name]["properties"]
        # null means "absent" to Elasticsearch's settings parsers (overlay §6), hence None.
        assert properties["num_threads"]["enum"] == [1, 2, 4, 8, 16, 32, None]
        assert properties["num_allocations"]["minimum"] == 1
        assert "required" not in found[name]
    adaptive = found["inference._types.AdaptiveAllocations"]["properties"]
    assert adaptive["min_number_of_allocations"]["minimum"] == 0
    assert adaptive["max_number_of_allocations"]["minimum"] == 1
    chunking = found["inference._types.InferenceChunkingSettings"]
    assert chunking["properties"]["strategy"]["enum"] == [
        "sentence",
        "word",
        "none",
        "recursive",
        None,
    ]
    branches = {b["properties"]["strategy"]["enum"][0]: b for b in chunking["anyOf"][1:]}
    assert branches["word"]["properties"]["max_chunk_size"] == {
        "type": "integer",
        "minimum": 10,
        "maximum": 300,
        "nullable": True,  # an explicit null setting means "absent" to Elasticsearch
    }
    assert branches["word"]["properties"]["overlap"]["minimum"] == 1
    assert branches["sentence"]["properties"]["max_chunk_size"]["minimum"] == 20
    assert branches["sentence"]["properties"]["max_chunk_size"]["maximum"] == 300
    assert branches["sentence"]["properties"]["sentence_overlap"]["enum"] == [0, 1, None]


ELSER = "inference._types.ElserServiceSettings"
ES = "inference._types.ElasticsearchServiceSettings"
ADAPTIVE = "inference._types.AdaptiveAllocations"
CHUNKING = "inference._types.InferenceChunkingSettings"
MODEL = ".elser_model_2_linux-x86_64"


@pytest.mark.parametrize(
    ("schema", "instance", "valid"),
    [
        (ELSER, {"num_threads": 1, "num_allocations": 1}, True),
        (ELSER, {"num_threads": 32, "num_allocations": 1}, True),
        (ELSER, {"num_threads": 3, "num_allocations": 1}, False),
        (ELSER, {"num_threads": 64, "num_allocations": 1}, False),
        (ELSER, {"num_threads": 1.0, "num_allocations": 1}, False),
        (ELSER, {"num_threads": 1, "num_allocations": 0}, False),
        (ELSER, {"num_threads": 1}, False),
        (ELSER, {"num_allocations": 1}, False),
        (ELSER, {"num_threads": 1, "adaptive_allocations": {"enabled": True}}, True),
        (ELSER, {"num_threads": 1, "num_allocations": 2, "adaptive_allocations": {}}, True),
        (
            ELSER,
            {"num_threads": 1, "num_allocations": 2, "adaptive_allocations": {"enabled": True}},
            False,
        ),
        (ELSER, {"num_threads": 1, "num_allocations": 1, "model_id": MODEL}, True),
        (ELSER, {"num_threads": 1, "num_allocations": 1, "foo": 1}, False),
        (ELSER, {"deployment_id": "existing"}, True),
        (ES, {"model_id": MODEL, "num_threads": 1, "num_allocations": 1}, True),
        (ES, {"num_threads": 1, "num_allocations": 1}, False),
        (ES, {"model_id": "", "num_threads": 1, "num_allocations": 1}, False),
        (ES, {"model_id": MODEL, "num_threads": 16, "adaptive_allocations": {}}, True),
        (ES, {"model_id": MODEL, "num_threads": 6, "adaptive_allocations": {}}, False),
        (ES, {"deployment_id": "existing"}, True),
        (ADAPTIVE, {"enabled": True, "min_number_of_allocations": 0}, True),
        (ADAPTIVE, {"min_number_of_allocations": -1}, False),
        (ADAPTIVE, {"max_number_of_allocations": 0}, False),
        (ADAPTIVE, {"max_number_of_allocations": 1}, True),
        (ADAPTIVE, {"enabled": True, "max": 4}, False),
        (CHUNKING, {}, True),
        (CHUNKING, {"max_chunk_size": 100}, False),
        (CHUNKING, {"strategy": "paragraph"}, False),
        (CHUNKING, {"strategy": "word", "max_chunk_size": 10, "overlap": 1}, True),
        (CHUNKING, {"strategy": "word", "max_chunk_size": 300, "overlap": 100}, True),
        (CHUNKING, {"strategy": "word", "max_chunk_size": 9, "overlap": 1}, False),
        (CHUNKING, {"strategy": "word", "max_chunk_size": 301, "overlap": 1}, False),
        (CHUNKING, {"strategy": "word", "max_chunk_size": 100, "overlap": 0}, False),
        (CHUNKING, {"strategy": "word", "max_chunk_size": 100}, False),
        (
            CHUNKING,
            {"strategy": "word", "max_chunk_size": 100, "overlap": 1, "sentence_overlap": 1},
            False,
        ),
        (CHUNKING, {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}, True),
        (CHUNKING, {"strategy": "sentence", "max_chunk_size": 20, "sentence_overlap": 0}, True),
        (CHUNKING, {"strategy": "sentence", "max_chunk_size": 19}, False),
        (CHUNKING, {"strategy": "sentence", "max_chunk_size": 301}, False),
        (CHUNKING, {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 2}, False),
        (
            CHUNKING,
            {"strategy": "recursive", "max_chunk_size": 200, "separator_group": "markdown"},
            True,
        ),
        (CHUNKING, {"strategy": "recursive", "max_chunk_size": 200, "separators": []}, False),
        (CHUNKING, {"strategy": "none"}, True),
        (CHUNKING, {"strategy": "none", "max_chunk_size": 100}, False),
        ("_types.Duration", "0", True),
        ("_types.Duration", "-1", True),
        ("_types.Duration", "30s", True),
    ],
)
def test_schema_bounds(schemas: Schemas, schema: str, instance: Any, valid: bool) -> None:
    errors = list(schemas.schema(schema).iter_errors(instance))
    assert (not errors) == valid, [e.message for e in errors]


GENERIC_PUT = pointer("components", "requestBodies", "inference.put", "content") + pointer(
    "application/json", "schema"
)


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"service": "elser", "service_settings": {"num_threads": 1, "num_allocations": 1}}, True),
        ({"service": "elser", "service_settings": {"num_threads": 3, "num_allocations": 1}}, False),
        (
            {
                "service": "elasticsearch",
                "service_settings": {"num_threads": 1, "num_allocations": 1},
            },
            False,
        ),
        (
            {
                "service": "elasticsearch",
                "service_settings": {"model_id": MODEL, "num_threads": 1, "num_allocations": 1},
                "chunking_settings": {"strategy": "word", "max_chunk_size": 5, "overlap": 1},
            },
            False,
        ),
        ({"service": "openai", "service_settings": {"num_threads": 3, "api_key": "k"}}, True),
    ],
)
def test_generic_put_applies_elser_rules_by_service(
    schemas: Schemas, body: dict[str, Any], valid: bool
) -> None:
    assert (not schemas.errors(GENERIC_PUT, body)) == valid


@pytest.mark.parametrize("operation_id", ["inference-inference", "inference-sparse-embedding"])
def test_inference_input_must_not_be_an_empty_array(
    effective: dict[str, Any], schemas: Schemas, operation_id: str
) -> None:
    base, op = operation(effective, operation_id)
    ref, _ = resolve(effective, op["requestBody"])
    schema = (ref or base + "/requestBody") + pointer("content", "application/json", "schema")
    assert schemas.errors(schema, {"input": ["a", "b"]}) == []
    assert schemas.errors(schema, {"input": "a"}) == []
    assert schemas.errors(schema, {"input": []})


@pytest.mark.parametrize(("value", "valid"), [(0, True), (100, True), (-1, False), (1.5, False)])
def test_trained_model_stats_paging_is_a_non_negative_integer(
    schemas: Schemas, value: Any, valid: bool
) -> None:
    for name in ("from", "size"):
        param = pointer("components", "parameters", f"ml.get_trained_models_stats-{name}")
        assert (not schemas.errors(param + "/schema", value)) == valid


# --- links ---------------------------------------------------------------------------------------


def test_put_responses_link_the_lifecycle(effective: dict[str, Any]) -> None:
    operations = {
        op["operationId"]: op for item in effective["paths"].values() for op in item.values()
    }
    lifecycle = {
        "inference-get-1",
        "inference-inference",
        "inference-delete",
        "ml-get-trained-models-stats",
    }
    for operation_id in (
        "inference-put",
        "inference-put-1",
        "inference-put-elser",
        "inference-put-elasticsearch",
    ):
        _, op = operation(effective, operation_id)
        _, response = resolve(effective, op["responses"]["200"])
        links = response["links"]
        assert lifecycle <= {link["operationId"] for link in links.values()}, operation_id
        for link in links.values():
            target = operations[link["operationId"]]
            names = {resolve(effective, p)[1]["name"] for p in target.get("parameters", [])}
            assert set(link["parameters"]) <= names, link
            assert all(v.startswith("$response.body#/") for v in link["parameters"].values())


# --- write_spec ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_write_spec_round_trips(tmp_path: Path, effective: dict[str, Any], fmt: str) -> None:
    written = spec.write_spec(tmp_path / "out" / f"spec.{fmt}", fmt, spec=effective)
    text = written.read_text(encoding="utf-8")
    loaded = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    assert loaded == effective
    assert "&id0" not in text  # no YAML anchors/aliases: every node is written out


def test_write_spec_rejects_unknown_formats(tmp_path: Path, effective: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="toml"):
        spec.write_spec(tmp_path / "spec.toml", "toml", spec=effective)  # type: ignore[arg-type]


# --- the applier on a tiny document --------------------------------------------------------------


def overlay_of(*actions: dict[str, Any]) -> dict[str, Any]:
    return {"overlay": "1.0.0", "info": {"title": "t", "version": "1"}, "actions": list(actions)}


TINY: dict[str, Any] = {
    "info": {"title": "tiny", "tags": ["a"]},
    "items": [{"name": "x"}, {"name": "dummy"}, {"name": "y"}, {"name": "dummy"}],
    "deep": {"keep": 1, "nested": {"a": 1, "list": [1]}},
}


def test_update_merges_objects_recursively() -> None:
    before = copy.deepcopy(TINY)
    result = spec.apply_overlay(
        TINY,
        overlay_of(
            {
                "target": "$.deep",
                "update": {"new": True, "nested": {"a": 2, "b": 3, "list": [2]}},
            }
        ),
    )
    assert result["deep"] == {"keep": 1, "nested": {"a": 2, "b": 3, "list": [1, 2]}, "new": True}
    assert before == TINY


def test_update_appends_to_arrays() -> None:
    result = spec.apply_overlay(TINY, overlay_of({"target": "$.items", "update": {"name": "z"}}))
    assert result["items"][-1] == {"name": "z"}
    assert len(result["items"]) == len(TINY["items"]) + 1


def test_update_of_several_targets_copies_the_value() -> None:
    result = spec.apply_overlay(
        TINY, overlay_of({"target": "$.items[*]", "update": {"meta": {"n": 1}}})
    )
    metas = [item["meta"] for item in result["items"]]
    assert metas == [{"n": 1}] * 4
    metas[0]["n"] = 2
    assert result["items"][1]["meta"] == {"n": 1}


def test_remove_deletes_every_selected_node() -> None:
    result = spec.apply_overlay(
        TINY,
        overlay_of(
            {"target": "$.items[?@.name == 'dummy']", "remove": True},
            {"target": "$.deep.nested", "remove": True},
        ),
    )
    assert result["items"] == [{"name": "x"}, {"name": "y"}]
    assert result["deep"] == {"keep": 1}


def test_actions_apply_in_order_remove_then_recreate() -> None:
    result = spec.apply_overlay(
        TINY,
        overlay_of(
            {"target": "$.info.tags", "remove": True},
            {"target": "$.info", "update": {"tags": ["b"]}},
        ),
    )
    assert result["info"]["tags"] == ["b"]


def test_unmatched_action_is_a_no_op_unless_required() -> None:
    overlay = overlay_of({"target": "$.nowhere", "update": {"x": 1}})
    assert spec.apply_overlay(TINY, overlay) == TINY
    assert spec.action_match_counts(TINY, overlay) == [0]
    with pytest.raises(spec.OverlayError, match="selects nothing"):
        spec.apply_overlay(TINY, overlay, require_match=True)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ({"target": "$.info.title", "update": {"x": 1}}, "neither object nor array"),
        ({"target": "$", "remove": True}, "root"),
        ({"target": "$.info", "update": "text"}, "must be an object"),
        ({"target": "$.info["}, "bad target|neither update nor remove"),
        ({"target": "$.info", "remove": "yes"}, "neither update nor remove|boolean"),
    ],
)
def test_invalid_actions_are_rejected(action: dict[str, Any], message: str) -> None:
    with pytest.raises(spec.OverlayError, match=message):
        spec.apply_overlay(TINY, overlay_of(action))


@pytest.mark.parametrize(
    "overlay",
    [
        {
            "overlay": "2.0.0",
            "info": {"title": "t", "version": "1"},
            "actions": [{"target": "$", "update": {}}],
        },
        {"overlay": "1.0.0", "info": {"title": "t"}, "actions": [{"target": "$", "update": {}}]},
        {"overlay": "1.0.0", "info": {"title": "t", "version": "1"}, "actions": []},
    ],
)
def test_malformed_overlays_are_rejected(overlay: dict[str, Any]) -> None:
    with pytest.raises(spec.OverlayError):
        spec.apply_overlay(TINY, overlay)


def test_parse_example_values_only_parses_json_containers() -> None:
    document = {
        "paths": {
            "/x": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "examples": {
                                    "obj": {"value": '{"a": 1}'},
                                    "sse": {"value": "event: message\ndata: {}"},
                                    "scalar": {"value": "0"},
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    before = copy.deepcopy(document)
    parsed = spec.parse_example_values(document)
    examples = parsed["paths"]["/x"]["post"]["requestBody"]["content"]["application/json"]
    assert examples["examples"] == {
        "obj": {"value": {"a": 1}},
        "sse": {"value": "event: message\ndata: {}"},
        "scalar": {"value": "0"},
    }
    assert document == before
