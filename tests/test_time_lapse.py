"""The ``fast`` timing is a true time-lapse of a real cluster's timing.

The proof: the ML node's services (``Deployments``, ``AdaptiveScalingService``,
``InferenceService``, built alone as in test_mlnode_services.py, no HTTP) serve the same arrival
trace twice, on an event loop whose clock jumps from timer to timer instead of waiting
(tests/virtual_clock.py: the runs are deterministic and take no wall-clock time): once at the
timing of the cluster the fast profile stands for, once at ``fast`` with the trace's times
divided by its speedup. The scaler's
decision at every tick, and every request's outcome, must be the same.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import fields

import pytest

from elsercheck.load.plans import SHAPES, build_plan, reaction_bound_s, scaler_timing, wall_rate
from elsercheck.reference.mlnode.adaptive_scaling_service import AdaptiveScalingService
from elsercheck.reference.mlnode.deployments import Deployments
from elsercheck.reference.mlnode.inference_service import InferenceService
from elsercheck.reference.rules.endpoint_config import EndpointConfig
from elsercheck.reference.rules.service_settings import AdaptiveAllocations, ServiceSettings
from elsercheck.reference.wire.errors import EsError
from elsercheck.timing import (
    FAST_CLUSTER_SETTINGS,
    FAST_SPEEDUP,
    PRESETS,
    UNSCALED,
    Timing,
    TimingError,
)
from tests.virtual_clock import run_virtual

FAST = PRESETS["fast"]
CLUSTER = Timing(**FAST_CLUSTER_SETTINGS)  # the cluster the fast profile is a time-lapse of
ELSER = ".elser_model_2_linux-x86_64"
ADAPTIVE = ServiceSettings(None, 1, ELSER, AdaptiveAllocations(True, 0, 6))


# -- the trace -----------------------------------------------------------------------------------
TEXTS = [" ".join(f"word{i}" for i in range(n)) for n in (10, 60, 150, 250, 400)]
# (seconds of cluster time, requests per second of cluster time): a quiet base, a burst that
# needs ~5 allocations, quiet again (scale down after the cooldown), silence past the
# scale-to-zero time, one request at zero (409, scale from zero), then quiet load again.
PHASES = [(60.0, 2.0), (120.0, 12.0), (80.0, 2.0), (140.0, 0.0), (60.0, 2.0)]


def arrival_trace(seed: int = 7) -> list[tuple[float, str]]:
    """Poisson arrivals (time in cluster seconds from the deployment's start, input text)."""
    rng, trace, start = random.Random(seed), [], 0.0
    for length, rate in PHASES:
        at = start
        while rate:
            at += rng.expovariate(rate)
            if at >= start + length:
                break
            trace.append((at, rng.choice(TEXTS)))
        start += length
    return trace


class RecordingScaler(AdaptiveScalingService):
    """The scaler service, noting the deployment's target and allocations after every tick."""

    decisions: list[tuple[int, int]]

    def tick(self, now: float) -> None:
        super().tick(now)
        deployment = self.deployments.get("lapse")
        if deployment is not None:
            self.decisions.append((deployment.target_allocations, deployment.allocation_count))


def replay(timing: Timing, trace: list[tuple[float, str]], speedup: float) -> tuple[list, list]:
    """Serve ``trace`` (cluster times, divided by ``speedup``) at ``timing``, on virtual time;
    the scaler's (target, allocations) per tick and each request's outcome, in arrival order."""

    async def run() -> tuple[list, list]:
        loop = asyncio.get_running_loop()
        deployments = Deployments(timing)
        scaler = RecordingScaler(deployments, timing)
        scaler.decisions = []
        service = InferenceService(deployments, scaler)
        config = EndpointConfig("lapse", "sparse_embedding", ADAPTIVE, None)
        await scaler.start()
        deployment = deployments.start("lapse", ADAPTIVE)
        await deployments.wait_started(deployment, timeout=None)
        began = loop.time()

        async def one(text: str) -> str:
            try:
                await service.infer(config, [text], timing.inference_timeout_seconds)
            except EsError as error:
                return str(error.status)
            return "ok"

        requests = []
        for at, text in trace:
            await asyncio.sleep(max(0.0, began + at / speedup - loop.time()))
            requests.append(asyncio.create_task(one(text)))
        outcomes = await asyncio.gather(*requests)
        await asyncio.sleep(began + sum(length for length, _ in PHASES) / speedup - loop.time())
        await scaler.stop()
        await deployments.stop("lapse")
        return scaler.decisions, list(outcomes)

    return run_virtual(run())


@pytest.fixture(scope="module")
def cluster_run() -> tuple[list, list]:
    return replay(CLUSTER, arrival_trace(), 1.0)


def test_fast_scales_tick_for_tick_as_the_cluster_it_stands_for(cluster_run) -> None:
    decisions, outcomes = cluster_run
    targets = [target for target, _ in decisions]
    # The trace exercises every decision: up to several allocations, down, zero, back from zero.
    peak = max(targets)
    assert peak >= 4, targets
    after_peak = targets[targets.index(peak) :]
    assert 0 < min(after_peak[: after_peak.index(0)]) < peak, targets
    assert targets[-1] >= 1, targets
    # Requests answer 409 only while the deployment comes back from zero (no 408: the unscaled
    # 30 s inference timeout never expires in this trace, on either clock).
    reload_at = sum(length for length, _ in PHASES[:-1])
    conflicts = [at for (at, _), outcome in zip(arrival_trace(), outcomes, strict=True)
                 if outcome == "409"]  # fmt: skip
    assert conflicts and min(conflicts) >= reload_at and set(outcomes) == {"ok", "409"}

    assert replay(FAST, arrival_trace(), FAST_SPEEDUP) == (decisions, outcomes)


def test_the_proof_can_fail_service_times_scaled_apart_change_the_decisions(cluster_run) -> None:
    # The fast profile before it was a time-lapse: service times 4 times shorter while the
    # tick was 10 times shorter, i.e. 2.5 times the load per tick the cluster would see.
    apart = FAST.with_overrides(inference_time_scale=0.25)
    decisions = replay(apart, arrival_trace(), FAST_SPEEDUP)[0]
    assert decisions != cluster_run[0]
    assert max(decisions) > max(cluster_run[0])  # more load per tick: more allocations


# -- the profile's numbers -----------------------------------------------------------------------
def test_fast_fields_are_the_clusters_divided_by_the_speedup() -> None:
    realistic = PRESETS["realistic"]
    assert FAST.speedup == FAST_SPEEDUP and realistic.speedup == 1.0
    for item in fields(Timing):
        name = item.name
        cluster = FAST_CLUSTER_SETTINGS.get(name, getattr(realistic, name))
        if name == "speedup":
            continue
        if name in UNSCALED:
            assert getattr(FAST, name) == cluster, name
        else:
            assert getattr(FAST, name) == cluster / FAST_SPEEDUP, name
    # Only operator settings and the machine (model source, model load) differ from realistic.
    assert set(FAST_CLUSTER_SETTINGS) == {
        "scale_down_cooldown_seconds", "scale_to_zero_seconds", "model_download_seconds",
        "deployment_start_seconds",
    }  # fmt: skip
    # scale_to_zero_time may not be set below 1 minute (Elastic's trained-model autoscaling docs)
    assert FAST_CLUSTER_SETTINGS["scale_to_zero_seconds"] >= 60


def test_every_unscaled_field_exists_and_a_bad_factor_is_refused() -> None:
    assert set(UNSCALED) <= {item.name for item in fields(Timing)}
    for factor in (0, -2.0, float("nan"), True):
        with pytest.raises(TimingError, match="speedup must be above 0"):
            CLUSTER.time_lapse(factor)
    assert CLUSTER.time_lapse(2).time_lapse(5) == CLUSTER.time_lapse(10)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_fast_load_plans_are_the_clusters_with_the_clock_sped_up(shape: str) -> None:
    fast, cluster = scaler_timing(FAST), scaler_timing(CLUSTER)
    fast_plan, cluster_plan = build_plan(shape, fast, 40), build_plan(shape, cluster, 40)
    assert [(s.users, s.users_from, s.expect) for s in fast_plan.stages] == [
        (s.users, s.users_from, s.expect) for s in cluster_plan.stages
    ]
    for fast_stage, cluster_stage in zip(fast_plan.stages, cluster_plan.stages, strict=True):
        assert fast_stage.duration_s == pytest.approx(cluster_stage.duration_s / FAST_SPEEDUP)
        if fast_stage.expect:
            assert reaction_bound_s(fast_stage.expect, fast, 0) == pytest.approx(
                reaction_bound_s(cluster_stage.expect, cluster, 0) / FAST_SPEEDUP
            )
    # Arrival rates go the other way: 10 times as many requests per wall-clock second.
    assert wall_rate(0.5, fast) == 0.5 * FAST_SPEEDUP and wall_rate(0.5, cluster) == 0.5
