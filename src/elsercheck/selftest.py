"""``elsercheck selftest``: proof that the gate has teeth.

Runs the gate (in process, :func:`elsercheck.gate.run_gate`) against a clean embedded reference
server and against one server per deliberate defect (``reference/breakage/defects.py``), a few at a
time. The self-test passes when the clean run is conformant and every defect is caught.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from .estate.findings import NOTE
from .exit_codes import ExitCode
from .gate import run_gate
from .pagekit import Html, cards, code, fmt, link, page, span, table, verdict, write
from .reference.breakage.defects import CATALOGUE
from .reference.config import ServerConfig
from .reference.serve import EmbeddedServer, ServerStartError
from .run_id import new_run_id
from .selftest_pytest import CASES_ONLY, CHECKS_ONLY
from .target import Target, TargetError
from .timing import PRESETS
from .upgrade_selftest import RehearsalError, rehearse

CLEAN = "clean"
SCHEMA = "schema"  # the directory of a defect's run of the generated cases
SHOWN_TESTS = 3


@dataclass
class Run:
    """The gate against one server: the clean one (``defect is None``) or one with a defect."""

    name: str
    family: str
    description: str
    exit_code: int = ExitCode.USAGE  # until the gate has run
    tests: list[str] = field(default_factory=list)  # failed checks
    seconds: float = 0.0
    error: str = ""  # the gate could not run at all
    report: str = ""

    @property
    def clean(self) -> bool:
        return self.name == CLEAN

    @property
    def caught(self) -> bool:
        return self.exit_code == ExitCode.FAILED and bool(self.tests)

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK if self.clean else self.caught

    @property
    def verdict(self) -> str:
        """``pass``/``FAIL`` for the clean run, caught ``yes``/``NO`` for a defect."""
        if self.clean:
            return "pass" if self.ok else "FAIL"
        return "yes" if self.caught else "NO"

    def row(self) -> str:
        verdict = self.verdict
        shown = ", ".join(_short(t) for t in self.tests[:SHOWN_TESTS])
        if len(self.tests) > SHOWN_TESTS:
            shown += f" (+{len(self.tests) - SHOWN_TESTS})"
        return (f"{self.name:<27} {self.family:<15} {verdict:<7} {self.seconds:6.1f}s  "
                f"{self.error or shown}")  # fmt: skip

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["caught"] = self.caught
        data["ok"] = self.ok
        return data


def _short(test: str) -> str:
    return test.split("::", 1)[-1]


def run_one(name: str, report_dir: Path, max_examples: int, every_check: bool = False) -> Run:
    """The gate against a fresh fast-timing, secured server with ``name`` (or no) defect; for a
    defect that shows only after a restart, ``verify`` after its rehearsed upgrade. A defect's
    gate stops at the first check that catches it unless ``every_check``."""
    defect = CATALOGUE.get(name)
    run = Run(name, defect.family if defect else "-",
              defect.description if defect else "the reference server as shipped")  # fmt: skip
    if defect is not None and defect.caught_by == "verify":
        return _run_verify(run, report_dir)
    timing = PRESETS["fast"]
    password = secrets.token_urlsafe(12)
    # Conformant: the newest version without its upstream bugs, and a gate that does not expect
    # them (--no-known-deviations), so each defect is judged alone — bugs included.
    config = ServerConfig(password=password, timing=timing, conformant=True,
                          defects=frozenset({name}) if defect else frozenset(),
                          eis=bool(defect and defect.eis))  # fmt: skip
    zero_wait = timing.scale_to_zero_seconds + timing.scale_down_cooldown_seconds
    directory = report_dir / "runs" / name
    started = time.monotonic()
    try:
        with EmbeddedServer(config) as server:
            target = Target(server.url, username="elastic", password=password)
            # Quiet: the table is the output; each run's details are in its gate.html.
            # Cheap checks first, and for a defect the first catch ends the gate: a mutation
            # tester's rule (selftest_pytest.py). The clean run runs every check.
            extra = ["-p", "elsercheck.selftest_pytest", "--no-known-deviations"]
            # A defect's checks first, its generated cases only when they caught nothing
            # (selftest_pytest: the cases' collection is most of a gate's start).
            stages: list[tuple[Path, list[str]]] = [(directory, [])]
            if defect is not None and not every_check:
                catch = ["--first-catch", "-m"]
                stages = [
                    (directory, [*catch, CHECKS_ONLY]),
                    (directory / SCHEMA, [*catch, CASES_ONLY]),
                ]
            codes = []
            for where, stage in stages:
                result = run_gate(
                    target, new_run_id(), where, "1", max_examples, zero_wait, extra + stage
                )
                codes.append(result.exit_code)
                run.tests = list(dict.fromkeys(case.name for case in result.summary.failures))
                run.report = str(result.html.relative_to(report_dir))
                if run.tests and result.exit_code == ExitCode.FAILED:
                    break
        # Caught by the stage that ran last, else the first stage that did not pass (4: a
        # check's setup failed) says how the run ended.
        run.exit_code = codes[-1] if run.tests else next((c for c in codes if c), ExitCode.OK)
    except TargetError as exc:
        run.error = str(exc)
    run.seconds = time.monotonic() - started
    return run


def _run_verify(run: Run, report_dir: Path) -> Run:
    """``verify`` after the upgrade rehearsed for ``run``'s defect (upgrade_selftest.py): caught
    when it reports findings with the defect and none without it."""
    directory = report_dir / "runs" / run.name
    started = time.monotonic()
    try:
        outcome = rehearse(run.name, directory)
    except (RehearsalError, TargetError, ServerStartError, httpx.HTTPError, OSError) as exc:
        run.error = f"the upgrade rehearsal could not run: {exc}"
    else:
        if outcome.false_alarm:
            run.error = "verify is not green without the defect: " + ", ".join(
                f"{f.rule} ({f.subject})" for f in outcome.clean if f.severity != NOTE
            )
        else:
            run.exit_code = ExitCode.FAILED if outcome.caught else ExitCode.OK
            run.tests = outcome.rules()
        run.report = str((directory / "verify.html").relative_to(report_dir))
    run.seconds = time.monotonic() - started
    return run


@dataclass
class SelftestResult:
    clean: Run
    defects: list[Run]
    seconds: float
    max_examples: int

    @property
    def ok(self) -> bool:
        return self.clean.ok and all(run.caught for run in self.defects)

    @property
    def exit_code(self) -> int:
        return ExitCode.OK if self.ok else ExitCode.FAILED

    def summary_line(self) -> str:
        caught = sum(run.caught for run in self.defects)
        clean = "clean server conformant" if self.clean.ok else "clean server NOT conformant"
        verdict = "PASS" if self.ok else "FAIL"
        return (f"selftest {verdict}: {clean}; {caught}/{len(self.defects)} defects caught "
                f"in {self.seconds:.0f}s")  # fmt: skip

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "seconds": round(self.seconds, 1),
            "max_examples": self.max_examples,
            "clean": self.clean.to_json(),
            "defects": [run.to_json() for run in self.defects],
        }


HEADER = f"{'defect':<27} {'family':<15} {'caught':<7} {'time':>7}  by (first failed checks)"


def run_selftest(
    defects: list[str], report_dir: Path, jobs: int = 2, max_examples: int = 10,
    on_result: Callable[[Run], None] | None = None, every_check: bool = False,
) -> SelftestResult:  # fmt: skip
    """The clean run and one run per defect, ``jobs`` at a time; writes JSON and HTML. A
    defect's gate stops at its first catch unless ``every_check``."""
    report_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    names = [CLEAN, *defects]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_one, name, report_dir, max_examples, every_check)
                   for name in names]  # fmt: skip
        runs = []
        for future in futures:
            run = future.result()
            runs.append(run)
            if on_result is not None:
                on_result(run)
    result = SelftestResult(runs[0], runs[1:], time.monotonic() - started, max_examples)
    (report_dir / "selftest.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
    write_html(result, report_dir / "selftest.html")
    return result


def write_html(result: SelftestResult, path: Path) -> Path:
    """A self-contained page: verdict, then one row per run with the checks that caught it."""
    caught = sum(run.caught for run in result.defects)
    header = (
        "<h1>Gate selftest</h1>"
        + verdict("ok" if result.ok else "bad", result.summary_line())
        + cards([("defects caught", f"{caught}/{len(result.defects)}"),
                 ("clean server", "conformant" if result.clean.ok else "NOT conformant"),
                 ("examples per operation (max)", fmt(result.max_examples)),
                 ("seconds", fmt(result.seconds, 0, " s"))])
    )  # fmt: skip
    rows = [
        [run.name, run.family, run.description, span("ok" if run.ok else "bad", run.verdict),
         Html("<br>".join(code(test) for test in run.tests)) or run.error,
         f"{run.seconds:.1f}", link(run.report, Path(run.report).name) if run.report else ""]
        for run in [result.clean, *result.defects]
    ]  # fmt: skip
    main = (
        f"<p>Each row: the gate (max {result.max_examples} generated examples per operation) "
        "against a fresh reference server with one deliberate defect — or, for a defect that "
        "shows only after a restart, <code>verify</code> after a rehearsed upgrade (caught "
        "only when it is green on the same upgrade without the defect); the clean server must "
        "be conformant, every defect must be caught.</p>"
        + table(["defect", "family", "description", "caught", "by", "s", "report"], rows)
    )
    return write(path, page("elsercheck selftest", header, main))
