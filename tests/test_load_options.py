"""One definition of the load options: `elsercheck load`, the locustfile and the runner's argv.

The locustfile's parser is built by locust itself in a child process (importing locust
monkey-patches gevent into the importing process).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from elsercheck.cli import build_parser
from elsercheck.commands.load import options_of as _load_options
from elsercheck.commands.options import timing as _timing
from elsercheck.load import options as table
from elsercheck.load.plans import TIMING_PROFILES, build_plan, scaler_timing
from elsercheck.load.runner import locust_command
from elsercheck.paths import resource_dir
from elsercheck.target import Target
from elsercheck.timing import PRESETS

# `elsercheck load`'s own options in its "load" group: how it runs locust, not what locust does.
RUNNER_ONLY = {"load_workers", "web", "web_port", "report_dir"}

LOCUST_PARSER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import locustfile  # its init_command_line_parser listener adds the options
from locust.argument_parser import get_parser

group = next(g for g in get_parser()._action_groups if g.title == sys.argv[2])
print(json.dumps({a.dest: [a.option_strings, a.default, a.choices and list(a.choices)]
                  for a in group._group_actions}))
"""


def described(actions: list[argparse.Action]) -> dict[str, list[Any]]:
    return {a.dest: [a.option_strings, a.default, a.choices and list(a.choices)] for a in actions}


def cli_load_parser() -> argparse.ArgumentParser:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices["load"]


def cli_load_group() -> dict[str, list[Any]]:
    group = next(g for g in cli_load_parser()._action_groups if g.title == "load")
    return described(group._group_actions)


@pytest.fixture(scope="module")
def locust_group() -> dict[str, list[Any]]:
    locustfile_dir = str(resource_dir("loadtests"))
    result = subprocess.run(
        [sys.executable, "-c", LOCUST_PARSER, locustfile_dir, table.GROUP_TITLE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_the_locustfile_parser_has_exactly_the_table(locust_group):
    assert set(locust_group) == {option.dest for option in table.OPTIONS}
    for option in table.OPTIONS:
        flags, default, choices = locust_group[option.dest]
        assert flags[0] == option.flag and default == option.default
        assert choices == (list(option.choices) if option.choices else None)


def test_elsercheck_load_and_the_locustfile_share_names_and_defaults(locust_group):
    cli = cli_load_group()
    shared = {option.dest for option in table.OPTIONS if option.cli}
    assert set(cli) == shared | RUNNER_ONLY  # a load option outside the table fails here
    assert shared <= set(locust_group)
    for dest in shared:
        (cli_flags, *cli_rest), (locust_flags, *locust_rest) = cli[dest], locust_group[dest]
        assert cli_flags[0] == locust_flags[0], dest
        assert cli_rest == locust_rest, dest  # default and choices
    assert cli["peak_users"][0] == ["--peak-users", "--users"]  # the documented spelling works


def test_the_options_the_cli_leaves_out_are_the_runners():
    # Each comes from elsercheck load itself: its run id, its run directory, and the options
    # every target command shares: --insecure, --allocation-wait, --timing and its overrides.
    left_out = {option.dest for option in table.OPTIONS if not option.cli}
    timing = {"timing", *(f"timing_{name}" for name in table.SCALER_FIELDS)}
    assert left_out == {"run_id", "results_dir", "insecure", "allocation_wait", *timing}
    assert cli_load_parser().parse_args(["--insecure"]).insecure  # the target option
    assert cli_load_parser().parse_args(["--allocation-wait", "7"]).allocation_wait == 7.0
    parsed = cli_load_parser().parse_args(["--timing", "fast", "--scale-to-zero-seconds", "4"])
    assert (parsed.timing, parsed.timing_scale_to_zero_seconds) == ("fast", 4.0)


def locust_side_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    table.add_options(parser, "locust")
    return parser


def test_the_runner_argv_gives_locust_the_same_values(tmp_path: Path):
    argv = ["load", "--url", "https://es:9200", "--insecure", "--users", "7", "--shape",
            "spike", "--duration", "12.5", "--timing", "fast", "--scale-to-zero-seconds", "4",
            "--lifecycle-users", "0", "--mix", "query=1", "--seed", "3", "--batch-share", "0"]  # fmt: skip
    options = _load_options(build_parser().parse_args(argv))
    target = Target("https://es:9200", insecure=True)
    command = locust_command(target, options, "run-1", tmp_path)
    known, _ = locust_side_parser().parse_known_args(command)
    passed = table.values_from(known)
    expected = {**options.values, "run_id": "run-1", "results_dir": str(tmp_path)}
    assert passed == {**expected, "insecure": True}
    assert table.plan_of(passed) is options.plan  # the same plan, from the per-process cache
    assert command.count("--peak-users") == 1 and "--users" not in command
    workers = locust_command(target, options, "run-1", tmp_path, "worker", 5557)
    assert not set(workers) & {option.flag for option in table.OPTIONS}  # the master's travel


def test_the_old_locustfile_spellings_still_parse():
    old = ["--stop-after", "5", "--timing-profile", "fast", "--scaler-tick", "2",
           "--cooldown", "4", "--scale-to-zero", "6"]  # fmt: skip
    parsed = locust_side_parser().parse_args(old)
    values = table.values_from(parsed)
    assert values["duration"] == 5.0 and values["timing"] == "fast"
    timing = table.plan_of(values).timing
    assert (timing.tick_s, timing.cooldown_s, timing.scale_to_zero_s) == (2.0, 4.0, 6.0)


def test_defaults_agree_with_what_the_locustfile_assumed_and_lifecycle_is_one():
    values = table.values_from(locust_side_parser().parse_args([]))
    assert values["lifecycle_users"] == 1 and values["peak_users"] == 40
    plan = table.plan_of(values)
    assert plan == build_plan("step", TIMING_PROFILES["realistic"], 40)


def test_web_ui_strings_are_checked_and_converted():
    # Locust's web UI sends form fields as strings (and None-defaults stay strings).
    parsed = locust_side_parser().parse_args([])
    parsed.peak_users, parsed.duration, parsed.timing_scaler_tick_seconds = "12", "30", ""
    values = table.values_from(parsed)
    assert (values["peak_users"], values["duration"]) == (12, 30.0)
    assert values["timing_scaler_tick_seconds"] is None
    parsed.peak_users = "0"
    with pytest.raises(table.OptionError, match="--peak-users"):
        table.values_from(parsed)
    parsed.peak_users, parsed.shape = "12", "square"
    with pytest.raises(table.OptionError, match="--shape: choose from step"):
        table.values_from(parsed)
    parsed.shape, parsed.min_allocations, parsed.max_allocations = "step", 3, 2
    with pytest.raises(table.OptionError, match="must not exceed"):
        table.values_from(parsed)


def test_the_plan_is_built_once_per_set_of_options():
    values = table.values_from(locust_side_parser().parse_args(["--timing", "fast"]))
    assert table.plan_of(values) is table.plan_of(dict(values))
    other = table.plan_of({**values, "peak_users": 41})
    assert other is not table.plan_of(values) and other.stages[1].users == 41


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_scaler_profile_comes_from_the_reference_timing(name):
    timing, scaler = PRESETS[name], TIMING_PROFILES[name]
    assert scaler == scaler_timing(timing)
    assert (scaler.tick_s, scaler.cooldown_s, scaler.scale_to_zero_s) == (
        timing.scaler_tick_seconds,
        timing.scale_down_cooldown_seconds,
        timing.scale_to_zero_seconds,
    )
    assert scaler.allocation_start_s == max(
        1.0, timing.allocation_start_seconds + timing.deployment_start_seconds
    )


def test_cli_timing_overrides_reach_embedded_server_and_plan_alike():
    args = build_parser().parse_args(["load", "--timing", "fast", "--scaler-tick-seconds", "2"])
    options = _load_options(args)
    assert _timing(args).scaler_tick_seconds == 2.0  # the embedded server's
    assert options.plan.timing.tick_s == 2.0  # the plan's
