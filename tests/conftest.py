"""Shared fixtures: reference servers on free loopback ports, and clients for them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from elsercheck.endpoints import elser_body  # noqa: F401 (the tests take it from here)
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.reference.timing import PRESETS

PASSWORD = "test-password"


@pytest.fixture(scope="session")
def server() -> Iterator[EmbeddedServer]:
    """A secured reference server with instant timing, shared by the session."""
    with EmbeddedServer(ServerConfig(password=PASSWORD, timing=PRESETS["instant"])) as running:
        yield running


@pytest.fixture(scope="session")
def open_server() -> Iterator[EmbeddedServer]:
    """A reference server with security off."""
    config = ServerConfig(security=False, timing=PRESETS["instant"])
    with EmbeddedServer(config) as running:
        yield running


@pytest.fixture
def client(server: EmbeddedServer) -> Iterator[httpx.Client]:
    """An ``elastic`` superuser client of the shared server."""
    with httpx.Client(base_url=server.url, auth=("elastic", PASSWORD), timeout=30) as c:
        yield c


@pytest.fixture
def anonymous(server: EmbeddedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture
def unique_id(request: pytest.FixtureRequest) -> str:
    """An inference id unique to the test, valid under Elasticsearch's id rules."""
    name = request.node.name.lower()
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")
    return f"t-{cleaned[:60]}-{abs(hash(request.node.nodeid)) % 10**6}"


def assert_error(response: httpx.Response, status: int, type_: str, reason: str | None) -> None:
    """Status, envelope, error type and (when given) the exact reason."""
    assert response.status_code == status, response.text
    assert response.headers["x-elastic-product"] == "Elasticsearch"
    body = response.json()
    assert body["status"] == status
    error = body["error"]
    assert error["type"] == type_, body
    assert error["root_cause"][0]["type"] in (type_, error.get("caused_by", {}).get("type")), body
    if reason is not None:
        assert error["reason"] == reason, body
