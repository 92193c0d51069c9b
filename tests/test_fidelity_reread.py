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


def test_rerank_body_on_9_5(clients: dict[str, httpx.Client]) -> None:
    """9.5 TransportInferenceActionProxy parses rerank with RerankRequest.PARSER, validates with
    RerankAction.Request.validate (all errors), then looks the endpoint up."""
    c = clients["9.5"]
    path = "/_inference/rerank/.elser-2-elasticsearch"
    headers = {"Content-Type": "application/json"}
    # no input_type / timeout in RerankRequest; numbers are not strings there
    unknown = c.post(path, content='{"input": ["a"], "input_type": "x"}', headers=headers)
    assert_error(unknown, 400, "x_content_parse_exception",
                 "[1:18] [RerankRequest] unknown field [input_type]")  # fmt: skip
    number = c.post(path, content='{"input": ["a", 1], "query": "q"}', headers=headers)
    assert_error(number, 400, "x_content_parse_exception",
                 "[1:11] [RerankRequest] failed to parse field [input]")  # fmt: skip
    invalid = c.post(path, json={"input": [], "query": "", "top_n": 0})
    assert_error(invalid, 400, "action_request_validation_exception",
                 "Validation Failed: 1: Field [input] cannot be an empty array;2: Field [query] "
                 "cannot be empty;3: Field [top_n] must be greater than or equal to 1;")  # fmt: skip
    missing = c.post("/_inference/rerank/nowhere", json={"input": ["a"], "query": "q"})
    assert missing.status_code == 404, missing.text
    wrong_task = c.post(path, json={"input": ["a"], "query": "q"})
    assert wrong_task.status_code == 400, wrong_task.text
    assert "Incompatible task_type" in wrong_task.json()["error"]["reason"]
    # ConstructingObjectParser: missing constructor arguments, in declaration order
    assert_error(c.post(path, json={"top_n": 1}), 400, "illegal_argument_exception",
                 "Required [input, query]")  # fmt: skip
    # InferenceString objects: a bad one fails the field; type/format rules not modelled (501)
    bad = c.post(path, json={"input": [{"type": "text", "bogus": 1}], "query": "q"})
    assert_error(bad, 400, "x_content_parse_exception",
                 "[1:10] [RerankRequest] failed to parse field [input]")  # fmt: skip
    body = {"input": [{"type": "text", "value": "a"}], "query": "q"}
    assert c.post(path, json=body).status_code == 501
    # the rerank default on the one-segment URL: parsed as rerank, then not modelled (501)
    stored = c.post("/_inference/.rerank-v1-elasticsearch", json={"input": ["a"], "query": "q"})
    assert stored.status_code == 501, stored.text
    # 9.4 still parses rerank with InferenceAction: input_type is declared there
    older = clients["9.4"].post(path, content='{"input": ["a"], "input_type": "x"}',
                                headers=headers)  # fmt: skip
    assert older.json()["error"]["type"] != "x_content_parse_exception" or (
        "RerankRequest" not in older.json()["error"]["reason"]
    )


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


def test_eis_retry_after_propagated_from_9_5_only() -> None:
    """#147985 (9.5.0 release notes): addRetryAfterHeaderIfPresent; 9.2 … 9.4 send none."""
    answers = {}
    for propagate in (True, False):
        client = EisClient(
            _AlwaysLimited(),  # type: ignore[arg-type]
            Timing(eis_round_trip_seconds=0.0, eis_per_token_seconds=0.0),
            propagate_retry_after=propagate,
            sleep=lambda seconds: asyncio.sleep(0),
            clock=lambda: 0.0,
        )
        config = SimpleNamespace(inference_id="e", service_settings=SimpleNamespace(model_id="m"))
        with pytest.raises(Exception) as raised:
            asyncio.run(client.infer(config, ["x"], "unspecified"))  # type: ignore[arg-type]
        answers[propagate] = getattr(raised.value, "http_headers", None)
    assert answers[True] == {"Retry-After": "7"}
    assert answers[False] == {}
    assert not versions.resolve("9.4").has("eis-retry-after-header")
    assert versions.resolve("9.5").has("eis-retry-after-header")
