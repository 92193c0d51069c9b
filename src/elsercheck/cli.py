"""The ``elsercheck`` command line: the top parser from the command registry, and dispatch.

Each command is a module of ``elsercheck.commands`` that registers its own sub-parser and
handler; the options several commands share are declared once in ``commands/options.py``.

Exit codes: :class:`elsercheck.exit_codes.ExitCode` (documented in README); after stop signal n,
128 + n (``signals.py``).
"""

from __future__ import annotations

import argparse
import signal
import sys

from . import __version__
from .commands import register_all
from .commands.options import HelpFormatter, Parser, UsageError, list_versions
from .exit_codes import ExitCode
from .target import TargetError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elsercheck",
        description="Conformance gate and load tests for the Elasticsearch Inference API (ELSER).",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"elsercheck {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    register_all(commands)
    return parser


def script() -> int:
    """The ``elsercheck`` console script: :func:`main`, then an exit without the heap's
    collection (:func:`elsercheck.heap.exit_without_collection`)."""
    from . import heap

    try:
        return main()
    finally:
        heap.exit_without_collection()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from . import signals

    try:
        # SIGINT, SIGTERM and SIGHUP: children get the signal too, everything cleans up.
        with signals.stop_on_signals():
            if getattr(args, "list_versions", False):  # every command with version options
                return list_versions()
            code: int = args.handler(args)
            return code
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
