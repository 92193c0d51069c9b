"""Shared plumbing of the benchmarks: processes, CPU pinning and accounting, servers, progress.

Everything here is about measuring fairly on a small, noisy machine: each measured program is
a child process (its CPU seconds come from the kernel, not from our own estimates), servers
and load generators sit on different cores when the machine has two or more, and every child
is stopped by its own process id, never by name.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from elsercheck.endpoints import elser_body

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Cores: the server under test on SERVER_CORE, whatever drives it on CLIENT_CORE.
SERVER_CORE = 0
CLIENT_CORE = 1


class BenchError(RuntimeError):
    """A benchmark step that could not run (a server did not start, a tool failed)."""


@dataclass
class Context:
    """What every comparison gets: where to write scratch files, how many runs, how to report."""

    scratch: Path
    runs: int = 3
    quick: bool = False
    started: float = field(default_factory=time.monotonic)
    notes: list[str] = field(default_factory=list)  # machine-wide remarks (fallbacks)

    def status(self, message: str) -> None:
        """One progress line, prefixed with the seconds since the bench started."""
        print(f"[{time.monotonic() - self.started:5.0f}s] {message}", flush=True)


# -- CPU pinning ----------------------------------------------------------------------------


def can_pin() -> bool:
    """Pinning needs ``taskset`` and at least two cores we may run on."""
    return shutil.which("taskset") is not None and len(os.sched_getaffinity(0)) >= 2


def pinned(command: Sequence[str], core: int | None) -> list[str]:
    """``command`` run on ``core`` (``taskset`` execs it: the pid stays the program's)."""
    if core is None or not can_pin():
        return list(command)
    return ["taskset", "-c", str(core), *command]


# -- processes ------------------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (``/proc/<pid>/stat``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children_cpu_seconds() -> float:
    """CPU seconds of every child (and grandchild they waited for) reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Finished:
    """A child that ran to completion: exit code, wall and CPU seconds, its output file."""

    returncode: int
    wall_s: float
    cpu_s: float
    output: Path

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")


def run_measured(
    command: Sequence[str],
    output: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 300.0,
) -> Finished:
    """Run ``command`` to completion; wall time and the CPU seconds of its process tree.

    One measured command runs at a time, so the growth of our children's rusage between start
    and end is this command's (servers we keep running are not reaped until they stop).
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    cpu_before = children_cpu_seconds()
    started = time.monotonic()
    with output.open("wb") as sink:
        process = subprocess.Popen(
            list(command), stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=cwd,
            start_new_session=True,
        )  # fmt: skip
        try:
            returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _stop_group(process)
            raise BenchError(
                f"timed out after {timeout_s:.0f} s: {' '.join(command[:4])} …"
            ) from None
        except BaseException:
            _stop_group(process)
            raise
    return Finished(
        returncode, time.monotonic() - started, children_cpu_seconds() - cpu_before, output
    )


def run_then_interrupt(
    command: Sequence[str],
    output: Path,
    *,
    seconds: float,
    started: Callable[[], bool],
    env: dict[str, str] | None = None,
    start_timeout_s: float = 60.0,
) -> int:
    """Run ``command`` until ``started()`` holds, ``seconds`` more, then Ctrl-C it; its exit code.

    For locust with a load shape, which ignores ``--run-time``: SIGINT makes it stop the users
    and write its files, as a user's Ctrl-C does.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as sink:
        process = subprocess.Popen(
            list(command), stdout=sink, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + start_timeout_s
            while not started():
                if process.poll() is not None:
                    raise BenchError(f"exited ({process.returncode}) before starting: see {output}")
                if time.monotonic() > deadline:
                    raise BenchError(f"did not start within {start_timeout_s:.0f} s: see {output}")
                time.sleep(0.1)
            time.sleep(seconds)
            if process.poll() is not None:
                raise BenchError(f"ended early ({process.returncode}): see {output}")
        finally:
            _stop_group(process)
    return process.returncode


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a child we started in its own session, and whatever it started (by its group id)."""
    for sig, wait_s in ((signal.SIGINT, 20.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait_s)


def bench_env(**extra: str) -> dict[str, str]:
    """Our environment without Elasticsearch settings (the bench picks its own targets)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELASTICSEARCH_")}
    env.pop("PYTEST_ADDOPTS", None)
    env.update(extra)
    return env


class Server:
    """A server child process on a free loopback port, pinned to a core; stopped by its pid.

    The child binds port 0 itself and prints ``... at http://127.0.0.1:<port>``; ``start`` reads
    the port from its log (no port found free here and maybe taken before the child binds it).
    """

    def __init__(
        self, command: Sequence[str], log: Path, *, port: int = 0, core: int | None = SERVER_CORE,
        env: dict[str, str] | None = None, auth: tuple[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.command = pinned(command, core)
        self.log = log
        self.port = port
        self.env = env or bench_env()
        self.auth = auth
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=self.auth, timeout=timeout)

    def start(self, timeout_s: float = 30.0) -> Server:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                self.command, stdout=sink, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"server exited ({self.process.returncode}): see {self.log}")
            if not self.port:
                self.port = _announced_port(self.log)
                if not self.port:
                    time.sleep(0.1)
                    continue
            with contextlib.suppress(httpx.HTTPError), self.client(timeout=2) as client:
                client.get("/")
                return self
            time.sleep(0.1)
        self.stop()
        raise BenchError(f"server did not answer within {timeout_s:.0f} s: see {self.log}")

    def stop(self) -> None:
        if self.process is not None:
            _stop_group(self.process)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _announced_port(log: Path) -> int:
    """The port a server child printed (`` at http://127.0.0.1:<port>``); 0 before it has."""
    match = re.search(r" at https?://127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
    return int(match.group(1)) if match else 0


def reference_server(
    log: Path, *, timing: str = "instant", overrides: dict[str, float] | None = None,
    security: bool = True, password: str = "bench-password",
) -> Server:  # fmt: skip
    """``elsercheck serve`` itself (the product's command, uvicorn settings and all)."""
    command = [PYTHON, "-m", "elsercheck", "serve", "--port", "0", "--timing", timing]
    for name, value in (overrides or {}).items():
        command += [f"--{name.replace('_', '-')}", f"{value:g}"]
    if not security:
        command.append("--no-security")
    return Server(
        command, log, env=bench_env(ELASTIC_PASSWORD=password),
        auth=("elastic", password) if security else None,
    )  # fmt: skip


def bench_server(log: Path, kind: str, *args: str) -> Server:
    """A bench-only server of ``bench/servers.py`` (bare app, stub, timed wrapper)."""
    command = [PYTHON, "-m", "bench.servers", kind, "--port", "0", *args]
    return Server(command, log, env=bench_env(PYTHONPATH=str(REPO)))


def create_endpoint(
    server: Server, inference_id: str, allocations: int = 1, threads: int = 1
) -> None:
    """A fixed-allocation ELSER endpoint (no adaptive scaling: nothing moves under load)."""
    body = elser_body(num_allocations=allocations, num_threads=threads)
    with server.client(timeout=60) as client:
        answer = client.put(f"/_inference/sparse_embedding/{inference_id}", json=body)
        if answer.status_code != 200:
            raise BenchError(f"PUT {inference_id}: HTTP {answer.status_code} {answer.text[:200]}")
        probe = client.post(f"/_inference/sparse_embedding/{inference_id}", json={"input": "hi"})
        if probe.status_code != 200:
            raise BenchError(f"{inference_id} does not serve: HTTP {probe.status_code}")


@contextlib.contextmanager
def cpu_sampler(pid: int, interval_s: float = 0.25) -> Iterator[list[tuple[float, float]]]:
    """(unix time, CPU seconds) of ``pid`` every ``interval_s`` while the block runs.

    Sampled in a thread so the caller can wait on the process meanwhile.
    """
    import threading

    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            cpu = proc_cpu_seconds(pid)
            if cpu == cpu:  # not NaN: the process is still there
                samples.append((time.time(), cpu))
            done.wait(interval_s)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        done.set()
        thread.join()


def interpolate(samples: list[tuple[float, float]], at: float) -> float:
    """Linear interpolation of (time, value) samples at ``at`` (clamped at the ends)."""
    if not samples:
        return float("nan")
    if at <= samples[0][0]:
        return samples[0][1]
    for (t0, v0), (t1, v1) in itertools.pairwise(samples):
        if t0 <= at <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (at - t0) / (t1 - t0)
    return samples[-1][1]


# -- the machine ----------------------------------------------------------------------------


def machine() -> dict[str, object]:
    """What the figures were measured on: a ratio is only comparable on a similar machine."""
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory_gib = round(kib / 1024 / 1024, 1)
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gib": memory_gib,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "pinning": (
            f"servers on core {SERVER_CORE}, clients on core {CLIENT_CORE} (taskset)"
            if can_pin()
            else "none (taskset missing or a single core)"
        ),
        "tools": tool_versions(),
    }


def tool_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for name in (
        "elsercheck", "schemathesis", "hypothesis", "pytest", "pytest-xdist", "locust",
        "geventhttpclient", "starlette", "uvicorn", "uvloop", "httptools", "httpx",
    ):  # fmt: skip
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    versions["wrk"] = wrk_version()
    return versions


def wrk_version() -> str | None:
    if shutil.which("wrk") is None:
        return None
    # wrk -v prints its version and usage, and exits 1.
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].split(" Copyright")[0].strip() if first else "unknown"
