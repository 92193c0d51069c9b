"""Gate runs shared by the tests that only read them: one run costs a minute or more, so the
tests that check different things about the same kind of run read one run (a session fixture
in conftest.py; tests/tiers.py ``GROUPS`` puts its readers on one xdist worker, which runs it
once).

``clean_gate_run``: the whole gate (schema checks included) against a clean fast-timing
reference server that already holds endpoints outside the run prefix. test_gate.py reads it
as the green run (report, no secret, nothing left), test_faults.py as the run that must leave
the pre-existing endpoints untouched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from elsercheck.endpoints import elser_body
from elsercheck.gate import GateResult, run_gate
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.retry import retrying
from elsercheck.target import Target
from elsercheck.timing import PRESETS

PASSWORD = "shared-gate-S3cret/+pw"

# Endpoints outside the run prefix that a gate must leave as they were.
KEEP = {
    "keep-plain": elser_body(),
    "keep-chunked": {
        **elser_body(num_threads=2),
        "chunking_settings": {"strategy": "word", "max_chunk_size": 120, "overlap": 40},
    },
}


def patient(call: Callable[[], httpx.Response]) -> httpx.Response:
    """The test's own bookkeeping survives lost answers (dropped-connections): ask again."""
    for attempt in range(10):
        try:
            return call()
        except httpx.TransportError:
            if attempt == 9:
                raise
    raise AssertionError("unreachable")


def retrying_client(server: EmbeddedServer, password: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, auth=("elastic", password), timeout=30, transport=retrying()
    )


def create_pre_existing(server: EmbeddedServer, password: str) -> dict[str, bytes]:
    """Endpoints outside the run prefix; their GET bodies before the gate runs."""
    with retrying_client(server, password) as c:
        for inference_id, body in KEEP.items():
            path = f"/_inference/sparse_embedding/{inference_id}"
            with contextlib.suppress(httpx.TransportError):  # stored even if the answer is lost
                # 408 is fine: stored while its deployment starts (slow-deployment-start).
                assert c.put(path, json=body).status_code in (200, 408)
            assert patient(lambda i=inference_id: c.get(f"/_inference/{i}")).status_code == 200
        return {i: patient(lambda i=i: c.get(f"/_inference/{i}")).content for i in KEEP}


def after_gate(server: EmbeddedServer, before: dict[str, bytes], password: str) -> None:
    """The pre-existing endpoints are as they were; nothing under the run prefix is left."""
    with retrying_client(server, password) as c:
        assert {i: patient(lambda i=i: c.get(f"/_inference/{i}")).content for i in KEEP} == before
        listing = patient(lambda: c.get("/_inference/_all")).json()
    ids = [e["inference_id"] for e in listing["endpoints"]]
    assert not [i for i in ids if i.startswith("elsercheck-")], ids


@dataclass
class CleanGateRun:
    server: EmbeddedServer
    password: str
    report_dir: Path
    before: dict[str, bytes]  # the pre-existing endpoints' bodies before the run
    result: GateResult


@contextlib.contextmanager
def clean_gate_run(report_dir: Path) -> Iterator[CleanGateRun]:
    """The whole gate at a small example budget against a clean server with pre-existing
    endpoints; the server stays up while the run's readers look at it."""
    config = ServerConfig(password=PASSWORD, timing=PRESETS["fast"])
    with EmbeddedServer(config) as server:
        before = create_pre_existing(server, PASSWORD)
        target = Target(server.url, username="elastic", password=PASSWORD)
        result = run_gate(target, "gatetest", report_dir, workers="1", max_examples=5, extra=[])
        yield CleanGateRun(server, PASSWORD, report_dir, before, result)
