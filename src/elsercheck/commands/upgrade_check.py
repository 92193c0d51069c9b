"""``elsercheck upgrade-check``: what changes between two modelled Elasticsearch versions
(rules, statuses, texts, features, behaviour changes, known bugs), and with ``--snapshot``
which of it the estate in that snapshot touches."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..exit_codes import ExitCode
from .estate_options import estate_errors
from .options import UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "upgrade-check",
        help="can I upgrade from X to Y: the differences between two versions' profiles and bugs",
        description="Any two modelled versions (elsercheck serve --list-versions). Exit 0 "
        "listed (with --snapshot: nothing in the estate is touched), 1 with --snapshot when "
        "differences touch the estate, 2 unknown version or bad snapshot. Reads no cluster.",
    )
    parser.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="X",
        help="the version you run, e.g. 9.4 or 9.4.8",
    )
    parser.add_argument(
        "--to", dest="target", required=True, metavar="Y", help="the version you consider, e.g. 9.5"
    )
    parser.add_argument(
        "--snapshot",
        type=Path,
        default=None,
        metavar="FILE",
        help="an `elsercheck snapshot` file: flag what its estate touches",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..estate import snapshot
    from ..estate.upgrade import differences, line_of, patch_number, with_touches
    from ..reference.versions import UnknownVersion

    try:
        source, target = line_of(args.source), line_of(args.target)
    except UnknownVersion as exc:
        raise UsageError(str(exc)) from None
    numbers = (patch_number(args.source, source), patch_number(args.target, target))
    found = differences(source, target, numbers)
    estate = None
    if args.snapshot is not None:
        with estate_errors():
            estate = snapshot.load(args.snapshot)["estate"]
        found = with_touches(found, estate)
    print(f"Elasticsearch {source} → {target}: {len(found)} difference(s)")
    for difference in found:
        print(difference.line())
    if estate is None:
        return ExitCode.OK
    touching = [d for d in found if d.touches]
    print(
        f"{len(touching)} of them touch the estate in {args.snapshot} "
        f"(Elasticsearch {estate['version']})"
    )
    return ExitCode.FAILED if touching else ExitCode.OK
