"""`elsercheck load --repeat N` end to end on the reference server (fast timing): N runs, each
reported into the history, the last one compared with the others."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from elsercheck.cli import main
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.timing import PRESETS

PASSWORD = "repeat-test-secret-4c1"
pytestmark = pytest.mark.slow


@pytest.fixture
def fast_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(ServerConfig(password=PASSWORD, timing=PRESETS["fast"])) as running:
        yield running


def test_repeat_reports_each_run_and_compares_the_last_with_the_others(
    fast_server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
) -> None:
    monkeypatch.setenv("ELASTICSEARCH_USERNAME", "elastic")
    monkeypatch.setenv("ELASTICSEARCH_PASSWORD", PASSWORD)
    monkeypatch.setenv("ELSERCHECK_REPORTS", str(tmp_path / "reports"))
    runs = tmp_path / "runs"
    code = main(["load", "--url", fast_server.url, "--timing", "fast", "--shape", "step",
                 "--duration", "4", "--lifecycle-users", "0", "--repeat", "2",
                 "--load-report-dir", str(runs), "--vcpu-hour-price", "0.1"])  # fmt: skip
    out = capsys.readouterr().out
    assert code in (0, 1, 3, 4), out  # a 4 s step may miss its expectations; never 2
    assert "repeat 1/2: load test against" in out and "repeat 2/2: load test against" in out
    run_dirs = sorted(runs.iterdir(), key=lambda d: json.loads((d / "run.json").read_text())[
        "started_at"])  # fmt: skip
    assert len(run_dirs) == 2
    for run_dir in run_dirs:
        assert (run_dir / "report.html").is_file() and (run_dir / "summary.json").is_file()
    history = sorted(p.stem for p in (tmp_path / "reports" / "history").glob("*.json"))
    assert history == sorted(d.name for d in run_dirs)
    first, last = (json.loads((d / "summary.json").read_text()) for d in run_dirs)
    assert first["comparison"] is None
    assert last["comparison"]["baseline_run_ids"] == [run_dirs[0].name]
    cost = last["load"]["cost"]
    # The fast profile is a time-lapse: cluster time is ten times the wall time.
    assert cost["time_lapse"] and cost["speedup"] == 10.0
    assert cost["cluster_seconds"] == pytest.approx(10 * cost["wall_seconds"], abs=0.01)
    assert cost["allocation_hours"] > 0 and cost["vcpu_hour_price"] == 0.1
    assert cost["cost"] == pytest.approx(cost["vcpu_hours"] * 0.1, rel=1e-3)


def test_ctrl_c_stops_the_whole_series(fast_server, tmp_path: Path) -> None:
    """SIGINT during the first of three repeats: exit 130, no second repeat starts."""
    runs = tmp_path / "runs"
    env = {**os.environ, "ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": PASSWORD,
           "ELSERCHECK_REPORTS": str(tmp_path / "reports")}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "elsercheck", "load", "--url", fast_server.url, "--timing", "fast",
         "--shape", "step", "--lifecycle-users", "0", "--repeat", "3",
         "--load-report-dir", str(runs)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(runs.glob("*/locust.log")):
        time.sleep(0.2)
    time.sleep(3)  # into the first repeat's 23 s step
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=90)
    assert process.returncode == 130, output
    assert "repeat 1/3" in output and "repeat 2/3" not in output, output
    assert "Traceback" not in output
    assert len(list(runs.iterdir())) == 1
    assert not (tmp_path / "reports" / "history").exists()  # nothing reported half-way
