"""The global URL parameters: ``filter_path`` as Elasticsearch filters answers (never errors),
``human`` and ``error_trace`` refused naming them (the reference server does not model their
output), never accepted and ignored."""

from __future__ import annotations

import httpx
import pytest

from elsercheck.reference.wire import filter_path
from tests.conftest import assert_error

DOC = {
    "took": 3,
    "hits": {
        "total": {"value": 2, "relation": "eq"},
        "hits": [
            {"_id": "1", "_score": 1.5, "_source": {"title": "a", "body": "x"}},
            {"_id": "2", "_score": 0.5, "_source": {"title": "b", "body": "y"}},
        ],
    },
    "tags": ["one", "two"],
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("took", {"took": 3}),
        ("hits.total.value", {"hits": {"total": {"value": 2}}}),
        # Arrays are transparent: each object in them is filtered with the same path.
        ("hits.hits._id", {"hits": {"hits": [{"_id": "1"}, {"_id": "2"}]}}),
        (
            "hits.hits._source.ti*",
            {"hits": {"hits": [{"_source": {"title": "a"}}, {"_source": {"title": "b"}}]}},
        ),
        (
            "**.title",
            {"hits": {"hits": [{"_source": {"title": "a"}}, {"_source": {"title": "b"}}]}},
        ),
        ("took,tags", {"took": 3, "tags": ["one", "two"]}),
        ("nothing.here", {}),
        # A scalar where the path wants fields below it is not selected.
        ("took.x", {}),
        ("-hits", {"took": 3, "tags": ["one", "two"]}),
        (
            "-hits.hits._source,-tags",
            {
                "took": 3,
                "hits": {
                    "total": {"value": 2, "relation": "eq"},
                    "hits": [{"_id": "1", "_score": 1.5}, {"_id": "2", "_score": 0.5}],
                },
            },
        ),
        # Exclusions first, then inclusions.
        (
            "hits.hits._source,-**.body",
            {"hits": {"hits": [{"_source": {"title": "a"}}, {"_source": {"title": "b"}}]}},
        ),
        ("", DOC),
    ],
)
def test_filter_path_semantics(expression: str, expected: object) -> None:
    assert filter_path.apply(DOC, expression) == expected


def test_filter_path_on_answers_not_on_errors(client: httpx.Client) -> None:
    root = client.get("/", params={"filter_path": "version.number,tagline"})
    assert root.status_code == 200
    body = root.json()
    assert set(body) == {"version", "tagline"} and set(body["version"]) == {"number"}
    # ES AbstractRestChannel.newErrorBuilder: "Disable filtering when building error responses".
    missing = client.get("/_inference/no-such-endpoint", params={"filter_path": "status"})
    assert missing.status_code == 404 and "error" in missing.json()


def test_human_is_refused_where_it_would_change_the_answer(client: httpx.Client) -> None:
    # The stats carry human-readable companions on Elasticsearch (start_time_string, …):
    # refused, naming the parameter. GET / has none: human changes nothing there.
    stats = client.get("/_ml/trained_models/_stats", params={"human": "true"})
    assert_error(stats, 501, "status_exception",
                 "The reference server does not model the [human] parameter")  # fmt: skip
    assert client.get("/_ml/trained_models/_stats", params={"human": "false"}).status_code == 200
    plain, human = client.get("/"), client.get("/", params={"human": "true"})
    assert human.status_code == 200 and human.json() == plain.json()


def test_error_trace_says_there_is_no_java_stack(client: httpx.Client) -> None:
    missing = client.get("/_inference/no-such-endpoint", params={"error_trace": "true"})
    error = missing.json()["error"]
    assert missing.status_code == 404 and error["type"] == "resource_not_found_exception"
    assert "does not model [error_trace]" in error["stack_trace"]
    plain = client.get("/_inference/no-such-endpoint").json()["error"]
    assert "stack_trace" not in plain
    # Answers without an error are the same with it.
    assert client.get("/", params={"error_trace": "true"}).json() == client.get("/").json()
