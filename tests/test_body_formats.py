"""Request and response body formats (YAML, CBOR, SMILE beside JSON), form bodies per version,
and the Warning header's escaping.

Elasticsearch parses inference bodies with the request's XContentType and answers, absent
``?format`` / ``Accept``, in the request's own format (AbstractRestChannel.newBuilder); see
src/elsercheck/reference/wire/xcontent.py for the sources.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import cbor2
import httpx
import pytest
import yaml

from elsercheck.reference import versions
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.wire import smile
from elsercheck.reference.wire.warning_header import escape_and_encode, format_warning
from elsercheck.timing import PRESETS
from tests.conftest import PASSWORD, elser_body
from tests.inprocess import InProcessServer

Codec = tuple[str, Callable[[Any], bytes], Callable[[bytes], Any]]
FORMATS: list[Codec] = [
    ("application/yaml", lambda v: yaml.safe_dump(v).encode(), yaml.safe_load),
    ("application/cbor", cbor2.dumps, cbor2.loads),
    ("application/smile", smile.dumps, smile.loads),
]
IDS = ["yaml", "cbor", "smile"]
DECODERS: dict[str, Callable[[bytes], Any]] = {
    "application/json": json.loads,
    **{media: decode for media, _, decode in FORMATS},
}


@pytest.fixture(scope="module")
def open_client() -> Iterator[httpx.Client]:
    config = ServerConfig(security=False, timing=PRESETS["instant"])
    with InProcessServer(config) as server, server.client(timeout=30) as client:
        yield client


@pytest.fixture
def endpoint_id(open_client: httpx.Client, unique_id: str) -> Iterator[str]:
    """An id for the test; its endpoint (if created) is deleted after it, freeing the node."""
    yield unique_id
    open_client.delete(f"/_inference/{unique_id}")


def _put(client: httpx.Client, inference_id: str) -> None:
    response = client.put(f"/_inference/sparse_embedding/{inference_id}", json=elser_body())
    assert response.status_code == 200, response.text


# -- success in each format ----------------------------------------------------------------------
@pytest.mark.parametrize(("media", "encode", "decode"), FORMATS, ids=IDS)
def test_put_in_format_answers_in_format(
    open_client: httpx.Client, endpoint_id: str, media: str, encode: Any, decode: Any
) -> None:
    response = open_client.put(
        f"/_inference/sparse_embedding/{endpoint_id}", content=encode(elser_body()),
        headers={"Content-Type": media},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.headers["content-type"] == media
    body = decode(response.content)
    assert body["inference_id"] == endpoint_id
    assert body["service_settings"]["num_allocations"] == 1
    # the same endpoint, read back as JSON: the format changed the wire, not the content
    stored = open_client.get(f"/_inference/{endpoint_id}").json()["endpoints"][0]
    assert stored["service_settings"] == body["service_settings"]


@pytest.mark.parametrize(("media", "encode", "decode"), FORMATS, ids=IDS)
def test_update_in_format(
    open_client: httpx.Client, endpoint_id: str, media: str, encode: Any, decode: Any
) -> None:
    _put(open_client, endpoint_id)
    response = open_client.put(
        f"/_inference/sparse_embedding/{endpoint_id}/_update",
        content=encode({"service_settings": {"num_allocations": 2}}),
        headers={"Content-Type": media},
    )
    assert response.status_code == 200, response.content
    assert response.headers["content-type"] == media
    assert decode(response.content)["service_settings"]["num_allocations"] == 2


@pytest.mark.parametrize(("media", "encode", "decode"), FORMATS, ids=IDS)
def test_inference_in_format(
    open_client: httpx.Client, endpoint_id: str, media: str, encode: Any, decode: Any
) -> None:
    _put(open_client, endpoint_id)
    json_answer = open_client.post(f"/_inference/{endpoint_id}", json={"input": ["hello world"]})
    response = open_client.post(
        f"/_inference/{endpoint_id}", content=encode({"input": ["hello world"]}),
        headers={"Content-Type": media},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.headers["content-type"] == media
    result = decode(response.content)["sparse_embedding"][0]
    expected = json_answer.json()["sparse_embedding"][0]
    assert result["embedding"].keys() == expected["embedding"].keys()
    for token, weight in expected["embedding"].items():
        assert result["embedding"][token] == pytest.approx(weight)


# -- errors in each format -----------------------------------------------------------------------
@pytest.mark.parametrize(("media", "encode", "decode"), FORMATS, ids=IDS)
def test_error_answered_in_request_format(
    open_client: httpx.Client, endpoint_id: str, media: str, encode: Any, decode: Any
) -> None:
    response = open_client.put(
        f"/_inference/sparse_embedding/{endpoint_id}", content=encode({"service_settings": {}}),
        headers={"Content-Type": media},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.headers["content-type"] == media
    assert decode(response.content) == {
        "error": {
            "root_cause": [{"type": "status_exception", "reason": MISSING_SERVICE}],
            "type": "status_exception", "reason": MISSING_SERVICE,
        },
        "status": 400,
    }  # fmt: skip


MISSING_SERVICE = "Inference endpoint configuration is missing the [service] setting"


@pytest.mark.parametrize(
    ("media", "raw", "decode"),
    [
        ("application/yaml", b"service: elser\nservice: elasticsearch\n", yaml.safe_load),
        ("application/yaml", b"service: [elser\n", yaml.safe_load),
        ("application/cbor", bytes([0xA1, 0x61]), cbor2.loads),  # truncated map
        ("application/cbor", bytes([0xA2, 0x61, 0x61, 1, 0x61, 0x61, 2]), cbor2.loads),  # dup key
        ("application/smile", b'{"service": "elser"}', smile.loads),  # JSON under a SMILE label
        ("application/smile", smile.ES_HEADER + bytes([0xFA, 0x80, 0x61, 0xC2, 0x80, 0x61, 0xC4, 0xFB]),
         smile.loads),  # duplicate key
    ],
    ids=["yaml-duplicate", "yaml-malformed", "cbor-truncated", "cbor-duplicate", "smile-no-header",
         "smile-duplicate"],
)  # fmt: skip
def test_unparsable_body_is_a_parse_error_in_its_format(
    open_client: httpx.Client, endpoint_id: str, media: str, raw: bytes, decode: Any
) -> None:
    response = open_client.put(
        f"/_inference/sparse_embedding/{endpoint_id}", content=raw, headers={"Content-Type": media}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == media
    error = decode(response.content)["error"]
    assert error["type"] == "parse_exception"
    assert error["reason"] == "Failed to parse content to map"
    assert error["caused_by"]["type"] == "x_content_parse_exception"
    assert open_client.get(f"/_inference/{endpoint_id}").status_code == 404


def test_yaml_scalars_resolve_as_jackson(open_client: httpx.Client, endpoint_id: str) -> None:
    # YAML 1.1's `yes` is a string to Jackson's YAMLParser, so num_allocations gets a string
    raw = (
        b"service: elasticsearch\nservice_settings:\n  model_id: .elser_model_2_linux-x86_64\n"
        b"  num_allocations: yes\n  num_threads: 1\n"
    )
    response = open_client.put(
        f"/_inference/sparse_embedding/{endpoint_id}", content=raw,
        headers={"Content-Type": "application/yaml"},
    )  # fmt: skip
    assert response.status_code == 400
    error = yaml.safe_load(response.content)["error"]
    assert error["type"] == "validation_exception"
    assert "[num_allocations]" in error["reason"] and "[yes]" in error["reason"], error


# -- choosing the answer's format ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        ("", None, "application/yaml"),  # the request's own format
        ("", "*/*", "application/yaml"),  # no XContent type in Accept: still the request's
        ("", "application/json", "application/json"),
        ("", "application/cbor", "application/cbor"),
        ("?format=smile", None, "application/smile"),
        ("?format=json", "application/cbor", "application/json"),  # format beats Accept
        ("?format=nonsense", "application/cbor", "application/cbor"),
    ],
)
def test_format_and_accept_override_request_format(
    open_client: httpx.Client, endpoint_id: str, query: str, accept: str | None, expected: str
) -> None:
    headers = {"Content-Type": "application/yaml"} | ({"Accept": accept} if accept else {})
    response = open_client.put(
        f"/_inference/sparse_embedding/{endpoint_id}{query}",
        content=yaml.safe_dump(elser_body()).encode(), headers=headers,
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.headers["content-type"] == expected
    body = DECODERS[expected](response.content)
    assert body["inference_id"] == endpoint_id


def test_accept_without_body(open_client: httpx.Client) -> None:
    response = open_client.get("/_inference/_all", headers={"Accept": "application/yaml"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/yaml"
    assert response.content.startswith(b"---\n")
    assert isinstance(yaml.safe_load(response.content)["endpoints"], list)


def test_vendor_media_type_is_accepted_and_echoed(
    open_client: httpx.Client, endpoint_id: str
) -> None:
    media = "application/vnd.elasticsearch+yaml; compatible-with=9"
    response = open_client.put(
        f"/_inference/sparse_embedding/{endpoint_id}",
        content=yaml.safe_dump(elser_body()).encode(),
        # both or neither header must ask for a version (RestCompatibleVersionHelper): httpx's
        # default `Accept: */*` beside it is refused (tests/test_fidelity.py)
        headers={"Content-Type": media, "Accept": media},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert (
        response.headers["content-type"] == "application/vnd.elasticsearch+yaml;compatible-with=9"
    )
    assert yaml.safe_load(response.content)["inference_id"] == endpoint_id


@pytest.mark.parametrize("media", ["text/plain", "application/xml", "application/vnd.elasticsearch+xml"])  # fmt: skip
def test_non_xcontent_body_is_406(open_client: httpx.Client, media: str) -> None:
    response = open_client.put(
        "/_inference/sparse_embedding/ct", content=b'{"service": "elser"}',
        headers={"Content-Type": media},
    )  # fmt: skip
    assert response.status_code == 406
    assert response.json() == {
        "error": f"Content-Type header [{media}] is not supported",
        "status": 406,
    }


@pytest.mark.parametrize(
    ("headers", "name", "cause"),
    [
        ([("Content-Type", "json")], "Content-Type", "invalid media-type [json]"),
        ([("Content-Type", "application/json; charset = utf-8")], "Content-Type",
         "invalid media-type [application/json; charset = utf-8]"),
        ([("Content-Type", "application/json"), ("Accept", "garbage")], "Accept",
         "invalid media-type [garbage]"),
        ([("Content-Type", "application/json"), ("Content-Type", "application/json")],
         "Content-Type", "Incorrect header [Content-Type]. Only one value should be provided"),
        ([("Content-Type", "application/json"), ("Accept", " ")], "Accept",
         "Header [Accept] cannot be empty."),
    ],
    ids=["no-subtype", "spaced-parameter", "accept", "two-values", "blank"],
)  # fmt: skip
def test_malformed_media_type_header(
    open_client: httpx.Client, headers: list[tuple[str, str]], name: str, cause: str
) -> None:
    """RestRequest: MediaTypeHeaderException wrapping parseHeaderWithMediaType's error."""
    response = open_client.put("/_inference/sparse_embedding/ct", content=b"{}", headers=headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "media_type_header_exception"
    assert error["reason"] == f"Invalid media-type value on headers [{name}]"
    assert error["caused_by"] == {"type": "illegal_argument_exception", "reason": cause}


# -- form bodies, per version --------------------------------------------------------------------
@pytest.mark.parametrize("line", versions.supported())
def test_form_body_is_406_for_inference_in_every_version(line: str) -> None:
    """9.5 (#149005) accepts form bodies only for handlers that opt in (read-only GET/POST
    pairs such as PromQL) behind HTTP TLS and authentication: the inference API does not."""
    config = ServerConfig(
        password=PASSWORD, timing=PRESETS["instant"], es_version=versions.resolve(line)
    )
    with InProcessServer(config) as server, server.client(auth=("elastic", PASSWORD)) as client:
        answers = [
            client.request(
                method, "/_inference/sparse_embedding/x", content=b"input=hello",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            for method in ("PUT", "POST")  # create and infer
        ]  # fmt: skip
    for response in answers:
        assert response.status_code == 406
        assert response.json() == {
            "error": "Content-Type header [application/x-www-form-urlencoded] is not supported",
            "status": 406,
        }


# -- the Warning header --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain [elser] text", "plain [elser] text"),
        ('say "hi"', 'say \\"hi\\"'),
        ("C:\\path", "C:\\\\path"),
        ("100% done", "100%25 done"),
        ("café ÿ", "café ÿ"),  # 0x80-0xFF is obs-text: left as it is
        ("€ and 😀", "%E2%82%AC and %F0%9F%98%80"),  # beyond 0xFF: UTF-8, percent-encoded
        ("a\nb\x7f", "a%0Ab%7F"),
        ("tab\tok", "tab\tok"),
        ("€€", "%E2%82%AC%E2%82%AC"),  # one run, one encoding
    ],
)
def test_warning_escape_and_encode(text: str, expected: str) -> None:
    assert escape_and_encode(text) == expected


def test_format_warning() -> None:
    assert (
        format_warning("9.1.10", "abc123", 'a "b"') == '299 Elasticsearch-9.1.10-abc123 "a \\"b\\""'
    )
    assert format_warning("9.1.10", "abc", "x", snapshot=True) == '299 Elasticsearch-9.1.10-SNAPSHOT-abc "x"'  # fmt: skip


@pytest.mark.parametrize("line", ["9.1", versions.NEWEST])
def test_warning_header_carries_version_and_build_hash(line: str, unique_id: str) -> None:
    release = versions.RELEASES[line]
    config = ServerConfig(security=False, timing=PRESETS["instant"], es_version=versions.resolve(line))  # fmt: skip
    body = {"service": "elser", "service_settings": {"num_allocations": 1, "num_threads": 1}}
    with InProcessServer(config) as server, server.client(timeout=30) as client:
        response = client.put(f"/_inference/sparse_embedding/{unique_id}", json=body)
        root = client.get("/").json()["version"]
    assert response.status_code == 200, response.text
    warnings = response.headers.get_list("warning")
    prefix = f'299 Elasticsearch-{release.number}-{release.build_hash} "'
    assert warnings and all(w.startswith(prefix) and w.endswith('"') for w in warnings), warnings
    assert root["build_hash"] == release.build_hash  # GET / and the header name one build
