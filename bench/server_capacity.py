"""Comparison 2: the reference server's capacity, and whether it honours simulated service times.

Capacity: requests/s of ``GET /_inference/{id}`` and of a sparse-embedding inference with zero
simulated service time on ``elsercheck serve``, against a bare Starlette app on the same uvicorn
settings answering a fixed JSON body (the ceiling of a Python server here). Server on one core,
``wrk`` on the other (Python load generators cannot saturate a 27k req/s server); the two sides
of each ratio are measured back to back, and every round measures all four. The server's CPU
seconds per request are recorded too: on a noisy machine they vary less than requests/s.

Service time: an endpoint with a fixed number of allocations and a fixed simulated service time
S per request, driven open-loop at half its modelled capacity (N/S) with constant
inter-arrival times, so that in the model no request ever waits: the median latency measured
by the client should be S. Then a closed loop of 2·N connections saturates it: the throughput
should be N/S.
"""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from . import request_cpu
from .common import CLIENT_CORE, Context, Server, bench_server, create_endpoint, pinned
from .common import reference_server as start_reference
from .report import Ratio, Result, closeness, percentile, summarize

DURATION_S = 3  # one wrk measurement; the server is warmed up before the first
CONNECTIONS = 32
QUERY = '{"input": "what is ELSER and how does sparse retrieval work?"}'
SERVICE_MS = 100.0  # fixed simulated service time of the service-time check
ALLOCATIONS = 4


@dataclass
class WrkRun:
    rps: float
    requests: int
    non_2xx: int
    p50_ms: float | None
    p99_ms: float | None
    server_cpu_us_per_request: float


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(text: str) -> dict[str, float]:
    """Requests/s, request count, non-2xx count and latency percentiles from wrk's output."""
    figures: dict[str, float] = {}
    if match := re.search(r"Requests/sec:\s+([\d.]+)", text):
        figures["rps"] = float(match.group(1))
    if match := re.search(r"(\d+) requests in", text):
        figures["requests"] = float(match.group(1))
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    figures["non_2xx"] = float(match.group(1)) if match else 0.0
    for percent, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M):
        figures[f"p{percent}_ms"] = float(value) * _UNITS[unit]
    return figures


def _lua(scratch: Path, name: str, method: str, body: str | None, auth: str | None) -> Path:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines += [f"wrk.body = '{body}'", 'wrk.headers["Content-Type"] = "application/json"']
    if auth:
        lines.append(f'wrk.headers["Authorization"] = "{auth}"')
    path = scratch / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def wrk(
    server: Server, path: str, script: Path, log: Path, seconds: float, connections: int
) -> WrkRun:
    import subprocess

    command = pinned(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script),
         server.url + path],
        CLIENT_CORE,
    )  # fmt: skip
    cpu_before = server.cpu_seconds()
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=seconds + 30
    )
    cpu = server.cpu_seconds() - cpu_before
    log.write_text(done.stdout + done.stderr)
    figures = parse_wrk(done.stdout)
    if "rps" not in figures:
        raise RuntimeError(f"wrk gave no figures (exit {done.returncode}): see {log}")
    requests = int(figures.get("requests", 0))
    return WrkRun(
        rps=figures["rps"],
        requests=requests,
        non_2xx=int(figures["non_2xx"]),
        p50_ms=figures.get("p50_ms"),
        p99_ms=figures.get("p99_ms"),
        server_cpu_us_per_request=cpu * 1e6 / requests if requests else float("nan"),
    )


# -- an open-loop client for low rates (the service-time check) ------------------------------


async def _open_loop(
    port: int, request: bytes, rate: float, count: int, connections: int
) -> list[float]:
    """Send ``count`` requests at constant intervals of 1/``rate`` s; their latencies in ms.

    Keep-alive connections opened beforehand, raw HTTP/1.1: the client adds a fraction of a
    millisecond, not the milliseconds a full HTTP library would.
    """
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for _ in range(connections):
        idle.append(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []

    async def one() -> None:
        reader, writer = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", port)
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)
        latencies.append((time.perf_counter() - started) * 1000)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"unexpected answer: {head[:40]!r}")
        idle.append((reader, writer))

    tasks = []
    origin = time.perf_counter()
    for index in range(count):
        delay = origin + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    return latencies


def _post_bytes(path: str, body: str, auth: str | None) -> bytes:
    data = body.encode()
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
    ]
    if auth:
        lines.append(f"Authorization: {auth}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


# -- the comparison ------------------------------------------------------------------------------


def run(ctx: Context) -> Result:
    result = Result()
    if shutil.which("wrk") is None:
        result.notes.append(
            "wrk is not installed (make bench installs it with apt-get; that failed here): the "
            "capacity ratios were not measured. Python load generators cannot saturate a bare "
            "Python server (locust ~9k req/s per process vs ~27k for bare uvicorn, measured), so "
            "there is no honest fallback for them."
        )
        ctx.status("server capacity: wrk missing, capacity ratios skipped")
    else:
        _capacity(ctx, result)
    _in_process(ctx, result)
    _service_time(ctx, result)
    return result


def _in_process(ctx: Context, result: Result) -> None:
    """The application's own CPU per request (bench/request_cpu.py), without uvicorn and the
    socket: where the server's time goes (alone: ``python -m bench.request_cpu``)."""
    count = 1000 if ctx.quick else 3000
    figures = asyncio.run(request_cpu.measure(count, ctx.runs))
    for what, kind in (("get", "get"), ("infer", "post")):
        ours, bare = figures[kind]["ours"], figures[kind]["bare"]
        result.ratios.append(
            Ratio(
                f"server_{what}_app_cpu_ratio", f"reference app, in-process {kind.upper()}",
                f"bare Starlette app, in-process {kind.upper()}",
                [b / o for o, b in zip(ours, bare, strict=True)],
                summarize(ours), summarize(bare), "CPU µs/req",
            )
        )  # fmt: skip
    ctx.status(
        "server capacity in-process: "
        + ", ".join(
            f"{kind.upper()} ours {min(apps['ours']):.0f} / bare {min(apps['bare']):.0f} CPU µs"
            for kind, apps in figures.items()
        )
    )
    result.notes.append(
        f"`…_app_cpu_ratio`: each app called directly on one event loop, {count} sequential "
        "requests per run (bench/request_cpu.py): the application's CPU µs per request without "
        "uvicorn and the socket, which cost both servers the same."
    )


def _capacity(ctx: Context, result: Result) -> None:
    scratch = ctx.scratch / "server"
    scratch.mkdir(parents=True, exist_ok=True)
    password = "bench-password"
    auth = "Basic " + base64.b64encode(f"elastic:{password}".encode()).decode()
    get_script = _lua(scratch, "get", "GET", None, auth)
    post_script = _lua(scratch, "post", "POST", QUERY, auth)
    bare_get = _lua(scratch, "bare-get", "GET", None, None)
    bare_post = _lua(scratch, "bare-post", "POST", QUERY, None)
    seconds = 2 if ctx.quick else DURATION_S
    bare = bench_server(scratch / "bare.log", "bare")
    reference = start_reference(scratch / "reference.log", timing="instant", password=password)
    with bare, reference:
        create_endpoint(reference, "bench-capacity")
        targets = {
            "bare_get": (bare, "/fixed", bare_get),
            "ref_get": (reference, "/_inference/bench-capacity", get_script),
            "bare_post": (bare, "/fixed", bare_post),
            "ref_post": (reference, "/_inference/sparse_embedding/bench-capacity", post_script),
        }
        ctx.status("server capacity: warming up the servers (wrk, 1 s each)")
        for name, (server, path, script) in targets.items():
            wrk(server, path, script, scratch / f"warmup-{name}.txt", 1, CONNECTIONS)
        runs: dict[str, list[WrkRun]] = {name: [] for name in targets}
        for round_ in range(ctx.runs):
            for name, (server, path, script) in targets.items():
                measured = wrk(
                    server, path, script, scratch / f"{name}-{round_}.txt", seconds, CONNECTIONS
                )
                if measured.non_2xx:
                    raise RuntimeError(f"{name}: {measured.non_2xx} answers were not 2xx")
                runs[name].append(measured)
            ctx.status(
                f"server capacity: round {round_ + 1}/{ctx.runs}: "
                + ", ".join(f"{name} {runs[name][-1].rps:,.0f} req/s" for name in targets)
            )
    for what, ours, peer in (("get", "ref_get", "bare_get"), ("infer", "ref_post", "bare_post")):
        ours_rps = [r.rps for r in runs[ours]]
        peer_rps = [r.rps for r in runs[peer]]
        label = "GET /_inference/{id}" if what == "get" else "POST sparse_embedding, 0 ms service"
        bare_label = "bare Starlette GET" if what == "get" else "bare Starlette POST"
        result.ratios.append(
            Ratio(
                f"server_{what}_rps_ratio", f"reference {label}", bare_label,
                [o / p for o, p in zip(ours_rps, peer_rps, strict=True)],
                summarize(ours_rps), summarize(peer_rps), "req/s",
            )
        )  # fmt: skip
        ours_cpu = [r.server_cpu_us_per_request for r in runs[ours]]
        peer_cpu = [r.server_cpu_us_per_request for r in runs[peer]]
        result.ratios.append(
            Ratio(
                f"server_{what}_cpu_ratio", f"reference {label}", bare_label,
                [p / o for o, p in zip(ours_cpu, peer_cpu, strict=True)],
                summarize(ours_cpu), summarize(peer_cpu), "CPU µs/req",
            )
        )  # fmt: skip
    result.raw["capacity"] = {
        name: {
            "rps": summarize(r.rps for r in measured),
            "p50_ms": summarize(r.p50_ms for r in measured),
            "p99_ms": summarize(r.p99_ms for r in measured),
            "server_cpu_us_per_request": summarize(r.server_cpu_us_per_request for r in measured),
        }
        for name, measured in runs.items()
    }
    result.raw["capacity_setup"] = {
        "load_generator": f"wrk -t1 -c{CONNECTIONS} -d{seconds}s (pinned to core {CLIENT_CORE})",
        "reference": "elsercheck serve --timing instant (security on, Basic auth on every "
        "request), one endpoint with 1 allocation; inference_time_scale 0",
        "bare": "Starlette app on the reference server's uvicorn settings, fixed JSON body",
    }
    result.notes.append(
        "Capacity: wrk with one thread and "
        f"{CONNECTIONS} connections for {seconds} s per measurement, after a 1 s warm-up; "
        "each round measures bare GET, reference GET, bare POST, reference POST in turn. "
        "`…_cpu_ratio` is the bare app's server CPU µs per request over the reference "
        "server's (the same comparison, less sensitive to the machine's noise)."
    )


def _service_time(ctx: Context, result: Result) -> None:
    scratch = ctx.scratch / "service-time"
    scratch.mkdir(parents=True, exist_ok=True)
    capacity = ALLOCATIONS / (SERVICE_MS / 1000)
    rate = capacity / 2
    seconds = 4 if ctx.quick else 6
    overrides = {
        "per_request_overhead_ms": SERVICE_MS,
        "per_token_ms": 0,
        "inference_time_scale": 1,
    }
    server = start_reference(scratch / "reference.log", timing="instant", overrides=overrides)
    latencies: list[list[float]] = []
    saturated: list[float] = []
    with server:
        create_endpoint(server, "bench-service", allocations=ALLOCATIONS)
        auth = "Basic " + base64.b64encode(":".join(server.auth or ("", "")).encode()).decode()
        request = _post_bytes("/_inference/sparse_embedding/bench-service", QUERY, auth)
        script = _lua(scratch, "post", "POST", QUERY, auth)
        for round_ in range(ctx.runs):
            measured = asyncio.run(
                _open_loop(server.port, request, rate, int(rate * seconds), 2 * ALLOCATIONS)
            )
            latencies.append(measured)
            line = (
                f"service time: round {round_ + 1}/{ctx.runs}: {rate:g} req/s open loop, "
                f"p50 {percentile(measured, 50):.1f} ms for a modelled {SERVICE_MS:g} ms"
            )
            if shutil.which("wrk"):
                run_ = wrk(
                    server, "/_inference/sparse_embedding/bench-service", script,
                    scratch / f"saturated-{round_}.txt", 3, 2 * ALLOCATIONS,
                )  # fmt: skip
                saturated.append(run_.rps)
                line += f"; saturated {run_.rps:.1f} req/s for a modelled {capacity:g}"
            ctx.status(line)
    p50 = [percentile(run_, 50) for run_ in latencies]
    p95 = [percentile(run_, 95) for run_ in latencies]
    p99 = [percentile(run_, 99) for run_ in latencies]
    model = summarize([SERVICE_MS] * len(p50))
    result.ratios.append(
        Ratio(
            "service_time_p50_ratio", "measured p50 latency", "modelled service time",
            [closeness(v, SERVICE_MS) for v in p50], summarize(p50), model, "ms",
        )
    )  # fmt: skip
    result.ratios.append(
        Ratio(
            "service_time_p95_ratio", "measured p95 latency", "modelled service time",
            [closeness(v, SERVICE_MS) for v in p95], summarize(p95), model, "ms",
        )
    )  # fmt: skip
    if saturated:
        result.ratios.append(
            Ratio(
                "service_capacity_ratio", "saturated throughput", "modelled capacity N/S",
                [closeness(v, capacity) for v in saturated], summarize(saturated),
                summarize([capacity] * len(saturated)), "req/s",
            )
        )  # fmt: skip
    result.raw["service_time"] = {
        "modelled_service_ms": SERVICE_MS,
        "allocations": ALLOCATIONS,
        "modelled_capacity_rps": capacity,
        "offered_rps": rate,
        "requests_per_run": int(rate * seconds),
        "p50_ms": summarize(p50),
        "p95_ms": summarize(p95),
        "p99_ms": summarize(p99),
        "saturated_rps": summarize(saturated),
    }
    result.notes.append(
        f"Service time: {ALLOCATIONS} allocations × {SERVICE_MS:g} ms fixed service time "
        f"(capacity {capacity:g} req/s); {rate:g} req/s offered with constant inter-arrival "
        f"times for {seconds} s by a raw-socket asyncio client (keep-alive connections opened "
        "beforehand), so in the model no request waits and latency = service time. The "
        "`…_ratio`s are 1 − |measured/modelled − 1|: 0.95 means within 5 %. The saturated "
        f"throughput comes from wrk with {2 * ALLOCATIONS} connections (closed loop, 3 s)."
    )
