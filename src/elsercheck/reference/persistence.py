"""A data directory: the reference server's state kept across restarts (``serve --data-dir``).

What a node keeps on disk, and what a restart at a later version does with it:

* **The file.** ``DIR/elsercheck-state.json``, one JSON document, replaced atomically (written to
  a temporary file in ``DIR``, flushed and ``fsync``-ed, then ``os.replace``-d over the old one)
  after every acknowledged write (app.py) and once more at shutdown: a crash leaves the previous
  or the new document, never half of one. Without ``--data-dir`` nothing is written.
* **Its keys.** ``format`` (1), ``written_by`` (the Elasticsearch version that wrote it, as
  ``NodeMetadata`` records the node's version), ``cluster_uuid``, ``endpoints`` (each endpoint as
  the ``.inference`` index stores it: ``inference_id``, ``task_type``, ``service``,
  ``service_settings``, ``chunking_settings``), ``deployments`` (the ML node's deployments:
  ``deployment_id``, ``model_id``, ``threads``, ``allocations`` (the target when written),
  ``adaptive_allocations``, ``queue_capacity``), ``lost_deployments``, ``models`` (trained models
  defined, with their input fields), ``uploaded_models`` (each uploaded tree model's
  ``model_id``, ``create_time`` and PUT body, parsed again on load: rules/uploaded_models.py),
  ``model_aliases`` (alias → model id, ES ModelAliasMetadata), ``pipelines`` (``id`` and the PUT
  body), ``indices`` (mappings, settings and every document with its stored chunks and
  embeddings).
* **A legacy shape.** An endpoint record may be in the shape an older version stored: 8.12
  wrote ``"service": "elser"`` and ``service_settings.model_version`` (no ``model_id``, no
  ``chunking_settings``; the id may be under ``model_id``). Seed one by writing such a file by
  hand with ``"written_by": "8.12.2"`` (the README shows one) and start ``serve --data-dir`` at
  8.19: the upgrade path Elasticsearch allows from 8.12.

Loading (:func:`read`, then :func:`parse_persisted` per endpoint) applies what Elasticsearch
applies to a stored configuration each time it reads one, in every modelled version
(``ElasticsearchInternalService.parsePersistedConfig``, 8.19/9.x-line source):

* ``model_version`` becomes ``model_id`` (``migrateModelVersionToModelId``, #124769, the fix of
  #124675, back-ported to 8.16, 8.17, 8.18 and 9.0: in 8.19 and every 9.x);
* the ``elser`` service is read by ``ElasticsearchInternalService`` (``OLD_ELSER_SERVICE_NAME``)
  and the model it builds carries ``NAME``: the endpoint answers as ``elasticsearch``;
* a sparse/text embedding endpoint stored without ``chunking_settings`` (created before 8.16)
  gets ``ChunkingSettingsBuilder.OLD_DEFAULT_SETTINGS``, word boundary 250/100
  (``ChunkingSettingsBuilder.fromMap(null)``); an empty map gets ``DEFAULT_SETTINGS``;
* a model id still missing fails the parse: ``IllegalArgumentException`` "Error parsing request
  config, model id is missing for inference id: <id>" — the endpoint is kept but every read of
  it answers that error (``state.unparsable``).

The version is recorded at startup (``NodeMetadata`` is rewritten before the node joins).
Starting at an older version than ``written_by`` refuses as ``NodeMetadata
.verifyUpgradeToCurrentVersion`` does ("cannot downgrade a node from version [..] to version
[..]"), and so does an upgrade across more than one major ("cannot upgrade a node from version
[..] directly to version [..], upgrade to version [..] first.", ``minWireCompatVersion``).
"""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .breakage.defects import CHUNKING_DROPPED_ON_UPGRADE, LEGACY_MODEL_VERSION_UNMIGRATED
from .indices.pipelines import Pipeline
from .indices.store import Chunk, Doc, Index
from .rules import elastic_service as eis_rules
from .rules import service_settings as ss
from .rules.endpoint_config import CHUNKED_TASK_TYPES, SERVICE, EndpointConfig
from .rules.semantic_text import Mapping, SemanticField
from .rules.uploaded_models import UploadedModel, parse_upload
from .versions import EsVersion, Release
from .wire.errors import EsError

FILE = "elsercheck-state.json"
FORMAT = 1
# ES ChunkingSettingsBuilder: OLD_DEFAULT_SETTINGS (endpoints stored before 8.16, no
# chunking_settings at all) and DEFAULT_SETTINGS (an empty map)
OLD_DEFAULT_CHUNKING = {"strategy": "word", "max_chunk_size": 250, "overlap": 100}
DEFAULT_CHUNKING = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
OLD_MODEL_ID_FIELD = "model_version"  # ElasticsearchInternalService.OLD_MODEL_ID_FIELD_NAME
MESSAGES = {
    # NodeMetadata.verifyUpgradeToCurrentVersion (BuildVersion form, 8.x/9.x)
    "downgrade": "cannot downgrade a node from version [{stored}] to version [{current}]",
    "too_old": (
        "cannot upgrade a node from version [{stored}] directly to version [{current}], upgrade "
        "to version [{minimum}] first."
    ),
    # ElasticsearchInternalService.parsePersistedConfig (with the #124769 fix) …
    "model_id_missing": "Error parsing request config, model id is missing for inference id: {id}",
    # … and as 8.16.0–8.18.0 answered without it (issue #124675 quotes it)
    "model_id_missing_unfixed": "Error parsing request config, model id is missing",
}


class DataDirError(Exception):
    """A data directory this version cannot start on: one line, as the node's startup fails."""


def version_key(number: str) -> tuple[int, ...]:
    """``"9.4.8"`` → ``(9, 4, 8)`` (a missing patch counts as 0)."""
    try:
        parts = tuple(int(p) for p in number.split("."))
    except ValueError:
        raise DataDirError(f"the data directory records an unreadable version [{number}]") from None
    return parts + (0,) * (3 - len(parts))


def check_version(written_by: str, release: Release) -> None:
    """Refuse a downgrade, or an upgrade from before the minimum compatible version."""
    stored, current = version_key(written_by), version_key(release.number)
    if stored > current:
        raise DataDirError(MESSAGES["downgrade"].format(stored=written_by, current=release.number))
    minimum = release.minimum_wire_compatibility_version
    if stored < version_key(minimum):
        raise DataDirError(
            MESSAGES["too_old"].format(stored=written_by, current=release.number, minimum=minimum)
        )


def read(data_dir: Path) -> dict[str, Any] | None:
    """The stored document, or None for a new (empty or missing) directory."""
    path = data_dir / FILE
    if data_dir.exists() and not data_dir.is_dir():
        raise DataDirError(f"--data-dir {data_dir}: not a directory")
    if not path.exists():
        return None
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise DataDirError(f"cannot read {path}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("written_by"), str):
        raise DataDirError(f"{path} is not an elsercheck data directory file (no written_by)")
    if document.get("format", FORMAT) != FORMAT:
        raise DataDirError(f"{path}: unknown format {document.get('format')!r} (known: {FORMAT})")
    return document


def write(data_dir: Path, document: dict[str, Any]) -> None:
    """Replace the stored document atomically (temporary file, fsync, rename)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    payload = orjson.dumps(document)
    fd, temporary = tempfile.mkstemp(prefix=".state-", suffix=".tmp", dir=data_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, data_dir / FILE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# -- endpoints ----------------------------------------------------------------------------------
@dataclass
class LoadedEndpoint:
    """One stored endpoint as read: its record, and its configuration or its parse error."""

    inference_id: str
    record: dict[str, Any]
    config: EndpointConfig | None = None
    error: EsError | None = None


def stored_endpoint(config: EndpointConfig) -> dict[str, Any]:
    """The record of an endpoint as the ``.inference`` index keeps it (its configuration)."""
    return config.to_json()


def parse_persisted(
    record: dict[str, Any], defects: frozenset[str], upgraded: bool, version: EsVersion
) -> LoadedEndpoint:
    """``parsePersistedConfig`` of one stored record (see the module docstring)."""
    raw = copy.deepcopy(record)
    inference_id = str(raw.get("inference_id", raw.get("model_id", "")))
    loaded = LoadedEndpoint(inference_id, record)
    if upgraded and CHUNKING_DROPPED_ON_UPGRADE in defects:
        # Deliberate defect: the upgrade rewrote the stored configuration without its chunking.
        raw.pop("chunking_settings", None)
        loaded.record = {k: v for k, v in record.items() if k != "chunking_settings"}
    task_type = str(raw.get("task_type"))
    service = raw.get("service")
    if service == eis_rules.SERVICE:
        body = {k: v for k, v in raw.items() if k in ("service_settings", "task_settings",
                                                      "chunking_settings")}  # fmt: skip
        try:
            loaded.config = eis_rules.parse_put(
                inference_id, task_type, body, len(body), version, defects
            )
        except EsError as error:
            loaded.error = error
        return loaded
    settings = dict(raw.get("service_settings") or {})
    if OLD_MODEL_ID_FIELD in settings and LEGACY_MODEL_VERSION_UNMIGRATED not in defects:
        settings["model_id"] = settings.pop(OLD_MODEL_ID_FIELD)  # migrateModelVersionToModelId
    model_id = settings.get("model_id")
    if not isinstance(model_id, str):
        unfixed = LEGACY_MODEL_VERSION_UNMIGRATED in defects
        message = MESSAGES["model_id_missing_unfixed" if unfixed else "model_id_missing"]
        loaded.error = EsError("illegal_argument_exception", message.format(id=inference_id))
        return loaded
    chunking: dict[str, Any] | None = None
    if task_type in CHUNKED_TASK_TYPES:  # ChunkingSettingsBuilder.fromMap(stored or null)
        stored = raw.get("chunking_settings")
        if stored is None:
            chunking = dict(OLD_DEFAULT_CHUNKING)
        elif stored == {}:
            chunking = dict(DEFAULT_CHUNKING)
        else:
            chunking = dict(stored)
    adaptive_raw = settings.get("adaptive_allocations")
    adaptive = None
    if isinstance(adaptive_raw, dict):  # AdaptiveAllocationsSettings, read back as written
        adaptive = ss.AdaptiveAllocations(
            adaptive_raw.get("enabled"),
            adaptive_raw.get("min_number_of_allocations"),
            adaptive_raw.get("max_number_of_allocations"),
        )
    service_settings = ss.ServiceSettings(  # ElasticsearchInternalServiceSettings.fromPersistedMap
        settings.get("num_allocations"),
        int(settings.get("num_threads") or 1),
        model_id,
        adaptive,
        settings.get("deployment_id"),
    )
    # elser and elasticsearch both answer as ElasticsearchInternalService.NAME
    loaded.config = EndpointConfig(inference_id, task_type, service_settings, chunking, SERVICE)
    return loaded


def floor_allocations(settings: ss.ServiceSettings) -> int:
    """Where a deployment restarts: its fixed ``num_allocations``, or adaptive allocations'
    ``min_number_of_allocations`` (0 when unset: the scaler's floor)."""
    if settings.adaptive_enabled:
        assert settings.adaptive_allocations is not None
        return settings.adaptive_allocations.min_number_of_allocations or 0
    return settings.num_allocations or 1


# -- indices ------------------------------------------------------------------------------------
def index_to_json(index: Index) -> dict[str, Any]:
    """An index with every document (not only the refreshed ones: a restart recovers the
    translog and refreshes)."""
    mapping = index.mapping
    return {
        "name": index.name,
        "uuid": index.uuid,
        "created": index.created,
        "settings": index.settings,
        "seq_no": index.seq_no,
        "deleted": index.deleted,
        "mapping": {
            "semantic": {
                name: {
                    "inference_id": f.inference_id,
                    "search_inference_id": f.search_inference_id,
                    "model_settings": f.model_settings,
                    "chunking_settings": f.chunking_settings,
                }
                for name, f in mapping.semantic.items()
            },
            "plain": mapping.plain,
            "copied_to": mapping.copied_to,
        },
        "docs": [
            {
                "id": doc.id,
                "source": doc.source,
                "version": doc.version,
                "seq_no": doc.seq_no,
                "chunks": {
                    name: [[c.start, c.end, c.embedding] for c in chunks]
                    for name, chunks in doc.chunks.items()
                },
            }
            for doc in index.docs.values()
        ],
    }


def index_from_json(data: dict[str, Any]) -> Index:
    raw_mapping = data["mapping"]
    mapping = Mapping(
        semantic={
            name: SemanticField(name, f["inference_id"], f.get("search_inference_id"),
                                f.get("model_settings"), f.get("chunking_settings"))
            for name, f in raw_mapping["semantic"].items()
        },
        plain=dict(raw_mapping["plain"]),
        copied_to={k: list(v) for k, v in raw_mapping["copied_to"].items()},
    )  # fmt: skip
    index = Index(data["name"], mapping, dict(data["settings"]), uuid=data["uuid"],
                  seq_no=data["seq_no"], deleted=dict(data["deleted"]),
                  created=data["created"])  # fmt: skip
    for raw in data["docs"]:
        chunks = {
            name: [Chunk(start, end, dict(embedding)) for start, end, embedding in values]
            for name, values in raw["chunks"].items()
        }
        index.docs[raw["id"]] = Doc(raw["id"], raw["source"], raw["version"], raw["seq_no"],
                                    chunks)  # fmt: skip
    index.refresh()
    return index


def pipeline_to_json(pipeline: Pipeline) -> dict[str, Any]:
    return {"id": pipeline.id, "source": pipeline.source}


def uploaded_to_json(model: UploadedModel) -> dict[str, Any]:
    return {"model_id": model.model_id, "create_time": model.create_time, "body": model.body}


def uploaded_from_json(data: dict[str, Any]) -> UploadedModel:
    """An uploaded model parsed again from its PUT body, keeping its creation time."""
    return parse_upload(data["model_id"], data["body"], int(data["create_time"])).model


@dataclass
class Restored:
    """What a data directory holds, ready for the composition root to install."""

    written_by: str
    upgraded: bool  # written by an older version than the one starting
    cluster_uuid: str | None
    endpoints: list[LoadedEndpoint] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    lost_deployments: list[str] = field(default_factory=list)
    models: dict[str, list[str]] = field(default_factory=dict)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    indices: list[Index] = field(default_factory=list)
    uploaded_models: list[UploadedModel] = field(default_factory=list)
    model_aliases: dict[str, str] = field(default_factory=dict)


def load(
    data_dir: Path, release: Release, defects: frozenset[str], version: EsVersion
) -> Restored | None:
    """Read, check the version, and parse a data directory (None: a new one)."""
    document = read(data_dir)
    if document is None:
        return None
    written_by = document["written_by"]
    check_version(written_by, release)
    upgraded = version_key(written_by) < version_key(release.number)
    try:
        restored = Restored(
            written_by,
            upgraded,
            document.get("cluster_uuid"),
            [parse_persisted(r, defects, upgraded, version) for r in document.get("endpoints", [])],
            list(document.get("deployments", [])),
            list(document.get("lost_deployments", [])),
            dict(document.get("models", {})),
            list(document.get("pipelines", [])),
            [index_from_json(i) for i in document.get("indices", [])],
            [uploaded_from_json(m) for m in document.get("uploaded_models", [])],
            dict(document.get("model_aliases", {})),
        )
    except (KeyError, TypeError, ValueError, AttributeError, EsError) as exc:
        raise DataDirError(f"{data_dir / FILE}: unreadable record ({exc!r})") from None
    return restored
