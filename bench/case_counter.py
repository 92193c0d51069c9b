"""A pytest plugin that counts the schemathesis cases a contract run executes.

Loaded into ``elsercheck gate``'s pytest child with ``PYTEST_ADDOPTS="-p bench.case_counter"``
(and the repository root on ``PYTHONPATH``), so the gate itself stays untouched. Every
generated case of ``contracts/test_schema.py`` is sent with ``Case.call`` exactly once, while
the ``ignored_auth`` probes go through the transport directly: counting ``Case.call`` counts
cases, not requests. Each process (the controller and every xdist worker) appends its count
as one line to the file named by ``ELSERCHECK_BENCH_CASES_FILE``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import schemathesis

ENV_FILE = "ELSERCHECK_BENCH_CASES_FILE"
_count = 0
_original_call = schemathesis.Case.call


def _counting_call(self: schemathesis.Case, *args: Any, **kwargs: Any) -> Any:
    global _count
    _count += 1
    return _original_call(self, *args, **kwargs)


schemathesis.Case.call = _counting_call  # type: ignore[method-assign]


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """Append this process's count (xdist: one line per worker, the controller's is 0)."""
    target = os.environ.get(ENV_FILE)
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(f"{_count}\n")
