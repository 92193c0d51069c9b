"""Index creation bodies with ``semantic_text`` fields: parsing, defaults, rendering, errors.

Sources (elastic/elasticsearch):

* ``SemanticTextFieldMapper`` / ``SemanticFieldMapper.Builder``: ``inference_id`` is always
  serialised (``alwaysSerialize``), must not be empty, and defaults per
  ``getDefaultInferenceId``: the index setting ``index.semantic_text.default_inference_id``
  (9.4, #143486), then EIS endpoints (``.jina-…`` for new indices, #142980; ``.elser-2-elastic``,
  #134708) when registered, else ``DEFAULT_FALLBACK_ELSER_INFERENCE_ID``
  (``.elser-2-elasticsearch``).
  The embedded server has no EIS, so every version falls back to ML-node ELSER.
* The ``inference_id`` is not checked against the registry when the mapping is created (docs of
  ``semantic-text``, PR #111329); a missing endpoint fails each document at ingest
  (``ShardBulkInferenceActionFilter``: ``Inference id [..] not found for field [..]``).
* ``model_settings`` (``MinimalServiceSettings.toXContent``: service, task_type) appear in the
  mapping once the endpoint is resolved: at mapping time when it exists (model registry lookup,
  PR #120560 and its follow-ups), otherwise when the first document is indexed. Not re-checked
  against a running cluster.
* ``chunking_settings`` on the field (``SemanticTextFieldMapper``, #121041, 8.19/9.1) override
  the endpoint's at ingest (``ShardBulkInferenceActionFilter.addFieldInferenceRequests``); they
  are validated as the endpoint's are and rendered after ``model_settings``.
* Index names: ``MetadataCreateIndexService.validateIndexOrAliasName`` (lower case; no leading
  ``_``, ``-``, ``+``) → ``invalid_index_name_exception``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..versions import EsVersion
from ..wire.errors import EsError
from . import chunking
from .ids import DEFAULT_ELSER_ID

CONTENT_TYPE = "semantic_text"
DEFAULT_ID_SETTING = "index.semantic_text.default_inference_id"
# Field types accepted beside semantic_text (the mapping parser's registered types, the few a
# semantic search index uses); anything else is "No handler for type".
PLAIN_TYPES = frozenset({
    "text", "keyword", "long", "integer", "short", "byte", "double", "float", "boolean", "date",
    "sparse_vector", "dense_vector", "object", "nested",
})  # fmt: skip
SEMANTIC_PARAMS = frozenset(
    {"type", "inference_id", "search_inference_id", "model_settings", "chunking_settings"}
)


@dataclass
class SemanticField:
    name: str
    inference_id: str
    search_inference_id: str | None = None
    model_settings: dict[str, Any] | None = None  # set once the endpoint is resolved
    chunking_settings: dict[str, Any] | None = None  # the field's own (#121041); None: endpoint's

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": CONTENT_TYPE, "inference_id": self.inference_id}
        if self.search_inference_id is not None:
            out["search_inference_id"] = self.search_inference_id
        if self.model_settings is not None:
            out["model_settings"] = dict(self.model_settings)
        if self.chunking_settings is not None:
            out["chunking_settings"] = dict(self.chunking_settings)
        return out


@dataclass
class Mapping:
    """The ``properties`` of an index: semantic_text fields parsed, the others kept as sent."""

    semantic: dict[str, SemanticField] = field(default_factory=dict)
    plain: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        if not self.semantic and not self.plain:
            return {}
        merged = {**self.plain, **{k: v.to_json() for k, v in self.semantic.items()}}
        return {"properties": {k: merged[k] for k in sorted(merged)}}  # ES sorts properties


def mapper_parsing(reason: str) -> EsError:
    """``MapperParsingException`` as ``MetadataCreateIndexService`` wraps it."""
    return EsError(
        "mapper_parsing_exception",
        f"Failed to parse mapping: {reason}",
        400,
        caused_by=EsError("mapper_parsing_exception", reason, 400),
    )


def validate_index_name(name: str) -> None:
    def invalid(why: str) -> EsError:
        return EsError(
            "invalid_index_name_exception", f"Invalid index name [{name}], {why}", 400,
            extra={"index_uuid": "_na_", "index": name},
        )  # fmt: skip

    if name != name.lower():
        raise invalid("must be lowercase")
    if name[:1] in ("_", "-", "+"):
        raise invalid("must not start with '_', '-', or '+'")


def default_inference_id(settings: dict[str, Any], version: EsVersion) -> str:
    """``getDefaultInferenceId``: the 9.4 index setting, else ML-node ELSER (no EIS here)."""
    pinned = settings.get(DEFAULT_ID_SETTING)
    if version.has("semantic-text-default-id-setting") and pinned is not None:
        return str(pinned)
    return DEFAULT_ELSER_ID


def flat_settings(raw: Any) -> dict[str, Any]:
    """Index settings flattened to ``index.…`` keys (``Settings.builder().loadFromMap``)."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out[prefix] = value

    walk("", raw or {})
    return {(k if k.startswith("index.") else f"index.{k}"): v for k, v in out.items()}


def check_settings(settings: dict[str, Any], version: EsVersion) -> None:
    """Before 9.4 the default-id setting is unknown (``IndexScopedSettings.validate``)."""
    if DEFAULT_ID_SETTING in settings and not version.has("semantic-text-default-id-setting"):
        raise EsError(
            "illegal_argument_exception",
            f"unknown setting [{DEFAULT_ID_SETTING}] please check that any required plugins are "
            "installed, or check the breaking changes documentation for removed settings",
        )
    if DEFAULT_ID_SETTING in settings and not str(settings[DEFAULT_ID_SETTING]).strip():
        raise EsError("illegal_argument_exception", f"[{DEFAULT_ID_SETTING}] must not be blank")


def parse_mappings(raw: Any, settings: dict[str, Any], version: EsVersion) -> Mapping:
    """The ``mappings`` of a create-index body (``_doc`` wrapper not supported)."""
    mapping = Mapping()
    if raw is None:
        return mapping
    if not isinstance(raw, dict):
        raise mapper_parsing("Expected map for property [mappings]")
    properties = raw.get("properties", {})
    if not isinstance(properties, dict):
        raise mapper_parsing("Expected map for property [properties]")
    for name, spec in properties.items():
        if not isinstance(spec, dict):
            raise mapper_parsing(f"Expected map for property [fields] on field [{name}] but got a "
                                 f"class java.lang.String")  # fmt: skip
        kind = spec.get("type", "object")
        if kind == CONTENT_TYPE:
            mapping.semantic[name] = _semantic_field(name, spec, settings, version)
        elif kind in PLAIN_TYPES:
            mapping.plain[name] = dict(spec)
        else:
            raise mapper_parsing(f"No handler for type [{kind}] declared on field [{name}]")
    return mapping


def _semantic_field(
    name: str, spec: dict[str, Any], settings: dict[str, Any], version: EsVersion
) -> SemanticField:
    unknown = [k for k in spec if k not in SEMANTIC_PARAMS]
    if unknown:  # FieldMapper.Builder.parse: the first unknown parameter
        raise mapper_parsing(f"unknown parameter [{unknown[0]}] on mapper [{name}] of type "
                             f"[{CONTENT_TYPE}]")  # fmt: skip
    inference_id = spec.get("inference_id")
    if inference_id is None:
        inference_id = default_inference_id(settings, version)
    if not isinstance(inference_id, str) or not inference_id:
        raise mapper_parsing(f"[inference_id] on mapper [{name}] of type [{CONTENT_TYPE}] must "
                             "not be empty")  # fmt: skip
    search_id = spec.get("search_inference_id")
    field = SemanticField(name, inference_id, search_id if isinstance(search_id, str) else None)
    raw_chunking = spec.get("chunking_settings")
    if raw_chunking is not None:  # SemanticTextFieldMapper chunking_settings (#121041)
        try:
            field.chunking_settings = chunking.parse(raw_chunking, version)
        except EsError as error:  # validated as on PUT _inference; reported as a mapping error
            raise mapper_parsing(error.reason) from None
    return field


def model_settings(task_type: str) -> dict[str, Any]:
    """``MinimalServiceSettings`` as a sparse ELSER endpoint writes it into the mapping."""
    return {"service": "elasticsearch", "task_type": task_type}
