"""Credentials and TLS for every request the load test sends, from the environment only."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

import gevent.ssl

from elsercheck.retry import requests_session
from elsercheck.target import ENV


def auth_headers() -> dict[str, str]:
    """``Authorization`` from ``ELASTICSEARCH_API_KEY`` or ``..._USERNAME``/``..._PASSWORD``."""
    api_key = os.environ.get(ENV["api_key"])
    if api_key:
        return {"Authorization": f"ApiKey {api_key}"}
    username = os.environ.get(ENV["username"])
    if username:
        password = os.environ.get(ENV["password"], "")
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    return {}


def ca_certs() -> str | None:
    return os.environ.get(ENV["ca_certs"]) or None


def ssl_context_factory(insecure: bool) -> Callable[..., Any] | None:
    """For FastHttpUser: verify against the CA file when given (locust's default is insecure)."""
    if insecure:
        return None
    ca = ca_certs()

    def factory(cafile: str | None = None, **_: Any) -> Any:
        # geventhttpclient passes its own bundle (certifi) as cafile: ours must win.
        return gevent.ssl.create_default_context(cafile=ca or cafile)

    return factory


def control_session(insecure: bool):  # -> requests.Session
    """A session for endpoint management and stats polls: auth, TLS, retry on proxy 502/503."""
    session = requests_session()
    # requests lets REQUESTS_CA_BUNDLE and friends override session.verify (psf/requests#3829),
    # and proxies from the environment would send traffic elsewhere: only the target counts.
    session.trust_env = False
    session.headers.update(auth_headers())
    session.verify = False if insecure else (ca_certs() or True)
    return session
