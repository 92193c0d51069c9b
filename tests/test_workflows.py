"""The CI examples users copy: valid YAML, right triggers, and elsercheck commands that parse."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from elsercheck.cli import build_parser

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads a bare `on` as true
    return data


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def elsercheck_commands(workflow: dict) -> list[list[str]]:
    commands = []
    for step in steps(workflow):
        for line in str(step.get("run", "")).splitlines():
            line = line.strip()
            if line.startswith("elsercheck "):
                # Shell expansions stand for optional extra options: drop them for parsing.
                line = re.sub(r'"\$\{[^}]*\}"', "", line)
                commands.append(shlex.split(line)[1:])
    return commands


@pytest.mark.parametrize("name", ["conformance-gate.yml", "nightly-load.yml"])
def test_commands_in_the_examples_parse(name):
    commands = elsercheck_commands(load(name))
    assert commands
    for argv in commands:
        build_parser().parse_args(argv)  # SystemExit on an unknown option fails the test


def test_the_gate_runs_on_every_change_and_publishes_junit():
    workflow = load("conformance-gate.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    uses = [step.get("uses", "") for step in steps(workflow)]
    assert any("junit" in use for use in uses)
    junit = next(s for s in steps(workflow) if "junit" in s.get("uses", ""))
    assert junit["with"]["report_paths"] == "reports/gate/junit.xml"
    assert any("--report-dir reports/gate" in str(s.get("run", "")) for s in steps(workflow))


def test_the_nightly_keeps_artifacts_and_carries_the_history():
    workflow = load("nightly-load.yml")
    assert "schedule" in workflow["on"]
    by_use = {step.get("uses", "").split("@")[0]: step for step in steps(workflow)}
    assert by_use["actions/cache/restore"]["with"]["path"] == "reports/history"
    assert by_use["actions/cache/save"]["with"]["path"] == "reports/history"
    assert by_use["actions/cache/save"].get("if") == "always()"
    assert "reports/load/" in by_use["actions/upload-artifact"]["with"]["path"]


@pytest.mark.parametrize("name", ["conformance-gate.yml", "nightly-load.yml"])
def test_secrets_stay_in_the_environment(name):
    text = (WORKFLOWS / name).read_text()
    for line in text.splitlines():
        if "secrets." in line and not line.lstrip().startswith("#"):
            assert re.match(r"\s*[A-Z_]+: \$\{\{ secrets\.[A-Z_]+ \}\}", line), line


def test_the_nightly_compares_with_several_runs():
    """Noise-aware verdicts: the nightly's report measures the spread of 5 earlier runs."""
    (argv,) = elsercheck_commands(load("nightly-load.yml"))
    args = build_parser().parse_args(argv)
    assert args.baselines == 5 and args.repeat == 1  # --repeat only via vars.LOAD_REPEAT
    text = (WORKFLOWS / "nightly-load.yml").read_text()
    assert 'extra+=(--repeat "${{ vars.LOAD_REPEAT }}")' in text
