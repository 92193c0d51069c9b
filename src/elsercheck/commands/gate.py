"""``elsercheck gate``: the contract suite against a target (default: the embedded server)."""

from __future__ import annotations

import argparse
from typing import Any

from ..exit_codes import ExitCode
from ..paths import reports_dir
from ..target import Target
from .options import (
    UsageError,
    add_report_dir,
    add_target_command_options,
    allocation_wait,
    positive_float,
    positive_int,
    workers,
)
from .target import target_or_embedded


def register(subparsers: Any) -> None:
    gate = subparsers.add_parser(
        "gate",
        help="conformance gate: run the contract suite against a target (default: embedded)",
        description="Exit 0 conformant, 1 violations, 2 usage error or unusable target, 4 "
        "incomplete (no violation, but checks whose setup failed). Writes junit.xml and gate.html "
        "to the report directory. A low-privilege API key for the 403 checks, when the gate's own "
        "credentials are an API key: ELASTICSEARCH_LOW_PRIVILEGE_API_KEY.",
    )
    add_target_command_options(gate, add_gate_options)
    gate.set_defaults(handler=run)


def add_gate_options(parser: argparse.ArgumentParser) -> None:
    """The gate's own options (``run`` has them too)."""
    group = parser.add_argument_group("gate")
    group.add_argument("--workers", type=workers, default="1",
                       help="pytest-xdist workers: N or auto (default 1)")  # fmt: skip
    group.add_argument("--max-examples", type=positive_int, default=25,
                       help="generated cases per operation (default 25)")  # fmt: skip
    add_report_dir(group, "reports/gate/<run-id>")
    group.add_argument("--scale-to-zero-wait", type=positive_float, default=None,
                       metavar="SECONDS",
                       help="how long the target takes to scale an idle deployment to zero "
                            "(cooldown + scale-to-zero time); enables the 409 scale-from-zero "
                            "check (default: the embedded server's, else skipped)")  # fmt: skip
    group.add_argument("--profile", default=None, metavar="V",
                       help="check against version V's contract profile whatever the target "
                            "reports (default: the target's; see --list-profiles)")  # fmt: skip
    group.add_argument("--list-profiles", action="store_true",
                       help="list the contract profiles (one per version)")  # fmt: skip
    group.add_argument("--no-known-deviations", action="store_true",
                       help="known upstream bugs are not expected: they fail")  # fmt: skip


def profiles() -> list[str]:
    """The contract suite's version profiles, oldest first."""
    from ..paths import resource_dir

    names = [p.stem for p in (resource_dir("contracts") / "profiles").glob("*.toml")]
    return sorted(names, key=lambda v: tuple(int(x) for x in v.split(".")))


def list_profiles() -> int:
    print("\n".join(profiles()))
    return ExitCode.OK


def profile_args(args: argparse.Namespace) -> list[str]:
    """``--profile`` / ``--no-known-deviations`` for the suite; an unknown profile is a usage
    error here, before anything starts."""
    extra = []
    profile = getattr(args, "profile", None)
    if profile is not None:
        if profile not in profiles():
            raise UsageError(f"no contract profile {profile!r}; profiles: {', '.join(profiles())}")
        extra += ["--profile", profile]
    if getattr(args, "no_known_deviations", False):
        extra.append("--no-known-deviations")
    return extra


def run(args: argparse.Namespace) -> int:
    from ..run_id import new_run_id

    if args.list_profiles:
        return list_profiles()
    profile_args(args)  # a bad --profile fails before a server starts
    run_id = new_run_id()
    with target_or_embedded(args) as (target, zero_wait):
        return stage(args, target, run_id, zero_wait)


def stage(args: argparse.Namespace, target: Target, run_id: str, zero_wait: float | None) -> int:
    """The gate against ``target``; ``zero_wait``: the embedded server's scale-to-zero time
    (None on a cluster), which also marks the target as the embedded server."""
    from ..gate import run_gate

    report_dir = args.report_dir or reports_dir() / "gate" / run_id
    print(f"conformance gate against {target.url} (run {run_id})", flush=True)
    extra = []
    wait = allocation_wait(args, on_embedded=zero_wait is not None)
    if wait is not None:
        extra = ["--allocation-wait", f"{wait:g}"]
    extra += profile_args(args)
    if args.scale_to_zero_wait is not None:
        zero_wait = args.scale_to_zero_wait
    result = run_gate(target, run_id, report_dir, args.workers, args.max_examples, zero_wait, extra)
    print(target.redact(result.summary.text([result.html, result.junit])))
    return result.exit_code
