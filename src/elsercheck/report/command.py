"""``elsercheck report RUN_DIR``: the load run's report, history and regression verdict.

Exit codes: 0 ok; 1 a load expectation failed, the load run exited non-zero or the gate is not
conformant; 2 usage error (RUN_DIR missing, not a load run or its files unreadable, unknown
baseline, bad option); 3 a performance regression: beyond its threshold AND beyond the noise
interval of the earlier comparable runs (``--baselines``, default 5; with fewer than 3 the
threshold alone). 1 outranks 3.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exit_codes import ExitCode
from ..numbers import bounded_int
from ..paths import reports_dir
from ..runs.summary import format_text
from .compare import MIN_SPREAD_RUNS
from .history import DEFAULT_BASELINES, MAX_BASELINES
from .metrics import METRICS, parse_threshold

if TYPE_CHECKING:
    from .build import ReportOptions

# .build (charts: matplotlib, numpy; ~0.6 s of CPU) is imported when a report is built, not
# when the options are registered: every command's parser registers them (load's repeat
# options), and `elsercheck gate` never draws a chart.

HISTORY_SUBDIR = "history"


def _threshold(text: str) -> tuple[str, float | None]:
    try:
        return parse_threshold(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


baselines_count = bounded_int(MAX_BASELINES)  # --baselines N: 1 … MAX_BASELINES


def price(text: str) -> float:
    """``--vcpu-hour-price X``: a finite number ≥ 0 (any currency)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if 0 <= value < float("inf"):
        return value
    raise argparse.ArgumentTypeError(f"expected a price of 0 or more, not {text!r}")


def add_report_options(group: Any) -> None:
    """The options that shape a report, shared with ``load`` and ``run`` (which report too)."""
    group.add_argument("--baselines", type=baselines_count, default=DEFAULT_BASELINES,
                       metavar="N",
                       help=f"compare with the N latest comparable runs of the history (default "
                       f"{DEFAULT_BASELINES}); their spread gives each metric a noise interval "
                       "(mean ± t·s·sqrt(1+1/N), needs N ≥ 3): a regression must be beyond it "
                       "and beyond the threshold")  # fmt: skip
    group.add_argument("--vcpu-hour-price", type=price, default=None, metavar="X",
                       help="price of one vCPU-hour (any currency): adds a cost figure to the "
                       "report's Cost section")  # fmt: skip


def _metrics_epilog() -> str:
    lines = ["metrics and default regression thresholds (--threshold METRIC=PCT|off):"]
    for metric in METRICS:
        threshold = (
            "shown only"
            if metric.threshold is None
            else f"{metric.threshold:g} {metric.threshold_unit}"
        )
        lines.append(f"  {metric.key:<28} {metric.worse} is worse, {threshold}")
    return "\n".join(lines)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``report`` subcommand; its handler (``args.handler``) is :func:`run`."""
    parser = subparsers.add_parser(
        "report",
        help="report of a load run: report.html, summary.json, comparison with the history",
        description="Writes RUN_DIR/report.html (self-contained: charts inline, opens offline) "
        "and RUN_DIR/summary.json, compares the run with the latest runs of the same shape in "
        "the history (or --baseline) and adds it to the history. Exit 0 ok, 1 load expectations "
        "or gate failed, 2 usage error, 3 performance regression (beyond the threshold and the "
        "earlier runs' noise).",
        epilog=_metrics_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a load run directory, e.g. reports/load/<run-id>")  # fmt: skip
    history = parser.add_mutually_exclusive_group()
    history.add_argument("--history", type=Path, default=None, metavar="DIR",
                         help="history of run summaries (default reports/history)")  # fmt: skip
    history.add_argument("--no-history", action="store_true",
                         help="neither compare with nor add to a history")  # fmt: skip
    parser.add_argument("--baseline", metavar="RUN_ID",
                        help="compare with this run of the history alone (default: the latest "
                        "runs of the same shape, see --baselines)")  # fmt: skip
    add_report_options(parser)
    parser.add_argument("--threshold", action="append", type=_threshold, default=[],
                        metavar="METRIC=PCT",
                        help="override a regression threshold (repeatable; 'off' disables; "
                        "see the list below)")  # fmt: skip
    parser.add_argument("--gate-dir", type=Path, default=None, metavar="DIR",
                        help="the gate's report directory (junit.xml); default: RUN_DIR/gate/, "
                        "RUN_DIR/ or reports/gate/<run-id>/ when present")  # fmt: skip
    parser.set_defaults(handler=run)
    return parser


def default_history() -> Path:
    """The history of run summaries: ``reports/history``."""
    return reports_dir() / HISTORY_SUBDIR


def run(args: argparse.Namespace) -> int:
    """``elsercheck report``: the parsed options turned into :class:`ReportOptions`."""
    from .build import ReportOptions

    history_dir = None if args.no_history else args.history or default_history()
    options = ReportOptions(
        run_dir=args.run_dir,
        history_dir=history_dir,
        baseline=args.baseline,
        baselines=getattr(args, "baselines", DEFAULT_BASELINES),
        vcpu_hour_price=getattr(args, "vcpu_hour_price", None),
        thresholds=args.threshold,
        gate_dir=args.gate_dir,
    )
    return report(options)


def report(options: ReportOptions) -> int:
    """Build the report; print a summary; return the exit code (never raises on bad input).
    ``load`` and ``run`` call it for their runs."""
    from .build import ReportUsageError, build_report

    history_dir = options.history_dir
    try:
        result = build_report(options)
    except (ReportUsageError, OSError) as exc:
        print(f"elsercheck: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    document = result.document
    print(format_text(document["load"]))
    comparison = document["comparison"]
    if comparison:
        regressions = comparison["regressions"]
        runs = comparison.get("baseline_run_ids") or [comparison["baseline_run_id"]]
        others = f" and {len(runs) - 1} earlier run(s)" if len(runs) > 1 else ""
        print(
            f"  compared with {comparison['baseline_run_id']}{others}: "
            + (f"{len(regressions)} regression(s)" if regressions else "no regression")
            + ("" if len(runs) >= MIN_SPREAD_RUNS else " (spread not measured: threshold only)")
        )
    elif history_dir is not None:
        print("  no baseline in the history yet")
    verdict = document["verdict"]
    print(f"{verdict['status'].upper()} (exit {verdict['exit_code']})")
    for reason in verdict["reasons"]:
        print(f"  - {reason}")
    print(f"report: {result.html}")
    return result.exit_code


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m elsercheck.report``), as the CLI will call it."""
    parser = argparse.ArgumentParser(prog="elsercheck")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", *(sys.argv[1:] if argv is None else argv)])
    return args.handler(args)
