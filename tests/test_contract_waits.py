"""The contract suite's allocation wait fails fast: a self-contradicting stats answer is a
violation at once, and after one deployment never became allocated, later waits name it
instead of each waiting out ``--allocation-wait`` (a gate once took 17 minutes that way)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import httpx
import pytest


def _stats_client(status: dict[str, Any], calls: list[str]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        entry = {"model_id": "m", "deployment_stats": {"deployment_id": "ep",
                                                       "allocation_status": status}}  # fmt: skip
        return httpx.Response(200, json={"count": 1, "trained_model_stats": [entry]})

    return httpx.Client(base_url="http://target", transport=httpx.MockTransport(answer))


def test_a_contradiction_fails_at_the_first_answer(support: ModuleType) -> None:
    calls: list[str] = []
    contradiction = {
        "state": "fully_allocated",
        "allocation_count": 1,
        "target_allocation_count": 2,
    }
    with _stats_client(contradiction, calls) as client, pytest.raises(AssertionError) as failed:
        support.wait_fully_allocated(client, "ep", 300.0)
    assert "contradict" in str(failed.value) and "1 < target_allocation_count 2" in str(
        failed.value
    )
    assert len(calls) == 1


def test_consistent_answers_pass(support: ModuleType) -> None:
    calls: list[str] = []
    done = {"state": "fully_allocated", "allocation_count": 2, "target_allocation_count": 2}
    with _stats_client(done, calls) as client:
        assert support.wait_fully_allocated(client, "ep", 5.0)["deployment_id"] == "ep"
    # Scaling down: more allocations than the target is still fully allocated (no contradiction).
    support.consistent_allocation_status(
        {"allocation_status": {"state": "fully_allocated", "allocation_count": 3,
                               "target_allocation_count": 2}}
    )  # fmt: skip


def test_after_one_deployment_never_allocated_later_waits_fail_at_once(
    support: ModuleType,
) -> None:
    calls: list[str] = []
    starting = {"state": "starting", "allocation_count": 0, "target_allocation_count": 1}
    with _stats_client(starting, calls) as client:
        with pytest.raises(AssertionError, match=r"not fully allocated after 0\.5s"):
            support.wait_fully_allocated(client, "ep", 0.5)
        polled = len(calls)
        assert polled >= 2
        with pytest.raises(AssertionError) as later:
            support.wait_fully_allocated(client, "other-ep", 300.0)
    assert "other-ep: not waiting" in str(later.value)
    assert "ep not fully allocated after 0.5s" in str(later.value)  # names the first failure
    assert len(calls) == polled  # and asked the target nothing
