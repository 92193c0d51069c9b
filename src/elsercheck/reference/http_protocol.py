"""The HTTP connection protocol: uvicorn's, with Elasticsearch's HTTP limits and read timeouts.

uvicorn's httptools protocol buffers a request head of any size, keeps a connection that
sends nothing (or a byte now and then) open for ever, and answers parse errors and WebSocket
upgrades in plain text. Elasticsearch's Netty pipeline instead:

* limits the request line to ``http.max_initial_line_length`` (4kb) and the headers to
  ``http.max_header_size`` (16kb); ``HttpRequestDecoder`` fails the request with Netty's
  ``TooLongHttpLineException`` / ``TooLongHttpHeaderException``, which
  ``AbstractHttpServerTransport.handleIncomingRequest`` hands to
  ``RestController.dispatchBadRequest``: a 400 in the usual error envelope;
* ignores ``Upgrade`` headers (no WebSocket support): the request is an ordinary one.

Beyond Elasticsearch (whose ``http.read_timeout`` defaults to none, but whose event loop never
holds a file descriptor for nothing it can afford to lose), a client here has
``read_timeout`` seconds to send each request, and at most ``max_connections`` connections
are kept open: idle half-open connections cannot exhaust the file descriptors. At the cap, a
new connection closes the oldest connection that is idle (between requests, or still without a
complete request head) instead of being refused: a client holding thousands of half-open
connections cannot keep other clients out, it only loses its oldest ones.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .api.call import render
from .wire.errors import EsError

log = logging.getLogger("elsercheck.reference")

MAX_INITIAL_LINE = 4096  # http.max_initial_line_length
MAX_HEADER_SIZE = 16 * 1024  # http.max_header_size
DEFAULT_READ_TIMEOUT = 30.0
HEADROOM_FDS = 256  # descriptors left for files, the listening socket, the event loop


def max_connections() -> int:
    """Open connections allowed: what the process's descriptor limit affords, at most 10,000."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 10_000
    return max(64, min(10_000, soft - HEADROOM_FDS))


def _bad_request(error: EsError) -> bytes:
    body = render(error.body(), False)
    return (
        b"HTTP/1.1 400 Bad Request\r\nX-elastic-product: Elasticsearch\r\n"
        b"content-type: application/json\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\nconnection: close\r\n\r\n"
        + body
    )


class BoundedHttpProtocol(HttpToolsProtocol):
    """One connection; ``bounded_protocol`` makes the class uvicorn is given."""

    read_timeout = DEFAULT_READ_TIMEOUT
    max_connections = 10_000
    _over_limit_logged = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # one server's connections between requests or still reading a request head, oldest
        # first (kept on uvicorn's per-server state, beside its ``connections`` set)
        state = self.server_state
        if not hasattr(state, "elsercheck_idle"):
            state.elsercheck_idle = OrderedDict()  # type: ignore[attr-defined]
        self._idle: OrderedDict[BoundedHttpProtocol, None] = state.elsercheck_idle  # type: ignore[attr-defined]
        self._read_timer: asyncio.TimerHandle | None = None
        self._in_head = True  # reading a request line and headers
        self._head_size = 0  # bytes of the current head so far
        self._line_size: int | None = None  # the request line's length, once complete
        self._tail = b""  # the last bytes of the head so far (a CRLFCRLF may straddle reads)

    # -- connections ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections and not self._evict_idle():
            if not BoundedHttpProtocol._over_limit_logged:
                log.warning("more than %d open connections: closing new ones", self.max_connections)
                BoundedHttpProtocol._over_limit_logged = True
            transport.close()
            return
        BoundedHttpProtocol._over_limit_logged = False
        self._idle[self] = None
        self._arm_read_timer()

    def _evict_idle(self) -> bool:
        """Close the oldest idle connection to make room for this one."""
        while self._idle:
            oldest, _ = self._idle.popitem(last=False)
            if oldest is not self and not oldest.transport.is_closing():
                oldest._cancel_read_timer()
                oldest.transport.close()
                oldest.connections.discard(oldest)  # counted out at once, not on the next turn
                return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read_timer()
        self._idle.pop(self, None)
        super().connection_lost(exc)

    # -- read timeout ------------------------------------------------------------------------
    def _arm_read_timer(self) -> None:
        self._cancel_read_timer()
        self._read_timer = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        cycle = self.cycle
        reading = cycle is None or cycle.response_complete or cycle.more_body
        if reading and not self.transport.is_closing():
            self.transport.close()  # the client took too long to send its request

    def on_message_complete(self) -> None:
        if self.cycle is not None and self.cycle.response_complete:
            self._arm_read_timer()  # a body drained after its answer: on to the next request
        else:
            self._cancel_read_timer()
        # What follows is the next request's head (counted from the next read on).
        self._in_head, self._head_size, self._line_size, self._tail = True, 0, None, b""
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._idle[self] = None
            self._arm_read_timer()

    # -- head size -----------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._in_head:
            error = self._head_error(data)
            if error is not None:
                self._cancel_read_timer()
                self.transport.write(_bad_request(error))
                self.transport.close()
                return
        super().data_received(data)

    def _head_error(self, data: bytes) -> EsError | None:
        """Netty's ``HttpObjectDecoder`` limits, checked on the bytes as they arrive."""
        seen = self._tail + data
        offset = self._head_size - len(self._tail)  # where ``seen`` starts in the head
        if self._line_size is None:
            line_end = seen.find(b"\r\n")
            if line_end >= 0:
                self._line_size = offset + line_end
            elif offset + len(seen) > MAX_INITIAL_LINE + 1:
                self._line_size = offset + len(seen)  # at least this long
        if self._line_size is not None and self._line_size > MAX_INITIAL_LINE:
            return EsError(
                "too_long_http_line_exception",
                f"An HTTP line is larger than {MAX_INITIAL_LINE} bytes.",
                400,
            )
        head_end = seen.find(b"\r\n\r\n")
        size = offset + (head_end + 4 if head_end >= 0 else len(seen))
        headers = size - (self._line_size or 0) - 2
        if headers > MAX_HEADER_SIZE:
            return EsError(
                "too_long_http_header_exception",
                f"HTTP header is larger than {MAX_HEADER_SIZE} bytes.",
                400,
            )
        if head_end >= 0:
            self._in_head = False  # the rest is body, until on_message_complete
            self._idle.pop(self, None)  # a request is under way: never evicted
        else:
            self._head_size = offset + len(seen)
            self._tail = seen[-3:]
        return None

    # -- upgrades ------------------------------------------------------------------------------
    def _should_upgrade(self) -> bool:
        return False  # Elasticsearch serves no WebSockets: an Upgrade header changes nothing

    def _unsupported_upgrade_warning(self) -> None:
        pass  # nothing worth a log line: the request is served as an ordinary one


def bounded_protocol(read_timeout: float) -> type[BoundedHttpProtocol]:
    """The protocol class for uvicorn's ``http=``, with this read timeout."""
    return type(
        "BoundedHttpProtocol",
        (BoundedHttpProtocol,),
        {"read_timeout": read_timeout, "max_connections": max_connections()},
    )
