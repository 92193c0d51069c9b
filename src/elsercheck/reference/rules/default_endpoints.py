"""The preconfigured ``elasticsearch``-service endpoints every cluster lists.

ES ``ElasticsearchInternalService.defaultConfigs(useLinuxOptimized)`` (8.19 → 9.5): ELSER
(``ElserInternalServiceSettings.defaultEndpointSettings``), multilingual E5 small
(``MultilingualE5SmallInternalServiceSettings.defaultEndpointSettings``) and the Elastic reranker
(``ElasticRerankerServiceSettings.defaultEndpointSettings``, task settings
``RerankTaskSettings.DEFAULT_SETTINGS``): one thread, adaptive allocations 0–32, sentence
chunking 250/1 for the two embedding models. EIS endpoints (``.elser-2-elastic`` …, and the
9.4 preconfigured ``embedding`` endpoints of #141788, which are
``ElasticInferenceServiceAuthorizationModel`` endpoints) exist only on clusters the Elastic
Inference Service authorises and are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .chunking import DEFAULT as DEFAULT_CHUNKING
from .endpoint_config import EndpointConfig
from .ids import DEFAULT_ELSER_ID
from .service_settings import ELSER_V2_PORTABLE, ELSER_V2_X86, AdaptiveAllocations, ServiceSettings

DEFAULT_E5_ID = ".multilingual-e5-small-elasticsearch"
DEFAULT_RERANK_ID = ".rerank-v1-elasticsearch"
E5_PORTABLE = ".multilingual-e5-small"
E5_X86 = ".multilingual-e5-small_linux-x86_64"
RERANKER = ".rerank-v1"
# defaultEndpointSettings: AdaptiveAllocationsSettings(TRUE, 0, 32)
DEFAULT_ADAPTIVE = AdaptiveAllocations(True, 0, 32)


@dataclass(frozen=True)
class DefaultEndpointConfig(EndpointConfig):
    """A preconfigured endpoint; the reranker carries non-empty task settings, which
    ``ModelConfigurations.toFilteredXContent`` prints after ``service_settings``."""

    task_settings: dict[str, Any] = field(default_factory=dict)

    def to_json(self, live_allocations: int | None = None) -> dict[str, Any]:
        out = super().to_json(live_allocations)
        if not self.task_settings:
            return out
        ordered: dict[str, Any] = {}
        for key, value in out.items():
            ordered[key] = value
            if key == "service_settings":
                ordered["task_settings"] = dict(self.task_settings)
        return ordered


def _settings(model_id: str) -> ServiceSettings:
    return ServiceSettings(None, 1, model_id, DEFAULT_ADAPTIVE)


def default_endpoints(platform_x86: bool) -> dict[str, DefaultEndpointConfig]:
    """The three preconfigured endpoints, by id (platform variants as ``useLinuxOptimized``)."""
    configs = (
        DefaultEndpointConfig(
            DEFAULT_ELSER_ID, "sparse_embedding",
            _settings(ELSER_V2_X86 if platform_x86 else ELSER_V2_PORTABLE), dict(DEFAULT_CHUNKING),
        ),
        DefaultEndpointConfig(
            DEFAULT_E5_ID, "text_embedding",
            _settings(E5_X86 if platform_x86 else E5_PORTABLE), dict(DEFAULT_CHUNKING),
        ),
        DefaultEndpointConfig(
            DEFAULT_RERANK_ID, "rerank", _settings(RERANKER), None,
            task_settings={"return_documents": True},
        ),
    )  # fmt: skip
    return {c.inference_id: c for c in configs}
