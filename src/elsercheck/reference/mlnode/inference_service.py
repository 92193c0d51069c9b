"""Routes an inference request to its deployment (ES TransportInternalInferModelAction)."""

from __future__ import annotations

import asyncio
from typing import Protocol

from ..rules.endpoint_config import EndpointConfig, inference_failure
from ..wire.errors import EsError, status_exception
from ..wire.timevalue import format_seconds
from .deployment import Deployment
from .deployments import Deployments
from .sparse_encoder import SparseResult

MAX_WAITING_FOR_ALLOCATION = 100  # InferenceWaitForAllocation.MAX_PENDING_REQUEST_COUNT
MESSAGES = {
    "too_many_waiting": (
        "Rejected inference request waiting for an allocation of deployment [{id}]. Too many "
        "pending requests"
    ),
    # TransportInferTrainedModelDeploymentAction.newResponse: no task for the deployment id (404)
    "no_task": (
        "Unable to find model deployment task [{id}] please stop and start the deployment or try "
        "again momentarily"
    ),
    "wait_timeout": (
        "Timed out after [{timeout}] waiting for trained model deployment [{id}] to start. Use the "
        "trained model stats API to track the state of the deployment and try again once it has "
        "started."
    ),
}


class ScaleFromZero(Protocol):
    def scale_from_zero(self, deployment: Deployment) -> bool: ...


class InferenceService:
    """Sends inference to an endpoint's deployment, starting or waking it as ES does.

    ``queued_scale_from_zero``: the snapshot-build behaviour (feature flag ml_scale_from_zero),
    where a request at zero allocations waits for one instead of failing with 409."""

    def __init__(
        self, deployments: Deployments, scaling: ScaleFromZero, queued_scale_from_zero: bool = False
    ) -> None:
        self.deployments = deployments
        self.scaling = scaling
        self.queued_scale_from_zero = queued_scale_from_zero
        self._waiting: dict[str, int] = {}

    async def infer(
        self, config: EndpointConfig, texts: list[str], timeout: float | None
    ) -> list[SparseResult]:
        deployments = self.deployments
        deployment = deployments.get(config.deployment_id)
        lost = config.deployment_id in deployments.lost and not config.inference_id.startswith(".")
        if deployment is None and lost:
            # Dropped from the cluster state (#137134, #146806): only a default endpoint's
            # deployment is started again (BaseElasticsearchInternalService.maybeStartDeployment
            # checks isDefaultId), a user endpoint answers 404 until it is re-created.
            raise status_exception(MESSAGES["no_task"].format(id=config.deployment_id), 404)
        if deployment is None:
            # Default endpoints start their deployment on first use, then retry
            # (ES ElasticsearchInternalService.maybeStartDeployment).
            deployment = deployments.start(config.deployment_id, config.service_settings)
            await deployments.wait_started(deployment, timeout)
        if deployment.allocation_count == 0:
            starting = deployment.state == "started" and self.scaling.scale_from_zero(deployment)
            if not (starting and self.queued_scale_from_zero):
                # Release builds: fail fast; clients retry (feature flag ml_scale_from_zero off).
                raise deployment.unavailable(starting)
            await self._wait_for_allocation(deployment, timeout)
        if (failure := inference_failure(config)) is not None:
            # elastic/elasticsearch#122249: TrainedModelDeploymentTask.infer refuses an ELSER
            # deployment called as text_embedding — for the inference API, semantic_text
            # ingest and semantic queries alike, as all three reach the deployment
            raise failure
        return await deployment.infer(texts, timeout)

    async def _wait_for_allocation(self, deployment: Deployment, timeout: float | None) -> None:
        """Snapshot builds: queue until an allocation starts (ES InferenceWaitForAllocation)."""
        key = deployment.deployment_id
        if self._waiting.get(key, 0) >= MAX_WAITING_FOR_ALLOCATION:
            raise EsError(
                "es_rejected_execution_exception", MESSAGES["too_many_waiting"].format(id=key)
            )
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with asyncio.timeout(timeout):
                while deployment.allocation_count == 0:
                    if deployment.state != "started":
                        raise deployment.unavailable(False)
                    await asyncio.sleep(0.01)
        except TimeoutError:
            raise status_exception(
                MESSAGES["wait_timeout"].format(timeout=format_seconds(timeout or 0), id=key), 408
            ) from None
        finally:
            self._waiting[key] -= 1
