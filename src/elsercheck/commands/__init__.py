"""The ``elsercheck`` commands: one module per command, each registering itself.

Every module here has ``register(subparsers)``, which adds its sub-parser and sets its handler
(``handler(args) -> int``, an exit code of ``exit_codes.py``). The options several commands
share are declared once in ``options.py`` (the number types in ``elsercheck/numbers.py``); the
command's policy (defaults that depend on the target, bounds, stages) lives in its module; the
domain work stays in the domain modules (``gate.py``, ``load/``, ``capacity/``, ``report/`` …).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# The order of `elsercheck --help`.
COMMANDS = (
    "serve",
    "selftest",
    "gate",
    "spec",
    "load",
    "report",
    "capacity",
    "run",
    "paths",
    "snapshot",
    "verify",
    "upgrade-check",
    "doctor",
)


def register_all(subparsers: Any) -> None:
    """Add every command's sub-parser (modules imported here: ``--help`` stays quick); the
    module of ``a-b`` is ``a_b``."""
    for name in COMMANDS:
        import_module(f"{__name__}.{name.replace('-', '_')}").register(subparsers)
