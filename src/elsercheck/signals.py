"""Stop signals: every process of a run stops promptly, cleans up and exits 128 + n.

SIGINT (Ctrl-C), SIGTERM (CI cancellation, ``docker stop``, systemd, Kubernetes) and SIGHUP (a
closed terminal) all mean "stop now, but delete what the run created first". The first one
raises :class:`Interrupted` (a ``KeyboardInterrupt``, so every existing Ctrl-C path applies)
in the main thread and is forwarded at once to the process group of every child started with
:func:`start_child`; later ones are ignored, so a second signal cannot cut the cleanup short
(it is bounded: :func:`stop_child` kills a child that does not finish in time).

Children die with their parent: :func:`start_child` tells them the parent's pid
(``ELSERCHECK_PARENT_PID``) and the child calls :func:`die_with_parent` early, which asks Linux
for SIGTERM when the parent goes (``prctl(PR_SET_PDEATHSIG)``; a thread polling ``getppid()``
elsewhere), so even a SIGKILLed parent leaves no child running unsupervised.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PARENT_ENV = "ELSERCHECK_PARENT_PID"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; ``signum`` says which."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(signum: int) -> int:
    """The shell's convention, 128 + n: ``ExitCode`` INTERRUPTED (SIGINT, 130), TERMINATED
    (SIGTERM, 143), HANGUP (SIGHUP, 129)."""
    from .exit_codes import ExitCode

    try:
        return ExitCode(128 + signum)
    except ValueError:  # a signal the CLI does not stop on
        return 128 + signum


def signal_of(exc: BaseException) -> int:
    """The signal behind an interruption; a bare ``KeyboardInterrupt`` is SIGINT."""
    return getattr(exc, "signum", signal.SIGINT)


_received: int | None = None  # the first stop signal of this process
_children: dict[int, subprocess.Popen] = {}  # pid -> child, each leads its own process group


def received() -> int | None:
    """The first stop signal this process got, if any."""
    return _received


def unforwarded(exc: BaseException) -> int | None:
    """The signal children still need after ``exc``: none when the handler forwarded it, SIGINT
    for a ``KeyboardInterrupt`` raised without it (no handler installed)."""
    return None if _received is not None else signal_of(exc)


def _forward(signum: int) -> None:
    for pid in list(_children):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)


def _on_signal(signum: int, on_first: Callable[[int], None] | None) -> None:
    global _received
    if _received is not None:
        return  # already stopping: the cleanup in progress is bounded, let it finish
    _received = signum
    if on_first is not None:
        on_first(signum)
    _forward(signum)
    raise Interrupted(signum)


def install(on_first: Callable[[int], None] | None = None) -> dict[int, Any]:
    """From now on the first stop signal raises :class:`Interrupted` in the main thread (after
    ``on_first(signum)``, e.g. to pass it on); returns the previous handlers. Main thread only."""
    global _received
    if threading.current_thread() is not threading.main_thread():
        return {}  # Python runs signal handlers in the main thread only

    def handler(signum: int, frame: FrameType | None) -> None:
        _on_signal(signum, on_first)

    _received = None
    return {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """:func:`install` within the block, the previous handlers after it; outside the main
    thread (where Python cannot handle signals) it does nothing."""
    global _received
    previous = install()
    try:
        yield
    finally:
        _received = None
        for sig, old in previous.items():
            signal.signal(sig, signal.SIG_DFL if old is None else old)


def start_child(command: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
    """``Popen`` a child that leads its own process group (its own children included) and
    knows its parent's pid; a stop signal of this process is forwarded to that group."""
    process = subprocess.Popen(
        command,
        env={**env, PARENT_ENV: str(os.getpid())},
        stdin=subprocess.DEVNULL,  # a background group must not read the terminal (SIGTTIN)
        process_group=0,
        **kwargs,
    )
    _children[process.pid] = process
    if _received is not None:  # the signal came while it started
        _forward(_received)
    return process


def stop_child(process: subprocess.Popen, grace_s: float, signum: int | None = None) -> int:
    """Wait up to ``grace_s`` for a child (after sending ``signum`` to its group, if given),
    then kill its group; returns its exit code."""
    try:
        if signum is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signum)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # What the child left in its group (a worker it had started) goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        return process.returncode
    finally:
        _children.pop(process.pid, None)


def forget_child(process: subprocess.Popen) -> None:
    """The child ended on its own: stop forwarding signals to its (reusable) group id."""
    _children.pop(process.pid, None)


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """In a child of :func:`start_child`: get ``signum`` when the parent dies."""
    expected = os.environ.get(PARENT_ENV, "")
    if not expected.isdigit():
        return  # started by hand: the shell's signals are enough
    parent = int(expected)
    if not _pdeathsig(signum):
        threading.Thread(
            target=_watch_parent, args=(parent, signum), name="elsercheck-parent-watch",
            daemon=True,
        ).start()  # fmt: skip
    if os.getppid() != parent:  # the parent died before the request above
        os.kill(os.getpid(), signum)


def _pdeathsig(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int, signum: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signum)
