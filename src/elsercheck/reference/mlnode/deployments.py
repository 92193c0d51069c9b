"""All deployments on the simulated ML node: model downloads, capacity, start and stop.

The ML node has a number of processors; a deployment uses ``allocations × threads`` of them.
Allocations that do not fit stay pending (``allocation_count < target_allocation_count``) until
capacity frees up (ES AllocationStatus.calculateState).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

from ...timing import Timing
from ..breakage.faults import STALLED_PUT_WAIT_SECONDS
from ..rules.service_settings import ServiceSettings
from ..wire.errors import status_exception
from ..wire.timevalue import format_seconds
from .deployment import Deployment

MAX_DEPLOYMENTS = 100
MESSAGES = {
    "download_running": (
        "Model download task is currently running. Wait for trained model [{model_id}] download "
        "task to complete then try again"
    ),
    "start_timeout": (
        "Timed out after [{timeout}] waiting for trained model deployment [{id}] to start. Use the "
        "trained model stats API to track the state of the deployment and try again once it has "
        "started."
    ),
    "same_id": (
        "Could not start model deployment because an existing deployment with the same id [{id}] "
        "exist"
    ),
    "limit": (
        "Could not start model deployment because existing deployments reached the limit of "
        "[{limit}]"
    ),
}


def initial_allocations(settings: ServiceSettings) -> int:
    """``number_of_allocations`` when null = adaptive min if > 0, else 1."""
    if settings.num_allocations is not None:
        return settings.num_allocations
    adaptive = settings.adaptive_allocations
    if adaptive is not None and (adaptive.min_number_of_allocations or 0) > 0:
        return adaptive.min_number_of_allocations or 1
    return 1


NODE_NAME = "elsercheck-ml-0"
MIN_INDEX_VERSION = 8_00_00_99
MAX_INDEX_VERSION = 9_033_0_00


class MlNode:
    """The one simulated ML node, described as the stats API describes nodes."""

    def __init__(self, processors: int, version: str) -> None:
        self.processors = processors
        self.node_id = uuid.uuid4().hex[:22]
        # DiscoveryNode.toXContent, in its field order; all but name are required by the
        # specification (ml._types.DiscoveryNodeContent). external_id defaults to the node
        # name (node.external_id); the index versions are 9.1's: IndexVersions
        # MINIMUM_COMPATIBLE (V_8_0_0 = 8_00_00_99) and the newest defined in 9.1.5
        # (MATCH_ONLY_TEXT_STORED_AS_BYTES = 9_033_0_00), kept for every modelled version (the
        # other versions' IndexVersions were not re-read; no check reads them).
        self.description = {
            self.node_id: {
                "name": NODE_NAME,
                "ephemeral_id": uuid.uuid4().hex[:22],
                "transport_address": "127.0.0.1:9300",
                "external_id": NODE_NAME,
                "attributes": {"ml.allocated_processors": str(processors)},
                "roles": ["ml"],
                "version": version,
                "min_index_version": MIN_INDEX_VERSION,
                "max_index_version": MAX_INDEX_VERSION,
            }
        }


class Deployments:
    """Creates, scales and stops deployments; owns the model downloads."""

    def __init__(
        self, timing: Timing, processors: int = 16, queue_capacity: int = 10_000,
        version: str = "9.5.4",
    ) -> None:  # fmt: skip
        self.timing = timing
        self.queue_capacity = queue_capacity
        self.node = MlNode(processors, version)
        self.items: dict[str, Deployment] = {}
        self._downloads: dict[str, asyncio.Task[None]] = {}
        self.download_times: dict[str, int] = {}  # model id -> when its download began (ms)
        self._assigned: dict[str, int] = {}  # allocations planned (started or starting)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.stalled = False  # fault slow-deployment-start: deployments never finish starting
        # Deployments gone from the cluster while their endpoint stays (#137134, #146806):
        # inference on them answers 404 instead of starting them again.
        self.lost: set[str] = set()
        # Upstream bug #137134 (9.1, 9.2): planning a new deployment drops those at zero.
        self.drops_zero_allocations = False
        self._stopping: set[asyncio.Task[None]] = set()

    def get(self, deployment_id: str) -> Deployment | None:
        return self.items.get(deployment_id)

    def download_running(self, model_id: str) -> bool:
        task = self._downloads.get(model_id)
        return task is not None and not task.done()

    def downloaded(self, model_id: str) -> bool:
        task = self._downloads.get(model_id)
        return task is not None and task.done() and not task.cancelled()

    def download(self, model_id: str) -> asyncio.Task[None]:
        """The model's download (started on first use: ``PUT _ml/trained_models`` or a deployment
        of a model not yet in the cluster, ES ModelDownloadTask)."""
        if model_id not in self._downloads:
            delay = self.timing.model_download_seconds
            self._downloads[model_id] = asyncio.create_task(asyncio.sleep(delay))
            self.download_times[model_id] = int(time.time() * 1000)
        return self._downloads[model_id]

    def restore_download(self, model_id: str) -> None:
        """A model already in the cluster before a restart: defined, nothing to download."""
        if model_id not in self._downloads:
            self._downloads[model_id] = asyncio.create_task(asyncio.sleep(0))
            self.download_times[model_id] = int(time.time() * 1000)

    def known_models(self) -> list[str]:
        """Models whose download has begun (defined in the cluster, fully or not yet)."""
        return sorted(self._downloads)

    def forget(self, model_id: str) -> None:
        """``DELETE _ml/trained_models``: the download task is cancelled, the definition gone
        (ES TransportDeleteTrainedModelAction.cancelDownloadTask)."""
        task = self._downloads.pop(model_id, None)
        self.download_times.pop(model_id, None)
        if task is not None:
            task.cancel()

    def check_can_start(self, deployment_id: str | None = None) -> None:
        """``TransportStartTrainedModelDeploymentAction.masterOperation``: the deployment limit,
        then a deployment id already taken (by an ML API deployment or another endpoint's)."""
        if len(self.items) >= MAX_DEPLOYMENTS:
            raise status_exception(MESSAGES["limit"].format(limit=MAX_DEPLOYMENTS), 429)
        if deployment_id is not None and deployment_id in self.items:
            raise status_exception(MESSAGES["same_id"].format(id=deployment_id))

    def start(
        self, deployment_id: str, settings: ServiceSettings, queue_capacity: int | None = None,
        allocations: int | None = None,
    ) -> Deployment:  # fmt: skip
        """Create a deployment and start it in the background (download, load, allocate);
        ``allocations``: the target to start at (a restart's), else the settings' initial one."""
        self.check_can_start()
        if self.drops_zero_allocations:
            # Upstream bug #137134 (9.1, 9.2): AssignmentPlanner.computePlan left deployments with
            # zero allocations out of the new plan, so starting one removed them (fixed in 9.3.0
            # by #137244, "Preserve deployments with zero allocations during assignment planning").
            for other in [d for d in self.items.values() if d.booted and d.target_allocations == 0]:
                self._drop(other.deployment_id)
        self.lost.discard(deployment_id)
        deployment = Deployment(
            deployment_id,
            settings.model_id,
            settings.num_threads,
            initial_allocations(settings) if allocations is None else allocations,
            settings.adaptive_allocations,
            self.timing,
            queue_capacity or self.queue_capacity,
        )
        self.items[deployment_id] = deployment
        self._assigned[deployment_id] = 0
        download = self.download(settings.model_id)
        self._tasks[deployment_id] = asyncio.create_task(self._boot(deployment, download))
        return deployment

    async def _boot(self, deployment: Deployment, download: asyncio.Task[None]) -> None:
        await asyncio.shield(download)
        if self.stalled:  # fault slow-deployment-start: wait until stopped (cancelled)
            await asyncio.Event().wait()
        await asyncio.sleep(self.timing.deployment_start_seconds)
        deployment.booted = True
        self._plan(deployment, startup=True)
        if deployment.target_allocations == 0:  # restarted at zero: started with no allocation
            deployment.started_at_zero()

    def _drop(self, deployment_id: str) -> None:
        """The deployment leaves the cluster state; its endpoint (if any) stays stored."""
        deployment = self.items.pop(deployment_id)
        self._assigned.pop(deployment_id, None)
        task = self._tasks.pop(deployment_id, None)
        if task is not None:
            task.cancel()
        self.lost.add(deployment_id)
        stopping = asyncio.get_running_loop().create_task(deployment.stop())
        self._stopping.add(stopping)
        stopping.add_done_callback(self._stopping.discard)

    def restart_all(self) -> None:
        """A node restart (fault ``server-restart``): every deployment reloads its model and
        places its allocations again; stored endpoints and targets stay, as in cluster state."""
        for deployment_id, deployment in self.items.items():
            task = self._tasks.pop(deployment_id, None)
            if task is not None:
                task.cancel()
            deployment.restart()
            self._assigned[deployment_id] = 0
            download = self.download(deployment.model_id)
            self._tasks[deployment_id] = asyncio.create_task(self._boot(deployment, download))

    async def wait_started(self, deployment: Deployment, timeout: float | None) -> None:
        """Wait for ≥1 allocation (``wait_for: started``); 408 as Elasticsearch on expiry."""
        if self.stalled:  # fault slow-deployment-start: answer 408 soon rather than after 30 s
            timeout = min(timeout or STALLED_PUT_WAIT_SECONDS, STALLED_PUT_WAIT_SECONDS)
        try:
            await asyncio.wait_for(deployment.started.wait(), timeout)
        except TimeoutError:
            if self.download_running(deployment.model_id):
                message = MESSAGES["download_running"].format(model_id=deployment.model_id)
            else:
                message = MESSAGES["start_timeout"].format(
                    timeout=format_seconds(timeout or 0), id=deployment.deployment_id
                )
            raise status_exception(message, 408) from None

    # -- scaling -----------------------------------------------------------------------------
    def used_processors(self, exclude: str | None = None) -> int:
        return sum(
            self._assigned[d_id] * d.threads for d_id, d in self.items.items() if d_id != exclude
        )

    def set_target(self, deployment: Deployment, target: int) -> None:
        """Change the target allocation count (``_update`` or the adaptive scaler)."""
        deployment.target_allocations = target
        if deployment.booted:
            self._plan(deployment)
            self._replan_pending()

    def _plan(self, deployment: Deployment, startup: bool = False) -> None:
        free = self.node.processors - self.used_processors(exclude=deployment.deployment_id)
        fits = max(0, free // deployment.threads)
        assigned = min(deployment.target_allocations, fits)
        previous = self._assigned.get(deployment.deployment_id, 0)
        self._assigned[deployment.deployment_id] = assigned
        if assigned <= deployment.allocation_count or startup:
            deployment.set_allocations(assigned)
        else:  # new allocations take a while to start
            delay = self.timing.allocation_start_seconds
            loop = asyncio.get_running_loop()
            loop.call_later(delay, self._activate, deployment.deployment_id)
        if assigned < previous:
            self._replan_pending()

    def _activate(self, deployment_id: str) -> None:
        deployment = self.items.get(deployment_id)
        if deployment is not None and deployment.state != "stopping":
            deployment.set_allocations(self._assigned[deployment_id])

    def _replan_pending(self) -> None:
        for d_id, deployment in self.items.items():
            if deployment.booted and self._assigned[d_id] < deployment.target_allocations:
                self._plan(deployment)

    async def stop(self, deployment_id: str) -> None:
        self.lost.discard(deployment_id)
        deployment = self.items.pop(deployment_id, None)
        self._assigned.pop(deployment_id, None)
        task = self._tasks.pop(deployment_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if deployment is not None:
            await deployment.stop()
            self._replan_pending()

    async def close(self) -> None:
        for deployment_id in list(self.items):
            await self.stop(deployment_id)
        for task in self._downloads.values():
            task.cancel()

    def stats(self) -> list[tuple[str, dict[str, Any]]]:
        """``(model_id, deployment_stats)`` for every deployment."""
        return [
            (d.model_id, d.deployment_stats(self.node.description)) for d in self.items.values()
        ]
