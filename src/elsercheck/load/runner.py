"""``elsercheck load``: run ``loadtests/locustfile.py`` with locust, bounded, and summarise.

Locust runs in child processes (the same command users can type; it is printed), one local
process or a master and N workers. Credentials travel in the children's environment, never on
a command line. The run is bounded three times: the shape ends itself, ``--duration`` cuts it,
and this process kills what is still running after a grace period. Afterwards it deletes any
endpoint that still carries the run prefix (only this run's, by construction).
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import signals
from ..endpoints import sweep_run
from ..exit_codes import ExitCode, from_locust
from ..paths import resource_dir
from ..runs import rundir
from ..target import Target, child_environment
from ..timebase import WALL, TimeBase
from . import options as load_options
from .plans import Plan

STOP_GRACE_S = 30.0  # after the shape: users stop, endpoints get deleted, files get written


@dataclass
class LoadOptions:
    """What ``elsercheck load`` hands the runner: the load options' values by dest (the table
    in ``load/options.py``), their plan (built once), and how to run locust."""

    values: dict[str, Any]
    plan: Plan
    workers: int = 0
    web: bool = False
    web_port: int = 8089
    extra: list[str] = field(default_factory=list)  # more locust options, as given

    @property
    def shape(self) -> str:
        return self.plan.shape

    @property
    def peak_users(self) -> int:
        return self.values["peak_users"]

    @property
    def rate_per_user(self) -> float:
        return self.values["rate_per_user"]


@dataclass
class LoadResult:
    exit_code: int
    run_dir: Path
    expectations: list[dict[str, object]]
    leftovers: list[str]
    command: str
    error: str | None = None  # why the run could not start, from locust's log


def plan_duration(options: LoadOptions) -> float:
    """Seconds the run may take: the shape's length, or ``--duration`` when shorter."""
    length, duration = options.plan.duration_s, options.values.get("duration")
    return min(length, duration) if duration else length


def locust_command(
    target: Target,
    options: LoadOptions,
    run_id: str,
    run_dir: Path,
    role: str = "local",
    master_port: int = 0,
) -> list[str]:
    """The locust command line of one process: ``local``, ``master`` or ``worker``."""
    locustfile = resource_dir("loadtests") / "locustfile.py"
    command = [sys.executable, "-m", "locust", "-f", str(locustfile)]
    if role == "worker":
        return [
            *command,
            "--worker",
            "--master-host",
            "127.0.0.1",
            "--master-port",
            str(master_port),
        ]
    # The run's own values complete the user's: the options' argv comes from their table.
    values = {**options.values, "run_id": run_id, "results_dir": str(run_dir),
              "insecure": target.insecure}  # fmt: skip
    command += [
        "--host",
        target.url,
        *load_options.to_argv(values),
        "--stop-timeout",
        "10",
        "--csv",
        str(run_dir / rundir.LOCUST_CSV_PREFIX),
        "--csv-full-history",
        "--html",
        str(run_dir / rundir.LOCUST_HTML),
    ]
    if options.web:
        command += [
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(options.web_port),
            "--autostart",
            "--autoquit",
            "15",
        ]
    else:
        command += ["--headless", "--only-summary"]
    if role == "master":
        command += [
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(master_port),
            "--expect-workers",
            str(options.workers),
        ]
    return command + options.extra


def locust_environment(target: Target) -> dict[str, str]:
    env = child_environment(target)
    if target.ca_certs:
        env["ELASTICSEARCH_CA_CERTS"] = str(Path(target.ca_certs).resolve())
    return env


def _master_port(run_dir: Path, master: subprocess.Popen, deadline: float) -> int | None:
    """The port the locust master bound (it binds port 0 and writes the port it got); None if
    it exits first or does not say in time."""
    port_file = run_dir / rundir.MASTER_PORT_TXT
    while master.poll() is None and time.monotonic() < deadline:
        text = port_file.read_text().strip() if port_file.is_file() else ""
        if text.isdigit():
            return int(text)
        time.sleep(0.1)
    return None


@contextlib.contextmanager
def _processes(commands: list[list[str]], env: dict[str, str], log: Path) -> Iterator[list]:
    """Start the commands (output to ``log``), each leading its own process group; on the way
    out, none is left running: a stop signal was forwarded to them already (``signals``),
    otherwise they get SIGINT (locust cleans up on it), and whoever outlasts the grace dies."""
    with log.open("ab") as sink:
        processes = [
            signals.start_child(cmd, env, stdout=sink, stderr=subprocess.STDOUT) for cmd in commands
        ]
        try:
            yield processes  # callers may append processes started later (workers)
        finally:
            forwarded = signals.received() is not None
            deadline = time.monotonic() + STOP_GRACE_S
            for process in processes:
                remaining = max(0.0, deadline - time.monotonic())
                signals.stop_child(process, remaining, None if forwarded else signal.SIGINT)


def run_load(
    target: Target,
    options: LoadOptions,
    run_id: str,
    run_dir: Path,
    on_status: Callable[[str], None] = print,
) -> LoadResult:
    """Run the load scenario; blocks until it ends (bounded), then sweeps the run prefix."""
    run_dir.mkdir(parents=True, exist_ok=True)
    role = "master" if options.workers else "local"
    main = locust_command(target, options, run_id, run_dir, role, 0)  # master: any free port
    (run_dir / rundir.MASTER_PORT_TXT).unlink(missing_ok=True)
    shown = shlex.join(main[2:] if main[1:3] == ["-m", "locust"] else main)
    on_status(f"$ {shown}")
    if options.web:
        on_status(f"web UI: http://127.0.0.1:{options.web_port}/?tab=allocations")
    deadline = time.monotonic() + plan_duration(options) + 60 + STOP_GRACE_S
    log = run_dir / "locust.log"
    returncode = int(ExitCode.USAGE)  # locust did not stop in time
    interrupted: KeyboardInterrupt | None = None
    env = locust_environment(target)
    with _processes([main], env, log) as processes:
        port = _master_port(run_dir, processes[0], deadline) if options.workers else None
        if port is not None:  # workers join the master on the port it reported
            worker = locust_command(target, options, run_id, run_dir, "worker", port)
            with log.open("ab") as sink:
                processes += [
                    signals.start_child(worker, env, stdout=sink, stderr=subprocess.STDOUT)
                    for _ in range(options.workers)
                ]
        progress = _Progress(
            run_dir, plan_duration(options), on_status, TimeBase.of(options.plan.timing)
        )
        try:
            while processes[0].poll() is None and time.monotonic() < deadline:
                progress.tick()
                time.sleep(0.5)
        except KeyboardInterrupt as exc:
            # locust got the signal too: leaving the block waits (bounded) for it to stop, write
            # what it measured and delete what the run created.
            interrupted = exc
            on_status(
                f"interrupted ({signal.Signals(signals.signal_of(exc)).name}): stopping locust "
                "and deleting what the run created"
            )
        if processes[0].poll() is None and not interrupted:
            on_status("locust did not stop in time: stopping it")
        elif not interrupted:
            returncode = processes[0].returncode
    leftovers = sweep_run(target, run_id)
    if interrupted:
        if leftovers:
            on_status(f"leftover endpoints (could not delete): {', '.join(leftovers)}")
        on_status(f"files: {run_dir}")
        raise interrupted
    previous = run_dir / rundir.LEFTOVERS_TXT
    if leftovers:
        previous.write_text("\n".join(leftovers) + "\n")
    elif previous.exists():
        previous.unlink()  # what locust could not delete, the sweep did
    expectations = rundir.read_json(run_dir / rundir.EXPECTATIONS_JSON) or []
    exit_code = from_locust(returncode)
    if leftovers and exit_code == ExitCode.OK:
        exit_code = ExitCode.FAILED
    error = _logged_error(log) if exit_code == ExitCode.USAGE else None
    return LoadResult(exit_code, run_dir, expectations, leftovers, shown, error)


ERROR_MARK = "/ERROR/elsercheck.load: elsercheck: "


def _logged_error(log: Path) -> str | None:
    """The reason the locustfile gave for stopping (one line), if it logged one."""
    if not log.is_file():
        return None
    lines = log.read_text(errors="replace").splitlines()
    reasons = [line.split(ERROR_MARK, 1)[1].strip() for line in lines if ERROR_MARK in line]
    return reasons[-1][:500] if reasons else None


class _Progress:
    """A status line every few seconds from locust's live stats history CSV."""

    def __init__(
        self,
        run_dir: Path,
        total_s: float,
        emit: Callable[[str], None],
        clock: TimeBase | None = None,
    ) -> None:
        self.path = run_dir / f"{rundir.LOCUST_CSV_PREFIX}_stats_history.csv"
        self.total_s = total_s
        self.emit = emit
        # Every figure of the line is what this machine measured: on a time-lapse target the
        # line says so (timebase.WALL), the cluster's figures are the report's.
        self.base = f" {WALL}" if clock is not None and clock.time_lapse else ""
        self.started = time.monotonic()
        self.last = 0.0

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.last < 5:
            return
        self.last = now
        elapsed = now - self.started
        row = _last_aggregated(self.path)
        allocations = _last_row(self.path.parent / rundir.ALLOCATIONS_CSV)
        figures = ""
        if row:
            rps = float(row.get("Requests/s") or 0)
            figures = (
                f" users {row.get('User Count', '?')}, {rps:.0f} req/s, "
                f"{float(row.get('Failures/s') or 0):.1f} fail/s, p50 {row.get('50%', '?')} ms"
            )
        if allocations and allocations.get("allocation_count") not in (None, ""):
            figures += (
                f", allocations {allocations['allocation_count']}/"
                f"{allocations['target_allocation_count']}, "
                f"{allocations['number_of_pending_requests']} pending"
            )
        self.emit(f"[{elapsed:5.0f}/{self.total_s:.0f} s{self.base}]{figures}")


def _last_row(path: Path) -> dict[str, str] | None:
    import csv

    if not path.is_file():
        return None
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return rows[-1] if rows else None


def _last_aggregated(path: Path) -> dict[str, str] | None:
    import csv

    if not path.is_file():
        return None
    last = None
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get("Name") == "Aggregated":
                last = row
    return last
