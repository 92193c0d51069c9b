"""Test tiers: which tests need a real port, a child process or real time, and a guard that
keeps every other test from needing them.

A test is in the **fast** tier (``make check``) unless it carries one of the tier marks:

- ``port``    it binds a real (loopback) port: ``EmbeddedServer``, uvicorn, raw listening sockets;
- ``process`` it starts child processes: the gate's pytest, locust, chromium, the CLI as a
              subprocess, ``elsercheck gate|load|run|capacity|selftest`` in-process;
- ``slow``    it waits on real time (scaler ticks on the wall clock, long runs).

The marks are applied automatically at collection (``mark_tiers``) from what a test can reach:
the names its function, its fixtures and the test-module helpers they call refer to
(``NAME_TIERS``), and modules known to start processes (``MODULE_TIERS``). A test may also
carry a mark by hand, or ``fast`` where its names mislead the analysis (it mentions
``subprocess`` to patch it, say). What the analysis misses — ``main(["load", ...])`` in-process,
a helper from outside ``tests`` — the guard catches: in every run, a test without a tier mark
fails ("this test needs the `process` tier: …") when it binds an inet port, starts a process
or sleeps for more than ``SLEEP_BUDGET_S`` in its own thread. So a new slow test cannot slip
into the fast tier: it fails under ``make check`` and ``make test`` alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import multiprocessing.process
import os
import re
import socket
import subprocess
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TIERS = ("port", "process", "slow")
FAST = "not port and not process and not slow"  # ``make check``'s selection

# A name a test (or a fixture or helper it calls) refers to → the tier that name implies.
NAME_TIERS: dict[str, str] = {
    # a real port
    "EmbeddedServer": "port",
    "ThreadedServer": "port",
    "wire_server": "port",
    "run_foreground": "port",
    # child processes
    "subprocess": "process",
    "Popen": "process",
    "run_gate": "process",
    "run_load": "process",
    "run_selftest": "process",
    "run_one": "process",
    "run_cli": "process",
    "run_chromium": "process",
    "screenshot": "process",
    "dump_dom": "process",
    "process_watch": "process",
    "watcher": "process",
    # real time
    "wait_scaler_ticks": "slow",
}

# Modules whose every test starts processes or waits on the wall clock.
MODULE_TIERS: dict[str, str] = {
    "test_packaging.py": "process",  # builds and installs the wheel
    "test_report_chromium.py": "process",  # renders pages in headless chromium
    "test_load_webui.py": "process",  # locust's web UI in chromium
}

# Measured durations (seconds a test took in a ``make test`` run on 2 cores, setup and teardown
# included): xdist hands out tests in collection order (``--dist loadgroup
# --no-loadscope-reorder``), so the longest start first and the short ones fill the gaps; a
# long test handed out late leaves one worker running alone at the end. ``make durations``
# re-measures them. A stale or missing entry costs only scheduling, never a result: a test
# without one is estimated from its tier (``ESTIMATE_S``).
DURATIONS_FILE = Path(__file__).with_name("durations.json")
ESTIMATE_S = {"process": 10.0, "slow": 5.0, "port": 1.0}  # else the fast tier's 0.1 s
FAST_ESTIMATE_S = 0.1
STORED_MIN_S = 2.0  # shorter tests are stored as their tier's estimate would place them
_README_LINE = re.compile(r"\[L\d+-")  # README commands' ids carry their line, which moves


def duration_key(nodeid: str) -> str:
    """A test's key in the durations table: its node id, without a README line number."""
    return _README_LINE.sub("[", nodeid, count=1)


def load_durations(path: Path = DURATIONS_FILE) -> dict[str, float]:
    """The durations table; empty (every test estimated) when missing or unreadable."""
    try:
        table = json.loads(path.read_text())["seconds"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {str(key): float(value) for key, value in table.items()}


# Shared runs: a session or module fixture that costs a whole run, and the tests that read it.
# Its readers must run on one xdist worker, or each worker repeats the run. xdist's own
# ``xdist_group`` mark does not reach the scheduler under pytest 9 (it rewrites
# ``item._nodeid``, which pytest 9 no longer reads), and the scheduler sees node ids only: so
# the groups are listed here by node id, and collection fails when a test reads a shared run
# without being listed under its group.
SHARED_RUNS: dict[str, str] = {  # fixture → group
    "clean_gate_run": "clean-gate-run",  # tests/gate_runs.py
    "one_allocation": "capacity-one-allocation",  # tests/test_capacity_run.py
}
GROUPS: dict[str, str] = {  # node id (without parameters) → group
    "tests/test_gate.py::test_gate_green_on_reference_server": "clean-gate-run",
    "tests/test_faults.py::test_gate_leaves_pre_existing_endpoints_untouched": "clean-gate-run",
    "tests/test_capacity_run.py::test_one_allocation_measures_the_models_capacity_and_knee": (
        "capacity-one-allocation"
    ),
    "tests/test_capacity_run.py::test_two_allocations_give_about_twice_one": (
        "capacity-one-allocation"
    ),
}

SLEEP_BUDGET_S = 1.0  # wall-clock sleep a fast test may spend in its own thread, in total


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names) | set(code.co_varnames) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _reachable_names(func: Any, seen: set[int]) -> set[str]:
    """The names ``func`` refers to, and those of the test-module functions and classes it
    calls (transitively): ``_gate(...)`` reaches ``run_gate``."""
    func = inspect.unwrap(getattr(func, "__func__", func))  # @contextmanager, @staticmethod
    code = getattr(func, "__code__", None)
    if code is None or id(code) in seen:
        return set()
    seen.add(id(code))
    names = _code_names(code)
    module_globals = getattr(func, "__globals__", {})
    for name in list(names):
        target = module_globals.get(name)
        if target is None or not getattr(target, "__module__", "").startswith("tests"):
            continue
        if isinstance(target, type):
            for member in vars(target).values():
                names |= _reachable_names(member, seen)
        elif callable(target):
            names |= _reachable_names(target, seen)
    return names


def _implied_tiers(item: pytest.Function) -> set[str]:
    tiers = set()
    module = item.path.name
    if module in MODULE_TIERS:
        tiers.add(MODULE_TIERS[module])
    seen: set[int] = set()
    names = _reachable_names(item.function, seen) | set(item.fixturenames)
    for defs in item._fixtureinfo.name2fixturedefs.values():
        for fixturedef in defs:  # the suite's own fixtures, not pytest's or plugins'
            module = getattr(fixturedef.func, "__module__", "")
            if module.startswith("tests") and module != __name__:
                names |= _reachable_names(fixturedef.func, seen)
    tiers |= {NAME_TIERS[name] for name in names & NAME_TIERS.keys()}
    return tiers


def mark_tiers(items: list[pytest.Item]) -> None:
    """Adds the tier marks a test's fixtures, names and module imply (collection time)."""
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        present = {mark.name for mark in item.iter_markers() if mark.name in TIERS}
        if item.get_closest_marker("fast") and not present:
            continue  # names that mislead the analysis (patched, not called); the guard watches
        for tier in sorted(_implied_tiers(item) - present):
            item.add_marker(tier)


def check_groups(items: list[pytest.Item]) -> None:
    """Every reader of a shared run is listed in ``GROUPS`` under the run's group."""
    for item in items:
        for fixture in set(getattr(item, "fixturenames", ())) & SHARED_RUNS.keys():
            group = SHARED_RUNS[fixture]
            if GROUPS.get(item.nodeid.split("[")[0]) != group:
                raise pytest.UsageError(
                    f"{item.nodeid} reads the shared run {fixture!r}: list it in "
                    f"tests/tiers.py GROUPS under {group!r} (one worker runs it once)"
                )


def group_of(nodeid: str) -> str:
    """The xdist work unit of a test: its shared run's group, or the test alone."""
    return GROUPS.get(nodeid.split("[")[0], nodeid)


def make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup``: xdist's load-scope scheduling with ``GROUPS`` as the scopes."""
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return SharedRunScheduling(config, log)


def order_longest_first(items: list[pytest.Item], durations: dict[str, float]) -> None:
    """Longest first by the durations table; the tests of a shared run's group stay together
    and count as one (xdist hands out a group at its first test). A stable sort: tests of
    equal estimate keep their module's order."""

    def estimate(item: pytest.Item) -> float:
        known = durations.get(duration_key(item.nodeid))
        if known is not None:
            return known
        tiers = [ESTIMATE_S[t] for t in TIERS if item.get_closest_marker(t)]
        return max(tiers, default=FAST_ESTIMATE_S)

    total: dict[str, float] = {}
    for item in items:
        group = group_of(item.nodeid)
        total[group] = total.get(group, 0.0) + estimate(item)
    first = {group: n for n, group in enumerate(total)}  # in order of first appearance
    items.sort(key=lambda item: (-total[group_of(item.nodeid)], first[group_of(item.nodeid)]))


class DurationRecorder:
    """``--store-durations PATH``: each test's setup, call and teardown seconds, as the
    controller receives their reports (under xdist too), written at the session's end as the
    durations table (``STORED_MIN_S`` and longer)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        key = duration_key(report.nodeid)
        self.seconds[key] = self.seconds.get(key, 0.0) + report.duration

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            return  # interrupted, or nothing ran: the table on disk stays
        stored = sorted(
            ((key, round(s, 1)) for key, s in self.seconds.items() if s >= STORED_MIN_S),
            key=lambda pair: (-pair[1], pair[0]),
        )
        table = {
            "about": "seconds per test in one `make test` run (tests/tiers.py DURATIONS_FILE); "
            "regenerate with `make durations`",
            "seconds": dict(stored),
        }
        self.path.write_text(json.dumps(table, indent=1) + "\n")


def in_fast_tier(item: pytest.Item) -> bool:
    return not any(item.get_closest_marker(tier) for tier in TIERS)


class TierViolation(BaseException):
    """Raised where a fast-tier test binds a port, starts a process or sleeps too long; a
    BaseException so that no ``except Exception`` in the code under test swallows it."""


@pytest.fixture(autouse=True)
def tier_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """In a fast-tier test: binding a port, starting a process and sleeping beyond the budget
    fail the test, naming the tier it needs (also where the code under test caught the error)."""
    if not in_fast_tier(request.node):
        yield
        return
    with guarding() as violations:
        yield
    if violations:
        pytest.fail(violations[0], pytrace=False)


@contextlib.contextmanager
def guarding() -> Iterator[list[str]]:
    """While inside: binding an inet port, starting a process and sleeping (in this thread)
    beyond ``SLEEP_BUDGET_S`` raise ``TierViolation``; the list collects their messages."""
    violations: list[str] = []
    this_thread = threading.current_thread()
    slept = [0.0]

    def refuse(tier: str, what: str) -> TierViolation:
        message = (
            f"this test needs the `{tier}` tier: {what} (mark it @pytest.mark.{tier}, or teach "
            "tests/tiers.py the name that implies it)"
        )
        violations.append(message)
        return TierViolation(message)

    def refused(tier: str, what: str, skip_self: bool) -> Callable[..., Any]:
        def refuse_call(*args: Any, **kwargs: Any) -> Any:
            shown = args[1:] if skip_self else args
            text = repr(shown[0]) if shown else ""
            raise refuse(tier, f"{what} {text if len(text) <= 120 else text[:117] + '...'}")

        return refuse_call

    original_bind, original_listen = socket.socket.bind, socket.socket.listen
    original_sleep = time.sleep

    def bind(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise refuse("port", f"socket.bind({address!r})")
        original_bind(self, address)

    def listen(self: socket.socket, *args: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise refuse("port", "socket.listen()")
        original_listen(self, *args)

    def sleep(seconds: float) -> None:
        if threading.current_thread() is this_thread:
            slept[0] += seconds
            if slept[0] > SLEEP_BUDGET_S:
                total = f"{slept[0]:.2f} s in total, budget {SLEEP_BUDGET_S} s"
                raise refuse("slow", f"time.sleep: {total}")
        original_sleep(seconds)

    patch = pytest.MonkeyPatch()
    try:
        patch.setattr(socket.socket, "bind", bind)
        patch.setattr(socket.socket, "listen", listen)
        loop = asyncio.base_events.BaseEventLoop
        for name in ("create_server", "create_unix_server"):
            patch.setattr(loop, name, refused("port", f"asyncio {name}", skip_self=True))
        patch.setattr(subprocess.Popen, "__init__", refused("process", "subprocess.Popen", True))
        for name in ("fork", "forkpty", "system", "posix_spawn", "posix_spawnp"):
            if hasattr(os, name):
                patch.setattr(os, name, refused("process", f"os.{name}", skip_self=False))
        patch.setattr(
            multiprocessing.process.BaseProcess,
            "start",
            refused("process", "multiprocessing start", skip_self=True),
        )
        patch.setattr(time, "sleep", sleep)
        yield violations
    finally:
        patch.undo()
