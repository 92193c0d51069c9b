"""Routes an inference request to its deployment (es-behavior §4.5, §5.5, §6)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .deployment import Deployment
from .endpoint_config import EndpointConfig
from .sparse_encoder import SparseResult

if TYPE_CHECKING:
    from .state import ServerState


class InferenceService:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        # Set by the adaptive scaling loop: asks for one allocation, True if it did.
        self.scale_from_zero: Callable[[Deployment], bool] = lambda deployment: False

    async def infer(
        self, config: EndpointConfig, texts: list[str], timeout: float
    ) -> list[SparseResult]:
        deployments = self.state.deployments
        deployment = deployments.get(config.deployment_id)
        if deployment is None:
            # Default endpoints start their deployment on first use, then retry (§4.5).
            deployment = deployments.start(config.deployment_id, config.service_settings)
            await deployments.wait_started(deployment, timeout)
        if deployment.allocation_count == 0:
            triggered = deployment.state == "started" and self.scale_from_zero(deployment)
            raise deployment.unavailable(triggered)
        return await deployment.infer(texts, timeout)
