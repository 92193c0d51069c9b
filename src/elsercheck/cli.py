"""The ``elsercheck`` command line.

Exit codes (documented in README): 0 success, 1 checks failed, 2 usage error or unusable
target (unreachable, bad credentials, bad option), 130 interrupted.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from dataclasses import fields
from pathlib import Path

from . import __version__
from .paths import reports_dir
from .target import Target, TargetError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


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


def _add_timing_options(parser: argparse.ArgumentParser, default: str) -> None:
    from .reference.timing import PRESETS, Timing

    group = parser.add_argument_group("reference server timing")
    group.add_argument("--timing", choices=sorted(PRESETS), default=default,
                       help=f"timing profile (default {default})")  # fmt: skip
    for item in fields(Timing):
        group.add_argument(f"--{item.name.replace('_', '-')}", type=float, metavar="N",
                           dest=f"timing_{item.name}", help=argparse.SUPPRESS)  # fmt: skip


def _timing(args: argparse.Namespace):  # -> Timing
    from .reference.timing import preset

    overrides = {
        key.removeprefix("timing_"): value
        for key, value in vars(args).items()
        if key.startswith("timing_") and value is not None
    }
    for name, value in overrides.items():
        if value < 0:
            raise UsageError(f"--{name.replace('_', '-')} must not be negative")
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
        description="Run the reference server (Elasticsearch 9.1 inference API + ELSER "
        "deployments). Every timing field can be overridden: --scaler-tick-seconds 1; see README.",
    )
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
    _add_timing_options(serve, "realistic")
    serve.set_defaults(handler=cmd_serve)

    run = commands.add_parser(
        "run", help="everything that exists, against the embedded server (what `make run` does)"
    )
    _add_target_options(run)
    _add_timing_options(run, "fast")
    run.set_defaults(handler=cmd_run)
    return parser


def cmd_serve(args: argparse.Namespace) -> int:
    from .reference.config import ServerConfig
    from .reference.serve import run_foreground

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    if args.ml_processors < 1:
        raise UsageError("--ml-processors must be at least 1")
    config = ServerConfig(
        security=not args.no_security,
        tls=args.tls,
        timing=_timing(args),
        ml_processors=args.ml_processors,
    )
    run_foreground(config, args.host, args.port, args.tls_dir or reports_dir() / "tls")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from .reference.config import ServerConfig
    from .reference.serve import EmbeddedServer
    from .run_id import new_run_id

    run_id = new_run_id()
    print(f"elsercheck run {run_id}")
    if args.url or _env_url():
        target = Target.from_options(
            args.url, api_key=args.api_key, username=args.username, password=args.password,
            ca_certs=args.ca_certs, insecure=args.insecure,
        )  # fmt: skip
        return _smoke(target, run_id)
    password = secrets.token_urlsafe(12)
    config = ServerConfig(password=password, timing=_timing(args))
    with EmbeddedServer(config) as server:
        print(f"reference server at {server.url} (timing {args.timing})")
        target = Target(server.url, username="elastic", password=password)
        return _smoke(target, run_id)


def _env_url() -> str | None:
    import os

    return os.environ.get("ELASTICSEARCH_URL")


def _smoke(target: Target, run_id: str) -> int:
    from .smoke import run_smoke

    print(f"smoke scenario against {target.url}")
    result = run_smoke(target, run_id, on_step=lambda step: print(step.line(), flush=True))
    print(target.redact(result.summary(include_steps=False)))
    return EXIT_OK if result.ok else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (UsageError, TargetError) as exc:
        print(f"elsercheck: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("elsercheck: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last guard: one line, never a traceback
        from .reference.serve import ServerStartError

        if isinstance(exc, ServerStartError | OSError):
            print(f"elsercheck: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        raise
