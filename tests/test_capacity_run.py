"""`elsercheck capacity` end to end on the embedded reference server (fast timing), whose true
capacity is known from its service-time model (``capacity/model.py``): one allocation serves
one request at a time, so it saturates at 1 / E[service time].

The measured capacity is lower than the model on a busy machine (the server's event loop and the
encoder add wall time per request, which the time-lapse multiplies by its speedup): the margins
are generous, and no assertion is about time.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest

from elsercheck.capacity.model import capacity_per_allocation
from elsercheck.capacity.result import schema
from elsercheck.cli import main
from elsercheck.endpoints import ELSER_V2_X86
from elsercheck.exit_codes import ExitCode
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.timing import PRESETS
from tests import process_watch
from tests.loadrun_fixtures import capacity_until_decided
from tests.process_watch import wait_gone

pytestmark = pytest.mark.slow

PASSWORD = "capacity-test-secret-5d1"
# Long passages, one per request: few requests per second for the generator and the server's
# loop, so its own per-request costs weigh little against the modelled service time.
MIX, BATCH_SHARE = "long=1", 0.0
OPTIONS = ("--timing", "fast", "--mix", MIX, "--batch-share", str(BATCH_SHARE),
           "--point-seconds", "50", "--repeats", "1", "--max-minutes", "3",
           "--slo-p99-ms", "600000")  # fmt: skip  # stability decides, not the objective
LOW, HIGH = 0.5, 1.15  # measured / model


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(ServerConfig(password=PASSWORD, timing=PRESETS["fast"])) as running:
        yield running


def model(allocations: int = 1) -> float:
    return allocations * capacity_per_allocation(PRESETS["fast"], MIX, BATCH_SHARE, 1, ELSER_V2_X86)


def sweep(server: EmbeddedServer, out: Path, monkeypatch: pytest.MonkeyPatch, *options: str
          ) -> tuple[int, dict]:  # fmt: skip
    monkeypatch.setenv("ELASTICSEARCH_USERNAME", "elastic")
    monkeypatch.setenv("ELASTICSEARCH_PASSWORD", PASSWORD)
    return capacity_until_decided(["--url", server.url, *OPTIONS, *options], out)


def endpoints(server: EmbeddedServer) -> list[str]:
    with httpx.Client(base_url=server.url, auth=("elastic", PASSWORD)) as client:
        return [e["inference_id"] for e in client.get("/_inference/_all").json()["endpoints"]]


@pytest.fixture(scope="module")
def one_allocation(server, tmp_path_factory) -> tuple[int, dict, Path]:
    out = tmp_path_factory.mktemp("capacity-one")
    with pytest.MonkeyPatch.context() as monkeypatch:
        code, data = sweep(server, out, monkeypatch, "--allocations", "1")
    return code, data, out


def test_one_allocation_measures_the_models_capacity_and_knee(server, one_allocation, capsys):
    code, data, out = one_allocation
    assert code == ExitCode.OK, data
    jsonschema.Draft202012Validator(schema()).validate(data)
    [cell] = data["cells"]
    truth = model()
    per = cell["per_allocation_rps"]
    low, high = cell["per_allocation_ci"]
    assert low <= per <= high
    # The model's capacity within the interval widened by the margin.
    assert low * (1 - 0.3) <= truth and truth * LOW <= high * (1 + 0.3), (low, high, truth)
    assert LOW * truth <= per <= HIGH * truth, (per, truth)
    # The knee: sustained below it, failed above it, where the model (with the margin) puts it.
    knee = cell["knee"]
    assert knee["sustained_rps"] < knee["failed_rps"]
    assert LOW * truth <= knee["failed_rps"] and knee["sustained_rps"] <= HIGH * truth * 1.1
    failed = [p for p in cell["points"] if not p["sustained"]]
    assert failed and all(p["reasons"] for p in failed)
    assert any("pending" in r or "throughput" in r for p in failed for r in p["reasons"])
    assert cell["model_rps"] is None  # a --url target: elsercheck cannot know its model
    # The saturation point: every allocation busy, its throughput the model's saturation
    # (the margins of a busy machine, unless the simulator said it fell behind).
    found = cell["saturation"]
    # Weighed by work when the probe's fit explains its latencies; a long-passage mix of
    # near-equal requests may not (a busy machine's noise), and is counted then.
    assert found["units"] >= 40 and not found["errors"]
    if not found["inconclusive"]:
        assert found["saturated"], found
        assert 0.8 * truth <= found["per_allocation_rps"] <= 1.1 * truth, (found, truth)
    low, high = found["per_allocation_ci"]
    assert low <= found["per_allocation_rps"] <= high
    # Output: the page with both charts, the points' load runs, and nothing left behind.
    page = (out / "capacity.html").read_text()
    assert "Throughput vs offered rate" in page and "Latency percentiles per point" in page
    assert all(Path(p["run_dir"]).joinpath("requests.csv").is_file() for p in cell["points"])
    assert not [i for i in endpoints(server) if i.startswith(f"elsercheck-{data['run_id']}")]
    assert PASSWORD not in page and PASSWORD not in (out / "capacity.json").read_text()


def test_two_allocations_give_about_twice_one(server, one_allocation, tmp_path, monkeypatch):
    _, one, _ = one_allocation
    code, data = sweep(server, tmp_path, monkeypatch, "--allocations", "2",
                       "--traffic", "peak=9,trough=1")  # fmt: skip
    assert code == ExitCode.OK, data
    jsonschema.Draft202012Validator(schema()).validate(data)
    [cell] = data["cells"]
    ratio = cell["capacity_rps"] / one["cells"][0]["capacity_rps"]
    assert 1.5 <= ratio <= 2.5, ratio
    assert LOW * model(2) <= cell["capacity_rps"] <= HIGH * model(2)
    assert not [i for i in endpoints(server) if i.startswith(f"elsercheck-{data['run_id']}")]
    # The recommendation follows from the measured capacity and the traffic.
    advice = data["recommendation"]
    low = cell["per_allocation_ci"][0]
    assert advice["max_number_of_allocations"]["value"] == math.ceil(9 * 1.2 / low - 1e-9)
    per = cell["per_allocation_rps"]
    assert advice["capacity"]["per_allocation_rps"] == pytest.approx(per, rel=1e-3)
    assert advice["min_number_of_allocations"]["value"] >= 1  # a trough, no idle hours
    assert "max_number_of_allocations" in (tmp_path / "capacity.html").read_text()


def test_ctrl_c_mid_sweep_deletes_the_cells_endpoint(server, tmp_path):
    """SIGINT while a point's load runs: exit 130, the cell's endpoint and every point's
    prefix gone, no locust left running."""
    env = {**os.environ, "ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": PASSWORD}
    process = subprocess.Popen(
        [sys.executable, "-m", "elsercheck", "capacity", "--url", server.url, *OPTIONS,
         "--report-dir", str(tmp_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    watch = process_watch.watcher(interval=0.2)
    if watch:
        watch.start(process.pid)
    deadline = time.monotonic() + 90
    points = tmp_path / "points"
    while time.monotonic() < deadline and not (points.is_dir() and any(points.iterdir())):
        time.sleep(0.2)
    assert points.is_dir(), "the sweep never started a point"
    assert [i for i in endpoints(server) if "-cap-a1t1" in i], "no cell endpoint"
    time.sleep(2)
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=90)
    assert process.returncode == 130, output
    assert "Traceback" not in output
    assert json.loads((tmp_path / "capacity.json").read_text())["interrupted_by"] == "SIGINT"
    assert not [i for i in endpoints(server) if i.startswith("elsercheck-")], output
    if watch:
        watch.stop()
        assert wait_gone(list(watch.children), 5) == [], "locust outlived the sweep"


def test_a_sweep_stopped_after_a_point_keeps_its_figures(server, tmp_path):
    """SIGTERM once a point has finished: exit 143, capacity.json (valid, interrupted_by
    SIGTERM, the cell cut short with its finished points) and capacity.html saying so; the
    cell's endpoint is gone."""
    env = {**os.environ, "ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": PASSWORD}
    process = subprocess.Popen(
        [sys.executable, "-m", "elsercheck", "capacity", "--url", server.url, *OPTIONS,
         "--point-seconds", "20", "--report-dir", str(tmp_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    second = tmp_path / "points" / "a1t1-02"  # started only once the first point was read back
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None and not second.is_dir():
        time.sleep(0.2)
    assert second.is_dir(), "the sweep never finished a point"
    os.killpg(process.pid, signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 143, output
    assert "Traceback" not in output
    data = json.loads((tmp_path / "capacity.json").read_text())
    jsonschema.validate(data, schema())
    assert data["interrupted_by"] == "SIGTERM" and data["exit_code"] == 143
    (cell,) = data["cells"]
    assert cell["interrupted"] and cell["capacity_rps"] is None
    assert cell["points"] and "a1t1-01" in cell["points"][0]["run_dir"]
    assert cell["points"][0]["sent_rps"] > 0  # the finished point's figures, not a stub
    assert "Interrupted (SIGTERM)" in (tmp_path / "capacity.html").read_text()
    assert not [i for i in endpoints(server) if i.startswith("elsercheck-")], output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--workload", "mixed"], "capacity measures one workload at a time"),
        (["--workload", "ingest", "--corpus", "/nonexistent"], "--mix/--corpus: "),
        (["--mix", "huge=1"], "--mix/--corpus: unknown bucket"),
        (["--traffic", "peak=0"], "traffic: peak must be above 0"),
        (["--traffic-from-run", "/nonexistent"], "traffic: /nonexistent is not a directory"),
    ],
)
def test_what_it_cannot_measure_is_one_line_exit_2(options, message, capsys):
    assert main(["capacity", *options]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.startswith("elsercheck: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("value", ["0", "1,x", "", "-2"])
def test_a_bad_grid_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["capacity", "--allocations", value])
    assert stopped.value.code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "expected positive numbers like 1,2,4" in err.strip().splitlines()[-1]
