"""``doctor``: read-only findings on a cluster's estate as it is, each with its evidence and a
suggested action. Pure: the rules read an estate (``cluster.read``), so a test can hand one in.

Rules (each cites where the problem comes from):

* ``endpoints-unreadable`` / ``endpoint-missing`` — a ``semantic_text`` field whose endpoint no
  longer resolves (deleted with ``force``, an EIS endpoint whose authorization went, renamed
  preview EIS ids, or a stored configuration that no longer parses);
* ``mixed-models`` — an index whose ``semantic_text`` fields use different endpoints or models;
* ``deployment-gone`` — an ML-node endpoint without its trained model deployment;
* ``idle-cost`` — allocations held while idle (``min_number_of_allocations`` ≥ 1, or fixed
  allocations);
* ``scale-to-zero-bug`` — ``min_number_of_allocations`` 0 on a version with a known bug there;
* ``shared-ml-nodes`` / ``deployment-without-endpoint`` (notes) — what else runs on the ML nodes.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .cluster import deployment_id_of, is_default, model_of
from .findings import NOTE, Finding
from .known_bugs import bugs_for

# Ids Elastic's preview EIS endpoints had before they were renamed (#136626) and the newer
# preconfigured EIS ids: an endpoint of the `elastic` service that disappears usually means the
# cluster's EIS authorization changed (ES AuthorizationPoller; 9.4 deletes the endpoints listed
# under removed_endpoints, #145224) or the id was renamed.
# The "-<service>" suffix of preconfigured ids names their service (#115395, which foresaw
# ".elser-2-eis").
EIS_HINT = ("-elastic", "-eis", ".elastic-", ".jina-")
# Kibana creates endpoints and deployments of its own (the Observability AI Assistant's
# knowledge base: kibana#220870, kibana#222474; legacy ids kept across upgrades: kibana#227103).
KIBANA_IDS = ("obs_ai_assistant_kb_inference", ".kibana", "kibana")


def diagnose(estate: dict[str, Any]) -> list[Finding]:
    """Every finding and note about ``estate`` (``cluster.read``'s data)."""
    return [
        *_unresolved(estate),
        *_mixed_models(estate),
        *_deployment_gone(estate),
        *_idle_cost(estate),
        *_scale_to_zero_bugs(estate),
        *_ml_node_sharing(estate),
    ]


def _by_id(estate: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(e.get("inference_id")): e for e in estate["endpoints"]}


def _unresolved(estate: dict[str, Any]) -> list[Finding]:
    found = []
    errors: dict[str, str] = estate.get("endpoint_errors") or {}
    if estate.get("endpoints_unreadable"):
        found.append(
            Finding(
                "endpoints-unreadable",
                "endpoints",
                "the list of inference endpoints cannot be read",
                estate["endpoints_unreadable"],
                "recreate the endpoint whose stored configuration no longer parses (below, when "
                "a mapping names it) with the same id",
                source="elastic/elasticsearch#124675 (a stored 8.12 'elser' endpoint after 8.16)",
            )
        )
    for inference_id, why in sorted(errors.items()):
        if " 404" not in why:  # read on its own, it answers an error: it does not parse
            found.append(
                Finding(
                    "endpoint-unreadable",
                    f"endpoint {inference_id}",
                    "exists but cannot be read (its stored configuration does not parse)",
                    why,
                    f"recreate {inference_id} with the same id and a current configuration",
                    source="elastic/elasticsearch#124675",
                )
            )
    endpoints = _by_id(estate)
    for field in estate["semantic_text_fields"]:
        for key in ("inference_id", "search_inference_id"):
            inference_id = field.get(key)
            if not inference_id or inference_id in endpoints:
                continue
            if inference_id in errors and " 404" not in errors[inference_id]:
                continue  # reported above as unreadable, not missing
            eis = any(hint in inference_id for hint in EIS_HINT)
            why = (
                "an EIS endpoint: its service may no longer be authorized for this cluster, "
                "or its preview id was renamed"
                if eis
                else "deleted (with force) or never created"
            )
            found.append(
                Finding(
                    "endpoint-missing",
                    f"index {field['index']}",
                    f"semantic_text field {field['field']} "
                    f"names {key} {inference_id!r}, which does "
                    f"not resolve ({why})",
                    f"GET /_mapping: {field['index']}.{field['field']}.{key} = {inference_id}; "
                    f"GET /_inference/_all has no such endpoint",
                    f"recreate {inference_id!r} with the model the field was indexed with; a "
                    "different model means reindexing into a field on the new endpoint",
                    source=(
                        "elastic/elasticsearch#136626, #145224 (EIS ids and authorization)"
                        if eis
                        else "docs-content#8012 (switching models means a reindex)"
                    ),
                )
            )
    return found


def _mixed_models(estate: dict[str, Any]) -> list[Finding]:
    endpoints = _by_id(estate)
    by_index: dict[str, dict[str, str]] = defaultdict(dict)
    for field in estate["semantic_text_fields"]:
        if field.get("inference_id"):
            by_index[field["index"]][field["field"]] = field["inference_id"]
    found = []
    for index, fields in sorted(by_index.items()):
        ids = sorted(set(fields.values()))
        if len(ids) < 2:
            continue
        models = {i: model_of(endpoints[i]) if i in endpoints else "unresolved" for i in ids}
        kinds = "models" if len(set(models.values())) > 1 else "endpoints of one model"
        found.append(
            Finding(
                "mixed-models",
                f"index {index}",
                f"its semantic_text fields use {len(ids)} different {kinds}",
                "; ".join(f"{f} → {i} ({models[i]})" for f, i in sorted(fields.items())),
                "queries across these fields compare scores of different embeddings; keep one "
                "endpoint per index, or query each field on its own",
                source="docs-content#8012 (one model per field; switching means a reindex)",
            )
        )
    return found


def _deployment_gone(estate: dict[str, Any]) -> list[Finding]:
    deployed = {str(d["deployment_id"]) for d in estate["deployments"]}
    bugs = bugs_for(estate["version"], "scale-to-zero")
    found = []
    for endpoint in estate["endpoints"]:
        inference_id = str(endpoint.get("inference_id"))
        deployment_id = deployment_id_of(endpoint)
        # A preconfigured endpoint deploys its model on first use (ES ElasticsearchInternalService
        # BatchIterator: "The first request may deploy the model", maybeStartDeployment): no
        # deployment before that is its normal state.
        if deployment_id is None or is_default(inference_id) or deployment_id in deployed:
            continue
        hint = (
            (
                "; on this version a deployment at zero allocations can vanish: "
                + ", ".join(b.issue for b in bugs)
            )
            if bugs
            else ""
        )
        found.append(
            Finding(
                "deployment-gone",
                f"endpoint {inference_id}",
                f"its trained model deployment {deployment_id!r} does not exist{hint}",
                f"GET /_ml/trained_models/_stats lists no deployment_id {deployment_id}; "
                f"model {model_of(endpoint)}",
                "delete and recreate the endpoint (same id and settings), or start the deployment: "
                "POST "
                f"_ml/trained_models/<model_id>/deployment/_start?deployment_id={deployment_id}",
                source="elastic/elasticsearch#137134, #146806" if bugs else "",
            )
        )
    return found


def _adaptive(deployment: dict[str, Any]) -> dict[str, Any]:
    adaptive = deployment.get("adaptive_allocations") or {}
    return adaptive if adaptive.get("enabled") else {}


def _idle_cost(estate: dict[str, Any]) -> list[Finding]:
    endpoint_of = {deployment_id_of(e): str(e["inference_id"]) for e in estate["endpoints"]}
    found = []
    for deployment in estate["deployments"]:
        deployment_id = str(deployment["deployment_id"])
        where = (
            f"PUT _inference/{endpoint_of[deployment_id]}/_update"
            if deployment_id in endpoint_of
            else f"POST _ml/trained_models/{deployment_id}/deployment/_update"
        )
        adaptive = _adaptive(deployment)
        threads = deployment.get("threads_per_allocation") or 1
        if adaptive:
            held = adaptive.get("min_number_of_allocations") or 0
            evidence = f"adaptive_allocations.min_number_of_allocations {held}"
        else:
            held = deployment.get("number_of_allocations") or 0
            evidence = f"fixed number_of_allocations {held} (adaptive allocations off)"
        if held < 1:
            continue
        found.append(
            Finding(
                "idle-cost",
                f"deployment {deployment_id}",
                f"holds {held} allocation(s) × {threads} "
                f"thread(s) = {held * threads} vCPU while idle",
                f"{evidence}; model {deployment.get('model_id')}",
                "if a cold start on the first request is acceptable, set adaptive allocations with "
                f"min_number_of_allocations 0 ({where})",
                source=(
                    "kibana#220870, kibana#222474 (Kibana moved "
                    "its own endpoint to min 0 for this cost)"
                ),
            )
        )
    return found


def _scale_to_zero_bugs(estate: dict[str, Any]) -> list[Finding]:
    bugs = bugs_for(estate["version"], "scale-to-zero")
    if not bugs:
        return []
    models: dict[str, list[str]] = defaultdict(list)
    for deployment in estate["deployments"]:
        models[str(deployment.get("model_id"))].append(str(deployment["deployment_id"]))
    found = []
    for deployment in estate["deployments"]:
        adaptive = _adaptive(deployment)
        if not adaptive or (adaptive.get("min_number_of_allocations") or 0) != 0:
            continue
        sharing = [
            d for d in models[str(deployment.get("model_id"))] if d != deployment["deployment_id"]
        ]
        for bug in bugs:
            found.append(
                Finding(
                    "scale-to-zero-bug",
                    f"deployment {deployment['deployment_id']}",
                    f"scales to zero on Elasticsearch {estate['version']}, which is known or "
                    f"likely to have {bug.issue}: {bug.what}",
                    f"adaptive_allocations.min_number_of_allocations 0; model "
                    f"{deployment.get('model_id')}"
                    + (f", shared with {', '.join(sharing)}" if sharing else ""),
                    bug.action,
                    source=f"{bug.issue} (fix: {bug.fix})",
                )
            )
    return found


def owner(deployment_id: str, behind: set[str | None]) -> str:
    """Whose a deployment is: a preconfigured endpoint's, Kibana's, an endpoint's, or none."""
    if any(k in deployment_id for k in KIBANA_IDS):
        return "Kibana's"
    if is_default(deployment_id):
        return "preconfigured"
    return "an endpoint's" if deployment_id in behind else "no endpoint's"


def _ml_node_sharing(estate: dict[str, Any]) -> list[Finding]:
    behind = {deployment_id_of(e) for e in estate["endpoints"]}
    found = []
    for deployment in estate["deployments"]:
        deployment_id = str(deployment["deployment_id"])
        if deployment_id not in behind:
            found.append(
                Finding(
                    "deployment-without-endpoint",
                    f"deployment {deployment_id}",
                    f"runs on the ML nodes but is {owner(deployment_id, behind)} (no inference "
                    "endpoint uses it)",
                    f"model {deployment.get('model_id')}, nodes "
                    f"{', '.join(deployment['nodes']) or '–'}",
                    "keep it if something else (Kibana, ingest pipelines) uses it; "
                    "otherwise stop it",
                    NOTE,
                    "kibana#227103 (Kibana-managed ids kept across upgrades)",
                )
            )
    by_node: dict[str, list[str]] = defaultdict(list)
    for deployment in estate["deployments"]:
        for node in deployment["nodes"]:
            by_node[node].append(str(deployment["deployment_id"]))
    for node, ids in sorted(by_node.items()):
        if len(ids) > 1:
            found.append(
                Finding(
                    "shared-ml-nodes",
                    f"ML node {node}",
                    f"{len(ids)} deployments share it: a busy one slows the others",
                    ", ".join(f"{i} ({owner(i, behind)})" for i in sorted(ids)),
                    "size the ML tier for all of them (elsercheck capacity measures one)",
                    NOTE,
                )
            )
    return found
