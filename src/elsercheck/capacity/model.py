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
import statistics
import threading
from collections.abc import Iterator
from functools import cache, lru_cache

from ..endpoints import ELSER_V2_PORTABLE
from ..load import documents
from ..load.corpus import Corpus, Sampler, expected_per_request, parse_mix
from ..reference.mlnode.sparse_encoder import token_count
from ..reference.rules import chunkers
from ..runs.stats import percentile
from ..timebase import TimeBase
from ..timing import Timing
from .point import WARMUP_SHARE
from .units import DEFAULT_BULK_SIZE


def unit_texts(
    mix: str, batch_share: float, corpus: str = "", seed: int = 0, *,
    workload: str = "inference", bulk_size: int = DEFAULT_BULK_SIZE,
) -> Iterator[list[str]]:  # fmt: skip
    """The workload's units drawn as its users draw them, each as the texts of the deployment
    requests it becomes: one per input of an inference (ES taskOperation: task.infer per
    input), one for a search's query, one per chunk of a bulk (its batches of ten sent at once,
    reference/indices/ingest.py)."""
    rng = random.Random(seed)
    if workload == "search":
        queries = [item.text for item in Corpus.load(corpus or None).bucket("query")]
        while True:
            yield [rng.choice(queries)]
    elif workload == "ingest":
        chunked = _chunk_texts(corpus)
        while True:
            yield [text for doc in rng.choices(chunked, k=bulk_size) for text in doc]
    else:
        sampler = Sampler(
            Corpus.load(corpus or None), parse_mix(mix), batch_share=batch_share, seed=seed
        )
        while True:
            yield list(sampler.next().inputs)


def unit_jobs(
    timing: Timing, mix: str, batch_share: float, threads: int, model_id: str,
    corpus: str = "", seed: int = 0, *, workload: str = "inference",
    bulk_size: int = DEFAULT_BULK_SIZE,
) -> Iterator[list[float]]:  # fmt: skip
    """:func:`unit_texts` as the service times (in the timing's seconds) of their deployment
    requests, from the first unit on every call (drawn once per process: see _UnitStream)."""
    return _unit_stream(
        timing, mix, batch_share, threads, model_id, corpus, seed, workload, bulk_size
    ).reader()


class _UnitStream:
    """A unit sequence drawn once and read from its start by each reader: the same units as a
    fresh draw, without drawing them again (a knee reads some hundred thousand units, at about
    35 µs each, and a capacity run asks for the knee of every cell)."""

    def __init__(self, source: Iterator[list[float]]) -> None:
        self._source = source
        self._drawn: list[list[float]] = []
        self._lock = threading.Lock()

    def reader(self) -> Iterator[list[float]]:
        index = 0
        while True:
            if index == len(self._drawn):
                with self._lock:  # a generator runs in one thread at a time
                    while index >= len(self._drawn):
                        self._drawn.append(next(self._source))
            yield self._drawn[index]
            index += 1


@lru_cache(maxsize=4)  # a few workloads or thread counts at once; each some 10 MB
def _unit_stream(
    timing: Timing, mix: str, batch_share: float, threads: int, model_id: str, corpus: str,
    seed: int, workload: str, bulk_size: int,
) -> _UnitStream:  # fmt: skip
    portable = model_id == ELSER_V2_PORTABLE
    texts = unit_texts(mix, batch_share, corpus, seed, workload=workload, bulk_size=bulk_size)
    return _UnitStream(
        [timing.service_time_seconds(token_count(t), threads, portable) for t in unit]
        for unit in texts
    )


def mean_service_s(
    timing: Timing, mix: str, batch_share: float, threads: int, model_id: str,
    corpus: str = "", *, workload: str = "inference", bulk_size: int = DEFAULT_BULK_SIZE,
) -> float:  # fmt: skip
    """Mean service time of one of the workload's units (a request, a search, a bulk), in
    cluster seconds: the expectation over what :func:`unit_texts` draws, computed exactly.

    Not a sample's mean: the default mix's 1 % of batches of long passages carry much of its
    work (a unit's service time varies by 2.4 times its mean), so 4,000 draws put the mean
    4.5 % off (one allocation's capacity 5.98 instead of 6.27 requests/s on the fast timing)
    and a measurement within 10 % could not be told from one outside. A request of the mix:
    ``corpus.expected_per_request``; a search is one query of the query bucket; a bulk,
    ``bulk_size`` documents drawn with replacement, every chunk one request."""
    portable = model_id == ELSER_V2_PORTABLE

    def service(text: str) -> float:
        return timing.service_time_seconds(token_count(text), threads, portable)

    if workload == "search":
        mean = statistics.fmean(
            service(q.text) for q in Corpus.load(corpus or None).bucket("query")
        )
    elif workload == "ingest":
        per_doc = [math.fsum(service(text) for text in doc) for doc in _chunk_texts(corpus)]
        mean = bulk_size * statistics.fmean(per_doc)
    else:
        mean = expected_per_request(
            Corpus.load(corpus or None), parse_mix(mix), batch_share,
            lambda item: service(item.text),
        )  # fmt: skip
    return TimeBase.of(timing).to_cluster(mean)


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
    chunked = _chunk_texts(corpus)
    return bulk_size * sum(len(doc) for doc in chunked) / len(chunked)


@cache
def _chunk_texts(corpus: str) -> tuple[tuple[str, ...], ...]:
    """Per document of the corpus, the text of each of its chunks (default chunking)."""
    return tuple(
        tuple(doc.text[start:end] for start, end in chunkers.chunk(doc.text, None))
        for doc in documents.load(corpus or None)
    )


# -- the knee: the rate a sweep measures ---------------------------------------------------------
KNEE_UNITS = 100_000  # units simulated per rate tried (in windows of one point each) ...
KNEE_WINDOWS = (8, 400)  # ... in at least / at most this many windows
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
    empty queue, p99 of the arrivals after the warm-up share, estimated as the point does). A
    window's p99 is noisy (a few long batches make it), and the sweep keeps a rate only when
    all its ``repeats`` runs meet the objective: the knee is the rate it keeps with even odds,
    where a window meets the objective with probability 0.5 ** (1 / repeats) (bisection; the
    same random draws at every rate, so the p99 grows with the rate).

    That quantile of the window p99s needs many windows where a window holds few units (one
    allocation: some hundred requests, a few bulks): a first pass on few windows finds the knee
    roughly, the second draws as many windows as :data:`KNEE_UNITS` units at that rate fill."""
    saturation = allocations * capacity_per_allocation(
        timing, mix, batch_share, threads, model_id, corpus, workload=workload,
        bulk_size=bulk_size,
    )  # fmt: skip
    units = unit_jobs(timing, mix, batch_share, threads, model_id, corpus, seed,
                      workload=workload, bulk_size=bulk_size)  # fmt: skip
    windows = _Windows(units, random.Random(seed), TimeBase.of(timing), window_s)
    quantile = 0.5 ** (1 / max(repeats, 1))
    least, most = KNEE_WINDOWS

    def knee(count: int) -> float:
        # The quantile of the window p99s meets the objective when at least ``needed`` of the
        # windows do: counted window by window, the answer is known before the last one mostly.
        needed = min(count - 1, int(quantile * count)) + 1

        def meets(rate: float) -> bool:
            # Every window is drawn first, in order, as far as the rate needs: the draws stay
            # the same whichever windows the count below leaves unsimulated.
            for index in range(count):
                windows.extend(index, rate)
            met = 0
            for index in range(count):
                met += windows.p99_ms(index, rate, allocations) <= slo_p99_ms
                if met >= needed:
                    return True
                if met + (count - 1 - index) < needed:
                    return False
            return False

        low, high = 0.0, saturation
        for _ in range(KNEE_STEPS):
            middle = (low + high) / 2
            if meets(middle):
                low = middle
            else:
                high = middle
        return low

    def windows_of(rate: float) -> int:
        return min(most, max(least, KNEE_UNITS // (math.ceil(rate * window_s) + 1)))

    rough = knee(windows_of(saturation))
    return knee(windows_of(max(rough, saturation / 100))) / allocations


class _Windows:
    """The knee's windows, each drawn once and extended as a faster rate needs more of it:
    units (service times, cluster s) and their arrival times at rate 1 (Poisson: a window at
    rate r is the same draws with every time divided by r)."""

    def __init__(
        self, units: Iterator[list[float]], rng: random.Random, clock: TimeBase, window_s: float
    ) -> None:
        self._units, self._rng, self._clock, self._window_s = units, rng, clock, window_s
        self._drawn: list[tuple[list[list[float]], list[float]]] = []

    def extend(self, index: int, rate: float) -> None:
        """Draw window ``index`` as far as ``rate`` units per cluster second fill it."""
        while len(self._drawn) <= index:
            self._drawn.append(([], []))
        jobs, times = self._drawn[index]
        while not times or times[-1] / rate < self._window_s:
            jobs.append([self._clock.to_cluster(s) for s in next(self._units)])
            times.append((times[-1] if times else 0.0) + self._rng.expovariate(1.0))

    def p99_ms(self, index: int, rate: float, servers: int) -> float:
        """The p99 (ms) of window ``index`` at ``rate`` units per cluster second."""
        self.extend(index, rate)
        jobs, times = self._drawn[index]
        return _window_p99_ms(jobs, times, servers, self._window_s, WARMUP_SHARE, rate)


def _window_p99_ms(
    jobs: list[list[float]], arrivals: list[float], servers: int, window_s: float, warmup: float,
    rate: float = 1.0,
) -> float:  # fmt: skip
    """p99 latency (ms) of the units arriving in [warmup × window, window) of one window
    served FIFO by ``servers`` from an empty queue (a job starts on the earliest-free server);
    ``arrivals`` are divided by ``rate``."""
    latencies = []
    warm_s = warmup * window_s
    if servers == 1:
        # One server: each job starts when the one before it ends (the same sums, no heap).
        free = 0.0
        for unit, at in zip(jobs, arrivals, strict=True):
            arrived = at / rate
            if arrived >= window_s:
                break
            done = arrived
            if unit:
                done = max(arrived, free)
                for service in unit:
                    done += service
                free = done
            if arrived >= warm_s:
                latencies.append(done - arrived)
    else:
        heap = [0.0] * servers
        for unit, at in zip(jobs, arrivals, strict=True):
            arrived = at / rate
            if arrived >= window_s:
                break
            done = arrived
            for service in unit:
                # The earliest-free server (the heap's first) takes the job.
                end = max(arrived, heap[0]) + service
                heapq.heapreplace(heap, end)
                if end > done:
                    done = end
            if arrived >= warm_s:
                latencies.append(done - arrived)
    # The point's own estimator (capacity/point.py: runs.stats.latency_stats, interpolated
    # between order statistics), not another: a window of 200 latencies has its p99 between
    # the 2nd and 3rd largest, and the choice moves the knee by some per cent.
    return (percentile(sorted(latencies), 99.0) or 0.0) * 1000
