"""Watches the descendants of a process through /proc: their command lines and environments.

For tests that run the CLI as a real subprocess and must show that its children (the gate's
pytest, locust) got their secrets through the environment and never through argv, which any
user of the machine can read (``ps``). Linux only: ``available()`` says whether /proc is there.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")


def available() -> bool:
    return (PROC / "self" / "cmdline").is_file()


def watcher(**options: float) -> DescendantWatcher | None:
    """A watcher where /proc exists; None elsewhere. On Linux a missing /proc is an error, not a
    silently skipped check (CI and every developer machine here are Linux)."""
    if available():
        return DescendantWatcher(**options)
    assert not sys.platform.startswith("linux"), "/proc is missing: the argv check cannot run"
    return None


@dataclass
class Child:
    pid: int
    argv: list[str]
    env: dict[str, str] = field(repr=False)


def _parent(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    return int(stat.rsplit(")", 1)[1].split()[1])


def _read(pid: int, name: str) -> list[str] | None:
    try:
        data = (PROC / str(pid) / name).read_bytes()
    except OSError:
        return None
    return [part for part in data.decode(errors="replace").split("\0") if part]


class DescendantWatcher:
    """Polls /proc every ``interval`` s between ``start(pid)`` and ``stop()``; ``children``
    holds each descendant of ``pid`` seen, with its argv and environment after its exec."""

    def __init__(self, interval: float = 0.5) -> None:
        self.root = 0
        self.interval = interval
        self.children: dict[int, Child] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, root: int) -> None:
        self.root = root
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.poll()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval)

    def poll(self) -> None:
        parents = {}
        for entry in PROC.iterdir():
            if entry.name.isdigit():
                parent = _parent(int(entry.name))
                if parent is not None:
                    parents[int(entry.name)] = parent
        family = {self.root}
        changed = True
        while changed:  # descendants at any depth (xdist workers, locust workers)
            found = {pid for pid, parent in parents.items() if parent in family} - family
            changed = bool(found)
            family |= found
        for pid in family - {self.root}:
            argv, environ = _read(pid, "cmdline"), _read(pid, "environ")
            if not argv or environ is None:
                continue
            known = self.children.get(pid)
            if known is None or known.argv != argv:  # fork then exec: keep the exec'd one
                env = dict(item.split("=", 1) for item in environ if "=" in item)
                self.children[pid] = Child(pid, argv, env)


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie nobody reaped yet counts as gone)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    """Wait up to ``timeout_s`` for the processes to end; the pids still running then."""
    deadline = time.monotonic() + timeout_s
    while True:
        running = [pid for pid in pids if alive(pid)]
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.2)
