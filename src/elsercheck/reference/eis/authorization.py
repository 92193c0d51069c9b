"""Elasticsearch's EIS authorization poller (ES ``AuthorizationPoller``): asks EIS which models
the cluster may use, first right after start, then every
``xpack.inference.elastic.authorization_request_interval``; an authorised ELSER makes the
preconfigured ``.elser-2-elastic`` appear (``storePreconfiguredModels``: only new endpoints are
stored).

Withdrawn authorization: up to 9.3 the endpoint stays (#123639 removed revocation; #136713:
"the endpoints will remain instead of being removed") and its inference fails at EIS; from 9.4
an endpoint EIS reports under ``removed_endpoints`` is deleted (#145224).
"""

from __future__ import annotations

import asyncio
import contextlib

from ...timing import Timing
from ..rules.elastic_service import ELSER_ENDPOINT_ID, preconfigured_elser
from ..rules.endpoint_config import EndpointConfig
from ..versions import EsVersion
from .upstream import EisUpstream


class AuthorizationPoller:
    """Polls the modelled EIS; adds (and from 9.4 removes) preconfigured endpoints in
    ``defaults`` (the server's preconfigured endpoints, by id)."""

    def __init__(
        self,
        upstream: EisUpstream,
        defaults: dict[str, EndpointConfig],
        timing: Timing,
        version: EsVersion,
        withdraw_at_poll: int | None = None,
    ) -> None:
        self.upstream = upstream
        self.defaults = defaults
        self.timing = timing
        self.version = version
        self.withdraw_at_poll = withdraw_at_poll  # server setting: EIS stops authorising
        self.polls = 0
        self._task: asyncio.Task[None] | None = None

    def poll(self) -> None:
        """One authorization request and what ES does with the answer."""
        self.polls += 1
        if self.withdraw_at_poll is not None and self.polls >= self.withdraw_at_poll:
            self.upstream.authorized = False
        if self.upstream.authorized:
            self.defaults.setdefault(ELSER_ENDPOINT_ID, preconfigured_elser())
        elif self.version.has("eis-removed-endpoints-deleted"):  # #145224
            self.defaults.pop(ELSER_ENDPOINT_ID, None)

    @property
    def authorized_elser(self) -> bool:
        """``ModelRegistry.containsDefaultConfigId(.elser-2-elastic)`` (#134708's test)."""
        return ELSER_ENDPOINT_ID in self.defaults

    async def _run(self) -> None:
        await asyncio.sleep(self.timing.eis_first_authorization_seconds)
        while True:
            self.poll()
            await asyncio.sleep(self.timing.eis_authorization_interval_seconds)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
