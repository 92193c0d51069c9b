"""The embedded reference server: a faithful stand-in for Elasticsearch's inference API.

Its public face is below; the wings behind it (see ARCHITECTURE.md) are:

* ``wire/`` — what every request meets: error envelope, router, JSON bodies, auth;
* ``api/`` — the REST handlers, one module per API family;
* ``rules/`` — the request rules: ids, service settings, chunking, the endpoint's configuration;
* ``mlnode/`` — the simulated ML node: deployments, queues, the adaptive scaler, the encoder;
* ``breakage/`` — what can be broken on purpose: defects and faults;
* ``state.py`` (the composition root), ``app.py`` (ASGI), ``serve.py`` (running it),
  ``http_protocol.py`` (HTTP limits and read timeouts per connection),
  ``config.py`` (settings; the timing profiles are :mod:`elsercheck.timing`, shared with the
  load plans).

Names are loaded on first use, so that importing a light wing (``versions``, as every
command's ``--version`` option does) does not pull in Starlette and uvicorn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import ReferenceServer
    from .config import ServerConfig
    from .serve import EmbeddedServer, ServerStartError, ThreadedServer, run_foreground

_EXPORTS = {
    "ReferenceServer": "app",
    "ServerConfig": "config",
    "EmbeddedServer": "serve",
    "ServerStartError": "serve",
    "ThreadedServer": "serve",
    "run_foreground": "serve",
}
__all__ = [
    "EmbeddedServer",
    "ReferenceServer",
    "ServerConfig",
    "ServerStartError",
    "ThreadedServer",
    "run_foreground",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
