"""``chunking_settings`` parsing (ES ChunkingSettingsBuilder.fromMap and the strategies' fromMap).

The strategy table below is the specification: allowed keys, bounds and defaults per strategy.
Per version (versions.CHANGES):

* 8.19 and 9.1 have the generic 300-word upper bound of PR #115130 (Word/Sentence/Recursive
  ``MAX_CHUNK_SIZE_UPPER_LIMIT``); 9.2 removed it (PR #133718, ``chunk-cap-elser-model``) and
  ELSER models reject > 300 instead (``ELSER_CHUNK_LIMIT`` below, checked by endpoint_config last);
* 9.3 words the bound messages without "a" (``chunk-message-wording``).

``recursive`` exists in every modelled version: PR #126866, back-ported to 8.19 (#129656), with
``separator_set`` renamed ``separator_group`` in #131103 (back-ported to 9.1 #131228, 8.19 #131227).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..versions import EsVersion
from ..wire.errors import EsError, validation_failed
from ..wire.javafmt import (
    copied_map_capacity,
    hashmap_order,
    java_list,
    java_str,
    parsed_map_capacity,
)
from . import settings_parsing as sp

SCOPE = "chunking_settings"
MAX_CHUNK_SIZE_UPPER = 300  # MAX_CHUNK_SIZE_UPPER_LIMIT, <= 9.1 only
# ElserInternalModel.ELSER_MAX_WINDOW_SIZE (9.2+, #133718): raised when the model is built.
ELSER_CHUNK_LIMIT = 300
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
    "elser_chunk_limit": (
        "ELSER based models do not support chunk sizes larger than {limit}. Requested chunk "
        "size: {size}"
    ),
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


def parse(raw: Any, version: EsVersion) -> dict[str, Any]:
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
    # ChunkingStrategy.fromString: exact, case-sensitive match of get("strategy").toString()
    name = java_str(raw["strategy"])
    if name not in STRATEGIES:
        raise EsError("illegal_argument_exception", MESSAGES["bad_strategy"].format(value=name))
    if name == "none":
        # ChunkingSettingsBuilder.fromMap returns NoneChunkingSettings.INSTANCE without calling
        # NoneChunkingSettings.fromMap: extra keys are ignored, the echo is {"strategy": "none"}.
        return {"strategy": "none"}
    strategy = STRATEGIES[name]
    settings = dict(raw)
    errors = []
    # The strategy parses `new HashMap<>(settings)`: keys in the copy's iteration order.
    parsed_order = hashmap_order(list(settings), parsed_map_capacity(len(settings)))
    ordered = hashmap_order(parsed_order, copied_map_capacity(len(settings)))
    unknown = [k for k in ordered if k not in strategy.keys]
    if unknown:
        errors.append(strategy.unknown_keys_message.format(keys=java_list(unknown)))
    result: dict[str, Any] = {"strategy": name}
    article = not version.has("chunk-message-wording")
    upper = None if version.has("chunk-cap-elser-model") else MAX_CHUNK_SIZE_UPPER
    size = sp.required_positive_int(settings, "max_chunk_size", SCOPE, errors)
    size = sp.bounded(
        size, "max_chunk_size", SCOPE, errors, strategy.min_chunk_size, upper, article=article
    )
    result["max_chunk_size"] = size
    _PARSERS[name](settings, size, result, errors, article)
    if errors:
        raise validation_failed(errors)
    return result


def check_elser_chunk_size(settings: dict[str, Any] | None, version: EsVersion) -> None:
    """9.2+: ``ElserInternalModel``'s constructor rejects ``max_chunk_size`` > 300 (#133718)."""
    size = (settings or {}).get("max_chunk_size")
    if version.has("chunk-cap-elser-model") and isinstance(size, int) and size > ELSER_CHUNK_LIMIT:
        raise EsError(
            "illegal_argument_exception",
            MESSAGES["elser_chunk_limit"].format(limit=ELSER_CHUNK_LIMIT, size=size),
        )


def _word(
    settings: dict[str, Any], size: int | None, out: dict[str, Any], errors: list[str],
    article: bool,
) -> None:  # fmt: skip
    if size is None:
        return
    overlap = sp.required_positive_int(settings, "overlap", SCOPE, errors)
    out["overlap"] = sp.bounded(overlap, "overlap", SCOPE, errors, None, size // 2, article=article)


def _sentence(
    settings: dict[str, Any], size: int | None, out: dict[str, Any], errors: list[str],
    article: bool,
) -> None:  # fmt: skip
    overlap = sp.remove_as_type(settings, "sentence_overlap", "int", errors)
    if overlap is None:
        overlap = 1
    elif overlap not in (0, 1):
        errors.append(MESSAGES["sentence_overlap"].format(value=overlap))
    out["sentence_overlap"] = overlap


def _recursive(
    settings: dict[str, Any], size: int | None, out: dict[str, Any], errors: list[str],
    article: bool,
) -> None:  # fmt: skip
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
