"""Runs the adaptive scaler against live deployments (ES AdaptiveAllocationsScalerService).

Every ``scaler_tick_seconds`` it reads each adaptive deployment's node stats, as the trained
model stats API reports them, feeds one :class:`AdaptiveAllocationsController` per deployment
and applies the returned allocation count through :meth:`Deployments.set_target`, the way ES
applies it through the update-deployment action.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ...scaler.adaptive_scaler import AdaptiveAllocationsController, NodeSnapshot
from ...timing import Timing
from ..breakage.defects import SCALER_IGNORES_MAX, SCALER_NEVER_SCALES_DOWN
from .deployment import Deployment
from .deployments import Deployments

log = logging.getLogger("elsercheck.reference.scaler")


def node_snapshot(deployment: Deployment) -> NodeSnapshot:
    """The scaler's view of the deployment's node entry (cumulative counters)."""
    c = deployment.counters
    average = c.total_inference_ms / c.inference_count if c.inference_count else None
    return NodeSnapshot(
        inference_count=c.inference_count,
        number_of_pending_requests=deployment.pending_requests,
        error_count=c.error_count,
        timeout_count=c.timeout_count,
        rejected_execution_count=c.rejected_execution_count,
        average_inference_time_ms=average,
        start_time_seconds=deployment.routed_since,
    )


class AdaptiveScalingService:
    """The scaler loop over ``deployments``; ``defects`` are the active defect names (none on a
    clean server), of which it honours the two scaler ones."""

    def __init__(
        self, deployments: Deployments, timing: Timing, defects: frozenset[str] = frozenset()
    ) -> None:
        self.deployments = deployments
        self.timing = timing
        self.defects = defects
        self.controllers: dict[str, AdaptiveAllocationsController] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="adaptive-allocations-scaler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.timing.scaler_tick_seconds)
            try:
                self.tick(loop.time())
            except Exception:  # keep scaling other deployments; a bug here must be visible
                log.exception("adaptive allocations tick failed")

    def controller(self, deployment: Deployment) -> AdaptiveAllocationsController | None:
        """The deployment's controller, kept in step with its ``adaptive_allocations``."""
        adaptive = deployment.adaptive
        if adaptive is None or not adaptive.is_enabled:
            self.controllers.pop(deployment.deployment_id, None)
            return None
        controller = self.controllers.get(deployment.deployment_id)
        timing = self.timing
        max_allocations = adaptive.max_number_of_allocations
        if SCALER_IGNORES_MAX in self.defects:  # deliberate defect: no upper bound
            max_allocations = None
        if controller is None:
            controller = AdaptiveAllocationsController(
                deployment.deployment_id,
                min_allocations=adaptive.min_number_of_allocations,
                max_allocations=max_allocations,
                scale_to_zero_seconds=timing.scale_to_zero_seconds,
                cooldown_seconds=timing.scale_down_cooldown_seconds,
            )
            self.controllers[deployment.deployment_id] = controller
        else:
            controller.update_settings(True, adaptive.min_number_of_allocations, max_allocations)
        return controller

    def tick(self, now: float) -> None:
        deployments = self.deployments
        for deployment_id in list(self.controllers):
            if deployments.get(deployment_id) is None:
                del self.controllers[deployment_id]
        for deployment in list(deployments.items.values()):
            controller = self.controller(deployment)
            if controller is None:
                continue
            nodes = {}
            if deployment.allocation_count > 0:
                nodes[deployments.node.node_id] = node_snapshot(deployment)
            target = controller.tick(
                now, nodes, deployment.target_allocations, deployment.state == "started"
            )
            if (
                target is not None
                and target < deployment.target_allocations
                and SCALER_NEVER_SCALES_DOWN in self.defects  # deliberate defect
            ):
                continue
            if target is not None and target != deployment.target_allocations:
                log.info(
                    "adaptive allocations scaler: scaled [%s] to [%s] allocations.",
                    deployment.deployment_id,
                    target,
                )
                deployments.set_target(deployment, target)

    def scale_from_zero(self, deployment: Deployment) -> bool:
        """A request found no allocation: ask for one if allowed; True if a scale-up is on."""
        controller = self.controller(deployment)
        if controller is None:
            return False
        if controller.on_request_at_zero(asyncio.get_running_loop().time()):
            self.deployments.set_target(deployment, 1)
        return controller.can_scale_from_zero
