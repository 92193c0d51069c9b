"""Fidelity corrections of issue 23 item 4 and the source re-reading that followed (each test
names the Elasticsearch source it follows; docs/es-source-findings.md, section "Fidelity
re-reading (issue 23)")."""

from __future__ import annotations

import httpx

from elsercheck.endpoints import elser_body
from elsercheck.reference.rules import service_settings as ss
from tests.conftest import assert_error


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
