"""Settings of one reference server instance."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .timing import PRESETS, Timing

VERSION: dict[str, Any] = {
    "number": "9.1.5",
    "build_flavor": "default",
    "build_type": "docker",
    "build_hash": "90ee222e7e0136dd8ddbb34015538f3a00c129b7",
    "build_date": "2025-10-02T22:07:12.966975992Z",
    "build_snapshot": False,
    "lucene_version": "10.2.2",
    "minimum_wire_compatibility_version": "8.19.0",
    "minimum_index_compatibility_version": "8.0.0",
}
DEFAULT_PASSWORD = "changeme"


def default_password() -> str:
    return os.environ.get("ELASTIC_PASSWORD") or DEFAULT_PASSWORD


@dataclass(frozen=True)
class ServerConfig:
    security: bool = True
    password: str = field(default_factory=default_password)
    tls: bool = False
    # Elasticsearch enables the token service by default only with HTTPS.
    token_service: bool | None = None
    timing: Timing = PRESETS["realistic"]
    ml_processors: int = 16  # the ML node's allocated processors
    queue_capacity: int = 10_000  # per deployment (StartTrainedModelDeployment default)
    # Snapshot-build behaviour (feature flag ml_scale_from_zero): requests at zero allocations
    # wait for one instead of failing with 409.
    queued_scale_from_zero: bool = False
    platform_x86: bool = True  # all ML nodes linux-x86_64 → the optimised ELSER variant
    cluster_name: str = "elsercheck"
    node_name: str = "elsercheck-0"
    # Deliberate defects (defects.CATALOGUE) for `elsercheck selftest`; none by default.
    defects: frozenset[str] = frozenset()
    # Injectable faults (faults.CATALOGUE) the contract suite must survive; none by default.
    faults: frozenset[str] = frozenset()
    # Seconds a client has to send one request, head and body (http_protocol.py).
    read_timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        from .breakage import defects, faults

        object.__setattr__(self, "defects", frozenset(self.defects))
        object.__setattr__(self, "faults", frozenset(self.faults))
        defects.check_names(self.defects)
        faults.check_names(self.faults)

    @property
    def tokens_enabled(self) -> bool:
        return self.tls if self.token_service is None else self.token_service
