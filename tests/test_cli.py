"""The ``elsercheck`` command line, run as real subprocesses (README: serve, run, exit codes)."""

from __future__ import annotations

import json
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

from elsercheck.reference.config import DEFAULT_PASSWORD
from elsercheck.reference.versions import NEWEST, RELEASES

from . import process_watch
from .process_watch import DescendantWatcher
from .secret_scan import assert_no_secret

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
def serve(
    *args: str, command: list[str] | None = None, env: dict[str, str] | None = None
) -> Iterator[Served]:
    process = subprocess.Popen(
        [*(command or [CONSOLE_SCRIPT]), "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or _env(),
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
    *args: str, timeout: float = 60.0, env: dict[str, str] | None = None,
    watch: DescendantWatcher | None = None,
) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """The CLI as a subprocess; ``watch`` (not started yet) follows its children."""
    with subprocess.Popen(
        [CONSOLE_SCRIPT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**_env(), **(env or {})},
    ) as process:  # fmt: skip
        if watch is not None:
            watch.start(process.pid)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        finally:
            if watch is not None:
                watch.stop()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _no_secret_written_or_on_argv(
    watch: DescendantWatcher, reports: Path, result: subprocess.CompletedProcess[str]
) -> None:
    """The embedded server's generated password reached the gate's pytest and locust through
    their environment only: not their argv, not a file under ``reports``, not the output."""
    passwords = {c.env["ELASTICSEARCH_PASSWORD"] for c in watch.children.values()
                 if "ELASTICSEARCH_PASSWORD" in c.env}  # fmt: skip
    assert len(passwords) == 1, f"children seen: {[c.argv[:4] for c in watch.children.values()]}"
    roles = {"pytest": False, "locust": False}
    for child in watch.children.values():
        for role in roles:
            roles[role] |= role in " ".join(child.argv[:3])
    assert all(roles.values()), roles  # both kinds of children were seen
    texts = {f"argv of {c.pid}": "\0".join(c.argv) for c in watch.children.values()}
    texts |= {"stdout": result.stdout, "stderr": result.stderr}
    assert_no_secret(passwords.pop(), username="elastic", paths=[reports], texts=texts)


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
    # Port 0: the server binds a free port itself and its banner names it.
    with serve("--port", "0", "--timing", "fast", command=command) as served:
        assert re.fullmatch(r"http://127\.0\.0\.1:[1-9]\d*", served.url), served.url
        # The operator's own password (ELASTIC_PASSWORD) is never printed.
        banner = "\n".join(served.banner)
        assert "credentials: elastic / the password in ELASTIC_PASSWORD" in banner
        assert_no_secret(PASSWORD, username="elastic", texts={"banner": banner})
        response = httpx.get(served.url + "/", auth=("elastic", PASSWORD), timeout=10)
        assert response.status_code == 200
        assert response.headers["x-elastic-product"] == "Elasticsearch"
        assert response.json()["version"]["number"] == RELEASES[NEWEST].number
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


def test_serve_prints_the_password_it_chose_itself() -> None:
    env = {k: v for k, v in _env().items() if k != "ELASTIC_PASSWORD"}
    with serve("--port", "0", "--timing", "fast", env=env) as served:
        assert f"credentials: elastic / {DEFAULT_PASSWORD}" in "\n".join(served.banner)
        response = httpx.get(served.url + "/", auth=("elastic", DEFAULT_PASSWORD), timeout=10)
        assert response.status_code == 200


def test_serve_tls_is_verifiable_with_written_ca(tmp_path: Path) -> None:
    tls_dir = tmp_path / "tls"
    with serve("--port", "0", "--timing", "fast", "--tls", "--tls-dir", str(tls_dir)) as s:
        port = int(s.url.rsplit(":", 1)[1])
        assert s.url == f"https://127.0.0.1:{port}" and port != 0
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
        assert [e["inference_id"] for e in listed.json()["endpoints"]] == [
            ".elser-2-elasticsearch", ".multilingual-e5-small-elasticsearch",
            ".rerank-v1-elasticsearch",
        ]  # the three preconfigured endpoints (ES ElasticsearchInternalService.defaultConfigs)  # fmt: skip


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


def test_serve_restarts_at_once_on_the_port_it_just_used() -> None:
    """A connection the server closed leaves its port in TIME_WAIT for about 60 s; a restarted
    server must still bind it (SO_REUSEADDR, no bind-and-close probe without it)."""
    with serve("--port", "0", "--timing", "fast") as first:
        port = int(first.url.rsplit(":", 1)[1])
        closed = httpx.get(first.url + "/", auth=("elastic", PASSWORD),
                           headers={"Connection": "close"}, timeout=10)  # fmt: skip
        assert closed.status_code == 200 and closed.headers["connection"] == "close"
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=STOP_TIMEOUT) == 0
    with serve("--port", str(port), "--timing", "fast") as second:
        assert second.url == first.url
        assert httpx.get(second.url + "/", auth=("elastic", PASSWORD), timeout=10).is_success


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
    # A free port, so that an option wrongly accepted shows up as a server that started.
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
    watch = process_watch.watcher()
    # The timeout only catches a hang: on a busy machine the gate and the load run take their
    # time (every scaling wait inside is counted by the run itself, not by this timeout).
    result = run_cli("run", timeout=900, env={"ELSERCHECK_REPORTS": str(reports)}, watch=watch)
    # 4 only when the load machine (this one, busy) fell behind: inconclusive, said so, and
    # nothing failed; never the target's failure.
    assert result.returncode in (0, 4), result.stdout + result.stderr
    if result.returncode == 4:
        assert "inconclusive" in result.stdout and " FAIL " not in result.stdout, result.stdout
    if watch is not None:  # the password the run generated, learnt from its children
        _no_secret_written_or_on_argv(watch, reports, result)
    assert "PASSED" in result.stdout
    assert "FAILED" not in result.stdout
    assert_no_traceback(result.stderr)
    # gate, load, ingest stage and their reports, and the index linking them
    load_dir, ingest_dir = sorted((reports / "load").iterdir())
    assert ingest_dir.name == f"{load_dir.name}-ingest"
    for directory in (load_dir, ingest_dir):
        assert (directory / "report.html").is_file() and (directory / "summary.json").is_file()
    ingest = json.loads((ingest_dir / "summary.json").read_text())
    assert ingest["load"]["ingest"]["documents_acknowledged"] > 0, ingest["load"]["ingest"]
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
    from elsercheck.commands.options import embedded_allocation_wait
    from elsercheck.timing import PRESETS

    assert embedded_allocation_wait(PRESETS["fast"]) == 20.0
    assert embedded_allocation_wait(PRESETS["realistic"]) == 3 * (60 + 15 + 5)


# -- bad input, in-process: one line on stderr, exit 2, never a traceback ------------------------
def one_line_usage_error(code: int, capsys: pytest.CaptureFixture[str]) -> str:
    """The single stderr line of a command that returned ``code``; asserts it was exit 2."""
    err = capsys.readouterr().err
    assert code == 2, err
    assert_no_traceback(err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("elsercheck: error: "), err
    return lines[0]


@pytest.fixture
def no_target_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [name for name in os.environ if name.startswith("ELASTICSEARCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ELSERCHECK_REPORTS", str(tmp_path / "reports"))


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting a reference server fails the test (instead of serving, or hanging on main)."""
    from elsercheck.reference import serve as serve_module

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("a reference server was started despite the bad input")

    monkeypatch.setattr(serve_module, "run_foreground", started)
    monkeypatch.setattr(serve_module, "EmbeddedServer", started)


BAD_URLS = {
    "ipv6-unclosed": ("http://[::1", "Invalid IPv6 URL"),
    "port-not-a-number": ("http://127.0.0.1:abc", "Port could not be cast"),
    "port-out-of-range": ("http://127.0.0.1:99999", "Port out of range"),
    "newline": ("http://127.0.0.1:9200\n", "whitespace or a control character"),
    "newline-inside": ("http://127.0.0.1:92\n00", "whitespace or a control character"),
    "secret-in-bad-url": ("http://elastic:s3cret@[::1", "Invalid IPv6 URL"),
}


@pytest.mark.parametrize("command", ["gate", "load", "run"])
@pytest.mark.parametrize("case", list(BAD_URLS))
@pytest.mark.usefixtures("no_target_env", "nothing_starts")
def test_bad_url_is_a_one_line_usage_error(
    command: str, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from elsercheck.cli import main

    url, reason = BAD_URLS[case]
    line = one_line_usage_error(main([command, "--url", url]), capsys)
    assert "invalid URL" in line and reason in line, line
    assert "s3cret" not in line


@pytest.mark.usefixtures("no_target_env", "nothing_starts")
def test_bad_url_from_the_environment_is_a_one_line_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from elsercheck.cli import main

    monkeypatch.setenv("ELASTICSEARCH_URL", "http://127.0.0.1:9200\n")  # e.g. a CI secret file
    line = one_line_usage_error(main(["gate"]), capsys)
    assert "invalid URL 'http://127.0.0.1:9200\\n'" in line, line


@contextmanager
def json_service(body: bytes, headers: dict[str, str] | None = None) -> Iterator[str]:
    """A JSON HTTP service that answers every request 200 with ``body``; yields its URL."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from elsercheck.reference.serve import ThreadedServer

    async def answer(request: Request) -> Response:
        return Response(body, media_type="application/json", headers=headers)

    methods = ["GET", "HEAD", "PUT", "POST", "DELETE"]
    app = Starlette(routes=[Route("/{path:path}", answer, methods=methods)])
    with ThreadedServer(app) as server:
        yield server.url


NOT_ELASTICSEARCH = {
    "version-is-a-string": b'{"version": "1.0"}',  # was: AttributeError after the whole suite
    "other-json-object": b'{"status": "ok"}',
    "json-array": b"[]",
    "version-without-number": b'{"version": {"build": "x"}, "tagline": "hi"}',
}


@pytest.mark.parametrize("command", ["gate", "load", "run"])
@pytest.mark.parametrize("case", list(NOT_ELASTICSEARCH))
@pytest.mark.usefixtures("no_target_env")
def test_json_service_that_is_not_elasticsearch_is_refused_up_front(
    command: str, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from elsercheck.cli import main

    report_dir = tmp_path / "gate"
    with json_service(NOT_ELASTICSEARCH[case]) as url:
        args = [command, "--url", url, "--max-examples", "1"] if command != "load" else [
            command, "--url", url, "--duration", "5",
        ]  # fmt: skip
        if command == "gate":
            args += ["--report-dir", str(report_dir)]
        line = one_line_usage_error(main(args), capsys)
    assert f"{url} does not look like Elasticsearch" in line, line
    assert not (report_dir / "junit.xml").exists()  # refused before the suite ran


@pytest.mark.parametrize(
    ("body", "headers", "version"),
    [
        (b'{"version": {"number": "9.1.5"}}', None, "9.1.5"),  # no header: the gate reports it
        (b'{"name": "n"}', {"X-elastic-product": "Elasticsearch"}, "?"),  # header, odd body
    ],
    ids=["version-number-only", "product-header-only"],
)
def test_check_reachable_accepts_either_sign_of_elasticsearch(
    body: bytes, headers: dict[str, str] | None, version: str
) -> None:
    from elsercheck.smoke import check_reachable, version_of
    from elsercheck.target import Target, TargetError

    with json_service(body, headers) as url:
        target = Target(url)
        with target.client(timeout=10) as client:
            info = check_reachable(client, target, require_product=False)
            assert version_of(info) == version
            if headers is None:  # the smoke scenario needs the product header
                with pytest.raises(TargetError, match="no X-elastic-product header"):
                    check_reachable(client, target)


BAD_TIMING = {
    "infinite-download": (["--model-download-seconds", "inf"], "must be a finite number"),
    "overflow-to-inf": (["--deployment-start-seconds", "1e400"], "must be a finite number"),
    "nan-tick": (["--scaler-tick-seconds", "nan"], "must be a finite number"),
    "zero-tick": (["--scaler-tick-seconds", "0"], "must be above 0"),
    "negative-cooldown": (["--scale-down-cooldown-seconds", "-1"], "must not be negative"),
    "fraction-above-one": (["--thread-parallel-fraction", "1.5"], "must be at most 1"),
}


@pytest.mark.parametrize("command", ["serve", "gate", "load", "run"])
@pytest.mark.parametrize("case", list(BAD_TIMING))
@pytest.mark.usefixtures("no_target_env", "nothing_starts")
def test_bad_timing_override_is_a_one_line_usage_error(
    command: str, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from elsercheck.cli import main

    args, reason = BAD_TIMING[case]
    try:
        code = main([command, *args])
    except SystemExit as exc:  # the load options' own parser refused it: usage + one error line
        err = capsys.readouterr().err
        assert exc.code == 2 and command in ("load", "run"), err
        assert_no_traceback(err)
        last = err.strip().splitlines()[-1]
        assert last.startswith("elsercheck") and f"argument {args[0]}" in last, err
        return
    line = one_line_usage_error(code, capsys)
    assert f"{args[0]} {reason}" in line, line


def test_timing_refuses_out_of_bounds_values_from_python() -> None:
    from elsercheck.timing import PRESETS, Timing, TimingError

    for name, value in [
        ("model_download_seconds", float("inf")),
        ("scaler_tick_seconds", float("nan")),
        ("scaler_tick_seconds", 0.0),
        ("put_timeout_seconds", -0.5),
        ("thread_parallel_fraction", 1.01),
    ]:
        with pytest.raises(TimingError, match=f"^{name} must"):
            Timing(**{name: value})
        with pytest.raises(TimingError, match=f"^{name} must"):
            PRESETS["fast"].with_overrides(**{name: value})
    assert Timing(model_download_seconds=0.0, thread_parallel_fraction=1.0).scaler_tick_seconds


@pytest.mark.parametrize(
    ("given", "embedded_zero_wait", "allocation_wait", "zero_wait"),
    [
        ([], None, None, None),  # a cluster: the suite's own 300 s, scale-from-zero skipped
        (["--allocation-wait", "45", "--scale-to-zero-wait", "90"], None, "45", 90.0),
        ([], 8.0, "embedded", 8.0),  # the embedded server: both from its timing
        (["--allocation-wait", "12.5"], 8.0, "12.5", 8.0),
    ],
)
def test_gate_waits_are_options(
    monkeypatch: pytest.MonkeyPatch,
    given: list[str],
    embedded_zero_wait: float | None,
    allocation_wait: str | None,
    zero_wait: float | None,
) -> None:
    from elsercheck import cli, gate
    from elsercheck.commands import gate as gate_command
    from elsercheck.commands.options import embedded_allocation_wait, timing
    from elsercheck.gate_report import GateSummary
    from elsercheck.target import Target

    seen: dict[str, object] = {}

    def fake_run_gate(target, run_id, report_dir, workers, max_examples, zero, extra):  # type: ignore[no-untyped-def]
        seen.update(zero=zero, extra=extra)
        return gate.GateResult(0, GateSummary([]), Path("junit.xml"), Path("gate.html"))

    monkeypatch.setattr(gate, "run_gate", fake_run_gate)
    args = cli.build_parser().parse_args(["gate", *given])
    gate_command.stage(args, Target("http://127.0.0.1:9"), "run1", embedded_zero_wait)
    expected = (
        embedded_allocation_wait(timing(args)) if allocation_wait == "embedded" else allocation_wait
    )
    assert seen["extra"] == (
        [] if expected is None else ["--allocation-wait", f"{float(expected):g}"]
    )
    assert seen["zero"] == zero_wait


@pytest.mark.parametrize("value", ["0", "-3", "nan", "inf", "soon"])
def test_gate_wait_options_reject_nonsense(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    from elsercheck.cli import main

    for option in ("--allocation-wait", "--scale-to-zero-wait"):
        with pytest.raises(SystemExit) as usage:
            main(["gate", option, value])
        assert usage.value.code == 2
        assert f"{option}: expected a positive number" in capsys.readouterr().err
