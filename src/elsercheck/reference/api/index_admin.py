"""Index administration beside create and mappings: ``HEAD``/``GET /{index}``
(RestGetIndicesAction), ``DELETE /{index}`` (RestDeleteIndexAction), ``GET``/``PUT`` settings
(RestGetSettingsAction, RestUpdateSettingsAction) and refresh (RestRefreshAction), with index
expressions resolved as ``IndexNameExpressionResolver`` resolves them for open, non-hidden
indices (the only kind the reference server has; aliases and data streams are not modelled).
"""

from __future__ import annotations

import fnmatch
from typing import Any

from ..indices import bulk as bulk_items
from ..indices.store import Index
from ..rules import semantic_text as st
from ..wire import timevalue
from ..wire.errors import EsError
from ..wire.router import Route
from .call import Call, Reply
from .indices import index_not_found

GET_INDEX = "indices:admin/get"
DELETE = "indices:admin/delete"
GET_SETTINGS = "indices:monitor/settings/get"
PUT_SETTINGS = "indices:admin/settings/update"
REFRESH = "indices:admin/refresh"
GET_MAPPING = "indices:admin/mappings/get"
PUT_MAPPING = "indices:admin/mapping/put"

OPTIONS = ("ignore_unavailable", "allow_no_indices", "expand_wildcards")
EXPAND_VALUES = frozenset(
    {"open", "closed", "hidden", "none", "all"}
)  # IndicesOptions.WildcardStates
# Dynamic index settings the reference server models (IndexScopedSettings: Property.Dynamic);
# the static ones it knows are refused on an open index as ES refuses them
# (MetadataUpdateSettingsService: "Can't update non dynamic settings")
DYNAMIC = frozenset({"index.refresh_interval", "index.number_of_replicas"})
STATIC = frozenset({"index.number_of_shards", st.DEFAULT_ID_SETTING})


def _authorize(call: Call, action: str, names: list[str]) -> None:
    security = call.state.security
    call.authorize(lambda principal: security.authorize_index(principal, action, names))


def resolve(call: Call, expressions: str, defaults: tuple[bool, bool]) -> list[Index]:
    """``IndexNameExpressionResolver.concreteIndices``: a comma list of names and ``*``
    patterns (``_all`` is every index). A missing name is ``index_not_found_exception``
    unless ``ignore_unavailable``; patterns that match nothing are one unless
    ``allow_no_indices`` (defaults per API: ``IndicesOptions`` of its request)."""
    ignore_unavailable = call.flag("ignore_unavailable", defaults[0])
    allow_no_indices = call.flag("allow_no_indices", defaults[1])
    states = set(call.query.get("expand_wildcards", "open").split(","))
    unknown = sorted(states - EXPAND_VALUES)
    if unknown:
        raise EsError("illegal_argument_exception",
                      f"No valid expand wildcard value [{unknown[0]}]")  # fmt: skip
    expand = bool(states & {"open", "all"})
    indices = call.state.indices.indices
    found: dict[str, Index] = {}
    wildcards = False
    for expression in expressions.split(","):
        if expression in ("_all", "*") or "*" in expression:
            wildcards = True
            pattern = "*" if expression == "_all" else expression
            for name, index in indices.items():
                if expand and fnmatch.fnmatchcase(name, pattern) and not name.startswith("."):
                    found[name] = index
        elif expression in indices:
            found[expression] = indices[expression]
        elif not ignore_unavailable:
            raise index_not_found(expression)
    if not found and wildcards and not allow_no_indices:
        raise index_not_found(expressions)
    return list(found.values())


def _index_settings(index: Index, flat: bool) -> dict[str, Any]:
    """``Settings.toXContent``: string values, nested unless ``flat_settings``; what the
    reference server keeps of an index's settings."""
    values: dict[str, str] = {
        "index.creation_date": str(index.created),
        "index.number_of_shards": str(index.settings.get("index.number_of_shards", 1)),
        "index.number_of_replicas": str(index.settings.get("index.number_of_replicas", 1)),
        "index.provided_name": index.name,
        "index.uuid": index.uuid,
    }
    for key, value in index.settings.items():
        values[key] = value if isinstance(value, str) else bulk_items._simple(value) or ""
    ordered = {k: values[k] for k in sorted(values)}
    return ordered if flat else _nest(ordered)


def _refuse(call: Call, names: tuple[str, ...]) -> None:
    for name in names:
        if name in call.query:
            raise bulk_items.not_modelled(f"the parameter [{name}] of [{call.route.path}]")


def _master_timeout(call: Call) -> None:
    call.timeout("master_timeout", 30.0)
    call.timeout("timeout", 30.0)


async def get_index(call: Call) -> Reply:
    """``RestGetIndicesAction``; ``HEAD`` is ``RestIndicesExistsAction`` (200 or 404, no
    body)."""
    _refuse(call, ("include_defaults", "local", "features"))
    _master_timeout(call)
    try:
        found = resolve(call, call.path_params["index"], (False, True))
    except EsError:
        if call.method == "HEAD":
            return Reply({}, 404)
        raise
    _authorize(call, GET_INDEX, [i.name for i in found] or [call.path_params["index"]])
    flat = call.flag("flat_settings")
    if call.method == "HEAD":
        return Reply({}, 200 if found else 404)
    return Reply({
        index.name: {"aliases": {}, "mappings": index.mapping.to_json(),
                     "settings": _index_settings(index, flat)}
        for index in sorted(found, key=lambda i: i.name)
    })  # fmt: skip


async def delete_index(call: Call) -> Reply:
    """``RestDeleteIndexAction``: ``action.destructive_requires_name`` is true by default
    (8.0, #66908), so wildcards and ``_all`` are refused (``DestructiveOperations
    .failDestructive``); missing names are skipped with ``ignore_unavailable``."""
    _master_timeout(call)
    expressions = call.path_params["index"]
    for expression in expressions.split(","):
        if expression in ("_all", "*") or "*" in expression:
            raise EsError("illegal_argument_exception",
                          "Wildcard expressions or all indices are not allowed")  # fmt: skip
    found = resolve(call, expressions, (False, True))
    _authorize(call, DELETE, [i.name for i in found] or expressions.split(","))
    for index in found:
        call.state.indices.indices.pop(index.name, None)
    return Reply({"acknowledged": True})


async def get_settings(call: Call) -> Reply:
    """``RestGetSettingsAction``: ``{index: {settings: …}}``, filtered by ``{name}``
    patterns."""
    _refuse(call, ("include_defaults", "local"))
    call.timeout("master_timeout", 30.0)
    found = resolve(call, call.path_params.get("index", "_all"), (False, True))
    _authorize(call, GET_SETTINGS, [i.name for i in found] or ["*"])
    names = call.path_params.get("name")
    flat = call.flag("flat_settings")
    out = {}
    for index in sorted(found, key=lambda i: i.name):
        values = _index_settings(index, True)
        if names:
            values = {k: v for k, v in values.items()
                      if any(fnmatch.fnmatchcase(k, p) for p in names.split(","))}  # fmt: skip
        if names and not values:
            continue
        out[index.name] = {"settings": values if flat else _nest(values)}
    return Reply(out)


async def get_mappings(call: Call) -> Reply:
    """``RestGetMappingAction``: the mappings of the resolved indices (all without an
    index); ``local`` (deprecated, a no-op on one node since 9.0) is refused."""
    call.timeout("master_timeout", 30.0)
    _refuse(call, ("local",))
    found = resolve(call, call.path_params.get("index", "_all"), (False, True))
    _authorize(call, GET_MAPPING, [i.name for i in found] or ["*"])
    return Reply({i.name: {"mappings": i.mapping.to_json()} for i in found})


async def put_mapping(call: Call) -> Reply:
    """``RestPutMappingAction``: merging a mapping into an existing index is not modelled
    (the mapping is fixed at creation); refused naming it."""
    raise bulk_items.not_modelled(f"updating a mapping ([{call.method} {call.route.path}])")


def _nest(flat: dict[str, str]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


async def put_settings(call: Call) -> Reply:
    """``MetadataUpdateSettingsService``: the modelled dynamic settings are applied
    (``index.refresh_interval``, ``index.number_of_replicas``); static ones are refused on an
    open index; unknown ones are ``IndexScopedSettings.validate``'s "unknown setting"; other
    dynamic ones Elasticsearch has are refused as not modelled."""
    _master_timeout(call)
    if call.flag("reopen"):
        raise bulk_items.not_modelled("the parameter [reopen=true] (closed indices)")
    preserve = call.flag("preserve_existing")
    call.flag("flat_settings")
    body = call.json(wrap_as_map=True)
    raw = body.get("settings", body) if isinstance(body, dict) else body
    settings = st.flat_settings(raw)
    if not settings:
        raise EsError("action_request_validation_exception",
                      "Validation Failed: 1: no settings to update;")  # fmt: skip
    found = resolve(call, call.path_params.get("index", "_all"), (False, True))
    _authorize(call, PUT_SETTINGS, [i.name for i in found] or ["*"])
    static = sorted(k for k in settings if k in STATIC)
    if static and found:
        opened = ", ".join(f"[{i.name}/{i.uuid}]" for i in found)
        raise EsError("illegal_argument_exception", f"Can't update non dynamic settings "
                      f"[[{', '.join(static)}]] for open indices [{opened}]")  # fmt: skip
    for key in sorted(settings):
        if key not in DYNAMIC:
            raise bulk_items.not_modelled(f"the index setting [{key}]", 400)
    st.check_settings(settings, call.state.version)
    if "index.refresh_interval" in settings and settings["index.refresh_interval"] is not None:
        timevalue.parse(str(settings["index.refresh_interval"]), "index.refresh_interval")
    for index in found:
        for key, value in settings.items():
            if preserve and key in index.settings:
                continue
            if value is None:  # null resets to the default
                index.settings.pop(key, None)
            else:
                index.settings[key] = value
    return Reply({"acknowledged": True})


async def refresh(call: Call) -> Reply:
    """``RestRefreshAction``: every resolved index refreshed; ``_shards`` counts their copies
    (the replicas unassigned on one node)."""
    found = resolve(call, call.path_params.get("index", "_all"), (False, True))
    _authorize(call, REFRESH, [i.name for i in found] or ["*"])
    total = successful = 0
    for index in found:
        index.refresh()
        shards = index.shards()
        total += shards["total"]
        successful += shards["successful"]
    return Reply({"_shards": {"total": total, "successful": successful, "failed": 0}})


_GET = (*OPTIONS, "flat_settings", "include_defaults", "local", "master_timeout", "features")
_SETTINGS = (*OPTIONS, "flat_settings", "include_defaults", "local", "master_timeout")
_PUT_SETTINGS = (*OPTIONS, "flat_settings", "master_timeout", "preserve_existing", "reopen",
                 "timeout")  # fmt: skip
ROUTES = [
    Route("GET", "/{index}", get_index, GET_INDEX, _GET),
    Route("DELETE", "/{index}", delete_index, DELETE, (*OPTIONS, "master_timeout", "timeout")),
    Route("GET", "/_settings", get_settings, GET_SETTINGS, _SETTINGS),
    Route("GET", "/{index}/_settings", get_settings, GET_SETTINGS, _SETTINGS),
    Route("GET", "/{index}/_settings/{name}", get_settings, GET_SETTINGS, _SETTINGS),
    Route("GET", "/_settings/{name}", get_settings, GET_SETTINGS, _SETTINGS),
    Route("PUT", "/_settings", put_settings, PUT_SETTINGS, _PUT_SETTINGS, "required"),
    Route("PUT", "/{index}/_settings", put_settings, PUT_SETTINGS, _PUT_SETTINGS, "required"),
    *(Route("GET", path, get_mappings, GET_MAPPING, (*OPTIONS, "local", "master_timeout"))
      for path in ("/_mapping", "/{index}/_mapping")),
    *(Route(method, "/{index}/_mapping", put_mapping, None,
            (*OPTIONS, "master_timeout", "timeout", "write_index_only"), "optional")
      for method in ("PUT", "POST")),
    *(Route(method, path, refresh, REFRESH, OPTIONS)
      for method in ("GET", "POST") for path in ("/_refresh", "/{index}/_refresh")),
]  # fmt: skip
