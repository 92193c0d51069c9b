"""The secret scanner (tests/secret_scan.py) finds every spelling a report might hold."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tests.secret_scan import assert_no_secret, forms, scan_paths, scan_text

# Characters that each encoding changes: / + & space quote backslash, non-ASCII.
SECRET = 'pa/ss+w&rd "q" \\x é'
USER = "elastic"
API_KEY = base64.b64encode(b"key-id-123:api-key-secret-456").decode()


@pytest.mark.parametrize(
    "leaked",
    [
        SECRET,
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        json.dumps(SECRET),
        json.dumps(SECRET, ensure_ascii=False),
        repr(SECRET),
        base64.b64encode(SECRET.encode()).decode(),
        base64.b64encode(f"{USER}:{SECRET}".encode()).decode(),
        "http://elastic:" + quote(SECRET, safe="!$&'()*+,;=") + "@host:9200",
    ],
    ids=["plain", "url", "url-plus", "json", "json-unicode", "repr", "base64", "basic", "userinfo"],
)
def test_each_encoded_form_is_found(leaked: str, tmp_path: Path) -> None:
    secret_forms = forms(SECRET, USER)
    text = f"<td>Authorization: Basic {leaked}</td>"
    assert scan_text(text, secret_forms), leaked
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "report.html").write_text(text, encoding="utf-8")
    (tmp_path / "clean.txt").write_text("nothing here")
    findings = scan_paths([tmp_path], secret_forms)
    assert {f.where for f in findings} == {str(tmp_path / "sub" / "report.html")}
    with pytest.raises(AssertionError, match=r"report\.html"):
        assert_no_secret(SECRET, username=USER, paths=[tmp_path])


def test_api_key_forms_include_its_decoded_secret() -> None:
    secret_forms = forms(API_KEY)
    assert scan_text(API_KEY, secret_forms)
    assert scan_text("id key-id-123 secret api-key-secret-456", secret_forms)
    assert scan_text(base64.b64encode(API_KEY.encode()).decode(), secret_forms)


def test_clean_text_and_files_pass(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text("<testsuite>$ELASTICSEARCH_PASSWORD ***</testsuite>")
    assert_no_secret(SECRET, username=USER, paths=[tmp_path], texts={"stdout": "ok"})
    with pytest.raises(AssertionError, match="stdout"):
        assert_no_secret(SECRET, texts={"stdout": f"password={SECRET}"})
    with pytest.raises(AssertionError, match="nothing to scan"):
        assert_no_secret(SECRET, paths=[tmp_path / "missing"])


def test_short_forms_are_not_searched() -> None:
    assert all(len(value) >= 6 for value in forms("abcdef", "u").values())
