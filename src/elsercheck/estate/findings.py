"""Findings of ``verify`` and ``doctor``: what, about which endpoint or index, the evidence,
what to do; their exit code, and the JSON and HTML reports (the page kit of the gate's page)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..exit_codes import ExitCode, most_severe
from ..pagekit import cards, code, esc, page, span, table, verdict, write

FINDING = "finding"  # something is wrong: exit 1
INCONCLUSIVE = "inconclusive"  # could not be decided: exit 4 unless a finding outranks it
NOTE = "note"  # worth knowing, not wrong: no effect on the exit code
SEVERITIES = (FINDING, INCONCLUSIVE, NOTE)


@dataclass(frozen=True)
class Finding:
    """One result: ``rule`` (a stable name), the ``subject`` it is about (``endpoint <id>``,
    ``index <name>``, ``deployment <id>``), what was seen, the evidence and a suggested action."""

    rule: str
    subject: str
    message: str
    evidence: str = ""
    action: str = ""
    severity: str = FINDING
    source: str = ""  # the upstream issue or source behind the rule, when there is one

    def line(self) -> str:
        mark = {FINDING: "✗", INCONCLUSIVE: "?", NOTE: "i"}[self.severity]
        text = f"  {mark} [{self.rule}] {self.subject}: {self.message}"
        if self.evidence:
            text += f"\n      evidence: {self.evidence}"
        if self.action:
            text += f"\n      action: {self.action}"
        return text


def exit_code(findings: list[Finding]) -> ExitCode:
    """1 for any finding, else 4 for anything inconclusive, else 0 (notes do not count)."""
    codes = [
        ExitCode.FAILED if f.severity == FINDING else ExitCode.INCONCLUSIVE
        for f in findings
        if f.severity != NOTE
    ]
    return most_severe(*codes)


def summary(title: str, findings: list[Finding]) -> str:
    """The terminal text: every finding, then one verdict line."""
    counts = {s: sum(f.severity == s for f in findings) for s in SEVERITIES}
    lines = [f.line() for f in findings]
    verdicts = {
        ExitCode.OK: "PASSED",
        ExitCode.FAILED: "FINDINGS",
        ExitCode.INCONCLUSIVE: "INCONCLUSIVE",
    }
    lines.append(
        f"{verdicts[exit_code(findings)]}: {title}: {counts[FINDING]} finding(s), "
        f"{counts[INCONCLUSIVE]} inconclusive, {counts[NOTE]} note(s)"
    )
    return "\n".join(lines)


def counted(estate: dict[str, Any]) -> str:
    """What a report checked: how many endpoints, deployments and fields the estate has."""
    return (
        f"{len(estate['endpoints'])} endpoint(s), {len(estate['deployments'])} deployment(s), "
        f"{len(estate['semantic_text_fields'])} semantic_text field(s)"
    )


def write_json(path: Path, command: str, context: dict[str, Any], findings: list[Finding]) -> Path:
    """``<command>.json``: the context (target, version, snapshot) and every finding."""
    document = {
        "command": command,
        **context,
        "exit_code": int(exit_code(findings)),
        "findings": [asdict(f) for f in findings],
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


BANNERS = {
    ExitCode.OK: ("ok", "Nothing found"),
    ExitCode.FAILED: ("bad", "Findings"),
    ExitCode.INCONCLUSIVE: (
        "regression",
        "Inconclusive: nothing wrong seen, but checks could not decide",
    ),
}


def write_html(path: Path, title: str, context: dict[str, Any], findings: list[Finding]) -> Path:
    """``<command>.html``: verdict, counts, every finding with its evidence and action."""
    counts = {s: sum(f.severity == s for f in findings) for s in SEVERITIES}
    facts = " — ".join(f"{key} {value}" for key, value in context.items() if value)
    header = (
        f"<h1>{esc(title)}</h1><p class='muted'>{esc(facts)}</p>"
        + verdict(*BANNERS[exit_code(findings)])
        + cards([(s, counts[s]) for s in SEVERITIES])
    )
    css = {FINDING: "failed", INCONCLUSIVE: "skipped", NOTE: "muted"}
    rows = [
        [
            span(css[f.severity], f.severity),
            code(f.rule),
            f.subject,
            f.message,
            f.evidence,
            f.action,
            f.source,
        ]
        for f in findings
    ]
    main = (
        "<h2>Findings</h2>"
        + table(
            ["severity", "rule", "subject", "what", "evidence", "suggested action", "source"], rows
        )
        if rows
        else "<p>No findings.</p>"
    )
    return write(path, page(title, header, main))
