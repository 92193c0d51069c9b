"""Faults the suite must survive (issue 5 part 3): each injectable fault changes the reference
server's behaviour visibly over HTTP; the gate stays green through latency spikes and proxy
502/503s, is red (and bounded) when deployments never start, never leaves its endpoints behind
and never touches endpoints that existed before it ran."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from elsercheck.cli import main
from elsercheck.gate import run_gate
from elsercheck.reference.breakage.faults import (
    CATALOGUE,
    LATENCY_SECONDS,
    PROXY_PAGES,
    RESTART_AFTER_REQUESTS,
    RESTART_DOWN_SECONDS,
)
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.retry import RETRY_STATUSES, retrying
from elsercheck.target import Target
from elsercheck.timing import PRESETS
from tests.conftest import elser_body
from tests.gate_runs import (
    CleanGateRun,
    after_gate,
    create_pre_existing,
)
from tests.gate_runs import patient as _patient
from tests.secret_scan import assert_no_secret

PASSWORD = "fault-test-S3cret/+pw"
AUTH = ("elastic", PASSWORD)
PUT_TIMEOUT_S = 30.0  # a PUT's default `timeout` (es-behavior, PUT row: spec default 30s)


@pytest.fixture
def serve(request: pytest.FixtureRequest) -> Iterator[EmbeddedServer]:
    """A fast-timing secured server with the fault named by the test's parameter."""
    config = ServerConfig(password=PASSWORD, timing=PRESETS["fast"], faults={request.param})
    with EmbeddedServer(config) as server:
        yield server


def _client(server: EmbeddedServer, retry: bool = False) -> httpx.Client:
    transport = retrying() if retry else None
    return httpx.Client(base_url=server.url, auth=AUTH, timeout=30, transport=transport)


# -- registry ---------------------------------------------------------------------------------
def test_catalogue_sane() -> None:
    assert {"latency-spikes", "proxy-5xx", "slow-deployment-start"} <= set(CATALOGUE)
    for name, fault in CATALOGUE.items():
        assert name == fault.name and fault.description and "\n" not in fault.description
        hooked = fault.before is not None or fault.after is not None
        assert hooked == (fault.site == "app.dispatch"), name


def test_no_fault_by_default() -> None:
    from elsercheck.reference.app import create_app

    app = create_app(ServerConfig())
    assert app.config.faults == frozenset() and not app.faults
    assert not app.state.deployments.stalled


def test_unknown_fault_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        ServerConfig(faults=frozenset({"nope"}))


def test_unknown_fault_cli_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--fault", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown fault nope" in err


def test_list_faults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--list-faults"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(CATALOGUE)


# -- each fault's direct effect ---------------------------------------------------------------
@pytest.mark.parametrize("serve", ["latency-spikes"], indirect=True)
def test_latency_spikes(serve: EmbeddedServer) -> None:
    durations = []
    with _client(serve) as c:
        for _ in range(30):
            started = time.monotonic()
            assert c.get("/").status_code == 200
            durations.append(time.monotonic() - started)
    # Measured against the typical request of this run, in units of the injected delays
    # (0.5-1.5 s), so a slow machine shifts every duration alike and breaks nothing.
    typical = sorted(durations)[len(durations) // 2]
    slow = [d for d in durations if d - typical >= LATENCY_SECONDS[0] * 0.9]
    assert 1 <= len(slow) <= 10 and max(durations) - typical < LATENCY_SECONDS[1] + 0.5, durations
    assert typical < LATENCY_SECONDS[0] * 0.9  # most requests are not delayed


@pytest.mark.parametrize("serve", ["proxy-5xx"], indirect=True)
def test_proxy_5xx(serve: EmbeddedServer) -> None:
    with _client(serve) as c:
        answers = [c.get("/") for _ in range(60)]
        security = [c.get("/_security/_authenticate").status_code for _ in range(30)]
    failed = [r for r in answers if r.status_code != 200]
    assert 1 <= len(failed) <= 20, [r.status_code for r in answers]
    for response in failed:
        assert response.status_code in PROXY_PAGES
        assert response.headers["content-type"].startswith("text/html")
        assert "x-elastic-product" not in response.headers
    assert not set(security) & RETRY_STATUSES, security
    # The suite's retry policy hides them.
    with _client(serve, retry=True) as c:
        assert {c.get("/").status_code for _ in range(60)} == {200}


@pytest.mark.parametrize("serve", ["slow-deployment-start"], indirect=True)
def test_slow_deployment_start(serve: EmbeddedServer) -> None:
    with _client(serve) as c:
        started = time.monotonic()
        put = c.put("/_inference/sparse_embedding/stalled", json=elser_body())
        # Answered by the stall's own bound, not after the PUT's default timeout.
        assert put.status_code == 408 and time.monotonic() - started < PUT_TIMEOUT_S / 2
        assert put.json()["error"]["type"] == "status_exception"
        assert c.get("/_inference/stalled").status_code == 200  # stored, as ES does
        time.sleep(1)
        stats = c.get("/_ml/trained_models/stalled/_stats").json()
        state = stats["trained_model_stats"][0]["deployment_stats"]["allocation_status"]["state"]
        assert state != "fully_allocated"
        assert c.delete("/_inference/stalled").status_code == 200
        assert c.get("/_inference/stalled").status_code == 404


def test_retry_policy_does_not_retry_other_errors() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(int(request.url.path.strip("/")))

    from elsercheck.retry import RetryTransport

    transport = RetryTransport(httpx.MockTransport(handler), retries=3, backoff=0)
    with httpx.Client(base_url="http://x", transport=transport) as c:
        for status in (400, 408, 409, 429, 500, 504):
            calls.clear()
            assert c.get(f"/{status}").status_code == status and len(calls) == 1
        for status in (502, 503):
            calls.clear()
            assert c.get(f"/{status}").status_code == status and len(calls) == 4


# -- the gate survives them ---------------------------------------------------------------------
def _create_pre_existing(server: EmbeddedServer) -> dict[str, bytes]:
    """Endpoints outside the run prefix; their GET bodies before the gate runs."""
    return create_pre_existing(server, PASSWORD)


def _after_gate(server: EmbeddedServer, before: dict[str, bytes]) -> None:
    after_gate(server, before, PASSWORD)


def _gate(server: EmbeddedServer, tmp_path: Path, *extra: str, schema: bool = False):
    """The gate (a ``GateResult``); schema checks only where asked (once: they take long)."""
    target = Target(server.url, username="elastic", password=PASSWORD)
    markers = [] if schema else ["-m", "not schema"]
    return run_gate(target, "faulttest", tmp_path, workers="1", max_examples=5,
                    extra=[*markers, *extra])  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("serve", ["proxy-5xx", "latency-spikes"], indirect=True)
def test_gate_green_through_fault(serve: EmbeddedServer, tmp_path: Path) -> None:
    before = _create_pre_existing(serve)
    result = _gate(serve, tmp_path)
    assert result.exit_code == 0, result.summary.text([])
    assert result.summary.counts["passed"] > 30 and not result.summary.leftovers
    _after_gate(serve, before)


@pytest.mark.slow
@pytest.mark.parametrize("serve", ["slow-deployment-start"], indirect=True)
def test_gate_red_when_deployments_never_start(serve: EmbeddedServer, tmp_path: Path) -> None:
    before = _create_pre_existing(serve)
    started = time.monotonic()
    result = _gate(serve, tmp_path, "--allocation-wait", "2")
    assert result.exit_code == 1
    assert any("lifecycle" in case.name for case in result.summary.failures)
    # Bounded: no case sat out a PUT's default timeout (each stalled PUT answers 408 after
    # STALLED_PUT_WAIT_SECONDS), whatever the machine's speed; the run as a whole likewise.
    assert all(case.seconds < PUT_TIMEOUT_S for case in result.summary.cases), [
        (case.name, case.seconds) for case in result.summary.cases if case.seconds >= PUT_TIMEOUT_S
    ]
    waiting = len(result.summary.failures) * PUT_TIMEOUT_S
    assert time.monotonic() - started < waiting and not result.summary.leftovers
    _after_gate(serve, before)


@pytest.mark.parametrize("serve", ["dropped-connections"], indirect=True)
def test_dropped_connections_lose_answers_not_work(serve: EmbeddedServer) -> None:
    outcomes = []
    with _client(serve) as c:
        for _ in range(200):
            try:
                outcomes.append(c.get("/").status_code)
            except httpx.RemoteProtocolError:
                outcomes.append("lost")
        assert 0 < outcomes.count("lost") < 30 and outcomes.count(200) > 150
        lost_put = False
        for n in range(60):  # until one PUT's answer is lost; each endpoint deleted again
            path = f"/_inference/sparse_embedding/dropped-{n}"
            try:
                assert c.put(path, json=elser_body()).status_code == 200
            except httpx.RemoteProtocolError:
                lost_put = True
            # Processed either way: the endpoint exists although the answer may never have come.
            assert _patient(lambda n=n: c.get(f"/_inference/dropped-{n}")).status_code == 200
            _patient(lambda n=n: c.delete(f"/_inference/dropped-{n}"))
            if lost_put:
                break
        assert lost_put


@pytest.mark.slow
@pytest.mark.parametrize("serve", ["dropped-connections"], indirect=True)
def test_gate_under_dropped_connections_reports_and_leaves_nothing(
    serve: EmbeddedServer, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    before = _create_pre_existing(serve)
    # The whole gate: failures of the schema-driven checks are where Hypothesis prints a test's
    # arguments (flaky or failing examples), which once carried the password.
    result = _gate(serve, tmp_path, schema=True)
    output = capfd.readouterr()
    assert_no_secret(PASSWORD, username="elastic", paths=[tmp_path],
                     texts={"gate stdout": output.out, "gate stderr": output.err})  # fmt: skip
    # Lost answers are not retried (only proxy 502/503 are): the affected checks fail, by name,
    # with the transport error; nothing the run created is left behind.
    assert result.exit_code in (0, 1)
    assert result.summary.counts["passed"] > 30 and not result.summary.leftovers
    for case in result.summary.failures:
        if "test_operation_honours_schema" not in case.name:  # requests words it differently
            assert "RemoteProtocolError" in case.message or "peer closed" in case.message, case
    _after_gate(serve, before)


def test_server_restart_loses_answers_then_reloads_deployments() -> None:
    # A model load slow enough to watch the deployment come back after the restart.
    timing = PRESETS["fast"].with_overrides(deployment_start_seconds=3.0)
    config = ServerConfig(password=PASSWORD, timing=timing, faults={"server-restart"})
    with EmbeddedServer(config) as serve, _client(serve) as c:
        assert c.put("/_inference/sparse_embedding/kept", json=elser_body()).status_code == 200
        lost = 0
        for _ in range(RESTART_AFTER_REQUESTS):
            try:
                c.get("/")
            except httpx.RemoteProtocolError:
                lost += 1
        assert lost >= 1  # the restart began within these requests
        time.sleep(RESTART_DOWN_SECONDS)
        # Stored endpoints persist; the deployment reloads from zero allocations.
        assert _patient(lambda: c.get("/_inference/kept")).status_code == 200
        stats = c.get("/_ml/trained_models/kept/_stats").json()["trained_model_stats"][0]
        assert stats["deployment_stats"]["state"] == "starting"
        assert stats["deployment_stats"]["allocation_status"]["allocation_count"] == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            stats = c.get("/_ml/trained_models/kept/_stats").json()["trained_model_stats"][0]
            if stats["deployment_stats"]["allocation_status"]["allocation_count"] == 1:
                break
            time.sleep(0.1)
        assert stats["deployment_stats"]["state"] == "started"
        answer = c.post("/_inference/sparse_embedding/kept", json={"input": "back"})
        assert answer.status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize("serve", ["server-restart"], indirect=True)
def test_gate_through_a_server_restart_reports_and_leaves_nothing(
    serve: EmbeddedServer, tmp_path: Path
) -> None:
    before = _create_pre_existing(serve)
    result = _gate(serve, tmp_path)
    assert result.exit_code in (0, 1)
    assert result.summary.counts["passed"] > 30 and not result.summary.leftovers
    _after_gate(serve, before)


def test_gate_leaves_pre_existing_endpoints_untouched(clean_gate_run: CleanGateRun) -> None:
    # The shared run (tests/gate_runs.py): the whole gate, with the schema checks, against a
    # clean server holding endpoints from before. The stats of a cluster that already has
    # deployments (their node objects) must match the specification too.
    run = clean_gate_run
    result = run.result
    assert result.exit_code == 0, result.summary.text([])
    assert result.summary.counts["passed"] > 30
    after_gate(run.server, run.before, run.password)
