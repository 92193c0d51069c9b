"""snapshot, verify, doctor and upgrade-check (issue 27) against the reference server in-process:
a snapshot verifies green on an unchanged server with identical top-k; each planted change or
problem is caught naming its endpoint, deployment or index; nothing is written without
--probe; the probe index is always deleted; bad input is one line and exit 2."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from elsercheck import cli
from elsercheck.commands import doctor as doctor_command
from elsercheck.commands import snapshot as snapshot_command
from elsercheck.commands import verify as verify_command
from elsercheck.estate import cluster, doctor, findings, probe, snapshot, upgrade, verify
from elsercheck.reference import versions
from elsercheck.reference.config import ServerConfig
from elsercheck.timing import PRESETS

from .inprocess import InProcessServer

RUN_ID = "20270101t000000-e5e5"
ELSER = ".elser_model_2_linux-x86_64"
# The instant timing starts deployments at once; a stopped one never comes back: a short wait,
# polled often (the fast tier's sleep budget).
WAIT_S = 0.4


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "POLL_S", 0.05)


def server(line: str | None = None) -> InProcessServer:
    return InProcessServer(ServerConfig(security=False, timing=PRESETS["instant"],
                                        es_version=versions.resolve(line)))  # fmt: skip


def put_endpoint(client: httpx.Client, inference_id: str, min_allocations: int = 0) -> None:
    adaptive = {"enabled": True, "min_number_of_allocations": min_allocations,
                "max_number_of_allocations": 2}  # fmt: skip
    body = {"service": "elasticsearch",
            "service_settings": {"model_id": ELSER, "num_threads": 1, "adaptive_allocations": adaptive}}  # fmt: skip
    answer = client.put(f"/_inference/sparse_embedding/{inference_id}", json=body)
    assert answer.status_code == 200, answer.text


def put_index(client: httpx.Client, index: str, **fields: str) -> None:
    properties = {name: {"type": "semantic_text", "inference_id": inference_id}
                  for name, inference_id in fields.items()}  # fmt: skip
    answer = client.put(f"/{index}", json={"mappings": {"properties": properties}})
    assert answer.status_code == 200, answer.text
    lines = []
    for number in range(8):
        lines += [{"index": {"_index": index, "_id": f"d{number}"}},
                  {name: f"passage {number}: rivers freeze in winter; deployments scale with load "
                   + "x" * number for name in fields}]  # fmt: skip
    payload = "".join(json.dumps(line) + "\n" for line in lines)
    answer = client.post("/_bulk?refresh=true", content=payload,
                         headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
    assert answer.status_code == 200 and not answer.json()["errors"], answer.text


def plant_estate(client: httpx.Client) -> None:
    """A small estate: three endpoints (one kept at min 1), two indices."""
    put_endpoint(client, "kept")
    put_endpoint(client, "extra")
    put_endpoint(client, "other")
    put_index(client, "docs", body="kept")
    put_index(client, "other-docs", body="other")


@pytest.fixture
def estate_server() -> Iterator[tuple[InProcessServer, httpx.Client]]:
    with server() as s, s.client(timeout=60) as client:
        plant_estate(client)
        yield s, client


def state(client: httpx.Client) -> dict[str, Any]:
    """What a write would change: endpoints, mappings, indices and their counts, deployments.
    An adaptive endpoint's ``num_allocations`` is its deployment's current count, which the
    scaler moves on its own (its ticks are 50 ms apart on the instant timing): left out with
    the deployments."""
    indices = sorted(client.get("/_mapping").json())
    endpoints = client.get("/_inference/_all").json()
    for endpoint in endpoints["endpoints"]:
        settings = endpoint.get("service_settings", {})
        if settings.get("adaptive_allocations", {}).get("enabled"):
            settings.pop("num_allocations", None)
    return {
        "endpoints": endpoints,
        "mapping": client.get("/_mapping").json(),
        "settings": client.get("/_settings").json(),
        "counts": {i: client.get(f"/{i}/_count").json()["count"] for i in indices},
        "deployments": cluster.deployments(client),
    }


def rules(found: list[findings.Finding]) -> set[tuple[str, str]]:
    return {(f.rule, f.subject) for f in found if f.severity != findings.NOTE}


# -- snapshot and verify ----------------------------------------------------------------------
def test_snapshot_then_verify_on_the_unchanged_server_is_green_with_identical_top_k(
    estate_server: tuple[InProcessServer, httpx.Client],
) -> None:
    _, client = estate_server
    before = state(client)
    document = snapshot.take(client, RUN_ID, True, WAIT_S)
    after = state(client)
    # The probe indices are gone again; only inference may have moved deployments.
    assert {k: v for k, v in after.items() if k != "deployments"} == {
        k: v for k, v in before.items() if k != "deployments"}  # fmt: skip
    estate = document["estate"]
    assert {e["inference_id"] for e in estate["endpoints"]} >= {"kept", "extra", "other"}
    assert ".elser-2-elasticsearch" in estate["default_endpoint_ids"]
    assert {(f["index"], f["inference_id"]) for f in estate["semantic_text_fields"]} == {
        ("docs", "kept"), ("other-docs", "other")}  # fmt: skip
    stored = document["probe"]
    assert stored["top_k"]["docs:body"]["ok"] and all(stored["top_k"]["docs:body"]["hits"])
    assert stored["embeddings"]["kept"]["ok"]
    assert stored["ingest"] == {"docs:body": {"ok": True, "error": ""},
                                "other-docs:body": {"ok": True, "error": ""}}  # fmt: skip
    assert stored["default_inference_id"] == ".elser-2-elasticsearch"
    found, _ = verify.verify(client, document, RUN_ID, True, WAIT_S)
    assert findings.exit_code(found) == 0, findings.summary("verify", found)
    again = probe.top_k(client, "docs", "body", WAIT_S)
    assert again["hits"] == stored["top_k"]["docs:body"]["hits"]
    assert not [i for i in client.get("/_mapping").json() if i.startswith("elsercheck-")]


def test_snapshot_verify_and_doctor_without_probe_write_nothing(
    estate_server: tuple[InProcessServer, httpx.Client],
) -> None:
    _, client = estate_server
    before = state(client)
    document = snapshot.take(client, RUN_ID, False, WAIT_S)
    assert document["probe"] is None
    found, _ = verify.verify(client, document, RUN_ID, False, WAIT_S)
    assert findings.exit_code(found) == 0, findings.summary("verify", found)
    doctor.diagnose(cluster.read(client))
    assert state(client) == before


@pytest.mark.parametrize("failure", [RuntimeError("boom"), KeyboardInterrupt()])
def test_the_probe_index_is_deleted_when_the_probe_fails(
    estate_server: tuple[InProcessServer, httpx.Client], monkeypatch: pytest.MonkeyPatch,
    failure: BaseException,
) -> None:  # fmt: skip
    _, client = estate_server
    seen = []

    def failing(client: httpx.Client, index: str, *args: Any) -> None:
        seen.append(index in client.get("/_mapping").json())
        raise failure

    monkeypatch.setattr(probe, "_bulk", failing)
    with pytest.raises(type(failure)):
        snapshot.take(client, RUN_ID, True, WAIT_S)
    assert seen == [True]  # it existed during the probe
    assert not [i for i in client.get("/_mapping").json() if i.startswith("elsercheck-")]


def _delete(client: httpx.Client, path: str) -> None:
    answer = client.delete(path)
    assert answer.status_code == 200, answer.text


def _post(client: httpx.Client, path: str, body: Any = None) -> None:
    answer = client.request("POST" if "_stop" in path else "PUT", path, json=body)
    assert answer.status_code == 200, answer.text


# (what is planted, how, the finding expected: rule and subject)
PLANTED: dict[str, tuple[Callable[[httpx.Client], None], set[tuple[str, str]]]] = {
    "endpoint deleted": (lambda c: _delete(c, "/_inference/extra"),
                         {("endpoint-missing", "endpoint extra"), ("deployment-missing", "deployment extra")}),
    "chunking changed (_update, 9.5)": (
        lambda c: _post(c, "/_inference/sparse_embedding/kept/_update",
                        {"chunking_settings": {"strategy": "word", "max_chunk_size": 100, "overlap": 10}}),
        {("chunking-changed", "endpoint kept")}),
    "index mapped to a missing endpoint": (
        lambda c: _delete(c, "/_inference/other?force=true"),
        {("endpoint-missing", "endpoint other"), ("endpoint-missing", "index other-docs"),
         ("deployment-missing", "deployment other")}),
    "deployment stopped": (
        lambda c: _post(c, "/_ml/trained_models/extra/deployment/_stop?force=true"),
        {("deployment-missing", "deployment extra")}),
    "min allocations raised to 1": (
        lambda c: _post(c, "/_inference/sparse_embedding/kept/_update", {"service_settings": {"adaptive_allocations": {
            "enabled": True, "min_number_of_allocations": 1, "max_number_of_allocations": 2}}}),
        {("settings-changed", "endpoint kept"), ("deployment-settings-changed", "deployment kept")}),
    "model switched (endpoint recreated on another model id)": (
        lambda c: (_delete(c, "/_inference/kept?force=true"),
                   c.put("/_inference/sparse_embedding/kept", json={
                       "service": "elasticsearch", "service_settings": {
                           "model_id": ".elser_model_2", "num_threads": 1, "num_allocations": 1}})),
        {("settings-changed", "endpoint kept"), ("deployment-settings-changed", "deployment kept")}),
}  # fmt: skip


@pytest.mark.parametrize("planted", list(PLANTED))
def test_verify_catches_each_planted_change_by_name(
    estate_server: tuple[InProcessServer, httpx.Client], planted: str
) -> None:
    _, client = estate_server
    document = snapshot.take(client, RUN_ID, False, WAIT_S)
    plant, expected = PLANTED[planted]
    plant(client)
    found, _ = verify.verify(client, document, RUN_ID, False, WAIT_S)
    assert rules(found) == expected, findings.summary(planted, found)
    assert findings.exit_code(found) == 1


def test_verify_with_probe_catches_a_field_whose_endpoint_is_gone(
    estate_server: tuple[InProcessServer, httpx.Client],
) -> None:
    _, client = estate_server
    document = snapshot.take(client, RUN_ID, True, WAIT_S)
    _delete(client, "/_inference/other?force=true")
    found, _ = verify.verify(client, document, RUN_ID, True, WAIT_S)
    found_rules = rules(found)
    assert ("ingest-failed", "index other-docs") in found_rules, findings.summary("", found)
    assert ("search-failed", "index other-docs") in found_rules
    assert not any(subject == "index docs" for _, subject in found_rules)
    assert not [i for i in client.get("/_mapping").json() if i.startswith("elsercheck-")]


@pytest.mark.parametrize(("old", "new", "same"), [
    ({"a": 1.0, "b": 0.5}, {"a": 1.0000001, "b": 0.5}, True),
    ({"a": 1.0, "b": 0.5}, {"a": 1.0, "c": 0.5}, False),
    ({"a": 1.0}, {"a": 1.1}, False),
    ([0.1, 0.2], [0.1, 0.2], True),
    ([0.1, 0.2], [0.1, 0.3], False),
    ([0.1, 0.2], [0.1], False),
])  # fmt: skip
def test_embeddings_are_compared_within_the_tolerance(old: Any, new: Any, same: bool) -> None:
    assert verify.same_embedding(old, new)[0] is same


# -- doctor ---------------------------------------------------------------------------------
@pytest.mark.parametrize("line", ["9.5", "9.2", "8.19"])
def test_doctor_finds_nothing_on_a_clean_server(line: str) -> None:
    with server(line) as s, s.client(timeout=60) as client:
        found = doctor.diagnose(cluster.read(client))
    assert found == [], findings.summary("doctor", found)


def test_doctor_reports_each_planted_problem_with_evidence_and_action() -> None:
    with server() as s, s.client(timeout=60) as client:
        put_endpoint(client, "kept")
        put_endpoint(client, "busy", min_allocations=1)
        put_endpoint(client, "doomed")
        put_endpoint(client, "stopped")
        put_index(client, "docs", body="kept")
        put_index(client, "mixed", body="kept", title="busy")
        put_index(client, "orphaned", body="doomed")
        _delete(client, "/_inference/doomed?force=true")
        _post(client, "/_ml/trained_models/stopped/deployment/_stop?force=true")
        found = doctor.diagnose(cluster.read(client))
    assert rules(found) == {
        ("endpoint-missing", "index orphaned"),
        ("mixed-models", "index mixed"),
        ("deployment-gone", "endpoint stopped"),
        ("idle-cost", "deployment busy"),
    }, findings.summary("doctor", found)
    assert all(f.evidence and f.action for f in found)
    notes = {f.rule for f in found if f.severity == findings.NOTE}
    assert notes == {"shared-ml-nodes"}


@pytest.mark.parametrize(("line", "flagged"), [("9.2", True), ("9.5", False)])
def test_doctor_flags_scale_to_zero_on_versions_with_its_bugs(line: str, flagged: bool) -> None:
    with server(line) as s, s.client(timeout=60) as client:
        put_endpoint(client, "kept")
        found = doctor.diagnose(cluster.read(client))
    bugs = [f for f in found if f.rule == "scale-to-zero-bug"]
    assert bool(bugs) is flagged, findings.summary("doctor", found)
    assert all(f.subject == "deployment kept" for f in bugs)
    if flagged:
        assert {"elastic/elasticsearch#137134", "elastic/elasticsearch#146806"} <= {
            f.source.split(" ")[0] for f in bugs}  # fmt: skip


def test_doctor_command_writes_its_reports_and_exits_1_on_findings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with server() as s:
        with s.client(timeout=60) as client:
            put_endpoint(client, "busy", min_allocations=1)
        monkeypatch.setattr(doctor_command, "connect", lambda target: s.client(timeout=60))
        code = cli.main(["doctor", "--url", s.url, "--report-dir", str(tmp_path)])
    assert code == 1
    report = json.loads((tmp_path / "doctor.json").read_text())
    assert [f["subject"] for f in report["findings"]] == ["deployment busy"]
    assert "deployment busy" in (tmp_path / "doctor.html").read_text()
    assert "[idle-cost] deployment busy" in capsys.readouterr().out


def test_snapshot_and_verify_commands_round_trip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with server() as s:
        with s.client(timeout=60) as client:
            plant_estate(client)
        for module in (snapshot_command, verify_command):
            monkeypatch.setattr(module, "connect", lambda target: s.client(timeout=60))
        out = tmp_path / "estate.json"
        assert cli.main(["snapshot", "--url", s.url, "--out", str(out), "--probe",
                         "--allocation-wait", str(WAIT_S)]) == 0  # fmt: skip
        assert cli.main(["verify", "--url", s.url, "--snapshot", str(out), "--probe",
                         "--allocation-wait", str(WAIT_S), "--report-dir", str(tmp_path / "v")]) == 0  # fmt: skip
        with s.client(timeout=60) as client:
            _delete(client, "/_inference/extra")
        assert cli.main(["verify", "--url", s.url, "--snapshot", str(out), "--allocation-wait",
                         str(WAIT_S), "--report-dir", str(tmp_path / "v2")]) == 1  # fmt: skip
    report = json.loads((tmp_path / "v2" / "verify.json").read_text())
    assert ("endpoint-missing", "endpoint extra") in {
        (f["rule"], f["subject"]) for f in report["findings"]
    }


# -- upgrade-check --------------------------------------------------------------------------
LINES = versions.supported()


@pytest.mark.parametrize(("source", "target"), list(itertools.permutations(LINES, 2)))
def test_upgrade_check_lists_differences_for_every_pair(source: str, target: str) -> None:
    assert upgrade.differences(source, target)


@pytest.mark.parametrize("line", LINES)
def test_upgrade_check_lists_nothing_for_the_same_version(line: str) -> None:
    assert upgrade.differences(line, line) == []


def test_upgrade_check_compares_patches_within_a_minor(capsys: pytest.CaptureFixture[str]) -> None:
    """9.2.0/9.2.1 ignore num_threads in _update; 9.2.2 rejects it (known_deviations.toml)."""
    assert cli.main(["upgrade-check", "--from", "9.2.1", "--to", "9.2.8"]) == 0
    out = capsys.readouterr().out
    assert "9.2 → 9.2: 1 difference(s)" in out
    assert (
        "[known-deviation] test_lifecycle.py::test_update_refuses_num_threads: present → absent"
        in out
    )


def test_upgrade_check_names_what_the_snapshot_touches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with server("9.2") as s, s.client(timeout=60) as client:
        put_endpoint(client, "kept")
        path = snapshot.save(snapshot.take(client, RUN_ID, False, WAIT_S), tmp_path / "s.json")
    assert cli.main(["upgrade-check", "--from", "9.2", "--to", "9.5", "--snapshot", str(path)]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "#137134" in x)  # versions.BUGS or known_bugs
    assert "present → absent" in line
    following = out.split(line, 1)[1].lstrip("\n").splitlines()[0]
    assert "touches your estate: deployments with min_number_of_allocations 0: kept" in following
    assert cli.main(["upgrade-check", "--from", "9.4.8", "--to", "9.5"]) == 0


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["upgrade-check", "--from", "7.17", "--to", "9.5"],
    ["upgrade-check", "--from", "9.5", "--to", "nine"],
    ["upgrade-check", "--from", "9.4", "--to", "9.5", "--snapshot", "{missing}"],
    ["verify", "--url", "http://127.0.0.1:9", "--snapshot", "{missing}"],
    ["verify", "--url", "http://127.0.0.1:9", "--snapshot", "{not_json}"],
    ["verify", "--url", "http://127.0.0.1:9", "--snapshot", "{not_snapshot}"],
    ["verify", "--url", "http://127.0.0.1:9", "--snapshot", "{no_probe}", "--probe"],
])  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {"missing": tmp_path / "missing.json", "not_json": tmp_path / "a.json",
             "not_snapshot": tmp_path / "b.json", "no_probe": tmp_path / "c.json"}  # fmt: skip
    files["not_json"].write_text("{")
    files["not_snapshot"].write_text("{}")
    files["no_probe"].write_text(json.dumps({"format": snapshot.FORMAT, "probe": None, "estate": {
        "version": "9.5.4", "endpoints": [], "deployments": [], "semantic_text_fields": []}}))  # fmt: skip
    argv = [arg.format(**{k: str(v) for k, v in files.items()}) for arg in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("elsercheck: error: ") and err.count("\n") == 1, err


def test_doctor_notes_what_else_shares_the_ml_nodes() -> None:
    with server() as s, s.client(timeout=60) as client:
        put_endpoint(client, "kept")
        answer = client.post(f"/_ml/trained_models/{ELSER}/deployment/_start",
                             params={"deployment_id": "obs_ai_assistant_kb_inference"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        found = doctor.diagnose(cluster.read(client))
    assert rules(found) == {("idle-cost", "deployment obs_ai_assistant_kb_inference")}
    idle = next(f for f in found if f.rule == "idle-cost")
    assert "POST _ml/trained_models/obs_ai_assistant_kb_inference/deployment/_update" in idle.action
    notes = {(f.rule, f.subject): f for f in found}
    lone = notes[("deployment-without-endpoint", "deployment obs_ai_assistant_kb_inference")]
    assert "Kibana's" in lone.message
    shared = [f for f in found if f.rule == "shared-ml-nodes"]
    assert shared and "obs_ai_assistant_kb_inference (Kibana's)" in shared[0].evidence
    assert "kept (an endpoint's)" in shared[0].evidence


def test_upgrade_check_lists_each_upstream_issue_once() -> None:
    for source, target in itertools.permutations(LINES, 2):
        issues = [d.name.split()[0].rsplit("#", 1)[-1] for d in upgrade.differences(source, target)
                  if d.kind in ("bug", "estate-bug")]  # fmt: skip
        assert len(issues) == len(set(issues)), (source, target, issues)


def test_verify_is_inconclusive_where_the_snapshot_has_no_baseline(
    estate_server: tuple[InProcessServer, httpx.Client],
) -> None:
    _, client = estate_server
    document = snapshot.take(client, RUN_ID, True, WAIT_S)
    document["probe"]["embeddings"]["kept"] = {"ok": False, "error": "409: not allocated"}
    found, _ = verify.verify(client, document, RUN_ID, True, WAIT_S)
    assert [(f.rule, f.subject, f.severity) for f in found] == [
        ("no-baseline", "endpoint kept", findings.INCONCLUSIVE)]  # fmt: skip
    assert findings.exit_code(found) == 4


PARSE_ERROR = {"error": {"type": "illegal_argument_exception",
                         "reason": "Error parsing request config, model id is missing"}, "status": 400}  # fmt: skip


def broken_store(request: httpx.Request) -> httpx.Response:
    """A cluster where one stored 'elser' endpoint no longer parses (#124675): the list fails,
    the endpoint fails on its own, the other endpoint reads."""
    kept = {"inference_id": "kept", "task_type": "sparse_embedding", "service": "elasticsearch",
            "service_settings": {"model_id": ELSER, "num_threads": 1, "num_allocations": 1}}  # fmt: skip
    answers: dict[str, tuple[int, Any]] = {
        "/": (200, {"version": {"number": "9.5.4"}}),
        "/_inference/_all": (400, PARSE_ERROR),
        "/_inference/old-elser": (400, PARSE_ERROR),
        "/_inference/kept": (200, {"endpoints": [kept]}),
        "/_inference/gone": (404, {"error": {"type": "resource_not_found_exception",
                                             "reason": "Inference endpoint not found [gone]"}}),
        "/_ml/trained_models/_stats": (200, {"count": 0, "trained_model_stats": []}),
        "/_mapping": (200, {"books": {"mappings": {"properties": {
            "a": {"type": "semantic_text", "inference_id": "old-elser"},
            "b": {"type": "semantic_text", "inference_id": "kept"},
            "c": {"type": "semantic_text", "inference_id": "gone"}}}}}),
    }  # fmt: skip
    status, body = answers[request.url.path]
    return httpx.Response(status, json=body)


def test_doctor_names_the_stored_endpoint_that_no_longer_parses() -> None:
    with httpx.Client(base_url="http://es.test", transport=httpx.MockTransport(broken_store)) as c:
        estate = cluster.read(c)
    assert [e["inference_id"] for e in estate["endpoints"]] == ["kept"]
    found = doctor.diagnose(estate)
    assert rules(found) == {
        ("endpoints-unreadable", "endpoints"),
        ("endpoint-unreadable", "endpoint old-elser"),
        ("endpoint-missing", "index books"),
        ("mixed-models", "index books"),
        ("deployment-gone", "endpoint kept"),
    }, findings.summary("doctor", found)
    unreadable = next(f for f in found if f.rule == "endpoint-unreadable")
    assert "model id is missing" in unreadable.evidence
    assert "#124675" in unreadable.source
    missing = next(f for f in found if f.rule == "endpoint-missing")
    assert "'gone'" in missing.message


def test_a_preconfigured_deployment_not_running_is_a_note() -> None:
    """Its first request deploys it again (ES ElasticsearchInternalService.maybeStartDeployment)."""
    with server() as s, s.client(timeout=60) as client:
        answer = client.post(
            "/_inference/sparse_embedding/.elser-2-elasticsearch", json={"input": "x"}
        )
        assert answer.status_code == 200, answer.text
        document = snapshot.take(client, RUN_ID, False, WAIT_S)
        assert [d["deployment_id"] for d in document["estate"]["deployments"]] == [
            ".elser-2-elasticsearch"
        ]
        _post(client, "/_ml/trained_models/.elser-2-elasticsearch/deployment/_stop?force=true")
        found, _ = verify.verify(client, document, RUN_ID, False, WAIT_S)
    assert [(f.rule, f.severity) for f in found] == [("deployment-not-started", findings.NOTE)]
    assert findings.exit_code(found) == 0


def test_doctor_explains_a_missing_eis_endpoint() -> None:
    """A field names the EIS endpoint, which this cluster does not have (EIS not authorized
    for it, its authorization withdrawn: deleted from 9.4 on, #145224; or a renamed preview id,
    #136626): the finding says so."""
    with server() as s, s.client(timeout=60) as client:
        body = {"mappings": {"properties": {
            "body": {"type": "semantic_text", "inference_id": ".elser-2-elastic"}}}}  # fmt: skip
        answer = client.put("/eis-docs", json=body)
        assert answer.status_code == 200, answer.text
        found = doctor.diagnose(cluster.read(client))
    assert rules(found) == {("endpoint-missing", "index eis-docs")}, findings.summary("", found)
    assert "EIS endpoint" in found[0].message and "#136626" in found[0].source
