"""Authentication and privileges (ES SecurityRestFilter): 401/403 bodies, API keys, tokens."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from elsercheck.reference.serve import EmbeddedServer
from tests.conftest import PASSWORD, assert_error, elser_body
from tests.inprocess import InProcessServer

WWW = ['Basic realm="security", charset="UTF-8"', "ApiKey"]


def api_key(client: httpx.Client, *privileges: str) -> str:
    descriptors = {"limited": {"cluster": list(privileges)}} if privileges else {}
    body = {"name": f"key-{'-'.join(privileges) or 'full'}", "role_descriptors": descriptors}
    response = client.post("/_security/api_key", json=body)
    assert response.status_code == 200, response.text
    created = response.json()
    decoded = base64.b64decode(created["encoded"]).decode()
    assert decoded == f"{created['id']}:{created['api_key']}"
    return created["encoded"]


def as_key(server: InProcessServer, encoded: str) -> httpx.Client:
    return server.client(headers={"Authorization": f"ApiKey {encoded}"})


def test_missing_credentials(anonymous: httpx.Client) -> None:
    response = anonymous.get("/_inference/my-elser?pretty")
    reason = "missing authentication credentials for REST request [/_inference/my-elser?pretty]"
    assert_error(response, 401, "security_exception", reason)
    assert response.headers.get_list("www-authenticate") == WWW
    error = response.json()["error"]
    assert error["header"] == {"WWW-Authenticate": WWW}
    assert error["root_cause"][0]["header"] == {"WWW-Authenticate": WWW}


def test_wrong_password(server: InProcessServer) -> None:
    with server.client(auth=("elastic", "wrong")) as c:
        response = c.get("/")
    assert_error(
        response, 401, "security_exception", "unable to authenticate user [elastic] for REST request [/]"
    )  # fmt: skip
    assert response.headers.get_list("www-authenticate") == WWW


def test_unknown_api_key(server: InProcessServer) -> None:
    bogus = base64.b64encode(b"nokey:secret").decode()
    with as_key(server, bogus) as c:
        response = c.get("/_inference")
    assert_error(
        response, 401, "security_exception",
        "unable to authenticate with provided credentials and anonymous access is not allowed for "
        "this request",
    )  # fmt: skip
    assert "nokey" in response.json()["error"]["additional_unsuccessful_credentials"]


def test_bearer_without_token_service(server: InProcessServer) -> None:
    with server.client(headers={"Authorization": "Bearer abc"}) as c:
        response = c.get("/")
    assert response.status_code == 401


def test_monitor_key_gets_403_on_writes(
    server: InProcessServer, client: httpx.Client, unique_id: str
) -> None:
    client.put(f"/_inference/sparse_embedding/{unique_id}", json=elser_body())
    encoded = api_key(client, "monitor_inference")
    key_id = base64.b64decode(encoded).decode().split(":")[0]
    try:
        with as_key(server, encoded) as limited:
            put = limited.put(f"/_inference/sparse_embedding/{unique_id}-x", json=elser_body())
            assert_error(
                put, 403, "security_exception",
                f"action [cluster:admin/xpack/inference/put] is unauthorized for API key id "
                f"[{key_id}] of user [elastic], this action is granted by the cluster privileges "
                "[manage_inference,manage,all]",
            )  # fmt: skip
            delete = limited.delete(f"/_inference/{unique_id}")
            assert delete.status_code == 403
            update = limited.put(
                f"/_inference/sparse_embedding/{unique_id}/_update",
                json={"service_settings": {"num_allocations": 2}},
            )
            assert update.status_code == 403
            assert limited.get(f"/_inference/{unique_id}").status_code == 200
            inferred = limited.post(f"/_inference/{unique_id}", json={"input": "hi"})
            assert inferred.status_code == 200
            stats = limited.get(f"/_ml/trained_models/{unique_id}/_stats")
            assert_error(
                stats, 403, "security_exception",
                f"action [cluster:monitor/xpack/ml/inference/stats/get] is unauthorized for API "
                f"key id [{key_id}] of user [elastic], this action is granted by the cluster "
                "privileges [monitor_ml,manage_ml,monitor,manage,all]",
            )  # fmt: skip
        # Nothing the refused requests asked for happened.
        assert client.get(f"/_inference/{unique_id}-x").status_code == 404
        assert client.get(f"/_inference/{unique_id}").status_code == 200
    finally:
        client.delete(f"/_inference/{unique_id}")


def test_validation_precedes_authorization(server: InProcessServer, client: httpx.Client) -> None:
    """ES validates the request before the action filter checks privileges."""
    with as_key(server, api_key(client, "monitor_inference")) as limited:
        response = limited.put("/_inference/sparse_embedding/Bad", json=elser_body())
    assert response.status_code == 400


def test_manage_inference_key_can_write(
    server: InProcessServer, client: httpx.Client, unique_id: str
) -> None:
    with as_key(server, api_key(client, "manage_inference", "monitor_ml")) as admin:
        path = f"/_inference/sparse_embedding/{unique_id}"
        assert admin.put(path, json=elser_body()).status_code == 200
        assert admin.get(f"/_ml/trained_models/{unique_id}/_stats").status_code == 200
        assert admin.delete(path).status_code == 200
        # Without monitor, GET / is refused.
        assert admin.get("/").status_code == 403


def test_invalidated_key(server: InProcessServer, client: httpx.Client) -> None:
    encoded = api_key(client)
    key_id = base64.b64decode(encoded).decode().split(":")[0]
    with as_key(server, encoded) as c:
        assert c.get("/").status_code == 200
        gone = client.request("DELETE", "/_security/api_key", json={"ids": [key_id]})
        assert gone.json() == {
            "invalidated_api_keys": [key_id], "previously_invalidated_api_keys": [],
            "error_count": 0,
        }  # fmt: skip
        response = c.get("/")
    assert_error(response, 401, "security_exception", None)
    assert "invalidated" in response.json()["error"]["additional_unsuccessful_credentials"]


def test_unknown_privilege(client: httpx.Client) -> None:
    body = {"name": "bad", "role_descriptors": {"r": {"cluster": ["manage_everything"]}}}
    response = client.post("/_security/api_key", json=body)
    assert_error(response, 400, "illegal_argument_exception", None)
    assert "unknown cluster privilege [manage_everything]" in response.json()["error"]["reason"]


def test_authenticate_endpoint(server: InProcessServer, client: httpx.Client) -> None:
    assert client.get("/_security/_authenticate").json()["username"] == "elastic"
    with as_key(server, api_key(client, "monitor")) as c:
        body = c.get("/_security/_authenticate").json()
    assert body["authentication_type"] == "api_key" and body["api_key"]["name"] == "key-monitor"


def test_no_security(open_server: InProcessServer) -> None:
    with open_server.client() as c:
        assert c.get("/").status_code == 200
        assert c.get("/_inference").status_code == 200
        assert c.post("/_security/api_key", json={"name": "x"}).status_code == 400


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    from elsercheck.reference.config import ServerConfig
    from elsercheck.timing import PRESETS

    config = ServerConfig(password=PASSWORD, tls=True, timing=PRESETS["instant"])
    with EmbeddedServer(config, tls_dir=tmp_path_factory.mktemp("tls")) as running:
        yield running


def test_tls_and_bearer_tokens(tls_server: EmbeddedServer) -> None:
    import ssl

    assert tls_server.tls is not None
    verify = ssl.create_default_context(cafile=str(tls_server.tls.ca_cert))
    assert tls_server.url.startswith("https://")
    with httpx.Client(base_url=tls_server.url, verify=verify) as c:
        anonymous = c.get("/")
        assert anonymous.headers.get_list("www-authenticate") == [
            WWW[0], 'Bearer realm="security"', "ApiKey"
        ]  # fmt: skip
        grant = {"grant_type": "password", "username": "elastic", "password": PASSWORD}
        token = c.post("/_security/oauth2/token", json=grant, auth=("elastic", PASSWORD)).json()
        assert token["type"] == "Bearer"
        authed = c.get("/", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert authed.status_code == 200
    with pytest.raises(httpx.ConnectError), httpx.Client(base_url=tls_server.url) as untrusted:
        untrusted.get("/")
