"""``/_ingest/pipeline`` (ES RestPutPipelineAction, RestGetPipelineAction,
RestDeletePipelineAction) and the pipelines a write runs before indexing (ES
IngestService.executeBulkRequest: the request's ``pipeline``, else the index's
``index.default_pipeline``; ``_none`` runs none; then ``index.final_pipeline``)."""

from __future__ import annotations

import asyncio
import fnmatch
from typing import Any

from ..indices import bulk as bulk_items
from ..indices import pipelines as pl
from ..rules import service_settings as ss
from ..wire.errors import EsError, status_exception
from ..wire.router import Route
from . import ml_uploads
from .call import Call, Reply

PUT = "cluster:admin/ingest/pipeline/put"
GET = "cluster:admin/ingest/pipeline/get"
DELETE = "cluster:admin/ingest/pipeline/delete"
SIMULATE = "cluster:admin/ingest/pipeline/simulate"


async def put_pipeline(call: Call) -> Reply:
    """``PutPipelineTransportAction`` → ``IngestService.validatePipeline``: processors built."""
    pipeline_id = call.path_params["id"]
    call.timeout("master_timeout", 30.0)
    call.timeout("timeout", 30.0)
    if "if_version" in call.query:
        raise pl.not_modelled("the parameter [if_version] of the put pipeline API")
    pipeline = pl.parse(pipeline_id, call.json(wrap_as_map=True))
    call.authorize()
    call.state.pipelines.items[pipeline_id] = pipeline
    return Reply({"acknowledged": True})


def _matching(call: Call, raw: str) -> list[str]:
    names = call.state.pipelines.items
    found: list[str] = []
    for expression in raw.split(","):
        found += [n for n in sorted(names) if fnmatch.fnmatchcase(n, expression) and n not in found]
    return found


async def get_pipeline(call: Call) -> Reply:
    """``GetPipelineTransportAction``: ids and wildcards; none found is a 404 with ``{}``."""
    call.timeout("master_timeout", 30.0)
    if call.flag("summary"):
        raise pl.not_modelled("the parameter [summary=true] of the get pipeline API")
    call.authorize()
    raw = call.path_params.get("id", "*")
    found = _matching(call, raw)
    items = call.state.pipelines.items
    if not found and raw != "*":
        return Reply({}, 404)
    return Reply({name: items[name].source for name in found})


async def delete_pipeline(call: Call) -> Reply:
    """``IngestService.innerDelete``: a missing pipeline is ``pipeline [x] is missing``."""
    call.timeout("master_timeout", 30.0)
    call.timeout("timeout", 30.0)
    call.authorize()
    raw = call.path_params["id"]
    found = _matching(call, raw)
    if not found and "*" not in raw:
        raise EsError("resource_not_found_exception", f"pipeline [{raw}] is missing")
    for name in found:
        del call.state.pipelines.items[name]
    return Reply({"acknowledged": True})


async def simulate(call: Call) -> Reply:
    raise pl.not_modelled("the simulate pipeline API")


# -- running pipelines on writes -------------------------------------------------------------
def _resolver(call: Call) -> tuple[pl.Infer, pl.InputField]:
    state = call.state

    async def infer(model_id: str, text: str) -> tuple[dict[str, float], bool]:
        ml_uploads.refuse_local_inference(call, model_id, "the inference processor")
        config = state.find(model_id)
        if config is not None:  # an inference endpoint (ES InferenceProcessor via InferModel)
            if config.service_settings.model_id not in ss.ELSER_MODELS:
                raise status_exception(
                    f"The reference server does not model inference for "
                    f"[{config.service_settings.model_id}] ({config.task_type})", 501,
                )  # fmt: skip
            results = await state.inference.infer(config, [text], None)
        else:
            deployment = state.deployments.get(model_id) or next(
                (d for d in state.deployments.items.values() if d.model_id == model_id), None
            )
            if deployment is None:
                if state.models.exists(model_id):
                    raise status_exception(f"Trained model [{model_id}] is not deployed", 409)
                raise EsError("resource_not_found_exception",
                              f"Could not find trained model [{model_id}]")  # fmt: skip
            if deployment.allocation_count == 0:
                raise deployment.unavailable(triggered_scale_up=False)
            results = await deployment.infer([text], None)
        return results[0].embedding, results[0].is_truncated

    def input_field(model_id: str) -> str | None:
        ml_uploads.refuse_local_inference(call, model_id, "the inference processor")
        if state.find(model_id) is not None:
            return None
        deployment = state.deployments.get(model_id)
        return state.models.input_fields(deployment.model_id if deployment else model_id)[0]

    return infer, input_field


def _pipelines_for(call: Call, item: bulk_items.Item) -> list[str]:
    index = call.state.indices.get(str(item.index))
    settings: dict[str, Any] = index.settings if index is not None else {}
    names = []
    first = item.pipeline if item.pipeline is not None else settings.get("index.default_pipeline")
    if first is not None and first != "_none":
        names.append(str(first))
    final = settings.get("index.final_pipeline")
    if final is not None and final != "_none":
        names.append(str(final))
    return names


async def apply(call: Call, items: list[bulk_items.Item]) -> None:
    """Run each index/create item's pipelines; a failure fails the item only."""
    infer, input_field = _resolver(call)
    pipelines = call.state.pipelines

    async def one(item: bulk_items.Item) -> None:
        names = _pipelines_for(call, item)
        if not names or item.error is not None or item.op not in ("index", "create"):
            if names and item.op == "update":
                item.error = pl.not_modelled("pipelines on update items")
            return
        try:
            doc = item.body
            for name in names:
                doc = await pl.run(pipelines.get(name), doc, infer, input_field)
            item.body = doc
        except EsError as error:
            item.error = error

    if any(_pipelines_for(call, item) for item in items):
        await asyncio.gather(*(one(item) for item in items))


_MASTER = ("master_timeout", "timeout")
ROUTES = [
    Route("PUT", "/_ingest/pipeline/{id}", put_pipeline, PUT, (*_MASTER, "if_version"),
          "required"),
    Route("GET", "/_ingest/pipeline", get_pipeline, GET, ("master_timeout", "summary")),
    Route("GET", "/_ingest/pipeline/{id}", get_pipeline, GET, ("master_timeout", "summary")),
    Route("DELETE", "/_ingest/pipeline/{id}", delete_pipeline, DELETE, _MASTER),
    Route("POST", "/_ingest/pipeline/{id}/_simulate", simulate, SIMULATE, ("verbose",),
          "required"),
    Route("POST", "/_ingest/pipeline/_simulate", simulate, SIMULATE, ("verbose",), "required"),
]  # fmt: skip
