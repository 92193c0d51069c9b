"""The SMILE codec against the byte sequences Jackson's tests expect
(FasterXML/jackson-dataformats-binary, smile/src/test/.../gen/TestGenerator.java and
TestGeneratorNumbers.java) and the format specification's token tables."""

from __future__ import annotations

from typing import Any

import pytest

from elsercheck.reference.wire import smile

HEADER = bytes([0x3A, 0x29, 0x0A, 0x05])  # ':)\n', shared names + raw binary (Elasticsearch)


def body(value: Any) -> bytes:
    encoded = smile.dumps(value)
    assert encoded[:4] == HEADER
    return encoded[4:]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, [0x23]), (False, [0x22]), (None, [0x21]), ("", [0x20]),
        ("abc", [0x42, 0x61, 0x62, 0x63]),  # testShortAscii
        ({"a": 6}, [0xFA, 0x80, 0x61, 0xCC, 0xFB]),  # testTrivialObject
        ({"a": 1, "b": 2}, [0xFA, 0x80, 0x61, 0xC2, 0x80, 0x62, 0xC4, 0xFB]),  # test2FieldObject
        ([], [0xF8, 0xF9]),  # testSimpleArray
        (3, [0xC6]), (0, [0xC0]), (-6, [0xCB]), (15, [0xDE]), (-16, [0xDF]),  # testSmallInts
        (16, [0x24, 0xA0]),  # zigzag 32: one 6-bit VInt byte with the end bit
        ("é", [0x80, 0xC3, 0xA9]),  # tiny Unicode: byte length 2
        ([{"k": 1}, {"k": 2}], [0xF8, 0xFA, 0x80, 0x6B, 0xC2, 0xFB, 0xFA, 0x40, 0xC4, 0xFB, 0xF9]),
    ],
)  # fmt: skip
def test_known_encodings(value: Any, expected: list[int]) -> None:
    assert body(value) == bytes(expected)
    assert smile.loads(HEADER + bytes(expected)) == value


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (16, 2), (-17, 2), (0xFFF, 3), (-4096, 3), (0x1000, 4), (500000, 4),
        (2**31 - 1, 6), (-(2**31), 6), (2**63 - 1, 11), (-(2**63), 11),  # testOtherInts
        (0.125, 11),  # testDoubles: a Python float is a double
        ({"a": 8, "b": [True], "c": {}, "d": {"3": None}}, 21),  # testAnotherObject
        (["abcde12345", "abcde12345"], 24),  # writeRepeatedString without sharing, less header
    ],
)  # fmt: skip
def test_encoded_sizes_match_jackson(value: Any, size: int) -> None:
    assert len(body(value)) == size
    assert smile.loads(smile.dumps(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        {"x": [1.5, -2.25, "héllo", "a" * 70, "é" * 40, 2**70, -(2**70), None, 1e300]},
        {f"k{i}": i for i in range(1500)},  # more names than the 1024-entry shared table
        {"é" * 30: 1, "b" * 65: 2, "": 3},  # short Unicode name, long name, empty name
    ],
)
def test_round_trip(value: Any) -> None:
    assert smile.loads(smile.dumps(value)) == value


def test_decodes_shared_values_and_float32() -> None:
    # header with shared string values; ["ab", <ref 0>], then a 32-bit float 0.5 (0x3F000000)
    data = bytes([0x3A, 0x29, 0x0A, 0x03, 0xF8, 0x41, 0x61, 0x62, 0x01])
    data += bytes([0x28, 0x03, 0x78, 0x00, 0x00, 0x00, 0xF9])
    assert smile.loads(data) == ["ab", "ab", 0.5]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a": 1}', "Input does not start with Smile format header (first byte = 0x7b)"),
        (b"", "Input does not start with Smile format header (first byte = 0x0)"),
        (HEADER + bytes([0xFA, 0x80, 0x61]), "Unexpected end-of-input"),
        (HEADER + bytes([0xFA, 0x80, 0x61, 0xC2, 0x40, 0xC4, 0xFB]), "Duplicate field 'a'"),
        (HEADER + bytes([0xFA, 0x41]), "Invalid shared name reference 1"),
        (HEADER + bytes([0x01]), "Invalid type marker byte 0x1"),  # shared values are off
        (HEADER + bytes([0xFD, 0x81, 0x00]), "Binary values are not JSON values"),
    ],
)
def test_rejects_invalid_content(data: bytes, message: str) -> None:
    with pytest.raises(smile.SmileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        smile.loads(data)


def test_nesting_limit() -> None:
    with pytest.raises(smile.SmileError, match="nesting depth"):
        smile.loads(HEADER + bytes([0xF8]) * 1001 + bytes([0xF9]) * 1001)
