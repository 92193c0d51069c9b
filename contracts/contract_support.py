"""Support for the contract suite: target settings, version profiles, safe endpoint creation.

Nothing here knows the reference server: expectations come from ``profiles/`` (written from
Elastic's documentation) and the curated OpenAPI spec.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from elsercheck.retry import retrying

HERE = Path(__file__).resolve().parent
ELSER_X86 = ".elser_model_2_linux-x86_64"


# -- reproducers ----------------------------------------------------------------------------------
def curl(request: httpx.Request) -> str:
    """A curl command for ``request`` with credentials replaced by environment variables."""
    parts = ["curl", "-X", request.method, _quote(str(request.url))]
    authorization = request.headers.get("authorization", "")
    scheme = authorization.split(" ", 1)[0].lower()
    if scheme == "basic":
        parts += ["-u", '"$ELASTICSEARCH_USERNAME:$ELASTICSEARCH_PASSWORD"']
    elif scheme == "apikey":
        parts += ["-H", '"Authorization: ApiKey $ELASTICSEARCH_API_KEY"']
    elif authorization:
        parts += ["-H", '"Authorization: <redacted>"']
    content_type = request.headers.get("content-type")
    if content_type:
        parts += ["-H", _quote(f"Content-Type: {content_type}")]
    body = request.content
    if body:
        text = body.decode("utf-8", "replace")
        parts += ["-d", _quote(text if len(text) <= 2000 else text[:2000] + "…")]
    return " ".join(parts)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


class RequestRecorder:
    """Keeps the requests of the running test, to attach reproducers to its failure."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def record(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def take(self, last: int = 3) -> list[str]:
        taken, self.requests = self.requests[-last:], []
        return [curl(r) for r in taken]


RECORDER = RequestRecorder()
HOOKS = {"request": [RECORDER.record]}


def client(base_url: str, verify: Any = True, **options: Any) -> httpx.Client:
    """An httpx client whose requests are recorded for reproducers.

    Like every client of the suite it retries only what Elastic documents as transient: a
    502/503 from a proxy in front of the cluster (e.g. while the model downloads), a few times
    with a short backoff. 4xx and other 5xx answers are never retried; see ``elsercheck.retry``.
    """
    return httpx.Client(base_url=base_url, event_hooks=HOOKS, transport=retrying(verify), **options)


# -- version profiles ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Profile:
    """Pinned, version-dependent strings. ``exact`` is False when no profile matches."""

    version: str
    reasons: dict[str, str]
    privileges: dict[str, str]
    exact: bool

    def reason(self, name: str, /, **values: object) -> str | None:
        """The pinned reason text, or ``None`` when this version has no profile."""
        return self.reasons[name].format(**values) if self.exact else None


def load_profile(version_number: str) -> Profile:
    """The profile for ``major.minor``; the newest older one, with a warning, otherwise."""
    profiles = {p.stem: tomllib.loads(p.read_text()) for p in (HERE / "profiles").glob("*.toml")}
    major_minor = ".".join(version_number.split(".")[:2])
    if major_minor in profiles:
        data, exact = profiles[major_minor], True
    else:
        key = sorted(profiles, key=lambda v: tuple(int(x) for x in v.split(".")))[-1]
        data, exact = profiles[key], False
        warnings.warn(
            f"no contract profile for Elasticsearch {version_number}; checking statuses and error "
            f"types only (reason texts are pinned for {', '.join(sorted(profiles))})",
            stacklevel=2,
        )
    return Profile(version_number, data["reasons"], data.get("privileges", {}), exact)


def known_deviations(version_number: str) -> list[dict[str, Any]]:
    """Entries of ``known_deviations.toml`` that apply to this version."""
    path = HERE / "known_deviations.toml"
    entries = tomllib.loads(path.read_text()).get("deviation", []) if path.exists() else []
    return [
        e for e in entries if any(fnmatch.fnmatch(version_number, v) for v in e.get("versions", []))
    ]


# -- assertions --------------------------------------------------------------------------------------
def assert_es_error(response: httpx.Response, status: int, type_: str, reason: str | None) -> None:
    """The Elasticsearch error envelope (es-behavior §0.1) with this status, type and reason."""
    assert response.status_code == status, _describe(response)
    assert response.headers.get("x-elastic-product") == "Elasticsearch", "missing X-elastic-product"
    body = response.json()
    assert body.get("status") == status, _describe(response)
    error = body.get("error")
    assert isinstance(error, dict), f"no error envelope: {_describe(response)}"
    assert error.get("type") == type_, _describe(response)
    assert isinstance(error.get("root_cause"), list) and error["root_cause"], _describe(response)
    if reason is not None:
        assert error.get("reason") == reason, _describe(response)


def assert_routing_error(response: httpx.Response, status: int, message: str | None) -> None:
    """The REST controller's flat error shape ``{"error": "<text>", "status": N}``."""
    assert response.status_code == status, _describe(response)
    assert response.headers.get("x-elastic-product") == "Elasticsearch"
    body = response.json()
    assert body.get("status") == status and isinstance(body.get("error"), str), _describe(response)
    if message is not None:
        assert body["error"] == message, _describe(response)


def _describe(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url} -> {response.status_code}: {response.text[:500]}"


# -- endpoints the suite creates ------------------------------------------------------------------
CLEANUP_ATTEMPTS = 10  # ~5 s for a lost answer or a deployment still starting


@dataclass
class EndpointTracker:
    """Creates endpoints under the run prefix, bounds how many live at once, deletes them all.

    Only ids this tracker created are ever deleted: nothing else on the target is touched.
    """

    client: httpx.Client
    prefix: str
    max_alive: int
    leftovers_file: Path | None = None
    created: dict[str, str] = field(default_factory=dict)  # id -> task type
    _slots: threading.BoundedSemaphore = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 0

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.max_alive)

    def new_id(self, label: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{self.prefix}{label}-{self._counter}"

    def put(self, inference_id: str, body: dict[str, Any], *, task_type: str = "sparse_embedding",
            params: dict[str, str] | None = None, timeout: float = 120.0) -> httpx.Response:  # fmt: skip
        """PUT an endpoint (must carry the run prefix); tracked unless the target refused it."""
        if not inference_id.startswith(self.prefix):
            raise ValueError(f"{inference_id} lacks the run prefix {self.prefix}")
        # A worker runs its tests one at a time: a slot that does not free up soon was leaked
        # (a test that did not delete its endpoint); fail rather than wait forever.
        if not self._slots.acquire(timeout=5):
            raise AssertionError(
                f"more than --max-deployments={self.max_alive} endpoints alive: "
                f"{', '.join(self.created)}"
            )
        try:
            response = self.client.put(
                f"/_inference/{task_type}/{inference_id}", json=body, params=params,
                timeout=timeout,
            )  # fmt: skip
        except httpx.TransportError:
            # The answer was lost, not necessarily the work: track what got stored.
            if self._exists(inference_id):
                with self._lock:
                    self.created[inference_id] = task_type
            else:
                self._slots.release()
            raise
        # 408 means stored and still starting (es-behavior §4.2): it must be cleaned up too.
        if response.status_code in (200, 408) or self._exists(inference_id):
            with self._lock:
                self.created[inference_id] = task_type
        else:
            self._slots.release()
        return response

    def _exists(self, inference_id: str) -> bool:
        """Whether the target has it; asked again when an answer is lost on the way."""
        for attempt in range(3):
            try:
                return self.client.get(f"/_inference/{inference_id}").status_code == 200
            except httpx.TransportError:
                if attempt == 2:
                    return True  # unknown: keep tracking it, so cleanup tries to delete it
        return True

    def delete(self, inference_id: str) -> httpx.Response:
        response = self.client.delete(f"/_inference/{inference_id}", params={"force": "true"})
        if response.status_code in (200, 404):
            self.forget(inference_id)
        return response

    def forget(self, inference_id: str) -> None:
        with self._lock:
            if self.created.pop(inference_id, None) is not None:
                self._slots.release()

    def sweep(self) -> list[str]:
        """Delete every endpoint on the target with this tracker's prefix, tracked or not (a
        PUT cut short by a stop signal may have stored one); the ids that could not be deleted."""
        if self.client.is_closed:
            return sorted(self.created)
        try:
            listing = self.client.get("/_inference/_all")
            found = [e.get("inference_id", "") for e in listing.json().get("endpoints", [])]
        except (httpx.HTTPError, ValueError, AttributeError):
            return sorted(self.created)
        return self.cleanup([i for i in found if i.startswith(self.prefix)])

    def cleanup(self, untracked: list[str] | None = None) -> list[str]:
        """Delete everything still tracked (and ``untracked``, ids with the run prefix found on
        the target); return the ids that could not be deleted."""
        failed = []
        if self.client.is_closed:  # already cleaned up when the session's client closed
            return sorted(self.created)
        tracked = list(self.created)
        for inference_id in tracked + [i for i in untracked or [] if i not in tracked]:
            # Our own cleanup, not a contract check: deleting is idempotent, so a lost answer is
            # worth asking again, and a deployment that is (re)starting answers 409 for a moment.
            for attempt in range(CLEANUP_ATTEMPTS):
                last = attempt == CLEANUP_ATTEMPTS - 1
                try:
                    status = self.delete(inference_id).status_code
                except httpx.HTTPError:
                    status = None
                if status in (200, 404):
                    break
                if last or status not in (None, 409):
                    failed.append(inference_id)
                    break
                time.sleep(0.5)
        if self.leftovers_file is not None and failed:
            existing = []
            if self.leftovers_file.exists():
                existing = json.loads(self.leftovers_file.read_text())
            self.leftovers_file.write_text(json.dumps(sorted({*existing, *failed})))
        return failed


def wait_fully_allocated(client: httpx.Client, inference_id: str, seconds: float) -> dict[str, Any]:
    """Poll the trained model stats until the seeds' condition holds; return the stats entry."""
    deadline = time.monotonic() + seconds
    status: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        response = client.get(f"/_ml/trained_models/{inference_id}/_stats")
        if response.status_code == 200:
            for entry in response.json().get("trained_model_stats", []):
                stats = entry.get("deployment_stats") or {}
                if stats.get("deployment_id") == inference_id:
                    status = stats.get("allocation_status")
                    if (
                        status
                        and status.get("state") == "fully_allocated"
                        and status.get("allocation_count") == status.get("target_allocation_count")
                    ):
                        return stats
        time.sleep(0.2)
    raise AssertionError(f"{inference_id} not fully_allocated after {seconds}s (last: {status})")


def adaptive_body(min_allocations: int, max_allocations: int) -> dict[str, Any]:
    """An ELSER endpoint with adaptive allocations and no ``num_allocations`` (§2.5 forbids both)."""
    adaptive = {
        "enabled": True,
        "min_number_of_allocations": min_allocations,
        "max_number_of_allocations": max_allocations,
    }
    body = elser_body(adaptive_allocations=adaptive)
    del body["service_settings"]["num_allocations"]
    return body


def elser_body(**service_settings: Any) -> dict[str, Any]:
    """The documented ELSER endpoint body (service ``elasticsearch``), settings overridable."""
    settings: dict[str, Any] = {"model_id": ELSER_X86, "num_allocations": 1, "num_threads": 1}
    settings.update(service_settings)
    return {"service": "elasticsearch", "service_settings": settings}
