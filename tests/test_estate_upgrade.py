"""snapshot → restart on the same data directory (serve --data-dir) → verify (issue 27, "done
when"): a clean 9.4 → 9.5 upgrade verifies green with identical top-k; the upgrade defect
"chunking settings dropped" and the restart bug #146806 are caught naming the endpoint; doctor
reports #124675's unparsable stored endpoint. In-process servers, instant timing."""

from __future__ import annotations

from pathlib import Path

import pytest

from elsercheck.estate import cluster, doctor, findings, probe, snapshot, verify
from elsercheck.reference import versions
from elsercheck.reference.breakage import defects
from elsercheck.reference.config import ServerConfig
from elsercheck.timing import PRESETS

from .inprocess import InProcessServer
from .test_estate import WAIT_S, put_endpoint, put_index, rules
from .upgrade_checks import LEGACY_812, scale_to_zero, seed, wait_allocations

RUN_ID = "20270101t000000-a9a9"


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "POLL_S", 0.05)


def config(data_dir: Path, line: str, *named: str) -> ServerConfig:
    return ServerConfig(security=False, timing=PRESETS["instant"], data_dir=data_dir,
                        es_version=versions.resolve(line), defects=frozenset(named))  # fmt: skip


def before_upgrade(data_dir: Path, line: str = "9.4") -> dict[str, object]:
    """An estate at ``line`` on ``data_dir`` (an endpoint with its own chunking, an index with
    documents), and its snapshot with the probe."""
    with InProcessServer(config(data_dir, line)) as s, s.client(timeout=60) as c:
        put_endpoint(c, "kept")
        answer = c.put("/_inference/sparse_embedding/chunked", json={
            "service": "elasticsearch",
            "service_settings": {"model_id": ".elser_model_2_linux-x86_64", "num_threads": 1,
                                 "num_allocations": 1},
            "chunking_settings": {"strategy": "word", "max_chunk_size": 20, "overlap": 5}})  # fmt: skip
        assert answer.status_code == 200, answer.text
        put_index(c, "docs", body="kept")
        return snapshot.take(c, RUN_ID, True, WAIT_S)


def test_a_clean_upgrade_from_9_4_to_9_5_verifies_green_with_identical_top_k(
    tmp_path: Path,
) -> None:
    document = before_upgrade(tmp_path)
    with InProcessServer(config(tmp_path, "9.5")) as s, s.client(timeout=60) as c:
        found, now = verify.verify(c, document, RUN_ID, True, WAIT_S)
        again = probe.top_k(c, "docs", "body", WAIT_S)
    assert now["version"].startswith("9.5.")
    assert findings.exit_code(found) == 0, findings.summary("verify", found)
    assert {f.rule for f in found} == {"version"}  # the one note: 9.4.8 → 9.5.4
    stored = document["probe"]
    assert isinstance(stored, dict)
    assert again["hits"] == stored["top_k"]["docs:body"]["hits"] and again["hits"][0]


def test_the_chunking_dropped_on_upgrade_defect_is_caught_naming_the_endpoint(
    tmp_path: Path,
) -> None:
    document = before_upgrade(tmp_path)
    with InProcessServer(config(tmp_path, "9.5", defects.CHUNKING_DROPPED_ON_UPGRADE)) as s, \
            s.client(timeout=60) as c:  # fmt: skip
        found, _ = verify.verify(c, document, RUN_ID, False, WAIT_S)
    assert ("chunking-changed", "endpoint chunked") in rules(found), findings.summary("", found)
    assert findings.exit_code(found) == 1


def test_a_deployment_lost_at_zero_on_restart_is_caught_by_verify_and_doctor(
    tmp_path: Path,
) -> None:
    """#146806 on 9.2 (on by default there): a deployment at zero allocations is gone after
    the ML node restarts; inference answers 404."""
    with InProcessServer(config(tmp_path, "9.2")) as s, s.client(timeout=60) as c:
        put_endpoint(c, "to-zero")
        wait_allocations(c, "to-zero", 1)
        document = snapshot.take(c, RUN_ID, True, WAIT_S)
        scale_to_zero(s, "to-zero")
    with InProcessServer(config(tmp_path, "9.2")) as s, s.client(timeout=60) as c:
        found, _ = verify.verify(c, document, RUN_ID, True, WAIT_S)
        diagnosed = doctor.diagnose(cluster.read(c))
    assert {("deployment-missing", "deployment to-zero"),
            ("inference-failed", "endpoint to-zero")} <= rules(found), findings.summary("", found)  # fmt: skip
    assert ("deployment-gone", "endpoint to-zero") in rules(diagnosed)
    gone = next(f for f in diagnosed if f.rule == "deployment-gone")
    assert "#146806" in gone.message


def test_doctor_reports_an_endpoint_stored_by_8_12_that_no_longer_parses(tmp_path: Path) -> None:
    """#124675 as the deliberate defect (8.16.0-8.18.0 behaviour) on an 8.12 data directory."""
    seed(tmp_path, "8.12.2", [LEGACY_812])
    named = config(tmp_path, "8.19", defects.LEGACY_MODEL_VERSION_UNMIGRATED)
    with InProcessServer(named) as s, s.client(timeout=60) as c:
        found = doctor.diagnose(cluster.read(c))
    summary = findings.summary("doctor", found)
    assert rules(found) == {("endpoints-unreadable", "endpoints")}, summary
    assert "model id is missing" in found[0].evidence and "#124675" in found[0].source


def test_without_the_defect_the_8_12_endpoint_is_migrated_and_doctor_is_quiet(
    tmp_path: Path,
) -> None:
    seed(tmp_path, "8.12.2", [LEGACY_812])
    with InProcessServer(config(tmp_path, "8.19")) as s, s.client(timeout=60) as c:
        estate = cluster.read(c)
    assert "legacy-elser" in [e["inference_id"] for e in estate["endpoints"]]
    assert not estate["endpoints_unreadable"]
