"""The reference server as an ASGI application (Starlette request/response objects).

``dispatch`` applies the REST controller's order of checks (ES RestController.tryAllHandlers,
dispatchRequest; SecurityRestFilter): route →
content type → authentication → body presence → query parameters → handler (which validates,
then authorizes, then acts). Every response carries ``X-elastic-product: Elasticsearch``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .api import documents as api_documents
from .api import index_admin as api_index_admin
from .api import indices as api_indices
from .api import inference as api_inference
from .api import ingest as api_ingest
from .api import ml as api_ml
from .api import ml_models as api_ml_models
from .api import root as api_root
from .api import search as api_search
from .api import security as api_security
from .api import usage as api_usage
from .api.call import Call, render
from .breakage.defects import DefectHooks, Server
from .breakage.faults import FaultHooks
from .config import ServerConfig
from .state import ServerState
from .wire import filter_path, xcontent
from .wire.errors import EsError, RoutingError, status_exception
from .wire.router import GLOBAL_PARAMS, Route, Router, unrecognized_params
from .wire.warning_header import format_warning

log = logging.getLogger("elsercheck.reference")

MAX_CONTENT_LENGTH = 100 * 1024 * 1024  # http.max_content_length
PRODUCT_HEADER = ("X-elastic-product", "Elasticsearch")
_PRODUCT_RAW = (PRODUCT_HEADER[0].lower().encode("latin-1"), PRODUCT_HEADER[1].encode("latin-1"))
_COMPAT = re.compile(r"compatible-with=(\d+)")


class ReferenceServer:
    """ASGI app: ``uvicorn.run(ReferenceServer(config))``."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self.state = ServerState(self.config)
        routes: list[Route] = [
            *api_root.ROUTES,
            *api_inference.ROUTES,
            *api_ml.ROUTES,
            *api_ml_models.ROUTES,
            *api_ingest.ROUTES,
            *api_usage.ROUTES,
            *api_indices.ROUTES,
            *api_documents.ROUTES,
            *api_index_admin.ROUTES,
            *api_search.ROUTES,
        ]
        if self.config.security:
            routes += api_security.ROUTES
        self.router = Router(routes)
        self.defects = DefectHooks(
            self.config.defects, Server(self.config.password)
        )  # empty, and never called, without --defect
        self.faults = FaultHooks(
            self.config.faults, self.state.deployments.restart_all
        )  # empty, and never called, without --fault
        # Neither: requests go straight to _dispatch (the hooks are fixed at start).
        self._hooked = bool(self.faults) or bool(self.defects)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        response = await self.dispatch(Request(scope, receive))
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        await self.state.start()

    async def shutdown(self) -> None:
        await self.state.close()

    async def dispatch(self, request: Request) -> Response:
        if not self._hooked:
            return await self._dispatch(request)
        if self.faults:  # in front of everything, like a proxy
            return await self.faults.dispatch(request, self._dispatch_with_defects)
        return await self._dispatch_with_defects(request)

    async def _dispatch_with_defects(self, request: Request) -> Response:
        if self.defects:
            return await self.defects.dispatch(request, self._dispatch)
        return await self._dispatch(request)

    async def _dispatch(self, request: Request) -> Response:
        response = await self._dispatch_request(request)  # answers every error itself
        if self.config.data_dir is not None and _writes(request.method, self.router, request):
            # Acknowledged or not (a rejected PUT may stay stored: #137127), the state as it is
            # now goes to disk before the answer does (persistence.py).
            try:
                self.state.persist()
            except OSError as exc:  # the disk, not the request: say so, as ES fails the write
                log.error("cannot write the data directory: %s", exc)
                error = EsError("exception", f"failed to write the data directory: {exc}", 500)
                return _response(_render(error.body(), False, xcontent.JSON), 500, [],
                                 "application/json")  # fmt: skip
        return response

    async def _dispatch_request(self, request: Request) -> Response:
        method = request.method
        path, query_string = _path_and_query(request)
        uri = path + (f"?{query_string}" if query_string else "")
        pretty = False
        filtered: str | None = None  # filter_path: applied to answers, never to errors
        query: dict[str, str] = {}
        media_type = "application/json"
        answer = xcontent.JSON  # the response body's format (AbstractRestChannel.newBuilder)
        headers: list[tuple[str, str]] = []
        unread = False  # a body left unread: the connection cannot serve another request
        call: Call | None = None
        try:
            query = dict(parse_qsl(query_string, keep_blank_values=True)) if query_string else {}
            heads = _Heads(request.scope["headers"])
            declared = _declared_body(heads)
            content, answer, media_type = _negotiate(
                heads, query, self.config.es_version.major, declared is not False
            )
            pretty = query.get("pretty") not in (None, "false")
            filtered = query.get("filter_path")  # ES AbstractRestChannel.newBuilder
            if method == "OPTIONS":
                allowed = self.router.allowed_methods(_raw_path(request, path))
                if not allowed:
                    raise RoutingError(
                        f"no handler found for uri [{uri}] and method [{method}]", 400
                    )
                return _response(b"", 200, [("Allow", ",".join(allowed))], media_type)
            route, path_params = self.router.resolve(method, _raw_path(request, path), uri)
            if declared:
                _check_content_type(heads, content)
            principal = None
            if self.config.security and route.action is not None:
                # Authenticated on the headers, before a byte of the body is read (ES's
                # HttpHeadersValidator / Netty4HttpHeaderValidator): an anonymous upload
                # costs nothing, and the unread body closes the connection.
                unread = declared is not False
                principal = self.state.security.authenticate(heads.authorization, uri)
                unread = False
            body = await _read_body(request, heads) if declared is not False else b""
            if body and declared is None:  # chunked: known to have a body only now
                _check_content_type(heads, content)
            call = Call(self.state, route, method, path, uri, query, path_params, body, principal,
                        content_format=content)  # fmt: skip
            _check_body_and_params(call)
            _check_global_params(route, query)
            reply = await route.handler(call)
            headers = [*reply.headers, *self._warnings(call)]
            if method == "HEAD":
                return _response(b"", reply.status, headers, media_type)
            reply_body = reply.body
            if filtered:
                reply_body = filter_path.apply(reply_body, filtered)
            if reply.offload:  # a bulk's items or a page of hits: other requests go on meanwhile
                rendered = await asyncio.to_thread(_render, reply_body, pretty, answer)
            else:
                rendered = _render(reply_body, pretty, answer)
            return _response(rendered, reply.status, headers, media_type)
        except EsError as error:
            headers = [("WWW-Authenticate", v) for v in error.headers.get("WWW-Authenticate", [])]
            headers += list(error.http_headers.items())
            if call is not None:
                # ES DefaultRestChannel.sendResponse adds the thread context's response headers
                # (deprecation warnings logged before the failure) to error answers too
                headers += self._warnings(call)
            if unread:
                headers.append(("Connection", "close"))
            return _response(
                _render(_error_body(error, query), pretty, answer),
                error.status,
                headers,
                media_type,
            )
        except TooLarge:
            return _too_large()
        except ClientDisconnect:  # gone mid-body: nobody to answer, nothing worth a trace
            log.info("client disconnected while sending %s %s", method, uri)
            return _response(b"", 400, [], media_type)
        except RoutingError as error:
            return _response(
                _render(_error_body(error, query), pretty, answer),
                error.status,
                list(error.headers.items()),
                media_type,
            )
        except Exception:  # a server bug: answer like ES would, and log it
            log.exception("unexpected error serving %s %s", method, uri)
            internal = EsError("exception", "internal server error", 500)
            return _response(_render(internal.body(), pretty, answer), 500, [], media_type)

    def _warnings(self, call: Call) -> list[tuple[str, str]]:
        if not call.warnings:  # the common case: nothing to format
            return []
        release = self.config.es_version.release
        return [
            ("Warning", format_warning(release.number, release.build_hash, text))
            for text in call.warnings
        ]


# Answers that Elasticsearch renders with human-readable companions when ``human=true``
# (XContentBuilder.humanReadable): the trained model stats (ES AssignmentStats.toXContent and
# its NodeStats: ``timeField`` start_time/last_access; TrainedModelSizeStats:
# ``humanReadableField`` model_size_bytes) and an index's settings (ES
# IndexMetadata / Settings: creation_date_string, version.created_string). Elsewhere ``human``
# changes nothing, which the reference server reproduces by ignoring it.
HUMAN_FIELDS = frozenset({
    ("GET", "/_ml/trained_models/_stats"), ("GET", "/_ml/trained_models/{model_id}/_stats"),
    ("GET", "/{index}"), ("GET", "/_settings"), ("GET", "/{index}/_settings"),
})  # fmt: skip
# error_trace=true adds a Java stack trace to every cause of an error (ES
# ElasticsearchException.generateThrowableXContent with REST_EXCEPTION_SKIP_STACK_TRACE off);
# the reference server has no Java stack, and says so in its place.
NO_STACK_TRACE = "The reference server does not model [error_trace]: it has no Java stack trace"


def _check_global_params(route: Route, query: dict[str, str]) -> None:
    """``human`` on an answer that would change with it is refused, naming it, rather than
    ignored (the human-readable companions are not modelled)."""
    if query.get("human") not in (None, "false") and (route.method, route.path) in HUMAN_FIELDS:
        raise status_exception("The reference server does not model the [human] parameter", 501)


def _error_body(error: EsError | RoutingError, query: dict[str, str]) -> dict[str, Any]:
    body = error.body()
    if query.get("error_trace") not in (None, "false") and isinstance(body.get("error"), dict):
        body["error"]["stack_trace"] = NO_STACK_TRACE
    return body


def _render(body: object, pretty: bool, fmt: xcontent.Format) -> bytes:
    """The body in the negotiated format; JSON (nearly every answer) takes the orjson path."""
    return render(body, pretty) if fmt is xcontent.JSON else xcontent.render(body, fmt)


def _response(
    body: bytes, status: int, headers: list[tuple[str, str]], media_type: str
) -> Response:
    return _Answer(body, status, headers, media_type)


class _Answer(Response):
    """A ``Response(body, status_code=status, media_type=media_type)`` with the product header
    and ``headers`` appended, built directly: the same raw headers in the same order (what
    ``init_headers`` and ``MutableHeaders.append`` would give) without their per-request
    work. The media types negotiated here are never ``text/``, so no charset is added."""

    def __init__(
        self, body: bytes, status: int, headers: list[tuple[str, str]], media_type: str
    ) -> None:
        self.status_code = status
        self.media_type = media_type
        self.background = None
        self.body = body
        raw = [(b"content-type", media_type.encode("latin-1")), _PRODUCT_RAW]
        if not (status < 200 or status in (204, 304)):
            raw.insert(0, (b"content-length", str(len(body)).encode("latin-1")))
        for name, value in headers:
            raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        self.raw_headers = raw


# Characters a path or query keeps unchanged through Starlette's ``request.url`` (which escapes
# ``?``, ``#`` and ``\\`` in the path and re-parses the URL with ``urlsplit``, which drops tabs
# and newlines and splits at ``#``).
_PLAIN_PATH = re.compile(r"/(?!/)[A-Za-z0-9\-._~%!$&'()*+,;=:@/]*")
_PLAIN_QUERY = re.compile(rb"[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*")


# Actions that change what a restart keeps (security's API keys and tokens are not kept).
_WRITE_ACTIONS = ("cluster:admin/xpack/inference", "cluster:admin/xpack/ml", "cluster:admin/ingest",
                  "indices:admin", "indices:data/write")  # fmt: skip


def _writes(method: str, router: Router, request: Request) -> bool:
    """Whether a request may have changed the state a data directory keeps."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return False
    path, _ = _path_and_query(request)
    try:
        route, _ = router.resolve(method, _raw_path(request, path), path)
    except (RoutingError, EsError):
        return False
    action = route.action or ""
    return action.startswith(_WRITE_ACTIONS) and not action.endswith("/simulate")


def _path_and_query(request: Request) -> tuple[str, str]:
    """``request.url.path`` and ``.query``; read from the scope when that gives the same.

    Building ``request.url`` is a sizeable share of a request's cost; ordinary targets skip it,
    anything unusual still goes through it, so every quirk is kept.
    """
    scope = request.scope
    path = scope["path"]
    query = scope.get("query_string", b"")
    if _PLAIN_PATH.fullmatch(path) and _PLAIN_QUERY.fullmatch(query):
        return path, query.decode("ascii")
    url = request.url
    return url.path, url.query


# What a decoded path keeps unescaped when it has to be encoded again (no raw path in scope).
_PATH_SAFE = "/!$&'()*+,;=:@-._~"


def _raw_path(request: Request, path: str) -> str:
    """The path as sent, still percent-encoded: ids are decoded once, by the router, as in ES
    (uvicorn's ``scope["path"]`` is already decoded; decoding it again decoded twice)."""
    raw = request.scope.get("raw_path")
    if raw is None:
        return quote(path, safe=_PATH_SAFE)
    return raw.decode("latin-1").partition("?")[0]


def _negotiate(
    heads: _Heads, query: dict[str, str], major: int, has_content: bool
) -> tuple[xcontent.Format | None, xcontent.Format, str]:
    """The request body's format, the answer's format and its ``Content-Type``.

    Both headers are parsed as ES's RestRequest does (a malformed one is a 400
    ``media_type_header_exception``). The answer: ``?format`` → ``Accept`` → the request's
    ``Content-Type`` → JSON (AbstractRestChannel.newBuilder). A requested compatible-with
    version is echoed; ES RestApiVersion: a node serves its own major and the one before.
    """
    return _negotiated(
        tuple(heads.accept),
        tuple(heads.content_type),
        query.get("format", ""),
        major,
        has_content,
    )


# Clients repeat the same few header combinations: each is worked out once (a refusal is an
# exception, which the cache does not keep: it is raised anew each time).
@functools.lru_cache(maxsize=256)
def _negotiated(
    accept_values: tuple[str, ...],
    content_values: tuple[str, ...],
    format_param: str,
    major: int,
    has_content: bool,
) -> tuple[xcontent.Format | None, xcontent.Format, str]:
    """:func:`_negotiate` from the values it reads."""
    sent: dict[str, str] = {}  # header → its value
    versions: dict[str, int] = {}  # header → the compatible-with it asks for
    parsed: dict[str, xcontent.MediaType | None] = {}
    for header, values in (("accept", accept_values), ("content-type", content_values)):
        if not values:
            continue
        name = header.title()  # RestRequest.parseHeaderWithMediaType: one non-blank value
        value = values[0]
        sent[header] = value
        try:
            if len(values) > 1:
                raise ValueError(f"Incorrect header [{name}]. Only one value should be provided")
            if not value.strip():
                raise ValueError(f"Header [{name}] cannot be empty.")
            parsed[header] = xcontent.parse_media_type(value)
        except ValueError as exc:  # MalformedMediaType too
            reason = f"invalid media-type [{value}]" if type(exc) is not ValueError else str(exc)
            raise EsError(
                "media_type_header_exception",
                f"Invalid media-type value on headers [{name}]",
                400,
                caused_by=EsError("illegal_argument_exception", reason),
            ) from None
        match = _COMPAT.search(value)
        if match:
            versions[header] = int(match.group(1))
    problem = _compatible_version_problem(versions, sent, major, has_content)
    if problem is not None:
        # RestRequest: getCompatibleVersion's ElasticsearchStatusException wrapped in
        # MediaTypeHeaderException(e, "Accept", "Content-Type"), whose message prints
        # Set.of(names): a two-element immutable set iterates in a per-JVM random order
        # (ImmutableCollections.SALT), so a node says either order; we say this one
        raise EsError(
            "media_type_header_exception",
            "Invalid media-type value on headers [Accept, Content-Type]",
            400,
            caused_by=EsError("status_exception", problem, 400),
        )
    requested = None
    if "accept" in versions or "content-type" in versions:
        requested = str(versions.get("accept", versions.get("content-type")))
    accept, content = parsed.get("accept"), parsed.get("content-type")
    answer = xcontent.QUERY_FORMATS.get(format_param.lower())
    if answer is None:
        answer = (accept or content or _JSON_MEDIA).format
    if requested is None:
        return (content.format if content else None), answer, answer.media_type
    compatible = f"application/vnd.elasticsearch+{answer.name};compatible-with={requested}"
    return (content.format if content else None), answer, compatible


def _compatible_version_problem(
    versions: dict[str, int], sent: dict[str, str], major: int, has_content: bool
) -> str | None:
    """ES RestCompatibleVersionHelper.getCompatibleVersion's refusals, in its order (the texts are
    the same in every stored copy, 7.x to 9.x): a node serves its own major and the one before
    (RestApiVersion.current / minimumSupported); with a body, both headers must ask for the same
    version, and both or neither must ask for one. ``Accept={}`` prints the header as sent
    (ParsedMediaType.toString is the original value)."""
    accept = versions.get("accept", major)
    content = versions.get("content-type", major)
    accept_text = sent.get("accept", "null")
    content_text = sent.get("content-type", "null")
    if not major - 1 <= accept <= major:
        return (
            f"Accept version must be either version {major} or {major - 1}, but found {accept}. "
            f"Accept={accept_text}"
        )
    if not has_content:
        return None
    if not major - 1 <= content <= major:
        return (
            f"Content-Type version must be either version {major} or {major - 1}, but found "
            f"{content}. Content-Type={content_text}"
        )
    both = "A compatible version is required on both Content-Type and Accept headers if either "
    if content != accept:
        return (
            f"{both}one has requested a compatible version and the compatible versions must "
            f"match. Accept={accept_text}, Content-Type={content_text}"
        )
    if ("accept" in versions) != ("content-type" in versions):
        return (
            f"{both}one has requested a compatible version. Accept={accept_text}, "
            f"Content-Type={content_text}"
        )
    return None


_JSON_MEDIA = xcontent.MediaType(xcontent.JSON, False, None)


class TooLarge(Exception):
    """The body is over ``http.max_content_length``."""


class _Heads:
    """The headers the REST layer reads before a handler runs, found in one pass over the
    ASGI scope's (lower-case) names: Starlette's ``request.headers`` scans them all again for
    each lookup. A single-valued one is its first value, as ``Headers.get`` gives it."""

    __slots__ = ("accept", "authorization", "chunked", "content_length", "content_type")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.accept: list[str] = []
        self.content_type: list[str] = []
        self.content_length: str | None = None
        self.authorization: str | None = None
        self.chunked = False  # Transfer-Encoding present
        for name, value in raw:
            if name == b"content-type":
                self.content_type.append(value.decode("latin-1"))
            elif name == b"content-length":
                if self.content_length is None:
                    self.content_length = value.decode("latin-1")
            elif name == b"authorization":
                if self.authorization is None:
                    self.authorization = value.decode("latin-1")
            elif name == b"accept":
                self.accept.append(value.decode("latin-1"))
            elif name == b"transfer-encoding":
                self.chunked = True


def _declared_body(heads: _Heads) -> bool | None:
    """Whether HTTP/1.1 framing (RFC 9112 §6.3) announces a body: ``None`` when chunked."""
    if heads.chunked:
        return None
    declared = heads.content_length
    return declared is not None and declared != "0"


async def _read_body(request: Request, heads: _Heads) -> bytes:
    declared = heads.content_length
    if declared is not None and declared.isdigit() and int(declared) > MAX_CONTENT_LENGTH:
        raise TooLarge
    if hasattr(request, "_body") or request._stream_consumed:  # a hook read it: Starlette's way
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_CONTENT_LENGTH:
                raise TooLarge
            chunks.append(chunk)
        return b"".join(chunks)
    # What ``request.stream()`` does, without an async generator per request: the messages
    # until the last part of the body, a disconnect raising ClientDisconnect. The body is kept
    # on the request as ``request.body()`` keeps it, so a later reader gets it too.
    receive = request.receive
    parts: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            part = message.get("body", b"")
            total += len(part)
            if total > MAX_CONTENT_LENGTH:
                raise TooLarge
            if part:
                parts.append(part)
            if not message.get("more_body", False):
                break
        elif message["type"] == "http.disconnect":
            request._is_disconnected = True
            raise ClientDisconnect
    request._stream_consumed = True
    body = request._body = b"".join(parts)
    return body


def _too_large() -> Response:
    """``Netty4HttpContentSizeHandler.TOO_LARGE_CLOSE``: ``413 Request Entity Too Large``,
    no body, and the connection closed (the rest of the body is never read). It is sent
    before the REST layer, so without ``X-elastic-product``."""
    return Response(b"", status_code=413, headers={"Connection": "close"})


def _check_content_type(heads: _Heads, content: xcontent.Format | None) -> None:
    """A body must be in an XContent type (RestController.dispatchRequest →
    sendContentTypeErrorMessage). Form bodies stay 406 in every modelled version: 9.5's
    exemption (#149005) covers only handlers that opt in with read-only GET/POST route pairs
    (PromQL), behind HTTP TLS and non-anonymous authentication; no inference or ML route does."""
    values = heads.content_type
    if not values:
        raise RoutingError("Content-Type header is missing", 406)
    if content is None:
        raise RoutingError(f"Content-Type header [{', '.join(values)}] is not supported", 406)


def _check_body_and_params(call: Call) -> None:
    route = call.route
    if route.body == "required" and not call.body:
        raise EsError("parse_exception", "request body is required")
    version = call.state.version
    accepted = {*route.params, *(p for p, change in route.versioned_params if version.has(change))}
    invalid = sorted(k for k in call.query if k not in accepted and k not in GLOBAL_PARAMS)
    if invalid:
        candidates = sorted({*accepted, *call.path_params})
        raise unrecognized_params(call.path, invalid, candidates)
    if route.body == "none" and call.body:
        raise EsError(
            "illegal_argument_exception",
            f"request [{call.method} {call.path}] does not support having a body",
        )


def create_app(config: ServerConfig | None = None) -> ReferenceServer:
    return ReferenceServer(config)
