"""Comparison 4: are the latencies our load test records (``requests.csv``, exact) right?

The same run is measured twice: by our locustfile (InferenceUser, exact recorder: the
``latency_ms`` of each successful inference in ``requests.csv``) and by the server itself
(``bench.servers timed``: the reference server with a fixed simulated service time behind an
ASGI middleware that times each inference from the ASGI call to its last body byte). Both
sides cover the same requests; the percentiles of each are compared one by one. The client's
figure includes what the server's cannot see (the network stack, HTTP parsing on both ends,
the client's scheduling), so a small positive difference is expected; a large one would mean
the recorder measures something else than the request.

The endpoint has fixed allocations (no scaling) and Poisson arrivals at half its modelled
capacity, so requests sometimes queue: the percentiles spread beyond the service time.
"""

from __future__ import annotations

import csv
from pathlib import Path

import httpx

from .common import (
    CLIENT_CORE,
    PYTHON,
    REPO,
    BenchError,
    Context,
    bench_env,
    bench_server,
    create_endpoint,
    pinned,
    run_then_interrupt,
)
from .report import Ratio, Result, closeness, percentile, summarize

INFERENCE_ID = "bench-latency"
SERVICE_MS = 20.0
ALLOCATIONS = 4
USERS = 20
PERCENTILES = (50, 90, 95, 99)


def client_latencies(path: Path) -> list[tuple[float, float]]:
    """(start time, latency ms) of each successful inference in a ``requests.csv``."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            (float(row["timestamp"]), float(row["latency_ms"]))
            for row in csv.DictReader(handle)
            if row["request_type"] == "POST" and row["status"] == "200"
        ]


def server_latencies(
    samples: list[list[float]], first: float, last: float, slack_s: float = 0.05
) -> list[float]:
    """Server-side ms of the successful inferences that started within the client's span.

    Drops what came before the load (the locustfile's warm-up request) or after it.
    """
    return [
        ms
        for started, ms, status in samples
        if status == 200 and first - slack_s <= started <= last + slack_s
    ]


def run(ctx: Context) -> Result:
    result = Result()
    work = ctx.scratch / "latency"
    work.mkdir(parents=True, exist_ok=True)
    capacity = ALLOCATIONS / (SERVICE_MS / 1000)
    rate_per_user = capacity / 2 / USERS
    seconds = 6 if ctx.quick else 10
    server = bench_server(work / "timed.log", "timed", "--service-ms", f"{SERVICE_MS:g}")
    per_run: list[dict[str, dict[str, float]]] = []
    counts: list[tuple[int, int]] = []
    with server:
        create_endpoint(server, INFERENCE_ID, allocations=ALLOCATIONS)
        for round_ in range(ctx.runs):
            with server.client() as client:
                client.get("/_bench/timings")  # start from an empty record
            results_dir = work / f"run-{round_}"
            command = [
                PYTHON, "-m", "locust", "-f", str(REPO / "loadtests" / "locustfile.py"),
                "--headless", "--host", server.url, "--only-summary",
                "--stop-timeout", "5",
                "--inference-id", INFERENCE_ID, "--results-dir", str(results_dir),
                # idle-to-zero opens with peak/2 users for 41 s at a 10 s tick: constant load.
                # Locust ignores --run-time with a load shape: Ctrl-C ends the run instead.
                "--shape", "idle-to-zero", "--peak-users", str(2 * USERS),
                "--rate-per-user", f"{rate_per_user:g}", "--timing", "fast",
                "--scaler-tick-seconds", "10", "--monitor-interval", "0.5",
                "--lifecycle-users", "0",
            ]  # fmt: skip
            with server.client() as client:

                def load_started(client: httpx.Client = client) -> bool:
                    # More than the locustfile's warm-up request: the users are sending.
                    return client.get("/_bench/count").json()["served"] > 1

                exit_code = run_then_interrupt(
                    pinned(command, CLIENT_CORE), work / f"locust-{round_}.log",
                    seconds=seconds, started=load_started, env=bench_env(),
                )  # fmt: skip
            requests_csv = results_dir / "requests.csv"
            if not requests_csv.exists():
                raise BenchError(f"locust wrote no requests.csv (exit {exit_code})")
            client_rows = client_latencies(requests_csv)
            if not client_rows:
                raise BenchError(f"no successful inference in {requests_csv}")
            with server.client() as client:
                samples = client.get("/_bench/timings").json()
            first = min(t for t, _ in client_rows)
            last = max(t for t, _ in client_rows)
            server_ms = server_latencies(samples, first, last)
            client_ms = [ms for _, ms in client_rows]
            counts.append((len(client_ms), len(server_ms)))
            figures = {
                f"p{q}": {"client": percentile(client_ms, q), "server": percentile(server_ms, q)}
                for q in PERCENTILES
            }
            per_run.append(figures)
            ctx.status(
                f"latency accuracy: round {round_ + 1}/{ctx.runs}: {len(client_ms)} requests "
                f"(server saw {len(server_ms)}); "
                + ", ".join(
                    f"p{q} {figures[f'p{q}']['client']:.1f} vs {figures[f'p{q}']['server']:.1f} ms"
                    for q in PERCENTILES
                )
            )
    for q in PERCENTILES:
        key = f"p{q}"
        ours = [run_[key]["client"] for run_ in per_run]
        peer = [run_[key]["server"] for run_ in per_run]
        result.ratios.append(
            Ratio(
                f"latency_{key}_accuracy_ratio", f"requests.csv {key}", f"server-side {key}",
                [closeness(o, p) for o, p in zip(ours, peer, strict=True)],
                summarize(ours), summarize(peer), "ms",
            )
        )  # fmt: skip
    result.raw = {
        "service_ms": SERVICE_MS,
        "allocations": ALLOCATIONS,
        "offered_rps": capacity / 2,
        "users": USERS,
        "seconds": seconds,
        "requests": summarize(c for c, _ in counts),
        "server_requests": summarize(s for _, s in counts),
        "difference_ms": {
            f"p{q}": summarize(r[f"p{q}"]["client"] - r[f"p{q}"]["server"] for r in per_run)
            for q in PERCENTILES
        },
        "runs": per_run,
    }
    differences = ", ".join(
        f"p{q} {result.raw['difference_ms'][f'p{q}']['median']:+.2f} ms" for q in PERCENTILES
    )
    result.notes.append(
        f"{USERS} InferenceUsers (the real locustfile, {rate_per_user:g} req/s each, Poisson) "
        f"against the reference server with {ALLOCATIONS} allocations × {SERVICE_MS:g} ms fixed "
        f"service time (half its capacity of {capacity:g} req/s), {seconds} s per run; locust "
        f"pinned to core {CLIENT_CORE}, the server to the other. External measurement: an ASGI "
        "middleware in the server (`bench.servers timed`). Difference client − server, median "
        f"of the runs: {differences}. `…_accuracy_ratio` = 1 − |client − server| / server."
    )
    return result
