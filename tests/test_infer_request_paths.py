"""The inference body read from its decoded members (no escape, string inputs) and by the
token scanner give the same request, and the same error with its location."""

from __future__ import annotations

import json

import pytest

from elsercheck.reference import versions
from elsercheck.reference.rules import infer_request as ir
from elsercheck.reference.wire.errors import EsError

# 9.4: its parser still declares top_n (9.5 does not, #150116); the paths are the same.
VERSION = versions.resolve("9.4")


def _parse(raw: bytes) -> ir.InferRequest:
    return ir.parse(raw, json.loads(raw), VERSION)


def test_plain_body_reads_its_inputs() -> None:
    request = _parse(b'{"input": ["a b", "c"], "input_type": "SEARCH"}')
    assert request.texts == ["a b", "c"]
    assert request.input_type == "search"
    assert request.present == {"input", "input_type"}


def test_number_inputs_keep_their_text_as_written() -> None:
    assert _parse(b'{"input": [1e5, "x"]}').texts == ["1e5", "x"]


def test_escaped_field_name_is_looked_up_as_written() -> None:
    with pytest.raises(EsError) as caught:
        _parse(b'{"inp\\u0075t": "x"}')
    assert "unknown field [inp\\u0075t]" in caught.value.reason


def test_error_in_plain_body_keeps_its_location() -> None:
    with pytest.raises(EsError) as caught:
        _parse(b'{"input": "x",\n  "top_n": true}')
    assert caught.value.reason.startswith("[2:12] ")


@pytest.mark.parametrize(
    ("raw", "texts"),
    [
        (b'{"input": "one"}', ["one"]),
        (b'{"input": ["a", "b"]}', ["a", "b"]),
        (b'{"input": []}', []),
    ],
)
def test_input_alone_reads_as_the_full_parser_reads_it(raw: bytes, texts: list[str]) -> None:
    request = _parse(raw)
    assert request.texts == texts
    assert request.present == {"input"}
    assert request == ir._build(
        json.loads(raw), ir._decoded_members(json.loads(raw)), ir.declared_fields(VERSION)
    )


def test_input_alone_of_another_type_is_still_refused_with_its_location() -> None:
    with pytest.raises(EsError) as caught:
        _parse(b'{"input": 5}')
    assert caught.value.reason.startswith("[1:11] ")
    assert "input doesn't support values of type: VALUE_NUMBER" in caught.value.reason
