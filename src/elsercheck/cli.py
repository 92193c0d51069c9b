"""The ``elsercheck`` command line.

Exit codes: :class:`elsercheck.exit_codes.ExitCode` (documented in README); after stop signal n,
128 + n (``signals.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import sys
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from . import __version__
from .exit_codes import ExitCode, most_severe
from .paths import reports_dir
from .target import Target, TargetError

if TYPE_CHECKING:  # the load runner is imported only by the commands that use it
    from .load.runner import LoadOptions


class UsageError(Exception):
    pass


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("target (default: the embedded reference server)")
    group.add_argument("--url", help="Elasticsearch URL (env ELASTICSEARCH_URL)")
    group.add_argument("--api-key", help="encoded API key (env ELASTICSEARCH_API_KEY)")
    group.add_argument("--username", help="Basic auth user (env ELASTICSEARCH_USERNAME)")
    group.add_argument("--password", help="Basic auth password (env ELASTICSEARCH_PASSWORD)")
    tls = group.add_mutually_exclusive_group()
    tls.add_argument(
        "--ca-certs", help="CA certificate file for HTTPS (env ELASTICSEARCH_CA_CERTS)"
    )
    tls.add_argument("--insecure", action="store_true", help="do not verify HTTPS certificates")
    _add_version_options(group, embedded=True)


def _add_version_options(group: argparse._ArgumentGroup, embedded: bool = False) -> None:
    """The Elasticsearch version the reference server models (``reference/versions.py``)."""
    from .reference.versions import NEWEST

    where = "the embedded server's " if embedded else ""
    group.add_argument("--es-version", metavar="V", default=None,
                       help=f"{where}Elasticsearch version, e.g. 9.4 or 8.19 (default {NEWEST}; "
                       "see --list-versions)")  # fmt: skip
    group.add_argument("--conformant", action="store_true",
                       help=f"{where}known upstream bugs of that version off: answer as the "
                       "documentation says")  # fmt: skip
    group.add_argument("--list-versions", action="store_true",
                       help="list the modelled versions and their known bugs")  # fmt: skip


def _es_version(args: argparse.Namespace):  # -> EsVersion
    from .reference.versions import UnknownVersion, resolve

    try:
        return resolve(getattr(args, "es_version", None))
    except UnknownVersion as exc:
        raise UsageError(str(exc)) from None


def _list_versions() -> int:
    from .reference.versions import BUGS, CHANGES, RELEASES, supported

    for line in supported():
        release = RELEASES[line]
        bugs = ", ".join(f"{b.issue} {b.defect}" for b in BUGS if line in b.lines) or "none"
        print(f"{release.number:<8} known upstream bugs: {bugs}")
    print("\nbehaviour that changed after 9.1 (first version: rule; source):")
    for change in CHANGES:
        print(f"  {change.since:<5} {change.name}: {change.what} ({change.source})")
    return ExitCode.OK


def _add_timing_options(
    parser: argparse.ArgumentParser, default: str | None, given: frozenset[str] = frozenset()
) -> None:
    """``--timing`` and every timing field; ``given``: dests the load options added already."""
    from .reference.timing import PRESETS, Timing

    group = parser.add_argument_group("reference server timing")
    if "timing" not in given:
        group.add_argument("--timing", choices=sorted(PRESETS), default=default,
                           help="timing profile (default "
                           f"{default or 'fast embedded, realistic with --url'})")  # fmt: skip
    for item in fields(Timing):
        if f"timing_{item.name}" in given:
            continue
        group.add_argument(f"--{item.name.replace('_', '-')}", type=float, metavar="N",
                           dest=f"timing_{item.name}", help=argparse.SUPPRESS)  # fmt: skip


def _timing(args: argparse.Namespace):  # -> Timing
    from .reference.timing import preset, setting_problem

    overrides = {
        key.removeprefix("timing_"): value
        for key, value in vars(args).items()
        if key.startswith("timing_") and value is not None
    }
    for name, value in overrides.items():
        problem = setting_problem(name, value)  # e.g. inf or nan, which float() accepts
        if problem:
            raise UsageError(f"--{name.replace('_', '-')} {problem}")
    return preset(args.timing).with_overrides(**overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elsercheck",
        description="Conformance gate and load tests for the Elasticsearch Inference API (ELSER).",
    )
    parser.add_argument("--version", action="version", version=f"elsercheck {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the embedded reference server in the foreground",
        description="Run the reference server (the Elasticsearch inference API + ELSER "
        "deployments). Every timing field can be overridden: --scaler-tick-seconds 1; see README.",
    )
    _add_version_options(serve.add_argument_group("Elasticsearch version"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=9200)
    serve.add_argument(
        "--no-security", action="store_true", help="no authentication (ES with security off)"
    )
    serve.add_argument(
        "--tls", action="store_true", help="serve HTTPS with a generated certificate"
    )
    serve.add_argument(
        "--tls-dir", type=Path, default=None, help="where ca.crt etc. go (default reports/tls)"
    )
    serve.add_argument(
        "--ml-processors", type=int, default=16, help="ML node processors (capacity)"
    )
    serve.add_argument("--eis", action="store_true",
                       help="model the Elastic Inference Service (9.2+): service `elastic`, "
                       "`.elser-2-elastic` after the first authorization poll")  # fmt: skip
    serve.add_argument("--defect", action="append", default=[], metavar="NAME",
                       help="a deliberate defect (repeatable; see --list-defects)")  # fmt: skip
    serve.add_argument("--list-defects", action="store_true",
                       help="list the deliberate defects and exit")  # fmt: skip
    serve.add_argument("--fault", action="append", default=[], metavar="NAME",
                       help="an injected fault the suite must survive (repeatable; see "
                       "--list-faults)")  # fmt: skip
    serve.add_argument("--list-faults", action="store_true",
                       help="list the injectable faults and exit")  # fmt: skip
    _add_timing_options(serve, "realistic")
    serve.set_defaults(handler=cmd_serve)

    selftest = commands.add_parser(
        "selftest",
        help="prove the gate's teeth: run it against the clean server and each defect",
        description="Runs the gate against a clean embedded reference server and against one "
        "server per deliberate defect (fast timing, security on). Exit 0 when the clean run is "
        "conformant and every defect is caught, 1 otherwise, 2 on usage errors. Writes "
        "selftest.json and selftest.html to the report directory.",
    )
    selftest.add_argument("--defect", action="append", default=[], metavar="NAME",
                          help="only these defects (repeatable; default: all)")  # fmt: skip
    selftest.add_argument("--jobs", type=_positive, default=2,
                          help="gates run at once (default 2)")  # fmt: skip
    selftest.add_argument("--max-examples", type=_positive, default=10,
                          help="generated cases per operation (default 10)")  # fmt: skip
    selftest.add_argument("--report-dir", type=Path, default=None,
                          help="where reports go (default reports/selftest)")  # fmt: skip
    selftest.set_defaults(handler=cmd_selftest)

    gate = commands.add_parser(
        "gate",
        help="conformance gate: run the contract suite against a target (default: embedded)",
        description="Exit 0 conformant, 1 violations, 2 usage error or unusable target, 4 "
        "incomplete (no violation, but checks whose setup failed). Writes junit.xml and gate.html "
        "to the report directory. A low-privilege API key for the 403 checks, when the gate's own "
        "credentials are an API key: ELASTICSEARCH_LOW_PRIVILEGE_API_KEY.",
    )
    _add_target_options(gate)
    _add_gate_options(gate)
    _add_timing_options(gate, "fast")
    gate.set_defaults(handler=cmd_gate)

    spec = commands.add_parser(
        "spec",
        help="write the effective OpenAPI spec (official subset + overlay)",
        description="For `schemathesis run`, Prism and other OpenAPI tools: "
        "elsercheck spec -o elser.json && schemathesis run elser.json --url http://localhost:9200",
    )
    spec.add_argument("-o", "--output", type=Path, default=None, help="file (default: stdout)")
    spec.add_argument("--format", choices=("json", "yaml"), default=None,
                      help="default: from the file suffix, else json")  # fmt: skip
    spec.set_defaults(handler=cmd_spec)

    load = commands.add_parser(
        "load",
        help="load test with locust while adaptive allocations scale (default: embedded)",
        description="Runs loadtests/locustfile.py with locust (headless, or --web), bounded by "
        "the shape's length. Exit 0 when every scaling expectation held, 1 when one failed or "
        "an endpoint was left behind, 2 on usage errors or an unusable target. Writes "
        "requests.csv, allocations.csv, expectations.json, run.json and locust's CSV/HTML to "
        "reports/load/<run-id>/. On a real cluster give its scaler timing: --timing realistic "
        "(the default with --url) and e.g. --scale-to-zero-seconds 900.",
    )
    _add_target_options(load)
    _add_load_options(load)
    _add_timing_options(load, None, _load_dests())
    _add_repeat_options(load)
    load.set_defaults(handler=cmd_load)

    from .report import command as report_command

    report_command.add_parser(commands)

    capacity = commands.add_parser(
        "capacity",
        help="sweep the offered rate to the knee: capacity per allocation (default: embedded)",
        description="Per (allocations, threads) cell: creates an endpoint with fixed "
        "allocations, probes it, offers rising rates (one load run each) up to the knee, repeats "
        "the capacity point and reports the capacity per allocation with its 95 % interval. "
        "Exit 0 every cell found its capacity, 1 a cell sustained no rate, 2 usage error or an "
        "unusable target. Writes capacity.json, capacity.html and the points' runs to "
        "reports/capacity/<run-id>/.",
    )
    _add_target_options(capacity)
    from .capacity.command import add_options as add_capacity_options

    add_capacity_options(capacity)
    _add_timing_options(capacity, None)
    capacity.set_defaults(handler=cmd_capacity)

    run = commands.add_parser(
        "run", help="everything that exists, against the embedded server (what `make run` does)"
    )
    _add_target_options(run)
    _add_gate_options(run, allocation_wait=False)
    _add_load_options(run, shape=None, distributed=False)
    _add_timing_options(run, None, _load_dests())
    run.add_argument(
        "--no-ingest",
        action="store_true",
        help="skip the ingest stage (after the load: a spike of _bulk requests into a "
        "semantic_text index, its own run directory <run-id>-ingest and report)",
    )
    _add_repeat_options(run)
    run.set_defaults(handler=cmd_run, load_workers=0)
    return parser


def _add_load_options(
    parser: argparse.ArgumentParser, shape: str | None = "step", distributed: bool = True
) -> None:
    """Load options; ``shape=None``: cycle on the embedded server, step on a cluster.

    The options the locustfile shares come from its table (``load/options.py``); the rest say
    how this command runs locust.
    """
    from .load.options import add_options

    group = parser.add_argument_group("load")
    add_options(group, "cli", {} if shape else {"shape": (None, "cycle embedded, step with --url")})
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
    group.add_argument(
        "--load-report-dir",
        type=Path,
        default=None,
        dest="load_report_dir",
        help="where the run's files go (default reports/load/<run-id>)",
    )


MAX_REPEATS = 10  # --repeat: bounded, each repeat is a whole load run


def _repeats(value: str) -> int:
    if value.isdigit() and 1 <= int(value) <= MAX_REPEATS:
        return int(value)
    raise argparse.ArgumentTypeError(f"expected a number from 1 to {MAX_REPEATS}, not {value!r}")


def _add_repeat_options(parser: argparse.ArgumentParser) -> None:
    """``--repeat N`` and the report's options (passed through to ``elsercheck report``)."""
    from .report.command import add_report_options

    group = parser.add_argument_group("repeats and report")
    group.add_argument("--repeat", type=_repeats, default=1, metavar="N",
                       help=f"run the load N times (at most {MAX_REPEATS}), each in its own run "
                       "directory (under --load-report-dir when given) and reported into the "
                       "history, so that the last report compares with the repeats and the "
                       "history (at least N-1 baselines); default 1: `load` reports nothing, "
                       "`run` reports its one load")  # fmt: skip
    add_report_options(group)


def _load_dests() -> frozenset[str]:
    """The dests the load options add (``--timing`` and the scaler's timing fields among them)."""
    from .load.options import OPTIONS

    return frozenset(option.dest for option in OPTIONS if option.cli)


def _workers(value: str) -> str:
    if value == "auto" or (value.isdigit() and int(value) >= 1):
        return value
    raise argparse.ArgumentTypeError(f"expected a positive number or 'auto', not {value!r}")


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number > 0 and number != float("inf"):
        return number
    raise argparse.ArgumentTypeError(f"expected a positive number, not {value!r}")


def _positive(value: str) -> int:
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise argparse.ArgumentTypeError(f"expected a positive number, not {value!r}")


def _add_gate_options(parser: argparse.ArgumentParser, allocation_wait: bool = True) -> None:
    """The gate's options; ``run`` leaves out ``--allocation-wait``, which its load options own."""
    group = parser.add_argument_group("gate")
    group.add_argument("--workers", type=_workers, default="1",
                       help="pytest-xdist workers: N or auto (default 1)")  # fmt: skip
    group.add_argument("--max-examples", type=_positive, default=25,
                       help="generated cases per operation (default 25)")  # fmt: skip
    group.add_argument("--report-dir", type=Path, default=None,
                       help="where reports go (default reports/gate/<run-id>)")  # fmt: skip
    if allocation_wait:
        group.add_argument("--allocation-wait", type=_positive_float, default=None,
                           dest="gate_allocation_wait", metavar="SECONDS",
                           help="how long a deployment may take to become fully allocated "
                                "(default 300 for a cluster; three cold starts of the embedded "
                                "server's timing)")  # fmt: skip
    group.add_argument("--scale-to-zero-wait", type=_positive_float, default=None,
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


def _profiles() -> list[str]:
    """The contract suite's version profiles, oldest first."""
    from .paths import resource_dir

    names = [p.stem for p in (resource_dir("contracts") / "profiles").glob("*.toml")]
    return sorted(names, key=lambda v: tuple(int(x) for x in v.split(".")))


def _gate_profile_args(args: argparse.Namespace) -> list[str]:
    """``--profile`` / ``--no-known-deviations`` for the suite; an unknown profile is a usage
    error here, before anything starts."""
    extra = []
    profile = getattr(args, "profile", None)
    if profile is not None:
        if profile not in _profiles():
            raise UsageError(f"no contract profile {profile!r}; profiles: {', '.join(_profiles())}")
        extra += ["--profile", profile]
    if getattr(args, "no_known_deviations", False):
        extra.append("--no-known-deviations")
    return extra


def _defects(names: list[str]) -> list[str]:
    """The named defects in catalogue order; unknown names are a usage error."""
    from .reference.breakage.defects import CATALOGUE, check_names

    try:
        check_names(names)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return [name for name in CATALOGUE if name in names]


def _list_defects() -> int:
    from .reference.breakage.defects import CATALOGUE

    for defect in CATALOGUE.values():
        print(f"{defect.name:<27} {defect.family:<15} {defect.description}")
    return ExitCode.OK


def _faults(names: list[str]) -> frozenset[str]:
    """The named faults; unknown names are a usage error."""
    from .reference.breakage.faults import check_names

    try:
        check_names(names)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return frozenset(names)


def _list_faults() -> int:
    from .reference.breakage.faults import CATALOGUE

    for fault in CATALOGUE.values():
        print(f"{fault.name:<24} {fault.description}")
    return ExitCode.OK


def cmd_serve(args: argparse.Namespace) -> int:
    from .reference.config import ServerConfig
    from .reference.serve import run_foreground

    if args.list_defects:
        return _list_defects()
    if args.list_faults:
        return _list_faults()
    es_version = _es_version(args)
    defects = frozenset(_defects(args.defect))
    faults = _faults(args.fault)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    if args.ml_processors < 1:
        raise UsageError("--ml-processors must be at least 1")
    if args.eis and not es_version.has("eis-elser"):
        raise UsageError(f"--eis: ELSER on EIS is modelled from 9.2 (GA), not {es_version.number}")
    config = ServerConfig(
        security=not args.no_security,
        tls=args.tls,
        timing=_timing(args),
        ml_processors=args.ml_processors,
        defects=defects,
        faults=faults,
        es_version=es_version,
        conformant=args.conformant,
        eis=args.eis,
    )
    if defects:
        print(f"deliberate defects: {', '.join(sorted(defects))}")
    if faults:
        print(f"injected faults: {', '.join(sorted(faults))}")
    run_foreground(config, args.host, args.port, args.tls_dir or reports_dir() / "tls")
    return ExitCode.OK


@contextlib.contextmanager
def _target_or_embedded(args: argparse.Namespace) -> Iterator[tuple[Target, float | None]]:
    """The given target, or the embedded reference server started for this command.

    Also yields how long the target takes to scale an idle deployment to zero, when known.
    """
    if args.url or os.environ.get("ELASTICSEARCH_URL"):
        if getattr(args, "es_version", None) or getattr(args, "conformant", False):
            raise UsageError(
                "--es-version and --conformant choose the embedded server's version; against "
                "--url the gate reads the version from the cluster (force a profile with --profile)"
            )
        yield Target.from_options(
            args.url, api_key=args.api_key, username=args.username, password=args.password,
            ca_certs=args.ca_certs, insecure=args.insecure,
        ), None  # fmt: skip
        return
    from .reference.config import ServerConfig
    from .reference.serve import EmbeddedServer

    timing = _timing(args)
    password = secrets.token_urlsafe(12)
    config = ServerConfig(
        password=password, timing=timing, es_version=_es_version(args),
        conformant=getattr(args, "conformant", False),
    )  # fmt: skip
    with EmbeddedServer(config) as server:
        print(f"reference server at {server.url} (timing {args.timing}); {config.modelled()}",
              flush=True)  # fmt: skip
        zero_wait = timing.scale_to_zero_seconds + timing.scale_down_cooldown_seconds
        yield Target(server.url, username="elastic", password=password), zero_wait


def cmd_spec(args: argparse.Namespace) -> int:
    from .spec import build_effective_spec, dump_spec

    output: Path | None = args.output
    fmt: Literal["json", "yaml"] = args.format or (
        "yaml" if output and output.suffix in (".yaml", ".yml") else "json"
    )
    text = dump_spec(build_effective_spec(), fmt)
    if output is None:
        sys.stdout.write(text)
        return ExitCode.OK
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}") from None
    print(f"wrote {output} ({fmt}, {len(text)} bytes)", file=sys.stderr)
    return ExitCode.OK


def cmd_gate(args: argparse.Namespace) -> int:
    from .run_id import new_run_id

    _gate_profile_args(args)  # a bad --profile fails before a server starts
    run_id = new_run_id()
    with _target_or_embedded(args) as (target, zero_wait):
        return _gate(args, target, run_id, zero_wait)


def _gate(args: argparse.Namespace, target: Target, run_id: str, zero_wait: float | None) -> int:
    from .gate import run_gate

    report_dir = args.report_dir or reports_dir() / "gate" / run_id
    print(f"conformance gate against {target.url} (run {run_id})", flush=True)
    extra = []
    allocation_wait = getattr(args, "gate_allocation_wait", None)
    if allocation_wait is None and zero_wait is not None:
        # The embedded server: its timing is known, no need to wait 300 s.
        allocation_wait = embedded_allocation_wait(_timing(args))
    if allocation_wait is not None:
        extra = ["--allocation-wait", f"{allocation_wait:g}"]
    extra += _gate_profile_args(args)
    if args.scale_to_zero_wait is not None:
        zero_wait = args.scale_to_zero_wait
    result = run_gate(target, run_id, report_dir, args.workers, args.max_examples, zero_wait, extra)
    print(target.redact(result.summary.text([result.html, result.junit])))
    return result.exit_code


# A run longer than this needs an explicit --duration (e.g. idle-to-zero with ES's 24 h default).
LOAD_LENGTH_WITHOUT_DURATION_S = 2 * 3600


def cmd_load(args: argparse.Namespace) -> int:
    from .run_id import new_run_id

    options = _load_options(args)  # fail fast, before starting anything
    with _target_or_embedded(args) as (target, _):
        if args.repeat == 1:
            return _load(args, target, new_run_id(), options)
        codes = _repeat_loads(args, target, options, args.repeat)
        if ExitCode.USAGE in codes:
            return ExitCode.USAGE
        run_id = new_run_id()  # after the repeats: the last run sorts last
        run_dir = _repeat_dir(args, run_id)
        last = _load(args, target, run_id, options, summary=False, run_dir=run_dir,
                     repeat=(args.repeat, args.repeat))  # fmt: skip
    return most_severe(*codes, last, _report(run_dir, args))


def _embedded(args: argparse.Namespace) -> bool:
    return not (args.url or os.environ.get("ELASTICSEARCH_URL"))


def _load_options(args: argparse.Namespace) -> LoadOptions:
    from .load.options import OptionError, plan_of, values_from
    from .load.runner import LoadOptions

    if args.timing is None:
        args.timing = "fast" if _embedded(args) else "realistic"
    if args.shape is None:
        args.shape = "cycle" if _embedded(args) else "step"
    if args.load_workers < 0:
        raise UsageError("--workers must not be negative")
    _timing(args)  # every timing override within its bounds (e.g. a tick above 0), in one line
    try:
        values = values_from(args)
    except OptionError as exc:
        raise UsageError(str(exc)) from None
    if values["workload"] in ("ingest", "mixed") and not values.get("bulk_rate_per_user"):
        from .load.workloads import bulk_rate_per_user

        try:  # the default ingest rate reads the corpus' documents: a missing file, one line
            bulk_rate_per_user(values)
        except ValueError as exc:
            raise UsageError(f"--corpus: {exc}") from None
    plan = plan_of(values)
    if args.duration is None and plan.duration_s > LOAD_LENGTH_WITHOUT_DURATION_S:
        raise UsageError(
            f"shape {args.shape} would run {plan.duration_s / 3600:.1f} h with this timing "
            "(scale-to-zero after "
            f"{plan.timing.scale_to_zero_s:g} s): give --scale-to-zero-seconds as set on the "
            "cluster, or --duration"
        )
    return LoadOptions(
        values, plan, workers=args.load_workers, web=args.web, web_port=args.web_port
    )


def _repeat_dir(args: argparse.Namespace, run_id: str) -> Path:
    """A repeat's run directory: under --load-report-dir when given, else the default."""
    return (args.load_report_dir or reports_dir() / "load") / run_id


def _repeat_loads(
    args: argparse.Namespace, target: Target, options: LoadOptions, repeat: int
) -> list[int]:
    """The first ``repeat - 1`` runs of ``--repeat``, each reported into the history (their
    own verdicts count only as failures); the caller runs the last one under its run id."""
    from .run_id import new_run_id

    codes = []
    for index in range(1, repeat):
        run_id = new_run_id()
        run_dir = _repeat_dir(args, run_id)
        code = _load(args, target, run_id, options, summary=False, run_dir=run_dir,
                     repeat=(index, repeat))  # fmt: skip
        if code == ExitCode.USAGE:  # an unusable target stays unusable: stop repeating
            return [code]
        report = _report(run_dir, args)
        codes += [code, ExitCode.OK if report == ExitCode.REGRESSION else report]
    return codes


def _load(
    args: argparse.Namespace,
    target: Target,
    run_id: str,
    options: LoadOptions,
    summary: bool = True,
    run_dir: Path | None = None,
    repeat: tuple[int, int] | None = None,  # (this one, of how many) under --repeat
) -> int:
    from .load.runner import run_load
    from .smoke import check_reachable

    with target.client(timeout=30, retry=True) as client:
        check_reachable(client, target, require_product=False)
    run_dir = run_dir or args.load_report_dir or reports_dir() / "load" / run_id
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
        from .load.summary import format_text, summarize

        print(format_text(summarize(run_dir, getattr(args, "vcpu_hour_price", None))))
    print(f"files: {run_dir}")
    return result.exit_code


def cmd_capacity(args: argparse.Namespace) -> int:
    from .capacity import command as capacity
    from .endpoints import sweep_run
    from .run_id import new_run_id
    from .smoke import check_reachable, version_of

    if args.timing is None:
        args.timing = "fast" if _embedded(args) else "realistic"
    timing = _timing(args)
    try:
        capacity.check(args)
    except capacity.CapacityUsageError as exc:
        raise UsageError(str(exc)) from None
    run_id = new_run_id()
    with _target_or_embedded(args) as (target, _):
        with target.client(timeout=30, retry=True) as client:
            version = version_of(check_reachable(client, target, require_product=False))
        report_dir = args.report_dir or reports_dir() / "capacity" / run_id
        print(f"capacity sweep against {target.url} (run {run_id}, workload {args.workload}, "
              f"timing {args.timing}); files in {report_dir}", flush=True)  # fmt: skip
        sweep = capacity.Sweep(args, target, run_id, report_dir, timing, _embedded(args),
                               lambda line: print(target.redact(line), flush=True),
                               target_version=version)  # fmt: skip
        try:
            return capacity.run(sweep)
        finally:  # the backstop, also after a signal: nothing of the run stays on the target
            left = sweep_run(target, run_id)
            if left:
                print(f"leftover endpoints (could not delete): {', '.join(left)}", flush=True)


def _rates(options: LoadOptions) -> str:
    """Each user's rate in words, per the workload's user classes (cluster time)."""
    from .load import workloads

    values = options.values
    rates = [] if values["workload"] == "ingest" else [f"{options.rate_per_user:g} req/s"]
    if values["workload"] in ("ingest", "mixed"):
        bulks = workloads.bulk_rate_per_user(values)
        rates.append(f"{bulks:.3g} bulks/s of {values['bulk_size']} documents")
    return ", ".join(rates)


def embedded_allocation_wait(timing) -> float:  # timing: reference.timing.Timing
    """How long the gate waits for ``fully_allocated`` on the embedded server: three times a
    cold start (download + deployment + allocation), at least 20 s for a busy CI machine,
    instead of a cluster's 300 s, so that a deployment that never starts turns the gate red in
    seconds."""
    cold_start = (
        timing.model_download_seconds
        + timing.deployment_start_seconds
        + timing.allocation_start_seconds
    )
    return max(20.0, 3 * cold_start)


def cmd_selftest(args: argparse.Namespace) -> int:
    from .reference.breakage.defects import CATALOGUE
    from .selftest import HEADER, run_selftest

    defects = _defects(args.defect) if args.defect else list(CATALOGUE)
    report_dir = args.report_dir or reports_dir() / "selftest"
    print(f"selftest: the gate against the clean server and {len(defects)} defect(s), "
          f"{args.jobs} at a time (max {args.max_examples} examples)", flush=True)  # fmt: skip
    print(HEADER, flush=True)
    result = run_selftest(defects, report_dir, args.jobs, args.max_examples,
                          on_result=lambda run: print(run.row(), flush=True))  # fmt: skip
    print(f"report: {report_dir / 'selftest.html'} and selftest.json")
    print(result.summary_line())
    return result.exit_code


def cmd_run(args: argparse.Namespace) -> int:
    from .run_id import new_run_id

    options = _load_options(args)  # fail fast on load options (and settle the timing profile)
    run_id = new_run_id()
    print(f"elsercheck run {run_id}")
    with _target_or_embedded(args) as (target, zero_wait):
        smoke = _smoke(target, run_id)
        if smoke != ExitCode.OK:
            return smoke
        gate = _gate(args, target, run_id, zero_wait)
        if gate == ExitCode.USAGE:
            return gate
        if args.repeat == 1:
            run_dir = args.load_report_dir or reports_dir() / "load" / run_id
            load = _load(args, target, run_id, options, summary=False)  # the report prints it
        else:  # the earlier repeats first: the last (this run id, the gate's) compares with them
            repeats = _repeat_loads(args, target, options, args.repeat)
            if ExitCode.USAGE in repeats:
                return ExitCode.USAGE
            run_dir = _repeat_dir(args, run_id)
            last = _load(args, target, run_id, options, summary=False, run_dir=run_dir,
                         repeat=(args.repeat, args.repeat))  # fmt: skip
            load = most_severe(*repeats, last)
        stages = [(run_dir, load)]
        if not args.no_ingest:
            ingest_id = f"{run_id}-{INGEST_STAGE_SUFFIX}"
            ingest_dir = run_dir.with_name(f"{run_dir.name}-{INGEST_STAGE_SUFFIX}")
            ingest = _load(args, target, ingest_id, _ingest_stage(options), False, ingest_dir)
            stages.append((ingest_dir, ingest))
    reports = [_report(directory, args) for directory, _ in stages]
    from .report.index import write_index

    print(f"open {write_index(reports_dir())}")
    return most_severe(gate, *(code for _, code in stages), *reports)


# `elsercheck run`'s ingest stage: a spike of small bulks (quick to answer, so the short
# stage sees several per tick) into the run's semantic_text index, on its own run id so that
# its history line compares with earlier ingest stages (baselines are per workload).
INGEST_STAGE_SUFFIX = "ingest"
INGEST_STAGE = {"workload": "ingest", "shape": "spike", "bulk_size": 10, "lifecycle_users": 0}


def _ingest_stage(options: LoadOptions) -> LoadOptions:
    """The load stage's options turned into the ingest stage's (same target and timing)."""
    from .load.options import plan_of
    from .load.runner import LoadOptions

    # Half the load stage's peak: a bulk spike's queue must drain within the short stage for
    # the scale-down to show (an ingest user offers the ELSER work of an inference user).
    values = {**options.values, **INGEST_STAGE, "peak_users": max(1, options.peak_users // 2)}
    return LoadOptions(values, plan_of(values), workers=options.workers)


def _report(run_dir: Path, args: argparse.Namespace | None = None) -> int:
    """The load run's report (with the gate's results), compared with the previous runs;
    ``args``: the command's --baselines and --vcpu-hour-price."""
    from .report import command as report_command
    from .report.history import DEFAULT_BASELINES

    print(f"report of {run_dir}", flush=True)
    options = argparse.Namespace(run_dir=run_dir, history=None, no_history=False,
                                 baseline=None, threshold=[], gate_dir=None,
                                 # with --repeat N: at least the other N - 1 runs
                                 baselines=max(getattr(args, "baselines", DEFAULT_BASELINES),
                                               getattr(args, "repeat", 1) - 1),
                                 vcpu_hour_price=getattr(args, "vcpu_hour_price", None),
                                 )  # fmt: skip
    return report_command.run(options)


def _smoke(target: Target, run_id: str) -> int:
    from .smoke import run_smoke

    print(f"smoke scenario against {target.url}")
    result = run_smoke(target, run_id, on_step=lambda step: print(step.line(), flush=True))
    print(target.redact(result.summary(include_steps=False)))
    return ExitCode.OK if result.ok else ExitCode.FAILED


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from . import signals

    try:
        # SIGINT, SIGTERM and SIGHUP: children get the signal too, everything cleans up.
        with signals.stop_on_signals():
            if getattr(args, "list_versions", False):
                return _list_versions()
            if getattr(args, "list_profiles", False):
                print("\n".join(_profiles()))
                return ExitCode.OK
            return args.handler(args)
    except (UsageError, TargetError) as exc:
        print(f"elsercheck: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt as exc:
        signum = signals.signal_of(exc)
        print(f"elsercheck: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        return signals.exit_code(signum)  # INTERRUPTED, TERMINATED or HANGUP
    except Exception as exc:  # the last guard: one line, never a traceback
        from .reference.serve import ServerStartError

        if isinstance(exc, ServerStartError | OSError):
            print(f"elsercheck: error: {exc}", file=sys.stderr)
            return ExitCode.USAGE
        raise
