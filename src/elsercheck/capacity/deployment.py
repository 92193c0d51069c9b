"""The endpoint under test: created with fixed allocations, probed, drained, deleted.

One endpoint per (allocations, threads) cell, named under the run prefix
(``elsercheck-<run-id>-cap-a<N>t<M>``), with ``num_allocations`` and no adaptive allocations so
that the sweep measures a fixed deployment. It is deleted when the cell ends, on failure and on a
stop signal too (:func:`cell_endpoint` is a context manager; ``Endpoints.cleanup`` deletes it).

The probe sends the workload's units one at a time and reads the deployment's own inference
time from the stats API (``average_inference_time_ms`` × ``inference_count``, ES
``AssignmentStats.NodeStats``): a model-free estimate of the saturation rate, allocations / the
model time one unit takes. Searches and bulks go to a probe index under the run prefix
(``<cell id>-probe``, a semantic_text field bound to the cell's endpoint, as a load run's index:
``load/workloads.py``), seeded for searches, deleted after the probe (and by the cell's cleanup
if the probe is cut short). A bulk's chunks are several deployment requests: the model time per
bulk is their sum.
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import orjson

from ..endpoints import (
    Endpoints,
    HttpxTransport,
    NotAllocated,
    elser_body,
    endpoint_prefix,
    stats_path,
    wait_fully_allocated,
)
from ..load import documents, workloads
from ..load.corpus import Corpus, Sampler, parse_mix
from ..load.deployment_stats import stats_row
from ..runs.stats import percentile
from ..target import Target
from ..timebase import TimeBase
from . import unloaded
from .units import DEFAULT_BULK_SIZE

PROBE_REQUESTS = 40  # one at a time
PROBE_BULKS = 12  # one at a time: a bulk is many chunks, some seconds of model time each
PROBE_MAX_S = 60.0  # wall seconds, whichever comes first
DRAIN_WAIT_S = 120.0  # wall seconds for the queue to empty between points


class CellError(Exception):
    """The endpoint of a cell could not be created, allocated or probed (one line)."""


@dataclass(frozen=True)
class Probe:
    """What the probe measured, in the target's wall clock."""

    requests: int
    mean_latency_ms: float
    p99_latency_ms: float
    mean_inference_ms: float | None  # the stats API's average_inference_time_ms
    # Inference: the mix's unloaded p99 from a fit of the probe's latencies to its requests'
    # inputs and tokens (unloaded.py); None for searches and bulks, or when the fit is poor.
    mix_p99_ms: float | None = None
    fit: unloaded.LatencyFit | None = None  # that fit (inference, when good enough)
    # Inference: each request's model time (the stats API's total inference time before and
    # after it, one request at a time) fitted to its inputs and tokens: the deployment's own
    # work, without the HTTP round trip's time or jitter.
    work_fit: unloaded.LatencyFit | None = None
    inputs: int = 0  # inference: the inputs (deployment requests) and tokens the probe sent
    tokens: int = 0
    latencies_ms: tuple[float, ...] = field(default=(), repr=False)  # in order
    model_ms: tuple[float | None, ...] = field(default=(), repr=False)  # per call, when read

    @property
    def unloaded_p99_ms(self) -> float:
        """The workload's unloaded p99 (wall ms): the mix's when fitted, else the sample's."""
        return self.mix_p99_ms if self.mix_p99_ms is not None else self.p99_latency_ms

    def work_ms(self) -> tuple[float, float] | None:
        """Inference: the deployment's time per input and per token (wall ms), or None.

        From the fit of each request's model time (``work_fit``) when the stats API gave it.
        Else from the latency fit: its slope on tokens is the per-token time, and the
        per-input time is what the stats API's mean model time per deployment request leaves
        of it: the fit's per-input figure also holds the HTTP round trip, which is no
        allocation's work (on the fast timing several times the per-input overhead), and
        would weigh a batch's inputs as if it were. The round trip's jitter also moves that
        slope; the model time has neither."""
        if self.work_fit is not None:
            return self.work_fit.per_input_ms, self.work_fit.per_token_ms
        if self.fit is None:
            return None
        if self.mean_inference_ms is None or self.inputs <= 0:
            return self.fit.per_input_ms, self.fit.per_token_ms
        per_token = self.fit.per_token_ms
        return max(0.0, self.mean_inference_ms - per_token * self.tokens / self.inputs), per_token

    def estimate_rps(self, allocations: int, clock: TimeBase) -> float:
        """The saturation rate it suggests, per cluster second: allocations / service time
        (of one unit of the workload: a request, a search, a bulk)."""
        service_ms = self.mean_inference_ms or self.mean_latency_ms
        return clock.cluster_rate(allocations * 1000.0 / service_ms)


def cell_id(run_id: str, allocations: int, threads: int) -> str:
    return f"{endpoint_prefix(run_id)}cap-a{allocations}t{threads}"


@contextlib.contextmanager
def cell_endpoint(
    target: Target, run_id: str, allocations: int, threads: int, model_id: str, wait_s: float
) -> Iterator[tuple[str, httpx.Client, float, Endpoints[httpx.Response]]]:
    """Create the cell's endpoint, wait for ``fully_allocated``; yields its id, a client,
    the wall seconds from the PUT to ``fully_allocated`` (a cold start: deployment and
    allocation start, and the model download the first time) and the tracker a probe index
    is created with. Deletes them on the way out, whatever happened."""
    inference_id = cell_id(run_id, allocations, threads)
    with target.client(timeout=max(120.0, wait_s), retry=True) as client:
        endpoints = Endpoints(HttpxTransport(client), endpoint_prefix(run_id))
        try:
            started = time.monotonic()
            body = elser_body(model_id=model_id, num_allocations=allocations, num_threads=threads)
            answer = endpoints.create(inference_id, body, timeout=max(120.0, wait_s))
            if answer.status_code not in (200, 408):
                raise CellError(
                    f"creating {inference_id}: HTTP {answer.status_code} {answer.text[:300]}"
                )
            try:
                wait_fully_allocated(endpoints.transport, inference_id, wait_s)
            except NotAllocated as exc:
                raise CellError(str(exc)) from None
            yield inference_id, client, time.monotonic() - started, endpoints
        finally:
            left = endpoints.cleanup()
            # Not over an exception on its way (a stop signal must stay one): the command's
            # run-prefix sweep tries again and reports what is left.
            if left and sys.exc_info()[0] is None:
                raise CellError(f"could not delete {', '.join(left)}")


def _stats(client: httpx.Client, inference_id: str) -> dict[str, Any] | None:
    """The deployment's stats row (summed over nodes); None when it cannot be read."""
    try:
        answer = client.get(stats_path(inference_id))
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    return stats_row(answer.json(), inference_id)


def pending(client: httpx.Client, inference_id: str) -> int | None:
    """The deployment's ``number_of_pending_requests`` (summed over nodes); None if unknown."""
    row = _stats(client, inference_id)
    return None if row is None else row.get("number_of_pending_requests")


def wait_drained(client: httpx.Client, inference_id: str, seconds: float = DRAIN_WAIT_S) -> bool:
    """Wait until nothing is pending (the previous point's queue served); False after
    ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pending(client, inference_id) == 0:
            return True
        time.sleep(0.2)
    return False


def probe(
    client: httpx.Client, inference_id: str, mix: str, batch_share: float, corpus: str, seed: int,
    *, workload: str = "inference", endpoints: Endpoints[httpx.Response] | None = None,
    bulk_size: int = DEFAULT_BULK_SIZE,
) -> Probe:  # fmt: skip
    """The workload's units one at a time: inference requests of the mix, semantic searches
    of the corpus' queries, or bulks of ``bulk_size`` documents (those two in a probe index
    tracked by ``endpoints``); raises :class:`CellError` when one is not answered 200 (or a
    bulk item fails)."""
    if workload == "inference":
        sampler = Sampler(
            Corpus.load(corpus or None), parse_mix(mix), batch_share=batch_share, seed=seed
        )
        carried: list[tuple[int, int]] = []  # each sent request's (inputs, tokens)

        def send() -> httpx.Response:
            sample = sampler.next()
            carried.append((len(sample.inputs), sample.tokens))
            body = {"input": sample.inputs[0] if len(sample.inputs) == 1 else sample.inputs}
            return client.post(f"/_inference/sparse_embedding/{inference_id}", json=body)

        timed = _timed(client, inference_id, send, PROBE_REQUESTS, by_count=True, per_call=True)
        work = [(n, t, ms) for (n, t), ms in zip(carried, timed.model_ms, strict=True)
                if ms is not None]  # fmt: skip
        measured = replace(
            timed, inputs=sum(n for n, _ in carried), tokens=sum(t for _, t in carried),
            work_fit=unloaded.fit(work) if len(work) == len(carried) else None,
        )  # fmt: skip
        latency = unloaded.fit(
            [(n, t, ms) for (n, t), ms in zip(carried, measured.latencies_ms, strict=True)]
        )
        if latency is None:
            return measured
        draws = unloaded.mix_draws(mix, batch_share, corpus)
        return replace(measured, mix_p99_ms=unloaded.mix_p99_ms(latency, draws), fit=latency)
    if endpoints is None:
        raise CellError(f"the {workload} probe needs an index tracker")
    index = f"{inference_id}-probe"
    answer = endpoints.create_index(index, workloads.index_body(inference_id))
    if answer.status_code != 200:
        raise CellError(f"creating index {index}: HTTP {answer.status_code} {answer.text[:300]}")
    try:
        return _probe_index(client, inference_id, index, workload, corpus, seed, bulk_size)
    finally:
        endpoints.remove_index(index)


def _probe_index(
    client: httpx.Client, inference_id: str, index: str, workload: str, corpus: str, seed: int,
    bulk_size: int,
) -> Probe:  # fmt: skip
    docs = documents.load(corpus or None)
    rng = random.Random(seed)
    if workload == "search":
        seeded = [docs[i % len(docs)] for i in range(workloads.SEED_DOCUMENTS)]
        _bulk(client, index, seeded, refresh=True)
        queries = Corpus.load(corpus or None).bucket("query")

        def search() -> httpx.Response:
            query = {
                "semantic": {"field": workloads.SEMANTIC_FIELD, "query": rng.choice(queries).text}
            }
            return client.post(f"/{index}/_search", json={"query": query})

        return _timed(client, inference_id, search, PROBE_REQUESTS)

    def bulk() -> httpx.Response:
        return _bulk(client, index, rng.choices(docs, k=bulk_size))

    return _timed(client, inference_id, bulk, PROBE_BULKS)


def _bulk(
    client: httpx.Client, index: str, docs: list[documents.Document], refresh: bool = False
) -> httpx.Response:
    """One ``_bulk`` of ``docs`` into the semantic_text field (as the ingest users send it);
    :class:`CellError` when an item failed."""
    body = b"".join(
        b'{"index":{}}\n' + orjson.dumps({workloads.SEMANTIC_FIELD: d.text, "doc": d.id}) + b"\n"
        for d in docs
    )
    answer = client.post(
        f"/{index}/_bulk", content=body, params={"refresh": "true"} if refresh else None,
        headers={"Content-Type": "application/x-ndjson"},
    )  # fmt: skip
    if answer.status_code == 200 and answer.json().get("errors"):
        raise CellError(f"probe bulk into {index}: item failures {answer.text[:300]}")
    return answer


def _timed(
    client: httpx.Client, inference_id: str, send: Callable[[], httpx.Response], count: int,
    by_count: bool = False, per_call: bool = False,
) -> Probe:  # fmt: skip
    """``count`` calls of ``send`` one at a time (within :data:`PROBE_MAX_S`) and the model
    time per call from the stats API's totals: per deployment request (``by_count``: a call is
    one) or per call (a search or bulk may be several); ``per_call``: also each call's own
    model time (the totals read after every call; None where they could not be)."""
    before = _inference(client, inference_id)
    latencies: list[float] = []
    model_ms: list[float | None] = []
    previous = before
    deadline = time.monotonic() + PROBE_MAX_S
    while len(latencies) < count and time.monotonic() < deadline:
        started = time.perf_counter()
        answer = send()
        latencies.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise CellError(
                f"probe of {inference_id}: HTTP {answer.status_code} {answer.text[:300]}"
            )
        if per_call:
            current = _inference(client, inference_id)
            model_ms.append(_model_time(previous, current))
            previous = current
    after = previous if per_call and previous is not None else _inference(client, inference_id)
    mean_inference = None
    total = _model_time(before, after)  # the probe's own model time
    if total is not None and before is not None and after is not None:
        mean_inference = total / ((after[0] - before[0]) if by_count else len(latencies))
    p99 = percentile(sorted(latencies), 99) or 0.0
    return Probe(len(latencies), sum(latencies) / len(latencies), p99, mean_inference,
                 latencies_ms=tuple(latencies), model_ms=tuple(model_ms))  # fmt: skip


def _model_time(before: tuple[int, float] | None, after: tuple[int, float] | None) -> float | None:
    """The model time between two readings of (count, mean ms): total after minus before."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    return after[0] * after[1] - before[0] * before[1]


def _inference(client: httpx.Client, inference_id: str) -> tuple[int, float] | None:
    """(inference_count, average_inference_time_ms) of the deployment, or None."""
    row = _stats(client, inference_id)
    if row is None:
        return None
    count = row.get("inference_count") or 0
    return count, row.get("average_inference_time_ms") or 0.0
