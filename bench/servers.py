"""Bench-only servers, on the reference server's own uvicorn settings (same loop, same HTTP
parser, no access log), so a comparison differs only in the application:

- ``bare``: a bare Starlette app answering every GET or POST with a fixed JSON body (a POST's
  body is read first, as any real handler does): the ceiling of a Python server here.
- ``stub``: the reference server, except that sparse-embedding inference is answered at once
  with fixed results (one per input): a target fast enough that the load generator, not the
  server, is what a load-generator benchmark measures. Everything else (the endpoint lookup,
  the stats the allocation monitor polls) is the real reference server.
- ``timed``: the reference server with a fixed simulated service time behind an ASGI
  middleware that records each inference's server-side time; ``GET /_bench/timings`` returns
  them (and ``GET /_bench/count`` how many there are). The external measurement the load
  generator's latencies are compared with.

    python -m bench.servers bare --port 9301
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from elsercheck.reference.app import ReferenceServer
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import _uvicorn_config, bound_socket
from elsercheck.timing import PRESETS

FIXED_BODY = orjson.dumps({"acknowledged": True, "note": "a fixed answer of a bare app"})
INFERENCE_PREFIX = "/_inference/sparse_embedding/"
TIMINGS_PATH = "/_bench/timings"
COUNT_PATH = "/_bench/count"
# One ELSER-like result; the stub repeats it once per input of the request.
_RESULT = {"is_truncated": False, "embedding": {"elser": 1.25, "sparse": 0.87, "bench": 0.31}}


def bare_app() -> ASGIApp:
    async def fixed(request: Request) -> Response:
        if request.method == "POST":
            await request.body()
        return Response(FIXED_BODY, media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", fixed, methods=["GET", "POST"])])


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _inputs(body: bytes) -> int:
    try:
        value = orjson.loads(body).get("input")
    except (orjson.JSONDecodeError, AttributeError):
        return 1
    return len(value) if isinstance(value, list) and value else 1


def stub_app(reference: ReferenceServer) -> ASGIApp:
    answers: dict[int, bytes] = {}
    headers = [(b"content-type", b"application/json"), (b"x-elastic-product", b"Elasticsearch")]
    served = 0

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal served
        if scope["type"] == "http" and scope["path"] == COUNT_PATH:
            # Inference answers so far: the benchmark reads it at precise moments to get a
            # rate that does not depend on either load generator's own statistics.
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": orjson.dumps({"served": served})})
            return
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].startswith(INFERENCE_PREFIX)
        ):
            count = _inputs(await _read_body(receive))
            if count not in answers:
                answers[count] = orjson.dumps({"sparse_embedding": [_RESULT] * count})
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": answers[count]})
            served += 1
            return
        await reference(scope, receive, send)

    return app


class TimingMiddleware:
    """Server-side time of each inference: from the ASGI call to the last body byte handed to
    the transport (what uvicorn spends parsing before the call is left out)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.samples: list[tuple[float, float, int]] = []  # (unix start, ms, status)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == COUNT_PATH:  # how many so far, without taking them
            body = orjson.dumps({"served": len(self.samples)})
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        if scope["path"] == TIMINGS_PATH:
            body = orjson.dumps(self.samples)
            self.samples = []
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        if not (scope["method"] == "POST" and scope["path"].startswith(INFERENCE_PREFIX)):
            await self.app(scope, receive, send)
            return
        started_wall = time.time()
        started = time.perf_counter()
        status = 0

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.samples.append((started_wall, (time.perf_counter() - started) * 1000, status))

        await self.app(scope, receive, timed_send)


def _reference(service_ms: float) -> ReferenceServer:
    # Instant lifecycle (no download or start waits); a fixed service time per request, whatever
    # its length: the per-request overhead is the whole service time, tokens cost nothing.
    timing = PRESETS["instant"].with_overrides(
        per_request_overhead_ms=service_ms,
        per_token_ms=0.0,
        inference_time_scale=1.0 if service_ms > 0 else 0.0,
    )
    return ReferenceServer(ServerConfig(security=False, timing=timing))


KINDS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "bare": lambda _: bare_app(),
    "stub": lambda _: stub_app(_reference(0.0)),
    "timed": lambda options: TimingMiddleware(_reference(options.service_ms)),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers", description=__doc__)
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("--port", type=int, required=True, help="0: any free port (printed)")
    parser.add_argument("--service-ms", type=float, default=20.0, help="timed: service time")
    options = parser.parse_args(argv)
    app = KINDS[options.kind](options)
    sock = bound_socket("127.0.0.1", options.port)  # bound here: the port printed is the one served
    port = sock.getsockname()[1]
    print(f"bench server {options.kind} at http://127.0.0.1:{port}", flush=True)
    uvicorn.Server(_uvicorn_config(app, "127.0.0.1", port, None, "warning")).run(sockets=[sock])


if __name__ == "__main__":
    main()
