"""run.json as typed metadata (runs/metadata.py): read once, tolerant of cut-short and older runs."""

from __future__ import annotations

from pathlib import Path

from elsercheck.load.plans import EXPECT_SCALE_UP
from elsercheck.runs import rundir
from elsercheck.runs.metadata import SCALE_UP_STAGE, RunMetadata, StageMetadata
from elsercheck.runs.runfiles import load_run


def test_a_full_run_json() -> None:
    record = RunMetadata.from_json({
        "run_id": "r1", "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:01:30.5+00:00", "shape": "step", "workload": "ingest",
        "timing": {"profile": "fast", "speedup": 10},
        "stages": [{"label": "base", "start_s": 0, "duration_s": 10, "expect": None},
                   {"label": "peak", "start_s": 10, "duration_s": 20, "expect": EXPECT_SCALE_UP}],
        "endpoint": {"settings": {"service_settings": {"num_threads": 2}}},
        "exit_code": 0,
    })  # fmt: skip
    assert record.run_id == "r1" and record.shape == "step" and record.workload == "ingest"
    assert record.timing_profile == "fast" and record.clock.speedup == 10.0
    assert record.run_seconds == 90.5
    assert record.stages[1] == StageMetadata("peak", 10.0, 20.0, EXPECT_SCALE_UP)
    assert record.load_rise_s == 10.0
    assert record.num_threads == 2 and record.exit_code == 0


def test_the_scale_up_mark_is_the_plans() -> None:
    assert SCALE_UP_STAGE == EXPECT_SCALE_UP


def test_what_a_cut_short_or_older_run_leaves() -> None:
    empty = RunMetadata.from_json(None)
    assert empty == RunMetadata() and empty.workload == "inference" and not empty.clock.time_lapse
    odd = RunMetadata.from_json({
        "started_at": "yesterday", "finished_at": 5, "stages": "none", "exit_code": True,
        "timing": {"speedup": -1}, "endpoint": {"settings": {"service_settings": {"num_threads": 0}}},
    })  # fmt: skip
    assert odd.run_seconds is None and odd.stages == () and odd.exit_code is None
    assert odd.clock.speedup == 1.0 and odd.num_threads is None and odd.load_rise_s is None


def test_run_files_carry_the_metadata(tmp_path: Path) -> None:
    rundir.write_json(tmp_path / rundir.RUN_JSON, {"run_id": "x", "timing": {"speedup": 4}})
    files = load_run(tmp_path)
    assert files.metadata.run_id == "x" and files.metadata.clock.speedup == 4.0
