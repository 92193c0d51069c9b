"""``elsercheck paths``: where the installed suites are, for the raw locust and pytest commands.

The suites ship inside the wheel (``contracts/``, ``loadtests/``, ``openapi/``); from a
checkout they are the checkout's. ``locust -f "$(elsercheck paths --locustfile)"`` and
``pytest "$(elsercheck paths --contracts)"`` then work from any directory.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..exit_codes import ExitCode
from ..paths import reports_dir, resource_dir

SPEC_COMMAND = "elsercheck spec -o elser.json"


def locustfile() -> str:
    return str(resource_dir("loadtests") / "locustfile.py")


def contracts() -> str:
    return str(resource_dir("contracts"))


def register(subparsers: Any) -> None:
    paths = subparsers.add_parser(
        "paths",
        help="print where the locustfile, the contract suite and the reports are",
        description="Prints the installed locustfile, the contract suite's folder, the "
        "OpenAPI spec command and the reports folder, so that the raw tools run from any "
        'directory: locust -f "$(elsercheck paths --locustfile)" …, '
        'pytest "$(elsercheck paths --contracts)" …. Exit 0.',
    )
    which = paths.add_mutually_exclusive_group()
    which.add_argument("--locustfile", action="store_true", help="print only the locustfile")
    which.add_argument("--contracts", action="store_true", help="print only the contracts folder")
    paths.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.locustfile:
        print(locustfile())
    elif args.contracts:
        print(contracts())
    else:
        print(f"locustfile: {locustfile()}")
        print(f"contracts:  {contracts()}")
        print(f"spec:       {SPEC_COMMAND}")
        print(f"reports:    {reports_dir()}")
    return ExitCode.OK
