"""Elastic's YAML REST tests for the built-in services (vendored under tests/data/yaml_rest/,
provenance in each file's header) run by tests/yaml_rest.py against the in-process reference
server at 9.5 and at 8.19. A test skipped by its own ``requires``/``skip`` is reported with the
reason; every other test must pass."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from elsercheck.reference import versions
from elsercheck.reference.config import ServerConfig
from elsercheck.timing import PRESETS
from tests.inprocess import InProcessServer
from tests.yaml_rest import Outcome, Runner

DATA = Path(__file__).parent / "data/yaml_rest"
FILES = sorted(DATA.glob("*.yml"))
# file -> versions where every test must run (not be skipped)
MUST_RUN = {
    "inference_crud.yml": ("9.5", "8.19"),
    "31_semantic_text_ml_fallback.yml": ("9.5", "8.19"),
    "inference_usage.yml": ("9.5",),
    "get_trained_model_stats.yml": ("9.5", "8.19"),
}


def _run_file(path: Path, version: str) -> list[Outcome]:
    """The file's tests, each on a fresh in-process server (ES's runner wipes the cluster)."""
    servers: list[InProcessServer] = []
    clients: list[httpx.Client] = []

    def fresh() -> httpx.Client:
        config = ServerConfig(security=False, timing=PRESETS["instant"],
                              es_version=versions.resolve(version))  # fmt: skip
        server = InProcessServer(config).start()
        servers.append(server)
        clients.append(server.client(timeout=30))
        return clients[-1]

    try:
        return Runner(fresh(), version).run_file(path, fresh)
    finally:
        for client in clients:
            client.close()
        for server in servers:
            server.stop()


@pytest.mark.parametrize("version", ["9.5", "8.19"])
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_yaml_file(path: Path, version: str) -> None:
    outcomes = _run_file(path, version)
    assert outcomes, path
    for outcome in outcomes:
        if outcome.skipped is not None:
            assert version not in MUST_RUN.get(path.name, ()), (outcome.name, outcome.skipped)
            print(f"SKIPPED {path.name} [{outcome.name}] at {version}: {outcome.skipped}")
        else:
            assert outcome.steps > 0, outcome.name


def test_runner_can_fail() -> None:
    """A wrong expectation fails: the runner asserts, it does not just run."""
    with InProcessServer(ServerConfig(security=False, timing=PRESETS["instant"])) as server, \
            server.client(timeout=30) as client:  # fmt: skip
        runner = Runner(client, "9.5")
        runner.step_do({"catch": "missing", "inference.get": {"inference_id": "nope"}})
        runner.step_match({"error.type": "resource_not_found_exception"})
        with pytest.raises(AssertionError):
            runner.step_match({"error.type": "something_else"})
        with pytest.raises(AssertionError):
            runner.step_do({"inference.get": {"inference_id": "nope"}})  # 404 without catch
        with pytest.raises(AssertionError):
            runner.step_not_exists("error.reason")


def test_inference_usage_file_keeps_every_assertion() -> None:
    """The vendored usage file was re-flowed (blank lines): its 94 assertions are all there."""
    text = (DATA / "inference_usage.yml").read_text()
    assert sum(text.count(f"  - {k}:") for k in ("match", "length", "not_exists")) == 94


def test_trained_model_stats_file_fails_on_a_wrong_expectation(tmp_path: Path) -> None:
    """The vendored ``get_trained_model_stats.yml`` really asserts: with one expectation changed
    (``_all`` counts 4 models: the built-in ``lang_ident_model_1`` and the three uploaded) the
    run fails, and with the alias ordering reversed too."""
    text = (DATA / "get_trained_model_stats.yml").read_text()
    for old, new in (
        ("  - match: { count: 4 }", "  - match: { count: 3 }"),
        ("  - match: { trained_model_stats.1.model_id: another-regression-model }",
         "  - match: { trained_model_stats.1.model_id: a-unused-regression-model1 }"),
    ):  # fmt: skip
        assert old in text
        path = tmp_path / "stats.yml"
        path.write_text(text.replace(old, new, 1))
        with pytest.raises(AssertionError, match="match:"):
            _run_file(path, "9.5")


def test_runner_checks_warnings() -> None:
    """ES DoSection: a Warning the step neither expects nor allows fails it; an expected one
    must come."""
    with InProcessServer(ServerConfig(security=False, timing=PRESETS["instant"])) as server, \
            server.client(timeout=30) as client:  # fmt: skip
        runner = Runner(client, "9.5")
        body = {"mappings": {"properties": {"sv": {"type": "sparse_vector"}}}}
        runner.step_do({"indices.create": {"index": "w", "body": body}})
        query = {"query": {"text_expansion": {"sv": {"model_id": "m", "model_text": "x"}}}}
        te = "text_expansion is deprecated. Use sparse_vector instead."
        runner.step_do(
            {"catch": "missing", "warnings": [te], "search": {"index": "w", "body": query}}
        )
        with pytest.raises(AssertionError, match="unexpected warnings"):
            runner.step_do({"catch": "missing", "search": {"index": "w", "body": query}})
        with pytest.raises(AssertionError, match="not returned"):
            runner.step_do({"warnings": [te], "indices.get_mapping": {"index": "w"}})
