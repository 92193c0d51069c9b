"""The options several commands share, declared once, and how they are read.

Target (``--url`` …, ``--es-version``, ``--conformant``), timing (``--timing`` and every timing
field), ``--allocation-wait``, ``--report-dir``, and the number types of the command line. A
default that depends on the target has one value per target kind: the embedded reference
server (no ``--url``) or a cluster.
"""

from __future__ import annotations

import argparse
import os
import textwrap
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..exit_codes import ExitCode
from ..numbers import bounded_int, named_positive_ints, positive_float, positive_int, workers

__all__ = ["bounded_int", "positive_float", "positive_int", "workers"]  # the number types

# The suite's own wait for fully_allocated on a cluster (contracts/, smoke, load, capacity).
CLUSTER_ALLOCATION_WAIT_S = 300.0
# The timing profile per target kind when --timing is not given (serve runs its own server).
EMBEDDED_TIMING = "fast"
CLUSTER_TIMING = "realistic"


class UsageError(Exception):
    """Bad input: one line on stderr, exit USAGE."""


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, without breaking a line inside an option's name (``--allocation-`` /
    ``start-seconds``)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(self._whitespace_matcher.sub(" ", text).strip(), width,
                             break_on_hyphens=False)  # fmt: skip

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(self._whitespace_matcher.sub(" ", text).strip(), width,
                             initial_indent=indent, subsequent_indent=indent,
                             break_on_hyphens=False)  # fmt: skip


class Parser(argparse.ArgumentParser):
    """A command's parser: :class:`HelpFormatter` unless it asks for another."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


# -- target ---------------------------------------------------------------------------------------
def add_target_command_options(
    parser: argparse.ArgumentParser, *own: Callable[[argparse.ArgumentParser], None]
) -> None:
    """The option blocks of a command against a target, in the order ``--help`` shows them:
    the target (version, allocation wait), the command's ``own`` blocks, the timing."""
    add_target_options(parser)
    for add in own:
        add(parser)
    add_timing_options(parser)


def add_target_options(parser: argparse.ArgumentParser) -> None:
    """``--url`` and credentials, TLS, the embedded server's version, and how long a deployment
    may take to start there (``--allocation-wait``)."""
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
    add_version_options(group, embedded=True)
    add_allocation_wait(group)


def add_version_options(group: Any, embedded: bool = False) -> None:
    """The Elasticsearch version the reference server models (``reference/versions.py``)."""
    from ..reference.versions import NEWEST

    where = "the embedded server's " if embedded else ""
    group.add_argument("--es-version", metavar="V", default=None,
                       help=f"{where}Elasticsearch version, e.g. 9.4 or 8.19 (default {NEWEST}; "
                       "see --list-versions)")  # fmt: skip
    group.add_argument("--conformant", action="store_true",
                       help=f"{where}known upstream bugs of that version off: answer as the "
                       "documentation says")  # fmt: skip
    group.add_argument("--list-versions", action="store_true",
                       help="list the modelled versions and their known bugs")  # fmt: skip
    group.add_argument("--eis", action="store_true",
                       help=f"{where}Elastic Inference Service (9.2+): service `elastic`, "
                       "`.elser-2-elastic` after the first authorization poll (default off, as "
                       "on a self-managed cluster without it)")  # fmt: skip
    group.add_argument("--eis-limits", type=eis_limits_type, default=None, metavar="SPEC",
                       help=f"{where}EIS limits a minute, with --eis: "
                       f"{','.join(f'{key}=N' for key in EIS_LIMIT_KEYS)} (default Elastic's "
                       "documented 6,000 requests, 6M ingest and 600k search tokens)")  # fmt: skip


# --eis-limits keys -> reference.config.EisLimits fields
EIS_LIMIT_KEYS = {
    "requests": "requests_per_minute",
    "ingest_tokens": "ingest_tokens_per_minute",
    "search_tokens": "search_tokens_per_minute",
}
eis_limits_type = named_positive_ints(EIS_LIMIT_KEYS)


def eis(args: argparse.Namespace, version: Any) -> bool:
    """``--eis``, refused (one line) for a version the server does not model with EIS."""
    wanted = bool(getattr(args, "eis", False))
    if wanted and not version.has("eis-elser"):
        raise UsageError(f"--eis: ELSER on EIS is modelled from 9.2 (GA), not {version.number}")
    return wanted


def eis_limits(args: argparse.Namespace) -> Any:  # -> reference.config.EisLimits
    """The embedded server's EIS limits: ``--eis-limits`` over the documented ones (it needs
    ``--eis``: one line otherwise)."""
    from ..reference.config import EisLimits

    given = getattr(args, "eis_limits", None)
    if given and not getattr(args, "eis", False):
        raise UsageError("--eis-limits sets the embedded server's EIS limits: give --eis too")
    return EisLimits(**(given or {}))


def embedded(args: argparse.Namespace) -> bool:
    """No ``--url`` and no ``ELASTICSEARCH_URL``: the command starts the reference server."""
    return not (getattr(args, "url", None) or os.environ.get("ELASTICSEARCH_URL"))


def es_version(args: argparse.Namespace) -> Any:  # -> reference.versions.EsVersion
    from ..reference.versions import UnknownVersion, resolve

    try:
        return resolve(getattr(args, "es_version", None))
    except UnknownVersion as exc:
        raise UsageError(str(exc)) from None


def list_versions() -> int:
    from ..reference.versions import BUGS, CHANGES, RELEASES, supported

    for line in supported():
        release = RELEASES[line]
        bugs = ", ".join(f"{b.issue} {b.defect}" for b in BUGS if line in b.lines) or "none"
        print(f"{release.number:<8} known upstream bugs: {bugs}")
    print("\nbehaviour that changed after 9.1 (first version: rule; source):")
    for change in CHANGES:
        print(f"  {change.since:<5} {change.name}: {change.what} ({change.source})")
    return ExitCode.OK


# -- timing ---------------------------------------------------------------------------------------
def timing_fields() -> list[str]:
    """Every timing field's option, e.g. ``--scaler-tick-seconds``."""
    from ..timing import Timing

    return [f"--{item.name.replace('_', '-')}" for item in fields(Timing)]


def add_timing_options(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--timing`` and every timing field; ``default`` None: by target kind (fast on the
    embedded server, realistic on a cluster). The scaler's fields carry the load table's help
    (``load/options.py``: locust's parser shows the same words)."""
    from ..load.options import BY_DEST
    from ..timing import PRESETS, Timing

    group = parser.add_argument_group(
        "reference server timing",
        "every timing field of the profile can be overridden (seconds, ms or a factor, as "
        "its name says): " + ", ".join(timing_fields()) + " (README: timing)",
    )
    by_target = f"{EMBEDDED_TIMING} embedded, {CLUSTER_TIMING} with --url"
    group.add_argument("--timing", choices=sorted(PRESETS), default=default,
                       help=f"timing profile (default {default or by_target})")  # fmt: skip
    for item in fields(Timing):
        row = BY_DEST.get(f"timing_{item.name}")
        shown = row.help_text(None, row.default_text) if row else argparse.SUPPRESS
        group.add_argument(f"--{item.name.replace('_', '-')}", type=float, metavar="N",
                           dest=f"timing_{item.name}", help=shown)  # fmt: skip


def timing_name(args: argparse.Namespace) -> str:
    """The timing profile: ``--timing``, else the target kind's."""
    given: str | None = getattr(args, "timing", None)
    return given or (EMBEDDED_TIMING if embedded(args) else CLUSTER_TIMING)


def choose_time_lapse(args: argparse.Namespace, demands: Callable[[], dict[str, float]]) -> None:
    """On the embedded server without ``--timing``: set ``args.timing`` to the fastest
    time-lapse whose ``demands`` (deployment requests per cluster second, by workload) stay
    within this machine's measured ceiling (elsercheck.sim_scale), said in one line; a run no
    time-lapse fits is refused with the numbers. A ceiling that cannot be measured leaves the
    embedded timing, unchecked, and says so."""
    if not embedded(args) or getattr(args, "timing", None) is not None:
        return
    from .. import sim_scale

    try:
        choice = sim_scale.choose_for(demands(), sim_scale.ceiling())
    except sim_scale.CalibrationError as exc:
        print(f"{exc}: timing {EMBEDDED_TIMING}, unchecked", flush=True)
        args.timing = EMBEDDED_TIMING
        return
    except sim_scale.ScaleError as exc:
        raise UsageError(str(exc)) from None
    print(choice.describe(), flush=True)
    args.timing = choice.profile


def timing(args: argparse.Namespace) -> Any:  # -> elsercheck.timing.Timing
    """The profile with the given overrides, each within its bounds (one line otherwise)."""
    from ..timing import preset, setting_problem

    overrides = {
        key.removeprefix("timing_"): value
        for key, value in vars(args).items()
        if key.startswith("timing_") and value is not None
    }
    for name, value in overrides.items():
        problem = setting_problem(name, value)  # e.g. inf or nan, which float() accepts
        if problem:
            raise UsageError(f"--{name.replace('_', '-')} {problem}")
    return preset(timing_name(args)).with_overrides(**overrides)


# -- waits ----------------------------------------------------------------------------------------
def add_allocation_wait(group: Any) -> None:
    group.add_argument("--allocation-wait", type=positive_float, default=None,
                       metavar="SECONDS",
                       help="how long a deployment may take to become fully allocated "
                            f"(default {CLUSTER_ALLOCATION_WAIT_S:g} for a cluster; three cold "
                            "starts of the embedded server's timing)")  # fmt: skip


def embedded_allocation_wait(timing: Any) -> float:  # timing: elsercheck.timing.Timing
    """How long to wait for ``fully_allocated`` on the embedded server: three times a cold
    start (download + deployment + allocation), at least 20 s for a busy CI machine, instead of
    a cluster's 300 s, so that a deployment that never starts turns a run red in seconds."""
    cold_start = (
        timing.model_download_seconds
        + timing.deployment_start_seconds
        + timing.allocation_start_seconds
    )
    return max(20.0, 3 * cold_start)


def allocation_wait(args: argparse.Namespace, on_embedded: bool) -> float | None:
    """``--allocation-wait``, else the embedded server's (from its timing); None on a cluster:
    :data:`CLUSTER_ALLOCATION_WAIT_S`, which the suite, the smoke and the load apply themselves."""
    given: float | None = getattr(args, "allocation_wait", None)
    if given is not None:
        return given
    return embedded_allocation_wait(timing(args)) if on_embedded else None


# -- reports --------------------------------------------------------------------------------------
def add_report_dir(
    group: Any, default: str, flags: tuple[str, ...] = ("--report-dir",), dest: str = "report_dir"
) -> None:
    """``--report-dir DIR``: where a command writes (``default``: the help's wording); ``run``
    has two writers, the gate's ``--report-dir`` and the load's ``--load-report-dir``."""
    group.add_argument(*flags, type=Path, default=None, dest=dest, metavar="DIR",
                       help=f"where the files go (default {default})")  # fmt: skip
