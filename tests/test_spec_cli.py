"""`elsercheck spec` writes the effective spec for other OpenAPI tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from elsercheck.cli import main


def test_spec_to_json_file(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "elser.json"
    assert main(["spec", "-o", str(out)]) == 0
    spec = json.loads(out.read_text())
    assert "basicAuth" in spec["components"]["securitySchemes"]
    assert spec["security"]


def test_spec_format_from_suffix(tmp_path: Path) -> None:
    out = tmp_path / "elser.yaml"
    assert main(["spec", "-o", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["openapi"].startswith("3.0")


def test_spec_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec"]) == 0
    assert json.loads(capsys.readouterr().out)["openapi"].startswith("3.0")


def test_spec_unwritable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["spec", "-o", str(blocker / "spec.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("elsercheck: error: cannot write") and "Traceback" not in err
