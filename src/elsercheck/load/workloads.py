"""The load workloads (``--workload``): which locust users share the shape's users, and the
run index the semantic_text workloads write to and search.

Nothing here imports locust: the locustfile and the tests both read it.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from .corpus import DEFAULT_BATCH_SIZES, MAX_TOKENS, Corpus, Mix, parse_mix
from .documents import Document
from .documents import load as load_documents

SEMANTIC_FIELD = "content"  # the run index's semantic_text field
LEXICAL_FIELD = "text"  # the same text as a `text` field, for the hybrid search queries
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


def index_body(inference_id: str, lexical: bool = False) -> dict[str, Any]:
    """The run index: one semantic_text field bound to the endpoint under load (its chunking
    settings apply), plus the corpus document id as a keyword; with ``lexical`` (a hybrid
    ``--search-query``) the text again in a ``text`` field for the BM25 half."""
    properties: dict[str, Any] = {
        SEMANTIC_FIELD: {"type": "semantic_text", "inference_id": inference_id},
        "doc": {"type": "keyword"},
    }
    if lexical:
        properties[LEXICAL_FIELD] = {"type": "text"}
    return {"mappings": {"properties": properties}}


# The search request shapes (`--search-query`): what a SearchUser sends for a query text.
SEARCH_QUERIES = {
    "semantic": "a semantic query on the semantic_text field",
    "hybrid-bool": "a bool query: should a BM25 match on the text field and a semantic query",
    "hybrid-rrf": "an rrf retriever over a standard match and a standard semantic retriever",
}


def lexical(search_query: str) -> bool:
    """Whether the search query shape needs the text field (documents carry their text twice)."""
    return search_query != "semantic"


def search_body(search_query: str, text: str) -> dict[str, Any]:
    """The ``_search`` body of one search of the ``search_query`` shape."""
    semantic = {"semantic": {"field": SEMANTIC_FIELD, "query": text}}
    match = {"match": {LEXICAL_FIELD: text}}
    if search_query == "semantic":
        return {"query": semantic}
    if search_query == "hybrid-bool":
        return {"query": {"bool": {"should": [match, semantic]}}}
    if search_query == "hybrid-rrf":
        return {"retriever": {"rrf": {"retrievers": [
            {"standard": {"query": match}}, {"standard": {"query": semantic}},
        ]}}}  # fmt: skip
    raise ValueError(f"unknown search query shape {search_query!r}")


def request_tokens(
    corpus: Corpus, mix: Mix, batch_share: float, batch_sizes: Sequence[int]
) -> float:
    """Expected estimated tokens of one inference request of the mix (inputs capped at ELSER's
    window as the server truncates them; a batch carries the mean batch size of inputs)."""
    inputs = 1 - batch_share + batch_share * statistics.fmean(batch_sizes)
    per_input = sum(
        share * statistics.fmean(min(item.tokens, MAX_TOKENS) for item in corpus.bucket(name))
        for name, share in mix.shares.items()
    )
    return per_input * inputs


def bulk_tokens(documents: Sequence[Document], bulk_size: int) -> float:
    """Expected estimated tokens a bulk of ``bulk_size`` documents sends to ELSER: every chunk
    of every document (a chunk repeats its overlap, one sentence of the next)."""
    return bulk_size * statistics.fmean(d.tokens for d in documents)


def work_equivalent_bulk_rate(rate_per_user: float, request: float, bulk: float) -> float:
    """Bulks per second that give one ingest user the ELSER work of one inference user who
    sends ``rate_per_user`` requests of ``request`` tokens: work per token being what ELSER's
    service time follows (Elastic's ELSER benchmarks are per token count), the shapes' user
    counts mean the same deployment load whatever the workload."""
    return rate_per_user * request / bulk


def bulk_rate_per_user(values: Mapping[str, Any]) -> float:
    """The ingest users' bulks per second (cluster time) for the load options' ``values``:
    ``--bulk-rate-per-user``, else the work-equivalent of ``--rate-per-user`` on the corpus
    and mix the run uses."""
    if values.get("bulk_rate_per_user"):
        return float(values["bulk_rate_per_user"])
    corpus = Corpus.load(values.get("corpus") or None)
    request = request_tokens(
        corpus, parse_mix(values["mix"]), values["batch_share"], DEFAULT_BATCH_SIZES
    )
    bulk = bulk_tokens(load_documents(values.get("corpus") or None), values["bulk_size"])
    return work_equivalent_bulk_rate(values["rate_per_user"], request, bulk)
