"""``elsercheck selftest``'s gates: cheap checks first, and a defect's gate stops at its first
catch (``--first-catch``: a failed check, not a setup error) while the clean run — and every run
under ``--every-check`` — runs every check."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from elsercheck import selftest, selftest_pytest
from elsercheck.gate import GateResult
from elsercheck.gate_report import GateSummary


def test_checks_that_wait_or_generate_hundreds_of_cases_run_last_in_pytests_order() -> None:
    ids = [
        "test_auth.py::test_a", "test_scaling.py::test_s1", "test_schema.py::test_op[PUT]",
        "test_lifecycle.py::test_l", "test_scaling.py::test_s2", "test_schema.py::test_op[GET]",
        "test_semantic_text.py::test_t",
    ]  # fmt: skip
    items: list[Any] = [SimpleNamespace(nodeid=f"contracts/{i}") for i in ids]
    selftest_pytest.pytest_collection_modifyitems(items)
    assert [i.nodeid.removeprefix("contracts/") for i in items] == [
        "test_auth.py::test_a", "test_lifecycle.py::test_l", "test_semantic_text.py::test_t",
        "test_schema.py::test_op[PUT]", "test_schema.py::test_op[GET]",
        "test_scaling.py::test_s1", "test_scaling.py::test_s2",
    ]  # fmt: skip


@pytest.fixture
def gates(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """run_one with the server and the gate replaced: the extra pytest options of each gate."""
    seen: list[list[str]] = []

    @contextlib.contextmanager
    def server(config: Any) -> Iterator[Any]:
        yield SimpleNamespace(url="http://127.0.0.1:9")

    def gate(target, run_id, directory: Path, workers, examples, zero, extra):  # type: ignore[no-untyped-def]
        seen.append(list(extra))
        directory.mkdir(parents=True, exist_ok=True)
        return GateResult(0, GateSummary([]), directory / "junit.xml", directory / "gate.html")

    monkeypatch.setattr(selftest, "EmbeddedServer", server)
    monkeypatch.setattr(selftest, "run_gate", gate)
    yield seen


@pytest.mark.fast  # run_one's server and gate are replaced: no port, no process
def test_a_defects_gate_stops_at_its_first_catch_the_clean_one_runs_everything(
    gates: list[list[str]], tmp_path: Path
) -> None:
    selftest.run_one(selftest.CLEAN, tmp_path, 5)
    selftest.run_one("negative-weights", tmp_path, 5)
    selftest.run_one("negative-weights", tmp_path, 5, every_check=True)
    plugin = ["-p", "elsercheck.selftest_pytest"]
    assert all(extra[:2] == plugin for extra in gates)
    assert ["--first-catch" in extra for extra in gates] == [False, True, False]


def report(when: str, outcome: str, **extra: Any) -> Any:
    return SimpleNamespace(when=when, failed=outcome == "failed", nodeid=f"t.py::{when}", **extra)


def test_the_first_failed_check_ends_the_run_a_setup_error_or_expected_failure_does_not() -> None:
    # A defect that breaks a fixture's setup (an endpoint listing it cannot parse) errors that
    # check: nothing caught yet. pytest's --maxfail would stop there, with no verdict (exit 4).
    catch = selftest_pytest._FirstCatch()
    session: Any = SimpleNamespace(shouldfail=False)
    catch.pytest_sessionstart(session)
    for seen in (report("setup", "failed"), report("call", "passed"),
                 report("call", "failed", wasxfail="a known deviation")):  # fmt: skip
        catch.pytest_runtest_logreport(seen)
        assert session.shouldfail is False
    catch.pytest_runtest_logreport(report("call", "failed"))
    assert session.shouldfail == "caught by t.py::call"
