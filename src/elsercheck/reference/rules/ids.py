"""Inference ids and task types (ES PutInferenceModelAction.Request.validate, ServiceUtils)."""

from __future__ import annotations

import re

from ..versions import EsVersion
from ..wire.errors import EsError, status_exception, validation_failed

# ES MlStrings.isValidId (#103669); Request.validate skips hasValidLengthForId (64), and
# StartTrainedModelDeploymentAction.Request.validate checks no deployment id length either
# (store id 955242122): the only limit is the stored document's _id (check_storable_id).
VALID_ID = re.compile(r"[a-z0-9](?:[a-z0-9_\-.]*[a-z0-9])?")

TASK_TYPES = ("text_embedding", "sparse_embedding", "rerank", "completion", "chat_completion")
# "any" parses as a task type but is only an internal wildcard.
PARSEABLE_TASK_TYPES = (*TASK_TYPES, "any")
# TaskType.EMBEDDING, from 9.3 (#138198, row embedding-task-type).
EMBEDDING = "embedding"

DEFAULT_ELSER_ID = ".elser-2-elasticsearch"
# Preconfigured endpoints of 9.1 (ES ElasticsearchInternalService.defaultConfigs); only the
# ELSER one is served here.
RESERVED_IDS = frozenset(
    {DEFAULT_ELSER_ID, ".multilingual-e5-small-elasticsearch", ".rerank-v1-elasticsearch"}
)

MESSAGES = {
    "invalid_id": (
        "Invalid inference_id; '{id}' can contain lowercase alphanumeric (a-z and 0-9), "
        "hyphens or underscores; must start and end with alphanumeric"
    ),
    "unknown_task_type": "Unknown task_type [{value}]",
    "reserved_id": (
        "[{id}] is a reserved inference ID. Cannot create a new inference endpoint with a "
        "reserved ID."
    ),
    "missing_task_type": "model is missing required setting [task_type]",
    "any_task_type": "task_type [any] is not valid type for inference",
    "conflicting_task_type": (
        "Cannot resolve conflicting task_type parameter in the request URL [{path}] and the "
        "request body [{body}]"
    ),
}


def parse_task_type(value: str, version: EsVersion | None = None) -> str:
    """``TaskType.fromStringOrStatusException``: case-insensitive, 400 when unknown.

    ``embedding`` is a task type from 9.3 (``version`` None: the newest behaviour)."""
    lowered = value.lower()
    known = lowered in PARSEABLE_TASK_TYPES or (
        lowered == EMBEDDING and (version is None or version.has("embedding-task-type"))
    )
    if not known:
        raise status_exception(MESSAGES["unknown_task_type"].format(value=value))
    return lowered


def validate_inference_id(inference_id: str) -> None:
    """``PutInferenceModelAction.Request.validate``: id syntax, and never ``_all``."""
    if inference_id == "_all" or not VALID_ID.fullmatch(inference_id):
        raise validation_failed(
            [MESSAGES["invalid_id"].format(id=inference_id)], "action_request_validation_exception"
        )


# The endpoint is stored as two documents with _id "model_<id>" (ModelRegistry.storeModel,
# Model.documentId); IndexRequest.validate refuses an _id over 512 UTF-8 bytes ("id [..] is too
# long, must be no longer than 512 bytes but was: N", IndexRequestTests). How ModelRegistry
# reports the failed bulk was not read, so such ids are refused as not modelled.
DOC_ID_PREFIX = "model_"
MAX_DOC_ID_BYTES = 512


def check_storable_id(inference_id: str) -> None:
    """Refuse (501) an id too long for the ``.inference`` document ``_id``: Elasticsearch
    fails to store it; the exact answer is not modelled. Ids are ASCII (``VALID_ID``)."""
    if len(DOC_ID_PREFIX) + len(inference_id.encode("utf-8")) > MAX_DOC_ID_BYTES:
        limit = MAX_DOC_ID_BYTES - len(DOC_ID_PREFIX)
        raise status_exception(
            f"The reference server does not model storing an inference endpoint whose id is "
            f"longer than {limit} bytes: Elasticsearch stores it under the document _id "
            f"[{DOC_ID_PREFIX}<id>], limited to {MAX_DOC_ID_BYTES} bytes, and fails the PUT",
            501,
        )


def check_not_reserved(inference_id: str) -> None:
    if inference_id in RESERVED_IDS:
        raise status_exception(MESSAGES["reserved_id"].format(id=inference_id))


def resolve_task_type(
    path_task_type: str | None, body_task_type: object, version: EsVersion | None = None
) -> str:
    """``ServiceUtils.resolveTaskType``: path and body must agree; one must be present.

    A path task type of ``any`` is what the one-segment route passes (TaskType.ANY): it means
    "not given" (``isAnyOrSame``)."""
    if path_task_type == "any":
        path_task_type = None
    body: str | None = None
    if body_task_type is not None:
        body = parse_task_type(str(body_task_type), version)
        if body == "any":
            raise status_exception(MESSAGES["any_task_type"])
    if path_task_type is None and body is None:
        raise status_exception(MESSAGES["missing_task_type"])
    if path_task_type is not None and body is not None and path_task_type != body:
        raise status_exception(
            # the body's value as sent (ServiceUtils.resolveTaskType prints bodyTaskType)
            MESSAGES["conflicting_task_type"].format(path=path_task_type, body=body_task_type)
        )
    resolved = path_task_type or body
    assert resolved is not None
    return resolved


def task_type_mismatch(requested: str, actual: str) -> EsError:
    """GET/DELETE with a task type in the path that differs from the endpoint's."""
    return status_exception(
        f"Requested task type [{requested}] does not match the inference endpoint's task type "
        f"[{actual}]"
    )
