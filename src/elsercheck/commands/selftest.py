"""``elsercheck selftest``: the gate against the clean server and each deliberate defect."""

from __future__ import annotations

import argparse
from typing import Any

from ..paths import reports_dir
from .options import add_report_dir, positive_int
from .serve import defects


def register(subparsers: Any) -> None:
    selftest = subparsers.add_parser(
        "selftest",
        help="prove the gate's (and verify's) teeth: the clean server and each defect",
        description="Runs the gate against a clean embedded reference server and against one "
        "server per deliberate defect (fast timing, security on); a defect that shows only after "
        "a restart on a data directory is caught by `verify` after a rehearsed upgrade "
        "(snapshot, restart, verify; verify must also be green without it). Exit 0 when the clean "
        "run is "
        "conformant and every defect is caught, 1 otherwise, 2 on usage errors. Writes "
        "selftest.json and selftest.html to the report directory.",
    )
    selftest.add_argument("--defect", action="append", default=[], metavar="NAME",
                          help="only these defects (repeatable; default: all)")  # fmt: skip
    selftest.add_argument("--jobs", type=positive_int, default=2,
                          help="gates run at once (default 2)")  # fmt: skip
    selftest.add_argument("--max-examples", type=positive_int, default=10,
                          help="generated cases per operation (default 10)")  # fmt: skip
    selftest.add_argument("--every-check", action="store_true",
                          help="run every check against each defect (default: its gate stops at "
                          "the first check that catches it, cheap checks first)")  # fmt: skip
    add_report_dir(selftest, "reports/selftest")
    selftest.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..reference.breakage.defects import CATALOGUE
    from ..selftest import HEADER, run_selftest

    chosen = defects(args.defect) if args.defect else list(CATALOGUE)
    report_dir = args.report_dir or reports_dir() / "selftest"
    print(f"selftest: the gate against the clean server and {len(chosen)} defect(s), "
          f"{args.jobs} at a time (max {args.max_examples} examples)", flush=True)  # fmt: skip
    print(HEADER, flush=True)
    result = run_selftest(chosen, report_dir, args.jobs, args.max_examples,
                          on_result=lambda run: print(run.row(), flush=True),
                          every_check=args.every_check)  # fmt: skip
    print(f"report: {report_dir / 'selftest.html'} and selftest.json")
    print(result.summary_line())
    return result.exit_code
