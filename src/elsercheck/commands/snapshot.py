"""``elsercheck snapshot``: a read-only snapshot of a cluster's inference estate (``--probe``:
also its answers to the bundled probe texts, through a prefixed probe index deleted after)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..exit_codes import ExitCode
from ..paths import reports_dir
from .estate_options import connect, estate_errors, probe_wait
from .options import UsageError, add_target_options, add_timing_options
from .target import target_or_embedded


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "snapshot",
        help="read-only snapshot of the inference estate (endpoints, deployments, semantic_text "
        "fields) for `verify` after an upgrade",
        description="Reads GET /, /_inference/_all, /_ml/trained_models/_stats and /_mapping; "
        "nothing is written to the cluster unless --probe is given. Exit 0 written, 2 unusable "
        "target or file.",
    )
    add_target_options(parser)
    group = parser.add_argument_group("snapshot")
    group.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="FILE",
        help="where the snapshot goes (default reports/snapshot/<run-id>.json)",
    )
    add_probe_option(group)
    add_timing_options(parser)
    parser.set_defaults(handler=run)


def add_probe_option(group: Any) -> None:
    """``--probe`` (``snapshot`` and ``verify``)."""
    group.add_argument(
        "--probe",
        action="store_true",
        help="also infer the bundled probe texts with each embedding endpoint, "
        "search each semantic_text field, and ingest through each field's "
        "endpoint into a prefixed probe index (elsercheck-<run-id>-probe, "
        "deleted afterwards); wakes deployments at zero",
    )


def run(args: argparse.Namespace) -> int:
    from ..estate.snapshot import save, take
    from ..run_id import new_run_id

    run_id = new_run_id()
    out = args.out or reports_dir() / "snapshot" / f"{run_id}.json"
    with (
        estate_errors(),
        target_or_embedded(args) as (target, zero_wait),
        connect(target) as client,
    ):
        document = take(client, run_id, args.probe, probe_wait(args, zero_wait is not None))
    try:
        save(document, out)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    estate = document["estate"]
    print(
        f"snapshot of Elasticsearch {estate['version']} at {target.url}: "
        f"{len(estate['endpoints'])} endpoint(s), {len(estate['deployments'])} deployment(s), "
        f"{len(estate['semantic_text_fields'])} semantic_text field(s)"
        f"{', probed' if args.probe else ''} → {out}"
    )
    return ExitCode.OK
