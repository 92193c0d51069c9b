"""One ``allocations.csv`` row from a trained-model stats answer (ES AssignmentStats.toXContent).

Deployment-level fields are read as they are; per-node counters are summed over nodes (they are
written only when > 0, so absent means 0) and ``average_inference_time_ms`` is the
inference-count-weighted mean over nodes, as the adaptive scaler computes it
(ES AdaptiveAllocationsScalerService).
"""

from __future__ import annotations

from typing import Any

from ..endpoints import deployment_entry

NODE_COUNTERS = (
    "number_of_pending_requests",
    "inference_count",
    "error_count",
    "rejected_execution_count",
    "timeout_count",
)


def stats_row(payload: Any, deployment_id: str) -> dict[str, Any]:
    """The allocation columns for ``deployment_id``; ``poll_error`` says why when absent."""
    stats = deployment_entry(payload, deployment_id)
    if stats is None:
        return {"deployment_id": deployment_id, "poll_error": "no deployment stats"}
    status = stats.get("allocation_status") or {}
    nodes = [node for node in stats.get("nodes") or [] if isinstance(node, dict)]
    row: dict[str, Any] = {
        "deployment_id": deployment_id,
        "state": stats.get("state"),
        "allocation_state": status.get("state"),
        "allocation_count": status.get("allocation_count", 0),
        "target_allocation_count": status.get("target_allocation_count", 0),
        "number_of_allocations": stats.get("number_of_allocations"),
    }
    for counter in NODE_COUNTERS:
        row[counter] = sum(int(node.get(counter) or 0) for node in nodes)
    served = [
        (int(node.get("inference_count") or 0), float(node.get("average_inference_time_ms") or 0))
        for node in nodes
    ]
    total = sum(count for count, _ in served)
    row["average_inference_time_ms"] = (
        sum(count * avg for count, avg in served) / total if total else None
    )
    return row
