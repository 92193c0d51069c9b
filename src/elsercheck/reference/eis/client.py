"""Elasticsearch's side of an ``elastic`` endpoint's inference.

* No client-side rate limiter: #133845 (9.2) disabled Elasticsearch's own rate limiting of EIS
  endpoints (``RateLimitSettings.DISABLED_INSTANCE``); EIS's limits answer instead.
* ``ElasticInferenceServiceSparseEmbeddingsModel`` batches: the REST inference API sends its
  whole input in one request (``doInfer``); semantic_text ingest sends chunks in batches of
  ``max_batch_size`` (default 16, #132646, #141185: ``EmbeddingRequestChunker``).
* ``RetryingHttpSender``: 429, 500 and 503 are retried (``ElasticInferenceServiceResponseHandler
  .buildFailureStatusCodeException``), at most ``MAX_RETRIES`` = 3 attempts in all
  (``InternalRetrier.shouldRetry``: ``retryCount``, counted in ``tryAction``, ``>= 3`` stops),
  as a ``RetryableAction``: the delay bound starts at ``xpack.inference.http.retry.initial_delay``
  (1 s) and doubles up to ``max_delay_bound`` (5 s); no retry once
  ``xpack.inference.http.retry.timeout`` (30 s) has elapsed at a failure (``RetrySettings``
  defaults; ES draws each delay in the upper half of the bound, here the bound itself:
  deterministic). Store ids: RetryingHttpSender 51800775209 (and the older 268014938, same
  limit), RetrySettings 1551353381, RetryableAction 33896880096. Then the last error is answered:
  ``BaseResponseHandler.constructErrorMessage`` (``Received a rate limit status code for request
  from inference entity id [..] status [429]. Error message: [..]``), status
  ``toRestStatus`` (the upstream's below 500, else 400), ``Retry-After`` copied from EIS's answer
  (``addRetryAfterHeaderIfPresent``) from 9.5 (#147985, in the 9.5.0 release notes; row
  ``eis-retry-after-header``): 9.2 … 9.4 answer without it. 413 is ``ContentTooLargeException``,
  400/405 and others are not retried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ...timing import Timing
from ..mlnode.sparse_encoder import SparseResult, token_count
from ..rules.elastic_service import EisServiceSettings
from ..rules.endpoint_config import EndpointConfig
from ..wire.errors import EsError, status_exception
from .upstream import EisUpstream, UpstreamError

RETRIED = (429, 500, 503)
MAX_ATTEMPTS = 3  # RetryingHttpSender.MAX_RETRIES
# BaseResponseHandler constants, by EIS status (ElasticInferenceServiceResponseHandler)
PREFIX = {
    500: "Received a server error status code",
    503: "Received a server error status code",
    400: "Received a bad request status code",
    405: "Received a method not allowed status code",
    413: "Received a content too large status code",
    429: "Received a rate limit status code",
}
UNSUCCESSFUL = "Received an unsuccessful status code"
# SimpleServiceIntegrationValidator: the PUT's validation call failed
VALIDATION_FAILED = (
    "Could not complete inference endpoint creation as validation call to service threw an "
    "exception."
)

Sleep = Callable[[float], Awaitable[Any]]


def es_error(inference_id: str, error: UpstreamError, *, drop_retry_after: bool = False) -> EsError:
    """``BaseResponseHandler.buildError`` + ``addRetryAfterHeaderIfPresent``."""
    prefix = PREFIX.get(error.status, UNSUCCESSFUL)
    reason = (f"{prefix} for request from inference entity id [{inference_id}] status "
              f"[{error.status}]. Error message: [{error.message}]")  # fmt: skip
    status = error.status if error.status < 500 else 400  # BaseResponseHandler.toRestStatus
    failure = status_exception(reason, status)
    if error.retry_after is not None and not drop_retry_after:
        failure.http_headers["Retry-After"] = str(error.retry_after)
    return failure


class EisClient:
    """Sends an ``elastic`` endpoint's inputs to EIS as Elasticsearch does."""

    def __init__(
        self,
        upstream: EisUpstream,
        timing: Timing,
        *,
        drop_retry_after: bool = False,
        propagate_retry_after: bool = True,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstream = upstream
        self.timing = timing
        # the deliberate defect eis-429-without-retry-after, or a version before #147985 (9.5)
        self.drop_retry_after = drop_retry_after or not propagate_retry_after
        self.sleep = sleep
        self.clock = clock

    async def _send(
        self, config: EndpointConfig, texts: list[str], usage: str
    ) -> list[SparseResult]:
        """One request, retried as ``RetryingHttpSender`` does."""
        timing = self.timing
        delay = timing.eis_retry_initial_delay_seconds
        deadline = self.clock() + timing.eis_retry_timeout_seconds
        attempts = 0
        while True:
            attempts += 1
            tokens = sum(token_count(t) for t in texts)
            await self.sleep(timing.eis_round_trip_seconds + timing.eis_per_token_seconds * tokens)
            try:
                return self.upstream.sparse_embed(config.service_settings.model_id, texts, usage)
            except UpstreamError as error:
                last = (error.status not in RETRIED or attempts >= MAX_ATTEMPTS
                        or self.clock() >= deadline)  # fmt: skip
                if last:
                    raise es_error(config.inference_id, error,
                                   drop_retry_after=self.drop_retry_after) from None  # fmt: skip
            await self.sleep(delay)
            delay = min(delay * 2, timing.eis_retry_max_delay_seconds)

    async def infer(
        self, config: EndpointConfig, texts: list[str], usage: str
    ) -> list[SparseResult]:
        """The REST API (``unspecified``) and semantic queries (``search``): one request;
        semantic_text ingest (``ingest``): batches of ``max_batch_size``, one after the other."""
        if usage != "ingest":
            return await self._send(config, texts, usage)
        settings = config.service_settings
        assert isinstance(settings, EisServiceSettings)
        size = settings.batch_size
        results: list[SparseResult] = []
        for start in range(0, len(texts), size):
            results.extend(await self._send(config, texts[start : start + size], usage))
        return results

    async def validate(self, config: EndpointConfig) -> None:
        """The PUT's validation call (``SimpleServiceIntegrationValidator``: one inference on a
        test input); any failure is a 400 naming it, the upstream's error as the cause."""
        try:
            await self._send(config, ["how big"], "unspecified")
        except EsError as cause:
            raise EsError("status_exception", VALIDATION_FAILED, 400, caused_by=cause) from None
