"""Finds a secret in files and text in any form a writer might have given it.

A secret leaks not only verbatim: a report may hold it base64-encoded (an ``Authorization``
header), URL-encoded (a URL's userinfo or query), JSON-escaped (``"pa\\"ss"``) or as a Python
``repr`` (a test's printed arguments). ``forms`` lists those spellings; ``scan_text`` and
``scan_paths`` look for every one of them; ``assert_no_secret`` fails naming the file and form.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

# Shorter spellings would match by chance in binary files and long reports.
MIN_FORM_LENGTH = 6


def _b64(text: str) -> list[str]:
    raw = base64.b64encode(text.encode()).decode()
    return [raw, raw.rstrip("="), base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")]


def forms(secret: str, username: str | None = None) -> dict[str, str]:
    """Every spelling of ``secret`` to look for, by name (duplicates dropped).

    With ``username`` (Basic auth) also ``base64("user:secret")``, the Authorization header's
    payload. An encoded API key (``base64("id:key")``) also yields its decoded forms.
    """
    found: dict[str, str] = {"plain": secret}
    for name, value in (
        ("url-encoded", quote(secret, safe="")),
        ("url-encoded-plus", quote_plus(secret)),
        ("url-encoded-userinfo", quote(secret, safe="!$&'()*+,;=")),
        ("json-escaped", json.dumps(secret, ensure_ascii=False)[1:-1]),
        ("json-escaped-ascii", json.dumps(secret, ensure_ascii=True)[1:-1]),
        ("python-repr", repr(secret)[1:-1]),
    ):
        found[name] = value
    for index, value in enumerate(_b64(secret)):
        found[f"base64-{index}"] = value
    if username is not None:
        for index, value in enumerate(_b64(f"{username}:{secret}")):
            found[f"basic-auth-{index}"] = value
    decoded = _decoded_api_key(secret)
    if decoded:
        found["api-key-decoded"] = decoded
        found["api-key-secret-part"] = decoded.split(":", 1)[1]
    unique: dict[str, str] = {}
    for name, value in found.items():
        if len(value) >= MIN_FORM_LENGTH and value not in unique.values():
            unique[name] = value
    return unique


def _decoded_api_key(secret: str) -> str | None:
    try:
        text = base64.b64decode(secret, validate=True).decode()
    except (binascii.Error, ValueError):
        return None
    return text if ":" in text and text.isprintable() else None


@dataclass(frozen=True)
class Finding:
    where: str  # a path, or the label of scanned text
    form: str

    def __str__(self) -> str:
        return f"secret ({self.form}) in {self.where}"


def scan_text(text: str, secret_forms: dict[str, str], where: str = "text") -> list[Finding]:
    """The forms of the secret that occur in ``text``."""
    return [Finding(where, name) for name, value in secret_forms.items() if value in text]


def scan_paths(paths: Iterable[Path], secret_forms: dict[str, str]) -> list[Finding]:
    """The forms found in each file under ``paths`` (files, or directories walked in full).

    Files are read as bytes (reports may be binary, e.g. images): a form is looked for in
    its UTF-8 encoding.
    """
    encoded = {name: value.encode() for name, value in secret_forms.items()}
    findings = []
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            data = path.read_bytes()
            findings += [Finding(str(path), n) for n, value in encoded.items() if value in data]
    return findings


def assert_no_secret(
    secret: str, *, paths: Iterable[Path] = (), texts: dict[str, str] | None = None,
    username: str | None = None,
) -> None:  # fmt: skip
    """Fail, naming each place and form, if the secret appears in any file or text given."""
    secret_forms = forms(secret, username)
    paths = list(paths)
    missing = [str(p) for p in paths if not p.exists()]
    assert not missing, f"nothing to scan at {missing}"  # a scan of nothing proves nothing
    findings = scan_paths(paths, secret_forms)
    for label, text in (texts or {}).items():
        findings += scan_text(text, secret_forms, label)
    assert not findings, "; ".join(str(f) for f in findings)
