"""Field extraction with Elasticsearch's ``ServiceUtils`` semantics.

Each helper *removes* its key from the map (so leftovers can be reported as unknown) and
appends ``ServiceUtils``-worded messages to ``errors`` instead of raising, because service and
chunking settings errors accumulate into one ``validation_exception``.
"""

from __future__ import annotations

from typing import Any

from ..wire.javafmt import java_double, java_str

MESSAGES = {
    "wrong_type": (
        "field [{name}] is not of the expected type. The value [{value}] cannot be converted to "
        "a [{java_type}]"
    ),
    "required": "[{scope}] does not contain the required setting [{name}]",
    "not_positive": "[{scope}] Invalid value [{value}]. [{name}] must be a positive integer",
    # ServiceUtils.mustBe{Greater,Less}ThanOrEqualNumberErrorMessage (value and bound are Java
    # doubles); from 9.3 InferenceUtils words them without the "a" (row chunk-message-wording).
    "below_min": (
        "[{scope}] Invalid value [{value}]. [{name}] must be a greater than or equal to [{bound}]"
    ),
    "above_max": (
        "[{scope}] Invalid value [{value}]. [{name}] must be a less than or equal to [{bound}]"
    ),
    "empty_string": "[{scope}] Invalid value empty string. [{name}] must be a non-empty string",
    "missing_one_of": "[{scope}] does not contain one of the required settings [{names}]",
}

# JSON kind -> (Python check, Java type name printed in messages).
_KINDS: dict[str, tuple[Any, str]] = {
    "int": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31,
        "Integer",
    ),
    "bool": (lambda v: isinstance(v, bool), "Boolean"),
    "str": (lambda v: isinstance(v, str), "String"),
    "map": (lambda v: isinstance(v, dict), "Map"),
    "list": (lambda v: isinstance(v, list), "List"),
}


def remove_as_type(source: dict[str, Any], name: str, kind: str, errors: list[str]) -> Any:
    """Remove ``name``; ``None`` when absent, null or of the wrong type (then an error)."""
    value = source.pop(name, None)
    if value is None:
        return None
    check, java_type = _KINDS[kind]
    if not check(value):
        errors.append(
            MESSAGES["wrong_type"].format(name=name, value=java_str(value), java_type=java_type)
        )
        return None
    return value


def required_positive_int(
    source: dict[str, Any], name: str, scope: str, errors: list[str]
) -> int | None:
    before = len(errors)
    value = remove_as_type(source, name, "int", errors)
    if value is None:
        if len(errors) == before:
            errors.append(MESSAGES["required"].format(scope=scope, name=name))
        return None
    if value <= 0:
        errors.append(MESSAGES["not_positive"].format(scope=scope, value=value, name=name))
        return None
    return int(value)


def optional_positive_int(
    source: dict[str, Any], name: str, scope: str, errors: list[str]
) -> int | None:
    value = remove_as_type(source, name, "int", errors)
    if value is not None and value <= 0:
        errors.append(MESSAGES["not_positive"].format(scope=scope, value=value, name=name))
        return None
    return value


def bounded(
    value: int | None,
    name: str,
    scope: str,
    errors: list[str],
    low: int | None,
    high: int | None,
    *,
    article: bool = True,
) -> int | None:
    """Apply ``[low, high]``; value and bound print as Java doubles (ES ServiceUtils
    ``extractRequiredPositiveIntegerBetween`` widens both ints to ``double``: ``[5.0]``,
    ``[20.0]``). ``article=False`` is the 9.3+ wording ("must be greater than or equal to")."""
    if value is None:
        return None
    for bound, key, broken in ((low, "below_min", low is not None and value < low),
                               (high, "above_max", high is not None and value > high)):  # fmt: skip
        if broken:
            message = MESSAGES[key].format(
                scope=scope, value=java_double(float(value)), name=name,
                bound=java_double(float(bound or 0)),
            )  # fmt: skip
            errors.append(message if article else message.replace("must be a ", "must be "))
            return None
    return value


def optional_non_empty_str(
    source: dict[str, Any], name: str, scope: str, errors: list[str]
) -> str | None:
    value = remove_as_type(source, name, "str", errors)
    if value == "":
        errors.append(MESSAGES["empty_string"].format(scope=scope, name=name))
        return None
    return value


def missing_one_of(scope: str, names: list[str]) -> str:
    return MESSAGES["missing_one_of"].format(scope=scope, names=", ".join(names))
