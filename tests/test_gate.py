"""The gate is green on the reference server and red, naming the right check, when a proxy in
front of it breaks one thing at a time (issue 4 §5)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from starlette.requests import Request
from starlette.responses import Response

from elsercheck.gate import run_gate
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer, ThreadedServer
from elsercheck.target import Target
from elsercheck.timing import PRESETS
from tests.gate_runs import CleanGateRun
from tests.secret_scan import assert_no_secret

pytestmark = pytest.mark.slow
PASSWORD = "gate-test"
HOP_HEADERS = {"content-length", "transfer-encoding", "connection"}


class Exchange:
    """One proxied request/response that a breakage may rewrite."""

    def __init__(self, request: Request, body: bytes) -> None:
        self.request, self.request_body = request, body
        self.headers = {k: v for k, v in request.headers.items() if k not in {"host", *HOP_HEADERS}}
        self.status = 0
        self.response_headers: list[tuple[str, str]] = []
        self.response_body = b""


def _json(data: bytes) -> object:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def wrong_field_type(x: Exchange) -> None:
    body = _json(x.response_body)
    if x.request.method == "PUT" and x.status == 200 and isinstance(body, dict):
        body["inference_id"] = 12345
        x.response_body = orjson.dumps(body)


def missing_product_header(x: Exchange) -> None:
    x.response_headers = [(k, v) for k, v in x.response_headers if k.lower() != "x-elastic-product"]


def accepts_invalid_bound(x: Exchange) -> None:
    body = _json(x.request_body)
    chunking = body.get("chunking_settings") if isinstance(body, dict) else None
    if isinstance(chunking, dict) and chunking.get("max_chunk_size", 0) > 300:
        chunking["max_chunk_size"] = 300  # forward an acceptable value: the PUT "succeeds"
        x.request_body = orjson.dumps(body)


def server_error_on_bad_input(x: Exchange) -> None:
    if x.status == 400:
        x.status = 500


def ignores_auth(x: Exchange) -> None:
    if "authorization" not in x.headers:
        import base64

        x.headers["authorization"] = (
            "Basic " + base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()
        )


# breakage -> (applies before forwarding?, function, a contract test that must fail)
BREAKAGES: dict[str, tuple[bool, Callable[[Exchange], None], str]] = {
    "wrong-field-type": (False, wrong_field_type, "test_lifecycle.py::test_lifecycle"),
    "missing-header": (False, missing_product_header, "test_routing.py::test_cluster_info"),
    "accepted-invalid-bound": (True, accepts_invalid_bound, "test_put_rule[chunk-above-300]"),
    "500-on-bad-input": (False, server_error_on_bad_input, "test_put_rule[threads-zero]"),
    "ignored-auth": (True, ignores_auth, "test_auth.py::test_no_credentials_401"),
}


def proxy(upstream: str, breakage: str | None):  # -> ASGI app
    before, mutate, _ = BREAKAGES[breakage] if breakage else (False, lambda x: None, "")
    clients: list[httpx.AsyncClient] = []  # one upstream client, made in the server's loop

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        x = Exchange(request, await request.body())
        if before:
            mutate(x)
        if not clients:
            clients.append(httpx.AsyncClient(timeout=120))
        # Forward the path exactly as received: fuzzed paths need not survive decoding.
        raw = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
        url = httpx.URL(upstream).copy_with(raw_path=raw)
        response = await clients[0].request(
            request.method, url, headers=x.headers, content=x.request_body
        )
        x.status, x.response_body = response.status_code, response.content
        x.response_headers = [
            (k, v) for k, v in response.headers.multi_items() if k.lower() not in HOP_HEADERS
        ]
        if not before:
            mutate(x)
        reply = Response(x.response_body, status_code=x.status)
        for key, value in x.response_headers:
            if key.lower() != "content-type":
                reply.headers.append(key, value)
            else:
                reply.headers[key] = value
        await reply(scope, receive, send)

    return app


@pytest.fixture(scope="module")
def reference() -> Iterator[EmbeddedServer]:
    config = ServerConfig(password=PASSWORD, timing=PRESETS["fast"])
    with EmbeddedServer(config) as server:
        yield server


def gate_against(
    url: str, report_dir: Path, schema: bool = True, target: Target | None = None,
    extra: list[str] | None = None,
):  # -> GateResult  # fmt: skip
    """The gate at a small example budget; ``schema=False`` runs the explicit checks only."""
    target = target or Target(url, username="elastic", password=PASSWORD)
    extra = (extra or []) + ([] if schema else ["-m", "not schema"])
    return run_gate(target, "gatetest", report_dir, workers="1", max_examples=5, extra=extra)


def _api_key(url: str, **body: object) -> str:
    with httpx.Client(base_url=url, auth=("elastic", PASSWORD)) as c:
        response = c.post("/_security/api_key", json={"name": "gate-test", **body})
    assert response.status_code == 200, response.text
    return str(response.json()["encoded"])


def test_gate_green_with_an_api_key(reference: EmbeddedServer, tmp_path: Path) -> None:
    # The README's first example: the gate's credentials are an API key. Elasticsearch derives
    # no key with privileges from it, so the two 403 checks are skipped, with the reason.
    # The explicit checks: what an API key changes is authentication and the skipped 403
    # checks. The schema-driven checks with an API key run in the README's gate commands
    # (tests/test_readme_commands.py: `elsercheck gate --url … --ca-certs …` with
    # ELASTICSEARCH_API_KEY exported), and without it in the shared clean run.
    key = _api_key(reference.url)
    result = gate_against(reference.url, tmp_path, schema=False,
                          target=Target(reference.url, api_key=key))  # fmt: skip
    summary = result.summary
    assert result.exit_code == 0, summary.text([])
    assert summary.verdict == "CONFORMANT" and not summary.not_run
    skipped = {case.name for case in summary.skipped}
    assert {"test_auth.py::test_low_privilege_key_is_refused_writes",
            "test_auth.py::test_low_privilege_key_may_read_and_infer"} <= skipped  # fmt: skip
    assert "ELASTICSEARCH_LOW_PRIVILEGE_API_KEY" in summary.text([])
    html = (tmp_path / "gate.html").read_text()
    assert "<h2>Skipped</h2>" in html and "ELASTICSEARCH_LOW_PRIVILEGE_API_KEY" in html
    assert_no_secret(key, paths=[tmp_path])


def test_gate_runs_403_checks_with_a_supplied_low_privilege_key(
    reference: EmbeddedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _api_key(reference.url)
    low = _api_key(reference.url, role_descriptors={"r": {"cluster": ["monitor_inference"]}})
    monkeypatch.setenv("ELASTICSEARCH_LOW_PRIVILEGE_API_KEY", low)
    result = gate_against(reference.url, tmp_path, schema=False,
                          target=Target(reference.url, api_key=key), extra=["-k", "test_auth"])  # fmt: skip
    outcomes = {case.name: case.outcome for case in result.summary.cases}
    assert result.exit_code == 0, result.summary.text([])
    assert outcomes["test_auth.py::test_low_privilege_key_is_refused_writes"] == "passed"
    assert outcomes["test_auth.py::test_low_privilege_key_may_read_and_infer"] == "passed"
    # The user's key is theirs: the suite never invalidates it.
    with httpx.Client(base_url=reference.url, headers={"Authorization": f"ApiKey {low}"}) as c:
        assert c.get("/_inference/_all").status_code == 200
    assert_no_secret(low, paths=[tmp_path])


def test_gate_green_on_reference_server(clean_gate_run: CleanGateRun) -> None:
    # The shared run (tests/gate_runs.py): the whole gate against a clean reference server.
    result, report_dir, password = (
        clean_gate_run.result,
        clean_gate_run.report_dir,
        clean_gate_run.password,
    )
    assert result.exit_code == 0, result.summary.text([])
    assert result.summary.conformant and result.summary.counts["passed"] > 50
    assert (report_dir / "junit.xml").exists() and (report_dir / "gate.html").exists()
    # Hypothesis' derived data went to elsercheck's cache, not into the report (gate_environment).
    assert not (report_dir / ".hypothesis").exists()
    html = (report_dir / "gate.html").read_text()
    assert "Conformant" in html and password not in html
    assert_no_secret(password, username="elastic", paths=[report_dir])
    # Nothing the gate created is left on the target.
    with httpx.Client(base_url=clean_gate_run.server.url, auth=("elastic", password)) as c:
        ids = [e["inference_id"] for e in c.get("/_inference").json()["endpoints"]]
    assert not [i for i in ids if i.startswith("elsercheck-")], ids


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_gate_red_on_breakage(reference: EmbeddedServer, tmp_path: Path, breakage: str) -> None:
    # One breakage runs the whole gate, so the schema-driven checks must catch it too.
    full = breakage == "wrong-field-type"
    with ThreadedServer(proxy(reference.url, breakage)) as broken:
        result = gate_against(broken.url, tmp_path, schema=full)
    failed = [case.name for case in result.summary.failures]
    assert result.exit_code == 1, failed
    expected = BREAKAGES[breakage][2]
    assert any(expected in name for name in failed), (expected, failed)
    if full:
        assert any("test_operation_honours_schema" in name for name in failed), failed
    html = (tmp_path / "gate.html").read_text()
    assert "Not conformant" in html and "curl -X" in html
    assert PASSWORD not in html and PASSWORD not in (tmp_path / "junit.xml").read_text()
    assert_no_secret(PASSWORD, username="elastic", paths=[tmp_path])


def test_gate_unreachable_target(tmp_path: Path) -> None:
    from elsercheck.target import TargetError

    with pytest.raises(TargetError, match="cannot reach"):
        gate_against("http://127.0.0.1:9", tmp_path)


def test_gate_green_with_security_off(tmp_path: Path) -> None:
    # No credentials and a target with security off: authentication checks are skipped, as
    # skipped and with the reason; every other explicit check runs and holds.
    config = ServerConfig(security=False, timing=PRESETS["fast"])
    with EmbeddedServer(config) as server:
        result = gate_against(server.url, tmp_path, schema=False, target=Target(server.url))
    summary = result.summary
    assert result.exit_code == 0, summary.text([])
    auth = [case for case in summary.cases if case.name.startswith("test_auth.py::")]
    assert auth and all(case.outcome == "skipped" for case in auth), auth
    assert "- skipped (5): target has security off" in summary.text([])
    assert summary.counts["passed"] > 30
