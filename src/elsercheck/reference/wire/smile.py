"""SMILE, Jackson's binary JSON, for the JSON values a request or response holds.

No maintained Python SMILE library exists (PyPI ``pysmile`` was last released in 2015), so
this is a small codec written from the format specification (FasterXML
smile-format-specification, ``smile-specification.md`` 1.0.4) and checked against the byte
sequences Jackson's own tests expect (``jackson-dataformats-binary``,
``smile/.../gen/TestGenerator.java``, ``TestGeneratorNumbers.java``).

The encoder writes what Elasticsearch's ``SmileXContentImpl`` writes: the 4-byte header with
shared property names on and raw binary allowed (``ENCODE_BINARY_AS_7BIT`` off), no shared
string values, no end marker. The decoder reads any conforming document of JSON values
(shared names and shared values, long strings, big numbers); binary values are not JSON and are
rejected.
"""

from __future__ import annotations

import struct
from decimal import Decimal
from typing import Any

HEADER = b":)\n"
_VERSION_MASK = 0xF0
_SHARED_NAMES = 0x01
_SHARED_VALUES = 0x02
_RAW_BINARY = 0x04
ES_HEADER = HEADER + bytes([_SHARED_NAMES | _RAW_BINARY])  # SmileXContentImpl's settings

_SHARED_MAX = 1024  # both back-reference tables: cleared when full (spec §"Resolved Shared…")
_SHARED_STRING_MAX_BYTES = 64  # longer strings are never shared
_END_STRING = 0xFC
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


class SmileError(ValueError):
    """Content that is not valid SMILE; ``offset`` is the byte where decoding stopped."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


# -- encoding ------------------------------------------------------------------------------------
def _zigzag(value: int, bits: int) -> int:
    return (value << 1) ^ (value >> (bits - 1))


def _vint(value: int) -> bytes:
    """Unsigned VInt: 7-bit groups, most significant first; the last byte has 0x80 set and
    carries 6 bits."""
    out = [0x80 | (value & 0x3F)]
    value >>= 6
    while value:
        out.append(value & 0x7F)
        value >>= 7
    return bytes(reversed(out))


def _seven_bit(data: bytes) -> bytes:
    """ "Safe" binary for big numbers: 7 data bits per byte, left aligned."""
    bits = int.from_bytes(data, "big") if data else 0
    total = len(data) * 8
    groups = -(-total // 7)
    bits <<= groups * 7 - total
    return bytes((bits >> (7 * (groups - 1 - i))) & 0x7F for i in range(groups))


def _fixed(bits: int, groups: int) -> bytes:
    """IEEE bits in ``groups`` 7-bit bytes, right aligned (float: 5, double: 10)."""
    return bytes((bits >> (7 * (groups - 1 - i))) & 0x7F for i in range(groups))


class _Encoder:
    def __init__(self) -> None:
        self.out = bytearray(ES_HEADER)
        self.names: dict[str, int] = {}

    def value(self, value: Any) -> None:
        out = self.out
        if value is None:
            out.append(0x21)
        elif value is True:
            out.append(0x23)
        elif value is False:
            out.append(0x22)
        elif isinstance(value, int):
            self.integer(value)
        elif isinstance(value, float):
            out.append(0x29)
            out += _fixed(struct.unpack(">Q", struct.pack(">d", value))[0], 10)
        elif isinstance(value, str):
            self.string(value)
        elif isinstance(value, dict):
            out.append(0xFA)
            for key, item in value.items():
                self.name(str(key))
                self.value(item)
            out.append(0xFB)
        elif isinstance(value, list | tuple):
            out.append(0xF8)
            for item in value:
                self.value(item)
            out.append(0xF9)
        elif isinstance(value, Decimal):
            sign, digits, exponent = value.as_tuple()
            unscaled = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
            magnitude = unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big", signed=True)
            out.append(0x2A)
            out += _vint(_zigzag(-int(exponent), 32)) + _vint(len(magnitude))
            out += _seven_bit(magnitude)
        else:
            self.string(str(value))

    def integer(self, value: int) -> None:
        out = self.out
        if _INT32[0] <= value <= _INT32[1]:
            zz = _zigzag(value, 32)
            if zz <= 0x1F:
                out.append(0xC0 + zz)  # small int
            else:
                out.append(0x24)
                out += _vint(zz)
        elif _INT64[0] <= value <= _INT64[1]:
            out.append(0x25)
            out += _vint(_zigzag(value, 64))
        else:  # BigInteger: two's complement magnitude, as Java's BigInteger.toByteArray
            data = value.to_bytes((value.bit_length() + 8) // 8, "big", signed=True)
            out.append(0x26)
            out += _vint(len(data)) + _seven_bit(data)

    def string(self, text: str) -> None:
        out = self.out
        if not text:
            out.append(0x20)
            return
        data = text.encode("utf-8", "surrogatepass")
        size = len(data)
        if size == len(text):  # ASCII
            if size <= 32:
                out.append(0x40 + size - 1)
            elif size <= 64:
                out.append(0x60 + size - 33)
            else:
                out.append(0xE0)
                out += data
                out.append(_END_STRING)
                return
        elif size <= 33:
            out.append(0x80 + size - 2)
        elif size <= 65:
            out.append(0xA0 + size - 34)
        else:
            out.append(0xE4)
            out += data
            out.append(_END_STRING)
            return
        out += data

    def name(self, name: str) -> None:
        out = self.out
        if not name:
            out.append(0x20)
            return
        index = self.names.get(name)
        if index is not None:
            if index < 64:
                out.append(0x40 + index)
            else:
                out += bytes([0x30 + (index >> 8), index & 0xFF])
            return
        data = name.encode("utf-8", "surrogatepass")
        size = len(data)
        if size == len(name) and size <= 64:
            out.append(0x80 + size - 1)
        elif size != len(name) and size <= 57:
            out.append(0xC0 + size - 2)
        else:  # long names are never shared
            out.append(0x34)
            out += data
            out.append(_END_STRING)
            return
        out += data
        if len(self.names) == _SHARED_MAX:
            self.names.clear()
        self.names[name] = len(self.names)


def dumps(value: Any) -> bytes:
    """``value`` as a SMILE document with Elasticsearch's header."""
    encoder = _Encoder()
    encoder.value(value)
    return bytes(encoder.out)


# -- decoding ------------------------------------------------------------------------------------
class _Decoder:
    def __init__(self, data: bytes, max_depth: int) -> None:
        self.data = data
        self.pos = 0
        self.max_depth = max_depth
        self.names: list[str] = []
        self.values: list[str] = []
        self.shared_values = False

    def fail(self, message: str) -> SmileError:
        return SmileError(message, self.pos)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("Unexpected end-of-input")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise self.fail("Unexpected end-of-input")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def text(self, size: int) -> str:
        try:
            return self.take(size).decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("Invalid UTF-8 in String value") from None

    def vint(self) -> int:
        value = 0
        for _ in range(11):
            byte = self.byte()
            if byte & 0x80:
                return (value << 6) | (byte & 0x3F)
            value = (value << 7) | byte
        raise self.fail("Corrupt VInt")

    def fixed(self, groups: int) -> int:
        value = 0
        for byte in self.take(groups):
            value = (value << 7) | (byte & 0x7F)
        return value

    def seven_bit(self, size: int) -> bytes:
        groups = -(-size * 8 // 7)
        bits = 0
        for byte in self.take(groups):
            bits = (bits << 7) | (byte & 0x7F)
        bits >>= groups * 7 - size * 8
        return bits.to_bytes(size, "big")

    def header(self) -> None:
        if self.data[:3] != HEADER or len(self.data) < 4:
            first = self.data[0] if self.data else 0
            if first in (0x7B, 0x5B):  # '{' '['
                raise self.fail(
                    f"Input does not start with Smile format header (first byte = 0x{first:x})"
                    f" -- rather, it starts with '{chr(first)}' (plain JSON input?) -- can not"
                    " parse"
                )
            raise self.fail(
                f"Input does not start with Smile format header (first byte = 0x{first:x}) and"
                " parser has REQUIRE_HEADER enabled: can not parse"
            )
        flags = self.data[3]
        if flags & _VERSION_MASK:
            raise self.fail(
                f"Header version number bits (0x{flags >> 4:x}) indicate unrecognized version;"
                " only 0x0 handled by parser"
            )
        self.shared_values = bool(flags & _SHARED_VALUES)
        self.pos = 4

    def remember(self, table: list[str], text: str, size: int) -> None:
        if size <= _SHARED_STRING_MAX_BYTES:
            if len(table) == _SHARED_MAX:
                table.clear()
            table.append(text)

    def shared(self, table: list[str], index: int, what: str) -> str:
        if index >= len(table):
            raise self.fail(
                f"Invalid shared {what} reference {index}; only got {len(table)} names in buffer"
            )
        return table[index]

    def value(self, depth: int) -> Any:
        start = self.pos
        token = self.byte()
        kind = token >> 5
        if kind == 0:  # short shared value reference 1..31
            if token == 0 or not self.shared_values:
                raise self.fail(f"Invalid type marker byte 0x{token:x} for expected value token")
            return self.shared(self.values, token - 1, "String value")
        if kind == 2 or kind == 3:  # tiny / short ASCII
            size = (token & 0x1F) + (1 if kind == 2 else 33)
            text = self.text(size)
            if self.shared_values:
                self.remember(self.values, text, size)
            return text
        if kind == 4 or kind == 5:  # tiny / short Unicode
            size = (token & 0x1F) + (2 if kind == 4 else 34)
            text = self.text(size)
            if self.shared_values:
                self.remember(self.values, text, size)
            return text
        if kind == 6:  # small int, zigzag
            zz = token & 0x1F
            return (zz >> 1) ^ -(zz & 1)
        if token == 0x20:
            return ""
        if token == 0x21:
            return None
        if token == 0x22:
            return False
        if token == 0x23:
            return True
        if token in (0x24, 0x25):
            zz = self.vint()
            return (zz >> 1) ^ -(zz & 1)
        if token == 0x26:
            return int.from_bytes(self.seven_bit(self.vint()), "big", signed=True)
        if token == 0x28:
            return struct.unpack(">f", struct.pack(">I", self.fixed(5) & 0xFFFFFFFF))[0]
        if token == 0x29:
            return struct.unpack(">d", struct.pack(">Q", self.fixed(10) & (2**64 - 1)))[0]
        if token == 0x2A:
            zz = self.vint()
            scale = (zz >> 1) ^ -(zz & 1)
            unscaled = int.from_bytes(self.seven_bit(self.vint()), "big", signed=True)
            return float(Decimal(unscaled).scaleb(-scale))
        if token in (0xE0, 0xE4):
            end = self.data.find(bytes([_END_STRING]), self.pos)
            if end < 0:
                raise self.fail("Unexpected end-of-input in long String")
            text = self.text(end - self.pos)
            self.pos += 1
            return text
        if 0xEC <= token <= 0xEF:
            if not self.shared_values:
                raise self.fail(f"Invalid type marker byte 0x{token:x} for expected value token")
            return self.shared(self.values, ((token & 0x03) << 8) | self.byte(), "String value")
        if token == 0xF8:
            return self.array(depth + 1)
        if token == 0xFA:
            return self.object(depth + 1)
        self.pos = start
        if token in (0xE8, 0xFD):
            raise self.fail("Binary values are not JSON values")
        raise self.fail(f"Invalid type marker byte 0x{token:x} for expected value token")

    def check_depth(self, depth: int) -> None:
        if depth > self.max_depth:
            raise self.fail(
                f"Document nesting depth exceeds the maximum allowed ({self.max_depth})"
            )

    def array(self, depth: int) -> list[Any]:
        self.check_depth(depth)
        items: list[Any] = []
        while True:
            if self.pos < len(self.data) and self.data[self.pos] == 0xF9:
                self.pos += 1
                return items
            items.append(self.value(depth))

    def object(self, depth: int) -> dict[str, Any]:
        self.check_depth(depth)
        out: dict[str, Any] = {}
        while True:
            key = self.name()
            if key is None:
                return out
            if key in out:  # Jackson's STRICT_DUPLICATE_DETECTION, on in Elasticsearch
                raise self.fail(f"Duplicate field '{key}'")
            out[key] = self.value(depth)

    def name(self) -> str | None:
        token = self.byte()
        if token == 0xFB:
            return None
        if token == 0x20:
            return ""
        if 0x30 <= token <= 0x33:
            return self.shared(self.names, ((token & 0x03) << 8) | self.byte(), "name")
        if 0x40 <= token <= 0x7F:
            return self.shared(self.names, token & 0x3F, "name")
        if 0x80 <= token <= 0xBF:
            size = (token & 0x3F) + 1
        elif 0xC0 <= token <= 0xF7:
            size = (token & 0x3F) + 2
        elif token == 0x34:
            end = self.data.find(bytes([_END_STRING]), self.pos)
            if end < 0:
                raise self.fail("Unexpected end-of-input in long name")
            text = self.text(end - self.pos)
            self.pos += 1
            return text
        else:
            raise self.fail(f"Invalid type marker byte 0x{token:x} for expected field name")
        text = self.text(size)
        self.remember(self.names, text, size)
        return text


def loads(data: bytes, max_depth: int = 1000) -> Any:
    """The first value of a SMILE document; raises :class:`SmileError`.

    The header is required, as Jackson's ``REQUIRE_HEADER`` default (and Elasticsearch
    #148648) require. A document without any value is ``None``, as an empty body."""
    decoder = _Decoder(data, max_depth)
    decoder.header()
    if decoder.pos >= len(data) or data[decoder.pos] == 0xFF:
        return None
    try:
        return decoder.value(0)
    except RecursionError:  # Python's stack ends before Jackson's limit: the same answer
        raise decoder.fail(
            f"Document nesting depth exceeds the maximum allowed ({max_depth})"
        ) from None
