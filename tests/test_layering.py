"""What import-linter cannot see: ``contracts/`` is not a package, yet must stay independent."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def imported_modules(source: str) -> set[str]:
    """Every module an ``import`` or ``from … import`` statement in ``source`` names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_imported_modules_sees_every_form() -> None:
    source = "import a.b\nfrom elsercheck import reference\nfrom . import x\nif 1:\n import c\n"
    assert imported_modules(source) == {"a.b", "elsercheck", "elsercheck.reference", "c"}


def test_contracts_never_import_the_reference_server() -> None:
    """Expectations come from Elasticsearch's docs and observed behaviour, not our server."""
    files = sorted((REPO / "contracts").rglob("*.py"))
    assert len(files) >= 5
    for path in files:
        modules = imported_modules(path.read_text(encoding="utf-8"))
        offending = sorted(m for m in modules if m.startswith("elsercheck.reference"))
        assert not offending, f"{path.relative_to(REPO)} imports {offending}"
