"""``GET /_ml/trained_models/.../_stats`` (ES GetTrainedModelsStatsAction, AssignmentStats)."""

from __future__ import annotations

import time
from typing import Any

from ..mlnode.trained_models import id_tokens, is_all, matches_any
from ..rules.trained_models import MODEL_SIZES
from ..wire.errors import EsError
from ..wire.router import Route
from .call import Call, Reply

STATS = "cluster:monitor/xpack/ml/inference/stats/get"


def _model_entry(state: Any, model_id: str, pipeline_count: int = 0) -> dict[str, Any]:
    """One model's stats without its deployment. An uploaded tree model's size is
    ``TrainedModelSizeStats(config.getModelSize(), 0)``: ``model_size_bytes`` is not computed
    here (rules/uploaded_models.py), so only ``required_native_memory_bytes`` is shown."""
    if model_id in state.models.uploaded:
        size_stats: dict[str, Any] = {"required_native_memory_bytes": 0}
    else:
        size, memory = MODEL_SIZES.get(model_id, (0, 0))
        size_stats = {"model_size_bytes": size, "required_native_memory_bytes": memory}
    return {
        "model_id": model_id,
        "model_size_stats": size_stats,
        "pipeline_count": pipeline_count,
        "inference_stats": {
            "failure_count": 0,
            "inference_count": 0,
            "cache_miss_count": 0,
            "missing_all_fields_count": 0,
            "timestamp": int(time.time() * 1000),
        },
    }


MAX_PAGE = 10_000


def _check_page(start: int, size: int) -> None:
    """ML ``PageParams`` bounds."""
    for name, value in (("from", start), ("size", size)):
        if value < 0:
            raise EsError(
                "illegal_argument_exception",
                f"[{name}] parameter cannot be negative, found [{value}]",
            )
    if start + size > MAX_PAGE:
        raise EsError(
            "illegal_argument_exception",
            f"The sum of parameters [from] and [size] cannot be higher than {MAX_PAGE}.",
        )


def _pipelines(state: Any, *ids: str) -> int:
    """``pipeline_count``: pipelines whose inference processors name the model or its deployment
    (ES InferenceProcessorInfoExtractor.pipelineIdsByResource), or one of its aliases
    (TransportGetTrainedModelsStatsAction.inferenceIngestStatsByModelId). Their ingest stats are not
    modelled (README)."""
    names = set(ids) | {a for i in ids for a in state.models.aliases_of(i)}  # and its aliases
    return sum(1 for p in state.pipelines.items.values() if p.model_ids() & names)


async def trained_model_stats(call: Call) -> Reply:
    """``TransportGetTrainedModelsStatsAction``: the ids expanded as
    ``TrainedModelProvider.expandIds`` expands them (aliases included), deployment ids matched
    too (``matchedDeploymentIds``, ``addModelsUsedInMatchingDeployments``); one entry per
    deployment of a deployed model."""
    expression = call.path_params.get("model_id", "_all")
    allow_no_match = call.flag("allow_no_match", True)
    start = call.integer("from", 0)
    size = call.integer("size", 100)
    _check_page(start, size)
    call.authorize()
    state = call.state
    tokens = id_tokens(expression)
    every = is_all(tokens)

    def named(value: str) -> bool:  # ExpandedIdsMatcher.SimpleIdsMatcher.idMatches
        return every or matches_any(value, set(tokens))

    per_deployment = state.deployments.stats()
    matched_deployments = {
        s["deployment_id"] for _, s in per_deployment if named(s["deployment_id"])
    }
    try:
        found, _ = state.models.expand(expression, allow_no_match, frozenset(matched_deployments))
    except LookupError as missing:
        raise EsError("resource_not_found_exception",
                      f"No known trained model with model_id [{missing}]") from None  # fmt: skip
    models = set(found) | {
        m for m, s in per_deployment if s["deployment_id"] in matched_deployments
    }
    entries: list[tuple[str, str, dict[str, Any]]] = []
    deployed = set()
    for model_id, stats in per_deployment:
        if stats["deployment_id"] in matched_deployments or model_id in found:
            deployed.add(model_id)
            pipelines = _pipelines(state, model_id, stats["deployment_id"])
            entry = _model_entry(state, model_id, pipelines)
            entry["deployment_stats"] = stats
            entries.append((model_id, stats["deployment_id"], entry))
    for model_id in sorted(models - deployed):
        entries.append((model_id, "", _model_entry(state, model_id, _pipelines(state, model_id))))
    entries.sort(key=lambda e: (e[0], e[1]))
    page = [entry for _, _, entry in entries[start : start + size]]
    # GetTrainedModelsStatsAction.Response.Builder.build: count is the number of models the ids
    # matched (expandIds total hits), not of entries, which are one per deployment.
    count = len({model_id for model_id, _, _ in entries})
    return Reply({"count": count, "trained_model_stats": page})


PARAMS = ("allow_no_match", "from", "size")
ROUTES = [
    Route("GET", "/_ml/trained_models/_stats", trained_model_stats, STATS, PARAMS),
    Route("GET", "/_ml/trained_models/{model_id}/_stats", trained_model_stats, STATS, PARAMS),
]
