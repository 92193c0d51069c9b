"""`elsercheck load` end to end against the reference server (fast timing), locust in children.

Locust itself never runs in the pytest process (it monkey-patches gevent into whatever imports
it): the command under test starts it as child processes, as users would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from elsercheck.cli import main
from elsercheck.endpoints import elser_body
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.reference.versions import NEWEST, RELEASES
from elsercheck.retry import retrying
from elsercheck.runs import rundir
from elsercheck.timing import PRESETS
from tests import process_watch
from tests.loadrun_fixtures import assert_load_verdict
from tests.process_watch import wait_gone
from tests.secret_scan import assert_no_secret

PASSWORD = "load-test-secret-9f3"
PRE_EXISTING = "customer-elser"  # an endpoint the run must not touch

pytestmark = pytest.mark.slow


@pytest.fixture
def fast_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(ServerConfig(password=PASSWORD, timing=PRESETS["fast"])) as running:
        with httpx.Client(base_url=running.url, auth=("elastic", PASSWORD), timeout=60) as c:
            assert (
                c.put(f"/_inference/sparse_embedding/{PRE_EXISTING}", json=elser_body()).status_code
                == 200
            )
        yield running


def admin(server: EmbeddedServer) -> httpx.Client:
    """The test's own client: it retries the 502/503 a proxy-5xx server answers at random, as
    every elsercheck client does (elsercheck.retry), so the bookkeeping is not the fault's."""
    return httpx.Client(
        base_url=server.url, auth=("elastic", PASSWORD), timeout=60, transport=retrying()
    )


def endpoint_ids(server: EmbeddedServer) -> list[str]:
    with admin(server) as c:
        return sorted(e["inference_id"] for e in c.get("/_inference/_all").json()["endpoints"])


def snapshot(server: EmbeddedServer) -> str:
    with admin(server) as c:
        return c.get(f"/_inference/{PRE_EXISTING}").text


def run_cli(server: EmbeddedServer, tmp_path: Path, *options: str,
            monkeypatch: pytest.MonkeyPatch, userinfo: bool = False) -> tuple[int, Path]:  # fmt: skip
    """``elsercheck load``; credentials in the environment, or in the URL with ``userinfo``."""
    url = server.url
    if userinfo:  # elastic:<password>@ — elsercheck must take it out of the URL at once
        monkeypatch.delenv("ELASTICSEARCH_USERNAME", raising=False)
        monkeypatch.delenv("ELASTICSEARCH_PASSWORD", raising=False)
        url = url.replace("://", f"://elastic:{quote(PASSWORD, safe='')}@", 1)
    else:
        monkeypatch.setenv("ELASTICSEARCH_USERNAME", "elastic")
        monkeypatch.setenv("ELASTICSEARCH_PASSWORD", PASSWORD)
    out = tmp_path / "run"
    code = main(["load", "--url", url, "--timing", "fast",
                 "--load-report-dir", str(out), *options])  # fmt: skip
    return code, out


def no_secret_anywhere(directory: Path, **texts: str) -> None:
    """No file of the run, nor the given output, holds the password in any encoding."""
    assert_no_secret(PASSWORD, username="elastic", paths=[directory], texts=texts)


def record_children(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], dict[str, str]]]:
    """Each child process the run starts: its command line as the kernel has it
    (/proc/<pid>/cmdline, where available) and its environment."""
    started: list[tuple[list[str], dict[str, str]]] = []
    real = subprocess.Popen

    def popen(command, *args, **kwargs):  # type: ignore[no-untyped-def]
        process = real(command, *args, **kwargs)
        cmdline = Path(f"/proc/{process.pid}/cmdline")
        argv = list(command)
        with contextlib.suppress(OSError):  # Popen returns once the child has exec'd
            argv = cmdline.read_bytes().decode(errors="replace").split("\0")
        started.append((argv, dict(kwargs.get("env") or {})))
        return process

    monkeypatch.setattr("elsercheck.load.runner.subprocess.Popen", popen)
    return started


def test_a_headless_cycle_scales_up_down_to_zero_and_back(
    fast_server, tmp_path, monkeypatch, capsys
):
    before_ids, before = endpoint_ids(fast_server), snapshot(fast_server)
    children = record_children(monkeypatch)
    code, out = run_cli(
        fast_server, tmp_path, "--shape", "cycle", monkeypatch=monkeypatch, userinfo=True
    )
    captured = capsys.readouterr()
    printed = captured.out
    expectations = assert_load_verdict(code, out, printed + (out / "locust.log").read_text())

    for name in (rundir.REQUESTS_CSV, rundir.ALLOCATIONS_CSV, rundir.EXPECTATIONS_JSON,
                 rundir.RUN_JSON, "locust_stats.csv", "locust_stats_history.csv", "locust.html"):  # fmt: skip
        assert (out / name).is_file(), name
    header = (out / rundir.ALLOCATIONS_CSV).read_text().splitlines()[0].split(",")
    assert {"allocation_count", "target_allocation_count", "number_of_pending_requests",
            "average_inference_time_ms", "rejected_execution_count", "timeout_count"} <= set(header)  # fmt: skip

    rows = [r for r in rundir.read_csv(out / rundir.ALLOCATIONS_CSV) if not r["poll_error"]]
    counts = [r["allocation_count"] for r in rows]
    peak_at = counts.index(max(counts))
    assert max(counts) >= 3  # up under the peak load (max 4)
    assert min(counts[peak_at:]) == 0  # down, then to zero while idle
    assert counts[-1] >= 1  # back from zero when the load returned

    assert set(expectations) >= {"scale-up@up", "scale-down@down", "zero@idle", "from-zero@reload"}

    requests = list(rundir.read_csv(out / rundir.REQUESTS_CSV))
    inference = [r for r in requests if r["request_type"] == "POST"]
    assert len(inference) > 300
    assert any(r["error_kind"] == "409" for r in inference)  # the scale-from-zero answer
    # Exact latencies: not rounded to two significant digits like locust's own percentiles.
    assert any(r["latency_ms"] != float(f"{r['latency_ms']:.2g}") for r in inference)
    assert {r["name"] for r in requests if r["request_type"] == "LIFECYCLE"} >= {
        "create", "time_to_fully_allocated", "infer once", "delete"}  # fmt: skip
    # Every arrival carries its lateness against the open-loop schedule; run.json sums it up.
    assert all(r["schedule_lag_ms"] is not None and r["schedule_lag_ms"] >= 0 for r in inference)
    assert all(r["schedule_lag_ms"] is None for r in requests if r["request_type"] == "LIFECYCLE")

    run = json.loads((out / rundir.RUN_JSON).read_text())
    assert run["shape"] == "cycle" and run["target_version"] == RELEASES[NEWEST].number
    assert "elastic" not in run["target"] and run["exit_code"] == code
    made = run["generator"]["arrivals"] - run["generator"]["unmade"]
    assert made == len(inference) and run["generator"]["lag_ms"]["max"] >= 0
    assert "scale-up@up" in printed and "files:" in printed

    assert endpoint_ids(fast_server) == before_ids  # everything the run created is gone
    assert snapshot(fast_server) == before
    assert not (out / rundir.LEFTOVERS_TXT).exists()
    no_secret_anywhere(out, stdout=printed, stderr=captured.err)
    # The password given in --url reached locust through its environment, not its argv.
    assert children and all(env.get("ELASTICSEARCH_PASSWORD") == PASSWORD for _, env in children)
    no_secret_anywhere(
        out, **{f"argv {i}": "\0".join(argv) for i, (argv, _) in enumerate(children)}
    )


def test_distributed_with_two_workers_ships_every_sample(
    fast_server, tmp_path, monkeypatch, capsys
):
    before_ids = endpoint_ids(fast_server)
    children = record_children(monkeypatch)
    code, out = run_cli(fast_server, tmp_path, "--shape", "spike", "--workers", "2",
                        "--users", "30", "--lifecycle-users", "0", monkeypatch=monkeypatch)  # fmt: skip
    log = (out / "locust.log").read_text()
    assert code in (0, 1, 4), capsys.readouterr().out + log
    run = json.loads((out / rundir.RUN_JSON).read_text())
    assert run["workers"] == 2
    stats = {r["Name"]: r for r in rundir.read_csv(out / "locust_stats.csv")}
    samples = list(rundir.read_csv(out / rundir.REQUESTS_CSV))
    assert len(samples) == stats["Aggregated"]["Request Count"] > 100
    # The workers' rows carry each arrival's lateness to the master's run.json.
    assert all(r["schedule_lag_ms"] is not None for r in samples if r["request_type"] == "POST")
    generator = run["generator"]
    assert generator["sent"] + generator["backlog"] == len(samples)
    assert (
        max(r["allocation_count"] or 0 for r in rundir.read_csv(out / rundir.ALLOCATIONS_CSV)) >= 2
    )
    assert endpoint_ids(fast_server) == before_ids
    assert len(children) == 3  # a master and two workers, secrets in their environment only
    no_secret_anywhere(
        out, **{f"argv {i}": "\0".join(argv) for i, (argv, _) in enumerate(children)}
    )


def ours(server: EmbeddedServer) -> list[str]:
    return [i for i in endpoint_ids(server) if i.startswith("elsercheck-")]


@pytest.mark.parametrize(
    ("sig", "to"),
    [(signal.SIGINT, "group"), (signal.SIGTERM, "group"), (signal.SIGHUP, "pid")],
    ids=["ctrl-c", "sigterm-to-group", "sighup-to-pid"],
)
def test_a_signal_stops_the_run_writes_its_files_and_deletes_what_it_created(
    fast_server, tmp_path, sig, to
):
    """Ctrl-C, SIGTERM to the job (CI cancellation, ``docker stop``, systemd, Kubernetes) and
    SIGHUP to the process alone (a closed terminal): exit 128 + n, nothing of the run left on
    the target or running, and what was measured so far written."""
    before_ids, before = endpoint_ids(fast_server), snapshot(fast_server)
    out = tmp_path / "run"
    env = {**os.environ, "ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": PASSWORD}
    process = subprocess.Popen(
        [sys.executable, "-m", "elsercheck", "load", "--url", fast_server.url, "--timing", "fast",
         "--shape", "step", "--load-report-dir", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )  # fmt: skip
    watch = process_watch.watcher(interval=0.2)
    if watch:
        watch.start(process.pid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not ours(fast_server):
        time.sleep(0.2)
    assert ours(fast_server), "the run never created its endpoint"
    time.sleep(2)
    if to == "group":
        os.killpg(process.pid, sig)
    else:
        os.kill(process.pid, sig)
    output, _ = process.communicate(timeout=90)
    assert process.returncode == 128 + sig, output  # 130, 143, 129
    assert "Traceback" not in output
    assert endpoint_ids(fast_server) == before_ids
    assert snapshot(fast_server) == before
    for name in (rundir.RUN_JSON, rundir.EXPECTATIONS_JSON, rundir.REQUESTS_CSV):
        assert (out / name).is_file(), f"{name} not written; {output}"
    run = json.loads((out / rundir.RUN_JSON).read_text())
    assert run["interrupted_by"] == signal.Signals(sig).name
    assert run["exit_code"] == 128 + sig and run["leftovers"] == []
    assert isinstance(json.loads((out / rundir.EXPECTATIONS_JSON).read_text()), list)
    if watch:
        watch.stop()
        assert watch.children, "no locust process seen"
        assert wait_gone(list(watch.children), 5) == [], "locust outlived the run"


def test_unreachable_target_is_one_line_exit_2(tmp_path, capsys):
    code = main(["load", "--url", "http://127.0.0.1:9", "--load-report-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "error" in err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--min-allocations", "5", "--max-allocations", "2"], "must not exceed"),
        (["--shape", "idle-to-zero", "--timing", "realistic"], "--scale-to-zero-seconds"),
        # the default ingest rate reads the corpus (tests/ holds none of its files)
        (["--workload", "ingest", "--corpus", str(Path(__file__).parent)], "--corpus: corpus"),
    ],
)
def test_bad_options_are_one_line_exit_2(options, message, capsys):
    code = main(["load", "--url", "http://127.0.0.1:9", *options])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_under_proxy_errors_the_run_records_them_continues_and_stops_in_time(tmp_path, monkeypatch):
    config = ServerConfig(password=PASSWORD, timing=PRESETS["fast"],
                          faults=frozenset({"proxy-5xx", "latency-spikes"}))  # fmt: skip
    with EmbeddedServer(config) as server:
        before_ids = endpoint_ids(server)
        started = time.monotonic()
        code, out = run_cli(server, tmp_path, "--shape", "spike", "--lifecycle-users", "0",
                            monkeypatch=monkeypatch)  # fmt: skip
        elapsed = time.monotonic() - started
        assert code == 1  # the undocumented 502/503s fail "errors-documented"
        assert elapsed < 18 + 60  # the shape's length + start-up and cleanup
        expectations = {
            e["name"]: e for e in json.loads((out / rundir.EXPECTATIONS_JSON).read_text())
        }
        assert expectations["errors-documented"]["status"] == "FAIL"
        assert expectations["errors-documented"]["observed"].get("5xx", 0) > 0
        inference = [
            r for r in rundir.read_csv(out / rundir.REQUESTS_CSV) if r["request_type"] == "POST"
        ]
        kinds = {r["error_kind"] for r in inference}
        assert "5xx" in kinds and "" in kinds  # errors recorded by kind, successes continued
        assert endpoint_ids(server) == before_ids


def test_https_with_a_private_ca(tmp_path, monkeypatch):
    # A machine-wide CA bundle in the environment must not override --ca-certs (psf/requests#3829).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    config = ServerConfig(password=PASSWORD, tls=True, timing=PRESETS["fast"])
    with EmbeddedServer(config, tls_dir=tmp_path / "tls") as server:
        assert server.url.startswith("https://")
        ca = str(tmp_path / "tls" / "ca.crt")
        # A third of the default peak: each request in flight holds its own TLS connection, and at
        # the default peak the handshakes alone put the generator behind on a 2-core machine
        # shared with the server (generator-kept-up).
        code, out = run_cli(server, tmp_path, "--shape", "spike", "--ca-certs", ca,
                            "--peak-users", "12", monkeypatch=monkeypatch)  # fmt: skip
        assert_load_verdict(code, out, (out / "locust.log").read_text())
        inference = [
            r for r in rundir.read_csv(out / rundir.REQUESTS_CSV) if r["request_type"] == "POST"
        ]
        assert inference and all(r["error_kind"] == "" for r in inference)


def test_a_missing_endpoint_is_exit_2_with_the_reason(fast_server, tmp_path, monkeypatch, capsys):
    code, _ = run_cli(fast_server, tmp_path, "--shape", "spike", "--inference-id", "not-there",
                      monkeypatch=monkeypatch)  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "endpoint not-there not found" in err, err
    assert PASSWORD not in err


def test_duration_cuts_the_shape_short(fast_server, tmp_path, monkeypatch):
    started = time.monotonic()
    code, out = run_cli(fast_server, tmp_path, "--shape", "step", "--duration", "6",
                        "--lifecycle-users", "0", monkeypatch=monkeypatch)  # fmt: skip
    assert time.monotonic() - started < 23  # the step shape alone lasts 23 s
    run = json.loads((out / rundir.RUN_JSON).read_text())
    assert run["duration_s"] < 10
    expectations = {e["name"]: e for e in json.loads((out / rundir.EXPECTATIONS_JSON).read_text())}
    assert expectations["scale-down@down"]["status"] == "skipped"
    assert code in (0, 1, 4)  # 4: the load machine fell behind (inconclusive)


@pytest.mark.parametrize(("given", "reported"), [([], True), (["--no-report"], False)])
def test_a_load_run_writes_its_report_unless_no_report(
    fast_server, tmp_path, monkeypatch, capsys, given, reported
):
    """A newcomer's first `elsercheck load` ends with report.html and summary.json in the run
    directory (the run alone: nothing added to the history); --no-report: the summary only."""
    monkeypatch.setenv("ELSERCHECK_REPORTS", str(tmp_path / "reports"))
    code, out = run_cli(fast_server, tmp_path, "--shape", "constant", "--peak-users", "2",
                        "--duration", "4", "--lifecycle-users", "0", *given,
                        monkeypatch=monkeypatch)  # fmt: skip
    printed = capsys.readouterr().out
    assert code in (0, 4), printed  # 4: this busy machine's generator fell behind
    assert (out / "report.html").is_file() is reported, printed
    assert (out / "summary.json").is_file() is reported, printed
    assert (f"report: {out / 'report.html'}" in printed) is reported, printed
    assert not (tmp_path / "reports" / "history").exists()
