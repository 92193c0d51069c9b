"""The ``_update`` body and the settings it changes, per Elasticsearch version.

* body: ``UpdateInferenceModelAction.Request.getContentAsSettings`` (ES x-pack core): checked in
  this order before the endpoint is looked up, the first failure wins;
* service settings: ``ElasticsearchInternalServiceSettings.updateServiceSettings``, called from
  ``TransportUpdateInferenceModelAction.combineExistingModelConfigurationsWithNewSettings``; only
  ``num_allocations`` and ``adaptive_allocations`` take effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..versions import EsVersion
from ..wire.errors import status_exception, validation_failed
from ..wire.javafmt import java_map, parsed_map_capacity
from . import ids
from . import service_settings as ss
from . import settings_parsing as sp

MESSAGES = {
    "empty": "Request body is empty",
    "task_type": "Failed to parse [task_type] in update request [{map}]",
    "entry": "Failed to parse update request [{map}]",
    "service_settings": "Unable to parse service settings in the request [{map}]",
    "task_settings": "Unable to parse task settings in the request [{map}]",
    # 9.5 (row update-body-parse-400): CachedParsedSettings.moveFieldToMap names the section,
    # chunking_settings (#149723) included; UpdateInferenceModelActionRequestTests, 9.5 copy
    # with the #152179 timeout (store id 54696924471), source id 52302128704.
    "section": "Unable to parse [{field}] in the request [{map}]",
    # 9.5: a null inside a section reaches the service's update parser, whose answer was not
    # read: refused rather than guessed.
    "null_value_not_modelled": (
        "The reference server does not model a null value inside [{field}] of an _update body "
        "on Elasticsearch 9.5 (passed on to the service's update parser)"
    ),
    "not_updatable": (
        "Request contained fields which cannot be updated, remove these fields and try again "
        "[{map}]"
    ),
    # #138122 (PR body quotes the answer); where it sits among the other update errors is
    # inferred (first, accumulated with them in one ValidationException).
    "num_threads": "[num_threads] cannot be updated",
}


@dataclass(frozen=True)
class UpdateBody:
    """What an ``_update`` body asks for; ``None`` means "leave unchanged"."""

    task_type: str | None
    service_settings: dict[str, Any] | None
    task_settings: dict[str, Any] | None
    chunking_settings: dict[str, Any] | None


def parse_body(raw: dict[str, Any], version: EsVersion) -> UpdateBody:
    """``getContentAsSettings``: body-level checks, before the endpoint is looked up.

    Messages print the remaining body as a Java ``HashMap`` (``convertToMap(content, false, …)``);
    the table never shrinks, so its size follows the body's original key count."""
    body = dict(raw)
    capacity = parsed_map_capacity(len(raw))  # the table never shrinks as keys are removed
    if not body:
        raise status_exception(MESSAGES["empty"])
    task_type = None
    moved = version.has("update-body-parse-400")
    if "task_type" in body:
        value = body["task_type"]
        if not isinstance(value, str):
            map_text = java_map(body, capacity)
            status = 400 if moved else 500  # 9.5: BAD_REQUEST (was INTERNAL_SERVER_ERROR)
            raise status_exception(MESSAGES["task_type"].format(map=map_text), status)
        task_type = ids.parse_task_type(value)
        del body["task_type"]
    keys = ["service_settings", "task_settings"]
    if version.has("update-chunking-settings"):
        keys.append("chunking_settings")
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(keys)
    for key in keys:
        if key not in body:
            continue
        value = body[key]
        if not isinstance(value, dict):
            map_text = java_map(body, capacity)
            if moved:
                raise status_exception(MESSAGES["section"].format(field=key, map=map_text))
            raise status_exception(MESSAGES[key].format(map=map_text))
        if any(v is None for v in value.values()):
            if moved:  # moveFieldToMap checks keys only: the null goes on to the service
                raise status_exception(MESSAGES["null_value_not_modelled"].format(field=key), 501)
            # entry.getValue() instanceof Object fails for a JSON null: a 500
            raise status_exception(MESSAGES["entry"].format(map=java_map(body, capacity)), 500)
        del body[key]
        found[key] = dict(value) or None  # isEmpty() ? null
    if body:
        raise status_exception(MESSAGES["not_updatable"].format(map=java_map(body, capacity)))
    return UpdateBody(
        task_type, found["service_settings"], found["task_settings"], found.get("chunking_settings")
    )


def update_service_settings(
    current: ss.ServiceSettings,
    new: dict[str, Any],
    *,
    reject_num_threads: bool,
) -> ss.ServiceSettings:
    """``updateServiceSettings``: consumes ``num_allocations`` / ``adaptive_allocations`` (and
    ``num_threads`` where it is rejected) from ``new``; what is left is unknown to the service.

    ``reject_num_threads`` False is ES #137129 (8.19, 9.1): ``num_threads`` is silently ignored."""
    errors: list[str] = []
    if "num_threads" in new:
        del new["num_threads"]  # read, never applied: not an unknown setting either way
        if reject_num_threads:
            errors.append(MESSAGES["num_threads"])
    num_allocations = sp.optional_positive_int(new, "num_allocations", ss.SCOPE, errors)
    adaptive = ss.parse_adaptive(new, errors)
    if errors:
        raise validation_failed(errors)
    if num_allocations is None and not (adaptive is not None and adaptive.is_enabled):
        num_allocations = current.num_allocations  # switching to adaptive drops the fixed count
    return ss.ServiceSettings(
        num_allocations,
        current.num_threads,
        current.model_id,
        adaptive if adaptive is not None else current.adaptive_allocations,
        current.deployment_id,
    )
