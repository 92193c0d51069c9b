"""Open-loop arrivals for the load users: an absolute schedule and a fixed set of senders.

Arrival ``k`` is due at ``t_k = t_0 + gap_1 + … + gap_k`` on the monotonic clock, whatever
happened before it: a slow iteration makes one arrival late, never every later one (a wait
*after* each task, as locust's ``wait_time`` is, would shift them all). A late arrival is
made at once and its lateness is recorded (``schedule_lag_ms``), never skipped.

Each due arrival goes to one of a fixed set of sender greenlets created once per user
(``--max-outstanding`` of them): no greenlet is spawned per request. When every sender is busy
the arrival is not sent and is recorded as ``backlog``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent.hub import Waiter, get_hub

log = logging.getLogger("elsercheck.load")

# Counting arrivals that fell due but were never made (the run stopped while the user was
# behind) draws their gaps one by one (the user is stopping: keep it short); past this many
# the rest is estimated from the mean gap.
MAX_COUNTED_UNMADE = 1_000


class ArrivalClock:
    """Due times on an absolute clock: the first arrival one ``gap()`` after the clock starts,
    each next one ``gap()`` after the previous *due time* (not after the previous arrival was
    made). Not at once: the users a shape adds start together, and N first arrivals at the
    same instant would be a burst the Poisson process does not have (it is memoryless: the
    wait from any instant to the next arrival is one more exponential gap)."""

    def __init__(self, gap: Callable[[], float], now: Callable[[], float] = time.monotonic):
        self._gap = gap
        self._now = now
        self.next_at = now() + gap()

    def take(self) -> float:
        """The due time of the next arrival; the clock moves on to the one after it."""
        due = self.next_at
        self.next_at = due + self._gap()
        return due

    def wait_s(self) -> float:
        """Seconds until the next arrival is due; 0 when it is due or late."""
        return max(0.0, self.next_at - self._now())

    def unmade(self, mean_gap_s: float) -> int:
        """Arrivals already due now that were never taken (counted once, when a user stops).

        Draws their gaps (the schedule is the seeded one); past :data:`MAX_COUNTED_UNMADE`
        the remainder is estimated from ``mean_gap_s``."""
        now = self._now()
        count = 0
        while self.next_at <= now:
            if count >= MAX_COUNTED_UNMADE:
                return count + int((now - self.next_at) / mean_gap_s) + 1
            self.take()
            count += 1
        return count


class Senders:
    """A fixed set of greenlets that each send one job at a time.

    :meth:`offer` hands a job to an idle sender (False when all are busy); the hand-off is a
    hub callback, as gevent's own queues do it, but without a queue's bookkeeping."""

    def __init__(self, size: int, send: Callable[[Any], None]) -> None:
        self.size = size
        self._send = send
        self._idle: list[Waiter] = []
        self._loop = get_hub().loop
        self._greenlets = [gevent.spawn(self._serve) for _ in range(size)]
        gevent.sleep(0)  # let them start and park (spawn callbacks run before this returns)

    @property
    def busy(self) -> int:
        """Senders with a job (handed over or being sent)."""
        return self.size - len(self._idle)

    def offer(self, job: Any) -> bool:
        """Hand ``job`` to an idle sender; False (nothing done) when every sender is busy."""
        if not self._idle:
            return False
        self._loop.run_callback(self._idle.pop().switch, job)
        return True

    def _serve(self) -> None:
        waiter: Waiter = Waiter()
        while True:
            self._idle.append(waiter)
            job = waiter.get()
            try:
                self._send(job)
            except Exception:  # a bug in one request must not take a sender away
                log.exception("elsercheck: a load request failed in the generator")

    def drain(self, timeout_s: float) -> None:
        """Wait (up to ``timeout_s``) for the jobs in flight, then end the senders."""
        deadline = time.monotonic() + timeout_s
        while self.busy and time.monotonic() < deadline:
            gevent.sleep(0.05)
        gevent.killall(self._greenlets, block=False)


class OpenLoop:
    """One user's arrivals: :meth:`arrive` makes the arrival that is due and hands it to a
    sender, or reports it as backlog; the caller sleeps :meth:`wait_s` between arrivals
    (locust's ``wait_time``, so that a stopping user is stopped while it waits).

    ``send(job, lag_ms)`` runs in a sender greenlet, ``lag_ms`` being its lateness when the
    sender took it (sent time − due time); ``backlog(job, lag_ms)`` runs in the caller's."""

    def __init__(
        self,
        gap: Callable[[], float],
        senders: int,
        send: Callable[[Any, float], None],
        backlog: Callable[[Any, float], None],
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = ArrivalClock(gap, now)
        self._now = now
        self._send = send
        self._backlog = backlog
        self.senders = Senders(senders, self._sender_job)

    def wait_s(self) -> float:
        """Seconds until the next arrival is due (0 when late)."""
        return self.clock.wait_s()

    def arrive(self, job: Any) -> bool:
        """Make the due arrival with ``job``; False when it was backlog (no sender free)."""
        due = self.clock.take()
        early = due - self._now()
        if early > 0:  # a timer may fire a little before its time: never send ahead of it
            gevent.sleep(early)
        if self.senders.offer((job, due)):
            return True
        self._backlog(job, (self._now() - due) * 1000.0)
        return False

    def _sender_job(self, item: tuple[Any, float]) -> None:
        job, due = item
        self._send(job, (self._now() - due) * 1000.0)

    def unmade(self, mean_gap_s: float) -> int:
        """Arrivals that fell due and were never made (the user is stopping while behind)."""
        return self.clock.unmade(mean_gap_s)
