"""The official ``elasticsearch`` Python client against the reference server.

The client checks ``X-elastic-product``, negotiates ``compatible-with=9`` media types and maps
error statuses to its exception classes; a working round trip through it is what users of the
reference server rely on.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import (
    ApiError,
    AuthorizationException,
    BadRequestError,
    Elasticsearch,
    NotFoundError,
)
from elasticsearch import ConnectionError as EsConnectionError

from elsercheck.endpoints import fully_allocated
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.reference.versions import NEWEST, RELEASES
from elsercheck.timing import PRESETS
from tests.conftest import PASSWORD, elser_body

ELSER = ".elser_model_2_linux-x86_64"


@pytest.fixture
def es(wire_server: EmbeddedServer) -> Iterator[Elasticsearch]:
    client = Elasticsearch(
        wire_server.url, basic_auth=("elastic", PASSWORD), request_timeout=10, max_retries=0
    )
    with client:
        yield client


def _delete_quietly(es: Elasticsearch, inference_id: str) -> None:
    with contextlib.suppress(NotFoundError):
        es.inference.delete(inference_id=inference_id)


def _wait_fully_allocated(es: Elasticsearch, inference_id: str, seconds: float = 10) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        stats = es.ml.get_trained_models_stats(model_id=inference_id)
        deployments = [
            entry["deployment_stats"]
            for entry in stats["trained_model_stats"]
            if entry.get("deployment_stats", {}).get("deployment_id") == inference_id
        ]
        assert len(deployments) == 1, stats.body
        status = deployments[0]["allocation_status"]
        if fully_allocated(status):
            return deployments[0]
        assert time.monotonic() < deadline, f"not fully allocated in {seconds}s: {status}"
        time.sleep(0.05)


def test_info(es: Elasticsearch) -> None:
    info = es.info()  # raises UnsupportedProductError without the product header
    assert info.meta.status == 200
    assert info.meta.headers["x-elastic-product"] == "Elasticsearch"
    assert info["version"]["number"] == RELEASES[NEWEST].number
    assert info["tagline"] == "You Know, for Search"


def test_endpoint_lifecycle(es: Elasticsearch, unique_id: str) -> None:
    try:
        created = es.inference.put(
            task_type="sparse_embedding", inference_id=unique_id, inference_config=elser_body()
        )
        assert created.meta.status == 200
        assert created["inference_id"] == unique_id
        assert created["task_type"] == "sparse_embedding"
        assert created["service"] == "elasticsearch"
        assert created["service_settings"]["model_id"] == ELSER

        got = es.inference.get(inference_id=unique_id)
        assert [e["inference_id"] for e in got["endpoints"]] == [unique_id]
        listed = es.inference.get(task_type="sparse_embedding", inference_id="_all")
        assert unique_id in [e["inference_id"] for e in listed["endpoints"]]

        deployment = _wait_fully_allocated(es, unique_id)
        assert deployment["model_id"] == ELSER
        assert deployment["state"] == "started"

        inputs = ["ELSER turns text into weighted tokens", "what is semantic search?"]
        sparse = es.inference.sparse_embedding(inference_id=unique_id, input=inputs)
        assert len(sparse["sparse_embedding"]) == 2
        for result in sparse["sparse_embedding"]:
            assert result["is_truncated"] is False
            assert result["embedding"]
            assert all(weight > 0 for weight in result["embedding"].values())

        generic = es.inference.inference(
            task_type="sparse_embedding", inference_id=unique_id, input=inputs[0]
        )
        assert generic["sparse_embedding"] == sparse["sparse_embedding"][:1]

        deleted = es.inference.delete(inference_id=unique_id)
        assert deleted["acknowledged"] is True
    finally:
        _delete_quietly(es, unique_id)

    with pytest.raises(NotFoundError) as caught:
        es.inference.get(inference_id=unique_id)
    assert caught.value.status_code == 404
    assert caught.value.error == "resource_not_found_exception"
    assert caught.value.body["error"]["reason"] == f"Inference endpoint not found [{unique_id}]"
    with pytest.raises(NotFoundError):
        es.ml.get_trained_models_stats(model_id=unique_id)


def test_invalid_id_is_a_400_api_error(es: Elasticsearch) -> None:
    with pytest.raises(ApiError) as caught:
        es.inference.put(
            task_type="sparse_embedding", inference_id="Not_Valid", inference_config=elser_body()
        )
    error = caught.value
    assert isinstance(error, BadRequestError)
    assert error.status_code == 400
    assert error.error == "action_request_validation_exception"
    assert error.body["status"] == 400
    assert error.body["error"]["reason"] == (
        "Validation Failed: 1: Invalid inference_id; 'Not_Valid' can contain lowercase "
        "alphanumeric (a-z and 0-9), hyphens or underscores; must start and end with "
        "alphanumeric;"
    )
    with pytest.raises(NotFoundError):
        es.inference.get(inference_id="not_valid")


def test_monitor_only_api_key(
    es: Elasticsearch, wire_server: EmbeddedServer, unique_id: str
) -> None:
    key = es.security.create_api_key(
        name=f"{unique_id}-monitor", role_descriptors={"r": {"cluster": ["monitor_inference"]}}
    )
    assert key["name"] == f"{unique_id}-monitor"
    readable = f"{unique_id}-existing"
    es.inference.put(
        task_type="sparse_embedding", inference_id=readable, inference_config=elser_body()
    )
    limited = Elasticsearch(
        wire_server.url, api_key=key["encoded"], request_timeout=10, max_retries=0
    )
    try:
        with pytest.raises(AuthorizationException) as caught:
            limited.inference.put(
                task_type="sparse_embedding", inference_id=unique_id, inference_config=elser_body()
            )
        assert caught.value.status_code == 403
        assert caught.value.error == "security_exception"
        assert caught.value.body["error"]["reason"] == (
            "action [cluster:admin/xpack/inference/put] is unauthorized for API key id "
            f"[{key['id']}] of user [elastic], this action is granted by the cluster privileges "
            "[manage_inference,manage,all]"
        )
        with pytest.raises(AuthorizationException):
            limited.inference.delete(inference_id=readable)

        got = limited.inference.get(inference_id=readable)
        assert [e["inference_id"] for e in got["endpoints"]] == [readable]
        assert readable in [e["inference_id"] for e in limited.inference.get()["endpoints"]]
        with pytest.raises(NotFoundError):  # the refused PUT stored nothing
            limited.inference.get(inference_id=unique_id)
    finally:
        limited.close()
        _delete_quietly(es, readable)
        _delete_quietly(es, unique_id)


def test_tls_with_generated_ca(tmp_path: Path) -> None:
    config = ServerConfig(password=PASSWORD, tls=True, timing=PRESETS["instant"])
    with EmbeddedServer(config, tls_dir=tmp_path) as server:
        assert server.url.startswith("https://")
        ca = tmp_path / "ca.crt"
        assert ca.is_file()
        with Elasticsearch(
            server.url, basic_auth=("elastic", PASSWORD), ca_certs=str(ca), request_timeout=10,
            max_retries=0,
        ) as client:  # fmt: skip
            assert client.info()["version"]["number"] == RELEASES[NEWEST].number
            try:
                client.inference.put(
                    task_type="sparse_embedding", inference_id="tls-check",
                    inference_config=elser_body(),
                )  # fmt: skip
                sparse = client.inference.sparse_embedding(inference_id="tls-check", input="hi")
                assert sparse["sparse_embedding"][0]["embedding"]
            finally:
                _delete_quietly(client, "tls-check")
        # The certificate really is checked: without the CA the handshake fails.
        with (
            Elasticsearch(
                server.url, basic_auth=("elastic", PASSWORD), request_timeout=10, max_retries=0
            ) as unverified,
            pytest.raises(EsConnectionError),
        ):
            unverified.info()


def test_document_and_index_apis_and_bulk_helpers(es: Elasticsearch, unique_id: str) -> None:
    """What users' code calls: ``helpers.bulk``/``streaming_bulk`` (``PUT /_bulk`` among
    them), ``indices.exists``/``delete(ignore_unavailable)``, ``index``/``get``/``update``/
    ``delete``."""
    from elasticsearch import helpers

    index = f"{unique_id}-docs"
    try:
        assert es.indices.exists(index=index).body is False
        done, errors = helpers.bulk(
            es, ({"_index": index, "_id": str(i), "n": i} for i in range(5)), refresh="wait_for"
        )
        assert (done, errors) == (5, [])
        assert es.indices.exists(index=index).body is True
        streamed = list(helpers.streaming_bulk(
            es, ({"_op_type": "update", "_index": index, "_id": str(i), "doc": {"m": i}}
                 for i in range(3)), refresh=True,
        ))  # fmt: skip
        assert [ok for ok, _ in streamed] == [True] * 3
        assert es.count(index=index)["count"] == 5

        created = es.index(index=index, id="x", document={"a": 1}, refresh=True)
        assert (created["result"], created["_version"]) == ("created", 1)
        updated = es.update(index=index, id="x", doc={"b": 2})
        assert updated["result"] == "updated"
        got = es.get(index=index, id="x", source_includes=["b"])
        assert got["found"] is True and got["_source"] == {"b": 2}
        assert es.exists(index=index, id="x").body is True
        assert es.delete(index=index, id="x")["result"] == "deleted"
        with pytest.raises(NotFoundError):
            es.get(index=index, id="x")
        assert es.exists(index=index, id="x").body is False
        with pytest.raises(ApiError) as refused:
            es.index(index=index, id="y", document={"a": 1}, routing="r")
        assert refused.value.status_code == 501
        assert "[routing]" in refused.value.body["error"]["reason"]
        with pytest.raises(BadRequestError) as missing:  # pipelines are modelled (api/ingest.py)
            es.index(index=index, id="y", document={"a": 1}, pipeline="p")
        assert missing.value.body["error"]["reason"] == "pipeline with id [p] does not exist"
    finally:
        es.options(ignore_status=404).indices.delete(index=index)
    assert es.indices.delete(index=index, ignore_unavailable=True)["acknowledged"] is True
    assert es.indices.exists(index=index).body is False
