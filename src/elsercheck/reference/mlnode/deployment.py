"""One ELSER model deployment: allocations serving a bounded queue, with true stats.

Each allocation is a worker task that serves one request at a time; ``num_threads`` shortens a
request's service time but adds no concurrency (allocations raise throughput, threads cut
latency: ES ``StartTrainedModelDeploymentAction``; Elastic's start-trained-model-deployment
docs). Service time is simulated with ``asyncio.sleep`` so many allocations fit on two cores.
Counters are exactly what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ...timing import Timing
from ..rules.service_settings import ELSER_V2_PORTABLE, AdaptiveAllocations
from ..wire.errors import EsError, status_exception
from ..wire.timevalue import format_seconds
from . import sparse_encoder

DEFAULT_QUEUE_CAPACITY = 10_000
WINDOW_SECONDS = 60.0  # "last minute" statistics

MESSAGES = {
    "queue_full": "inference process queue is full. Unable to execute command",
    "timeout": "timeout [{timeout}] waiting for inference result",
    "not_allocated": "Trained model deployment [{id}] is not allocated to any nodes",
    "starting_one": "; starting deployment of one allocation",
    "not_started": "Trained model [{id}] is [{state}]",
}


def now_ms() -> int:
    return int(time.time() * 1000)


class _Outcome(asyncio.Future[list[sparse_encoder.SparseResult]]):
    """A queued request's result. Settling it wakes its caller's ``waiter`` at once: a done
    callback would run a loop turn later, and the caller's task one more after that."""

    waiter: asyncio.Future[None] | None = None

    def set_result(self, result: list[sparse_encoder.SparseResult], /) -> None:
        super().set_result(result)
        self._wake()

    def set_exception(self, exception: type | BaseException, /) -> None:
        super().set_exception(exception)
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


@dataclass
class _Job:
    texts: list[str]
    tokens: int
    future: _Outcome
    queued_at: float  # loop time it joined the queue: its service cannot start earlier


@dataclass
class Counters:
    inference_count: int = 0
    error_count: int = 0
    rejected_execution_count: int = 0
    timeout_count: int = 0
    total_inference_ms: float = 0.0
    last_access: int = 0
    peak_throughput_per_minute: int = 0
    recent: deque[tuple[float, float]] = field(default_factory=deque)  # (done at, ms)

    def record(self, at: float, elapsed_ms: float) -> None:
        self.inference_count += 1
        self.total_inference_ms += elapsed_ms
        self.last_access = now_ms()
        self.recent.append((at, elapsed_ms))
        self.trim(at)
        self.peak_throughput_per_minute = max(self.peak_throughput_per_minute, len(self.recent))

    def trim(self, at: float) -> None:
        while self.recent and self.recent[0][0] < at - WINDOW_SECONDS:
            self.recent.popleft()


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class _Deadlines:
    """The queued requests' timeouts on one loop timer instead of one each: a request's
    deadline releases its waiter as ``loop.call_at(deadline)`` would. Requests with the same
    timeout arrive in deadline order, kept in a FIFO; one whose deadline is earlier than the
    last one kept (a shorter ``?timeout``) gets a timer of its own, returned to cancel."""

    def __init__(self) -> None:
        self._waiting: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def add(
        self, loop: asyncio.AbstractEventLoop, deadline: float, waiter: asyncio.Future[None]
    ) -> asyncio.TimerHandle | None:
        waiting = self._waiting
        while waiting and waiting[0][1].done():  # answered already: served in FIFO order
            waiting.popleft()
        if waiting and deadline < waiting[-1][0]:
            return loop.call_at(deadline, _release, waiter)
        waiting.append((deadline, waiter))
        if self._timer is None:
            self._timer = loop.call_at(waiting[0][0], self._expire, loop)
        return None

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        waiting = self._waiting
        now = loop.time()
        while waiting and (waiting[0][1].done() or waiting[0][0] <= now):
            _release(waiting.popleft()[1])
        if waiting:  # the next deadline (a timer may fire a clock tick early: again then)
            self._timer = loop.call_at(waiting[0][0], self._expire, loop)


class Deployment:
    """A deployment's state machine, queue and allocations (deployment id = inference id)."""

    def __init__(
        self,
        deployment_id: str,
        model_id: str,
        threads: int,
        target_allocations: int,
        adaptive: AdaptiveAllocations | None,
        timing: Timing,
        queue_capacity: int = DEFAULT_QUEUE_CAPACITY,
    ) -> None:
        self.deployment_id = deployment_id
        self.model_id = model_id
        self.threads = threads
        self.target_allocations = target_allocations
        self.adaptive = adaptive
        self.timing = timing
        self.queue_capacity = queue_capacity
        self.state = "starting"
        self.start_time = now_ms()
        self.counters = Counters()
        self.started = asyncio.Event()
        self.booted = False  # model loaded: allocations can be placed as capacity allows
        self.routed_since: float | None = None  # loop time the node's allocations (re)started
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._running = 0
        self._portable = model_id == ELSER_V2_PORTABLE
        self._deadlines = _Deadlines()

    # -- allocations -------------------------------------------------------------------------
    @property
    def allocation_count(self) -> int:
        """Allocations started and serving."""
        return len(self._workers)

    @property
    def pending_requests(self) -> int:
        """Queued plus running, as ``number_of_pending_requests`` counts them."""
        return self._queue.qsize() + self._running

    def set_allocations(self, count: int) -> None:
        """Start or retire workers until ``count`` allocations serve; retiring ones finish first."""
        if count > 0 and not self._workers:
            self.routed_since = asyncio.get_running_loop().time()
        while len(self._workers) < count:
            self._workers.append(asyncio.create_task(self._serve(), name=self.deployment_id))
        while len(self._workers) > count:
            self._workers.pop().cancel()
        if count > 0 and self.state == "starting":
            self.state = "started"
        if count > 0:
            self.started.set()

    def started_at_zero(self) -> None:
        """Loaded and started with a target of zero allocations (a restart at an adaptive
        minimum of 0): ``started``, as ES reports a deployment at zero (#115824 "Set assignment
        state to started in case of zero allocations")."""
        if self.state == "starting":
            self.state = "started"
        self.started.set()

    def restart(self) -> None:
        """The node restarted: allocations gone, the model loads again, counters start at zero.

        Queued requests fail as on a deployment with no allocation; requests being served go
        back to the queue (as when an allocation retires) and are served after the reload or
        time out.
        """
        self.booted = False
        self.state = "starting"
        self.started.set()  # PUTs waiting for the old start return; new waiters wait anew
        self.started = asyncio.Event()
        self.routed_since = None
        self.counters = Counters()
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.cancel()
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(self.unavailable(triggered_scale_up=False))

    async def stop(self) -> None:
        self.state = "stopping"
        self.started.set()  # wake PUTs waiting for the start: they see "stopping"
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(self.unavailable(triggered_scale_up=False))

    # -- inference ---------------------------------------------------------------------------
    def unavailable(self, triggered_scale_up: bool) -> EsError:
        if self.state in ("stopping", "failed"):
            return status_exception(
                MESSAGES["not_started"].format(id=self.deployment_id, state=self.state), 409
            )
        reason = MESSAGES["not_allocated"].format(id=self.deployment_id)
        if triggered_scale_up:
            reason += MESSAGES["starting_one"]
        return status_exception(reason, 409)

    async def infer(
        self, texts: list[str], timeout: float | None
    ) -> list[sparse_encoder.SparseResult]:
        """Queue each input as its own request and wait for allocations to serve them, each
        within ``timeout``; the first failure fails the call.

        Elasticsearch infers every input of a request separately on the deployment
        (TransportInferTrainedModelDeploymentAction.taskOperation: ``task.infer`` per input,
        results put back in order by ``orderedListener``): each input takes a queue slot, is
        counted in ``inference_count`` and the pending count, and pays the per-request
        overhead — which is what the adaptive scaler sees of a batch or a bulk's chunks."""
        if len(texts) == 1:
            return await self._infer_one(texts, timeout)
        answers = await asyncio.gather(
            *(self._infer_one([text], timeout) for text in texts), return_exceptions=True
        )
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        return [result for answer in answers for result in answer]  # type: ignore[union-attr]

    async def _infer_one(
        self, texts: list[str], timeout: float | None
    ) -> list[sparse_encoder.SparseResult]:
        """Queue one request and wait for an allocation to serve it, within ``timeout``."""
        if self._queue.qsize() >= self.queue_capacity:
            self.counters.rejected_execution_count += 1
            raise EsError("es_rejected_execution_exception", MESSAGES["queue_full"])
        tokens = sum(sparse_encoder.token_count(text) for text in texts)
        loop = asyncio.get_running_loop()
        job = _Job(texts, tokens, _Outcome(loop=loop), loop.time())
        self._queue.put_nowait(job)
        if timeout is not None and timeout <= 0:  # due at once: wait_for's own path, kept
            return await self._wait_for(job, timeout)
        # What ``wait_for(shield(job.future), timeout)`` did, with one waiter (woken by the
        # outcome itself) and one timer instead of shield's and wait_for's futures and done
        # callbacks, three loop turns fewer per request: a caller cancelled meanwhile leaves
        # the job to be served and counted, as the shield did; a timeout cancels it, so a
        # worker skips it if still queued.
        waiter: asyncio.Future[None] = loop.create_future()
        job.future.waiter = waiter
        timer = self._deadlines.add(loop, job.queued_at + timeout, waiter) if timeout else None
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()
        if job.future.done():
            return job.future.result()
        job.future.cancel()
        self.counters.timeout_count += 1
        raise self._timed_out(timeout)

    async def _wait_for(
        self, job: _Job, timeout: float | None
    ) -> list[sparse_encoder.SparseResult]:
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), timeout)
        except TimeoutError:
            job.future.cancel()
            self.counters.timeout_count += 1
            raise self._timed_out(timeout) from None

    @staticmethod
    def _timed_out(timeout: float | None) -> EsError:
        return status_exception(
            MESSAGES["timeout"].format(timeout=format_seconds(timeout or 0)), 408
        )

    async def _serve(self) -> None:
        """One allocation: serve the queue's requests one at a time, on the modelled schedule.

        A request's service starts when both it has arrived and the allocation has finished
        the previous one (``free_at``: when that one was *due*, not when this task woke up),
        and it completes at start + service time. So neither the encoder's CPU time nor a late
        wake-up of this task on a busy event loop adds to the modelled queueing and service
        times: late wake-ups are made up at the next request (it starts in the past and
        sleeps less), and only a loop that stays behind delays answers (loop_lag.py says so).
        """
        loop = asyncio.get_running_loop()
        free_at = loop.time()
        while True:
            job = await self._queue.get()
            if job.future.done():  # timed out while queued
                continue
            self._running += 1
            try:
                started = max(free_at, job.queued_at)
                service_s = self.timing.service_time_seconds(
                    job.tokens, self.threads, self._portable
                )
                results = [sparse_encoder.encode(text) for text in job.texts]
                delay = started + service_s - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif self._queue.qsize():  # due already: answer now, yielding to the loop
                    await asyncio.sleep(0)  # first when the next get() would not
            except asyncio.CancelledError:
                # An allocation retired mid-request: hand the request back to the queue.
                if not job.future.done():
                    self._queue.put_nowait(job)
                raise
            except Exception as exc:  # pragma: no cover - encoder failure is a server bug
                self.counters.error_count += 1
                if not job.future.done():
                    job.future.set_exception(exc)
                continue
            finally:
                self._running -= 1
            free_at = started + service_s
            # The process's inference time (ES average_inference_time_ms) is the modelled one.
            self.counters.record(loop.time(), service_s * 1000)
            if not job.future.done():
                job.future.set_result(results)

    # -- stats -------------------------------------------------------------------------------
    def allocation_state(self) -> str:
        """``AllocationStatus.calculateState``."""
        if self.allocation_count == 0 and self.target_allocations > 0:
            return "starting"
        if self.allocation_count < self.target_allocations:
            return "started"
        return "fully_allocated"

    def node_stats(self, node: dict[str, Any]) -> dict[str, Any]:
        """The per-node entry of ``deployment_stats.nodes`` (ES AssignmentStats.NodeStats)."""
        c = self.counters
        c.trim(asyncio.get_running_loop().time())
        entry: dict[str, Any] = {
            "node": node,
            "routing_state": {"routing_state": "started"},
            "inference_count": c.inference_count,
        }
        if c.inference_count:
            average = c.total_inference_ms / c.inference_count
            entry["average_inference_time_ms"] = average
            entry["average_inference_time_ms_excluding_cache_hits"] = average
        recent_ms = [ms for _, ms in c.recent]
        entry.update(
            {
                "inference_cache_hit_count": 0,
                "last_access": c.last_access,
                "number_of_pending_requests": self.pending_requests,
                "error_count": c.error_count,
                "rejected_execution_count": c.rejected_execution_count,
                "timeout_count": c.timeout_count,
                "start_time": self.start_time,
                "threads_per_allocation": self.threads,
                "number_of_allocations": self.allocation_count,
                "peak_throughput_per_minute": c.peak_throughput_per_minute,
                "throughput_last_minute": len(recent_ms),
                "average_inference_time_ms_last_minute": (
                    sum(recent_ms) / len(recent_ms) if recent_ms else 0.0
                ),
                "inference_cache_hit_count_last_minute": 0,
            }
        )
        return entry

    def deployment_stats(self, node: dict[str, Any]) -> dict[str, Any]:
        c = self.counters
        stats: dict[str, Any] = {
            "deployment_id": self.deployment_id,
            "model_id": self.model_id,
            "threads_per_allocation": self.threads,
            "number_of_allocations": self.target_allocations,
        }
        if self.adaptive is not None:
            stats["adaptive_allocations"] = self.adaptive.to_json()
        stats.update(
            {
                "queue_capacity": self.queue_capacity,
                "state": self.state,
                "allocation_status": {
                    "allocation_count": self.allocation_count,
                    "target_allocation_count": self.target_allocations,
                    "state": self.allocation_state(),
                },
                "cache_size": "0b",
                "priority": "normal",
                "start_time": self.start_time,
            }
        )
        # Deployment-level counters are written only when positive (ES AssignmentStats.toXContent).
        for key in ("error_count", "inference_count", "rejected_execution_count", "timeout_count"):
            value = getattr(c, key)
            if value:
                stats[key] = value
        stats["peak_throughput_per_minute"] = c.peak_throughput_per_minute
        stats["nodes"] = [self.node_stats(node)] if self.allocation_count else []
        return stats
