"""capacity/model.py's knee: the rate at which the modelled deployment's p99 reaches the
objective, as a sweep keeps it (a queue model of the reference server's deployment)."""

from __future__ import annotations

import pytest

from elsercheck.capacity import model
from elsercheck.endpoints import ELSER_V2_X86
from elsercheck.load.options import DEFAULT_MIX
from elsercheck.timing import PRESETS

FAST = PRESETS["fast"]


def knee(allocations: int, slo_p99_ms: float, mix: str = DEFAULT_MIX, repeats: int = 2) -> float:
    return model.knee_per_allocation(
        FAST, mix, 0.1, 1, ELSER_V2_X86, allocations=allocations, slo_p99_ms=slo_p99_ms,
        window_s=60.0, repeats=repeats,
    )  # fmt: skip


def test_a_window_served_fifo_by_its_servers() -> None:
    # One server, 0.1 s jobs every 0.2 s: nobody waits, every latency is the service time.
    jobs, arrivals = [[0.1]] * 100, [i * 0.2 for i in range(100)]
    assert model._window_p99_ms(jobs, arrivals, 1, 20.0, 0.2) == pytest.approx(100.0)
    # Every 0.05 s on one server: the queue grows, the last arrivals wait seconds ...
    assert model._window_p99_ms(jobs, [i * 0.05 for i in range(100)], 1, 5.0, 0.2) > 4000
    # ... which four servers serve without a wait; a unit is done with its last job.
    assert model._window_p99_ms(jobs, [i * 0.05 for i in range(100)], 4, 5.0, 0.2) == (
        pytest.approx(100.0)
    )
    assert model._window_p99_ms([[0.1, 0.1]] * 10, [i * 1.0 for i in range(10)], 1, 10.0, 0) == (
        pytest.approx(200.0)
    )


def test_the_knee_lies_below_saturation_and_rises_with_the_objective_and_allocations() -> None:
    saturation = model.capacity_per_allocation(FAST, DEFAULT_MIX, 0.1, 1, ELSER_V2_X86)
    tight, loose = knee(1, 4000.0), knee(1, 8000.0)
    assert 0 < tight < loose < saturation
    # Pooled allocations queue less at the same load per allocation.
    assert knee(4, 4000.0) > tight
    # An objective no window misses: the knee is saturation itself.
    assert knee(1, 1e9) == pytest.approx(saturation, rel=1e-3)
    # More repeats to hold: a rate is kept only if more windows meet the objective.
    assert knee(1, 8000.0, repeats=4) < loose


def test_every_caller_reads_the_units_from_the_first_one() -> None:
    # The units are drawn once per process (model._UnitStream): a reader started late, or read
    # in turn with another, gets the sequence a fresh draw gives, from its first unit.
    def draw(count: int) -> list[list[float]]:
        units = model.unit_jobs(FAST, DEFAULT_MIX, 0.1, 1, ELSER_V2_X86, seed=7)
        return [next(units) for _ in range(count)]

    fresh = model._unit_stream.__wrapped__(
        FAST, DEFAULT_MIX, 0.1, 1, ELSER_V2_X86, "", 7, "inference", model.DEFAULT_BULK_SIZE
    ).reader()
    expected = [next(fresh) for _ in range(300)]
    assert draw(200) == expected[:200]
    first, second = (model.unit_jobs(FAST, DEFAULT_MIX, 0.1, 1, ELSER_V2_X86, seed=7)
                     for _ in range(2))  # fmt: skip
    interleaved = [(next(first), next(second)) for _ in range(300)]
    assert [a for a, _ in interleaved] == [b for _, b in interleaved] == expected
    assert len({id(u) for u in expected}) == 300  # 300 units, not one repeated
