"""How the suite handles its own ELSER endpoints on a target, written once.

Every part of elsercheck that creates endpoints (smoke, the contract suite, the load test, the
load runner's sweep, the benchmarks) uses this vocabulary with its own HTTP client plugged in
as a :class:`Transport`:

* **naming** — every endpoint the suite creates is called ``elsercheck-<run-id>-…``
  (:func:`endpoint_prefix`); only ids with the run prefix are ever deleted;
* **models** — the ELSER v2 model ids (:data:`ELSER_V2_PORTABLE`, :data:`ELSER_V2_X86`) and the
  documented endpoint body (:func:`elser_body`);
* **create** — a PUT answered 408 stored the endpoint (its deployment keeps starting,
  ES TransportStartTrainedModelDeploymentAction): tracked. Any other answer, or a lost one
  (the request may have been processed, only its answer lost), is followed by a look-up:
  tracked if it exists, or if the look-up cannot tell;
* **delete** — ``DELETE ?force=true``; an answer lost on the way is asked again (deleting is
  idempotent) and a 409 while a deployment is (re)starting is waited out, both bounded;
* **cleanup** — deletes everything tracked and, when asked, everything still listed under the
  run prefix;
* **fully allocated** — the seeds' rule, :func:`fully_allocated`;
* **indices** — a run's indices (semantic_text workloads) carry the same prefix, are tracked
  the same way, and cleanup deletes them before the endpoints (``DELETE /<index>``; the
  sweep finds them with ``GET /_resolve/index/<prefix>*``, ES ``ResolveIndexAction``).

This module carries no expectation about the target: the contract suite may use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import httpx

if TYPE_CHECKING:
    from .target import Target

# -- naming and models ------------------------------------------------------------------------
RUN_PREFIX = "elsercheck"
ELSER_V2_PORTABLE = ".elser_model_2"
ELSER_V2_X86 = ".elser_model_2_linux-x86_64"
DEFAULT_MODEL = ELSER_V2_X86  # the model Elastic's docs use in the create example
# ELSER on the Elastic Inference Service: the service's name, EIS's model id and the
# preconfigured endpoint (ES InternalPreconfiguredEndpoints DEFAULT_ELSER_2_MODEL_ID,
# DEFAULT_ELSER_ENDPOINT_ID_V2).
EIS_SERVICE = "elastic"
EIS_ELSER_MODEL = "elser_model_2"
ELSER_ON_EIS = ".elser-2-elastic"


def endpoint_prefix(run_id: str) -> str:
    """``elsercheck-<run-id>-``: the start of every inference id a run creates."""
    return f"{RUN_PREFIX}-{run_id}-"


def elser_body(**service_settings: Any) -> dict[str, Any]:
    """The documented ELSER endpoint body (service ``elasticsearch``, x86 model, 1 allocation,
    1 thread); keyword arguments replace service settings."""
    settings: dict[str, Any] = {"model_id": DEFAULT_MODEL, "num_allocations": 1, "num_threads": 1}
    settings.update(service_settings)
    return {"service": "elasticsearch", "service_settings": settings}


def stats_path(deployment_id: str) -> str:
    return f"/_ml/trained_models/{deployment_id}/_stats"


# -- transport ----------------------------------------------------------------------------------
class Answer(Protocol):
    """What the vocabulary reads of an HTTP answer (``httpx`` and ``requests`` responses fit)."""

    @property
    def status_code(self) -> int: ...

    def json(self) -> Any: ...


A = TypeVar("A", bound=Answer)
A_co = TypeVar("A_co", bound=Answer, covariant=True)


class LostAnswer(Exception):
    """A request whose answer never came (connection reset, cut short, timed out): the target
    may or may not have processed it."""

    def __init__(self, method: str, path: str, cause: BaseException) -> None:
        super().__init__(f"{method} {path}: answer lost: {type(cause).__name__}: {cause}")
        self.cause = cause


class Transport(Protocol[A_co]):
    """Sends one request to the target and returns its answer, or raises :class:`LostAnswer`.

    ``timeout`` None means the client's default. Retrying proxy 502/503 is the client's job
    (``elsercheck.retry``); nothing else is retried by a transport.
    """

    def __call__(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None,
        json: Any = None, timeout: float | None = None,
    ) -> A_co: ...  # fmt: skip


class HttpxTransport:
    """A :class:`Transport` over an ``httpx.Client`` (its base URL, credentials and retries)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def __call__(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None,
        json: Any = None, timeout: float | None = None,
    ) -> httpx.Response:  # fmt: skip
        try:
            return self.client.request(
                method, path, params=params, json=json,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )  # fmt: skip
        except httpx.TransportError as exc:
            raise LostAnswer(method, path, exc) from exc


# -- the policy ---------------------------------------------------------------------------------
LOOKUP_ATTEMPTS = 3  # a GET whose answer is lost is asked again this often
DELETE_ATTEMPTS = 10  # with DELETE_PAUSE_S: ~5 s for lost answers or a deployment starting
DELETE_PAUSE_S = 0.5
GONE = frozenset({200, 404})
# Stats answers worth polling again: not there yet, busy, or a server-side hiccup.
STATS_TRANSIENT = frozenset({404, 408, 409, 429})


def exists(transport: Transport[Answer], inference_id: str) -> bool | None:
    """Whether the target has the endpoint; None when it cannot tell (answers lost, or a
    busy or failing target: 408, 429, 5xx). Other answers than 200 mean it has not."""
    for _ in range(LOOKUP_ATTEMPTS):
        try:
            status = transport("GET", f"/_inference/{inference_id}").status_code
        except LostAnswer:
            continue
        if status in (408, 429) or status >= 500:
            return None
        return status == 200
    return None


def delete(
    transport: Transport[Answer], inference_id: str, *, attempts: int = DELETE_ATTEMPTS,
    pause_s: float = DELETE_PAUSE_S, sleep: Callable[[float], None] = time.sleep,
) -> int | None:  # fmt: skip
    """``DELETE ?force=true`` under the policy; the last status (None: every answer was lost).

    A lost answer is asked again; a 409 (a deployment still (re)starting refuses to stop for a
    moment) is waited out, ``pause_s`` between tries, at most ``attempts`` tries. 200 and 404
    mean gone; any other status is final.
    """
    status: int | None = None
    for attempt in range(attempts):
        try:
            status = transport(
                "DELETE", f"/_inference/{inference_id}", params={"force": "true"}
            ).status_code
        except LostAnswer:
            status = None
        if status in GONE or status not in (None, 409):
            return status
        if attempt < attempts - 1:
            sleep(pause_s)
    return status


def fully_allocated(allocation_status: Mapping[str, Any] | None) -> bool:
    """The seeds' rule: ``state == "fully_allocated"`` and ``allocation_count ==
    target_allocation_count`` (both from ``allocation_status`` in the trained-model stats)."""
    if not allocation_status:
        return False
    count = allocation_status.get("allocation_count")
    return (
        allocation_status.get("state") == "fully_allocated"
        and isinstance(count, int)
        and count == allocation_status.get("target_allocation_count")
    )


def deployment_entry(payload: Any, deployment_id: str) -> dict[str, Any] | None:
    """The ``deployment_stats`` object of ``deployment_id`` in a trained-model stats answer."""
    if not isinstance(payload, dict):
        return None
    for entry in payload.get("trained_model_stats") or []:
        stats = entry.get("deployment_stats") if isinstance(entry, dict) else None
        if isinstance(stats, dict) and stats.get("deployment_id") == deployment_id:
            return stats
    return None


class NotAllocated(Exception):
    """The deployment was not fully allocated in time, or its stats cannot be read."""

    def __init__(
        self, message: str, last: Mapping[str, Any] | None, *, timed_out: bool = False
    ) -> None:
        super().__init__(message)
        self.last = last
        self.timed_out = timed_out  # the wait ran out (not an answer that ended it)


def wait_fully_allocated(
    transport: Transport[Answer], deployment_id: str, seconds: float, *,
    interval_s: float = 0.2, sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    inspect: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Poll ``GET /_ml/trained_models/<id>/_stats`` until :func:`fully_allocated` holds; the
    deployment's stats entry then. Lost answers and transient statuses are polled through;
    other statuses (401, 403, 400…) end the wait at once. Raises :class:`NotAllocated`.
    ``inspect`` sees every stats entry first and may raise to end the wait (a caller's check)."""
    deadline = clock() + seconds
    last: dict[str, Any] | None = None
    while True:
        try:
            answer = transport("GET", stats_path(deployment_id))
        except LostAnswer:
            answer = None
        if answer is not None and answer.status_code == 200:
            stats = deployment_entry(answer.json(), deployment_id)
            if stats is not None and inspect is not None:
                inspect(stats)
            last = (stats or {}).get("allocation_status")
            if stats is not None and fully_allocated(last):
                return stats
        elif answer is not None and not (
            answer.status_code in STATS_TRANSIENT or answer.status_code >= 500
        ):
            raise NotAllocated(
                f"{deployment_id}: deployment stats answered HTTP {answer.status_code}", last
            )
        if clock() >= deadline:
            raise NotAllocated(
                f"{deployment_id} not fully allocated after {seconds:g}s (last: {last})",
                last,
                timed_out=True,
            )
        sleep(interval_s)


# -- tracking ---------------------------------------------------------------------------------
@dataclass
class Endpoints(Generic[A]):
    """The endpoints one run creates on a target: created under the run prefix, tracked, deleted.

    Only ids carrying ``prefix`` are ever created or deleted: nothing else is touched. Safe to
    share between threads (and greenlets).
    """

    transport: Transport[A]
    prefix: str
    created: dict[str, str] = field(default_factory=dict)  # id -> task type
    indices: set[str] = field(default_factory=set)  # index names this run created
    sleep: Callable[[float], None] = time.sleep
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _counter: int = 0

    def new_id(self, label: str) -> str:
        """A fresh id under the prefix: ``<prefix><label>-<n>``."""
        with self._lock:
            self._counter += 1
            return f"{self.prefix}{label}-{self._counter}"

    def _own(self, inference_id: str) -> None:
        if not inference_id.startswith(self.prefix):
            raise ValueError(f"{inference_id} lacks the run prefix {self.prefix}")

    def create(
        self, inference_id: str, body: Mapping[str, Any], *, task_type: str = "sparse_embedding",
        params: Mapping[str, str] | None = None, timeout: float | None = None,
    ) -> A:  # fmt: skip
        """PUT an endpoint; tracked when stored (200, 408) or found afterwards.

        A lost answer raises :class:`LostAnswer` after the look-up; an endpoint the look-up
        cannot rule out is tracked, so cleanup tries to delete it.
        """
        self._own(inference_id)
        try:
            answer = self.transport(
                "PUT", f"/_inference/{task_type}/{inference_id}", params=params, json=body,
                timeout=timeout,
            )  # fmt: skip
        except LostAnswer:
            if exists(self.transport, inference_id) is not False:
                self.track(inference_id, task_type)
            raise
        # 408: stored while the deployment keeps starting. Anything else: a non-conformant
        # target, or a PUT a proxy forwarded twice, may have stored it all the same.
        if answer.status_code in (200, 408) or exists(self.transport, inference_id) is not False:
            self.track(inference_id, task_type)
        return answer

    def track(self, inference_id: str, task_type: str = "sparse_embedding") -> None:
        with self._lock:
            self.created[inference_id] = task_type

    def forget(self, inference_id: str) -> bool:
        """Stop tracking; True when it was tracked."""
        with self._lock:
            return self.created.pop(inference_id, None) is not None

    def delete(self, inference_id: str, *, force: bool = True) -> A:
        """One DELETE (``?force=true`` unless told), its answer as it is, for checks; forgotten
        when gone."""
        self._own(inference_id)
        params = {"force": "true"} if force else None
        answer = self.transport("DELETE", f"/_inference/{inference_id}", params=params)
        if answer.status_code in GONE:
            self.forget(inference_id)
        return answer

    def remove(self, inference_id: str) -> bool:
        """Delete under the policy (lost answers asked again, 409 waited out); True when gone."""
        self._own(inference_id)
        gone = delete(self.transport, inference_id, sleep=self.sleep) in GONE
        if gone:
            self.forget(inference_id)
        return gone

    def listed(self) -> list[str] | None:
        """Ids under the prefix that ``GET /_inference/_all`` lists; None when it cannot tell."""
        for _ in range(LOOKUP_ATTEMPTS):
            try:
                answer = self.transport("GET", "/_inference/_all")
            except LostAnswer:
                continue
            if answer.status_code != 200:
                return None
            try:
                endpoints = answer.json().get("endpoints") or []
            except (ValueError, AttributeError):
                return None
            ids = [e.get("inference_id", "") for e in endpoints if isinstance(e, dict)]
            return [i for i in ids if isinstance(i, str) and i.startswith(self.prefix)]
        return None

    # -- indices (semantic_text workloads) ---------------------------------------------------
    def create_index(self, name: str, body: Mapping[str, Any]) -> A:
        """PUT an index under the prefix; tracked when created, or when the answer was lost."""
        self._own(name)
        try:
            answer = self.transport("PUT", f"/{name}", json=body)
        except LostAnswer:
            self.track_index(name)
            raise
        if answer.status_code == 200:
            self.track_index(name)
        return answer

    def track_index(self, name: str) -> None:
        with self._lock:
            self.indices.add(name)

    def remove_index(self, name: str) -> bool:
        """``DELETE /<name>``, a lost answer asked again (bounded); True when gone (200, 404)."""
        self._own(name)
        for attempt in range(DELETE_ATTEMPTS):
            try:
                status = self.transport("DELETE", f"/{name}").status_code
            except LostAnswer:
                status = None
            if status in GONE:
                with self._lock:
                    self.indices.discard(name)
                return True
            if status is not None:
                return False
            if attempt < DELETE_ATTEMPTS - 1:
                self.sleep(DELETE_PAUSE_S)
        return False

    def listed_indices(self) -> list[str] | None:
        """Index names under the prefix (``GET /_resolve/index/<prefix>*``); None when it cannot
        tell. The pattern never matches anything without the prefix."""
        for _ in range(LOOKUP_ATTEMPTS):
            try:
                answer = self.transport("GET", f"/_resolve/index/{self.prefix}*")
            except LostAnswer:
                continue
            if answer.status_code != 200:
                return None
            try:
                found = answer.json().get("indices") or []
            except (ValueError, AttributeError):
                return None
            names = [i.get("name", "") for i in found if isinstance(i, dict)]
            return [n for n in names if isinstance(n, str) and n.startswith(self.prefix)]
        return None

    def cleanup(self, sweep: bool = False) -> list[str]:
        """Delete everything tracked and, with ``sweep``, everything listed under the prefix:
        indices first (they reference the endpoints), then endpoints; the ids and index names
        that could not be deleted (sorted)."""
        failed = {n for n in sorted(self.indices) if not self.remove_index(n)}
        if sweep:
            listed = self.listed_indices() or []
            failed |= {n for n in listed if n not in failed and not self.remove_index(n)}
        failed |= {i for i in sorted(self.created) if not self.remove(i)}
        if sweep:
            failed |= {i for i in self.listed() or [] if i not in failed and not self.remove(i)}
        return sorted(failed)


def sweep_run(target: Target, run_id: str) -> list[str]:
    """Delete the indices and endpoints that still carry this run's prefix on ``target``; the
    names that would not go. The backstop after a run (gate, load), also after a signal or a
    killed child."""
    try:
        with target.client(timeout=60, retry=True) as client:
            return Endpoints(HttpxTransport(client), endpoint_prefix(run_id)).cleanup(sweep=True)
    except Exception:  # a backstop: an unreachable target is reported elsewhere
        return []
