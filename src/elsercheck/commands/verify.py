"""``elsercheck verify``: the cluster now against a snapshot taken before an upgrade or a
model switch; findings name the endpoint, deployment or index, with verify.html and
verify.json."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .estate_options import connect, estate_errors, probe_wait, report_dir
from .options import add_report_dir, add_target_options, add_timing_options
from .snapshot import add_probe_option
from .target import target_or_embedded


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="after an upgrade or model switch: check the cluster against a snapshot",
        description="Exit 0 nothing changed, 1 findings, 2 bad snapshot or unusable target, 4 "
        "inconclusive (checks without a baseline). Without --probe only reads; with it, the "
        "snapshot must have been taken with --probe. Writes verify.html and verify.json.",
    )
    add_target_options(parser)
    group = parser.add_argument_group("verify")
    group.add_argument(
        "--snapshot",
        type=Path,
        required=True,
        metavar="FILE",
        help="the snapshot `elsercheck snapshot` wrote before",
    )
    add_probe_option(group)
    add_report_dir(group, "reports/verify/<run-id>")
    add_timing_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..estate import findings, snapshot
    from ..estate.verify import verify
    from ..run_id import new_run_id

    run_id = new_run_id()
    with estate_errors():
        document = snapshot.load(args.snapshot)
        if args.probe and not document.get("probe"):
            raise snapshot.SnapshotError(
                f"{args.snapshot} has no probe answers: take the snapshot with --probe"
            )
        with target_or_embedded(args) as (target, zero_wait), connect(target) as client:
            print(
                f"verifying {target.url} against {args.snapshot} (Elasticsearch "
                f"{document['estate']['version']}, taken {document.get('taken_at')})",
                flush=True,
            )
            found, now = verify(
                client, document, run_id, args.probe, probe_wait(args, zero_wait is not None)
            )
    directory = report_dir(args, "verify", run_id)
    context = {
        "target": target.url,
        "version": now["version"],
        "snapshot": str(args.snapshot),
        "snapshot version": document["estate"]["version"],
        "probe": "yes" if args.probe else "no (read-only checks)",
        "run": run_id,
        "checked": findings.counted(document["estate"]),
    }
    json_path = findings.write_json(directory / "verify.json", "verify", context, found)
    html = findings.write_html(
        directory / "verify.html", f"elsercheck verify {run_id}", context, found
    )
    print(target.redact(findings.summary(f"verify against {args.snapshot}", found)))
    print(f"reports: {html} {json_path}")
    return findings.exit_code(found)
