"""Target helpers shared by the load harness and the report."""

from __future__ import annotations

import pytest

from elsercheck.target import without_userinfo


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
