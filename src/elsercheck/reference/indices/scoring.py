"""Lexical scoring as Lucene does it: the standard analyzer (approximated), per-field statistics
of one shard, and BM25 with its one-byte length norms, in 32-bit float arithmetic.

* BM25: ``Lucene BM25Similarity`` (k1 1.2, b 0.75; ``idf = log(1 + (N - n + 0.5) / (n + 0.5))``
  with N the documents that have the field; ``avgdl = sumTotalTermFreq / docCount``; the
  document length is stored lossy as ``SmallFloat.intToByte4`` and read back through
  ``LENGTH_TABLE``; ``score = weight - weight / (1 + freq * normInverse)`` with
  ``weight = boost * idf``). Every step is rounded to a Java ``float``.
* Statistics are per shard (``TermStatistics``/``CollectionStatistics`` of the shard's reader,
  ``search_type`` ``query_then_fetch``); every reference index has one shard, so they are the
  index's. Deleted or overwritten documents are gone at once (Lucene keeps them in the
  statistics until a merge: on a real cluster idf can differ after updates until then).
* ``text`` fields: ES ``StandardAnalyzer`` = ``Lucene StandardTokenizer`` (Unicode UAX #29 word
  breaks, max token length 255) + ``LowerCaseFilter``, no stop words. The tokenizer here is an
  approximation: runs of letters/digits/underscore, joined across ``'``, ``’``, ``.`` and ``:``
  between letters and across ``.``/``,`` between digits; each CJK ideograph and each
  Hiragana/Katakana run is its own token; everything else separates. Emoji and the rarer UAX #29
  rules (e.g. Hebrew letter quotes, regional indicators) are not modelled.
* ``keyword`` fields: each value is one term, exact, ``norms: false`` and ``index_options: docs``
  (``KeywordFieldMapper``): the length norm is absent (``cache[1]``'s stand-in: dl 1 is not
  used; Lucene's ``TermScorer`` scores a missing norm as ``1L``) and freq is 1.
"""

from __future__ import annotations

import math
import re
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

K1 = 1.2  # Lucene BM25Similarity()
B = 0.75
MAX_TOKEN_LENGTH = 255  # Lucene StandardAnalyzer.DEFAULT_MAX_TOKEN_LENGTH

_LETTER = r"[^\W\d_\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_WORDCHAR = r"[^\W\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_TOKEN = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"  # one ideograph per token
    r"|[\u3040-\u309f]+|[\u30a0-\u30ff]+"  # hiragana / katakana runs
    rf"|{_WORDCHAR}+(?:(?:(?<={_LETTER})['’.:](?={_LETTER})|(?<=\d)[.,](?=\d)){_WORDCHAR}+)*"
)


def f32(value: float) -> float:
    """``value`` rounded to a Java ``float`` (IEEE binary32, round half even)."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


def analyze(text: str) -> list[str]:
    """The tokens ES's ``standard`` analyzer makes of ``text`` (see the module note)."""
    out = []
    for match in _TOKEN.finditer(text):
        token = match.group().lower()
        # StandardTokenizer splits a token longer than max_token_length at that length
        out += [token[i : i + MAX_TOKEN_LENGTH] for i in range(0, len(token), MAX_TOKEN_LENGTH)]
    return out


def feature_value(value: float) -> float:
    """A sparse weight as the index keeps it: ``Lucene FeatureField`` stores the float's top 17
    bits as a term frequency (``floatToIntBits >>> 15``) and ``decodeFeatureValue`` reads
    them back (``<< 15``): 8 significant bits."""
    bits = struct.unpack(">I", struct.pack(">f", value))[0]
    return float(struct.unpack(">f", struct.pack(">I", (bits >> 15) << 15))[0])


# -- Lucene SmallFloat -------------------------------------------------------------------------
def _long_to_int4(i: int) -> int:
    """``Lucene SmallFloat.longToInt4``: float-like, 4 significant bits."""
    bits = i.bit_length()
    if bits < 4:
        return i
    shift = bits - 4
    return ((i >> shift) & 0x07) | ((shift + 1) << 3)


def _int4_to_long(i: int) -> int:
    """``Lucene SmallFloat.int4ToLong``."""
    bits, shift = i & 0x07, (i >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


_NUM_FREE_VALUES = 255 - _long_to_int4(2**31 - 1)  # 24


def int_to_byte4(i: int) -> int:
    """``Lucene SmallFloat.intToByte4``: the norm ``BM25Similarity.computeNorm`` stores."""
    if i < _NUM_FREE_VALUES:
        return i
    return _NUM_FREE_VALUES + _long_to_int4(i - _NUM_FREE_VALUES)


def byte4_to_int(b: int) -> int:
    """``Lucene SmallFloat.byte4ToInt``."""
    if b < _NUM_FREE_VALUES:
        return b
    return _NUM_FREE_VALUES + _int4_to_long(b - _NUM_FREE_VALUES)


LENGTH_TABLE = [float(byte4_to_int(i)) for i in range(256)]  # BM25Similarity.LENGTH_TABLE


@dataclass
class FieldStats:
    """One field's postings in one snapshot: per document its terms and frequencies."""

    keyword: bool
    terms: dict[str, Counter[str]] = field(default_factory=dict)  # doc id → term → freq
    lengths: dict[str, int] = field(default_factory=dict)  # doc id → tokens (discountOverlaps)
    doc_freq: Counter[str] = field(default_factory=Counter)
    sum_total_term_freq: int = 0

    @property
    def doc_count(self) -> int:
        return len(self.terms)

    def add(self, doc_id: str, tokens: list[str]) -> None:
        if not tokens:
            return
        counts = Counter(tokens)
        self.terms[doc_id] = counts
        self.lengths[doc_id] = len(tokens)
        self.doc_freq.update(counts.keys())
        # index_options docs (keyword): totalTermFreq == docFreq
        self.sum_total_term_freq += len(counts) if self.keyword else len(tokens)

    def idf(self, term: str) -> float:
        """``BM25Similarity.idf``."""
        n, total = self.doc_freq.get(term, 0), self.doc_count
        return f32(math.log(1 + (total - n + 0.5) / (n + 0.5)))

    def scorer(self, terms: list[str], boost: float) -> BM25:
        """``BM25Similarity.scorer`` for one term (or, for several, their summed idf)."""
        idf = sum(self.idf(t) for t in terms) if len(terms) != 1 else self.idf(terms[0])
        avgdl = f32(self.sum_total_term_freq / self.doc_count) if self.doc_count else 1.0
        return BM25(f32(f32(boost) * f32(idf)), avgdl, self.keyword)


@dataclass
class BM25:
    weight: float
    avgdl: float
    no_norms: bool

    def norm_inverse(self, length: int) -> float:
        """``cache[norm]`` = 1 / (k1 * ((1 - b) + b * LENGTH_TABLE[norm] / avgdl))."""
        dl = LENGTH_TABLE[1] if self.no_norms else LENGTH_TABLE[int_to_byte4(length)]
        k1, b = f32(K1), f32(B)
        inner = f32(f32(1 - b) + f32(f32(b * dl) / self.avgdl))
        return f32(1.0 / f32(k1 * inner))

    def score(self, freq: int, length: int) -> float:
        """``BM25Scorer.score``: ``weight - weight / (1 + freq * normInverse)``."""
        freq_f = 1.0 if self.no_norms else float(freq)
        denominator = f32(1.0 + f32(freq_f * self.norm_inverse(length)))
        return f32(self.weight - f32(self.weight / denominator))


def field_values(source: dict[str, Any], path: str) -> list[Any]:
    """The values of ``path`` (dotted) in a ``_source``: arrays flattened, objects walked
    (``SourceValueFetcher``/``XContentMapValues.extractRawValues``)."""
    values: list[Any] = [source]
    for part in path.split("."):
        nxt: list[Any] = []
        for value in values:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict) and part in item:
                    nxt.append(item[part])
        values = nxt
    flat: list[Any] = []
    stack = list(reversed(values))
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(reversed(value))
        elif value is not None:
            flat.append(value)
    return flat
