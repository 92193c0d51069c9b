"""``GET /``: cluster information (ES RestMainAction, MainResponse)."""

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


ROUTES = [Route("GET", "/", cluster_info, "cluster:monitor/main")]
