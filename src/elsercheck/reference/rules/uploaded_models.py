"""Models users upload with an inline ``definition`` (``PUT _ml/trained_models/<id>`` for a
regression or classification **tree**): the body read as ``TrainedModelConfig.STRICT_PARSER``
reads it, checked as ``TrainedModelConfig.Builder.validate(true)`` and
``TransportPutTrainedModelAction.masterOperation`` check it, and the configuration rendered as
``TrainedModelConfig.toXContent`` renders it (ES sources read: TransportPutTrainedModelAction
store id 37151164227, TrainedModelConfig id 86141630, Tree id 310507063, TreeNode id 326381041,
RegressionConfig id 158592492, ClassificationConfig id 126583485, ML Messages id 292233332).

Modelled: a ``tree`` with ``feature_names``, ``tree_structure`` (nodes with ``node_index``,
``split_feature``, ``threshold``, ``left_child``, ``right_child``, ``default_left``,
``decision_type``, ``leaf_value``, ``split_gain``, ``number_samples``), ``target_type`` and
``classification_labels``; an empty ``preprocessors`` list; ``inference_config`` ``regression``
or ``classification``; ``description``, ``tags``, ``metadata``, ``input.field_names``,
``model_type``. Refused as not modelled (501, named): ensembles, preprocessors, the other body
fields, and the positioned parse errors (``[l:c] …``) ES gives for a malformed body.

``model_size_bytes`` is ES's ``TrainedModelDefinition.ramBytesUsed()``: Lucene's
``RamUsageEstimator`` over the JVM's object layouts, which the reference server cannot compute
faithfully, so it is left out of the configuration and of ``model_size_stats`` rather than
answered with a plausible wrong number (README). ``estimated_operations`` is exact
(``Tree.estimatedNumOperations``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..wire.errors import EsError, not_modelled, status_exception, validation_failed
from .ids import VALID_ID

# MlConfigVersion.CURRENT (V_12, "Trained model config prefix strings added"; the one copy in
# the store, id 331843799): the ``version`` a PUT stamps (TransportPutTrainedModelAction).
CONFIG_VERSION = "12.0.0"
ID_LENGTH_LIMIT = 64  # MlStrings.ID_LENGTH_LIMIT
TREE_ENSEMBLE = "tree_ensemble"  # TrainedModelType.typeFromTrainedModel(Tree) = TREE_ENSEMBLE
MODEL_TYPES = ("tree_ensemble", "lang_ident", "pytorch")  # TrainedModelType
TARGET_TYPES = ("regression", "classification")  # TargetType
OPERATORS = ("lt", "lte", "gt", "gte")  # Operator (decision_type)

MESSAGES = {
    # ML Messages.INCONSISTENT_ID (an IllegalArgumentException of PutTrainedModelAction.Request)
    "inconsistent_id": (
        "Inconsistent model_id; '{body}' specified in the body differs from '{url}' specified "
        "as a URL argument"
    ),
    # TrainedModelConfig.Builder.validate(forCreation=true), in its order
    "model_type_required": "[model_type] must be set if [definition] is not defined.",
    "inference_config_null": "[inference_config] must not be null.",
    "invalid_id": (  # ML Messages.INVALID_ID
        "Invalid model_id; '{id}' can contain lowercase alphanumeric (a-z and 0-9), hyphens or "
        "underscores; must start and end with alphanumeric"
    ),
    "id_too_long": (  # ML Messages.ID_TOO_LONG
        "Invalid model_id; '{id}' cannot contain more than {limit} characters."
    ),
    "invalid_tags": (  # ML Messages.INFERENCE_INVALID_TAGS
        "Invalid tags {tags}; must only can contain lowercase alphanumeric (a-z and 0-9), "
        "hyphens or underscores, must start and end with alphanumeric, and must be less than "
        "{limit} characters."
    ),
    "tag_is_id": "none of the tags must equal the model_id",
    # InferenceConfig.validateTrainedModelInput (the default method, store id 464383757)
    "no_field_names": "[input.field_names] must not be empty",
    "dotted_field_names": "[input.field_names] must only contain valid dot delimited field names",
    # ExceptionsHelper.requireNonNull(input, INPUT) in TrainedModelConfig's constructor
    "input_null": "[input] must not be null.",
    "illegal_setting": "illegal to set [{setting}] at inference model creation",
    # TransportPutTrainedModelAction.masterOperation
    "definition_invalid": "Definition for [{id}] has validation failures.",
    "type_mismatch": "model_type [{given}] does not match the model definition type [{actual}]",
    "target_unsupported": (
        "Model [{id}] inference config type [{config}] does not support definition target type "
        "[{target}]"
    ),
    "id_is_alias": (
        "requested model_id [{id}] is the same as an existing model_alias. Model model_aliases "
        "and ids must be unique"
    ),
    "id_is_deployment": (
        "Cannot create model [{id}] the id is the same as an current model deployment"
    ),
    # ML Messages.INFERENCE_MODEL_ID_AND_TAGS_UNIQUE / INFERENCE_TAGS_AND_MODEL_IDS_UNIQUE
    # (checkModelIdAgainstTags, then checkTagsAgainstModelIds)
    "id_is_tag": "The provided model_id {id} must not match existing tags.",
    "tag_is_model": "The provided tags {tags} must not match existing model_ids.",
    # Tree.validate
    "feature_out_of_bounds": (
        "feature index [{index}] is out of bounds for the [feature_names] array"
    ),
    "no_features": (
        "[feature_names] is empty and the tree has > 1 nodes; num nodes [{n}]. The model Must "
        "have features if tree is not a stump"
    ),
    "labels_not_classification": (
        "[target_type] should be [classification] if [classification_labels] are provided"
    ),
    "multi_value_not_classification": (
        "[target_type] should be [classification] if leaf nodes have multiple values"
    ),
    "missing_nodes": "[tree] contains missing nodes {nodes}",
    "cycle": "[tree] contains cycle at node {node}",
    "leaf_uniformity": "[tree.tree_structure] all leaf nodes must have the same number of values",
}

# Declared by TrainedModelConfig's STRICT_PARSER but not modelled for uploads here
UNMODELLED_FIELDS = ("compressed_definition", "location", "model_size_bytes",
                     "estimated_heap_memory_usage_bytes", "estimated_operations",
                     "default_field_map", "prefix_strings", "platform_architecture",
                     "model_package", "created_by", "version", "create_time", "license_level",
                     "doc_type")  # fmt: skip
BODY_FIELDS = ("model_id", "model_type", "description", "tags", "metadata", "input",
               "inference_config", "definition")  # fmt: skip
NODE_FIELDS = ("node_index", "split_feature", "threshold", "left_child", "right_child",
               "default_left", "decision_type", "leaf_value", "split_gain",
               "number_samples")  # fmt: skip
# RegressionConfig / ClassificationConfig: the fields, and their defaults as toXContent renders
INFERENCE_CONFIGS: dict[str, dict[str, Any]] = {
    "regression": {"results_field": "predicted_value", "num_top_feature_importance_values": 0},
    "classification": {"num_top_classes": 0, "top_classes_results_field": "top_classes",
                       "results_field": "predicted_value", "num_top_feature_importance_values": 0,
                       "prediction_field_type": "string"},
}  # fmt: skip
PREDICTION_FIELD_TYPES = ("string", "number", "boolean")  # PredictionFieldType


@dataclass
class Node:
    """A ``TreeNode`` as built: -1 for an absent child or feature (TreeNode's defaults)."""

    left_child: int = -1
    right_child: int = -1
    split_feature: int = -1
    leaf_value: list[float] = field(default_factory=list)

    @property
    def is_leaf(self) -> bool:
        return self.left_child < 0  # TreeNode.isLeaf


@dataclass
class UploadedModel:
    """An uploaded tree model's stored configuration (the definition itself is not kept)."""

    model_id: str
    config_name: str  # regression | classification
    inference_config: dict[str, Any]
    field_names: list[str]
    tags: list[str]
    description: str | None
    metadata: dict[str, Any] | None
    estimated_operations: int
    create_time: int  # epoch ms
    body: dict[str, Any]  # the PUT body, kept for the data directory (persistence.py)

    def render(self, aliases: list[str]) -> dict[str, Any]:
        """``TrainedModelConfig.toXContent`` in its field order; ``model_aliases`` added to the
        metadata by TrainedModelProvider.getTrainedModels (``Builder.setModelAliases``, sorted).
        ``model_size_bytes`` is left out (module docstring)."""
        out: dict[str, Any] = {
            "model_id": self.model_id,
            "model_type": TREE_ENSEMBLE,
            "created_by": "api_user",
            "version": CONFIG_VERSION,
            "create_time": self.create_time,
            "estimated_operations": self.estimated_operations,
            "license_level": "platinum",
        }
        if self.description is not None:
            out["description"] = self.description
        out["tags"] = list(self.tags)
        metadata = None if self.metadata is None else dict(self.metadata)
        if aliases:
            metadata = {**(metadata or {}), "model_aliases": sorted(aliases)}
        if metadata is not None:
            out["metadata"] = metadata
        out["input"] = {"field_names": list(self.field_names)}
        out["inference_config"] = {self.config_name: dict(self.inference_config)}
        return out


def _parse_error(what: str) -> EsError:
    return not_modelled(f"the parse error Elasticsearch gives for {what} in an uploaded "
                        "model's body (a positioned x_content_parse_exception)")  # fmt: skip


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _parse_error(f"[{name}] that is not an array of strings")
    return list(value)


def _inference_config(raw: Any) -> tuple[str, dict[str, Any]]:
    """``declareNamedObject`` with StrictlyParsedInferenceConfig: one named object."""
    if not isinstance(raw, dict) or len(raw) != 1:
        raise _parse_error("an [inference_config] that is not one named object")
    ((name, values),) = raw.items()
    if name not in INFERENCE_CONFIGS:
        raise not_modelled(f"the [{name}] inference_config on an uploaded model (only "
                           f"{list(INFERENCE_CONFIGS)})")  # fmt: skip
    if not isinstance(values, dict):
        raise _parse_error(f"[inference_config.{name}] that is not an object")
    rendered = dict(INFERENCE_CONFIGS[name])
    for key, value in values.items():
        if key not in rendered:
            raise _parse_error(f"the unknown field [{key}] of [{name}]")
        if key.startswith("num_"):
            if not _is_int(value):
                raise _parse_error(f"a non-integer [{key}]")
            if key == "num_top_feature_importance_values" and value < 0:
                # Regression/ClassificationConfig constructor: an IllegalArgumentException
                # inside the parser, so a positioned parse error
                raise _parse_error(f"a negative [{key}]")
        elif not isinstance(value, str):
            raise _parse_error(f"a non-string [{key}]")
        elif key == "prediction_field_type" and value.lower() not in PREDICTION_FIELD_TYPES:
            raise _parse_error(f"an unknown [{key}]")
        rendered[key] = value.lower() if key == "prediction_field_type" else value
    return name, rendered


def _node(raw: Any) -> Node:
    """``TreeNode`` STRICT_PARSER and ``Builder.validate`` (errors there are thrown inside the
    parser: positioned parse errors, refused as not modelled)."""
    if not isinstance(raw, dict):
        raise _parse_error("a tree node that is not an object")
    for key in raw:
        if key not in NODE_FIELDS:
            raise _parse_error(f"the unknown field [{key}] of a tree node")
    ints = ("node_index", "split_feature", "left_child", "right_child", "number_samples")
    for key in ints:
        if key in raw and not _is_int(raw[key]):
            raise _parse_error(f"a non-integer [{key}] in a tree node")
    for key in ("threshold", "split_gain"):
        if key in raw and not _is_number(raw[key]):
            raise _parse_error(f"a non-numeric [{key}] in a tree node")
    if "default_left" in raw and not isinstance(raw["default_left"], bool):
        raise _parse_error("a non-boolean [default_left] in a tree node")
    if "decision_type" in raw and raw["decision_type"] not in OPERATORS:
        raise _parse_error("an unknown [decision_type] in a tree node")
    leaf = raw.get("leaf_value")
    if leaf is not None:  # declareDoubleArray also takes a single number
        leaf = [leaf] if _is_number(leaf) else leaf
        if not isinstance(leaf, list) or not all(_is_number(v) for v in leaf):
            raise _parse_error("a [leaf_value] that is not numbers")
    if raw.get("node_index", 0) < 0:  # the parser's Builder starts at node_index 0
        raise _parse_error("a negative [node_index]")
    if "left_child" not in raw:
        if leaf is None:
            raise _parse_error("a leaf node without [leaf_value]")
    elif raw["left_child"] < 0 or raw.get("right_child", 0) < 0 or "threshold" not in raw:
        raise _parse_error("a split node with a negative child or without [threshold]")
    if raw.get("number_samples", 0) < 0:
        raise _parse_error("a negative [number_samples]")
    return Node(raw.get("left_child", -1), raw.get("right_child", -1),
                raw.get("split_feature", -1), [float(v) for v in leaf or []])  # fmt: skip


@dataclass
class Tree:
    feature_names: list[str]
    nodes: list[Node]
    target_type: str
    classification_labels: list[str] | None


def _tree(raw: Any) -> Tree:
    if not isinstance(raw, dict):
        raise _parse_error("a [tree] that is not an object")
    for key in raw:
        if key not in ("feature_names", "tree_structure", "target_type",
                       "classification_labels"):  # fmt: skip
            raise _parse_error(f"the unknown field [{key}] of [tree]")
    structure = raw.get("tree_structure")
    if "feature_names" not in raw or not isinstance(structure, list) or not structure:
        # Tree's constructor: requireNonNull(feature_names), "[tree_structure] must not be
        # empty" — both inside the parser
        raise _parse_error("a [tree] without [feature_names] or with an empty [tree_structure]")
    target = raw.get("target_type", "regression")  # Tree.Builder default REGRESSION
    if not isinstance(target, str) or target.lower() not in TARGET_TYPES:
        raise _parse_error("an unknown [target_type]")
    labels = raw.get("classification_labels")
    return Tree(_strings(raw["feature_names"], "feature_names"), [_node(n) for n in structure],
                target.lower(),
                None if labels is None else _strings(labels, "classification_labels"))  # fmt: skip


def _definition(raw: Any) -> Tree:
    """``TrainedModelDefinition`` (strict): ``preprocessors`` and one named ``trained_model``."""
    if not isinstance(raw, dict):
        raise _parse_error("a [definition] that is not an object")
    for key in raw:
        if key not in ("preprocessors", "trained_model"):
            raise _parse_error(f"the unknown field [{key}] of [definition]")
    preprocessors = raw.get("preprocessors", [])
    if not isinstance(preprocessors, list):
        raise _parse_error("[preprocessors] that is not an array")
    if preprocessors:
        raise not_modelled("preprocessors in an uploaded model's definition")
    trained = raw.get("trained_model")
    if not isinstance(trained, dict) or len(trained) != 1:
        raise _parse_error("a [trained_model] that is not one named object")
    ((name, body),) = trained.items()
    if name == "ensemble":
        raise not_modelled("uploading an [ensemble] definition (only single trees)")
    if name != "tree":
        raise _parse_error(f"the unknown [trained_model] [{name}]")
    return _tree(body)


def _validate_tree(tree: Tree) -> str | None:
    """``Tree.validate``: the first failure's message, None when valid."""
    max_feature = max((n.split_feature for n in tree.nodes), default=-1)
    if max_feature >= len(tree.feature_names):
        return MESSAGES["feature_out_of_bounds"].format(index=max_feature)
    if len(tree.nodes) > 1 and not tree.feature_names:
        return MESSAGES["no_features"].format(n=len(tree.nodes))
    if tree.classification_labels is not None and tree.target_type != "classification":
        return MESSAGES["labels_not_classification"]
    if tree.target_type != "classification" and any(len(n.leaf_value) > 1 for n in tree.nodes):
        return MESSAGES["multi_value_not_classification"]
    missing = [child for n in tree.nodes for child in (n.left_child, n.right_child)
               if child >= len(tree.nodes)]  # fmt: skip
    if missing:  # detectMissingNodes: Java's List.toString
        return MESSAGES["missing_nodes"].format(nodes="[" + ", ".join(map(str, missing)) + "]")
    visited: set[int] = set()
    queue = [0]  # detectCycle: breadth first from the root
    while queue:
        index = queue.pop(0)
        if index in visited:
            return MESSAGES["cycle"].format(node=index)
        visited.add(index)
        node = tree.nodes[index]
        queue += [c for c in (node.left_child, node.right_child) if c >= 0]
    lengths = {len(n.leaf_value) for n in tree.nodes if n.is_leaf}
    if len(lengths) > 1:
        return MESSAGES["leaf_uniformity"]
    return None


def _valid_id(value: str) -> bool:
    return VALID_ID.fullmatch(value) is not None  # MlStrings.isValidId


@dataclass
class Upload:
    """A parsed PUT: the model to store, and what the master checks of its definition."""

    model: UploadedModel
    tree: Tree
    model_type: str | None


def parse_upload(url_id: str, body: dict[str, Any], now_ms: int) -> Upload:
    """The request as ``PutTrainedModelAction.Request.parseRequest`` reads and validates it
    (before authorization); :func:`check_definition` is the master's part."""
    for key in body:
        if key in UNMODELLED_FIELDS:
            raise not_modelled(f"[{key}] in the body of an uploaded model's PUT")
        if key not in BODY_FIELDS:
            raise _parse_error(f"the unknown field [{key}]")
    body_id = body.get("model_id")
    if body_id is not None and not isinstance(body_id, str):
        raise _parse_error("a non-string [model_id]")
    if body_id is not None and body_id != url_id:
        raise EsError("illegal_argument_exception",
                      MESSAGES["inconsistent_id"].format(body=body_id, url=url_id))  # fmt: skip
    model_type = body.get("model_type")
    if model_type is not None and (not isinstance(model_type, str)
                                   or model_type.lower() not in MODEL_TYPES):  # fmt: skip
        raise _parse_error("an unknown [model_type]")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise _parse_error("a non-string [description]")
    tags = _strings(body.get("tags", []), "tags")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _parse_error("a [metadata] that is not an object")
    raw_input = body.get("input")
    field_names: list[str] | None = None
    if raw_input is not None:
        if not isinstance(raw_input, dict) or set(raw_input) != {"field_names"}:
            raise _parse_error("an [input] that is not {field_names: [...]}")
        field_names = _strings(raw_input["field_names"], "input.field_names")
    config = None
    if "inference_config" in body:
        config = _inference_config(body["inference_config"])
    tree = _definition(body["definition"]) if "definition" in body else None

    errors: list[str] = []  # Builder.validate(true)
    if tree is None and model_type is None:
        errors.append(MESSAGES["model_type_required"])
    if config is None:
        errors.append(MESSAGES["inference_config_null"])
    if not _valid_id(url_id):
        errors.append(MESSAGES["invalid_id"].format(id=url_id))
    if len(url_id) > ID_LENGTH_LIMIT:
        errors.append(MESSAGES["id_too_long"].format(id=url_id, limit=ID_LENGTH_LIMIT))
    bad_tags = [t for t in tags if not _valid_id(t) or len(t) > ID_LENGTH_LIMIT]
    if bad_tags:
        errors.append(MESSAGES["invalid_tags"].format(tags="[" + ", ".join(bad_tags) + "]",
                                                      limit=ID_LENGTH_LIMIT))  # fmt: skip
    if url_id in tags:
        errors.append(MESSAGES["tag_is_id"])
    if config is not None and field_names is not None:  # InferenceConfig default method
        if not field_names:
            errors.append(MESSAGES["no_field_names"])
        dotted = [f for f in field_names if "." in f]
        if any("" in f.split(".") for f in dotted):  # Strings.delimitedListToStringArray
            errors.append(MESSAGES["dotted_field_names"])
    for key in ("total_feature_importance", "model_aliases"):
        if metadata is not None and metadata.get(key) is not None:
            errors.append(MESSAGES["illegal_setting"].format(setting=f"metadata.{key}"))
    if errors:
        raise validation_failed(errors, "action_request_validation_exception")
    if field_names is None and model_type is None:
        # Builder.build after validate: no input and no model type to take a default input
        # from (InferenceConfig.getDefaultInput(null) is null) fails requireNonNull
        raise EsError("illegal_argument_exception", MESSAGES["input_null"])
    if tree is None:
        raise not_modelled("an uploaded model without an inline [definition] (the definition "
                           "part and vocabulary APIs)")  # fmt: skip
    if field_names is None:
        # handleDefaultInput with a model_type: TrainedModelType's default input (not read)
        raise not_modelled("an uploaded tree model with [model_type] and without [input]")
    assert config is not None
    # Tree.estimatedNumOperations: the depth estimate plus reading the features
    operations = math.ceil(math.log(len(tree.nodes))) + len(tree.feature_names)
    model = UploadedModel(url_id, config[0], config[1], field_names, tags, description,
                          None if metadata is None else dict(metadata), operations, now_ms,
                          dict(body))  # fmt: skip
    return Upload(model, tree, None if model_type is None else model_type.lower())


def check_definition(upload: Upload) -> None:
    """``TransportPutTrainedModelAction.masterOperation``: the definition validates, its type
    matches ``model_type``, the inference config supports its target type."""
    model_id, tree = upload.model.model_id, upload.tree
    failure = _validate_tree(tree)
    if failure is not None:  # ExceptionsHelper.badRequestException(msg, cause, id)
        error = status_exception(MESSAGES["definition_invalid"].format(id=model_id))
        error.caused_by = status_exception(failure)
        raise error
    if upload.model_type is not None and upload.model_type != TREE_ENSEMBLE:
        raise status_exception(MESSAGES["type_mismatch"].format(given=upload.model_type,
                                                                actual=TREE_ENSEMBLE))  # fmt: skip
    config = upload.model.config_name
    if tree.target_type != config:  # InferenceConfig.isTargetTypeSupported
        raise status_exception(MESSAGES["target_unsupported"].format(
            id=model_id, config=config, target=tree.target_type))  # fmt: skip
