"""Every stop signal leaves the target clean (issue 16): SIGINT, SIGTERM and SIGHUP stop the CLI
and its children promptly, they delete what carries the run prefix and exit 128 + n, and
children die with their parent.

The mechanism (``elsercheck.signals``) is checked with small throwaway processes; the gate end
to end on the reference server (fast timing) in subprocesses of their own session, as a terminal
or CI runner starts them. The load run's signals are in ``test_load_run.py``.
"""

from __future__ import annotations

import html
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from elsercheck import signals
from elsercheck.gate_report import read_junit
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.timing import PRESETS

from . import process_watch
from .process_watch import DescendantWatcher, wait_gone

PASSWORD = "signals-test-secret"
PRE_EXISTING = "customer-elser"  # an endpoint no run may touch
linux_only = pytest.mark.skipif(not process_watch.available(), reason="needs /proc (Linux)")


def test_exit_codes_follow_the_shell_convention() -> None:
    assert signals.exit_code(signal.SIGINT) == 130
    assert signals.exit_code(signal.SIGTERM) == 143
    assert signals.exit_code(signal.SIGHUP) == 129
    assert signals.signal_of(KeyboardInterrupt()) == signal.SIGINT
    assert signals.signal_of(signals.Interrupted(signal.SIGHUP)) == signal.SIGHUP


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals: main thread only"
)
def test_the_first_signal_raises_later_ones_wait_and_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(signals.Interrupted) as raised, signals.stop_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises long before this ends
        finally:
            assert signals.received() == signal.SIGTERM
            os.kill(os.getpid(), signal.SIGHUP)  # during cleanup: must not cut it short
            time.sleep(0.2)
    assert raised.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before
    assert signals.received() is None


# A parent that starts one child with ``signals.start_child`` and waits for it, as the gate does;
# the child records the signal it got into a file, then exits 128 + n.
PARENT = textwrap.dedent(
    """
    import sys
    from elsercheck import signals

    child = '''
    import os, signal, sys, time
    from elsercheck import signals
    def stop(signum, frame):
        open(sys.argv[1], "w").write(signal.Signals(signum).name)
        sys.exit(128 + signum)
    for sig in signals.STOP_SIGNALS:
        signal.signal(sig, stop)
    signals.die_with_parent()
    open(sys.argv[1] + ".ready", "w").close()
    time.sleep(120)
    '''
    with signals.stop_on_signals():
        process = signals.start_child([sys.executable, "-c", child, sys.argv[1]], {})
        try:
            process.wait()
        except KeyboardInterrupt as exc:
            signals.stop_child(process, 20, signals.unforwarded(exc))
            sys.exit(signals.exit_code(signals.signal_of(exc)))
    """
)


def _start_parent(marker: Path) -> tuple[subprocess.Popen[bytes], int]:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(marker)], start_new_session=True)
    deadline = time.monotonic() + 60
    while not marker.with_name(marker.name + ".ready").exists():
        assert time.monotonic() < deadline and parent.poll() is None, "the child never started"
        time.sleep(0.05)
    children = [int(pid) for pid in Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
                .read_text().split()]  # fmt: skip
    assert len(children) == 1
    return parent, children[0]


@linux_only
@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["sigterm", "sighup", "sigint"]
)
def test_a_signal_to_the_parent_alone_reaches_the_child(tmp_path: Path, sig: int) -> None:
    marker = tmp_path / "child-got"
    parent, child = _start_parent(marker)
    os.kill(parent.pid, sig)  # not the group: only the parent hears it
    assert parent.wait(timeout=30) == 128 + sig
    assert marker.read_text() == signal.Signals(sig).name
    assert wait_gone([child], 10) == []


@linux_only
def test_the_child_dies_with_a_killed_parent(tmp_path: Path) -> None:
    marker = tmp_path / "child-got"
    parent, child = _start_parent(marker)
    parent.kill()  # SIGKILL: no handler runs in the parent
    parent.wait(timeout=10)
    assert wait_gone([child], 20) == [], "the child outlived its parent"
    assert marker.read_text() == "SIGTERM"  # it was told, so it could clean up


# -- the gate, end to end -------------------------------------------------------------------------
@pytest.fixture
def fast_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(ServerConfig(password=PASSWORD, timing=PRESETS["fast"])) as running:
        with admin(running) as c:
            body = {"service": "elasticsearch", "service_settings": {
                "model_id": ".elser_model_2_linux-x86_64", "num_allocations": 1, "num_threads": 1}}  # fmt: skip
            assert (
                c.put(f"/_inference/sparse_embedding/{PRE_EXISTING}", json=body).status_code == 200
            )
        yield running


def admin(server: EmbeddedServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=("elastic", PASSWORD), timeout=60)


def ours(server: EmbeddedServer) -> list[str]:
    with admin(server) as c:
        listed = c.get("/_inference/_all").json()["endpoints"]
    return sorted(e["inference_id"] for e in listed if e["inference_id"].startswith("elsercheck-"))


def wait_for_a_run_endpoint(server: EmbeddedServer, process: subprocess.Popen[str]) -> None:
    """Until an endpoint of the run exists (some live only a moment: seen once is enough)."""
    deadline = time.monotonic() + 240  # a gate's pytest takes a while to start on a busy machine
    while time.monotonic() < deadline and process.poll() is None:
        if ours(server):
            return
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"the run never created an endpoint: {process.communicate()[0]}")


def start_cli(server: EmbeddedServer, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": PASSWORD,
           "ELSERCHECK_REPORTS": str(tmp_path / "reports")}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "elsercheck", *args, "--url", server.url, "--timing", "fast"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group, like a terminal's job or a CI step
    )  # fmt: skip


def send(process: subprocess.Popen[str], sig: int, to: str) -> None:
    if to == "group":
        os.killpg(process.pid, sig)
    else:
        os.kill(process.pid, sig)


@linux_only
@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "to", "workers"),
    [(signal.SIGINT, "pid", "1"), (signal.SIGTERM, "group", "1"), (signal.SIGKILL, "pid", "2")],
    ids=["sigint-to-pid", "sigterm-to-group", "sigkill-parent-alone-xdist"],
)
def test_a_stopped_gate_leaves_no_endpoint_and_no_process(
    fast_server: EmbeddedServer, tmp_path: Path, sig: int, to: str, workers: str
) -> None:
    with admin(fast_server) as c:
        before = c.get(f"/_inference/{PRE_EXISTING}").text
    process = start_cli(fast_server, tmp_path, "gate", "--workers", workers,
                        "--report-dir", str(tmp_path / "gate"))  # fmt: skip
    watch = DescendantWatcher(interval=0.2)
    watch.start(process.pid)
    wait_for_a_run_endpoint(fast_server, process)
    send(process, sig, to)
    output, _ = process.communicate(timeout=180)
    watch.stop()
    children = list(watch.children)
    assert children, "no child process seen"
    if sig == signal.SIGKILL:
        # Nobody is left to wait: the children got SIGTERM from the kernel, they clean up alone.
        assert process.returncode == -signal.SIGKILL
        assert wait_gone(children, 120) == [], "children outlived their killed parent"
    else:
        assert process.returncode == 128 + sig, output
        assert "Traceback" not in output, output
        assert f"interrupted ({signal.Signals(sig).name})" in output
        assert wait_gone(children, 5) == [], "children outlived the gate"
        # The checks that ran are reported, marked interrupted (issue 22): pytest wrote its
        # JUnit file on the way out, the gate its page and summary from it.
        junit = tmp_path / "gate" / "junit.xml"
        assert junit.is_file(), f"no {junit.name}; the gate said:\n{output}"
        cases = read_junit(junit)
        page = (tmp_path / "gate" / "gate.html").read_text()
        assert f"Interrupted ({signal.Signals(sig).name})" in page
        assert f"INTERRUPTED ({signal.Signals(sig).name})" in output
        assert all(html.escape(case.name) in page for case in cases), output
    assert ours(fast_server) == [], output
    with admin(fast_server) as c:
        assert c.get(f"/_inference/{PRE_EXISTING}").text == before
