"""Reading a cluster's inference estate, read-only, through the public HTTP API.

``GET /`` (the version), ``GET /_inference/_all`` (every endpoint; ES RestGetInferenceModelAction),
``GET /_ml/trained_models/_stats`` (deployments and their adaptive settings; ES
RestGetTrainedModelsStatsAction) and ``GET /_mapping`` (``semantic_text`` fields and their
``inference_id``; ES SemanticTextFieldMapper). The suite's own transient resources (ids and
indices under the run prefix ``elsercheck-``, ``endpoints.RUN_PREFIX``) are not part of an
estate: a gate or load run in progress must not look like a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from ..endpoints import RUN_PREFIX

# Inference ids a user cannot create start with an alphanumeric character (ES
# PutInferenceModelAction.Request.validate → MlStrings.isValidId: "must start and end with
# alphanumeric"); the preconfigured (default) endpoints are the ones whose id starts with ".",
# e.g. ".elser-2-elasticsearch" (ES ElasticsearchInternalService.DEFAULT_ELSER_ID).
DEFAULT_ID_START = "."
# The task types whose endpoints produce embeddings (probed, and usable by semantic_text).
EMBEDDING_TASK_TYPES = ("sparse_embedding", "text_embedding")
# Services whose endpoints run on the cluster's own ML nodes (a trained model deployment).
ML_NODE_SERVICES = ("elasticsearch", "elser")


class ClusterError(Exception):
    """The cluster answered a read the estate needs with something unusable (one line)."""


def ours(name: str) -> bool:
    """An id or index name of the suite's own runs (``elsercheck-<run-id>-…``)."""
    return name.startswith(f"{RUN_PREFIX}-")


def is_default(inference_id: str) -> bool:
    """A preconfigured endpoint (its id starts with a dot, which users cannot create)."""
    return inference_id.startswith(DEFAULT_ID_START)


def get_json(client: httpx.Client, path: str) -> tuple[int, Any]:
    """``GET path``: (status, JSON body or the text when it is not JSON)."""
    try:
        response = client.get(path)
    except httpx.HTTPError as exc:
        raise ClusterError(f"GET {path}: {exc.__class__.__name__}: {exc}") from None
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text


def error_reason(body: Any) -> str:
    """The ``error.reason`` of an Elasticsearch error body, else the body, shortened."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("reason") or body["error"].get("type"))[:300]
    return str(body)[:300]


@dataclass(frozen=True)
class SemanticField:
    """A ``semantic_text`` field of an index: its path and the endpoint it names."""

    index: str
    field: str  # dotted path
    inference_id: str
    search_inference_id: str | None = None


def version(client: httpx.Client) -> str:
    """``version.number`` of ``GET /``."""
    status, body = get_json(client, "/")
    number = body.get("version", {}).get("number") if isinstance(body, dict) else None
    if status != 200 or not isinstance(number, str):
        raise ClusterError(f"GET / answered {status} without version.number")
    return number


def endpoints(client: httpx.Client) -> tuple[list[dict[str, Any]], str | None]:
    """Every endpoint (not the suite's own), and the reason when the list cannot be read (a
    stored configuration that no longer parses fails the whole list: #124675)."""
    status, body = get_json(client, "/_inference/_all")
    if status in (401, 403):  # credentials, not the estate: the target cannot be used
        raise ClusterError(f"GET /_inference/_all answered {status}: {error_reason(body)}")
    if status != 200 or not isinstance(body, dict) or not isinstance(body.get("endpoints"), list):
        return [], f"GET /_inference/_all answered {status}: {error_reason(body)}"
    found = [
        e for e in body["endpoints"] if isinstance(e, dict) and not ours(str(e.get("inference_id")))
    ]
    return sorted(found, key=lambda e: str(e.get("inference_id"))), None


def endpoint(client: httpx.Client, inference_id: str) -> tuple[dict[str, Any] | None, str]:
    """One endpoint by id: (its configuration, "") or (None, why it could not be read)."""
    status, body = get_json(client, f"/_inference/{inference_id}")
    if status == 200 and isinstance(body, dict):
        for item in body.get("endpoints") or []:
            if isinstance(item, dict) and item.get("inference_id") == inference_id:
                return item, ""
        return None, f"GET /_inference/{inference_id} answered 200 without it"
    return None, f"GET /_inference/{inference_id} answered {status}: {error_reason(body)}"


def deployments(client: httpx.Client) -> list[dict[str, Any]]:
    """Every trained model deployment: id, model, allocations, adaptive settings, nodes."""
    status, body = get_json(client, "/_ml/trained_models/_stats")
    if status != 200 or not isinstance(body, dict):
        raise ClusterError(
            f"GET /_ml/trained_models/_stats answered {status}: {error_reason(body)}"
        )
    found = []
    for model in body.get("trained_model_stats") or []:
        stats = model.get("deployment_stats") if isinstance(model, dict) else None
        if not isinstance(stats, dict) or ours(str(stats.get("deployment_id"))):
            continue
        allocation = stats.get("allocation_status") or {}
        found.append(
            {
                "deployment_id": stats.get("deployment_id"),
                "model_id": stats.get("model_id") or model.get("model_id"),
                "state": stats.get("state"),
                "number_of_allocations": stats.get("number_of_allocations"),
                "threads_per_allocation": stats.get("threads_per_allocation"),
                "adaptive_allocations": stats.get("adaptive_allocations"),
                "allocation_count": allocation.get("allocation_count"),
                "target_allocation_count": allocation.get("target_allocation_count"),
                "allocation_state": allocation.get("state"),
                "nodes": sorted(_node_names(stats)),
            }
        )
    return sorted(found, key=lambda d: str(d["deployment_id"]))


def _node_names(stats: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for entry in stats.get("nodes") or []:
        node = entry.get("node") if isinstance(entry, dict) else None
        if isinstance(node, dict):
            names.update(str(v.get("name") or k) for k, v in node.items() if isinstance(v, dict))
    return names


def semantic_fields(client: httpx.Client) -> list[SemanticField]:
    """Every ``semantic_text`` field of every index (not the suite's own), with its endpoint."""
    status, body = get_json(client, "/_mapping")
    if status != 200 or not isinstance(body, dict):
        raise ClusterError(f"GET /_mapping answered {status}: {error_reason(body)}")
    found: list[SemanticField] = []
    for index, entry in sorted(body.items()):
        if ours(index) or not isinstance(entry, dict):
            continue
        properties = (entry.get("mappings") or {}).get("properties") or {}
        found += _walk(index, properties, "")
    return found


def _walk(index: str, properties: dict[str, Any], prefix: str) -> list[SemanticField]:
    found = []
    for name, mapping in sorted(properties.items()):
        if not isinstance(mapping, dict):
            continue
        path = f"{prefix}{name}"
        if mapping.get("type") == "semantic_text":
            # No inference_id in the mapping: ES applies its default at mapping time and
            # returns it (SemanticTextFieldMapper.getDefaultInferenceId); "" if a cluster did not.
            found.append(
                SemanticField(
                    index,
                    path,
                    str(mapping.get("inference_id") or ""),
                    mapping.get("search_inference_id"),
                )
            )
        for nested in ("properties", "fields"):
            if isinstance(mapping.get(nested), dict):
                found += _walk(index, mapping[nested], f"{path}.")
    return found


def deployment_id_of(endpoint: dict[str, Any]) -> str | None:
    """The deployment an ML-node endpoint runs on: ``service_settings.deployment_id`` when it
    names an existing one, else its own id (ES ElasticsearchInternalModel.mlNodeDeploymentId);
    None for other services."""
    if endpoint.get("service") not in ML_NODE_SERVICES:
        return None
    settings = endpoint.get("service_settings") or {}
    return str(settings.get("deployment_id") or endpoint.get("inference_id"))


def model_of(endpoint: dict[str, Any]) -> str:
    """``service/model_id`` of an endpoint (the model its embeddings come from)."""
    settings = endpoint.get("service_settings") or {}
    return f"{endpoint.get('service')}/{settings.get('model_id', '?')}"


def read(client: httpx.Client) -> dict[str, Any]:
    """The whole estate as plain JSON data (the ``estate`` part of a snapshot)."""
    found, unreadable = endpoints(client)
    fields = semantic_fields(client)
    errors: dict[str, str] = {}
    if unreadable:
        # One stored configuration that no longer parses can fail the whole list (#124675):
        # read each endpoint the mappings name on its own, to name the broken one.
        for inference_id in sorted({f.inference_id for f in fields if f.inference_id}):
            single, why = endpoint(client, inference_id)
            if single is not None:
                found.append(single)
            else:
                errors[inference_id] = why
    return {
        "version": version(client),
        "endpoints": found,
        "endpoints_unreadable": unreadable,
        "endpoint_errors": errors,
        "default_endpoint_ids": [e["inference_id"] for e in found if is_default(e["inference_id"])],
        "deployments": deployments(client),
        "semantic_text_fields": [
            {
                "index": f.index,
                "field": f.field,
                "inference_id": f.inference_id,
                "search_inference_id": f.search_inference_id,
            }
            for f in fields
        ],
    }
