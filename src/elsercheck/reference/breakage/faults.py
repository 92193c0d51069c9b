"""Injectable faults: what a healthy cluster behind a real network does now and then.

Unlike defects (``defects.py``), faults break no contract: the suite must *survive* them.
``ServerConfig(faults=frozenset({"proxy-5xx"}))`` or ``elsercheck serve --fault proxy-5xx``
(repeatable; ``--list-faults``). The catalogue is data: one :class:`Fault` per entry.

Most faults act at one place, :meth:`FaultHooks.dispatch` (called from
``ReferenceServer.dispatch``, in front of everything else, as a proxy would be): ``before`` may
delay a request or answer it instead of the server; ``after`` may replace the server's answer
once the request has been processed (a dropped connection loses an answer, not the work).
The one that must act deep inside has no hook; its name constant below is checked
(``NAME in state.faults``) at exactly one spot, given by ``site``. Random choices use a seeded
RNG, so a run is repeatable. With no fault active nothing here runs.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from . import catalogues

SEED = 5
LATENCY_SHARE, LATENCY_SECONDS = 0.10, (0.5, 1.5)
PROXY_5XX_SHARE = 0.10
DROP_SHARE = 0.05
RESTART_AFTER_REQUESTS, RESTART_DOWN_SECONDS = 150, 1.0
# Faults checked deep in the server (``NAME in state.faults``), one spot each.
SLOW_DEPLOYMENT_START = "slow-deployment-start"  # site: state.ServerState (Deployments.stalled)
STALLED_PUT_WAIT_SECONDS = 1.0  # how long a PUT waits for a deployment that never starts

PROXY_PAGES = {
    502: "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    "</h1></center><hr><center>nginx</center></body></html>\n",
    503: "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center>"
    "<h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body>"
    "</html>\n",
}


@dataclass
class FaultContext:
    restart_deployments: Callable[[], None]  # every deployment reloads (server-restart)
    rng: random.Random
    requests: int = 0  # seen by the server-restart fault
    down_until: float = 0.0  # loop time until which a restarting server answers nothing


# Returns a response to answer instead of the server, or None to carry on.
Hook = Callable[[Request, FaultContext], Awaitable[Response | None]]
# Returns the answer to send instead of the server's (or the server's own).
AfterHook = Callable[[Request, Response, FaultContext], Response]


@dataclass(frozen=True)
class Fault:
    name: str
    description: str  # one line
    before: Hook | None = None
    site: str = "app.dispatch"  # where it acts
    after: AfterHook | None = None


class ConnectionDropped(Exception):
    """Raised by a dropped answer once its status line is out: uvicorn then closes the
    connection mid-answer (the server's log filter keeps this expected error quiet)."""


class DroppedAnswer(Response):
    """An answer that never arrives: status line and headers, then the connection closes."""

    def __init__(self) -> None:
        super().__init__(b"", status_code=200, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Announce a body, then break off: an ASGI app cannot reset a socket, but an error
        # after the response started makes uvicorn close the connection without the body.
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", b"1024")]})  # fmt: skip
        raise ConnectionDropped("answer dropped by the dropped-connections fault")


async def _latency_spike(request: Request, ctx: FaultContext) -> Response | None:
    if ctx.rng.random() < LATENCY_SHARE:
        await asyncio.sleep(ctx.rng.uniform(*LATENCY_SECONDS))
    return None


async def _proxy_5xx(request: Request, ctx: FaultContext) -> Response | None:
    if request.url.path.startswith("/_security") or ctx.rng.random() >= PROXY_5XX_SHARE:
        return None
    status = ctx.rng.choice(sorted(PROXY_PAGES))
    # A proxy answers: no X-elastic-product header, HTML body; the request never reached ES.
    return Response(PROXY_PAGES[status], status_code=status, media_type="text/html")


async def _restart(request: Request, ctx: FaultContext) -> Response | None:
    now = asyncio.get_running_loop().time()
    ctx.requests += 1
    if ctx.requests == RESTART_AFTER_REQUESTS:
        ctx.down_until = now + RESTART_DOWN_SECONDS
        ctx.restart_deployments()
    if now < ctx.down_until:
        return DroppedAnswer()  # the process is gone: nothing answers
    return None


def _drop_answer(request: Request, response: Response, ctx: FaultContext) -> Response:
    if request.url.path.startswith("/_security") or ctx.rng.random() >= DROP_SHARE:
        return response
    return DroppedAnswer()


CATALOGUE: dict[str, Fault] = {
    f.name: f
    for f in [
        Fault("latency-spikes",
              f"{LATENCY_SHARE:.0%} of requests are delayed by "
              f"{LATENCY_SECONDS[0]}-{LATENCY_SECONDS[1]} s",
              before=_latency_spike),
        Fault("proxy-5xx",
              f"{PROXY_5XX_SHARE:.0%} of requests (not /_security) get a proxy's 502/503 HTML page",
              before=_proxy_5xx),
        Fault("dropped-connections",
              f"{DROP_SHARE:.0%} of answers (not /_security) are lost: the connection closes "
              "after the request was processed",
              after=_drop_answer),
        Fault("server-restart",
              f"after {RESTART_AFTER_REQUESTS} requests the server restarts once: "
              f"{RESTART_DOWN_SECONDS:g} s of lost answers, then every deployment reloads "
              "(starting, 0 allocations) while stored endpoints persist",
              before=_restart),
        Fault(SLOW_DEPLOYMENT_START,
              "deployments never finish starting: PUT answers 408 and the endpoint stays stored",
              site="state.ServerState"),
    ]
}  # fmt: skip


def check_names(names: frozenset[str] | set[str] | list[str]) -> None:
    """Raise ``ValueError`` naming the unknown faults."""
    catalogues.check_names("fault", names, CATALOGUE)


class FaultHooks:
    """The ``before`` hooks of the active faults, applied in front of one dispatch."""

    def __init__(
        self, faults: frozenset[str], restart_deployments: Callable[[], None], seed: int = SEED
    ) -> None:
        self.context = FaultContext(restart_deployments, random.Random(seed))
        active = [CATALOGUE[name] for name in sorted(faults)]
        self.before = [f.before for f in active if f.before is not None]
        self.after = [f.after for f in active if f.after is not None]

    def __bool__(self) -> bool:
        return bool(self.before or self.after)

    async def dispatch(
        self, request: Request, dispatch: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        for hook in self.before:
            answer = await hook(request, self.context)
            if answer is not None:
                return answer
        response = await dispatch(request)
        for after in self.after:
            response = after(request, response, self.context)
        return response
