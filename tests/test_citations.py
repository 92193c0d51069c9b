"""Rule citations point at Elasticsearch's source, not at documents outside the repository.

The shared reference notes (es-behavior.md, es-versions.md, anchors.md, tooling-notes.md,
openapi-report.md) are background for people; a reader of the code has only the repository and
the public sources, so comments and data rows cite the Elasticsearch class, method or PR instead.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCANNED_DIRS = ("src", "contracts", "loadtests", "bench")
SCANNED_SUFFIXES = {".py", ".toml", ".yaml", ".yml"}
EXTRA_FILES = ("openapi/overlay.yaml", "pyproject.toml")

# The outside documents by name, plus a bare "§N" (their section numbers), which is allowed only
# right after a document number such as "RFC 9112 §6.3".
OUTSIDE_CITATION = re.compile(
    r"es-behavior|es-versions|anchors\.md|anchors §|tooling-notes|openapi-report"
    r"|shared/reference|report W\d|(?<![0-9] )§\s*\d",
    re.IGNORECASE,
)


def scanned_files() -> list[Path]:
    """Every source, config and data file whose comments may cite behaviour rules."""
    files = [REPO / name for name in EXTRA_FILES]
    for directory in SCANNED_DIRS:
        files += [
            p
            for p in (REPO / directory).rglob("*")
            if p.suffix in SCANNED_SUFFIXES and p.is_file() and "__pycache__" not in p.parts
        ]
    return sorted(set(files))


def outside_citations(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line that cites an outside document."""
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if OUTSIDE_CITATION.search(line)
    ]


def test_pattern_catches_each_outside_form() -> None:
    cited = [
        "# see es-behavior §2.1",
        "(es-versions)",
        "anchors.md says",
        "calibrated to anchors §3.2",
        "# httpx is slower (tooling-notes)",
        "openapi-report.md W4",
        "from shared/reference/x.md",
        "Source: report W7.",
        "the scaler's measurements (§5.1).",
        'key = "x"  # §2.3',
    ]
    clean = [
        "# ES TransportPutInferenceModelAction.masterOperation (#103669)",
        "no body by HTTP/1.1 framing (RFC 9112 §6.3)",
        "see issue 3 §4",
    ]
    assert [line for line in cited if not OUTSIDE_CITATION.search(line)] == []
    assert [line for line in clean if OUTSIDE_CITATION.search(line)] == []


def test_no_rule_cites_a_document_outside_the_repository() -> None:
    files = scanned_files()
    assert REPO / "openapi/overlay.yaml" in files
    assert len(files) >= 50  # the walk found the tree, not an empty directory
    offending = [
        f"{path.relative_to(REPO)}:{number}: {line}"
        for path in files
        for number, line in outside_citations(path.read_text(encoding="utf-8"))
    ]
    assert not offending, "cite Elasticsearch's source instead:\n" + "\n".join(offending)
