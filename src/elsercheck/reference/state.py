"""The composition root: everything one reference server holds, and the services built with
the narrow dependencies each needs (no service imports this module)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import replace

from .breakage.defects import EIS_429_WITHOUT_RETRY_AFTER
from .breakage.faults import SLOW_DEPLOYMENT_START
from .config import ServerConfig
from .eis.authorization import AuthorizationPoller
from .eis.client import EisClient
from .eis.router import EmbeddingRouter
from .eis.upstream import EisUpstream
from .indices.pipelines import Pipelines
from .indices.store import IndexStore
from .loop_lag import LoopLag
from .mlnode.adaptive_scaling_service import AdaptiveScalingService
from .mlnode.deployments import Deployments
from .mlnode.inference_service import InferenceService
from .mlnode.trained_models import TrainedModels
from .rules import default_endpoints as preconfigured
from .rules.endpoint_config import EndpointConfig
from .wire.security import Security


def default_endpoints(platform_x86: bool) -> dict[str, EndpointConfig]:
    """Preconfigured endpoints (ES ElasticsearchInternalService.defaultConfigs): ELSER, E5 and
    the reranker; see rules/default_endpoints.py."""
    return dict(preconfigured.default_endpoints(platform_x86))


class ServerState:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        # Deliberate defects plus the version's upstream bugs (defects.py names; versions.BUGS).
        self.defects = config.active_defects
        self.version = config.es_version  # version-dependent rules ask version.has(...)
        self.security = Security(config.password, config.tokens_enabled)
        self.deployments = Deployments(
            config.timing, config.ml_processors, config.queue_capacity, config.es_version.number
        )
        self.models = TrainedModels(self.deployments)  # api/ml_models.py
        self.pipelines = Pipelines()  # ingest pipelines (api/ingest.py)
        self.faults = config.faults  # names; see faults.py (empty: the clean server)
        self.deployments.stalled = SLOW_DEPLOYMENT_START in self.faults  # fault: never start
        self.defaults = default_endpoints(config.platform_x86)
        self.endpoints: dict[str, EndpointConfig] = {}
        self.scaling = AdaptiveScalingService(self.deployments, config.timing, self.defects)
        ml_inference = InferenceService(
            self.deployments, self.scaling, config.queued_scale_from_zero
        )
        # The Elastic Inference Service, only with config.eis (versions "eis-elser").
        self.eis: EisClient | None = None
        self.eis_poller: AuthorizationPoller | None = None
        if config.eis:
            limits = config.eis_limits
            if EIS_429_WITHOUT_RETRY_AFTER in self.defects:  # deliberate defect: always limited
                limits = replace(limits, requests_per_minute=0)
            upstream = EisUpstream(limits, config.timing.speedup)
            self.eis = EisClient(
                upstream,
                config.timing,
                drop_retry_after=EIS_429_WITHOUT_RETRY_AFTER in self.defects,
            )
            self.eis_poller = AuthorizationPoller(
                upstream, self.defaults, config.timing, self.version, config.eis_withdraw_at_poll
            )
        self.inference = EmbeddingRouter(ml_inference, self.eis)
        self.cluster_uuid = uuid.uuid4().hex[:22]
        self.indices = IndexStore()  # semantic_text indices (api/indices.py)
        self.lag = LoopLag()  # the event loop's own lag (GET /_elsercheck/lag)
        self._lag_task: asyncio.Task[None] | None = None

    def find(self, inference_id: str) -> EndpointConfig | None:
        return self.endpoints.get(inference_id) or self.defaults.get(inference_id)

    def all_endpoints(self) -> list[EndpointConfig]:
        merged = {**self.defaults, **self.endpoints}
        return [merged[key] for key in sorted(merged)]

    def live_allocations(self, config: EndpointConfig) -> int | None:
        deployment = self.deployments.get(config.deployment_id)
        return None if deployment is None else deployment.target_allocations

    @property
    def eis_elser_authorized(self) -> bool:
        """Whether ``.elser-2-elastic`` exists now (the semantic_text default's test, #134708)."""
        return self.eis_poller is not None and self.eis_poller.authorized_elser

    async def start(self) -> None:
        await self.scaling.start()
        if self.eis_poller is not None:
            self.eis_poller.start()
        self._lag_task = asyncio.get_running_loop().create_task(self.lag.run())

    async def close(self) -> None:
        if self._lag_task is not None:
            self._lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag_task
        if self.eis_poller is not None:
            await self.eis_poller.stop()
        await self.scaling.stop()
        await self.deployments.close()
