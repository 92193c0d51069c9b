"""Where the suites live: the checkout when run from one, else the copy inside the wheel."""

from __future__ import annotations

import os
from pathlib import Path

RESOURCES = ("contracts", "loadtests", "openapi")
_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parents[1]  # src/elsercheck -> repository root


def _in_checkout() -> bool:
    return (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "src" / "elsercheck").is_dir()


def resource_dir(name: str) -> Path:
    """The directory of ``contracts``, ``loadtests`` or ``openapi``."""
    if name not in RESOURCES:
        raise ValueError(f"unknown resource {name!r}")
    if _in_checkout():
        return _CHECKOUT / name
    return _PACKAGE / "_bundled" / name


REPORTS_ENV = "ELSERCHECK_REPORTS"


def reports_dir() -> Path:
    """Default output directory: ``$ELSERCHECK_REPORTS``, else ``reports/`` of the checkout, else
    of the working directory."""
    configured = os.environ.get(REPORTS_ENV)
    if configured:
        return Path(configured)
    return (_CHECKOUT if _in_checkout() else Path.cwd()) / "reports"


def cache_dir() -> Path:
    """elsercheck's cache on this machine (``$XDG_CACHE_HOME/elsercheck``, else
    ``~/.cache/elsercheck``): what is derived once and read by every later run."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "elsercheck"
