"""The reference server in-process: its ASGI app on an event loop in a background thread, its
lifespan run (so the scaler and deployments work), and httpx clients that reach it without a
socket.

For tests that need HTTP semantics only (routing, validation, error envelopes, security
answers): no port, no uvicorn, no TLS context per client. Requests from any thread or event
loop run on the server's own loop, so concurrent requests interleave there as they would under
uvicorn. Tests where the wire matters (TLS, uvicorn's framing, dropped connections, processes
of their own) keep ``EmbeddedServer`` on a real port.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Coroutine
from typing import Any, Protocol

import httpx

from elsercheck.reference.app import ReferenceServer
from elsercheck.reference.config import ServerConfig

URL = "http://elsercheck.test"  # never resolved: the transport carries requests in-process


def _read_timeout(request: httpx.Request) -> float | None:
    """The client's read timeout bounds the whole exchange, so a hang still fails a test."""
    return request.extensions.get("timeout", {}).get("read")


async def _buffered(response: httpx.Response) -> httpx.Response:
    """A response whose body is already read (it crosses from the server's loop)."""
    body = await response.aread()
    return httpx.Response(
        response.status_code, headers=response.headers, content=body,
        extensions=response.extensions,
    )  # fmt: skip


class InProcessServer:
    """``with InProcessServer(config) as s: s.client().get("/")`` — the app, without a port."""

    url = URL

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self.app = ReferenceServer(self.config)
        self._asgi = httpx.ASGITransport(app=self.app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="elsercheck-inprocess", daemon=True
        )
        self.scaler_ticks = 0  # how often the adaptive allocations scaler has ticked
        count_scaler_ticks(self)

    def start(self) -> InProcessServer:
        self._thread.start()
        self.run(self.app.startup(), timeout=15)
        return self

    def stop(self) -> None:
        try:
            self.run(self.app.shutdown(), timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def __enter__(self) -> InProcessServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_scaler_ticks(self, ticks: int, timeout: float = 120.0) -> None:
        """Until the scaler has ticked ``ticks`` more times: a busy machine makes ticks late,
        never fewer, so waits counted in ticks hold on any machine (``timeout`` only catches a
        scaler that stopped)."""
        target = self.scaler_ticks + ticks
        deadline = time.monotonic() + timeout
        while self.scaler_ticks < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"the scaler stopped ticking ({self.scaler_ticks} ticks)")
            time.sleep(0.01)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        """Run ``coro`` on the server's loop and wait for its result (from another thread)."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        return await _buffered(await self._asgi.handle_async_request(request))

    def client(self, **kwargs: Any) -> httpx.Client:
        """A synchronous client of this server (keyword arguments as for ``httpx.Client``)."""
        return httpx.Client(base_url=self.url, transport=_SyncTransport(self), **kwargs)

    def async_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An async client, usable from any event loop (``limits`` is accepted and ignored)."""
        kwargs.pop("limits", None)
        return httpx.AsyncClient(base_url=self.url, transport=_AsyncTransport(self), **kwargs)


class _SyncTransport(httpx.BaseTransport):
    def __init__(self, server: InProcessServer) -> None:
        self.server = server

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a byte stream, which the ASGI transport can iterate asynchronously
        timeout = _read_timeout(request)
        try:
            return self.server.run(self.server._exchange(request), timeout)
        except concurrent.futures.TimeoutError:
            raise httpx.ReadTimeout(f"no answer in {timeout} s", request=request) from None


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, server: InProcessServer) -> None:
        self.server = server

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        timeout = _read_timeout(request)
        future = asyncio.run_coroutine_threadsafe(self.server._exchange(request), self.server._loop)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer in {timeout} s", request=request) from None


class _TickCounted(Protocol):
    app: ReferenceServer
    scaler_ticks: int


def count_scaler_ticks(owner: _TickCounted) -> None:
    """Count in ``owner.scaler_ticks`` every tick of its app's adaptive allocations scaler."""
    scaling = owner.app.state.scaling
    tick = scaling.tick

    def counted(now: float) -> None:
        tick(now)
        owner.scaler_ticks += 1

    scaling.tick = counted  # type: ignore[method-assign]
