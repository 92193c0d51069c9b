"""``service: elastic`` (the Elastic Inference Service, EIS): PUT validation and the
preconfigured ``.elser-2-elastic`` endpoint, for ``sparse_embedding`` (ELSER) only.

ES ``ElasticInferenceService.parseRequestConfig``: ``service_settings`` required, task settings
must be empty in a request (``ElasticInferenceServiceSettingsUtils
.ensureEmptyTaskSettingsInRequestContext``), chunking settings for the embedding task types,
then ``ElasticInferenceServiceSparseEmbeddingsServiceSettings.fromMap`` (errors accumulate:
``model_id`` required, ``max_input_tokens`` positive, ``max_batch_size`` in [1, 1024] (#141185,
#141516), and no ``rate_limit`` at all: #133845 (merged 2025-08-29, so in 9.2, the first version
modelled with EIS) disabled Elasticsearch's own rate limiting of EIS endpoints
(``RateLimitSettings.rejectRateLimitFieldForRequestContext``: a validation error in a request;
``RateLimitSettings.DISABLED_INSTANCE``, which renders nothing), then ``throwIfNotEmptyMap`` of
the body and of the service settings:
``num_allocations``, ``num_threads``, ``adaptive_allocations`` are unknown to this service.
Whether the model exists is EIS's answer to the PUT's validation call
(``SimpleServiceIntegrationValidator``), see ``eis/client.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..breakage.defects import EIS_ACCEPTS_ALLOCATIONS
from ..versions import EsVersion
from ..wire.errors import EsError, status_exception, validation_failed
from . import chunking
from . import service_settings as ss
from . import settings_parsing as sp
from .endpoint_config import EndpointConfig, pop_map, raise_if_leftover

SERVICE = "elastic"
SCOPE = "service_settings"
# InternalPreconfiguredEndpoints: DEFAULT_ELSER_ENDPOINT_ID_V2, DEFAULT_ELSER_2_MODEL_ID
ELSER_ENDPOINT_ID = ".elser-2-elastic"
ELSER_MODEL_ID = "elser_model_2"
# InternalPreconfiguredEndpoints.DEFAULT_JINA_V5_ENDPOINT_ID (9.4 semantic_text default, #142980)
JINA_V5_ENDPOINT_ID = ".jina-embeddings-v5-text-small"
DEFAULT_MAX_BATCH_SIZE = 16  # #132646 (EIS sparse batches of 16); setting default #141185
MAX_BATCH_SIZE_UPPER_BOUND = 1024  # ElasticInferenceServiceSettingsUtils, #141516

MESSAGES = {
    "not_modelled_task": (
        "The reference server models the [elastic] service for task type [sparse_embedding] "
        "only, not [{task_type}]"
    ),
    "not_modelled_update": "The reference server does not model _update of [elastic] endpoints",
    # RateLimitSettings.rejectRateLimitFieldForRequestContext (#133845)
    "rate_limit_not_permitted": (
        "[service_settings] rate limit settings are not permitted for service [elastic] and task "
        "type [{task_type}]"
    ),
}


@dataclass(frozen=True)
class EisServiceSettings(ss.ServiceSettings):
    """Sparse-embedding settings of an ``elastic`` endpoint, rendered as
    ``toXContentFragmentOfExposedFields``: model_id, max_input_tokens, max_batch_size (the
    disabled rate limit renders nothing, #133845). (A ServiceSettings with no deployment:
    num_allocations None, num_threads 0.)"""

    max_input_tokens: int | None = None
    max_batch_size: int | None = None

    def to_json(self, live_allocations: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"model_id": self.model_id}
        if self.max_input_tokens is not None:
            out["max_input_tokens"] = self.max_input_tokens
        if self.max_batch_size is not None:
            out["max_batch_size"] = self.max_batch_size
        return out

    @property
    def batch_size(self) -> int:
        return self.max_batch_size or DEFAULT_MAX_BATCH_SIZE


def settings(model_id: str, **extra: Any) -> EisServiceSettings:
    return EisServiceSettings(None, 0, model_id, **extra)


def preconfigured_elser() -> EndpointConfig:
    """``.elser-2-elastic`` as the authorization poller stores it (#129922: ELSER's sentence
    chunking 250/1; no rate limit, #133845)."""
    return EndpointConfig(
        ELSER_ENDPOINT_ID, "sparse_embedding", settings(ELSER_MODEL_ID),
        dict(chunking.DEFAULT), service=SERVICE,
    )  # fmt: skip


def parse_put(
    inference_id: str,
    task_type: str,
    body: dict[str, Any],
    body_size: int,
    version: EsVersion,
    defects: frozenset[str] = frozenset(),
) -> EndpointConfig:
    """The rest of the PUT after ``service`` was popped (``TransportPutInferenceModelAction``
    resolved the task type and the service)."""
    service_map, service_size = pop_map(body, "service_settings", required=True)
    task_map, task_size = pop_map(body, "task_settings", required=False)
    chunking_settings = None
    if task_type in ("sparse_embedding", "text_embedding"):
        chunking_settings = chunking.parse(body.pop("chunking_settings", None), version)
    if task_type != "sparse_embedding":  # chat_completion, text_embedding, rerank on EIS
        raise status_exception(MESSAGES["not_modelled_task"].format(task_type=task_type), 501)
    raise_if_leftover(task_map, task_size, SERVICE)  # ensureEmptyTaskSettingsInRequestContext
    errors: list[str] = []
    model_id = sp.remove_as_type(service_map, "model_id", "str", errors)
    if model_id is None and not errors:  # ServiceUtils.extractRequiredString
        errors.append(sp.MESSAGES["required"].format(scope=SCOPE, name="model_id"))
    elif model_id == "":
        errors.append(sp.MESSAGES["empty_string"].format(scope=SCOPE, name="model_id"))
        model_id = None
    max_input_tokens = sp.optional_positive_int(service_map, "max_input_tokens", SCOPE, errors)
    # ElasticInferenceServiceSettingsUtils.parseMaxBatchSize:
    # extractOptionalPositiveIntegerLessThanOrEqualToMax (9.3+ InferenceUtils wording)
    max_batch = sp.optional_positive_int(service_map, "max_batch_size", SCOPE, errors)
    max_batch = sp.bounded(max_batch, "max_batch_size", SCOPE, errors, None,
                           MAX_BATCH_SIZE_UPPER_BOUND,
                           article=not version.has("chunk-message-wording"))  # fmt: skip
    if "rate_limit" in service_map:  # rejectRateLimitFieldForRequestContext (#133845)
        errors.append(MESSAGES["rate_limit_not_permitted"].format(task_type=task_type))
    if errors:
        raise validation_failed(errors)
    # ElasticInferenceService.parseRequestConfig: throwIfNotEmptyMap(config), (serviceSettings)
    raise_if_leftover(body, body_size, SERVICE)
    if EIS_ACCEPTS_ALLOCATIONS in defects:  # deliberate defect: accept and ignore them
        for key in ("num_allocations", "num_threads", "adaptive_allocations"):
            service_map.pop(key, None)
    raise_if_leftover(service_map, service_size, SERVICE)
    assert model_id is not None
    parsed = settings(model_id, max_input_tokens=max_input_tokens, max_batch_size=max_batch)
    return EndpointConfig(inference_id, task_type, parsed, chunking_settings, service=SERVICE)


def refuse_update(config: EndpointConfig) -> EsError | None:
    """``_update`` of an ``elastic`` endpoint is not modelled: say so."""
    if config.service != SERVICE:
        return None
    return status_exception(MESSAGES["not_modelled_update"], 501)
