"""The tests' virtual clock: an asyncio event loop whose clock jumps from timer to timer.

Where a real loop would block until its next timer is due, this one moves its clock there
instead, so ``asyncio.sleep(300)`` returns at once, 300 s later. Everything the reference server
times (service times, the scaler's ticks, cooldowns, the lag probe) runs on ``loop.time()``, so
a test of that logic on this loop is deterministic, takes no wall-clock time and needs no port
or process: it belongs in the fast tier (tests/tiers.py). CPU work costs no virtual time unless
a test charges it (``loop.now += ...``), and ``late_s`` makes every timer fire late, as a busy
machine's would.

``VirtualServer`` serves the reference server's ASGI app on the running virtual loop, for tests
that drive it over HTTP semantics (httpx's ASGI transport: no socket).
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

import httpx

from elsercheck.reference.app import ReferenceServer
from elsercheck.reference.config import ServerConfig
from tests.inprocess import count_scaler_ticks

T = TypeVar("T")
URL = "http://elsercheck.test"  # never resolved: the ASGI transport carries requests


class _JumpingSelector(selectors.DefaultSelector):
    """Where the loop would block until its next timer, move the loop's clock there instead
    (``late_s`` past it)."""

    loop: VirtualClockLoop

    def select(self, timeout: float | None = None) -> list:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise RuntimeError("the loop waits for nothing that will ever happen")
        self.loop.now += timeout + self.loop.late_s
        return []


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time: ``asyncio.sleep(300)`` returns at once, 300 s later."""

    late_s = 0.0  # how late every timer fires (a busy machine's wake-ups), in virtual seconds

    def __init__(self) -> None:
        selector = _JumpingSelector()
        super().__init__(selector)
        selector.loop = self
        self.now = 0.0

    def time(self) -> float:
        return self.now

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        """Runs ``func`` at once, on this thread: a worker thread finishes on the wall clock,
        which a loop that jumps past its timers would not wait for (``asyncio.to_thread``,
        which the server uses for large bodies and renderings, comes here)."""
        future: asyncio.Future[T] = self.create_future()
        try:
            future.set_result(func(*args))
        except BaseException as error:  # handed to the awaiting task, as an executor would
            future.set_exception(error)
        return future


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Runs ``coro`` to its end on a new virtual-clock loop and returns its result."""
    with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
        return runner.run(coro)


class VirtualServer:
    """``async with VirtualServer(config) as s: await s.client.get("/")`` — the reference
    server started on the running (virtual) loop, with an httpx client that reaches its ASGI
    app in-process, and a count of the adaptive allocations scaler's ticks."""

    def __init__(self, config: ServerConfig) -> None:
        self.app = ReferenceServer(config)
        self.client = httpx.AsyncClient(base_url=URL, transport=httpx.ASGITransport(app=self.app))
        self.scaler_ticks = 0  # how often the scaler has ticked since the server was built
        count_scaler_ticks(self)

    async def __aenter__(self) -> VirtualServer:
        await self.app.startup()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.client.aclose()
        await self.app.shutdown()
