"""elsercheck.heap (issue 21): the contract suite's collection builds its heap without the
collector's walks and freezes it; the console script, each locust process of a load run and the
contract session end without the interpreter's walk over their heap."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from elsercheck import cli, heap


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The calls of exit_without_collection, which does not freeze this test process."""
    calls: list[str] = []
    monkeypatch.setattr(heap, "exit_without_collection", lambda: calls.append("frozen"))
    yield calls


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_a_heap_built_without_collection_is_frozen_and_its_garbage_freed() -> None:
    import weakref

    gc.unfreeze()
    enabled = gc.isenabled()
    try:
        with heap.built_without_collection():
            assert not gc.isenabled()  # no walk while the heap is built
            kept = _Node()
            cycle = _Node()
            cycle.other = cycle  # garbage only a cyclic collection frees
            gone = weakref.ref(cycle)
            del cycle
            assert gone() is not None
        assert gc.isenabled() == enabled
        assert gone() is None  # freed by the one collection at the block's end, not frozen
        assert gc.get_freeze_count() > 0  # what survives (``kept``) is out of later walks
        assert kept.other is None
        gc.disable()
        with heap.built_without_collection():
            pass
        assert not gc.isenabled()  # a collector its caller had off stays off
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


def test_the_contract_suites_collection_is_built_without_collection(
    contracts_conftest: ModuleType,
) -> None:
    gc.unfreeze()
    enabled = gc.isenabled()
    try:
        hook = contracts_conftest.pytest_collection(None)
        next(hook)  # pytest collects here
        assert not gc.isenabled()
        with pytest.raises(StopIteration) as ended:
            hook.send(["items"])
        assert ended.value.value == ["items"]  # pytest's own result, passed on
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


def test_the_contract_session_leaves_its_heap_out_of_the_exit_collection(
    contracts_conftest: ModuleType,
) -> None:
    """The last hook of a contract session freezes what it allocated, so the interpreter's exit
    does not walk the generated cases (contracts/conftest.py ``pytest_unconfigure``)."""
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        contracts_conftest.pytest_unconfigure(None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_exit_without_collection_freezes_the_heap() -> None:
    gc.unfreeze()
    try:
        heap.exit_without_collection()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_console_script_freezes_after_its_command(
    frozen: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["elsercheck", "serve", "--list-defects"])
    assert cli.script() == 0
    assert "negative-weights" in capsys.readouterr().out
    assert frozen == ["frozen"]
    # Also when the command fails: the freeze is in a finally.
    monkeypatch.setattr(cli, "main", lambda argv=None: 1 // 0)
    with pytest.raises(ZeroDivisionError):
        cli.script()
    assert frozen == ["frozen", "frozen"]


def test_cli_main_never_freezes_the_process_that_calls_it(frozen: list[str]) -> None:
    assert cli.main(["serve", "--list-defects"]) == 0
    assert frozen == []


# In a process of its own: importing locust monkey-patches the standard library (gevent).
_LOCUST_QUIT = """
import gc
from locust.env import Environment
from elser_locust import session
environment = Environment()
session.install(environment)  # no options parsed: no session, the listener all the same
before = gc.get_freeze_count()
environment.events.quit.fire(exit_code=0)
print(before, gc.get_freeze_count())
"""


def test_a_locust_process_freezes_at_its_quit_event() -> None:
    from elsercheck.paths import resource_dir

    env = {**os.environ, "PYTHONPATH": str(resource_dir("loadtests"))}
    done = subprocess.run(
        [sys.executable, "-c", _LOCUST_QUIT], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    before, after = map(int, done.stdout.split())
    assert before == 0 and after > 0
