"""selftest's upgrade stage (src/elsercheck/upgrade_selftest.py): every defect that shows only
after a restart is caught by ``verify`` after its rehearsed upgrade, and ``verify`` is green on
the same rehearsal without the defect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from elsercheck import upgrade_selftest
from elsercheck.estate.findings import NOTE, Finding
from elsercheck.reference.breakage.defects import CATALOGUE
from elsercheck.upgrade_selftest import REHEARSALS, Outcome, rehearse

VERIFY_DEFECTS = sorted(name for name, d in CATALOGUE.items() if d.caught_by == "verify")


def test_every_defect_verify_catches_has_a_rehearsal() -> None:
    assert VERIFY_DEFECTS and set(REHEARSALS) == set(VERIFY_DEFECTS)


def test_an_outcome_is_caught_only_without_a_false_alarm() -> None:
    note = Finding("version", "cluster", "9.4.8 → 9.5.4", severity=NOTE)
    missing = Finding("deployment-missing", "deployment to-zero", "gone")
    assert Outcome([note], [note, missing]).caught
    assert Outcome([note], [note, missing]).rules() == ["deployment-missing (deployment to-zero)"]
    assert not Outcome([note], [note]).caught  # verify saw nothing with the defect
    alarm = Outcome([missing], [missing])
    assert alarm.false_alarm and not alarm.caught  # red on the clean upgrade: not a catch


@pytest.mark.port
@pytest.mark.parametrize("name", VERIFY_DEFECTS)
def test_verify_catches_the_defect_after_its_rehearsed_upgrade(name: str, tmp_path: Path) -> None:
    outcome = rehearse(name, tmp_path)
    assert not outcome.false_alarm, outcome.clean
    assert outcome.caught, outcome.defective
    # The finding names what the defect broke (an endpoint or its deployment).
    subjects = {f.subject for f in outcome.defective if f.severity != NOTE}
    expected = {
        "chunking-dropped-on-upgrade": "endpoint chunked",
        "legacy-model-version-unmigrated": "endpoint legacy-elser",
        "zero-allocation-lost-on-restart": "deployment to-zero",
        "zero-allocation-dropped-on-start": "deployment to-zero",
    }[name]
    assert expected in subjects, subjects
    written = json.loads((tmp_path / "verify.json").read_text())
    assert written["findings"] and (tmp_path / "verify.html").is_file()


def test_a_rehearsal_that_cannot_run_is_an_error_not_a_verdict(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from elsercheck.selftest import Run, _run_verify

    def broken(name: str, report_dir: Path) -> Outcome:
        raise upgrade_selftest.RehearsalError("PUT chunked answered 500")

    monkeypatch.setattr("elsercheck.selftest.rehearse", broken)
    run = _run_verify(Run("chunking-dropped-on-upgrade", "upgrade", "x"), tmp_path)
    assert not run.caught and "could not run" in run.error and "500" in run.error


def test_selftest_counts_a_verify_defect_caught_only_without_a_false_alarm(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from elsercheck.selftest import Run, _run_verify

    note = Finding("version", "cluster", "9.4.8 → 9.5.4", severity=NOTE)
    lost = Finding("chunking-changed", "endpoint chunked", "its chunking settings changed")
    outcomes = iter([Outcome([note], [note, lost]), Outcome([lost], [lost])])
    monkeypatch.setattr("elsercheck.selftest.rehearse", lambda name, report_dir: next(outcomes))
    caught = _run_verify(Run("chunking-dropped-on-upgrade", "upgrade", "x"), tmp_path)
    assert caught.caught and caught.ok and caught.tests == ["chunking-changed (endpoint chunked)"]
    assert caught.report.endswith("verify.html")
    alarm = _run_verify(Run("chunking-dropped-on-upgrade", "upgrade", "x"), tmp_path)
    assert not alarm.caught and "not green without the defect" in alarm.error
