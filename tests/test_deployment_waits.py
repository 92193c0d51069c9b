"""A queued request's wait: its timeout (one loop timer per deployment for requests in
deadline order, a timer of its own for an earlier deadline), and a cancelled caller."""

from __future__ import annotations

import asyncio

import pytest

from elsercheck.reference.mlnode.deployment import Deployment
from elsercheck.reference.wire.errors import EsError
from elsercheck.timing import PRESETS


def _deployment() -> Deployment:
    # No allocation yet: requests stay queued until set_allocations starts one.
    return Deployment("d", ".elser_model_2_linux-x86_64", 1, 1, None, PRESETS["instant"])


def test_shorter_timeout_after_longer_one_expires_first_and_alone() -> None:
    async def scenario() -> None:
        deployment = _deployment()
        long = asyncio.ensure_future(deployment.infer(["long"], 60.0))
        await asyncio.sleep(0)
        with pytest.raises(EsError) as caught:
            await deployment.infer(["short"], 0.05)
        assert caught.value.status == 408
        assert caught.value.reason == "timeout [50ms] waiting for inference result"
        assert not long.done()
        deployment.set_allocations(1)
        results = await asyncio.wait_for(long, 30)
        assert len(results) == 1
        assert deployment.counters.timeout_count == 1
        assert deployment.counters.inference_count == 1  # the timed-out one was skipped
        await deployment.stop()

    asyncio.run(scenario())


def test_same_timeouts_expire_in_order_on_the_shared_timer() -> None:
    async def scenario() -> None:
        deployment = _deployment()
        first = asyncio.ensure_future(deployment.infer(["a"], 0.05))
        second = asyncio.ensure_future(deployment.infer(["b"], 0.06))
        outcomes = await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), 30)
        assert [getattr(o, "status", None) for o in outcomes] == [408, 408]
        assert deployment.counters.timeout_count == 2
        await deployment.stop()

    asyncio.run(scenario())


def test_cancelled_caller_leaves_its_request_to_be_served() -> None:
    async def scenario() -> None:
        deployment = _deployment()
        caller = asyncio.ensure_future(deployment.infer(["x"], 60.0))
        await asyncio.sleep(0)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        deployment.set_allocations(1)
        for _ in range(1000):  # served on the loop's next turns, however slow the machine
            if deployment.counters.inference_count:
                break
            await asyncio.sleep(0.01)
        assert deployment.counters.inference_count == 1
        assert deployment.counters.timeout_count == 0
        await deployment.stop()

    asyncio.run(scenario())
