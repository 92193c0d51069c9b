"""Ingest pipelines: parsed at PUT as ES ``Pipeline.create`` / ``ConfigurationUtils`` reads them,
run on a document before it is indexed (ES IngestService.executePipelines).

Modelled processors: ``inference`` (an inference endpoint or a trained model deployment; the
``input_output`` form and the older ``field_map``/``target_field`` form), ``set``, ``remove``
and ``rename``. Every other processor type, and the options that would change what a modelled
one does but are not modelled (``if``, ``on_failure``, templates, ``copy_from`` …), are refused
by name at PUT time (501), never accepted and ignored.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..wire.errors import EsError, status_exception

MODELLED = ("inference", "set", "remove", "rename")
COMMON = frozenset({"tag", "description", "ignore_failure"})  # ES ConfigurationUtils.readProcessor
REFUSED_COMMON = ("if", "on_failure")
PIPELINE_KEYS = frozenset({"description", "processors", "version", "_meta", "deprecated"})
# ES InferenceProcessor: DEFAULT_TARGET_FIELD, and TextExpansionConfig's default results field
DEFAULT_TARGET_FIELD = "ml.inference"
DEFAULT_RESULTS_FIELD = "predicted_value"
# ES InferenceProcessor.Factory (input_output) and Messages (text recalled, not re-read)
MESSAGES = {
    "target_with_io": (
        "[target_field] option is incompatible with [input_output]. Use the [output_field] option "
        "to specify where to write the inference results to."
    ),
    "missing_input": "Input field [{field}] does not exist in the source document",
    "no_pipeline": "pipeline with id [{id}] does not exist",
    "not_present": "field [{field}] not present as part of path [{field}]",
    "rename_missing": "field [{field}] doesn't exist",
    "rename_exists": "field [{field}] already exists",
}
METADATA_FIELDS = frozenset({"_index", "_id", "_routing", "_version", "_version_type",
                             "_if_seq_no", "_if_primary_term", "_dynamic_templates"})  # fmt: skip


def not_modelled(what: str) -> EsError:
    return status_exception(f"The reference server does not model {what}", 501)


def _config_error(processor: str, tag: str | None, prop: str | None, reason: str) -> EsError:
    """``ConfigurationUtils.newConfigurationException``: a ``parse_exception`` with the
    processor's type, tag and property as metadata (rendered as ``header``)."""
    headers = {"processor_type": [processor]}
    if tag is not None:
        headers["processor_tag"] = [tag]
    if prop is not None:
        headers["property_name"] = [prop]
        reason = f"[{prop}] {reason}"
    return EsError("parse_exception", reason, 400, headers=headers)


@dataclass
class Processor:
    type: str
    config: dict[str, Any]
    tag: str | None = None
    ignore_failure: bool = False


@dataclass
class Pipeline:
    id: str
    source: dict[str, Any]  # as PUT, returned by GET
    processors: list[Processor] = field(default_factory=list)

    def model_ids(self) -> set[str]:
        return {p.config["model_id"] for p in self.processors if p.type == "inference"}


def _string(proc: str, tag: str | None, config: dict[str, Any], name: str,
            required: bool = True) -> str | None:  # fmt: skip
    """``ConfigurationUtils.readStringProperty``."""
    value = config.get(name)
    if value is None:
        if required:
            raise _config_error(proc, tag, name, "required property is missing")
        return None
    if not isinstance(value, str):
        raise _config_error(proc, tag, name, f"property isn't a string, but of type "
                            f"[{_java_type(value)}]")  # fmt: skip
    return value


def _java_type(value: Any) -> str:
    return {bool: "java.lang.Boolean", int: "java.lang.Integer", float: "java.lang.Double",
            list: "java.util.ArrayList", dict: "java.util.LinkedHashMap"}.get(
        type(value), "java.lang.String")  # fmt: skip


def _check_template(proc: str, name: str, value: Any) -> None:
    if isinstance(value, str) and "{{" in value:
        raise not_modelled(f"mustache templates in the [{proc}] processor's [{name}]")


def _parse_processor(raw: Any) -> Processor:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise EsError("parse_exception", "[processors] processor must be an object with a single "
                      "key, the processor type")  # fmt: skip
    ptype, config = next(iter(raw.items()))
    if ptype not in MODELLED:
        raise not_modelled(f"the [{ptype}] ingest processor (modelled: {', '.join(MODELLED)})")
    if not isinstance(config, dict):
        raise EsError("parse_exception", f"[{ptype}] processor config must be an object")
    config = dict(config)
    for name in REFUSED_COMMON:
        if name in config:
            raise not_modelled(f"[{name}] on the [{ptype}] processor")
    tag = config.get("tag")
    processor = Processor(ptype, config, tag if isinstance(tag, str) else None,
                          config.get("ignore_failure") is True)  # fmt: skip
    allowed = COMMON | _PARSERS[ptype](processor)
    unknown = [k for k in config if k not in allowed]
    if unknown:
        reason = (
            f"processor [{ptype}] doesn't support one or more provided configuration parameters "
            f"{_java_list(unknown)}"
        )
        raise _config_error(ptype, processor.tag, None, reason)
    return processor


def _java_list(values: list[str]) -> str:
    return "[" + ", ".join(values) + "]"


def _parse_set(p: Processor) -> frozenset[str]:
    """ES SetProcessor.Factory: field, value (or copy_from), override."""
    c = p.config
    target = _string("set", p.tag, c, "field")
    for name in ("copy_from", "ignore_empty_value", "media_type"):
        if name in c:
            raise not_modelled(f"[{name}] on the [set] processor")
    if "value" not in c:
        raise _config_error("set", p.tag, "value", "required property is missing")
    assert target is not None
    _check_template("set", "field", target)
    _check_template("set", "value", c["value"])
    if target in METADATA_FIELDS:
        raise not_modelled(f"setting the metadata field [{target}] in a pipeline")
    return frozenset({"field", "value", "override"})


def _parse_remove(p: Processor) -> frozenset[str]:
    """ES RemoveProcessor.Factory: field (string or list), ignore_missing."""
    c = p.config
    if "keep" in c:
        raise not_modelled("[keep] on the [remove] processor")
    fields = c.get("field")
    if fields is None:
        raise _config_error("remove", p.tag, "field", "required property is missing")
    for name in fields if isinstance(fields, list) else [fields]:
        _check_template("remove", "field", name)
        if name in METADATA_FIELDS:
            raise not_modelled(f"removing the metadata field [{name}] in a pipeline")
    return frozenset({"field", "ignore_missing"})


def _parse_rename(p: Processor) -> frozenset[str]:
    """ES RenameProcessor.Factory: field, target_field, ignore_missing, override."""
    for name in ("field", "target_field"):
        value = _string("rename", p.tag, p.config, name)
        _check_template("rename", name, value)
        if value in METADATA_FIELDS:
            raise not_modelled(f"renaming the metadata field [{value}] in a pipeline")
    return frozenset({"field", "target_field", "ignore_missing", "override"})


def _parse_inference(p: Processor) -> frozenset[str]:
    """ES InferenceProcessor.Factory.create: model_id; input_output or field_map/target_field;
    inference_config (only ``text_expansion.results_field`` is modelled)."""
    c = p.config
    _string("inference", p.tag, c, "model_id")
    io = c.get("input_output")
    if io is not None:
        if "target_field" in c:
            raise _config_error("inference", p.tag, None, MESSAGES["target_with_io"])
        entries = io if isinstance(io, list) else [io]
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("input_field"), str):
                raise _config_error("inference", p.tag, "input_field",
                                    "required property is missing")  # fmt: skip
            if not isinstance(entry.get("output_field"), str):
                raise not_modelled("[input_output] without an [output_field]")
            extra = set(entry) - {"input_field", "output_field"}
            if extra:
                raise not_modelled(f"{sorted(extra)} in [input_output]")
        if "field_map" in c:
            raise not_modelled("[field_map] together with [input_output]")
    if "field_mappings" in c:
        raise not_modelled("the deprecated [field_mappings] (use [field_map])")
    field_map = c.get("field_map")
    if field_map is not None and not (
        isinstance(field_map, dict) and all(isinstance(v, str) for v in field_map.values())
    ):
        raise _config_error("inference", p.tag, "field_map", "property isn't a map")
    config = c.get("inference_config")
    if config is not None:
        if io is not None:  # the results field would be ignored: refused as ES refuses it
            raise not_modelled("[inference_config] together with [input_output]")
        if not (isinstance(config, dict) and list(config) == ["text_expansion"]
                and isinstance(config["text_expansion"], dict)
                and set(config["text_expansion"]) <= {"results_field"}):  # fmt: skip
            raise not_modelled(f"the inference_config {config} (only text_expansion with "
                               "results_field)")  # fmt: skip
    if "ignore_missing" in c:
        raise not_modelled("[ignore_missing] on the [inference] processor")
    return frozenset({"model_id", "input_output", "field_map", "target_field",
                      "inference_config"})  # fmt: skip


_PARSERS: dict[str, Callable[[Processor], frozenset[str]]] = {
    "set": _parse_set, "remove": _parse_remove, "rename": _parse_rename,
    "inference": _parse_inference,
}  # fmt: skip


def parse(pipeline_id: str, body: Any) -> Pipeline:
    """``Pipeline.create``: the processors in order; unknown pipeline keys are an error."""
    if not isinstance(body, dict):
        raise EsError("parse_exception", "pipeline body must be an object")
    unknown = [k for k in body if k not in PIPELINE_KEYS | {"on_failure"}]
    if unknown:
        raise EsError("parse_exception", f"pipeline [{pipeline_id}] doesn't support one or more "
                      f"provided configuration parameters {_java_list(unknown)}")  # fmt: skip
    if "on_failure" in body:
        raise not_modelled("[on_failure] on a pipeline")
    raw = body.get("processors")
    if raw is None:
        raise EsError("parse_exception", "[processors] required property is missing",
                      headers={"property_name": ["processors"]})  # fmt: skip
    if not isinstance(raw, list):
        raise EsError("parse_exception", "[processors] property isn't a list, but of type "
                      f"[{_java_type(raw)}]")  # fmt: skip
    return Pipeline(pipeline_id, body, [_parse_processor(p) for p in raw])


# -- running a pipeline ----------------------------------------------------------------------
def _get(doc: dict[str, Any], path: str) -> tuple[bool, Any]:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _set(doc: dict[str, Any], path: str, value: Any, override: bool = True) -> None:
    """``IngestDocument.setFieldValue``: intermediate objects are created."""
    parts = path.split(".")
    target = doc
    for part in parts[:-1]:
        nxt = target.get(part)
        if nxt is None:
            nxt = target[part] = {}
        if not isinstance(nxt, dict):
            reason = (
                f"cannot set [{parts[-1]}] with parent object of type [{_java_type(nxt)}] as part "
                f"of path [{path}]"
            )
            raise EsError("illegal_argument_exception", reason)
        target = nxt
    if override or parts[-1] not in target or target[parts[-1]] is None:
        target[parts[-1]] = value


def _remove(doc: dict[str, Any], path: str) -> bool:
    parts = path.split(".")
    found, parent = _get(doc, ".".join(parts[:-1])) if len(parts) > 1 else (True, doc)
    if not found or not isinstance(parent, dict) or parts[-1] not in parent:
        return False
    del parent[parts[-1]]
    return True


# (model_id, text) -> the tokens and whether the text was truncated
Infer = Callable[[str, str], Awaitable[tuple[dict[str, float], bool]]]
# model_id -> the model's input field, or None for an inference endpoint (input_output only)
InputField = Callable[[str], str | None]


async def run(pipeline: Pipeline, doc: dict[str, Any], infer: Infer,
              input_field: InputField) -> dict[str, Any]:  # fmt: skip
    """The document after the pipeline, or the first processor failure (raised)."""
    doc = copy.deepcopy(doc)
    for processor in pipeline.processors:
        try:
            await _execute(processor, doc, infer, input_field)
        except EsError:
            if not processor.ignore_failure:
                raise
    return doc


async def _execute(p: Processor, doc: dict[str, Any], infer: Infer,
                   input_field: InputField) -> None:  # fmt: skip
    c = p.config
    if p.type == "set":
        _set(doc, c["field"], copy.deepcopy(c["value"]), c.get("override", True) is not False)
    elif p.type == "remove":
        fields = c["field"] if isinstance(c["field"], list) else [c["field"]]
        for name in fields:
            if not _remove(doc, name) and c.get("ignore_missing") is not True:
                raise EsError("illegal_argument_exception",
                              MESSAGES["not_present"].format(field=name))  # fmt: skip
    elif p.type == "rename":
        found, value = _get(doc, c["field"])
        if not found:
            if c.get("ignore_missing") is True:
                return
            raise EsError("illegal_argument_exception",
                          MESSAGES["rename_missing"].format(field=c["field"]))  # fmt: skip
        if _get(doc, c["target_field"])[0] and c.get("override") is not True:
            raise EsError("illegal_argument_exception",
                          MESSAGES["rename_exists"].format(field=c["target_field"]))  # fmt: skip
        _remove(doc, c["field"])
        _set(doc, c["target_field"], value)
    else:
        await _inference(p, doc, infer, input_field)


async def _inference(p: Processor, doc: dict[str, Any], infer: Infer,
                     input_field: InputField) -> None:  # fmt: skip
    c = p.config
    model_id = c["model_id"]
    io = c.get("input_output")
    if io is not None:  # ES InferenceProcessor with inputs: each input to its output field
        for entry in io if isinstance(io, list) else [io]:
            found, text = _get(doc, entry["input_field"])
            if not found:
                raise status_exception(MESSAGES["missing_input"].format(field=entry["input_field"]))
            if not isinstance(text, str):
                raise not_modelled(f"inference on a non-string input [{entry['input_field']}]")
            tokens, _ = await infer(model_id, text)
            _set(doc, entry["output_field"], tokens)
        return
    field_name = input_field(model_id)
    if field_name is None:
        raise not_modelled(f"the [field_map] form of the inference processor with the inference "
                           f"endpoint [{model_id}] (use input_output)")  # fmt: skip
    # LocalModel.mapFieldsIfNecessary: field_map renames source fields to the model's input
    source = dict(doc)
    for src, dest in (c.get("field_map") or {}).items():
        found, value = _get(doc, src)
        if found:
            source[dest] = value
    found, text = _get(source, field_name)
    if not found:
        raise status_exception(MESSAGES["missing_input"].format(field=field_name))
    if not isinstance(text, str):
        raise not_modelled(f"inference on a non-string input [{field_name}]")
    tokens, truncated = await infer(model_id, text)
    results_field = ((c.get("inference_config") or {}).get("text_expansion") or {}).get(
        "results_field", DEFAULT_RESULTS_FIELD)  # fmt: skip
    default_target = DEFAULT_TARGET_FIELD + (f".{p.tag}" if p.tag else "")
    target = c.get("target_field", default_target)
    # InferenceResults.writeResult: the results map, then model_id, under the target field
    result: dict[str, Any] = {results_field: tokens}
    if truncated:
        result["is_truncated"] = True
    result["model_id"] = model_id
    _set(doc, target, result)


class Pipelines:
    """The cluster's pipelines (ES IngestMetadata)."""

    def __init__(self) -> None:
        self.items: dict[str, Pipeline] = {}

    def model_ids(self) -> set[str]:
        """``InferenceProcessorInfoExtractor.getModelIdsFromInferenceProcessors``."""
        return {m for pipeline in self.items.values() for m in pipeline.model_ids()}

    def get(self, pipeline_id: str) -> Pipeline:
        pipeline = self.items.get(pipeline_id)
        if pipeline is None:
            raise EsError("illegal_argument_exception",
                          MESSAGES["no_pipeline"].format(id=pipeline_id))  # fmt: skip
        return pipeline
