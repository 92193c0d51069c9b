"""Comparison 3: how many requests/s our load generator gets out of one core, against locust.

Ours: the real ``loadtests/locustfile.py`` (InferenceUser, exact-latency recorder, allocation
monitor polling the stats every 0.5 s), one process. Peers: a bare locust ``FastHttpUser``
in a closed loop (``bench/locust_bare.py``), one process, posting the very bodies ours posts
(the goal's peer: what ours adds is then the generator's own work) or one fixed small body
(what plain locust gets out of a core at all). All on
the same core, against the same target: ``bench.servers stub`` on the other core, the
reference server except that inference is answered at once with fixed results, so the
generator and not the server is the bottleneck (the stub's CPU use is recorded to show it).

InferenceUser is open loop: Poisson arrivals at ``--rate-per-user`` per user, due on an
absolute clock and handed to ``--max-outstanding`` sender greenlets per user (created once),
an arrival that finds them all busy recorded as ``backlog`` (not sent). To saturate it, the
offered rate (users × rate) is set well above what one process can send; the figure compared
is what reaches the server. Far behind its schedule, each user makes its late arrivals one per
turn of the event loop, so in flight stays near one request per user, as the bare peer's
closed loop does; the run's ``generator-kept-up`` expectation fails, as it should (run.json
``generator``: lag growing to the run's length, the arrivals never made counted as unmade).

Requests/s are counted by the stub itself, read at two precise moments once the load is
steady, so neither generator's own statistics are trusted; the generator's CPU seconds are
read at the same moments, giving CPU µs per request as well.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

import httpx

from .common import (
    CLIENT_CORE,
    PYTHON,
    REPO,
    BenchError,
    Context,
    Server,
    _stop_group,
    bench_env,
    bench_server,
    create_endpoint,
    pinned,
    proc_cpu_seconds,
)
from .report import Ratio, Result, summarize

INFERENCE_ID = "bench-load"
# The bare locust peers (bench/locust_bare.py) by BENCH_SAME_INPUTS: "same" posts the bodies
# our InferenceUser posts (the goal's peer: the difference is the generator's own work),
# "bare" one fixed small body (what a plain locust process gets out of a core at all).
PEERS = {"same": "1", "bare": ""}
KINDS = ("same", "ours", "bare")
USERS = 20
RATE_PER_USER = 1000.0  # offered 20,000 req/s: well beyond one process
MAX_OUTSTANDING = 10
WARMUP_S = 3.0
WINDOW_S = 6.0


@dataclass
class LoadRun:
    rps: float
    cpu_util: float  # generator CPU seconds per wall second in the window
    cpu_us_per_request: float
    server_cpu_util: float


def _served(client: httpx.Client) -> int:
    return int(client.get("/_bench/count").json()["served"])


def _command(kind: str, server: Server, out: str, run_time_s: int) -> list[str]:
    common = ["--headless", "--host", server.url, "--run-time", f"{run_time_s}s",
              "--csv", out, "--only-summary", "--stop-timeout", "5"]  # fmt: skip
    if kind in PEERS:
        return [PYTHON, "-m", "locust", "-f", str(REPO / "bench" / "locust_bare.py"),
                "-u", str(USERS), "-r", str(USERS), *common]  # fmt: skip
    return [
        PYTHON, "-m", "locust", "-f", str(REPO / "loadtests" / "locustfile.py"), *common,
        "--inference-id", INFERENCE_ID, "--results-dir", out + "-results",
        # idle-to-zero starts with peak/2 users for 4 ticks + an allocation start: with a
        # 10 s tick that is 41 s of constant load, longer than the run.
        "--shape", "idle-to-zero", "--peak-users", str(2 * USERS),
        "--rate-per-user", f"{RATE_PER_USER:g}", "--max-outstanding", str(MAX_OUTSTANDING),
        "--timing", "fast", "--scaler-tick-seconds", "10", "--monitor-interval", "0.5",
        "--lifecycle-users", "0",
    ]  # fmt: skip


def measure(ctx: Context, server: Server, kind: str, label: str) -> LoadRun:
    """One locust run on the client core; requests/s and CPU over a steady window."""
    work = ctx.scratch / "loadgen"
    work.mkdir(parents=True, exist_ok=True)
    run_time = int(WARMUP_S + WINDOW_S + 12)  # locust start-up, then the window, then margin
    command = pinned(_command(kind, server, str(work / label), run_time), CLIENT_CORE)
    env = bench_env(BENCH_INFERENCE_ID=INFERENCE_ID, BENCH_SAME_INPUTS=PEERS.get(kind, ""))
    with (work / f"{label}.log").open("wb") as log, server.client(timeout=10) as client:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            # Wait for the load to reach the server, then let it settle.
            start = _served(client)
            deadline = time.monotonic() + 60
            while _served(client) == start:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"{kind} locust sent nothing: see {work / label}.log")
                time.sleep(0.1)
            time.sleep(WARMUP_S)
            begin = (time.monotonic(), _served(client), proc_cpu_seconds(process.pid),
                     server.cpu_seconds())  # fmt: skip
            time.sleep(WINDOW_S)
            end = (time.monotonic(), _served(client), proc_cpu_seconds(process.pid),
                   server.cpu_seconds())  # fmt: skip
            if process.poll() is not None:
                raise BenchError(f"{kind} locust ended early: see {work / label}.log")
        finally:
            _stop_group(process)  # SIGINT: locust stops the users and writes its files
    seconds = end[0] - begin[0]
    requests = end[1] - begin[1]
    cpu = end[2] - begin[2]
    return LoadRun(
        rps=requests / seconds,
        cpu_util=cpu / seconds,
        cpu_us_per_request=cpu * 1e6 / requests if requests else float("nan"),
        server_cpu_util=(end[3] - begin[3]) / seconds,
    )


def run(ctx: Context) -> Result:
    result = Result()
    server = bench_server(ctx.scratch / "loadgen" / "stub.log", "stub")
    runs: dict[str, list[LoadRun]] = {kind: [] for kind in KINDS}
    with server:
        create_endpoint(server, INFERENCE_ID)
        for round_ in range(ctx.runs):
            for kind in KINDS:
                runs[kind].append(measure(ctx, server, kind, f"{kind}-{round_}"))
            ctx.status(
                f"load generator: round {round_ + 1}/{ctx.runs}: "
                + ", ".join(
                    f"{kind} {r[-1].rps:,.0f} req/s at {r[-1].cpu_util:.0%} CPU "
                    f"({r[-1].cpu_us_per_request:.0f} µs/req; stub at "
                    f"{r[-1].server_cpu_util:.0%})"
                    for kind, r in runs.items()
                )
            )
    ours = runs["ours"]
    for name, peer, label in (
        ("loadgen_rps_ratio", "same", "bare FastHttpUser, the same request bodies"),
        ("loadgen_rps_ratio_fixed_body", "bare", "bare FastHttpUser, one fixed small body"),
    ):
        result.ratios.append(
            Ratio(
                name, "InferenceUser (real locustfile)", label,
                [o.rps / b.rps for o, b in zip(ours, runs[peer], strict=True)],
                summarize(r.rps for r in ours), summarize(r.rps for r in runs[peer]), "req/s",
            )
        )  # fmt: skip
    result.ratios.append(
        Ratio(
            "loadgen_cpu_ratio", "InferenceUser (real locustfile)",
            "bare FastHttpUser, the same request bodies",
            [b.cpu_us_per_request / o.cpu_us_per_request
             for o, b in zip(ours, runs["same"], strict=True)],
            summarize(r.cpu_us_per_request for r in ours),
            summarize(r.cpu_us_per_request for r in runs["same"]), "CPU µs/req",
        )
    )  # fmt: skip
    result.raw = {
        kind: {
            "rps": summarize(r.rps for r in measured),
            "generator_cpu_util": summarize(r.cpu_util for r in measured),
            "cpu_us_per_request": summarize(r.cpu_us_per_request for r in measured),
            "stub_server_cpu_util": summarize(r.server_cpu_util for r in measured),
        }
        for kind, measured in runs.items()
    }
    result.raw["setup"] = {
        "processes": 1,
        "users": USERS,
        "ours": f"{USERS} InferenceUsers × {RATE_PER_USER:g} req/s offered (Poisson), "
        f"--max-outstanding {MAX_OUTSTANDING}, default input mix and batch share, monitor "
        "every 0.5 s, exact recorder on",
        "same": f"{USERS} FastHttpUsers, closed loop, wait_time 0, the bodies of "
        "InferenceUser's default mix and batch share (drawn once, cycled, pre-serialised)",
        "bare": f"{USERS} FastHttpUsers, closed loop, wait_time 0, one fixed 60-byte body",
        "window_s": WINDOW_S,
        "warmup_s": WARMUP_S,
    }
    result.notes.append(
        f"One locust process each, pinned to core {CLIENT_CORE}; the stub server on the other "
        f"core. Ours offered {USERS} users × {RATE_PER_USER:g} req/s (far beyond one process), "
        f"at most {MAX_OUTSTANDING} in flight per user; the bare peers run {USERS} closed-loop "
        "users, posting the same bodies as ours (the goal's peer: payloads and answers are "
        "the workload, not the generator) or one fixed small body "
        f"(`loadgen_rps_ratio_fixed_body`). Requests/s counted by the stub over a {WINDOW_S:g} "
        f"s window after {WARMUP_S:g} s of load. `loadgen_cpu_ratio` is the same-body peer's "
        "CPU µs per request over ours."
    )
    return result
