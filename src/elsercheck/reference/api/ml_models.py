"""The trained-model path of 8.x guides: ``/_ml/trained_models`` GET/PUT/DELETE and the deployment
``_start``/``_stop``/``_update``/``_infer`` (ES RestGetTrainedModelsAction,
RestPutTrainedModelAction, RestDeleteTrainedModelAction, RestStartTrainedModelDeploymentAction,
RestStopTrainedModelDeploymentAction, RestUpdateTrainedModelDeploymentAction,
RestInferTrainedModelAction and their Transport*Action).

Deployments started here share the simulated ML node with inference endpoints' deployments; an
inference endpoint can use one through ``service_settings.deployment_id``
(ES ElasticsearchInternalService with a deployment id). Of the packages only ELSER is modelled: E5
and the reranker are refused (their dense/rerank results would be stand-ins nobody can check).
Models users upload (trees) and model aliases: ml_uploads.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..indices.bulk import not_modelled
from ..mlnode.deployment import Deployment
from ..mlnode.deployments import MESSAGES as DEPLOYMENT_MESSAGES
from ..rules import service_settings as ss
from ..rules import trained_models as tm
from ..rules import uploaded_models as um
from ..wire.errors import EsError, status_exception, validation_failed
from ..wire.router import Route
from ..wire.timevalue import format_seconds
from . import ml_uploads
from .call import Call, Reply
from .ml import _check_page

GET = "cluster:monitor/xpack/ml/inference/get"
PUT = "cluster:admin/xpack/ml/inference/put"
DELETE = "cluster:admin/xpack/ml/inference/delete"
START = "cluster:admin/xpack/ml/trained_models/deployment/start"
STOP = "cluster:admin/xpack/ml/trained_models/deployment/stop"
UPDATE = "cluster:admin/xpack/ml/trained_models/deployment/update"
INFER = "cluster:monitor/xpack/ml/trained_models/deployment/infer"

DEFAULT_QUEUE_CAPACITY = 1024  # ES StartTrainedModelDeploymentAction.DEFAULT_QUEUE_CAPACITY
MAX_QUEUE_CAPACITY = 1_000_000  # StartTrainedModelDeploymentAction.Request.validate
WAIT_FOR = ("starting", "started", "fully_allocated")  # ES AllocationStatus.State
INCLUDE_VALUES = ("definition", "feature_importance_baseline", "hyperparameters",
                  "total_feature_importance", "definition_status")  # fmt: skip
MESSAGES = {
    # ES TrainedModelProvider.deleteTrainedModel (Messages.INFERENCE_NOT_FOUND)
    "not_found": "Could not find trained model [{id}]",
    # ES TrainedModelProvider.expandIds (as the stats route answers, api/ml.py)
    "no_match": "No known trained model with model_id [{id}]",
    # ES TransportDeleteTrainedModelAction.deleteModel
    "delete_deployed": (
        "Cannot delete model [{id}] as it is currently deployed; use force to delete the model"
    ),
    "delete_referenced": (
        "Cannot delete model [{id}] as it is still referenced by ingest processors; use force to "
        "delete the model"
    ),
    "delete_alias_referenced": (
        "Cannot delete model [{id}] as it has a model_alias [{alias}] that is still referenced "
        "by ingest processors; use force to delete the model"
    ),
    # ES TransportStartTrainedModelDeploymentAction.masterOperation (the id check: Deployments)
    "not_pytorch": (
        "model [{id}] of type [{type}] cannot be deployed. Only PyTorch models can be deployed"
    ),
    "other_model": (
        "Deployment id [{id}] is the same as an another model which is not the model being "
        "deployed. Deployment id can be the same as the model being deployed but cannot match a "
        "different model"
    ),
    # ES TransportStopTrainedModelDeploymentAction.doExecute
    "stop_referenced": (
        "Cannot stop deployment [{id}] as it is referenced by ingest processors; use force to "
        "stop the deployment"
    ),
    # ES ExceptionsHelper.missingModelDeployment (text recalled, not re-read)
    "no_deployment": "Could not find trained model deployment [{id}]",
    # ES TransportInferTrainedModelDeploymentAction (text recalled, not re-read)
    "not_deployed": "Trained model [{id}] is not deployed",
    # StartTrainedModelDeploymentAction.Request.validate (recalled)
    "queue_positive": "[queue_capacity] must be a positive integer",
    "threads_positive": "[threads_per_allocation] must be a positive integer",
    "queue_max": f"[queue_capacity] must be less than {MAX_QUEUE_CAPACITY}",
    "wait_for": "[wait_for] must be one of [starting, started, fully_allocated]",
}


# -- the model configurations ----------------------------------------------------------------
def _config(call: Call, model_id: str, definition_status: bool,
            aliases: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """``TrainedModelConfig.toXContent``, the fields the reference server models (README)."""
    models = call.state.models
    if model_id in models.uploaded:
        out = models.uploaded[model_id].render(aliases or [])
    elif model_id == "lang_ident_model_1":
        out = dict(tm.LANG_IDENT_CONFIG)
    else:
        out = {"model_id": model_id, "model_type": "pytorch"}
        if model_id in tm.PACKAGE_METADATA:
            out["model_package"] = tm.PACKAGE_METADATA[model_id]
        out.update({
            "created_by": "api_user",
            "version": tm.PACKAGE_CONFIG_VERSION,
            "create_time": call.state.deployments.download_times.get(model_id, 0),
            "model_size_bytes": 0,
            "estimated_operations": 0,
            "license_level": "platinum",
            "description": tm.ELSER_PACKAGES.get(model_id, ""),
            "tags": ["elastic"],
            "metadata": {},
            "input": {"field_names": models.input_fields(model_id)},
            "inference_config": tm.ELSER_INFERENCE_CONFIG,
            "location": {"index": {"name": tm.NATIVE_INDEX}},
        })  # fmt: skip
        if model_id in tm.PLATFORM_PACKAGES:
            out["platform_architecture"] = tm.PLATFORM_PACKAGES[model_id]
    if definition_status:  # include=definition_status (ES TrainedModelConfig.FULLY_DEFINED)
        out["fully_defined"] = models.fully_defined(model_id)
    return out


def _includes(call: Call) -> bool:
    """``include``: only ``definition_status`` is modelled; the others are refused by name."""
    raw = call.query.get("include", "")
    wanted = [v.strip() for v in raw.split(",") if v.strip()]
    for value in wanted:
        if value not in INCLUDE_VALUES:
            raise EsError(
                "illegal_argument_exception",
                f"[include] parameter must be one of {list(INCLUDE_VALUES)}, found [{value}]",
            )
        if value != "definition_status":
            raise not_modelled(f"[include={value}] of the get trained models API")
    return "definition_status" in wanted


async def get_models(call: Call) -> Reply:
    """``TransportGetTrainedModelsAction``: ids and wildcards expanded, sorted by id, paged."""
    expression = call.path_params.get("model_id", "_all")
    allow_no_match = call.flag("allow_no_match", True)
    start, size = call.integer("from", 0), call.integer("size", 100)
    _check_page(start, size)
    definition_status = _includes(call)
    if call.flag("exclude_generated"):
        raise not_modelled("[exclude_generated=true] of the get trained models API")
    if call.flag("include_model_definition"):
        raise not_modelled("[include_model_definition=true] (the model definition)")
    call.flag("decompress_definition", True)
    if call.query.get("tags"):
        raise not_modelled("[tags] of the get trained models API")
    call.authorize()
    try:  # TrainedModelProvider.expandIds: ids, wildcards and model aliases
        found, aliases = call.state.models.expand(expression, allow_no_match)
    except LookupError as missing:
        raise EsError("resource_not_found_exception",
                      MESSAGES["no_match"].format(id=missing)) from None  # fmt: skip
    page = [_config(call, m, definition_status, aliases.get(m, []))
            for m in found[start : start + size]]  # fmt: skip
    return Reply({"count": len(found), "trained_model_configs": page})


def _check_package(call: Call, model_id: str) -> None:
    if model_id in tm.UNMODELLED_PACKAGES:
        raise not_modelled(
            f"the trained model [{model_id}]: its dense or rerank results would be stand-ins "
            "nobody could check"
        )
    if model_id not in tm.ELSER_PACKAGES:
        raise not_modelled(
            f"uploading the trained model [{model_id}] (only the ELSER packages "
            f"{sorted(tm.ELSER_PACKAGES)} can be put)"
        )
    if model_id == ".elser_model_1" and call.state.version.major >= 9:
        raise not_modelled("[.elser_model_1] on 9.x (whether 9.x still downloads it was not "
                           "verified)")  # fmt: skip
    if model_id in tm.PLATFORM_PACKAGES and not call.state.config.platform_x86:
        raise not_modelled(f"[{model_id}] on a cluster whose ML node is not linux-x86_64")


async def put_model(call: Call) -> Reply:
    """``TransportPutTrainedModelAction`` for a packaged model: the download starts
    (``fully_defined`` false until it ends); ``wait_for_completion`` waits for it."""
    model_id = call.path_params["model_id"]
    wait = call.flag("wait_for_completion")
    timeout = call.timeout("timeout", 30.0)
    if call.flag("defer_definition_decompression"):
        raise not_modelled("[defer_definition_decompression=true]")
    if not model_id.startswith("."):  # not a package (TrainedModelConfig.isPackagedModel)
        return await ml_uploads.put_uploaded(call, model_id)
    _check_package(call, model_id)
    body = call.json(wrap_as_map=True)
    for key in body:
        if key != "input":
            raise not_modelled(f"[{key}] in the body of a packaged model's PUT (only [input])")
    field_names = (body.get("input") or {}).get("field_names") if isinstance(
        body.get("input"), dict) else None  # fmt: skip
    if not isinstance(field_names, list) or not all(isinstance(f, str) for f in field_names):
        raise not_modelled("a packaged model's PUT without [input.field_names] as a list of "
                           "strings")  # fmt: skip
    call.authorize()
    models = call.state.models
    if models.exists(model_id):
        message = ml_uploads.MODEL_EXISTS.format(id=model_id)
        raise EsError("resource_already_exists_exception", message)
    models.define(model_id, field_names)
    if wait:
        download = call.state.deployments.download(model_id)
        try:
            await asyncio.wait_for(asyncio.shield(download), timeout)
        except TimeoutError:
            message = DEPLOYMENT_MESSAGES["download_running"].format(model_id=model_id)
            raise status_exception(message, 408) from None
    return Reply(_config(call, model_id, definition_status=False))


async def delete_model(call: Call) -> Reply:
    """``TransportDeleteTrainedModelAction``: download cancelled; refused while referenced by
    a pipeline or deployed, unless ``force`` (which stops its deployments)."""
    model_id = call.path_params["model_id"]
    force = call.flag("force")
    call.timeout("timeout", 30.0)
    call.authorize()
    state = call.state
    if model_id in tm.BUILT_IN_MODELS:
        raise not_modelled(f"deleting the built-in model [{model_id}]")
    if not state.models.exists(model_id):
        raise EsError("resource_not_found_exception", MESSAGES["not_found"].format(id=model_id))
    referenced = state.pipelines.model_ids()
    if not force and model_id in referenced:
        raise status_exception(MESSAGES["delete_referenced"].format(id=model_id), 409)
    used_alias = next((a for a in state.models.aliases_of(model_id) if a in referenced), None)
    if not force and used_alias is not None:
        raise status_exception(
            MESSAGES["delete_alias_referenced"].format(id=model_id, alias=used_alias), 409
        )
    deployed = [d for d in list(state.deployments.items.values()) if d.model_id == model_id]
    if deployed and not force:
        raise status_exception(MESSAGES["delete_deployed"].format(id=model_id), 409)
    for deployment in deployed:
        await state.deployments.stop(deployment.deployment_id)
    state.models.delete(model_id)
    return Reply({"acknowledged": True})


# -- deployments -----------------------------------------------------------------------------
def _int_param(call: Call, body: dict[str, Any], name: str) -> int | None:
    if name in call.query:
        return call.integer(name, 0)
    value = body.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise EsError("x_content_parse_exception", f"[{name}] must be an integer")
    return value


def _adaptive(body: dict[str, Any]) -> ss.AdaptiveAllocations | None:
    """``adaptive_allocations`` of the ML start/update body. ES AdaptiveAllocationsSettings.PARSER
    reads a null bound as -1 (``declareIntOrNull(…, -1, …)``: the reset placeholder) and the
    update request reads a null object as RESET_PLACEHOLDER (UpdateTrainedModelDeploymentAction
    ``declareObjectOrNull``)."""
    if "adaptive_allocations" not in body:
        return None
    raw = body["adaptive_allocations"]
    if raw is None:
        return ss.RESET
    if isinstance(raw, dict):
        bounds = ("min_number_of_allocations", "max_number_of_allocations")
        raw = {k: ss.RESET_BOUND if k in bounds and v is None else v for k, v in raw.items()}
    errors: list[str] = []
    adaptive = ss.parse_adaptive({"adaptive_allocations": raw}, errors)
    if errors:
        raise validation_failed(errors, "action_request_validation_exception")
    return adaptive


START_BODY = frozenset({"adaptive_allocations", "number_of_allocations",
                        "threads_per_allocation", "queue_capacity", "priority"})  # fmt: skip


def assignment(call: Call, deployment: Deployment) -> dict[str, Any]:
    """``TrainedModelAssignment.toXContent``, the fields the reference server models (README)."""
    node_id = call.state.deployments.node.node_id
    routing = {}
    if deployment.booted:
        routing[node_id] = {
            "current_allocations": deployment.allocation_count,
            "target_allocations": deployment.target_allocations,
            "routing_state": "started" if deployment.allocation_count else "starting",
            "reason": "",
        }
    out: dict[str, Any] = {
        "task_parameters": {
            "model_id": deployment.model_id,
            "deployment_id": deployment.deployment_id,
            "threads_per_allocation": deployment.threads,
            "number_of_allocations": deployment.target_allocations,
            "queue_capacity": deployment.queue_capacity,
            "priority": "normal",
        },
        "routing_table": routing,
        "assignment_state": "started" if deployment.state == "started" else "starting",
        "start_time": deployment.start_time,
    }
    if deployment.adaptive is not None:
        out["adaptive_allocations"] = deployment.adaptive.to_json()
    return out


async def start_deployment(call: Call) -> Reply:
    """``TransportStartTrainedModelDeploymentAction``: request validation, then deployment
    limit → id taken → model → id clash with another model → download → assignment → wait."""
    state = call.state
    model_id = call.path_params["model_id"]
    body = call.json(wrap_as_map=True) if call.body else {}
    for key in body:
        if key not in START_BODY:
            raise not_modelled(f"[{key}] in the body of the start deployment API")
    deployment_id = call.query.get("deployment_id") or model_id
    allocations = _int_param(call, body, "number_of_allocations")
    threads = _int_param(call, body, "threads_per_allocation")
    queue = _int_param(call, body, "queue_capacity")
    timeout = call.timeout("timeout", 30.0)
    wait_for = call.query.get("wait_for", "started")
    priority = call.query.get("priority", body.get("priority", "normal"))
    if "cache_size" in call.query:
        raise not_modelled("[cache_size] of the start deployment API")
    if wait_for not in WAIT_FOR:
        raise EsError("illegal_argument_exception", MESSAGES["wait_for"])
    if priority != "normal":
        raise not_modelled(f"[priority={priority}] (low-priority deployments)")
    adaptive = _adaptive(body)
    if adaptive is ss.RESET:  # what the start request's parser does with null was not read
        raise not_modelled("[adaptive_allocations: null] in the start deployment API")
    settings = ss.ServiceSettings(allocations, 1 if threads is None else threads, model_id,
                                  adaptive)  # fmt: skip
    errors = []
    if settings.num_threads < 1:
        errors.append(MESSAGES["threads_positive"])
    else:
        errors += ss.deployment_start_errors(settings)
    if queue is not None and queue < 1:
        errors.append(MESSAGES["queue_positive"])
    if queue is not None and queue >= MAX_QUEUE_CAPACITY:
        errors.append(MESSAGES["queue_max"])
    if errors:
        raise validation_failed(errors, "action_request_validation_exception")
    call.authorize()
    ml_uploads.refuse_alias(call, model_id, "starting a deployment")
    state.deployments.check_can_start(deployment_id)
    if not state.models.exists(model_id):
        raise EsError("resource_not_found_exception", MESSAGES["no_match"].format(id=model_id))
    if model_id in tm.BUILT_IN_MODELS:
        raise status_exception(MESSAGES["not_pytorch"].format(id=model_id, type="lang_ident"))
    if model_id in state.models.uploaded:
        raise status_exception(MESSAGES["not_pytorch"].format(id=model_id,
                                                              type=um.TREE_ENSEMBLE))  # fmt: skip
    if deployment_id != model_id and state.models.exists(deployment_id):
        raise status_exception(MESSAGES["other_model"].format(id=deployment_id))
    download = state.deployments.download(model_id)
    try:
        await asyncio.wait_for(asyncio.shield(download), timeout)
    except TimeoutError:
        message = DEPLOYMENT_MESSAGES["download_running"].format(model_id=model_id)
        raise status_exception(message, 408) from None
    state.deployments.check_can_start(deployment_id)  # started meanwhile?
    deployment = state.deployments.start(
        deployment_id, settings, queue if queue is not None else DEFAULT_QUEUE_CAPACITY
    )
    if wait_for == "started":
        await state.deployments.wait_started(deployment, timeout)
    elif wait_for == "fully_allocated":
        await _wait_fully_allocated(deployment, timeout)
    return Reply({"assignment": assignment(call, deployment)})


async def _wait_fully_allocated(deployment: Deployment, timeout: float | None) -> None:
    async def allocated() -> None:
        while deployment.allocation_state() != "fully_allocated" or not deployment.booted:
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(allocated(), timeout)
    except TimeoutError:
        message = DEPLOYMENT_MESSAGES["start_timeout"].format(
            timeout=format_seconds(timeout or 0), id=deployment.deployment_id
        )
        raise status_exception(message, 408) from None


def _owned_by_endpoint(call: Call, deployment_id: str) -> bool:
    config = call.state.endpoints.get(deployment_id) or call.state.defaults.get(deployment_id)
    return config is not None and config.service_settings.deployment_id is None


async def stop_deployment(call: Call) -> Reply:
    """``TransportStopTrainedModelDeploymentAction.doExecute``."""
    deployment_id = call.path_params["model_id"]
    body = call.json(wrap_as_map=True) if call.body else {}
    force = call.flag("force") or body.get("force") is True
    allow_no_match = call.flag("allow_no_match", body.get("allow_no_match", True) is not False)
    call.authorize()
    state = call.state
    if state.deployments.get(deployment_id) is None:
        if not allow_no_match:
            raise EsError(
                "resource_not_found_exception", MESSAGES["no_deployment"].format(id=deployment_id)
            )
        return Reply({"stopped": True})
    if not force and deployment_id in state.pipelines.model_ids():
        raise status_exception(MESSAGES["stop_referenced"].format(id=deployment_id), 409)
    await state.deployments.stop(deployment_id)
    return Reply({"stopped": True})


async def update_deployment(call: Call) -> Reply:
    """``TransportUpdateTrainedModelDeploymentAction``: allocations or adaptive allocations."""
    deployment_id = call.path_params["model_id"]
    body = call.json(wrap_as_map=True) if call.body else {}
    for key in body:
        if key not in ("number_of_allocations", "adaptive_allocations"):
            raise not_modelled(f"[{key}] in the body of the update deployment API")
    allocations = _int_param(call, body, "number_of_allocations")
    adaptive = _adaptive(body)
    errors = []
    if allocations is not None and allocations < 1:
        errors.append(ss.MESSAGES["allocations_not_positive"])
    if allocations is not None and adaptive is not None and adaptive.is_enabled:
        errors.append(ss.MESSAGES["allocations_with_adaptive"])
    if errors:
        raise validation_failed(errors, "action_request_validation_exception")
    call.authorize()
    state = call.state
    deployment = state.deployments.get(deployment_id)
    if deployment is None:
        raise EsError(
            "resource_not_found_exception", MESSAGES["no_deployment"].format(id=deployment_id)
        )
    if _owned_by_endpoint(call, deployment_id):
        raise not_modelled(
            f"updating through the ML API the deployment [{deployment_id}] that an inference "
            "endpoint created (use the inference update API)"
        )
    deployment.adaptive = ss.merge_adaptive(deployment.adaptive, adaptive)
    if allocations is not None:
        if deployment.adaptive is not None and deployment.adaptive.is_enabled:
            deployment.adaptive = ss.AdaptiveAllocations(False, None, None)
        state.deployments.set_target(deployment, allocations)
    return Reply({"assignment": assignment(call, deployment)})


async def infer(call: Call) -> Reply:
    """``TransportInferTrainedModelDeploymentAction``: each doc's input field, in order."""
    target = call.path_params["model_id"]
    timeout = call.timeout("timeout", 10.0)
    body = call.json(wrap_as_map=True)
    for key in body:
        if key != "docs":
            raise not_modelled(f"[{key}] in the body of the infer trained model API")
    docs = body.get("docs")
    if not isinstance(docs, list) or not docs or not all(isinstance(d, dict) for d in docs):
        raise validation_failed(["[docs] must be a non-empty list of objects"],
                                "action_request_validation_exception")  # fmt: skip
    call.authorize()
    state = call.state
    ml_uploads.refuse_local_inference(call, target, "the infer trained model API")
    deployment = state.deployments.get(target) or next(
        (d for d in state.deployments.items.values() if d.model_id == target), None
    )
    if deployment is None:
        if not state.models.exists(target):
            raise EsError("resource_not_found_exception", MESSAGES["no_match"].format(id=target))
        raise status_exception(MESSAGES["not_deployed"].format(id=target), 409)
    field = state.models.input_fields(deployment.model_id)[0]
    texts = []
    for doc in docs:
        value = doc.get(field)
        if not isinstance(value, str):
            raise not_modelled(f"a doc without the string input field [{field}]")
        texts.append(value)
    if deployment.allocation_count == 0:
        raise deployment.unavailable(triggered_scale_up=False)
    results = await deployment.infer(texts, timeout)
    answers = []
    for result in results:  # ES TextExpansionResults: results_field, is_truncated when true
        entry: dict[str, Any] = {"predicted_value": result.embedding}
        if result.is_truncated:
            entry["is_truncated"] = True
        answers.append(entry)
    return Reply({"inference_results": answers})


_GET = ("allow_no_match", "from", "size", "include", "decompress_definition",
        "exclude_generated", "tags", "include_model_definition")  # fmt: skip
_START = ("cache_size", "deployment_id", "number_of_allocations", "priority", "queue_capacity",
          "threads_per_allocation", "timeout", "wait_for")  # fmt: skip
_BASE = "/_ml/trained_models/{model_id}"
ROUTES = [
    Route("GET", "/_ml/trained_models", get_models, GET, _GET),
    Route("GET", _BASE, get_models, GET, _GET),
    Route("PUT", _BASE, put_model, PUT,
          ("wait_for_completion", "defer_definition_decompression", "timeout"), "required"),
    Route("DELETE", _BASE, delete_model, DELETE, ("force", "timeout")),
    Route("POST", _BASE + "/deployment/_start", start_deployment, START, _START, "optional"),
    Route("POST", _BASE + "/deployment/_stop", stop_deployment, STOP,
          ("allow_no_match", "force"), "optional"),
    Route("POST", _BASE + "/deployment/_update", update_deployment, UPDATE,
          ("number_of_allocations",), "optional"),
    Route("PUT", _BASE + "/model_aliases/{model_alias}", ml_uploads.put_alias,
          ml_uploads.PUT_ALIAS, ("reassign",)),
    Route("DELETE", _BASE + "/model_aliases/{model_alias}", ml_uploads.delete_alias,
          ml_uploads.DELETE_ALIAS),
    Route("PUT", _BASE + "/definition/{part}", ml_uploads.definition_part, ml_uploads.PUT_PART,
          (), "optional"),
    Route("PUT", _BASE + "/vocabulary", ml_uploads.vocabulary, ml_uploads.PUT_VOCABULARY, (),
          "optional"),
    Route("POST", _BASE + "/_infer", infer, INFER, ("timeout",), "required"),
    Route("POST", _BASE + "/deployment/_infer", infer, INFER, ("timeout",), "required"),
]  # fmt: skip
