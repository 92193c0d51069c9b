"""The reference server's true capacity, from its service-time model (no measurement).

An allocation serves one request at a time (``reference/mlnode/deployment.py``) for
``Timing.service_time_seconds(tokens, threads, portable)``: overhead + per-token time, Amdahl
over the threads, the portable model's slowdown. So one allocation saturates at
1 / E[service time] requests per second, E over the workload's requests (the sampler's mix and
batches, tokens as the server counts them). In the cluster's time: the wall service time times
the timing's speedup. Tests check measured capacities against this; the page shows it on the
embedded server.
"""

from __future__ import annotations

import math

from ..endpoints import ELSER_V2_PORTABLE
from ..load.corpus import Corpus, Sampler, parse_mix
from ..reference.mlnode.sparse_encoder import token_count
from ..reference.timing import Timing

SAMPLES = 4000


def mean_service_s(
    timing: Timing, mix: str, batch_share: float, threads: int, model_id: str,
    corpus: str = "", samples: int = SAMPLES, seed: int = 0,
) -> float:  # fmt: skip
    """Mean service time of the workload's requests, in cluster seconds."""
    sampler = Sampler(
        Corpus.load(corpus or None), parse_mix(mix), batch_share=batch_share, seed=seed
    )
    portable = model_id == ELSER_V2_PORTABLE
    total = math.fsum(
        timing.service_time_seconds(
            sum(token_count(text) for text in sampler.next().inputs), threads, portable
        )
        for _ in range(samples)
    )
    return total / samples * timing.speedup


def capacity_per_allocation(
    timing: Timing, mix: str, batch_share: float, threads: int, model_id: str, corpus: str = ""
) -> float:
    """Requests per cluster second one allocation completes when never idle."""
    return 1.0 / mean_service_s(timing, mix, batch_share, threads, model_id, corpus)
