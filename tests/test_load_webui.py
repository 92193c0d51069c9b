"""The locust web UI's Allocations tab, rendered in headless Chromium while a run is live."""

from __future__ import annotations

import os
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
