"""``elsercheck run``: smoke, gate, load and its ingest stage, their reports and the index.

Its policy: the ingest stage (after the load: a bulk spike into a semantic_text index, on its
own run id), one ``--allocation-wait`` for every stage.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ..exit_codes import ExitCode, most_severe
from ..paths import reports_dir
from ..target import Target
from . import gate, load
from .options import (
    CLUSTER_ALLOCATION_WAIT_S,
    add_target_options,
    add_timing_options,
    allocation_wait,
)
from .target import target_or_embedded

if TYPE_CHECKING:
    from ..load.runner import LoadOptions

# The ingest stage: a spike of small bulks (quick to answer, so the short stage sees several
# per tick) into the run's semantic_text index, on its own run id so that its history line
# compares with earlier ingest stages (baselines are per workload).
INGEST_STAGE_SUFFIX = "ingest"
INGEST_STAGE = {"workload": "ingest", "shape": "spike", "bulk_size": 10, "lifecycle_users": 0}


def register(subparsers: Any) -> None:
    run_parser = subparsers.add_parser(
        "run",
        help="everything that exists, against the embedded server (what `make run` does)",
        description="The smoke scenario, the gate, a load run and its ingest stage against one "
        "target (default: the embedded server), each load stage reported and compared with the "
        "history, and reports/index.html linking them. Exit codes: the most severe of the "
        "stages' (0 ok, 1 failed, 2 usage error or unusable target, 3 regression, 4 "
        "incomplete).",
    )
    add_target_options(run_parser)
    gate.add_gate_options(run_parser)
    load.add_load_options(run_parser, shape=None, distributed=False)
    add_timing_options(run_parser)
    run_parser.add_argument(
        "--no-ingest",
        action="store_true",
        help="skip the ingest stage (after the load: a spike of _bulk requests into a "
        "semantic_text index, its own run directory <run-id>-ingest and report)",
    )
    load.add_repeat_options(run_parser)
    run_parser.set_defaults(handler=run, load_workers=0)


def run(args: argparse.Namespace) -> int:
    from ..report.index import write_index
    from ..run_id import new_run_id

    if args.list_profiles:
        return gate.list_profiles()
    options = load.scaled_options_of(args)  # fail fast on load options (and the timing)
    run_id = new_run_id()
    print(f"elsercheck run {run_id}")
    with target_or_embedded(args) as (target, zero_wait):
        smoke = _smoke(target, run_id, allocation_wait(args, zero_wait is not None))
        if smoke != ExitCode.OK:
            return smoke
        gate_code = gate.stage(args, target, run_id, zero_wait)
        if gate_code == ExitCode.USAGE:
            return gate_code
        if args.repeat == 1:
            run_dir = load.run_dir_of(args.load_report_dir, run_id)
            code = load.stage(args, target, run_id, options, run_dir, summary=False)
        else:  # the earlier repeats first: the last (this run id, the gate's) compares with them
            repeats = load.repeat_loads(args, target, options, args.load_report_dir)
            if ExitCode.USAGE in repeats:
                return ExitCode.USAGE
            run_dir = load.run_dir_of(args.load_report_dir, run_id, repeated=True)
            last = load.stage(args, target, run_id, options, run_dir, summary=False,
                              repeat=(args.repeat, args.repeat))  # fmt: skip
            code = most_severe(*repeats, last)
        stages = [(run_dir, code)]
        if not args.no_ingest:
            ingest_id = f"{run_id}-{INGEST_STAGE_SUFFIX}"
            ingest_dir = run_dir.with_name(f"{run_dir.name}-{INGEST_STAGE_SUFFIX}")
            ingest = load.stage(args, target, ingest_id, ingest_stage(options), ingest_dir,
                                summary=False)  # fmt: skip
            stages.append((ingest_dir, ingest))
    reports = [load.report_run(directory, args) for directory, _ in stages]
    print(f"open {write_index(reports_dir())}")
    return most_severe(gate_code, *(code for _, code in stages), *reports)


def ingest_stage(options: LoadOptions) -> LoadOptions:
    """The load stage's options turned into the ingest stage's (same target and timing)."""
    from ..load.options import plan_of
    from ..load.runner import LoadOptions

    # Half the load stage's peak: a bulk spike's queue must drain within the short stage for
    # the scale-down to show (an ingest user offers the ELSER work of an inference user).
    values = {**options.values, **INGEST_STAGE, "peak_users": max(1, options.peak_users // 2)}
    return LoadOptions(values, plan_of(values), workers=options.workers)


def _smoke(target: Target, run_id: str, wait: float | None) -> int:
    from ..smoke import run_smoke

    print(f"smoke scenario against {target.url}")
    result = run_smoke(
        target,
        run_id,
        allocation_wait_seconds=CLUSTER_ALLOCATION_WAIT_S if wait is None else wait,
        on_step=lambda step: print(step.line(), flush=True),
    )
    print(target.redact(result.summary(include_steps=False)))
    return ExitCode.OK if result.ok else ExitCode.FAILED
