"""The command registry: every command's parser, the options they share declared once, the
allocation wait with one meaning, the help texts, ``elsercheck paths``."""

from __future__ import annotations

import argparse
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from elsercheck import cli, sim_scale
from elsercheck.commands import COMMANDS
from elsercheck.commands import options as shared
from elsercheck.timing import PRESETS

SRC = Path(cli.__file__).parent

TARGET = ["--url", "--api-key", "--username", "--password", "--ca-certs", "--insecure"]
VERSION = ["--es-version", "--conformant", "--list-versions", "--eis", "--eis-limits"]
SHARED = [*TARGET, *VERSION, "--allocation-wait", "--timing", "--report-dir",
          *shared.timing_fields()]  # fmt: skip
TARGET_COMMANDS = {"gate", "load", "capacity", "run"}  # they talk to a target
WRITERS = {"selftest", "gate", "load", "capacity", "run", "verify", "doctor"}  # write a report dir


@pytest.fixture(autouse=True)
def _measured_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands' wiring is the subject here, not this machine: load and capacity on the
    embedded server read a ceiling as measured on the machine the README cites (a fresh
    machine would measure its own on a port, outside this tier)."""
    measured = sim_scale.Ceiling({"inference": 0.0006, "search": 0.0021, "ingest": 0.00076})
    monkeypatch.setattr(sim_scale, "ceiling", lambda *args, **kwargs: measured)


def parsers() -> dict[str, argparse.ArgumentParser]:
    action = next(
        a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    return dict(action.choices)


def described(action: argparse.Action) -> tuple[Any, ...]:
    """What makes two declarations of an option the same option."""
    choices = tuple(action.choices) if action.choices is not None else None
    return (action.dest, action.type, choices, action.nargs, action.const,
            tuple(action.option_strings[:1]))  # fmt: skip


def actions_of(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: action for action in parser._actions for flag in action.option_strings}


def test_every_registered_command_has_a_parser_and_a_handler() -> None:
    found = parsers()
    assert list(found) == list(COMMANDS)
    for name, parser in found.items():
        assert callable(parser.get_default("handler")), name


def test_each_shared_option_is_the_same_option_in_every_command() -> None:
    by_flag: dict[str, dict[str, argparse.Action]] = {}
    for name, parser in parsers().items():
        for flag, action in actions_of(parser).items():
            if flag in SHARED:
                by_flag.setdefault(flag, {})[name] = action
    for flag in SHARED:
        seen = by_flag.get(flag, {})
        assert seen, f"{flag}: no command has it"
        forms = {described(action) for action in seen.values()}
        assert len(forms) == 1, f"{flag} differs between commands: {forms}"
    for command in TARGET_COMMANDS:
        for flag in [*TARGET, *VERSION, "--allocation-wait", "--timing"]:
            assert command in by_flag[flag], f"{command} lacks {flag}"
    assert set(by_flag["--report-dir"]) == WRITERS


def test_a_target_dependent_default_has_one_value_per_target_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--timing and --allocation-wait: None in every target command's parser, settled by the
    target kind (embedded server or cluster) in one place."""
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    found = parsers()
    for command in TARGET_COMMANDS:
        defaults = {flag: actions_of(found[command])[flag].default
                    for flag in ("--timing", "--allocation-wait", "--report-dir")}  # fmt: skip
        assert defaults == dict.fromkeys(defaults), (command, defaults)
        embedded = found[command].parse_args([])
        cluster = found[command].parse_args(["--url", "http://es:9200"])
        assert shared.timing_name(embedded) == shared.EMBEDDED_TIMING == "fast"
        assert shared.timing_name(cluster) == shared.CLUSTER_TIMING == "realistic"
        assert shared.allocation_wait(embedded, True) == shared.embedded_allocation_wait(
            PRESETS["fast"]
        )
        assert shared.allocation_wait(cluster, False) is None  # the suite's own 300 s
        given = found[command].parse_args(["--allocation-wait", "42"])
        assert shared.allocation_wait(given, True) == shared.allocation_wait(given, False) == 42


def test_each_shared_option_is_declared_in_one_module() -> None:
    """Its flag is spelled in an ``add_argument`` call of ``commands/options.py`` only; the
    locustfile's table (``load/options.py``) holds the ones locust shares."""
    pattern = re.compile(r"""add_argument\(\s*(?:f?")(--[a-z-]+)""")
    declared: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        for flag in pattern.findall(path.read_text(encoding="utf-8")):
            declared.setdefault(flag, set()).add(str(path.relative_to(SRC)))
    for flag in [*TARGET, *VERSION, "--allocation-wait", "--timing"]:
        assert declared.get(flag) == {"commands/options.py"}, (flag, declared.get(flag))
    assert "--report-dir" not in declared  # add_report_dir spells it once, as its default
    assert "--load-report-dir" not in declared


def test_the_number_types_refuse_nonsense_in_one_line() -> None:
    for parse in (shared.positive_int, shared.positive_float):
        for text in ("0", "-1", "nan", "inf", "x"):
            with pytest.raises(argparse.ArgumentTypeError, match="expected a positive number"):
                parse(text)
    assert shared.positive_float("2.5") == 2.5 and shared.positive_int("3") == 3
    assert shared.workers("auto") == "auto"
    with pytest.raises(argparse.ArgumentTypeError):
        shared.bounded_int(10)("11")


def test_the_number_types_are_defined_once() -> None:
    """The commands, the load table (the locustfile's parser) and capacity use one set."""
    from elsercheck import numbers
    from elsercheck.load import options as table

    for name in ("positive_int", "positive_float"):
        assert getattr(shared, name) is getattr(numbers, name) is getattr(table, name)
    types = {action.type for parser in parsers().values() for action in parser._actions}
    assert {numbers.positive_int, numbers.positive_float, numbers.non_negative_float,
            numbers.share, numbers.workers} <= types  # fmt: skip
    # Outside numbers.py only parsers of a domain format refuse a value: report's thresholds
    # and price, capacity's allocation grid (1,2,4).
    refusing = {path.relative_to(SRC).as_posix() for path in SRC.rglob("*.py")
                if "raise argparse.ArgumentTypeError" in path.read_text(encoding="utf-8")}  # fmt: skip
    assert refusing == {"numbers.py", "report/command.py", "capacity/command.py"}


# -- run: one --allocation-wait for smoke, gate and load ------------------------------------------
@pytest.mark.parametrize(("given", "expected"), [(["--allocation-wait", "42"], 42.0),
                                                 ([], "embedded")])  # fmt: skip
def test_run_gives_smoke_gate_and_load_the_same_allocation_wait(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: list[str], expected: Any
) -> None:
    from elsercheck import gate, smoke
    from elsercheck.commands import load, run
    from elsercheck.gate_report import GateSummary
    from elsercheck.target import Target

    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    monkeypatch.setenv("ELSERCHECK_REPORTS", str(tmp_path))
    waits: dict[str, object] = {}

    @contextlib.contextmanager
    def no_server(args: argparse.Namespace) -> Iterator[tuple[Target, float | None]]:
        yield Target("http://127.0.0.1:9"), 8.0  # the embedded server's zero wait: embedded

    def fake_smoke(target, run_id, allocation_wait_seconds=300.0, on_step=None):  # type: ignore[no-untyped-def]
        waits["smoke"] = allocation_wait_seconds
        return smoke.SmokeResult("9.4.0", "x", ok=True)

    def fake_gate(target, run_id, report_dir, workers, max_examples, zero, extra):  # type: ignore[no-untyped-def]
        waits["gate"] = float(extra[extra.index("--allocation-wait") + 1])
        return gate.GateResult(0, GateSummary([]), Path("junit.xml"), Path("gate.html"))

    def fake_stage(args, target, run_id, options, run_dir, summary=True, repeat=None):  # type: ignore[no-untyped-def]
        waits["load"] = options.values["allocation_wait"]
        return 0

    monkeypatch.setattr(run, "target_or_embedded", no_server)
    monkeypatch.setattr(smoke, "run_smoke", fake_smoke)
    monkeypatch.setattr(gate, "run_gate", fake_gate)
    monkeypatch.setattr(load, "stage", fake_stage)
    monkeypatch.setattr(load, "report_run", lambda run_dir, args, history=True: 0)
    monkeypatch.setattr("elsercheck.report.index.write_index", lambda root: root / "index.html")
    assert cli.main(["run", "--no-ingest", *given]) == 0
    if expected == "embedded":
        expected = shared.embedded_allocation_wait(PRESETS["fast"])
    assert waits == dict.fromkeys(("smoke", "gate", "load"), expected)


# -- load: its report by default ------------------------------------------------------------------
@pytest.mark.parametrize(("given", "reported"), [([], True), (["--no-report"], False)])
def test_load_reports_its_run_unless_no_report(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: list[str], reported: bool
) -> None:
    from elsercheck.commands import load
    from elsercheck.target import Target

    @contextlib.contextmanager
    def no_server(args: argparse.Namespace) -> Iterator[tuple[Target, float | None]]:
        yield Target("http://127.0.0.1:9"), None

    calls: list[tuple[str, object]] = []

    def fake_stage(args, target, run_id, options, run_dir, summary=True, repeat=None):  # type: ignore[no-untyped-def]
        calls.append(("stage", summary))
        return 0

    def fake_report(run_dir: Path, args: argparse.Namespace, history: bool = True) -> int:
        calls.append(("report", history))
        return 0

    monkeypatch.setattr(load, "target_or_embedded", no_server)
    monkeypatch.setattr(load, "stage", fake_stage)
    monkeypatch.setattr(load, "report_run", fake_report)
    assert cli.main(["load", "--report-dir", str(tmp_path / "run"), *given]) == 0
    # the report prints the summary; a single run's report stands alone (no history)
    assert calls == ([("stage", False), ("report", False)] if reported else [("stage", True)])


# -- help -----------------------------------------------------------------------------------------
def help_of(command: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "60")  # narrow: an option's name is never cut at a hyphen
    return parsers()[command].format_help()


def test_serve_help_documents_host_port_and_every_timing_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = help_of("serve", monkeypatch)
    assert re.search(r"--host HOST\s+address to listen on\s+\(default\s+127\.0\.0\.1", text)
    assert re.search(r"--port PORT\s+port \(default 9200", text), text
    for flag in shared.timing_fields():
        assert flag in text, flag


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_a_help_text(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each shown option says what it does (the timing fields are summarised, not listed)."""
    timing = set(shared.timing_fields())
    for action in parsers()[command]._actions:
        if action.help == argparse.SUPPRESS:
            assert set(action.option_strings) <= timing, action.option_strings
            continue
        if action.option_strings or action.dest not in ("command",):
            assert action.help, (command, action.option_strings or action.dest)


# -- paths ----------------------------------------------------------------------------------------
def test_paths_prints_the_installed_suites(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # from any directory
    assert cli.main(["paths"]) == 0
    lines = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines())
    assert Path(lines["locustfile"].strip()).is_file()
    assert (Path(lines["contracts"].strip()) / "conftest.py").is_file()
    assert lines["spec"].strip().startswith("elsercheck spec")
    assert cli.main(["paths", "--locustfile"]) == 0
    locustfile = Path(capsys.readouterr().out.strip())
    assert locustfile.name == "locustfile.py" and locustfile.is_absolute() and locustfile.is_file()
    assert cli.main(["paths", "--contracts"]) == 0
    assert (Path(capsys.readouterr().out.strip()) / "profiles").is_dir()
