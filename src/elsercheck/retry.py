"""The retry policy of every client the gate and the contract suite create.

Retry only where Elastic's documentation says an answer is transient, and nowhere else:

* **502 and 503** — "You might see a 502 bad gateway error in the response when using the
  Kibana Console. This error usually just reflects a timeout, while the model downloads in the
  background" (ELSER PUT docs): a proxy or load balancer in front of the cluster timed out or
  is busy. Such a request is sent again up to ``retries`` times, ``backoff`` seconds after the
  first failure, doubling each time; the last answer is returned whatever it is.
* Everything else is returned as it is: other 5xx and every 4xx are the cluster's answer and
  may be what a contract test expects. In particular **409** (a deployment scaled to zero is
  scaling up again) and **408** on PUT (the endpoint is stored and the deployment keeps
  starting; ES TransportStartTrainedModelDeploymentAction) are handled by the tests that expect
  them, and **429** is a documented answer under load, not a transport fault.
* Connection errors are not retried either: the target is then unusable and the gate says so.

A retried PUT that a proxy had in fact forwarded may answer ``resource_already_exists`` the
second time; the contract suite's tracker records any endpoint that exists after a PUT, so it
is still deleted.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import httpx

RETRY_STATUSES = frozenset({502, 503})


class RetryTransport(httpx.BaseTransport):
    """An httpx transport that resends a request answered 502/503 (see the module docstring)."""

    def __init__(self, inner: httpx.BaseTransport, retries: int = 5, backoff: float = 0.1) -> None:
        self.inner, self.retries, self.backoff = inner, retries, backoff

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in range(self.retries):
            response = self.inner.handle_request(request)
            if response.status_code not in RETRY_STATUSES:
                return response
            response.close()
            time.sleep(self.backoff * 2**attempt)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def requests_session():  # -> requests.Session
    """The same policy for ``requests`` (schemathesis' transport): 502/503 only, same backoff."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    policy = Retry(
        total=5, connect=0, read=0, redirect=0, other=0, status=5, backoff_factor=0.1,
        status_forcelist=sorted(RETRY_STATUSES), allowed_methods=None,
        raise_on_status=False, respect_retry_after_header=False,
    )  # fmt: skip

    class EnvironmentOnceSession(requests.Session):
        """A session that reads the environment's proxy and CA settings once per origin.

        ``requests`` scans the whole environment twice for proxies on every request
        (``Session.merge_environment_settings`` → ``get_environ_proxies``): about 5 % of the
        gate's CPU per schema case. The environment does not change during a run, and the
        answer depends only on the URL's scheme and host (``should_bypass_proxies``), the
        call's arguments and the session's own settings, so it is kept per those; each caller
        gets its own copy of the proxies.
        """

        def __init__(self) -> None:
            super().__init__()
            self._environment: dict[tuple[Any, ...], dict[str, Any]] = {}

        def merge_environment_settings(self, url, proxies, stream, verify, cert) -> dict[str, Any]:
            parsed = urlsplit(url)
            key = (
                parsed.scheme, parsed.netloc, _frozen(proxies), stream, verify, cert,
                self.trust_env, _frozen(self.proxies), self.stream, self.verify, self.cert,
            )  # fmt: skip
            try:
                settings = self._environment.get(key)
            except TypeError:  # an unhashable argument: not kept, asked as requests does
                return super().merge_environment_settings(url, proxies, stream, verify, cert)
            if settings is None:
                settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
                self._environment[key] = settings
            merged = settings["proxies"]
            return {**settings, "proxies": None if merged is None else dict(merged)}

    session = EnvironmentOnceSession()
    adapter = HTTPAdapter(max_retries=policy)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _frozen(mapping: Any) -> Any:
    return None if mapping is None else tuple(sorted(mapping.items()))


def retrying(verify: object = True, **options: object) -> RetryTransport:
    """A retrying transport over httpx's default one (``verify`` as for ``httpx.Client``)."""
    return RetryTransport(httpx.HTTPTransport(verify=verify, **options))  # type: ignore[arg-type]
