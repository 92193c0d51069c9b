"""``elsercheck spec``: the official OpenAPI subset with our overlay applied."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Literal

from ..exit_codes import ExitCode
from .options import UsageError


def register(subparsers: Any) -> None:
    spec = subparsers.add_parser(
        "spec",
        help="write the effective OpenAPI spec (official subset + overlay)",
        description="For `schemathesis run`, Prism and other OpenAPI tools: "
        "elsercheck spec -o elser.json && schemathesis run elser.json --url http://localhost:9200",
    )
    spec.add_argument("-o", "--output", type=Path, default=None, help="file (default: stdout)")
    spec.add_argument("--format", choices=("json", "yaml"), default=None,
                      help="default: from the file suffix, else json")  # fmt: skip
    spec.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..spec import build_effective_spec, dump_spec

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
