"""``elsercheck report RUN_DIR``: its parser and handler live in ``report/command.py``."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    from ..report import command

    command.add_parser(subparsers)
