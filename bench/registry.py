"""The comparisons ``make bench`` runs, as data: name, title, goals per ratio, function.

Each function takes the :class:`~bench.common.Context` and returns a
:class:`~bench.report.Result` whose ratios are named here with their goals. A ratio is always
ours over the peer, higher meaning better.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import capacity_accuracy, gate_throughput, latency_accuracy, loadgen, server_capacity
from .common import Context
from .report import Goal, Result


@dataclass(frozen=True)
class Comparison:
    name: str
    title: str
    run: Callable[[Context], Result]
    goals: dict[str, Goal] = field(default_factory=dict)
    # What keeps a goal out of reach, from profiling (py-spy, cProfile): shown in bench.md
    # when one of this comparison's goals is missed.
    limits: str = ""


COMPARISONS: list[Comparison] = [
    Comparison(
        "gate",
        "1. Gate throughput",
        gate_throughput.run,
        {
            "gate_cases_per_s_vs_cli_w1_ratio": Goal(1.5, "≥ 1.5× CLI -w 1 cases/s"),
            "gate_cases_per_s_vs_cli_auto_ratio": Goal(1.5, "≥ 1.5× CLI -w auto cases/s"),
            "gate_wall_budget_ratio": Goal(1.0, "full default gate < 60 s (60 s / wall ≥ 1)"),
        },
        limits=(
            "Per case the gate is now the faster (its test time against the CLI's own run "
            "time: the engine ratio); the gap is fixed start-up. `elsercheck gate`'s own "
            "process (about 0.5 s: parser, the target's GET /, the report), the pytest child's "
            "imports and session start (about 0.8 s) and its collection, where schemathesis "
            "generates every operation's coverage cases at once (2.5-4 s here; the CLI "
            "generates the same inside its run time). Removed so far: plugin autoloading "
            "(assertion rewriting of schemathesis, hypothesis and anyio at each start), the "
            "parser's matplotlib import, the cleanup DELETE after refused generated PUTs (one "
            "listing per operation instead), `ignored_auth`'s probes after every 2xx case (once "
            "per operation, as the CLI), the garbage collector's walks over the cases while "
            "collection builds them (0.4-0.5 s) and the interpreter's walk over the heap at "
            "exit (0.6-0.8 s). 1.5x the CLI's cases/s is out of reach for a gate that runs the "
            "CLI's engine and checks more; `-w auto` does not speed the CLI up here (threads "
            "under the GIL, two cores shared with the server)."
        ),
    ),
    Comparison(
        "server",
        "2. Reference server capacity",
        server_capacity.run,
        {
            "server_get_rps_ratio": Goal(0.5, "≥ 0.5 of the bare ceiling"),
            "server_infer_rps_ratio": Goal(0.5, "≥ 0.5 of the bare ceiling"),
            "service_time_p50_ratio": Goal(0.95, "within 5 % at half capacity"),
            "service_time_p95_ratio": Goal(0.95, "within 5 % at half capacity"),
            "service_capacity_ratio": Goal(0.95, "within 5 % of N/S"),
        },
        limits=(
            "A GET spends about half its CPU in uvicorn and the socket, as the bare app does, and "
            "half in Elasticsearch's REST semantics: route resolution with PathTrie rules, "
            "content-type and compatible-with negotiation, query-parameter validation, the Basic "
            "auth check, the handler and its rendering. Inference adds the JSON parse with "
            "duplicate-key detection (as ES rejects duplicates), the deterministic sparse "
            "encoder (tokens, hashed weights, sorting) and a much larger answer, and the trip "
            "through the deployment's queue and an allocation worker that models allocations "
            "(two task switches: the outcome wakes its caller directly, and one loop timer per "
            "deployment carries the timeouts). Without uvicorn and the socket "
            "(`server_*_app_cpu_ratio`, `python -m bench.request_cpu`) the application's CPU "
            "per request shows where it goes. Going further (skipping the worker when an "
            "allocation is idle, routes indexed by segment count and method) would drop "
            "modelled behaviour: the queue, its order and its counters."
        ),
    ),
    Comparison(
        "loadgen",
        "3. Load generator efficiency",
        loadgen.run,
        {
            "loadgen_rps_ratio": Goal(0.8, "≥ 0.8 of bare locust, same bodies"),
        },
        limits=(
            "The open loop and the recording. Arrivals are due on an absolute clock and go "
            "to a fixed set of sender greenlets per user (no greenlet spawned, no timer when "
            "behind), one locust task making arrival after arrival (locust's task scheduling "
            "per request was a tenth of the CPU), the first 256 samples of the input mix "
            "drawn then cycled (a draw was a twentieth); each request then goes through "
            "catch_response, the result check (the answer parsed with orjson) and an exact "
            "sample row with its schedule lag. The goal's peer posts the same bodies as ours "
            "(longer inputs and batches cost any generator CPU: against one fixed small body "
            "the ratio is `loadgen_rps_ratio_fixed_body`). A py-spy profile: locust's request "
            "path about 74 % of the generator's CPU (88 % for the peer). The machine is "
            "shared: one round's ratio ranged from 0.56 to 0.95, so read the min–max, and the "
            "CPU µs per request beside it."
        ),
    ),
    Comparison(
        "latency",
        "4. Latency accuracy",
        latency_accuracy.run,
        # No goal was set: the differences per percentile are reported (bench.md, notes).
    ),
    Comparison(
        "capacity",
        "5. Capacity accuracy",
        capacity_accuracy.run,
        # The saturation point against the model's saturation; the sweep's knee is reported
        # beside, without a goal: one sweep's knee spreads ±15-25 % (limits).
        {
            f"capacity_{workload}_a{allocations}_saturation_vs_model_ratio": Goal(
                0.9, f"{workload} ×{allocations}: within 10 % of the model's saturation"
            )
            for workload, allocations in capacity_accuracy.CELLS
        },
        limits=(
            "The saturation point is a count of finished work (inference weighed by it), "
            "within a few per cent; the model's mean is exact (capacity/model.py). The knee "
            "is the noisy figure. Not the simulation: a FIFO replay of a sweep's own arrivals "
            "and token counts "
            "gives its points' measured p50 and p99 within ~10 % (checked on the default mix), "
            "and a saturated point keeps the allocation ~95 % busy by the modelled inference "
            "times. The knee of the default mix is a latency knee: a 60 s window's p99 is made "
            "by a few long batches, and the sweep loses every rate from the first failed one "
            "and moves the knee down when a repeat fails, so noisy windows pull it below the "
            "model's even-odds rate (the model does not replay the sweep's sequence). A loop "
            "descheduled by a busy machine also delays answers by its lag times the time-lapse "
            "(run.json and capacity.json `simulator`)."
        ),
    ),
]

BY_NAME = {comparison.name: comparison for comparison in COMPARISONS}
