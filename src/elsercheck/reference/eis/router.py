"""Which service answers an endpoint's inference: the ML node (``elasticsearch``) or EIS
(``elastic``), as ES's ``InferenceServiceRegistry`` picks the endpoint's service."""

from __future__ import annotations

from ..mlnode.inference_service import InferenceService
from ..mlnode.sparse_encoder import SparseResult
from ..rules.elastic_service import SERVICE as ELASTIC
from ..rules.endpoint_config import EndpointConfig
from .client import EisClient


class EmbeddingRouter:
    def __init__(self, ml: InferenceService, eis: EisClient | None) -> None:
        self.ml = ml
        self.eis = eis

    async def infer(
        self,
        config: EndpointConfig,
        texts: list[str],
        timeout: float | None,
        usage: str = "unspecified",
    ) -> list[SparseResult]:
        """``usage``: ``search`` (semantic queries), ``ingest`` (semantic_text ingest) or
        ``unspecified`` (the REST inference API); only EIS distinguishes them."""
        if config.service == ELASTIC:
            assert self.eis is not None  # elastic endpoints exist only with EIS
            return await self.eis.infer(config, texts, usage)
        return await self.ml.infer(config, texts, timeout)
