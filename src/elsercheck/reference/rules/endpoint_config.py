"""An inference endpoint's configuration: parsed from a PUT body, rendered as ES renders it.

The parse follows ``TransportPutInferenceModelAction`` and
``ElasticsearchInternalService.parseRequestConfig`` in order (ES ``masterOperation``,
``ServiceUtils``); the first failing step wins, except settings errors, which accumulate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..wire.errors import EsError, status_exception
from ..wire.javafmt import java_str
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
    "unknown_settings": (
        "Model configuration contains settings [{settings}] unknown to the [{service}] service"
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


def _pop_map(body: dict[str, Any], key: str, required: bool) -> dict[str, Any]:
    value = body.pop(key, None)
    if value is None:
        if required:
            raise status_exception(MESSAGES["missing_service_settings"])
        return {}
    if not isinstance(value, dict):
        # Elasticsearch fails a Java cast here (a 500); a 400 naming the field serves users better.
        raise status_exception(
            f"field [{key}] is not of the expected type. The value [{java_str(value)}] cannot be "
            "converted to a [Map]"
        )
    return dict(value)


def raise_if_leftover(settings: dict[str, Any]) -> None:
    """``throwIfNotEmptyMap``: settings nobody consumed are unknown to the service."""
    if settings:
        raise status_exception(
            MESSAGES["unknown_settings"].format(settings=java_str(settings), service=SERVICE)
        )


def parse_put(
    inference_id: str,
    path_task_type: str | None,
    raw_body: dict[str, Any],
    *,
    platform_x86: bool,
    find_deployment: Callable[[str], ss.ServiceSettings | None],
) -> ParsedPut:
    """Validate a PUT body after the id checks; return the config to store."""
    body = dict(raw_body)
    task_type = ids.resolve_task_type(path_task_type, body.pop("task_type", None))
    service = body.pop("service", None)
    if service is None:
        raise status_exception(MESSAGES["missing_service"])
    if service not in ACCEPTED_SERVICES:
        raise status_exception(MESSAGES["unknown_service"].format(name=java_str(service)))
    service_map = _pop_map(body, "service_settings", required=True)
    task_settings = _pop_map(body, "task_settings", required=False)
    chunking_settings = None
    if task_type in ("sparse_embedding", "text_embedding"):
        chunking_settings = chunking.parse(body.pop("chunking_settings", None))
    if task_type != "sparse_embedding":
        # ELSER is a sparse model. Elasticsearch 9.1 accepts text_embedding here and fails at
        # inference (elastic/elasticsearch#122249); the reference server rejects it up front.
        raise status_exception(
            MESSAGES["unsupported_task_type"].format(service=SERVICE, task_type=task_type)
        )
    warnings: list[str] = []
    deployment_id = service_map.get("deployment_id")
    if isinstance(deployment_id, str) and deployment_id:
        settings = _existing_deployment(service_map, deployment_id, find_deployment)
    else:
        if service_map.get("model_id") is None and service == "elser":
            warnings.append(MESSAGES["null_model_id_deprecated"])
        model_id = ss.resolve_model_id(service_map.get("model_id"), service, platform_x86)
        settings = ss.parse(service_map, model_id)
    if service == "elser":
        warnings.append(MESSAGES["elser_deprecated"].format(model_id=settings.model_id))
    raise_if_leftover(body)
    raise_if_leftover(service_map)
    raise_if_leftover(task_settings)
    return ParsedPut(EndpointConfig(inference_id, task_type, settings, chunking_settings), warnings)


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
