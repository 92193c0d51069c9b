"""Concurrent requests leave the reference server consistent.

Racing PUTs and DELETEs of one id: every answer is one Elasticsearch can give for that race,
nothing hangs, and afterwards the endpoint exists exactly when its deployment does (the
deployment id is the inference id, ES ElasticsearchInternalModel.mlNodeDeploymentId).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from elsercheck.reference.config import ServerConfig
from elsercheck.timing import PRESETS
from tests.conftest import PASSWORD, elser_body
from tests.inprocess import InProcessServer

ROUNDS = 20
PUTS = DELETES = 4
# The PUT waits for its deployment to start; instant timing starts it at once, so a PUT that
# reaches this timeout was left waiting by a deployment stopped under it.
PUT_TIMEOUT = "5s"
CLIENT_TIMEOUT = 15.0
# A deployment start that outlasts the client's timeout: only a DELETE can end its wait early.
STARTING_SECONDS = 4 * CLIENT_TIMEOUT


def _outcome(response: httpx.Response) -> tuple[int, str | None, str | None]:
    assert response.status_code < 500, response.text
    assert response.headers["x-elastic-product"] == "Elasticsearch"
    body = response.json()
    if response.status_code == 200:
        return 200, None, None
    assert body["status"] == response.status_code, body
    return response.status_code, body["error"]["type"], body["error"]["reason"]


def _allowed_put(inference_id: str) -> set[tuple[int, str | None, str | None]]:
    return {
        (200, None, None),
        # another PUT stored it first
        (
            400,
            "resource_already_exists_exception",
            f"Inference endpoint [{inference_id}] already exists",
        ),
        # another PUT's deployment already runs under this id (masterOperation's
        # modelAssignments check, before the body is parsed)
        (
            400,
            "status_exception",
            f"Inference endpoint IDs must be unique. Requested inference endpoint ID "
            f"[{inference_id}] matches existing trained model ID(s) but must not.",
        ),
        # a DELETE stopped the deployment this PUT was waiting for
        (
            409,
            "status_exception",
            f"Trained model deployment [{inference_id}] was stopped while starting",
        ),
    }


def _allowed_delete(inference_id: str) -> set[tuple[int, str | None, str | None]]:
    return {
        (200, None, None),
        (404, "resource_not_found_exception", f"Inference endpoint not found [{inference_id}]"),
    }


async def _state(client: httpx.AsyncClient, inference_id: str) -> bool:
    """Whether the endpoint exists; asserts the stats API agrees about its deployment."""
    endpoint, stats = await asyncio.gather(
        client.get(f"/_inference/{inference_id}"),
        client.get(f"/_ml/trained_models/{inference_id}/_stats"),
    )
    assert endpoint.status_code in (200, 404), endpoint.text
    exists = endpoint.status_code == 200
    if not exists:
        assert stats.status_code == 404, f"endpoint gone but deployment listed: {stats.text}"
        assert stats.json()["error"]["type"] == "resource_not_found_exception"
        return False
    assert [e["inference_id"] for e in endpoint.json()["endpoints"]] == [inference_id]
    assert stats.status_code == 200, f"endpoint exists without a deployment: {stats.text}"
    deployments = [
        entry["deployment_stats"]
        for entry in stats.json()["trained_model_stats"]
        if entry.get("deployment_stats", {}).get("deployment_id") == inference_id
    ]
    assert len(deployments) == 1, stats.json()
    assert deployments[0]["state"] in ("starting", "started"), deployments[0]
    return True


def _client(server: InProcessServer) -> httpx.AsyncClient:
    return server.async_client(auth=("elastic", PASSWORD), timeout=CLIENT_TIMEOUT)


def test_racing_puts_and_deletes_leave_consistent_state(
    server: InProcessServer, unique_id: str
) -> None:
    body = elser_body()
    seen: dict[str, set[Any]] = {"PUT": set(), "DELETE": set()}

    async def race() -> None:
        shuffle = random.Random(unique_id)
        async with _client(server) as client:

            async def put() -> tuple[str, Any]:
                url = f"/_inference/sparse_embedding/{unique_id}?timeout={PUT_TIMEOUT}"
                return "PUT", _outcome(await client.put(url, json=body))

            async def delete() -> tuple[str, Any]:
                return "DELETE", _outcome(await client.delete(f"/_inference/{unique_id}"))

            try:
                for round_ in range(ROUNDS):
                    calls = [put() for _ in range(PUTS)] + [delete() for _ in range(DELETES)]
                    shuffle.shuffle(calls)
                    results = await asyncio.gather(*calls)
                    for kind, outcome in results:
                        allowed = _allowed_put if kind == "PUT" else _allowed_delete
                        assert outcome in allowed(unique_id), f"round {round_}: {kind} {outcome}"
                        seen[kind].add(outcome[0])
                    await _state(client, unique_id)
            finally:
                await client.delete(f"/_inference/{unique_id}")
            assert await _state(client, unique_id) is False

    asyncio.run(race())
    # The race really raced: both kinds of request both won and lost.
    assert {200, 400} <= seen["PUT"], seen
    assert {200, 404} <= seen["DELETE"], seen


def test_concurrent_puts_of_distinct_ids_all_succeed(
    server: InProcessServer, unique_id: str
) -> None:
    ids = [f"{unique_id}-{n}" for n in range(12)]

    async def run() -> None:
        async with _client(server) as client:
            try:
                responses = await asyncio.gather(
                    *(
                        client.put(
                            f"/_inference/sparse_embedding/{i}?timeout=10s", json=elser_body()
                        )
                        for i in ids
                    )
                )
                for inference_id, response in zip(ids, responses, strict=True):
                    assert response.status_code == 200, response.text
                    assert response.json()["inference_id"] == inference_id
                listed = (await client.get("/_inference/_all")).json()["endpoints"]
                assert set(ids) <= {e["inference_id"] for e in listed}
                for inference_id in ids:
                    assert await _state(client, inference_id) is True
                stats = await client.get(f"/_ml/trained_models/{unique_id}-*/_stats")
                # one entry per deployment; count is the models matched (all use ELSER)
                assert len(stats.json()["trained_model_stats"]) == len(ids), stats.text
                assert stats.json()["count"] == 1, stats.text
            finally:
                deleted = await asyncio.gather(*(client.delete(f"/_inference/{i}") for i in ids))
            assert [r.status_code for r in deleted] == [200] * len(ids)
            for inference_id in ids:
                assert await _state(client, inference_id) is False

    asyncio.run(run())


def test_inference_racing_delete_never_fails_badly(server: InProcessServer, unique_id: str) -> None:
    """Requests in flight when their endpoint is deleted get an answer ES could give."""

    async def run() -> None:
        async with _client(server) as client:
            created = await client.put(
                f"/_inference/sparse_embedding/{unique_id}", json=elser_body()
            )
            assert created.status_code == 200, created.text
            try:
                infers = [
                    client.post(f"/_inference/{unique_id}", json={"input": f"text {n}"})
                    for n in range(20)
                ]
                deleting = client.delete(f"/_inference/{unique_id}")
                *answers, deleted = await asyncio.gather(*infers, deleting)
            finally:
                await client.delete(f"/_inference/{unique_id}")
            assert deleted.status_code == 200, deleted.text
            for response in answers:
                status, type_, reason = _outcome(response)
                assert (status, type_) in {
                    (200, None),
                    (404, "resource_not_found_exception"),
                    (409, "status_exception"),
                }, response.text
                if status == 404:
                    assert reason == f"Inference endpoint not found [{unique_id}]"
            assert await _state(client, unique_id) is False

    asyncio.run(run())


def test_delete_while_deployment_starts_answers_the_waiting_put(unique_id: str) -> None:
    """The deterministic form of the race above: a PUT waiting for its deployment to start
    must be answered as soon as a DELETE stops that deployment, not at its timeout.

    The deployment takes far longer to start than the client waits, and the PUT's timeout is
    longer still: an answer at all, before the start would have ended, can only come from the
    DELETE, however slow the machine (no wall-clock bound of the machine's speed).
    """
    timing = PRESETS["instant"].with_overrides(deployment_start_seconds=STARTING_SECONDS)
    config = ServerConfig(password=PASSWORD, timing=timing)

    async def run(server: InProcessServer) -> None:
        async with _client(server) as client:
            put = asyncio.create_task(
                client.put(
                    f"/_inference/sparse_embedding/{unique_id}?timeout={2 * STARTING_SECONDS}s",
                    json=elser_body(),
                )
            )
            deadline = time.monotonic() + CLIENT_TIMEOUT
            while (await client.get(f"/_inference/{unique_id}")).status_code != 200:
                assert time.monotonic() < deadline and not put.done(), "PUT never stored"
                await asyncio.sleep(0.01)
            stats = (await client.get(f"/_ml/trained_models/{unique_id}/_stats")).json()
            (entry,) = stats["trained_model_stats"]
            assert entry["deployment_stats"]["state"] == "starting"

            deleted = await client.delete(f"/_inference/{unique_id}")
            assert deleted.status_code == 200, deleted.text
            stopped_at = time.monotonic()
            response = await put
            waited = time.monotonic() - stopped_at
            assert _outcome(response) == (
                409,
                "status_exception",
                f"Trained model deployment [{unique_id}] was stopped while starting",
            ), f"after {waited:.1f}s"
            assert waited < STARTING_SECONDS, f"the PUT was answered {waited:.1f}s after the DELETE"
            assert await _state(client, unique_id) is False

    with InProcessServer(config) as server:
        asyncio.run(run(server))
