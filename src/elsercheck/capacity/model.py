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

import heapq
import math
import random
from collections.abc import Iterator
from functools import cache
from itertools import accumulate

from ..endpoints import ELSER_V2_PORTABLE
from ..load import documents
from ..load.corpus import Corpus, Sampler, parse_mix
from ..reference.mlnode.sparse_encoder import token_count
from ..reference.rules import chunkers
from ..timebase import TimeBase
from ..timing import Timing
from .point import WARMUP_SHARE
from .units import DEFAULT_BULK_SIZE

SAMPLES = 4000


def unit_jobs(
    timing: Timing, mix: str, batch_share: float, threads: int, model_id: str,
    corpus: str = "", seed: int = 0, *, workload: str = "inference",
    bulk_size: int = DEFAULT_BULK_SIZE,
) -> Iterator[list[float]]:  # fmt: skip
    """The workload's units drawn as its users draw them, each as the service times (in the
    timing's seconds) of the deployment requests it becomes: one per input of an inference
    (ES taskOperation: task.infer per input), one for a search's query, one per chunk of a
    bulk (its batches of ten sent at once, reference/indices/ingest.py)."""
    portable = model_id == ELSER_V2_PORTABLE

    def service(tokens: int) -> float:
        return timing.service_time_seconds(tokens, threads, portable)

    rng = random.Random(seed)
    if workload == "search":
        queries = [token_count(item.text) for item in Corpus.load(corpus or None).bucket("query")]
        while True:
            yield [service(rng.choice(queries))]
    elif workload == "ingest":
        chunked = _chunk_tokens(corpus)
        while True:
            yield [service(t) for doc in rng.choices(chunked, k=bulk_size) for t in doc]
    else:
        sampler = Sampler(
            Corpus.load(corpus or None), parse_mix(mix), batch_share=batch_share, seed=seed
        )
        while True:
            yield [service(token_count(text)) for text in sampler.next().inputs]


def mean_service_s(
    timing: Timing, mix: str, batch_share: float, threads: int, model_id: str,
    corpus: str = "", samples: int = SAMPLES, seed: int = 0, *, workload: str = "inference",
    bulk_size: int = DEFAULT_BULK_SIZE,
) -> float:  # fmt: skip
    """Mean service time of one of the workload's units (a request, a search, a bulk), in
    cluster seconds."""
    units = unit_jobs(timing, mix, batch_share, threads, model_id, corpus, seed,
                      workload=workload, bulk_size=bulk_size)  # fmt: skip
    total = math.fsum(math.fsum(next(units)) for _ in range(samples))
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


@cache
def _chunk_tokens(corpus: str) -> tuple[tuple[int, ...], ...]:
    """Per document of the corpus, the tokens of each of its chunks (default chunking)."""
    return tuple(
        tuple(token_count(doc.text[start:end]) for start, end in chunkers.chunk(doc.text, None))
        for doc in documents.load(corpus or None)
    )


# -- the knee: the rate a sweep measures ---------------------------------------------------------
KNEE_UNITS = 20_000  # units simulated per rate tried (in windows of one point each)
KNEE_STEPS = 12  # bisection steps: the knee to 1/4096 of the saturation rate


def knee_per_allocation(
    timing: Timing, mix: str, batch_share: float, threads: int, model_id: str,
    corpus: str = "", *, allocations: int, slo_p99_ms: float, window_s: float, repeats: int,
    workload: str = "inference", bulk_size: int = DEFAULT_BULK_SIZE, seed: int = 0,
) -> float:  # fmt: skip
    """The offered rate (units per cluster second, per allocation) at which the modelled
    deployment's p99 latency reaches ``slo_p99_ms``: what a sweep measures as its capacity.

    Below saturation (:func:`capacity_per_allocation`) a queue already forms: with the default
    mix's long batches the p99 doubles (the default objective) well before the allocations are
    always busy. The deployment is modelled as the server runs it: FIFO deployment requests on
    ``allocations`` servers, each unit's requests queued at its arrival, the unit done when its
    last one is; Poisson arrivals, each window a point's (``window_s`` cluster seconds from an
    empty queue, p99 of the arrivals after the warm-up share). A window's p99 is noisy (a few
    long batches make it), and the sweep keeps a rate only when all its ``repeats`` runs meet
    the objective: the knee is the rate it keeps with even odds, where a window meets the
    objective with probability 0.5 ** (1 / repeats) (bisection; the same random draws at every
    rate, so the p99 grows with the rate)."""

    saturation = allocations * capacity_per_allocation(
        timing, mix, batch_share, threads, model_id, corpus, workload=workload,
        bulk_size=bulk_size,
    )  # fmt: skip
    per_window = math.ceil(saturation * window_s * 1.2) + 20  # arrivals of the fastest window
    windows = max(8, KNEE_UNITS // per_window)
    units = unit_jobs(timing, mix, batch_share, threads, model_id, corpus, seed,
                      workload=workload, bulk_size=bulk_size)  # fmt: skip
    rng = random.Random(seed)
    clock = TimeBase.of(timing)
    drawn = [
        ([[clock.to_cluster(s) for s in next(units)] for _ in range(per_window)],
         list(accumulate(rng.expovariate(1.0) for _ in range(per_window))))
        for _ in range(windows)
    ]  # fmt: skip

    quantile = 0.5 ** (1 / max(repeats, 1))

    def p99_ms(rate: float) -> float:
        p99s = sorted(
            _window_p99_ms(jobs, [t / rate for t in gaps], allocations, window_s, WARMUP_SHARE)
            for jobs, gaps in drawn
        )
        return p99s[min(len(p99s) - 1, int(quantile * len(p99s)))]

    low, high = 0.0, saturation
    for _ in range(KNEE_STEPS):
        middle = (low + high) / 2
        if p99_ms(middle) <= slo_p99_ms:
            low = middle
        else:
            high = middle
    return low / allocations


def _window_p99_ms(
    jobs: list[list[float]], arrivals: list[float], servers: int, window_s: float, warmup: float
) -> float:
    """p99 latency (ms) of the units arriving in [warmup × window, window) of one window
    served FIFO by ``servers`` from an empty queue (a job starts on the earliest-free server)."""
    free = [0.0] * servers
    latencies = []
    for unit, arrived in zip(jobs, arrivals, strict=True):
        if arrived >= window_s:
            break
        done = arrived
        for service in unit:
            start = max(arrived, heapq.heappop(free))
            heapq.heappush(free, start + service)
            done = max(done, start + service)
        if arrived >= warmup * window_s:
            latencies.append(done - arrived)
    if not latencies:
        return 0.0
    latencies.sort()
    return latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)] * 1000
