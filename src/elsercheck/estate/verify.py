"""``verify``: the cluster now against a snapshot taken before an upgrade or a model switch.

Read-only checks: every stored endpoint still reads and parses (``GET _inference/<id>``), its
service, task type, settings and chunking are unchanged; every stored deployment is back at
its minimum allocations (polled, bounded); every ``semantic_text`` field still names its
endpoint. With ``--probe`` (the snapshot must have been taken with it): the same tokens for the
probe texts within :data:`REL_TOL`, the same top-k per field, ingest through every field's
endpoint (into the probe index only), and what a new field now gets by default.
"""

from __future__ import annotations

import math
import time
from typing import Any

import httpx

from . import cluster, probe, snapshot
from .findings import INCONCLUSIVE, NOTE, Finding

# Floats that went through JSON and a model at the same version: equal within this (ES
# renders floats shortest-repr; a different model or tokenizer changes far more).
REL_TOL = 1e-3
ABS_TOL = 1e-5


def comparable_settings(endpoint: dict[str, Any]) -> dict[str, Any]:
    """``service_settings`` without what adaptive allocations change by themselves: a GET
    reports the deployment's current ``num_allocations`` (ES
    ElasticsearchInternalService.updateModelsWithDynamicFields, from the deployment stats), which
    the scaler moves while ``adaptive_allocations.enabled``."""
    settings = dict(endpoint.get("service_settings") or {})
    if (settings.get("adaptive_allocations") or {}).get("enabled"):
        settings.pop("num_allocations", None)
    return settings


def verify(
    client: httpx.Client, document: dict[str, Any], run_id: str, with_probe: bool, wait_s: float
) -> tuple[list[Finding], dict[str, Any]]:
    """The findings, and the estate as it is now."""
    before = document["estate"]
    if with_probe and not document.get("probe"):
        raise snapshot.SnapshotError("the snapshot has no probe answers: take it with --probe")
    now = cluster.read(client)
    found: list[Finding] = []
    if now["version"] != before["version"]:
        found.append(
            Finding(
                "version",
                "cluster",
                f"Elasticsearch {before['version']} → {now['version']}",
                severity=NOTE,
            )
        )
    found += _endpoints(client, before, now)
    found += _deployments(client, before, wait_s)
    found += _fields(before, now)
    if with_probe:
        found += _probe(client, document["probe"], before, run_id, wait_s)
    return found, now


def _endpoints(client: httpx.Client, before: dict[str, Any], now: dict[str, Any]) -> list[Finding]:
    found = []
    if now.get("endpoints_unreadable"):
        found.append(
            Finding(
                "endpoints-unreadable",
                "endpoints",
                "the endpoint list no longer reads",
                now["endpoints_unreadable"],
                "read each endpoint by id to find the one that fails to parse; recreate it",
                source="elastic/elasticsearch#124675",
            )
        )
    for old in before["endpoints"]:
        inference_id = old["inference_id"]
        current, why = cluster.endpoint(client, inference_id)
        subject = f"endpoint {inference_id}"
        if current is None:
            missing = " 404" in why or "answered 404" in why
            found.append(
                Finding(
                    "endpoint-missing" if missing else "endpoint-unreadable",
                    subject,
                    "no longer exists" if missing else "no longer reads or parses",
                    why,
                    f"recreate {inference_id} with its snapshot "
                    f"settings (service {old.get('service')}, "
                    f"{old.get('service_settings')})",
                    source="" if missing else "elastic/elasticsearch#124675",
                )
            )
            continue
        for key, label in (
            ("service", "service"),
            ("task_type", "task type"),
            ("task_settings", "task settings"),
            ("chunking_settings", "chunking settings"),
        ):
            if old.get(key) != current.get(key):
                found.append(
                    Finding(
                        "chunking-changed" if key == "chunking_settings" else "settings-changed",
                        subject,
                        f"its {label} changed",
                        f"before {old.get(key)!r}; now {current.get(key)!r}",
                        f"restore them (PUT _inference/{inference_id}/_update "
                        "where the version allows "
                        "it, else recreate the endpoint) or reindex if they are meant to change",
                    )
                )
        if comparable_settings(old) != comparable_settings(current):
            found.append(
                Finding(
                    "settings-changed",
                    subject,
                    "its service settings changed",
                    f"before {comparable_settings(old)!r}; now {comparable_settings(current)!r}",
                    f"restore them with PUT _inference/{inference_id}/_update, "
                    "or recreate the endpoint",
                )
            )
    old_ids = {e["inference_id"] for e in before["endpoints"]}
    for new in now["endpoints"]:
        if new["inference_id"] not in old_ids:
            found.append(
                Finding(
                    "endpoint-added",
                    f"endpoint {new['inference_id']}",
                    "exists now, not in the snapshot",
                    cluster.model_of(new),
                    severity=NOTE,
                )
            )
    return found


def minimum(deployment: dict[str, Any]) -> int:
    """The allocations a deployment should be back at: adaptive min, else its fixed count."""
    adaptive = deployment.get("adaptive_allocations") or {}
    if adaptive.get("enabled"):
        return int(adaptive.get("min_number_of_allocations") or 0)
    return int(deployment.get("number_of_allocations") or 0)


def _deployment_problems(
    stored: list[dict[str, Any]], current: list[dict[str, Any]]
) -> dict[str, tuple[str, str]]:
    by_id = {d["deployment_id"]: d for d in current}
    problems = {}
    for old in stored:
        new = by_id.get(old["deployment_id"])
        if new is None and cluster.is_default(str(old["deployment_id"])):
            continue  # a preconfigured endpoint deploys again on its first request: a note below
        if new is None:
            problems[old["deployment_id"]] = (
                "deployment-missing",
                "GET _ml/trained_models/_stats lists it no more",
            )
        elif (new.get("allocation_count") or 0) < minimum(old):
            problems[old["deployment_id"]] = (
                "deployment-below-min",
                f"allocation_count {new.get('allocation_count')} < {minimum(old)} "
                f"(state {new.get('state')}, {new.get('allocation_state')})",
            )
    return problems


def _deployments(client: httpx.Client, before: dict[str, Any], wait_s: float) -> list[Finding]:
    """Poll until every stored deployment is back at its minimum or ``wait_s`` has passed."""
    deadline = time.monotonic() + wait_s
    while True:
        current = cluster.deployments(client)
        problems = _deployment_problems(before["deployments"], current)
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(probe.POLL_S)
    found = [
        Finding(
            rule,
            f"deployment {deployment_id}",
            "is gone" if rule == "deployment-missing" else "is not back at its minimum allocations",
            f"{evidence}; waited {wait_s:g} s",
            "start it again (recreate the endpoint that owns it, or POST "
            "_ml/trained_models/<model>/deployment/_start) and check the ML nodes' capacity",
        )
        for deployment_id, (rule, evidence) in sorted(problems.items())
    ]
    by_id = {d["deployment_id"]: d for d in current}
    for old in before["deployments"]:
        new = by_id.get(old["deployment_id"])
        if new is None and cluster.is_default(str(old["deployment_id"])):
            found.append(
                Finding(
                    "deployment-not-started",
                    f"deployment {old['deployment_id']}",
                    "the preconfigured endpoint's deployment is not running (yet)",
                    "GET _ml/trained_models/_stats lists it no more",
                    "nothing: its first request deploys it again (a cold start)",
                    NOTE,
                )
            )
        if new and old.get("adaptive_allocations") != new.get("adaptive_allocations"):
            found.append(
                Finding(
                    "deployment-settings-changed",
                    f"deployment {old['deployment_id']}",
                    "its adaptive allocations changed",
                    f"before {old.get('adaptive_allocations')}; "
                    f"now {new.get('adaptive_allocations')}",
                    "restore them with PUT _inference/<id>/_update",
                )
            )
    return found


def _fields(before: dict[str, Any], now: dict[str, Any]) -> list[Finding]:
    current = {(f["index"], f["field"]): f for f in now["semantic_text_fields"]}
    ids = {e["inference_id"] for e in now["endpoints"]}
    found = []
    for old in before["semantic_text_fields"]:
        subject = f"index {old['index']}"
        new = current.get((old["index"], old["field"]))
        if new is None:
            found.append(
                Finding(
                    "field-missing",
                    subject,
                    f"semantic_text field {old['field']} is gone",
                    "GET /_mapping has no such field",
                    "restore the index from a snapshot",
                )
            )
        elif new["inference_id"] != old["inference_id"]:
            found.append(
                Finding(
                    "field-changed",
                    subject,
                    f"field {old['field']} names another endpoint",
                    f"inference_id {old['inference_id']} → {new['inference_id']}",
                    "documents indexed before carry the old model's embeddings: reindex",
                )
            )
        elif new["inference_id"] not in ids and not now.get("endpoints_unreadable"):
            found.append(
                Finding(
                    "endpoint-missing",
                    subject,
                    f"field {old['field']} names {new['inference_id']!r}, which no longer resolves",
                    "GET /_inference/_all has no such endpoint",
                    f"recreate {new['inference_id']} with its snapshot settings",
                )
            )
    return found


def same_embedding(old: Any, new: Any) -> tuple[bool, str]:
    """Sparse (token → weight) or dense (list) embeddings equal within the tolerance; why not."""
    if isinstance(old, dict) and isinstance(new, dict):
        if set(old) != set(new):
            gone, added = sorted(set(old) - set(new)), sorted(set(new) - set(old))
            return False, f"tokens gone {gone[:5]}, new {added[:5]} ({len(gone)}/{len(added)})"
        worst = max((abs(old[t] - new[t]) for t in old), default=0.0)
        close = all(math.isclose(old[t], new[t], rel_tol=REL_TOL, abs_tol=ABS_TOL) for t in old)
        return close, "" if close else f"same tokens, weights differ by up to {worst:.3g}"
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return False, f"dimensions {len(old)} → {len(new)}"
        close = all(
            math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
            for a, b in zip(old, new, strict=True)
        )
        return close, "" if close else "vector values differ"
    return old == new, "" if old == new else "a different kind of embedding"


def _probe(
    client: httpx.Client, stored: dict[str, Any], before: dict[str, Any], run_id: str, wait_s: float
) -> list[Finding]:
    found: list[Finding] = []
    endpoints = {e["inference_id"]: e for e in before["endpoints"]}
    for inference_id, baseline in sorted(stored["embeddings"].items()):
        subject = f"endpoint {inference_id}"
        if not baseline.get("ok"):
            found.append(
                Finding(
                    "no-baseline",
                    subject,
                    "its probe failed when the snapshot was taken",
                    baseline.get("error", ""),
                    "take a new snapshot",
                    INCONCLUSIVE,
                )
            )
            continue
        answer = probe.embeddings(client, endpoints[inference_id], wait_s)
        if not answer["ok"]:
            found.append(
                Finding(
                    "inference-failed",
                    subject,
                    "no longer infers",
                    answer["error"],
                    "check the endpoint's deployment (GET _ml/trained_models/_stats) "
                    "and recreate the endpoint if it is gone",
                    source="elastic/elasticsearch#146806",
                )
            )
            continue
        for number, (old, new) in enumerate(
            zip(baseline["embeddings"], answer["embeddings"], strict=False)
        ):
            same, why = same_embedding(old, new)
            if not same:
                found.append(
                    Finding(
                        "embeddings-changed",
                        subject,
                        f"probe text {number} gets other embeddings (another model or tokenizer?)",
                        why,
                        "documents indexed before no longer match queries the same "
                        "way: reindex, or restore the endpoint's model",
                        source="docs-content#8012",
                    )
                )
                break
    for key, baseline in sorted(stored["top_k"].items()):
        index, field = probe.split_key(key)
        subject = f"index {index}"
        if not baseline.get("ok"):
            found.append(
                Finding(
                    "no-baseline",
                    subject,
                    f"field {field}: the snapshot's search failed",
                    baseline.get("error", ""),
                    "take a new snapshot",
                    INCONCLUSIVE,
                )
            )
            continue
        answer = probe.top_k(client, index, field, wait_s)
        if not answer["ok"]:
            found.append(
                Finding(
                    "search-failed",
                    subject,
                    f"a semantic query on {field} fails",
                    answer["error"],
                    "check the field's endpoint and its deployment",
                )
            )
            continue
        for query, old, new in zip(
            baseline["queries"], baseline["hits"], answer["hits"], strict=False
        ):
            old_ids, new_ids = [h[0] for h in old], [h[0] for h in new]
            scores_close = all(
                math.isclose(a[1] or 0, b[1] or 0, rel_tol=REL_TOL, abs_tol=ABS_TOL)
                for a, b in zip(old, new, strict=False)
            )
            if old_ids != new_ids or not scores_close:
                found.append(
                    Finding(
                        "top-k-changed",
                        subject,
                        f"field {field}: the top {probe.TOP_K} for {query!r} changed",
                        f"before {old}; now {new}",
                        "same model and tokens give the same top-k: check the field's "
                        "endpoint (model, settings) or whether documents changed",
                    )
                )
    if stored.get("ingest") is not None:
        fields = [
            f
            for f in snapshot.resolvable_fields(before)
            if stored["ingest"].get(probe.field_key(f["index"], f["field"]), {}).get("ok")
        ]
        default = probe.default_inference_id(client, run_id)
        results = probe.ingest(client, run_id, fields, wait_s)
        for key, result in sorted(results.items()):
            if not result["ok"]:
                source_index, field = probe.split_key(key)
                found.append(
                    Finding(
                        "ingest-failed",
                        f"index {source_index}",
                        f"documents no longer ingest through field {field}'s endpoint",
                        f"{result['error']} (tried on a probe index)",
                        "check the endpoint and its deployment; recreate it if it is gone",
                    )
                )
        old_default = stored.get("default_inference_id")
        if default != old_default:
            found.append(
                Finding(
                    "default-changed",
                    "new semantic_text fields",
                    f"a field without inference_id now gets {default!r} (was {old_default!r})",
                    f"the probe index's field {probe.DEFAULT_FIELD} mapping",
                    "name the inference_id explicitly in new mappings to keep one model per "
                    "index family; a new default model means new indices are not comparable "
                    "with old ones",
                    NOTE,
                    "#134708 (9.3), #142980 (9.4), docs-content#8012",
                )
            )
    return found
