"""The reference server on a data directory: state kept across restarts, in-place upgrades with
Elasticsearch's stored-config migrations, downgrades refused, and the restart bugs per version
(#137134, #146806) and upgrade defects (reference/persistence.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from elsercheck.cli import main
from elsercheck.reference import persistence, versions
from elsercheck.reference.config import ServerConfig
from elsercheck.timing import PRESETS
from tests.inprocess import InProcessServer
from tests.upgrade_checks import (
    LEGACY_812,
    SCALE_TO_ZERO,
    WORD_250,
    at,
    chunking_dropped_on_upgrade,
    client,
    deployment_stats,
    endpoint,
    legacy_model_version_unmigrated,
    put,
    scale_to_zero,
    seed,
    wait_allocations,
    zero_allocation_dropped_on_start,
    zero_allocation_lost_on_restart,
)

PASSWORD = "upgrade-test"
PROBES = ["fox in the forest", "quarterly revenue report", "database index tuning", "sleep"]
DOCS = [
    "the quick brown fox jumps over the lazy dog in the forest",
    "revenue grew in the third quarter, the report says",
    "an index on the orders table made the query ten times faster",
    "a good night's sleep helps memory and learning",
    "foxes and wolves live in the northern forest",
]
ENDPOINTS: dict[str, dict[str, Any]] = {
    "fixed-two": endpoint(2),
    "adaptive-min-one": endpoint(
        None, {"enabled": True, "min_number_of_allocations": 1, "max_number_of_allocations": 3}
    ),
    "adaptive-min-zero": endpoint(None, SCALE_TO_ZERO),
    "word-chunks": endpoint(1, chunking={"strategy": "word", "max_chunk_size": 12, "overlap": 3}),
    "no-chunking": endpoint(1, chunking={"strategy": "none"}),
    "recursive": endpoint(
        1, chunking={"strategy": "recursive", "max_chunk_size": 30, "separator_group": "plaintext"}
    ),
}
MIN_ALLOCATIONS = {"fixed-two": 2, "adaptive-min-one": 1, "adaptive-min-zero": 0,
                   "word-chunks": 1, "no-chunking": 1, "recursive": 1}  # fmt: skip


def config(line: str, data_dir: Path, **settings: Any) -> ServerConfig:
    return ServerConfig(password=PASSWORD, timing=PRESETS["instant"],
                        es_version=versions.resolve(line), data_dir=data_dir,
                        **settings)  # fmt: skip


def _estate(c: Any) -> dict[str, Any]:
    """What a user has: endpoints as GET shows them (live allocations aside), embeddings of the
    probes per endpoint, and the top-k of a semantic query per probe."""
    listed = {e["inference_id"]: e for e in c.get("/_inference/_all").json()["endpoints"]}
    for entry in listed.values():
        entry["service_settings"].pop("num_allocations", None)  # live: the deployment's now
    embeddings = {}
    for inference_id in ENDPOINTS:
        if inference_id == "adaptive-min-zero":
            continue  # at zero: 409 until it scales up (release builds)
        answer = c.post(f"/_inference/{inference_id}", json={"input": PROBES})
        assert answer.status_code == 200, answer.text
        embeddings[inference_id] = answer.json()
    top_k = {}
    for probe in PROBES:
        query = {"query": {"semantic": {"field": "body", "query": probe}}, "size": 3}
        answer = c.post("/estate/_search", json=query)
        assert answer.status_code == 200, answer.text
        top_k[probe] = [(h["_id"], h["_score"]) for h in answer.json()["hits"]["hits"]]
    return {"endpoints": listed, "embeddings": embeddings, "top_k": top_k}


def _build_estate(c: Any, server: InProcessServer) -> None:
    for inference_id, body in ENDPOINTS.items():
        put(c, inference_id, body)
    mappings = {"properties": {"body": {"type": "semantic_text", "inference_id": "word-chunks"},
                               "title": {"type": "keyword"}}}  # fmt: skip
    assert c.put("/estate", json={"mappings": mappings}).status_code == 200
    pipeline = {"processors": [{"set": {"field": "title", "value": "from-pipeline"}}]}
    assert c.put("/_ingest/pipeline/titles", json=pipeline).status_code == 200
    for number, text in enumerate(DOCS):
        answer = c.put(f"/estate/_doc/{number}?pipeline=titles", json={"body": text})
        assert answer.status_code == 201, answer.text
    assert c.post("/estate/_refresh").status_code == 200
    wait_allocations(c, "adaptive-min-zero", 1)
    scale_to_zero(server, "adaptive-min-zero")


def test_clean_upgrade_keeps_the_estate(tmp_path: Path) -> None:
    """9.4 → 9.5 on the same data directory: every endpoint reads and infers as before,
    settings and chunking unchanged, deployments at their minimum, the same top-k."""
    with InProcessServer(config("9.4", tmp_path)) as old, client(old) as c:
        _build_estate(c, old)
        before = _estate(c)
    stored = json.loads((tmp_path / persistence.FILE).read_text())
    assert stored["written_by"] == versions.RELEASES["9.4"].number
    with InProcessServer(config("9.5", tmp_path)) as new, client(new) as c:
        assert c.get("/").json()["version"]["number"] == versions.RELEASES["9.5"].number
        for inference_id, count in MIN_ALLOCATIONS.items():
            stats = wait_allocations(c, inference_id, count)
            assert stats["allocation_status"]["target_allocation_count"] == count
        after = _estate(c)
        assert c.get("/estate/_doc/0").json()["_source"]["title"] == "from-pipeline"
        assert c.get("/_ingest/pipeline/titles").status_code == 200
        # an old index still ingests
        answer = c.put("/estate/_doc/new?refresh=true", json={"body": "a new fox"})
        assert answer.status_code == 201, answer.text
    assert after == before
    assert after["endpoints"]["word-chunks"]["chunking_settings"] == {
        "strategy": "word", "max_chunk_size": 12, "overlap": 3}  # fmt: skip
    assert all(after["top_k"].values())


def test_state_survives_a_restart_at_the_same_version(tmp_path: Path) -> None:
    with InProcessServer(config("9.5", tmp_path)) as first, client(first) as c:
        put(c, "kept", endpoint(1, chunking={"strategy": "sentence", "max_chunk_size": 40,
                                             "sentence_overlap": 0}))  # fmt: skip
        started = c.post("/_ml/trained_models/.elser_model_2_linux-x86_64/deployment/_start"
                         "?deployment_id=ml-api&number_of_allocations=2&wait_for=started")  # fmt: skip
        assert started.status_code == 200, started.text
        assert c.delete("/_inference/kept").status_code == 200
        put(c, "kept", endpoint(3))  # the latest write is what a restart finds
    assert not [p for p in tmp_path.iterdir() if p.name != persistence.FILE]  # no temp files
    with InProcessServer(config("9.5", tmp_path)) as second, client(second) as c:
        answer = c.get("/_inference/kept").json()["endpoints"][0]
        assert answer["service_settings"]["num_allocations"] == 3
        assert answer["chunking_settings"]["max_chunk_size"] == 250  # the new PUT's default
        assert wait_allocations(c, "ml-api", 2)["model_id"] == ".elser_model_2_linux-x86_64"


def test_without_a_data_dir_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = ServerConfig(password=PASSWORD, timing=PRESETS["instant"])
    with InProcessServer(cfg) as server, client(server) as c:
        put(c, "memory-only", endpoint(1))
    assert list(tmp_path.iterdir()) == []


def test_a_crash_mid_write_leaves_the_previous_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    persistence.write(tmp_path, {"format": 1, "written_by": "9.5.4", "endpoints": []})
    before = (tmp_path / persistence.FILE).read_bytes()

    def crash(*args: Any) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        persistence.write(tmp_path, {"format": 1, "written_by": "9.5.4", "endpoints": [{}]})
    assert (tmp_path / persistence.FILE).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [persistence.FILE]


def test_a_failed_disk_write_fails_the_request(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    def full(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    with InProcessServer(config("9.5", tmp_path)) as server, client(server) as c:
        monkeypatch.setattr(persistence, "write", full)
        answer = c.put("/_ingest/pipeline/p", json={"processors": []})
        assert answer.status_code == 500
        assert "No space left on device" in answer.json()["error"]["reason"]
        assert c.get("/_ingest/pipeline/p").status_code == 200  # reads never write
        monkeypatch.undo()


# -- versions ---------------------------------------------------------------------------------------
def test_downgrade_refused_as_elasticsearch_does(tmp_path: Path) -> None:
    persistence.write(tmp_path, {"format": 1, "written_by": "9.5.4"})
    with pytest.raises(persistence.DataDirError) as refused:
        InProcessServer(config("9.4", tmp_path))
    assert str(refused.value) == "cannot downgrade a node from version [9.5.4] to version [9.4.8]"


def test_upgrade_across_majors_needs_the_last_minor(tmp_path: Path) -> None:
    seed(tmp_path, "8.12.2", [LEGACY_812])
    with pytest.raises(persistence.DataDirError, match=r"upgrade to version \[8\.19\.0\] first"):
        InProcessServer(config("9.5", tmp_path))


def test_serve_refuses_a_downgrade_in_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    persistence.write(tmp_path, {"format": 1, "written_by": "9.5.4"})
    code = main(["serve", "--data-dir", str(tmp_path), "--es-version", "9.3", "--port", "0"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "cannot downgrade a node from version [9.5.4]" in err
    (tmp_path / "file").write_text("x")
    assert main(["serve", "--data-dir", str(tmp_path / "file"), "--port", "0"]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_legacy_812_elser_endpoint_is_migrated(tmp_path: Path) -> None:
    """ElasticsearchInternalService.parsePersistedConfig (#124769): model_version → model_id,
    `elser` read as `elasticsearch`, no chunking_settings → the pre-8.16 default."""
    seed(tmp_path, "8.12.2", [LEGACY_812])
    with InProcessServer(config("8.19", tmp_path)) as server, client(server) as c:
        answer = c.get("/_inference/legacy-elser")
        assert answer.status_code == 200, answer.text
        stored = answer.json()["endpoints"][0]
        assert stored["service"] == "elasticsearch"
        assert stored["service_settings"]["model_id"] == LEGACY_812["service_settings"][
            "model_version"]  # fmt: skip
        assert stored["chunking_settings"] == WORD_250
        assert c.post("/_inference/legacy-elser", json={"input": "fox"}).status_code == 200
    # 8.19 kept the stored record as it was: 9.5 migrates it again on read
    record = json.loads((tmp_path / persistence.FILE).read_text())["endpoints"][0]
    assert record["service_settings"].get("model_version") is not None
    with InProcessServer(config("9.5", tmp_path)) as server, client(server) as c:
        assert c.get("/_inference/legacy-elser").status_code == 200


def test_unparsable_endpoint_fails_reads_and_force_deletes(tmp_path: Path) -> None:
    seed(tmp_path, "8.12.2", [LEGACY_812])
    cfg = config("8.19", tmp_path, defects=frozenset({"legacy-model-version-unmigrated"}))
    with InProcessServer(cfg) as server, client(server) as c:
        for answer in (c.get("/_inference/legacy-elser"), c.get("/_inference/_all"),
                       c.post("/_inference/legacy-elser", json={"input": "x"})):  # fmt: skip
            assert answer.status_code == 400, answer.text
            assert answer.json()["error"]["type"] == "illegal_argument_exception"
        assert c.delete("/_inference/legacy-elser").status_code == 400
        assert c.delete("/_inference/legacy-elser?force=true").status_code == 200
        assert c.get("/_inference/legacy-elser").status_code == 404


@pytest.mark.parametrize("check", [chunking_dropped_on_upgrade, legacy_model_version_unmigrated,
                                   zero_allocation_lost_on_restart])  # fmt: skip
def test_upgrade_defects_hold_only_with_the_defect(check: Any, tmp_path: Path) -> None:
    name = check.__name__.replace("_", "-")
    broken = ServerConfig(password=PASSWORD, timing=PRESETS["instant"], conformant=True,
                          defects=frozenset({name}))  # fmt: skip
    with InProcessServer(broken) as server, client(server) as c:
        check(c, server)
    clean = ServerConfig(password=PASSWORD, timing=PRESETS["instant"], conformant=True)
    with InProcessServer(clean) as server, client(server) as c, pytest.raises(AssertionError):
        check(c, server)


# -- the restart bugs per version -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "conformant", "lost"),
    [("9.2", False, True), ("8.19", False, True), ("9.2", True, False), ("9.3", False, False),
     ("9.4", False, False)],
)  # fmt: skip
def test_zero_allocation_deployment_after_shutdown(
    line: str, conformant: bool, lost: bool, tmp_path: Path
) -> None:
    """#146806: lost on 8.19–9.2 (fixed by #146910, 9.4.0, and its 9.3 back-port)."""
    cfg = config(line, tmp_path, conformant=conformant)
    with InProcessServer(cfg) as old, client(old) as c:
        put(c, "scaled", endpoint(None, SCALE_TO_ZERO))
        wait_allocations(c, "scaled", 1)
        scale_to_zero(old, "scaled")
    with InProcessServer(cfg) as new, client(new) as c:
        assert c.get("/_inference/scaled").status_code == 200  # the endpoint stays either way
        if lost:
            assert "scaled" not in deployment_stats(c)
            answer = c.post("/_inference/scaled", json={"input": "x"})
            assert answer.status_code == 404, answer.text
        else:
            assert wait_allocations(c, "scaled", 0)["state"] == "started"
            assert c.post("/_inference/scaled", json={"input": "x"}).status_code == 409  # waking


@pytest.mark.parametrize(("line", "conformant", "dropped"),
                         [("9.1", False, True), ("9.2", False, True), ("9.2", True, False),
                          ("9.3", False, False), ("8.19", False, False)])  # fmt: skip
def test_second_endpoint_beside_a_zero_deployment(
    line: str, conformant: bool, dropped: bool
) -> None:
    """#137134 (9.1, 9.2; fixed in 9.3.0 by #137244)."""
    cfg = ServerConfig(password=PASSWORD, timing=PRESETS["instant"],
                       es_version=versions.resolve(line), conformant=conformant)  # fmt: skip
    with InProcessServer(cfg) as server, client(server) as c:
        if dropped:
            zero_allocation_dropped_on_start(c, server)
        else:
            with pytest.raises(AssertionError):
                zero_allocation_dropped_on_start(c, server)


def test_chunking_kept_on_a_conformant_upgrade(tmp_path: Path) -> None:
    chunking = {"strategy": "word", "max_chunk_size": 20, "overlap": 5}
    with InProcessServer(config("9.4", tmp_path)) as old, client(old) as c:
        put(c, "chunked", endpoint(chunking=chunking))
    broken = config("9.5", tmp_path, defects=frozenset({"chunking-dropped-on-upgrade"}))
    with InProcessServer(at(broken, "9.5")) as new, client(new) as c:  # the defect drops them
        assert c.get("/_inference/chunked").json()["endpoints"][0]["chunking_settings"] == WORD_250
    # … and the dropped record is what is stored now; a fresh estate keeps them conformantly
    fresh = tmp_path / "fresh"
    with InProcessServer(config("9.4", fresh)) as old, client(old) as c:
        put(c, "chunked", endpoint(chunking=chunking))
    with InProcessServer(config("9.5", fresh)) as new, client(new) as c:
        assert c.get("/_inference/chunked").json()["endpoints"][0]["chunking_settings"] == chunking


# -- across processes: `elsercheck serve --data-dir` stopped and started again ---------------------
def _serve(data_dir: Path, line: str) -> tuple[subprocess.Popen[str], str, str]:
    """``elsercheck serve`` on a free port: the process, its URL and what it printed first."""
    argv = [sys.executable, "-m", "elsercheck", "serve", "--data-dir", str(data_dir),
            "--es-version", line, "--port", "0", "--timing", "fast", "--no-security"]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)  # fmt: skip
    assert process.stdout is not None
    head = ""
    for line_out in process.stdout:
        if "reference server at " in line_out:
            return process, line_out.split("reference server at ")[1].strip(), head
        head += line_out
    raise AssertionError(f"serve ended without a banner (exit {process.wait()})")


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    return output


def test_serve_upgrades_its_data_dir_across_processes(tmp_path: Path) -> None:
    body = endpoint(1, chunking={"strategy": "word", "max_chunk_size": 30, "overlap": 6})
    process, url, head = _serve(tmp_path, "9.4")
    assert f"data directory {tmp_path}: new" in head
    try:
        with httpx.Client(base_url=url, timeout=120) as c:
            assert c.put("/_inference/sparse_embedding/kept", json=body).status_code == 200
            before = c.get("/_inference/kept").json()
            embedding = c.post("/_inference/kept", json={"input": "fox"}).json()
    finally:
        _stop(process)
    process, url, head = _serve(tmp_path, "9.5")
    try:
        with httpx.Client(base_url=url, timeout=120) as c:
            assert c.get("/").json()["version"]["number"] == versions.RELEASES["9.5"].number
            deadline = time.monotonic() + 120  # the model loads again after the restart
            while (answer := c.post("/_inference/kept", json={"input": "fox"})).status_code != 200:
                assert time.monotonic() < deadline, answer.text
                time.sleep(0.2)
            assert answer.json() == embedding
            assert c.get("/_inference/kept").json() == before
    finally:
        _stop(process)
    assert f"upgraded from Elasticsearch {versions.RELEASES['9.4'].number}" in head


def test_elastic_service_endpoint_survives_an_upgrade(tmp_path: Path) -> None:
    body = {"service": "elastic", "service_settings": {"model_id": "elser_model_2",
            "max_batch_size": 4}, "chunking_settings": {"strategy": "none"}}  # fmt: skip
    with InProcessServer(config("9.4", tmp_path, eis=True)) as old, client(old) as c:
        answer = c.put("/_inference/sparse_embedding/on-eis", json=body)
        assert answer.status_code == 200, answer.text
        before = c.get("/_inference/on-eis").json()
    with InProcessServer(config("9.5", tmp_path, eis=True)) as new, client(new) as c:
        assert c.get("/_inference/on-eis").json() == before
        assert c.post("/_inference/on-eis", json={"input": "fox"}).status_code == 200


def test_the_version_is_recorded_at_startup(tmp_path: Path) -> None:
    """Started at 9.5 on a 9.4 directory, even without a write (or a clean stop), 9.4 is
    refused afterwards: the node's metadata is rewritten when it starts."""
    persistence.write(tmp_path, {"format": 1, "written_by": "9.4.8"})
    server = InProcessServer(config("9.5", tmp_path)).start()
    assert json.loads((tmp_path / persistence.FILE).read_text())["written_by"] == "9.5.4"
    server.stop()
    with pytest.raises(persistence.DataDirError, match="cannot downgrade"):
        InProcessServer(config("9.4", tmp_path))
