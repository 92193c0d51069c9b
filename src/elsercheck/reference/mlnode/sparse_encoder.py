"""A deterministic stand-in for ELSER's sparse encoder: no model weights needed.

Text is split into WordPiece-like tokens (lower-cased words, long words split into a head and
``##`` continuation pieces). Each token, plus a few hash-chosen "expansion" terms as ELSER
adds, gets a positive weight derived from a stable hash, so the same text always yields the
same embedding, across processes and machines.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

MAX_TOKENS = 512  # ELSER's window, including [CLS] and [SEP]
SPECIAL_TOKENS = 2
PIECE = 4  # characters per ## continuation piece
HEAD = 6  # characters kept whole at the start of a word
_WORD = re.compile(r"[^\W_]+|[^\w\s]", re.UNICODE)
# A small vocabulary of related terms for the expansion ELSER performs.
EXPANSION_VOCABULARY = (
    "search", "document", "text", "query", "data", "model", "language", "information",
    "system", "learning", "index", "result", "content", "term", "word", "meaning",
    "computer", "network", "science", "research", "time", "process", "method", "example",
)  # fmt: skip


def _digest(text: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big"
    )


def wordpieces(word: str) -> list[str]:
    """WordPiece-like pieces of one lower-cased word: ``tokenization`` → ``tokeni ##zati ##on``."""
    if len(word) <= HEAD + PIECE:
        return [word]
    pieces = [word[:HEAD]]
    rest = word[HEAD:]
    pieces += ["##" + rest[i : i + PIECE] for i in range(0, len(rest), PIECE)]
    return pieces


WINDOW = MAX_TOKENS - SPECIAL_TOKENS  # the tokens encode() looks at
# A word longer than this already yields more pieces than the window holds: its tail is never
# looked at (and a word cut at the end of a prefix is as good as the whole word).
LONGEST_WORD = HEAD + PIECE * (WINDOW + 1)
FIRST_PREFIX = 4096  # characters tried first; enough for most inputs' window
CACHED_TEXT = 4096  # only texts this short are cached: the cache's memory stays bounded


def _window(text: str) -> tuple[tuple[str, ...], bool]:
    """The first ``WINDOW + 1`` tokens of ``text`` (at most), and whether there are more.

    ELSER truncates its input to its 512-token window (ES SparseEmbeddingResults
    ``is_truncated``), so only a prefix of the text is ever tokenized: a prefix four times
    longer each round, until it holds more tokens than the window or is the whole text. The
    work is bounded by the window, not by the input (a 100 MB input must not stall the server).
    """
    size = FIRST_PREFIX
    while True:
        whole = size >= len(text)
        lowered = (text if whole else text[:size]).lower()
        pieces: list[str] = []
        for match in _WORD.finditer(lowered):
            word = match.group()
            cut = not whole and match.end() == len(lowered)
            if cut and len(word) <= LONGEST_WORD:
                break  # this word may go on past the prefix: look at a longer one
            pieces += wordpieces(word[:LONGEST_WORD])
            if len(pieces) > WINDOW:
                return tuple(pieces[: WINDOW + 1]), True
        if whole:
            return tuple(pieces), False
        size *= 4


@lru_cache(maxsize=1024)  # each input is tokenized twice: to model its time, then to encode it
def _cached_window(text: str) -> tuple[tuple[str, ...], bool]:
    return _window(text)


def _tokens(text: str) -> tuple[tuple[str, ...], bool]:
    return _cached_window(text) if len(text) <= CACHED_TEXT else _window(text)


def tokenize(text: str) -> list[str]:
    """The WordPiece-like tokens of ``text`` the model looks at: the window, plus one more
    token when the input is longer (it would be truncated)."""
    return list(_tokens(text)[0])


def token_count(text: str) -> int:
    """Tokens the model would see (capped at its window), used for service-time modelling."""
    return min(len(_tokens(text)[0]) + SPECIAL_TOKENS, MAX_TOKENS)


@dataclass(frozen=True)
class SparseResult:
    embedding: dict[str, float]
    is_truncated: bool

    def to_json(self) -> dict[str, object]:
        return {"is_truncated": self.is_truncated, "embedding": self.embedding}


def _weight(token: str, salt: str) -> float:
    # In (0.05, 3.0]: positive like ELSER's ReLU-log outputs; rounded for stable JSON.
    return round(0.05 + (_digest(salt + token) % 29500) / 10000, 4)


@lru_cache(maxsize=1 << 16)  # a pure function of the token; tokens repeat across requests
def _token_terms(token: str) -> tuple[float, str | None, float]:
    """A token's weight and, for some whole words, an expansion term with its weight."""
    weight = _weight(token, "w:")
    # Expand whole words (not continuation pieces) with one related term, as ELSER does.
    if not token.startswith("##") and _digest("x:" + token) % 3 == 0:
        term = EXPANSION_VOCABULARY[_digest("e:" + token) % len(EXPANSION_VOCABULARY)]
        return weight, term, round(weight / 3, 4)
    return weight, None, 0.0


def encode(text: str) -> SparseResult:
    """Encode one input: same text → same tokens and weights (a fresh dict each time: callers
    may keep it; inputs repeat, so short ones are encoded once)."""
    items, truncated = _cached_encoding(text) if len(text) <= CACHED_TEXT else _encoding(text)
    return SparseResult(dict(items), truncated)


@lru_cache(maxsize=4096)
def _cached_encoding(text: str) -> tuple[tuple[tuple[str, float], ...], bool]:
    return _encoding(text)


def _encoding(text: str) -> tuple[tuple[tuple[str, float], ...], bool]:
    """The embedding's (term, weight) pairs in order, and whether the input was truncated."""
    tokens, truncated = _tokens(text)
    weights: dict[str, float] = {}
    for token in tokens[:WINDOW]:
        weight, term, term_weight = _token_terms(token)
        weights[token] = max(weights.get(token, 0.0), weight)
        if term is not None:
            weights[term] = max(weights.get(term, 0.0), term_weight)
    return tuple(sorted(weights.items(), key=lambda item: (-item[1], item[0]))), truncated
