"""Endpoints the load test creates: run prefix only, tracked, and deleted at the end.

Only ids this process created are ever deleted; an endpoint given with ``--inference-id`` is
used as it is and never modified.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests

from elsercheck.load.deployment_stats import deployment_entry

log = logging.getLogger("elsercheck.load")


class Endpoints:
    def __init__(self, session: requests.Session, base_url: str, prefix: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.prefix = prefix
        self.created: set[str] = set()
        self._lock = threading.Lock()

    def url(self, path: str) -> str:
        return self.base_url + path

    def create(
        self, inference_id: str, body: dict[str, Any], timeout_s: float
    ) -> requests.Response:
        """PUT a sparse_embedding endpoint; tracked if stored (200, or 408 still starting)."""
        if not inference_id.startswith(self.prefix):
            raise ValueError(f"{inference_id} lacks the run prefix {self.prefix}")
        try:
            response = self.session.put(
                self.url(f"/_inference/sparse_embedding/{inference_id}"),
                json=body,
                params={"timeout": f"{int(timeout_s)}s"},
                timeout=timeout_s + 30,
            )
        except requests.RequestException:
            # The answer was lost, not necessarily the work: track what got stored.
            if self.exists(inference_id, unknown=True):
                with self._lock:
                    self.created.add(inference_id)
            raise
        if response.status_code in (200, 408) or self.exists(inference_id):
            with self._lock:
                self.created.add(inference_id)
        return response

    def exists(self, inference_id: str, unknown: bool = False) -> bool:
        """Whether the target has it (asked up to 3 times); ``unknown`` if it never answers."""
        for _ in range(3):
            try:
                return self.session.get(self.url(f"/_inference/{inference_id}"), timeout=30).ok
            except requests.RequestException:
                continue
        return unknown

    def delete(self, inference_id: str) -> bool:
        """Delete an endpoint this process created; True when it is gone."""
        with self._lock:
            if inference_id not in self.created:
                raise ValueError(f"{inference_id} was not created by this run")
        response = None
        for _ in range(3):  # deleting is idempotent: a lost answer is worth asking again
            try:
                response = self.session.delete(
                    self.url(f"/_inference/{inference_id}"), params={"force": "true"}, timeout=60
                )
                break
            except requests.RequestException as exc:
                log.warning("could not delete %s: %s", inference_id, exc)
        if response is None:
            return False
        if response.status_code in (200, 404):
            with self._lock:
                self.created.discard(inference_id)
            return True
        log.warning("could not delete %s: HTTP %s", inference_id, response.status_code)
        return False

    def cleanup(self) -> list[str]:
        """Delete everything still tracked; the ids that could not be deleted."""
        return [item for item in sorted(self.created) if not self.delete(item)]

    def sweep(self, keep: frozenset[str] | set[str] = frozenset()) -> list[str]:
        """Track and delete every endpoint on the target with the run prefix (except ``keep``),
        also those whose PUT was cut short; the ids that could not be deleted."""
        try:
            listing = self.session.get(self.url("/_inference/_all"), timeout=30)
            found = [e.get("inference_id", "") for e in listing.json().get("endpoints", [])]
        except (requests.RequestException, ValueError, AttributeError):
            found = []  # the parent's sweep is the next net
        with self._lock:
            self.created.update(i for i in found if i.startswith(self.prefix) and i not in keep)
        return self.cleanup()

    def stats(self, deployment_id: str) -> Any:
        response = self.session.get(
            self.url(f"/_ml/trained_models/{deployment_id}/_stats"), timeout=30
        )
        response.raise_for_status()
        return response.json()

    def wait_allocated(
        self, deployment_id: str, timeout_s: float, at_least: int = 1
    ) -> dict[str, Any] | None:
        """Poll until ``fully_allocated`` with at least ``at_least`` allocations, or give up."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                stats = deployment_entry(self.stats(deployment_id), deployment_id) or {}
            except requests.RequestException:
                stats = {}
            status = stats.get("allocation_status") or {}
            if (
                status.get("state") == "fully_allocated"
                and status.get("allocation_count", 0) >= at_least
            ):
                return stats
            time.sleep(0.2)
        return None
