"""Target helpers shared by the load harness and the report."""

from __future__ import annotations

import base64

import httpx
import pytest

from elsercheck.target import Target, TargetError, without_userinfo


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://elastic:s3cret@es.example:9200/p?q=1", "https://es.example:9200/p?q=1"),
        ("http://key@[::1]:9200", "http://[::1]:9200"),
        ("http://127.0.0.1:9200", "http://127.0.0.1:9200"),
    ],
)
def test_without_userinfo(url: str, expected: str) -> None:
    assert without_userinfo(url) == expected


# -- userinfo in --url becomes credentials (no URL with a password is passed on) -------------
SECRET = "s3cret/p@ss word"
USERINFO_URL = "https://elastic:s3cret%2Fp%40ss%20word@es.example:9200"


def test_userinfo_moves_into_the_credentials() -> None:
    target = Target(USERINFO_URL)
    assert target.url == "https://es.example:9200"
    assert (target.username, target.password) == ("elastic", SECRET)
    assert SECRET not in repr(target) and "s3cret" not in target.url
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200))
    with target.client(transport=transport) as client:  # the credentials are used
        client.get("/")
    expected = base64.b64encode(f"elastic:{SECRET}".encode()).decode()
    assert sent[0].headers["authorization"] == f"Basic {expected}"
    assert str(sent[0].url) == "https://es.example:9200/"


def test_userinfo_from_options_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELASTICSEARCH_USERNAME", raising=False)
    monkeypatch.delenv("ELASTICSEARCH_PASSWORD", raising=False)
    monkeypatch.delenv("ELASTICSEARCH_API_KEY", raising=False)
    monkeypatch.setenv("ELASTICSEARCH_URL", USERINFO_URL)
    target = Target.from_options()
    assert target.url == "https://es.example:9200" and target.password == SECRET


def test_explicit_credentials_win_over_userinfo() -> None:
    target = Target(USERINFO_URL, api_key="encoded-key")
    assert target.url == "https://es.example:9200"
    assert target.username is None and target.password is None and target.api_key


def test_bad_url_errors_do_not_echo_a_password() -> None:
    for url in ("ftp://elastic:s3cret@es.example", "http://elastic:s3cret@es.example:port"):
        with pytest.raises(TargetError) as raised:
            Target(url)
        assert "s3cret" not in str(raised.value)
