"""HashMap.toString() order (wire/javafmt.py); expected strings printed by a JVM
(java.util.HashMap, OpenJDK 17) for the same insertions."""

from __future__ import annotations

import pytest

from elsercheck.reference.wire.javafmt import java_map, java_str, parsed_map_capacity, string_hash


@pytest.mark.parametrize(
    ("value", "parsed_size", "java"),
    [
        ({"chunking_settings": {"strategy": "word", "max_chunk_size": 100, "overlap": 10}}, 1,
         "{chunking_settings={overlap=10, max_chunk_size=100, strategy=word}}"),
        ({"foo": 1, "bar": 2}, 2, "{bar=2, foo=1}"),
        # 14 keys inserted (table grew to 32), then all but three removed
        ({"k2": 1, "k13": 1, "zz": 1}, 14, "{zz=1, k2=1, k13=1}"),
    ],
)  # fmt: skip
def test_matches_java(value: dict, parsed_size: int, java: str) -> None:
    assert java_map(value, parsed_map_capacity(parsed_size)) == java
    if parsed_size == len(value):
        assert java_str(value) == java


def test_string_hash() -> None:
    # JVM: "service_settings".hashCode() == -982523283; "é😀" (a surrogate pair) == 1996812
    assert string_hash("service_settings") == -982523283
    assert string_hash("é\U0001f600") == 1996812
    assert string_hash("\ud800") == 0xD800  # a lone surrogate (from a JSON escape) is one unit
