"""report.html in headless Chromium: the charts are really painted, offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from elsercheck.report import command
from elsercheck.report.charts import COLOURS

from .chromium import chromium_path, colour_counts, dump_dom, screenshot
from .loadrun_fixtures import write_empty_run, write_run

WIDTH, HEIGHT = 1280, 5200  # tall enough for every chart of the fixture run
# Series that must be visibly painted, with a floor of pixels each (a 2 px line across a
# 1000 px chart is ~2000 px; the page without charts has none of these colours).
PAINTED = {
    "throughput": 1500,
    "p50": 800,
    "target_allocation_count": 100,  # dashed, and mostly under allocation_count
    "allocation_count": 1500,
    "pending": 300,
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    chromium_path()  # skip the module's tests when there is no browser
    root = tmp_path_factory.mktemp("reports")
    run_dir = write_run(root / "load" / "r1")
    empty_dir = write_empty_run(root / "load" / "empty")
    for directory in (run_dir, empty_dir):
        assert command.main([str(directory), "--no-history"]) == 0
    return run_dir / "report.html", empty_dir / "report.html"


def test_screenshot_shows_the_charts(rendered: tuple[Path, Path], tmp_path: Path) -> None:
    report, empty = rendered
    shot = screenshot(report, tmp_path / "report.png", WIDTH, HEIGHT, wait_ms=1000)
    control = screenshot(empty, tmp_path / "empty.png", WIDTH, HEIGHT, wait_ms=1000)
    colours = {series: COLOURS[series] for series in PAINTED}
    painted, unpainted = colour_counts(shot, colours), colour_counts(control, colours)
    for series, floor in PAINTED.items():
        assert painted[series] >= floor, f"{series} ({colours[series]}): {painted[series]} px"
        # The control page (same CSS, no charts) shows the check can fail.
        assert unpainted[series] < floor / 10, f"{series}: {unpainted[series]} px without charts"


def test_dom_has_the_titled_svg_charts(rendered: tuple[Path, Path]) -> None:
    report, _ = rendered
    dom = dump_dom(report, wait_ms=500)
    charts = re.findall(r'<svg class="chart" id="chart-(\w+)"[^>]*>\s*<title>([^<]+)</title>', dom)
    keys = {key for key, _ in charts}
    assert keys == {"throughput", "latency", "allocations", "queue", "errors", "buckets"}
    titles = dict(charts)
    assert titles["allocations"] == "Allocations"
    assert titles["latency"].startswith("Latency of successful requests")
    # Text stays text (svg.fonttype none): axis labels are searchable in the DOM.
    assert "seconds since the run start" in dom and "target_allocation_count" in dom
    for section in (
        "comparison",
        "throughput",
        "allocations",
        "errors",
        "expectations",
        "metadata",
    ):
        assert f'<section id="{section}">' in dom
