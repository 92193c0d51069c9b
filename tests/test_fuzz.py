"""Bad input of any shape never gets a 5xx or a hang from the reference server.

Every answer must be below 500, carry ``X-elastic-product: Elasticsearch`` and, when it is an
error, be a JSON object in Elasticsearch's envelope (``{"error": {...}, "status": N}``) or the
REST controller's flat routing shape (``{"error": "<text>", "status": N}``), with ``status``
equal to the HTTP status (ES RestController, ElasticsearchException). Each request has a 10 s client timeout, so a
hang fails the test. Endpoints a case manages to create are deleted afterwards.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from elsercheck.reference.app import MAX_CONTENT_LENGTH
from elsercheck.reference.serve import EmbeddedServer
from tests.conftest import PASSWORD, elser_body
from tests.inprocess import InProcessServer

REQUEST_TIMEOUT = 10.0
# PUTs wait for their deployment to start; a short `timeout` keeps legitimate waits (e.g. a
# deployment that cannot be placed) well inside the client's timeout.
PUT_QUERY = "?timeout=2s"
JSON_HEADERS = {"Content-Type": "application/json"}
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

# -- strategies ---------------------------------------------------------------------------------
KNOWN_KEYS = (
    "service", "service_settings", "task_settings", "chunking_settings", "task_type", "model_id",
    "num_allocations", "num_threads", "adaptive_allocations", "enabled",
    "min_number_of_allocations", "max_number_of_allocations", "deployment_id", "strategy",
    "max_chunk_size", "overlap", "sentence_overlap", "separator_group", "separators", "input",
    "input_type", "query", "timeout", "top_n", "return_documents",
)  # fmt: skip
KNOWN_STRINGS = (
    "elasticsearch", "elser", ".elser_model_2_linux-x86_64", ".elser_model_2", ".elser_model_1",
    "sparse_embedding", "text_embedding", "rerank", "any", "word", "sentence", "recursive",
    "none", "plaintext", "markdown", "30s", "-1", "",
)  # fmt: skip
HUGE_INTS = st.sampled_from(
    [2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30,
     -(10**40), 10**300]
)  # fmt: skip
# Lone surrogates are valid JSON (as \uXXXX escapes) but not valid Unicode scalar values.
SURROGATES = st.text(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=()),
    min_size=1,
    max_size=3,
)
TEXT = st.text(max_size=20) | st.sampled_from(KNOWN_STRINGS) | SURROGATES
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-3, 40)
    | HUGE_INTS
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
KEYS = st.sampled_from(KNOWN_KEYS) | st.text(max_size=10) | SURROGATES


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4)


JSON_VALUES = st.recursive(SCALARS, _containers, max_leaves=15)


def _settings_like(keys: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """Random JSON, or an object with the given keys holding random values (reaches deeper)."""
    values = SCALARS | JSON_VALUES
    return JSON_VALUES | st.fixed_dictionaries({}, optional=dict.fromkeys(keys, values))


SERVICE_SETTINGS = _settings_like(
    ("model_id", "num_allocations", "num_threads", "adaptive_allocations", "deployment_id")
)
ADAPTIVE = _settings_like(("enabled", "min_number_of_allocations", "max_number_of_allocations"))
CHUNKING = JSON_VALUES | st.fixed_dictionaries(
    {"strategy": st.sampled_from(["word", "sentence", "recursive", "none", "WORD"]) | SCALARS},
    optional={
        "max_chunk_size": st.integers(-1, 400) | SCALARS,
        "overlap": st.integers(-1, 200) | SCALARS,
        "sentence_overlap": st.integers(-1, 2) | SCALARS,
        "separator_group": st.sampled_from(["plaintext", "markdown", "html"]) | SCALARS,
        "separators": st.lists(SCALARS | JSON_VALUES, max_size=4) | SCALARS,
    },
)
INFER_BODIES = JSON_VALUES | st.fixed_dictionaries(
    {"input": TEXT | st.lists(TEXT | SCALARS, max_size=4) | JSON_VALUES},
    optional={"input_type": JSON_VALUES, "task_settings": JSON_VALUES, "timeout": JSON_VALUES},
)
UPDATE_BODIES = JSON_VALUES | st.fixed_dictionaries(
    {"service_settings": SERVICE_SETTINGS},
    optional={"task_type": JSON_VALUES, "task_settings": JSON_VALUES},
)


def dumps(value: Any) -> bytes:
    """JSON with ASCII escapes, so lone surrogates travel as ``\\udXXX``."""
    return json.dumps(value).encode("ascii")


# -- checks -------------------------------------------------------------------------------------
def assert_es_answer(response: httpx.Response) -> None:
    """Below 500, product header, and an error body in one of Elasticsearch's two shapes."""
    request = response.request
    where = f"{request.method} {request.url}"
    assert response.status_code < 500, f"{where} -> {response.status_code}: {response.text[:500]}"
    assert response.headers.get("x-elastic-product") == "Elasticsearch", (where, response.headers)
    if request.method == "HEAD" or not response.content:
        assert response.status_code < 400 or request.method == "HEAD", where
        return
    body = response.json()
    if response.status_code < 400:
        return
    assert isinstance(body, dict), (where, body)
    assert body.get("status") == response.status_code, (where, body)
    error = body.get("error")
    if isinstance(error, str):  # RestController's routing errors
        assert set(body) == {"error", "status"}, (where, body)
        return
    assert isinstance(error, dict), (where, body)
    assert isinstance(error.get("type"), str) and error["type"], (where, body)
    assert isinstance(error.get("reason"), str), (where, body)
    root_cause = error.get("root_cause")
    assert isinstance(root_cause, list) and root_cause, (where, body)
    assert all(isinstance(c, dict) and isinstance(c.get("type"), str) for c in root_cause), body


# -- fixtures -----------------------------------------------------------------------------------
class _EscapeSurrogates(logging.Filter):
    """Escape lone surrogates in server log records (tracebacks of 500s echo request text):
    pytest-xdist cannot send captured logs containing them, and the run would abort."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _escape(record.getMessage())
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _escape(record.exc_text)
        return True


def _escape(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.fixture(scope="module", autouse=True)
def _loggable_server_errors() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "elsercheck.reference")]
    escape = _EscapeSurrogates()
    for logger in loggers:
        logger.addFilter(escape)
    yield
    for logger in loggers:
        logger.removeFilter(escape)


@pytest.fixture(scope="module")
def es(server: InProcessServer) -> Iterator[httpx.Client]:
    with server.client(auth=("elastic", PASSWORD), timeout=REQUEST_TIMEOUT) as c:
        yield c


@pytest.fixture(scope="module")
def wire_es(wire_server: EmbeddedServer) -> Iterator[httpx.Client]:
    """A client over a socket, for what uvicorn's framing decides (body size limits)."""
    with httpx.Client(
        base_url=wire_server.url, auth=("elastic", PASSWORD), timeout=REQUEST_TIMEOUT
    ) as c:
        yield c


@pytest.fixture(scope="module")
def nobody(server: InProcessServer) -> Iterator[httpx.Client]:
    with server.client(timeout=REQUEST_TIMEOUT) as c:
        yield c


def _endpoint(es: httpx.Client, inference_id: str) -> Iterator[str]:
    response = es.put(f"/_inference/sparse_embedding/{inference_id}", json=elser_body())
    assert response.status_code == 200, response.text
    yield inference_id
    remove(es, inference_id)


@pytest.fixture(scope="module")
def infer_target(es: httpx.Client) -> Iterator[str]:
    yield from _endpoint(es, "fuzz-infer-target")


@pytest.fixture
def update_target(es: httpx.Client) -> Iterator[str]:
    """Fresh for each test: updates may claim every processor of the ML node."""
    yield from _endpoint(es, "fuzz-update-target")


def remove(es: httpx.Client, inference_id: str) -> None:
    """Delete an endpoint a case may have created; it must be gone afterwards."""
    response = es.delete(f"/_inference/{inference_id}")
    assert response.status_code in (200, 404), response.text
    assert es.get(f"/_inference/{inference_id}").status_code == 404


# -- random JSON in every body position --------------------------------------------------------
PUT_PATHS = ("/_inference/sparse_embedding/fuzz-put", "/_inference/fuzz-put")


@FUZZ
@given(path=st.sampled_from(PUT_PATHS), value=JSON_VALUES)
@example(path=PUT_PATHS[0], value={"service": "\ud800"})
def test_put_random_json_body(es: httpx.Client, path: str, value: Any) -> None:
    try:
        assert_es_answer(es.put(path + PUT_QUERY, content=dumps(value), headers=JSON_HEADERS))
    finally:
        remove(es, "fuzz-put")


@FUZZ
@given(
    field=st.sampled_from(["service_settings", "chunking_settings", "task_settings"]),
    data=st.data(),
)
def test_put_random_settings(es: httpx.Client, field: str, data: st.DataObject) -> None:
    strategy = {"service_settings": SERVICE_SETTINGS, "chunking_settings": CHUNKING}
    body: dict[str, Any] = elser_body()
    body[field] = data.draw(strategy.get(field, JSON_VALUES), label=field)
    try:
        assert_es_answer(
            es.put(
                f"/_inference/sparse_embedding/fuzz-settings{PUT_QUERY}",
                content=dumps(body),
                headers=JSON_HEADERS,
            )
        )
        assert_es_answer(es.get("/_inference/_all"))
    finally:
        remove(es, "fuzz-settings")


@FUZZ
@given(value=ADAPTIVE, num_allocations=st.none() | st.integers(-1, 3) | HUGE_INTS)
def test_put_random_adaptive_allocations(
    es: httpx.Client, value: Any, num_allocations: int | None
) -> None:
    body: dict[str, Any] = elser_body(adaptive_allocations=value)
    settings_ = body["service_settings"]
    assert isinstance(settings_, dict)
    if num_allocations is None:
        del settings_["num_allocations"]
    else:
        settings_["num_allocations"] = num_allocations
    try:
        assert_es_answer(
            es.put(
                f"/_inference/sparse_embedding/fuzz-adaptive{PUT_QUERY}",
                content=dumps(body),
                headers=JSON_HEADERS,
            )
        )
        assert_es_answer(es.get("/_ml/trained_models/_stats"))
    finally:
        remove(es, "fuzz-adaptive")


@FUZZ
@given(task_path=st.booleans(), value=INFER_BODIES)
def test_infer_random_body(
    es: httpx.Client, infer_target: str, task_path: bool, value: Any
) -> None:
    path = f"/_inference/{'sparse_embedding/' if task_path else ''}{infer_target}"
    assert_es_answer(es.post(path, content=dumps(value), headers=JSON_HEADERS))


@FUZZ
@given(
    path=st.sampled_from(
        [
            "/_inference/sparse_embedding/{id}/_update",
            "/_inference/{id}/_update",
            "/_inference/sparse_embedding/fuzz-missing/_update",
        ]
    ),
    value=UPDATE_BODIES,
)
def test_update_random_body(es: httpx.Client, update_target: str, path: str, value: Any) -> None:
    url = path.format(id=update_target)
    response = es.put(url, content=dumps(value), headers=JSON_HEADERS)
    if response.status_code == 500:
        # The two 500s Elasticsearch answers on purpose up to 9.4 (UpdateInferenceModelAction
        # .Request.getContentAsSettings: a non-string task_type, a null settings value).
        error = response.json()["error"]
        assert error["type"] == "status_exception", error
        assert error["reason"].startswith(UPDATE_500S), error
    elif response.status_code == 501:
        # 9.5 passes a null settings value on to the service: refused as not modelled
        error = response.json()["error"]
        assert error["reason"].startswith("The reference server does not model"), error
    else:
        assert_es_answer(response)
    assert_es_answer(es.get(f"/_inference/{update_target}"))


UPDATE_500S = (
    "Failed to parse [task_type] in update request [",
    "Failed to parse update request [",
)


# -- random bytes, content types, headers --------------------------------------------------------
BYTE_TARGETS = (
    ("PUT", "/_inference/sparse_embedding/fuzz-bytes" + PUT_QUERY),
    ("PUT", "/_inference/fuzz-bytes" + PUT_QUERY),
    ("POST", "/_inference/{infer}"),
    ("PUT", "/_inference/sparse_embedding/{infer}/_update"),
    ("POST", "/_security/api_key"),
    ("POST", "/_inference/{infer}/_stream"),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=UTF-8",
        "application/x-ndjson",
        "application/vnd.elasticsearch+json; compatible-with=9",
        "application/vnd.elasticsearch+json; compatible-with=7",
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/cbor",
    ]
) | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30)


@FUZZ
@given(
    target=st.sampled_from(BYTE_TARGETS), raw=st.binary(max_size=300), content_type=CONTENT_TYPES
)
@example(target=BYTE_TARGETS[2], raw=b'{"input": "\xff\xfe"}', content_type="application/json")
@example(target=BYTE_TARGETS[0], raw=b"\xc3\x28", content_type="application/json")
def test_random_bytes_body(
    es: httpx.Client, infer_target: str, target: tuple[str, str], raw: bytes, content_type: str
) -> None:
    method, path = target
    try:
        response = es.request(
            method,
            path.format(infer=infer_target),
            content=raw,
            # Answers come in the request's format unless Accept says otherwise (ES
            # AbstractRestChannel.newErrorBuilder): JSON here, to judge every answer alike.
            headers={"Content-Type": content_type, "Accept": "application/json"},
        )
        assert_es_answer(response)
    finally:
        remove(es, "fuzz-bytes")


@FUZZ
@given(
    scheme=st.sampled_from([b"Basic", b"ApiKey", b"Bearer", b"basic", b"Negotiate", b""]),
    # any bytes a header value may carry: tab, visible ASCII, space, and obs-text 0x80-0xFF
    credentials=st.binary(max_size=40).map(
        lambda raw: bytes(c for c in raw if c == 9 or 0x20 <= c <= 0x7E or c >= 0x80).strip()
    ),
)
@example(scheme=b"Basic", credentials=b"\xe9")
@example(scheme=b"ApiKey", credentials=b"\xe9\xff")
def test_random_authorization_header(
    nobody: httpx.Client, scheme: bytes, credentials: bytes
) -> None:
    header = (scheme + b" " + credentials).strip()
    for method, path in (("GET", "/"), ("GET", "/_inference/_all")):
        response = nobody.request(method, path, headers={"Authorization": header})
        assert_es_answer(response)
        assert response.status_code == 401, response.text


# -- random requests: paths, methods, query strings ---------------------------------------------
SEGMENTS = (
    "_inference", "sparse_embedding", "text_embedding", "rerank", "completion", "any", "_all",
    "*", "_update", "_stream", "_services", "_ml", "trained_models", "_stats", "fuzz-path",
    ".elser-2-elasticsearch", ".elser_model_2_linux-x86_64", "lang_ident_model_1", "%", "..",
    "UPPER", "a,b", "é",
)  # fmt: skip
PARAM_NAMES = (
    "timeout", "force", "dry_run", "pretty", "human", "error_trace", "filter_path", "format",
    "allow_no_match", "from", "size", "wait_for", "master_timeout",
)  # fmt: skip
PARAM_VALUES = st.sampled_from(
    ["", "true", "false", "-1", "0", "30s", "1ms", "0.5s", "1_000", "abc", "NaN", "nanos",
     "-" + "9" * 400 + "d", "9" * 400 + "d", "99999999999999999999d", "9" * 5000, "-5"]
) | st.text(max_size=12)  # fmt: skip
METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH")


@st.composite
def random_requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes | None]:
    segment = st.sampled_from(SEGMENTS) | st.text(min_size=1, max_size=8)
    segments = draw(st.lists(segment, max_size=5))
    path = "/" + "/".join(quote(s, safe="*,") for s in segments)
    params = draw(
        st.dictionaries(
            st.sampled_from(PARAM_NAMES) | st.text(max_size=6), PARAM_VALUES, max_size=3
        )
    )
    body = draw(st.none() | JSON_VALUES.map(dumps) | st.binary(max_size=50))
    return draw(st.sampled_from(METHODS)), path, params, body


@FUZZ
@given(request=random_requests())
@example(
    request=(
        "PUT",
        "/_inference/sparse_embedding/fuzz-path",
        {"timeout": "-" + "9" * 400 + "d"},
        dumps(elser_body()),
    )
)
def test_random_requests(
    es: httpx.Client, request: tuple[str, str, dict[str, str], bytes | None]
) -> None:
    method, path, params, body = request
    # Inference on the preconfigured endpoint would start its deployment for the whole session.
    assume(not (method == "POST" and ".elser-2-elasticsearch" in path))
    headers = JSON_HEADERS if body is not None else {}
    try:
        response = es.request(method, path, params=params, content=body, headers=headers)
        assert_es_answer(response)
    finally:
        remove(es, "fuzz-path")


# -- sizes and depth ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [b"[" * 5000, b'{"a":' * 5000, b"[" * 5000 + b"]" * 5000, b'{"input":' + b"[" * 1500],
    ids=["open-arrays", "open-objects", "closed-arrays", "deep-input"],
)
@pytest.mark.parametrize(
    "method,path",
    [
        ("PUT", "/_inference/sparse_embedding/fuzz-deep"),
        ("PUT", "/_inference/fuzz-deep"),
        # with a task type in the URL the body is parsed before the lookup; the one-segment URL
        # looks the endpoint up first (TransportInferenceActionProxy): 404 for a missing one
        ("POST", "/_inference/sparse_embedding/fuzz-deep"),
        ("PUT", "/_inference/sparse_embedding/fuzz-deep/_update"),
    ],
)
def test_deeply_nested_json(es: httpx.Client, method: str, path: str, raw: bytes) -> None:
    response = es.request(method, path, content=raw, headers=JSON_HEADERS)
    assert_es_answer(response)
    assert response.status_code == 400


def test_huge_inference_input_is_answered(es: httpx.Client, infer_target: str) -> None:
    text = ("semantic search expands passages into weighted terms " * 100_000)[:5_000_000]
    response = es.post(
        f"/_inference/sparse_embedding/{infer_target}", json={"input": text}, timeout=30
    )
    assert_es_answer(response)
    assert response.status_code == 200, response.text[:300]
    (result,) = response.json()["sparse_embedding"]
    assert result["is_truncated"] is True
    assert result["embedding"]


def _raw_exchange(server: EmbeddedServer, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` (request line, headers, a little body) and read until the server closes."""
    with socket.create_connection((server.host, server.port), timeout=REQUEST_TIMEOUT) as sock:
        sock.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < _expected_length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    header_block, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = header_block.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def _expected_length(data: bytes) -> int:
    head, sep, _ = data.partition(b"\r\n\r\n")
    if not sep:
        return len(data) + 1
    for line in head.decode("latin-1").split("\r\n"):
        if line.lower().startswith("content-length:"):
            return len(head) + 4 + int(line.split(":", 1)[1])
    return len(data) + 1  # read until close


@pytest.fixture(scope="module")
def wire_infer_target(wire_es: httpx.Client) -> Iterator[str]:
    yield from _endpoint(wire_es, "fuzz-infer-target")


def _assert_netty_413(status: int, headers: Mapping[str, str], body: bytes) -> None:
    """``Netty4HttpContentSizeHandler.TOO_LARGE_CLOSE``: 413, no body, connection closed; sent
    before the REST layer, so without ``X-elastic-product``."""
    assert status == 413
    assert body == b"" and headers.get("content-length") == "0"
    assert headers.get("connection") == "close"
    assert "x-elastic-product" not in headers


def test_declared_body_over_limit_is_413(
    wire_server: EmbeddedServer, wire_infer_target: str
) -> None:
    basic = base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()
    head = (
        f"POST /_inference/{wire_infer_target} HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: Basic {basic}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {MAX_CONTENT_LENGTH + 1}\r\n\r\n"
    ).encode() + b'{"input": "'
    _assert_netty_413(*_raw_exchange(wire_server, head))
    # Without credentials, authentication (on the headers) answers first: ES's header
    # validator fails the request, and Netty4HttpContentSizeHandler passes failed ones on.
    anonymous = head.replace(f"Authorization: Basic {basic}\r\n".encode(), b"")
    status, headers, body = _raw_exchange(wire_server, anonymous)
    assert status == 401 and headers.get("x-elastic-product") == "Elasticsearch"
    assert json.loads(body)["error"]["type"] == "security_exception"


def test_streamed_body_over_limit_is_413(wire_es: httpx.Client, wire_infer_target: str) -> None:
    block = b"a" * (1 << 20)
    remaining = MAX_CONTENT_LENGTH + 1024

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count
        nonlocal remaining
        yield b'{"input": "'
        while remaining > 0:
            piece = block[: min(len(block), remaining)]
            remaining -= len(piece)
            yield piece

    response = wire_es.post(
        f"/_inference/{wire_infer_target}", content=chunks(), headers=JSON_HEADERS, timeout=30
    )
    _assert_netty_413(response.status_code, response.headers, response.content)


# -- inputs found to break the server; the fuzzers above can reach each of them -------------
@dataclass
class Case:
    method: str
    path: str
    body: Any = None  # JSON value, sent with ASCII escapes
    headers: dict[str, Any] = field(default_factory=dict)
    anonymous: bool = False
    cleanup: str | None = None


def _with_separators(separators: list[Any]) -> dict[str, Any]:
    chunking = {"strategy": "recursive", "max_chunk_size": 100, "separators": separators}
    return elser_body() | {"chunking_settings": chunking}


HUGE_NEGATIVE = "-" + "9" * 400 + "d"
KNOWN_PUT = "/_inference/sparse_embedding/fuzz-known"
KNOWN_BAD = {
    # strings with lone surrogates echoed into an error message
    "surrogate-service": Case(
        "PUT",
        KNOWN_PUT,
        {"service": "\ud800"},
        cleanup="fuzz-known",
    ),
    "surrogate-unknown-infer-field": Case("POST", "/_inference/{infer}", {"\udfff": 1}),
    "surrogate-task-type": Case(
        "PUT", "/_inference/fuzz-known", {"task_type": "\ud800"}, cleanup="fuzz-known"
    ),
    # a lone surrogate reaching the sparse encoder
    "surrogate-inference-input": Case("POST", "/_inference/{infer}", {"input": "a\ud800b"}),
    # separators are stored verbatim and rendered by every later GET
    "huge-int-separator": Case("PUT", KNOWN_PUT, _with_separators([2**64]), cleanup="fuzz-known"),
    "surrogate-separator": Case(
        "PUT", KNOWN_PUT, _with_separators(["\ud800"]), cleanup="fuzz-known"
    ),
    "deep-separators": Case(
        "PUT", KNOWN_PUT, _with_separators(json.loads("[" * 300 + "]" * 300)), cleanup="fuzz-known"
    ),
    # nesting well inside the 1000-level parser limit, echoed through java_str
    "deep-service-settings": Case(
        "PUT",
        KNOWN_PUT,
        {"service": "elasticsearch", "service_settings": json.loads("[" * 400 + "]" * 400)},
        cleanup="fuzz-known",
    ),
    "deep-update-settings": Case(
        "PUT",
        "/_inference/sparse_embedding/{update}/_update",
        {"service_settings": {"x": json.loads("[" * 400 + "]" * 400)}},
    ),
    # a TimeValue that parses to -inf
    "negative-infinite-put-timeout": Case(
        "PUT",
        f"{KNOWN_PUT}?timeout={HUGE_NEGATIVE}",
        elser_body(),
        cleanup="fuzz-known",
    ),
    "negative-infinite-infer-timeout": Case(
        "POST", f"/_inference/{{infer}}?timeout={HUGE_NEGATIVE}", {"input": "x"}
    ),
    # security API bodies
    "api-key-expiration-beyond-int64": Case(
        "POST", "/_security/api_key", {"name": "fuzz-known", "expiration": "99999999999999999999d"}
    ),
    "api-key-infinite-expiration": Case(
        "POST", "/_security/api_key", {"name": "fuzz-known", "expiration": "9" * 400 + "d"}
    ),
    "api-key-unhashable-privilege": Case(
        "POST",
        "/_security/api_key",
        {"name": "fuzz-known", "role_descriptors": {"r": {"cluster": [["monitor"]]}}},
    ),
    "invalidate-ids-not-a-list": Case("DELETE", "/_security/api_key", {"ids": 5}),
    # non-ASCII credentials (header bytes are latin-1 on the wire)
    "basic-non-ascii": Case("GET", "/", headers={"Authorization": b"Basic \xe9"}, anonymous=True),
    "api-key-non-ascii": Case(
        "GET", "/", headers={"Authorization": b"ApiKey \xe9\xff"}, anonymous=True
    ),
}


@pytest.mark.parametrize("case", list(KNOWN_BAD.values()), ids=list(KNOWN_BAD))
def test_known_bad_inputs(
    es: httpx.Client, nobody: httpx.Client, infer_target: str, update_target: str, case: Case
) -> None:
    path = case.path.format(infer=infer_target, update=update_target)
    headers = dict(case.headers)
    content = None
    if case.body is not None:
        content = dumps(case.body)
        headers["Content-Type"] = "application/json"
    client = nobody if case.anonymous else es
    try:
        assert_es_answer(client.request(case.method, path, content=content, headers=headers))
        assert_es_answer(es.get("/_inference/_all"))
    finally:
        if case.cleanup:
            remove(es, case.cleanup)
