"""The wheel carries the suites: an installed elsercheck finds them from any directory.

Builds the wheel offline from this checkout, installs it into a private target directory and
imports it from an unrelated working directory with the checkout's ``src`` off ``sys.path``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

import elsercheck
from elsercheck import paths

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
RESOURCES = ("contracts", "loadtests", "openapi")
EXPECTED_FILES = {
    "contracts": ["README.md"],
    "loadtests": ["__init__.py"],
    "openapi": ["README.md", "upstream/elasticsearch-openapi-inference.json"],
}
PIP_ENV = {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PIP_NO_INDEX": "1"}


def _version() -> str:
    """The one version: pyproject.toml defers to the package's ``__version__``."""
    with (REPO / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["hatch"]["version"]["path"] == "src/elsercheck/__init__.py"
    return elsercheck.__version__


def _checkout_files(name: str) -> set[str]:
    """Files of a resource folder in the checkout, as the wheel should carry them."""
    root = REPO / name
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def _pip(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, **PIP_ENV},
    )
    assert result.returncode == 0, result.stdout + result.stderr


PROBE = """
import json, sys
from pathlib import Path
import elsercheck
import elsercheck
from elsercheck import paths
print(json.dumps({
    "package": elsercheck.__file__,
    "sys_path": sys.path,
    "resources": {name: str(paths.resource_dir(name)) for name in paths.RESOURCES},
    "reports": str(paths.reports_dir()),
}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("packaging")
    dist, site, elsewhere = base / "dist", base / "site", base / "elsewhere"
    elsewhere.mkdir()
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(REPO), cwd=base)
    (wheel,) = dist.glob("elsercheck-*.whl")
    _pip("install", "--no-deps", "--target", str(site), str(wheel), cwd=base)
    return {"wheel": wheel, "site": site, "elsewhere": elsewhere}


def _run_installed(installed: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    """Python with the installed copy first, the venv's dependencies after it, and no .pth
    processing (``-S``), so the editable install's path to the checkout's ``src`` is absent."""
    dependencies = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join([str(installed["site"]), *sorted(dependencies)])
    return subprocess.run(
        [sys.executable, "-S", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=installed["elsewhere"],
        env=env,
    )


def test_wheel_metadata(installed: dict[str, Path]) -> None:
    wheel = installed["wheel"]
    assert wheel.name == f"elsercheck-{_version()}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "elsercheck = elsercheck.cli:script" in archive.read(entry_points).decode()
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names), sorted(names)
    assert "elsercheck/reference/app.py" in names
    for name in RESOURCES:
        bundled = {
            n.removeprefix(f"elsercheck/_bundled/{name}/")
            for n in names
            if n.startswith(f"elsercheck/_bundled/{name}/")
        }
        assert _checkout_files(name) <= bundled, name


def test_installed_copy_finds_bundled_resources(installed: dict[str, Path]) -> None:
    site = installed["site"].resolve()
    result = _run_installed(installed, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert Path(probe["package"]).resolve().is_relative_to(site), probe["package"]
    source = (REPO / "src").resolve()
    on_path = [p for p in probe["sys_path"] if p and Path(p).resolve() == source]
    assert not on_path, probe["sys_path"]
    for name in RESOURCES:
        folder = Path(probe["resources"][name]).resolve()
        assert folder == site / "elsercheck" / "_bundled" / name
        assert folder.is_dir()
        for expected in EXPECTED_FILES[name]:
            assert (folder / expected).is_file(), f"{name}/{expected} missing in {folder}"
        present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        assert _checkout_files(name) <= present, name
    spec = site / "elsercheck/_bundled/openapi/upstream/elasticsearch-openapi-inference.json"
    assert json.loads(spec.read_text())["openapi"].startswith("3.")
    # Outside a checkout, reports go to the working directory.
    assert Path(probe["reports"]) == installed["elsewhere"] / "reports"


def test_installed_module_runs(installed: dict[str, Path]) -> None:
    result = _run_installed(installed, "-m", "elsercheck", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"elsercheck {_version()}"
    helped = _run_installed(installed, "-m", "elsercheck", "serve", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "--tls" in helped.stdout


def test_checkout_uses_its_own_folders() -> None:
    assert Path(paths.__file__).resolve().is_relative_to(REPO / "src")
    for name in RESOURCES:
        assert paths.resource_dir(name) == REPO / name
        assert paths.resource_dir(name).is_dir()
    assert paths.reports_dir() == REPO / "reports"
    assert (paths.resource_dir("openapi") / EXPECTED_FILES["openapi"][1]).is_file()
    with pytest.raises(ValueError):
        paths.resource_dir("reports")
