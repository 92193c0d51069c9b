"""Contract suite configuration: the target, its version profile, and safe endpoint handling.

Run it directly:

    ELASTICSEARCH_API_KEY=... pytest contracts/ -n auto --es-url https://my-cluster:9200

Credentials come from ELASTICSEARCH_API_KEY or ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD
(kept out of the command line and of reports).

SIGTERM and SIGHUP end the session as Ctrl-C does (``elsercheck.signals``), in every xdist
worker too: the current test stops, fixtures' finalizers run, the run prefix is swept, and the
process exits 128 + n.
"""

from __future__ import annotations

import json
import os
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contract_support import (
    HOOKS,
    RECORDER,
    USED,
    EndpointTracker,
    Profile,
    deviation_version,
    known_deviations,
    load_profile,
    profile_lines,
)
from elsercheck import heap, signals
from elsercheck.endpoints import endpoint_prefix
from elsercheck.retry import retrying
from elsercheck.run_id import new_run_id
from elsercheck.selftest_pytest import SCHEMA_MODULE, SCHEMA_STAGES
from elsercheck.target import Target, TargetError


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("elsercheck contracts")
    group.addoption("--es-url", default=os.environ.get("ELASTICSEARCH_URL"),
                    help="target URL (env ELASTICSEARCH_URL)")  # fmt: skip
    group.addoption("--es-ca-certs", default=os.environ.get("ELASTICSEARCH_CA_CERTS"),
                    help="CA certificate file (env ELASTICSEARCH_CA_CERTS)")  # fmt: skip
    group.addoption("--es-insecure", action="store_true", help="skip HTTPS verification")
    group.addoption("--run-id", default=None, help="run id used in the endpoint prefix")
    group.addoption("--max-deployments", type=int, default=2,
                    help="deployments alive at once per worker (default 2)")  # fmt: skip
    group.addoption("--allocation-wait", type=float, default=300.0,
                    help="seconds to wait for fully_allocated (default 300)")  # fmt: skip
    group.addoption("--scale-to-zero-wait", type=float, default=None,
                    help="seconds a deployment takes to scale to zero; enables the 409 check")  # fmt: skip
    group.addoption("--leftovers-file", default=None, help="JSON list of ids not deleted")
    group.addoption("--max-examples", type=int, default=25,
                    help="schemathesis examples per operation (default 25)")  # fmt: skip
    group.addoption("--profile", default=None, metavar="V",
                    help="expect version V's answers (a profile under profiles/), whatever the "
                    "target reports")  # fmt: skip
    group.addoption("--no-known-deviations", action="store_true",
                    help="do not expect the version's known upstream bugs (strict xfails off)")  # fmt: skip
    group.addoption("--profile-report", default=None, metavar="PATH",
                    help="write the profile applied and the known deviations to PATH (JSON)")  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    # test_schema.py builds its schemathesis schema at import, before fixtures exist.
    os.environ["ELSERCHECK_MAX_EXAMPLES"] = str(config.getoption("--max-examples"))
    forced = config.getoption("--profile")
    if forced is not None and forced not in profile_lines():
        raise pytest.UsageError(
            f"no contract profile {forced!r}; profiles: {', '.join(profile_lines())}"
        )
    _stop_on_signals(config)


def _stop_on_signals(config: pytest.Config) -> None:
    """SIGINT/SIGTERM/SIGHUP raise KeyboardInterrupt (once); die with the parent process."""
    xdist_master = not hasattr(config, "workerinput") and bool(
        getattr(config.option, "numprocesses", None)
    )

    def pass_on(signum: int) -> None:
        # The workers share this process's group when it leads one (as under `elsercheck
        # gate`); a signal sent to this pid alone reaches them this way.
        if xdist_master and os.getpgrp() == os.getpid():
            os.killpg(os.getpgrp(), signum)

    signals.install(pass_on)
    signals.die_with_parent()
    if not hasattr(config, "workerinput"):
        os.environ[signals.PARENT_ENV] = str(os.getpid())  # xdist workers die with this process


def _target(config: pytest.Config) -> Target:
    return Target.from_options(
        config.getoption("--es-url"),
        ca_certs=config.getoption("--es-ca-certs"),
        insecure=config.getoption("--es-insecure"),
    )


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    try:
        return _target(pytestconfig)
    except TargetError as exc:
        pytest.exit(f"elsercheck contracts: {exc}", returncode=2)


@pytest.fixture(scope="session")
def es(target: Target) -> Iterator[httpx.Client]:
    """A client with the target's credentials; retries 502/503 only (``elsercheck.retry``)."""
    with target.client(timeout=120, event_hooks=HOOKS, retry=True) as client:
        yield client


@pytest.fixture(scope="session")
def cluster_info(es: httpx.Client, target: Target) -> dict:
    try:
        response = es.get("/")
    except httpx.HTTPError as exc:
        pytest.exit(f"elsercheck contracts: cannot reach {target.url}: {exc}", returncode=2)
    if response.status_code == 401:
        pytest.exit(f"elsercheck contracts: {target.url} rejected the credentials", returncode=2)
    return response.json()


@pytest.fixture(scope="session")
def profile(cluster_info: dict, pytestconfig: pytest.Config) -> Profile:
    # An unknown --profile was refused in pytest_configure, before any test ran.
    return load_profile(cluster_info["version"]["number"], pytestconfig.getoption("--profile"))


@pytest.fixture(scope="session")
def security_enabled(target: Target) -> bool:
    """Whether the target must refuse a request without credentials.

    Given credentials, the target is expected to have security on: a target that then lets
    anonymous requests through fails the auth checks instead of skipping them.
    """
    if target.api_key or target.username:
        return True
    with httpx.Client(
        base_url=target.url, timeout=30, transport=retrying(target.verify())
    ) as anonymous:
        return anonymous.get("/_inference").status_code == 401


@pytest.fixture(scope="session")
def run_prefix(pytestconfig: pytest.Config, worker_id: str) -> str:
    run_id = pytestconfig.getoption("--run-id") or os.environ.get("ELSERCHECK_RUN_ID")
    worker = "" if worker_id == "master" else worker_id.removeprefix("gw") + "-"
    return endpoint_prefix(run_id or new_run_id()) + worker


@pytest.fixture(scope="session")
def tracker(
    es: httpx.Client, run_prefix: str, pytestconfig: pytest.Config
) -> Iterator[EndpointTracker]:
    """Every endpoint a test creates goes through here; all are deleted at session end."""
    leftovers = pytestconfig.getoption("--leftovers-file")
    tracked = EndpointTracker(
        es, run_prefix, pytestconfig.getoption("--max-deployments"),
        Path(leftovers) if leftovers else None,
    )  # fmt: skip
    pytestconfig.stash[_TRACKER] = tracked
    yield tracked
    tracked.cleanup()


_TRACKER = pytest.StashKey[EndpointTracker]()


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Also on Ctrl-C, stop signals and errors: nothing created is left behind silently.
    tracked = session.config.stash.get(_TRACKER, None)
    if tracked is not None:
        failed = tracked.cleanup()
        if failed:
            print(f"\nelsercheck contracts: could not delete {', '.join(failed)}")
    if (signum := signals.received()) is not None:
        print(f"\nelsercheck contracts: stopped by {signal.Signals(signum).name}")
        session.exitstatus = signals.exit_code(signum)  # 130 SIGINT, 143 SIGTERM, 129 SIGHUP


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session):  # type: ignore[no-untyped-def]
    """Schemathesis generates every operation's cases at collection, a heap that lives until
    the session ends: built without the collector's walks over it, then frozen (elsercheck.heap:
    0.4-0.5 s of a whole gate's child)."""
    with heap.built_without_collection():
        return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Nothing of the run is left to finalise (its files are written, its endpoints deleted):
    the interpreter's exit need not walk the heap of generated cases (0.6–0.8 s of a whole
    gate, 0.4 s of a defect's first-catch run)."""
    heap.exit_without_collection()


@pytest.fixture(scope="session")
def allocation_wait(pytestconfig: pytest.Config) -> float:
    return pytestconfig.getoption("--allocation-wait")


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    """xdist's worker id, or ``master`` without xdist."""
    workerinput = getattr(request.config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "master"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Attach curl reproducers (credentials redacted) of the last requests to a failure."""
    report = yield
    if report.when == "setup":
        RECORDER.take()  # start each test with an empty record
        USED.take()
        return report
    if report.when == "call" and (used := USED.take()):
        # The profile entries this check depends on: a version difference names its rule
        # (on the item, as the reproducers below: JUnit reads the teardown report).
        item.user_properties.append(("profile_rules", ",".join(used)))
    if report.failed and call.when == "call":
        # On the item: JUnit XML takes properties from the teardown report, made from it.
        for index, command in enumerate(RECORDER.take(), start=1):
            item.user_properties.append((f"curl_{index}", command))
    return report


_RESOLVED = pytest.StashKey[tuple[Profile, list[dict]] | None]()


def _profile_and_deviations(config: pytest.Config) -> tuple[Profile, list[dict]] | None:
    """The profile that applies and the known deviations it expects (once per process);
    ``None`` when the target cannot be asked (the session fixtures report why)."""
    if _RESOLVED in config.stash:
        return config.stash[_RESOLVED]
    resolved = None
    try:
        target = _target(config)
        with target.client(timeout=30, retry=True) as client:
            version = client.get("/").json()["version"]["number"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the profile fixture warns, once, in the report
            profile = load_profile(version, config.getoption("--profile"))
        deviations = (
            [] if config.getoption("--no-known-deviations")
            else known_deviations(deviation_version(profile))
        )  # fmt: skip
        resolved = (profile, deviations)
    except (TargetError, httpx.HTTPError, KeyError, ValueError):
        pass
    config.stash[_RESOLVED] = resolved
    return resolved


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The marks' two stages leave the other stage's modules uncollected: ``-m "not schema"``
    (the explicit checks only) test_schema.py, whose collection builds its generated cases (about
    4 s of CPU for nothing); ``-m schema`` the other test modules. Every test of test_schema.py
    is marked ``schema`` and no other is. None: pytest decides."""
    name = collection_path.name
    if not (name.startswith("test_") and name.endswith(".py")):
        return None
    stage = " ".join(config.option.markexpr.split())
    if stage not in SCHEMA_STAGES:
        return None
    return True if (name == SCHEMA_MODULE) == (stage == "not schema") else None


def pytest_sessionstart(session: pytest.Session) -> None:
    # The controlling process (with or without xdist workers) says which profile applies.
    if not hasattr(session.config, "workerinput"):
        resolved = _profile_and_deviations(session.config)
        if resolved is not None:
            _report_profile(session.config, *resolved)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Known deviations become strict xfails for the target's version (or the forced
    profile's): reported as expected failures while the bug is there, red once it is fixed."""
    resolved = _profile_and_deviations(config)
    for deviation in resolved[1] if resolved else []:
        for item in items:
            if item.nodeid.endswith(deviation["test"]) or deviation["test"] in item.nodeid:
                item.add_marker(pytest.mark.xfail(reason=deviation["reason"], strict=True))


def _report_profile(config: pytest.Config, profile: Profile, deviations: list[dict]) -> None:
    """Say which profile applied, on the terminal (when pytest has one: a quiet run, as
    selftest's, has none) and in ``--profile-report``."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"elsercheck contracts: {profile.describe()}")
        for deviation in deviations:
            reporter.write_line(
                f"elsercheck contracts: known deviation expected: {deviation['reason']}"
            )
    path = config.getoption("--profile-report")
    if path:
        report = {**profile.to_json(), "known_deviations": deviations}
        Path(path).write_text(json.dumps(report, indent=2), encoding="utf-8")


def pytest_report_header(config: pytest.Config) -> str | None:
    forced = config.getoption("--profile")
    return f"elsercheck contracts: profile forced to {forced}" if forced else None
