"""The locust web UI's Allocations tab, rendered in headless Chromium while a run is live."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from elsercheck.paths import resource_dir
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.timing import PRESETS
from tests.chromium import chromium_path, colour_pixels, dump_dom, screenshot

pytestmark = pytest.mark.slow
PASSWORD = "webui-secret-77"
ALLOCATION_BLUE = "#1f77b4"  # the allocation_count series in static/allocations.js


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_allocations_tab_shows_a_live_chart(tmp_path: Path):
    chromium_path()  # skip early when no browser
    port = free_port()
    with EmbeddedServer(ServerConfig(password=PASSWORD, timing=PRESETS["fast"])) as server:
        env = {
            **os.environ,
            "ELASTICSEARCH_USERNAME": "elastic",
            "ELASTICSEARCH_PASSWORD": PASSWORD,
        }
        command = [
            sys.executable, "-m", "locust", "-f", str(resource_dir("loadtests") / "locustfile.py"),
            "--host", server.url, "--web-host", "127.0.0.1", "--web-port", str(port),
            "--autostart", "--autoquit", "2", "--shape", "step", "--timing", "fast",
            "--results-dir", str(tmp_path / "run"), "--duration", "60",
        ]  # fmt: skip
        log = (tmp_path / "locust.log").open("wb")
        locust = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            rows: list = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(rows) < 12:
                time.sleep(0.5)
                try:
                    rows = httpx.get(f"{base}/elsercheck/allocations.json").json()["rows"]
                except (httpx.HTTPError, ValueError):
                    rows = []
            assert len(rows) >= 12, (tmp_path / "locust.log").read_text()
            assert locust.poll() is None, "the run must still be live"

            page = f"{base}/?tab=allocations"
            dom = dump_dom(page, wait_ms=3000)
            assert 'id="elsercheck-allocations-chart"' in dom
            assert 'data-series="allocation_count"' in dom
            assert 'data-series="target_allocation_count"' in dom
            assert "Allocations" in httpx.get(base + "/").text  # the tab is registered

            png = screenshot(page, tmp_path / "allocations.png", 1300, 900, wait_ms=3000)
            assert colour_pixels(png, ALLOCATION_BLUE) > 300  # the allocation line is drawn
            # On another tab the chart is hidden: the locust charts stay as they were.
            other = screenshot(f"{base}/?tab=charts", tmp_path / "charts.png", 1300, 900, 3000)
            assert colour_pixels(other, ALLOCATION_BLUE) < colour_pixels(png, ALLOCATION_BLUE) / 3
        finally:
            locust.terminate()
            locust.wait(timeout=60)
            log.close()


def _wait_for(predicate, timeout: float, what: str, log: Path):
    """Poll ``predicate`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (httpx.HTTPError, ValueError):
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout:g} s:\n{log.read_text()[-4000:]}")


def test_each_start_is_its_own_run_with_its_verdicts(tmp_path: Path):
    """Issue 24: in the web UI a second start is a run of its own (id, directory), the
    expectations' verdicts of each run appear when it ends (Expectations table, runs.json),
    the users / ramp-up fields the shape ignores are hidden, and SIGTERM after a run stops the
    process promptly (it stayed ~70 s: the web server kept locust's main greenlet alive)."""
    port = free_port()
    log_path = tmp_path / "locust.log"
    with EmbeddedServer(ServerConfig(password=PASSWORD, timing=PRESETS["fast"])) as server:
        env = {**os.environ, "ELASTICSEARCH_USERNAME": "elastic",
               "ELASTICSEARCH_PASSWORD": PASSWORD,
               "ELSERCHECK_REPORTS": str(tmp_path / "reports")}  # fmt: skip
        command = [
            sys.executable, "-m", "locust", "-f", str(resource_dir("loadtests") / "locustfile.py"),
            "--host", server.url, "--web-host", "127.0.0.1", "--web-port", str(port),
            "--shape", "constant", "--duration", "3", "--timing", "fast", "--peak-users", "1",
            "--lifecycle-users", "0", "--results-dir", str(tmp_path / "run"),
        ]  # fmt: skip
        log = log_path.open("wb")
        locust = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            page = _wait_for(lambda: httpx.get(base + "/").text, 60, "the web UI", log_path)
            # The shape decides users and ramp-up: locust hides those fields.
            assert '"hide_common_options": true' in page.replace("True", "true")
            assert '"Expectations"' in page  # the verdicts' tab is registered

            def runs() -> list:
                return httpx.get(f"{base}/elsercheck/runs.json").json()["runs"]

            for count in (1, 2):
                answer = httpx.post(f"{base}/swarm", data={"host": server.url}).json()
                assert answer["success"], answer
                _wait_for(lambda n=count: len(runs()) >= n, 180, f"run {count}", log_path)
            first, second = runs()
            assert first["run_id"] != second["run_id"]
            assert first["results_dir"] == str(tmp_path / "run")
            assert second["results_dir"] == str(tmp_path / "run-2")
            for run in (first, second):
                written = json.loads((Path(run["results_dir"]) / "run.json").read_text())
                assert written["run_id"] == run["run_id"]
                assert run["expectations"], run  # the verdicts, when the run ended
                assert run["report"] == str(Path(run["results_dir"]) / "report.html")
                assert Path(run["report"]).is_file()
                assert {item["status"] for item in run["expectations"]} <= {
                    "pass",
                    "fail",
                    "skipped",
                    "inconclusive",
                }
            history = sorted(p.stem for p in (tmp_path / "reports" / "history").glob("*.json"))
            assert history == sorted([first["run_id"], second["run_id"]])  # each in the history
            stats = httpx.get(f"{base}/stats/requests").json()
            (table,) = [t for t in stats["extended_stats"] if t["key"] == "expectations"]
            assert {row["run_id"] for row in table["data"]} == {first["run_id"], second["run_id"]}
            assert "ended (exit" in log_path.read_text()  # the verdict line in the log

            locust.send_signal(signal.SIGTERM)
            locust.wait(timeout=45)  # generous for a busy machine; it used to take ~70 s
        finally:
            if locust.poll() is None:
                locust.kill()
                locust.wait(timeout=30)
            log.close()
