"""The contract profiles (``contracts/profiles/<line>.toml``), read with what they extend.

One reader for the contract suite (contracts/contract_support.py) and ``upgrade-check``
(estate/upgrade.py): a profile names its parent with ``extends``; its tables (``reasons``,
``rules``, ``features``, ``privileges``, ``models``) are merged over the parent's, row by row,
and its own scalars (``version``) win.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


def read_profile(directory: Path, line: str) -> dict[str, Any]:
    """The profile ``line`` of ``directory`` with its ancestors merged in (its own rows win)."""
    data = tomllib.loads((directory / f"{line}.toml").read_text(encoding="utf-8"))
    parent = data.get("extends")
    if parent is None:
        return data
    merged = read_profile(directory, parent)
    for key, value in data.items():
        if isinstance(value, dict):
            merged[key] = {**merged.get(key, {}), **value}
        else:
            merged[key] = value
    return merged
