"""Fidelity re-reading, session 8 (issue 23): each test names the Elasticsearch source it
follows (docs/es-source-findings.md, "Fidelity re-reading, session 8 (issue 23)")."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest

from elsercheck.endpoints import elser_body
from elsercheck.reference import versions
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.eis.client import MAX_ATTEMPTS, EisClient
from elsercheck.reference.eis.upstream import UpstreamError
from elsercheck.reference.rules import ids
from elsercheck.timing import PRESETS, Timing
from tests.conftest import assert_error
from tests.inprocess import InProcessServer

PARSER = "cluster:internal/xpack/inference"


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, httpx.Client]]:
    """An open in-process server at 9.4 and at 9.5 (the two sides of the 9.5 changes)."""
    servers = {
        line: InProcessServer(
            ServerConfig(
                security=False, timing=PRESETS["instant"], es_version=versions.resolve(line)
            )
        )
        for line in ("9.4", "9.5")
    }
    for server in servers.values():
        server.__enter__()
    clients = {line: server.client(timeout=30) for line, server in servers.items()}
    yield clients
    for client in clients.values():
        client.close()
    for server in servers.values():
        server.__exit__(None, None, None)


# -- #150116: query / top_n / return_documents leave InferenceAction's parser (9.5) -------------
@pytest.mark.parametrize("field", ["query", "top_n", "return_documents"])
@pytest.mark.parametrize("path", ["/_inference/sparse_embedding/.elser-2-elasticsearch",
                                  "/_inference/.elser-2-elasticsearch"])  # fmt: skip
def test_rerank_fields_unknown_from_9_5(
    clients: dict[str, httpx.Client], field: str, path: str
) -> None:
    value = {"query": '"q"', "top_n": "1", "return_documents": "true"}[field]
    content = f'{{"input": "x", "{field}": {value}}}'
    headers = {"Content-Type": "application/json"}
    newer = clients["9.5"].post(path, content=content, headers=headers)
    assert_error(newer, 400, "x_content_parse_exception",
                 f"[1:16] [{PARSER}] unknown field [{field}]")  # fmt: skip
    older = clients["9.4"].post(path, content=content, headers=headers)
    if path.endswith("/.elser-2-elasticsearch") and "sparse_embedding" in path:
        # 9.4: declared, then refused by InferenceAction.Request.validate
        assert older.status_code == 400, older.text
        assert older.json()["error"]["type"] == "action_request_validation_exception"
    else:  # 9.4, task type `any`: exempt from the task-type rules, accepted
        assert older.status_code == 200, older.text


def test_rerank_request_body_refused_on_9_5(clients: dict[str, httpx.Client]) -> None:
    """9.5 TransportInferenceActionProxy parses rerank with RerankRequest.PARSER (not modelled):
    a rerank URL and the one-segment URL of a rerank endpoint are refused before the body."""
    body = {"input": ["a", "b"], "query": "q"}
    by_url = clients["9.5"].post("/_inference/rerank/.elser-2-elasticsearch", json=body)
    stored = clients["9.5"].post("/_inference/.rerank-v1-elasticsearch", json=body)
    for response in (by_url, stored):
        assert response.status_code == 501, response.text
        assert "RerankAction" in response.json()["error"]["reason"]
    # 9.4 still parses them with InferenceAction (rerank: query required, then the task check)
    older = clients["9.4"].post("/_inference/rerank/.elser-2-elasticsearch", json=body)
    assert older.status_code == 400, older.text


# -- the longest inference id: the .inference document _id (512 bytes) ---------------------------
def test_storable_id_limit() -> None:
    """ModelRegistry stores ``model_<id>``; IndexRequest.validate refuses an _id over 512 bytes."""
    ids.check_storable_id("a" * 506)
    with pytest.raises(Exception) as raised:
        ids.check_storable_id("a" * 507)
    assert getattr(raised.value, "status", None) == 501


def test_put_with_an_unstorable_id_is_refused(clients: dict[str, httpx.Client]) -> None:
    client = clients["9.5"]
    too_long = "e" * 507
    response = client.put(f"/_inference/sparse_embedding/{too_long}", json=elser_body())
    assert response.status_code == 501, response.text
    assert "512 bytes" in response.json()["error"]["reason"]
    assert client.get(f"/_inference/{too_long}").status_code == 404  # nothing stored


# -- EIS: RetryingHttpSender.MAX_RETRIES and RetryableAction's bounds -------------------------
class _AlwaysLimited:
    """An EIS that answers every request with 429."""

    def __init__(self) -> None:
        self.calls = 0

    def sparse_embed(self, model_id: str, texts: list[str], usage: str) -> list[object]:
        self.calls += 1
        raise UpstreamError(429, "slow down", 7)


def test_eis_retries_at_most_three_attempts() -> None:
    upstream = _AlwaysLimited()
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    timing = Timing(eis_round_trip_seconds=0.0, eis_per_token_seconds=0.0)
    client = EisClient(upstream, timing, sleep=sleep, clock=lambda: 0.0)  # type: ignore[arg-type]
    config = SimpleNamespace(inference_id="e", service_settings=SimpleNamespace(model_id="m"))
    with pytest.raises(Exception) as raised:
        asyncio.run(client.infer(config, ["x"], "unspecified"))  # type: ignore[arg-type]
    assert upstream.calls == MAX_ATTEMPTS == 3  # not "until xpack.inference.http.retry.timeout"
    # round trips (0 s) between the retry delays: the bound, 1 s then 2 s (doubling, ≤ 5 s)
    assert [d for d in delays if d > 0] == [1.0, 2.0]
    assert getattr(raised.value, "status", None) == 429
