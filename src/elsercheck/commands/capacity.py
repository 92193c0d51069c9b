"""``elsercheck capacity``: the parser and handler; the sweep is ``capacity/command.py``."""

from __future__ import annotations

import argparse
from typing import Any

from ..paths import reports_dir
from .options import (
    UsageError,
    add_report_dir,
    add_target_command_options,
    allocation_wait,
    choose_time_lapse,
    eis_limits,
    embedded,
    timing,
    timing_name,
)
from .target import target_or_embedded


def register(subparsers: Any) -> None:
    from ..capacity.command import add_options

    capacity = subparsers.add_parser(
        "capacity",
        help="sweep the offered rate to the knee: capacity per allocation (default: embedded)",
        description="Per (allocations, threads) cell: creates an endpoint with fixed "
        "allocations, probes it, offers rising rates (one load run each) up to the knee, repeats "
        "the capacity point and reports the capacity per allocation with its 95 % interval. "
        "Exit 0 every cell found its capacity, 1 a cell sustained no rate, 4 no rate failed "
        "either (the load machine or simulator fell behind), 2 usage error or an "
        "unusable target. Writes capacity.json, capacity.html and the points' runs to "
        "reports/capacity/<run-id>/.",
    )
    add_target_command_options(capacity, add_options, _add_files)
    capacity.set_defaults(handler=run)


def _add_files(parser: argparse.ArgumentParser) -> None:
    add_report_dir(parser.add_argument_group("files"), "reports/capacity/<run-id>")


def run(args: argparse.Namespace) -> int:
    from ..capacity import command as capacity
    from ..endpoints import sweep_run
    from ..run_id import new_run_id
    from ..smoke import check_reachable, version_of

    settings = capacity.CapacitySettings.from_values(vars(args))
    try:
        capacity.check(settings)
    except capacity.CapacityUsageError as exc:
        raise UsageError(str(exc)) from None
    choose_time_lapse(args, lambda: _sweep_demands(args))  # the fastest it simulates faithfully
    profile = timing(args)
    run_id = new_run_id()
    with target_or_embedded(args) as (target, _):
        with target.client(timeout=30, retry=True) as client:
            version = version_of(check_reachable(client, target, require_product=False))
        report_dir = args.report_dir or reports_dir() / "capacity" / run_id
        print(f"capacity sweep against {target.url} (run {run_id}, workload {args.workload}, "
              f"timing {timing_name(args)}); files in {report_dir}", flush=True)  # fmt: skip
        sweep = capacity.Sweep(settings, target, run_id, report_dir, profile, embedded(args),
                               lambda line: print(target.redact(line), flush=True),
                               target_version=version, profile=timing_name(args),
                               allocation_wait=allocation_wait(args, embedded(args)),
                               eis_limits=eis_limits(args) if embedded(args) else None)  # fmt: skip
        try:
            return capacity.run(sweep)
        finally:  # the backstop, also after a signal: nothing of the run stays on the target
            left = sweep_run(target, run_id)
            if left:
                print(f"leftover endpoints (could not delete): {', '.join(left)}", flush=True)


def _sweep_demands(args: argparse.Namespace) -> dict[str, float]:
    """The busiest cell's deployment requests per cluster second at the sweep's highest
    offered rates (elsercheck.sim_scale)."""
    from .. import sim_scale

    a = args
    demand = max(
        sim_scale.sweep_demand(
            a.workload, n, t, a.mix, a.batch_share, a.model_id, a.corpus, a.bulk_size
        )
        for n in a.allocations
        for t in a.threads
    )
    return {a.workload: demand}
