"""Endpoints the load test creates: run prefix only, tracked, and deleted at the end.

The policy (408 still stored, lost answers looked up, deletes asked again, 409 waited out) is
``elsercheck.endpoints``'; this plugs in the load test's ``requests`` control session. Only
ids this process created are deleted; an endpoint given with ``--inference-id`` is used as it
is and never modified.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import requests

from elsercheck import endpoints
from elsercheck.endpoints import LostAnswer, NotAllocated, stats_path

LAG_PATH = "/_elsercheck/lag"  # elsercheck.reference.loop_lag (not imported: any target)
log = logging.getLogger("elsercheck.load")
DEFAULT_TIMEOUT_S = 60.0  # requests waits forever without one


class RequestsTransport:
    """An ``elsercheck.endpoints`` transport over a ``requests`` session (gevent-friendly)."""

    def __init__(self, session: requests.Session, base_url: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")

    def __call__(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None,
        json: Any = None, timeout: float | None = None,
    ) -> requests.Response:  # fmt: skip
        try:
            return self.session.request(
                method, self.base_url + path, params=params, json=json,
                timeout=DEFAULT_TIMEOUT_S if timeout is None else timeout,
            )  # fmt: skip
        except requests.RequestException as exc:
            raise LostAnswer(method, path, exc) from exc


class Endpoints(endpoints.Endpoints[requests.Response]):
    """The run's endpoints on the target, over the control session."""

    def __init__(self, session: requests.Session, base_url: str, prefix: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        super().__init__(RequestsTransport(session, self.base_url), prefix)

    def url(self, path: str) -> str:
        return self.base_url + path

    def create_waiting(
        self, inference_id: str, body: dict[str, Any], timeout_s: float
    ) -> requests.Response:
        """PUT a sparse_embedding endpoint that waits up to ``timeout_s`` for its deployment."""
        return self.create(
            inference_id, body, params={"timeout": f"{int(timeout_s)}s"}, timeout=timeout_s + 30
        )

    def exists(self, inference_id: str) -> bool:
        """Whether the target has it (False when it cannot tell)."""
        return endpoints.exists(self.transport, inference_id) is True

    def remove(self, inference_id: str) -> bool:
        gone = super().remove(inference_id)
        if not gone:
            log.warning("could not delete %s", inference_id)
        return gone

    def service_of(self, inference_id: str) -> str | None:
        """The endpoint's ``service`` (``GET _inference/<id>``), None when it cannot tell."""
        try:
            response = self.session.get(self.url(f"/_inference/{inference_id}"), timeout=30)
            listed = response.json().get("endpoints") if response.status_code == 200 else None
            return str(listed[0]["service"]) if listed else None
        except (requests.RequestException, ValueError, KeyError, TypeError, AttributeError):
            return None

    def server_lag(self) -> dict[str, Any] | None:
        """The embedded reference server's event-loop lag counters (``GET /_elsercheck/lag``);
        ``None`` from any other target (Elasticsearch has no such route)."""
        response = self.session.get(self.url(LAG_PATH), timeout=30)
        if response.status_code != 200:
            return None
        body = response.json()
        return body if isinstance(body, dict) and "behind_s" in body else None

    def stats(self, deployment_id: str) -> Any:
        response = self.session.get(self.url(stats_path(deployment_id)), timeout=30)
        response.raise_for_status()
        return response.json()

    def wait_allocated(self, deployment_id: str, timeout_s: float) -> dict[str, Any] | None:
        """The deployment's stats once fully allocated (the seeds' rule), or None."""
        try:
            return endpoints.wait_fully_allocated(self.transport, deployment_id, timeout_s)
        except NotAllocated:
            return None
