"""The ``Warning`` response header as Elasticsearch writes it (ES ``HeaderWarning``).

``299 Elasticsearch-<version>[-SNAPSHOT]-<build hash> "<text>"`` (``WARNING_PREFIX``,
``formatWarning``; no warn-date since 7.x). ``escapeAndEncode`` makes the text an RFC 7230
quoted-string: ``\\`` and ``"`` are backslash-escaped, then every run of characters outside
``doesNotNeedEncoding`` (HTAB, SP, ``!``, ``#``-``$``, ``&``-``[``, ``]``-``~``, 0x80-0xFF,
and the escaped ``\\``/``"``) is written as its UTF-8 bytes in ``%XX`` upper-case hex. ``%``
itself is outside the set, so it is always encoded; 0x80-0xFF (obs-text) stay as they are.
"""

from __future__ import annotations

import re

# The complement of HeaderWarning.doesNotNeedEncoding, as runs (one UTF-8 encoding per run).
_NEEDS_ENCODING = re.compile('[^\t !"#$&-\\[\\\\\\]-~\x80-\xff]+')


def _percent(match: re.Match[str]) -> str:
    # Java's String.getBytes(UTF_8) writes '?' for an unpaired surrogate; so does "replace"
    return "".join(f"%{b:02X}" for b in match.group().encode("utf-8", "replace"))


def escape_and_encode(text: str) -> str:
    """``HeaderWarning.escapeAndEncode``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return _NEEDS_ENCODING.sub(_percent, escaped)


def format_warning(version: str, build_hash: str, text: str, snapshot: bool = False) -> str:
    """``HeaderWarning.formatWarning`` for a node of ``version`` built from ``build_hash``."""
    agent = f"Elasticsearch-{version}{'-SNAPSHOT' if snapshot else ''}-{build_hash}"
    return f'299 {agent} "{escape_and_encode(text)}"'
