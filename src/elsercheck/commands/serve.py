"""``elsercheck serve``: the reference server in the foreground."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..exit_codes import ExitCode
from ..paths import reports_dir
from .options import (
    UsageError,
    add_timing_options,
    add_version_options,
    eis,
    eis_limits,
    es_version,
    timing,
    timing_fields,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9200


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the embedded reference server in the foreground",
        description="Run the reference server (the Elasticsearch inference API + ELSER "
        "deployments) until Ctrl-C. Every timing field of --timing's profile can be overridden, "
        f"e.g. --scaler-tick-seconds 1 ({len(timing_fields())} fields, listed under "
        "'reference server timing'; README: timing).",
    )
    add_version_options(serve.add_argument_group("Elasticsearch version"))
    serve.add_argument("--host", default=DEFAULT_HOST,
                       help=f"address to listen on (default {DEFAULT_HOST}: this machine only; "
                       "0.0.0.0 for every interface)")  # fmt: skip
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0: a free one)",
    )
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
    serve.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                       help="keep endpoints, deployments, pipelines, indices and documents in "
                       "DIR across restarts; a later --es-version on the same DIR is an upgrade "
                       "(stored-config migrations and that version's bugs), an older one is "
                       "refused (default: in memory only)")  # fmt: skip
    serve.add_argument("--defect", action="append", default=[], metavar="NAME",
                       help="a deliberate defect (repeatable; see --list-defects)")  # fmt: skip
    serve.add_argument("--list-defects", action="store_true",
                       help="list the deliberate defects and exit")  # fmt: skip
    serve.add_argument("--fault", action="append", default=[], metavar="NAME",
                       help="an injected fault the suite must survive (repeatable; see "
                       "--list-faults)")  # fmt: skip
    serve.add_argument("--list-faults", action="store_true",
                       help="list the injectable faults and exit")  # fmt: skip
    add_timing_options(serve, "realistic")  # the server it runs, not a target's
    serve.set_defaults(handler=run)


def defects(names: list[str]) -> list[str]:
    """The named defects in catalogue order; unknown names are a usage error."""
    from ..reference.breakage.defects import CATALOGUE, check_names

    try:
        check_names(names)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return [name for name in CATALOGUE if name in names]


def _list_defects() -> int:
    from ..reference.breakage.defects import CATALOGUE

    for defect in CATALOGUE.values():
        print(f"{defect.name:<27} {defect.family:<15} {defect.description}")
    return ExitCode.OK


def _faults(names: list[str]) -> frozenset[str]:
    """The named faults; unknown names are a usage error."""
    from ..reference.breakage.faults import check_names

    try:
        check_names(names)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return frozenset(names)


def _list_faults() -> int:
    from ..reference.breakage.faults import CATALOGUE

    for fault in CATALOGUE.values():
        print(f"{fault.name:<24} {fault.description}")
    return ExitCode.OK


def _check_data_dir(data_dir: Path, config: Any) -> None:
    """Refuse a data directory this version cannot start on, in one line, before serving."""
    from ..reference import persistence

    try:
        restored = persistence.load(
            data_dir, config.es_version.release, config.active_defects, config.es_version
        )
    except persistence.DataDirError as exc:
        raise UsageError(f"--data-dir {data_dir}: {exc}") from None
    if restored is None:
        print(f"data directory {data_dir}: new")
    else:
        change = "upgraded from" if restored.upgraded else "written by"
        print(f"data directory {data_dir}: {change} Elasticsearch {restored.written_by}")


def run(args: argparse.Namespace) -> int:
    from ..reference.config import ServerConfig
    from ..reference.serve import run_foreground

    if args.list_defects:
        return _list_defects()
    if args.list_faults:
        return _list_faults()
    version = es_version(args)
    chosen = frozenset(defects(args.defect))
    faults = _faults(args.fault)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    if args.ml_processors < 1:
        raise UsageError("--ml-processors must be at least 1")
    config = ServerConfig(
        security=not args.no_security,
        tls=args.tls,
        timing=timing(args),
        ml_processors=args.ml_processors,
        defects=chosen,
        faults=faults,
        es_version=version,
        conformant=args.conformant,
        eis=eis(args, version),
        eis_limits=eis_limits(args),
        data_dir=args.data_dir,
    )
    if args.data_dir is not None:
        _check_data_dir(args.data_dir, config)
    if chosen:
        print(f"deliberate defects: {', '.join(sorted(chosen))}")
    if faults:
        print(f"injected faults: {', '.join(sorted(faults))}")
    run_foreground(config, args.host, args.port, args.tls_dir or reports_dir() / "tls")
    return ExitCode.OK
