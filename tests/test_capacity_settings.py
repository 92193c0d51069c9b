"""capacity takes its load options from the load options table (its own defaults where they
differ) and hands the sweep a typed settings object, never the parser's namespace."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from elsercheck.capacity import command
from elsercheck.cli import build_parser
from elsercheck.load import options as load_options


def _actions(words: list[str]) -> dict[str, argparse.Action]:
    parser = build_parser()
    sub = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    )
    found = sub.choices[words[0]]
    return {action.dest: action for action in found._actions}


def test_capacity_load_options_are_the_load_tables_rows() -> None:
    capacity, load = _actions(["capacity"]), _actions(["load"])
    for dest in command.LOAD_OPTIONS:
        row = load_options.BY_DEST[dest]
        mine = capacity[dest]
        assert mine.option_strings[0] == row.flag
        assert mine.type is load[dest].type and mine.choices == load[dest].choices
        expected = command.LOAD_DEFAULTS.get(dest, (row.default,))[0]
        assert mine.default == expected, dest
    # Capacity's own default where a sweep needs another (finer rate steps), said in the help.
    assert capacity["bulk_size"].default != load["bulk_size"].default
    assert "not load's 50" in (capacity["bulk_size"].help or "")


def test_add_options_only_refuses_unknown_dests() -> None:
    with pytest.raises(ValueError, match="not load options: nonsense"):
        load_options.add_options(argparse.ArgumentParser(), "cli", only=("nonsense",))


def test_settings_from_the_parsed_command_line() -> None:
    args = build_parser().parse_args(
        ["capacity", "--workload", "ingest", "--bulk-size", "7", "--allocations", "1,2",
         "--scale-to-zero-seconds", "9", "--seed", "3", "--traffic", "peak=4,trough=1"]
    )  # fmt: skip
    settings = command.CapacitySettings.from_values(vars(args))
    assert settings.workload == "ingest" and settings.bulk_size == 7 and settings.seed == 3
    assert settings.allocations == (1, 2) and settings.traffic == "peak=4,trough=1"
    assert settings.scaler_overrides == {"timing_scale_to_zero_seconds": 9.0}
    # Parsed with no option: the dataclass's defaults and the parser's agree.
    bare = command.CapacitySettings.from_values(vars(build_parser().parse_args(["capacity"])))
    assert bare == command.CapacitySettings()


def test_the_command_hands_the_sweep_typed_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from elsercheck.commands import capacity as capacity_command

    seen: dict[str, Any] = {}

    def refuse(settings: Any) -> None:
        seen["settings"] = settings
        raise command.CapacityUsageError("stop here")

    monkeypatch.setattr(command, "check", refuse)
    args = build_parser().parse_args(["capacity", "--workload", "search"])
    with pytest.raises(Exception, match="stop here"):
        capacity_command.run(args)
    assert isinstance(seen["settings"], command.CapacitySettings)
    assert not isinstance(seen["settings"], argparse.Namespace)
    assert seen["settings"].workload == "search"


def test_mixed_is_refused_with_its_reason() -> None:
    with pytest.raises(command.CapacityUsageError):
        command.check(command.CapacitySettings(workload="mixed"))


def test_the_resolution_reaches_the_settings_and_a_bad_one_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(["capacity", "--resolution", "0.15"])
    assert command.CapacitySettings.from_values(vars(args)).resolution == 0.15
    for bad in ("0", "1.5", "x", "nan"):
        with pytest.raises(SystemExit) as exited:
            build_parser().parse_args(["capacity", "--resolution", bad])
        assert exited.value.code == 2
        reason = capsys.readouterr().err.strip().splitlines()[-1]  # after argparse's usage
        assert "argument --resolution: expected a share above 0 and at most 1" in reason, reason
