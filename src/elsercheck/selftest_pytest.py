"""The pytest plugin of ``elsercheck selftest``'s gates (``-p elsercheck.selftest_pytest``).

- Quiet: selftest runs many gates at once; their progress lines would interleave with its
  table. JUnit XML, which the gate reads, is unaffected.
- Cheap checks first: a defect's gate stops at the first check that catches it (``--first-catch``,
  as a mutation tester stops at the first test that kills a mutant), so the checks that
  wait on the cluster (the scaler's ticks and cooldowns) or send hundreds of generated cases
  (each PUT case starts a deployment) run after the quick ones. Within a rank pytest's order is
  kept, and a module's tests stay together (its module fixtures are set up once). A check whose
  setup failed caught nothing (pytest's ``--maxfail`` would stop there too): the run goes on.
- Stages are the contract suite's marks (:data:`SCHEMA_STAGES`: ``-m "not schema"`` the checks
  alone, ``-m schema`` the generated cases of ``test_schema.py`` alone; contracts/conftest.py
  leaves the other stage's modules uncollected). No defect of the catalogue has needed the
  cases so far, and building them is most of a gate's start (schemathesis' coverage phase runs
  at collection: about 2.5 of 4 CPU seconds): a defect's gate runs the checks first and the
  cases only when they caught nothing (selftest.run_one).
"""

from __future__ import annotations

import pytest

# Contract modules by what they cost on the embedded server's fast timing (a gate's junit.xml,
# 2 cores): the rest take a second or two in all.
SCHEMA_MODULE = "test_schema.py"
# ``-m`` of each stage: the explicit checks, the generated cases (test_schema.py's module mark).
CHECKS_ONLY, CASES_ONLY = SCHEMA_STAGES = ("not schema", "schema")
LAST = (
    SCHEMA_MODULE,  # generated cases by the hundred, ~60 s; a PUT case waits for its start
    "test_scaling.py",  # waits for the scaler: ticks, cooldowns, scale to zero, ~30 s
)


def _rank(item: pytest.Item) -> int:
    module = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    return LAST.index(module) + 1 if module in LAST else 0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--first-catch",
        action="store_true",
        help="stop at the first check that fails (a setup error does not count)",
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        config.pluginmanager.unregister(reporter)
    if config.getoption("--first-catch"):
        config.pluginmanager.register(_FirstCatch(), "elsercheck-first-catch")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable


class _FirstCatch:
    """Ends the session at the first failed check, as ``--maxfail 1`` does (``shouldfail``:
    exit code 1, JUnit written), but only for a failure in the check itself."""

    def __init__(self) -> None:
        self.session: pytest.Session | None = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        expected = hasattr(report, "wasxfail")
        if self.session and report.when == "call" and report.failed and not expected:
            self.session.shouldfail = f"caught by {report.nodeid}"
