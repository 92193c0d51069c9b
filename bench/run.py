"""``python -m bench``: run the comparisons of the registry, write bench.json and bench.md.

    python -m bench                      # everything, 3 runs each (what make bench does)
    python -m bench --only server --runs 5
    python -m bench --quick              # shorter measurements, 2 runs: a smoke test

Exit 0 when every comparison ran (missed goals are reported, not failed: this is a
measurement), 1 when one could not run, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import shutil
import time
import traceback
from pathlib import Path

from . import report
from .common import REPO, Context, can_pin, machine
from .registry import BY_NAME, COMPARISONS, Comparison


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(BY_NAME), default=[],
                        help="run only this comparison (repeatable)")  # fmt: skip
    parser.add_argument("--runs", type=int, default=None,
                        help="runs per measurement (default 3, --quick 2)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="shorter measurements")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "bench",
                        help="for bench.json, bench.md (default reports/bench)")  # fmt: skip
    return parser.parse_args(argv)


def _missed(comparison: Comparison, result: report.Result) -> bool:
    """Whether any of the comparison's goals was missed (median below its minimum)."""
    for ratio in result.ratios:
        goal = comparison.goals.get(ratio.name)
        if goal is not None and goal.met(ratio.summary()["median"]) is False:
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs = args.runs or (2 if args.quick else 3)
    if runs < 1:
        print("--runs must be at least 1")
        return 2
    scratch = args.out / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)  # the previous run's logs and files
    scratch.mkdir(parents=True)
    ctx = Context(scratch=scratch, runs=runs, quick=args.quick)
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    description = machine()
    ctx.status(
        f"bench: {description['cpu_model'] or 'unknown CPU'}, {description['cpus']} CPUs, "
        f"{runs} runs per measurement, pinning: {description['pinning']}"
    )
    if not can_pin():
        ctx.notes.append("No CPU pinning (taskset missing or one core): server and client share.")
    if not description["tools"]["wrk"]:  # type: ignore[index]
        ctx.notes.append("wrk was not available: the server capacity ratios are missing.")
    selected = [c for c in COMPARISONS if not args.only or c.name in args.only]
    entries = []
    failed = False
    for comparison in selected:
        ctx.status(f"{comparison.title}: start")
        began = time.monotonic()
        try:
            result = comparison.run(ctx)
            error = None
        except Exception as exc:  # one broken comparison must not hide the others' figures
            traceback.print_exc()
            result, error, failed = None, f"{type(exc).__name__}: {exc}", True
        seconds = time.monotonic() - began
        if result is not None and comparison.limits and _missed(comparison, result):
            result.notes.append(f"What limits it: {comparison.limits}")
        entries.append(
            report.comparison_entry(
                comparison.name, comparison.title, comparison.goals, result, error, seconds
            )
        )
        ctx.status(
            f"{comparison.title}: done in {seconds:.0f} s" + (f" ({error})" if error else "")
        )
    document = report.bench_document(
        entries, description, started_at, time.monotonic() - ctx.started, ctx.notes
    )
    json_path, md_path = report.write_reports(document, args.out)
    print()
    print(report.markdown_table(document))
    if document["goals_missed"]:
        print("goals missed: " + ", ".join(document["goals_missed"]) + f" (see {md_path})")
    print(f"wrote {json_path} and {md_path} in {document['wall_s']:.0f} s")
    return 1 if failed else 0
