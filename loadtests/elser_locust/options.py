"""elsercheck's own locust options (``locust -f loadtests/locustfile.py --help`` lists them).

Credentials never travel as options (they would show in the web UI and in process lists): they
come from ``ELASTICSEARCH_API_KEY`` or ``ELASTICSEARCH_USERNAME``/``ELASTICSEARCH_PASSWORD``,
and a CA file from ``ELASTICSEARCH_CA_CERTS``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from elsercheck.endpoints import ELSER_V2_X86, endpoint_prefix
from elsercheck.load.plans import SHAPES, TIMING_PROFILES, Plan, ScalerTiming, build_plan
from elsercheck.run_id import new_run_id

DEFAULT_MIX = "query=0.5,short=0.2,medium=0.2,long=0.08,xlong=0.02"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options on locust's parser (the ``init_command_line_parser`` event)."""
    group = parser.add_argument_group("elsercheck (ELSER load test)")
    add = group.add_argument
    add(
        "--shape",
        choices=sorted(SHAPES),
        default="step",
        help="load shape; stage lengths follow the scaler timing (default step)",
    )
    add("--peak-users", type=int, default=40, help="users at the shape's peak (default 40)")
    add(
        "--rate-per-user",
        type=float,
        default=2.0,
        help="requests per second each user sends, open loop (default 2)",
    )
    add(
        "--arrivals",
        choices=("poisson", "constant"),
        default="poisson",
        help="inter-arrival times of each user's requests (default poisson)",
    )
    add(
        "--max-outstanding",
        type=int,
        default=20,
        help="requests in flight per user before new ones are counted as backlog (default 20)",
    )
    add("--mix", default=DEFAULT_MIX, help=f"input-length bucket shares (default {DEFAULT_MIX})")
    add("--corpus", default="", help="directory with queries.jsonl, passages.jsonl (default: ours)")
    add(
        "--batch-share",
        type=float,
        default=0.1,
        help="share of requests sending several inputs (default 0.1)",
    )
    add(
        "--inference-id",
        default="",
        help="use this existing endpoint (never modified or deleted); default: create one",
    )
    add(
        "--model-id",
        default=ELSER_V2_X86,
        help=f"ELSER model of the created endpoint ({ELSER_V2_X86})",
    )
    add("--min-allocations", type=int, default=0, help="adaptive minimum (default 0)")
    add("--max-allocations", type=int, default=4, help="adaptive maximum (default 4)")
    add("--num-threads", type=int, default=1, help="threads per allocation (default 1)")
    add(
        "--timing-profile",
        choices=sorted(TIMING_PROFILES),
        default="realistic",
        help="the target's scaler timing: realistic (Elasticsearch defaults) or fast "
        "(the reference server's fast profile)",
    )
    add("--scaler-tick", type=float, default=None, help="override: scaler interval, s")
    add("--cooldown", type=float, default=None, help="override: scale-down cooldown, s")
    add(
        "--scale-to-zero",
        type=float,
        default=None,
        help="override: the cluster's scale_to_zero_time, s (needed for idle-to-zero on ES)",
    )
    add(
        "--allocation-start",
        type=float,
        default=None,
        help="override: seconds a new allocation takes to serve",
    )
    add(
        "--stop-after",
        type=float,
        default=0.0,
        help="end the run after this many seconds even if the shape goes on (locust ignores "
        "--run-time when a shape is used); default: when the shape ends",
    )
    add(
        "--allocation-wait",
        type=float,
        default=300.0,
        help="longest wait for the created endpoint to be allocated (default 300 s)",
    )
    add(
        "--monitor-interval",
        type=float,
        default=0.0,
        help="stats poll interval, s (default: half a scaler tick, at most 2 s)",
    )
    add(
        "--lifecycle-users",
        type=int,
        default=0,
        help="endpoint-lifecycle users (create → fully_allocated → infer → delete); default 0",
    )
    add(
        "--lifecycle-max-alive",
        type=int,
        default=2,
        help="lifecycle endpoints alive at once, per locust process (default 2)",
    )
    add("--run-id", default="", help="run id: endpoint prefix elsercheck-<run-id>- (generated)")
    add(
        "--results-dir",
        default="",
        help="where requests.csv, allocations.csv, ... go (default reports/load/<run-id>)",
    )
    add(
        "--insecure",
        action="store_true",
        default=False,
        help="do not verify the target's HTTPS certificate",
    )
    add("--seed", type=int, default=0, help="random seed for inputs and arrivals (default 0)")


@dataclass(frozen=True)
class Settings:
    """The parsed elsercheck options of one locust process."""

    shape: str
    peak_users: int
    rate_per_user: float
    poisson: bool
    max_outstanding: int
    mix: str
    corpus: str
    batch_share: float
    inference_id: str  # the endpoint under load
    create_endpoint: bool  # False: --inference-id was given; never touch it
    model_id: str
    min_allocations: int
    max_allocations: int
    num_threads: int
    timing: ScalerTiming
    timing_profile: str
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

    def plan(self) -> Plan:
        return build_plan(self.shape, self.timing, self.peak_users)

    def endpoint_body(self) -> dict[str, object]:
        """The created endpoint: ELSER with adaptive allocations between min and max."""
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


class OptionError(ValueError):
    pass


def settings_from(options: argparse.Namespace) -> Settings:
    """Validate and complete the options; generates the run id once (workers get the master's)."""
    if not options.run_id:
        options.run_id = new_run_id()  # parsed_options travel to workers with each spawn
    checks = [
        (options.peak_users >= 1, "--peak-users must be at least 1"),
        (options.rate_per_user > 0, "--rate-per-user must be positive"),
        (options.max_outstanding >= 1, "--max-outstanding must be at least 1"),
        (0 <= options.batch_share <= 1, "--batch-share must be between 0 and 1"),
        (
            0 <= options.min_allocations <= options.max_allocations,
            "need 0 <= --min-allocations <= --max-allocations",
        ),
        (options.max_allocations >= 1, "--max-allocations must be at least 1"),
        (options.num_threads >= 1, "--num-threads must be at least 1"),
        (options.lifecycle_users >= 0, "--lifecycle-users must not be negative"),
        (options.lifecycle_max_alive >= 1, "--lifecycle-max-alive must be at least 1"),
    ]
    for ok, message in checks:
        if not ok:
            raise OptionError(message)
    timing = TIMING_PROFILES[options.timing_profile].with_overrides(
        tick_s=options.scaler_tick,
        cooldown_s=options.cooldown,
        scale_to_zero_s=options.scale_to_zero,
        allocation_start_s=options.allocation_start,
    )
    interval = options.monitor_interval or min(2.0, timing.tick_s / 2)
    inference_id = options.inference_id or f"{endpoint_prefix(options.run_id)}load"
    results = Path(options.results_dir or Path("reports") / "load" / options.run_id)
    return Settings(
        shape=options.shape,
        peak_users=options.peak_users,
        rate_per_user=options.rate_per_user,
        poisson=options.arrivals == "poisson",
        max_outstanding=options.max_outstanding,
        mix=options.mix,
        corpus=options.corpus,
        batch_share=options.batch_share,
        inference_id=inference_id,
        create_endpoint=not options.inference_id,
        model_id=options.model_id,
        min_allocations=options.min_allocations,
        max_allocations=options.max_allocations,
        num_threads=options.num_threads,
        timing=timing,
        timing_profile=options.timing_profile,
        allocation_wait=options.allocation_wait,
        stop_after=options.stop_after,
        monitor_interval=interval,
        lifecycle_users=options.lifecycle_users,
        lifecycle_max_alive=options.lifecycle_max_alive,
        run_id=options.run_id,
        results_dir=results,
        insecure=options.insecure,
        seed=options.seed,
    )
