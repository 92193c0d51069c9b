"""The locust users: open-loop inference, ingest (_bulk into a semantic_text index) and
semantic search, and the endpoint lifecycle.

InferenceUser sends ``POST _inference/sparse_embedding/{id}`` at a fixed average rate whatever
the answers take (open loop): a closed loop of N users would only ever measure N busy
requests, and Elasticsearch's scaler — which counts arrivals, queued requests included — would
barely scale up. Arrivals are due on an absolute clock and go to ``--max-outstanding`` sender
greenlets per user (``arrivals.py``); an arrival that finds every sender busy is recorded as
``backlog`` instead of silently slowing the offered load, and every row carries its lateness
(``schedule_lag_ms``). IngestUser and SearchUser arrive the same way, through the same
InferenceUser methods (``--workload`` picks the classes).
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import requests
from locust import User, task
from locust.contrib.fasthttp import FastHttpUser

from elsercheck.endpoints import LostAnswer
from elsercheck.load.documents import Document
from elsercheck.load.workloads import LEXICAL_FIELD, SEMANTIC_FIELD, lexical, search_body

from .arrivals import OpenLoop
from .connection import auth_headers, ssl_context_factory
from .endpoints import Endpoints

_ids = itertools.count()
SAMPLES_DRAWN = 256  # an inference user's distinct samples (then cycled, see next_sample)
JSON_HEADERS = {"Content-Type": "application/json"}
NDJSON_HEADERS = {"Content-Type": "application/x-ndjson"}


class Backlog(Exception):
    """An arrival not sent because the user's in-flight cap was reached."""


def _session(environment: Any):  # the shared LoadSession of this process
    return environment.elsercheck


class InferenceUser(FastHttpUser):
    """Sparse-embedding inference with corpus inputs, open loop (see module docstring)."""

    network_timeout = 90.0  # above Elasticsearch's 30 s default inference timeout
    connection_timeout = 10.0
    request_type = "POST"  # requests.csv's request_type (rundir.REQUEST_COLUMNS)

    def __init__(self, environment: Any) -> None:
        settings = _session(environment).settings
        self.insecure = settings.insecure
        self.ssl_context_factory = ssl_context_factory(settings.insecure)
        self.concurrency = settings.max_outstanding
        self.default_headers = auth_headers()
        super().__init__(environment)
        number = next(_ids)
        self.settings = settings
        self.sampler = _session(environment).sampler(seed=settings.seed * 1_000_003 + number)
        self.drawn: list[Any] = []  # next_sample's cycle
        self.drawn_at = -1
        self.arrivals = random.Random(settings.seed * 7_919 + number)
        self.max_outstanding = settings.max_outstanding
        self.path = f"/_inference/sparse_embedding/{settings.inference_id}"
        self.open_loop: OpenLoop | None = None  # from on_start: its senders are greenlets

    @property
    def rate(self) -> float:
        """This user's arrivals per wall-clock second."""
        return self.settings.rate_per_user

    def on_start(self) -> None:
        self.open_loop = OpenLoop(self._gap, self.max_outstanding, self._send, self._backlog)

    def _gap(self) -> float:
        """Seconds from one due arrival to the next (the seeded sequence)."""
        rate = self.rate
        return self.arrivals.expovariate(rate) if self.settings.poisson else 1.0 / rate

    def wait_time(self) -> float:
        # Until the next arrival is due (0 when late): the schedule is absolute, so the time
        # the task took does not push later arrivals back.
        return self.open_loop.wait_s() if self.open_loop is not None else 0.0

    def next_sample(self) -> Any:
        # The first SAMPLES_DRAWN are drawn (seeded), then cycled: a draw was a twentieth of
        # the generator's CPU per request at the rates a capacity sweep needs, and inputs
        # repeating after a few hundred requests change nothing for ELSER (nothing is cached).
        drawn = self.drawn
        if len(drawn) < SAMPLES_DRAWN:
            drawn.append(self.sampler.next())
            return drawn[-1]
        self.drawn_at = (self.drawn_at + 1) % SAMPLES_DRAWN
        return drawn[self.drawn_at]

    @task
    def arrive(self) -> None:
        # One task that makes arrival after arrival: locust's task scheduling per arrival (a
        # task picked, queued and run for every request) was a tenth of the generator's CPU.
        # self.wait() sleeps until the next is due and ends the user when it is stopped.
        while self.open_loop is not None:
            self.open_loop.arrive(self.next_sample())
            self.wait()

    def _backlog(self, sample: Any, lag_ms: float) -> None:
        self.environment.events.request.fire(
            request_type=self.request_type,
            name=sample.name,
            response_time=0.0,
            response_length=0,
            response=None,
            exception=Backlog("backlog: max outstanding requests reached"),
            context={**self._context(sample), "schedule_lag_ms": lag_ms},
            start_time=time.time(),
        )

    def _send(self, sample: Any, lag_ms: float) -> None:
        self._post(sample, {**self._context(sample), "schedule_lag_ms": lag_ms})

    def _context(self, sample: Any) -> dict[str, Any]:
        return {"bucket": sample.bucket, "inputs": len(sample.inputs), "tokens": sample.tokens}

    def _post(self, sample: Any, context: dict[str, Any]) -> None:
        body = {"input": sample.inputs[0] if len(sample.inputs) == 1 else sample.inputs}
        # orjson: the generator's own JSON work is a large share of its CPU per request.
        with self.client.post(
            self.path,
            data=orjson.dumps(body),  # type: ignore[arg-type]  # bytes are sent as they are
            headers=JSON_HEADERS,
            name=sample.name,
            catch_response=True,
            context=context,
        ) as response:
            if response.status_code == 200:
                _check_result(response, len(sample.inputs))
            elif response.status_code:
                _failed(response)

    def on_stop(self) -> None:
        # Let requests in flight finish so every arrival is recorded; arrivals that fell due
        # but were never made (the user was behind) are counted for run.json's "generator".
        # Counted first, without yielding: a stop signal's run writes its files while users
        # are still draining.
        if self.open_loop is not None:
            unmade = self.open_loop.unmade(1.0 / self.rate)
            _session(self.environment).recorder.count_unmade(unmade)
            self.open_loop.senders.drain(self.network_timeout)
            self.open_loop = None


@dataclass(frozen=True)
class Bulk:
    """The documents of one _bulk request."""

    documents: tuple[Document, ...]
    name: str = "bulk"

    @property
    def chunks(self) -> int:
        return sum(d.chunks for d in self.documents)

    @property
    def tokens(self) -> int:
        return round(sum(d.tokens for d in self.documents))


class IngestUser(InferenceUser):
    """``POST /<run index>/_bulk`` of ``--bulk-size`` corpus documents into the semantic_text
    field, open loop. Recorded per bulk: documents, their chunks (precomputed in the corpus:
    the bulk answer does not tell), documents acknowledged and item failures by kind."""

    request_type = "BULK"

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        session = _session(environment)
        self.documents = session.documents
        self.bulk_size = self.settings.bulk_size
        self.path = f"/{self.settings.index_name}/_bulk"
        self.picker = random.Random(self.settings.seed * 104_729 + next(_ids))

    @property
    def rate(self) -> float:
        return self.settings.bulk_rate_per_user  # --bulk-rate-per-user or work-equivalent

    def next_sample(self) -> Bulk:
        return Bulk(tuple(self.picker.choices(self.documents, k=self.bulk_size)))

    def _context(self, sample: Bulk) -> dict[str, Any]:
        return {"documents": len(sample.documents), "chunks": sample.chunks,
                "tokens": sample.tokens}  # fmt: skip

    def _post(self, sample: Bulk, context: dict[str, Any]) -> None:
        with self.client.post(
            self.path,
            data=bulk_body(sample.documents, lexical(self.settings.search_query)),  # type: ignore[arg-type]
            headers=NDJSON_HEADERS,
            name=sample.name,
            catch_response=True,
            context=context,
        ) as response:
            response.request_meta["request_type"] = self.request_type
            if response.status_code != 200:
                if response.status_code:
                    _failed(response)
                return
            acknowledged, failures = bulk_outcome(response.content, len(sample.documents))
            context = response.request_meta["context"]
            context["acknowledged"] = acknowledged
            context["item_failures"] = ";".join(f"{k}:{n}" for k, n in sorted(failures.items()))
            if acknowledged is None:
                response.failure(f"HTTP 200 without {len(sample.documents)} bulk items")
            else:
                response.success()  # item failures are counted, not a failed request


class SearchUser(InferenceUser):
    """``POST /<run index>/_search`` of a corpus query text, in the ``--search-query`` shape
    (``workloads.search_body``: semantic, bool hybrid, or rrf hybrid)."""

    request_type = "SEARCH"

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.queries = _session(environment).corpus.bucket("query")
        self.path = f"/{self.settings.index_name}/_search"
        self.picker = random.Random(self.settings.seed * 130_363 + next(_ids))

    def next_sample(self) -> Any:
        return self.picker.choice(self.queries)

    def _context(self, sample: Any) -> dict[str, Any]:
        return {"bucket": "query", "inputs": 1, "tokens": sample.tokens}

    def _post(self, sample: Any, context: dict[str, Any]) -> None:
        body = search_body(self.settings.search_query, sample.text)
        with self.client.post(
            self.path,
            data=orjson.dumps(body),  # type: ignore[arg-type]
            headers=JSON_HEADERS,
            name=self.settings.search_query,
            catch_response=True,
            context=context,
        ) as response:
            response.request_meta["request_type"] = self.request_type
            if response.status_code == 200:
                try:
                    hits = orjson.loads(response.content)["hits"]["hits"]
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    hits = None
                if isinstance(hits, list):
                    response.success()
                else:
                    response.failure("HTTP 200 without hits")
            elif response.status_code:
                _failed(response)


def bulk_body(documents: Iterable[Document], lexical: bool = False) -> bytes:
    """NDJSON: an ``index`` action (id chosen by Elasticsearch) and the source, per document;
    with ``lexical`` the text also in the hybrid queries' ``text`` field."""
    action = b'{"index":{}}\n'
    return b"".join(
        action
        + orjson.dumps(
            {SEMANTIC_FIELD: d.text, LEXICAL_FIELD: d.text, "doc": d.id}
            if lexical
            else {SEMANTIC_FIELD: d.text, "doc": d.id}
        )
        + b"\n"
        for d in documents
    )


def bulk_outcome(content: bytes, sent: int) -> tuple[int | None, dict[str, int]]:
    """Documents acknowledged (201/200 items) and item failures by kind, ``error.type`` or
    ``error.type/caused_by.type`` (``inference_exception/status_exception`` while the
    deployment is at zero); acknowledged None when the answer is not a bulk answer."""
    try:
        items = orjson.loads(content).get("items")
    except (orjson.JSONDecodeError, AttributeError):
        return None, {}
    if not isinstance(items, list) or len(items) != sent:
        return None, {}
    acknowledged = 0
    failures: dict[str, int] = {}
    for item in items:
        result: Any = next(iter(item.values()), {}) if isinstance(item, dict) and item else {}
        error = result.get("error") if isinstance(result, dict) else None
        if error is None and isinstance(result, dict) and result.get("status") in (200, 201):
            acknowledged += 1
            continue
        kind = error.get("type", "unknown") if isinstance(error, dict) else "unknown"
        cause = error.get("caused_by") if isinstance(error, dict) else None
        if isinstance(cause, dict) and cause.get("type"):
            kind = f"{kind}/{cause['type']}"
        failures[kind] = failures.get(kind, 0) + 1
    return acknowledged, failures


def _check_result(response: Any, inputs: int) -> None:
    try:
        results = orjson.loads(response.content).get("sparse_embedding")
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        results = None
    if not isinstance(results, list) or len(results) != inputs:
        response.failure(f"HTTP 200 without {inputs} sparse_embedding result(s)")
    else:
        response.success()


def _failed(response: Any) -> None:
    """An answer other than 200: failed with its status and error type; a 429's
    ``Retry-After`` recorded as sent (EIS's limits name the wait; requests.csv ``retry_after``)."""
    if response.status_code == 429:
        response.request_meta["context"]["retry_after"] = response.headers.get("Retry-After", "")
    response.failure(f"HTTP {response.status_code} {_error_type(response)}")


def _error_type(response: Any) -> str:
    try:
        error = response.json().get("error")
        return error.get("type", "") if isinstance(error, dict) else ""
    except (ValueError, AttributeError):
        return ""


# Valid ELSER endpoint settings the lifecycle user cycles through
# (ES ElasticsearchInternalServiceSettings, ChunkingSettingsBuilder).
LIFECYCLE_VARIANTS: list[dict[str, Any]] = [
    {"service": "elasticsearch", "service_settings": {"num_allocations": 1, "num_threads": 1}},
    {"service": "elasticsearch", "service_settings": {"num_allocations": 1, "num_threads": 2}},
    {"service": "elasticsearch", "service_settings": {"num_allocations": 2, "num_threads": 1}},
    {"service": "elser", "service_settings": {"num_allocations": 1, "num_threads": 1}},
    {
        "service": "elasticsearch",
        "service_settings": {
            "num_threads": 1,
            "adaptive_allocations": {
                "enabled": True,
                "min_number_of_allocations": 1,
                "max_number_of_allocations": 2,
            },
        },
    },
    {
        "service": "elasticsearch",
        "service_settings": {"num_allocations": 1, "num_threads": 1},
        "chunking_settings": {"strategy": "word", "max_chunk_size": 100, "overlap": 50},
    },
    {
        "service": "elasticsearch",
        "service_settings": {"num_allocations": 1, "num_threads": 1},
        "chunking_settings": {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1},
    },
]


class EndpointLifecycleUser(User):
    """Create an ELSER endpoint, time it to ``fully_allocated``, infer once, delete it.

    At most ``--lifecycle-max-alive`` endpoints live at once per locust process; every id carries
    the run prefix and is deleted even when a step fails.
    """

    fixed_count = 0  # set from --lifecycle-users at init

    def wait_time(self) -> float:
        return 0.5

    def on_start(self) -> None:
        session = _session(self.environment)
        self.settings = session.settings
        self.endpoints: Endpoints = session.lifecycle_endpoints
        self.slots = session.lifecycle_slots
        self.rng = random.Random(self.settings.seed * 31 + next(_ids))

    @task
    def lifecycle(self) -> None:
        if not self.slots.acquire(timeout=1):
            return
        inference_id = f"{self.settings.prefix}lc-{next(_ids)}"
        try:
            self._run(inference_id, self.rng.choice(LIFECYCLE_VARIANTS))
        finally:
            if inference_id in self.endpoints.created:
                self._timed("delete", lambda: self.endpoints.remove(inference_id))
            self.slots.release()

    def _run(self, inference_id: str, variant: dict[str, Any]) -> None:
        body = {
            **variant,
            "service_settings": {"model_id": self.settings.model_id, **variant["service_settings"]},
        }
        wait = self.settings.allocation_wait
        started = time.time()  # PUT waits for the deployment: time to allocated counts from here
        response = self._timed(
            "create", lambda: self.endpoints.create_waiting(inference_id, body, wait)
        )
        if response is None or response.status_code != 200:
            return
        stats = self.endpoints.wait_allocated(inference_id, wait)
        self._fire(
            "time_to_fully_allocated",
            started,
            None if stats else TimeoutError(f"not fully_allocated within {wait:g} s"),
        )
        if stats:
            url = self.endpoints.url(f"/_inference/sparse_embedding/{inference_id}")
            self._timed(
                "infer once",
                lambda: self.endpoints.session.post(url, json={"input": "hello"}, timeout=60),
            )

    def _timed(self, name: str, call: Any) -> Any:
        started = time.time()
        try:
            result = call()
        except (requests.RequestException, LostAnswer) as exc:
            self._fire(name, started, exc)
            return None
        # A response, or Endpoints.remove's True/False.
        status = result.status_code if isinstance(result, requests.Response) else 200 * bool(result)
        error = None if status == 200 else RuntimeError(f"HTTP {status}" if status else "failed")
        self._fire(name, started, error, status=status)
        return result

    def _fire(
        self, name: str, started: float, error: Exception | None, status: int | None = None
    ) -> None:
        context = {} if status is None else {"status": status}
        self.environment.events.request.fire(
            request_type="LIFECYCLE",
            name=name,
            response_time=(time.time() - started) * 1000,
            response_length=0,
            response=None,
            exception=error,
            context=context,
            start_time=started,
        )
