"""The reference server's true capacity, from its service-time model (no measurement).

An allocation serves one request at a time (``reference/mlnode/deployment.py``) for
``Timing.service_time_seconds(tokens, threads, portable)``: overhead + per-token time, Amdahl
over the threads, the portable model's slowdown. So one allocation saturates at
1 / E[service time] of the workload's unit per second, E over what the workload sends:

* inference: a request of the sampler's mix (its inputs' tokens as the server counts them);
* search: one semantic query of the corpus' query bucket (the server embeds the query text in
  one request, ``reference/api/indices.py``);
* ingest: a bulk of ``bulk_size`` documents drawn from ``documents.jsonl``; the server cuts
  each into chunks (the endpoint's default sentence chunking, ``reference/rules/chunkers.py``)
  and sends all the bulk's chunks to the deployment ten at a time (``reference/indices/
  ingest.py``), each chunk inferred as its own deployment request (ES taskOperation:
  task.infer per input), so a bulk costs one overhead and the tokens of every chunk (a bulk
  of the sweep stays far below the filter's 1 MB batch).

In the cluster's time: the wall service time times the timing's speedup. Tests check measured
capacities against this; the page shows it on the embedded server.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from functools import cache

from ..endpoints import ELSER_V2_PORTABLE
from ..load import documents
from ..load.corpus import Corpus, Sampler, parse_mix
from ..reference.mlnode.sparse_encoder import token_count
from ..reference.rules import chunkers
from ..timebase import TimeBase
from ..timing import Timing
from .units import DEFAULT_BULK_SIZE

SAMPLES = 4000


def mean_service_s(
    timing: Timing, mix: str, batch_share: float, threads: int, model_id: str,
    corpus: str = "", samples: int = SAMPLES, seed: int = 0, *, workload: str = "inference",
    bulk_size: int = DEFAULT_BULK_SIZE,
) -> float:  # fmt: skip
    """Mean service time of one of the workload's units (a request, a search, a bulk), in
    cluster seconds."""
    portable = model_id == ELSER_V2_PORTABLE

    def service(tokens: int) -> float:
        return timing.service_time_seconds(tokens, threads, portable)

    rng = random.Random(seed)
    if workload == "search":
        queries = [token_count(item.text) for item in Corpus.load(corpus or None).bucket("query")]
        total = math.fsum(service(rng.choice(queries)) for _ in range(samples))
    elif workload == "ingest":
        chunked = _chunk_tokens(corpus)
        total = math.fsum(
            _bulk_service([t for doc in rng.choices(chunked, k=bulk_size) for t in doc], service)
            for _ in range(samples)
        )
    else:
        sampler = Sampler(
            Corpus.load(corpus or None), parse_mix(mix), batch_share=batch_share, seed=seed
        )
        # Every input is its own deployment request (ES taskOperation: task.infer per input).
        total = math.fsum(
            service(token_count(text)) for _ in range(samples) for text in sampler.next().inputs
        )
    return TimeBase.of(timing).to_cluster(total / samples)


def capacity_per_allocation(
    timing: Timing, mix: str, batch_share: float, threads: int, model_id: str, corpus: str = "",
    *, workload: str = "inference", bulk_size: int = DEFAULT_BULK_SIZE,
) -> float:  # fmt: skip
    """The workload's units (requests, searches, bulks) per cluster second one allocation
    completes when never idle."""
    return 1.0 / mean_service_s(
        timing, mix, batch_share, threads, model_id, corpus, workload=workload,
        bulk_size=bulk_size,
    )  # fmt: skip


def chunks_per_bulk(corpus: str = "", bulk_size: int = DEFAULT_BULK_SIZE) -> float:
    """Expected chunks of a bulk of ``bulk_size`` documents drawn uniformly (with
    replacement, as the ingest users draw them)."""
    chunked = _chunk_tokens(corpus)
    return bulk_size * sum(len(doc) for doc in chunked) / len(chunked)


def _bulk_service(chunk_tokens: list[int], service: Callable[[int], float]) -> float:
    """One bulk: its chunks, sent ``MODEL_BATCH_SIZE`` per inference call, each inferred as
    its own deployment request (ES taskOperation: task.infer per input)."""
    return math.fsum(service(tokens) for tokens in chunk_tokens)


@cache
def _chunk_tokens(corpus: str) -> tuple[tuple[int, ...], ...]:
    """Per document of the corpus, the tokens of each of its chunks (default chunking)."""
    return tuple(
        tuple(token_count(doc.text[start:end]) for start, end in chunkers.chunk(doc.text, None))
        for doc in documents.load(corpus or None)
    )
