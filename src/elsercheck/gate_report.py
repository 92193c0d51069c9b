"""Reading the gate's JUnit XML and writing its one-screen summary and HTML report."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .pagekit import cards, code, esc, fmt, page, span, table, verdict, write

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed")
# The page's banner per verdict: (css class, title).
BANNERS = {
    "CONFORMANT": ("ok", "Conformant"),
    "NOT CONFORMANT": ("bad", "Not conformant"),
    "INCOMPLETE": ("regression", "Incomplete: no violation seen, but checks could not run"),
    "INTERRUPTED": ("regression", "Interrupted: no verdict"),
}


@dataclass
class CaseResult:
    name: str  # e.g. test_error_rules.py::test_put_rule[threads-zero]
    outcome: str
    seconds: float
    message: str = ""
    details: str = ""
    reproducers: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # the version profile entries it checks


@dataclass
class GateSummary:
    cases: list[CaseResult]
    target_url: str = ""
    target_version: str = "?"
    run_id: str = ""
    seconds: float = 0.0
    leftovers: list[str] = field(default_factory=list)
    # The version profile that applied and the known deviations expected (contracts' report).
    profile: dict[str, Any] = field(default_factory=dict)
    interrupted_by: str | None = None  # a stop signal ended the run: the checks before it

    @property
    def profile_line(self) -> str:
        return str(self.profile.get("description") or "version profile: unknown")

    @property
    def known_deviations(self) -> list[CaseResult]:
        """Expected failures: the version's known upstream bugs, seen as expected."""
        return [c for c in self.cases if c.outcome == "xfailed"]

    @property
    def counts(self) -> Counter[str]:
        return Counter(case.outcome for case in self.cases)

    @property
    def failures(self) -> list[CaseResult]:
        """Checks whose expectation the target did not meet: violations."""
        return [c for c in self.cases if c.outcome == "failed"]

    @property
    def not_run(self) -> list[CaseResult]:
        """Checks that could not run: their setup (or teardown) raised before a verdict, be it
        the suite's own step or the target's answer to it. No violation, no pass either."""
        return [c for c in self.cases if c.outcome == "error"]

    @property
    def skipped(self) -> list[CaseResult]:
        return [c for c in self.cases if c.outcome == "skipped"]

    @property
    def conformant(self) -> bool:
        return (
            not self.failures and not self.not_run and bool(self.cases) and not self.interrupted_by
        )

    @property
    def verdict(self) -> str:
        """``CONFORMANT``, ``NOT CONFORMANT`` (a violation), ``INCOMPLETE`` (no violation, but
        checks that could not run) or ``INTERRUPTED`` (stopped by a signal: no verdict)."""
        if self.failures or not self.cases:
            return "NOT CONFORMANT"
        if self.interrupted_by:
            return "INTERRUPTED"
        return "INCOMPLETE" if self.not_run else "CONFORMANT"

    def text(self, report_paths: list[Path]) -> str:
        counts = self.counts
        verdict = (
            f"INTERRUPTED ({self.interrupted_by}), the checks that ran before it"
            if self.verdict == "INTERRUPTED" else self.verdict
        )  # fmt: skip
        lines = [
            f"{verdict}: {self.target_url} (Elasticsearch {self.target_version})",
            "  "
            + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o])
            + f" in {self.seconds:.1f}s",
            f"  {self.profile_line}",
        ]
        if self.verdict == "INCOMPLETE":
            lines.append(f"  no violation seen, but {len(self.not_run)} check(s) could not run "
                         "(their setup failed): no verdict on them")  # fmt: skip
        for case in self.known_deviations:
            lines.append(f"  ~ known deviation: {case.name}: {_first_line(case.message, 140)}")
        for case in self.failures[:15]:
            rules = f" [profile: {', '.join(case.rules)}]" if case.rules else ""
            lines.append(f"  ✗ {case.name}: {_first_line(case.message, 160)}{rules}")
        if len(self.failures) > 15:
            lines.append(f"  … and {len(self.failures) - 15} more (see the report)")
        for case in self.not_run[:15]:
            lines.append(f"  ? could not run: {case.name}: {_first_line(case.message, 160)}")
        for reason, names in _by_reason(self.skipped).items():
            lines.append(f"  - skipped ({len(names)}): {reason}")
        if self.leftovers:
            lines.append(f"  ! endpoints that could not be deleted: {', '.join(self.leftovers)}")
        lines += [f"  report: {path}" for path in report_paths]
        if self.interrupted_by and self.verdict != "INTERRUPTED":  # violations before the stop
            lines.insert(0, f"INTERRUPTED ({self.interrupted_by}): the checks that ran before it")
        return "\n".join(lines)


def _first_line(text: str, width: int) -> str:
    return text.splitlines()[0][:width] if text else ""


def _by_reason(cases: list[CaseResult]) -> dict[str, list[str]]:
    """Skipped checks grouped by their reason (pytest's message without its location)."""
    grouped: dict[str, list[str]] = {}
    for case in cases:
        reason = case.message.removeprefix("Skipped: ") or "no reason given"
        grouped.setdefault(reason, []).append(case.name)
    return grouped


def _case_name(testcase: ET.Element) -> str:
    """``module.py::test`` (or ``module.py::Class::test``) from JUnit's dotted classname; a
    schema-driven test adds its operation: ``test_schema.py::test_…[PUT /_inference/…]``."""
    parts = testcase.get("classname", "").split(".")
    name = testcase.get("name", "")
    operation = next(
        (p.get("value") for p in testcase.iter("property") if p.get("name") == "operation"), None
    )
    if operation and "[" not in name:
        name = f"{name}[{operation}]"
    if len(parts) > 1 and parts[-1][:1].isupper():
        return f"{parts[-2]}.py::{parts[-1]}::{name}"
    return f"{parts[-1]}.py::{name}"


def read_junit(path: Path) -> list[CaseResult]:
    """Cases from pytest's JUnit XML (xunit1, with properties)."""
    root = ET.parse(path).getroot()
    results = []
    for testcase in root.iter("testcase"):
        outcome, message, details = "passed", "", ""
        for tag in ("failure", "error", "skipped"):
            child = testcase.find(tag)
            if child is not None:
                message = child.get("message", "")
                details = child.text or ""
                outcome = {"failure": "failed", "error": "error"}.get(tag, "skipped")
                if tag == "skipped" and child.get("type") == "pytest.xfail":
                    outcome = "xfailed"
                break
        reproducers = [
            prop.get("value", "")
            for prop in testcase.iter("property")
            if prop.get("name", "").startswith("curl_")
        ]
        rules = next(
            (p.get("value", "").split(",") for p in testcase.iter("property")
             if p.get("name") == "profile_rules"), [],
        )  # fmt: skip
        results.append(
            CaseResult(
                _case_name(testcase),
                outcome,
                float(testcase.get("time", 0) or 0),
                message,
                details,
                reproducers,
                [r for r in rules if r],
            )
        )
    return results


def write_html(summary: GateSummary, path: Path) -> Path:
    """A self-contained page: verdict, counts, failures with reproducers, every case."""
    counts = summary.counts
    header = (
        f"<h1>Conformance gate {code(summary.run_id)}</h1>"
        f"<p class='muted'>Target {code(summary.target_url)} — Elasticsearch "
        f"{esc(summary.target_version)} — run {code(summary.run_id)} — {summary.seconds:.1f}s</p>"
        f"<p>{esc(summary.profile_line)}</p>"
        + verdict(*BANNERS[summary.verdict])
        + cards([*((outcome, fmt(counts[outcome])) for outcome in OUTCOMES),
                 ("seconds", fmt(summary.seconds, 1, " s"))])
    )  # fmt: skip
    parts = []
    if summary.interrupted_by:
        parts.append(
            f"<p class='bad'>Interrupted ({esc(summary.interrupted_by)}): only the checks "
            "that ran before the stop are listed; the verdict is not a gate's.</p>"
        )
    if summary.leftovers:
        parts.append(
            "<p class='bad'>Endpoints that could not be deleted: "
            + esc(", ".join(summary.leftovers)) + "</p>"
        )  # fmt: skip
    if summary.known_deviations:
        parts.append(
            "<h2>Known deviations</h2><p>Upstream bugs this version is known to have, seen as "
            "expected (they turn red once fixed):</p>"
            + table(["check", "bug"], [[c.name, _first_line(c.message, 200)]
                                       for c in summary.known_deviations])
        )  # fmt: skip
    for title, cases in (
        ("Failures", summary.failures),
        ("Could not run (setup failed: no verdict on these)", summary.not_run),
    ):
        if cases:
            parts.append(f"<h2>{title}</h2>")
        for case in cases:
            parts.append(f"<h3 class='failed'>{esc(case.name)}</h3><pre>{esc(case.message)}</pre>")
            if case.rules:
                parts.append(f"<p>Version profile entries: {esc(', '.join(case.rules))}</p>")
            for command in case.reproducers:
                parts.append(f"<p>Reproduce:</p><pre>{esc(command)}</pre>")
            if case.details:
                parts.append(
                    f"<details><summary>Traceback</summary><pre>{esc(case.details)}</pre></details>"
                )
    skipped = _by_reason(summary.skipped)
    if skipped:
        parts.append(
            "<h2>Skipped</h2>"
            + table(
                ["reason", "checks"],
                [[reason, ", ".join(names)] for reason, names in skipped.items()],
            )
        )
    rows = [
        [case.name, span(case.outcome, case.outcome), f"{case.seconds:.2f}",
         case.message.splitlines()[0][:200] if case.message else ""]
        for case in summary.cases
    ]  # fmt: skip
    parts.append("<h2>All checks</h2>" + table(["check", "outcome", "s", "note"], rows))
    return write(path, page(f"elsercheck gate {summary.run_id}", header, "".join(parts)))
