"""Every exit code elsercheck documents (README, "Exit codes"), and how child codes map to them.

Commands return an :class:`ExitCode`; the gate's pytest and the load run's locust child
processes have codes of their own, translated here. ``tests/test_exit_codes.py`` checks that the
README's table lists exactly these codes.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The process exit codes of ``elsercheck`` (and of ``python -m elsercheck.report``)."""

    OK = 0
    """Success: conformant, every smoke step, scaling expectation and self-test held."""

    FAILED = 1
    """Checks failed: a smoke step, a contract violation, a scaling expectation, a leftover
    endpoint, an uncaught defect (selftest)."""

    USAGE = 2
    """Usage error (bad option, unknown name, missing run directory), or a target that cannot be
    used (unreachable, bad credentials, the suite could not run)."""

    REGRESSION = 3
    """A performance regression beyond its threshold (``report``, ``run``); FAILED outranks it."""

    INCONCLUSIVE = 4
    """No verdict, and no violation seen: gate checks that could not run (their setup failed),
    or real-time verdicts the load machine could not keep the schedule for. FAILED outranks it."""

    INTERRUPTED = 130
    """Interrupted by Ctrl-C (SIGINT), after deleting what the run created (128 + 2)."""

    TERMINATED = 143
    """Terminated by SIGTERM (a CI job cancelled), after the same cleanup (128 + 15)."""

    HANGUP = 129
    """Stopped by SIGHUP (the terminal closed), after the same cleanup (128 + 1)."""


# Worst first, for one code from several steps (``elsercheck run``).
SEVERITY = (ExitCode.USAGE, ExitCode.FAILED, ExitCode.INCONCLUSIVE, ExitCode.REGRESSION)

# pytest's exit codes (pytest.ExitCode) -> the gate's. Only failed tests are violations; an
# interrupted, broken or cut-short session, a usage error or no collected test leave no verdict.
PYTEST = {
    0: ExitCode.OK,  # OK
    1: ExitCode.FAILED,  # TESTS_FAILED
    2: ExitCode.USAGE,  # INTERRUPTED
    3: ExitCode.USAGE,  # INTERNAL_ERROR
    4: ExitCode.USAGE,  # USAGE_ERROR
    5: ExitCode.USAGE,  # NO_TESTS_COLLECTED
    6: ExitCode.USAGE,  # MAX_WARNINGS_ERROR (pytest 9): the session was cut short
}

# locust's exit code -> ours: loadtests/elser_locust/session.py sets ExitCode values itself.
LOCUST = {0: ExitCode.OK, 1: ExitCode.FAILED, 2: ExitCode.USAGE, 4: ExitCode.INCONCLUSIVE}


def most_severe(*codes: int) -> ExitCode:
    """One exit code for several steps: the most severe one (2, 1, 4, then 3), else 0."""
    return next((code for code in SEVERITY if code in codes), ExitCode.OK)


def from_pytest(returncode: int) -> ExitCode:
    """The gate's exit code for pytest's; an unknown code means the suite did not run."""
    return PYTEST.get(returncode, ExitCode.USAGE)


def from_locust(returncode: int) -> ExitCode:
    """The load run's exit code for locust's; an unknown code (a crash) means unusable."""
    return LOCUST.get(returncode, ExitCode.USAGE)
