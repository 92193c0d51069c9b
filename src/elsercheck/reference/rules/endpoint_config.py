"""An inference endpoint's configuration: parsed from a PUT body, rendered as ES renders it.

The parse follows ``TransportPutInferenceModelAction.masterOperation`` and
``ElasticsearchInternalService.parseRequestConfig`` / ``elserCase`` in order
(docs/es-source-findings.md §A1, steps 4–21); the first failing step wins, except
``service_settings`` value errors, which accumulate into one ``validation_exception``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..breakage.defects import ELSER_TEXT_EMBEDDING_ACCEPTED
from ..versions import EsVersion
from ..wire.errors import EsError, status_exception
from ..wire.javafmt import java_map, java_str, parsed_map_capacity
from . import chunking, ids
from . import service_settings as ss

SERVICE = "elasticsearch"
ACCEPTED_SERVICES = ("elser", "elasticsearch")
# Every other service of Elastic's list answers as a service this cluster does not have: the
# reference server runs no external providers. Elasticsearch says the same for a service
# whose plugin is absent.
MESSAGES = {
    "missing_service": "Inference endpoint configuration is missing the [service] setting",
    "unknown_service": "Unknown service [{name}]",
    "missing_service_settings": "Missing required field [service_settings]",
    # ServiceUtils.unknownSettingsError. 8.16-line code says "Model configuration contains
    # settings"; the short form is in the 9.1/9.2-line ServiceUtils (ids 222638800, 37081028159)
    # next to the custom service's overload "Configuration contains unknown settings [..] while
    # parsing field [..]" (CustomServiceSettings tests). Inferred, not read in a diff: the
    # rename came with the custom service, #127939 (May 2025), back-ported to 8.19 as #128644,
    # so 8.19 and 9.1 (both branched in July 2025) say the short form, as every modelled
    # version does here (docs/es-source-findings.md, session 8).
    "unknown_settings": (
        "Configuration contains settings [{settings}] unknown to the [{service}] service"
    ),
    # Messages.INFERENCE_ID_MATCHES_EXISTING_MODEL_IDS_BUT_MUST_NOT (ModelIdUniquenessIT).
    "id_matches_deployment": (
        "Inference endpoint IDs must be unique. Requested inference endpoint ID [{id}] matches "
        "existing trained model ID(s) but must not."
    ),
    "unsupported_task_type": "The [{service}] service does not support task type [{task_type}]",
    "elser_deprecated": (
        "The [elser] service is deprecated and will be removed in a future release. Use the "
        "[elasticsearch] service instead, with [model_id] set to [{model_id}] in the "
        "[service_settings]"
    ),
    "null_model_id_deprecated": (
        "Putting elasticsearch service inference endpoints (including elser service) without a "
        "model_id field is deprecated and will be removed in a future release. Please specify a "
        "model_id field."
    ),
    "deployment_not_found": "Cannot find deployment [{id}]",
    # TrainedModelDeploymentTask.infer: the deployment's config does not match the update.
    "model_task_mismatch": (
        "Trained model [{model_id}] is configured for task [text_expansion] but called with task "
        "[{task}]"
    ),
    "deployment_model_mismatch": (
        "Deployment [{id}] uses model [{actual}] which does not match the model [{given}] in the "
        "request."
    ),
}


@dataclass(frozen=True)
class EndpointConfig:
    inference_id: str
    task_type: str
    service_settings: ss.ServiceSettings
    chunking_settings: dict[str, Any] | None
    service: str = SERVICE

    def to_json(self, live_allocations: int | None = None) -> dict[str, Any]:
        """``ModelConfigurations.toFilteredXContent`` key order; empty task_settings omitted."""
        out: dict[str, Any] = {
            "inference_id": self.inference_id,
            "task_type": self.task_type,
            "service": self.service,
            "service_settings": self.service_settings.to_json(live_allocations),
        }
        if self.chunking_settings is not None:
            out["chunking_settings"] = dict(self.chunking_settings)
        return out

    @property
    def deployment_id(self) -> str:
        return self.service_settings.deployment_id or self.inference_id

    def with_settings(self, settings: ss.ServiceSettings) -> EndpointConfig:
        return replace(self, service_settings=settings)


@dataclass
class ParsedPut:
    config: EndpointConfig
    warnings: list[str]


def pop_map(body: dict[str, Any], key: str, required: bool) -> tuple[dict[str, Any], int]:
    """The map under ``key`` (a copy) and its size as parsed (for HashMap order); every
    service's parser reads its settings maps with it (``ServiceUtils.removeFromMapOrThrowIfNull``,
    ``removeFromMapOrDefaultEmpty``)."""
    value = body.pop(key, None)
    if value is None:
        if required:
            raise status_exception(MESSAGES["missing_service_settings"])
        return {}, 0
    if not isinstance(value, dict):
        # Elasticsearch fails a Java cast here (a 500); a 400 naming the field serves users better.
        raise status_exception(
            f"field [{key}] is not of the expected type. The value [{java_str(value)}] cannot be "
            "converted to a [Map]"
        )
    return dict(value), len(value)


def raise_if_leftover(
    settings: dict[str, Any], parsed_size: int | None = None, service: str = SERVICE
) -> None:
    """``throwIfNotEmptyMap(map, service)``: settings nobody consumed are unknown to the service.

    The map is the parser's HashMap with keys removed: it prints in the iteration order of a
    table sized for ``parsed_size`` keys (the size the parser built it with)."""
    if settings:
        capacity = parsed_map_capacity(len(settings) if parsed_size is None else parsed_size)
        raise status_exception(
            MESSAGES["unknown_settings"].format(
                settings=java_map(settings, capacity), service=service
            )
        )


# Task types whose chunking_settings parseRequestConfig reads (TEXT_EMBEDDING, SPARSE_EMBEDDING).
CHUNKED_TASK_TYPES = ("sparse_embedding", "text_embedding")


def parse_put(
    inference_id: str,
    path_task_type: str | None,
    raw_body: dict[str, Any],
    *,
    version: EsVersion,
    defects: frozenset[str],
    platform_x86: bool,
    find_deployment: Callable[[str], ss.ServiceSettings | None],
    has_assignment: Callable[[str], bool],
) -> ParsedPut:
    """Validate a PUT body after the id checks; return the config to store.

    Steps as numbered in docs/es-source-findings.md §A1 (9.1-line source)."""
    body = dict(raw_body)
    body_size = len(raw_body)
    # 4: ServiceUtils.resolveTaskType(url, (String) body.remove("task_type"))
    task_type = ids.resolve_task_type(path_task_type, body.pop("task_type", None), version)
    # 5, 7: masterOperation: service present, then known (licence, step 6, is not modelled)
    service = body.pop("service", None)
    if service is None:
        raise status_exception(MESSAGES["missing_service"])
    if service not in ACCEPTED_SERVICES:
        raise status_exception(MESSAGES["unknown_service"].format(name=java_str(service)))
    # 9: TrainedModelAssignmentUtils.modelAssignments(id) non-empty — before the body is parsed
    if has_assignment(inference_id):
        raise status_exception(MESSAGES["id_matches_deployment"].format(id=inference_id))
    # 11, 11a: parseRequestConfig removes service_settings (required) and task_settings; elserCase
    # never reads task_settings, so they are dropped, never echoed (§A4).
    service_map, service_size = pop_map(body, "service_settings", required=True)
    pop_map(body, "task_settings", required=False)
    # 12: chunking_settings, only for the embedding task types (else left over: step 13)
    chunking_settings = None
    if task_type in CHUNKED_TASK_TYPES:
        chunking_settings = chunking.parse(body.pop("chunking_settings", None), version)
    # 13: throwIfNotEmptyMap(config): unknown top-level keys
    raise_if_leftover(body, body_size)
    _check_task_type(task_type, defects)
    warnings: list[str] = []
    deployment_id = service_map.get("deployment_id")
    if isinstance(deployment_id, str) and deployment_id:
        # 14: deployment_id given: validateAgainstDeployment
        settings = _existing_deployment(service_map, deployment_id, find_deployment)
    else:
        # 15: model_id missing (service elasticsearch) beats every value error
        if service_map.get("model_id") is None and service == "elser":
            warnings.append(MESSAGES["null_model_id_deprecated"])
        model_id = ss.route_model_id(service_map.get("model_id"), service, platform_x86)
        # 17: value errors, accumulated; 18: platform check
        settings = ss.parse(service_map, model_id)
        ss.check_platform(model_id, platform_x86)
    # 19: the elser service's deprecation warning, then 20: leftovers of config (none left
    # here) and of service_settings — unknown service_settings keys come last.
    if service == "elser":
        warnings.append(MESSAGES["elser_deprecated"].format(model_id=settings.model_id))
    raise_if_leftover(service_map, service_size)
    if not (isinstance(deployment_id, str) and deployment_id):
        # 21 (9.2+): new ElserInternalModel(...) rejects max_chunk_size > 300; the deployment
        # path builds an ElasticDeployedModel, which has no such limit.
        chunking.check_elser_chunk_size(chunking_settings, version)
    return ParsedPut(EndpointConfig(inference_id, task_type, settings, chunking_settings), warnings)


def inference_failure(config: EndpointConfig) -> EsError | None:
    """How inference on an ELSER endpoint stored under another task type fails (#122249).

    ``ElasticsearchInternalService.infer`` sends a ``text_embedding`` endpoint's input with a
    ``TextEmbeddingConfigUpdate``; the ELSER deployment (``text_expansion`` config) refuses it
    in ``TrainedModelDeploymentTask.infer``: 403 ``status_exception`` (issue #122249 shows the
    same error, 403, for the reranker under ``sparse_embedding``)."""
    if config.task_type != "text_embedding":
        return None
    return status_exception(
        MESSAGES["model_task_mismatch"].format(
            model_id=config.service_settings.model_id, task="text_embedding"
        ),
        403,
    )


def _check_task_type(task_type: str, defects: frozenset[str]) -> None:
    """ELSER is a sparse model. Elasticsearch never checks the task type for an ELSER model_id
    (ElasticsearchInternalService.elserCase, 9.1-line; the newest ElserInternalModelCreator
    .matches checks the model id only; the model validator skips ELSER models), so every task
    type is accepted (elastic/elasticsearch#122249). With the upstream bug on, text_embedding is
    accepted as ES does (and fails at inference); conformant, and for the other task types (not
    modelled), the reference server rejects up front with TaskType.unsupportedTaskTypeErrorMsg."""
    if task_type == "sparse_embedding":
        return
    if task_type == "text_embedding" and ELSER_TEXT_EMBEDDING_ACCEPTED in defects:
        return
    raise status_exception(
        MESSAGES["unsupported_task_type"].format(service=SERVICE, task_type=task_type)
    )


def _existing_deployment(
    service_map: dict[str, Any],
    deployment_id: str,
    find_deployment: Callable[[str], ss.ServiceSettings | None],
) -> ss.ServiceSettings:
    existing = find_deployment(deployment_id)
    if existing is None:
        raise EsError(
            "resource_not_found_exception",
            MESSAGES["deployment_not_found"].format(id=deployment_id),
        )
    given = service_map.pop("model_id", None)
    if given is not None and given != existing.model_id:
        raise status_exception(
            MESSAGES["deployment_model_mismatch"].format(
                id=deployment_id, actual=existing.model_id, given=given
            )
        )
    service_map.pop("deployment_id")
    # Allocation and thread settings come from the deployment (ES ElasticsearchInternalService
    # .validateAgainstDeployment).
    for key in ("num_allocations", "num_threads", "adaptive_allocations"):
        service_map.pop(key, None)
    return replace(existing, deployment_id=deployment_id)
