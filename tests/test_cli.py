"""The ``elsercheck`` command line, run as real subprocesses (README: serve, run, exit codes)."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

BIN = Path(sys.executable).parent
CONSOLE_SCRIPT = str(BIN / "elsercheck")
MODULE = [sys.executable, "-m", "elsercheck"]
PASSWORD = "cli-test-password"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
BANNER_END = "Ctrl-C to stop"


def _env() -> dict[str, str]:
    """The test's environment without ELASTICSEARCH_* targets, with a known password."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELASTICSEARCH_")}
    env["ELASTIC_PASSWORD"] = PASSWORD
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Served:
    process: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    banner: list[str] = field(default_factory=list)
    url: str = ""

    def pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def read_banner(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self.banner or BANNER_END not in self.banner[-1]:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no banner in {START_TIMEOUT}s: {self.banner}"
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"serve exited early: {self.banner} {self.stderr()}"
            self.banner.append(line)
        match = re.search(r" at (https?://\S+)$", self.banner[0])
        assert match, self.banner
        self.url = match.group(1)
        # The port is bound before the banner, listened on just after it: wait until it listens.
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, f"{self.url} never listened"
                assert self.process.poll() is None, f"serve exited: {self.stderr()}"
                time.sleep(0.01)

    @property
    def port(self) -> int:
        """The port the server bound (``--port 0``: the one the OS gave it), from its banner."""
        return int(self.url.rsplit(":", 1)[1])

    def rest_of_stdout(self) -> list[str]:
        rest = []
        while (line := self.lines.get(timeout=STOP_TIMEOUT)) is not None:
            rest.append(line)
        return rest

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read()


@contextmanager
def serve(*args: str, command: list[str] | None = None) -> Iterator[Served]:
    process = subprocess.Popen(
        [*(command or [CONSOLE_SCRIPT]), "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    served = Served(process)
    threading.Thread(target=served.pump, daemon=True).start()
    try:
        served.read_banner()
        yield served
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def run_cli(
    *args: str, timeout: float = 60.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CONSOLE_SCRIPT, *args], capture_output=True, text=True, timeout=timeout,
        env={**_env(), **(env or {})},
    )  # fmt: skip


def assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text, text
    assert 'File "' not in text, text


# -- serve ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sig,command",
    [(signal.SIGTERM, None), (signal.SIGINT, None), (signal.SIGTERM, MODULE)],
    ids=["sigterm", "sigint", "sigterm-python-m"],
)
def test_serve_answers_and_stops_cleanly(sig: signal.Signals, command: list[str] | None) -> None:
    with serve("--port", "0", "--timing", "fast", command=command) as served:
        assert served.port != 0 and served.url == f"http://127.0.0.1:{served.port}"
        assert f"credentials: elastic / {PASSWORD}" in "\n".join(served.banner)
        response = httpx.get(served.url + "/", auth=("elastic", PASSWORD), timeout=10)
        assert response.status_code == 200
        assert response.headers["x-elastic-product"] == "Elasticsearch"
        assert response.json()["version"]["number"].startswith("9.1.")
        anonymous = httpx.get(served.url + "/", timeout=10)
        assert anonymous.status_code == 401

        served.process.send_signal(sig)
        try:
            code = served.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"serve still running {STOP_TIMEOUT}s after {sig.name}")
        stderr = served.stderr()
        assert code == 0, f"exit code {code} after {sig.name}; stderr: {stderr!r}"
        assert_no_traceback(stderr)
        assert "stopped" in served.rest_of_stdout()


def test_serve_tls_is_verifiable_with_written_ca(tmp_path: Path) -> None:
    tls_dir = tmp_path / "tls"
    with serve("--port", "0", "--timing", "fast", "--tls", "--tls-dir", str(tls_dir)) as s:
        port = s.port
        assert port != 0 and s.url == f"https://127.0.0.1:{port}"
        ca = tls_dir / "ca.crt"
        assert f"CA certificate: {ca}" in "\n".join(s.banner)
        assert ca.is_file()
        verify = ssl.create_default_context(cafile=str(ca))
        response = httpx.get(s.url + "/", auth=("elastic", PASSWORD), verify=verify, timeout=10)
        assert response.status_code == 200
        assert response.headers["x-elastic-product"] == "Elasticsearch"
        for host in ("localhost", "127.0.0.1"):  # the certificate names both
            url = f"https://{host}:{port}/"
            assert httpx.get(url, verify=verify, timeout=10).status_code == 401
        with pytest.raises(httpx.ConnectError):  # not trusted without the CA
            httpx.get(s.url + "/", verify=ssl.create_default_context(), timeout=10)
        with pytest.raises(httpx.HTTPError):  # no plain HTTP on the TLS port
            httpx.get(f"http://127.0.0.1:{port}/", timeout=10).raise_for_status()


def test_serve_no_security_answers_without_credentials() -> None:
    with serve("--port", "0", "--timing", "fast", "--no-security") as served:
        assert "security: off" in "\n".join(served.banner)
        assert "credentials" not in "\n".join(served.banner)
        root = httpx.get(served.url + "/", timeout=10)
        assert root.status_code == 200
        assert root.headers["x-elastic-product"] == "Elasticsearch"
        listed = httpx.get(served.url + "/_inference/_all", timeout=10)
        assert listed.status_code == 200
        assert [e["inference_id"] for e in listed.json()["endpoints"]] == [".elser-2-elasticsearch"]


def test_serve_port_in_use_is_a_one_line_usage_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--timing", "fast", timeout=30)
    assert result.returncode == 2, result
    assert_no_traceback(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("elsercheck: error:"), lines
    assert str(port) in lines[0]
    assert "Ctrl-C to stop" not in result.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["--port", "abc"], "invalid int value: 'abc'"),
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--timing", "nope"], "invalid choice: 'nope'"),
        (["--scaler-tick-seconds", "-1"], "--scaler-tick-seconds must not be negative"),
        (["--model-download-seconds", "soon"], "invalid float value: 'soon'"),
    ],
    ids=["port-abc", "port-range", "timing-nope", "negative-duration", "duration-not-a-number"],
)
def test_serve_bad_options_exit_2(args: list[str], message: str) -> None:
    # Any free port (0), so that an option wrongly accepted shows up as a server that started.
    result = run_cli("serve", "--port", "0", *args, timeout=30)
    assert result.returncode == 2, result
    assert_no_traceback(result.stderr)
    assert message in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(("elsercheck", "usage"))
    assert "Ctrl-C to stop" not in result.stdout


# -- run -----------------------------------------------------------------------------------------
@pytest.mark.slow  # the smoke scenario plus the whole conformance gate
def test_run_passes_against_embedded_server(tmp_path: Path) -> None:
    # Its own reports root: no history from other runs on this machine to compare with.
    reports = tmp_path / "reports"
    # The timeout only catches a hang: on a busy machine the gate and the load run take their
    # time (every scaling wait inside is counted by the run itself, not by this timeout).
    result = run_cli("run", timeout=900, env={"ELSERCHECK_REPORTS": str(reports)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED" in result.stdout
    assert "FAILED" not in result.stdout
    assert_no_traceback(result.stderr)
    # gate, load and report, and the index linking them
    (load_dir,) = (reports / "load").iterdir()
    assert (load_dir / "report.html").is_file() and (load_dir / "summary.json").is_file()
    assert (reports / "gate" / load_dir.name / "junit.xml").is_file()
    assert (reports / "index.html").is_file() and f"open {reports / 'index.html'}" in result.stdout
    assert "scale-up@up" in result.stdout and "no baseline in the history yet" in result.stdout


def test_run_against_unreachable_url_exits_2() -> None:
    with socket.socket() as bound:  # bound, never listening, held for the run: refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        result = run_cli("run", "--url", f"http://127.0.0.1:{port}", timeout=60)
    assert result.returncode == 2, result
    assert_no_traceback(result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot reach" in lines[0]
    assert f"127.0.0.1:{port}" in lines[0]


def test_version() -> None:
    result = subprocess.run(
        [*MODULE, "--version"], capture_output=True, text=True, timeout=30, env=_env()
    )
    assert result.returncode == 0, result
    assert re.fullmatch(r"elsercheck \d+\.\d+\.\d+\S*\n", result.stdout), result.stdout


def test_embedded_gate_waits_for_allocation_as_long_as_its_timing_needs() -> None:
    from elsercheck.cli import embedded_allocation_wait
    from elsercheck.reference.timing import PRESETS

    assert embedded_allocation_wait(PRESETS["fast"]) == 20.0
    assert embedded_allocation_wait(PRESETS["realistic"]) == 3 * (60 + 15 + 5)
