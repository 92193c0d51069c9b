"""Adaptive allocations end to end, in `fast` timing, under open-loop HTTP load (issue 3 §4).

Load arrives open-loop (a fixed request rate, as from many independent users), so the queue
grows when capacity is short and the scaler sees the true demand. The server's ASGI app runs
on the virtual clock (tests/virtual_clock.py) with the load as tasks beside it: no socket, no
thread, no real-time wait, so the scaler's decisions are the same on any machine and how long a
change may take is counted in scaler ticks of the fast timing.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from elsercheck.reference.config import ServerConfig
from elsercheck.timing import PRESETS
from tests.conftest import elser_body
from tests.virtual_clock import VirtualServer, run_virtual

FAST = PRESETS["fast"]
# ~39 ms of fast-timing service time (282 tokens: 394 ms on the cluster fast stands for)
TEXT = " ".join(f"word{i}" for i in range(280))
RATE = 80.0  # requests/s ≈ 3.1 busy allocations (8 requests/s of cluster time)
WINDOW = 6.0  # seconds of load


class OpenLoopLoad:
    """Send ``rate`` requests per second for ``seconds`` (as tasks on the running loop); count
    answers by status."""

    def __init__(
        self, server: VirtualServer, inference_id: str, rate: float, seconds: float
    ) -> None:
        self.server, self.inference_id, self.rate, self.seconds = (
            server, inference_id, rate, seconds
        )  # fmt: skip
        self.statuses: Counter[int] = Counter()

    async def run(self) -> None:
        client = self.server.client

        async def one() -> None:
            response = await client.post(f"/_inference/{self.inference_id}", json={"input": TEXT})
            self.statuses[response.status_code] += 1

        loop = asyncio.get_running_loop()
        start, sent, tasks = loop.time(), 0, []
        while loop.time() - start < self.seconds:
            tasks.append(asyncio.create_task(one()))
            sent += 1
            await asyncio.sleep(max(0.0, start + sent / self.rate - loop.time()))
        await asyncio.gather(*tasks)


async def deployment_stats(c: httpx.AsyncClient, inference_id: str) -> dict:
    body = (await c.get(f"/_ml/trained_models/{inference_id}/_stats")).json()
    return body["trained_model_stats"][0]["deployment_stats"]


async def allocations(c: httpx.AsyncClient, inference_id: str) -> int:
    return (await deployment_stats(c, inference_id))["allocation_status"]["allocation_count"]


def on_fast_server(
    test: Callable[[VirtualServer, httpx.AsyncClient], Coroutine[Any, Any, None]],
    config: ServerConfig | None = None,
) -> None:
    """Runs ``test`` against a ``fast``-timing reference server on the virtual clock."""

    async def run() -> None:
        async with VirtualServer(config or ServerConfig(security=False, timing=FAST)) as server:
            await test(server, server.client)

    run_virtual(run())


def ticks(seconds: float) -> int:
    """``seconds`` of FAST timing as a number of scaler ticks."""
    return math.ceil(seconds / FAST.scaler_tick_seconds)


def adaptive(max_allocations: int) -> dict:
    body = elser_body()
    settings = body["service_settings"]
    assert isinstance(settings, dict)
    del settings["num_allocations"]
    settings["adaptive_allocations"] = {
        "enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": max_allocations
    }  # fmt: skip
    return body


async def sample_while(
    server: VirtualServer, inference_id: str, load: asyncio.Task[None]
) -> list[tuple[int, int]]:
    """(scaler ticks since the start, allocations) while ``load`` runs."""
    first = server.scaler_ticks
    samples = []
    while not load.done():
        samples.append(
            (server.scaler_ticks - first, await allocations(server.client, inference_id))
        )
        await asyncio.sleep(0.25)
    await load  # its failure, if any, fails the test
    return samples


async def wait_for(
    server: VirtualServer, inference_id: str, predicate: Callable[[int], bool], seconds: float
) -> int:
    """Allocations once ``predicate`` holds; fails after the scaler ticks ``seconds`` worth."""
    last = server.scaler_ticks + ticks(seconds)
    while server.scaler_ticks <= last:
        count = await allocations(server.client, inference_id)
        if predicate(count):
            return count
        await asyncio.sleep(0.2)
    raise AssertionError(f"allocations stayed at {count} for {ticks(seconds)} scaler ticks")


def test_allocations_rise_hold_fall_and_reach_zero() -> None:
    on_fast_server(_rise_hold_fall_and_reach_zero)


async def _rise_hold_fall_and_reach_zero(server: VirtualServer, c: httpx.AsyncClient) -> None:
    put = await c.put("/_inference/sparse_embedding/cycle", json=adaptive(8))
    assert put.status_code == 200, put.text
    load = OpenLoopLoad(server, "cycle", RATE, WINDOW)
    timed = await sample_while(server, "cycle", asyncio.create_task(load.run()))
    samples = [n for _, n in timed]
    peak = max(samples)
    # Rise: 3.1 busy allocations → ceil(3.1 / 0.9) = 4 (3 while the estimate settles).
    assert 3 <= peak <= 8, samples
    rise_index = next(i for i, n in enumerate(samples) if n >= 3)
    rise_tick = timed[rise_index][0]
    assert rise_tick < ticks(WINDOW - 1.5), f"scaled up too late (tick {rise_tick}): {timed}"
    # Hold: no scale-down while the load lasts.
    after_rise = samples[rise_index:]
    assert all(b >= a for a, b in itertools.pairwise(after_rise)), samples
    # Fall, then zero after the idle time (min is 0).
    # wait_for fails the test when the count does not get there in time.
    await wait_for(server, "cycle", lambda n: n < peak, FAST.scale_down_cooldown_seconds + 10)
    await wait_for(server, "cycle", lambda n: n == 0, FAST.scale_to_zero_seconds + 15)
    status = (await deployment_stats(c, "cycle"))["allocation_status"]
    assert status == {
        "allocation_count": 0,
        "target_allocation_count": 0,
        "state": "fully_allocated",
    }
    # The stats counters add up to the requests sent.
    stats = await deployment_stats(c, "cycle")
    sent = sum(load.statuses.values())
    assert load.statuses[200] == sent, load.statuses
    assert stats["inference_count"] == sent
    assert "rejected_execution_count" not in stats and "timeout_count" not in stats
    # A request at zero gets the 409 and triggers the scale-up from zero.
    response = await c.post("/_inference/cycle", json={"input": "wake up"})
    assert response.status_code == 409
    assert response.json()["error"]["reason"] == (
        "Trained model deployment [cycle] is not allocated to any nodes; starting deployment of one "
        "allocation"
    )
    await wait_for(server, "cycle", lambda n: n >= 1, 5)
    assert (await c.post("/_inference/cycle", json={"input": "awake"})).status_code == 200


def test_max_allocations_is_respected() -> None:
    on_fast_server(_max_allocations_is_respected)


async def _max_allocations_is_respected(server: VirtualServer, c: httpx.AsyncClient) -> None:
    put = await c.put("/_inference/sparse_embedding/capped", json=adaptive(2))
    assert put.status_code == 200, put.text
    load = OpenLoopLoad(server, "capped", RATE, 4.0)
    samples = [n for _, n in await sample_while(server, "capped", asyncio.create_task(load.run()))]
    assert max(samples) == 2, samples
    assert (await deployment_stats(c, "capped"))["number_of_allocations"] <= 2


def test_queued_scale_from_zero_variant() -> None:
    """With the snapshot-build flag, a request at zero waits for the allocation instead."""

    async def queued(server: VirtualServer, c: httpx.AsyncClient) -> None:
        put = await c.put("/_inference/sparse_embedding/q0", json=adaptive(2))
        assert put.status_code == 200, put.text
        await wait_for(server, "q0", lambda n: n == 0, FAST.scale_to_zero_seconds + 10)
        response = await c.post("/_inference/q0", json={"input": "queued"})
        assert response.status_code == 200, response.text

    on_fast_server(queued, ServerConfig(security=False, timing=FAST, queued_scale_from_zero=True))
