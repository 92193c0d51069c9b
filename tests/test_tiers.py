"""The tier guard (tests/tiers.py) catches what would make a fast-tier test slow, and the marks
follow what a test reaches."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import subprocess
import sys
import time

import pytest

from tests.tiers import FAST, NAME_TIERS, TIERS, TierViolation, guarding, in_fast_tier

pytestmark = pytest.mark.fast  # it names subprocess to show the guard refusing it


def test_a_child_process_needs_the_process_tier() -> None:
    with guarding() as violations, pytest.raises(TierViolation, match="`process` tier"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)
    assert "subprocess.Popen" in violations[0] and sys.executable in violations[0]
    with guarding() as violations, pytest.raises(TierViolation, match=r"os\.system"):
        os.system("true")
    with guarding(), pytest.raises(TierViolation, match="multiprocessing"):
        multiprocessing.get_context("spawn").Process(target=print).start()


def test_a_port_needs_the_port_tier() -> None:
    with guarding() as violations, socket.socket() as s, pytest.raises(TierViolation):
        s.bind(("127.0.0.1", 0))
    assert "`port` tier" in violations[0] and "127.0.0.1" in violations[0]

    async def serve() -> None:
        await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)

    with guarding(), pytest.raises(TierViolation, match="create_server"):
        asyncio.run(serve())


def test_sleeping_beyond_the_budget_needs_the_slow_tier() -> None:
    with guarding() as violations:
        time.sleep(0.01)  # within the budget
        assert not violations
        with pytest.raises(TierViolation, match=r"`slow` tier: time\.sleep"):
            time.sleep(5)


def test_the_guard_is_undone_and_unix_sockets_pass() -> None:
    bind = socket.socket.bind
    with guarding():
        a, b = socket.socketpair()  # asyncio's self-pipe: no port
        a.close()
        b.close()
    assert socket.socket.bind is bind


def test_a_fast_test_is_guarded(request: pytest.FixtureRequest) -> None:
    assert in_fast_tier(request.node) and " and ".join(f"not {t}" for t in TIERS) == FAST
    assert time.sleep.__module__ == "tests.tiers"  # the autouse guard's


@pytest.mark.slow
def test_a_marked_test_is_not_guarded(request: pytest.FixtureRequest) -> None:
    assert not in_fast_tier(request.node)
    assert time.sleep.__module__ == "time"


def test_names_imply_their_tiers(request: pytest.FixtureRequest) -> None:
    assert NAME_TIERS["EmbeddedServer"] == "port" and NAME_TIERS["run_gate"] == "process"
    # The gate against a module-scoped EmbeddedServer, through a helper that calls run_gate.
    by_id = {item.nodeid: item for item in request.session.items}
    gate = by_id.get("tests/test_gate.py::test_gate_green_on_reference_server")
    if gate is not None:  # its module is collected in this run
        assert {"port", "process"} <= {m.name for m in gate.iter_markers()}
