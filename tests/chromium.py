"""Headless Chromium for tests: screenshots and rendered DOMs of pages and local files.

Generic on purpose (the load report and the locust web UI tests both use it): plain CLI calls,
one fresh profile directory per call, no network beyond what the page itself asks for, a hard
timeout. ``chromium_path()`` skips the calling test when no browser is installed (CI installs
the Debian ``chromium`` package); ``CHROMIUM`` in the environment names another binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 60.0
# Quiet, hermetic headless runs: no sandbox (containers run as root), no GPU, no background
# traffic (updates, sync, QUIC probes), no first-run UI.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)


class ChromiumError(RuntimeError):
    """Chromium exited non-zero, timed out or wrote nothing."""


def find_chromium() -> str | None:
    """The browser binary: ``$CHROMIUM``, else the first of CANDIDATES on PATH; None if none."""
    named = os.environ.get("CHROMIUM")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def chromium_path() -> str:
    """The browser binary, or skip the calling test when none is installed."""
    path = find_chromium()
    if path is None:
        pytest.skip("headless Chromium not installed (apt-get install chromium; CI installs it)")
    return path


def to_url(url_or_file: str | Path) -> str:
    """``http(s)://``/``file://``/``data:`` URLs as given; a path becomes a ``file://`` URL."""
    text = str(url_or_file)
    if isinstance(url_or_file, str) and text.split(":", 1)[0] in ("http", "https", "file", "data"):
        return text
    return Path(url_or_file).resolve().as_uri()


def run_chromium(
    args: Sequence[str], url_or_file: str | Path, timeout: float = TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run the browser once with ``args`` on the page, in a throwaway profile."""
    binary = chromium_path()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [binary, *FLAGS, f"--user-data-dir={profile}", *args, to_url(url_or_file)]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise ChromiumError(f"chromium timed out after {timeout:g} s: {command}") from exc
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-15:])
        raise ChromiumError(f"chromium exited {result.returncode}:\n{tail}")
    return result


def screenshot(
    url_or_file: str | Path,
    out_png: Path,
    width: int = 1280,
    height: int = 2000,
    wait_ms: int = 2000,
    timeout: float = TIMEOUT_S,
) -> Path:
    """A PNG of the page's first ``width`` × ``height`` pixels after ``wait_ms`` of (virtual)
    time for scripts and layout."""
    out_png = Path(out_png)
    out_png.unlink(missing_ok=True)
    run_chromium(
        [f"--screenshot={out_png}", f"--window-size={width},{height}",
         f"--virtual-time-budget={wait_ms}"],
        url_or_file,
        timeout,
    )  # fmt: skip
    if not out_png.is_file() or out_png.stat().st_size == 0:
        raise ChromiumError(f"chromium wrote no screenshot to {out_png}")
    return out_png


def dump_dom(url_or_file: str | Path, wait_ms: int = 2000, timeout: float = TIMEOUT_S) -> str:
    """The page's DOM serialized after ``wait_ms`` of (virtual) time: what scripts built."""
    result = run_chromium(["--dump-dom", f"--virtual-time-budget={wait_ms}"], url_or_file, timeout)
    if "<html" not in result.stdout.lower():
        raise ChromiumError("chromium printed no DOM")
    return result.stdout


def colour_counts(
    png: Path, colours: Mapping[str, str | tuple[int, int, int]], tolerance: int = 24
) -> dict[str, int]:
    """For each named colour (``"#1f77b4"`` or an RGB tuple), how many pixels of the PNG are
    within ``tolerance`` per channel: whether a chart's series is actually painted."""
    import numpy as np
    from PIL import Image  # Pillow and numpy come with matplotlib

    with Image.open(png) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    counts = {}
    for name, colour in colours.items():
        rgb = _rgb(colour)
        close = np.abs(pixels - np.array(rgb, dtype=np.int16)) <= tolerance
        counts[name] = int(close.all(axis=-1).sum())
    return counts


def colour_pixels(png: Path, colour: str | tuple[int, int, int], tolerance: int = 24) -> int:
    """How many pixels of the PNG are close to one colour (see :func:`colour_counts`)."""
    return colour_counts(png, {"colour": colour}, tolerance)["colour"]


def _rgb(colour: str | tuple[int, int, int]) -> tuple[int, int, int]:
    if isinstance(colour, str):
        return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))
    return colour
