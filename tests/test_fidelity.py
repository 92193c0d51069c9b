"""Fidelity corrections of issue 23 item 4 and the source re-reading that followed (each test
names the Elasticsearch source it follows; docs/es-source-findings.md, section "Fidelity
re-reading (issue 23)")."""

from __future__ import annotations

import struct

import httpx

from elsercheck.endpoints import elser_body
from elsercheck.reference.rules import service_settings as ss
from elsercheck.reference.serve import EmbeddedServer
from tests.conftest import PASSWORD, assert_error


# -- min_number_of_allocations: -1 (AdaptiveAllocationsSettings.RESET_PLACEHOLDER) -------------
def test_minus_one_bounds_skip_validation() -> None:
    """ES AdaptiveAllocationsSettings.validate skips a bound of -1; -2 is still refused."""
    assert ss.validate_adaptive(ss.AdaptiveAllocations(True, -1, -1)) == []
    assert ss.validate_adaptive(ss.AdaptiveAllocations(True, -1, 4)) == []
    assert ss.validate_adaptive(ss.AdaptiveAllocations(True, -2, None)) == [
        ss.MESSAGES["min_negative"]
    ]


def test_merge_resets_minus_one_and_null_object() -> None:
    """ES TrainedModelAssignmentClusterService.getAdaptiveAllocationsSettings / merge."""
    original = ss.AdaptiveAllocations(True, 2, 8)
    assert ss.merge_adaptive(original, None) == original
    assert ss.merge_adaptive(original, ss.RESET) is None
    assert ss.merge_adaptive(None, ss.AdaptiveAllocations(True, 1, None)) == ss.AdaptiveAllocations(
        True, 1, None
    )
    merged = ss.merge_adaptive(original, ss.AdaptiveAllocations(None, -1, 16))
    assert merged == ss.AdaptiveAllocations(True, None, 16)


def test_put_with_minus_one_min_is_accepted_and_stored(es: httpx.Client) -> None:
    adaptive = {"enabled": True, "min_number_of_allocations": -1, "max_number_of_allocations": 2}
    body = elser_body(adaptive_allocations=adaptive)
    del body["service_settings"]["num_allocations"]
    response = es.put("/_inference/sparse_embedding/min-minus-one", json=body)
    try:
        assert response.status_code == 200, response.text
        assert response.json()["service_settings"]["adaptive_allocations"] == adaptive
    finally:
        es.delete("/_inference/min-minus-one?force=true")
    bad = {**adaptive, "min_number_of_allocations": -2}
    body["service_settings"]["adaptive_allocations"] = bad
    assert_error(es.put("/_inference/sparse_embedding/min-minus-two", json=body), 400,
                 "validation_exception", "Validation Failed: 1: [min_number_of_allocations] must "
                 "be a non-negative integer or null;")  # fmt: skip


# -- compatible-with refusals (RestRequest → RestCompatibleVersionHelper.getCompatibleVersion) ---
COMPAT = "application/vnd.elasticsearch+json; compatible-with={}"


def _compat_error(response: httpx.Response) -> tuple[str, str]:
    assert_error(response, 400, "media_type_header_exception",
                 "Invalid media-type value on headers [Accept, Content-Type]")  # fmt: skip
    cause = response.json()["error"]["caused_by"]
    return cause["type"], cause["reason"]


def test_compatible_with_refusals_carry_the_helpers_reason(es: httpx.Client) -> None:
    seven = COMPAT.format(7)
    assert _compat_error(es.get("/", headers={"Accept": seven})) == (
        "status_exception",
        f"Accept version must be either version 9 or 8, but found 7. Accept={seven}",
    )
    eight, nine = COMPAT.format(8), COMPAT.format(9)
    body = b'{"query": {"match_all": {}}}'
    mismatch = es.post(
        "/no-such-index/_search", content=body, headers={"Accept": eight, "Content-Type": nine}
    )
    assert _compat_error(mismatch)[1] == (
        "A compatible version is required on both Content-Type and Accept headers if either one "
        "has requested a compatible version and the compatible versions must match. "
        f"Accept={eight}, Content-Type={nine}"
    )
    one_sided = es.post("/no-such-index/_search", content=body,
                        headers={"Accept": nine, "Content-Type": "application/json"})  # fmt: skip
    assert _compat_error(one_sided)[1] == (
        "A compatible version is required on both Content-Type and Accept headers if either one "
        f"has requested a compatible version. Accept={nine}, Content-Type=application/json"
    )
    content_seven = es.post("/no-such-index/_search", content=body,
                            headers={"Accept": nine, "Content-Type": seven})  # fmt: skip
    assert _compat_error(content_seven)[1] == (
        f"Content-Type version must be either version 9 or 8, but found 7. Content-Type={seven}"
    )
    # without a body only Accept is checked; both on 8 is served
    assert es.get("/", headers={"Accept": eight, "Content-Type": nine}).status_code == 200
    both = es.post("/no-such-index/_search", content=body,
                   headers={"Accept": eight, "Content-Type": eight})  # fmt: skip
    assert_error(both, 404, "index_not_found_exception", "no such index [no-such-index]")


# -- response headers (ES DefaultRestChannel.sendResponse) -------------------------------------
def test_no_server_or_date_header_on_the_wire(wire_server: EmbeddedServer) -> None:
    """Netty answers carry what DefaultRestChannel sets: no ``server``, no ``date``."""
    with httpx.Client(base_url=wire_server.url, auth=("elastic", PASSWORD), timeout=30) as c:
        for response in (c.get("/"), c.get("/no-such-index")):
            assert "server" not in response.headers and "date" not in response.headers
            assert response.headers["x-elastic-product"] == "Elasticsearch"


# -- fields: ["_inference_fields"] (SemanticInferenceMetadataFieldsMapper) -----------------------
def test_inference_fields_in_fields(es: httpx.Client) -> None:
    assert es.put("/_inference/sparse_embedding/inf-fields", json=elser_body()).status_code == 200
    mapping = {"properties": {"content": {"type": "semantic_text", "inference_id": "inf-fields"},
                              "title": {"type": "keyword"}}}  # fmt: skip
    try:
        assert es.put("/inf-idx", json={"mappings": mapping}).status_code == 200
        text = "Paris is the capital of France."
        put = es.put("/inf-idx/_doc/1?refresh=true", json={"content": text, "title": "t"})
        assert put.status_code == 201, put.text
        body = {"query": {"ids": {"values": ["1"]}}, "fields": ["_inference_fields", "title"]}
        hit = es.post("/inf-idx/_search", json=body).json()["hits"]["hits"][0]
        assert "_inference_fields" not in hit["_source"]
        assert hit["fields"]["title"] == ["t"]
        [inference] = hit["fields"]["_inference_fields"]
        field = inference["content"]["inference"]
        assert field["inference_id"] == "inf-fields"
        assert field["model_settings"] == {"service": "elasticsearch",
                                           "task_type": "sparse_embedding"}  # fmt: skip
        [chunk] = field["chunks"]["content"]
        assert (chunk["start_offset"], chunk["end_offset"]) == (0, len(text))
        tokens = list(chunk["embeddings"])
        assert tokens == sorted(tokens) and tokens
        # index precision: FeatureField keeps the float's top 17 bits (low 15 bits zero)
        for weight in chunk["embeddings"].values():
            assert struct.unpack(">I", struct.pack(">f", weight))[0] & 0x7FFF == 0
    finally:
        es.delete("/inf-idx")
        es.delete("/_inference/inf-fields?force=true")
