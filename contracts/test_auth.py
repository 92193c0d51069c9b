"""Security (ES DefaultAuthenticationFailureHandler, AuthorizationDenialMessages): 401 without or with bad credentials, 403 for a low-privilege API
key. Skipped, as skipped, with security off.

The low-privilege key (``monitor_inference`` only) is the one given in
``ELASTICSEARCH_LOW_PRIVILEGE_API_KEY`` (the ``encoded`` value of ``POST /_security/api_key``),
else one the suite creates (and invalidates) itself. It cannot create one when its own
credentials are an API key: Elasticsearch refuses a key derived from an API key unless its role
descriptors are empty (ES TransportCreateApiKeyAction.doExecute, "creating derived api keys
requires an explicit role descriptor that is empty"), and an empty one would carry the caller's
privileges. Those checks are then skipped with that reason, never errors: the target is
conformant in refusing.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterator

import httpx
import pytest

from contract_support import EndpointTracker, Profile, assert_es_error, client, elser_body
from elsercheck.target import LOW_PRIVILEGE_API_KEY_ENV, Target

ANON_PATH = "/_inference/_all"
KEY_EXPIRATION = "1h"
DERIVED_KEYS_REFUSED = (
    "the suite's credentials are an API key, and Elasticsearch creates no API key with "
    "privileges from an API key (TransportCreateApiKeyAction: derived keys need an empty role "
    f"descriptor); set {LOW_PRIVILEGE_API_KEY_ENV} to a key with only monitor_inference to run "
    "this check"
)


@pytest.fixture(scope="module")
def secured(security_enabled: bool) -> None:
    if not security_enabled:
        pytest.skip("target has security off: authentication checks do not apply")


@pytest.fixture(scope="module")
def monitor_key(
    es: httpx.Client, target: Target, secured: None, run_prefix: str
) -> Iterator[tuple[str, str]]:
    """An API key limited to monitor_inference: the user's (``LOW_PRIVILEGE_API_KEY_ENV``), or one
    created by the suite and invalidated after.

    A created key expires on its own (``expiration``, documented for POST /_security/api_key)
    in case the run dies before invalidating it: no usable credential outlives the run by much.
    """
    supplied = os.environ.get(LOW_PRIVILEGE_API_KEY_ENV)
    if supplied:
        yield _key_id(supplied), supplied  # the user's key: never invalidated by the suite
        return
    caller = es.get("/_security/_authenticate")
    if caller.status_code == 200 and caller.json().get("authentication_type") == "api_key":
        pytest.skip(DERIVED_KEYS_REFUSED)
    body = {"name": f"{run_prefix}monitor", "expiration": KEY_EXPIRATION, "role_descriptors": {
        "elsercheck-monitor": {"cluster": ["monitor_inference"]}}}  # fmt: skip
    response = es.post("/_security/api_key", json=body)
    if response.status_code == 403:
        pytest.skip("credentials may not create API keys (needs manage_own_api_key)")
    if response.status_code == 400 and "derived api keys" in response.text:
        pytest.skip(DERIVED_KEYS_REFUSED)  # an API key behind a proxy that authenticates
    assert response.status_code == 200, response.text
    created = response.json()
    assert "expiration" in created, f"key created without expiration: {sorted(created)}"
    yield created["id"], created["encoded"]
    es.request("DELETE", "/_security/api_key", json={"ids": [created["id"]]})


def _key_id(encoded: str) -> str:
    """The id in an encoded API key (base64 of ``id:api_key``)."""
    try:
        key_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        key_id = secret = ""
    if not key_id or not secret:
        pytest.fail(f"{LOW_PRIVILEGE_API_KEY_ENV} is not an encoded API key (base64 of id:api_key)",
                    pytrace=False)  # fmt: skip
    return key_id


@pytest.fixture
def limited(target: Target, monitor_key: tuple[str, str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"ApiKey {monitor_key[1]}"}
    with client(target.url, headers=headers, verify=target.verify(), timeout=60) as c:
        yield c


def test_no_credentials_401(target: Target, secured: None, profile: Profile) -> None:
    with client(target.url, verify=target.verify(), timeout=30) as anonymous:
        response = anonymous.get(ANON_PATH)
    assert_es_error(response, 401, "security_exception",
                    profile.reason("missing_credentials", uri=ANON_PATH))  # fmt: skip
    challenges = response.headers.get_list("www-authenticate")
    assert any(c.startswith("Basic") for c in challenges), challenges
    assert "ApiKey" in challenges, challenges


def test_bad_password_401(target: Target, secured: None, profile: Profile) -> None:
    with client(target.url, verify=target.verify(), timeout=30,
                      auth=("elsercheck-no-such-user", "wrong")) as c:  # fmt: skip
        response = c.get(ANON_PATH)
    assert_es_error(response, 401, "security_exception", profile.reason(
        "bad_user", user="elsercheck-no-such-user", uri=ANON_PATH))  # fmt: skip
    assert response.headers.get_list("www-authenticate")


def test_unknown_api_key_401(target: Target, secured: None) -> None:
    bogus = base64.b64encode(b"elsercheck-no-such-key:secret").decode()
    with client(target.url, verify=target.verify(), timeout=30,
                      headers={"Authorization": f"ApiKey {bogus}"}) as c:  # fmt: skip
        assert_es_error(c.get(ANON_PATH), 401, "security_exception", None)


def test_low_privilege_key_is_refused_writes(
    limited: httpx.Client, monitor_key: tuple[str, str], tracker: EndpointTracker,
    profile: Profile, es: httpx.Client,
) -> None:  # fmt: skip
    key_id = monitor_key[0]
    owner = limited.get("/_security/_authenticate").json().get("username", "")
    inference_id = tracker.new_id("authz")
    put = limited.put(f"/_inference/sparse_embedding/{inference_id}", json=elser_body())
    try:
        action = "cluster:admin/xpack/inference/put"
        assert_es_error(put, 403, "security_exception", profile.reason(
            "unauthorized_api_key", action=action, key_id=key_id, user=owner,
            privileges=profile.privileges.get(action, "")))  # fmt: skip
        assert es.get(f"/_inference/{inference_id}").status_code == 404
    finally:
        # A target that let the write through stored it: remove our own id.
        tracker.remove(inference_id)
    assert limited.delete("/_inference/.elser-2-elasticsearch").status_code in (403, 404)


def test_low_privilege_key_may_read_and_infer(
    limited: httpx.Client, tracker: EndpointTracker, es: httpx.Client, allocation_wait: float,
) -> None:  # fmt: skip
    from contract_support import wait_fully_allocated

    inference_id = tracker.new_id("reader")
    assert tracker.put(inference_id, elser_body()).status_code in (200, 408)
    try:
        wait_fully_allocated(es, inference_id, allocation_wait)
        assert limited.get(f"/_inference/{inference_id}").status_code == 200
        inferred = limited.post(
            f"/_inference/sparse_embedding/{inference_id}", json={"input": "hi"}
        )
        assert inferred.status_code == 200, inferred.text
        refused = limited.delete(f"/_inference/{inference_id}")
        assert_es_error(refused, 403, "security_exception", None)
        update = limited.put(f"/_inference/sparse_embedding/{inference_id}/_update",
                             json={"service_settings": {"num_allocations": 2}})  # fmt: skip
        assert_es_error(update, 403, "security_exception", None)
    finally:
        tracker.delete(inference_id)
