"""Security (ES DefaultAuthenticationFailureHandler, AuthorizationDenialMessages): 401 without or with bad credentials, 403 for a low-privilege API
key the suite creates (and invalidates) itself. Skipped, as skipped, with security off."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from contract_support import EndpointTracker, Profile, assert_es_error, client, elser_body
from elsercheck.target import Target

ANON_PATH = "/_inference/_all"
KEY_EXPIRATION = "1h"


@pytest.fixture(scope="module")
def secured(security_enabled: bool) -> None:
    if not security_enabled:
        pytest.skip("target has security off: authentication checks do not apply")


@pytest.fixture(scope="module")
def monitor_key(
    es: httpx.Client, target: Target, secured: None, run_prefix: str
) -> Iterator[tuple[str, str]]:
    """An API key limited to monitor_inference, created by the suite and invalidated after.

    It expires on its own (``expiration``, documented for POST /_security/api_key) in case the
    run dies before invalidating it: no usable credential outlives the run by much.
    """
    body = {"name": f"{run_prefix}monitor", "expiration": KEY_EXPIRATION, "role_descriptors": {
        "elsercheck-monitor": {"cluster": ["monitor_inference"]}}}  # fmt: skip
    response = es.post("/_security/api_key", json=body)
    if response.status_code == 403:
        pytest.skip("credentials may not create API keys (needs manage_own_api_key)")
    assert response.status_code == 200, response.text
    created = response.json()
    assert "expiration" in created, f"key created without expiration: {sorted(created)}"
    yield created["id"], created["encoded"]
    es.request("DELETE", "/_security/api_key", json={"ids": [created["id"]]})


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
    owner = es.get("/_security/_authenticate").json().get("username", "")
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
