"""Target and connection settings: where to send requests, with which credentials.

Shared by every command that talks to a cluster. Values come from options or the
``ELASTICSEARCH_*`` environment variables; secrets are kept out of ``repr`` and reports.
"""

from __future__ import annotations

import os
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

ENV = {
    "url": "ELASTICSEARCH_URL",
    "api_key": "ELASTICSEARCH_API_KEY",
    "username": "ELASTICSEARCH_USERNAME",
    "password": "ELASTICSEARCH_PASSWORD",
    "ca_certs": "ELASTICSEARCH_CA_CERTS",
}
# A key with only monitor_inference for the gate's 403 checks, when its own credentials are an
# API key (from which Elasticsearch derives no key with privileges). Environment only: a secret.
LOW_PRIVILEGE_API_KEY_ENV = "ELASTICSEARCH_LOW_PRIVILEGE_API_KEY"


class TargetError(Exception):
    """A target that cannot be used: bad URL, unreadable CA file, unreachable, bad credentials."""


@dataclass(frozen=True)
class Target:
    url: str
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    insecure: bool = False

    def __post_init__(self) -> None:
        problem = url_problem(self.url)
        if problem:  # the URL shown without its user:password@, which may be a secret
            raise TargetError(
                f"invalid URL {_userinfo_hidden(self.url)!r}: {problem}; "
                "expected http(s)://host[:port]"
            )
        parts = urlsplit(self.url)
        if parts.username is not None or parts.password is not None:
            self._move_userinfo(parts.username, parts.password)
        if self.api_key and (self.username or self.password):
            raise TargetError("give either an API key or a username and password, not both")
        if self.ca_certs and not Path(self.ca_certs).is_file():
            raise TargetError(f"CA certificate file not found: {self.ca_certs}")

    def _move_userinfo(self, username: str | None, password: str | None) -> None:
        """Take ``user:password@`` out of the URL into the credentials, so that no URL passed
        on, printed or written ever carries a password. Explicit credentials win."""
        # Frozen dataclass: settle the fields once, here, at construction.
        set_field = object.__setattr__
        set_field(self, "url", without_userinfo(self.url))
        if not (self.api_key or self.username or self.password):
            set_field(self, "username", unquote(username or "") or None)
            set_field(self, "password", unquote(password) if password is not None else None)

    @classmethod
    def from_options(cls, url: str | None = None, **options: object) -> Target:
        """Options win over environment variables; ``url`` is required from one of them."""
        values = {key: options.get(key) or os.environ.get(env) for key, env in ENV.items()}
        values["url"] = url or values["url"]
        if not values["url"]:
            raise TargetError(f"no target: give --url or set {ENV['url']}")
        return cls(
            url=str(values["url"]).rstrip("/"),
            api_key=values["api_key"] or None,  # type: ignore[arg-type]
            username=values["username"] or None,  # type: ignore[arg-type]
            password=values["password"] or None,  # type: ignore[arg-type]
            ca_certs=values["ca_certs"] or None,  # type: ignore[arg-type]
            insecure=bool(options.get("insecure")),
        )

    def auth_headers(self) -> dict[str, str]:
        if self.api_key:
            return {"Authorization": f"ApiKey {self.api_key}"}
        return {}

    def verify(self) -> ssl.SSLContext | bool:
        if self.insecure:
            return False
        if self.ca_certs:
            return ssl.create_default_context(cafile=self.ca_certs)
        return True

    def client(self, timeout: float = 60.0, retry: bool = False, **options: Any) -> httpx.Client:
        """An httpx client with this target's base URL, credentials and TLS settings.

        ``retry``: resend requests answered 502/503 by a proxy (policy: ``elsercheck.retry``).
        """
        if retry:
            from .retry import retrying

            options["transport"] = retrying(self.verify())
        auth = None
        if self.username:
            auth = httpx.BasicAuth(self.username, self.password or "")
        return httpx.Client(
            base_url=self.url,
            headers=self.auth_headers(),
            auth=auth,
            verify=self.verify(),
            timeout=timeout,
            **options,
        )

    def redact(self, text: str) -> str:
        """``text`` with this target's secrets replaced, for logs and reports."""
        for secret in (self.api_key, self.password):
            if secret:
                text = text.replace(secret, "***")
        return text


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a target's URL, in a few words; ``None`` when it can.

    Checked up front so that a typo is a one-line usage error, not an exception from deep
    inside the HTTP client (``urlsplit`` and httpx each reject different malformed URLs).
    """
    if any(char.isspace() or not char.isprintable() for char in url):
        return "it contains whitespace or a control character"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a non-numeric or out-of-range port
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        return str(exc)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "no http(s) scheme or no host"
    return None


def _userinfo_hidden(url: str) -> str:
    """``url`` with any ``user:password@`` replaced, for an error message about a bad URL
    (which ``without_userinfo`` cannot parse)."""
    return re.sub(r"(//)[^/?#]*@", r"\1***@", url)


def without_userinfo(url: str) -> str:
    """``url`` without a ``user:password@`` part (raises ``ValueError`` if it is malformed)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def child_environment(target: Target) -> dict[str, str]:
    """The environment of a child process that talks to ``target`` (the gate's pytest, the
    load's locust): secrets travel here, never in argv."""
    # The target's own credentials only (not a stale ELASTICSEARCH_* of the shell), and the
    # user's low-privilege key for the 403 checks.
    kept = (LOW_PRIVILEGE_API_KEY_ENV,)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELASTICSEARCH_") or k in kept}
    for key, value in (
        ("ELASTICSEARCH_API_KEY", target.api_key),
        ("ELASTICSEARCH_USERNAME", target.username),
        ("ELASTICSEARCH_PASSWORD", target.password),
    ):
        if value:
            env[key] = value
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return env
