"""The load options, defined once.

``elsercheck load`` and the locustfile (``loadtests/elser_locust/options.py``) build their
parsers from :data:`OPTIONS`, so both spell and default every option alike, and the runner
writes the locust processes' command line from it (:func:`to_argv`). Modelled on locust's own
option definitions (``locust/argument_parser.py``): a flag, a type, a default, a help text,
choices.

Credentials are never options (they would show in the web UI and in process lists). Nothing
here imports locust: the locustfile imports this module under gevent, the CLI without it.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from ..endpoints import ELSER_V2_X86
from ..numbers import non_negative_float, non_negative_int, positive_float, positive_int, share
from ..timing import PRESETS, Timing
from .plans import SCALER_FIELDS, SHAPES, Plan, ScalerTiming, build_plan, scaler_timing
from .workloads import SEARCH_QUERIES

DEFAULT_MIX = "query=0.5,short=0.2,medium=0.2,long=0.08,xlong=0.02"

DEFAULT_TIMING = "realistic"  # a target other than elsercheck's embedded server
GROUP_TITLE = "elsercheck (ELSER load test)"  # the locustfile's group in `locust --help`


class OptionError(ValueError):
    """A load option's value is unusable; the message names the option."""


_METAVARS: dict[Callable[[str], Any], str] = {
    positive_int: "N",
    non_negative_int: "N",
    int: "N",
    positive_float: "X",
    non_negative_float: "X",
    share: "X",
}


@dataclass(frozen=True)
class LoadOption:
    """One option: ``--flag``, its type (which also validates), default, help and choices."""

    flag: str
    help: str
    type: Callable[[str], Any] | None = str  # None: a switch (store_true)
    default: Any = None
    choices: tuple[str, ...] | None = None
    default_text: str | None = None  # help's wording of a default that is not a plain value
    metavar: str | None = None
    dest_name: str | None = None  # default: the flag with underscores
    cli: bool = True  # False: `elsercheck load` supplies the value itself (run id, ...)
    cli_aliases: tuple[str, ...] = ()  # earlier spellings `elsercheck load` still accepts
    locust_aliases: tuple[str, ...] = ()  # earlier spellings the locustfile still accepts

    @property
    def dest(self) -> str:
        return self.dest_name or self.flag.removeprefix("--").replace("-", "_")

    def help_text(self, default: Any, default_text: str | None) -> str:
        # The default is written out: locust's web UI shows help texts unformatted.
        if default_text is None and not (default is None or default is False or default == ""):
            default_text = f"{default:g}" if isinstance(default, float) else str(default)
        return f"{self.help} (default {default_text})" if default_text else self.help

    def value(self, raw: Any) -> Any:
        """``raw`` checked and converted (web UI fields arrive as strings, unchecked)."""
        if raw is None or raw == "":
            return self.default
        if self.type is None:
            return raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1", "on")
        try:
            value = self.type(str(raw))
        except (argparse.ArgumentTypeError, ValueError) as exc:
            raise OptionError(f"{self.flag}: {exc}") from None
        if self.choices is not None and value not in self.choices:
            raise OptionError(f"{self.flag}: choose from {', '.join(self.choices)}, not {raw!r}")
        return value


_TIMING_HELP = {
    "scaler_tick_seconds": "the target's adaptive allocations scaler interval, s",
    "scale_down_cooldown_seconds": "the target's scale-down cooldown, s",
    "scale_to_zero_seconds": "the cluster's xpack.ml.trained_models.adaptive_allocations."
    "scale_to_zero_time, s (lower it on the cluster to run idle-to-zero in reasonable time)",
    "allocation_start_seconds": "seconds an added allocation takes to serve",
    "deployment_start_seconds": "seconds a deployment takes to load the model",
}
# The locustfile's spellings before the table (bench scripts still use some).
_TIMING_LOCUST_ALIASES = {
    "scaler_tick_seconds": ("--scaler-tick",),
    "scale_down_cooldown_seconds": ("--cooldown",),
    "scale_to_zero_seconds": ("--scale-to-zero",),
}


def _timing_overrides() -> list[LoadOption]:
    # dest timing_<field>: the CLI reads every timing_* value as an override of --timing.
    return [
        LoadOption(
            f"--{name.replace('_', '-')}",
            f"override: {_TIMING_HELP[name]}",
            type=non_negative_float,
            metavar="S",
            default_text=f"--timing's, realistic {getattr(PRESETS[DEFAULT_TIMING], name):g}",
            dest_name=f"timing_{name}",
            cli=False,  # elsercheck's shared timing options (commands/options.py) use this row
            locust_aliases=_TIMING_LOCUST_ALIASES.get(name, ()),
        )
        for name in SCALER_FIELDS
    ]


# What the load users do (loadtests/elser_locust/users.py): the shape's users are split
# between the workload's user classes.
WORKLOADS = {
    "inference": "POST _inference/sparse_embedding/<endpoint>",
    "ingest": "_bulk into a run index with a semantic_text field bound to the endpoint",
    "search": "semantic queries on a run index seeded with documents",
    "mixed": "inference, ingest and search users side by side",
}

OPTIONS: tuple[LoadOption, ...] = (
    LoadOption(
        "--workload",
        "what the load users send; "
        + "; ".join(f"{name}: {description}" for name, description in WORKLOADS.items()),
        default="inference",
        choices=tuple(WORKLOADS),
    ),
    LoadOption(
        "--search-query",
        "what a search user sends (search and mixed workloads); "
        + "; ".join(f"{name}: {text}" for name, text in SEARCH_QUERIES.items()),
        default="semantic",
        choices=tuple(SEARCH_QUERIES),
    ),
    LoadOption(
        "--bulk-size",
        "documents per _bulk request of the ingest workload (loadtests/corpus/documents.jsonl)",
        type=positive_int,
        default=50,
    ),
    LoadOption(
        "--shape",
        "load shape; stage lengths follow the scaler timing: "
        + "; ".join(f"{name}: {info.description}" for name, info in SHAPES.items()),
        default="step",
        choices=tuple(SHAPES),
    ),
    LoadOption(
        "--peak-users",
        "users at the shape's peak, each sending --rate-per-user",
        type=positive_int,
        default=40,
        cli_aliases=("--users",),  # locust has its own --users
    ),
    LoadOption(
        "--rate-per-user",
        "requests per second of the cluster's time each user sends, open loop; a time-lapse "
        "timing multiplies it by its speedup (fast: 10 times as many per wall-clock second)",
        type=positive_float,
        default=0.5,
    ),
    LoadOption(
        "--bulk-rate-per-user",
        "bulks per second of the cluster's time each ingest user sends, open loop",
        type=positive_float,
        metavar="X",
        default_text="the ELSER work of --rate-per-user inference requests: that rate × the "
        "mix's tokens per request ÷ the tokens of a bulk's chunks",
    ),
    LoadOption(
        "--duration",
        "stop after S seconds at the latest (locust ignores --run-time when a shape is used)",
        type=positive_float,
        metavar="S",
        default_text="the shape's length",
        locust_aliases=("--stop-after",),
    ),
    LoadOption(
        "--timing",
        "the target's timing profile, as the reference server's: realistic (Elasticsearch's "
        "defaults), fast, instant; the shapes' stage lengths follow it",
        choices=tuple(sorted(PRESETS)),
        default_text=f"fast on elsercheck's embedded server, else {DEFAULT_TIMING}",
        cli=False,  # elsercheck's shared timing options (commands/options.py)
        locust_aliases=("--timing-profile",),
    ),
    *_timing_overrides(),
    LoadOption(
        "--arrivals",
        "inter-arrival times of each user's requests",
        default="poisson",
        choices=("poisson", "constant"),
    ),
    LoadOption(
        "--max-outstanding",
        "requests in flight per user before new ones are counted as backlog",
        type=positive_int,
        default=20,
    ),
    LoadOption("--mix", "input-length bucket shares", default=DEFAULT_MIX),
    LoadOption(
        "--corpus",
        "directory with queries.jsonl, passages.jsonl",
        default="",
        default_text="loadtests/corpus",
    ),
    LoadOption(
        "--batch-share", "share of requests sending several inputs", type=share, default=0.1
    ),
    LoadOption(
        "--inference-id",
        "load this existing endpoint (never modified or deleted)",
        default="",
        default_text="create one",
    ),
    LoadOption(
        "--service",
        "service of the created endpoint: elasticsearch (the ML node, adaptive allocations) or "
        "elastic (the Elastic Inference Service: no allocations; model elser_model_2 unless "
        "--model-id names another)",
        default="elasticsearch",
        choices=("elasticsearch", "elastic"),
    ),
    LoadOption("--model-id", "ELSER model of the created endpoint", default=ELSER_V2_X86),
    LoadOption(
        "--min-allocations",
        "adaptive minimum of the created endpoint",
        type=non_negative_int,
        default=0,
    ),
    LoadOption(
        "--max-allocations",
        "adaptive maximum of the created endpoint",
        type=positive_int,
        default=4,
    ),
    LoadOption("--num-threads", "threads per allocation", type=positive_int, default=1),
    LoadOption(
        "--allocation-wait",
        "longest wait for the created endpoint to be allocated, s",
        type=positive_float,
        default=300.0,
        cli=False,  # elsercheck's shared target option (commands/options.py)
    ),
    LoadOption(
        "--monitor-interval",
        "deployment stats poll interval, s",
        type=non_negative_float,
        default=0.0,
        default_text="half a scaler tick, at most 2 s",
    ),
    LoadOption(
        "--lifecycle-users",
        "endpoint-lifecycle users beside the load (create, fully_allocated, infer, delete)",
        type=non_negative_int,
        default=1,
    ),
    LoadOption(
        "--lifecycle-max-alive",
        "lifecycle endpoints alive at once, per locust process",
        type=positive_int,
        default=2,
    ),
    LoadOption("--seed", "random seed for inputs and arrivals", type=int, default=0),
    # Supplied by `elsercheck load` itself: its run id, its run directory (--report-dir)
    # and --insecure from its target options (--allocation-wait and the timing too: above).
    LoadOption(
        "--run-id",
        "run id: endpoint prefix elsercheck-<run-id>-",
        default="",
        default_text="generated",
        cli=False,
    ),
    LoadOption(
        "--results-dir",
        "where requests.csv, allocations.csv, ... go",
        default="",
        default_text="reports/load/<run-id>",
        cli=False,
    ),
    LoadOption(
        "--insecure",
        "do not verify the target's HTTPS certificate",
        type=None,
        default=False,
        cli=False,
    ),
)

BY_DEST: dict[str, LoadOption] = {option.dest: option for option in OPTIONS}


def add_options(
    group: Any,
    host: str,
    defaults: Mapping[str, tuple[Any, str]] | None = None,
    only: Collection[str] | None = None,
) -> None:
    """Add the options to an argparse parser or group; ``host`` is ``"cli"`` or ``"locust"``.

    ``defaults`` replaces a default by dest with (value, help wording): ``elsercheck run``
    picks its shape by target, ``capacity`` its bulk size. ``only``: these dests alone (the
    load options another command takes, e.g. capacity's), in the table's order.
    """
    unknown = set(only or ()) - set(BY_DEST)
    if unknown:
        raise ValueError(f"not load options: {', '.join(sorted(unknown))}")
    for option in OPTIONS:
        if host == "cli" and not option.cli:
            continue
        if only is not None and option.dest not in only:
            continue
        default, default_text = (defaults or {}).get(
            option.dest, (option.default, option.default_text)
        )
        aliases = option.cli_aliases if host == "cli" else option.locust_aliases
        extra: dict[str, Any] = {"action": "store_true"}
        if option.type is not None:
            metavar = option.metavar or _METAVARS.get(option.type)
            extra = {"type": option.type, "choices": option.choices, "metavar": metavar}
        group.add_argument(
            option.flag,
            *aliases,
            dest=option.dest,
            default=default,
            help=option.help_text(default, default_text),
            **extra,
        )


def values_from(namespace: Any, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every option's value from parsed options, checked; ``OptionError`` names a bad one.

    ``given``: values by dest that take the place of the namespace's (what the CLI settled
    itself: the timing profile and shape by target, the allocation wait)."""
    given = given or {}
    values = {
        option.dest: option.value(
            given[option.dest] if option.dest in given else getattr(namespace, option.dest, None)
        )
        for option in OPTIONS
    }
    if values["min_allocations"] > values["max_allocations"]:
        raise OptionError("--min-allocations must not exceed --max-allocations")
    return values


def timing_of(values: Mapping[str, Any], default_profile: str = DEFAULT_TIMING) -> Timing:
    """The target's timing: the profile named by --timing with the given overrides."""
    overrides = {
        name: values[f"timing_{name}"]
        for name in SCALER_FIELDS
        if values.get(f"timing_{name}") is not None
    }
    return PRESETS[values.get("timing") or default_profile].with_overrides(**overrides)


def plan_of(values: Mapping[str, Any]) -> Plan:
    """The stage plan the options ask for; one per process for the same options (cached)."""
    return _plan(values["shape"], scaler_timing(timing_of(values)), values["peak_users"])


@functools.lru_cache(maxsize=16)
def _plan(shape: str, timing: ScalerTiming, peak_users: int) -> Plan:
    return build_plan(shape, timing, peak_users)


def to_argv(values: Mapping[str, Any]) -> list[str]:
    """The command-line options that give these values, defaults left out."""
    argv: list[str] = []
    for option in OPTIONS:
        value = values.get(option.dest, option.default)
        if value == option.default or value is None:
            continue
        if option.type is None:
            argv.append(option.flag)
        elif isinstance(value, float):
            argv += [option.flag, str(int(value)) if value.is_integer() else repr(value)]
        else:
            argv += [option.flag, str(value)]
    return argv
