"""The number types of every command line, defined once (argparse ``type=`` callables).

elsercheck's commands (``commands/options.py``), the load table the locustfile shares
(``load/options.py``), the capacity and report options use these; each refuses nan, inf and
out-of-range values with a one-line reason that names what it expected.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any


def _number(
    kind: type, minimum: float, inclusive: bool = True, words: str | None = None
) -> Callable[[str], Any]:
    expected = words or (f"a number at least {minimum:g}" if inclusive
                         else f"a number greater than {minimum:g}")  # fmt: skip

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"expected {expected}, not {text!r}")
        if value < minimum or (value == minimum and not inclusive):
            raise argparse.ArgumentTypeError(f"expected {expected}, not {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its "invalid ..." message
    return parse


positive_int = _number(int, 1, words="a positive number")
non_negative_int = _number(int, 0)
positive_float = _number(float, 0.0, inclusive=False, words="a positive number")
non_negative_float = _number(float, 0.0)


def share(text: str) -> float:
    """A share: 0 … 1."""
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, not {text!r}")
    return value


def bounded_int(maximum: int) -> Callable[[str], int]:
    """1 … ``maximum``."""

    def parse(value: str) -> int:
        if value.isdigit() and 1 <= int(value) <= maximum:
            return int(value)
        raise argparse.ArgumentTypeError(f"expected a number from 1 to {maximum}, not {value!r}")

    parse.__name__ = "int"
    return parse


def workers(value: str) -> str:
    """pytest-xdist's ``-n``: N or auto."""
    if value == "auto" or (value.isdigit() and int(value) >= 1):
        return value
    raise argparse.ArgumentTypeError(f"expected a positive number or 'auto', not {value!r}")


def named_positive_ints(names: Mapping[str, str]) -> Callable[[str], dict[str, int]]:
    """``key=N[,key=N…]``, each key one of ``names`` (mapped to its value), each N a positive
    number: e.g. ``--eis-limits requests=120,search_tokens=6000``."""
    expected = ",".join(f"{key}=N" for key in names) + " with N >= 1"

    def parse(text: str) -> dict[str, int]:
        values: dict[str, int] = {}
        for part in text.split(","):
            key, _, value = part.partition("=")
            name = names.get(key.strip())
            if name is None or not value.strip().isdigit() or int(value) < 1:
                raise argparse.ArgumentTypeError(f"expected {expected}, not {text!r}")
            values[name] = int(value)
        return values

    parse.__name__ = "limits"
    return parse
