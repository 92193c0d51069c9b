"""Uploaded tree models (``PUT _ml/trained_models/<id>`` with an inline definition) and model
aliases against the in-process reference server: validation as ES validates, listing, stats,
deletion, aliases, refusals of what is not modelled, and the data directory."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from elasticsearch import Elasticsearch

from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.timing import PRESETS
from tests.conftest import PASSWORD, assert_error
from tests.inprocess import InProcessServer

NOT_MODELLED = "The reference server does not model"


def regression(**tree: Any) -> dict[str, Any]:
    """The body Elastic's get_trained_model_stats.yml uploads: a one-leaf regression tree."""
    body: dict[str, Any] = {
        "description": "empty model for tests",
        "tags": ["regression", "tag1"],
        "input": {"field_names": ["field1", "field2"]},
        "inference_config": {"regression": {}},
        "definition": {"preprocessors": [], "trained_model": {"tree": {
            "feature_names": ["field1", "field2"],
            "tree_structure": [{"node_index": 0, "leaf_value": 1}],
            "target_type": "regression"}}},
    }  # fmt: skip
    body["definition"]["trained_model"]["tree"].update(tree)
    return body


SPLIT = [
    {"node_index": 0, "split_feature": 1, "threshold": 0.5, "left_child": 1, "right_child": 2},
    {"node_index": 1, "leaf_value": 1.0},
    {"node_index": 2, "leaf_value": 2.0},
]


@pytest.fixture
def es() -> Iterator[httpx.Client]:
    with InProcessServer(ServerConfig(security=False, timing=PRESETS["instant"])) as server, \
            server.client(timeout=30) as client:  # fmt: skip
        yield client


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _refused(response: httpx.Response, *names: str) -> None:
    assert response.status_code == 501, response.text
    reason = response.json()["error"]["reason"]
    assert reason.startswith(NOT_MODELLED) and all(n in reason for n in names), reason


def test_put_get_stats_delete(es: httpx.Client) -> None:
    config = _ok(es.put("/_ml/trained_models/reg-1", json=regression(tree_structure=SPLIT)))
    assert list(config) == ["model_id", "model_type", "created_by", "version", "create_time",
                            "estimated_operations", "license_level", "description", "tags",
                            "input", "inference_config"]  # fmt: skip
    assert config["model_type"] == "tree_ensemble" and config["created_by"] == "api_user"
    # Tree.estimatedNumOperations: ceil(ln(3 nodes)) + 2 features
    assert config["estimated_operations"] == 4
    assert config["inference_config"] == {"regression": {
        "results_field": "predicted_value", "num_top_feature_importance_values": 0}}  # fmt: skip
    assert "model_size_bytes" not in config  # not computed: never a plausible wrong number
    listed = _ok(es.get("/_ml/trained_models/reg-*?include=definition_status"))
    assert listed["count"] == 1
    assert listed["trained_model_configs"][0]["fully_defined"] is True
    stats = _ok(es.get("/_ml/trained_models/reg-1/_stats"))["trained_model_stats"][0]
    assert stats["model_size_stats"] == {"required_native_memory_bytes": 0}
    assert stats["pipeline_count"] == 0 and "deployment_stats" not in stats
    assert_error(es.put("/_ml/trained_models/reg-1", json=regression()), 400,
                 "resource_already_exists_exception",
                 "Trained machine learning model [reg-1] already exists")  # fmt: skip
    assert _ok(es.delete("/_ml/trained_models/reg-1")) == {"acknowledged": True}
    assert_error(es.get("/_ml/trained_models/reg-1"), 404, "resource_not_found_exception",
                 "No known trained model with model_id [reg-1]")  # fmt: skip


def test_classification_tree(es: httpx.Client) -> None:
    body = regression(target_type="classification", classification_labels=["a", "b"],
                      tree_structure=SPLIT)  # fmt: skip
    body["inference_config"] = {"classification": {"num_top_classes": 2}}
    config = _ok(es.put("/_ml/trained_models/cls", json=body))
    assert config["inference_config"] == {"classification": {
        "num_top_classes": 2, "top_classes_results_field": "top_classes",
        "results_field": "predicted_value", "num_top_feature_importance_values": 0,
        "prediction_field_type": "string"}}  # fmt: skip
    assert_error(es.put("/_ml/trained_models/cls-2", json={**body, "inference_config": {
        "regression": {}}}), 400, "status_exception",
        "Model [cls-2] inference config type [regression] does not support definition target "
        "type [classification]")  # fmt: skip


@pytest.mark.parametrize(("tree", "cause"), [
    ({"tree_structure": [{"node_index": 0, "split_feature": 0, "threshold": 1, "left_child": 1,
                          "right_child": 4}, {"node_index": 1, "leaf_value": 1}]},
     "[tree] contains missing nodes [4]"),
    ({"tree_structure": [{"node_index": 0, "split_feature": 0, "threshold": 1, "left_child": 1,
                          "right_child": 0}, {"node_index": 1, "leaf_value": 1}]},
     "[tree] contains cycle at node 0"),
    ({"tree_structure": [dict(SPLIT[0], split_feature=2), SPLIT[1], SPLIT[2]]},
     "feature index [2] is out of bounds for the [feature_names] array"),
    ({"feature_names": [], "tree_structure": [dict(SPLIT[0], split_feature=-1), SPLIT[1],
                                              SPLIT[2]]},
     "[feature_names] is empty and the tree has > 1 nodes; num nodes [3]. The model Must have "
     "features if tree is not a stump"),
    ({"classification_labels": ["a"]},
     "[target_type] should be [classification] if [classification_labels] are provided"),
    ({"tree_structure": [{"node_index": 0, "leaf_value": [1, 2]}]},
     "[target_type] should be [classification] if leaf nodes have multiple values"),
    ({"target_type": "classification", "tree_structure": [
        dict(SPLIT[0]), {"node_index": 1, "leaf_value": [1, 0]}, SPLIT[2]]},
     "[tree.tree_structure] all leaf nodes must have the same number of values"),
])  # fmt: skip
def test_definition_validation(es: httpx.Client, tree: dict[str, Any], cause: str) -> None:
    """TransportPutTrainedModelAction: badRequestException("Definition for [{}] has validation
    failures.", cause) around Tree.validate's failure."""
    body = regression(**tree)
    if tree.get("target_type") == "classification":
        body["inference_config"] = {"classification": {}}
    response = es.put("/_ml/trained_models/bad", json=body)
    assert_error(response, 400, "status_exception", "Definition for [bad] has validation failures.")
    assert response.json()["error"]["caused_by"] == {"type": "status_exception", "reason": cause}
    assert es.get("/_ml/trained_models/bad").status_code == 404


def test_request_validation(es: httpx.Client) -> None:
    """TrainedModelConfig.Builder.validate(true): every failure in one answer."""
    body = regression()
    body["tags"] = ["Bad", "ok-id"]
    del body["inference_config"]
    assert_error(es.put("/_ml/trained_models/ok-id", json=body), 400,
                 "action_request_validation_exception",
                 "Validation Failed: 1: [inference_config] must not be null.;2: Invalid tags "
                 "[Bad]; must only can contain lowercase alphanumeric (a-z and 0-9), hyphens or "
                 "underscores, must start and end with alphanumeric, and must be less than 64 "
                 "characters.;3: none of the tags must equal the model_id;")  # fmt: skip
    long_id = "a" * 65
    assert_error(es.put(f"/_ml/trained_models/{long_id}", json=regression()), 400,
                 "action_request_validation_exception",
                 f"Validation Failed: 1: Invalid model_id; '{long_id}' cannot contain more than "
                 "64 characters.;")  # fmt: skip
    assert_error(es.put("/_ml/trained_models/x", json={**regression(), "model_id": "y"}), 400,
                 "illegal_argument_exception",
                 "Inconsistent model_id; 'y' specified in the body differs from 'x' specified as "
                 "a URL argument")  # fmt: skip
    assert_error(es.put("/_ml/trained_models/x", json={**regression(), "model_type": "pytorch"}),
                 400, "status_exception",
                 "model_type [pytorch] does not match the model definition type "
                 "[tree_ensemble]")  # fmt: skip
    fields = {**regression(), "input": {"field_names": ["a..b"]}}
    assert_error(es.put("/_ml/trained_models/x", json=fields), 400,
                 "action_request_validation_exception",
                 "Validation Failed: 1: [input.field_names] must only contain valid dot "
                 "delimited field names;")  # fmt: skip
    fields = {**regression(), "input": {"field_names": []}}
    assert_error(es.put("/_ml/trained_models/x", json=fields), 400,
                 "action_request_validation_exception",
                 "Validation Failed: 1: [input.field_names] must not be empty;")  # fmt: skip
    no_input = {k: v for k, v in regression().items() if k != "input"}
    assert_error(es.put("/_ml/trained_models/x", json=no_input), 400,
                 "illegal_argument_exception", "[input] must not be null.")  # fmt: skip
    meta = {**regression(), "metadata": {"model_aliases": ["a"]}}
    assert_error(es.put("/_ml/trained_models/x", json=meta), 400,
                 "action_request_validation_exception",
                 "Validation Failed: 1: illegal to set [metadata.model_aliases] at inference "
                 "model creation;")  # fmt: skip


def test_tags_and_ids_unique(es: httpx.Client) -> None:
    _ok(es.put("/_ml/trained_models/first", json=regression()))
    assert_error(
        es.put("/_ml/trained_models/tag1", json={**regression(), "tags": []}),
        400,
        "status_exception",
        "The provided model_id tag1 must not match existing tags.",
    )
    assert_error(es.put("/_ml/trained_models/second", json={**regression(), "tags": ["first"]}),
                 400, "status_exception",
                 "The provided tags [first] must not match existing model_ids.")  # fmt: skip


def test_not_modelled_is_refused(es: httpx.Client) -> None:
    ensemble = regression()
    ensemble["definition"]["trained_model"] = {"ensemble": {"trained_models": []}}
    _refused(es.put("/_ml/trained_models/e", json=ensemble), "[ensemble]")
    pre = copy.deepcopy(regression())
    pre["definition"]["preprocessors"] = [{"one_hot_encoding": {"field": "f", "hot_map": {}}}]
    _refused(es.put("/_ml/trained_models/p", json=pre), "preprocessors")
    _refused(es.put("/_ml/trained_models/u", json={**regression(), "bogus": 1}), "[bogus]")
    _refused(es.put("/_ml/trained_models/c", json={**regression(), "compressed_definition": "x"}),
             "[compressed_definition]")  # fmt: skip
    _refused(es.put("/_ml/trained_models/n", json=regression(tree_structure=[])),
             "[tree_structure]")  # fmt: skip
    _refused(es.put("/_ml/trained_models/e/definition/0", json={"definition": "x"}),
             "definition part API")  # fmt: skip
    _refused(es.put("/_ml/trained_models/e/vocabulary", json={"vocabulary": []}),
             "vocabulary API")  # fmt: skip
    for model_id in ("e", "p", "u", "c", "n"):
        assert es.get(f"/_ml/trained_models/{model_id}").status_code == 404


def test_inference_with_uploaded_model_is_refused(es: httpx.Client) -> None:
    _ok(es.put("/_ml/trained_models/reg", json=regression()))
    _ok(es.put("/_ml/trained_models/reg/model_aliases/reg-alias"))
    _refused(es.post("/_ml/trained_models/reg/_infer", json={"docs": [{"field1": 1}]}),
             "[reg]")  # fmt: skip
    _refused(es.post("/_ml/trained_models/reg-alias/_infer", json={"docs": [{"field1": 1}]}),
             "[reg-alias]")  # fmt: skip
    # TransportStartTrainedModelDeploymentAction: only PyTorch models deploy
    assert_error(es.post("/_ml/trained_models/reg/deployment/_start"), 400, "status_exception",
                 "model [reg] of type [tree_ensemble] cannot be deployed. Only PyTorch models "
                 "can be deployed")  # fmt: skip
    _refused(es.post("/_ml/trained_models/reg-alias/deployment/_start"), "[reg-alias]")
    for model_id in ("reg", "reg-alias"):
        _ok(es.put(f"/_ingest/pipeline/p-{model_id}",
                   json={"processors": [{"inference": {"model_id": model_id}}]}))  # fmt: skip
        response = es.put(f"/docs/_doc/1?pipeline=p-{model_id}", json={"field1": 1})
        _refused(response, f"[{model_id}]")
    stats = _ok(es.get("/_ml/trained_models/reg/_stats"))["trained_model_stats"][0]
    assert stats["pipeline_count"] == 2  # by its id and through its alias


def test_aliases(es: httpx.Client) -> None:
    _ok(es.put("/_ml/trained_models/reg-a", json=regression()))
    _ok(es.put("/_ml/trained_models/reg-b", json={**regression(), "input": {
        "field_names": ["other1", "other2"]}}))  # fmt: skip
    assert_error(es.put("/_ml/trained_models/reg-a/model_aliases/alias2"), 400,
                 "action_request_validation_exception",
                 "Validation Failed: 1: Invalid model_alias; 'alias2' can contain lowercase "
                 "alphanumeric (a-z and 0-9), hyphens or underscores; must start with "
                 "alphanumeric and cannot end with numbers;")  # fmt: skip
    assert_error(
        es.put("/_ml/trained_models/reg-a/model_aliases/reg-a"),
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: model_alias [reg-a] cannot equal model_id [reg-a];",
    )
    assert_error(es.put("/_ml/trained_models/reg-a/model_aliases/reg-b"), 400,
                 "status_exception", "model_alias cannot be the same as an existing trained "
                 "model_id")  # fmt: skip
    assert_error(
        es.put("/_ml/trained_models/nope/model_aliases/best"),
        404,
        "resource_not_found_exception",
        "No known trained model with model_id [nope]",
    )
    assert _ok(es.put("/_ml/trained_models/reg-a/model_aliases/best")) == {"acknowledged": True}
    got = _ok(es.get("/_ml/trained_models/best"))["trained_model_configs"][0]
    assert got["model_id"] == "reg-a" and got["metadata"] == {"model_aliases": ["best"]}
    assert_error(es.put("/_ml/trained_models/reg-b/model_aliases/best"), 400, "status_exception",
                 "cannot assign model_alias [best] to model_id [reg-b] as model_alias already "
                 "refers to [reg-a]. Set parameter [reassign] to [true] if model_alias should be "
                 "reassigned.")  # fmt: skip
    moved = es.put("/_ml/trained_models/reg-b/model_aliases/best?reassign=true")
    assert moved.status_code == 200, moved.text
    assert (
        "The input fields for new model [reg-b] and for old model [reg-a] differ "
        "significantly, model results may change drastically." in moved.headers["warning"]
    )
    assert _ok(es.get("/_ml/trained_models/best/_stats"))["trained_model_stats"][0][
        "model_id"] == "reg-b"  # fmt: skip
    assert_error(es.put("/_ml/trained_models/best", json=regression()), 400, "status_exception",
                 "requested model_id [best] is the same as an existing model_alias. Model "
                 "model_aliases and ids must be unique")  # fmt: skip
    _refused(es.put("/_ml/trained_models/lang_ident_model_1/model_aliases/lang"),
             "[lang_ident_model_1]")  # fmt: skip
    assert_error(es.delete("/_ml/trained_models/reg-a/model_aliases/best"), 409,
                 "status_exception", "model_alias [best] does not refer to provided model_id "
                 "[reg-a]")  # fmt: skip
    assert_error(
        es.delete("/_ml/trained_models/reg-a/model_aliases/other"),
        404,
        "status_exception",
        "model_alias [other] could not be found",
    )
    _ok(es.delete("/_ml/trained_models/reg-b/model_aliases/best"))
    assert es.get("/_ml/trained_models/best").status_code == 404


def test_delete_with_alias(es: httpx.Client) -> None:
    _ok(es.put("/_ml/trained_models/reg", json=regression()))
    _ok(es.put("/_ml/trained_models/reg/model_aliases/prod"))
    _ok(es.put("/_ingest/pipeline/p", json={"processors": [{"inference": {"model_id": "prod"}}]}))
    assert_error(es.delete("/_ml/trained_models/reg"), 409, "status_exception",
                 "Cannot delete model [reg] as it has a model_alias [prod] that is still "
                 "referenced by ingest processors; use force to delete the model")  # fmt: skip
    assert_error(es.delete("/_ml/trained_models/reg/model_aliases/prod"), 409, "status_exception",
                 "Cannot delete model_alias [prod] as it is still referenced by ingest "
                 "processors")  # fmt: skip
    _ok(es.delete("/_ml/trained_models/reg?force=true"))
    # TransportDeleteTrainedModelAction.deleteAliasesAndModel: the aliases go with the model
    assert_error(es.get("/_ml/trained_models/prod"), 404, "resource_not_found_exception",
                 "No known trained model with model_id [prod]")  # fmt: skip


def test_data_directory_keeps_models_and_aliases(tmp_path: Path) -> None:
    config = ServerConfig(security=False, timing=PRESETS["instant"], data_dir=tmp_path)
    with InProcessServer(config) as server, server.client(timeout=30) as es:
        created = _ok(es.put("/_ml/trained_models/kept", json=regression()))
        _ok(es.put("/_ml/trained_models/kept/model_aliases/kept-alias"))
    with InProcessServer(config) as server, server.client(timeout=30) as es:
        got = _ok(es.get("/_ml/trained_models/kept-alias"))["trained_model_configs"][0]
        assert got == {**created, "metadata": {"model_aliases": ["kept-alias"]}}


def test_queries_with_uploaded_model_are_refused(es: httpx.Client) -> None:
    """A ``sparse_vector``/``text_expansion`` query naming an uploaded tree model (or its alias)
    is refused, not answered "Could not find trained model"."""
    _ok(es.put("/_ml/trained_models/reg", json=regression()))
    _ok(es.put("/_ml/trained_models/reg/model_aliases/reg-alias"))
    _ok(es.put("/idx", json={"mappings": {"properties": {"sv": {"type": "sparse_vector"}}}}))
    for model_id in ("reg", "reg-alias"):
        query = {"query": {"sparse_vector": {"field": "sv", "inference_id": model_id,
                                             "query": "hello"}}}  # fmt: skip
        _refused(es.post("/idx/_search", json=query), f"[{model_id}]", "[sparse_vector]")


def test_id_expansion_with_aliases(es: httpx.Client) -> None:
    """TrainedModelProvider.expandIds: an alias token (exact or wildcard over alias names)
    matches its model; a token is satisfied by a found model or an alias of one; wildcards may
    match nothing only with allow_no_match; ``count`` is every match, the page is from/size."""
    for model_id in ("m-a", "m-b", "m-c"):
        _ok(es.put(f"/_ml/trained_models/{model_id}", json=regression()))
    _ok(es.put("/_ml/trained_models/m-c/model_aliases/zed"))

    def ids(path: str) -> tuple[int, list[str]]:
        body = _ok(es.get(path))
        configs = body.get("trained_model_configs", body.get("trained_model_stats"))
        return body["count"], [c["model_id"] for c in configs]

    assert ids("/_ml/trained_models/ze*") == (1, ["m-c"])
    assert ids("/_ml/trained_models/zed,m-a/_stats") == (2, ["m-a", "m-c"])
    assert ids("/_ml/trained_models/m-*?from=1&size=1") == (3, ["m-b"])
    assert ids("/_ml/trained_models/_all/_stats?size=2") == (4, ["lang_ident_model_1", "m-a"])
    assert ids("/_ml/trained_models/nothing*") == (0, [])
    assert_error(es.get("/_ml/trained_models/nothing*?allow_no_match=false"), 404,
                 "resource_not_found_exception",
                 "No known trained model with model_id [nothing*]")  # fmt: skip
    assert_error(
        es.get("/_ml/trained_models/m-a,nope/_stats"),
        404,
        "resource_not_found_exception",
        "No known trained model with model_id [nope]",
    )


def test_official_client_round_trip() -> None:
    """Elastic's Python client (its ``ml`` namespace) on a secured server: upload, alias, stats
    through the alias, and cleanup."""
    config = ServerConfig(password=PASSWORD, timing=PRESETS["instant"])
    with (
        EmbeddedServer(config) as server,
        Elasticsearch(
            server.url, basic_auth=("elastic", PASSWORD), request_timeout=10, max_retries=0
        ) as client,
    ):
        body = regression()
        client.ml.put_trained_model(model_id="client-reg", **body)
        client.ml.put_trained_model_alias(model_id="client-reg", model_alias="client-alias")
        stats = client.ml.get_trained_models_stats(model_id="client-alias")
        assert stats["count"] == 1
        assert stats["trained_model_stats"][0]["model_id"] == "client-reg"
        client.ml.delete_trained_model_alias(model_id="client-reg", model_alias="client-alias")
        client.ml.delete_trained_model(model_id="client-reg")
        assert client.ml.get_trained_models(model_id="client-*")["count"] == 0
