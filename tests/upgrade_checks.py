"""Helpers for servers on a data directory, and the checks of the restart and upgrade defects
(tests/test_defects.py runs each against a server with its defect and a clean one; each holds
only with its defect). A check builds its own servers from the given server's configuration:
what it needs is a restart, not the running server."""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from elsercheck.reference import persistence, versions
from elsercheck.reference.config import ServerConfig
from elsercheck.upgrade_selftest import (  # noqa: F401 (the tests' seeds and bodies too)
    ELSER,
    LEGACY_812,
    SCALE_TO_ZERO,
    seed,
)
from elsercheck.upgrade_selftest import elser_endpoint as endpoint
from tests.inprocess import InProcessServer

WORD_250 = {"strategy": "word", "max_chunk_size": 250, "overlap": 100}  # pre-8.16 default


def at(config: ServerConfig, line: str | None = None, data_dir: Path | None = None) -> ServerConfig:
    """``config`` at another version and/or on a data directory."""
    changed = replace(config, data_dir=data_dir or config.data_dir)
    return replace(changed, es_version=versions.resolve(line)) if line else changed


def client(server: InProcessServer) -> httpx.Client:
    password = server.config.password
    auth = ("elastic", password) if server.config.security else None
    return server.client(auth=auth, timeout=30)


def put(c: httpx.Client, inference_id: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = c.put(f"/_inference/sparse_embedding/{inference_id}", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def deployment_stats(c: httpx.Client) -> dict[str, dict[str, Any]]:
    """Deployment id → its ``deployment_stats``."""
    stats = c.get("/_ml/trained_models/_stats").json()["trained_model_stats"]
    return {
        s["deployment_stats"]["deployment_id"]: s["deployment_stats"]
        for s in stats
        if "deployment_stats" in s
    }


def wait_allocations(c: httpx.Client, deployment_id: str, count: int) -> dict[str, Any]:
    """Poll the stats until the deployment serves ``count`` allocations (generous, no bound
    asserted on time)."""
    deadline = time.monotonic() + 60
    while True:
        stats = deployment_stats(c).get(deployment_id)
        status = (stats or {}).get("allocation_status", {})
        if (
            stats is not None
            and stats["state"] == "started"
            and (status.get("allocation_count") == count == status.get("target_allocation_count"))
        ):
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"{deployment_id}: never at {count} allocations: {stats}")
        time.sleep(0.02)


def scale_to_zero(server: InProcessServer, deployment_id: str) -> None:
    """Put a deployment at zero allocations at once (what the adaptive scaler does after
    scale_to_zero_time without requests; the scaler's own decision is tested elsewhere)."""

    async def zero() -> None:
        deployments = server.app.state.deployments
        deployment = deployments.get(deployment_id)
        assert deployment is not None
        deployments.set_target(deployment, 0)

    server.run(zero(), timeout=10)


# -- the checks test_defects.py runs --------------------------------------------------------------
def chunking_dropped_on_upgrade(c: httpx.Client, s: InProcessServer) -> None:
    chunking = {"strategy": "word", "max_chunk_size": 20, "overlap": 5}
    with tempfile.TemporaryDirectory() as tmp:
        with InProcessServer(at(s.config, "9.4", Path(tmp))) as old, client(old) as oc:
            put(oc, "chunked", endpoint(chunking=chunking))
        with InProcessServer(at(s.config, "9.5", Path(tmp))) as new, client(new) as nc:
            answer = nc.get("/_inference/chunked").json()
    assert answer["endpoints"][0]["chunking_settings"] == WORD_250, answer


def legacy_model_version_unmigrated(c: httpx.Client, s: InProcessServer) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        seed(Path(tmp), "8.12.2", [LEGACY_812])
        with InProcessServer(at(s.config, "8.19", Path(tmp))) as new, client(new) as nc:
            answer = nc.get("/_inference/legacy-elser")
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["reason"] == persistence.MESSAGES["model_id_missing_unfixed"]


def zero_allocation_lost_on_restart(c: httpx.Client, s: InProcessServer) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with InProcessServer(at(s.config, data_dir=Path(tmp))) as old, client(old) as oc:
            put(oc, "to-zero", endpoint(None, SCALE_TO_ZERO))
            wait_allocations(oc, "to-zero", 1)
            scale_to_zero(old, "to-zero")
        with InProcessServer(at(s.config, data_dir=Path(tmp))) as new, client(new) as nc:
            assert "to-zero" not in deployment_stats(nc)
            answer = nc.post("/_inference/to-zero", json={"input": "x"})
    assert answer.status_code == 404, answer.text
    assert "Unable to find model deployment task [to-zero]" in answer.text


def zero_allocation_dropped_on_start(c: httpx.Client, s: InProcessServer) -> None:
    put(c, "first-at-zero", endpoint(None, SCALE_TO_ZERO))
    try:
        wait_allocations(c, "first-at-zero", 1)
        scale_to_zero(s, "first-at-zero")
        put(c, "second", endpoint(None, SCALE_TO_ZERO))
        try:
            assert "first-at-zero" not in deployment_stats(c)
            answer = c.post("/_inference/first-at-zero", json={"input": "x"})
            assert answer.status_code == 404, answer.text
        finally:
            c.delete("/_inference/second")
    finally:
        c.delete("/_inference/first-at-zero")
