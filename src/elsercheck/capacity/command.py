"""``elsercheck capacity``: sweep the offered rate per (allocations, threads) cell, find the
knee, report the capacity per allocation with its interval (capacity.json, capacity.html).

Each point is a load run of ``load/runner.py`` (locust in a child process) with the
``constant`` shape against the cell's endpoint (``--inference-id``: the load never modifies or
deletes it), users × rate per user = the offered rate, cut by ``--duration``; its
``requests.csv`` and ``allocations.csv`` are read back (``point.py``). The workload decides
what a point sends and the unit of its rate (``units.py``): inference requests, semantic
searches (each load run seeds its own run index) or bulks of ``--bulk-size`` documents.
"""

from __future__ import annotations

import argparse
import math
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .. import signals
from ..endpoints import EIS_SERVICE, ELSER_V2_X86
from ..exit_codes import ExitCode
from ..load import documents
from ..load import options as load_options
from ..load.corpus import MAX_TOKENS, Corpus, Sampler, expected_per_request, parse_mix
from ..load.plans import scaler_timing
from ..target import Target
from ..timebase import CLUSTER, TimeBase
from ..timing import Timing
from . import deployment, eis, result, saturation, unloaded
from .cell import CellResult, sweep_cell
from .deployment import CellError
from .point import Point, read_point
from .recommend import DEFAULT_HEADROOM, MeasuredCapacity, Recommendation, recommend
from .sweep import DEFAULT_RESOLUTION
from .traffic import Traffic, parse_traffic, traffic_from_run
from .units import DEFAULT_BULK_SIZE, REFUSED, UNITS, Unit, unit_of

# Workloads the sweep measures (units.py), and why the others are refused (one line, exit
# USAGE).
WORKLOADS = tuple(UNITS)
# Default latency objective: this many times the workload's unloaded p99 (the first cell's
# probe, requests one at a time): queueing may at most double the tail.
SLO_FACTOR = 2.0
DEFAULT_POINT_SECONDS = 60.0  # cluster seconds per point (6 wall seconds on fast timing)
DEFAULT_MAX_MINUTES = 30.0
PER_USER_WALL_RATE = 10.0  # requests per wall second one locust user is asked for at most
MIN_USERS = 2
DEFAULT_ALLOCATION_WAIT_S = 300.0  # a cluster's; the embedded server's comes from its timing
MAX_OUTSTANDING = 100  # per user: the queue, not the generator's cap, should show overload

# The load options a sweep takes from the load table (each point is a load run), and the
# defaults that differ from a load run's: (value, help wording).
LOAD_OPTIONS = ("workload", "bulk_size", "mix", "corpus", "batch_share", "model_id", "seed")
LOAD_DEFAULTS: dict[str, tuple[Any, str]] = {
    "workload": ("inference", f"inference; the sweep measures {', '.join(UNITS)}, not mixed"),
    "bulk_size": (DEFAULT_BULK_SIZE, f"{DEFAULT_BULK_SIZE}, not load's 50: finer rate steps"),
}


# capacity.json's objective when the sweep stopped (a signal, an error) before the first probe.
NO_OBJECTIVE = "none: the sweep stopped before the first probe"


class CapacityUsageError(ValueError):
    """A bad option value (one line)."""


def add_options(parser: argparse.ArgumentParser) -> None:
    """The capacity sweep's own options (target, timing, ``--allocation-wait`` and
    ``--report-dir``: ``commands/options.py``; the command: ``commands/capacity.py``)."""
    group = parser.add_argument_group("capacity sweep")
    # What a point sends: the load options table's rows (load/options.py), capacity's defaults.
    load_options.add_options(group, "cli", defaults=LOAD_DEFAULTS, only=LOAD_OPTIONS)
    group.add_argument(
        "--allocations",
        type=_counts,
        default=(1,),
        metavar="N[,N…]",
        help="fixed num_allocations per cell, e.g. 1,2,4 (default 1)",
    )
    group.add_argument(
        "--threads",
        type=_counts,
        default=(1,),
        metavar="N[,N…]",
        help="num_threads per cell, e.g. 1,2,4 (default 1)",
    )
    group.add_argument("--slo-p99-ms", type=load_options.positive_float, default=None,
                       metavar="MS", help="latency objective: p99 in cluster ms (default "
                       f"{SLO_FACTOR:g} × the workload's unloaded p99, from the "
                       "first cell's probe)")  # fmt: skip
    group.add_argument("--point-seconds", type=load_options.positive_float,
                       default=DEFAULT_POINT_SECONDS, metavar="S",
                       help="cluster seconds each point offers its rate (default "
                       f"{DEFAULT_POINT_SECONDS:g}; a fast-timing target runs it 10 times "
                       "quicker)")  # fmt: skip
    group.add_argument(
        "--repeats",
        type=load_options.positive_int,
        default=2,
        metavar="N",
        help="runs of the capacity point for its interval (default 2)",
    )
    group.add_argument("--resolution", type=_resolution, default=DEFAULT_RESOLUTION,
                       metavar="X", help="stop bisecting when the lowest failed rate is within "
                       "this share above the highest sustained one (default "
                       f"{DEFAULT_RESOLUTION:g}; 0.15: about two points fewer a cell)")  # fmt: skip
    group.add_argument("--saturation-seconds", type=load_options.non_negative_float,
                       default=None, metavar="S",
                       help="cluster seconds of each cell's saturation point, its throughput "
                       "with every allocation busy (default: --point-seconds, longer when "
                       f"fewer than {saturation.MIN_UNITS} units would finish; 0 skips "
                       "it)")  # fmt: skip
    group.add_argument("--max-minutes", type=load_options.positive_float,
                       default=DEFAULT_MAX_MINUTES, metavar="M",
                       help=f"wall-clock bound of the whole sweep (default "
                       f"{DEFAULT_MAX_MINUTES:g})")  # fmt: skip
    advice = parser.add_argument_group("recommendation (from the measured capacity)")
    source = advice.add_mutually_exclusive_group()
    source.add_argument("--traffic", default=None, metavar="SPEC",
                         help="the traffic to serve, per cluster second in the workload's unit "
                        "(requests, searches, bulks): peak=40,trough=2"
                        "[,idle_hours=12][,peak_hours=6]")  # fmt: skip
    source.add_argument("--traffic-from-run", type=Path, default=None, metavar="DIR",
                        help="the offered rate over time of a recorded load run "
                        "(reports/load/<run-id>), its rows of the workload's unit")  # fmt: skip
    advice.add_argument("--headroom", type=load_options.non_negative_float, default=None,
                        metavar="X", help="share above the peak the maximum allocations carry "
                        "(default 0.2)")  # fmt: skip
    advice.add_argument("--max-cold-start-s", type=load_options.non_negative_float,
                        default=None, metavar="S", help="longest cold start accepted for scale "
                        "to zero (default: the latency objective)")  # fmt: skip
    advice.add_argument("--vcpu-hour-price", type=load_options.non_negative_float, default=None,
                        metavar="P", help="price of a vCPU-hour, for a cost a day")  # fmt: skip
    versus = parser.add_argument_group("EIS versus the ML node (capacity/eis.py)")
    versus.add_argument("--compare-eis", action="store_true",
                        help="for the same traffic (--traffic or --traffic-from-run): whether "
                        "it fits the Elastic Inference Service's documented rate limits, its "
                        "token cost and latency beside the recommended ML-node "
                        "deployment's")  # fmt: skip
    versus.add_argument("--price-per-million-tokens", type=load_options.non_negative_float,
                        default=None, metavar="P",
                        help="EIS's price per million tokens (default none: EIS's cost "
                        "omitted)")  # fmt: skip
    versus.add_argument("--eis-endpoint", default=None, metavar="ID",
                        help="measure this EIS endpoint (e.g. .elser-2-elastic) with the same "
                        "workload after the cells: its admitted rate at the rate limits and the "
                        "p99 within them (each point waits out EIS's one-minute window "
                        "first)")  # fmt: skip
    versus.add_argument("--eis-run", type=Path, default=None, metavar="DIR",
                        help="a load run against an EIS endpoint (reports/load/<run-id>): its "
                        "tokens per request and p99 (default: tokens estimated from the corpus, "
                        "latency not compared)")  # fmt: skip


@dataclass(frozen=True)
class CapacitySettings:
    """A sweep's settings, typed: what the command line gave (``commands/capacity.py`` builds
    it with :meth:`from_values`); the domain never reads a parser's namespace."""

    workload: str = "inference"
    bulk_size: int = DEFAULT_BULK_SIZE
    mix: str = load_options.DEFAULT_MIX
    corpus: str = ""
    batch_share: float = 0.1
    model_id: str = ELSER_V2_X86
    seed: int = 0
    allocations: tuple[int, ...] = (1,)
    threads: tuple[int, ...] = (1,)
    slo_p99_ms: float | None = None  # cluster ms; None: from the first probe
    point_seconds: float = DEFAULT_POINT_SECONDS  # cluster seconds
    repeats: int = 2
    resolution: float = DEFAULT_RESOLUTION  # the knee's bracket, failed / sustained - 1
    saturation_seconds: float | None = None  # cluster s; None: saturation.plan's; 0: none
    max_minutes: float = DEFAULT_MAX_MINUTES  # wall minutes
    traffic: str | None = None
    traffic_from_run: Path | None = None
    headroom: float | None = None
    max_cold_start_s: float | None = None
    vcpu_hour_price: float | None = None
    compare_eis: bool = False  # EIS versus the ML node (capacity/eis.py)
    price_per_million_tokens: float | None = None
    eis_endpoint: str | None = None
    eis_run: Path | None = None
    # The scaler timing overrides given (load_options.SCALER_FIELDS), passed to every point.
    scaler_overrides: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> CapacitySettings:
        """The settings from parsed values by dest (``vars()`` of the parsed command line);
        values the sweep does not take are ignored, missing ones keep their defaults."""
        names = {item.name for item in fields(cls)} - {"scaler_overrides"}
        given = {name: values[name] for name in names if name in values}
        overrides = {
            f"timing_{name}": values[f"timing_{name}"]
            for name in load_options.SCALER_FIELDS
            if values.get(f"timing_{name}") is not None
        }
        return cls(**given, scaler_overrides=overrides)


def _counts(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.split(",")]
    if not parts or not all(part.isdigit() and int(part) >= 1 for part in parts):
        raise argparse.ArgumentTypeError(f"expected positive numbers like 1,2,4, not {text!r}")
    return tuple(dict.fromkeys(int(part) for part in parts))


def _resolution(text: str) -> float:
    """``--resolution``: a share above 0, at most 1 (a bracket of twice the sustained rate)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share above 0 and at most 1, not {text!r}")
    return value


def check(settings: CapacitySettings) -> None:
    """Refuse what the sweep cannot measure, before anything starts."""
    if settings.workload in REFUSED:
        raise CapacityUsageError(REFUSED[settings.workload])
    try:
        Sampler(Corpus.load(settings.corpus or None), parse_mix(settings.mix),
                batch_share=settings.batch_share)  # fmt: skip
        if settings.workload != "inference":
            documents.load(settings.corpus or None)
    except (ValueError, OSError) as exc:
        raise CapacityUsageError(f"--mix/--corpus: {exc}") from None
    if traffic_of(settings) is None and settings.compare_eis:
        raise CapacityUsageError("--compare-eis compares for a traffic: give --traffic or "
                                 "--traffic-from-run")  # fmt: skip
    if settings.eis_endpoint is not None:
        if not settings.compare_eis:
            raise CapacityUsageError("--eis-endpoint is measured for --compare-eis: give both")
        if settings.eis_run is not None:
            raise CapacityUsageError("--eis-endpoint measures what --eis-run reads: give one")
    if settings.eis_run is not None:
        if not settings.compare_eis:
            raise CapacityUsageError("--eis-run is read by --compare-eis: give both")
        try:
            eis.measured_run(settings.eis_run, settings.workload)
        except eis.ComparisonError as exc:
            raise CapacityUsageError(str(exc)) from None


def traffic_of(settings: CapacitySettings) -> Traffic | None:
    """The traffic description of ``--traffic`` or ``--traffic-from-run``, if any."""
    try:
        if settings.traffic is not None:
            return parse_traffic(settings.traffic)
        if settings.traffic_from_run is not None:
            # The workload's rows only (bulks for ingest): the capacity's unit.
            unit = unit_of(settings.workload)
            return traffic_from_run(settings.traffic_from_run, request_type=unit.request_type)
    except ValueError as exc:
        raise CapacityUsageError(str(exc)) from None
    return None


def measured_capacity(cells: list[CellResult], workload: str) -> MeasuredCapacity | None:
    """What ``recommend`` needs from the cells that found a capacity: per allocation at the
    first threads count (its cell with the fewest allocations), the grid per threads count,
    and the shortest endpoint start as the cold start."""
    found = [c for c in cells if c.capacity_rps is not None]
    if not found:
        return None
    by_threads: dict[int, CellResult] = {}
    for cell in sorted(found, key=lambda c: c.allocations):
        by_threads.setdefault(cell.threads, cell)
    base = by_threads[found[0].threads]
    per, low, high = base.per_allocation
    if per is None or low is None or high is None:  # a found capacity always has its interval
        return None
    starts = [c.start_s for c in cells if c.start_s is not None]
    return MeasuredCapacity(
        per_allocation_rps=per,
        ci_low=low,
        ci_high=high,
        num_threads=base.threads,
        slo_p99_ms=base.slo_p99_ms,
        cold_start_s=min(starts) if starts else None,
        by_threads={t: (c.capacity_rps or 0.0) / c.allocations for t, c in by_threads.items()}
        if len(by_threads) > 1 else {},
        p99_ms_by_threads={t: c.capacity_p99_ms for t, c in by_threads.items()
                           if c.capacity_p99_ms is not None} if len(by_threads) > 1 else {},
        workload=workload,
    )  # fmt: skip


@dataclass
class Sweep:
    """One command's sweep: its settings and where things go."""

    settings: CapacitySettings
    target: Target
    run_id: str
    report_dir: Path
    timing: Timing  # the target's (speedup: its clock's pace)
    embedded: bool
    emit: Callable[[str], None]
    target_version: str | None = None  # GET /'s version.number
    profile: str = "realistic"  # the timing profile's name
    allocation_wait: float | None = None  # for a cell's endpoint (default: the cluster's 300 s)
    eis_limits: Any = None  # reference.config.EisLimits: the embedded server's, else documented

    @property
    def timing_name(self) -> str:
        return self.profile

    @property
    def allocation_wait_s(self) -> float:
        return DEFAULT_ALLOCATION_WAIT_S if self.allocation_wait is None else self.allocation_wait

    @property
    def clock(self) -> TimeBase:
        """The target's clock: points run in its wall time, results are in cluster time."""
        return TimeBase.of(self.timing)

    @property
    def unit(self) -> Unit:
        return unit_of(self.settings.workload)

    @property
    def point_wall_s(self) -> float:
        return self.clock.to_wall(self.settings.point_seconds)

    def base_values(self, inference_id: str) -> dict[str, Any]:
        """The load options of every point of a cell (the rate is set per point)."""
        values = {option.dest: option.default for option in load_options.OPTIONS}
        tick = scaler_timing(self.timing).tick_s
        values.update(
            shape="constant",
            workload=self.settings.workload,
            bulk_size=self.settings.bulk_size,
            timing=self.timing_name,
            mix=self.settings.mix,
            batch_share=self.settings.batch_share,
            corpus=self.settings.corpus,
            inference_id=inference_id,
            lifecycle_users=0,
            max_outstanding=MAX_OUTSTANDING,
            duration=self.point_wall_s,
            monitor_interval=min(tick / 2, max(0.1, self.point_wall_s / 30)),
        )
        values.update(self.settings.scaler_overrides)
        return values

    def measure(
        self, inference_id: str, client: Any, label: str, drain: bool = True,
        point_s: float | None = None,
    ) -> Callable[[float], Point]:  # fmt: skip
        """The cell's point measurement: one load run at an offered rate (cluster rate of the
        workload's unit; an ingest user's bulks per second are ``--bulk-rate-per-user``);
        ``drain``: first wait for the deployment's queue to empty (an EIS endpoint has none);
        ``point_s``: cluster seconds a point lasts (default ``--point-seconds``)."""
        wall_s = self.point_wall_s if point_s is None else self.clock.to_wall(point_s)
        count = 0

        def run(rate: float) -> Point:
            nonlocal count
            count += 1
            users = max(MIN_USERS, math.ceil(self.clock.wall_rate(rate) / PER_USER_WALL_RATE))
            run_dir = self._load_run(inference_id, client, f"{label}-{count:02d}",
                                     self.settings.seed + count, rate, users,
                                     MAX_OUTSTANDING, wall_s, drain)  # fmt: skip
            return read_point(run_dir, rate, wall_s, self.clock, self.unit.request_type)

        return run

    def saturate(
        self, inference_id: str, client: Any, label: str, allocations: int,
        planned: saturation.SaturationPlan, weigh: saturation.Weigh | None, attempt: int = 1,
    ) -> saturation.Saturation:  # fmt: skip
        """The cell's saturation point: ``planned.users`` senders with one unit in flight
        each, offered more than the deployment completes (saturation.py)."""
        wall_s = self.clock.to_wall(planned.seconds)
        name = f"{label}-saturation" + ("" if attempt == 1 else f"-{attempt}")
        run_dir = self._load_run(inference_id, client, name, self.settings.seed, planned.rate,
                                 planned.users, 1, wall_s, drain=True)  # fmt: skip
        return saturation.read_saturation(run_dir, planned.rate, wall_s, self.clock,
                                          self.unit.request_type, allocations,
                                          weigh)  # fmt: skip

    def _load_run(
        self, inference_id: str, client: Any, name: str, seed: int, rate: float, users: int,
        in_flight: int, wall_s: float, drain: bool,
    ) -> Path:  # fmt: skip
        """One load run of the cell, ``name`` (its directory under points/ and its run id's
        tail), at ``rate`` (cluster units/s) from ``users`` senders with at most
        ``in_flight`` units each; its run directory."""
        from ..load.runner import LoadOptions, run_load

        values = {**self.base_values(inference_id), "duration": wall_s, "peak_users": users,
                  "rate_per_user": rate / users, "max_outstanding": in_flight,
                  "seed": seed}  # fmt: skip
        if self.settings.workload == "ingest":
            values["bulk_rate_per_user"] = rate / users
        options = LoadOptions(values, load_options.plan_of(values))
        run_dir = self.report_dir / "points" / name
        if drain and not deployment.wait_drained(client, inference_id):
            raise CellError(f"{inference_id} still has requests pending after the last point")
        outcome = run_load(self.target, options, f"{self.run_id}-{name}", run_dir,
                           on_status=lambda _line: None)  # fmt: skip
        if outcome.exit_code == ExitCode.USAGE:
            raise CellError(
                f"the load run of point {name} could not run: "
                f"{outcome.error or 'see ' + str(run_dir / 'locust.log')}"
            )
        return run_dir


def run(sweep: Sweep) -> int:
    """Every cell, then the recommendation (with a traffic description), capacity.json and
    capacity.html; the exit code."""
    from . import page

    settings, emit = sweep.settings, sweep.emit
    sweep.report_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + settings.max_minutes * 60
    objective = Objective(settings.slo_p99_ms, "--slo-p99-ms")
    cells: list[CellResult] = []  # a cell is listed once probed, so its points survive a stop
    code: int = ExitCode.OK
    error: str | None = None
    interrupted: KeyboardInterrupt | None = None
    finished = 0  # cells whose sweep ended
    try:
        for threads in settings.threads:
            for allocations in settings.allocations:
                cell = _cell(sweep, allocations, threads, objective, deadline, cells.append)
                finished += 1
                _summary_line(cell, emit, sweep.unit)
    except CellError as exc:
        error = sweep.target.redact(str(exc))
        emit(f"  error: {error}")
        code = ExitCode.USAGE
    except KeyboardInterrupt as exc:
        # A stop signal: the cell's endpoint is already deleted (its context manager) and the
        # point's load run has stopped; write what the finished points measured, then re-raise.
        interrupted = exc
        code = signals.exit_code(signals.signal_of(exc))
        if len(cells) > finished:
            cells[-1].interrupted = True  # a cell cut short: its points, no capacity
        emit(f"  interrupted ({_signal_name(exc)}): writing the {_points_of(cells)} finished "
             "point(s)")  # fmt: skip
    unmeasured = [c for c in cells if c.capacity_rps is None]
    if code == ExitCode.OK and unmeasured:
        # A cell sustained no rate: nothing to recommend from. When no decided point failed
        # either (the load machine fell behind at every rate tried), there is no verdict.
        failed = any(c.knee.failed_rps is not None for c in unmeasured)
        code = ExitCode.FAILED if failed else ExitCode.INCONCLUSIVE
    recommendation = comparison = None
    traffic = traffic_of(settings)
    if traffic is not None and code == ExitCode.OK:
        advice, code = _recommend(sweep, cells, traffic)
        recommendation = advice.to_json() if advice is not None else None
        if advice is not None and settings.compare_eis:
            try:
                comparison = _compare_eis(sweep, cells, advice, traffic, objective, deadline)
            except CellError as exc:
                error = sweep.target.redact(str(exc))
                emit(f"  error: {error}")
                code = ExitCode.USAGE
    header = result.settings(
        run_id=sweep.run_id, target=sweep.target.redact(sweep.target.url),
        target_version=sweep.target_version, embedded=sweep.embedded, timing=sweep.timing_name,
        speedup=sweep.clock.speedup, workload=settings.workload, mix=settings.mix,
        batch_share=settings.batch_share, model_id=settings.model_id,
        slo_p99_ms=objective.p99_ms or 0.0,
        slo_source=objective.source if objective.p99_ms else NO_OBJECTIVE,
        point_seconds=settings.point_seconds, max_minutes=settings.max_minutes,
        repeats=settings.repeats, resolution=settings.resolution,
        rate_unit=sweep.unit.noun,
        bulk_size=settings.bulk_size if settings.workload == "ingest" else None,
    )  # fmt: skip
    stopped_by = _signal_name(interrupted) if interrupted else None
    data = result.document(header, cells, recommendation, int(code), stopped_by)
    if error:
        data["error"] = error
    if comparison is not None:
        data["eis_comparison"] = comparison
    path = result.write(sweep.report_dir, data)
    html = page.write(sweep.report_dir, data)
    emit(f"files: {path} and {html.name}")
    if interrupted is not None:
        raise interrupted
    return code


def _signal_name(exc: BaseException) -> str:
    return signal.Signals(signals.signal_of(exc)).name


def _points_of(cells: list[CellResult]) -> int:
    return sum(len(cell.runs) for cell in cells)


@dataclass
class Objective:
    """The latency objective (cluster ms) and where it came from; set by the first probe
    when not given."""

    p99_ms: float | None
    source: str

    def settle(
        self, probe: deployment.Probe, clock: TimeBase, cell: str, unit: Unit | None = None
    ) -> float:
        """The objective: the given one, else from the probe's unloaded p99 (wall) in
        cluster ms: the mix's, fitted (unloaded.py), when there is one."""
        if self.p99_ms is None:
            unloaded_ms = clock.to_cluster(probe.unloaded_p99_ms)
            self.p99_ms = _round_up(SLO_FACTOR * unloaded_ms)
            what = "" if unit is None or unit.workload == "inference" else f"{unit.noun}' "
            how = (
                f"the mix's, fitted to the probe of {cell}: {probe.requests} requests one at "
                f"a time, applied to {unloaded.MIX_DRAWS:,} draws of the mix"
                if probe.mix_p99_ms is not None
                else f"probe of {cell}: {probe.requests} "
                f"{unit.noun if unit else 'requests'} one at a time"
            )
            self.source = f"{SLO_FACTOR:g} × the {what}unloaded p99 {unloaded_ms:.0f} ms ({how})"
        return self.p99_ms


def _cell(
    sweep: Sweep, allocations: int, threads: int, objective: Objective, deadline: float,
    started: Callable[[CellResult], None],
) -> CellResult:  # fmt: skip
    """One cell: its endpoint, probe and sweep; the endpoint is deleted whatever happens.
    ``started`` gets the cell once probed: it fills in as the points finish."""
    from . import model

    settings, emit = sweep.settings, sweep.emit
    label, name = f"a{allocations}t{threads}", f"{allocations} allocation(s) × {threads} thread(s)"
    emit(f"cell {name}: creating the endpoint")
    with deployment.cell_endpoint(
        sweep.target, sweep.run_id, allocations, threads, settings.model_id, sweep.allocation_wait_s
    ) as (inference_id, client, started_s, tracker):
        probe = deployment.probe(
            client, inference_id, settings.mix, settings.batch_share, settings.corpus,
            settings.seed,
            workload=settings.workload, endpoints=tracker, bulk_size=settings.bulk_size,
        )  # fmt: skip
        unit = sweep.unit
        clock = sweep.clock
        estimate = probe.estimate_rps(allocations, clock)
        slo = objective.settle(probe, clock, name, unit)
        mix_p99 = (
            ""
            if probe.mix_p99_ms is None
            else f", the mix's {clock.to_cluster(probe.mix_p99_ms):.0f} ms fitted"
        )
        emit(
            f"  probe: {probe.requests} {unit.noun} one at a time, mean latency "
            f"{clock.to_cluster(probe.mean_latency_ms):.0f} ms (p99 "
            f"{clock.to_cluster(probe.p99_latency_ms):.0f} ms{mix_p99}) {CLUSTER} → estimate "
            f"{estimate:.2f} {unit.rate} ({CLUSTER}); objective p99 ≤ {slo:g} ms {CLUSTER}"
        )
        # The endpoint's start, PUT → fully_allocated (timebase START_POINTS), in cluster time.
        cell = CellResult(allocations, threads, estimate, slo, start_s=clock.to_cluster(started_s))
        if sweep.embedded:
            cell.model_rps = allocations * model.capacity_per_allocation(
                sweep.timing, settings.mix, settings.batch_share, threads, settings.model_id,
                settings.corpus,
                workload=settings.workload, bulk_size=settings.bulk_size,
            )  # fmt: skip
            cell.model_knee_rps = allocations * model.knee_per_allocation(
                sweep.timing, settings.mix, settings.batch_share, threads, settings.model_id,
                settings.corpus,
                allocations=allocations, slo_p99_ms=slo, window_s=settings.point_seconds,
                repeats=settings.repeats, workload=settings.workload, bulk_size=settings.bulk_size,
            )  # fmt: skip
            if unit.per_document:
                cell.model_chunks_rps = cell.model_rps * model.chunks_per_bulk(
                    settings.corpus, settings.bulk_size
                )
        measure = sweep.measure(inference_id, client, label)
        started(cell)
        sweep_cell(cell, measure, settings.repeats, deadline, emit,
                   resolution=settings.resolution)  # fmt: skip
        if settings.saturation_seconds != 0:
            _saturate(sweep, cell, inference_id, client, label, probe, deadline)
        return cell


def _saturate(
    sweep: Sweep, cell: CellResult, inference_id: str, client: Any, label: str,
    probe: deployment.Probe, deadline: float,
) -> None:  # fmt: skip
    """The cell's saturation point (saturation.py), unless --max-minutes ends first; once
    more with twice the senders and rate when its allocations were idle at times."""
    settings = sweep.settings
    seen = [m.point.throughput_rps for m in cell.runs if not m.judgement.inconclusive]
    if cell.knee.sustained_rps is not None:
        seen.append(cell.knee.sustained_rps)
    planned = saturation.plan(
        cell.allocations, settings.workload, cell.estimate_rps, seen, settings.point_seconds,
        settings.saturation_seconds,
    )  # fmt: skip
    weigh = None
    work = probe.work_ms() if settings.workload == "inference" else None
    if settings.workload == "ingest":
        # A bulk by its chunks' tokens (the documents' own estimates, as the users record
        # them), over a bulk's mean: documents drawn uniformly with replacement.
        docs = documents.load(settings.corpus or None)
        mean_tokens = settings.bulk_size * math.fsum(d.tokens for d in docs) / len(docs)
        weigh = saturation.work_weights(0.0, 1.0, 1.0, mean_tokens)
    elif work is not None:
        texts, mix = Corpus.load(settings.corpus or None), parse_mix(settings.mix)
        weigh = saturation.work_weights(
            *work,
            expected_per_request(texts, mix, settings.batch_share, lambda _: 1.0),
            expected_per_request(texts, mix, settings.batch_share,
                                 lambda item: min(item.tokens, MAX_TOKENS)),
        )  # fmt: skip
    for attempt in range(1, saturation.ATTEMPTS + 1):
        if time.monotonic() + sweep.clock.to_wall(planned.seconds) > deadline:
            if cell.saturation is None:
                cell.saturation_skipped = "bounded by --max-minutes"
                sweep.emit(f"  saturation point skipped: {cell.saturation_skipped}")
            return
        try:
            found = sweep.saturate(inference_id, client, label, cell.allocations, planned,
                                   weigh, attempt)  # fmt: skip
        except KeyboardInterrupt:
            if cell.saturation is None:
                cell.saturation_skipped = "interrupted by a stop signal"
            raise
        cell.saturation = found
        sweep.emit(_saturation_line(cell, found, planned, sweep.unit))
        if found.saturated or found.inconclusive or found.errors:
            return
        # Nothing waiting at times: the senders' round trips (HTTP, a search's own work, a
        # busy load machine) left allocations idle. Twice as many, offered twice the rate.
        planned = replace(planned, users=planned.users * 2, rate=planned.rate * 2)


def _saturation_line(
    cell: CellResult, found: saturation.Saturation, planned: saturation.SaturationPlan, unit: Unit
) -> str:
    n = cell.allocations
    status = saturation.state(found.inconclusive, found.saturated)
    errors = ", ".join(f"{k} ×{v}" for k, v in sorted(found.errors.items()))
    return (
        f"  {n} alloc × {cell.threads} thr  saturation: offered {found.offered_rps:.2f}/s from "
        f"{planned.users} senders, done {found.rps / n:.2f} "
        f"{unit.rate} per allocation (95 % CI {found.ci_low / n:.2f}–{found.ci_high / n:.2f}; "
        f"{found.units} {unit.noun}, {'work-weighted' if found.weighted else 'counted'}), "
        f"a request waiting at {found.queued_share or 0:.0%} of polls  {status}"
        + (f" ({errors})" if errors else "")
    )


def _recommend(
    sweep: Sweep, cells: list[CellResult], traffic: Traffic
) -> tuple[Recommendation | None, ExitCode]:
    """The recommendation for ``traffic`` (printed) and the exit code."""
    settings = sweep.settings
    capacity = measured_capacity(cells, settings.workload)
    if capacity is None:
        return None, ExitCode.FAILED
    try:
        advice = recommend(
            capacity,
            traffic,
            headroom=DEFAULT_HEADROOM if settings.headroom is None else settings.headroom,
            max_cold_start_s=settings.max_cold_start_s,
            vcpu_hour_price=settings.vcpu_hour_price,
            scaler=scaler_timing(sweep.timing),
        )
    except ValueError as exc:  # e.g. a traffic no setting can follow from
        sweep.emit(f"  no recommendation: {exc}")
        return None, ExitCode.USAGE
    for line in advice.lines():
        sweep.emit(line)
    return advice, ExitCode.OK


def _compare_eis(
    sweep: Sweep, cells: list[CellResult], advice: Recommendation, traffic: Traffic,
    objective: Objective, deadline: float,
) -> dict[str, Any]:  # fmt: skip
    """``--compare-eis``: EIS against the recommendation for ``traffic`` (printed, and for
    capacity.json); the ML node's p99 is the capacity point's of the cell the recommendation
    measured its capacity on; with ``--eis-endpoint`` EIS's side is measured too."""
    settings = sweep.settings
    measured_on = [c for c in sorted(cells, key=lambda c: c.allocations)
                   if c.threads == advice.capacity.num_threads and c.capacity_p99_ms]  # fmt: skip
    base = measured_on[0] if measured_on else None
    measured_cell = None
    if settings.eis_endpoint is not None:
        measured_cell, measured = _eis_cell(sweep, objective, deadline)
        demand, eis_p99 = measured.demand, measured_cell.capacity_p99_ms
        source: str | None = f"the capacity point of {settings.eis_endpoint}, cluster ms"
    elif settings.eis_run is not None:
        measured = eis.measured_run(settings.eis_run, settings.workload)
        demand, eis_p99 = measured.demand, measured.p99_ms
        source = f"run {measured.run_id}, cluster ms"
    else:
        demand = eis.demand_of(settings.workload, settings.corpus, settings.mix,
                               settings.batch_share, settings.bulk_size)  # fmt: skip
        eis_p99, source = None, None
    comparison = eis.compare(
        demand, traffic, advice, ml_p99_ms=base.capacity_p99_ms if base else None,
        price_per_million_tokens=settings.price_per_million_tokens, eis_p99_ms=eis_p99,
        eis_latency_source=source, limits=sweep.eis_limits,
        measured_knee=measured_cell.capacity_rps if measured_cell else None,
    )  # fmt: skip
    for line in comparison.lines():
        sweep.emit(line)
    data = comparison.to_json()
    if measured_cell is not None:
        data["measured"] = {"inference_id": settings.eis_endpoint, **measured_cell.to_json()}
    return data


def _eis_cell(
    sweep: Sweep, objective: Objective, deadline: float
) -> tuple[CellResult, eis.MeasuredEis]:
    """``--eis-endpoint``: the workload's sweep against an EIS endpoint, from the knee of its
    documented limits up, judged as a cell is (knee.py: 429s above 1 % fail a point) against
    the cells' objective. Each point first waits out EIS's one-minute sliding window, so that
    the previous point's requests do not count against it, and lasts at least three windows:
    a window starts empty, so a shorter point is admitted whole by its first minute's
    allowance whatever its rate."""
    settings, emit, unit = sweep.settings, sweep.emit, sweep.unit
    endpoint = settings.eis_endpoint
    if endpoint is None:  # check() refuses --compare-eis's measurement without it
        raise CellError("--eis-endpoint: no endpoint to measure")
    with sweep.target.client(timeout=30, retry=True) as client:
        answer = client.get(f"/_inference/{endpoint}")
        listed = answer.json().get("endpoints") if answer.status_code == 200 else None
        service = listed[0].get("service") if listed else None
        if service != EIS_SERVICE:
            raise CellError(f"--eis-endpoint {endpoint}: "
                            + (f"its service is {service!r}, not {EIS_SERVICE!r}" if listed
                               else f"not found (HTTP {answer.status_code})"))  # fmt: skip
        demand = eis.demand_of(settings.workload, settings.corpus, settings.mix,
                               settings.batch_share, settings.bulk_size)  # fmt: skip
        estimate = eis.knee(demand, sweep.eis_limits).units_per_s
        slo = objective.p99_ms or 0.0
        emit(f"EIS endpoint {endpoint}: the limits' knee {estimate:.2f} {unit.rate} (estimated "
             f"tokens); objective p99 ≤ {slo:g} ms")  # fmt: skip
        cell = CellResult(1, 1, estimate, slo)
        point_s = max(settings.point_seconds, eis.POINT_WINDOWS * eis.WINDOW_S)
        measure = sweep.measure(endpoint, client, "eis", drain=False, point_s=point_s)

        def after_window(rate: float) -> Point:
            time.sleep(sweep.clock.to_wall(eis.WINDOW_S))
            return measure(rate)

        sweep_cell(cell, after_window, settings.repeats, deadline, emit,
                   resolution=settings.resolution)  # fmt: skip
    runs = sorted(sweep.report_dir.glob("points/eis-*"))
    if not runs:
        raise CellError(f"--eis-endpoint {endpoint}: no point was measured (--max-minutes)")
    return cell, eis.measured_run(runs[-1], settings.workload)


def _round_up(value: float) -> float:
    """Up to two significant digits (an objective a person would write)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (math.floor(math.log10(value)) - 1)
    return math.ceil(value / magnitude) * magnitude


def _summary_line(cell: CellResult, emit: Callable[[str], None], unit: Unit) -> None:
    per, low, high = cell.per_allocation
    knee = cell.knee
    head = f"  → {cell.allocations} alloc × {cell.threads} thr: "
    if per is None:
        if knee.failed_rps is None and cell.generator_limited:
            emit(head + "inconclusive: the load machine (generator or simulator) fell behind "
                 "at every rate tried; see the points' reasons")  # fmt: skip
            return
        emit(head + "no offered rate was sustained within the objective "
             f"(p99 ≤ {cell.slo_p99_ms:g} ms)")  # fmt: skip
        return
    bracket = (f"knee between {knee.sustained_rps:.2f} and {knee.failed_rps:.2f} {unit.rate}"
               if knee.failed_rps else "no knee within the sweep")  # fmt: skip
    notes = []
    if cell.bounded:
        notes.append("bounded by --max-minutes")
    if cell.generator_limited:
        notes.append("generator-limited: a lower bound")
    if cell.model_rps:
        knee_text = (f"{cell.model_knee_rps / cell.allocations:.2f} {unit.rate} per allocation "
                     "at the objective, " if cell.model_knee_rps else "")  # fmt: skip
        notes.append(f"model {knee_text}{cell.model_rps / cell.allocations:.2f} {unit.rate} "
                     "per allocation at saturation"
                     + (f", {cell.model_chunks_rps / cell.allocations:.2f} chunks/s"
                        if cell.model_chunks_rps else ""))  # fmt: skip
    docs = cell.per_allocation_of(cell.capacity_documents_rps)
    chunks = cell.per_allocation_of(cell.capacity_chunks_rps)
    also = (f" = {docs:.2f} documents/s, {chunks:.2f} chunks/s"
            if docs is not None and chunks is not None else "")  # fmt: skip
    found = cell.saturation
    saturated = ("" if found is None or found.inconclusive else
                 f"; saturation {found.rps / cell.allocations:.2f} {unit.rate} per allocation"
                 + ("" if found.saturated else f" ({saturation.state(False, False)})"))  # fmt: skip
    emit(head + f"capacity {per:.2f} {unit.rate} per allocation{also} (95 % CI "
         f"{low:.2f}–{high:.2f}), {bracket}, objective p99 ≤ {cell.slo_p99_ms:g} ms{saturated}"
         + (f" [{'; '.join(notes)}]" if notes else ""))  # fmt: skip
