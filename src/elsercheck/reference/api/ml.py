"""``GET /_ml/trained_models/.../_stats`` (ES GetTrainedModelsStatsAction, AssignmentStats)."""

from __future__ import annotations

import fnmatch
import time
from typing import Any

from ..rules.trained_models import MODEL_SIZES
from ..wire.errors import EsError
from ..wire.router import Route
from .call import Call, Reply

STATS = "cluster:monitor/xpack/ml/inference/stats/get"


def _model_entry(model_id: str, pipeline_count: int = 0) -> dict[str, Any]:
    size, memory = MODEL_SIZES.get(model_id, (0, 0))
    return {
        "model_id": model_id,
        "model_size_stats": {"model_size_bytes": size, "required_native_memory_bytes": memory},
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
    (ES InferenceProcessorInfoExtractor.pipelineIdsByResource). Their ingest stats are not
    modelled (README)."""
    return sum(1 for p in state.pipelines.items.values() if p.model_ids() & set(ids))


async def trained_model_stats(call: Call) -> Reply:
    patterns = call.path_params.get("model_id", "_all").split(",")
    allow_no_match = call.flag("allow_no_match", True)
    start = call.integer("from", 0)
    size = call.integer("size", 100)
    _check_page(start, size)
    call.authorize()
    state = call.state
    per_deployment = state.deployments.stats()
    deployed_models = {model for model, _ in per_deployment}
    known_models = sorted(set(state.models.ids()) | deployed_models)
    entries: list[tuple[str, str, dict[str, Any]]] = []
    matched_any: dict[str, bool] = {p: False for p in patterns}

    def wanted(*names: str) -> bool:
        hit = False
        for pattern in patterns:
            if pattern in ("_all", "*") or any(fnmatch.fnmatchcase(n, pattern) for n in names):
                matched_any[pattern] = hit = True
        return hit

    for model_id, stats in per_deployment:
        if wanted(model_id, stats["deployment_id"]):
            entry = _model_entry(model_id, _pipelines(state, model_id, stats["deployment_id"]))
            entry["deployment_stats"] = stats
            entries.append((model_id, stats["deployment_id"], entry))
    for model_id in known_models:
        if model_id not in deployed_models and wanted(model_id):
            entries.append((model_id, "", _model_entry(model_id, _pipelines(state, model_id))))
    for pattern, hit in matched_any.items():
        explicit = pattern not in ("_all", "*") and "*" not in pattern
        if not hit and (explicit or not allow_no_match):
            raise EsError(
                "resource_not_found_exception", f"No known trained model with model_id [{pattern}]"
            )
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
