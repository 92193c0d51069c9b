"""The probe: a small bundled corpus, its embeddings per endpoint, the top-k of a ``semantic``
query per existing ``semantic_text`` field, and the probe index (``elsercheck-<run-id>-probe``,
the suite's run prefix: ``endpoints.endpoint_prefix``), which is always deleted afterwards, on
failure and on a stop signal too (``signals.py`` raises ``KeyboardInterrupt``: ``finally`` runs).

Everything here writes to the cluster or wakes deployments, so it runs only with ``--probe``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

from ..endpoints import endpoint_prefix
from .cluster import ClusterError, error_reason

# Our own text (like loadtests/corpus/): short passages of varied vocabulary, and queries.
TEXTS = (
    "Adaptive allocations add and remove model allocations as the inference load changes.",
    "A semantic_text field stores the chunks of each document with their embeddings.",
    "The river froze early that winter, and the ferry stopped running until March.",
    "Sparse vectors weigh expanded terms, so a query can match words it never used.",
    "Bake the bread at a high temperature first, then lower the heat to finish the crust.",
)
QUERIES = ("how do deployments scale with load", "winter travel on the river")
TOP_K = 5
# Answers a deployment gives while it starts or scales from zero (409 on release builds,
# 429/408 under load, 503 from a proxy): asked again until the wait runs out.
TRANSIENT = frozenset({408, 409, 429, 502, 503})
DEFAULT_FIELD = "default_probe"  # the default probe index's field without inference_id
POLL_S = 1.0  # between two tries of a transient answer, and between deployment polls


def field_key(index: str, field: str) -> str:
    """``index:field``, the key of a field's probe answers: field paths hold dots, index names
    cannot hold ``:`` since 7.0 (the create index API's naming rules,
    https://www.elastic.co/guide/en/elasticsearch/reference/current/indices-create-index.html)."""
    return f"{index}:{field}"


def split_key(key: str) -> tuple[str, str]:
    """(index, field) of a :func:`field_key`."""
    index, field = key.split(":", 1)
    return index, field


def probe_index_name(run_id: str) -> str:
    """``elsercheck-<run-id>-probe``: the only index the probe ever writes."""
    return f"{endpoint_prefix(run_id)}probe"


def _post(client: httpx.Client, path: str, body: Any, wait_s: float) -> httpx.Response:
    """POST, asking again while the answer is transient and the wait lasts."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            response = client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise ClusterError(f"POST {path}: {exc.__class__.__name__}: {exc}") from None
        if response.status_code not in TRANSIENT or time.monotonic() > deadline:
            return response
        time.sleep(POLL_S)


def embeddings(client: httpx.Client, endpoint: dict[str, Any], wait_s: float) -> dict[str, Any]:
    """The endpoint's embeddings of :data:`TEXTS`: ``{"ok": True, "embeddings": [...]}`` (sparse:
    token → weight; dense: the vector), or ``{"ok": False, "error": ...}``."""
    task_type, inference_id = endpoint["task_type"], endpoint["inference_id"]
    response = _post(
        client, f"/_inference/{task_type}/{inference_id}", {"input": list(TEXTS)}, wait_s
    )
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if response.status_code != 200 or not isinstance(body, dict):
        return {"ok": False, "error": f"{response.status_code}: {error_reason(body)}"}
    items = body.get(task_type) or []
    return {"ok": True, "embeddings": [item.get("embedding") for item in items]}


def top_k(client: httpx.Client, index: str, field: str, wait_s: float) -> dict[str, Any]:
    """The top :data:`TOP_K` hits (id, score) of a ``semantic`` query per query of
    :data:`QUERIES` on ``index.field``, or the error."""
    results = []
    for query in QUERIES:
        body = {
            "query": {"semantic": {"field": field, "query": query}},
            "size": TOP_K,
            "_source": False,
        }
        response = _post(client, f"/{index}/_search", body, wait_s)
        try:
            answer = response.json()
        except ValueError:
            answer = response.text
        if response.status_code != 200 or not isinstance(answer, dict):
            return {"ok": False, "error": f"{response.status_code}: {error_reason(answer)}"}
        hits = (answer.get("hits") or {}).get("hits") or []
        results.append([[h.get("_id"), h.get("_score")] for h in hits])
    return {"ok": True, "queries": list(QUERIES), "hits": results}


@contextlib.contextmanager
def probe_index(client: httpx.Client, name: str, properties: dict[str, Any]) -> Iterator[None]:
    """Create a probe index with ``properties``; delete it when the block ends, however it
    ends (a failed creation raises :class:`ClusterError`)."""
    try:
        response = client.put(f"/{name}", json={"mappings": {"properties": properties}})
        if response.status_code != 200:
            raise ClusterError(
                f"creating the probe index {name}: {response.status_code} "
                f"{error_reason(_json(response))}"
            )
        yield
    finally:
        _delete_index(client, name)


def _delete_index(client: httpx.Client, name: str) -> None:
    for _ in range(5):  # an answer lost on the way is asked again (deleting is idempotent)
        with contextlib.suppress(httpx.HTTPError):
            if client.delete(f"/{name}").status_code in (200, 404):
                return
        time.sleep(0.5)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def default_inference_id(client: httpx.Client, run_id: str) -> str | None:
    """The ``inference_id`` the cluster gives a new ``semantic_text`` field that names none (ES
    SemanticTextFieldMapper.getDefaultInferenceId), read from a probe index's mapping."""
    index = probe_index_name(run_id)
    with probe_index(client, index, {DEFAULT_FIELD: {"type": "semantic_text"}}):
        response = client.get(f"/{index}/_mapping")
    mapping = _json(response)
    if response.status_code != 200 or not isinstance(mapping, dict):
        return None
    properties = (mapping.get(index, {}).get("mappings") or {}).get("properties") or {}
    value = (properties.get(DEFAULT_FIELD) or {}).get("inference_id")
    return str(value) if value else None


def ingest(
    client: httpx.Client, run_id: str, fields: list[dict[str, Any]], wait_s: float
) -> dict[str, dict[str, Any]]:
    """Whether documents still ingest through each existing field's endpoint: per (index, field)
    of ``fields`` a probe index ``elsercheck-<run-id>-probe-<n>`` with one field on the same
    ``inference_id`` gets the probe texts (one index per field, so a failure names its field;
    each is deleted at once). Returns ``{"<index>:<field>": {"ok": bool, "error": str}}``."""
    results: dict[str, dict[str, Any]] = {}
    for number, field in enumerate(fields):
        key = field_key(field["index"], field["field"])
        name = f"{probe_index_name(run_id)}-{number}"
        mapping = {"body": {"type": "semantic_text", "inference_id": field["inference_id"]}}
        try:
            with probe_index(client, name, mapping):
                results[key] = _bulk(client, name, wait_s)
        except ClusterError as exc:
            results[key] = {"ok": False, "error": str(exc)}
    return results


def _bulk(client: httpx.Client, index: str, wait_s: float) -> dict[str, Any]:
    lines = []
    for position, text in enumerate(TEXTS):
        lines += [{"index": {"_index": index, "_id": f"probe-{position}"}}, {"body": text}]
    payload = "".join(json.dumps(line) + "\n" for line in lines)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            response = client.post(
                "/_bulk?refresh=true",
                content=payload,
                headers={"Content-Type": "application/x-ndjson"},
            )
        except httpx.HTTPError as exc:
            raise ClusterError(f"POST /_bulk: {exc.__class__.__name__}: {exc}") from None
        body = _json(response)
        items = body.get("items", []) if isinstance(body, dict) else []
        results = [next(iter(item.values())) for item in items if isinstance(item, dict)]
        statuses = {r.get("status") for r in results if isinstance(r, dict)}
        if not (statuses & TRANSIENT) or time.monotonic() > deadline:
            break
        time.sleep(POLL_S)
    if response.status_code != 200:
        return {"ok": False, "error": f"_bulk: {response.status_code} {error_reason(body)}"}
    for result in results:
        if isinstance(result, dict) and result.get("error"):
            return {
                "ok": False,
                "error": f"{result.get('status')}: {error_reason({'error': result['error']})}",
            }
    return {"ok": True, "error": ""}
