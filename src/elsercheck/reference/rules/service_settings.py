"""ELSER ``service_settings`` (ES ElasticsearchInternalServiceSettings.fromRequestMap)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..wire.errors import EsError, validation_failed
from . import settings_parsing as sp

SCOPE = "service_settings"
ELSER_MODELS = (".elser_model_1", ".elser_model_2", ".elser_model_2_linux-x86_64")
ELSER_V2_PORTABLE = ".elser_model_2"
ELSER_V2_X86 = ".elser_model_2_linux-x86_64"
MAX_THREADS_PER_ALLOCATION = 32

MESSAGES = {
    "unknown_adaptive_key": "[adaptive_allocations] does not allow the setting [{key}]",
    "min_negative": "[min_number_of_allocations] must be a non-negative integer or null",
    "max_not_positive": "[max_number_of_allocations] must be a positive integer or null",
    "min_above_max": (
        "[min_number_of_allocations] must not be larger than [max_number_of_allocations]"
    ),
    "model_id_required": "Error parsing service settings, model_id must be provided",
    "wrong_platform": (
        "Error parsing request config, model id does not match any models available on this "
        "platform. Was [{model_id}]. You may need to use a platform agnostic model."
    ),
    "unknown_model": (
        "Error parsing request config, model id does not match any models available on this "
        "platform. Was [{model_id}]. You may need to load it into the cluster using eland."
    ),
    # Deployment start (StartTrainedModelDeploymentAction.Request.validate), after storing.
    "allocations_not_positive": "[number_of_allocations] must be a positive integer",
    "allocations_with_adaptive": (
        "[number_of_allocations] cannot be set if adaptive allocations is enabled"
    ),
    "threads": "[threads_per_allocation] must be a power of 2 less than or equal to 32",
}


@dataclass(frozen=True)
class AdaptiveAllocations:
    enabled: bool | None = None
    min_number_of_allocations: int | None = None
    max_number_of_allocations: int | None = None

    @property
    def is_enabled(self) -> bool:
        return bool(self.enabled)

    def to_json(self) -> dict[str, Any]:
        # ES AdaptiveAllocationsSettings.toXContent: `enabled` always written (false when the
        # request left it out, as `adaptive_allocations: {}` does); the bounds only when set.
        out: dict[str, Any] = {"enabled": bool(self.enabled)}
        if self.min_number_of_allocations is not None:
            out["min_number_of_allocations"] = self.min_number_of_allocations
        if self.max_number_of_allocations is not None:
            out["max_number_of_allocations"] = self.max_number_of_allocations
        return out

    def merge(self, updates: AdaptiveAllocations) -> AdaptiveAllocations:
        """ES AdaptiveAllocationsSettings.merge: each field given replaces this one; a bound of
        ``-1`` resets it to unset."""

        def bound(new: int | None, old: int | None) -> int | None:
            if new is None:
                return old
            return None if new == RESET_BOUND else new

        return AdaptiveAllocations(
            self.enabled if updates.enabled is None else updates.enabled,
            bound(updates.min_number_of_allocations, self.min_number_of_allocations),
            bound(updates.max_number_of_allocations, self.max_number_of_allocations),
        )


# ES AdaptiveAllocationsSettings.RESET_PLACEHOLDER (false, -1, -1): what the ML update API's
# ObjectParser reads for `adaptive_allocations: null`; a bound of -1 is the placeholder for
# "reset to unset" that validate() skips (hasMinNumberOfAllocations = min != null && min != -1).
RESET_BOUND = -1
RESET = AdaptiveAllocations(False, RESET_BOUND, RESET_BOUND)


def merge_adaptive(
    original: AdaptiveAllocations | None, updates: AdaptiveAllocations | None
) -> AdaptiveAllocations | None:
    """A deployment's settings after an update: ES
    TrainedModelAssignmentClusterService.getAdaptiveAllocationsSettings (8.19 → 9.5): no
    updates keep them, :data:`RESET` (``adaptive_allocations: null`` in the ML update body)
    drops them, no original takes the updates as they are, otherwise they are merged."""
    if updates is None:
        return original
    if updates is RESET:
        return None
    if original is None:
        return updates
    return original.merge(updates)


@dataclass(frozen=True)
class ServiceSettings:
    num_allocations: int | None
    num_threads: int
    model_id: str
    adaptive_allocations: AdaptiveAllocations | None = None
    deployment_id: str | None = None

    def to_json(self, live_allocations: int | None = None) -> dict[str, Any]:
        """Key order of ``ElasticsearchInternalServiceSettings.toXContent``."""
        out: dict[str, Any] = {}
        allocations = self.num_allocations if live_allocations is None else live_allocations
        if allocations is not None:
            out["num_allocations"] = allocations
        out["num_threads"] = self.num_threads
        out["model_id"] = self.model_id
        if self.adaptive_allocations is not None:
            out["adaptive_allocations"] = self.adaptive_allocations.to_json()
        if self.deployment_id is not None:
            out["deployment_id"] = self.deployment_id
        return out

    @property
    def adaptive_enabled(self) -> bool:
        return self.adaptive_allocations is not None and self.adaptive_allocations.is_enabled


def parse_adaptive(source: dict[str, Any], errors: list[str]) -> AdaptiveAllocations | None:
    raw = sp.remove_as_type(source, "adaptive_allocations", "map", errors)
    if raw is None:
        return None
    raw = dict(raw)
    settings = AdaptiveAllocations(
        sp.remove_as_type(raw, "enabled", "bool", errors),
        sp.remove_as_type(raw, "min_number_of_allocations", "int", errors),
        sp.remove_as_type(raw, "max_number_of_allocations", "int", errors),
    )
    errors.extend(MESSAGES["unknown_adaptive_key"].format(key=key) for key in raw)
    errors.extend(validate_adaptive(settings))
    return settings


def validate_adaptive(settings: AdaptiveAllocations) -> list[str]:
    """``AdaptiveAllocationsSettings.validate``; also used by ``_update``.

    A bound of -1 is the reset placeholder and is not validated (ES
    AdaptiveAllocationsSettings.validate: ``hasMinNumberOfAllocations = min != null && min !=
    -1``; every stored copy read, 8.19-era to 9.5-era, has it): ``min_number_of_allocations: -1``
    is accepted and stored as -1."""
    low, high = settings.min_number_of_allocations, settings.max_number_of_allocations
    low = None if low == RESET_BOUND else low
    high = None if high == RESET_BOUND else high
    errors = []
    if low is not None and low < 0:
        errors.append(MESSAGES["min_negative"])
    if high is not None and high < 1:
        errors.append(MESSAGES["max_not_positive"])
    if low is not None and high is not None and low > high:
        errors.append(MESSAGES["min_above_max"])
    return errors


def parse(source: dict[str, Any], model_id: str) -> ServiceSettings:
    """``ElasticsearchInternalServiceSettings.fromRequestMap``: errors accumulate.

    ``source`` is consumed; what remains afterwards is unknown to the service.
    """
    errors: list[str] = []
    num_allocations = sp.optional_positive_int(source, "num_allocations", SCOPE, errors)
    num_threads = sp.required_positive_int(source, "num_threads", SCOPE, errors)
    adaptive = parse_adaptive(source, errors)
    if num_allocations is None and adaptive is None:
        errors.append(sp.missing_one_of(SCOPE, ["num_allocations", "adaptive_allocations"]))
    source.pop("model_id", None)
    deployment_id = sp.optional_non_empty_str(source, "deployment_id", SCOPE, errors)
    if errors:
        raise validation_failed(errors)
    assert num_threads is not None
    return ServiceSettings(num_allocations, num_threads, model_id, adaptive, deployment_id)


def route_model_id(raw: Any, service: str, platform_x86: bool) -> str:
    """The model id ``parseRequestConfig`` routes on (steps 15–16 of §A1).

    Missing: an error under ``elasticsearch``, the platform default under the deprecated
    ``elser``. An id that is not ELSER goes to ``customElandCase``, whose GetTrainedModels finds
    nothing here (only ELSER is modelled; E5 and rerank ids answer the same)."""
    if raw is None:
        if service != "elser":
            raise EsError("illegal_argument_exception", MESSAGES["model_id_required"])
        return ELSER_V2_X86 if platform_x86 else ELSER_V2_PORTABLE
    errors: list[str] = []
    model_id = sp.optional_non_empty_str({"model_id": raw}, "model_id", SCOPE, errors)
    if errors:
        raise validation_failed(errors)
    assert model_id is not None
    if model_id not in ELSER_MODELS:
        raise EsError(
            "illegal_argument_exception", MESSAGES["unknown_model"].format(model_id=model_id)
        )
    return model_id


def check_platform(model_id: str, platform_x86: bool) -> None:
    """``elserCase`` after the value checks: a model id other than the platform default and the
    portable ``.elser_model_2`` is refused (so ``.elser_model_1`` always is)."""
    default = ELSER_V2_X86 if platform_x86 else ELSER_V2_PORTABLE
    if model_id not in (default, ELSER_V2_PORTABLE):
        raise EsError(
            "illegal_argument_exception", MESSAGES["wrong_platform"].format(model_id=model_id)
        )


def validate_deployment_start(settings: ServiceSettings) -> None:
    """Checks ML runs when starting the deployment, after Elasticsearch stored the endpoint."""
    errors = deployment_start_errors(settings)
    if errors:
        raise validation_failed(errors, "action_request_validation_exception")


def deployment_start_errors(settings: ServiceSettings) -> list[str]:
    """``StartTrainedModelDeploymentAction.Request.validate``'s allocation and thread checks."""
    errors = []
    if settings.num_allocations is not None:
        if settings.num_allocations < 1:
            errors.append(MESSAGES["allocations_not_positive"])
        if settings.adaptive_enabled:
            errors.append(MESSAGES["allocations_with_adaptive"])
    threads = settings.num_threads
    if threads > MAX_THREADS_PER_ALLOCATION or threads & (threads - 1):
        errors.append(MESSAGES["threads"])
    return errors
