"""HashMap.toString() order (wire/java_hashmap.py); expected strings printed by a JVM
(java.util.HashMap, OpenJDK) for the same insertions."""

from __future__ import annotations

import pytest

from elsercheck.reference.wire.java_hashmap import java_map_str, string_hash, table_size


@pytest.mark.parametrize(
    ("value", "max_entries", "java"),
    [
        ({"chunking_settings": {"strategy": "word", "max_chunk_size": 100, "overlap": 10}}, None,
         "{chunking_settings={overlap=10, max_chunk_size=100, strategy=word}}"),
        ({"foo": 1, "bar": 2}, None, "{bar=2, foo=1}"),
        # 14 keys inserted (table grew to 32), then all but three removed
        ({"k2": 1, "k13": 1, "zz": 1}, 14, "{zz=1, k2=1, k13=1}"),
    ],
)  # fmt: skip
def test_matches_java(value: dict, max_entries: int | None, java: str) -> None:
    assert java_map_str(value, max_entries) == java


def test_string_hash_and_table() -> None:
    assert string_hash("abc") == 96354
    # JVM: "service_settings".hashCode() == -982523283; "é😀" (a surrogate pair) == 1996812
    assert string_hash("service_settings") == -982523283 + 2**32
    assert string_hash("é\U0001f600") == 1996812
    assert string_hash("\ud800") == 0xD800  # a lone surrogate (from a JSON escape) is one unit
    assert [table_size(n) for n in (0, 12, 13, 24, 25)] == [16, 16, 32, 32, 64]
