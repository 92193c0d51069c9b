"""A pytest plugin (``-p elsercheck.quiet_pytest``) that silences the terminal output.

``elsercheck selftest`` runs many gates at once; their progress lines would interleave with its
table. JUnit XML, which the gate reads, is unaffected.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        config.pluginmanager.unregister(reporter)
