"""The ML node object in deployment stats carries every field the specification requires
(``ml._types.DiscoveryNodeContent``), with Elasticsearch 9.1's values (issue 16 item 5)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.conftest import elser_body

SPEC = Path(__file__).resolve().parents[1] / "openapi" / "upstream"
SPEC_FILE = SPEC / "elasticsearch-openapi-inference.json"


def test_node_object_has_the_required_fields(client: httpx.Client, unique_id: str) -> None:
    schema = json.loads(SPEC_FILE.read_text())["components"]["schemas"]
    required = schema["ml._types.DiscoveryNodeContent"]["required"]
    assert (
        client.put(f"/_inference/sparse_embedding/{unique_id}", json=elser_body()).status_code
        == 200
    )
    try:
        stats = client.get(f"/_ml/trained_models/{unique_id}/_stats").json()
        nodes = stats["trained_model_stats"][0]["deployment_stats"]["nodes"]
        [(_, node)] = nodes[0]["node"].items()
        assert set(required) <= set(node), sorted(set(required) - set(node))
        assert node["external_id"] == node["name"]  # node.external_id defaults to node.name
        assert node["version"] == client.get("/").json()["version"]["number"]
        assert (node["min_index_version"], node["max_index_version"]) == (8000099, 9033000)
    finally:
        client.delete(f"/_inference/{unique_id}")
