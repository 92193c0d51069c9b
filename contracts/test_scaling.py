"""Adaptive allocations (ES AdaptiveAllocationsScaler): the scaler never goes above
``max_number_of_allocations``, also under a burst that would justify more.

The burst is sized from the target's own service time: a few sequential requests measure how
long one takes, then requests arrive (open loop: demand, not throughput) at
``LOAD_ALLOCATIONS`` allocations' worth of work for ``BURST_SECONDS``, never more than
``MAX_REQUESTS``. ES scales up while the lower bound of its load estimate exceeds 90 % of the
allocations (AdaptiveAllocationsScaler.scale, SCALE_UP_THRESHOLD), so a load of three
allocations sustained over several scaler ticks makes a scaler that ignores its maximum go
above it; a load near one allocation (as a fixed burst gives on a fast target) may not. The
burst is small and bounded, so it is safe on a shared cluster: on a target whose scaler ticks
slowly (Elasticsearch: every 10 s) the window may see no scaling at all, and the check then
passes trivially; the scale-down side is covered by
``test_lifecycle.py::test_scale_from_zero_answers_409``.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest

from contract_support import (
    EndpointTracker,
    adaptive_body,
    wait_fully_allocated,
    wait_zero_allocations,
)

LOAD_ALLOCATIONS = 2.5  # offered work, in allocations of the measured service time
BURST_SECONDS = 3.0  # how long the demand lasts (several ticks of a fast scaler)
MAX_REQUESTS = 150  # a bound on the burst whatever the service time
MAX_RATE = 60.0  # requests/s: the pool below keeps up with this on 2 cores
PROBES = 3  # sequential requests that measure one request's time
SENDERS = 64
TEXT = " ".join(f"scaling{i} burst" for i in range(250))  # over ELSER's 512-token window
SETTLE_SECONDS = 1.5  # keep watching after the burst has been answered
SAMPLE_SECONDS = 0.2


def _allocations(es: httpx.Client, inference_id: str) -> tuple[int, int, int]:
    body = es.get(f"/_ml/trained_models/{inference_id}/_stats").json()
    stats = next(
        s["deployment_stats"] for s in body["trained_model_stats"]
        if (s.get("deployment_stats") or {}).get("deployment_id") == inference_id
    )  # fmt: skip
    status = stats["allocation_status"]
    return (status["allocation_count"], status["target_allocation_count"],
            stats["number_of_allocations"])  # fmt: skip


def _service_seconds(es: httpx.Client, inference_id: str) -> float:
    """The median wall time of one request with nothing else in flight."""
    times = []
    for _ in range(PROBES):
        started = time.monotonic()
        response = es.post(f"/_inference/{inference_id}", json={"input": TEXT})
        times.append(time.monotonic() - started)
        assert response.status_code == 200, response.text
    return statistics.median(times)


def test_max_allocations_respected_under_burst(
    es: httpx.Client, tracker: EndpointTracker, allocation_wait: float
) -> None:
    inference_id = tracker.new_id("burst")
    assert tracker.put(inference_id, adaptive_body(1, 1)).status_code in (200, 408)
    try:
        wait_fully_allocated(es, inference_id, allocation_wait)
        rate = min(MAX_RATE, LOAD_ALLOCATIONS / max(_service_seconds(es, inference_id), 1e-3))
        count = min(MAX_REQUESTS, max(1, round(rate * BURST_SECONDS)))
        samples: list[tuple[int, int, int]] = []
        futures: list[Future[httpx.Response]] = []
        next_sample = 0.0
        with ThreadPoolExecutor(max_workers=SENDERS) as pool:
            started = time.monotonic()
            for index in range(count):
                futures.append(
                    pool.submit(es.post, f"/_inference/{inference_id}", json={"input": TEXT})
                )
                if time.monotonic() >= next_sample:
                    samples.append(_allocations(es, inference_id))
                    next_sample = time.monotonic() + SAMPLE_SECONDS
                    if max(samples[-1]) > 1:
                        break  # seen: no need to load the target any longer
                time.sleep(max(0.0, started + (index + 1) / rate - time.monotonic()))
            while not all(f.done() for f in futures):
                samples.append(_allocations(es, inference_id))
                time.sleep(SAMPLE_SECONDS)
        statuses = {f.result().status_code for f in futures}
        settle_until = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < settle_until:
            samples.append(_allocations(es, inference_id))
            time.sleep(SAMPLE_SECONDS)
        above = [s for s in samples if max(s) > 1]
        assert not above, (
            f"allocations above max_number_of_allocations=1 under {len(futures)} requests at "
            f"{rate:.1f}/s: {above[:5]}"
        )
        assert statuses <= {200, 408, 429}, statuses
    finally:
        tracker.delete(inference_id)


def test_a_deployment_at_zero_survives_another_deployment_start(
    es: httpx.Client, tracker: EndpointTracker, pytestconfig: pytest.Config, allocation_wait: float
) -> None:
    """A deployment scaled to zero keeps its assignment when another deployment of the same
    model starts (ES AssignmentPlanner.computePlan keeps zero-allocation deployments in the new
    plan since #137244, 9.3.0; on 9.1/9.2 they were dropped: elastic/elasticsearch#137134, a
    known deviation there). Its inference then answers 409 (not allocated), as at zero."""
    wait = pytestconfig.getoption("--scale-to-zero-wait")
    if wait is None:
        pytest.skip("needs --scale-to-zero-wait: the target's scale-to-zero time (24 h by default)")
    first, second = tracker.new_id("zero-first"), tracker.new_id("zero-second")
    assert tracker.put(first, adaptive_body(0, 1)).status_code in (200, 408)
    try:
        wait_fully_allocated(es, first, allocation_wait)
        wait_zero_allocations(es, first, wait)
        assert tracker.put(second, adaptive_body(0, 1)).status_code in (200, 408)
        stats = es.get(f"/_ml/trained_models/{first}/_stats")
        assert stats.status_code in (200, 404), stats.text
        deployments = [
            s["deployment_stats"]["deployment_id"]
            for s in stats.json().get("trained_model_stats", [])
            if "deployment_stats" in s
        ]
        assert first in deployments, (
            f"the deployment of {first} (at zero allocations) is gone after {second} started: "
            f"deployments of the model now {deployments}"
        )
        woken = es.post(f"/_inference/{first}", json={"input": "wake up"})
        assert woken.status_code == 409, f"inference at zero after {second} started: {woken.text}"
    finally:
        tracker.delete(second)
        tracker.delete(first)
