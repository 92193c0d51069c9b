"""tests/loadrun_fixtures.capacity_until_decided: a sweep inconclusive because the load machine
fell behind is tried once more, then skipped with its reason; anything else is returned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from elsercheck.exit_codes import ExitCode
from tests import loadrun_fixtures

BEHIND = "the embedded server's simulation was behind (its event loop stalled 4.3% of the run)"


def sweeps(monkeypatch: pytest.MonkeyPatch, *outcomes: tuple[int, list[str]]) -> list[list[str]]:
    """Replace the CLI: each call writes the next (exit code, undecided point's reasons)."""
    calls: list[list[str]] = []

    def main(argv: list[str]) -> int:
        calls.append(argv)
        code, reasons = outcomes[len(calls) - 1]
        point = {"inconclusive": bool(reasons), "reasons": reasons, "attempt": len(calls)}
        out = Path(argv[argv.index("--report-dir") + 1])
        out.mkdir(parents=True, exist_ok=True)
        (out / "capacity.json").write_text(json.dumps({"cells": [{"points": [point]}]}))
        return code

    monkeypatch.setattr(loadrun_fixtures, "main", main)
    return calls


def attempt(data: dict[str, Any]) -> int:
    return int(data["cells"][0]["points"][0]["attempt"])


def test_an_inconclusive_sweep_is_tried_again_into_the_same_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = sweeps(monkeypatch, (ExitCode.INCONCLUSIVE, [BEHIND]), (ExitCode.OK, []))
    code, data = loadrun_fixtures.capacity_until_decided(["--url", "http://x"], tmp_path)
    assert code == ExitCode.OK and attempt(data) == 2 and len(calls) == 2
    assert {c[c.index("--report-dir") + 1] for c in calls} == {str(tmp_path)}


def test_a_decided_sweep_is_returned_at_once_even_when_it_failed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = sweeps(monkeypatch, (ExitCode.FAILED, []))
    code, data = loadrun_fixtures.capacity_until_decided([], tmp_path)
    assert code == ExitCode.FAILED and attempt(data) == 1 and len(calls) == 1


def test_twice_behind_is_a_skip_with_the_sweeps_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sweeps(monkeypatch, (ExitCode.INCONCLUSIVE, [BEHIND]), (ExitCode.INCONCLUSIVE, [BEHIND]))
    with pytest.raises(pytest.skip.Exception, match="event loop stalled"):
        loadrun_fixtures.capacity_until_decided([], tmp_path)


def test_inconclusive_without_naming_the_load_machine_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sweeps(monkeypatch, (ExitCode.INCONCLUSIVE, ["p99 900 ms above the objective 600 ms"]))
    with pytest.raises(AssertionError):
        loadrun_fixtures.capacity_until_decided([], tmp_path)
