"""The composition root: everything one reference server holds, and the services built with
the narrow dependencies each needs (no service imports this module)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import replace

from . import persistence
from .breakage.defects import (
    EIS_429_WITHOUT_RETRY_AFTER,
    ZERO_ALLOCATION_DROPPED_ON_START,
    ZERO_ALLOCATION_LOST_ON_RESTART,
)
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
from .rules import service_settings as ss
from .rules.endpoint_config import EndpointConfig
from .rules.trained_models import ELSER_INPUT
from .wire.errors import EsError
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
                propagate_retry_after=self.version.has("eis-retry-after-header"),
            )
            self.eis_poller = AuthorizationPoller(
                upstream, self.defaults, config.timing, self.version, config.eis_withdraw_at_poll
            )
        self.inference = EmbeddingRouter(ml_inference, self.eis)
        self.cluster_uuid = uuid.uuid4().hex[:22]
        self.indices = IndexStore()  # semantic_text indices (api/indices.py)
        self.lag = LoopLag()  # the event loop's own lag (GET /_elsercheck/lag)
        self._lag_task: asyncio.Task[None] | None = None
        # Stored endpoints that fail parsePersistedConfig: every read answers the error.
        self.unparsable: dict[str, tuple[EsError, dict[str, object]]] = {}
        # Endpoints as loaded from the data directory, with their stored records: written back
        # unchanged (an older shape stays on disk until the endpoint is updated, as in ES).
        self._loaded: dict[str, tuple[EndpointConfig, dict[str, object]]] = {}
        self.deployments.drops_zero_allocations = ZERO_ALLOCATION_DROPPED_ON_START in self.defects
        self.restored: persistence.Restored | None = None
        if config.data_dir is not None:
            self.restored = persistence.load(
                config.data_dir, self.version.release, self.defects, self.version
            )
            if self.restored is not None:
                self._install(self.restored)

    # -- the data directory (persistence.py) ---------------------------------------------------
    def _install(self, restored: persistence.Restored) -> None:
        """What needs no event loop: endpoints, pipelines, indices."""
        from .indices import pipelines as pl

        self.cluster_uuid = restored.cluster_uuid or self.cluster_uuid
        for loaded in restored.endpoints:
            if loaded.config is not None:
                self.endpoints[loaded.inference_id] = loaded.config
                self._loaded[loaded.inference_id] = (loaded.config, loaded.record)
            elif loaded.error is not None:
                self.unparsable[loaded.inference_id] = (loaded.error, loaded.record)
        for raw in restored.pipelines:
            self.pipelines.items[raw["id"]] = pl.parse(raw["id"], raw["source"])
        for index in restored.indices:
            self.indices.indices[index.name] = index
        for model in restored.uploaded_models:
            self.models.uploaded[model.model_id] = model
        self.models.aliases.update(restored.model_aliases)

    def _restore_deployments(self, restored: persistence.Restored) -> None:
        """The ML node starts again: models are on disk (no download), deployments restart at
        their floor (fixed allocations, or the adaptive minimum). The assignments are cluster
        state (TrainedModelAssignmentMetadata); a restarted node loads each model anew and the
        adaptive scaler starts without history (inferred, see docs/es-source-findings.md)."""
        for model_id, fields in restored.models.items():
            self.models.inputs[model_id] = list(fields)
            self.deployments.restore_download(model_id)
        self.deployments.lost.update(restored.lost_deployments)
        drops, self.deployments.drops_zero_allocations = (
            self.deployments.drops_zero_allocations,
            False,
        )  # a restart re-creates the assignments; #137134 is about a new one beside them
        for record in restored.deployments:
            deployment_id = record["deployment_id"]
            if record["allocations"] == 0 and ZERO_ALLOCATION_LOST_ON_RESTART in self.defects:
                # Upstream bug #146806 (8.19, 9.1, 9.2): TrainedModelAssignmentClusterService
                # .setShuttingDownNodeRoutesToStopping dropped an assignment with an empty routing
                # table when its node shut down (fixed by #146910: 9.4.0, 9.3 back-port #147306).
                self.deployments.lost.add(deployment_id)
                continue
            settings = self._deployment_settings(record)
            self.deployments.start(deployment_id, settings, record.get("queue_capacity"),
                                   allocations=persistence.floor_allocations(settings))  # fmt: skip
        self.deployments.drops_zero_allocations = drops

    def _deployment_settings(self, record: dict[str, object]) -> ss.ServiceSettings:
        """An endpoint's deployment restarts from the endpoint's settings; one started with the
        ML API from its own (``allocations`` is its fixed target)."""
        endpoint = self.endpoints.get(str(record["deployment_id"])) or self.defaults.get(
            str(record["deployment_id"])
        )
        if endpoint is not None and endpoint.service_settings.deployment_id is None:
            return endpoint.service_settings
        adaptive = record.get("adaptive_allocations")
        return ss.ServiceSettings(
            int(str(record["allocations"])) or None,
            int(str(record["threads"])),
            str(record["model_id"]),
            ss.AdaptiveAllocations(**adaptive) if isinstance(adaptive, dict) else None,
        )

    def document(self) -> dict[str, object]:
        """Everything a restart keeps (the data directory's document)."""
        endpoints: list[dict[str, object]] = []
        for inference_id, config in sorted(self.endpoints.items()):
            loaded = self._loaded.get(inference_id)
            if loaded is not None and loaded[0] is config:
                endpoints.append(loaded[1])
            else:
                endpoints.append(persistence.stored_endpoint(config))
        endpoints += [record for _, record in self.unparsable.values()]
        deployments = [
            {
                "deployment_id": d.deployment_id,
                "model_id": d.model_id,
                "threads": d.threads,
                "allocations": d.target_allocations,
                "adaptive_allocations": None if d.adaptive is None else d.adaptive.to_json(),
                "queue_capacity": d.queue_capacity,
            }
            for d in self.deployments.items.values()
        ]
        models = {
            m: self.models.inputs.get(m, [ELSER_INPUT]) for m in self.deployments.known_models()
        }
        uploaded = [persistence.uploaded_to_json(m) for m in self.models.uploaded.values()]
        return {
            "format": persistence.FORMAT,
            "written_by": self.version.number,
            "cluster_uuid": self.cluster_uuid,
            "endpoints": endpoints,
            "deployments": deployments,
            "lost_deployments": sorted(self.deployments.lost),
            "models": models,
            "uploaded_models": uploaded,
            "model_aliases": dict(self.models.aliases),
            "pipelines": [persistence.pipeline_to_json(p) for p in self.pipelines.items.values()],
            "indices": [persistence.index_to_json(i) for i in self.indices.indices.values()],
        }

    def persist(self) -> None:
        """Write the data directory (after an acknowledged write, and at shutdown)."""
        if self.config.data_dir is not None:
            persistence.write(self.config.data_dir, self.document())

    def find(self, inference_id: str) -> EndpointConfig | None:
        """The endpoint, None if there is none; a stored one that no longer parses raises its
        parse error (every read parses the stored configuration: ModelRegistry)."""
        if inference_id in self.unparsable:
            raise self.unparsable[inference_id][0]
        return self.endpoints.get(inference_id) or self.defaults.get(inference_id)

    def all_endpoints(self) -> list[EndpointConfig]:
        """Every endpoint; one stored endpoint that no longer parses fails the listing, as
        TransportGetInferenceModelAction parses each (#124675: the workaround searched
        ``.inference`` directly)."""
        for error, _ in self.unparsable.values():
            raise error
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
        if self.restored is not None:
            self._restore_deployments(self.restored)
        # The node records its version at startup (NodeMetadata.upgradeToCurrentVersion, written
        # before the node joins): from now on an older version refuses this directory.
        self.persist()
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
        self.persist()  # the node shuts down: deployments as they are now (#146806)
        await self.deployments.close()
