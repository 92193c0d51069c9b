"""Index storage: documents with their semantic_text chunks, versions and refresh visibility.

One primary shard, one replica configured and unassigned on the single node, as a default index
on a one-node cluster: writes answer ``_shards: {total: 2, successful: 1, failed: 0}``
(``ReplicationResponse.ShardInfo``). Search and count see the documents of the last refresh
(``index.refresh_interval`` 1 s: a refresh older than that is done before a search).

A deleted document leaves its version behind (``LiveVersionMap`` tombstones, kept for
``index.gc_deletes`` 60 s; here for the index's life): indexing it again continues its versions.
A refresh replaces the visible documents instead of changing them, so a search may read a
snapshot off the event loop while writes go on.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..rules.semantic_text import Mapping
from ..wire import timevalue

REFRESH_INTERVAL = 1.0  # IndexSettings.DEFAULT_REFRESH_INTERVAL
WRITE_SHARDS = {"total": 2, "successful": 1, "failed": 0}


@dataclass
class Chunk:
    start: int
    end: int
    embedding: dict[str, float]


@dataclass
class Doc:
    id: str
    source: dict[str, Any]
    version: int
    seq_no: int
    chunks: dict[str, list[Chunk]] = field(default_factory=dict)  # field → its chunks


@dataclass
class Index:
    name: str
    mapping: Mapping
    settings: dict[str, Any]
    uuid: str = field(default_factory=lambda: uuid.uuid4().hex[:22])
    docs: dict[str, Doc] = field(default_factory=dict)
    seq_no: int = 0
    visible: dict[str, Doc] = field(default_factory=dict)
    refreshed_at: float = field(default_factory=time.monotonic)
    deleted: dict[str, int] = field(default_factory=dict)  # id → version of its delete
    created: int = field(default_factory=lambda: int(time.time() * 1000))  # creation_date

    def shards(self) -> dict[str, int]:
        """``ReplicationResponse.ShardInfo`` of a write: the primary and its replicas
        (``index.number_of_replicas``, default 1), none of which a one-node cluster assigns."""
        replicas = int(str(self.settings.get("index.number_of_replicas", 1)))
        return {"total": 1 + replicas, "successful": 1, "failed": 0}

    def refresh_interval(self) -> float | None:
        """``index.refresh_interval`` in seconds (``-1``: never scheduled)."""
        raw = self.settings.get("index.refresh_interval")
        return REFRESH_INTERVAL if raw is None else timevalue.parse(str(raw), "refresh_interval")

    def write(self, doc_id: str, source: dict[str, Any], chunks: dict[str, list[Chunk]]) -> Doc:
        """Index a document (new, or a new version of an existing one)."""
        previous = self.docs.get(doc_id)
        version = previous.version if previous is not None else self.deleted.pop(doc_id, 0)
        doc = Doc(doc_id, source, version + 1, self.seq_no, chunks)
        self.seq_no += 1
        self.docs[doc_id] = doc
        return doc

    def delete(self, doc_id: str) -> tuple[bool, int, int]:
        """(found, version, seq_no) of a delete (``InternalEngine.delete``): a missing
        document is ``not_found`` at version 1, and the operation still takes a sequence
        number."""
        previous = self.docs.pop(doc_id, None)
        version = (self.deleted.get(doc_id, 0) if previous is None else previous.version) + 1
        self.deleted[doc_id] = version
        self.seq_no += 1
        return previous is not None, version, self.seq_no - 1

    def refresh(self) -> None:
        self.visible = dict(self.docs)
        self.refreshed_at = time.monotonic()

    def snapshot(self) -> dict[str, Doc]:
        """What a search sees (the scheduled refresh applied first); never changed later."""
        interval = self.refresh_interval()
        if interval is not None and time.monotonic() - self.refreshed_at >= interval:
            self.refresh()
        return self.visible

    def searchable(self) -> list[Doc]:
        """Documents a search sees, in index order."""
        return in_order(self.snapshot())


def in_order(snapshot: dict[str, Doc]) -> list[Doc]:
    return sorted(snapshot.values(), key=lambda d: d.seq_no)


class IndexStore:
    """The cluster's indices by name."""

    def __init__(self) -> None:
        self.indices: dict[str, Index] = {}

    def get(self, name: str) -> Index | None:
        return self.indices.get(name)

    def referencing(self, inference_id: str) -> list[str]:
        """Indices with a semantic_text field using ``inference_id`` (for indexing or search):
        ``SemanticTextInfoExtractor.extractIndexesReferencingInferenceEndpoints``."""
        return sorted(
            name
            for name, index in self.indices.items()
            if any(inference_id in (f.inference_id, f.search_inference_id)
                   for f in index.mapping.semantic.values())
        )  # fmt: skip
