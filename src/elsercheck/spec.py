"""The effective OpenAPI description the conformance gate checks against.

It is built from three things, in this order:

1. Elastic's official subset, vendored untouched in ``openapi/upstream/``;
2. the example ``value``s, which upstream stores as JSON *strings*, parsed into objects (an
   Overlay cannot express "parse every string", so the builder does it);
3. ``openapi/overlay.yaml``, an OpenAPI Overlay 1.0.0 document, applied by a generic applier.

Overlay semantics implemented here (Overlay 1.0.0, read with its 1.1.0 clarification of merging):

* ``target`` is an RFC 9535 JSONPath query; it must select objects or arrays;
* ``update`` on an object merges recursively: nested objects merge, nested arrays are
  concatenated, anything else is replaced; ``update`` on an array appends the value as one entry;
* ``remove: true`` deletes every selected node from its parent (the root cannot be removed);
* actions apply in order, each to the result of the previous one.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import jsonpath_rfc9535 as jsonpath
import yaml

from .paths import resource_dir

UPSTREAM_FILE = "upstream/elasticsearch-openapi-inference.json"
OVERLAY_FILE = "overlay.yaml"
SpecFormat = Literal["json", "yaml"]

# The operations an ELSER conformance gate exercises: operationId -> (method, path template).
# The overlay documents their error responses; tests check it did so for exactly these.
ELSER_OPERATIONS: dict[str, tuple[str, str]] = {
    "inference-put": ("put", "/_inference/{inference_id}"),
    "inference-put-1": ("put", "/_inference/{task_type}/{inference_id}"),
    "inference-put-elser": ("put", "/_inference/{task_type}/{elser_inference_id}"),
    "inference-put-elasticsearch": (
        "put",
        "/_inference/{task_type}/{elasticsearch_inference_id}",
    ),
    "inference-get": ("get", "/_inference"),
    "inference-get-1": ("get", "/_inference/{inference_id}"),
    "inference-get-2": ("get", "/_inference/{task_type}/{inference_id}"),
    "inference-get-3": ("get", "/_inference/{task_type}/_all"),
    "inference-delete": ("delete", "/_inference/{inference_id}"),
    "inference-delete-1": ("delete", "/_inference/{task_type}/{inference_id}"),
    "inference-update": ("put", "/_inference/{inference_id}/_update"),
    "inference-update-1": ("put", "/_inference/{task_type}/{inference_id}/_update"),
    "inference-inference": ("post", "/_inference/{inference_id}"),
    "inference-inference-1": ("post", "/_inference/{task_type}/{inference_id}"),
    "inference-sparse-embedding": ("post", "/_inference/sparse_embedding/{inference_id}"),
    "ml-get-trained-models-stats": ("get", "/_ml/trained_models/{model_id}/_stats"),
    "ml-get-trained-models-stats-1": ("get", "/_ml/trained_models/_stats"),
    "info": ("get", "/"),
}

# Where OpenAPI 3.0 allows Example Objects: media types, parameters, headers, components.
_EXAMPLE_QUERIES = (
    "$..content[*].examples[*]",
    "$..parameters[*].examples[*]",
    "$..headers[*].examples[*]",
    "$.components.examples[*]",
)


# libyaml's loader when PyYAML has it: the same safe constructors, ~7x less CPU on the overlay.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _NoAliasDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Writes shared nodes out in full: a spec read by other tools should have no YAML aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


class OverlayError(ValueError):
    """An overlay document or action that cannot be applied."""


# --- loading -------------------------------------------------------------------------------------


def load_upstream() -> dict[str, Any]:
    """Elastic's vendored OpenAPI subset, exactly as stored in ``openapi/upstream/``."""
    path = resource_dir("openapi") / UPSTREAM_FILE
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def load_overlay() -> dict[str, Any]:
    """``openapi/overlay.yaml``, checked to be a well-formed Overlay 1.0 document."""
    path = resource_dir("openapi") / OVERLAY_FILE
    with path.open(encoding="utf-8") as handle:
        overlay = yaml.load(handle, Loader=_SafeLoader)  # a safe loader, C or Python
    check_overlay(overlay)
    return overlay


def check_overlay(overlay: Any) -> None:
    """Raise :class:`OverlayError` unless ``overlay`` has the Overlay 1.0 structure."""
    if not isinstance(overlay, dict):
        raise OverlayError("an overlay is a mapping")
    version = str(overlay.get("overlay", ""))
    if not version.startswith("1.0."):
        raise OverlayError(f"unsupported overlay version {version!r} (expected 1.0.x)")
    info = overlay.get("info")
    if not isinstance(info, dict) or not {"title", "version"} <= info.keys():
        raise OverlayError("overlay info needs a title and a version")
    actions = overlay.get("actions")
    if not isinstance(actions, list) or not actions:
        raise OverlayError("overlay actions must be a non-empty list")
    for index, action in enumerate(actions):
        _check_action(index, action)


def _check_action(index: int, action: Any) -> None:
    if not isinstance(action, dict) or not isinstance(action.get("target"), str):
        raise OverlayError(f"action {index} needs a string target")
    if "update" not in action and action.get("remove") is not True:
        raise OverlayError(f"action {index} ({action['target']}) has neither update nor remove")
    if "remove" in action and not isinstance(action["remove"], bool):
        raise OverlayError(f"action {index} ({action['target']}): remove must be a boolean")
    try:
        jsonpath.compile(action["target"])
    except jsonpath.JSONPathError as error:
        raise OverlayError(f"action {index}: bad target {action['target']!r}: {error}") from error


# --- applying an overlay -------------------------------------------------------------------------


def apply_overlay(
    spec: Mapping[str, Any], overlay: Mapping[str, Any], *, require_match: bool = False
) -> dict[str, Any]:
    """Return a copy of ``spec`` with the overlay's actions applied in order.

    Inputs are not modified. With ``require_match`` an action whose target selects nothing
    raises :class:`OverlayError` (the Overlay spec lets it pass silently).
    """
    check_overlay(overlay)
    document = copy.deepcopy(dict(spec))
    for index, (action, matched) in enumerate(_run_actions(document, overlay["actions"])):
        if require_match and not matched:
            raise OverlayError(f"action {index} ({action['target']}) selects nothing")
    return document


def action_match_counts(spec: Mapping[str, Any], overlay: Mapping[str, Any]) -> list[int]:
    """How many nodes each action's target selected when it ran, in action order."""
    check_overlay(overlay)
    document = copy.deepcopy(dict(spec))
    return [matched for _, matched in _run_actions(document, overlay["actions"])]


def _run_actions(
    document: dict[str, Any], actions: list[dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], int]]:
    for action in actions:
        yield action, apply_action(document, action)


def apply_action(document: dict[str, Any], action: Mapping[str, Any]) -> int:
    """Apply one action to ``document`` in place; return how many nodes its target selected."""
    nodes = list(jsonpath.find(action["target"], document))
    targets: list[dict[str, Any] | list[Any]] = []
    for node in nodes:
        if not isinstance(node.value, dict | list):
            raise OverlayError(
                f"{action['target']} selects {node.path()}, which is neither object nor array"
            )
        targets.append(node.value)
    if action.get("remove") is True:
        _remove(document, [node.location for node in nodes], action["target"])
    else:
        for target in targets:
            _update(target, action["update"], action["target"])
    return len(nodes)


def _update(target: dict[str, Any] | list[Any], value: Any, where: str) -> None:
    if isinstance(target, list):
        target.append(copy.deepcopy(value))
        return
    if not isinstance(value, dict):
        raise OverlayError(f"{where}: the update of an object must be an object")
    merge(target, value)


def merge(target: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Merge ``update`` into ``target`` in place, the Overlay way.

    Objects merge recursively, arrays are concatenated, anything else replaces the old value.
    Values taken from ``update`` are copied, so the result never shares nodes with it.
    """
    for key, new in update.items():
        old = target.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            merge(old, new)
        elif isinstance(old, list) and isinstance(new, list):
            old.extend(copy.deepcopy(new))
        else:
            target[key] = copy.deepcopy(new)


def _remove(document: dict[str, Any], locations: list[tuple[str | int, ...]], where: str) -> None:
    if () in locations:
        raise OverlayError(f"{where}: the document root cannot be removed")
    # Deepest and highest-index first, so earlier deletions do not shift later locations.
    for location in sorted(set(locations), key=_location_sort_key, reverse=True):
        parent = _resolve(document, location[:-1])
        if parent is not None:
            del parent[location[-1]]


def _location_sort_key(location: tuple[str | int, ...]) -> tuple[tuple[int, str | int], ...]:
    return tuple((0, part) if isinstance(part, int) else (1, part) for part in location)


def _resolve(document: Any, location: tuple[str | int, ...]) -> Any:
    """The node at ``location``, or None if an earlier removal took it away."""
    node = document
    for part in location:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


# --- examples ------------------------------------------------------------------------------------


def parse_example_values(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``spec`` whose string example values holding JSON are parsed.

    Only strings that parse to a JSON object or array are replaced; anything else (e.g. the
    server-sent-event transcripts of the ``_stream`` examples) is kept as it is.
    """
    document = copy.deepcopy(dict(spec))
    for example in _example_objects(document):
        parsed = _json_container(example.get("value"))
        if parsed is not None:
            example["value"] = parsed
    return document


def _example_objects(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    seen: set[int] = set()
    for query in _EXAMPLE_QUERIES:
        for node in jsonpath.find(query, document):
            if isinstance(node.value, dict) and id(node.value) not in seen:
                seen.add(id(node.value))
                yield node.value


def _json_container(value: Any) -> dict[str, Any] | list[Any] | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict | list) else None


# --- the effective spec --------------------------------------------------------------------------


def build_effective_spec(
    upstream: Mapping[str, Any] | None = None, overlay: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Upstream with parsed examples and the overlay applied; every action must match.

    Defaults to the vendored upstream and ``openapi/overlay.yaml``. The result is a new
    document: the inputs are not modified, and the same inputs always give the same output.
    """
    if upstream is None and overlay is None:
        # Built once per process (the gate's collection and its answer checks both want it);
        # each caller gets its own copy, so none can change what the next one receives.
        return copy.deepcopy(_default_effective_spec())
    source = load_upstream() if upstream is None else upstream
    actions = load_overlay() if overlay is None else overlay
    return apply_overlay(parse_example_values(source), actions, require_match=True)


@functools.cache
def _default_effective_spec() -> dict[str, Any]:
    """The effective spec of the vendored files: never handed out, only copies of it."""
    return apply_overlay(parse_example_values(load_upstream()), load_overlay(), require_match=True)


def write_spec(
    path: str | Path, format: SpecFormat = "json", spec: Mapping[str, Any] | None = None
) -> Path:
    """Write the effective spec (or ``spec``) to ``path`` as JSON or YAML; return the path."""
    document = build_effective_spec() if spec is None else spec
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dump_spec(document, format), encoding="utf-8")
    return target


def dump_spec(spec: Mapping[str, Any], format: SpecFormat = "json") -> str:
    """Serialise a spec: JSON with 2-space indentation, or block-style YAML; key order kept."""
    if format == "json":
        return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
    if format == "yaml":
        return yaml.dump(
            dict(spec), Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, width=100
        )
    raise ValueError(f"unknown spec format {format!r} (json or yaml)")
