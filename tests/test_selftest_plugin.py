"""``elsercheck selftest``'s gates: cheap checks first, and a defect's gate stops at its first
catch (``--first-catch``: a failed check, not a setup error) while the clean run — and every run
under ``--every-check`` — runs every check."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from elsercheck import selftest, selftest_pytest
from elsercheck.gate import GateResult
from elsercheck.gate_report import CaseResult, GateSummary


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


@dataclass
class FakeGates:
    """run_one with the server and the gate replaced: the extra pytest options of each gate,
    and the checks every gate reports failed (none: it catches nothing)."""

    seen: list[list[str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def gate(self, target, run_id, directory: Path, workers, examples, zero, extra):  # type: ignore[no-untyped-def]
        self.seen.append(list(extra))
        cases = [CaseResult(name, "failed", 0.1) for name in self.failures]
        code = 1 if cases else 0
        return GateResult(
            code, GateSummary(cases), directory / "junit.xml", directory / "gate.html"
        )


@pytest.fixture
def gates(monkeypatch: pytest.MonkeyPatch) -> FakeGates:
    @contextlib.contextmanager
    def server(config: Any) -> Iterator[Any]:
        yield SimpleNamespace(url="http://127.0.0.1:9")

    fake = FakeGates()
    monkeypatch.setattr(selftest, "EmbeddedServer", server)
    monkeypatch.setattr(selftest, "run_gate", fake.gate)
    return fake


@pytest.mark.fast  # run_one's server and gate are replaced: no port, no process
def test_a_defects_gate_stops_at_its_first_catch_the_clean_one_runs_everything(
    gates: FakeGates, tmp_path: Path
) -> None:
    selftest.run_one(selftest.CLEAN, tmp_path, 5)
    missed = selftest.run_one("negative-weights", tmp_path, 5)  # the fake gate catches nothing
    selftest.run_one("negative-weights", tmp_path, 5, every_check=True)
    plugin = ["-p", "elsercheck.selftest_pytest"]
    assert all(extra[:2] == plugin for extra in gates.seen)
    # The defect's checks first, then (as they caught nothing) its generated cases.
    assert [extra[3:] for extra in gates.seen] == [
        [],
        ["--first-catch", "-m", "not schema"],
        ["--first-catch", "-m", "schema"],
        [],
    ]
    assert not missed.caught and missed.exit_code == 0
    assert missed.report == "runs/negative-weights/schema/gate.html"


@pytest.mark.fast  # run_one's server and gate are replaced: no port, no process
def test_a_catch_by_the_checks_skips_the_generated_cases(gates: FakeGates, tmp_path: Path) -> None:
    gates.failures = ["test_lifecycle.py::test_lifecycle"]
    run = selftest.run_one("negative-weights", tmp_path, 5)
    assert [extra[-1] for extra in gates.seen] == ["not schema"]
    assert run.caught and run.tests == ["test_lifecycle.py::test_lifecycle"]
    assert run.report == "runs/negative-weights/gate.html"


@pytest.mark.parametrize(
    ("stage", "kept"),
    [("not schema", {"conftest.py", "test_auth.py", "test_scaling.py", "helpers.py"}),
     ("schema", {"conftest.py", "test_schema.py", "helpers.py"}),
     ("", {"conftest.py", "test_auth.py", "test_scaling.py", "test_schema.py", "helpers.py"}),
     ("not  schema and not slow", {"conftest.py", "test_auth.py", "test_scaling.py",
                                    "test_schema.py", "helpers.py"})],
)  # fmt: skip
def test_a_stage_collects_its_modules_only(
    contracts_conftest: Any, stage: str, kept: set[str]
) -> None:
    # The stages selftest's gates run (selftest_pytest.SCHEMA_STAGES) are -m expressions; the
    # contract suite leaves the other stage's modules uncollected, any other expression alone.
    config: Any = SimpleNamespace(option=SimpleNamespace(markexpr=stage))
    names = ["conftest.py", "test_auth.py", "test_scaling.py", "test_schema.py", "helpers.py"]
    collected = {
        name for name in names
        if not contracts_conftest.pytest_ignore_collect(Path("contracts") / name, config)
    }  # fmt: skip
    assert collected == kept


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
