"""The requests session of the schema-driven checks follows elsercheck.retry's policy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.responses import Response

from elsercheck.reference.serve import ThreadedServer
from elsercheck.retry import requests_session


@pytest.fixture
def flaky() -> Iterator[tuple[str, list[str]]]:
    """/proxy answers 502, 503, then 200; /broken always 500. Records every request path."""
    seen: list[str] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        seen.append(scope["path"])
        if scope["path"] == "/proxy":
            status = {1: 502, 2: 503}.get(seen.count("/proxy"), 200)
        else:
            status = 500
        await Response(b"{}", status_code=status)(scope, receive, send)

    with ThreadedServer(app) as server:
        yield server.url, seen


def test_proxy_errors_are_retried(flaky: tuple[str, list[str]]) -> None:
    url, seen = flaky
    response = requests_session().put(f"{url}/proxy", json={"a": 1}, timeout=10)
    assert response.status_code == 200
    assert seen.count("/proxy") == 3  # PUT too: the docs' 502 comes from a PUT


def test_other_errors_are_not_retried(flaky: tuple[str, list[str]]) -> None:
    url, seen = flaky
    assert requests_session().get(f"{url}/broken", timeout=10).status_code == 500
    assert seen.count("/broken") == 1
