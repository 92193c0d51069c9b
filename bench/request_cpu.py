"""CPU per request of the reference server's inference GET and POST against the bare Starlette
app of ``bench/servers.py``, in-process: each ASGI app is called directly on one event loop
(no socket, no uvicorn, no HTTP client), so the figure is the application's own CPU time
(``time.process_time``), which a busy machine does not distort as it does requests/s.

The reference server is set up as ``server_capacity`` sets up ``elsercheck serve --timing
instant``: security on, Basic auth on every request, one ELSER endpoint with one allocation,
zero service time. The bare app answers its fixed JSON body (a POST's body read first).

    python -m bench.request_cpu                 # 5 rounds of 3,000 requests per kind
    python -m bench.request_cpu -n 5000 --profile post   # and a cProfile of ours, POST

What uvicorn and the socket cost per request (the same for both apps) is not in these figures:
under wrk a ratio of requests/s is (U + bare) / (U + ours), nearer 1 than the CPU ratio here.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import json
import pstats
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message

from elsercheck.endpoints import elser_body
from elsercheck.reference.app import ReferenceServer
from elsercheck.reference.config import ServerConfig
from elsercheck.timing import PRESETS

from .servers import bare_app

PASSWORD = "bench-password"
AUTH = ("Basic " + base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()).encode()
INFERENCE_ID = "bench-capacity"
QUERY = b'{"input": "what is ELSER and how does sparse retrieval work?"}'  # server_capacity's
GET_PATH = f"/_inference/{INFERENCE_ID}"
POST_PATH = f"/_inference/sparse_embedding/{INFERENCE_ID}"


@dataclass(frozen=True)
class Request:
    """One request as uvicorn hands it to an ASGI app."""

    method: str
    path: str
    body: bytes = b""
    auth: bool = True

    def scope(self) -> dict[str, object]:
        headers = [(b"host", b"127.0.0.1:9200"), (b"user-agent", b"wrk")]
        if self.auth:
            headers.append((b"authorization", AUTH))
        if self.body:
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(self.body)).encode()),
            ]
        return {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "server": ("127.0.0.1", 9200), "client": ("127.0.0.1", 50000),
            "scheme": "http", "method": self.method, "root_path": "", "path": self.path,
            "raw_path": self.path.encode(), "query_string": b"", "headers": headers, "state": {},
        }  # fmt: skip


async def call(app: ASGIApp, request: Request) -> tuple[int, bytes]:
    """The app's status and body for ``request``."""
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if sent:  # the body is all read: what uvicorn says next is that the client is gone
            await asyncio.Event().wait()
        sent = True
        return {"type": "http.request", "body": request.body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(request.scope(), receive, send)
    return status, b"".join(chunks)


async def cpu_us_per_request(app: ASGIApp, request: Request, count: int) -> float:
    """Process CPU µs per request over ``count`` sequential requests (after checking one)."""
    status, body = await call(app, request)
    if status != 200:
        raise RuntimeError(f"{request.method} {request.path}: HTTP {status} {body[:200]!r}")
    started = time.process_time()
    for _ in range(count):
        await call(app, request)
    return (time.process_time() - started) * 1e6 / count


async def _reference() -> ReferenceServer:
    # ``elsercheck serve --timing instant`` as server_capacity runs it (no overrides).
    server = ReferenceServer(ServerConfig(password=PASSWORD, timing=PRESETS["instant"]))
    await server.startup()
    body = json.dumps(elser_body(num_allocations=1, num_threads=1)).encode()
    status, answer = await call(server, Request("PUT", POST_PATH, body))
    if status != 200:
        raise RuntimeError(f"PUT {INFERENCE_ID}: HTTP {status} {answer[:200]!r}")
    return server


REQUESTS = {
    "get": (Request("GET", GET_PATH), Request("GET", "/fixed", auth=False)),
    "post": (Request("POST", POST_PATH, QUERY), Request("POST", "/fixed", QUERY, auth=False)),
}


async def measure(count: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    """CPU µs per request, ``rounds`` values per (kind, app); the apps alternate per round."""
    reference = await _reference()
    bare = bare_app()
    figures: dict[str, dict[str, list[float]]] = {
        kind: {"ours": [], "bare": []} for kind in REQUESTS
    }
    try:
        for kind, (ours_request, bare_request) in REQUESTS.items():
            for _ in range(rounds):
                figures[kind]["bare"].append(await cpu_us_per_request(bare, bare_request, count))
                figures[kind]["ours"].append(
                    await cpu_us_per_request(reference, ours_request, count)
                )
    finally:
        await reference.shutdown()
    return figures


async def _profile(kind: str, count: int) -> None:
    reference = await _reference()
    request = REQUESTS[kind][0]
    await call(reference, request)
    profiler = cProfile.Profile()

    async def run() -> None:
        for _ in range(count):
            await call(reference, request)

    profiler.enable()
    await run()
    profiler.disable()
    await reference.shutdown()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.request_cpu",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-n", "--requests", type=int, default=3000, help="per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", choices=sorted(REQUESTS), help="cProfile ours instead")
    options = parser.parse_args(argv)
    if options.requests < 1 or options.rounds < 1:
        parser.error("--requests and --rounds must be at least 1")
    if options.profile:
        asyncio.run(_profile(options.profile, options.requests))
        return
    figures = asyncio.run(measure(options.requests, options.rounds))
    print(f"CPU µs per request, in-process, least of {options.rounds} × {options.requests}")
    for kind, apps in figures.items():
        # The least of the rounds: other processes only ever add (cache, frequency) to it.
        ours, bare = min(apps["ours"]), min(apps["bare"])
        ratio = bare / ours
        print(f"  {kind.upper():4}  ours {ours:7.1f}  bare {bare:7.1f}  bare/ours {ratio:.2f}")


if __name__ == "__main__":
    main()
