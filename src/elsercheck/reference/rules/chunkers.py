"""Splitting a ``semantic_text`` value into chunks, as the endpoint's ``chunking_settings`` say.

Ports of ES's chunkers (x-pack inference ``chunking/``):

* ``word``: ``WordBoundaryChunker.chunkPositions`` — windows of ``max_chunk_size`` words, each
  starting ``max_chunk_size - overlap`` words after the previous one;
* ``sentence``: ``SentenceBoundaryChunker.chunk`` — whole sentences packed greedily up to
  ``max_chunk_size`` words; with ``sentence_overlap: 1`` the next chunk starts with the last
  sentence of the previous one (when both fit); a sentence longer than the limit is split on
  word boundaries with overlap ``(max_chunk_size - 1) / 2`` (``overlapForChunkSize``);
* ``none``: ``NoneChunker`` — the whole value is one chunk.

ES uses ICU's ``BreakIterator`` (``getWordInstance`` / ``getSentenceInstance``, ``Locale.ROOT``);
the regular expressions below stand in for it: a word is a run of letters/digits (with inner
apostrophes or dots, as ICU keeps ``don't`` and ``3.14`` whole); a sentence ends after ``.``,
``!`` or ``?`` (with closing quotes/brackets) and the whitespace that follows. ``recursive`` is
not modelled: it is chunked as ``sentence`` with the same size (documented gap).
"""

from __future__ import annotations

import re
from typing import Any

_WORD = re.compile(r"[^\W_]+(?:['’.][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*\s+|\n\s*\n\s*")


def words(text: str) -> list[tuple[int, int]]:
    """Start and end offsets of the words (``getRuleStatus() != WORD_NONE``) in ``text``."""
    return [m.span() for m in _WORD.finditer(text)]


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans covering ``text`` (each keeps its trailing whitespace, as ICU's)."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if match.end() > start:
            spans.append((start, match.end()))
            start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def word_chunks(text: str, size: int, overlap: int) -> list[tuple[int, int, int]]:
    """``WordBoundaryChunker.chunkPositions``: (start, end, words) of each chunk."""
    if not text:
        return []
    chunks: list[tuple[int, int, int]] = []
    step = size - overlap
    in_chunk = since_mark = 0
    window_start = next_start = 0
    for _, boundary in words(text):
        in_chunk += 1
        since_mark += 1
        if in_chunk >= size:
            chunks.append((window_start, boundary, in_chunk))
            in_chunk = overlap
            if overlap == 0:
                next_start = boundary
            window_start = next_start
        if since_mark == step:
            next_start = boundary
            since_mark = 0
    # the last, shorter chunk (unless it is all overlap), or the only one
    if in_chunk > overlap or not chunks:
        chunks.append((window_start, len(text), in_chunk))
    return chunks


def sentence_chunks(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """``SentenceBoundaryChunker.chunk`` with ``sentence_overlap`` 0 or 1."""
    chunks: list[tuple[int, int]] = []
    starts = [w[1] for w in words(text)]  # word end offsets: a word counts where it ends
    chunk_start = chunk_end = 0
    chunk_words = 0
    previous: tuple[int, int] | None = None  # (start, words) of the chunk's last sentence
    for sentence_start, sentence_end in sentences(text):
        count = sum(1 for end in starts if sentence_start < end <= sentence_end)
        if chunk_words + count > size:
            if chunk_words > 0:
                chunks.append((chunk_start, chunk_end))
                if overlap and previous is not None and previous[1] + count <= size:
                    chunk_start, chunk_words = previous[0], previous[1] + count
                else:
                    chunk_start, chunk_words = chunk_end, count
            if count > size:  # a sentence longer than a chunk: split it on words
                splits = word_chunks(text[chunk_start:sentence_end], size, (size - 1) // 2)
                for start, end, _ in splits[:-1]:
                    chunks.append((chunk_start + start, chunk_start + end))
                chunk_start += splits[-1][0]
                chunk_words = splits[-1][2]
        else:
            chunk_words += count
        previous = (sentence_start, count)
        chunk_end = sentence_end
    if chunk_words > 0:
        chunks.append((chunk_start, len(text)))
    return chunks


def chunk(text: str, settings: dict[str, Any] | None) -> list[tuple[int, int]]:
    """Offsets of the chunks of one value under an endpoint's effective chunking settings
    (``None``: the endpoint predates chunking settings, ES uses the sentence default)."""
    settings = settings or {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
    strategy = settings.get("strategy")
    if strategy == "none" or not text:
        return [(0, len(text))]
    size = int(settings.get("max_chunk_size", 250))
    if strategy == "word":
        return [(s, e) for s, e, _ in word_chunks(text, size, int(settings.get("overlap", 0)))]
    overlap = int(settings.get("sentence_overlap", 1)) if strategy == "sentence" else 0
    return sentence_chunks(text, size, overlap) or [(0, len(text))]
