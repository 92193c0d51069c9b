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
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.tiers import (
    DURATIONS_FILE,
    ESTIMATE_S,
    FAST,
    GROUPS,
    NAME_TIERS,
    TIERS,
    DurationRecorder,
    TierViolation,
    duration_key,
    guarding,
    in_fast_tier,
    load_durations,
    order_longest_first,
)

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


class _Item:
    """What ordering reads of a collected test: its node id and its tier marks."""

    def __init__(self, nodeid: str, tier: str | None = None) -> None:
        self.nodeid, self.tier = nodeid, tier

    def get_closest_marker(self, name: str) -> object | None:
        return object() if name == self.tier else None


def test_the_longest_start_first_and_a_shared_run_stays_together() -> None:
    readers = [nodeid for nodeid, group in GROUPS.items() if group == "clean-gate-run"]
    assert len(readers) >= 2
    items = [
        _Item("tests/test_a.py::test_fast"),
        _Item(readers[0], "process"),
        _Item("tests/test_b.py::test_unknown_process", "process"),
        _Item("tests/test_c.py::test_port", "port"),
        _Item("tests/test_readme_commands.py::test_readme_command_runs[L12-elsercheck load]"),
        _Item("tests/test_d.py::test_long", "process"),
        _Item(readers[1], "process"),
    ]
    durations = {
        "tests/test_readme_commands.py::test_readme_command_runs[elsercheck load]": 40.0,
        "tests/test_d.py::test_long": 30.0,
        readers[0]: 8.0,  # the group: 8 s + 8 s, counted as one unit of 16 s
        readers[1]: 8.0,
    }
    order_longest_first(items, durations)  # type: ignore[arg-type]
    assert [item.nodeid for item in items] == [
        "tests/test_readme_commands.py::test_readme_command_runs[L12-elsercheck load]",
        "tests/test_d.py::test_long",
        readers[0],
        readers[1],
        "tests/test_b.py::test_unknown_process",  # its tier's estimate: 10 s
        "tests/test_c.py::test_port",
        "tests/test_a.py::test_fast",
    ]
    assert ESTIMATE_S["process"] < 16.0


def test_stored_durations_order_the_next_run(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    recorder = DurationRecorder(path)
    for nodeid, seconds in [
        ("tests/test_x.py::test_long", 1.5),  # setup, call, teardown add up
        ("tests/test_x.py::test_long", 3.0),
        ("tests/test_x.py::test_long", 0.5),
        ("tests/test_x.py::test_short", 0.3),
        ("tests/test_readme_commands.py::test_readme_command_runs[L7-elsercheck gate]", 9.0),
    ]:
        recorder.pytest_runtest_logreport(SimpleNamespace(nodeid=nodeid, duration=seconds))  # type: ignore[arg-type]
    recorder.pytest_sessionfinish(None, 0)  # type: ignore[arg-type]
    assert load_durations(path) == {
        "tests/test_readme_commands.py::test_readme_command_runs[elsercheck gate]": 9.0,
        "tests/test_x.py::test_long": 5.0,
    }
    assert (
        duration_key("tests/t.py::test_r[L1234-elsercheck x [a]]")
        == "tests/t.py::test_r[elsercheck x [a]]"
    )
    DurationRecorder(path).pytest_sessionfinish(None, pytest.ExitCode.INTERRUPTED)  # type: ignore[arg-type]
    assert len(load_durations(path)) == 2  # an interrupted run leaves the table as it was
    path.write_text("not json")
    assert load_durations(path) == {}  # every test estimated from its tier: the run goes on


def test_the_committed_durations_hold_the_longest_tests() -> None:
    durations = load_durations(DURATIONS_FILE)
    assert durations["tests/test_cli.py::test_run_passes_against_embedded_server"] > 60
    assert not any(key.startswith("tests/test_readme_commands.py") and "[L" in key
                   for key in durations)  # fmt: skip
