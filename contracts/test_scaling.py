"""Adaptive allocations (ES AdaptiveAllocationsScaler): the scaler never goes above
``max_number_of_allocations``, also under a burst that would justify more.

The burst is small and bounded (a fixed number of requests at a steady rate for a couple of
seconds, about 2.5 allocations' worth of work on the reference server's fast timing) so it is
safe on a shared cluster. On a target whose scaler ticks slowly (Elasticsearch: every 10 s) the window may
see no scaling at all, and the check then passes trivially; the scale-down side is covered by
``test_lifecycle.py::test_scale_from_zero_answers_409``.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from contract_support import EndpointTracker, adaptive_body, wait_fully_allocated

BURST = 50  # requests...
BURST_SECONDS = 2.0  # ...sent evenly over this window (open loop: demand, not throughput)
TEXT = " ".join(f"scaling{i} burst" for i in range(90))  # ~300 WordPiece tokens
SETTLE_SECONDS = 1.5  # keep watching after the burst has been answered


def _allocations(es: httpx.Client, inference_id: str) -> tuple[int, int, int]:
    body = es.get(f"/_ml/trained_models/{inference_id}/_stats").json()
    stats = next(
        s["deployment_stats"] for s in body["trained_model_stats"]
        if (s.get("deployment_stats") or {}).get("deployment_id") == inference_id
    )  # fmt: skip
    status = stats["allocation_status"]
    return (status["allocation_count"], status["target_allocation_count"],
            stats["number_of_allocations"])  # fmt: skip


def test_max_allocations_respected_under_burst(
    es: httpx.Client, tracker: EndpointTracker, allocation_wait: float
) -> None:
    inference_id = tracker.new_id("burst")
    assert tracker.put(inference_id, adaptive_body(1, 1)).status_code in (200, 408)
    try:
        wait_fully_allocated(es, inference_id, allocation_wait)
        samples: list[tuple[int, int, int]] = []
        with ThreadPoolExecutor(max_workers=BURST) as pool:
            futures = []
            started = time.monotonic()
            for index in range(BURST):
                futures.append(
                    pool.submit(es.post, f"/_inference/{inference_id}", json={"input": TEXT})
                )
                if index % 5 == 4:
                    samples.append(_allocations(es, inference_id))
                time.sleep(
                    max(0.0, started + (index + 1) * BURST_SECONDS / BURST - time.monotonic())
                )
            while not all(f.done() for f in futures):
                samples.append(_allocations(es, inference_id))
                time.sleep(0.2)
        statuses = {f.result().status_code for f in futures}
        settle_until = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < settle_until:
            samples.append(_allocations(es, inference_id))
            time.sleep(0.2)
        above = [s for s in samples if max(s) > 1]
        assert not above, f"allocations above max_number_of_allocations=1: {above[:5]}"
        assert statuses <= {200, 408, 429}, statuses
    finally:
        tracker.delete(inference_id)
