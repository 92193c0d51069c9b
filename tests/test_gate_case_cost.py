"""The gate's own cost per case and per run, without a check dropped (issue 25).

The effective spec is built once per process, and no caller can change what the next one
gets; the cleanup DELETE after each schema-generated PUT reads only its status (its answer's
schema is not the case's subject) when it succeeded, keeps the deletion policy, and is still
recorded for reproducers; its error answers and every other answer are still checked against
their schema.
"""

from __future__ import annotations

import json
from types import ModuleType

import httpx
import pytest

from elsercheck import spec

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
    """A tracker over a mock target answering ``statuses`` in turn, each with ``body``; the
    requests it received."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        # Streamed, as a real transport answers (check_answer reads the body itself).
        status = statuses[min(len(seen), len(statuses)) - 1]
        content = json.dumps(body(status) if callable(body) else body).encode()
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
    tracker, seen = _tracker(support, [409, 409, 404], lambda status: _envelope(status, "x"))
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
