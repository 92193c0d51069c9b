"""Deliberate defects the reference server can be started with, to prove the gate catches them.

``ServerConfig(defects=frozenset({"missing-product-header"}))`` or
``elsercheck serve --defect missing-product-header``; ``elsercheck selftest`` runs the gate
against each one. The catalogue is data: one :class:`Defect` per entry, with the gate check
family expected to catch it.

Most defects rewrite one exchange at a single place, :meth:`DefectHooks.dispatch` (called from
``ReferenceServer.dispatch``): ``before`` rewrites the request, ``after`` the answer. The few
that must change behaviour deep inside have neither hook; their name constant below is checked
(``NAME in state.defects``) at exactly one spot, given by ``site``. With no defect active
nothing here runs.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from . import catalogues

FAMILIES = (
    "response-shape", "headers", "validation", "error-envelope", "lifecycle", "auth", "stats",
    "scaling", "inference", "eis", "upgrade",
)  # fmt: skip

# Defects checked deep in the server (``NAME in state.defects``), one spot each.
REJECTED_PUT_STORED = "rejected-put-stored"  # api.inference.put_endpoint
DELETED_STILL_ANSWERS = "deleted-still-answers"  # api.inference.delete_endpoint
PRIVILEGES_IGNORED = "privileges-ignored"  # api.call.Call.authorize
# Upstream bugs (versions.BUGS switches them on for the versions that have them).
UPDATE_NUM_THREADS_IGNORED = "update-num-threads-ignored"  # api.inference.update_endpoint
ELSER_TEXT_EMBEDDING_ACCEPTED = (
    "elser-text-embedding-accepted"  # rules.endpoint_config._check_task_type
)
SCALER_IGNORES_MAX = (
    "scaler-ignores-max"  # mlnode.adaptive_scaling_service.AdaptiveScalingService.controller
)
EIS_429_WITHOUT_RETRY_AFTER = "eis-429-without-retry-after"  # eis.client.EisClient (via state)
EIS_ACCEPTS_ALLOCATIONS = "eis-accepts-allocations"  # rules.elastic_service.parse_put
SCALER_NEVER_SCALES_DOWN = (
    "scaler-never-scales-down"  # mlnode.adaptive_scaling_service.AdaptiveScalingService.tick
)
# Upstream bugs of a restart or of assignment planning (versions.BUGS).
ZERO_ALLOCATION_DROPPED_ON_START = (
    "zero-allocation-dropped-on-start"  # mlnode.deployments.Deployments.start (#137134)
)
ZERO_ALLOCATION_LOST_ON_RESTART = (
    "zero-allocation-lost-on-restart"  # state.ServerState._restore_deployments (#146806)
)
# Upgrade defects (a restart on a data dir at a later version: persistence.parse_persisted).
CHUNKING_DROPPED_ON_UPGRADE = "chunking-dropped-on-upgrade"
LEGACY_MODEL_VERSION_UNMIGRATED = "legacy-model-version-unmigrated"  # #124675 as in 8.16.0-8.18.0


@dataclass
class Exchange:
    """One request and its answer, as the hooks see and rewrite them."""

    method: str
    path: str
    headers: list[tuple[str, str]]  # request headers, lower-case names, in order
    body: bytes  # request body
    status: int = 0
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def request_json(self) -> Any:
        return _loads(self.body)

    def set_request_json(self, value: Any) -> None:
        self.body = orjson.dumps(value)

    def response_json(self) -> Any:
        return _loads(self.response_body)

    def set_response_json(self, value: Any) -> None:
        self.response_body = orjson.dumps(value)


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        return None


@dataclass(frozen=True)
class Server:
    """What a hook may know of the server it breaks (the composition root passes it)."""

    password: str  # the ``elastic`` user's


Hook = Callable[[Exchange, Server], None]


@dataclass(frozen=True)
class Defect:
    name: str
    family: str  # the gate check family expected to catch it (FAMILIES)
    description: str  # one line
    before: Hook | None = None  # rewrites the request before the server sees it
    after: Hook | None = None  # rewrites the answer before the client sees it
    site: str = "app.dispatch"  # where it acts
    eis: bool = False  # the server runs with the Elastic Inference Service (--eis) for it
    # What catches it: "gate" (selftest runs the gate against it), or "verify" (it shows only
    # after a restart on a data directory: the snapshot/verify check, not the gate).
    caught_by: str = "gate"


# -- hooks ---------------------------------------------------------------------------------------
def _endpoint_bodies(x: Exchange) -> tuple[Any, list[dict[str, Any]]]:
    """The response body and its endpoint objects (PUT/_update reply or GET ``endpoints``)."""
    body = x.response_json()
    if x.status != 200 or not isinstance(body, dict):
        return body, []
    if isinstance(body.get("endpoints"), list):
        return body, [e for e in body["endpoints"] if isinstance(e, dict)]
    return body, [body] if "inference_id" in body else []


def _rename_inference_id(x: Exchange, server: Server) -> None:
    body, endpoints = _endpoint_bodies(x)
    for endpoint in endpoints:
        endpoint["model_id"] = endpoint.pop("inference_id")
    if endpoints:
        x.set_response_json(body)


def _num_threads_as_string(x: Exchange, server: Server) -> None:
    body, endpoints = _endpoint_bodies(x)
    for endpoint in endpoints:
        settings = endpoint.get("service_settings")
        if isinstance(settings, dict) and isinstance(settings.get("num_threads"), int):
            settings["num_threads"] = str(settings["num_threads"])
    if endpoints:
        x.set_response_json(body)


def _adaptive_enabled_as_string(x: Exchange, server: Server) -> None:
    """Every endpoint answer echoes ``adaptive_allocations.enabled`` as a string."""
    body, endpoints = _endpoint_bodies(x)
    for endpoint in endpoints:
        settings = endpoint.get("service_settings")
        adaptive = settings.get("adaptive_allocations") if isinstance(settings, dict) else None
        if isinstance(adaptive, dict) and isinstance(adaptive.get("enabled"), bool):
            adaptive["enabled"] = str(adaptive["enabled"]).lower()
    if endpoints:
        x.set_response_json(body)


def _listing_allocations_as_string(x: Exchange, server: Server) -> None:
    """Listings only (GET /_inference, …/_all): ``num_allocations`` as a string."""
    body, endpoints = _endpoint_bodies(x)
    if (
        not isinstance(body, dict)
        or "endpoints" not in body
        or not x.path.rstrip("/").endswith(("/_inference", "/_all"))
    ):
        return
    for endpoint in endpoints:
        settings = endpoint.get("service_settings")
        if isinstance(settings, dict) and isinstance(settings.get("num_allocations"), int):
            settings["num_allocations"] = str(settings["num_allocations"])
    x.set_response_json(body)


def _drop_response_header(name: str) -> Hook:
    def hook(x: Exchange, server: Server) -> None:
        x.response_headers = [(k, v) for k, v in x.response_headers if k.lower() != name]

    return hook


def _text_content_type(x: Exchange, server: Server) -> None:
    x.response_headers = [(k, v) for k, v in x.response_headers if k.lower() != "content-type"]
    x.response_headers.append(("content-type", "text/plain; charset=utf-8"))


def _service_settings(x: Exchange) -> tuple[Any, dict[str, Any] | None]:
    body = x.request_json() if x.method == "PUT" else None
    if not isinstance(body, dict):
        return body, None
    settings = body.get("service_settings")
    return body, settings if isinstance(settings, dict) else None


def _clamp_chunk_size(x: Exchange, server: Server) -> None:
    """Forward an acceptable ``max_chunk_size``: a PUT above the bound "succeeds"."""
    body = x.request_json() if x.method == "PUT" else None
    chunking = body.get("chunking_settings") if isinstance(body, dict) else None
    size = chunking.get("max_chunk_size") if isinstance(chunking, dict) else None
    if isinstance(size, int) and size > 300:
        chunking["max_chunk_size"] = 300  # type: ignore[index]
        x.set_request_json(body)


def _accept_zero_threads(x: Exchange, server: Server) -> None:
    body, settings = _service_settings(x)
    if settings is not None and settings.get("num_threads") == 0:
        settings["num_threads"] = 1
        x.set_request_json(body)


def _error(x: Exchange) -> tuple[Any, dict[str, Any] | None]:
    body = x.response_json()
    error = body.get("error") if isinstance(body, dict) else None
    return body, error if isinstance(error, dict) else None


def _server_error_on_bad_input(x: Exchange, server: Server) -> None:
    if x.status == 400:
        x.status = 500
        body = x.response_json()
        if isinstance(body, dict) and body.get("status") == 400:
            body["status"] = 500
            x.set_response_json(body)


def _wrong_error_type(x: Exchange, server: Server) -> None:
    body, error = _error(x)
    if error is None or error.get("type") != "validation_exception":
        return
    for cause in [error, *error.get("root_cause", [])]:
        if isinstance(cause, dict) and cause.get("type") == "validation_exception":
            cause["type"] = "illegal_argument_exception"
    x.set_response_json(body)


def _flat_error_envelope(x: Exchange, server: Server) -> None:
    body, error = _error(x)
    if error is not None:
        x.set_response_json({"error": str(error.get("reason", "")), "status": body["status"]})


def _credentials_when_missing(x: Exchange, server: Server) -> None:
    """Requests without credentials run as ``elastic``."""
    if x.header("authorization") is None:
        token = base64.b64encode(f"elastic:{server.password}".encode()).decode()
        x.headers.append(("authorization", f"Basic {token}"))


def _double_stats_allocations(x: Exchange, server: Server) -> None:
    body = x.response_json()
    if x.status != 200 or not isinstance(body, dict) or "trained_model_stats" not in body:
        return
    for entry in body["trained_model_stats"]:
        stats = entry.get("deployment_stats") if isinstance(entry, dict) else None
        if not isinstance(stats, dict):
            continue
        status = stats.get("allocation_status") or {}
        for key in ("allocation_count", "target_allocation_count"):
            if isinstance(status.get(key), int):
                status[key] *= 2
        if isinstance(stats.get("number_of_allocations"), int):
            stats["number_of_allocations"] *= 2
    x.set_response_json(body)


def _embeddings(x: Exchange) -> tuple[Any, list[dict[str, Any]]]:
    body = x.response_json()
    if x.status != 200 or not isinstance(body, dict):
        return body, []
    results = body.get("sparse_embedding")
    if not isinstance(results, list):
        return body, []
    return body, [r["embedding"] for r in results if isinstance(r, dict) and r.get("embedding")]


def _negative_weight(x: Exchange, server: Server) -> None:
    body, embeddings = _embeddings(x)
    for embedding in embeddings:
        token = next(iter(embedding))
        embedding[token] = -abs(embedding[token])
    if embeddings:
        x.set_response_json(body)


def _jitter_weights(x: Exchange, server: Server) -> None:
    body, embeddings = _embeddings(x)
    for embedding in embeddings:
        for token, weight in embedding.items():
            embedding[token] = weight * (1 + random.uniform(0.001, 0.01))
    if embeddings:
        x.set_response_json(body)


CATALOGUE: dict[str, Defect] = {
    d.name: d
    for d in [
        Defect("renamed-inference-id", "response-shape",
               "endpoints carry `model_id` instead of `inference_id` (as before 8.15)",
               after=_rename_inference_id),
        Defect("num-threads-as-string", "response-shape",
               "`service_settings.num_threads` is rendered as a string",
               after=_num_threads_as_string),
        Defect("adaptive-enabled-as-string", "response-shape",
               "`service_settings.adaptive_allocations.enabled` is echoed as a string",
               after=_adaptive_enabled_as_string),
        Defect("listing-allocations-as-string", "response-shape",
               "endpoint listings render `service_settings.num_allocations` as a string",
               after=_listing_allocations_as_string),
        Defect("missing-product-header", "headers",
               "no `X-elastic-product: Elasticsearch` header on any response",
               after=_drop_response_header("x-elastic-product")),
        Defect("wrong-content-type", "headers",
               "responses are labelled `text/plain` instead of `application/json`",
               after=_text_content_type),
        Defect("chunk-size-unbounded", "validation",
               "`chunking_settings.max_chunk_size` above 300 is accepted (clamped silently)",
               before=_clamp_chunk_size),
        Defect("zero-threads-accepted", "validation",
               "`num_threads: 0` is accepted (run with 1 thread)",
               before=_accept_zero_threads),
        Defect("server-error-on-bad-input", "validation",
               "bad input answers 500 instead of 400",
               after=_server_error_on_bad_input),
        Defect("wrong-error-type", "error-envelope",
               "`validation_exception` errors are typed `illegal_argument_exception`",
               after=_wrong_error_type),
        Defect("flat-error-envelope", "error-envelope",
               "exceptions answer `{\"error\": \"<reason>\"}` without type or root_cause",
               after=_flat_error_envelope),
        Defect(REJECTED_PUT_STORED, "lifecycle",
               "a PUT rejected at deployment start still stores the endpoint "
               "(elastic/elasticsearch#137127)", site="api.inference.put_endpoint"),
        Defect(UPDATE_NUM_THREADS_IGNORED, "lifecycle",
               "`num_threads` in `_update` is silently ignored (elastic/elasticsearch#137129)",
               site="api.inference.update_endpoint"),
        Defect(ELSER_TEXT_EMBEDDING_ACCEPTED, "validation",
               "an ELSER model is accepted under task type `text_embedding` "
               "(elastic/elasticsearch#122249)", site="rules.endpoint_config._check_task_type"),
        Defect(DELETED_STILL_ANSWERS, "lifecycle",
               "DELETE stops the deployment but the endpoint still answers GET",
               site="api.inference.delete_endpoint"),
        Defect("auth-ignored", "auth",
               "requests without credentials are served as `elastic`",
               before=_credentials_when_missing),
        Defect(PRIVILEGES_IGNORED, "auth",
               "cluster privileges are not checked: a monitor-only API key may write",
               site="api.call.Call.authorize"),
        Defect("missing-www-authenticate", "auth",
               "401 answers carry no `WWW-Authenticate` challenge",
               after=_drop_response_header("www-authenticate")),
        Defect("stats-double-allocations", "stats",
               "the trained model stats report twice the deployment's allocations",
               after=_double_stats_allocations),
        Defect(SCALER_IGNORES_MAX, "scaling",
               "the adaptive scaler ignores `max_number_of_allocations`",
               site="mlnode.adaptive_scaling_service.AdaptiveScalingService.controller"),
        Defect(SCALER_NEVER_SCALES_DOWN, "scaling",
               "the adaptive scaler never scales down (nor to zero)",
               site="mlnode.adaptive_scaling_service.AdaptiveScalingService.tick"),
        Defect(EIS_429_WITHOUT_RETRY_AFTER, "eis",
               "an `elastic` endpoint answers EIS's rate limit (429) without `Retry-After`, "
               "and EIS limits every request", site="eis.client.EisClient", eis=True),
        Defect(EIS_ACCEPTS_ALLOCATIONS, "eis",
               "`service: elastic` accepts and ignores `num_allocations`/`num_threads`/"
               "`adaptive_allocations`", site="rules.elastic_service.parse_put", eis=True),
        Defect(ZERO_ALLOCATION_DROPPED_ON_START, "scaling",
               "starting a deployment drops the deployments scaled to zero allocations "
               "(elastic/elasticsearch#137134)", site="mlnode.deployments.Deployments.start",
               caught_by="verify"),
        Defect(ZERO_ALLOCATION_LOST_ON_RESTART, "upgrade",
               "a deployment at zero allocations is lost when the ML node shuts down "
               "(elastic/elasticsearch#146806)", site="state.ServerState._restore_deployments",
               caught_by="verify"),
        Defect(CHUNKING_DROPPED_ON_UPGRADE, "upgrade",
               "an upgrade rewrites stored endpoints without their `chunking_settings` "
               "(read back as the pre-8.16 default)", site="persistence.parse_persisted",
               caught_by="verify"),
        Defect(LEGACY_MODEL_VERSION_UNMIGRATED, "upgrade",
               "an 8.12-stored `elser` endpoint (`model_version`) no longer parses after an "
               "upgrade (elastic/elasticsearch#124675, as 8.16.0-8.18.0)",
               site="persistence.parse_persisted", caught_by="verify"),
        Defect("negative-weights", "inference",
               "sparse embeddings contain a negative weight",
               after=_negative_weight),
        Defect("nondeterministic-weights", "inference",
               "the same text gives slightly different weights on every request",
               after=_jitter_weights),
    ]
}  # fmt: skip


def check_names(names: frozenset[str] | set[str] | list[str]) -> None:
    """Raise ``ValueError`` naming the unknown defects."""
    catalogues.check_names("defect", names, CATALOGUE)


class DefectHooks:
    """The ``before``/``after`` hooks of the active defects, applied around one dispatch."""

    def __init__(self, defects: frozenset[str], server: Server) -> None:
        self.server = server
        active = [CATALOGUE[name] for name in sorted(defects)]
        self.before = [d.before for d in active if d.before is not None]
        self.after = [d.after for d in active if d.after is not None]

    def __bool__(self) -> bool:
        return bool(self.before or self.after)

    async def dispatch(
        self, request: Request, dispatch: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        x = Exchange(request.method, request.url.path, list(request.headers.items()),
                     await request.body())  # fmt: skip
        for hook in self.before:
            hook(x, self.server)
        scope = dict(request.scope)
        scope["headers"] = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in x.headers
            if k != "content-length"
        ] + ([(b"content-length", str(len(x.body)).encode())] if x.body else [])
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": x.body, "more_body": False}

        response = await dispatch(Request(scope, receive))
        x.status = response.status_code
        x.response_headers = [(k, v) for k, v in response.headers.items() if k != "content-length"]
        x.response_body = bytes(response.body)
        for hook in self.after:
            hook(x, self.server)
        rewritten = Response(x.response_body, status_code=x.status)
        for name, value in x.response_headers:
            rewritten.headers.append(name, value)
        return rewritten
