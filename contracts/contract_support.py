"""Support for the contract suite: target settings, version profiles, safe endpoint creation.

Nothing here knows the reference server: expectations come from ``profiles/`` (written from
Elastic's documentation) and the curated OpenAPI spec.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from elsercheck import endpoints
from elsercheck.endpoints import ELSER_V2_X86 as ELSER_X86  # noqa: F401 (for the tests)
from elsercheck.endpoints import Endpoints, HttpxTransport, elser_body
from elsercheck.retry import retrying

HERE = Path(__file__).resolve().parent


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
    """The Elasticsearch error envelope (ES ElasticsearchException) with this status, type and reason."""
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
class EndpointTracker(Endpoints[httpx.Response]):
    """Creates endpoints under the run prefix, bounds how many live at once, deletes them all.

    The create/delete/cleanup policy is ``elsercheck.endpoints``'; this adds the bound on live
    deployments and the leftovers file. Only ids under the prefix are ever deleted.
    """

    def __init__(self, client: httpx.Client, prefix: str, max_alive: int,
                 leftovers_file: Path | None = None) -> None:  # fmt: skip
        super().__init__(HttpxTransport(client), prefix)
        self.client = client
        self.max_alive = max_alive
        self.leftovers_file = leftovers_file
        self._slots = threading.BoundedSemaphore(max_alive)

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
            return self.create(
                inference_id, body, task_type=task_type, params=params, timeout=timeout
            )
        finally:
            if inference_id not in self.created:  # not stored: its slot is free again
                self._slots.release()

    def forget(self, inference_id: str) -> bool:
        forgotten = super().forget(inference_id)
        if forgotten:
            self._slots.release()
        return forgotten

    def cleanup(self, sweep: bool = True) -> list[str]:
        """Delete everything tracked or listed under the prefix; the ids that would not go."""
        if self.client.is_closed:  # already cleaned up when the session's client closed
            return sorted(self.created)
        failed = super().cleanup(sweep=sweep)
        if self.leftovers_file is not None and failed:
            existing = []
            if self.leftovers_file.exists():
                existing = json.loads(self.leftovers_file.read_text())
            self.leftovers_file.write_text(json.dumps(sorted({*existing, *failed})))
        return failed


def wait_fully_allocated(client: httpx.Client, inference_id: str, seconds: float) -> dict[str, Any]:
    """Poll the trained model stats until the seeds' condition holds; return the stats entry."""
    try:
        return endpoints.wait_fully_allocated(HttpxTransport(client), inference_id, seconds)
    except endpoints.NotAllocated as exc:
        raise AssertionError(str(exc)) from None


def adaptive_body(min_allocations: int, max_allocations: int) -> dict[str, Any]:
    """An ELSER endpoint with adaptive allocations and no ``num_allocations`` (StartTrainedModelDeploymentAction forbids both)."""
    adaptive = {
        "enabled": True,
        "min_number_of_allocations": min_allocations,
        "max_number_of_allocations": max_allocations,
    }
    body = elser_body(adaptive_allocations=adaptive)
    del body["service_settings"]["num_allocations"]
    return body
