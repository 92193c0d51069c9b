"""The defect catalogue (issue 5): every defect changes the server's behaviour, visibly over
HTTP; unknown names are usage errors; ``elsercheck selftest`` reports which ones the gate
catches."""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from elsercheck.cli import main
from elsercheck.reference.breakage.defects import CATALOGUE, FAMILIES
from elsercheck.reference.breakage.faults import CATALOGUE as FAULTS
from elsercheck.reference.config import ServerConfig
from elsercheck.timing import PRESETS
from tests.conftest import elser_body
from tests.inprocess import InProcessServer
from tests.secret_scan import assert_no_secret

# Restart and upgrade defects: their checks build servers on a data directory (upgrade_checks).
from tests.upgrade_checks import (  # noqa: F401 (CHECKS finds them by name)
    chunking_dropped_on_upgrade,
    legacy_model_version_unmigrated,
    zero_allocation_dropped_on_start,
    zero_allocation_lost_on_restart,
)

PASSWORD = "defect-test"
Check = Callable[[httpx.Client, InProcessServer], None]


def test_catalogue_is_large_unique_and_known() -> None:
    assert len(CATALOGUE) >= 15
    assert all(name == d.name for name, d in CATALOGUE.items())
    assert {d.family for d in CATALOGUE.values()} <= set(FAMILIES)
    assert len({d.family for d in CATALOGUE.values()}) >= 8
    for defect in CATALOGUE.values():
        assert defect.description and "\n" not in defect.description
        # Either a hook at dispatch, or a named check deep in the server: never both, never none.
        hooked = defect.before is not None or defect.after is not None
        assert hooked == (defect.site == "app.dispatch"), defect.name


def _resolve(site: str) -> object:
    """``api.inference.put_endpoint`` → the object, importing the longest module prefix."""
    parts = site.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(
                "elsercheck.reference." + ".".join(parts[:cut])
            )
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            target = getattr(target, name)
        return target
    raise AssertionError(f"no module for site {site!r}")


def test_every_deep_site_names_code_that_exists() -> None:
    """A defect or fault checked deep in the server names its place; a move must not strand it."""
    deep = [d.site for d in CATALOGUE.values() if d.site != "app.dispatch"]
    deep += [f.site for f in FAULTS.values() if f.site != "app.dispatch"]
    assert len(deep) >= 6
    for site in deep:
        assert _resolve(site) is not None, site


def test_unknown_defect_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="unknown defect"):
        ServerConfig(defects=frozenset({"nope"}))


@pytest.mark.parametrize("command", [["serve"], ["selftest"]])
def test_unknown_defect_cli_exit_2(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--defect", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown defect nope" in err


def test_list_defects(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--list-defects"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(CATALOGUE)


# -- one direct HTTP check per defect: it fails on the clean server and holds with the defect --
def _put(c: httpx.Client, inference_id: str, body: dict | None = None) -> httpx.Response:
    return c.put(f"/_inference/sparse_embedding/{inference_id}", json=body or elser_body())


def _stats(c: httpx.Client, inference_id: str) -> dict:
    body = c.get(f"/_ml/trained_models/{inference_id}/_stats").json()
    return body["trained_model_stats"][0]["deployment_stats"]


def renamed_inference_id(c: httpx.Client, s: InProcessServer) -> None:
    body = _put(c, "renamed").json()
    assert body["model_id"] == "renamed" and "inference_id" not in body


def num_threads_as_string(c: httpx.Client, s: InProcessServer) -> None:
    assert _put(c, "threads").json()["service_settings"]["num_threads"] == "1"


def adaptive_enabled_as_string(c: httpx.Client, s: InProcessServer) -> None:
    assert _put(c, "adaptive-echo", _adaptive(0, 2)).status_code == 200
    echoed = c.get("/_inference/adaptive-echo").json()["endpoints"][0]["service_settings"]
    assert echoed["adaptive_allocations"]["enabled"] == "true"


def listing_allocations_as_string(c: httpx.Client, s: InProcessServer) -> None:
    assert _put(c, "listed").status_code == 200
    single = c.get("/_inference/listed").json()["endpoints"][0]["service_settings"]
    listed = next(e for e in c.get("/_inference/_all").json()["endpoints"]
                  if e["inference_id"] == "listed")["service_settings"]  # fmt: skip
    assert single["num_allocations"] == 1 and listed["num_allocations"] == "1"


def missing_product_header(c: httpx.Client, s: InProcessServer) -> None:
    assert "x-elastic-product" not in c.get("/").headers


def wrong_content_type(c: httpx.Client, s: InProcessServer) -> None:
    assert c.get("/").headers["content-type"].startswith("text/plain")


def chunk_size_unbounded(c: httpx.Client, s: InProcessServer) -> None:
    body = {**elser_body(), "chunking_settings": {"strategy": "sentence", "max_chunk_size": 301}}
    assert _put(c, "chunks", body).status_code == 200


def zero_threads_accepted(c: httpx.Client, s: InProcessServer) -> None:
    assert _put(c, "zero", elser_body(num_threads=0)).status_code == 200


def server_error_on_bad_input(c: httpx.Client, s: InProcessServer) -> None:
    response = _put(c, "Upper")
    assert response.status_code == 500 and response.json()["status"] == 500


def wrong_error_type(c: httpx.Client, s: InProcessServer) -> None:
    error = _put(c, "zero", elser_body(num_threads=0)).json()["error"]
    assert error["type"] == error["root_cause"][0]["type"] == "illegal_argument_exception"


def flat_error_envelope(c: httpx.Client, s: InProcessServer) -> None:
    body = c.get("/_inference/nothing-here").json()
    assert body == {"error": "Inference endpoint not found [nothing-here]", "status": 404}


def rejected_put_stored(c: httpx.Client, s: InProcessServer) -> None:
    assert _put(c, "rejected", elser_body(num_threads=3)).status_code == 400
    assert c.get("/_inference/rejected").status_code == 200


def update_num_threads_ignored(c: httpx.Client, s: InProcessServer) -> None:
    assert _put(c, "upd-threads").status_code == 200
    answer = c.put("/_inference/sparse_embedding/upd-threads/_update",
                   json={"service_settings": {"num_allocations": 1, "num_threads": 2}})  # fmt: skip
    assert answer.status_code == 200 and answer.json()["service_settings"]["num_threads"] == 1


def elser_text_embedding_accepted(c: httpx.Client, s: InProcessServer) -> None:
    assert c.put("/_inference/text_embedding/dense-elser", json=elser_body()).status_code == 200
    assert c.get("/_inference/dense-elser").status_code == 200


def deleted_still_answers(c: httpx.Client, s: InProcessServer) -> None:
    assert _put(c, "gone").status_code == 200
    assert c.delete("/_inference/gone").status_code == 200
    assert c.get("/_inference/gone").status_code == 200


def auth_ignored(c: httpx.Client, s: InProcessServer) -> None:
    with s.client() as anonymous:
        assert anonymous.get("/_inference").status_code == 200


def privileges_ignored(c: httpx.Client, s: InProcessServer) -> None:
    key = c.post("/_security/api_key", json={"name": "k", "role_descriptors": {
        "r": {"cluster": ["monitor_inference"]}}}).json()  # fmt: skip
    headers = {"Authorization": f"ApiKey {key['encoded']}"}
    with s.client(headers=headers) as by_key:
        put = by_key.put("/_inference/sparse_embedding/by-key", json=elser_body())
    assert put.status_code == 200


def missing_www_authenticate(c: httpx.Client, s: InProcessServer) -> None:
    with s.client() as anonymous:
        response = anonymous.get("/_inference")
    assert response.status_code == 401 and "www-authenticate" not in response.headers


def stats_double_allocations(c: httpx.Client, s: InProcessServer) -> None:
    assert _put(c, "stats").status_code == 200
    stats = _stats(c, "stats")
    assert stats["number_of_allocations"] == stats["allocation_status"]["allocation_count"] == 2
    assert sum(n["number_of_allocations"] for n in stats["nodes"]) == 1


def _adaptive(min_allocations: int, max_allocations: int) -> dict:
    body = elser_body(adaptive_allocations={"enabled": True,
        "min_number_of_allocations": min_allocations, "max_number_of_allocations": max_allocations})  # fmt: skip
    del body["service_settings"]["num_allocations"]  # type: ignore[attr-defined]
    return body


def _wait_allocations(c: httpx.Client, inference_id: str, predicate, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while True:
        count = _stats(c, inference_id)["allocation_status"]["target_allocation_count"]
        if predicate(count) or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def _ticks(s: InProcessServer, seconds: float) -> int:
    return math.ceil(seconds / s.config.timing.scaler_tick_seconds)


def _wait_allocations_ticks(
    c: httpx.Client, s: InProcessServer, inference_id: str, predicate, ticks: int
) -> int:
    """The target allocation count once ``predicate`` holds or the scaler has ticked
    ``ticks`` times: a slow machine makes the ticks late, never fewer."""
    last = s.scaler_ticks + ticks
    while True:
        count = _stats(c, inference_id)["allocation_status"]["target_allocation_count"]
        if predicate(count) or s.scaler_ticks >= last:
            return count
        s.wait_scaler_ticks(1)


def scaler_ignores_max(c: httpx.Client, s: InProcessServer) -> None:
    # LOADED timing: real service times, 0.1 s scaler ticks; 30 requests at once are load.
    assert _put(c, "capped", _adaptive(1, 1)).status_code == 200
    s.wait_scaler_ticks(2)  # a tick records the baseline first
    with ThreadPoolExecutor(30) as pool:
        futures = [pool.submit(c.post, "/_inference/capped", json={"input": "load " * 100})
                   for _ in range(30)]  # fmt: skip
        peak = 1
        while not all(f.done() for f in futures) and peak <= 1:
            peak = _wait_allocations(c, "capped", lambda n: n > 1, 0.2)
    assert peak > 1, "never went above max_number_of_allocations=1"


def scaler_never_scales_down(c: httpx.Client, s: InProcessServer) -> None:
    # min 0 and no requests: a clean server goes to zero after scale_to_zero_seconds (1 s),
    # at the first tick past it; 20 ticks more of slack, counted in ticks, not seconds.
    assert _put(c, "idle", _adaptive(0, 2)).status_code == 200
    timing = s.config.timing
    idle = _ticks(s, max(timing.scale_to_zero_seconds, timing.scale_down_cooldown_seconds)) + 20
    assert _wait_allocations_ticks(c, s, "idle", lambda n: n == 0, idle) == 1


def negative_weights(c: httpx.Client, s: InProcessServer) -> None:
    assert _put(c, "neg").status_code == 200
    result = c.post("/_inference/neg", json={"input": "hello world"}).json()
    assert min(result["sparse_embedding"][0]["embedding"].values()) < 0


def nondeterministic_weights(c: httpx.Client, s: InProcessServer) -> None:
    assert _put(c, "jitter").status_code == 200
    first, second = (c.post("/_inference/jitter", json={"input": "same"}).json() for _ in "12")
    assert first != second


def eis_429_without_retry_after(c: httpx.Client, s: InProcessServer) -> None:
    for _ in range(100):  # the first authorization poll (instant timing: at once)
        answer = c.post("/_inference/.elser-2-elastic", json={"input": "x"})
        if answer.status_code != 404:
            break
        time.sleep(0.01)
    assert answer.status_code == 429 and "retry-after" not in answer.headers, answer.text


def eis_accepts_allocations(c: httpx.Client, s: InProcessServer) -> None:
    settings = {"model_id": "elser_model_2", "num_allocations": 1}
    answer = c.put("/_inference/sparse_embedding/eis-alloc",
                   json={"service": "elastic", "service_settings": settings})  # fmt: skip
    assert answer.status_code == 200 and "num_allocations" not in answer.text, answer.text


CHECKS: dict[str, Check] = {name: globals()[name.replace("-", "_")] for name in CATALOGUE}
# The scaler needs service times to see load; everything else runs with nothing waiting.
LOADED = PRESETS["instant"].with_overrides(inference_time_scale=1.0, scaler_tick_seconds=0.1)
TIMINGS = {"scaler-ignores-max": LOADED}


@pytest.fixture(scope="module")
def clean() -> Iterator[InProcessServer]:
    # Conformant: without the modelled version's upstream bugs, which are defects too.
    config = ServerConfig(password=PASSWORD, timing=PRESETS["instant"], conformant=True)
    with InProcessServer(config) as server:
        yield server


def _client(server: InProcessServer) -> httpx.Client:
    return server.client(auth=("elastic", PASSWORD), timeout=30)


# Checks that wait on the wall clock (the scaler's ticks; EIS's first authorization poll, which
# a clean server without EIS never makes): the slow tier (tests/tiers.py).
WALL_CLOCK = {"scaler-ignores-max", "scaler-never-scales-down", "eis-429-without-retry-after"}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in WALL_CLOCK else n for n in CATALOGUE]
)
def test_defect_changes_behaviour(name: str, clean: InProcessServer) -> None:
    check = CHECKS[name]
    timing = TIMINGS.get(name, PRESETS["instant"])
    config = ServerConfig(password=PASSWORD, timing=timing, defects=frozenset({name}),
                          conformant=True, eis=CATALOGUE[name].eis)  # fmt: skip
    with InProcessServer(config) as server, _client(server) as c:
        check(c, server)
    # The same check fails on a clean server: the defect is what made it hold.
    with contextlib.ExitStack() as stack:
        if name in TIMINGS:
            fresh = ServerConfig(password=PASSWORD, timing=timing, conformant=True)
            server = stack.enter_context(InProcessServer(fresh))
        else:
            server = clean
        c = stack.enter_context(_client(server))
        for endpoint in c.get("/_inference").json()["endpoints"]:
            if not endpoint["inference_id"].startswith("."):
                c.delete(f"/_inference/{endpoint['inference_id']}")
        with pytest.raises((AssertionError, KeyError)):
            check(c, server)


def test_no_defect_no_hooks(clean: InProcessServer) -> None:
    app = clean.app
    assert not app.defects and app.state.defects == frozenset()  # type: ignore[attr-defined]


@pytest.mark.slow
def test_selftest_subset(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The password each run's server gets, to look for it in everything the runs wrote.
    passwords: list[str] = []

    def config(**settings: Any) -> ServerConfig:
        passwords.append(settings["password"])
        return ServerConfig(**settings)

    monkeypatch.setattr("elsercheck.selftest.ServerConfig", config)
    chosen = ["missing-product-header", "server-error-on-bad-input", "rejected-put-stored"]
    argv = ["selftest", "--report-dir", str(tmp_path), "--max-examples", "5", "--jobs", "4"]
    for name in chosen:
        argv += ["--defect", name]
    assert main(argv) == 0
    captured = capfd.readouterr()  # also the gates' children's output
    out = captured.out
    assert out.strip().splitlines()[-1].startswith("selftest PASS")
    data = json.loads((tmp_path / "selftest.json").read_text())
    assert data["ok"] is True and data["clean"]["exit_code"] == 0
    assert [d["name"] for d in data["defects"]] == chosen
    for defect in data["defects"]:
        assert defect["caught"] is True and defect["tests"] and defect["seconds"] > 0
    # Each defect's gate stopped at the first check that caught it, the quick ones first: the
    # missing product header is met by the first answer the suite checks (auth's 401).
    assert all(len(defect["tests"]) == 1 for defect in data["defects"])
    assert data["defects"][0]["tests"] == ["test_auth.py::test_no_credentials_401"]
    assert len(data["clean"]["tests"]) == 0
    page = (tmp_path / "selftest.html").read_text()
    assert "selftest PASS" in page and all(name in page for name in chosen)
    # Under defects too, no password reaches a report, junit.xml or the output.
    assert len(passwords) == len(chosen) + 1
    for password in passwords:
        assert_no_secret(password, username="elastic", paths=[tmp_path],
                         texts={"stdout": captured.out, "stderr": captured.err})  # fmt: skip
