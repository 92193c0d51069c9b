"""Modelled time is kept at any scale: 32 allocations serve what 32 single allocations would.

A deployment at capacity, on an event loop whose clock jumps from timer to timer
(tests/virtual_clock.py) and where every request costs a fixed amount of the loop's
time (encoding it, answering it), as CPU time does on a real machine: a task that is due while
another runs wakes late. An allocation's requests are due at their start plus the modelled
service time, so per-allocation throughput must equal the model's at one allocation and at
many, as long as the machine keeps up in total (here 32 allocations' requests take a quarter of
the loop's time).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from elsercheck import sim_scale
from elsercheck.reference.mlnode import deployment as deployment_module
from elsercheck.reference.mlnode import sparse_encoder
from elsercheck.reference.mlnode.deployment import Deployment
from elsercheck.timing import PRESETS, Timing
from tests.virtual_clock import VirtualClockLoop, run_virtual

FAST = PRESETS["fast"]
ELSER = ".elser_model_2_linux-x86_64"
TEXT = " ".join(f"word{i}" for i in range(100))
WINDOW_S = 5.0  # virtual seconds of saturation measured


def served_per_allocation(
    timing: Timing, allocations: int, cost_share: float, late_share: float,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[float, float]:  # fmt: skip
    """(measured, modelled) requests per second per allocation of a saturated deployment,
    where every request costs ``cost_share`` / 32 of its service time of loop time (half to
    encode it, half to answer it: at 32 allocations busy, ``cost_share`` of the loop) and every
    timer fires ``late_share`` of a service time late."""
    service_s = timing.service_time_seconds(sparse_encoder.token_count(TEXT), 1, False)
    cost_s = service_s * cost_share / 32 / 2
    encode = sparse_encoder.encode

    def costly_encode(text: str) -> sparse_encoder.SparseResult:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualClockLoop)
        loop.now += cost_s  # the CPU the encoder spends, on the loop's clock
        return encode(text)

    monkeypatch.setattr(deployment_module.sparse_encoder, "encode", costly_encode)

    async def run() -> int:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualClockLoop)
        loop.late_s = service_s * late_share
        deployment = Deployment("scale", ELSER, 1, allocations, None, timing, queue_capacity=10**6)
        deployment.set_allocations(allocations)

        async def request() -> None:
            await deployment.infer([TEXT], None)
            loop.now += cost_s  # the answer's JSON and HTTP, on the loop's clock

        # A backlog that outlasts the window: the allocations are never idle.
        backlog = int(WINDOW_S / service_s * allocations * 1.5) + 10
        tasks = [asyncio.create_task(request()) for _ in range(backlog)]
        await asyncio.sleep(0)  # every request queued
        began = loop.time()
        done_at_start = deployment.counters.inference_count
        await asyncio.sleep(WINDOW_S)
        served = deployment.counters.inference_count - done_at_start
        window = loop.time() - began  # the sleep woke late too
        await deployment.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return served / window

    rate = run_virtual(run())
    return rate / allocations, 1 / service_s


@pytest.mark.parametrize("allocations", [1, 32])
def test_per_allocation_capacity_is_the_models_at_one_and_at_32_allocations(
    allocations: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Busy but keeping up: requests take a quarter of the loop, every wake-up comes a fifth of
    # a service time late (a request due while the loop serves others waits its turn).
    measured, modelled = served_per_allocation(FAST, allocations, 0.25, 0.2, monkeypatch)
    # Within one request per allocation over the window (its edges), nothing more.
    assert measured == pytest.approx(modelled, abs=1.5 / WINDOW_S), (measured, modelled)


def test_the_check_can_fail_a_machine_that_cannot_keep_up_loses_capacity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 32 allocations' requests take 1.5 times the loop's time: the loop falls behind and the
    # per-allocation figure drops (which the server's lag monitor reports).
    measured, modelled = served_per_allocation(FAST, 32, 1.5, 0.0, monkeypatch)
    assert measured < 0.8 * modelled, (measured, modelled)


# -- the time-lapse that fits the machine --------------------------------------------------------
# 1 ms per inference input, 4 ms per search
CEILING = sim_scale.Ceiling({"inference": 0.001, "search": 0.004, "ingest": 0.001})


def test_the_fastest_lapse_that_fits_is_chosen_and_a_run_nothing_fits_is_refused() -> None:
    assert CEILING.jobs_per_s() == pytest.approx(sim_scale.UTILISATION / 0.001)  # 500 per s
    assert sim_scale.choose(50, CEILING).profile == "fast"  # 500 per wall s at x10
    chosen = sim_scale.choose(51, CEILING)  # 510 at x10: too many; 255 at x5
    assert (chosen.profile, chosen.factor) == ("lapse-5", 5.0)
    assert chosen.demand_jobs_per_s == pytest.approx(255) and "lapse-5" in chosen.describe()
    assert sim_scale.choose(400, CEILING).profile == "lapse-1"
    # Beyond real time, slow motion: 501 per cluster second is 250.5 per wall second at x0.5,
    # and the line says what a cluster second costs.
    slow = sim_scale.choose(501, CEILING)
    assert (slow.profile, slow.factor) == ("lapse-0.5", 0.5)
    assert "slow motion: each cluster second takes 2 wall seconds" in slow.describe()
    assert "slow motion" not in chosen.describe()
    assert sim_scale.choose(5000, CEILING).profile == "lapse-0.1"
    with pytest.raises(
        sim_scale.ScaleError,
        match=r"asks for 5001 .* serves 500 per wall second .* slowest time-lapse, lapse-0.1 "
        r"\(×0.1: 10 wall seconds per cluster second\)",
    ):
        sim_scale.choose(5001, CEILING)
    # A search costs four times an inference input here: the same demand takes a slower lapse.
    assert sim_scale.choose(50, CEILING, "search").profile == "lapse-2"
    # Every profile chosen is one the server and the load know, at its factor.
    for demand in (1, 60, 150, 400, 900, 2400, 4900):
        choice = sim_scale.choose(demand, CEILING)
        assert PRESETS[choice.profile].speedup == choice.factor


def test_demand_grows_with_allocations_and_ingest_counts_chunks() -> None:
    args = ("query=0.5,short=0.2,medium=0.2,long=0.08,xlong=0.02", 0.1, ELSER)
    one = sim_scale.sweep_demand("inference", 1, 1, *args)
    assert sim_scale.sweep_demand("inference", 32, 1, *args) == pytest.approx(32 * one)
    # An allocation's deployment requests per second do not depend on what carries them much;
    # ingest's come as chunks of bulks, each its own deployment request.
    ingest = sim_scale.sweep_demand("ingest", 1, 1, *args, bulk_size=10)
    assert 0.2 * one < ingest < 5 * one


def test_the_ceiling_is_measured_once_then_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def calibrate() -> sim_scale.Ceiling:
        calls.append(1)
        return CEILING

    monkeypatch.setattr(sim_scale, "calibrate", calibrate)
    path = tmp_path / "ceiling.json"
    with pytest.raises(sim_scale.ScaleError, match="no ceiling measured"):
        sim_scale.ceiling(path, measure=False)
    assert sim_scale.ceiling(path) == CEILING and sim_scale.ceiling(path) == CEILING
    assert len(calls) == 1
    # Another machine, Python or elsercheck version: measured again.
    monkeypatch.setattr(sim_scale, "machine_key", lambda: "elsewhere")
    assert sim_scale.ceiling(path) == CEILING and len(calls) == 2
    path.write_text("not json")
    assert sim_scale.ceiling(path) == CEILING and len(calls) == 3


# -- a capacity point the simulator could not keep up with says so --------------------------------
def test_a_point_whose_simulator_fell_behind_is_inconclusive_and_says_why() -> None:
    from dataclasses import replace

    from elsercheck.capacity.knee import judge
    from tests.test_capacity_sweep import point

    kept = {"stalls": 0, "behind_s": 0.0, "span_s": 6.0, "share": 0.0, "max_lag_ms": 12.0,
            "kept_up": True}  # fmt: skip
    assert judge(replace(point(10.0), simulator=kept), slo_p99_ms=500).sustained
    behind = {**kept, "stalls": 4, "behind_s": 1.2, "share": 0.2, "kept_up": False}
    for measured in (point(10.0), point(10.0, p99=900.0)):
        verdict = judge(replace(measured, simulator=behind), slo_p99_ms=500)
        assert not verdict.sustained and verdict.inconclusive
        assert any("simulation was behind" in r and "20.0%" in r for r in verdict.reasons)
    # A cluster serves no lag: judged as before.
    assert not judge(point(10.0, p99=900.0), slo_p99_ms=500).inconclusive


def test_run_json_simulator_summary_from_the_monitors_rows() -> None:
    from elsercheck.load import simulator

    rows = [
        {"elapsed_s": 0.0, "server_lag_samples": 1, "server_lag_stalls": 0,
         "server_lag_behind_s": 0.0, "server_lag_max_ms": 3.0},
        {"elapsed_s": 10.0, "server_lag_samples": 200, "server_lag_stalls": 2,
         "server_lag_behind_s": 0.6, "server_lag_max_ms": 400.0},
    ]  # fmt: skip
    lag = simulator.summarize(rows)
    assert lag == {"stalls": 2, "behind_s": 0.6, "span_s": 10.0, "share": 0.06,
                   "max_lag_ms": 400.0, "max_lag_in_run": True, "kept_up": False}  # fmt: skip
    # The server's worst since it started, not this run's: said so, never blamed on the run.
    before = [{**row, "server_lag_max_ms": 856.7} for row in rows]
    quiet = simulator.summarize(before)
    assert quiet is not None and quiet["max_lag_in_run"] is False
    assert simulator.summarize([{"elapsed_s": 0.0, "server_lag_samples": None}] * 3) is None


def test_simulator_kept_up_says_when_the_worst_wake_up_was_before_the_run() -> None:
    from elsercheck.load.expectations import check_simulator

    rows = [
        {"elapsed_s": t, "server_lag_samples": 10 + t, "server_lag_stalls": 0,
         "server_lag_behind_s": 0.0, "server_lag_max_ms": 856.7}
        for t in (0.0, 5.0, 10.0)
    ]  # fmt: skip

    class Record:
        allocations = rows

    (result,) = check_simulator(Record())  # type: ignore[arg-type]
    assert result.passed is True
    assert "worst before the run (856.7 ms)" in result.detail, result.detail


def test_a_calibration_that_cannot_run_is_said_and_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> sim_scale.Ceiling:
        raise OSError("no loopback port")

    monkeypatch.setattr(sim_scale, "calibrate", broken)
    path = tmp_path / "ceiling.json"
    with pytest.raises(sim_scale.CalibrationError, match="OSError: no loopback port"):
        sim_scale.ceiling(path)
    assert not path.exists()


def test_capacity_on_the_embedded_server_takes_the_lapse_that_fits_or_refuses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from elsercheck.commands import capacity
    from elsercheck.commands.options import UsageError, choose_time_lapse

    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    args = argparse.Namespace(
        workload="inference", allocations=[1, 16], threads=[1],
        mix="query=0.5,short=0.2,medium=0.2,long=0.08,xlong=0.02", batch_share=0.1,
        model_id=ELSER, corpus="", bulk_size=10, url=None, timing=None,
    )  # fmt: skip

    def chosen() -> str:
        args.timing = None
        choose_time_lapse(args, lambda: capacity._sweep_demands(args))
        return str(args.timing)

    one = sim_scale.sweep_demand("inference", 1, 1, args.mix, 0.1, ELSER)
    # A ceiling where one allocation fits at x10 and 16 (the busiest cell) only at x2.
    ceiling = sim_scale.Ceiling({"inference": sim_scale.UTILISATION / (16 * one * 2.5)})
    monkeypatch.setattr(sim_scale, "ceiling", lambda: ceiling)
    assert chosen() == "lapse-2"
    assert "timing lapse-2 (time-lapse ×2)" in capsys.readouterr().out
    args.allocations = [2000]  # 2000 / (16 × 2.5) = 50 times the ceiling at x1: past x0.1
    with pytest.raises(UsageError, match="even at the slowest time-lapse"):
        chosen()
    # A given --timing, or a cluster, is left alone: nothing measured, nothing refused.
    args.timing = "fast"
    choose_time_lapse(args, lambda: capacity._sweep_demands(args))
    assert args.timing == "fast"
    args.timing, args.url = None, "https://es:9200"
    choose_time_lapse(args, lambda: capacity._sweep_demands(args))
    assert args.timing is None
    args.url = None

    def uncalibrated() -> sim_scale.Ceiling:
        raise sim_scale.CalibrationError("could not measure")

    monkeypatch.setattr(sim_scale, "ceiling", uncalibrated)
    assert chosen() == "fast"
    assert "could not measure: timing fast, unchecked" in capsys.readouterr().out


def test_a_load_on_the_embedded_server_takes_the_lapse_its_peak_fits(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The load's peak users at their rate, in deployment requests (issue 25, item 2): the
    README's loads fit at x10 here; 32 allocations at 400 users take a slower lapse, and the
    plan follows it (its stages are cluster durations at that lapse)."""
    from elsercheck.cli import build_parser
    from elsercheck.commands.load import options_of, scaled_options_of

    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    one_user = options_of(build_parser().parse_args(["load", "--peak-users", "1"]))
    per_user = sim_scale.load_demand(one_user.values)["inference"]
    # Room at x10 for 100 users' deployment requests.
    limit = sim_scale.UTILISATION / (100 * per_user * 10)
    monkeypatch.setattr(sim_scale, "ceiling", lambda: sim_scale.Ceiling({"inference": limit}))
    fits = scaled_options_of(build_parser().parse_args(["load", "--peak-users", "100"]))
    assert fits.values["timing"] == "fast"
    assert "timing fast (time-lapse ×10)" in capsys.readouterr().out
    slower = scaled_options_of(build_parser().parse_args(
        ["load", "--peak-users", "400", "--max-allocations", "32"]
    ))  # fmt: skip
    assert slower.values["timing"] == "lapse-2"
    assert slower.plan.duration_s == pytest.approx(fits.plan.duration_s * 5)
    # Beyond real time, slow motion: 1,500 users ask 1.5 times the ceiling at x1.
    slow = scaled_options_of(build_parser().parse_args(
        ["load", "--peak-users", "1500", "--max-allocations", "200"]
    ))  # fmt: skip
    assert slow.values["timing"] == "lapse-0.5"
    assert slow.plan.duration_s == pytest.approx(fits.plan.duration_s * 20)
    assert "slow motion: each cluster second takes 2 wall seconds" in capsys.readouterr().out
    given = scaled_options_of(build_parser().parse_args(
        ["load", "--peak-users", "400", "--max-allocations", "32", "--timing", "fast"]
    ))  # fmt: skip
    assert given.values["timing"] == "fast"  # as asked: the user's choice is not overridden
    # Validation alone measures nothing (a fast-tier caller of options_of on a fresh machine).
    monkeypatch.setattr(sim_scale, "ceiling", lambda: pytest.fail("measured"))
    assert options_of(build_parser().parse_args(["load", "--peak-users", "400"]))


def test_a_load_demand_counts_each_workload_at_its_cost_and_caps_it_at_the_deployment() -> None:
    from elsercheck.cli import build_parser
    from elsercheck.commands.load import options_of

    def demand(*argv: str) -> dict[str, float]:
        args = build_parser().parse_args(["load", "--timing", "fast", *argv])
        return sim_scale.load_demand(options_of(args).values)

    inference = demand("--peak-users", "30")
    assert set(inference) == {"inference"}
    assert demand("--peak-users", "60")["inference"] == pytest.approx(2 * inference["inference"])
    mixed = demand("--workload", "mixed", "--peak-users", "30")
    assert set(mixed) == {"inference", "search", "ingest"}
    # A third of the users each: a third of the inference users' requests.
    assert mixed["inference"] == pytest.approx(inference["inference"] / 3)
    # Far past what one allocation completes, the demand is that capacity's (with headroom).
    capped = demand("--peak-users", "100000", "--max-allocations", "1")
    assert (
        capped["inference"]
        < demand("--peak-users", "100000", "--max-allocations", "2")["inference"]
        < 100000 / 30 * inference["inference"]
    )
    # An EIS endpoint has no allocations to cap it.
    eis = demand("--service", "elastic", "--peak-users", "100000", "--max-allocations", "1")
    assert eis["inference"] == pytest.approx(100000 / 30 * inference["inference"])
    ceiling = sim_scale.Ceiling({"inference": 0.001, "search": 0.002, "ingest": 0.004})
    # One workload against its own ceiling, as a capacity sweep of it.
    assert sim_scale.choose_for({"search": 10.0}, ceiling) == sim_scale.choose(
        10.0, ceiling, "search"
    )
    # 10 searches and 10 chunks: 60 inferences' worth a cluster second, 600 a wall second at
    # x10 against the 500 one core's half serves; 300 at x5.
    worth = sim_scale.choose_for({"search": 10.0, "ingest": 10.0}, ceiling)
    assert worth.profile == "lapse-5"
    assert worth.demand_jobs_per_s == pytest.approx(5 * (10 * 2 + 10 * 4))


def test_a_cell_whose_every_point_was_inconclusive_says_so() -> None:
    from elsercheck.capacity.cell import CellResult
    from elsercheck.capacity.command import _summary_line
    from elsercheck.capacity.knee import Knee
    from elsercheck.capacity.units import unit_of

    lines: list[str] = []
    cell = CellResult(1, 1, 48.0, 150.0)
    cell.generator_limited = True  # every point inconclusive: no knee, no capacity
    _summary_line(cell, lines.append, unit_of("search"))
    assert "inconclusive: the load machine (generator or simulator) fell behind" in lines[-1]
    cell.knee = Knee(None, 24.0)  # a rate failed: a verdict after all
    _summary_line(cell, lines.append, unit_of("search"))
    assert "no offered rate was sustained" in lines[-1]
