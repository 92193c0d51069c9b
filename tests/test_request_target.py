"""The reference server reads a request's path and query from the ASGI scope when that gives
exactly what Starlette's ``request.url`` gives (a speed-up); anything unusual goes through
``request.url``. Both must always agree."""

from __future__ import annotations

import random
import string

import pytest
from starlette.requests import Request

from elsercheck.reference.app import _path_and_query


def _scope(path: str, query: bytes, host: bool = True) -> dict:
    return {
        "type": "http", "method": "GET", "path": path, "query_string": query, "root_path": "",
        "headers": [(b"host", b"127.0.0.1:9200")] if host else [], "scheme": "http",
        "server": ("127.0.0.1", 9200),
    }  # fmt: skip


def _expected(path: str, query: bytes, host: bool) -> tuple[str, str]:
    url = Request(_scope(path, query, host)).url
    return url.path, url.query


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/", b""),
        ("/_inference/sparse_embedding/my-elser", b"timeout=30s&pretty"),
        ("/_inference/a?b", b""),  # a decoded %3F: Starlette escapes it again
        ("/_inference/a#b", b"x=1#frag"),
        ("/_inference/a\\b", b""),
        ("//_inference", b""),
        ("/_inference/tab\there", b""),
        ("/_inference/new\nline", b"a=\n"),
        ("/_inference/caf\u00e9", "q=caf\u00e9".encode()),
        ("/_inference/%2F%20", b"a=%20&b=/?c"),
    ],
)
@pytest.mark.parametrize("host", [True, False])
def test_same_path_and_query_as_request_url(path: str, query: bytes, host: bool) -> None:
    assert _path_and_query(Request(_scope(path, query, host))) == _expected(path, query, host)


def test_same_path_and_query_as_request_url_for_random_targets() -> None:
    rng = random.Random(7)
    alphabet = string.printable + "\u00e9\u00df\u20ac\x00\x7f/%?#\\"
    for _ in range(3000):
        path = "/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        query = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))).encode()
        host = rng.random() < 0.5
        assert _path_and_query(Request(_scope(path, query, host))) == _expected(path, query, host)
