"""Every Elasticsearch version users run: the reference server models each (``--es-version``),
the gate has a contract profile for each, and the two agree.

The matrix runs the version-dependent part of the contract suite (the checks that consult a
profile entry, and the known deviations) against ``serve --es-version V`` for every V: no false
alarm, and V's known upstream bugs reported as expected failures. Forced to profile X against a
server at version Y, the gate fails exactly on the checks whose profile entries differ between X
and Y (or whose known deviations do), each naming its entries.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from elsercheck import cli
from elsercheck.gate import run_gate
from elsercheck.reference import versions
from elsercheck.reference.breakage.defects import CATALOGUE
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.target import Target
from elsercheck.timing import PRESETS
from tests.conftest import PASSWORD
from tests.inprocess import InProcessServer

SOURCE = re.compile(r"#\d{5,6}|[A-Z][A-Za-z]+\.[a-zA-Z]+|[A-Z][A-Za-z]+(Action|Model|Settings)")


# -- the registry -------------------------------------------------------------------------------
def test_supported_versions_are_the_ones_users_run(support: ModuleType) -> None:
    assert versions.supported() == ["8.19", "9.1", "9.2", "9.3", "9.4", "9.5"]
    assert versions.NEWEST == "9.5"
    assert support.profile_lines() == versions.supported(), "one contract profile per version"


def test_every_change_and_bug_cites_its_source() -> None:
    for change in versions.CHANGES:
        assert change.since in versions.supported() and change.since != versions.OLDEST, change
        assert SOURCE.search(change.source), change
    for bug in versions.BUGS:
        assert re.fullmatch(r"#\d{6}", bug.issue), bug
        assert bug.defect in CATALOGUE, f"{bug.defect} is not a defect"
        assert set(bug.lines) <= set(versions.supported()), bug
        assert SOURCE.search(bug.source), bug


def test_resolve_and_has() -> None:
    assert versions.resolve().line == "9.5"
    assert versions.resolve("9.4").number == versions.resolve("9.4.8").number
    assert versions.resolve("8.19").major == 8
    with pytest.raises(versions.UnknownVersion, match=r"modelled: 8\.19, 9\.1"):
        versions.resolve("9.0")
    with pytest.raises(versions.UnknownVersion):
        versions.resolve("latest")
    # 8.19 is 9.1's sibling: nothing changed after 9.1 is in it.
    assert not any(versions.resolve("8.19").has(c.name) for c in versions.CHANGES)
    assert not versions.resolve("9.1").has("chunk-cap-elser-model")
    assert versions.resolve("9.2").has("chunk-cap-elser-model")
    assert not versions.resolve("9.4").has("update-timeout-param")
    assert versions.resolve("9.5").has("update-timeout-param")
    with pytest.raises(KeyError):
        versions.resolve("9.5").has("no-such-change")


@pytest.mark.parametrize("line", versions.supported())
def test_get_root_reports_the_version(line: str) -> None:
    config = ServerConfig(password=PASSWORD, es_version=versions.resolve(line))
    with InProcessServer(config) as server, server.client(auth=("elastic", PASSWORD)) as c:
        info = c.get("/").json()["version"]
    assert info["number"] == versions.RELEASES[line].number
    assert info["build_hash"] == versions.RELEASES[line].build_hash


def test_bugs_on_by_default_and_off_when_conformant() -> None:
    for line in versions.supported():
        version = versions.resolve(line)
        expected = {b.defect for b in versions.BUGS if line in b.lines}
        assert ServerConfig(es_version=version).upstream_bugs == expected
        assert ServerConfig(es_version=version, conformant=True).upstream_bugs == set()
    # #137129 is fixed in 9.3 (#138122) and in 9.2.x by its back-port #138191 (merged
    # 2025-11-17, so in the modelled 9.2.8): not carried from 9.2 on.
    assert (
        "update-num-threads-ignored"
        in ServerConfig(es_version=versions.resolve("9.1")).active_defects
    )
    assert (
        "update-num-threads-ignored"
        not in ServerConfig(es_version=versions.resolve("9.2")).active_defects
    )


def test_cli_lists_versions_and_refuses_unknown_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--list-versions"]) == 0
    out = capsys.readouterr().out
    for line in versions.supported():
        assert versions.RELEASES[line].number in out
    assert "#137127" in out and "update-timeout-param" in out
    assert cli.main(["serve", "--es-version", "7.17"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown Elasticsearch version '7.17'" in err
    assert cli.main(["gate", "--profile", "9.9"]) == 2
    assert "no contract profile '9.9'" in capsys.readouterr().err
    assert cli.main(["gate", "--list-profiles"]) == 0
    assert capsys.readouterr().out.split() == versions.supported()


# -- the profiles -------------------------------------------------------------------------------
def test_profile_inherits_and_overrides(support: ModuleType) -> None:
    p91, p95 = support.load_profile("9.1.10"), support.load_profile("9.5.4")
    assert (p91.line, p91.exact, p95.line, p95.exact) == ("9.1", True, "9.5", True)
    assert p95.reasons["not_found"] == p91.reasons["not_found"]  # inherited through 9.2 … 9.4
    assert p95.reason("default_update", id=".x") == "Default endpoint [.x] cannot be updated"
    assert p95.expect("default-update", 400, "status_exception") == (400, "status_exception")
    assert p91.expect("default-update", 400, "status_exception")[1] == (
        "action_request_validation_exception"
    )
    assert p91.reason("chunk_below_min", value=19, bound=20).endswith(
        "Invalid value [19.0]. [max_chunk_size] must be a greater than or equal to [20.0];"
    )
    assert "must be greater than" in support.load_profile("9.3.1").reason(
        "chunk_below_min", value=19, bound=20
    )
    assert p91.reason("update_num_threads") is None  # 9.1 has no such text: not pinned


@pytest.mark.parametrize(
    ("number", "line"),
    [("9.6.0", "9.5"), ("10.0.0", "9.5"), ("9.0.3", "8.19"), ("8.17.2", "8.19")],
)
def test_nearest_older_profile_checks_statuses_and_types_only(
    support: ModuleType, number: str, line: str
) -> None:
    with pytest.warns(UserWarning, match="statuses and error types only"):
        profile = support.load_profile(number)
    assert (profile.line, profile.exact) == (line, False)
    assert profile.reason("not_found", id="x") is None
    assert "statuses and error types only" in profile.describe()


def test_forced_profile(support: ModuleType) -> None:
    profile = support.load_profile("9.5.4", forced="9.1")
    assert (profile.line, profile.exact, profile.forced) == ("9.1", True, True)
    assert support.deviation_version(profile) == "9.1.0"
    assert "forced" in profile.describe()
    with pytest.raises(support.UnknownProfile):
        support.load_profile("9.5.4", forced="7.17")


@pytest.mark.parametrize("line", versions.supported())
def test_known_deviations_follow_the_bugs_table(support: ModuleType, line: str) -> None:
    """The gate expects exactly the upstream bugs the server carries for that version."""
    expected = {b.issue for b in versions.BUGS if line in b.lines and b.in_gate}
    listed = {
        re.search(r"#\d+", d["reason"]).group()  # type: ignore[union-attr]
        for d in support.known_deviations(versions.RELEASES[line].number)
    }
    assert listed == expected


# -- the matrix ---------------------------------------------------------------------------------
# The checks whose expectations depend on the version, and the known deviations' checks.
VERSIONED = (
    "test_put_rule or test_infer_request_rule or test_update or test_reserved_default or "
    "test_embedding_task_type or test_rejected_put_leaves_nothing or "
    "test_elser_refused_for_text_embedding or test_inference_timeout or "
    "test_a_deployment_at_zero_survives_another_deployment_start"
)


def _gate(line: str, tmp_path: Path, extra: list[str], workers: str = "1",
          select: str = VERSIONED) -> Any:  # -> GateResult  # fmt: skip
    config = ServerConfig(
        password=PASSWORD, timing=PRESETS["fast"], es_version=versions.resolve(line)
    )
    zero_wait = config.timing.scale_to_zero_seconds + config.timing.scale_down_cooldown_seconds
    with EmbeddedServer(config) as server:
        target = Target(server.url, username="elastic", password=PASSWORD)
        # The selection names explicit checks only: -m "not schema" also spares building the
        # generated cases at collection (contracts/conftest.py), which -k alone would deselect.
        return run_gate(target, "versions", tmp_path, workers=workers, max_examples=5,
                        scale_to_zero_wait=zero_wait,
                        extra=["-m", "not schema", "-k", select, "--allocation-wait", "60",
                               *extra])  # fmt: skip


@pytest.mark.slow
def test_profile_reported_with_xdist_workers(tmp_path: Path) -> None:
    """With workers the controlling process still says which profile applied."""
    result = _gate("9.3", tmp_path, [], workers="2", select="test_put_rule")
    assert result.exit_code == 0, result.summary.text([])
    assert result.summary.profile["profile"] == "9.3"
    assert "profile 9.3 (Elasticsearch 9.3.8)" in result.summary.text([])


@pytest.mark.slow
@pytest.mark.parametrize("line", versions.supported())
def test_gate_conformant_on_every_version(line: str, tmp_path: Path) -> None:
    result = _gate(line, tmp_path, [])
    summary = result.summary
    assert result.exit_code == 0, summary.text([])
    assert summary.profile["profile"] == line and summary.profile["exact"]
    assert line in summary.profile_line
    deviations = {c.name.split("[")[0] for c in summary.known_deviations}
    bugs = {b.issue for b in versions.BUGS if line in b.lines and b.in_gate}
    assert len(deviations) == len(bugs), (deviations, bugs)
    assert "known deviation" in summary.text([])
    assert "Known deviations" in result.html.read_text()


def _differences(support: ModuleType, x: str, y: str) -> set[str]:
    """The profile entries whose values differ between versions x and y."""
    a, b = support._profile_data(x), support._profile_data(y)
    return {
        key
        for table in ("reasons", "rules", "features")
        for key in {*a.get(table, {}), *b.get(table, {})}
        if a.get(table, {}).get(key) != b.get(table, {}).get(key)
    }


def _deviation_tests(support: ModuleType, line: str) -> set[str]:
    return {d["test"] for d in support.known_deviations(f"{line}.0")}


@pytest.mark.slow
@pytest.mark.parametrize(("forced", "served"), [("9.1", "9.5"), ("9.5", "8.19")])
def test_forced_profile_fails_exactly_on_the_differences(
    support: ModuleType, forced: str, served: str, tmp_path: Path
) -> None:
    result = _gate(served, tmp_path, ["--profile", forced])
    cases = result.summary.cases
    differences = _differences(support, forced, served)
    deviations = _deviation_tests(support, forced) ^ _deviation_tests(support, served)
    assert differences, "the two profiles should differ"
    expected = {
        c.name for c in cases
        if set(c.rules) & differences or any(c.name.endswith(t.split("::")[-1]) for t in deviations)
    }  # fmt: skip
    failed = {c.name for c in result.summary.failures}
    assert failed == expected, {"unexpected": failed - expected, "missing": expected - failed}
    assert result.exit_code == 1
    text = result.summary.text([])
    assert f"profile {forced} (forced" in text
    # Each failure names the profile entries it depends on (or is a known deviation's check).
    for case in result.summary.failures:
        assert set(case.rules) & differences or case.name.split("::")[-1].split("[")[0] in {
            t.split("::")[-1] for t in deviations
        }, case.name


# -- the official client ------------------------------------------------------------------------
@pytest.mark.parametrize("line", [v for v in versions.supported() if v.startswith("9.")])
def test_official_client_on_every_9x_version(line: str) -> None:
    from elasticsearch import BadRequestError, Elasticsearch

    config = ServerConfig(
        password=PASSWORD, timing=PRESETS["instant"], es_version=versions.resolve(line)
    )
    with EmbeddedServer(config) as server, Elasticsearch(
        server.url, basic_auth=("elastic", PASSWORD), request_timeout=10, max_retries=0
    ) as es:  # fmt: skip
        assert es.info()["version"]["number"] == versions.RELEASES[line].number
        inference_id = f"client-{line.replace('.', '-')}"
        created = es.inference.put(
            task_type="sparse_embedding", inference_id=inference_id,
            inference_config={"service": "elasticsearch", "service_settings": {
                "model_id": ".elser_model_2_linux-x86_64", "num_allocations": 1,
                "num_threads": 1}},
        )  # fmt: skip
        assert created["inference_id"] == inference_id
        result = es.inference.sparse_embedding(inference_id=inference_id, input=["semantic"])
        assert result["sparse_embedding"][0]["embedding"]
        with pytest.raises(BadRequestError):
            es.inference.put(task_type="sparse_embedding", inference_id="Bad-Id",
                             inference_config={"service": "elasticsearch"})  # fmt: skip
        es.inference.delete(inference_id=inference_id)


def test_official_9x_client_against_8_19_gets_8_19_answers() -> None:
    """The 9.x client asks for ``compatible-with=9``, which an 8.19 node does not serve
    (RestApiVersion: current major and the one before); the 8.x client cannot be installed
    beside the 9.x one (same package), so 8.19 is checked with plain HTTP instead."""
    config = ServerConfig(password=PASSWORD, es_version=versions.resolve("8.19"))
    with InProcessServer(config) as server, server.client(auth=("elastic", PASSWORD)) as c:
        compat8 = {"Accept": "application/vnd.elasticsearch+json; compatible-with=8"}
        ok = c.get("/", headers=compat8)
        refused = c.get(
            "/", headers={"Accept": "application/vnd.elasticsearch+json; compatible-with=9"}
        )
    assert ok.status_code == 200 and ok.json()["version"]["number"].startswith("8.19.")
    assert "compatible-with=8" in ok.headers["content-type"]
    assert refused.status_code == 400, refused.text


def test_es_version_is_for_the_embedded_server_only(capsys: pytest.CaptureFixture[str]) -> None:
    """Against a cluster the version is the cluster's: --es-version with --url is a usage error
    that points at --profile."""
    assert cli.main(["gate", "--url", "http://127.0.0.1:9", "--es-version", "9.1"]) == 2
    assert "--profile" in capsys.readouterr().err


def test_readme_tells_each_version_what_is_checked() -> None:
    """The README's version table names every change and every known bug (kept true here)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Elasticsearch versions") :]
    for change in versions.CHANGES:
        assert f"`{change.name}`" in section, change.name
    for bug in versions.BUGS:
        assert bug.issue in section, bug.issue


def test_patch_level_deviation(support: ModuleType) -> None:
    """#137129's fix reached 9.2 in 9.2.2 (#138191): earlier 9.2 patches still expect the bug."""
    issues = {d["reason"].split(":")[0] for d in support.known_deviations("9.2.1")}
    assert "elastic/elasticsearch#137129" in issues
    issues = {d["reason"].split(":")[0] for d in support.known_deviations("9.2.2")}
    assert "elastic/elasticsearch#137129" not in issues
