"""``elsercheck gate``: run the contract suite against a target and report.

The suite runs as ``python -m pytest contracts/`` in a child process (the same command users
can run by hand); credentials travel in its environment, never on its command line.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import signals
from .endpoints import sweep_run
from .exit_codes import ExitCode, from_pytest
from .gate_report import GateSummary, read_junit, write_html
from .paths import cache_dir, resource_dir
from .smoke import check_reachable, version_of
from .target import Target, TargetError, child_environment

# After a stop signal: time for pytest to end its test, run the finalizers and sweep its prefix.
STOP_GRACE_S = 60.0


@dataclass
class GateResult:
    exit_code: int
    summary: GateSummary
    junit: Path
    html: Path


def pytest_command(
    target: Target, run_id: str, report_dir: Path, workers: str, max_examples: int,
    scale_to_zero_wait: float | None = None, extra: list[str] | None = None,
) -> list[str]:  # fmt: skip
    contracts = resource_dir("contracts")
    command = [
        sys.executable, "-m", "pytest", str(contracts),
        "-c", str(contracts / "pytest.ini"), "--rootdir", str(contracts),
        "--es-url", target.url, "--run-id", run_id,
        "--junitxml", str(report_dir / "junit.xml"),
        "--leftovers-file", str(report_dir / "leftovers.json"),
        "--profile-report", str(report_dir / "profile.json"),
        "--max-examples", str(max_examples), "-q", "--no-header",
    ]  # fmt: skip
    if target.ca_certs:
        command += ["--es-ca-certs", str(Path(target.ca_certs).resolve())]
    if target.insecure:
        command.append("--es-insecure")
    if workers not in ("0", "1"):
        command += ["-n", workers]
    if scale_to_zero_wait is not None:
        command += ["--scale-to-zero-wait", str(scale_to_zero_wait)]
    return command + (extra or [])


# Hypothesis keeps what it derives once in its storage directory (default ``.hypothesis`` of
# the working directory, here a new report directory each run): the Unicode tables and the
# constants of every local module it parses (hypothesis.internal.constants_ast, keyed by the
# source's hash), which in a checkout (an editable install) is all of elsercheck the child
# imports. Derived afresh they took about 1.2 s of a 2.5 s collection (1.2 s once kept).
HYPOTHESIS_STORAGE_ENV = "HYPOTHESIS_STORAGE_DIRECTORY"


def gate_environment(target: Target) -> dict[str, str]:
    """The child's environment: :func:`~elsercheck.target.child_environment`, with Hypothesis'
    storage in elsercheck's cache (a user's own ``HYPOTHESIS_STORAGE_DIRECTORY`` is kept)."""
    env = child_environment(target)
    env.setdefault(HYPOTHESIS_STORAGE_ENV, str(cache_dir() / "hypothesis"))
    return env


def run_gate(
    target: Target, run_id: str, report_dir: Path, workers: str = "1", max_examples: int = 25,
    scale_to_zero_wait: float | None = None, extra: list[str] | None = None,
) -> GateResult:  # fmt: skip
    """Run the suite; raise ``TargetError`` when the target cannot be used at all."""
    with target.client(timeout=30, retry=True) as client:
        info = check_reachable(client, target, require_product=False)
    report_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("junit.xml", "leftovers.json", "profile.json"):
        (report_dir / stale).unlink(missing_ok=True)
    command = pytest_command(
        target, run_id, report_dir, workers, max_examples, scale_to_zero_wait, extra
    )
    started = time.monotonic()
    # The child runs in report_dir so schemathesis' scratch files land there.
    process = signals.start_child(command, gate_environment(target), cwd=report_dir)
    try:
        returncode = process.wait()
        signals.forget_child(process)
    except KeyboardInterrupt as exc:
        # A stop signal: the child's group has it too (forwarded), or gets SIGINT now. It
        # deletes what it created; what a killed child could not, the run-prefix sweep does.
        signals.stop_child(process, STOP_GRACE_S, signals.unforwarded(exc))
        _sweep(target, run_id)
        _interrupted_report(exc, target, info, run_id, report_dir, started)
        raise
    junit = report_dir / "junit.xml"
    if not junit.exists():
        raise TargetError(f"the contract suite did not run (pytest exit code {returncode})")
    leftovers_file = report_dir / "leftovers.json"
    profile_file = report_dir / "profile.json"
    summary = GateSummary(
        cases=read_junit(junit),
        target_url=target.url,
        target_version=version_of(info),
        run_id=run_id,
        seconds=time.monotonic() - started,
        leftovers=json.loads(leftovers_file.read_text()) if leftovers_file.exists() else [],
        profile=json.loads(profile_file.read_text()) if profile_file.exists() else {},
    )
    html_path = write_html(summary, report_dir / "gate.html")
    exit_code = from_pytest(returncode)
    if exit_code in (ExitCode.OK, ExitCode.FAILED):  # the verdict's code, from the cases
        exit_code = {"CONFORMANT": ExitCode.OK, "INCOMPLETE": ExitCode.INCONCLUSIVE}.get(
            summary.verdict, ExitCode.FAILED
        )
    return GateResult(exit_code, summary, junit, html_path)


def _interrupted_report(
    exc: BaseException, target: Target, info: dict, run_id: str, report_dir: Path,
    started: float,
) -> None:  # fmt: skip
    """After a stop signal: gate.html and the summary for the checks that ran (pytest writes
    junit.xml when a signal ends its session), marked interrupted; nothing when it wrote none."""
    junit = report_dir / "junit.xml"
    try:
        cases = read_junit(junit) if junit.is_file() else None
    except (OSError, ValueError):  # cut short while writing: ElementTree's ParseError
        cases = None
    if cases is None:
        print(f"no checks finished before the stop: no {junit.name}", file=sys.stderr)
        return
    summary = GateSummary(
        cases=cases, target_url=target.url, target_version=version_of(info), run_id=run_id,
        seconds=time.monotonic() - started,
        interrupted_by=signal.Signals(signals.signal_of(exc)).name,
    )  # fmt: skip
    html = write_html(summary, report_dir / "gate.html")
    print(target.redact(summary.text([html, junit])), flush=True)


def _sweep(target: Target, run_id: str) -> None:
    """Delete what still carries the run prefix (a backstop for a child that was killed)."""
    leftovers = sweep_run(target, run_id)
    if leftovers:
        print(f"leftover endpoints (could not delete): {', '.join(leftovers)}", file=sys.stderr)
