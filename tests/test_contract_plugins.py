"""The contract suite loads the pytest plugins it needs by name, and no others.

``contracts/pytest.ini`` turns entry-point autoloading off: with it on, pytest would also load
every installed plugin (anyio's, locust's) and assertion-rewrite all of schemathesis and
hypothesis at each start of the gate, some 5 s of CPU (``make bench``, comparison 1).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGINS = {"xdist.plugin", "schemathesis.pytest.plugin", "_hypothesis_pytestplugin"}


def test_contract_suite_loads_only_its_plugins(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(REPO / "contracts"), "--trace-config", "--help"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    modules = set(re.findall(r"PLUGIN registered: <module '([\w.]+)'", result.stdout))
    assert "conftest" in modules  # the suite's own options are there too
    assert "--es-url" in result.stdout
    assert {m for m in modules if not m.startswith("_pytest.") and m != "conftest"} == PLUGINS


def _collect(tmp_path: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(REPO / "contracts"), "--collect-only", "-q",
         "--es-url", "http://127.0.0.1:9", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_explicit_checks_alone_leave_the_generated_cases_unbuilt(tmp_path: Path) -> None:
    # -m "not schema" (test_gate.py's and test_faults.py's gates, a user's quick run): the
    # generated cases' module is not collected at all, so schemathesis builds none of its
    # cases; nothing is deselected because nothing of it was there to deselect.
    explicit = _collect(tmp_path, "-m", "not schema")
    assert "test_schema.py" not in explicit and "deselected" not in explicit, explicit
    assert re.search(r"^\d+ tests collected", explicit, re.M), explicit
    # Any other selection still collects it: -m schema selects exactly its tests.
    generated = _collect(tmp_path, "-m", "schema")
    items = [line for line in generated.splitlines() if "::" in line]
    assert items and all(line.startswith("test_schema.py::") for line in items), generated
