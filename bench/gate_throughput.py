"""Comparison 1: the gate's throughput in generated cases/s, against ``schemathesis run``.

Both sides test the same effective spec (``elsercheck spec -o``), the same 18 ELSER operations,
with the same example budget (``--max-examples``), the same phases (examples, coverage,
fuzzing; stateful off), the same checks (the gate's three exclusions), deterministic
generation and no shrinking, against a fresh ``elsercheck serve --timing instant`` each (no
simulated waits: the tools' own speed is measured, not the server's timing model). The server
is on one core, the tool on the other; ``-w auto`` gets both cores.

- ours: ``elsercheck gate --url … --max-examples N`` with only the schema-driven tests selected
  (``-k test_operation_honours_schema`` through ``PYTEST_ADDOPTS``); the cases come from the
  ``bench.case_counter`` pytest plugin, loaded the same way: the gate itself is unchanged.
- peer: ``schemathesis run spec.json --include-operation-id …`` with ``-w 1`` and ``-w auto``;
  the cases from its summary ("N generated").

Both are timed from the command's start to its end (start-up included: that is what a CI job
pays); the engines' own times (pytest's test time from JUnit, the CLI's "in N s") are recorded
too, so the fixed start-up cost can be told apart from the cost per case.

Then the full default gate (``elsercheck gate``: embedded server, fast timing, every contract
test, 25 examples) is timed against its 60 s budget.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from elsercheck.spec import ELSER_OPERATIONS

from .common import (
    CLIENT_CORE,
    PYTHON,
    REPO,
    BenchError,
    Context,
    bench_env,
    pinned,
    reference_server,
    run_measured,
)
from .report import Ratio, Result, summarize

# The budget per operation of the throughput comparison (the same for both tools). Lower than
# the gate's default 25 to keep make bench to a few minutes: three runs of each side.
MAX_EXAMPLES = 10
BUDGET_S = 60.0
EXCLUDED_CHECKS = "positive_data_acceptance,unsupported_method,allow_header_conformance"
CASES_FILE_ENV = "ELSERCHECK_BENCH_CASES_FILE"
SCHEMA_TEST = "test_operation_honours_schema"  # contracts/test_schema.py


@dataclass
class Run:
    cases: int
    wall_s: float
    cpu_s: float
    engine_s: float | None  # time inside the test engine, start-up excluded
    exit_code: int

    @property
    def cases_per_s(self) -> float:
        return self.cases / self.wall_s

    @property
    def cpu_ms_per_case(self) -> float:
        return self.cpu_s * 1000 / self.cases if self.cases else float("nan")


def parse_cli_summary(text: str) -> tuple[int, float | None]:
    """Cases generated and the run's own seconds from ``schemathesis run``'s summary."""
    match = re.search(r"(\d+) generated", text)
    if not match:
        raise BenchError("schemathesis printed no 'N generated' summary")
    seconds = re.findall(r" in ([\d.]+)s =+\s*$", text, re.M)
    return int(match.group(1)), float(seconds[-1]) if seconds else None


def junit_seconds(path: Path, name_part: str = SCHEMA_TEST) -> float:
    """Summed test time of the JUnit test cases whose name contains ``name_part``."""
    tree = ET.parse(path)
    return sum(
        float(case.get("time") or 0)
        for case in tree.iter("testcase")
        if name_part in (case.get("name") or "")
    )


def read_cases(path: Path) -> int:
    """The plugin's per-process counts (xdist: one line per worker), added up."""
    if not path.exists():
        raise BenchError(f"the case counter wrote nothing ({path})")
    return sum(int(line) for line in path.read_text().split())


def _gate_env(cases_file: Path, select: str | None, password: str | None) -> dict[str, str]:
    addopts = "-p bench.case_counter" + (f" -k {select}" if select else "")
    extra = {"PYTHONPATH": str(REPO), "PYTEST_ADDOPTS": addopts, CASES_FILE_ENV: str(cases_file)}
    if password:
        # Credentials travel in the environment, as elsercheck gate documents.
        extra |= {"ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": password}
    return bench_env(**extra)


def run_gate(ctx: Context, label: str, max_examples: int, workers: str = "1") -> Run:
    """``elsercheck gate`` (schema tests only) against a fresh instant-timing server."""
    work = ctx.scratch / "gate" / label
    work.mkdir(parents=True, exist_ok=True)
    cases_file = work / "cases.txt"
    cases_file.unlink(missing_ok=True)
    password = "bench-password"
    with reference_server(work / "server.log", timing="instant", password=password) as server:
        command = [
            PYTHON, "-m", "elsercheck", "gate", "--url", server.url,
            "--max-examples", str(max_examples), "--workers", workers,
            "--report-dir", str(work / "report"),
        ]  # fmt: skip
        finished = run_measured(
            pinned(command, CLIENT_CORE if workers == "1" else None),
            work / "output.txt",
            env=_gate_env(cases_file, SCHEMA_TEST, password),
            cwd=work,
        )
    if finished.returncode not in (0, 1):
        raise BenchError(f"elsercheck gate exited {finished.returncode}: see {finished.output}")
    return Run(
        cases=read_cases(cases_file),
        wall_s=finished.wall_s,
        cpu_s=finished.cpu_s,
        engine_s=junit_seconds(work / "report" / "junit.xml"),
        exit_code=finished.returncode,
    )


def run_cli(ctx: Context, label: str, spec: Path, max_examples: int, workers: str) -> Run:
    """``schemathesis run`` over the same spec and operations, against a fresh server."""
    work = ctx.scratch / "gate" / label
    work.mkdir(parents=True, exist_ok=True)
    password = "bench-password"
    with reference_server(work / "server.log", timing="instant", password=password) as server:
        command = [
            str(Path(PYTHON).parent / "schemathesis"), "run", str(spec), "--url", server.url,
            "--auth", f"elastic:{password}", "--max-examples", str(max_examples),
            "--workers", workers, "--phases", "examples,coverage,fuzzing",
            "--exclude-checks", EXCLUDED_CHECKS, "--no-shrink", "--generation-deterministic",
            "--no-color",
        ]  # fmt: skip
        for operation_id in ELSER_OPERATIONS:
            command += ["--include-operation-id", operation_id]
        finished = run_measured(
            pinned(command, CLIENT_CORE if workers == "1" else None),
            work / "output.txt",
            env=bench_env(),
            cwd=work,  # the CLI writes .schemathesis/ there
        )
    if finished.returncode not in (0, 1):
        raise BenchError(f"schemathesis run exited {finished.returncode}: see {finished.output}")
    cases, engine_s = parse_cli_summary(finished.text())
    return Run(cases, finished.wall_s, finished.cpu_s, engine_s, finished.returncode)


def run_full_gate(ctx: Context, label: str) -> Run:
    """The full default gate, as a user runs it: ``elsercheck gate``, nothing else."""
    work = ctx.scratch / "gate" / label
    work.mkdir(parents=True, exist_ok=True)
    cases_file = work / "cases.txt"
    cases_file.unlink(missing_ok=True)
    command = [PYTHON, "-m", "elsercheck", "gate", "--report-dir", str(work / "report")]
    finished = run_measured(
        command, work / "output.txt", env=_gate_env(cases_file, None, None), cwd=work
    )
    if finished.returncode not in (0, 1):
        raise BenchError(f"elsercheck gate exited {finished.returncode}: see {finished.output}")
    junit = work / "report" / "junit.xml"
    return Run(
        read_cases(cases_file), finished.wall_s, finished.cpu_s,
        junit_seconds(junit, ""), finished.returncode,
    )  # fmt: skip


def _figures(runs: list[Run]) -> dict[str, object]:
    return {
        "cases": summarize(r.cases for r in runs),
        "wall_s": summarize(r.wall_s for r in runs),
        "cpu_s": summarize(r.cpu_s for r in runs),
        "engine_s": summarize(r.engine_s for r in runs),
        "cases_per_s": summarize(r.cases_per_s for r in runs),
        "engine_cases_per_s": summarize(r.cases / r.engine_s for r in runs if r.engine_s),
        "cpu_ms_per_case": summarize(r.cpu_ms_per_case for r in runs),
        "exit_codes": [r.exit_code for r in runs],
    }


def run(ctx: Context) -> Result:
    result = Result()
    spec = ctx.scratch / "gate" / "elser.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    made = run_measured(
        [PYTHON, "-m", "elsercheck", "spec", "-o", str(spec)], spec.with_suffix(".log")
    )
    if made.returncode != 0:
        raise BenchError(f"elsercheck spec failed: see {made.output}")
    max_examples = MAX_EXAMPLES
    sides: dict[str, list[Run]] = {"gate": [], "cli_w1": [], "cli_auto": []}
    for round_ in range(ctx.runs):
        step = f"gate throughput: round {round_ + 1}/{ctx.runs}:"
        sides["gate"].append(run_gate(ctx, f"gate-{round_}", max_examples))
        sides["cli_w1"].append(run_cli(ctx, f"cli-w1-{round_}", spec, max_examples, "1"))
        sides["cli_auto"].append(run_cli(ctx, f"cli-auto-{round_}", spec, max_examples, "auto"))
        ctx.status(
            f"{step} "
            + ", ".join(
                f"{name} {runs[-1].cases} cases in {runs[-1].wall_s:.1f} s "
                f"({runs[-1].cases_per_s:.0f}/s)"
                for name, runs in sides.items()
            )
        )
    gate_rates = [r.cases_per_s for r in sides["gate"]]
    for peer, label in (
        ("cli_w1", "schemathesis run -w 1"),
        ("cli_auto", "schemathesis run -w auto"),
    ):
        peer_rates = [r.cases_per_s for r in sides[peer]]
        result.ratios.append(
            Ratio(
                f"gate_cases_per_s_vs_{peer}_ratio", "elsercheck gate (schema tests, -w 1)",
                label, [o / p for o, p in zip(gate_rates, peer_rates, strict=True)],
                summarize(gate_rates), summarize(peer_rates), "cases/s",
            )
        )  # fmt: skip
    # Without start-up: cases per second of the engines' own time (the gate's test time from
    # JUnit, the CLI's "in N s"), and CPU per case.
    gate_engine = [r.cases / r.engine_s if r.engine_s else None for r in sides["gate"]]
    cli_engine = [r.cases / r.engine_s if r.engine_s else None for r in sides["cli_w1"]]
    result.ratios.append(
        Ratio(
            "gate_engine_cases_per_s_vs_cli_w1_ratio", "elsercheck gate, test time only",
            "schemathesis run -w 1, its own run time",
            [o / p for o, p in zip(gate_engine, cli_engine, strict=True) if o and p],
            summarize(gate_engine), summarize(cli_engine), "cases/s",
        )
    )  # fmt: skip
    gate_cpu = [r.cpu_ms_per_case for r in sides["gate"]]
    cli_cpu = [r.cpu_ms_per_case for r in sides["cli_w1"]]
    result.ratios.append(
        Ratio(
            "gate_cpu_per_case_vs_cli_w1_ratio", "elsercheck gate", "schemathesis run -w 1",
            [p / o for o, p in zip(gate_cpu, cli_cpu, strict=True)],
            summarize(gate_cpu), summarize(cli_cpu), "CPU ms/case",
        )
    )  # fmt: skip
    # One run: the full gate is a budget check (about 45 s of a 60 s budget), and a second
    # run would add as much again to make bench.
    full_runs = 1
    full = []
    for index in range(full_runs):
        full.append(run_full_gate(ctx, f"full-{index}"))
        ctx.status(
            f"full default gate {index + 1}/{full_runs}: {full[-1].cases} schema cases, "
            f"{full[-1].wall_s:.1f} s wall, exit {full[-1].exit_code}"
        )
    walls = [r.wall_s for r in full]
    result.ratios.append(
        Ratio(
            "gate_wall_budget_ratio", "full default elsercheck gate", "60 s budget",
            [BUDGET_S / w for w in walls], summarize(walls),
            summarize([BUDGET_S] * len(walls)), "s",
        )
    )  # fmt: skip
    result.raw = {
        "max_examples": max_examples,
        "operations": len(ELSER_OPERATIONS),
        "schema_only": {name: _figures(runs) for name, runs in sides.items()},
        "full_default_gate": _figures(full),
    }
    result.notes += [
        f"Same spec (`elsercheck spec -o`), the {len(ELSER_OPERATIONS)} ELSER operations, "
        f"--max-examples {max_examples}, phases examples+coverage+fuzzing, the gate's three "
        "excluded checks, deterministic, no shrinking; a fresh `elsercheck serve --timing "
        "instant` (security on) per run, pinned to its own core; `-w 1` runs pinned to the other "
        "core, `-w auto` unpinned. Cases/s = cases / wall time of the whole command.",
        "The cases counted are not the same cases: the gate rewrites ids to its run prefix and "
        "caps allocations (so its PUTs succeed and create deployments, which it then deletes, "
        "whatever each PUT answered), the CLI sends what it generates (mostly rejected with "
        "400).",
        f"Full default gate: `elsercheck gate` as a user runs it (embedded server, fast timing, "
        f"all contract tests, 25 examples), {full_runs} run(s).",
    ]
    return result
