"""Generates ``loadtests/corpus/documents.jsonl`` (see ``elsercheck.load.documents``):

python -m elsercheck.load.make_documents [corpus dir]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

from ..reference.rules.chunkers import chunk
from .corpus import default_directory
from .documents import FILE

MIN_WORDS = 300  # a document stops growing once it has this many words ...
MAX_WORDS = 900  # ... and never takes a passage that would bring it above this


def chunk_count(text: str) -> int:
    """Chunks of ``text`` under the default chunking settings (sentence, 250 words, overlap 1)."""
    return len(chunk(text, None))


def build(passages: Iterable[dict[str, str]]) -> list[dict[str, object]]:
    """The documents made of ``passages`` (``passages.jsonl`` rows), deterministically: by
    domain, in id order, passages joined until a document reaches :data:`MIN_WORDS`."""
    by_domain: dict[str, list[dict[str, str]]] = {}
    for passage in sorted(passages, key=lambda p: p["id"]):
        by_domain.setdefault(passage.get("domain", ""), []).append(passage)
    documents: list[dict[str, object]] = []
    for domain in sorted(by_domain):
        parts: list[dict[str, str]] = []
        words = 0
        for passage in by_domain[domain]:
            count = len(passage["text"].split())
            if parts and words + count > MAX_WORDS:
                documents.append(_document(len(documents) + 1, domain, parts))
                parts, words = [], 0
            parts.append(passage)
            words += count
            if words >= MIN_WORDS:
                documents.append(_document(len(documents) + 1, domain, parts))
                parts, words = [], 0
        if parts:  # a domain's short rest: a document of its own (one chunk)
            documents.append(_document(len(documents) + 1, domain, parts))
    return documents


def _document(number: int, domain: str, parts: list[dict[str, str]]) -> dict[str, object]:
    text = "\n\n".join(p["text"] for p in parts)
    return {
        "id": f"d-{number:03d}",
        "text": text,
        "domain": domain,
        "passages": [p["id"] for p in parts],
        "words": len(text.split()),
        "chunks": chunk_count(text),
    }


def render(directory: str | Path | None = None) -> str:
    """The content ``documents.jsonl`` should have, built from the directory's passages."""
    source = Path(directory or default_directory()) / "passages.jsonl"
    passages = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in build(passages))


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else default_directory())
    (target / FILE).write_text(render(target), encoding="utf-8")
