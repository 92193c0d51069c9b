"""ARCHITECTURE.md names every module a newcomer would look for.

A module is named when its path inside its package appears (``capacity/recommend.py``), or
its file name appears in an entry of the map that names its folder (a table row, a wing of the
reference server's block, a list item or paragraph). Entries of the reference server's wings
block name ``reference/``.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "ARCHITECTURE.md"
PACKAGES = {ROOT / "src" / "elsercheck": "", ROOT / "loadtests": "loadtests/"}
WINGS_HEADING = "## The reference server's wings"


def entries(text: str) -> list[str]:
    """The document split into entries: table rows, list items, paragraphs, wings."""
    found: list[str] = []
    current: list[str] = []
    in_code = in_wings = False

    def close() -> None:
        if current:
            found.append(("reference/ " if in_code and in_wings else "") + "\n".join(current))
            current.clear()

    for line in text.splitlines():
        if line.startswith("#"):
            close()
            in_wings = line.startswith(WINGS_HEADING)
            continue
        if line.startswith("```"):
            close()
            in_code = not in_code
            continue
        starts_entry = (
            not line.strip()
            or line.startswith(("|", "- "))
            or re.match(r"\d+\. ", line)
            or (in_code and not line.startswith(" "))
        )
        if starts_entry:
            close()
        if line.strip():
            current.append(line)
    close()
    return found


def modules() -> list[str]:
    names = []
    for base, prefix in PACKAGES.items():
        for path in sorted(base.rglob("*.py")):
            if path.name == "__init__.py" or "_bundled" in path.parts:
                continue
            names.append(prefix + path.relative_to(base).as_posix())
    return names


def named(module: str, text: str, parts: list[str]) -> bool:
    if module in text:
        return True
    folder, _, name = module.rpartition("/")
    word = re.compile(rf"(?<![\w/.]){re.escape(name)}")
    if not folder:
        return bool(word.search(text))
    last = folder.split("/")[-1] + "/"
    return any(last in part and word.search(part) for part in parts)


def test_every_module_is_named_in_architecture_md() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    parts = entries(text)
    missing = [module for module in modules() if not named(module, text, parts)]
    assert not missing, f"ARCHITECTURE.md does not name: {', '.join(missing)}"


def test_the_check_can_fail() -> None:
    text = "| `src/elsercheck/load/` | `plans.py` (shapes) |\n\nsmoke.py, the scenario\n"
    parts = entries(text)
    assert named("load/plans.py", text, parts) and named("smoke.py", text, parts)
    assert not named("load/corpus.py", text, parts)
    assert not named("capacity/plans.py", text, parts)  # its folder is not that row's
    assert not named("gate.py", text, parts)
