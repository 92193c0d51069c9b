"""``GET /``: cluster information (ES RestMainAction, MainResponse); and the reference server's
own diagnostics, ``GET /_elsercheck/lag`` (no Elasticsearch API: see reference/loop_lag.py)."""

from __future__ import annotations

from ..wire.router import Route
from .call import Call, Reply


async def cluster_info(call: Call) -> Reply:
    call.authorize()
    config = call.state.config
    return Reply(
        {
            "name": config.node_name,
            "cluster_name": config.cluster_name,
            "cluster_uuid": call.state.cluster_uuid,
            "version": config.es_version.release.info(),
            "tagline": "You Know, for Search",
        }
    )


async def loop_lag(call: Call) -> Reply:
    """How far the simulation's event loop has fallen behind (cumulative counters)."""
    call.authorize()
    return Reply(call.state.lag.snapshot())


ROUTES = [
    Route("GET", "/", cluster_info, "cluster:monitor/main"),
    # Whoever may read the cluster's info may read its lag.
    Route("GET", "/_elsercheck/lag", loop_lag, "cluster:monitor/main"),
]
