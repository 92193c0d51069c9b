"""The ingest workload's documents: ``loadtests/corpus/documents.jsonl``.

Each document is a run of the corpus' own passages of one domain, joined with blank lines,
several hundred words long, so that the default chunking of a semantic_text field (sentence
strategy, 250 words, overlap 1: ES ``ChunkingSettingsBuilder.DEFAULT_SETTINGS``) cuts it into
1–4 chunks. ``chunks`` is that count, computed once with the reference server's port of ES's
chunker and stored in the file: Elasticsearch's bulk answer does not say how many chunks it
embedded, so the report derives chunks from the documents a bulk carried.

The file is generated from ``passages.jsonl`` (``python -m elsercheck.load.make_documents``,
apart because it uses the reference server's chunker, which the load generator must not
import), so it is as license-clean as the passages; ``tests/test_load_workloads.py`` checks it
is up to date.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from .corpus import default_directory, estimate_tokens

# A chunk of the default sentence chunking repeats one sentence of its neighbour (overlap 1):
# about a tenth of a 250-word chunk (ES ChunkingSettingsBuilder.DEFAULT_SETTINGS).
CHUNK_OVERLAP_SHARE = 0.1

FILE = "documents.jsonl"


@dataclass(frozen=True)
class Document:
    """One document: its text and the chunks the default chunking makes of it."""

    id: str
    text: str
    chunks: int

    @functools.cached_property
    def tokens(self) -> float:
        """Estimated tokens its chunks send to ELSER (``corpus.estimate_tokens`` of the text,
        each chunk after the first repeating its overlap)."""
        return estimate_tokens(self.text) * (1 + (self.chunks - 1) * CHUNK_OVERLAP_SHARE)


def load(directory: str | Path | None = None) -> tuple[Document, ...]:
    """The documents of a corpus directory (default: the bundled corpus); ValueError names a
    missing or empty file."""
    path = Path(directory or default_directory()) / FILE
    if not path.is_file():
        raise ValueError(f"the ingest and search workloads need {path} (corpus documents)")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    if not rows:
        raise ValueError(f"{path} holds no documents")
    return tuple(Document(str(r["id"]), str(r["text"]), int(r["chunks"])) for r in rows)
