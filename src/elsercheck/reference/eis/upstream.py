"""The modelled Elastic Inference Service: whether it authorises this cluster, its
sliding-window limits per usage context, and its sparse embeddings (the ML node's deterministic
ELSER stand-in, so EIS and ML-node endpoints agree).

Limits: Elastic's documented EIS rate limits (config.EisLimits): requests and tokens per minute
in a sliding window, "whichever limit is reached first", answered with 429 and ``Retry-After``
"until the sliding window moves on". The window is a minute of cluster time (``speedup`` of the
timing profile shortens it with every other duration).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from ..config import EisLimits
from ..mlnode.sparse_encoder import SparseResult, encode, token_count

WINDOW_SECONDS = 60.0
USAGE_CONTEXTS = ("search", "ingest", "unspecified")
# The REST inference API sends no input type (InputType.UNSPECIFIED ->
# ElasticInferenceServiceUsageContext.UNSPECIFIED); Elastic documents token limits for search
# and ingest only: unspecified is counted against ingest here (a modelling choice).
TOKEN_BUCKET = {"search": "search", "ingest": "ingest", "unspecified": "ingest"}
KNOWN_MODELS = ("elser_model_2",)


class SlidingWindow:
    """At most ``limit`` units within any ``window`` seconds (a log of (time, amount))."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._log: deque[tuple[float, int]] = deque()
        self._used = 0

    def _expire(self, now: float) -> None:
        while self._log and self._log[0][0] <= now - self.window:
            self._used -= self._log.popleft()[1]

    def retry_after(self, amount: int) -> float | None:
        """``None`` if ``amount`` fits now, else seconds until enough has left the window."""
        now = self.clock()
        self._expire(now)
        if self._used + amount <= self.limit:
            return None
        freed, needed = 0, self._used + amount - self.limit
        for at, used in self._log:
            freed += used
            if freed >= needed:
                return max(at + self.window - now, 0.0)
        return self.window  # more than the whole limit at once: never fits; a window's wait

    def take(self, amount: int) -> None:
        now = self.clock()
        self._log.append((now, amount))
        self._used += amount


@dataclass
class UpstreamError(Exception):
    """A non-200 answer of EIS: status, its error body, ``Retry-After`` seconds if any."""

    status: int
    message: str
    retry_after: int | None = None


class EisUpstream:
    """What EIS answers one request of ES."""

    def __init__(
        self, limits: EisLimits, speedup: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self.speedup = speedup
        window = WINDOW_SECONDS / speedup
        self.authorized = True
        self.requests = {u: SlidingWindow(limits.requests_per_minute, window, clock)
                         for u in ("search", "ingest")}  # fmt: skip
        self.tokens = {
            "search": SlidingWindow(limits.search_tokens_per_minute, window, clock),
            "ingest": SlidingWindow(limits.ingest_tokens_per_minute, window, clock),
        }
        self.calls: list[tuple[str, int]] = []  # (usage context, inputs) per accepted request

    def sparse_embed(self, model_id: str, texts: list[str], usage: str) -> list[SparseResult]:
        """One ``/sparse-text-embedding`` request; raises :class:`UpstreamError`."""
        if not self.authorized:
            raise UpstreamError(403, "The cluster is not authorized to use the Elastic Inference "
                                "Service")  # fmt: skip
        size = len(orjson.dumps({"input": texts, "model": model_id, "usage_context": usage}))
        if size > self.limits.max_request_bytes:
            raise UpstreamError(413, "Request entity too large")
        if model_id not in KNOWN_MODELS:
            raise UpstreamError(400, f"Model [{model_id}] is not available")
        bucket = TOKEN_BUCKET[usage]
        tokens = sum(token_count(t) for t in texts)
        waits = [w for w in (self.requests[bucket].retry_after(1),
                             self.tokens[bucket].retry_after(tokens)) if w is not None]  # fmt: skip
        if waits:
            # Retry-After in whole seconds of cluster time (RFC 9110 delay-seconds).
            seconds = max(1, math.ceil(max(waits) * self.speedup))
            raise UpstreamError(429, "Rate limit exceeded", seconds)
        self.requests[bucket].take(1)
        self.tokens[bucket].take(tokens)
        self.calls.append((usage, len(texts)))
        return [encode(t) for t in texts]
