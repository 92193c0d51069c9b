"""How far behind the reference server's own event loop runs: its lag, measured.

Every simulated duration (service times, the scaler's ticks, completion deadlines) is kept by
the event loop. When the machine is busy the loop wakes late, and the simulation falls behind
the cluster time it models: a load run's real-time verdicts would then blame the target for the
load machine. A probe task sleeps :data:`PROBE_S` at a time and records how late it woke. The
counters are cumulative, so any number of readers can take differences between two reads.

Served at ``GET /_elsercheck/lag`` (not an Elasticsearch API: the reference server's own
diagnostics, for elsercheck's load monitor; a real cluster answers it as an unknown route).
"""

from __future__ import annotations

import asyncio

PROBE_S = 0.05
# A wake-up later than this is a stall: its lag counts as time the simulation was behind. The
# load generator's own lateness threshold (elsercheck.load.generator) is the same quarter second.
STALL_MS = 250.0


class LoopLag:
    """Cumulative lag counters of one event loop (see the module docstring)."""

    def __init__(self) -> None:
        self.samples = 0
        self.stalls = 0
        self.behind_s = 0.0  # summed lag of the stalls
        self.max_ms = 0.0

    def observe(self, lag_s: float) -> None:
        """Record one probe's wake-up ``lag_s`` seconds late."""
        lag_ms = max(0.0, lag_s) * 1000.0
        self.samples += 1
        self.max_ms = max(self.max_ms, lag_ms)
        if lag_ms > STALL_MS:
            self.stalls += 1
            self.behind_s += lag_ms / 1000.0

    def snapshot(self) -> dict[str, float | int]:
        return {
            "samples": self.samples,
            "stalls": self.stalls,
            "stall_threshold_ms": STALL_MS,
            "behind_s": round(self.behind_s, 3),
            "max_ms": round(self.max_ms, 1),
        }

    async def run(self) -> None:
        """Probe until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(PROBE_S)
            self.observe(loop.time() - started - PROBE_S)
