"""Secrets reach the child processes (the gate's pytest, locust) through their environment,
never their command line (visible to every user in ``ps``), also when given inside --url."""

from __future__ import annotations

import base64
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest

from elsercheck.gate import pytest_command
from elsercheck.load.options import plan_of, values_from
from elsercheck.load.runner import LoadOptions, locust_command, locust_environment
from elsercheck.target import Target, child_environment
from tests.secret_scan import assert_no_secret

PASSWORD = "child-argv-S3cret/pw"
API_KEY = base64.b64encode(b"key-id-77:child-argv-key-secret").decode()

TARGETS = {
    "basic": (Target("http://127.0.0.1:9200", username="elastic", password=PASSWORD), PASSWORD),
    "userinfo-url": (Target(f"http://elastic:{quote(PASSWORD, safe='')}@127.0.0.1:9200"), PASSWORD),
    "api-key": (Target("https://127.0.0.1:9200", api_key=API_KEY), API_KEY),
}


def _commands(target: Target, tmp_path: Path) -> dict[str, list[str]]:
    values = values_from(SimpleNamespace(shape="spike", timing="fast"))
    options = LoadOptions(values, plan_of(values), workers=2)
    return {
        "gate": pytest_command(target, "run1", tmp_path, "2", 5, 10.0, ["-m", "not schema"]),
        **{
            f"locust-{role}": locust_command(target, options, "run1", tmp_path, role, 5557)
            for role in ("local", "master", "worker")
        },
    }


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_argv_of_children_holds_no_secret(name: str, tmp_path: Path) -> None:
    target, secret = TARGETS[name]
    commands = _commands(target, tmp_path)
    username = target.username
    assert_no_secret(secret, username=username,
                     texts={role: "\0".join(argv) for role, argv in commands.items()})  # fmt: skip
    assert "127.0.0.1:9200" in " ".join(commands["gate"])  # the target is still there


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_environment_of_children_carries_the_credentials(name: str) -> None:
    target, secret = TARGETS[name]
    for env in (child_environment(target), locust_environment(target)):
        key = "ELASTICSEARCH_API_KEY" if target.api_key else "ELASTICSEARCH_PASSWORD"
        assert env[key] == secret
        assert "ELASTICSEARCH_URL" not in env  # the URL goes on argv, without userinfo
