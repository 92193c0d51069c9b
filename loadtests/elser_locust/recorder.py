"""Exact per-request samples (locust's own statistics round to two significant digits).

Every request event becomes one row of ``requests.csv``. On a distributed run each worker
ships the rows gathered since its last report with locust's regular worker report; the master
(or the single local process) keeps them all. The count of arrivals that fell due but were
never made (a user stopped while behind its schedule) travels the same way.
"""

from __future__ import annotations

from typing import Any

from locust.env import Environment
from locust.runners import WorkerRunner

from elsercheck.runs.rundir import error_kind

REPORT_KEY = "elsercheck_samples"
UNMADE_KEY = "elsercheck_unmade_arrivals"
SAMPLE_FIELDS = (
    "timestamp", "request_type", "name", "bucket", "inputs", "tokens", "status", "latency_ms",
    "error_kind", "documents", "chunks", "acknowledged", "item_failures", "schedule_lag_ms",
    "retry_after",
)  # fmt: skip


class Recorder:
    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.rows: list[tuple[Any, ...]] = []
        self.unmade = 0  # arrivals due but never made (users.InferenceUser.on_stop)
        events = environment.events
        events.request.add_listener(self.on_request)
        events.report_to_master.add_listener(self.on_report_to_master)
        events.worker_report.add_listener(self.on_worker_report)

    def clear(self) -> None:
        self.rows = []
        self.unmade = 0

    def count_unmade(self, arrivals: int) -> None:
        self.unmade += arrivals

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        response: Any = None,
        context: Any = None,
        exception: Any = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        # A tuple per request (fields of SAMPLE_FIELDS): this runs once per request, keep it lean.
        context = context or {}
        status = context.get("status") or int(getattr(response, "status_code", 0) or 0)
        kind = error_kind(status, exception) if exception is not None else ""
        self.rows.append((start_time, request_type, name, context.get("bucket"),
                          context.get("inputs"), context.get("tokens"), status,
                          float(response_time or 0.0), kind, context.get("documents"),
                          context.get("chunks"), context.get("acknowledged"),
                          context.get("item_failures"),
                          context.get("schedule_lag_ms"),
                          context.get("retry_after")))  # fmt: skip

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        if isinstance(self.environment.runner, WorkerRunner):
            data[REPORT_KEY], self.rows = self.rows, []
            data[UNMADE_KEY], self.unmade = self.unmade, 0

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        self.rows.extend(data.get(REPORT_KEY) or [])
        self.unmade += int(data.get(UNMADE_KEY) or 0)

    def rows_since(self, origin: float) -> list[dict[str, Any]]:
        """All rows as ``requests.csv`` dicts with ``elapsed_s`` from ``origin``, in send order."""
        rows = sorted((row for row in self.rows if row[0] is not None), key=lambda r: r[0])
        return [
            {**dict(zip(SAMPLE_FIELDS, row, strict=True)), "elapsed_s": row[0] - origin}
            for row in rows
        ]
