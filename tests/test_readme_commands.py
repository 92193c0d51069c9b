"""Every shell command in the README runs (issue 22, item 2).

The commands are parsed from the README's ```sh blocks (continuation lines joined, comments
dropped), never copied here, so a command added to the README is run as soon as it is there;
one that no rule below knows fails :func:`test_every_readme_command_has_a_runner`.

How a command runs, as a user would run it against the embedded reference server:

- the cluster in it (``https://my-cluster:9200``, ``https://es:9200``, ``http://localhost:9200``,
  ``--url ...``) becomes an embedded server's URL: the TLS one when the command shows
  ``--ca-certs`` (``ca.crt`` becomes its CA file), else a plain one; a command that names a
  cluster and no ``--timing`` gets ``--timing fast``, the server's timing (its time-lapse:
  without it a load or sweep would run the cluster's minutes);
- secrets come from the environment: ``...`` in an assignment or ``export`` becomes the target's
  API key or password, read from a variable only this test sets; a command that names a cluster
  and no credentials finds ``ELASTICSEARCH_API_KEY`` in its environment, as the README advises;
- a port the README names (``9200``, the web UI's 8089) becomes a free one;
- each command runs with ``bash -c`` after the ``export`` lines before it in its block, in a
  scratch directory where ``contracts/`` and ``loadtests/`` are the checkout's and
  ``$ELSERCHECK_REPORTS`` is the scratch ``reports/``;
- a block with a command sent to the background (``&``) runs as one script: that server up,
  the later commands against it (``curl`` with ``--fail-with-body``), the server stopped.

``make run`` and ``make test`` are not run here: the test names where each is covered and
checks that that test (or the CI entry point) runs what the Makefile target runs.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.timing import PRESETS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
PASSWORD = "readme-commands-secret-7c2"

# -- parsing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One command of a README ```sh block."""

    text: str  # continuation lines joined, the comment dropped
    line: int  # its first line in the README
    block: int  # which ```sh block (0-based)
    exports: tuple[str, ...]  # the block's export lines before it

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text.rstrip("& "))

    @property
    def background(self) -> bool:
        return self.text.endswith("&")

    @property
    def program(self) -> list[str]:
        """The words after any leading ``NAME=value`` assignments."""
        words = self.words
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            words = words[1:]
        return words

    def __str__(self) -> str:
        return f"README.md:{self.line}: {self.text}"


def _without_comment(line: str) -> str:
    """The line up to an unquoted ``#`` that starts a word."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def parse_readme(text: str) -> list[Command]:
    """Every command of every ```sh block, in order."""
    commands: list[Command] = []
    block, inside, pending, start = -1, False, "", 0
    exports: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not inside:
            if raw.strip() == "```sh":
                inside, block, exports = True, block + 1, []
            continue
        if raw.strip() == "```":
            inside = False
            continue
        line = _without_comment(raw) if not pending else raw.rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        joined = (pending + _without_comment(line).strip()).strip()
        pending = ""
        if joined:
            commands.append(Command(joined, start, block, tuple(exports)))
            if joined.startswith("export "):
                exports.append(joined)
    return commands


COMMANDS = parse_readme(README.read_text(encoding="utf-8"))


# -- classification ------------------------------------------------------------------------------
def classify(command: Command) -> str | None:
    """The kind of a command, or None when no rule knows it."""
    words = command.program
    if not words:
        return None
    head = words[0]
    if head == "export" and len(words) > 1:
        return "export"
    if head == "make" and len(words) == 2:
        return f"make {words[1]}"
    if head == "elsercheck" and len(words) > 1 and not words[1].startswith("-"):
        return f"elsercheck {words[1]}"
    if head == "pytest" and any(w.rstrip("/") == "contracts" for w in words[1:]):
        return "pytest contracts/"
    if head == "schemathesis" and words[1:2] == ["run"]:
        return "schemathesis run"
    if head == "locust" and "-f" in words:
        return "locust -f"
    if head == "pip" and words[1:2] == ["install"]:
        return "pip install"
    if head == "curl":
        return "curl"
    return None


# Commands not run here (by their text, or their kind): what the Makefile recipe runs (for a
# make target), and the test function or fixture (or the CI entry point) that runs it.
COVERED = {
    "make run": ("elsercheck run", ROOT / "tests" / "test_cli.py",
                 "test_run_passes_against_embedded_server", 'run_cli("run"'),
    "make test": ("pytest -n $(TEST_WORKERS)", ROOT / ".ci" / "run", None, "make test"),
    # The fast tier's selection is tests/tiers.py's FAST: the tier guard runs in every run.
    "make check": ('-m "not port and not process and not slow"', ROOT / "tests" / "tiers.py",
                   None, 'FAST = "not port and not process and not slow"'),
    # Installing into this test's own environment would change it: the packaging test installs
    # the wheel into a scratch directory and runs it from there.
    "pip install": (None, ROOT / "tests" / "test_packaging.py", "installed", '_pip("install"'),
}  # fmt: skip
# Exit codes a command may end with and still have run: its verdict, not "could not run" (2).
ACCEPTED = {
    # 3: --repeat's report, a regression vs history; 4: inconclusive, the load machine (this
    # busy one) fell behind. Never 1: a healthy server passes every documented load command.
    "elsercheck load": {0, 3, 4},
    # 1: a cell sustained no rate within the objective; 4: no rate failed either, the load
    # machine or the embedded simulator fell behind at every rate tried.
    "elsercheck capacity": {0, 1, 4},
    # 1: the run's expectations; 3: a regression vs history; 4: the run was inconclusive (this
    # busy machine fell behind during it).
    "elsercheck report": {0, 1, 3, 4},
    # 1: findings. As the README says, the whole spec also covers the other services and the
    # checks the gate leaves out; the gate's test_schema.py is the curated run.
    "schemathesis run": {0, 1},
    # 1: findings (the shared server may change between the snapshot and verify: other
    # commands run on it), differences touching the snapshot; 4: verify without a baseline.
    "elsercheck doctor": {0, 1},
    "elsercheck verify": {0, 1, 4},
    "elsercheck upgrade-check": {0, 1},
}


# Commands that run but fail today for a reason outside this test, each with that reason.
# Strict: once the cause is fixed the test turns red until its entry goes.
KNOWN_FAILURES: list[tuple[Callable[[Command], bool], str]] = []
# Runs of a few seconds; everything else drives a load, a gate or a sweep.
FAST_KINDS = {"export", "make run", "make test", "make check", "pip install", "elsercheck spec",
              "elsercheck serve", "curl"}  # fmt: skip
# Commands a later command of their block needs first: they write its input file.
PREREQUISITES = {"elsercheck spec", "elsercheck snapshot"}
# Hours at most, against a hang (a busy CI machine is slow; the commands bound themselves).
TIMEOUT_S = 3600.0


def _params() -> Iterator[object]:
    for command in COMMANDS:
        kind = classify(command)
        slow = kind is not None and kind not in FAST_KINDS  # an unknown one fails fast
        marks = [pytest.mark.slow] if slow else []
        marks += [pytest.mark.xfail(strict=True, reason=why)
                  for known, why in KNOWN_FAILURES if known(command)]  # fmt: skip
        yield pytest.param(command, id=f"L{command.line}-{command.text[:60]}", marks=marks)


def _block(command: Command) -> list[Command]:
    return [c for c in COMMANDS if c.block == command.block]


# -- targets -------------------------------------------------------------------------------------
@dataclass
class Target:
    url: str
    api_key: str
    password: str
    ca_certs: str = ""
    low_privilege_api_key: str = ""  # only monitor_inference (the gate's 403 checks)


def _api_key(url: str, verify: bool | str = True, **body: object) -> str:
    with httpx.Client(base_url=url, auth=("elastic", PASSWORD), verify=verify) as client:
        answer = client.post("/_security/api_key", json={"name": "readme-commands", **body})
        answer.raise_for_status()
        return str(answer.json()["encoded"])


MONITOR_ONLY = {"role_descriptors": {"monitor": {"cluster": ["monitor_inference"]}}}


@pytest.fixture(scope="module")
def plain() -> Iterator[Target]:
    config = ServerConfig(password=PASSWORD, timing=PRESETS["fast"])
    with EmbeddedServer(config) as server:
        yield Target(server.url, _api_key(server.url), PASSWORD,
                     low_privilege_api_key=_api_key(server.url, **MONITOR_ONLY))  # fmt: skip


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    directory = tmp_path_factory.mktemp("readme-tls")
    config = ServerConfig(password=PASSWORD, timing=PRESETS["fast"], tls=True)
    with EmbeddedServer(config, tls_dir=directory) as server:
        ca = str(directory / "ca.crt")
        yield Target(server.url, _api_key(server.url, ca), PASSWORD, ca,
                     _api_key(server.url, ca, **MONITOR_ONLY))  # fmt: skip


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory the commands run in: the checkout's suite folders, scratch reports."""
    directory = tmp_path_factory.mktemp("readme-work")
    for name in ("contracts", "loadtests"):
        (directory / name).symlink_to(ROOT / name)
    (directory / "reports").mkdir()
    return directory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- rewriting a command for the embedded server -------------------------------------------------
CLUSTER_URLS = ("https://my-cluster:9200", "https://es:9200", "http://localhost:9200")
SECRET_OF = {
    "ELASTICSEARCH_API_KEY": "README_TEST_API_KEY",
    "ELASTICSEARCH_LOW_PRIVILEGE_API_KEY": "README_TEST_LOW_PRIVILEGE_API_KEY",
    "ELASTICSEARCH_PASSWORD": "README_TEST_PASSWORD",
    "ELASTIC_PASSWORD": "README_TEST_PASSWORD",
}
CREDENTIALS = ("ELASTICSEARCH_API_KEY", "ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD")


def names_a_cluster(text: str) -> bool:
    return any(url in text for url in CLUSTER_URLS) or bool(re.search(r"--url\b", text))


def rewrite(text: str, target: Target | None, placeholders: dict[str, str]) -> str:
    """``text`` against ``target``: its URL, CA file, secrets from variables, free ports."""
    for name, variable in SECRET_OF.items():
        text = re.sub(rf"\b{name}=\.\.\.", f'{name}="${variable}"', text)
    if target is not None:
        for url in CLUSTER_URLS:
            text = text.replace(url, target.url)
        text = re.sub(r"--url \.\.\.", f"--url {target.url}", text)
        text = re.sub(r"(--ca-certs) ca\.crt\b", rf"\1 {target.ca_certs}", text)
        program = Command(text, 0, 0, ()).program
        if (program[:1] == ["elsercheck"] and program[1:2] in (["load"], ["capacity"])
                and names_a_cluster(text) and "--timing" not in program):  # fmt: skip
            text += " --timing fast"
            # The cluster's own scaler setting becomes the embedded server's, as its URL does:
            # the README's 120 s is a real cluster's; on the fast server it would idle 20 times
            # longer than the server takes to reach zero. The option replaces the timing field
            # of the same name, so the preset's value is in the option's own unit.
            fast_zero = PRESETS["fast"].scale_to_zero_seconds
            text = re.sub(r"(--scale-to-zero-seconds) \S+", rf"\1 {fast_zero:g}", text)
    for placeholder, value in placeholders.items():
        text = text.replace(placeholder, value)
    return text


def environment(workdir: Path, target: Target | None, script: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ELASTICSEARCH_", "ELASTIC_PASSWORD", "README_TEST_"))}  # fmt: skip
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ELSERCHECK_REPORTS"] = str(workdir / "reports")
    if target is not None:
        env["README_TEST_API_KEY"] = target.api_key
        env["README_TEST_LOW_PRIVILEGE_API_KEY"] = target.low_privilege_api_key
        env["README_TEST_PASSWORD"] = target.password
        named = "$ELASTICSEARCH_API_KEY" in script and "ELASTICSEARCH_API_KEY=" not in script
        if named or not any(name in script for name in CREDENTIALS):
            env["ELASTICSEARCH_API_KEY"] = target.api_key  # "credentials best in the env"
    else:
        env["README_TEST_PASSWORD"] = PASSWORD
    return env


def run_bash(script: str, env: dict[str, str], cwd: Path, timeout: float = TIMEOUT_S
             ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(["bash", "-c", script], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip


def with_exports(command: Command, text: str, target: Target | None) -> str:
    exports = [rewrite(line, target, {}) for line in command.exports]
    return "\n".join(["set -e", *exports, text])


def assert_ran(result: subprocess.CompletedProcess[str], accepted: set[int], what: str) -> None:
    output = f"$ {what}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
    assert result.returncode in accepted, f"exit {result.returncode}\n{output}"
    assert "Traceback" not in result.stdout + result.stderr, output


# -- runners, one per kind -----------------------------------------------------------------------
Runner = Callable[[Command, "Context"], None]


@dataclass
class Context:
    request: pytest.FixtureRequest
    workdir: Path

    @functools.cached_property
    def plain(self) -> Target:
        return self.request.getfixturevalue("plain")

    @functools.cached_property
    def tls(self) -> Target:
        return self.request.getfixturevalue("tls")

    def target(self, command: Command) -> Target | None:
        if not names_a_cluster(command.text):
            return None
        return self.tls if "--ca-certs" in command.words else self.plain

    def placeholders(self) -> dict[str, str]:
        return self.request.getfixturevalue("load_runs")


def run_export(command: Command, ctx: Context) -> None:
    """Run it; every variable it sets is one elsercheck reads, and it holds the secret."""
    script = with_exports(command, rewrite(command.text, ctx.plain, {}), ctx.plain) + "\nenv -0"
    result = run_bash(script, environment(ctx.workdir, ctx.plain, script), ctx.workdir)
    assert_ran(result, {0}, command.text)
    env = dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)
    names = [w.split("=", 1)[0] for w in command.words[1:]]
    known = {*SECRET_OF, "ELASTICSEARCH_USERNAME", "ELASTICSEARCH_URL", "ELASTICSEARCH_CA_CERTS"}
    assert set(names) <= known, f"{command}: not a variable elsercheck reads"
    for name in names:
        assert env.get(name), f"{command}: {name} not set"
        assert env[name] != "...", f"{command}: the placeholder was not replaced"


def run_covered(command: Command, ctx: Context) -> None:
    """Not run here: the covering test runs it (for a make target: what its recipe runs)."""
    entry = COVERED.get(command.text) or COVERED[classify(command) or ""]
    recipe_runs, covering_file, covering_test, runs = entry
    if recipe_runs is not None:
        makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
        target = command.words[1]
        recipe = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.M)
        assert recipe and recipe_runs in recipe.group(1), f"{command}: Makefile recipe changed"
    source = covering_file.read_text(encoding="utf-8")
    if covering_test:
        body = source.split(f"def {covering_test}(", 1)
        assert len(body) == 2, f"{command}: covering test {covering_test} is gone"
        source = body[1].split("\ndef ", 1)[0]
    assert runs in source, f"{command}: {covering_file.name} no longer runs {runs!r}"


# The smallest run that still exercises a command as written, for kinds whose run length is
# a matter of budget (generated examples, seconds per capacity point, repeats, the knee's
# bracket), appended when the README leaves the option out: the README's own arguments stay the
# user's. The values are those the suite's own tests of each command use (tests/test_gate.py,
# test_defects.py, test_capacity_run.py); the gate's defaults generate 25 examples per
# operation, a capacity point holds 60 cluster seconds twice and the sweep bisects to 5 %
# (a cell's saturation point at least as long: 40 bulks at one allocation, 7 cluster minutes)
# (figures are test_capacity_run's to check: here the widest bracket the option allows, a
# factor 2, which ends most cells at their first bracket: 2 points instead of 4). A gate
# waits on its target most of the time (about a third of a core while it runs), so the whole
# catalogue's self-test runs 4 gates at a time.
SMALLEST: dict[str, tuple[tuple[str, str], ...]] = {
    "elsercheck gate": (("--max-examples", "5"),),
    "pytest contracts/": (("--max-examples", "5"),),
    "schemathesis run": (("--max-examples", "5"),),
    "elsercheck selftest": (("--max-examples", "5"), ("--jobs", "4")),
    "elsercheck capacity": (
        ("--point-seconds", "20"),
        ("--repeats", "1"),
        ("--resolution", "1"),
        ("--saturation-seconds", "20"),
    ),
}


def smallest(text: str, kind: str) -> str:
    """``text`` with the budget options of :data:`SMALLEST` it does not give itself."""
    words = Command(text, 0, 0, ()).words
    for option, value in SMALLEST.get(kind, ()):
        if option not in words:
            text += f" {option} {value}"
    return text


def run_to_completion(command: Command, ctx: Context) -> None:
    """Run it as shown (rewritten for the embedded server, at its smallest budget); it must
    end with an exit code that says it ran."""
    kind = classify(command) or ""
    # Files an earlier command of the block writes (``elsercheck spec -o elser.json``); a
    # writer that reads a cluster (``elsercheck snapshot``) brings its target along.
    prerequisites = [c for c in _block(command)
                     if c.line < command.line and classify(c) in PREREQUISITES]  # fmt: skip
    target = ctx.target(command) or next(
        (ctx.target(c) for c in prerequisites if ctx.target(c) is not None), None)  # fmt: skip
    placeholders = ctx.placeholders() if "<run-id>" in command.text else {}
    text = smallest(rewrite(command.text, target, placeholders), kind)
    if "--web" in command.words and "--web-port" not in command.words:
        text += f" --web-port {free_port()}"
    writers = [rewrite(c.text, target, {}) for c in prerequisites]
    script = with_exports(command, "\n".join([*writers, text]), target)
    result = run_bash(script, environment(ctx.workdir, target, script), ctx.workdir)
    assert_ran(result, ACCEPTED.get(kind, {0}), text)


def run_server(command: Command, ctx: Context) -> None:
    """``elsercheck serve`` in the foreground: it answers on its (free) port, then stops
    cleanly on SIGTERM; ``--list-…`` prints and ends."""
    if any(w.startswith("--list-") for w in command.words):
        return run_to_completion(command, ctx)
    port = free_port()
    text = rewrite(command.text.rstrip("& "), None, {})
    text = re.sub(r"--port \d+", f"--port {port}", text) if "--port" in text else (
        f"{text} --port {port}")  # fmt: skip
    script = with_exports(command, f"exec {text}", None)
    env = environment(ctx.workdir, None, script)
    log = ctx.workdir / f"serve-{command.line}.log"
    with log.open("w") as sink:
        process = subprocess.Popen(["bash", "-c", script], env=env, cwd=ctx.workdir,
                                   stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
    try:
        listening = wait_listening(port, process)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    output = log.read_text()
    assert listening, f"{command}: never listened on {port}\n{output}"
    assert process.returncode == 0, f"{command}: exit {process.returncode}\n{output}"
    assert "Traceback" not in output, output


def wait_listening(port: int, process: subprocess.Popen[bytes], limit_s: float = 120) -> bool:
    deadline = time.monotonic() + limit_s  # against a hang only
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


def run_block(command: Command, ctx: Context) -> None:
    """A block with a server in the background: the block as one script; this command's step
    must have succeeded."""
    steps = ctx.request.getfixturevalue("background_blocks")(command.block)
    status = steps.get(command.line)
    assert status == 0, f"{command}: step exit {status}\n{steps.get('output')}"


RUNNERS: dict[str, Runner] = {
    "export": run_export,
    "make run": run_covered,
    "make test": run_covered,
    "make check": run_covered,
    "pip install": run_covered,
    "elsercheck serve": run_server,
    "curl": run_block,
    **{f"elsercheck {name}": run_to_completion
       for name in ("gate", "spec", "load", "capacity", "report", "selftest", "run",
                    "snapshot", "verify", "upgrade-check", "doctor")},
    "pytest contracts/": run_to_completion,
    "schemathesis run": run_to_completion,
    "locust -f": run_to_completion,
}  # fmt: skip


@pytest.fixture(scope="module")
def background_blocks(workdir: Path) -> Callable[[int], dict[object, object]]:
    """Run each block with a background command once: {README line: step exit code}."""
    done: dict[int, dict[object, object]] = {}

    def run(block: int) -> dict[object, object]:
        if block not in done:
            done[block] = _run_background_block(block, workdir)
        return done[block]

    return run


def _run_background_block(block: int, workdir: Path) -> dict[object, object]:
    port = free_port()
    lines = ["set -u", 'trap \'[ -n "${SERVER:-}" ] && kill "$SERVER"; wait\' EXIT']
    for command in [c for c in COMMANDS if c.block == block]:
        text = rewrite(command.text, None, {}).replace("localhost:9200", f"127.0.0.1:{port}")
        if command.background:
            text = text.rstrip("& ")
            text = re.sub(r"--port \d+", f"--port {port}", text) if "--port" in text else (
                f"{text} --port {port}")  # fmt: skip
            lines += [f"{text} > server.log 2>&1 &", "SERVER=$!", "rc=1",
                      f"for _ in $(seq 600); do curl -s -o /dev/null 127.0.0.1:{port} && "
                      "{ rc=0; break; }; sleep 0.2; done",
                      f"echo STEP {command.line} $rc"]  # fmt: skip
            continue
        if command.program[:1] == ["curl"]:
            text = text.replace("curl ", "curl -sS --fail-with-body ", 1)
        lines += [text, "rc=$?", f"echo; echo STEP {command.line} $rc"]
    script = "\n".join(lines)
    result = run_bash(script, environment(workdir, None, script), workdir, timeout=600)
    steps: dict[object, object] = {
        int(m.group(1)): int(m.group(2))
        for m in re.finditer(r"^STEP (\d+) (\d+)$", result.stdout, re.M)
    }
    log = workdir / "server.log"
    steps["output"] = result.stdout + result.stderr + (log.read_text() if log.exists() else "")
    return steps


@pytest.fixture(scope="module")
def load_runs(plain: Target, workdir: Path) -> dict[str, str]:
    """Two short load runs for the report commands: ``<run-id>`` the second, the README's
    baseline id the first (in the history)."""
    env = environment(workdir, plain, "")
    # --no-report: the README's report commands below write the reports
    base = [str(BIN / "elsercheck"), "load", "--url", plain.url, "--timing", "fast", "--shape",
            "constant", "--peak-users", "2", "--duration", "4", "--lifecycle-users", "0",
            "--no-report"]  # fmt: skip
    loads = workdir / "reports" / "load"
    ids = []
    for _ in range(2):
        before = set(loads.iterdir()) if loads.is_dir() else set()
        result = subprocess.run(base, env=env, cwd=workdir, capture_output=True, text=True,
                                timeout=TIMEOUT_S)  # fmt: skip
        assert result.returncode in (0, 1, 4), result.stdout + result.stderr
        (run_dir,) = set(loads.iterdir()) - before
        ids.append(run_dir.name)
    first = subprocess.run([str(BIN / "elsercheck"), "report", str(loads / ids[0])], env=env,
                           cwd=workdir, capture_output=True, text=True, timeout=TIMEOUT_S)  # fmt: skip
    assert first.returncode in (0, 1, 3, 4), first.stdout + first.stderr
    baseline = re.search(r"--baseline (\S+)", README.read_text(encoding="utf-8"))
    placeholders = {"<run-id>": ids[1]}
    if baseline:
        placeholders[baseline.group(1)] = ids[0]
    return placeholders


# -- the tests -----------------------------------------------------------------------------------
def test_the_readme_parses_into_commands() -> None:
    """The parser sees the README's blocks: continuation lines joined, comments gone."""
    assert len(COMMANDS) >= 30, [str(c) for c in COMMANDS]
    assert not any(c.text.endswith("\\") or "  #" in c.text for c in COMMANDS)
    joined = [c for c in COMMANDS if c.program[:1] == ["schemathesis"]]
    assert joined and "-H" in joined[0].words, "a continued command lost its tail"
    sample = parse_readme("```sh\nexport A=1   # x\nrun --a \\\n  --b  # c\n```\n")
    assert [(c.text, c.exports) for c in sample] == [
        ("export A=1", ()),
        ("run --a --b", ("export A=1",)),
    ]


@pytest.mark.parametrize("command", COMMANDS, ids=[f"L{c.line}-{c.text[:60]}" for c in COMMANDS])
def test_every_readme_command_has_a_runner(command: Command) -> None:
    kind = classify(command)
    assert kind is not None, f"{command}: no rule knows this command; teach this test to run it"
    assert kind in RUNNERS, f"{command}: kind {kind!r} has no runner"


@pytest.mark.parametrize("command", list(_params()))
def test_readme_command_runs(command: Command, request: pytest.FixtureRequest,
                             workdir: Path) -> None:  # fmt: skip
    kind = classify(command)
    if kind is None or kind not in RUNNERS:
        pytest.fail(f"{command}: no runner (see test_every_readme_command_has_a_runner)")
    RUNNERS[kind](command, Context(request, workdir))


def test_a_command_no_rule_knows_fails() -> None:
    (unknown,) = parse_readme("```sh\nfrobnicate --all\n```\n")
    assert classify(unknown) is None
    (known,) = parse_readme("```sh\nELASTICSEARCH_API_KEY=... elsercheck gate --url x\n```\n")
    assert classify(known) == "elsercheck gate"


@pytest.mark.parametrize("text", ["make run", "make test", "pip install ."])
def test_what_runs_elsewhere_is_found_where_it_runs(text: str, request: pytest.FixtureRequest,
                                                    tmp_path: Path) -> None:  # fmt: skip
    """The coverage rule holds for every command it may meet (the README shows some of them)."""
    (command,) = parse_readme(f"```sh\n{text}\n```\n")
    run_covered(command, Context(request, tmp_path))


def test_a_budget_option_is_appended_only_where_the_readme_leaves_it_out() -> None:
    kind = "elsercheck capacity"
    assert smallest("elsercheck capacity --repeats 3", kind) == (
        "elsercheck capacity --repeats 3 --point-seconds 20 --resolution 1 --saturation-seconds 20"
    )
    assert smallest("elsercheck gate --max-examples 9", "elsercheck gate").endswith("9")
    assert smallest("elsercheck spec -o x.json", "elsercheck spec") == "elsercheck spec -o x.json"
    # Every budget option is one the command knows (a typo would make it exit 2).
    from elsercheck.cli import build_parser

    parser = build_parser()
    for kind, options in SMALLEST.items():
        if kind.startswith("elsercheck "):
            argv = [kind.split()[1], *[word for option in options for word in option]]
            assert parser.parse_known_args(argv)[1] == [], (kind, argv)


def test_the_clusters_scale_to_zero_becomes_the_embedded_servers() -> None:
    (command,) = [c for c in COMMANDS if "--scale-to-zero-seconds" in c.words] or [
        Command("elsercheck load --url ... --shape idle-to-zero --scale-to-zero-seconds 120",
                0, 0, ())]  # fmt: skip
    target = Target("http://127.0.0.1:1", "key", PASSWORD)
    words = shlex.split(rewrite(command.text, target, {}))
    assert words[words.index("--timing") + 1] == "fast"
    value = float(words[words.index("--scale-to-zero-seconds") + 1])
    assert value == PRESETS["fast"].scale_to_zero_seconds
