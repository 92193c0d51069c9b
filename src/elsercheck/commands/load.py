"""``elsercheck load``: locust against a target while adaptive allocations scale.

Its policy: the shape and timing by target kind, the length bound without ``--duration``,
``--repeat``, and the report of each run (``report.html``, ``summary.json``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exit_codes import ExitCode, most_severe
from ..paths import reports_dir
from ..target import Target
from .options import (
    UsageError,
    add_report_dir,
    add_target_options,
    add_timing_options,
    allocation_wait,
    bounded_int,
    choose_time_lapse,
    embedded,
    timing,
    timing_name,
)
from .target import target_or_embedded

if TYPE_CHECKING:  # the load runner is imported only when a load runs
    from ..load.runner import LoadOptions

MAX_REPEATS = 10  # --repeat: bounded, each repeat is a whole load run
# A run longer than this needs an explicit --duration (e.g. idle-to-zero with ES's 24 h default).
LOAD_LENGTH_WITHOUT_DURATION_S = 2 * 3600
# The shape when --shape is not given and the command picks it by target kind (`run`).
EMBEDDED_SHAPE, CLUSTER_SHAPE = "cycle", "step"


def register(subparsers: Any) -> None:
    load = subparsers.add_parser(
        "load",
        help="load test with locust while adaptive allocations scale (default: embedded)",
        description="Runs loadtests/locustfile.py with locust (headless, or --web), bounded by "
        "the shape's length. Exit 0 when every scaling expectation held, 1 when one failed or "
        "an endpoint was left behind, 2 on usage errors or an unusable target, 4 when the load "
        "generator fell behind. Writes requests.csv, allocations.csv, expectations.json, "
        "run.json, locust's CSV/HTML and the run's report (report.html, summary.json; "
        "--no-report: none) to reports/load/<run-id>/. On a real cluster give its scaler "
        "timing: --timing realistic (the default with --url) and e.g. "
        "--scale-to-zero-seconds 900. On the embedded server without --timing: the fastest "
        "time-lapse this machine simulates the peak at (README: Scale that fits the machine).",
    )
    add_target_options(load)
    add_load_options(load)
    add_timing_options(load)
    add_repeat_options(load, no_report=True)
    load.set_defaults(handler=run)


def add_load_options(
    parser: argparse.ArgumentParser, shape: str | None = CLUSTER_SHAPE, distributed: bool = True
) -> None:
    """Load options; ``shape=None``: by target kind (cycle embedded, step on a cluster).

    The options the locustfile shares come from its table (``load/options.py``); the rest say
    how this command runs locust.
    """
    from ..load.options import add_options

    group = parser.add_argument_group("load")
    by_target = {"shape": (None, f"{EMBEDDED_SHAPE} embedded, {CLUSTER_SHAPE} with --url")}
    add_options(group, "cli", {} if shape else by_target)
    if distributed:  # `run` has the gate's --workers (pytest-xdist) instead
        group.add_argument(
            "--workers",
            type=int,
            dest="load_workers",
            default=0,
            metavar="N",
            help="run locust distributed: a master and N local workers",
        )
    group.add_argument(
        "--web",
        action="store_true",
        help="show locust's web UI (starts at once, quits 15 s after the run)",
    )
    group.add_argument("--web-port", type=int, default=8089, help="web UI port (default 8089)")
    if distributed:  # `load`: --load-report-dir is its earlier spelling
        add_report_dir(group, "reports/load/<run-id>", ("--report-dir", "--load-report-dir"))
    else:  # `run`: --report-dir is the gate's
        add_report_dir(group, "reports/load/<run-id>", ("--load-report-dir",), "load_report_dir")


def add_repeat_options(parser: argparse.ArgumentParser, no_report: bool = False) -> None:
    """``--repeat N`` and the report's options (passed through to ``elsercheck report``)."""
    from ..report.command import add_report_options

    group = parser.add_argument_group("repeats and report")
    group.add_argument("--repeat", type=bounded_int(MAX_REPEATS), default=1, metavar="N",
                       help=f"run the load N times (at most {MAX_REPEATS}), each in its own run "
                       "directory (under the report directory when given) and reported into the "
                       "history, so that the last report compares with the repeats and the "
                       "history (at least N-1 baselines); default 1: `load` reports its run "
                       "alone, `run` compares it with the history")  # fmt: skip
    if no_report:
        group.add_argument(
            "--no-report",
            action="store_true",
            help="write no report.html/summary.json (print the summary only)",
        )
    add_report_options(group)


def options_of(args: argparse.Namespace) -> LoadOptions:
    """The load's options, checked, its plan built (fail fast, before starting anything)."""
    from ..load.options import OptionError, plan_of, values_from
    from ..load.runner import LoadOptions

    if args.load_workers < 0:
        raise UsageError("--workers must not be negative")
    on_embedded = embedded(args)
    timing(args)  # every timing override within its bounds (e.g. a tick above 0), in one line
    settled = {
        "timing": timing_name(args),
        "shape": args.shape or (EMBEDDED_SHAPE if on_embedded else CLUSTER_SHAPE),
        "allocation_wait": allocation_wait(args, on_embedded),
    }
    try:
        values = values_from(args, settled)
    except OptionError as exc:
        raise UsageError(str(exc)) from None
    if values["workload"] in ("ingest", "mixed") and not values.get("bulk_rate_per_user"):
        from ..load.workloads import bulk_rate_per_user

        try:  # the default ingest rate reads the corpus' documents: a missing file, one line
            bulk_rate_per_user(values)
        except ValueError as exc:
            raise UsageError(f"--corpus: {exc}") from None
    plan = plan_of(values)
    if args.duration is None and plan.duration_s > LOAD_LENGTH_WITHOUT_DURATION_S:
        raise UsageError(
            f"shape {values['shape']} would run {plan.duration_s / 3600:.1f} h with this timing "
            "(scale-to-zero after "
            f"{plan.timing.scale_to_zero_s:g} s): give --scale-to-zero-seconds as set on the "
            "cluster, or --duration"
        )
    return LoadOptions(
        values, plan, workers=args.load_workers, web=args.web, web_port=args.web_port
    )


def scaled_options_of(args: argparse.Namespace) -> LoadOptions:
    """:func:`options_of` at the fastest time-lapse this machine simulates the load's peak at
    faithfully, on the embedded server without ``--timing`` (issue 25: its peak deployment
    requests, elsercheck.sim_scale; measured once per machine): the embedded server and the
    plan follow the choice. Elsewhere, or with ``--timing``, :func:`options_of` as given."""
    from ..sim_scale import load_demand

    options = options_of(args)  # fail fast on the options before measuring anything
    choose_time_lapse(args, lambda: load_demand(options.values))
    return options if options.values["timing"] == timing_name(args) else options_of(args)


def run_dir_of(given: Path | None, run_id: str, repeated: bool = False) -> Path:
    """A run's directory: the one given (a repeat's under it), else reports/load/<run-id>."""
    if given is not None and not repeated:
        return given
    return (given or reports_dir() / "load") / run_id


def run(args: argparse.Namespace) -> int:
    from ..run_id import new_run_id

    options = scaled_options_of(args)  # fail fast, before starting anything
    with target_or_embedded(args) as (target, _):
        if args.repeat == 1:
            run_id = new_run_id()
            run_dir = run_dir_of(args.report_dir, run_id)
            code = stage(args, target, run_id, options, run_dir, summary=args.no_report)
            if args.no_report or code == ExitCode.USAGE:
                return code
            return most_severe(code, report_run(run_dir, args, history=False))
        codes = repeat_loads(args, target, options, args.report_dir)
        if ExitCode.USAGE in codes:
            return ExitCode.USAGE
        run_id = new_run_id()  # after the repeats: the last run sorts last
        run_dir = run_dir_of(args.report_dir, run_id, repeated=True)
        last = stage(args, target, run_id, options, run_dir, summary=False,
                     repeat=(args.repeat, args.repeat))  # fmt: skip
    return most_severe(*codes, last, report_run(run_dir, args))


def repeat_loads(
    args: argparse.Namespace, target: Target, options: LoadOptions, base: Path | None
) -> list[int]:
    """The first ``repeat - 1`` runs of ``--repeat``, each reported into the history (their
    own verdicts count only as failures); the caller runs the last one under its run id."""
    from ..run_id import new_run_id

    codes = []
    for index in range(1, args.repeat):
        run_id = new_run_id()
        run_dir = run_dir_of(base, run_id, repeated=True)
        code = stage(args, target, run_id, options, run_dir, summary=False,
                     repeat=(index, args.repeat))  # fmt: skip
        if code == ExitCode.USAGE:  # an unusable target stays unusable: stop repeating
            return [code]
        report = report_run(run_dir, args)
        codes += [code, ExitCode.OK if report == ExitCode.REGRESSION else report]
    return codes


def stage(
    args: argparse.Namespace,
    target: Target,
    run_id: str,
    options: LoadOptions,
    run_dir: Path,
    summary: bool = True,
    repeat: tuple[int, int] | None = None,  # (this one, of how many) under --repeat
) -> int:
    """One load run into ``run_dir``; ``summary``: print its summary (a report prints its own)."""
    from ..load.runner import run_load
    from ..smoke import check_reachable

    with target.client(timeout=30, retry=True) as client:
        check_reachable(client, target, require_product=False)
    print(
        (f"repeat {repeat[0]}/{repeat[1]}: " if repeat else "")
        + f"load test against {target.url} (run {run_id}, {options.values['workload']} workload, "
        f"shape {options.shape}, {options.peak_users} users at peak × {_rates(options)})",
        flush=True,
    )
    result = run_load(
        target, options, run_id, run_dir, lambda line: print(target.redact(line), flush=True)
    )
    if result.error:
        print(f"elsercheck: error: {target.redact(result.error)}", file=sys.stderr)
    for item in result.expectations:
        print(
            f"  {item.get('status', '?'):<8} {item.get('name', '?'):<24} {item.get('detail', '')}"
        )
    if result.leftovers:
        print(f"leftover endpoints (could not delete): {', '.join(result.leftovers)}")
    if summary:
        from ..runs.summary import format_text, summarize

        print(format_text(summarize(run_dir, getattr(args, "vcpu_hour_price", None))))
    print(f"files: {run_dir}")
    return result.exit_code


def report_run(run_dir: Path, args: argparse.Namespace, history: bool = True) -> int:
    """The run's report (with the gate's results when found); ``history``: compared with the
    previous runs and added to the history (``--repeat``, ``run``), else the run alone."""
    from ..report.build import ReportOptions
    from ..report.command import default_history, report
    from ..report.history import DEFAULT_BASELINES

    print(f"report of {run_dir}", flush=True)
    return report(
        ReportOptions(
            run_dir=run_dir,
            history_dir=default_history() if history else None,
            # with --repeat N: at least the other N - 1 runs
            baselines=max(getattr(args, "baselines", DEFAULT_BASELINES), args.repeat - 1),
            vcpu_hour_price=getattr(args, "vcpu_hour_price", None),
        )
    )


def _rates(options: LoadOptions) -> str:
    """Each user's rate in words, per the workload's user classes (cluster time)."""
    from ..load import workloads

    values = options.values
    rates = [] if values["workload"] == "ingest" else [f"{options.rate_per_user:g} req/s"]
    if values["workload"] in ("ingest", "mixed"):
        bulks = workloads.bulk_rate_per_user(values)
        rates.append(f"{bulks:.3g} bulks/s of {values['bulk_size']} documents")
    return ", ".join(rates)
