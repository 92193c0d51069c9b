"""The pytest plugin of ``elsercheck selftest``'s gates (``-p elsercheck.selftest_pytest``).

- Quiet: selftest runs many gates at once; their progress lines would interleave with its
  table. JUnit XML, which the gate reads, is unaffected.
- Cheap checks first: a defect's gate stops at the first check that catches it (``--maxfail
  1``, as a mutation tester stops at the first test that kills a mutant), so the checks that
  wait on the cluster (the scaler's ticks and cooldowns) or send hundreds of generated cases
  (each PUT case starts a deployment) run after the quick ones. Within a rank pytest's order is
  kept, and a module's tests stay together (its module fixtures are set up once).
"""

from __future__ import annotations

import pytest

# Contract modules by what they cost on the embedded server's fast timing (a gate's junit.xml,
# 2 cores): the rest take a second or two in all.
LAST = (
    "test_schema.py",  # generated cases by the hundred, ~60 s; a PUT case waits for its start
    "test_scaling.py",  # waits for the scaler: ticks, cooldowns, scale to zero, ~30 s
)


def _rank(item: pytest.Item) -> int:
    module = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    return LAST.index(module) + 1 if module in LAST else 0


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        config.pluginmanager.unregister(reporter)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable
