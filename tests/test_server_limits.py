"""No one takes the reference server down (issue 16 item 4): the work and memory of a request
are bounded, slow or idle clients are cut off, Elasticsearch's HTTP limits answer as
Elasticsearch does, and odd requests get an answer and at most one log line."""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest

from elsercheck.reference import http_protocol
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.mlnode import sparse_encoder
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.timing import PRESETS
from tests.conftest import PASSWORD, elser_body

AUTH = "Basic " + base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()


def _address(server: EmbeddedServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _exchange(server: EmbeddedServer, data: bytes, timeout: float = 20) -> bytes:
    """Send raw bytes, read until the server closes the connection (or ``timeout``)."""
    with socket.create_connection(_address(server), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _status_headers_body(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


# -- (a) bounded work and memory per inference input -------------------------------------------
@pytest.fixture
def counted_pieces(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Pieces the tokenizer produced: the encoder's work, independent of the machine's speed."""
    produced: list[int] = []
    original = sparse_encoder.wordpieces

    def counting(word: str) -> list[str]:
        pieces = original(word)
        produced.append(len(pieces))
        return pieces

    monkeypatch.setattr(sparse_encoder, "wordpieces", counting)
    return produced


@pytest.mark.parametrize(
    "text",
    ["word " * 1_000_000, "x" * 5_000_000, "tokenization " * 400_000],
    ids=["many-words", "one-huge-word", "many-long-words"],
)
def test_encoder_looks_only_at_its_window(counted_pieces: list[int], text: str) -> None:
    result = sparse_encoder.encode(text)
    count = sparse_encoder.token_count(text)
    assert result.is_truncated and count == sparse_encoder.MAX_TOKENS
    # ELSER sees 510 tokens: a few rounds of a growing prefix, never the whole input.
    assert sum(counted_pieces) < 20 * sparse_encoder.MAX_TOKENS, sum(counted_pieces)


def test_encoder_results_unchanged_by_the_window() -> None:
    """Short and long inputs encode as before: same tokens, same truncation flag."""
    short = "The quick brown fox jumps over the lazy dog, tokenization included!"
    assert sparse_encoder.tokenize(short) == [
        "the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", ",",
        "tokeni", "##zati", "##on", "included", "!",
    ]  # fmt: skip
    assert not sparse_encoder.encode(short).is_truncated
    exactly = "w " * (sparse_encoder.MAX_TOKENS - 2)
    assert not sparse_encoder.encode(exactly).is_truncated
    assert sparse_encoder.encode(exactly + "w").is_truncated
    # A word across the first prefix's end (4096 characters) is tokenized whole.
    across = "abcdefghij " * 372 + "klmnopqrstuv z"
    assert sparse_encoder.tokenize(across)[-5:] == ["abcdefghij", "klmnop", "##qrst", "##uv", "z"]
    assert not sparse_encoder.encode(across).is_truncated


def test_encoder_cache_keeps_no_large_input() -> None:
    texts = [f"{n} " + "lorem ipsum dolor " * 20_000 for n in range(8)]  # 8 x 360 kB
    for text in texts[:1]:
        sparse_encoder.encode(text)  # warm up lazily created structures
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for text in texts[1:]:
            sparse_encoder.encode(text)
            sparse_encoder.token_count(text)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    retained = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert retained < 2_000_000, retained  # a few MB per input were kept before


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    config = ServerConfig(password=PASSWORD, timing=PRESETS["instant"], read_timeout_seconds=1)
    with EmbeddedServer(config) as server:
        yield server


def test_huge_input_is_answered_truncated(limited: EmbeddedServer) -> None:
    with httpx.Client(base_url=limited.url, auth=("elastic", PASSWORD), timeout=120) as c:
        assert c.put("/_inference/sparse_embedding/big-in", json=elser_body()).status_code == 200
        body = json.dumps({"input": "word " * 4_000_000}).encode()  # 20 MB
        response = c.post(
            "/_inference/big-in", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text[:300]
        assert response.json()["sparse_embedding"][0]["is_truncated"] is True
        assert c.get("/").status_code == 200


# -- (b) body limits, authentication before the body, read timeouts ----------------------------
def _post_head(length: int, auth: bool = True) -> bytes:
    return (
        "POST /_inference/big-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n" + (f"Authorization: {AUTH}\r\n" if auth else "") + "\r\n"
    ).encode()


def test_over_max_content_length_is_413_without_body(limited: EmbeddedServer) -> None:
    # Only the head is sent: the answer comes without the 100 MB (never read), and closes.
    raw = _exchange(limited, _post_head(100 * 1024 * 1024 + 1))
    status, headers, body = _status_headers_body(raw)
    assert status == 413 and body == b"" and headers["connection"] == "close"
    assert headers["content-length"] == "0"


def test_anonymous_body_is_never_read(limited: EmbeddedServer) -> None:
    # 50 MB announced, none sent: the 401 comes at once (the server does not wait for it).
    raw = _exchange(limited, _post_head(50 * 1024 * 1024, auth=False))
    status, headers, body = _status_headers_body(raw)
    assert status == 401 and headers["connection"] == "close"
    assert json.loads(body)["error"]["type"] == "security_exception"


def test_half_open_connections_are_closed(limited: EmbeddedServer) -> None:
    for partial in (b"", b"GET / HTTP/1.1\r\nHost: x\r\n", _post_head(100) + b'{"inp'):
        started = time.monotonic()
        raw = _exchange(limited, partial, timeout=30)
        assert raw == b"", raw  # closed by the server, unanswered
        assert time.monotonic() - started < 30


def test_idle_connections_cannot_keep_new_clients_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 22 item 6: one client's half-open connections fill the cap; a new client is still
    # served (the oldest idle connection is closed for it), and the half-open ones are closed.
    monkeypatch.setattr(http_protocol, "max_connections", lambda: 3)
    config = ServerConfig(password=PASSWORD, timing=PRESETS["instant"])
    with EmbeddedServer(config) as server:
        idle = [socket.create_connection(_address(server), timeout=20) for _ in range(3)]
        idle[1].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # half a head
        try:
            for _ in range(2):  # a full house each time: the half-open ones are renewed
                request = (
                    f"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n"
                    "Connection: close\r\n\r\n"
                )
                assert _status_headers_body(_exchange(server, request.encode()))[0] == 200
                idle.append(socket.create_connection(_address(server), timeout=20))
            closed = 0
            for sock in idle[:2]:  # the two oldest made room
                try:
                    closed += sock.recv(100) == b""
                except ConnectionResetError:
                    closed += 1
            assert closed == 2
        finally:
            for sock in idle:
                sock.close()


# -- Elasticsearch's head limits -------------------------------------------------------------
@pytest.mark.parametrize(
    ("request_bytes", "type_", "reason"),
    [
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
         "too_long_http_line_exception", "An HTTP line is larger than 4096 bytes."),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n",
         "too_long_http_header_exception", "HTTP header is larger than 16384 bytes."),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Many: 0123456789\r\n" * 2000,
         "too_long_http_header_exception", "HTTP header is larger than 16384 bytes."),
    ],
    ids=["line", "one-header", "many-headers-unfinished"],
)  # fmt: skip
def test_head_limits_answer_as_elasticsearch(
    limited: EmbeddedServer, request_bytes: bytes, type_: str, reason: str
) -> None:
    status, headers, body = _status_headers_body(_exchange(limited, request_bytes))
    assert status == 400 and headers["x-elastic-product"] == "Elasticsearch"
    error = json.loads(body)
    assert error == {
        "error": {"root_cause": [{"type": type_, "reason": reason}], "type": type_,
                  "reason": reason},
        "status": 400,
    }  # fmt: skip


def test_head_within_limits_is_served(limited: EmbeddedServer) -> None:
    request = (
        f"GET /?pretty HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n"
        + "X-Pad: " + "p" * 15_000 + "\r\nConnection: close\r\n\r\n"
    )  # fmt: skip
    assert _status_headers_body(_exchange(limited, request.encode()))[0] == 200


# -- (c) odd requests: an answer, one log line ----------------------------------------------
def test_non_ascii_password() -> None:
    password = "pässwörd-€"
    config = ServerConfig(password=password, timing=PRESETS["instant"])
    with EmbeddedServer(config) as server, httpx.Client(base_url=server.url) as c:
        assert c.get("/", auth=("elastic", password)).status_code == 200
        wrong = c.get("/", auth=("elastic", "wröng"))
        assert wrong.status_code == 401
        assert wrong.json()["error"]["reason"] == (
            "unable to authenticate user [elastic] for REST request [/]"
        )


def test_websocket_upgrade_is_an_ordinary_request(limited: EmbeddedServer) -> None:
    request = (
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: {AUTH}\r\n\r\n"
    )
    status, headers, body = _status_headers_body(_exchange(limited, request.encode()))
    assert status == 200 and headers["x-elastic-product"] == "Elasticsearch"
    assert json.loads(body)["tagline"] == "You Know, for Search"


def test_client_gone_mid_body_logs_one_line(
    limited: EmbeddedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(3):
        with socket.create_connection(_address(limited), timeout=20) as sock:
            sock.sendall(_post_head(1000) + b'{"input": "par')
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        gone = [r for r in caplog.records if "disconnected" in r.getMessage()]
        if len(gone) >= 3:
            break
        time.sleep(0.05)
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    assert len(gone) == 3 and all("\n" not in r.getMessage() for r in gone)


def test_idle_after_an_unread_body_is_closed(limited: EmbeddedServer) -> None:
    """A body answered before it was read (no such route) is drained when it comes; the
    connection idle after it is still closed."""
    head = (
        "POST /no/such/route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: {AUTH}\r\nContent-Length: 10\r\n\r\n"
    ).encode()
    with socket.create_connection(_address(limited), timeout=30) as sock:
        sock.sendall(head)
        answer = b""
        while b"\r\n\r\n" not in answer or len(_status_headers_body(answer)[2]) < int(
            _status_headers_body(answer)[1]["content-length"]
        ):
            answer += sock.recv(65536)
        assert _status_headers_body(answer)[0] == 400
        sock.sendall(b'{"a": 1}  ')  # the body, after the answer
        assert sock.recv(65536) == b""  # then nothing: closed by the server
