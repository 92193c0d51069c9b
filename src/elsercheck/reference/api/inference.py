"""``/_inference`` handlers (ES inference plugin: Paths, Rest*Action, Transport*Action)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from ..breakage.defects import (
    DELETED_STILL_ANSWERS,
    REJECTED_PUT_STORED,
    UPDATE_NUM_THREADS_IGNORED,
)
from ..rules import chunking, ids
from ..rules import elastic_service as eis_rules
from ..rules import infer_request as ir
from ..rules import service_settings as ss
from ..rules import update_request as ur
from ..rules.endpoint_config import EndpointConfig, parse_put, raise_if_leftover
from ..rules.trained_models import BUILT_IN_MODELS
from ..wire import xcontent
from ..wire.errors import EsError, status_exception, validation_failed
from ..wire.router import Route
from .call import Call, Reply

PUT = "cluster:admin/xpack/inference/put"
GET = "cluster:monitor/xpack/inference/get"
DELETE = "cluster:admin/xpack/inference/delete"
UPDATE = "cluster:admin/xpack/inference/update"
INFER = "cluster:monitor/xpack/inference"

MESSAGES = {
    "not_found": "Inference endpoint not found [{id}]",
    "exists": "Inference endpoint [{id}] already exists",
    # TransportDeleteInferenceEndpointAction (#124781, 8.18 →): force=true deletes a default
    "reserved_delete": (
        "[{id}] is a reserved inference endpoint. Use the force=true query parameter to delete "
        "the inference endpoint."
    ),
    # TransportUpdateInferenceModelAction.validateEndpointIsNotDefault (#150368, 9.5)
    "default_update": "Default endpoint [{id}] cannot be updated",
    # Messages.INFERENCE_ENTITY_NON_EXISTANT_NO_UPDATE (TransportUpdateInferenceModelAction
    # .checkEndpointExists); text recalled from ML Messages.java, not re-read in a stored copy
    "update_not_found": "The inference endpoint [{id}] does not exist and cannot be updated",
    "update_needs_path_id": "Inference ID must be provided in the path",
    "update_task_type": "Task type must match the task type of the existing endpoint",
    "incompatible_task_type": (
        "Incompatible task_type, the requested type [{requested}] does not match the model type "
        "[{actual}]"
    ),
    "stream": "Streaming is not allowed for service [elasticsearch].",
    "not_modelled": "The reference server does not model inference for [{model_id}] ({task_type})",
    "stopped_while_starting": "Trained model deployment [{id}] was stopped while starting",
    "no_eis": (
        "The reference server models the [elastic] service only with the Elastic Inference "
        "Service (elsercheck serve --eis)"
    ),
}


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
    if isinstance(body, dict) and body.get("service") == eis_rules.SERVICE:
        return Reply((await _put_elastic(call, inference_id, task_type, body)).to_json())
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
    ids.check_storable_id(inference_id)  # storeModel's bulk fails before any version conflict
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
        state.deployments.check_can_start(inference_id)
    state.endpoints[inference_id] = config
    call.warnings.extend(parsed.warnings)
    if config.service_settings.deployment_id is None:
        deployment = state.deployments.start(inference_id, config.service_settings)
        await state.deployments.wait_started(deployment, timeout)
        if deployment.state == "stopping":
            raise status_exception(MESSAGES["stopped_while_starting"].format(id=inference_id), 409)
    return Reply(config.to_json())


async def _put_elastic(
    call: Call, inference_id: str, task_type: str | None, raw: dict[str, Any]
) -> EndpointConfig:
    """``service: elastic`` (rules/elastic_service.py), then the validation call to EIS
    (SimpleServiceIntegrationValidator), then stored. Without EIS: refused by name."""
    state = call.state
    if state.eis is None:
        raise status_exception(MESSAGES["no_eis"], 501)
    body = dict(raw)
    size = len(body)
    resolved = ids.resolve_task_type(task_type, body.pop("task_type", None), state.version)
    body.pop("service")
    config = eis_rules.parse_put(inference_id, resolved, body, size, state.version, state.defects)
    if inference_id in BUILT_IN_MODELS or inference_id in state.endpoints:
        raise EsError(
            "resource_already_exists_exception", MESSAGES["exists"].format(id=inference_id)
        )
    await state.eis.validate(config)
    ids.check_storable_id(inference_id)  # stored after the validation call, as on ELSER
    state.endpoints[inference_id] = config
    return config


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
    """TransportDeleteInferenceEndpointAction: look up (404) → task type → reserved → dry run."""
    task_type = _path_task_type(call)
    inference_id = call.path_params["inference_id"]
    dry_run = call.flag("dry_run")
    force = call.flag("force")
    call.authorize()
    if force and inference_id in call.state.unparsable:
        # #129090: force deletes an endpoint whose stored configuration no longer parses
        del call.state.unparsable[inference_id]
        return Reply({"acknowledged": True, "pipelines": [], "indexes": []})
    config = _lookup(call, inference_id, task_type)
    if inference_id in call.state.defaults and not force:
        raise status_exception(MESSAGES["reserved_delete"].format(id=inference_id))
    indexes = call.state.indices.referencing(inference_id)
    pipelines = sorted(  # InferenceProcessorInfoExtractor.pipelineIdsForResource
        p.id for p in call.state.pipelines.items.values() if inference_id in p.model_ids()
    )
    if dry_run:  # handleDryRun: acknowledged false, the references and the would-be error
        message = _referenced(inference_id, indexes, pipelines)
        return Reply({"acknowledged": False, "pipelines": pipelines, "indexes": indexes,
                      "error_message": message})  # fmt: skip
    if (indexes or pipelines) and not force:  # endpointIsReferencedInPipelinesOrIndexes: 409
        raise status_exception(_referenced(inference_id, indexes, pipelines), 409)
    if DELETED_STILL_ANSWERS not in call.state.defects:  # deliberate defect: keep it stored
        # A default stays listed: ES re-creates it on the next retrieval (#124781).
        call.state.endpoints.pop(inference_id, None)
    if config.service_settings.deployment_id is None:  # never stop a borrowed deployment
        await call.state.deployments.stop(inference_id)
    return Reply({"acknowledged": True, "pipelines": [], "indexes": []})


def _referenced(inference_id: str, indexes: list[str], pipelines: list[str]) -> str:
    """TransportDeleteInferenceEndpointAction.buildErrorString: the pipeline sentence, then the
    index one (which starts with a space). ``Set.toString``."""
    text = ""
    if pipelines:
        text = (
            f"Inference endpoint {inference_id} is referenced by pipelines: "
            f"[{', '.join(pipelines)}]. Ensure that no pipelines are using this inference "
            "endpoint, or use force to ignore this warning and delete the inference endpoint."
        )
    if not indexes:
        return text
    return text + (
        f" Inference endpoint {inference_id} is being used in the mapping for indexes: "
        f"[{', '.join(indexes)}]. Ensure that no index mappings are using this inference "
        "endpoint, or use force to ignore this warning and delete the inference endpoint."
    )


async def update_endpoint(call: Call) -> Reply:
    """RestUpdateInferenceModelAction → UpdateInferenceModelAction.Request.validate →
    TransportUpdateInferenceModelAction.masterOperation, in that order."""
    state = call.state
    version = state.version
    inference_id = call.path_params.get("inference_id")
    if inference_id is None:
        # RestUpdateInferenceModelAction: the one-segment route never names an id
        raise status_exception(MESSAGES["update_needs_path_id"])
    path_task_type = ids.parse_task_type(call.path_params["task_type"])
    call.timeout("master_timeout", 30.0)  # RestUtils.getMasterNodeTimeout: TimeValue syntax
    if "timeout" in call.query:  # accepted from 9.5 (#152179); nothing to wait for on ELSER
        call.timeout("timeout", 30.0)
    if not version.has("update-default-endpoint-message"):
        ids.validate_inference_id(inference_id)  # Request.validate (MlStrings.isValidId) ≤ 9.4
    call.authorize()
    body = ur.parse_body(call.json(wrap_as_map=True), version)
    resolved = ids.resolve_task_type(path_task_type, body.task_type)
    config = state.find(inference_id)
    if config is None:
        raise EsError(
            "resource_not_found_exception", MESSAGES["update_not_found"].format(id=inference_id)
        )
    if inference_id.startswith("."):  # reachable from 9.5 only: ≤ 9.4 failed the id check
        raise status_exception(MESSAGES["default_update"].format(id=inference_id))
    if (refused := eis_rules.refuse_update(config)) is not None:
        raise refused
    if config.task_type != resolved:  # validateResolvedTaskType
        raise status_exception(MESSAGES["update_task_type"])
    new_config = _merged_config(call, config, body)
    if new_config == config:  # unchanged: answered without touching the deployment
        return Reply(_render(call, config))
    _check_deployment_update(config, new_config.service_settings)
    state.endpoints[inference_id] = new_config
    deployment = state.deployments.get(config.deployment_id)
    if deployment is not None:
        new_adaptive = new_config.service_settings.adaptive_allocations
        if new_adaptive != config.service_settings.adaptive_allocations:
            # updateInClusterEndpoint sends them in an UpdateTrainedModelDeploymentAction, whose
            # assignment update merges them (-1 resets a bound); the endpoint stores them as
            # sent (inferred: updateInClusterEndpoint's request building not re-read)
            deployment.adaptive = ss.merge_adaptive(deployment.adaptive, new_adaptive)
        updated = new_config.service_settings
        if updated.num_allocations is not None and not updated.adaptive_enabled:
            state.deployments.set_target(deployment, updated.num_allocations)
    return Reply(_render(call, new_config))


def _merged_config(call: Call, config: EndpointConfig, body: ur.UpdateBody) -> EndpointConfig:
    """combineExistingModelConfigurationsWithNewSettings (+ 9.5 validateConsumedUpdateSettings)."""
    version = call.state.version
    settings = config.service_settings
    new_settings = dict(body.service_settings or {})
    if body.service_settings is not None:
        reject = UPDATE_NUM_THREADS_IGNORED not in call.state.defects  # ES #137129 (8.19, 9.1)
        settings = ur.update_service_settings(settings, new_settings, reject_num_threads=reject)
    chunking_settings = config.chunking_settings
    if body.chunking_settings is not None:  # 9.5 (#149723): replaced, validated as on PUT
        chunking_settings = chunking.parse(body.chunking_settings, version)
    if version.has("update-unknown-settings-rejected"):
        # ELSER's task settings consume nothing: any key is unknown (throwIfNotEmptyMap)
        raise_if_leftover(new_settings, len(body.service_settings or {}))
        raise_if_leftover(dict(body.task_settings or {}))
    if body.chunking_settings is not None and config.service_settings.deployment_id is None:
        # buildModelFromConfigAndSecrets → new ElserInternalModel: the 9.2+ window limit
        chunking.check_elser_chunk_size(chunking_settings, version)
    merged = config.with_settings(settings)
    if chunking_settings != config.chunking_settings:
        merged = replace(merged, chunking_settings=chunking_settings)
    return merged


def _check_deployment_update(config: EndpointConfig, updated: ss.ServiceSettings) -> None:
    """UpdateTrainedModelDeploymentAction.Request.validate, for the allocations just merged."""
    if updated == config.service_settings:
        return
    if updated.num_allocations is not None and updated.adaptive_enabled:
        raise validation_failed(
            [ss.MESSAGES["allocations_with_adaptive"]], "action_request_validation_exception"
        )


LARGE_BODY = 1 << 20  # bytes; see infer()


async def infer(call: Call) -> Reply:
    """RestInferenceAction → TransportInferenceActionProxy → InferenceAction.

    The proxy is the authorised action, so authorization comes first; with a task type in the
    URL the body is parsed and validated before the endpoint is looked up, without one (``any``)
    the proxy looks the endpoint up first (404 before any body error)."""
    task_type = _path_task_type(call)
    inference_id = call.path_params["inference_id"]
    state = call.state
    timeout = call.timeout("timeout", state.config.timing.inference_timeout_seconds)
    call.authorize()
    config = state.find(inference_id) if task_type in (None, "any") else None
    if task_type in (None, "any") and config is None:
        raise _not_found(inference_id)
    json_text = call.content_format in (None, xcontent.JSON)
    # 9.5 (#150116): TransportInferenceActionProxy sends a rerank request (by URL, or by the
    # stored task type on the one-segment URL) to RerankAction: RerankRequest.PARSER and
    # RerankAction.Request.validate, then the endpoint lookup.
    rerank = task_type == "rerank" or (config is not None and config.task_type == "rerank")
    if rerank and state.version.has("inference-rerank-fields-removed"):
        ir.validate_rerank(ir.parse_rerank(call.body, call.json(), json_text=json_text))
        return _rerank_after_parse(call, inference_id, config)

    def parse() -> ir.InferRequest:
        return ir.parse(call.body, call.json(), state.version, json_text=json_text)

    # A body of many megabytes (http.max_content_length allows 100mb) is parsed in a thread,
    # so the event loop keeps serving other requests meanwhile.
    request = await asyncio.to_thread(parse) if len(call.body) > LARGE_BODY else parse()
    ir.validate(request, task_type, state.version)
    if config is None:
        config = state.find(inference_id)
        if config is None:
            raise _not_found(inference_id)
    if task_type not in (None, "any", config.task_type):
        raise status_exception(
            MESSAGES["incompatible_task_type"].format(requested=task_type, actual=config.task_type)
        )
    elastic = config.service == eis_rules.SERVICE
    if not elastic and config.service_settings.model_id not in ss.ELSER_MODELS:  # E5, reranker:
        raise status_exception(  # dense and rerank results are not modelled; say so
            MESSAGES["not_modelled"].format(
                model_id=config.service_settings.model_id, task_type=config.task_type
            ),
            501,
        )
    assert request.texts is not None
    results = await state.inference.infer(config, request.texts, timeout)
    return Reply({"sparse_embedding": [r.to_json() for r in results]})


def _rerank_after_parse(call: Call, inference_id: str, config: EndpointConfig | None) -> Reply:
    """9.5 rerank, after the body: the lookup, the task type, then inference (not modelled:
    the reference server serves no rerank model)."""
    if config is None:
        config = call.state.find(inference_id)
        if config is None:
            raise _not_found(inference_id)
    if config.task_type != "rerank":
        raise status_exception(
            MESSAGES["incompatible_task_type"].format(requested="rerank", actual=config.task_type)
        )
    raise status_exception(
        MESSAGES["not_modelled"].format(
            model_id=config.service_settings.model_id, task_type=config.task_type
        ),
        501,
    )


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
# RestUpdateInferenceModelAction: master_timeout; ?timeout from 9.5 (#152179)
_UPDATE = ("master_timeout",)
_UPDATE_SINCE = (("timeout", "update-timeout-param"),)
ROUTES = [
    Route("PUT", "/_inference/{inference_id}", put_endpoint, PUT, _PUT, "required"),
    Route("PUT", "/_inference/{task_type}/{inference_id}", put_endpoint, PUT, _PUT, "required"),
    Route("GET", "/_inference", get_endpoints, GET),
    Route("GET", "/_inference/_all", get_endpoints, GET),
    Route("GET", "/_inference/{inference_id}", get_endpoints, GET),
    Route("GET", "/_inference/{task_type}/{inference_id}", get_endpoints, GET),
    Route("DELETE", "/_inference/{inference_id}", delete_endpoint, DELETE, _DELETE),
    Route("DELETE", "/_inference/{task_type}/{inference_id}", delete_endpoint, DELETE, _DELETE),
    Route("PUT", "/_inference/{task_type_or_id}/_update", update_endpoint, UPDATE, _UPDATE,
          "required", _UPDATE_SINCE),
    Route("PUT", "/_inference/{task_type}/{inference_id}/_update", update_endpoint, UPDATE,
          _UPDATE, "required", _UPDATE_SINCE),
    Route("POST", "/_inference/{inference_id}", infer, INFER, _PUT, "required"),
    Route("POST", "/_inference/{task_type}/{inference_id}", infer, INFER, _PUT, "required"),
    Route("POST", "/_inference/{inference_id}/_stream", stream, INFER, _PUT, "required"),
    Route(
        "POST", "/_inference/{task_type}/{inference_id}/_stream", stream, INFER, _PUT, "required"
    ),
]  # fmt: skip
