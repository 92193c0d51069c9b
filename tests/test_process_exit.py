"""A process of elsercheck's ends without the interpreter's walk over its heap (issue 21): the
console script, each locust process of a load run and the contract suite's session freeze
their heap once their work is written (``signals.exit_without_collection``)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from elsercheck import cli, signals


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The calls of exit_without_collection, which does not freeze this test process."""
    calls: list[str] = []
    monkeypatch.setattr(signals, "exit_without_collection", lambda: calls.append("frozen"))
    yield calls


def test_exit_without_collection_freezes_the_heap() -> None:
    gc.unfreeze()
    try:
        signals.exit_without_collection()
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
