"""Retrievers: ``standard``, ``rrf`` and ``linear`` (ES ``RetrieverBuilder`` family), parsed
into a tree and run on one snapshot. Others ES knows (``knn``, ``text_similarity_reranker``,
``rule``, ``rescorer``, ``pinned``, ``diversify``) are refused as not modelled.

* ``rrf`` (``RRFRetrieverBuilder``, x-pack rank-rrf): each child's top ``rank_window_size``
  documents (default ``RankBuilder.DEFAULT_RANK_WINDOW_SIZE`` 10), score
  Σ ``1 / (rank_constant + rank)`` in float (``combineInnerRetrieverResults``), ``rank_constant``
  default 60 (``DEFAULT_RANK_CONSTANT``), ties by smaller doc (index order here), trimmed to
  the window. The weighted component form (``{retriever, weight}``) and the multi-field
  ``query``/``fields`` form are not modelled.
* ``linear`` (``LinearRetrieverBuilder``, #120222, 8.18/9.0; ``l2_norm`` #128504/#128972 in
  8.19 and 9.1): Σ weight × normalized score over each child's top window; normalizers
  ``none`` (``IdentityScoreNormalizer``), ``minmax`` (``MinMaxScoreNormalizer``: (s - min) /
  (max - min); all equal → unchanged), ``l2_norm`` (``L2ScoreNormalizer``: s / sqrt(Σ s²);
  norm < 1e-6 → unchanged). The top-level ``normalizer``/``query``/``fields`` are not modelled.
* ``filter`` of a compound retriever is applied to each child (``preFilterQueryBuilders``),
  ``min_score`` after combining (inclusive).
* Hit totals of a compound retriever count every document any child matches
  (``RankDocsRetrieverBuilder``: the rank docs query is or-ed with the children's queries).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..wire.errors import EsError
from ..wire.javafmt import java_str
from .query import Bool, Context, Node, Parser, not_modelled, parsing
from .scoring import f32

# elasticsearch-specification specification/_types/Retriever.ts RetrieverContainer
ES_RETRIEVERS = frozenset({
    "standard", "knn", "rrf", "text_similarity_reranker", "rule", "rescorer", "linear", "pinned",
    "diversify",
})  # fmt: skip
DEFAULT_RANK_WINDOW_SIZE = 10  # ES RankBuilder.DEFAULT_RANK_WINDOW_SIZE
DEFAULT_RANK_CONSTANT = 60  # ES RRFRetrieverBuilder.DEFAULT_RANK_CONSTANT
NORMALIZERS = ("none", "minmax", "l2_norm")  # ES ScoreNormalizer.valueOf
EPSILON = 1e-6  # ES MinMaxScoreNormalizer.EPSILON, L2ScoreNormalizer.EPSILON

Ranked = list[tuple[str, float]]  # doc id, score; best first


@dataclass
class Retriever:
    filters: list[Node] = field(default_factory=list)
    min_score: float | None = None

    def nodes(self) -> Iterator[Node]:
        yield from self.filters

    def run(self, ctx: Context, window: int | None) -> tuple[Ranked, set[str]]:
        """(top ``window`` documents, every matching document id)."""
        raise NotImplementedError

    def window(self) -> int | None:
        return None


def _order(ctx: Context, scores: dict[str, float]) -> Ranked:
    position = {d.id: i for i, d in enumerate(ctx.docs)}
    return sorted(scores.items(), key=lambda item: (-item[1], position[item[0]]))


def _filtered(ctx: Context, scores: dict[str, float], filters: list[Node]) -> dict[str, float]:
    for node in filters:
        keep = node.evaluate(ctx).keys()
        scores = {k: v for k, v in scores.items() if k in keep}
    return scores


@dataclass
class Standard(Retriever):
    """``StandardRetrieverBuilder``: its query (``match_all`` without one), its filter as a
    bool filter, ``min_score``."""

    query: Node | None = None

    def nodes(self) -> Iterator[Node]:
        yield from self.filters
        if self.query is not None:
            yield self.query

    def run(self, ctx: Context, window: int | None) -> tuple[Ranked, set[str]]:
        query = self.query or Bool([], [], [], [], 0)
        scores = _filtered(ctx, query.evaluate(ctx), self.filters)
        if self.min_score is not None:
            scores = {k: v for k, v in scores.items() if v >= self.min_score}
        ranked = _order(ctx, scores)
        return (ranked if window is None else ranked[:window]), set(scores)


@dataclass
class Compound(Retriever):
    kind: str = "rrf"
    children: list[Retriever] = field(default_factory=list)
    rank_window_size: int = DEFAULT_RANK_WINDOW_SIZE
    rank_constant: int = DEFAULT_RANK_CONSTANT
    weights: list[float] = field(default_factory=list)
    normalizers: list[str] = field(default_factory=list)

    def nodes(self) -> Iterator[Node]:
        yield from self.filters
        for child in self.children:
            yield from child.nodes()

    def window(self) -> int | None:
        return self.rank_window_size

    def run(self, ctx: Context, window: int | None) -> tuple[Ranked, set[str]]:
        results: list[Ranked] = []
        matched: set[str] = set()
        for child in self.children:
            child.filters = [*child.filters, *self.filters]  # preFilterQueryBuilders
            ranked, all_ids = child.run(ctx, self.rank_window_size)
            results.append(ranked)
            matched |= all_ids
        combined = self._rrf(results) if self.kind == "rrf" else self._linear(results)
        top = _order(ctx, combined)[: self.rank_window_size]
        if self.min_score is not None:
            top = [(d, s) for d, s in top if s >= self.min_score]
        return (top if window is None else top[:window]), matched

    def _rrf(self, results: list[Ranked]) -> dict[str, float]:
        """``RRFRetrieverBuilder.combineInnerRetrieverResults``."""
        scores: dict[str, float] = {}
        for ranked in results:
            for rank, (doc_id, _) in enumerate(ranked, start=1):
                term = f32(1.0 * f32(1.0 / (self.rank_constant + rank)))
                scores[doc_id] = f32(scores.get(doc_id, 0.0) + term)
        return scores

    def _linear(self, results: list[Ranked]) -> dict[str, float]:
        """``LinearRetrieverBuilder.combineInnerRetrieverResults``."""
        scores: dict[str, float] = {}
        for ranked, weight, name in zip(results, self.weights, self.normalizers, strict=True):
            for doc_id, score in normalize(name, ranked):
                scores[doc_id] = f32(scores.get(doc_id, 0.0) + f32(f32(weight) * score))
        return scores


def normalize(name: str, ranked: Ranked) -> Ranked:
    """``MinMaxScoreNormalizer`` / ``L2ScoreNormalizer`` / ``IdentityScoreNormalizer``."""
    if not ranked or name == "none":
        return ranked
    values = [s for _, s in ranked]
    if name == "minmax":
        low, high = min(values), max(values)
        if abs(low - high) < EPSILON:
            return ranked
        span = f32(high - low)
        return [(d, f32(f32(s - low) / span)) for d, s in ranked]
    norm = math.sqrt(sum(f32(s * s) for s in values))  # l2_norm: sum of squares in double
    if norm < EPSILON:
        return ranked
    return [(d, f32(s / norm)) for d, s in ranked]


class RetrieverParser:
    """``RetrieverBuilder.parseTopLevelRetrieverBuilder`` and each builder's parser."""

    def __init__(self, queries: Parser) -> None:
        self.queries = queries

    def parse(self, spec: Any) -> Retriever:
        if not isinstance(spec, dict) or len(spec) != 1:
            raise parsing("retriever malformed, must have exactly one retriever")
        kind, body = next(iter(spec.items()))
        if kind not in ES_RETRIEVERS:
            raise EsError("x_content_parse_exception", f"[1:1] unknown retriever [{kind}]", 400)
        if kind not in ("standard", "rrf", "linear"):
            detail = {"knn": " (dense vectors; ELSER is sparse)",
                      "text_similarity_reranker": " (a rerank inference endpoint)"}  # fmt: skip
            raise not_modelled(f"the [{kind}] retriever{detail.get(kind, '')}")
        if not isinstance(body, dict):
            raise parsing(f"[{kind}] retriever malformed, no start_object")
        base = self._base(kind, body)
        if kind == "standard":
            return self._standard(body, base)
        return self._compound(kind, body, base)

    def _base(self, kind: str, body: dict[str, Any]) -> Retriever:
        """``RetrieverBuilder.declareBaseParserFields``: filter, min_score (_name not
        modelled)."""
        if "_name" in body:
            raise not_modelled(f"the [_name] of the [{kind}] retriever")
        raw = body.get("filter")
        items = [] if raw is None else raw if isinstance(raw, list) else [raw]
        filters = [self.queries.parse(item) for item in items]
        min_score = body.get("min_score")
        if min_score is not None and (isinstance(min_score, bool)
                                      or not isinstance(min_score, int | float)):  # fmt: skip
            raise parsing(f"[{kind}] failed to parse field [min_score]")
        return Retriever(filters, None if min_score is None else float(min_score))

    def _standard(self, body: dict[str, Any], base: Retriever) -> Retriever:
        for key in body:
            if key not in ("query", "filter", "min_score"):
                raise not_modelled(f"the [{key}] parameter of the [standard] retriever")
        query = body.get("query")
        node = self.queries.parse(query) if query is not None else None
        return Standard(base.filters, base.min_score, node)

    def _compound(self, kind: str, body: dict[str, Any], base: Retriever) -> Retriever:
        allowed = {"retrievers", "rank_window_size", "filter", "min_score"}
        if kind == "rrf":
            allowed.add("rank_constant")
        for key in body:
            if key not in allowed:
                raise not_modelled(f"the [{key}] parameter of the [{kind}] retriever")
        window = _int(kind, body, "rank_window_size", DEFAULT_RANK_WINDOW_SIZE)
        constant = _int(kind, body, "rank_constant", DEFAULT_RANK_CONSTANT)
        if kind == "rrf" and constant < 1:  # RRFRetrieverBuilder / RRFRankBuilder.rankConstant
            raise EsError("illegal_argument_exception",
                          "[rank_constant] must be greater or equal to [1] for [rrf]")  # fmt: skip
        entries = body.get("retrievers")
        if not isinstance(entries, list) or not entries:
            raise EsError("action_request_validation_exception",
                          f"Validation Failed: 1: [{kind}] must specify [retrievers] or "
                          "[query];", 400)  # fmt: skip
        children, weights, normalizers = [], [], []
        for entry in entries:
            if kind == "rrf":
                if isinstance(entry, dict) and "retriever" in entry:
                    raise not_modelled("the weighted component form of the [rrf] retriever")
                children.append(self.parse(entry))
                continue
            # LinearRetrieverComponent: retriever (required), weight (1.0), normalizer (none)
            if not isinstance(entry, dict) or "retriever" not in entry:
                raise parsing("[linear] retrievers entries need a [retriever]")
            for key in entry:
                if key not in ("retriever", "weight", "normalizer"):
                    raise parsing(f"unknown field [{key}] in [linear] retriever component")
            children.append(self.parse(entry["retriever"]))
            weight = entry.get("weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
                raise EsError("illegal_argument_exception",
                              "[weight] must be non-negative")  # fmt: skip
            weights.append(float(weight))
            name = java_str(entry.get("normalizer", "none"))
            if name not in NORMALIZERS:
                raise EsError("illegal_argument_exception", f"Unknown normalizer [{name}]")
            normalizers.append(name)
        return Compound(base.filters, base.min_score, kind, children, window, constant, weights,
                        normalizers)  # fmt: skip


def _int(kind: str, body: dict[str, Any], key: str, default: int) -> int:
    raw = body.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise parsing(f"[{kind}] failed to parse field [{key}]")
    return raw
