"""The time base: one type for wall versus cluster time, read from run.json in one place, and
every duration of summary.json, the report and the terminal summary labelled with its base."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from elsercheck.report.history import target_kind
from elsercheck.report.metrics import METRICS
from elsercheck.runs import summary as load_summary
from elsercheck.timebase import (
    CLUSTER,
    START_POINTS,
    WALL,
    TimeBase,
    TimeBaseError,
)
from elsercheck.timing import PRESETS

ROOT = Path(__file__).resolve().parents[1]


def test_conversions_follow_the_speedup() -> None:
    clock = TimeBase(10.0)
    assert clock.time_lapse
    assert clock.to_cluster(0.6) == pytest.approx(6.0)
    assert clock.to_wall(6.0) == pytest.approx(0.6)
    assert clock.cluster_rate(100.0) == pytest.approx(10.0)
    assert clock.wall_rate(10.0) == pytest.approx(100.0)
    assert clock.in_base(0.6, WALL) == 0.6 and clock.in_base(0.6, CLUSTER) == pytest.approx(6.0)
    one = TimeBase()
    assert not one.time_lapse and one.to_cluster(0.6) == 0.6 and one.cluster_rate(5.0) == 5.0


@pytest.mark.parametrize("bad", [0, -1.0, math.inf, math.nan, True, "10"])
def test_a_speedup_that_is_no_pace_is_refused(bad: object) -> None:
    with pytest.raises(TimeBaseError):
        TimeBase(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("run", "speedup"),
    [
        ({"timing": {"profile": "fast", "speedup": 10}}, 10.0),
        ({"timing": {"profile": "realistic", "speedup": 1.0}}, 1.0),
        ({}, 1.0),  # a real cluster's run.json written without a timing
        ({"timing": {"speedup": 0}}, 1.0),
        ({"timing": {"speedup": True}}, 1.0),
        ({"timing": {"speedup": "fast"}}, 1.0),
        ({"timing": "fast"}, 1.0),
    ],
)
def test_run_json_speedup_is_read_in_one_place(run: dict[str, object], speedup: float) -> None:
    assert TimeBase.from_run(run).speedup == speedup
    # The history's notion of a target kind reads it through the same function.
    assert target_kind(run)[1] == speedup


def test_the_timing_profiles_give_their_clock() -> None:
    assert TimeBase.of(PRESETS["fast"]).speedup == 10.0
    assert not TimeBase.of(PRESETS["realistic"]).time_lapse


def test_summaries_old_and_new_give_their_clock() -> None:
    assert TimeBase.from_summary({"time_base": {"speedup": 10.0}}).speedup == 10.0
    assert TimeBase.from_summary({"cost": {"speedup": 4.0}}).speedup == 4.0  # version 3
    assert TimeBase.from_summary({}).speedup == 1.0  # versions 1 and 2


def test_text_labels_the_base_on_a_time_lapse() -> None:
    # The case: one cold start, 0.6 s on the wall, must never read as another figure.
    assert TimeBase(10.0).text(0.6) == "6.0 s cluster (0.6 s wall)"
    assert TimeBase().text(0.6) == "0.6 s"
    assert TimeBase(10.0).text(None) == "–"


def test_summary_time_base_section_names_every_duration_section() -> None:
    section = load_summary.time_base(TimeBase(10.0))
    assert section["speedup"] == 10.0 and section["time_lapse"] is True
    assert set(section["bases"].values()) <= {WALL, CLUSTER}
    # Every section of the load summary that holds durations or rates says its base.
    for name in ("requests", "latency_ms", "allocations", "lifecycle", "cold_starts", "cost"):
        assert name in section["bases"]
    assert section["bases"]["cost"] == CLUSTER and section["bases"]["cold_starts"] == WALL
    # Each start point is spelled out, from the one table.
    assert START_POINTS["cold_start"] in section["start_points"].values()
    schema = json.loads((ROOT / "src/elsercheck/report/summary.schema.json").read_text())
    assert schema["$defs"]["load"]["properties"]["summary_version"]["const"] == 4
    assert "time_base" in schema["$defs"]["load"]["required"]


def test_terminal_summary_labels_cold_starts_with_their_base() -> None:
    summary = {
        "run_id": "r",
        "requests": {"total": 10, "ok": 10, "failed": 0, "error_rate_pct": 0.0,
                     "throughput_rps": 5.0, "duration_s": 2.0},
        "latency_ms": {"p50": 1.0, "p90": 1.0, "p99": 1.0, "max": 1.0, "mean": 1.0},
        "errors": {"by_kind": {}},
        "allocations": {"samples": 0},
        "expectations": {"total": 0},
        "lifecycle": {},
        "cold_starts": {"count": 1, "n": 1, "p50_s": 0.6, "p95_s": 0.6, "max_s": 0.6,
                        "failures_by_kind": {}},
        "time_base": load_summary.time_base(TimeBase(10.0)),
    }  # fmt: skip
    text = load_summary.format_text(summary)
    assert "p50 6.0 s cluster (0.6 s wall)" in text
    assert "time-lapse ×10" in text
    # An older summary (no time_base, no cost): one clock, figures as measured.
    del summary["time_base"]
    assert "p50 0.6 s," in load_summary.format_text(summary)


def test_the_compared_metrics_keep_reading_bare_numbers() -> None:
    # A comparison reads old (bare) and new summaries alike: the metric paths stay numbers.
    cold = next(metric for metric in METRICS if metric.key == "cold_start_p95_s")
    assert cold.value({"cold_starts": {"p95_s": 0.6}}) == 0.6


def test_no_hand_conversion_outside_the_time_base() -> None:
    """Every ``× speedup`` / ``÷ speedup`` outside the reference server (which runs the
    clock) and the timing profiles goes through :class:`TimeBase`."""
    pattern = re.compile(r"[*/]\s*(?:self\.|sweep\.|timing\.|cost\[.)?speedup\b|speedup\s*\*")
    offenders = []
    for folder in ("src/elsercheck", "loadtests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/reference/" in relative or relative.endswith(("/timing.py", "/timebase.py")):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if pattern.search(code) and "``" not in line:
                    offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []


def test_progress_lines_name_their_base(tmp_path: Path) -> None:
    from elsercheck.load.runner import _Progress

    lines: list[str] = []
    _Progress(tmp_path, 60.0, lines.append, TimeBase(10.0)).tick()
    _Progress(tmp_path, 60.0, lines.append, TimeBase()).tick()
    assert lines[0].endswith("/60 s wall]") and lines[1].endswith("/60 s]")
