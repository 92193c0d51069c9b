"""The gate's own cost per case and per run, without a check dropped (issue 25).

The effective spec is built once per process, and no caller can change what the next one
gets; the cleanup DELETE after each schema-generated PUT reads only its status (its answer's
schema is not the case's subject) when it succeeded, keeps the deletion policy, and is still
recorded for reproducers; its error answers and every other answer are still checked against
their schema. A refused generated PUT (most are) is not followed by a DELETE: what such PUTs
may have stored is found by one listing when their operation's cases end.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterator
from types import ModuleType

import httpx
import pytest

from elsercheck import spec
from tests.conftest import PASSWORD

PREFIX = "elsercheck-run-"


def test_the_effective_spec_is_built_once_and_handed_out_as_copies() -> None:
    first = spec.build_effective_spec()
    paths_before = sorted(first["paths"])
    first["paths"].clear()
    first["info"]["title"] = "changed by a caller"
    second = spec.build_effective_spec()
    assert sorted(second["paths"]) == paths_before
    assert second["info"]["title"] != "changed by a caller"
    assert second is not first
    assert spec._default_effective_spec.cache_info().misses <= 1  # built once
    # The cached document is the one the vendored files give.
    assert second == spec.build_effective_spec(spec.load_upstream(), spec.load_overlay())


def _tracker(support: ModuleType, statuses: list[int], body: object) -> tuple[object, list[str]]:
    """A tracker over a mock target answering ``statuses`` in turn, each with ``body`` (or
    ``body(status, method)``); the requests it received."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        # Streamed, as a real transport answers (check_answer reads the body itself).
        status = statuses[min(len(seen), len(statuses)) - 1]
        content = json.dumps(body(status, request.method) if callable(body) else body).encode()
        return httpx.Response(
            status,
            headers={"content-type": "application/json"}, stream=httpx.ByteStream(content),
        )  # fmt: skip

    client = httpx.Client(
        base_url="http://target", transport=httpx.MockTransport(answer), event_hooks=support.HOOKS
    )
    tracker = support.EndpointTracker(client, PREFIX, 2)
    tracker.sleep = lambda _seconds: None
    return tracker, seen


# A DELETE answer that breaks its documented schema (acknowledged is a boolean).
BAD_BODY = {"acknowledged": "yes"}


def test_other_answers_are_still_checked_against_their_schema(support: ModuleType) -> None:
    tracker, _ = _tracker(support, [200], BAD_BODY)
    with pytest.raises(AssertionError, match="does not match its documented schema"):
        tracker.delete(f"{PREFIX}gen-a")


def test_the_cleanup_delete_reads_only_its_status(support: ModuleType) -> None:
    tracker, seen = _tracker(support, [200], BAD_BODY)
    assert tracker.discard(f"{PREFIX}gen-a") is True
    assert seen == [f"DELETE /_inference/{PREFIX}gen-a?force=true"]
    # Still recorded: a failing case's reproducers are what they were.
    assert any("DELETE" in command for command in support.RECORDER.take())
    # The exemption ends with the cleanup: the next answer is checked again.
    with pytest.raises(AssertionError, match="does not match its documented schema"):
        tracker.delete(f"{PREFIX}gen-a")


def test_the_cleanup_deletes_error_answers_are_still_checked(support: ModuleType) -> None:
    # A flat error envelope on the 404 of a never-stored endpoint fails the case, as before.
    tracker, _ = _tracker(support, [404], {"error": "no such inference endpoint", "status": 404})
    with pytest.raises(AssertionError, match="does not match its documented schema"):
        tracker.discard(f"{PREFIX}gen-d")


def _envelope(status: int, type_: str) -> dict[str, object]:
    """Elasticsearch's error envelope (ElasticsearchException), as the spec documents it."""
    cause = {"type": type_, "reason": "as the test says"}
    return {"error": {**cause, "root_cause": [cause]}, "status": status}


def test_the_cleanup_delete_keeps_the_policy(support: ModuleType) -> None:
    # 409 (a deployment still starting) is waited out, then the endpoint is gone.
    tracker, seen = _tracker(support, [409, 409, 404], lambda status, _: _envelope(status, "x"))
    assert tracker.discard(f"{PREFIX}gen-b") is True
    assert len(seen) == 3
    # A refusal is final and reported as not gone: the session's sweep takes it up.
    tracker, seen = _tracker(support, [500], _envelope(500, "exception"))
    assert tracker.discard(f"{PREFIX}gen-c") is False
    assert len(seen) == 1


def test_the_cleanup_delete_touches_only_the_run_prefix(support: ModuleType) -> None:
    tracker, seen = _tracker(support, [200], {"acknowledged": True})
    with pytest.raises(ValueError, match="lacks the run prefix"):
        tracker.discard("someone-elses-endpoint")
    assert seen == []


def _listing(ids: list[str]) -> dict[str, object]:
    """A ``GET /_inference/_all`` answer listing these ids."""
    return {"endpoints": [{"inference_id": i, "task_type": "sparse_embedding"} for i in ids]}


def test_generated_cases_never_share_an_endpoint_id(schema_test_module: ModuleType) -> None:
    # What a refused PUT may have stored waits for its operation's listing: no later case may
    # meet it under the same id, whatever values Hypothesis repeats.
    ids = [schema_test_module._safe_id(PREFIX, value) for value in ("a", "a", "", "", "B!", "b")]
    assert len(set(ids)) == len(ids), ids
    assert all(i.startswith(f"{PREFIX}gen-") for i in ids)
    assert ids[0].startswith(f"{PREFIX}gen-a-") and ids[4].startswith(f"{PREFIX}gen-b-")


def test_a_refused_generated_put_costs_no_request_until_its_operation_ends(
    support: ModuleType,
) -> None:
    stored = f"{PREFIX}gen-stored-anyway-2"  # refused, yet stored (elastic/elasticsearch#137127)
    others = [f"{PREFIX}gen-a-1", f"{PREFIX}gen-b-3"]

    def body(_status: int, method: str) -> object:
        return _listing([stored, "someone-elses"]) if method == "GET" else {"acknowledged": True}

    tracker, seen = _tracker(support, [200], body)
    for inference_id in (others[0], stored, others[1]):
        tracker.after_generated_put(inference_id, 400)
    assert seen == []
    tracker.clear_suspects()
    # One listing; only the listed suspect is deleted; nothing outside the prefix is touched.
    assert seen == ["GET /_inference/_all?", f"DELETE /_inference/{stored}?force=true"]
    tracker.clear_suspects()  # nothing left to check
    assert len(seen) == 2


@pytest.mark.parametrize("status", [200, 201, 408, None], ids=["200", "201", "408", "lost"])
def test_a_stored_or_unanswered_generated_put_is_deleted_at_once(
    support: ModuleType, status: int | None
) -> None:
    # It may hold a deployment (408: stored while its deployment starts; None: answer lost).
    tracker, seen = _tracker(support, [200], {"acknowledged": True})
    tracker.after_generated_put(f"{PREFIX}gen-a-1", status)
    assert seen == [f"DELETE /_inference/{PREFIX}gen-a-1?force=true"]
    tracker.clear_suspects()
    assert len(seen) == 1


def test_suspects_are_deleted_one_by_one_when_the_listing_cannot_tell(
    support: ModuleType,
) -> None:
    suspects = [f"{PREFIX}gen-a-1", f"{PREFIX}gen-b-2"]

    def body(status: int, _method: str) -> object:
        return _envelope(status, "exception" if status == 500 else "resource_not_found_exception")

    tracker, seen = _tracker(support, [500, 404, 404], body)
    for inference_id in suspects:
        tracker.after_generated_put(inference_id, 400)
    tracker.clear_suspects()
    assert seen == ["GET /_inference/_all?"] + [
        f"DELETE /_inference/{i}?force=true" for i in suspects
    ]


def test_the_schema_session_reads_the_environment_as_requests_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import requests

    from elsercheck.retry import requests_session

    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    ours, theirs = requests_session(), requests.Session()
    for url in (
        "http://target.example:9200/_inference/a",
        "http://target.example:9200/_inference/b?force=true",
        "http://direct.example:9200/",
        "https://target.example/_ml",
    ):
        for verify in (True, False, "/ca.pem"):
            expected = theirs.merge_environment_settings(url, {}, True, verify, None)
            assert ours.merge_environment_settings(url, {}, True, verify, None) == expected
            again = ours.merge_environment_settings(url, {}, True, verify, None)
            assert again == expected
    proxied = ours.merge_environment_settings("http://target.example:9200/", {}, None, True, None)
    assert proxied["proxies"]["http"] == "http://proxy.example:3128"
    assert proxied["verify"] == "/etc/ssl/bundle.pem"
    proxied["proxies"].clear()  # a caller's copy: the next request still gets the proxy
    next_one = ours.merge_environment_settings("http://target.example:9200/", {}, None, True, None)
    assert next_one["proxies"]["http"] == "http://proxy.example:3128"


_BASIC = "Basic " + base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()


def _auth_probes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every request sent through ``requests`` without our credentials, as it goes out."""
    import requests

    sent: list[str] = []
    original = requests.Session.send

    def send(self: requests.Session, request: requests.PreparedRequest, **kwargs: object):  # type: ignore[no-untyped-def]
        if request.headers.get("Authorization") != _BASIC:
            sent.append(f"{request.method} {request.path_url}")
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    return sent


@contextlib.contextmanager
def _schema_cases(
    module: ModuleType, defects: frozenset[str] = frozenset()
) -> Iterator[Callable[[str], None]]:
    """Run test_schema.py's ``ignored_auth`` on one GET case of a path, credentials sent, on a
    fresh server with ``defects``."""
    from elsercheck.reference.config import ServerConfig
    from elsercheck.reference.serve import EmbeddedServer
    from elsercheck.timing import PRESETS

    config = ServerConfig(password=PASSWORD, timing=PRESETS["instant"], defects=defects)
    with EmbeddedServer(config) as server:

        def run(path: str) -> None:
            case = module.schema[path]["GET"].Case()
            response = case.call(
                base_url=server.url, session=module.SESSION, headers={"Authorization": _BASIC}
            )
            assert response.status_code == 200
            case.validate_response(
                response, checks=[module.ignored_auth_retrying_proxy_errors],
                transport_kwargs={"session": module.SESSION},
            )  # fmt: skip

        yield run


def test_ignored_auth_probes_each_operation_once(
    schema_test_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enforcement is the operation's: after one refused probe pair, a later 2xx case of the
    same operation sends none (as `schemathesis run` does); another operation's first does."""
    enforced: set[str] = set()
    monkeypatch.setattr(schema_test_module, "AUTH_ENFORCED", enforced)
    probes = _auth_probes(monkeypatch)
    with _schema_cases(schema_test_module) as run:
        run("/_inference")
        first = len(probes)
        assert first >= 1 and all(p.startswith("GET /_inference") for p in probes)
        assert enforced == {"GET /_inference"}
        run("/_inference")
        assert len(probes) == first  # confirmed already: no probe
        run("/_ml/trained_models/_stats")
        assert len(probes) > first
        assert enforced == {"GET /_inference", "GET /_ml/trained_models/_stats"}


def test_ignored_auth_still_catches_a_server_ignoring_auth_at_its_first_case(
    schema_test_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    enforced: set[str] = set()
    monkeypatch.setattr(schema_test_module, "AUTH_ENFORCED", enforced)
    with (
        _schema_cases(schema_test_module, frozenset({"auth-ignored"})) as run,
        pytest.raises(BaseExceptionGroup) as failures,
    ):
        run("/_inference")
    assert failures.group_contains(AssertionError, match="accepts requests without auth")
    assert enforced == set()  # not confirmed: the next case probes again


def test_the_gate_child_keeps_hypothesis_storage_in_elserchecks_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """Hypothesis' Unicode tables and local-module constants are derived once per machine, not
    once per report directory (about 1.2 s of each gate's collection); a user's own
    HYPOTHESIS_STORAGE_DIRECTORY is kept."""
    from elsercheck.gate import HYPOTHESIS_STORAGE_ENV, gate_environment
    from elsercheck.target import Target

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(HYPOTHESIS_STORAGE_ENV, raising=False)
    target = Target(url="http://127.0.0.1:9200", username="elastic", password=PASSWORD)
    env = gate_environment(target)
    assert env[HYPOTHESIS_STORAGE_ENV] == str(tmp_path / "elsercheck" / "hypothesis")
    assert env["ELASTICSEARCH_PASSWORD"] == PASSWORD  # still the target's child environment
    monkeypatch.setenv(HYPOTHESIS_STORAGE_ENV, str(tmp_path / "mine"))
    assert gate_environment(target)[HYPOTHESIS_STORAGE_ENV] == str(tmp_path / "mine")
