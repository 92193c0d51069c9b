"""The ML node's services on their own: ``Deployments``, ``AdaptiveScalingService`` and
``InferenceService`` built from their narrow dependencies (no ``ServerState``, no HTTP).

The scaler is driven tick by tick with the times it is given, so its decisions are checked
without waiting on a clock: what a tick decides does not depend on how busy the machine is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from elsercheck.reference.breakage.defects import SCALER_NEVER_SCALES_DOWN
from elsercheck.reference.mlnode.adaptive_scaling_service import AdaptiveScalingService
from elsercheck.reference.mlnode.deployment import Deployment
from elsercheck.reference.mlnode.deployments import Deployments
from elsercheck.reference.mlnode.inference_service import InferenceService
from elsercheck.reference.rules.endpoint_config import EndpointConfig
from elsercheck.reference.rules.service_settings import AdaptiveAllocations, ServiceSettings
from elsercheck.reference.wire.errors import EsError
from elsercheck.timing import PRESETS

INSTANT = PRESETS["instant"]
ELSER = ".elser_model_2_linux-x86_64"


def settings(
    allocations: int | None = 1, threads: int = 1, adaptive: AdaptiveAllocations | None = None
) -> ServiceSettings:
    return ServiceSettings(allocations, threads, ELSER, adaptive)


def adaptive(min_allocations: int, max_allocations: int) -> ServiceSettings:
    return settings(None, adaptive=AdaptiveAllocations(True, min_allocations, max_allocations))


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(test())


async def started(deployments: Deployments, deployment_id: str, s: ServiceSettings) -> Deployment:
    deployment = deployments.start(deployment_id, s)
    await deployments.wait_started(deployment, timeout=30)
    return deployment


async def settled(condition: Callable[[], bool], turns: int = 100) -> bool:
    """Whether ``condition`` holds within ``turns`` turns of the event loop: bounded work, no
    clock (with zero start delays, allocations come up on the next turns)."""
    for _ in range(turns):
        if condition():
            return True
        await asyncio.sleep(0)
    return condition()


# -- Deployments ---------------------------------------------------------------------------------
def test_deployment_starts_with_its_allocations() -> None:
    async def test() -> None:
        deployments = Deployments(INSTANT, processors=4)
        deployment = deployments.start("d", settings(allocations=2))
        assert deployment.state == "starting" and deployment.allocation_count == 0
        await deployments.wait_started(deployment, timeout=30)
        assert deployment.state == "started" and deployment.allocation_count == 2
        assert deployments.used_processors() == 2
        await deployments.stop("d")
        assert deployments.get("d") is None and deployments.used_processors() == 0

    run(test)


def test_allocations_beyond_capacity_wait_for_processors() -> None:
    async def test() -> None:
        deployments = Deployments(INSTANT, processors=2)
        big = await started(deployments, "big", settings(allocations=4))
        assert (big.allocation_count, big.target_allocations) == (2, 4)
        small = deployments.start("small", settings())
        with pytest.raises(EsError) as timed_out:
            await deployments.wait_started(small, timeout=0.01)
        assert timed_out.value.status == 408
        assert small.allocation_count == 0 and small.state == "starting"
        await deployments.stop("big")  # frees its processors: the pending deployment starts
        assert await settled(lambda: small.allocation_count == 1)
        assert small.state == "started"

    run(test)


def test_threads_count_against_processors() -> None:
    async def test() -> None:
        deployments = Deployments(INSTANT, processors=4)
        wide = await started(deployments, "wide", settings(allocations=3, threads=2))
        assert wide.allocation_count == 2 and deployments.used_processors() == 4

    run(test)


def test_target_changes_apply_to_a_booted_deployment() -> None:
    async def test() -> None:
        deployments = Deployments(INSTANT, processors=8)
        deployment = await started(deployments, "d", settings(allocations=1))
        deployments.set_target(deployment, 3)
        assert await settled(lambda: deployment.allocation_count == 3)
        deployments.set_target(deployment, 0)
        assert deployment.allocation_count == 0 and deployment.target_allocations == 0

    run(test)


def test_restart_all_reloads_every_deployment() -> None:
    async def test() -> None:
        deployments = Deployments(INSTANT, processors=4)
        deployment = await started(deployments, "d", settings(allocations=2))
        deployments.restart_all()
        assert deployment.state == "starting" and deployment.allocation_count == 0
        await deployments.wait_started(deployment, timeout=30)
        assert deployment.allocation_count == 2 and deployments.get("d") is deployment

    run(test)


def test_wait_started_names_a_running_download() -> None:
    async def test() -> None:
        timing = INSTANT.with_overrides(model_download_seconds=60)
        deployments = Deployments(timing)
        deployment = deployments.start("d", settings())
        with pytest.raises(EsError) as timed_out:
            await deployments.wait_started(deployment, timeout=0.01)
        assert timed_out.value.status == 408
        assert "Model download task is currently running" in timed_out.value.reason
        await deployments.close()

    run(test)


# -- AdaptiveScalingService ------------------------------------------------------------------------
async def idle_ticks(
    scaling: AdaptiveScalingService, deployment: Deployment, seconds: float
) -> list[int]:
    """Tick the scaler over ``seconds`` of idle time (times given, not waited for)."""
    assert deployment.routed_since is not None
    tick = scaling.timing.scaler_tick_seconds
    targets = []
    for n in range(1, round(seconds / tick) + 1):
        scaling.tick(deployment.routed_since + n * tick)
        targets.append(deployment.target_allocations)
    return targets


def test_scaler_takes_an_idle_deployment_with_min_zero_to_zero() -> None:
    async def test() -> None:
        deployments = Deployments(INSTANT)
        scaling = AdaptiveScalingService(deployments, INSTANT)
        deployment = await started(deployments, "idle", adaptive(0, 2))
        targets = await idle_ticks(scaling, deployment, INSTANT.scale_to_zero_seconds + 1)
        assert targets[-1] == 0 and deployment.allocation_count == 0, targets
        # Not before the idle time: the first ticks keep the allocation.
        before = round(INSTANT.scale_to_zero_seconds / INSTANT.scaler_tick_seconds) - 1
        assert set(targets[:before]) == {1}, targets

    run(test)


def test_scaler_keeps_min_allocations() -> None:
    async def test() -> None:
        deployments = Deployments(INSTANT)
        scaling = AdaptiveScalingService(deployments, INSTANT)
        deployment = await started(deployments, "kept", adaptive(1, 2))
        targets = await idle_ticks(scaling, deployment, INSTANT.scale_to_zero_seconds + 1)
        assert set(targets) == {1}, targets

    run(test)


def test_defect_scaler_never_scales_down_keeps_the_idle_allocation() -> None:
    async def test() -> None:
        deployments = Deployments(INSTANT)
        scaling = AdaptiveScalingService(
            deployments, INSTANT, frozenset({SCALER_NEVER_SCALES_DOWN})
        )
        deployment = await started(deployments, "idle", adaptive(0, 2))
        targets = await idle_ticks(scaling, deployment, INSTANT.scale_to_zero_seconds + 1)
        assert set(targets) == {1}, targets

    run(test)


def test_scaler_leaves_fixed_deployments_alone_and_forgets_stopped_ones() -> None:
    async def test() -> None:
        deployments = Deployments(INSTANT)
        scaling = AdaptiveScalingService(deployments, INSTANT)
        fixed = await started(deployments, "fixed", settings(allocations=2))
        await started(deployments, "scaled", adaptive(0, 2))
        scaling.tick(1.0)
        assert set(scaling.controllers) == {"scaled"} and fixed.target_allocations == 2
        await deployments.stop("scaled")
        scaling.tick(2.0)
        assert scaling.controllers == {}

    run(test)


def test_scale_from_zero_asks_for_one_allocation() -> None:
    async def test() -> None:
        deployments = Deployments(INSTANT)
        scaling = AdaptiveScalingService(deployments, INSTANT)
        deployment = await started(deployments, "z", adaptive(0, 2))
        await idle_ticks(scaling, deployment, INSTANT.scale_to_zero_seconds + 1)
        assert deployment.allocation_count == 0
        assert scaling.scale_from_zero(deployment) is True
        assert deployment.target_allocations == 1
        assert await settled(lambda: deployment.allocation_count == 1)
        fixed = await started(deployments, "f", settings())
        assert scaling.scale_from_zero(fixed) is False  # not adaptive: nothing to scale

    run(test)


# -- InferenceService ------------------------------------------------------------------------------
class Scaling:
    """A stand-in for the scaler's scale-from-zero answer, recording who asked."""

    def __init__(self, answer: bool, deployments: Deployments | None = None) -> None:
        self.answer = answer
        self.deployments = deployments
        self.asked: list[str] = []

    def scale_from_zero(self, deployment: Deployment) -> bool:
        self.asked.append(deployment.deployment_id)
        if self.answer and self.deployments is not None:
            self.deployments.set_target(deployment, 1)
        return self.answer


def endpoint(inference_id: str, s: ServiceSettings | None = None) -> EndpointConfig:
    return EndpointConfig(inference_id, "sparse_embedding", s or settings(), None)


def test_inference_is_served_by_the_deployment() -> None:
    async def test() -> None:
        deployments = Deployments(INSTANT)
        await started(deployments, "e", settings())
        service = InferenceService(deployments, Scaling(False))
        (result,) = await service.infer(endpoint("e"), ["hello world"], timeout=30)
        assert result.embedding and all(weight > 0 for weight in result.embedding.values())
        assert deployments.get("e").counters.inference_count == 1  # type: ignore[union-attr]

    run(test)


def test_inference_starts_a_missing_default_deployment() -> None:
    async def test() -> None:
        deployments = Deployments(INSTANT)
        service = InferenceService(deployments, Scaling(False))
        await service.infer(endpoint(".elser-2-elasticsearch"), ["x"], timeout=30)
        assert deployments.get(".elser-2-elasticsearch") is not None

    run(test)


@pytest.mark.parametrize("scaling_up", [True, False], ids=["scale-up", "no-scale-up"])
def test_inference_at_zero_fails_fast_in_release_builds(scaling_up: bool) -> None:
    async def test() -> None:
        deployments = Deployments(INSTANT)
        deployment = await started(deployments, "z", settings())
        deployments.set_target(deployment, 0)
        scaling = Scaling(scaling_up)
        service = InferenceService(deployments, scaling)
        with pytest.raises(EsError) as unavailable:
            await service.infer(endpoint("z"), ["x"], timeout=30)
        reason = "Trained model deployment [z] is not allocated to any nodes"
        if scaling_up:
            reason += "; starting deployment of one allocation"
        assert (unavailable.value.status, unavailable.value.reason) == (409, reason)
        assert scaling.asked == ["z"]

    run(test)


def test_inference_at_zero_waits_in_the_queued_variant() -> None:
    async def test() -> None:
        deployments = Deployments(INSTANT)
        deployment = await started(deployments, "q", settings())
        deployments.set_target(deployment, 0)
        service = InferenceService(deployments, Scaling(True, deployments), True)
        (result,) = await service.infer(endpoint("q"), ["queued"], timeout=30)
        assert result.embedding and deployment.allocation_count == 1

    run(test)
