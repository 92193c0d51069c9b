"""The Elastic Inference Service (``serve --eis``): off by default, 9.2+ only; the authorization
poll makes ``.elser-2-elastic`` appear (and, from 9.4, disappear); PUT validation of
``service: elastic``; inference, batching, EIS's sliding-window limits and ES's retries; the
semantic_text default per version."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from elsercheck.reference import versions
from elsercheck.reference.config import EisLimits, ServerConfig
from elsercheck.reference.eis.upstream import SlidingWindow
from elsercheck.timing import PRESETS
from tests.inprocess import InProcessServer

PASSWORD = "eis-test"
EIS_BODY = {"service": "elastic", "service_settings": {"model_id": "elser_model_2"}}


def _server(line: str = "9.5", **options: Any) -> InProcessServer:
    config = ServerConfig(password=PASSWORD, timing=PRESETS["instant"],
                          es_version=versions.resolve(line), eis=True, **options)  # fmt: skip
    return InProcessServer(config)


def _wait_listed(c: httpx.Client, inference_id: str, present: bool = True) -> None:
    for _ in range(200):
        ids = [e["inference_id"] for e in c.get("/_inference/_all").json()["endpoints"]]
        if (inference_id in ids) == present:
            return
        time.sleep(0.01)
    raise AssertionError(f"{inference_id} {'never appeared' if present else 'never left'}")


def test_off_by_default_and_refused_before_9_2() -> None:
    config = ServerConfig(password=PASSWORD, timing=PRESETS["instant"])
    with InProcessServer(config) as server, server.client(auth=("elastic", PASSWORD)) as c:
        ids = [e["inference_id"] for e in c.get("/_inference/_all").json()["endpoints"]]
        assert ".elser-2-elastic" not in ids
        put = c.put("/_inference/sparse_embedding/x", json=EIS_BODY)
        assert put.status_code == 501 and "--eis" in put.json()["error"]["reason"]
    for line in ("8.19", "9.1"):
        with pytest.raises(ValueError, match=r"modelled from 9\.2"):
            ServerConfig(es_version=versions.resolve(line), eis=True)


@pytest.mark.parametrize("line", ["9.2", "9.3", "9.4", "9.5"])
def test_authorization_adds_then_withdrawal_removes_from_9_4(line: str) -> None:
    with _server(line) as server, server.client(auth=("elastic", PASSWORD)) as c:
        _wait_listed(c, ".elser-2-elastic")
        got = c.get("/_inference/.elser-2-elastic").json()["endpoints"][0]
        assert got["service"] == "elastic" and got["task_type"] == "sparse_embedding"
        # no rate_limit: ES's own limiting of EIS endpoints is disabled (#133845)
        assert got["service_settings"] == {"model_id": "elser_model_2"}
        poller = server.app.state.eis_poller
        poller.withdraw_at_poll = poller.polls + 1
        poller.poll()
        listed = c.get("/_inference/.elser-2-elastic").status_code == 200
        assert listed == (line in ("9.2", "9.3"))  # #145224 deletes from 9.4 only
        if listed:  # kept, but EIS refuses it: ES reports the upstream's 403
            refused = c.post("/_inference/.elser-2-elastic", json={"input": "x"})
            assert refused.status_code == 403, refused.text
            assert "status [403]" in refused.json()["error"]["reason"]


def test_inference_is_the_ml_node_encoders_and_put_validation() -> None:
    with _server() as server, server.client(auth=("elastic", PASSWORD)) as c:
        _wait_listed(c, ".elser-2-elastic")
        eis = c.post("/_inference/sparse_embedding/.elser-2-elastic", json={"input": ["hello"]})
        assert eis.status_code == 200, eis.text
        weights = eis.json()["sparse_embedding"][0]["embedding"]
        assert weights and all(v > 0 for v in weights.values())
        put = c.put("/_inference/sparse_embedding/mine", json={**EIS_BODY, "service_settings": {
            "model_id": "elser_model_2", "max_batch_size": 4}})  # fmt: skip
        assert put.status_code == 200, put.text
        assert put.json()["service_settings"] == {"model_id": "elser_model_2", "max_batch_size": 4}
        cases = [
            ({"model_id": "elser_model_2", "num_allocations": 1}, 400, "status_exception",
             "Configuration contains settings [{num_allocations=1}] unknown to the [elastic] service"),
            ({}, 400, "validation_exception",
             "Validation Failed: 1: [service_settings] does not contain the required setting [model_id];"),
            ({"model_id": "elser_model_2", "max_batch_size": 2000}, 400, "validation_exception",
             "Validation Failed: 1: [service_settings] Invalid value [2000.0]. [max_batch_size] must be less than or equal to [1024.0];"),
            # RateLimitSettings.rejectRateLimitFieldForRequestContext (#133845), after the others
            ({"rate_limit": {"requests_per_minute": 500}}, 400, "validation_exception",
             "Validation Failed: 1: [service_settings] does not contain the required setting "
             "[model_id];2: [service_settings] rate limit settings are not permitted for service "
             "[elastic] and task type [sparse_embedding];"),
            ({"model_id": "no-such-model"}, 400, "status_exception",
             "Could not complete inference endpoint creation as validation call to service threw an exception."),
        ]  # fmt: skip
        for settings, status, type_, reason in cases:
            answer = c.put(
                "/_inference/sparse_embedding/bad", json={**EIS_BODY, "service_settings": settings}
            )
            assert answer.status_code == status, answer.text
            assert answer.json()["error"]["type"] == type_
            assert answer.json()["error"]["reason"] == reason
        assert c.get("/_inference/bad").status_code == 404  # nothing stored


def test_ingest_batches_and_rate_limit_after_retries() -> None:
    limits = EisLimits(requests_per_minute=3)
    with _server(eis_limits=limits) as server, server.client(auth=("elastic", PASSWORD)) as c:
        _wait_listed(c, ".elser-2-elastic")
        upstream = server.app.state.eis.upstream
        put = c.put("/_inference/sparse_embedding/small", json={**EIS_BODY, "service_settings": {
            "model_id": "elser_model_2", "max_batch_size": 2}})  # fmt: skip
        assert put.status_code == 200, put.text  # the validation call: request 1
        index = c.put("/docs", json={"mappings": {"properties": {
            "t": {"type": "semantic_text", "inference_id": "small"}}}})  # fmt: skip
        assert index.status_code == 200, index.text
        upstream.calls.clear()
        lines = "".join(f'{{"index":{{}}}}\n{{"t":"{w}"}}\n' for w in ("a", "b", "c"))
        bulk = c.post("/docs/_bulk", content=lines,
                      headers={"content-type": "application/x-ndjson"})  # fmt: skip
        assert bulk.status_code == 200 and not bulk.json()["errors"], bulk.text
        assert upstream.calls == [("ingest", 2), ("ingest", 1)]  # batches of max_batch_size
        limited = c.post("/_inference/small", json={"input": "x"})
        assert limited.status_code == 429, limited.text
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["reason"].startswith(
            "Received a rate limit status code for request from inference entity id [small] "
            "status [429]"
        )


def test_semantic_text_default_per_version() -> None:
    expected = {"9.2": ".elser-2-elasticsearch", "9.3": ".elser-2-elastic", "9.4": None}
    for line, default in expected.items():
        with _server(line) as server, server.client(auth=("elastic", PASSWORD)) as c:
            _wait_listed(c, ".elser-2-elastic")
            answer = c.put(
                "/i", json={"mappings": {"properties": {"t": {"type": "semantic_text"}}}}
            )
            if default is None:  # Jina v5 on EIS (#142980): not modelled, refused by name
                assert answer.status_code == 400 and "jina" in answer.text, answer.text
                continue
            assert answer.status_code == 200, answer.text
            field = c.get("/i/_mapping").json()["i"]["mappings"]["properties"]["t"]
            assert field.get("inference_id", default) == default, field


def test_sliding_window() -> None:
    now = [0.0]
    window = SlidingWindow(10, 60.0, lambda: now[0])
    assert window.retry_after(10) is None
    window.take(6)
    now[0] = 30.0
    window.take(4)
    assert window.retry_after(1) == pytest.approx(30.0)  # the first 6 leave at t=60
    now[0] = 60.0
    assert window.retry_after(6) is None
    assert window.retry_after(7) == pytest.approx(30.0)
