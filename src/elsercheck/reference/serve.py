"""Running the reference server: in the foreground (``elsercheck serve``) or embedded in a
background thread on a free loopback port (``elsercheck run``, tests)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from .app import ReferenceServer
from .breakage.faults import ConnectionDropped
from .config import ServerConfig
from .http_protocol import DEFAULT_READ_TIMEOUT, bounded_protocol
from .tls import TlsFiles, generate

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ServerStartError(Exception):
    pass


class _QuietDroppedAnswers(logging.Filter):
    """The dropped-connections fault breaks answers on purpose: not an error worth a trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


IDLE_KEEP_ALIVE_S = 600  # long enough for any pooled connection of a bounded run


def _uvicorn_config(
    app: ASGIApp, host: str, port: int, tls: TlsFiles | None, log_level: str,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> uvicorn.Config:  # fmt: skip
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_level=log_level,
        access_log=False,
        # Elasticsearch's HTTP limits, a read timeout and a bound on open connections
        # (http_protocol.py); no WebSockets, as in Elasticsearch.
        http=bounded_protocol(read_timeout),
        ws="none",
        ssl_certfile=str(tls.server_cert) if tls else None,
        ssl_keyfile=str(tls.server_key) if tls else None,
        timeout_graceful_shutdown=2,
        # Elasticsearch keeps idle HTTP connections open (http.read_timeout defaults to none);
        # uvicorn's 5 s keep-alive closed pooled connections just as load clients reused them.
        timeout_keep_alive=IDLE_KEEP_ALIVE_S,
        # ES DefaultRestChannel.sendResponse sets the handler's headers, X-Opaque-Id, trace
        # headers, Content-Type, Content-Length, Set-Cookie and Connection: never `server` or
        # `date`, which uvicorn adds by default
        server_header=False,
        date_header=False,
    )
    errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDroppedAnswers) for f in errors.filters):
        errors.addFilter(_QuietDroppedAnswers())
    return config


def url_for(host: str, port: int, tls: bool) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def shown_password(password: str) -> str:
    """The password as the banner may show it: never one the operator supplied."""
    # Only a default or generated password is news to the operator; their own stays unprinted.
    if password == os.environ.get("ELASTIC_PASSWORD"):
        return "the password in ELASTIC_PASSWORD"
    return password


def bound_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (0: a free port) for uvicorn to listen on.

    Bound here, in the serving process, so that a port in use is a one-line
    ``ServerStartError`` before the banner, and the banner shows the port actually bound.
    ``SO_REUSEADDR`` as uvicorn sets it: without it, a port whose last connections are in
    TIME_WAIT (a restart after the server closed one) cannot be bound for about a minute.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)  # socket.gaierror for an unknown host has both
        raise ServerStartError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def run_foreground(config: ServerConfig, host: str, port: int, tls_dir: Path | None) -> None:
    """Serve until Ctrl-C or SIGTERM (uvicorn handles both and shuts down cleanly)."""
    sock = bound_socket(host, port)
    try:
        tls = generate(tls_dir) if config.tls and tls_dir else None
        port = sock.getsockname()[1]
        app = ReferenceServer(config)
        server = uvicorn.Server(
            _uvicorn_config(app, host, port, tls, "warning", config.read_timeout_seconds)
        )
    except BaseException:
        sock.close()
        raise

    # uvicorn shuts down cleanly on SIGINT/SIGTERM, then re-raises the signal to the handler
    # that was installed before it. That handler asks uvicorn to exit: a no-op once uvicorn has
    # stopped (a requested stop exits 0), and a stop requested before uvicorn installed its own
    # handlers is kept, not swallowed: uvicorn's main loop exits as soon as it starts.
    def stop(signum: int, frame: object) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        # Listening before the banner (and after the stop handler): a client that connects as soon
        # as it reads the URL waits in the backlog until uvicorn accepts, instead of being refused.
        sock.listen(2048)
        url = url_for(host, port, config.tls)
        print(f"elsercheck reference server at {url}")
        print(f"  {config.modelled()}")
        if config.security:
            print(f"  credentials: elastic / {shown_password(config.password)}  (Basic auth)")
            print("  API keys: POST /_security/api_key")
        else:
            print("  security: off")
        if tls:
            print(f"  CA certificate: {tls.ca_cert}")
        print("  Ctrl-C to stop", flush=True)
        server.run(sockets=[sock])  # uvicorn listens on it and closes it when it stops
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("stopped", flush=True)


class ThreadedServer:
    """An ASGI app on uvicorn in a background thread, on a free port unless one is given."""

    def __init__(
        self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0,
        tls: TlsFiles | None = None, read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:  # fmt: skip
        self.app = app
        self.host = host
        self.port = port
        self.tls = tls
        self._server = uvicorn.Server(_uvicorn_config(app, host, port, tls, "error", read_timeout))
        self._server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._run, name="elsercheck-server", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve())
        except BaseException as exc:  # reported by start()
            self._error = exc

    @property
    def url(self) -> str:
        return url_for(self.host, self.port, self.tls is not None)

    def start(self, timeout: float = 15.0) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise ServerStartError(f"server failed to start: {self._error}")
            if time.monotonic() > deadline:
                raise ServerStartError("server did not start in time")
            time.sleep(0.01)
        sockets = self._server.servers[0].sockets
        self.port = sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmbeddedServer(ThreadedServer):
    """The reference server in a background thread: ``with EmbeddedServer(cfg) as s: s.url``."""

    def __init__(
        self,
        config: ServerConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_dir: Path | None = None,
    ) -> None:
        self.config = config or ServerConfig()
        tls = generate(tls_dir) if self.config.tls and tls_dir else None
        if self.config.tls and tls is None:
            raise ServerStartError("TLS needs a directory for its certificate files")
        super().__init__(
            ReferenceServer(self.config), host, port, tls, self.config.read_timeout_seconds
        )

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self
