"""The open-loop arrival schedule of the load users (loadtests/elser_locust/arrivals.py), on a
fake clock: due times are absolute, lateness is measured, a busy sender set means backlog."""

from __future__ import annotations

import random

import gevent
import gevent.event
from loadtests.elser_locust.arrivals import ArrivalClock, OpenLoop


class FakeClock:
    def __init__(self, at: float = 100.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def test_a_slow_iteration_does_not_shift_later_arrivals():
    clock = FakeClock()
    arrivals = ArrivalClock(lambda: 1.0, now=clock)
    # The first arrival one gap after the start, not at once: users a shape adds together
    # would otherwise all arrive in the same instant.
    assert arrivals.wait_s() == 1.0
    assert arrivals.take() == 101.0
    clock.at = 104.5  # the iteration took 3.5 s instead of 1
    assert arrivals.wait_s() == 0.0  # late: no waiting...
    # ...and the arrivals keep their due times: a wait after each task (locust's wait_time)
    # would have made the next one due at 105.5.
    assert [arrivals.take() for _ in range(3)] == [102.0, 103.0, 104.0]
    assert arrivals.wait_s() == 0.5


def test_the_same_seed_gives_the_same_arrivals_and_unmade_ones_are_counted():
    def due_times(seed: int) -> list[float]:
        rng = random.Random(seed)
        arrivals = ArrivalClock(lambda: rng.expovariate(10.0), now=FakeClock(0.0))
        return [arrivals.take() for _ in range(50)]

    assert due_times(7) == due_times(7) != due_times(8)
    clock = FakeClock(0.0)
    arrivals = ArrivalClock(lambda: 0.25, now=clock)
    assert arrivals.take() == 0.25
    clock.at = 2.0  # stopped while behind: due at 0.5, 0.75, ... 2.0 and never made
    assert arrivals.unmade(0.25) == 7
    assert arrivals.unmade(0.25) == 0  # counted once
    clock.at = 1_000.0  # far behind: counted up to a bound, the rest estimated
    assert abs(arrivals.unmade(0.25) - 3992) <= 1


def settle(loop: OpenLoop) -> None:
    """Let the hub run the hand-offs and the senders (no real time passes on the fake clock)."""
    for _ in range(5):
        gevent.sleep(0)


def test_lateness_is_recorded_and_busy_senders_mean_backlog():
    clock = FakeClock(0.0)
    sent: list[tuple[str, float]] = []
    backlog: list[tuple[str, float]] = []
    release = gevent.event.Event()

    def send(job: str, lag_ms: float) -> None:
        sent.append((job, lag_ms))
        release.wait()  # the request is in flight until the test releases it

    loop = OpenLoop(lambda: 1.0, 2, send, lambda job, lag: backlog.append((job, lag)), clock)
    assert loop.wait_s() == 1.0  # the first arrival is due one gap after the start
    clock.at = 1.0
    assert loop.arrive("a") is True
    settle(loop)
    clock.at = 2.0
    assert loop.arrive("b") is True  # on time
    settle(loop)
    assert sent == [("a", 0.0), ("b", 0.0)] and loop.senders.busy == 2
    clock.at = 3.25
    assert loop.arrive("c") is False  # both senders busy: backlog, 250 ms after its due time
    assert backlog == [("c", 250.0)]
    assert loop.wait_s() == 0.75  # the next one is still due at 4.0

    release.set()
    settle(loop)
    assert loop.senders.busy == 0
    clock.at = 4.5
    assert loop.arrive("d") is True  # sent 500 ms late: recorded, not skipped
    settle(loop)
    assert sent[-1] == ("d", 500.0)
    assert [job for job, _ in sent + backlog] == ["a", "b", "d", "c"]  # each arrival once
    clock.at = 7.0  # stopped while 3 arrivals (due 5, 6, 7) were never made
    assert loop.unmade(1.0) == 3
    loop.senders.drain(timeout_s=5.0)
    assert loop.senders.busy == 0
