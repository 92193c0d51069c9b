"""The traffic a deployment must serve: peak and trough rate, idle gaps, a rate profile.

Two sources, one :class:`Traffic`:

* :func:`parse_traffic` reads ``--traffic peak=40,trough=2[,idle_hours=12][,peak_hours=6]``:
  a day of ``peak_hours`` at the peak rate, ``idle_hours`` without any request (one stretch)
  and the rest at the trough rate. Without ``peak_hours`` half of the active hours count as
  peak (an assumption the recommendation states); a trough of 0 makes the trough hours idle.
* :func:`traffic_from_run` reads a recorded load run: the arrivals of requests.csv binned per
  interval give the offered rate over time. A target whose clock runs ``speedup`` times faster
  than the cluster it stands for (run.json ``timing.speedup``, the reference server's fast
  profile) sends ``speedup`` times the cluster's rate in ``1/speedup`` of its time: its times
  and rates are converted to cluster time by the run's time base (elsercheck.timebase).

All rates are requests per second and all times seconds of the cluster's clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runs import runfiles
from ..timebase import TimeBase

DAY_S = 24 * 3600.0
# The scaler's tick (ES AdaptiveAllocationsScalerService DEFAULT_TIME_INTERVAL_SECONDS): the
# finest resolution at which the scaler sees the rate, so the natural bin for a profile.
DEFAULT_BIN_S = 10.0
# Which rows of requests.csv count as offered traffic, in order of preference: the inference
# requests (locust's POST), else searches, else bulks. One kind only: their units differ.
REQUEST_TYPES = ("POST", "SEARCH", "BULK")
TRAFFIC_KEYS = ("peak", "trough", "idle_hours", "peak_hours")


@dataclass(frozen=True)
class Traffic:
    """Offered traffic in cluster time.

    ``profile`` holds ``(t_s, rps)`` bins (``t_s`` the bin's start) when the rate over time is
    known, with ``bin_s`` their width; ``idle_hours`` / ``peak_hours`` describe a day when it
    is not (``peak_hours`` ``None``: half of the active hours). ``source`` says where the
    numbers came from, for the report.
    """

    peak_rps: float
    trough_rps: float
    profile: tuple[tuple[float, float], ...] = ()
    source: str = ""
    idle_hours: float = 0.0
    peak_hours: float | None = None
    bin_s: float = DEFAULT_BIN_S

    @property
    def active_hours(self) -> float:
        """Hours a day with requests (no profile: the day minus the idle hours)."""
        return 24.0 - self.idle_hours

    @property
    def peak_hours_per_day(self) -> float:
        """Hours a day at the peak rate (no profile); half the active hours when not given."""
        return self.active_hours / 2 if self.peak_hours is None else self.peak_hours

    @property
    def duration_s(self) -> float:
        """How long the profile covers (a day without one)."""
        if not self.profile:
            return DAY_S
        return self.profile[-1][0] + self.bin_s - self.profile[0][0]

    def idle_gaps_s(self) -> tuple[float, ...]:
        """Lengths of the stretches without any request, longest first.

        From a profile: runs of bins with no arrival. From a day description: the idle hours
        as one stretch, joined by the trough hours when the trough rate is 0.
        """
        if self.profile:
            gaps: list[float] = []
            run = 0.0
            for _, rps in self.profile:
                if rps > 0:
                    if run:
                        gaps.append(run)
                    run = 0.0
                else:
                    run += self.bin_s
            if run:
                gaps.append(run)
            return tuple(sorted(gaps, reverse=True))
        idle = self.idle_hours
        if self.trough_rps == 0:
            idle = 24.0 - self.peak_hours_per_day
        return (idle * 3600.0,) if idle > 0 else ()

    def day_segments(self) -> tuple[tuple[float, float], ...]:
        """``(rate, seconds)`` pieces of one day (no profile): peak, trough, idle."""
        peak_s = self.peak_hours_per_day * 3600.0
        idle_s = self.idle_hours * 3600.0
        trough_s = max(0.0, DAY_S - peak_s - idle_s)
        pieces = ((self.peak_rps, peak_s), (self.trough_rps, trough_s), (0.0, idle_s))
        return tuple(piece for piece in pieces if piece[1] > 0)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "peak_rps": _round(self.peak_rps),
            "trough_rps": _round(self.trough_rps),
            "source": self.source,
            "idle_gaps_s": [_round(gap) for gap in self.idle_gaps_s()],
        }
        if self.profile:
            data["bin_s"] = _round(self.bin_s)
            data["profile"] = [[_round(t), _round(rps)] for t, rps in self.profile]
        else:
            data["idle_hours"] = _round(self.idle_hours)
            data["peak_hours"] = _round(self.peak_hours_per_day)
        return data


def _round(value: float) -> float:
    return round(value, 4)


def parse_traffic(text: str) -> Traffic:
    """``peak=40,trough=2[,idle_hours=12][,peak_hours=6]`` → :class:`Traffic`.

    Raises ``ValueError`` with a one-line reason for bad input.
    """
    values: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise ValueError(f"traffic: {item!r} is not key=value (e.g. peak=40,trough=2)")
        if key not in TRAFFIC_KEYS:
            raise ValueError(f"traffic: unknown key {key!r}; known: {', '.join(TRAFFIC_KEYS)}")
        if key in values:
            raise ValueError(f"traffic: {key} given twice")
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(f"traffic: {key}={raw.strip()!r} is not a number") from None
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"traffic: {key} must be a finite number >= 0, not {raw.strip()}")
        values[key] = number
    if "peak" not in values:
        raise ValueError("traffic: peak=<requests/s> is required (e.g. peak=40,trough=2)")
    peak = values["peak"]
    trough = values.get("trough", peak)  # no trough: the rate is flat
    idle = values.get("idle_hours", 0.0)
    peak_hours = values.get("peak_hours")
    if peak <= 0:
        raise ValueError("traffic: peak must be above 0 requests/s")
    if trough > peak:
        raise ValueError(f"traffic: trough ({trough:g}) is above peak ({peak:g})")
    if idle >= 24:
        raise ValueError(f"traffic: idle_hours must be below 24, not {idle:g}")
    if peak_hours is not None and (peak_hours <= 0 or peak_hours + idle > 24):
        raise ValueError(
            f"traffic: peak_hours must be above 0 and peak_hours + idle_hours at most 24"
            f" (got {peak_hours:g} + {idle:g})"
        )
    return Traffic(
        peak_rps=peak,
        trough_rps=trough,
        source=f"--traffic {text.strip()}",
        idle_hours=idle,
        peak_hours=peak_hours,
    )


def traffic_from_run(
    run_dir: Path | str, *, bin_s: float = DEFAULT_BIN_S, request_type: str | None = None
) -> Traffic:
    """The offered rate over time of a recorded load run, in cluster time.

    Counts the arrivals (every request sent, failed or not, and the ones the open-loop
    generator had to drop as backlog: all were offered) of one request type (``request_type``,
    the capacity's unit: bulks for an ingest capacity, whatever else the run sent; else the
    first of :data:`REQUEST_TYPES` the run sent) in bins of ``bin_s`` cluster seconds over the
    run's duration (run.json's start to finish, else to the last arrival). A partial last bin
    counts at its own width, or not at all when shorter than half a bin. Peak is the highest
    bin, trough the lowest. Raises ``ValueError`` with a one-line reason when the directory holds no
    usable run.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise ValueError(f"traffic: {path} is not a directory")
    if not bin_s > 0:
        raise ValueError(f"traffic: bin width must be above 0 s, not {bin_s:g}")
    try:
        files = runfiles.load_run(path)
    except runfiles.RunFileError as exc:
        raise ValueError(f"traffic: {exc}") from None
    clock = TimeBase.from_run(files.run)
    kind, arrivals = _arrivals(files, request_type)
    if not arrivals:
        what = f"{request_type} rows" if request_type else "requests"
        raise ValueError(f"traffic: {path} has no {what} in requests.csv")
    wall_duration = _wall_duration(files.run)
    if wall_duration is None or wall_duration < max(arrivals):
        wall_duration = max(arrivals)
    duration = clock.to_cluster(wall_duration)
    if duration <= 0:
        raise ValueError(f"traffic: {path} covers no time (all requests at 0 s)")
    # A last partial bin shorter than half a bin says little about a rate: left out.
    full, rest = divmod(duration, bin_s)
    widths = [bin_s] * int(full) + ([rest] if rest >= bin_s / 2 or not full else [])
    counts = [0] * len(widths)
    for wall_t in arrivals:
        index = int(clock.to_cluster(wall_t) // bin_s)
        if index < len(counts):
            counts[index] += 1
        elif rest < 1e-9 and index == len(counts):
            counts[-1] += 1  # an arrival exactly at the end
    profile = [
        (index * bin_s, hits / width)
        for index, (hits, width) in enumerate(zip(counts, widths, strict=True))
    ]
    rates = [rps for _, rps in profile]
    pace = f"×{clock.speedup:g} clock" if clock.time_lapse else "cluster clock"
    source = (
        f"run {files.run_id}: {len(arrivals)} {kind} arrivals over {duration:g} s cluster"
        f" ({pace}), {bin_s:g} s bins"
    )
    return Traffic(
        peak_rps=max(rates),
        trough_rps=min(rates),
        profile=tuple(profile),
        source=source,
        bin_s=bin_s,
    )


def _wall_duration(run: dict[str, Any]) -> float | None:
    start = runfiles.epoch(run.get("started_at"))
    finish = runfiles.epoch(run.get("finished_at"))
    if start is None or finish is None or finish <= start:
        return None
    return finish - start


def _arrivals(files: runfiles.RunFiles, only: str | None = None) -> tuple[str, list[float]]:
    """The arrivals of ``only`` (a request type), else of the first of :data:`REQUEST_TYPES`
    the run sent, with their send times (wall s)."""
    if len(files.inference) and only in (None, "POST"):
        return "inference", [t for t in files.inference.elapsed_s if t >= 0]
    for request_type in REQUEST_TYPES[1:] if only is None else (only,):
        times = [
            row["elapsed_s"]
            for row in files.other_requests
            if row.get("request_type") == request_type and row["elapsed_s"] >= 0
        ]
        if times:
            return request_type.lower(), times
    return "", []
