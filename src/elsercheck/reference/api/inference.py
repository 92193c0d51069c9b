"""``/_inference`` handlers (ES inference plugin: Paths, Rest*Action, Transport*Action)."""

from __future__ import annotations

from typing import Any

from ..breakage.defects import DELETED_STILL_ANSWERS, REJECTED_PUT_STORED
from ..rules import ids
from ..rules import service_settings as ss
from ..rules import settings_parsing as sp
from ..rules.endpoint_config import EndpointConfig, inference_failure, parse_put, raise_if_leftover
from ..rules.trained_models import BUILT_IN_MODELS
from ..wire.errors import EsError, status_exception, validation_failed
from ..wire.javafmt import java_str
from ..wire.router import Route
from .call import Call, Reply

PUT = "cluster:admin/xpack/inference/put"
GET = "cluster:monitor/xpack/inference/get"
DELETE = "cluster:admin/xpack/inference/delete"
UPDATE = "cluster:admin/xpack/inference/update"
INFER = "cluster:monitor/xpack/inference"
# The body parser is named after the inference action; 9.x renamed it to cluster:internal.
INFER_PARSER = "cluster:internal/xpack/inference"

MESSAGES = {
    "not_found": "Inference endpoint not found [{id}]",
    "exists": "Inference endpoint [{id}] already exists",
    "reserved_delete": (
        "[{id}] is a reserved inference endpoint. Cannot delete a reserved inference endpoint."
    ),
    "default_update": "Default endpoint [{id}] cannot be updated",
    "update_needs_path_id": "Inference ID must be provided in the path",
    "update_task_type": "Task type must match the task type of the existing endpoint",
    "incompatible_task_type": (
        "Incompatible task_type, the requested type [{requested}] does not match the model type "
        "[{actual}]"
    ),
    "input_null": "Field [input] cannot be null",
    "input_empty": "Field [input] cannot be an empty array",
    "input_type": "Field [input_type] cannot be specified for task type [{task_type}]",
    "unknown_field": "[{position}] [{parser}] unknown field [{field}]",
    "bad_input": "[{position}] [{parser}] failed to parse field [input]",
    "stream": "Streaming is not allowed for service [elasticsearch].",
    "stopped_while_starting": "Trained model deployment [{id}] was stopped while starting",
}
INFER_FIELDS = ("input", "input_type", "task_settings", "query", "return_documents", "top_n",
                "timeout")  # fmt: skip


def _path_task_type(call: Call) -> str | None:
    raw = call.path_params.get("task_type")
    return None if raw is None else ids.parse_task_type(raw, call.state.version)


def _not_found(inference_id: str) -> EsError:
    return EsError("resource_not_found_exception", MESSAGES["not_found"].format(id=inference_id))


def _lookup(call: Call, inference_id: str, task_type: str | None) -> EndpointConfig:
    config = call.state.find(inference_id)
    if config is None:
        raise _not_found(inference_id)
    if task_type not in (None, "any", config.task_type):
        raise ids.task_type_mismatch(task_type, config.task_type)
    return config


def _render(call: Call, config: EndpointConfig) -> dict[str, Any]:
    return config.to_json(call.state.live_allocations(config))


async def put_endpoint(call: Call) -> Reply:
    task_type = _path_task_type(call)
    inference_id = call.path_params["inference_id"]
    timeout = call.timeout("timeout", call.state.config.timing.put_timeout_seconds)
    ids.validate_inference_id(inference_id)
    call.authorize()
    ids.check_not_reserved(inference_id)
    body = call.json(wrap_as_map=True)
    state = call.state
    parsed = parse_put(
        inference_id,
        task_type,
        body,
        version=state.version,
        defects=state.defects,
        platform_x86=state.config.platform_x86,
        find_deployment=lambda d_id: _deployment_settings(call, d_id),
        has_assignment=lambda d_id: _has_assignment(call, d_id),
    )
    config = parsed.config
    if inference_id in BUILT_IN_MODELS:
        raise status_exception(
            "Inference endpoint IDs must be unique. Requested inference endpoint ID "
            f"[{inference_id}] matches existing trained model ID(s) but must not."
        )
    if inference_id in state.endpoints:
        raise EsError(
            "resource_already_exists_exception", MESSAGES["exists"].format(id=inference_id)
        )
    # Deployment-start checks run before storing: unlike Elasticsearch 9.2
    # (elastic/elasticsearch#137127), a PUT rejected here leaves nothing behind.
    if REJECTED_PUT_STORED in state.defects:  # deliberate defect: store first, as 9.2 does
        state.endpoints[inference_id] = config
    if config.service_settings.deployment_id is None:
        ss.validate_deployment_start(config.service_settings)
        state.deployments.check_can_start()
    state.endpoints[inference_id] = config
    call.warnings.extend(parsed.warnings)
    if config.service_settings.deployment_id is None:
        deployment = state.deployments.start(inference_id, config.service_settings)
        await state.deployments.wait_started(deployment, timeout)
        if deployment.state == "stopping":
            raise status_exception(MESSAGES["stopped_while_starting"].format(id=inference_id), 409)
    return Reply(config.to_json())


def _has_assignment(call: Call, deployment_id: str) -> bool:
    """``TrainedModelAssignmentUtils.modelAssignments(id)`` is non-empty: a deployment with this
    id exists (ELSER model ids start with a dot, so no valid endpoint id names a model). While
    the model still downloads no assignment exists yet (the start is waiting for the download)."""
    deployment = call.state.deployments.get(deployment_id)
    return deployment is not None and not call.state.deployments.download_running(
        deployment.model_id
    )


def _deployment_settings(call: Call, deployment_id: str) -> ss.ServiceSettings | None:
    deployment = call.state.deployments.get(deployment_id)
    if deployment is None:
        return None
    return ss.ServiceSettings(
        deployment.target_allocations, deployment.threads, deployment.model_id, deployment.adaptive
    )


async def get_endpoints(call: Call) -> Reply:
    task_type = _path_task_type(call)
    inference_id = call.path_params.get("inference_id", "_all")
    call.authorize()
    if inference_id in ("_all", "*"):
        found = [c for c in call.state.all_endpoints() if task_type in (None, "any", c.task_type)]
    else:
        found = [_lookup(call, inference_id, task_type)]
    return Reply({"endpoints": [_render(call, c) for c in found]})


async def delete_endpoint(call: Call) -> Reply:
    task_type = _path_task_type(call)
    inference_id = call.path_params["inference_id"]
    dry_run = call.flag("dry_run")
    call.flag("force")  # nothing references endpoints here, so force changes nothing
    call.authorize()
    if inference_id in call.state.defaults:
        raise status_exception(MESSAGES["reserved_delete"].format(id=inference_id))
    config = _lookup(call, inference_id, task_type)
    if dry_run:
        return Reply({"acknowledged": False, "pipelines": [], "indexes": [], "error_message": ""})
    if DELETED_STILL_ANSWERS not in call.state.defects:  # deliberate defect: keep it stored
        call.state.endpoints.pop(inference_id, None)
    if config.service_settings.deployment_id is None:  # never stop a borrowed deployment
        await call.state.deployments.stop(inference_id)
    return Reply({"acknowledged": True, "pipelines": [], "indexes": []})


async def update_endpoint(call: Call) -> Reply:
    task_type = _path_task_type(call)
    inference_id = call.path_params.get("inference_id")
    if inference_id is None:
        # Quirk of the one-segment route in 9.x: the handler reads an unbound path parameter.
        raise status_exception(MESSAGES["update_needs_path_id"])
    call.authorize()
    if inference_id.startswith("."):
        raise status_exception(MESSAGES["default_update"].format(id=inference_id))
    body = call.json(wrap_as_map=True)
    config = _lookup(call, inference_id, task_type)
    body_task_type = body.pop("task_type", None)
    if body_task_type is not None and str(body_task_type) != config.task_type:
        raise status_exception(MESSAGES["update_task_type"])
    updated = _updated_settings(config.service_settings, body)
    new_config = config.with_settings(updated)
    call.state.endpoints[inference_id] = new_config
    deployment = call.state.deployments.get(config.deployment_id)
    if deployment is not None:
        deployment.adaptive = updated.adaptive_allocations
        if updated.num_allocations is not None:
            call.state.deployments.set_target(deployment, updated.num_allocations)
    return Reply(_render(call, new_config))


def _updated_settings(current: ss.ServiceSettings, body: dict[str, Any]) -> ss.ServiceSettings:
    raw = body.pop("service_settings", None)
    body.pop("task_settings", None)
    raise_if_leftover(body)
    if not isinstance(raw, dict):
        raw = {}
    settings = dict(raw)
    errors: list[str] = []
    num_allocations = sp.optional_positive_int(settings, "num_allocations", ss.SCOPE, errors)
    adaptive = ss.parse_adaptive(settings, errors)
    if errors:
        raise validation_failed(errors)
    # Elasticsearch silently drops num_threads here (elastic/elasticsearch#137129); the
    # reference server reports what it will not apply.
    raise_if_leftover(settings)
    if num_allocations is None and adaptive is None:
        raise validation_failed(
            ["At least one of [number_of_allocations] or [adaptive_allocations] is required"],
            "action_request_validation_exception",
        )
    effective_adaptive = adaptive if adaptive is not None else current.adaptive_allocations
    if (
        num_allocations is not None
        and effective_adaptive is not None
        and effective_adaptive.is_enabled
    ):
        raise validation_failed(
            [ss.MESSAGES["allocations_with_adaptive"]], "action_request_validation_exception"
        )
    if adaptive is not None and adaptive.is_enabled:
        num_allocations = None
    elif num_allocations is None:
        num_allocations = current.num_allocations
    return ss.ServiceSettings(
        num_allocations,
        current.num_threads,
        current.model_id,
        effective_adaptive,
        current.deployment_id,
    )


def _parse_infer_body(call: Call) -> list[str]:
    body = call.json()
    if not isinstance(body, dict):
        raise EsError("x_content_parse_exception", f"[1:1] [{INFER_PARSER}] Expected START_OBJECT")
    for key in body:
        if key not in INFER_FIELDS:
            raise EsError(
                "x_content_parse_exception",
                MESSAGES["unknown_field"].format(
                    position=_position(call.body, key), parser=INFER_PARSER, field=key
                ),
            )
    raw = body.get("input")
    values = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    texts = []
    for value in values:
        if isinstance(value, (dict, list)) or value is None:
            raise EsError(
                "x_content_parse_exception",
                MESSAGES["bad_input"].format(
                    position=_position(call.body, "input"), parser=INFER_PARSER
                ),
            )
        texts.append(java_str(value))
    errors = []
    if raw is None:
        errors.append(MESSAGES["input_null"])
    elif isinstance(raw, list) and not raw:
        errors.append(MESSAGES["input_empty"])
    if body.get("input_type") is not None:
        errors.append(MESSAGES["input_type"].format(task_type="sparse_embedding"))
    if errors:
        raise validation_failed(errors, "action_request_validation_exception")
    return texts


def _position(raw: bytes, key: str) -> str:
    """``line:column`` of a field name, as XContent locations print."""
    text = raw.decode("utf-8", "replace")
    offset = max(text.find(f'"{key}"'), 0)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{line}:{column}"


async def infer(call: Call) -> Reply:
    task_type = _path_task_type(call)
    inference_id = call.path_params["inference_id"]
    state = call.state
    timeout = call.timeout("timeout", state.config.timing.inference_timeout_seconds)
    texts = _parse_infer_body(call)
    call.authorize()
    config = state.find(inference_id)
    if config is None:
        raise _not_found(inference_id)
    if task_type not in (None, "any", config.task_type):
        raise status_exception(
            MESSAGES["incompatible_task_type"].format(requested=task_type, actual=config.task_type)
        )
    if (failure := inference_failure(config)) is not None:  # elastic/elasticsearch#122249
        raise failure
    results = await state.inference.infer(config, texts, timeout)
    return Reply({"sparse_embedding": [r.to_json() for r in results]})


async def stream(call: Call) -> Reply:
    _path_task_type(call)
    call.json()
    call.authorize()
    inference_id = call.path_params["inference_id"]
    if call.state.find(inference_id) is None:
        raise _not_found(inference_id)
    raise status_exception(MESSAGES["stream"], 405)


_PUT = ("timeout",)
_DELETE = ("force", "dry_run")
ROUTES = [
    Route("PUT", "/_inference/{inference_id}", put_endpoint, PUT, _PUT, "required"),
    Route("PUT", "/_inference/{task_type}/{inference_id}", put_endpoint, PUT, _PUT, "required"),
    Route("GET", "/_inference", get_endpoints, GET),
    Route("GET", "/_inference/_all", get_endpoints, GET),
    Route("GET", "/_inference/{inference_id}", get_endpoints, GET),
    Route("GET", "/_inference/{task_type}/{inference_id}", get_endpoints, GET),
    Route("DELETE", "/_inference/{inference_id}", delete_endpoint, DELETE, _DELETE),
    Route("DELETE", "/_inference/{task_type}/{inference_id}", delete_endpoint, DELETE, _DELETE),
    Route("PUT", "/_inference/{task_type_or_id}/_update", update_endpoint, UPDATE, (), "required"),
    Route(
        "PUT", "/_inference/{task_type}/{inference_id}/_update", update_endpoint, UPDATE, (),
        "required",
    ),
    Route("POST", "/_inference/{inference_id}", infer, INFER, _PUT, "required"),
    Route("POST", "/_inference/{task_type}/{inference_id}", infer, INFER, _PUT, "required"),
    Route("POST", "/_inference/{inference_id}/_stream", stream, INFER, _PUT, "required"),
    Route(
        "POST", "/_inference/{task_type}/{inference_id}/_stream", stream, INFER, _PUT, "required"
    ),
]  # fmt: skip
