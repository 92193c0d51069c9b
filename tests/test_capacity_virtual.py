"""The capacity sweep's decision logic against the reference server's deployment on the virtual
clock (tests/virtual_clock.py): what ``elsercheck capacity`` measures when the machine adds no
noise, compared with the model's knee (capacity/model.py ``knee_per_allocation``).

Each point is a fresh deployment (``reference/mlnode/deployment.py``, as a cell's drained
endpoint) offered Poisson arrivals of the workload's units (model.unit_texts: the load users'
draws) for ``--point-seconds``; the requests and the pending count polled as the monitor polls
them are written as a load run's ``requests.csv``/``allocations.csv`` and read back by
``capacity/point.py``; ``capacity/cell.py`` sweeps, judges and repeats exactly as the command
does. Only the wire (HTTP, JSON, locust) is left out: it costs no cluster time when the
simulation keeps up, which the server's lag monitor checks on a real run.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from elsercheck.capacity import model
from elsercheck.capacity.cell import CellResult, sweep_cell
from elsercheck.capacity.command import DEFAULT_POINT_SECONDS, SLO_FACTOR, _round_up
from elsercheck.capacity.deployment import PROBE_BULKS, PROBE_REQUESTS, Probe
from elsercheck.capacity.point import Point, read_point
from elsercheck.capacity.units import DEFAULT_BULK_SIZE, unit_of
from elsercheck.endpoints import ELSER_V2_X86
from elsercheck.load.options import DEFAULT_MIX
from elsercheck.load.plans import scaler_timing
from elsercheck.reference.mlnode import deployment as deployment_module
from elsercheck.reference.mlnode import sparse_encoder
from elsercheck.reference.mlnode.deployment import Deployment
from elsercheck.runs import rundir
from elsercheck.runs.stats import percentile
from elsercheck.timebase import TimeBase
from elsercheck.timing import PRESETS, Timing
from tests.virtual_clock import run_virtual

# No port, process or wall-clock wait, but about 35 s of CPU in sweeps: too long for the fast
# tier's two minutes (make check), so in make test's slow tier.
pytestmark = pytest.mark.slow

FAST = PRESETS["fast"]
BATCH_SHARE = 0.1


class VirtualCell:
    """One cell of a sweep (``allocations`` × 1 thread of ELSER x86) whose points run on the
    virtual clock; ``run_dir`` holds the points' run files."""

    def __init__(
        self, workload: str, allocations: int, run_dir: Path, timing: Timing = FAST,
        seed: int = 0, point_s: float = DEFAULT_POINT_SECONDS,
    ) -> None:  # fmt: skip
        self.workload, self.allocations, self.timing = workload, allocations, timing
        self.run_dir, self.seed, self.point_s = run_dir, seed, point_s
        self.clock = TimeBase.of(timing)
        self.unit = unit_of(workload)
        self.count = 0

    def units(self, seed: int) -> Iterator[list[str]]:
        return model.unit_texts(DEFAULT_MIX, BATCH_SHARE, "", seed, workload=self.workload,
                                bulk_size=DEFAULT_BULK_SIZE)  # fmt: skip

    def deployment(self) -> Deployment:
        found = Deployment("virtual", ELSER_V2_X86, 1, self.allocations, None, self.timing,
                           queue_capacity=10**6)  # fmt: skip
        found.set_allocations(self.allocations)
        return found

    def probe(self) -> Probe:
        """The command's probe: units one at a time, their latency and model time (wall ms)."""

        async def run() -> Probe:
            loop = asyncio.get_running_loop()
            served = self.deployment()
            units = self.units(self.seed)
            count = PROBE_BULKS if self.unit.per_document else PROBE_REQUESTS
            latencies, inputs = [], 0
            for texts in itertools.islice(units, count):
                began = loop.time()
                await served.infer(texts, None)
                latencies.append((loop.time() - began) * 1000)
                inputs += len(texts)
            await served.stop()
            total = served.counters.total_inference_ms
            per = inputs if self.workload == "inference" else count  # by_count for inference
            p99 = percentile(sorted(latencies), 99) or 0.0
            return Probe(count, sum(latencies) / count, p99, total / per)

        return run_virtual(run())

    def measure(self, rate: float) -> Point:
        """One point: ``rate`` units per cluster second for ``point_s`` cluster seconds."""
        self.count += 1
        run_dir = self.run_dir / f"point-{self.count:02d}"
        run_dir.mkdir(parents=True)
        wall_s = self.clock.to_wall(self.point_s)
        wall_rate = self.clock.wall_rate(rate)
        tick = scaler_timing(self.timing).tick_s
        monitor_s = min(tick / 2, max(0.1, wall_s / 30))  # as Sweep.base_values polls
        seed = self.seed * 1000 + self.count
        requests: list[dict[str, object]] = []
        polls: list[dict[str, object]] = []

        async def run() -> None:
            loop = asyncio.get_running_loop()
            served = self.deployment()
            start = loop.time()

            async def send(due: float, texts: list[str]) -> None:
                await asyncio.sleep(due - (loop.time() - start))
                sent = loop.time()
                await served.infer(texts, None)
                row = {"elapsed_s": sent - start, "request_type": self.unit.request_type,
                       "latency_ms": (loop.time() - sent) * 1000, "error_kind": "",
                       "inputs": len(texts)}  # fmt: skip
                if self.unit.per_document:
                    row.update(documents=DEFAULT_BULK_SIZE, chunks=len(texts))
                requests.append(row)

            async def monitor() -> None:
                while (elapsed := loop.time() - start) < wall_s:
                    polls.append(
                        {
                            "elapsed_s": elapsed,
                            "number_of_pending_requests": served.pending_requests,
                        }
                    )
                    await asyncio.sleep(monitor_s)

            rng, units = random.Random(seed), self.units(seed)
            tasks, due = [asyncio.create_task(monitor())], rng.expovariate(wall_rate)
            while due < wall_s:
                tasks.append(asyncio.create_task(send(due, next(units))))
                due += rng.expovariate(wall_rate)
            await asyncio.gather(*tasks)  # every arrival answered, as the users wait for them
            await served.stop()

        run_virtual(run())
        rundir.write_csv(run_dir / rundir.REQUESTS_CSV, rundir.REQUEST_COLUMNS, requests)
        rundir.write_csv(run_dir / rundir.ALLOCATIONS_CSV, rundir.ALLOCATION_COLUMNS, polls)
        return read_point(run_dir, rate, wall_s, self.clock, self.unit.request_type)

    def model_knee(self, slo_p99_ms: float, repeats: int = 2) -> float:
        """The model's knee for this cell, per allocation."""
        return model.knee_per_allocation(
            self.timing, DEFAULT_MIX, BATCH_SHARE, 1, ELSER_V2_X86,
            allocations=self.allocations, slo_p99_ms=slo_p99_ms, window_s=self.point_s,
            repeats=repeats, workload=self.workload,
        )  # fmt: skip

    def sweep(
        self, repeats: int = 2, slo_p99_ms: float | None = None, knee: float | None = None
    ) -> CellResult:
        """The command's cell: probe, objective (given or from the probe), sweep, with the
        model's knee beside it (``knee`` per allocation when known)."""
        probe = self.probe()
        slo = slo_p99_ms or _round_up(SLO_FACTOR * self.clock.to_cluster(probe.p99_latency_ms))
        cell = CellResult(self.allocations, 1, probe.estimate_rps(self.allocations, self.clock),
                          slo)  # fmt: skip
        cell.model_rps = self.allocations * model.capacity_per_allocation(
            self.timing, DEFAULT_MIX, BATCH_SHARE, 1, ELSER_V2_X86, workload=self.workload
        )
        cell.model_knee_rps = self.allocations * (knee or self.model_knee(slo, repeats))
        return sweep_cell(cell, self.measure, repeats, math.inf, emit=lambda _line: None)


@pytest.fixture
def cheap_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The encoder's answer is not looked at here: skip its CPU (no virtual time either way)."""
    empty = sparse_encoder.SparseResult({}, False)
    monkeypatch.setattr(deployment_module.sparse_encoder, "encode", lambda _text: empty)


# (workload, allocations, objective p99 ms: what the first probe of seed 0 sets, seeds swept,
# tolerance of the median ratio to the model's knee). Objectives above the longest units'
# service time: below it (inference at one allocation, 1.3-2.5 s) the sweep reads 1.2-1.9 times
# the model's knee, its noisy bisection being no unbiased estimator of a flat quantile curve. At 16 allocations of ingest the sweep
# reads ~1.15 of the knee (left out: see the notes), at one allocation a sweep's knee
# spreads ±20 % around its median: a 60 s window's p99 is made by a few long batches.
CELLS = [
    ("inference", 1, 7100.0, 5, 0.2),
    ("search", 1, 55.0, 5, 0.15),
    ("ingest", 1, 21000.0, 5, 0.2),
    ("inference", 16, 1300.0, 1, 0.1),
]


@pytest.mark.parametrize(("workload", "allocations", "slo_p99_ms", "seeds", "tolerance"), CELLS)
def test_the_sweep_measures_the_models_knee_on_the_virtual_clock(
    workload: str, allocations: int, slo_p99_ms: float, seeds: int, tolerance: float,
    tmp_path: Path, cheap_encoder: None,
) -> None:  # fmt: skip
    # Deterministic (virtual clock, seeded draws): the same figures on any machine. No sweep
    # may end without a capacity, as one whose failed repeats fell back rate after rate did;
    # the median over seeds lies within ``tolerance`` of the model's knee.
    knee = VirtualCell(workload, allocations, tmp_path).model_knee(slo_p99_ms)
    ratios = []
    for seed in range(seeds):
        cell = VirtualCell(workload, allocations, tmp_path / f"seed-{seed}", seed=seed).sweep(
            slo_p99_ms=slo_p99_ms, knee=knee
        )
        measured = cell.per_allocation[0]
        assert measured is not None, [m.judgement.reasons for m in cell.runs]
        ratios.append(measured / knee)
    ratios.sort()
    assert abs(ratios[len(ratios) // 2] - 1) <= tolerance, ratios


@pytest.mark.parametrize(
    ("workload", "slo_p99_ms", "rates"),
    [("inference", 7100.0, (3.5, 5.0, 6.0)), ("search", 55.0, (9.0, 11.0, 13.0))],
)
def test_the_models_window_p99_is_the_simulations_point_by_point(
    workload: str, slo_p99_ms: float, rates: tuple[float, ...], tmp_path: Path,
    cheap_encoder: None,
) -> None:  # fmt: skip
    # At each rate, the share of 60 s windows whose p99 meets the objective: the model's queue
    # (capacity/model.py) against points of the server's deployment read by capacity/point.py.
    # Independent draws on each side: within the counting noise of the simulated windows.
    runs = 30
    windows = model._Windows(
        model.unit_jobs(FAST, DEFAULT_MIX, BATCH_SHARE, 1, ELSER_V2_X86, workload=workload),
        random.Random(0), TimeBase.of(FAST), DEFAULT_POINT_SECONDS,
    )  # fmt: skip
    cell = VirtualCell(workload, 1, tmp_path, seed=1)
    for rate in rates:
        modelled = sum(windows.p99_ms(i, rate, 1) <= slo_p99_ms for i in range(200)) / 200
        simulated = (
            sum(
                (cell.measure(rate).latency_ms.get("p99") or math.inf) <= slo_p99_ms
                for _ in range(runs)
            )
            / runs
        )
        noise = math.sqrt(modelled * (1 - modelled) / runs)
        assert abs(simulated - modelled) <= 3 * noise + 0.05, (rate, modelled, simulated)
