"""The files of one load run: names, columns and readers/writers, in one place.

A load run writes everything under ``reports/load/<run-id>/``. The load harness (locust side)
writes these files; the report builder and the ``elsercheck load`` summary read them. Nothing
here imports locust, so tests and the report builder can use it freely.

Files (all optional for a reader: an interrupted run may lack some):

``run.json``            metadata (:data:`RUN_FIELDS`)
``requests.csv``        one row per request, exact latencies (:data:`REQUEST_COLUMNS`)
``allocations.csv``     one row per poll of ``GET _ml/trained_models/{id}/_stats``
                        (:data:`ALLOCATION_COLUMNS`, named after the stats fields)
``expectations.json``   the scaling expectations checked at the end (:class:`Expectation`)
``load-summary.json``   headline numbers (see ``summary.py``)
``locust_*.csv``, ``locust.html``  locust's own output, untouched
``leftovers.txt``       endpoints the run created and could not delete (absent when none)
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

# requests.csv's ``name`` of an inference request: its input-length bucket (``batch-<bucket>``
# for a batch). Length buckets on estimated tokens, inclusive bounds, in order; ``None``: no
# upper bound. "xlong" is past ELSER's window, so the server truncates it (and reports
# is_truncated). load/corpus.py sorts inputs into them; the summary orders by them.
BUCKETS: Mapping[str, tuple[int, int | None]] = MappingProxyType(
    {
        "query": (0, 16),
        "short": (17, 64),
        "medium": (65, 256),
        "long": (257, 512),
        "xlong": (513, None),
    }
)

RUN_JSON = "run.json"
REQUESTS_CSV = "requests.csv"
ALLOCATIONS_CSV = "allocations.csv"
EXPECTATIONS_JSON = "expectations.json"
SUMMARY_JSON = "load-summary.json"
LEFTOVERS_TXT = "leftovers.txt"
LOCUST_CSV_PREFIX = "locust"  # locust --csv <dir>/locust → locust_stats.csv, ...
LOCUST_HTML = "locust.html"
MASTER_PORT_TXT = "master-port.txt"  # the port a locust master bound (port 0: the OS chose)

# run.json keys:
#   run_id, started_at / finished_at (ISO 8601 UTC), target (URL without credentials),
#   target_version (from GET /, or null), shape (name), stages (list of Stage dicts),
#   timing (ScalerTiming dict), endpoint {inference_id, created (bool), settings},
#   options {peak_users, rate_per_user, batch_share, ...}, workers (int),
#   machine {platform, python, cpus}, tools {elsercheck, locust}, exit_code,
#   generator: whether the load generator kept its schedule (load/generator.py summarize():
#   arrivals, sent, backlog, unmade, late, late_threshold_ms, lag_ms {p50, p99, max},
#   behind [[from_s, to_s], ...]); absent in runs before it existed
#   simulator: whether the embedded server kept its simulated time (load/simulator.py
#   summarize(): stalls, behind_s, span_s, share, max_lag_ms, kept_up); null on a cluster,
#   absent in runs before it existed
RUN_FIELDS = (
    "run_id",
    "started_at",
    "finished_at",
    "target",
    "target_version",
    "shape",
    "stages",
    "timing",
    "endpoint",
    "options",
    "workers",
    "machine",
    "tools",
    "exit_code",
)

# requests.csv: one row per request. ``timestamp`` is the Unix time the request was sent;
# ``elapsed_s`` is seconds since the run started; ``latency_ms`` is exact (not locust's
# two-significant-digit rounding). ``status`` is 0 when no HTTP answer arrived.
# ``error_kind`` is empty on success, else one of ERROR_KINDS.
# request_type: ``POST`` inference, ``BULK`` an ingest _bulk, ``SEARCH`` a semantic search,
# ``LIFECYCLE`` the lifecycle user's steps. The last four columns (added with the ingest
# workload; older files lack them) are for BULK rows only: ``documents`` sent, their
# ``chunks`` (precomputed per corpus document with the default chunking: the bulk answer
# does not say), ``acknowledged`` documents (items 200/201; empty when no bulk answer came)
# and ``item_failures``: ``kind:count`` pairs joined by ``;``, the kind being the item's
# ``error.type`` or ``error.type/caused_by.type`` (e.g. ``inference_exception/status_exception``).
# ``schedule_lag_ms`` (load arrivals only; older files lack it): how late the generator made
# the arrival: the time it was sent (for ``backlog``: found no free sender) minus the time its
# open-loop schedule said; ``load/generator.py`` sums it up in run.json "generator".
# ``retry_after`` (older files lack it): the ``Retry-After`` header of a 429 answer, as sent.
REQUEST_COLUMNS = (
    "timestamp",
    "elapsed_s",
    "request_type",
    "name",
    "bucket",
    "inputs",
    "tokens",
    "status",
    "latency_ms",
    "error_kind",
    "documents",
    "chunks",
    "acknowledged",
    "item_failures",
    "schedule_lag_ms",
    "retry_after",
)

# allocations.csv: deployment-level fields from the stats API, node-level fields summed
# over nodes (average_inference_time_ms: inference-count-weighted mean), plus what the load
# generator was doing at that moment (user_count, offered_rate in requests/s).
ALLOCATION_COLUMNS = (
    "timestamp",
    "elapsed_s",
    "deployment_id",
    "state",
    "allocation_state",
    "allocation_count",
    "target_allocation_count",
    "number_of_allocations",
    "number_of_pending_requests",
    "average_inference_time_ms",
    "inference_count",
    "error_count",
    "rejected_execution_count",
    "timeout_count",
    "user_count",
    "offered_rate",
    "poll_error",
    # The embedded reference server's own lag, cumulative (empty for a real cluster):
    # GET /_elsercheck/lag, elsercheck.reference.loop_lag.
    "server_lag_samples",
    "server_lag_stalls",
    "server_lag_behind_s",
    "server_lag_max_ms",
)
SERVER_LAG_FIELDS = ("samples", "stalls", "behind_s", "max_ms")

# How a failed request is classified, and what each kind means on Elasticsearch.
ERROR_KINDS: dict[str, str] = {
    "409": "conflict: deployment scaling from zero (retry later) or stopping",
    "429": "rejected: inference queue full / too many requests waiting for an allocation",
    "408": "timed out waiting for the inference result or for the deployment to start",
    "5xx": "server or proxy error",
    "4xx": "other client error (bad request, auth, not found)",
    "connection": "no HTTP answer: refused, reset or dropped connection",
    "timeout": "no HTTP answer within the client's network timeout",
    "backlog": "not sent: the user's outstanding-request cap was reached (open-loop overflow)",
}
# Answers Elasticsearch documents for a loaded or scaling deployment: expected under load.
DOCUMENTED_LOAD_ERRORS = frozenset({"409", "429", "408"})


def error_kind(status: int, exception: BaseException | str | None = None) -> str:
    """The ERROR_KINDS key for one request outcome; ``""`` for success."""
    if status and 200 <= status < 400 and exception is None:
        return ""
    if status in (408, 409, 429):
        return str(status)
    if 500 <= status < 600:
        return "5xx"
    if 400 <= status < 500:
        return "4xx"
    text = str(exception or "").lower()
    name = type(exception).__name__.lower() if isinstance(exception, BaseException) else ""
    if "backlog" in text:
        return "backlog"
    if "timeout" in name or "timed out" in text or "timeout" in text:
        return "timeout"
    return "connection"


@dataclass(frozen=True)
class Expectation:
    """One scaling expectation checked at the end of a run.

    ``passed`` is ``None`` when the check did not apply (reported as skipped, with why).
    ``observed`` holds the timings it measured, in seconds from the run start.
    """

    name: str
    description: str
    passed: bool | None
    detail: str
    observed: dict[str, Any] = field(default_factory=dict)
    # No verdict: the load machine (generator or embedded server) fell behind. ``passed`` is
    # then None too, so nothing that reads only ``passed`` takes it for a pass or a failure.
    inconclusive: bool = False

    @property
    def status(self) -> str:
        if self.inconclusive:
            return "inconclusive"
        return {True: "pass", False: "FAIL", None: "skipped"}[self.passed]


def write_csv(path: Path, columns: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> int:
    """Write ``rows`` (dicts; missing keys → empty) with a header; returns the row count."""
    columns = tuple(columns)
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _cell(row.get(key)) for key in columns})
            count += 1
    return count


def append_csv(path: Path, columns: Iterable[str], row: Mapping[str, Any]) -> None:
    """Append one row to a CSV written by :func:`write_csv` (same columns)."""
    columns = tuple(columns)
    with path.open("a", newline="", encoding="utf-8") as handle:
        csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore").writerow(
            {key: _cell(row.get(key)) for key in columns}
        )


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(round(value, 6))
    return value


# Columns that hold text even when it looks like a number (error_kind "409", a bucket "2").
TEXT_COLUMNS = frozenset({
    "request_type", "name", "bucket", "error_kind", "item_failures", "deployment_id", "state",
    "allocation_state", "poll_error",
})  # fmt: skip


def read_csv(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a run CSV with numbers parsed (int, else float); empty cells become ``None``.

    :data:`TEXT_COLUMNS` stay text (``error_kind`` is ``""`` on success, never ``None``).
    """
    if not path.is_file():
        return
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            yield {
                key: (value if key in TEXT_COLUMNS else _parse(value)) for key, value in row.items()
            }


def _parse(value: str | None) -> Any:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def expectations_to_json(expectations: Iterable[Expectation]) -> list[dict[str, Any]]:
    return [{**asdict(item), "status": item.status} for item in expectations]
