"""``GET /_xpack/usage``: the ``inference`` section only (ES TransportInferenceUsageAction,
ModelStats, SemanticTextStats). The answer holds only the sections the reference server models
(README); every other feature's section is absent, never filled with stand-in values.

The form is the one read in the source at the newest modelled version (9.5): per service and
task type, ``_all`` per task type (every task type but ``ANY``), ``semantic_text`` statistics on
the embedding task types, and ``_<service>_<model>`` entries for the models of the
preconfigured embedding endpoints. Earlier versions' form (when the ``semantic_text`` statistics
and the default-model entries appeared: ES ModelStats.SEMANTIC_TEXT_USAGE) was not verified:
they refuse the API, naming it.
"""

from __future__ import annotations

from typing import Any

from ..indices.bulk import not_modelled
from ..rules.endpoint_config import EndpointConfig
from ..wire.router import Route
from .call import Call, Reply

USAGE = "cluster:monitor/xpack/usage"
MODELLED_LINES = ("9.5",)
# ES TaskType (minus ANY); EMBEDDING from 9.3 (#138198)
TASK_TYPES = ("TEXT_EMBEDDING", "SPARSE_EMBEDDING", "RERANK", "COMPLETION", "CHAT_COMPLETION",
              "EMBEDDING")  # fmt: skip
SEMANTIC_TEXT_TASKS = (
    "TEXT_EMBEDDING",
    "SPARSE_EMBEDDING",
)  # TASK_TYPES_WITH_SEMANTIC_TEXT_SUPPORT
LINUX_SUFFIX = "_linux-x86_64"  # TransportInferenceUsageAction.MODEL_ID_LINUX_SUFFIX


def _strip(model_id: str) -> str:
    return model_id.removesuffix(LINUX_SUFFIX)


class _Stats:
    def __init__(self, service: str, task_type: str, count: int = 0) -> None:
        self.service, self.task_type, self.count = service, task_type, count
        self.semantic: dict[str, int] | None = (
            {"field_count": 0, "indices_count": 0, "inference_id_count": 0}
            if task_type in SEMANTIC_TEXT_TASKS else None
        )  # fmt: skip

    def add_fields(self, fields_by_index: dict[str, list[tuple[str, str]]]) -> None:
        """``addSemanticTextStats``: fields, indices, distinct inference ids."""
        assert self.semantic is not None
        ids: set[str] = set()
        for fields in fields_by_index.values():
            self.semantic["field_count"] += len(fields)
            self.semantic["indices_count"] += 1
            ids.update(inference_id for _, inference_id in fields)
        self.semantic["inference_id_count"] = len(ids)

    def to_json(self) -> dict[str, Any]:
        """``ModelStats.toXContent``."""
        out: dict[str, Any] = {"service": self.service, "task_type": self.task_type,
                               "count": self.count}  # fmt: skip
        if self.semantic is not None:
            out["semantic_text"] = dict(self.semantic)
        return out


def collect(call: Call) -> list[dict[str, Any]]:
    """``collectUsage``: the models sorted by their key (a ``TreeMap``)."""
    state = call.state
    endpoints = state.all_endpoints()
    by_id = {e.inference_id: e for e in endpoints}
    # (service, TASK) -> index -> [(field, inference_id)] (mapInferenceFieldsByIndexServiceAndTask)
    fields: dict[tuple[str, str], dict[str, list[tuple[str, str]]]] = {}
    for name, index in state.indices.indices.items():
        for field, spec in index.mapping.semantic.items():
            config = by_id.get(spec.inference_id)
            if config is None:
                continue
            key = (config.service, config.task_type.upper())
            fields.setdefault(key, {}).setdefault(name, []).append((field, spec.inference_id))
    stats: dict[str, _Stats] = {}
    for config in endpoints:  # addStatsByServiceAndTask
        task = config.task_type.upper()
        stats.setdefault(f"{config.service}:{task}", _Stats(config.service, task)).count += 1
        stats.setdefault(f"_all:{task}", _Stats("_all", task)).count += 1
    for (service, task), by_index in fields.items():
        stats[f"{service}:{task}"].add_fields(by_index)
    for task in TASK_TYPES:  # addTopLevelStatsByTask
        if task == "EMBEDDING" and not state.version.has("embedding-task-type"):
            continue
        entry = stats.setdefault(f"_all:{task}", _Stats("_all", task))
        if task in SEMANTIC_TEXT_TASKS:
            merged: dict[str, list[tuple[str, str]]] = {}
            for (_, t), by_index in fields.items():
                if t == task:
                    for index_name, found in by_index.items():
                        merged.setdefault(index_name, []).extend(found)
            entry.add_fields(merged)
    _default_models(state.defaults, endpoints, fields, stats)
    return [stats[key].to_json() for key in sorted(stats)]


def _default_models(
    defaults: dict[str, Any], endpoints: list[EndpointConfig],
    fields: dict[tuple[str, str], dict[str, list[tuple[str, str]]]], stats: dict[str, _Stats],
) -> None:  # fmt: skip
    """``addStatsForDefaultModelsCompatibleWithSemanticText``: ``_<service>_<model>`` entries
    counting every endpoint on a preconfigured embedding endpoint's model."""
    model_of = {e.inference_id: _strip(e.service_settings.model_id) for e in endpoints}
    models = {
        _strip(e.service_settings.model_id) for e in endpoints
        if e.task_type.upper() in SEMANTIC_TEXT_TASKS and e.inference_id in defaults
    }  # fmt: skip
    counts: dict[tuple[str, str, str], int] = {}
    for e in endpoints:
        model = _strip(e.service_settings.model_id)
        if model in models:
            key = (e.service, e.task_type.upper(), model)
            counts[key] = counts.get(key, 0) + 1
    for (service, task, model), count in counts.items():
        name = f"_{service}_{model.replace('.', '_')}"  # DefaultModelStatsKey.toString
        entry = _Stats(name, task, count)
        by_index = fields.get((service, task), {})
        kept = {index: [f for f in found if model_of.get(f[1]) == model]
                for index, found in by_index.items()}  # fmt: skip
        entry.add_fields({index: found for index, found in kept.items() if found})
        stats[name] = entry


async def xpack_usage(call: Call) -> Reply:
    """``RestXPackUsageAction``: ``master_timeout``; only the modelled sections answer."""
    call.timeout("master_timeout", 30.0)
    if call.state.version.line not in MODELLED_LINES:
        raise not_modelled(
            f"[GET /_xpack/usage] on {call.state.version.line} (the inference usage form of "
            "versions before 9.5 was not verified)"
        )
    call.authorize()
    inference = {"available": True, "enabled": True, "models": collect(call)}
    return Reply({"inference": inference})


ROUTES = [Route("GET", "/_xpack/usage", xpack_usage, USAGE, ("master_timeout",))]
