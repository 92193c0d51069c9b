"""``elsercheck doctor``: read-only findings on a cluster's ELSER setup as it is, each with its
evidence and a suggested action (doctor.html, doctor.json)."""

from __future__ import annotations

import argparse
from typing import Any

from .estate_options import connect, estate_errors, report_dir
from .options import add_report_dir, add_target_options, add_timing_options
from .target import target_or_embedded


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="read-only check of a cluster's inference setup: findings with evidence and actions",
        description="Exit 0 nothing found, 1 findings, 2 unusable target. Notes (what shares the "
        "ML nodes) do not change the exit code. Only reads: GET /, /_inference/_all, "
        "/_ml/trained_models/_stats, /_mapping. Writes doctor.html and doctor.json.",
    )
    add_target_options(parser)
    group = parser.add_argument_group("doctor")
    add_report_dir(group, "reports/doctor/<run-id>")
    add_timing_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..estate import cluster, findings
    from ..estate.doctor import diagnose
    from ..run_id import new_run_id

    run_id = new_run_id()
    with estate_errors(), target_or_embedded(args) as (target, _), connect(target) as client:
        estate = cluster.read(client)
    found = diagnose(estate)
    directory = report_dir(args, "doctor", run_id)
    context = {"target": target.url, "version": estate["version"], "run": run_id,
               "checked": findings.counted(estate)}  # fmt: skip
    json_path = findings.write_json(directory / "doctor.json", "doctor", context, found)
    html = findings.write_html(
        directory / "doctor.html", f"elsercheck doctor {run_id}", context, found
    )
    print(
        target.redact(
            findings.summary(f"doctor on {target.url} (Elasticsearch {estate['version']})", found)
        )
    )
    print(f"reports: {html} {json_path}")
    return findings.exit_code(found)
