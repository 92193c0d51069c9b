"""elsercheck's own locust options, from the table in ``elsercheck.load.options`` (the one
``elsercheck load`` is built from too), and the settings of one locust process made of them.

Credentials never travel as options (they would show in the web UI and in process lists): they
come from ``ELASTICSEARCH_API_KEY`` or ``ELASTICSEARCH_USERNAME``/``ELASTICSEARCH_PASSWORD``,
and a CA file from ``ELASTICSEARCH_CA_CERTS``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from elsercheck.endpoints import EIS_ELSER_MODEL, EIS_SERVICE, ELSER_V2_X86, endpoint_prefix
from elsercheck.load import options as table
from elsercheck.load import workloads
from elsercheck.load.options import OptionError
from elsercheck.load.plans import Plan, ScalerTiming, scaler_timing, wall_rate
from elsercheck.run_id import new_run_id

__all__ = ["OptionError", "Settings", "add_arguments", "settings_from"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options on locust's parser (the ``init_command_line_parser`` event)."""
    table.add_options(parser.add_argument_group(table.GROUP_TITLE), "locust")


@dataclass(frozen=True)
class Settings:
    """The parsed elsercheck options of one locust process."""

    shape: str
    workload: str
    search_query: str  # the search users' request shape (workloads.SEARCH_QUERIES)
    bulk_size: int
    peak_users: int
    rate_per_user: float  # per wall-clock second: --rate-per-user × the timing's speedup
    bulk_rate_per_user: float  # ingest users' bulks per wall-clock second, likewise
    poisson: bool
    max_outstanding: int
    mix: str
    corpus: str
    batch_share: float
    inference_id: str  # the endpoint under load
    create_endpoint: bool  # False: --inference-id was given; never touch it
    model_id: str
    service: str  # of the created endpoint: elasticsearch (ML node) or elastic (EIS)
    min_allocations: int
    max_allocations: int
    num_threads: int
    timing: ScalerTiming
    timing_profile: str
    plan: Plan  # built once from these options (elsercheck.load.options.plan_of)
    allocation_wait: float
    stop_after: float
    monitor_interval: float
    lifecycle_users: int
    lifecycle_max_alive: int
    run_id: str
    results_dir: Path
    insecure: bool
    seed: int

    @property
    def prefix(self) -> str:
        return endpoint_prefix(self.run_id)

    @property
    def index_name(self) -> str:
        """The run index of the semantic_text workloads (created and deleted by the run)."""
        return f"{self.prefix}{workloads.INDEX_SUFFIX}"

    def endpoint_body(self) -> dict[str, object]:
        """The created endpoint: ELSER with adaptive allocations between min and max, or ELSER
        on EIS (``service: elastic``: a model id and nothing else, ES
        ElasticInferenceServiceSparseEmbeddingsServiceSettings.fromMap)."""
        if self.service == EIS_SERVICE:
            model = EIS_ELSER_MODEL if self.model_id == ELSER_V2_X86 else self.model_id
            return {"service": EIS_SERVICE, "service_settings": {"model_id": model}}
        return {
            "service": "elasticsearch",
            "service_settings": {
                "model_id": self.model_id,
                "num_threads": self.num_threads,
                "adaptive_allocations": {
                    "enabled": True,
                    "min_number_of_allocations": self.min_allocations,
                    "max_number_of_allocations": self.max_allocations,
                },
            },
        }


def settings_from(options: argparse.Namespace | None) -> Settings:
    """Validate and complete the options; generates the run id once (workers get the master's)."""
    if options is None:  # locust parses its options before any event this is called from
        raise ValueError("locust has not parsed its options yet")
    if not options.run_id:
        options.run_id = new_run_id()  # parsed_options travel to workers with each spawn
    values = table.values_from(options)
    profile = values["timing"] or table.DEFAULT_TIMING
    timing = scaler_timing(table.timing_of(values))
    interval = values["monitor_interval"] or min(2.0, timing.tick_s / 2)
    run_id = values["run_id"]
    inference_id = values["inference_id"] or f"{endpoint_prefix(run_id)}load"
    results = Path(values["results_dir"] or Path("reports") / "load" / run_id)
    return Settings(
        shape=values["shape"],
        workload=values["workload"],
        search_query=values["search_query"],
        bulk_size=values["bulk_size"],
        peak_users=values["peak_users"],
        rate_per_user=wall_rate(values["rate_per_user"], timing),
        bulk_rate_per_user=wall_rate(_bulk_rate(values), timing),
        poisson=values["arrivals"] == "poisson",
        max_outstanding=values["max_outstanding"],
        mix=values["mix"],
        corpus=values["corpus"],
        batch_share=values["batch_share"],
        inference_id=inference_id,
        create_endpoint=not values["inference_id"],
        model_id=values["model_id"],
        service=values["service"],
        min_allocations=values["min_allocations"],
        max_allocations=values["max_allocations"],
        num_threads=values["num_threads"],
        timing=timing,
        timing_profile=profile,
        plan=table.plan_of(values),
        allocation_wait=values["allocation_wait"],
        stop_after=values["duration"] or 0.0,
        monitor_interval=interval,
        lifecycle_users=values["lifecycle_users"],
        lifecycle_max_alive=values["lifecycle_max_alive"],
        run_id=run_id,
        results_dir=results,
        insecure=values["insecure"],
        seed=values["seed"],
    )


def _bulk_rate(values: dict) -> float:
    if not workloads.needs_index(values["workload"]) or values["workload"] == "search":
        return 0.0  # no ingest users: the corpus' documents need not be read
    try:
        return workloads.bulk_rate_per_user(values)
    except ValueError as exc:  # a corpus without documents: the session names the file
        raise OptionError(f"--corpus: {exc}") from None
