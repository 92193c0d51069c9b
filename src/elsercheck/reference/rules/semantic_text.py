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
* Index names: ``MetadataCreateIndexService.validateIndexOrAliasName`` then ``validateIndexName``
  (lower case) → ``invalid_index_name_exception``, the rules in ``INDEX_NAME_RULES`` in its order.
* Shards: ``IndexMetadata.SETTING_NUMBER_OF_SHARDS`` (1 ..
  ``es.index.max_number_of_shards`` 1024) and ``SETTING_NUMBER_OF_REPLICAS`` (≥ 0), parsed by
  ``Setting.parseInt``.
* Mapping limits: ``MappingLookup.checkFieldLimit`` (``index.mapping.total_fields.limit``
  1000: object and leaf fields, multi-fields included) and ``checkObjectDepthLimit``
  (``index.mapping.depth.limit`` 20: an object at path ``a.b`` has depth dots + 2).
* A non-string ``type`` is named as Java prints it (``ObjectMapper.TypeParser.parseProperties``:
  ``typeNode.toString()``): ``["text"]`` → ``No handler for type [[text]]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..versions import EsVersion
from ..wire.errors import EsError
from ..wire.javafmt import java_str
from . import chunking
from .elastic_service import ELSER_ENDPOINT_ID as EIS_ELSER_ID
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
# The mapping parameters the reference server models, per field type. Elasticsearch knows many
# more (analyzer, ignore_above, format, dims, dynamic, …); they change what is stored or how it
# is searched, which is not modelled, so a mapping naming one is refused with a 400 naming it,
# never accepted and ignored. ``copy_to`` (FieldMapper.CopyTo) fills semantic_text targets
# (below); ``fields`` (FieldMapper.MultiFields) are parsed and kept, each by this same table.
_LEAF = frozenset({"type", "copy_to"})
MODELLED_PARAMS: dict[str, frozenset[str]] = {
    "text": _LEAF | {"fields"},
    "keyword": _LEAF | {"fields", "ignore_above"},  # indices/query.FieldType.indexed
    **{kind: _LEAF for kind in ("long", "integer", "short", "byte", "double", "float",
                                "boolean", "date")},
    "sparse_vector": frozenset({"type"}),
    "object": frozenset({"type", "properties"}),
    "nested": frozenset({"type", "properties"}),
    CONTENT_TYPE: SEMANTIC_PARAMS,
}  # fmt: skip
# Root mapping elements (RootObjectMapper.TypeParser, MetadataFieldMapper parsers): only
# ``properties`` is modelled
MODELLED_ROOT = frozenset({"properties"})


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
    # top-level source field → the semantic_text fields it is copied to (copy_to)
    copied_to: dict[str, list[str]] = field(default_factory=dict)

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


MAX_INDEX_NAME_BYTES = 255  # MetadataCreateIndexService.MAX_INDEX_NAME_BYTES
# Strings.INVALID_FILENAME_CHARS as its HashSet prints them
INVALID_FILENAME_CHARS = '[ , ", *, \\, <, |, ,, >, /, ?]'
# MetadataCreateIndexService.validateIndexOrAliasName (in order), then validateIndexName
INDEX_NAME_RULES: tuple[tuple[Any, str], ...] = (
    (lambda n: n == "", "must not be empty"),
    (lambda n: any(c in n for c in '\\/*?"<>| ,'),
     f"must not contain the following characters {INVALID_FILENAME_CHARS}"),
    (lambda n: "#" in n, "must not contain '#'"),
    (lambda n: ":" in n, "must not contain ':'"),
    (lambda n: n[0] in "_-+", "must not start with '_', '-', or '+'"),
    (lambda n: len(_utf8(n)) > MAX_INDEX_NAME_BYTES,
     "index name is too long, ({bytes} > " f"{MAX_INDEX_NAME_BYTES})"),
    (lambda n: n in (".", ".."), "must not be '.' or '..'"),
    (lambda n: n != n.lower(), "must be lowercase"),
)  # fmt: skip


def _utf8(name: str) -> bytes:
    return name.encode("utf-8", "surrogatepass")


def index_name_error(name: str) -> EsError | None:
    """``invalid_index_name_exception`` for a name Elasticsearch refuses, else None."""
    for broken, why in INDEX_NAME_RULES:
        if broken(name):
            return EsError(
                "invalid_index_name_exception",
                f"Invalid index name [{name}], {why.format(bytes=len(_utf8(name)))}", 400,
                extra={"index_uuid": "_na_", "index": name},
            )  # fmt: skip
    return None


def validate_index_name(name: str) -> None:
    error = index_name_error(name)
    if error is not None:
        raise error


def default_inference_id(
    settings: dict[str, Any], version: EsVersion, eis_elser: bool = False
) -> str:
    """``getDefaultInferenceId``: the 9.4 index setting, else ELSER on EIS when EIS authorised
    it (9.3, #134708 ``getPreferredElserInferenceId``; from 9.4 Jina v5 on EIS, #142980: dense,
    not modelled, refused by name), else ML-node ELSER."""
    pinned = settings.get(DEFAULT_ID_SETTING)
    if version.has("semantic-text-default-id-setting") and pinned is not None:
        return str(pinned)
    if eis_elser and version.has("semantic-text-default-jina"):
        raise not_modelled_mapping(
            "the default [inference_id] with the Elastic Inference Service from 9.4 "
            "([.jina-embeddings-v5-text-small], dense embeddings); name an [inference_id]"
        )
    if eis_elser and version.has("semantic-text-default-eis"):
        return EIS_ELSER_ID
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


# Setting -> (minimum, maximum) of an int index setting (Setting.intSetting bounds)
INT_SETTINGS: dict[str, tuple[int, int | None]] = {
    "index.number_of_shards": (1, 1024),  # IndexMetadata.SETTING_NUMBER_OF_SHARDS
    "index.number_of_replicas": (0, None),  # IndexMetadata.SETTING_NUMBER_OF_REPLICAS
}
TOTAL_FIELDS_LIMIT = 1000  # MapperService.INDEX_MAPPING_TOTAL_FIELDS_LIMIT_SETTING
DEPTH_LIMIT = 20  # MapperService.INDEX_MAPPING_DEPTH_LIMIT_SETTING


def check_settings(settings: dict[str, Any], version: EsVersion) -> None:
    """Before 9.4 the default-id setting is unknown (``IndexScopedSettings.validate``); int
    settings within their bounds (``Setting.parseInt``)."""
    if DEFAULT_ID_SETTING in settings and not version.has("semantic-text-default-id-setting"):
        raise EsError(
            "illegal_argument_exception",
            f"unknown setting [{DEFAULT_ID_SETTING}] please check that any required plugins are "
            "installed, or check the breaking changes documentation for removed settings",
        )
    if DEFAULT_ID_SETTING in settings and not str(settings[DEFAULT_ID_SETTING]).strip():
        raise EsError("illegal_argument_exception", f"[{DEFAULT_ID_SETTING}] must not be blank")
    for key, (low, high) in INT_SETTINGS.items():
        if key not in settings:
            continue
        raw = java_str(settings[key])
        try:
            value = int(raw.strip())
        except ValueError:
            raise EsError(
                "illegal_argument_exception", f"Failed to parse value [{raw}] for setting [{key}]"
            ) from None
        if value < low:
            raise EsError(
                "illegal_argument_exception",
                f"Failed to parse value [{raw}] for setting [{key}] must be >= {low}",
            )
        if high is not None and value > high:
            raise EsError(
                "illegal_argument_exception",
                f"Failed to parse value [{raw}] for setting [{key}] must be <= {high}",
            )


def check_mapping_limits(properties: dict[str, Any]) -> None:
    """``MappingLookup.checkFieldLimit`` then ``checkObjectDepthLimit`` over the properties
    (objects, leaves and multi-fields), walked without recursion."""
    count = 0
    deep: str | None = None
    stack: list[tuple[str, Any]] = [("", properties)]
    while stack:
        prefix, props = stack.pop()
        if not isinstance(props, dict):
            continue
        for name, spec in props.items():
            path = f"{prefix}{name}"
            count += 1
            if not isinstance(spec, dict):
                continue
            if isinstance(spec.get("properties"), dict):  # an object field
                if deep is None and path.count(".") + 2 > DEPTH_LIMIT:
                    deep = path
                stack.append((f"{path}.", spec["properties"]))
            if isinstance(spec.get("fields"), dict):  # multi-fields count as fields
                count += len(spec["fields"])
        if count > TOTAL_FIELDS_LIMIT:
            break
    if count > TOTAL_FIELDS_LIMIT:
        raise EsError(
            "illegal_argument_exception",
            f"Limit of total fields [{TOTAL_FIELDS_LIMIT}] has been exceeded",
        )
    if deep is not None:
        raise EsError("illegal_argument_exception", f"Limit of mapping depth [{DEPTH_LIMIT}] has "
                      f"been exceeded due to object field [{deep}]")  # fmt: skip


def not_modelled_mapping(what: str) -> EsError:
    return EsError(
        "status_exception", f"The reference server does not model {what} in mappings", 400
    )


def _check_params(name: str, kind: str, spec: dict[str, Any], nested: bool) -> None:
    """Every parameter of a field is one the reference server models (``MODELLED_PARAMS``);
    its multi-fields and object properties are checked the same way."""
    if kind == CONTENT_TYPE and nested:
        raise not_modelled_mapping(f"a [{CONTENT_TYPE}] field inside an object or as a "
                                   f"multi-field ([{name}])")  # fmt: skip
    for key in spec:
        if key not in MODELLED_PARAMS.get(kind, frozenset({"type"})):
            raise not_modelled_mapping(f"the parameter [{key}] of a [{kind}] field ([{name}])")
    ignore_above = spec.get("ignore_above")
    if ignore_above is not None and (
        isinstance(ignore_above, bool) or not isinstance(ignore_above, int) or ignore_above < 0
    ):
        # KeywordFieldMapper's ignore_above is an int parameter that must not be negative; the
        # exact ES texts for a bad value were not read: refused as not modelled
        raise not_modelled_mapping(f"[ignore_above] [{java_str(ignore_above)}] on [{name}] "
                                   "(only a non-negative integer is modelled)")  # fmt: skip
    copy_to = spec.get("copy_to")
    if copy_to is not None and not isinstance(copy_to, str | list):
        raise mapper_parsing(f"Failed to parse mapping: [copy_to] on [{name}] must be a string "
                             "or a list of strings")  # fmt: skip
    if nested and copy_to is not None:
        raise not_modelled_mapping(f"[copy_to] from a multi-field or object field ([{name}])")
    children = [("fields", spec.get("fields")), ("properties", spec.get("properties"))]
    for what, sub in children:
        if sub is None:
            continue
        if not isinstance(sub, dict):
            raise mapper_parsing(f"Expected map for property [{what}] on field [{name}]")
        for child, child_spec in sub.items():
            if not isinstance(child_spec, dict):
                raise mapper_parsing(f"Expected map for property [{child}] on field [{name}]")
            child_kind = child_spec.get("type", "object")
            if not isinstance(child_kind, str):
                child_kind = java_str(child_kind)
            if child_kind not in MODELLED_PARAMS:
                raise mapper_parsing(f"No handler for type [{child_kind}] declared on field "
                                     f"[{child}]")  # fmt: skip
            _check_params(f"{name}.{child}", child_kind, child_spec, True)


def copy_targets(spec: dict[str, Any]) -> list[str]:
    targets = spec.get("copy_to") or []
    return [targets] if isinstance(targets, str) else [str(t) for t in targets]


def inference_values(mapping: Mapping, source: dict[str, Any]) -> dict[str, Any]:
    """The values each semantic_text field infers: its own and those copied to it
    (``SemanticTextFieldMapper`` accepts ``copy_to`` targets; ``InferenceFieldMetadata
    .getSourceFields`` lists the field and its copy_to sources, and
    ``ShardBulkInferenceActionFilter.addFieldInferenceRequests`` infers every source field's
    values into the target's chunks)."""
    if not mapping.copied_to:
        return source
    values: dict[str, list[Any]] = {}
    for name in mapping.semantic:
        own = source.get(name)
        if own is not None:
            values.setdefault(name, []).extend(own if isinstance(own, list) else [own])
    for source_field, targets in mapping.copied_to.items():
        copied = source.get(source_field)
        if copied is None:
            continue
        for target in targets:
            values.setdefault(target, []).extend(copied if isinstance(copied, list) else [copied])
    return {**source, **values}


def parse_mappings(
    raw: Any, settings: dict[str, Any], version: EsVersion, *, eis_elser: bool = False
) -> Mapping:
    """The ``mappings`` of a create-index body (``_doc`` wrapper not supported)."""
    mapping = Mapping()
    if raw is None:
        return mapping
    if not isinstance(raw, dict):
        raise mapper_parsing("Expected map for property [mappings]")
    for key in raw:
        if key not in MODELLED_ROOT:
            raise not_modelled_mapping(f"the root mapping element [{key}]")
    properties = raw.get("properties", {})
    if not isinstance(properties, dict):
        raise mapper_parsing("Expected map for property [properties]")
    properties = expand_dots(properties)
    for name, spec in properties.items():
        if not isinstance(spec, dict):
            raise mapper_parsing(f"Expected map for property [fields] on field [{name}] but got a "
                                 f"class java.lang.String")  # fmt: skip
        kind = spec.get("type", "object")
        if not isinstance(kind, str):
            kind = java_str(kind)
        if kind == CONTENT_TYPE:
            mapping.semantic[name] = _semantic_field(name, spec, settings, version, eis_elser)
        elif kind in PLAIN_TYPES:
            mapping.plain[name] = dict(spec)
        else:
            raise mapper_parsing(f"No handler for type [{kind}] declared on field [{name}]")
        if kind != CONTENT_TYPE:
            _check_params(name, kind, spec, False)
    check_mapping_limits(properties)
    for name, spec in mapping.plain.items():
        for target in copy_targets(spec):
            if target in mapping.semantic:
                mapping.copied_to.setdefault(name, []).append(target)
            else:  # a plain or dynamically mapped target: what it would match is not modelled
                raise not_modelled_mapping(
                    f"[copy_to] a field not of type [{CONTENT_TYPE}] ([{name}] to [{target}])"
                )
    return mapping


def expand_dots(properties: dict[str, Any]) -> dict[str, Any]:
    """Dotted field names as objects: ``{"ml.tokens": spec}`` is ``{"ml": {"properties":
    {"tokens": spec}}}`` (ES ObjectMapper.TypeParser.parseProperties: ``fieldName.split("\\.")``,
    an intermediate ObjectMapper per part; GET _mapping shows the objects). Merging a dotted
    name into a field that is not an object is refused as not modelled."""
    if not any("." in name for name in properties):
        return properties
    out: dict[str, Any] = {}
    for name, spec in properties.items():
        *parents, leaf = name.split(".")
        here = out
        for part in parents:
            node = here.setdefault(part, {"properties": {}})
            if not isinstance(node, dict) or node.get("type", "object") != "object":
                raise not_modelled_mapping(f"the dotted field name [{name}] under a field that "
                                           "is not an object")  # fmt: skip
            here = node.setdefault("properties", {})
        if leaf in here:
            raise not_modelled_mapping(f"the dotted field name [{name}] merged with another "
                                       f"definition of [{leaf}]")  # fmt: skip
        here[leaf] = spec
    return out


def _semantic_field(
    name: str,
    spec: dict[str, Any],
    settings: dict[str, Any],
    version: EsVersion,
    eis_elser: bool = False,
) -> SemanticField:
    unknown = [k for k in spec if k not in SEMANTIC_PARAMS]
    if unknown:  # FieldMapper.Builder.parse: the first unknown parameter
        raise mapper_parsing(f"unknown parameter [{unknown[0]}] on mapper [{name}] of type "
                             f"[{CONTENT_TYPE}]")  # fmt: skip
    inference_id = spec.get("inference_id")
    if inference_id is None:
        inference_id = default_inference_id(settings, version, eis_elser)
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


def model_settings(task_type: str, service: str = "elasticsearch") -> dict[str, Any]:
    """``MinimalServiceSettings`` as a sparse ELSER endpoint writes it into the mapping."""
    return {"service": service, "task_type": task_type}
