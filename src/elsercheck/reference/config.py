"""Settings of one reference server instance."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..timing import PRESETS, Timing
from . import versions
from .versions import EsVersion

DEFAULT_PASSWORD = "changeme"


def default_password() -> str:
    return os.environ.get("ELASTIC_PASSWORD") or DEFAULT_PASSWORD


@dataclass(frozen=True)
class EisLimits:
    """The modelled Elastic Inference Service's limits for ELSER, per minute in a sliding window,
    per usage context (search / ingest): Elastic's documented rate limits
    (https://www.elastic.co/docs/explore-analyze/elastic-inference/eis-rate-limits: ELSER 6,000
    requests, 6,000,000 ingest tokens, 600,000 search tokens per minute; whichever is reached
    first answers 429). ``max_request_bytes``: the body size EIS answers 413 to (not
    documented: a stand-in)."""

    requests_per_minute: int = 6_000
    ingest_tokens_per_minute: int = 6_000_000
    search_tokens_per_minute: int = 600_000
    max_request_bytes: int = 10 * 1024 * 1024


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
    # The Elasticsearch version modelled (versions.py): GET / and every version-dependent rule.
    es_version: EsVersion = field(default_factory=versions.resolve)
    # Off: the version's known upstream bugs (versions.BUGS) are on, as on a real cluster.
    # On: the server answers as the documentation says.
    conformant: bool = False

    # The Elastic Inference Service (reference/eis/): off, as on a self-managed cluster
    # without it; on (`serve --eis`) only for versions with ELSER on EIS (versions "eis-elser").
    eis: bool = False
    # The modelled EIS's limits (documented defaults, eis/upstream.py EisLimits) and the poll
    # at which it withdraws the cluster's authorization (None: never).
    eis_limits: EisLimits = field(default_factory=EisLimits)
    eis_withdraw_at_poll: int | None = None
    # Where the server keeps its state across restarts (persistence.py); None: in memory only.
    # A directory written by an older version is upgraded, by a newer one refused.
    data_dir: Path | None = None

    def __post_init__(self) -> None:
        from .breakage import defects, faults

        object.__setattr__(self, "defects", frozenset(self.defects))
        object.__setattr__(self, "faults", frozenset(self.faults))
        defects.check_names(self.defects)
        faults.check_names(self.faults)
        defects.check_names(self.upstream_bugs)
        if self.eis and not self.es_version.has("eis-elser"):
            raise ValueError(
                f"--eis: Elasticsearch {self.es_version.number} is not modelled with the Elastic "
                "Inference Service (ELSER on EIS is modelled from 9.2, where it is GA; 8.19 and "
                "9.1 had it in technical preview)"
            )

    @property
    def upstream_bugs(self) -> frozenset[str]:
        """The defects standing for this version's known upstream bugs (none if conformant)."""
        return frozenset() if self.conformant else frozenset(b.defect for b in self.es_version.bugs)

    def modelled(self) -> str:
        """One line for banners: the modelled version and whether its upstream bugs are on."""
        bugs = ", ".join(sorted(self.upstream_bugs))
        if self.conformant:
            state = "conformant (known upstream bugs off)"
        else:
            state = (
                f"with its known upstream bugs ({bugs}; --conformant: off)"
                if bugs
                else "no known bugs"
            )
        return f"modelling Elasticsearch {self.es_version.number}, {state}"

    @property
    def active_defects(self) -> frozenset[str]:
        """Deliberate defects plus the version's upstream bugs: what the server carries."""
        return self.defects | self.upstream_bugs

    @property
    def tokens_enabled(self) -> bool:
        return self.tls if self.token_service is None else self.token_service
