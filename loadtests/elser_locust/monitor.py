"""The allocation monitor: polls the deployment's stats during the run, beside the load.

Runs in the master (or the single local process) only. Each poll becomes one
``allocations.csv`` row, with what the load generator was doing at that moment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import requests

from elsercheck.load.deployment_stats import stats_row
from elsercheck.runs import rundir

from .endpoints import Endpoints

log = logging.getLogger("elsercheck.load")


class AllocationMonitor:
    def __init__(
        self,
        endpoints: Endpoints,
        deployment_id: str,
        interval_s: float,
        load_now: Callable[[], tuple[int, float]],
        deployment_stats: bool = True,
    ) -> None:
        self.endpoints = endpoints
        self.deployment_id = deployment_id
        # False for an endpoint on the Elastic Inference Service: no deployment, no trained
        # model stats; the rows keep what the load did and the server's lag.
        self.deployment_stats = deployment_stats
        self.interval_s = interval_s
        self.load_now = load_now  # () -> (user_count, offered requests/s)
        self.rows: list[dict[str, Any]] = []
        self.origin = time.time()
        self._greenlet: gevent.Greenlet | None = None
        self._live: Path | None = None
        self._lag_served: bool | None = None  # known after the first poll

    def start(self, origin: float, live_csv: Path | None = None) -> None:
        """Poll from now on; rows also go to ``live_csv`` as they come (for progress displays)."""
        self.origin = origin
        self.rows = []
        self._live = live_csv
        if live_csv is not None:
            live_csv.parent.mkdir(parents=True, exist_ok=True)
            rundir.write_csv(live_csv, rundir.ALLOCATION_COLUMNS, [])
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=5)
            self._greenlet = None

    def poll_once(self) -> dict[str, Any]:
        started = time.time()
        row: dict[str, Any] = {"deployment_id": self.deployment_id}
        try:
            if self.deployment_stats:
                row = stats_row(self.endpoints.stats(self.deployment_id), self.deployment_id)
        except requests.HTTPError as exc:
            row = {
                "deployment_id": self.deployment_id,
                "poll_error": f"HTTP {getattr(exc.response, 'status_code', '?')}",
            }
        except (requests.RequestException, ValueError) as exc:
            row = {"deployment_id": self.deployment_id, "poll_error": type(exc).__name__}
        row.update(self._server_lag())
        users, rate = self.load_now()
        row.update(
            timestamp=started, elapsed_s=started - self.origin, user_count=users, offered_rate=rate
        )
        self.rows.append(row)
        if self._live is not None:
            rundir.append_csv(self._live, rundir.ALLOCATION_COLUMNS, row)
        return row

    def _server_lag(self) -> dict[str, Any]:
        """The embedded server's lag columns (none from a real cluster: asked once)."""
        if self._lag_served is False:
            return {}
        try:
            lag = self.endpoints.server_lag()
        except (requests.RequestException, ValueError):
            lag = None
        if self._lag_served is None:
            self._lag_served = lag is not None
        if lag is None:
            return {}
        return {f"server_lag_{key}": lag.get(key) for key in rundir.SERVER_LAG_FIELDS}

    def _run(self) -> None:
        next_at = time.monotonic()
        while True:
            self.poll_once()
            next_at += self.interval_s
            gevent.sleep(max(0.0, next_at - time.monotonic()))

    def latest(self) -> dict[str, Any] | None:
        return self.rows[-1] if self.rows else None
