"""The snapshot file: a cluster's estate at one moment, and with ``--probe`` what its endpoints
and indices answered to the bundled probe texts. JSON, versioned by ``format``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from . import cluster, probe

FORMAT = "elsercheck-estate-snapshot/1"


class SnapshotError(Exception):
    """A snapshot file that cannot be used (one line: exit 2)."""


def probed_endpoints(estate: dict[str, Any]) -> list[dict[str, Any]]:
    """The endpoints the probe infers with: embedding endpoints a user created or a
    ``semantic_text`` field uses (a preconfigured endpoint nothing uses is not woken up: its
    first request would deploy its model)."""
    used = {f["inference_id"] for f in estate["semantic_text_fields"]}
    return [
        e
        for e in estate["endpoints"]
        if e.get("task_type") in cluster.EMBEDDING_TASK_TYPES
        and (not cluster.is_default(str(e["inference_id"])) or e["inference_id"] in used)
    ]


def resolvable_fields(estate: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``semantic_text`` fields whose endpoint exists (the others cannot be probed)."""
    ids = {e["inference_id"] for e in estate["endpoints"]}
    return [f for f in estate["semantic_text_fields"] if f["inference_id"] in ids]


def run_probe(
    client: httpx.Client, estate: dict[str, Any], run_id: str, wait_s: float
) -> dict[str, Any]:
    """Embeddings per endpoint, top-k per field, ingest per field and the default
    ``inference_id`` of a new field; the probe indices exist only during this call."""
    fields = resolvable_fields(estate)
    result: dict[str, Any] = {
        "texts": list(probe.TEXTS),
        "embeddings": {
            e["inference_id"]: probe.embeddings(client, e, wait_s) for e in probed_endpoints(estate)
        },
        "top_k": {
            probe.field_key(f["index"], f["field"]): probe.top_k(
                client, f["index"], f["field"], wait_s
            )
            for f in fields
        },
    }
    result["default_inference_id"] = probe.default_inference_id(client, run_id)
    result["ingest"] = probe.ingest(client, run_id, fields, wait_s)
    return result


def take(client: httpx.Client, run_id: str, with_probe: bool, wait_s: float) -> dict[str, Any]:
    """A snapshot document: the estate, and the probe's answers when asked for."""
    estate = cluster.read(client)
    document: dict[str, Any] = {
        "format": FORMAT,
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run_id": run_id,
        "estate": estate,
        "probe": run_probe(client, estate, run_id, wait_s) if with_probe else None,
    }
    return document


def save(document: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load(path: Path) -> dict[str, Any]:
    """A snapshot file, or a one-line :class:`SnapshotError`."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SnapshotError(f"cannot read snapshot {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SnapshotError(f"snapshot {path} is not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SnapshotError(f"{path} is not an elsercheck snapshot (format {FORMAT!r} expected)")
    estate = document.get("estate")
    keys = ("version", "endpoints", "deployments", "semantic_text_fields")
    if not isinstance(estate, dict) or any(k not in estate for k in keys):
        raise SnapshotError(f"snapshot {path} has no complete estate ({', '.join(keys)})")
    return document
