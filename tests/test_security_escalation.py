"""Privilege escalation through the reference server (issue 16 item 3): derived API keys,
``manage_own_api_key`` on others' keys, and ids decoded more than once."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator

import httpx
import pytest

from elsercheck.reference.serve import EmbeddedServer
from tests.conftest import PASSWORD, assert_error, elser_body
from tests.inprocess import InProcessServer
from tests.test_security import api_key, as_key

DERIVED = (
    "creating derived api keys requires an explicit role descriptor that is empty (has no "
    "privileges)"
)
INVALIDATE = "cluster:admin/xpack/security/api_key/invalidate"


def _id(encoded: str) -> str:
    return base64.b64decode(encoded).decode().split(":")[0]


def _create(c: httpx.Client, name: str, **body: object) -> httpx.Response:
    return c.post("/_security/api_key", json={"name": name, **body})


@pytest.mark.parametrize(
    "body",
    [
        {},  # no role descriptors: would inherit the owner's (superuser) privileges
        {"role_descriptors": {}},
        {"role_descriptors": {"r": {"cluster": ["all"]}}},
        {"role_descriptors": {"r": {"cluster": ["manage_own_api_key"]}}},
        {"role_descriptors": {"a": {}, "b": {"cluster": ["monitor"]}}},
    ],
)
def test_derived_key_with_privileges_is_refused(
    server: InProcessServer, client: httpx.Client, body: dict[str, object]
) -> None:
    with as_key(server, api_key(client, "manage_own_api_key")) as own:
        response = _create(own, "derived", **body)
    assert_error(response, 400, "illegal_argument_exception", DERIVED)


def test_derived_key_with_an_empty_descriptor_has_no_privileges(
    server: InProcessServer, client: httpx.Client, unique_id: str
) -> None:
    with as_key(server, api_key(client, "manage_own_api_key")) as own:
        created = _create(own, "derived-empty", role_descriptors={"none": {}})
    assert created.status_code == 200, created.text
    with as_key(server, created.json()["encoded"]) as derived:
        assert derived.get("/_security/_authenticate").status_code == 200  # every principal
        assert derived.get("/").status_code == 403
        assert (
            derived.put(f"/_inference/sparse_embedding/{unique_id}", json=elser_body()).status_code
            == 403
        )
        assert derived.request("DELETE", "/_inference/anything").status_code == 403
        assert _create(derived, "grandchild", role_descriptors={"n": {}}).status_code == 403
    assert client.get(f"/_inference/{unique_id}").status_code == 404


@pytest.mark.parametrize("by", ["id", "ids", "name"])
def test_own_key_privilege_cannot_invalidate_another_key(
    server: InProcessServer, client: httpx.Client, by: str
) -> None:
    victim = api_key(client, "monitor")
    victim_name = "key-monitor"
    attacker = api_key(client, "manage_own_api_key")
    selector = {"id": {"id": _id(victim)}, "ids": {"ids": [_id(victim)]}}.get(
        by, {"name": victim_name}
    )
    with as_key(server, attacker) as own:
        response = own.request("DELETE", "/_security/api_key", json=selector)
        mixed = own.request(
            "DELETE", "/_security/api_key", json={"ids": [_id(attacker), _id(victim)]}
        )
        owner = own.request("DELETE", "/_security/api_key", json={"owner": True})
    reason = (
        f"action [{INVALIDATE}] is unauthorized for API key id [{_id(attacker)}] of user "
        "[elastic], this action is granted by the cluster privileges "
        "[manage_api_key,manage_security,all]"
    )
    for refused in (response, mixed, owner):
        assert_error(refused, 403, "security_exception", reason)
    with as_key(server, victim) as c:
        assert c.get("/").status_code == 200  # still valid


def test_own_key_privilege_invalidates_itself(
    server: InProcessServer, client: httpx.Client
) -> None:
    key = api_key(client, "manage_own_api_key")
    with as_key(server, key) as own:
        response = own.request("DELETE", "/_security/api_key", json={"ids": [_id(key)]})
        assert response.status_code == 200, response.text
        assert response.json()["invalidated_api_keys"] == [_id(key)]
        assert own.get("/_security/_authenticate").status_code == 401


def test_key_without_key_privileges_cannot_invalidate(
    server: InProcessServer, client: httpx.Client
) -> None:
    key = api_key(client, "monitor")
    with as_key(server, key) as c:
        response = c.request("DELETE", "/_security/api_key", json={"ids": [_id(key)]})
    assert_error(
        response, 403, "security_exception",
        f"action [{INVALIDATE}] is unauthorized for API key id [{_id(key)}] of user [elastic], "
        "this action is granted by the cluster privileges "
        "[manage_own_api_key,manage_api_key,manage_security,all]",
    )  # fmt: skip


def test_superuser_invalidates_its_keys_by_owner(
    server: InProcessServer, client: httpx.Client
) -> None:
    key = api_key(client, "monitor")
    response = client.request("DELETE", "/_security/api_key", json={"owner": True})
    assert response.status_code == 200 and _id(key) in response.json()["invalidated_api_keys"]


@pytest.fixture
def wire_client(wire_server: EmbeddedServer) -> Iterator[httpx.Client]:
    """Requests byte for byte need a socket: these tests use the server on a loopback port."""
    with httpx.Client(base_url=wire_server.url, auth=("elastic", PASSWORD), timeout=30) as c:
        yield c


def _raw_request(server: EmbeddedServer, method: str, target: str) -> tuple[int, bytes]:
    """Send a request target byte for byte (clients normalize escapes and control bytes)."""
    host, port = server.url.removeprefix("http://").split(":")
    auth = base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()
    request = (
        f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    ("target", "status", "reason"),
    [
        # Decoded once: the id "victim%2dep", which does not exist.
        ("/_inference/victim%252dep", 404, "Inference endpoint not found [victim%2dep]"),
        ("/_inference/victim%0a-ep", 404, "Inference endpoint not found [victim\n-ep]"),
        ("/_inference/victim%09-ep", 404, "Inference endpoint not found [victim\t-ep]"),
        ("/_inference/victim-ep%zz", 400,
         "invalid escape sequence `%zz' at index 9 of: victim-ep%zz"),
        ("/_inference/victim-ep%", 400,
         "unterminated escape sequence at end of string: victim-ep%"),
    ],
)  # fmt: skip
def test_ids_are_decoded_exactly_once(
    wire_server: EmbeddedServer, wire_client: httpx.Client, target: str, status: int, reason: str
) -> None:
    assert wire_client.put("/_inference/sparse_embedding/victim-ep", json=elser_body()).status_code in (
        200, 400  # 400: left by an earlier case
    )  # fmt: skip
    code, body = _raw_request(wire_server, "DELETE", target)
    assert code == status, body
    assert httpx.Response(code, content=body).json()["error"]["reason"] == reason
    assert wire_client.get("/_inference/victim-ep").status_code == 200  # untouched


def test_an_encoded_id_still_reaches_its_endpoint(
    wire_server: EmbeddedServer, wire_client: httpx.Client
) -> None:
    assert (
        wire_client.put("/_inference/sparse_embedding/enc-ep", json=elser_body()).status_code == 200
    )
    code, body = _raw_request(wire_server, "GET", "/_inference/enc%2Dep")
    assert code == 200, body
    assert _raw_request(wire_server, "DELETE", "/_inference/sparse_embedding/enc%2dep")[0] == 200
    assert wire_client.get("/_inference/enc-ep").status_code == 404
