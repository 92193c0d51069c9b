"""Shared fixtures: reference servers (in-process, or on a loopback port where the wire
matters), and clients for them."""

from __future__ import annotations

import html
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from elsercheck import heap
from elsercheck.endpoints import elser_body  # noqa: F401 (the tests take it from here)
from elsercheck.paths import resource_dir
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.timing import PRESETS
from tests.gate_runs import CleanGateRun
from tests.gate_runs import clean_gate_run as _clean_gate_run
from tests.inprocess import InProcessServer
from tests.tiers import (  # noqa: F401 (tier_guard: autouse)
    DurationRecorder,
    check_groups,
    load_durations,
    make_scheduler,
    mark_tiers,
    order_longest_first,
    tier_guard,
)

PASSWORD = "test-password"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-durations",
        metavar="PATH",
        type=Path,
        help="write each test's seconds to PATH, the table that orders tests longest first "
        "(tests/durations.json: `make durations`)",
    )


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--store-durations")
    if path is not None and not hasattr(config, "workerinput"):  # the controller's reports
        config.pluginmanager.register(DurationRecorder(path), "elsercheck-durations")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tier marks (``port``, ``process``, ``slow``) from what each test reaches, and the
    longest tests first: tests/tiers.py."""
    mark_tiers(items)
    check_groups(items)
    order_longest_first(items, load_durations())


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session):  # type: ignore[no-untyped-def]
    """Every module imported and every item built once, without the collector's walks, then
    frozen (elsercheck.heap): full collections during the run skip that heap (a worker spent
    8 % of its CPU on them, half of it walking what collection built)."""
    with heap.built_without_collection():
        return (yield)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown under -p no:xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """``--dist loadgroup`` groups the readers of a shared run (tests/tiers.py ``GROUPS``)."""
    return make_scheduler(config, log) if config.getvalue("dist") == "loadgroup" else None


@pytest.fixture(scope="session")
def server() -> Iterator[InProcessServer]:
    """A secured in-process reference server with instant timing, shared by the session."""
    with InProcessServer(ServerConfig(password=PASSWORD, timing=PRESETS["instant"])) as running:
        yield running


@pytest.fixture(scope="session")
def open_server() -> Iterator[InProcessServer]:
    """An in-process reference server with security off."""
    with InProcessServer(ServerConfig(security=False, timing=PRESETS["instant"])) as running:
        yield running


@pytest.fixture(scope="module")
def data_server() -> Iterator[InProcessServer]:
    """An open, conformant in-process server of the data-path tests (indices, documents,
    semantic_text), one per module: their index names only need to be unique in a module."""
    config = ServerConfig(security=False, timing=PRESETS["instant"], conformant=True)
    with InProcessServer(config) as running:
        yield running


@pytest.fixture
def es(data_server: InProcessServer) -> Iterator[httpx.Client]:
    """A client of :func:`data_server`."""
    with data_server.client(timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def wire_server() -> Iterator[EmbeddedServer]:
    """A secured reference server on a loopback port (uvicorn), for tests where the wire
    matters: raw sockets, streamed bodies, separate processes, the official client."""
    with EmbeddedServer(ServerConfig(password=PASSWORD, timing=PRESETS["instant"])) as running:
        yield running


@pytest.fixture(scope="session")
def clean_gate_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CleanGateRun]:
    """One whole gate run against a clean server with pre-existing endpoints, read by several
    tests (tests/gate_runs.py); tests/tiers.py ``GROUPS`` runs them on one worker."""
    with _clean_gate_run(tmp_path_factory.mktemp("clean-gate")) as run:
        yield run


@pytest.fixture
def sketched_charts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The report's charts built as usual but not drawn: each is an ``<svg>`` of its title and
    its figure's texts (titles, labels, legend entries), without matplotlib's layout and SVG
    output, four fifths of a report's CPU time. For the tests of what a report compares and
    says; tests/test_report.py and the chromium tests draw them."""
    from elsercheck.report import charts

    def texts(figure: Any) -> Iterator[str]:  # without findobj: it builds every tick
        legends = list(figure.legends)
        yield from (text.get_text() for text in figure.texts)
        for axes in figure.axes:
            yield from (axes.get_title(), axes.get_xlabel(), axes.get_ylabel())
            yield from (text.get_text() for text in axes.texts)
            legends.append(axes.get_legend())
        for legend in filter(None, legends):
            yield from (text.get_text() for text in legend.get_texts())

    def sketch(figure: Any, key: str, title: str) -> charts.Chart:
        body = "".join(f"<text>{html.escape(text)}</text>" for text in texts(figure) if text)
        label = html.escape(title, quote=True)
        svg = (f'<svg class="chart" id="chart-{key}" role="img" aria-label="{label}">'
               f"<title>{html.escape(title)}</title>{body}</svg>")  # fmt: skip
        return charts.Chart(key, title, svg)

    monkeypatch.setattr(charts, "render", sketch)


@pytest.fixture
def client(server: InProcessServer) -> Iterator[httpx.Client]:
    """An ``elastic`` superuser client of the shared server."""
    with server.client(auth=("elastic", PASSWORD), timeout=30) as c:
        yield c


@pytest.fixture
def anonymous(server: InProcessServer) -> Iterator[httpx.Client]:
    with server.client(timeout=30) as c:
        yield c


@pytest.fixture
def unique_id(request: pytest.FixtureRequest) -> str:
    """An inference id unique to the test, valid under Elasticsearch's id rules."""
    name = request.node.name.lower()
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")
    return f"t-{cleaned[:60]}-{abs(hash(request.node.nodeid)) % 10**6}"


def assert_error(response: httpx.Response, status: int, type_: str, reason: str | None) -> None:
    """Status, envelope, error type and (when given) the exact reason."""
    assert response.status_code == status, response.text
    assert response.headers["x-elastic-product"] == "Elasticsearch"
    body = response.json()
    assert body["status"] == status
    error = body["error"]
    assert error["type"] == type_, body
    assert error["root_cause"][0]["type"] in (type_, error.get("caused_by", {}).get("type")), body
    if reason is not None:
        assert error["reason"] == reason, body


@pytest.fixture
def support() -> Iterator[ModuleType]:
    """contracts/contract_support.py imported as the gate's pytest imports it (from the
    contracts directory), its process-wide state (recorded requests, first not-allocated
    sightings) cleared before and after the test."""
    contracts = str(resource_dir("contracts"))
    sys.path.insert(0, contracts)
    try:
        import contract_support

        def clear() -> None:
            contract_support.RECORDER.take()
            contract_support._FIRST_NOT_ALLOCATED.clear()

        clear()
        yield contract_support
        clear()
    finally:
        sys.path.remove(contracts)


def _contracts_module(filename: str) -> Iterator[ModuleType]:
    """A file of contracts/ imported as the gate's pytest imports it (its folder importable,
    for contract_support), under a name of its own."""
    contracts = resource_dir("contracts")
    sys.path.insert(0, str(contracts))
    try:
        name = "contracts_" + filename.removesuffix(".py")
        spec = importlib.util.spec_from_file_location(name, contracts / filename)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(contracts))


@pytest.fixture(scope="module")
def schema_test_module() -> Iterator[ModuleType]:
    """contracts/test_schema.py (:func:`_contracts_module`)."""
    yield from _contracts_module("test_schema.py")


@pytest.fixture(scope="module")
def contracts_conftest() -> Iterator[ModuleType]:
    """contracts/conftest.py (:func:`_contracts_module`)."""
    yield from _contracts_module("conftest.py")
