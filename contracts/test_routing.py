"""REST-layer answers every route shares (ES RestController, BaseRestHandler)."""

from __future__ import annotations

import httpx

from contract_support import EndpointTracker, Profile, assert_es_error, assert_routing_error


def test_cluster_info(es: httpx.Client, cluster_info: dict) -> None:
    response = es.get("/")
    assert response.status_code == 200
    assert response.headers.get("x-elastic-product") == "Elasticsearch"
    # ES RestController: application/json unless a compatible-with type is asked for.
    assert response.headers.get("content-type", "").startswith("application/json"), (
        response.headers.get("content-type")
    )
    version = cluster_info["version"]
    assert version["number"].count(".") >= 2
    for key in (
        "build_flavor",
        "build_hash",
        "lucene_version",
        "minimum_wire_compatibility_version",
    ):
        assert key in version
    assert cluster_info["tagline"] == "You Know, for Search"


def test_product_header_on_errors(es: httpx.Client, tracker: EndpointTracker) -> None:
    for response in (
        es.get(f"/_inference/{tracker.new_id('nothing')}"),
        es.get("/_elsercheck_no_such_route"),
        es.patch("/_inference/_all"),
    ):
        assert response.headers.get("x-elastic-product") == "Elasticsearch", response.request.url


def test_unknown_path(es: httpx.Client, profile: Profile) -> None:
    response = es.get("/_elsercheck_no_such_route/x")
    assert_routing_error(response, 400, profile.reason(
        "no_handler", uri="/_elsercheck_no_such_route/x", method="GET"))  # fmt: skip


def test_wrong_method_405_with_allow(es: httpx.Client) -> None:
    response = es.patch("/_inference/_all")
    assert_routing_error(response, 405, None)
    allowed = {m.strip() for m in response.headers.get("allow", "").split(",")}
    assert "GET" in allowed and "PATCH" not in allowed


def test_unsupported_content_type(
    es: httpx.Client, tracker: EndpointTracker, profile: Profile
) -> None:
    value = "text/plain"
    response = es.put(f"/_inference/sparse_embedding/{tracker.new_id('ct')}", content=b"x",
                      headers={"Content-Type": value})  # fmt: skip
    assert_routing_error(response, 406, profile.reason("content_type", value=value))


def test_unrecognized_query_parameter(es: httpx.Client, profile: Profile) -> None:
    response = es.get("/_inference/_all", params={"elsercheck_bogus": "1"})
    assert_es_error(response, 400, "illegal_argument_exception", profile.reason(
        "unrecognized_parameter", path="/_inference/_all", name="elsercheck_bogus"))  # fmt: skip


def test_missing_body(es: httpx.Client, tracker: EndpointTracker, profile: Profile) -> None:
    response = es.put(f"/_inference/sparse_embedding/{tracker.new_id('nobody')}")
    assert_es_error(response, 400, "parse_exception", profile.reason("body_required"))


def test_malformed_json(es: httpx.Client, tracker: EndpointTracker) -> None:
    response = es.put(f"/_inference/sparse_embedding/{tracker.new_id('badjson')}",
                      content=b'{"service": ', headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"]["type"] in ("parse_exception", "x_content_parse_exception")
