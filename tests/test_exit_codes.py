"""The exit codes: one module, the README's table agrees with it, child codes map onto it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from elsercheck.exit_codes import (
    LOCUST,
    PYTEST,
    ExitCode,
    from_locust,
    from_pytest,
    most_severe,
)

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_exit_codes() -> dict[int, str]:
    """The rows of the README's "Exit codes" table: code -> meaning."""
    section = README.read_text(encoding="utf-8").split("\n## Exit codes\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    return {
        int(code): meaning for code, meaning in re.findall(r"^\| (\d+) \| (.+) \|$", section, re.M)
    }


def test_readme_lists_exactly_the_module_codes() -> None:
    assert set(readme_exit_codes()) == {int(code) for code in ExitCode}


def test_readme_meanings_are_not_empty() -> None:
    assert all(meaning.strip() for meaning in readme_exit_codes().values())


def test_every_code_has_a_distinct_value_and_the_signal_convention() -> None:
    assert len({int(code) for code in ExitCode}) == len(ExitCode)
    assert ExitCode.INTERRUPTED == 128 + 2 and ExitCode.TERMINATED == 128 + 15
    assert ExitCode.HANGUP == 128 + 1


def test_pytest_mapping_names_every_pytest_exit_code() -> None:
    assert set(PYTEST) == {int(code) for code in pytest.ExitCode}
    assert from_pytest(pytest.ExitCode.OK) is ExitCode.OK
    assert from_pytest(pytest.ExitCode.TESTS_FAILED) is ExitCode.FAILED
    for code in pytest.ExitCode:
        if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            assert from_pytest(code) is ExitCode.USAGE, code
    assert from_pytest(-9) is ExitCode.USAGE  # killed: the suite did not run


def test_locust_mapping() -> None:
    assert {code: from_locust(code) for code in LOCUST} == {
        0: ExitCode.OK, 1: ExitCode.FAILED, 2: ExitCode.USAGE, 4: ExitCode.INCONCLUSIVE
    }  # fmt: skip
    assert from_locust(-11) is ExitCode.USAGE


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ((), ExitCode.OK),
        ((0, 0, 0), ExitCode.OK),
        ((0, 3, 0), ExitCode.REGRESSION),
        ((3, 1, 0), ExitCode.FAILED),
        ((1, 3, 2), ExitCode.USAGE),
        ((3, 4, 0), ExitCode.INCONCLUSIVE),
        ((4, 1), ExitCode.FAILED),
    ],
)
def test_most_severe(codes: tuple[int, ...], expected: ExitCode) -> None:
    assert most_severe(*codes) is expected


@pytest.mark.process
@pytest.mark.parametrize("code,make_ok", [(0, True), (1, False), (2, False), (3, True), (4, True),
                                          (130, False)])  # fmt: skip
def test_make_run_fails_only_on_a_failure(code: int, make_ok: bool) -> None:
    """``make run``: exit 3 (regression vs noise) and 4 (inconclusive: this machine fell behind)
    end make successfully; a failure, a usage error or an interruption does not."""
    import subprocess

    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^run:.*\n\t(.*)\n", makefile, re.M)
    assert recipe, "Makefile has no run recipe"
    line = recipe.group(1).replace("$$", "$").replace("$(BIN)/elsercheck run", f"(exit {code})")
    assert f"(exit {code})" in line, line
    finished = subprocess.run(["sh", "-c", line], capture_output=True, timeout=30)
    assert (finished.returncode == 0) is make_ok, (line, finished.returncode)
