"""``chunking_settings`` parsing for Elasticsearch 9.1 (ES ChunkingSettingsBuilder.fromMap).

The strategy table below is the specification: allowed keys, bounds and defaults per strategy.
9.1 still has the generic 300-word upper bound of PR #115130 (removed in 9.2 by PR #133718).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..wire.errors import EsError, validation_failed
from ..wire.javafmt import java_list, java_str
from . import settings_parsing as sp

SCOPE = "chunking_settings"
MAX_CHUNK_SIZE_UPPER = 300
DEFAULT = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
SEPARATOR_GROUPS = ("plaintext", "markdown")


@dataclass(frozen=True)
class Strategy:
    keys: tuple[str, ...]
    min_chunk_size: int | None
    unknown_keys_message: str


STRATEGIES: dict[str, Strategy] = {
    "word": Strategy(
        ("strategy", "max_chunk_size", "overlap"),
        10,
        "Word based chunking settings can not have the following settings: {keys}",
    ),
    "sentence": Strategy(
        ("strategy", "max_chunk_size", "sentence_overlap"),
        20,
        "Sentence based chunking settings can not have the following settings: {keys}",
    ),
    "recursive": Strategy(
        ("strategy", "max_chunk_size", "separator_group", "separators"),
        10,
        "Recursive chunking settings can not have the following settings: {keys}",
    ),
    "none": Strategy(
        ("strategy",),
        None,
        "When chunking is disabled (none), settings can not have the following: {keys}",
    ),
}

MESSAGES = {
    "no_strategy": "Can't generate Chunker without ChunkingStrategy provided",
    "bad_strategy": "Invalid chunkingStrategy {value}",
    "sentence_overlap": "sentence_overlap[{value}] must be either 0 or 1",
    "both_separators": "Recursive chunking settings can not have both separators and separator_set",
    "empty_separators": "Recursive chunking settings can not have an empty list of separators",
    "bad_separator_group": "Invalid separator_group {value}",
    "no_separators": (
        "[chunking_settings] does not contain one of the required settings "
        "[separator_group, separators]"
    ),
}


def parse(raw: Any) -> dict[str, Any]:
    """Return the effective chunking settings (defaults filled) or raise the 400 ES gives."""
    if raw is None or raw == {}:
        return dict(DEFAULT)
    if not isinstance(raw, dict):
        errors: list[str] = []
        sp.remove_as_type({SCOPE: raw}, SCOPE, "map", errors)
        raise validation_failed(errors)
    if raw.get("strategy") is None:
        # ES would fail on null with a NullPointerException (500); null means "not provided".
        raise EsError("illegal_argument_exception", MESSAGES["no_strategy"])
    name = java_str(raw["strategy"]).lower()
    if name not in STRATEGIES:
        raise EsError(
            "illegal_argument_exception", MESSAGES["bad_strategy"].format(value=raw["strategy"])
        )
    strategy = STRATEGIES[name]
    settings = dict(raw)
    errors = []
    unknown = [k for k in settings if k not in strategy.keys]
    if unknown:
        errors.append(strategy.unknown_keys_message.format(keys=java_list(unknown)))
    result: dict[str, Any] = {"strategy": name}
    if name != "none":
        size = sp.required_positive_int(settings, "max_chunk_size", SCOPE, errors)
        size = sp.bounded(
            size, "max_chunk_size", SCOPE, errors, strategy.min_chunk_size, MAX_CHUNK_SIZE_UPPER
        )
        result["max_chunk_size"] = size
        _PARSERS[name](settings, size, result, errors)
    if errors:
        raise validation_failed(errors)
    return result


def _word(
    settings: dict[str, Any], size: int | None, out: dict[str, Any], errors: list[str]
) -> None:
    if size is None:
        return
    overlap = sp.required_positive_int(settings, "overlap", SCOPE, errors)
    out["overlap"] = sp.bounded(overlap, "overlap", SCOPE, errors, None, size // 2)


def _sentence(
    settings: dict[str, Any], size: int | None, out: dict[str, Any], errors: list[str]
) -> None:
    overlap = sp.remove_as_type(settings, "sentence_overlap", "int", errors)
    if overlap is None:
        overlap = 1
    elif overlap not in (0, 1):
        errors.append(MESSAGES["sentence_overlap"].format(value=overlap))
    out["sentence_overlap"] = overlap


def _recursive(
    settings: dict[str, Any], size: int | None, out: dict[str, Any], errors: list[str]
) -> None:
    group = sp.remove_as_type(settings, "separator_group", "str", errors)
    separators = sp.remove_as_type(settings, "separators", "list", errors)
    if group is not None and separators is not None:
        errors.append(MESSAGES["both_separators"])
    elif separators is not None:
        if not separators:
            errors.append(MESSAGES["empty_separators"])
        # ServiceUtils.extractOptionalList(..., String.class): every item must be a string.
        errors.extend(
            sp.MESSAGES["wrong_type"].format(
                name="separators", value=java_str(item), java_type="String"
            )
            for item in separators
            if not isinstance(item, str)
        )
        out["separators"] = separators
    elif group is None:
        # ES RecursiveChunkingSettings.fromMap: exactly one of separator_group / separators.
        errors.append(MESSAGES["no_separators"])
    else:
        group = group.lower()
        if group not in SEPARATOR_GROUPS:
            errors.append(MESSAGES["bad_separator_group"].format(value=group))
        out["separator_group"] = group


_PARSERS = {"word": _word, "sentence": _sentence, "recursive": _recursive}
