"""The load workloads (``--workload``): which locust users share the shape's users, and the
run index the semantic_text workloads write to and search.

Nothing here imports locust: the locustfile and the tests both read it.
"""

from __future__ import annotations

from typing import Any

SEMANTIC_FIELD = "content"  # the run index's semantic_text field
INDEX_SUFFIX = "docs"  # the run index: elsercheck-<run-id>-docs
SEED_DOCUMENTS = 20  # documents a search workload finds in the index before the load starts

# Load user classes (loadtests/elser_locust/users.py) per workload; the shape's user count is
# split between them by locust (equal weights).
USER_CLASSES: dict[str, tuple[str, ...]] = {
    "inference": ("InferenceUser",),
    "ingest": ("IngestUser",),
    "search": ("SearchUser",),
    "mixed": ("InferenceUser", "IngestUser", "SearchUser"),
}
LOAD_USER_CLASSES = frozenset(name for names in USER_CLASSES.values() for name in names)


def needs_index(workload: str) -> bool:
    """Whether the workload writes to or searches the run index."""
    return workload != "inference"


def seeds_index(workload: str) -> bool:
    """Whether the index gets documents before the load starts (searches need something)."""
    return workload in ("search", "mixed")


def index_body(inference_id: str) -> dict[str, Any]:
    """The run index: one semantic_text field bound to the endpoint under load (its chunking
    settings apply), plus the corpus document id as a keyword."""
    return {
        "mappings": {
            "properties": {
                SEMANTIC_FIELD: {"type": "semantic_text", "inference_id": inference_id},
                "doc": {"type": "keyword"},
            }
        }
    }
