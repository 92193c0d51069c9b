"""The capacity sweep's logic without a target: verdict rules, knee, rate plan, statistics,
and a whole cell against a simulated deployment of known capacity."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace

import jsonschema
import pytest

from elsercheck.capacity import knee as knee_rules
from elsercheck.capacity.cell import MAX_POINTS, CellResult, Measured, sweep_cell
from elsercheck.capacity.knee import Judgement, judge, knee
from elsercheck.capacity.point import Point
from elsercheck.capacity.result import document, schema, settings
from elsercheck.capacity.statistics import (
    bootstrap_interval,
    dispersion,
    needs_repeat,
    t_interval,
    throughput_interval,
)
from elsercheck.capacity.sweep import SweepPlan

WINDOW_S = 48.0
BINS = 10


def point(offered: float, *, sent: float | None = None, done: float | None = None,
          p99: float | None = 100.0, growth: float | None = 0.0,
          rejected: dict[str, int] | None = None, per_bin: list[float] | None = None,
          sent_bins: list[int] | None = None) -> Point:  # fmt: skip
    sent = offered if sent is None else sent
    done = sent if done is None else done
    return Point(
        offered_rps=offered, window_s=WINDOW_S, sent_rps=sent, throughput_rps=done,
        latency_ms={"count": 100, "p50": 10.0, "p90": 50.0, "p99": p99, "max": 200.0,
                    "mean": 20.0, "min": 1.0},
        per_second_rps=tuple(per_bin or [done] * BINS), bin_s=WINDOW_S / BINS,
        sent_per_bin=tuple(sent_bins or [round(sent * WINDOW_S / BINS)] * BINS),
        rejected=rejected or {}, errors=dict(rejected or {}), pending_growth=growth,
        pending_max=3, run_dir="",
    )  # fmt: skip


def test_a_point_within_every_rule_is_sustained():
    verdict = judge(point(10.0), slo_p99_ms=500)
    assert verdict == Judgement(True, (), False)


@pytest.mark.parametrize(
    ("broken", "says"),
    [
        (point(10.0, done=8.0), "throughput 8/s below arrivals 10/s"),
        (point(10.0, growth=60.0), "pending requests grew by 60"),
        (point(10.0, rejected={"429": 10}), "rejected or timed out (429 ×10)"),
        (point(10.0, p99=900.0), "p99 900 ms above the objective 500 ms"),
        (point(10.0, p99=None), "no successful request"),
    ],
)
def test_each_rule_fails_a_point_and_says_why(broken, says):
    verdict = judge(broken, slo_p99_ms=500)
    assert not verdict.sustained and not verdict.inconclusive
    assert any(says in reason for reason in verdict.reasons), verdict.reasons


def test_small_queue_changes_and_counting_noise_are_not_failures():
    # 5 % of 480 arrivals is 24: a queue 20 longer at the end is noise of a busy deployment.
    assert judge(point(10.0, growth=20.0), slo_p99_ms=500).sustained
    # 455 sent of 480 expected: below by 5 %, within three Poisson deviations.
    assert judge(point(10.0, sent=455 / WINDOW_S), slo_p99_ms=500).sustained


def test_the_queue_limit_allows_for_batches_arriving_late_in_a_short_window():
    # A 20 s window at 3.2 inference requests/s (64 of them), the default mix: 1.5 inputs per
    # request on average, 5 as the mean square (one in ten is a batch of up to 10). The
    # arrivals in deployment requests vary by √(64 × 5) ≈ 18: a queue 14 longer at the end is
    # noise (it failed such points at 58 % of the model's capacity when the limit was √64 ×
    # 1.5 = 12); one growing by 30 is not.
    short = replace(point(3.2), window_s=20.0, requests_per_unit=1.5, requests_sq_per_unit=5.0)
    assert judge(replace(short, pending_growth=14.0), slo_p99_ms=500).sustained
    verdict = judge(replace(short, pending_growth=30.0), slo_p99_ms=500)
    assert not verdict.sustained
    assert verdict.reasons == ("pending requests grew by 30 over the window (limit 18)",)
    # Without batches (one request per unit) the limit is √arrivals, as before.
    single = replace(short, requests_per_unit=1.0, requests_sq_per_unit=1.0, pending_growth=9.0)
    assert "limit 8" in judge(single, slo_p99_ms=500).reasons[0]


def test_a_generator_that_fell_behind_makes_the_point_inconclusive():
    verdict = judge(point(10.0, sent=6.0), slo_p99_ms=500)
    assert not verdict.sustained and verdict.inconclusive
    assert "the generator sent 6/s of 10/s" in verdict.reasons[0]
    # Behind and the target failing too: a verdict on the target after all.
    both = judge(point(10.0, sent=6.0, p99=900.0), slo_p99_ms=500)
    assert not both.sustained and not both.inconclusive


def test_the_knee_lies_between_the_highest_sustained_and_the_lowest_failed_rate():
    ok, bad = Judgement(True, ()), Judgement(False, ("p99",))
    found = knee([(5.0, ok), (7.5, ok), (11.0, bad), (9.0, bad), (8.2, ok)])
    assert (found.sustained_rps, found.failed_rps) == (8.2, 9.0)
    assert found.rps == pytest.approx(8.6)
    # A rate sustained above a failed one is noise at the edge: the knee stays below.
    assert knee([(5.0, ok), (9.0, bad), (10.0, ok)]).sustained_rps == 5.0
    assert knee([(5.0, bad)]).sustained_rps is None and knee([(5.0, ok)]).failed_rps is None


def _simulate(capacity: float):
    """The verdict of a deployment that sustains exactly up to ``capacity``."""
    return lambda rate: Judgement(rate <= capacity, () if rate <= capacity else ("queue",))


@pytest.mark.parametrize("capacity", [0.4, 3.0, 7.7, 50.0, 400.0])
@pytest.mark.parametrize("estimate", [2.0, 10.0, 100.0])
def test_the_plan_brackets_the_capacity_to_its_resolution(capacity, estimate):
    plan, history = SweepPlan(estimate), []
    while (rate := plan.next_rate(history)) is not None:
        history.append((rate, _simulate(capacity)(rate)))
        assert len(history) < 40
    found = knee(history)
    if capacity < estimate * plan.floor_share:
        return  # below the floor: the plan gives up rather than sweep forever
    assert found.sustained_rps is not None and found.failed_rps is not None
    assert found.sustained_rps <= capacity < found.failed_rps
    assert found.failed_rps / found.sustained_rps - 1 <= plan.resolution
    # A good estimate keeps the sweep short.
    if 0.5 <= capacity / estimate <= 1.5:
        assert len(history) <= 8


@pytest.mark.parametrize("capacity", [0.4, 7.7, 400.0])
def test_a_coarser_resolution_brackets_within_it_in_fewer_points(capacity):
    def sweep(resolution: float) -> list[tuple[float, Judgement]]:
        plan, history = SweepPlan(10.0, resolution=resolution), []
        while (rate := plan.next_rate(history)) is not None:
            history.append((rate, _simulate(capacity)(rate)))
        return history

    fine, coarse = sweep(0.05), sweep(0.15)
    found = knee(coarse)
    assert found.sustained_rps is not None and found.failed_rps is not None
    assert found.sustained_rps <= capacity < found.failed_rps
    assert found.failed_rps / found.sustained_rps - 1 <= 0.15
    assert len(coarse) < len(fine)


def test_a_cell_sweeps_at_the_resolution_it_is_given():
    runs = {}
    for resolution in (0.05, 0.15):
        cell = sweep_cell(CellResult(1, 1, 10.0, 1000.0), Simulated(capacity=12.0), repeats=1,
                          deadline=math.inf, emit=lambda line: None, resolution=resolution)  # fmt: skip
        assert cell.knee.failed_rps / cell.knee.sustained_rps - 1 <= resolution
        runs[resolution] = len(cell.runs)
    assert runs[0.15] < runs[0.05]


def test_the_plan_stops_when_the_generator_falls_behind():
    history = [(5.0, Judgement(True, ())), (7.5, Judgement(False, ("behind",), True))]
    assert SweepPlan(10.0).next_rate(history) is None


def test_statistics():
    low, high = t_interval([10.0, 12.0, 11.0])
    assert low == pytest.approx(11 - 4.303 * 1 / math.sqrt(3), rel=1e-3)
    assert high == pytest.approx(11 + 4.303 * 1 / math.sqrt(3), rel=1e-3)
    rng = random.Random(1)
    values = [rng.gauss(100, 10) for _ in range(200)]
    low, high = bootstrap_interval(values)
    assert low < sum(values) / len(values) < high
    assert 1.5 < high - low < 4.5  # about 2 × 1.96 × 10 / √200 = 2.8
    assert bootstrap_interval(values) == (low, high)  # seeded
    assert throughput_interval([10.0, 12.0, 11.0], [])[2] == "t-interval over 3 runs"
    assert throughput_interval([10.0], [[9.0, 11.0]])[2].startswith("bootstrap of 2")
    steady = [_poisson(rng, 40) for _ in range(30)]
    assert 0.4 < dispersion(steady) < 2.0 and not needs_repeat(steady)
    assert needs_repeat([40, 40, 0, 80, 40, 0, 80, 40, 40, 40])


def _poisson(rng: random.Random, mean: float) -> int:
    count, total = 0, rng.expovariate(1.0)
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count


class Simulated:
    """A deployment of known capacity under a Poisson generator: what a point would measure."""

    def __init__(self, capacity: float, seed: int = 0, unsteady_at: float | None = None) -> None:
        self.capacity = capacity
        self.rng = random.Random(seed)
        self.unsteady_at = unsteady_at
        self.rates: list[float] = []

    def __call__(self, rate: float) -> Point:
        self.rates.append(rate)
        sent = _poisson(self.rng, rate * WINDOW_S) / WINDOW_S
        done = min(sent, self.capacity * self.rng.uniform(0.97, 1.0))
        growth = max(0.0, (sent - self.capacity) * WINDOW_S)
        steady = [_poisson(self.rng, sent * WINDOW_S / BINS) for _ in range(BINS)]
        if self.unsteady_at is not None and rate == self.rates[0] and len(self.rates) == 1:
            # The load machine paused: nothing sent, then twice as much.
            steady = [2 * round(sent * WINDOW_S / BINS), 0] * (BINS // 2)
        return point(rate, sent=sent, done=done, growth=growth, sent_bins=steady)


def test_a_cell_finds_a_known_capacity_with_its_interval():
    target = Simulated(capacity=12.0)
    cell = sweep_cell(CellResult(1, 1, 10.0, 1000.0), target, repeats=3, deadline=math.inf,
                      emit=lambda line: None)  # fmt: skip
    assert cell.knee.sustained_rps is not None and cell.knee.failed_rps is not None
    for failed in (m for m in cell.runs if m.purpose == "repeat" and not m.judgement.sustained):
        assert failed.rate > cell.knee.sustained_rps  # a failed repeat moved the knee below it
    # The rules let a point overloaded by a few percent pass in one window (queue growth up to
    # 5 % of the arrivals): the knee is found within about that of the true capacity.
    assert 12.0 * 0.85 <= cell.knee.sustained_rps <= 12.0 * 1.1
    assert 12.0 * 0.9 < cell.knee.failed_rps <= 12.0 * 1.3
    assert cell.capacity_rps == pytest.approx(12.0, rel=0.15)
    assert cell.ci_low <= cell.capacity_rps <= cell.ci_high
    assert cell.ci_high >= cell.knee.failed_rps
    held = [m for m in cell.runs if m.rate == cell.knee.sustained_rps and m.judgement.sustained]
    # The capacity point held three times (a repeat that failed moved the knee down first).
    assert len(held) == 3 and not cell.bounded
    assert [m.purpose for m in cell.runs].count("repeat") >= 2
    assert cell.ci_method.startswith("t-interval over 3 runs")
    assert cell.capacity_rps == pytest.approx(sum(m.point.sent_rps for m in held) / 3)
    assert cell.per_allocation[0] == cell.capacity_rps


def test_an_unsteady_point_is_measured_again():
    target = Simulated(capacity=12.0, unsteady_at=5.0)
    cell = sweep_cell(CellResult(1, 1, 10.0, 1000.0), target, repeats=1, deadline=math.inf,
                      emit=lambda line: None)  # fmt: skip
    assert [m.purpose for m in cell.runs[:2]] == ["sweep", "noise"]
    assert cell.runs[0].rate == cell.runs[1].rate


def test_the_deadline_and_the_point_cap_bound_a_cell():
    clock = iter(range(0, 10_000, 10))
    cell = sweep_cell(CellResult(2, 1, 10.0, 1000.0), Simulated(24.0), repeats=3, deadline=35,
                      emit=lambda line: None, clock=lambda: next(clock))  # fmt: skip
    assert cell.bounded and 1 <= len(cell.runs) <= 3
    never = sweep_cell(CellResult(1, 1, 10.0, 1000.0), Simulated(1e9), repeats=1,
                       deadline=math.inf, emit=lambda line: None)  # fmt: skip
    assert never.bounded and len(never.runs) == MAX_POINTS and never.knee.failed_rps is None


def test_capacity_json_follows_its_schema():
    jsonschema.Draft202012Validator.check_schema(schema())
    cell = sweep_cell(CellResult(1, 1, 10.0, 1000.0), Simulated(12.0), repeats=2,
                      deadline=math.inf, emit=lambda line: None)  # fmt: skip
    data = document(
        settings(run_id="r", target="http://x", target_version=None, embedded=True,
                 timing="fast", speedup=10.0, workload="inference", mix="medium=1",
                 batch_share=0.0, model_id="m", slo_p99_ms=1000.0, slo_source="given",
                 point_seconds=60.0, max_minutes=30.0, repeats=2),
        [cell, CellResult(2, 1, 20.0, 1000.0)],
    )  # fmt: skip
    jsonschema.Draft202012Validator(schema()).validate(data)
    broken = {**data, "cells": [{**data["cells"][0], "capacity_rps": "fast"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema()).validate(broken)
    assert knee_rules.REJECTED_SHARE < 0.05  # the README's table states these thresholds


def test_the_model_follows_the_servers_service_time_rules():
    from elsercheck.capacity.model import capacity_per_allocation, mean_service_s
    from elsercheck.endpoints import ELSER_V2_PORTABLE, ELSER_V2_X86
    from elsercheck.timing import PRESETS

    fast, realistic = PRESETS["fast"], PRESETS["realistic"]
    one = capacity_per_allocation(realistic, "medium=1", 0.0, 1, ELSER_V2_X86)
    # Medium passages (65-256 tokens): 10 ms + 1.36 ms per token, i.e. between 98 and 358 ms.
    assert 1000 / 358 < one < 1000 / 98
    # The time-lapse changes nothing in the cluster's time.
    assert capacity_per_allocation(fast, "medium=1", 0.0, 1, ELSER_V2_X86) == pytest.approx(one)
    # Amdahl over threads (parallel share 0.8): 2 threads serve 1 / (0.2 + 0.4) times faster.
    two = capacity_per_allocation(realistic, "medium=1", 0.0, 2, ELSER_V2_X86)
    assert two / one == pytest.approx(1 / 0.6)
    portable = capacity_per_allocation(realistic, "medium=1", 0.0, 1, ELSER_V2_PORTABLE)
    assert one / portable == pytest.approx(22 / 14)
    # Batches carry several inputs' tokens: longer requests, fewer of them.
    assert mean_service_s(realistic, "medium=1", 1.0, 1, ELSER_V2_X86) > 2 / one


def test_the_page_shows_the_sweep_and_escapes_what_it_shows():
    from elsercheck.capacity import page

    cell = sweep_cell(CellResult(1, 1, 10.0, 1000.0), Simulated(12.0), repeats=2,
                      deadline=math.inf, emit=lambda line: None)  # fmt: skip
    data = document(
        settings(run_id="r<1>", target="http://x", target_version=None, embedded=True,
                 timing="fast", speedup=10.0, workload="inference", mix="medium=1",
                 batch_share=0.0, model_id="<script>", slo_p99_ms=1000.0, slo_source="given",
                 point_seconds=60.0, max_minutes=30.0, repeats=2),
        [cell],
    )  # fmt: skip
    html = page.render(data)
    assert "<script>" not in html and "&lt;script&gt;" in html and "r&lt;1&gt;" in html
    assert "Throughput vs offered rate" in html and "Latency percentiles per point" in html
    assert "requests/s per allocation" in html  # the verdict on top
    assert "No traffic description given" in html
    assert html.count("<tr>") >= len(cell.runs) + 1


def test_the_cells_feed_the_recommendation_and_it_reaches_json_and_page():
    from elsercheck.capacity import page
    from elsercheck.capacity.command import measured_capacity
    from elsercheck.capacity.recommend import recommend
    from elsercheck.capacity.traffic import parse_traffic

    def cell(allocations: int, threads: int, capacity: float, start_s: float) -> CellResult:
        result = CellResult(allocations, threads, capacity, 1000.0, start_s=start_s)
        return sweep_cell(result, Simulated(capacity), repeats=2, deadline=math.inf,
                          emit=lambda line: None)  # fmt: skip

    cells = [cell(1, 1, 10.0, 30.0), cell(2, 1, 20.0, 12.0), cell(1, 2, 16.0, 20.0)]
    measured = measured_capacity(cells, "inference")
    assert measured is not None
    per, low, high = cells[0].per_allocation  # threads 1, its fewest allocations
    assert (measured.per_allocation_rps, measured.ci_low, measured.ci_high) == (per, low, high)
    assert measured.num_threads == 1 and measured.cold_start_s == 12.0
    assert measured.by_threads == {1: per, 2: cells[2].per_allocation[0]}
    assert set(measured.p99_ms_by_threads) == {1, 2}
    assert measured_capacity([CellResult(1, 1, 10.0, 1000.0)], "inference") is None

    advice = recommend(measured, parse_traffic("peak=40,trough=2"))
    assert advice.max_number_of_allocations.value == math.ceil(40 * 1.2 / measured.ci_low - 1e-9)
    data = document(
        settings(run_id="r", target="http://x", target_version=None, embedded=True,
                 timing="fast", speedup=10.0, workload="inference", mix="medium=1",
                 batch_share=0.0, model_id="m", slo_p99_ms=1000.0, slo_source="given",
                 point_seconds=60.0, max_minutes=30.0, repeats=2),
        cells, advice.to_json(),
    )  # fmt: skip
    jsonschema.Draft202012Validator(schema()).validate(data)
    html = page.render(data)
    assert "max_number_of_allocations" in html and advice.max_number_of_allocations.reason[:40] in (
        html.replace("&#x27;", "'")
    )
    assert "No traffic description given" not in html


def test_a_repeat_that_fails_moves_the_knee_down():
    # Capacity 9/s, but the first run of any rate up to 10/s is lucky and passes.
    seen: set[float] = set()

    def measure(rate: float) -> Point:
        lucky = rate <= 10.0 and rate not in seen
        seen.add(rate)
        return point(rate, p99=100.0 if rate <= 9.0 or lucky else 5000.0)

    cell = sweep_cell(CellResult(1, 1, 10.0, 1000.0), measure, repeats=2, deadline=math.inf,
                      emit=lambda line: None)  # fmt: skip
    failed_repeats = [m for m in cell.runs if m.purpose == "repeat" and not m.judgement.sustained]
    assert failed_repeats and all(9.0 < m.rate <= 10.0 for m in failed_repeats)
    assert cell.knee.sustained_rps is not None and cell.knee.sustained_rps <= 9.0
    assert cell.capacity_rps == cell.knee.sustained_rps  # the test's points send what is offered
    assert cell.knee.failed_rps <= 10.0
    best = cell.knee.sustained_rps
    assert sum(1 for m in cell.runs if m.rate == best and m.judgement.sustained) == 2


@pytest.mark.parametrize("finished", [0, 2], ids=["before-the-first-probe", "after-two-points"])
def test_a_stopped_sweep_writes_what_it_finished(tmp_path, monkeypatch, finished):
    """A stop signal mid-sweep (issue 22): capacity.json (valid, ``interrupted_by``, the cell cut
    short marked) and capacity.html (a visible note) hold the points that finished; the signal
    is raised on, so the CLI still cleans up and exits 128 + n."""
    import signal

    from elsercheck import signals
    from elsercheck.capacity import command
    from elsercheck.cli import build_parser
    from elsercheck.target import Target
    from elsercheck.timing import PRESETS

    def cell(sweep, allocations, threads, objective, deadline, started):  # stands in for _cell
        if finished:
            objective.p99_ms = 1000.0
            result = CellResult(allocations, threads, 10.0, 1000.0)
            started(result)
            simulated = Simulated(12.0)
            for rate in (5.0, 7.5)[:finished]:
                measured = simulated(rate)
                result.runs.append(Measured(rate, measured, judge(measured, 1000.0)))
        raise signals.Interrupted(signal.SIGTERM)

    monkeypatch.setattr(command, "_cell", cell)
    args = build_parser().parse_args(["capacity", "--timing", "fast"])
    settings = command.CapacitySettings.from_values(vars(args))
    sweep = command.Sweep(settings, Target("http://127.0.0.1:9"), "r", tmp_path, PRESETS["fast"],
                          True, lambda line: None, profile="fast")  # fmt: skip
    with pytest.raises(signals.Interrupted):
        command.run(sweep)
    data = json.loads((tmp_path / "capacity.json").read_text())
    jsonschema.Draft202012Validator(schema()).validate(data)
    assert data["interrupted_by"] == "SIGTERM" and data["exit_code"] == 143
    assert data["recommendation"] is None
    if finished:
        (stopped,) = data["cells"]
        assert stopped["interrupted"] and stopped["capacity_rps"] is None
        assert [p["offered_rps"] for p in stopped["points"]] == [5.0, 7.5]
    else:
        assert data["cells"] == [] and data["slo_source"] == command.NO_OBJECTIVE
    page = (tmp_path / "capacity.html").read_text()
    assert "Interrupted (SIGTERM)" in page and f"{2 * bool(finished)} point(s)" in page
