"""Whether the embedded reference server kept its simulated time during a run: its event
loop's lag (``GET /_elsercheck/lag``, polled by the load monitor into ``allocations.csv``'s
``server_lag_*`` columns), summed up once for run.json's ``simulator`` object, the
``simulator-kept-up`` expectation and capacity.json's points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Share of the run the embedded server's event loop may spend in stalls (wake-ups more than a
# quarter second late) before its simulated timings no longer hold: as for the generator.
MAX_BEHIND_SHARE = 0.01


def summarize(allocation_rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """run.json's ``simulator``: stalls, seconds behind and their share of the measured span,
    the worst wake-up lag (``max_lag_in_run``: whether it happened during the run, or before it,
    since the server started), and ``kept_up`` (share ≤ :data:`MAX_BEHIND_SHARE`); ``None`` when
    the target served no lag (a real cluster: its time is its own) or too few polls."""
    measured = [row for row in allocation_rows if row.get("server_lag_samples") not in (None, "")]
    if len(measured) < 2:
        return None
    first, last = measured[0], measured[-1]
    span = float(last["elapsed_s"]) - float(first["elapsed_s"])
    behind = float(last["server_lag_behind_s"]) - float(first["server_lag_behind_s"])
    stalls = int(float(last["server_lag_stalls"])) - int(float(first["server_lag_stalls"]))
    share = behind / span if span > 0 else 0.0
    # The server's worst wake-up is a maximum since it started: it says something about this
    # run only when it grew during the run.
    before = float(first.get("server_lag_max_ms") or 0)
    worst = max(float(row.get("server_lag_max_ms") or 0) for row in measured)
    return {
        "stalls": stalls,
        "behind_s": round(behind, 3),
        "span_s": round(span, 3),
        "share": round(share, 4),
        "max_lag_ms": worst,
        "max_lag_in_run": worst > before,
        "kept_up": share <= MAX_BEHIND_SHARE,
    }
