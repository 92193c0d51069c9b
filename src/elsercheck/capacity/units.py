"""The workloads a capacity sweep measures and the unit each one's rate is counted in.

A point's offered rate, its arrivals and throughput, the capacity and the recommendation's
traffic are all in the workload's unit: what one of its load users sends (one row of the load
run's ``requests.csv``). An ingest bulk carries documents that the server cuts into chunks; its
capacity is also reported per document and per chunk (the units an operator plans ingest with),
from the ``documents`` and ``chunks`` columns of the BULK rows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    """One workload's unit: ``request_type`` of its rows in requests.csv, ``noun`` (plural)
    and the short rate label."""

    workload: str
    request_type: str
    noun: str
    rate: str  # e.g. "req/s"

    @property
    def per_document(self) -> bool:
        """Whether the rows carry documents and chunks (ingest bulks)."""
        return self.request_type == "BULK"


UNITS: dict[str, Unit] = {
    "inference": Unit("inference", "POST", "requests", "req/s"),
    "search": Unit("search", "SEARCH", "semantic searches", "searches/s"),
    "ingest": Unit("ingest", "BULK", "bulks", "bulks/s"),
}
# Mixed users send three kinds in one run: no single offered rate to step, and one knee would
# mix three services (its queue is shared), so the sweep refuses it.
REFUSED = {
    "mixed": "capacity measures one workload at a time (inference, search or ingest): a mixed "
    "point's three request kinds share one queue, so no single rate has a knee",
}
# Documents per _bulk of a capacity sweep (``elsercheck load`` sends 50): a smaller bulk makes
# a finer rate step, and a bulk of 50 documents is already ~100 chunks of model work.
DEFAULT_BULK_SIZE = 10


def unit_of(workload: str) -> Unit:
    """The unit of ``workload``; KeyError for one the sweep does not measure."""
    return UNITS[workload]
