"""The query DSL the reference server models: parsed into nodes, evaluated on a snapshot.

Parsing follows each ES ``*QueryBuilder.fromXContent``; a query ES knows but the reference does
not model, and any parameter of a modelled query that is not modelled, is refused with
:func:`not_modelled` (501, naming it), never ignored. Evaluation gives each matching document
its score as Lucene computes it (:mod:`.scoring`).

Modelled queries (all versions): ``match_all``, ``match_none``, ``bool``, ``match``,
``multi_match`` (``best_fields``, ``most_fields``), ``term``, ``terms``, ``range``, ``exists``,
``ids``, ``query_string``/``simple_query_string`` (a subset: whitespace-separated bare terms on
one field), ``semantic``, ``sparse_vector``, ``text_expansion`` (deprecated, still parsed by
every modelled version, with its warning). ``knn`` is refused as not modelled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..rules.semantic_text import Mapping
from ..wire.errors import EsError
from ..wire.javafmt import java_str
from .scoring import FieldStats, analyze, f32, feature_value, field_values
from .store import Doc

# Every query name of the DSL (elasticsearch-specification
# specification/_types/query_dsl/abstractions.ts QueryContainer, plus the names ES registers
# beside it: SearchModule.registerQueryParsers). Not modelled → 501; not in here → ES's
# "unknown query [x]".
ES_QUERIES = frozenset({
    "bool", "boosting", "common", "combined_fields", "constant_score", "dis_max",
    "distance_feature", "exists", "function_score", "fuzzy", "geo_bounding_box", "geo_distance",
    "geo_grid", "geo_polygon", "geo_shape", "has_child", "has_parent", "ids", "intervals", "knn",
    "match", "match_all", "match_bool_prefix", "match_none", "match_phrase", "match_phrase_prefix",
    "more_like_this", "multi_match", "nested", "parent_id", "percolate", "pinned", "prefix",
    "query_string", "range", "rank_feature", "regexp", "rule", "script", "script_score",
    "semantic", "shape", "simple_query_string", "span_containing", "span_field_masking",
    "span_first", "span_multi", "span_near", "span_not", "span_or", "span_term", "span_within",
    "sparse_vector", "term", "terms", "terms_set", "text_expansion", "weighted_tokens",
    "wildcard", "wrapper", "type",
})  # fmt: skip
MODELLED_QUERIES = frozenset({
    "match_all", "match_none", "bool", "match", "multi_match", "term", "terms", "range",
    "exists", "ids", "query_string", "simple_query_string", "semantic", "sparse_vector",
    "text_expansion",
})  # fmt: skip
# ES TextExpansionQueryBuilder.TEXT_EXPANSION_DEPRECATION_MESSAGE, logged (a Warning header)
# on every parse since 8.15 — every modelled version
TEXT_EXPANSION_DEPRECATION = "text_expansion is deprecated. Use sparse_vector instead."
NO_MODEL_ID = "[text_expansion] requires a model_id value"  # the builder's constructor
NUMERIC_TYPES = frozenset({"long", "integer", "short", "byte", "double", "float"})


def not_modelled(what: str) -> EsError:
    """The refusal of rule zero: a 501 naming the element."""
    return EsError("status_exception", f"The reference server does not model {what}", 501)


def parsing(reason: str) -> EsError:
    return EsError("parsing_exception", reason, 400)


# -- fields --------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldType:
    kind: str  # text, keyword, numeric, boolean, date, semantic, other, unmapped
    source_path: str  # where the values live in _source (a multi-field reads its parent's)
    ignore_above: int | None = None  # keyword: longer values are not indexed

    def indexed(self, values: list[Any]) -> list[Any]:
        """The values the field indexes: ES KeywordFieldMapper skips a string longer than
        ``ignore_above`` (Java ``String.length()``: UTF-16 units) — no term, no doc value."""
        if self.ignore_above is None:
            return values
        limit = self.ignore_above
        return [v for v in values if not isinstance(v, str) or _utf16_len(v) <= limit]


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# DynamicFieldsBuilder: a string maps to text with a keyword sub-field, ignore_above 256
DYNAMIC_IGNORE_ABOVE = 256


def field_type(mapping: Mapping, path: str, docs: list[Doc]) -> FieldType:
    """A field's type from the mapping (objects' ``properties``, multi-fields' ``fields``); an
    unmapped field is typed as dynamic mapping would have typed the first value seen
    (``DynamicFieldsBuilder``: string → ``text`` with a ``keyword`` sub-field ``.keyword``,
    integer → ``long``, float → ``float``, boolean; date detection is not modelled)."""
    if path in mapping.semantic:
        return FieldType("semantic", path)
    found = _mapped(mapping.plain, path)
    if found is not None:
        # a mapping parameter that changes matching or scoring (analyzer, similarity, norms, …)
        # never gets here: the mapping was refused (rules/semantic_text.MODELLED_PARAMS)
        spec, source_path = found
        kind = spec.get("type", "object")
        if kind in NUMERIC_TYPES:
            return FieldType("numeric", source_path)
        if kind == "keyword":
            return FieldType(kind, source_path, spec.get("ignore_above"))
        if kind in ("text", "boolean", "date", "sparse_vector"):
            return FieldType(kind, source_path)
        return FieldType("other", source_path)
    parent, _, last = path.rpartition(".")
    dynamic_path, sub = (parent, "keyword") if last == "keyword" and parent else (path, None)
    for doc in docs:
        values = field_values(doc.source, dynamic_path)
        if values:
            value = values[0]
            if isinstance(value, str):
                if sub:
                    return FieldType("keyword", dynamic_path, DYNAMIC_IGNORE_ABOVE)
                return FieldType("text", dynamic_path)
            if sub:
                break
            if isinstance(value, bool):
                return FieldType("boolean", path)
            if isinstance(value, int | float):
                return FieldType("numeric", path)
            break
    return FieldType("unmapped", path)


def _mapped(props: dict[str, Any], path: str) -> tuple[dict[str, Any], str] | None:
    parts = path.split(".")
    here: dict[str, Any] = props
    for i, part in enumerate(parts):
        spec = here.get(part)
        if not isinstance(spec, dict):
            return None
        if i == len(parts) - 1:
            return spec, path
        if isinstance(spec.get("properties"), dict):
            here = spec["properties"]
            continue
        subs = spec.get("fields")
        if isinstance(subs, dict) and i == len(parts) - 2 and isinstance(subs.get(parts[-1]), dict):
            return subs[parts[-1]], ".".join(parts[:-1])  # a multi-field: its parent's values
        return None
    return None


# -- evaluation context --------------------------------------------------------------------
Scores = dict[str, float]  # doc id → score of the matching documents


@dataclass
class Context:
    docs: list[Doc]
    mapping: Mapping
    _stats: dict[str, FieldStats] = field(default_factory=dict)
    _types: dict[str, FieldType] = field(default_factory=dict)

    def type_of(self, path: str) -> FieldType:
        if path not in self._types:
            self._types[path] = field_type(self.mapping, path, self.docs)
        return self._types[path]

    def stats(self, path: str) -> FieldStats:
        """The field's postings (``text`` analyzed, ``keyword`` whole values)."""
        if path not in self._stats:
            kind = self.type_of(path)
            stats = FieldStats(keyword=kind.kind == "keyword")
            for doc in self.docs:
                values = kind.indexed(field_values(doc.source, kind.source_path))
                if kind.kind == "text":
                    tokens = [
                        t for v in values if not isinstance(v, dict) for t in analyze(_str(v))
                    ]
                else:
                    tokens = [_str(v) for v in values if not isinstance(v, dict)]
                stats.add(doc.id, tokens)
            self._stats[path] = stats
        return self._stats[path]


def _str(value: Any) -> str:
    return value if isinstance(value, str) else java_str(value)


# -- nodes ---------------------------------------------------------------------------------
class Node:
    """A parsed query; ``evaluate`` gives the matching documents and their scores."""

    boost: float = 1.0

    def evaluate(self, ctx: Context) -> Scores:
        raise NotImplementedError

    def children(self) -> Iterator[Node]:
        return iter(())


@dataclass
class Const(Node):
    """A constant-score query (``ConstantScoreQuery``: ``terms``, ``range``, ``exists``,
    ``ids``, ``match_all``, numeric ``term``): each match scores ``boost``."""

    predicate: Callable[[Context, Doc], bool]
    boost: float = 1.0

    def evaluate(self, ctx: Context) -> Scores:
        score = f32(self.boost)
        return {d.id: score for d in ctx.docs if self.predicate(ctx, d)}


@dataclass
class Terms(Node):
    """Lucene ``TermQuery`` per term of one field, combined as a ``BooleanQuery`` of SHOULD
    (or MUST, ``operator: and``) clauses with ``minimum_should_match``; each term scored by
    BM25 (``BM25Similarity``), the clause scores summed in double then cast to float
    (``Lucene DisjunctionSumScorer``/``ConjunctionScorer``)."""

    field: str
    terms: list[str]
    conjunction: bool = False
    minimum_should_match: int = 1
    boost: float = 1.0

    def evaluate(self, ctx: Context) -> Scores:
        if not self.terms:
            return {}
        stats = ctx.stats(self.field)
        cache = {t: stats.scorer([t], self.boost) for t in set(self.terms)}
        scorers = [(t, cache[t]) for t in self.terms]
        needed = len(self.terms) if self.conjunction else max(self.minimum_should_match, 1)
        out: Scores = {}
        for doc_id, counts in stats.terms.items():
            matched = [(t, s) for t, s in scorers if t in counts]
            if len(matched) < needed:
                continue
            length = stats.lengths[doc_id]
            total = sum(s.score(counts[t], length) for t, s in matched)
            out[doc_id] = f32(total)
        return out


@dataclass
class Bool(Node):
    """``BoolQueryBuilder`` → Lucene ``BooleanQuery``: must and should scores summed, filter
    and must_not unscored; ``minimum_should_match`` defaults to 1 when there are should clauses
    and no must/filter (``BoolQueryBuilder.doToQuery`` / ``Queries.calculateMinShouldMatch``);
    a query of only must_not clauses matches all other documents with score 0
    (``Queries.fixNegativeQueryIfNeeded``); an empty bool is ``match_all``."""

    must: list[Node]
    should: list[Node]
    filter: list[Node]
    must_not: list[Node]
    minimum_should_match: int
    boost: float = 1.0

    def children(self) -> Iterator[Node]:
        yield from (*self.must, *self.should, *self.filter, *self.must_not)

    def evaluate(self, ctx: Context) -> Scores:
        if not (self.must or self.should or self.filter or self.must_not):
            return {d.id: f32(self.boost) for d in ctx.docs}
        if self.minimum_should_match > len(self.should):
            return {}
        candidates = {d.id for d in ctx.docs}
        totals: dict[str, float] = dict.fromkeys(candidates, 0.0)
        for node in self.must:
            scores = node.evaluate(ctx)
            candidates &= scores.keys()
            for doc_id in candidates:
                totals[doc_id] += scores[doc_id]
        for node in self.filter:
            candidates &= node.evaluate(ctx).keys()
        for node in self.must_not:
            candidates -= node.evaluate(ctx).keys()
        if self.should:
            hits: dict[str, int] = {}
            for node in self.should:
                for doc_id, score in node.evaluate(ctx).items():
                    if doc_id in candidates:
                        hits[doc_id] = hits.get(doc_id, 0) + 1
                        totals[doc_id] += score
            if self.minimum_should_match > 0:
                candidates = {d for d in candidates if hits.get(d, 0) >= self.minimum_should_match}
        boost = f32(self.boost)
        return {d: f32(f32(totals[d]) * boost) for d in candidates}


@dataclass
class DisMax(Node):
    """Lucene ``DisjunctionMaxQuery`` (``multi_match`` ``best_fields``, query_string over
    fields): the best clause score plus ``tie_breaker`` times the others
    (``DisjunctionMaxScorer.score``)."""

    clauses: list[Node]
    tie_breaker: float
    boost: float = 1.0

    def children(self) -> Iterator[Node]:
        yield from self.clauses

    def evaluate(self, ctx: Context) -> Scores:
        per_doc: dict[str, list[float]] = {}
        for node in self.clauses:
            for doc_id, score in node.evaluate(ctx).items():
                per_doc.setdefault(doc_id, []).append(score)
        out: Scores = {}
        tie = f32(self.tie_breaker)
        for doc_id, scores in per_doc.items():
            best = max(scores)
            others = sum(scores) - best
            out[doc_id] = f32(f32(best + others * tie) * f32(self.boost))
        return out


@dataclass
class Sparse(Node):
    """``semantic``/``sparse_vector``/``match`` on a semantic_text field: a nested query on the
    field's chunks (``ScoreMode.Max``) of a sum of ``FeatureField`` linear queries, query
    weight × stored weight (``SemanticQueryBuilder``, ``SparseVectorQueryBuilder``). The query
    vector is set by the caller (inference) before evaluation."""

    field: str
    text: str | None
    inference_id: str | None
    kind: str
    vector: dict[str, float] | None = None
    boost: float = 1.0

    def evaluate(self, ctx: Context) -> Scores:
        weights = [(t, f32(w)) for t, w in (self.vector or {}).items()]
        plain = ctx.type_of(self.field).kind == "sparse_vector"  # vectors sent in _source
        out: Scores = {}
        for doc in ctx.docs:
            if plain:
                stored = [v for v in field_values(doc.source, self.field) if isinstance(v, dict)]
                embeddings = [{str(k): x for k, x in v.items() if _positive(x)} for v in stored]
            else:
                embeddings = [c.embedding for c in doc.chunks.get(self.field, [])]
            best = max((linear_score(weights, e) for e in embeddings), default=0.0)
            if best > 0:
                out[doc.id] = f32(best * f32(self.boost))
        return out


def _positive(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value > 0


def linear_score(weights: list[tuple[str, float]], embedding: dict[str, float]) -> float:
    """One chunk's score: a BooleanQuery of ``FeatureField.newLinearQuery`` per query token,
    ``w * decodeFeatureValue`` each, summed in double and cast to float."""
    total = 0.0
    for token, weight in weights:
        stored = embedding.get(token)
        if stored is not None and stored > 0:
            total += f32(weight * feature_value(stored))
    return f32(total)


@dataclass
class Nothing(Node):
    """``MatchNoDocsQuery`` (an unmapped field, no terms after analysis)."""

    def evaluate(self, ctx: Context) -> Scores:
        return {}


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children():
        yield from walk(child)


# -- parsing -------------------------------------------------------------------------------
COMMON = ("boost",)  # AbstractQueryBuilder.BOOST_FIELD; _name (matched_queries) not modelled


def _object(kind: str, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise parsing(f"[{kind}] query malformed, no start_object after query name")
    return spec


def _check_params(kind: str, spec: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in spec:
        if key not in allowed and key not in COMMON:
            raise not_modelled(f"the [{key}] parameter of the [{kind}] query")


def _boost(kind: str, spec: dict[str, Any]) -> float:
    raw = spec.get("boost", 1.0)
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise parsing(f"[{kind}] query does not support [boost] of this type")
    try:
        value = float(raw)
    except ValueError:
        raise EsError("number_format_exception", f'For input string: "{raw}"', 400) from None
    if value < 0:  # AbstractQueryBuilder.checkNegativeBoost
        reason = f"negative [boost] are not allowed in [{kind}], but was [{value}]"
        raise EsError("illegal_argument_exception", reason)
    return value


def _single_field(kind: str, spec: Any) -> tuple[str, Any]:
    """``{kind: {field: value-or-object}}`` (``throwParsingExceptionOnMultipleFields``)."""
    spec = _object(kind, spec)
    if len(spec) != 1:
        if not spec:
            raise parsing(f"[{kind}] query doesn't support multiple fields, found []"
                          if kind != "match" else "No text specified for text query")  # fmt: skip
        raise parsing(f"[{kind}] query doesn't support multiple fields, found "
                      f"[{', '.join(spec)}]")  # fmt: skip
    return next(iter(spec.items()))


def minimum_should_match(spec: Any, optional: int) -> int:
    """``Queries.calculateMinShouldMatch``: an integer, a negative integer, a percentage or a
    negative percentage (``<`` combinations are not modelled)."""
    if spec is None:
        return 0
    text = java_str(spec).strip()
    if "<" in text or " " in text:
        raise not_modelled(f"the combination form of [minimum_should_match] [{text}]")
    try:
        if text.endswith("%"):
            percent = int(text[:-1])
            calc = f32(f32(optional * percent) * f32(1 / 100))
            result = optional + int(calc) if calc < 0 else int(calc)
        else:
            calc_int = int(text)
            result = optional + calc_int if calc_int < 0 else calc_int
    except ValueError:
        raise EsError("number_format_exception", f'For input string: "{text}"', 400) from None
    return max(result, 0)


class Parser:
    """Turns a query object into nodes against one index's fields."""

    def __init__(self, ctx: Context, warnings: list[str] | None = None) -> None:
        self.ctx = ctx
        self.warnings = [] if warnings is None else warnings  # deprecation warnings of a parse

    def parse(self, query: Any) -> Node:
        if not isinstance(query, dict) or len(query) != 1:
            raise parsing("[_na] query malformed, must start with start_object")
        kind, spec = next(iter(query.items()))
        if kind not in ES_QUERIES:
            raise parsing(f"unknown query [{kind}]")
        if kind not in MODELLED_QUERIES:
            detail = {"knn": " (dense vectors; ELSER is sparse)"}
            raise not_modelled(f"the [{kind}] query{detail.get(kind, '')}")
        method: Callable[[Any], Node] = getattr(self, f"_{kind}")
        return method(spec)

    # match_all / match_none: MatchAllQueryBuilder, MatchNoneQueryBuilder
    def _match_all(self, spec: Any) -> Node:
        spec = _object("match_all", spec)
        _check_params("match_all", spec, ())
        return Const(lambda ctx, d: True, _boost("match_all", spec))

    def _match_none(self, spec: Any) -> Node:
        _check_params("match_none", _object("match_none", spec), ())
        return Nothing()

    # bool: BoolQueryBuilder.fromXContent
    def _bool(self, spec: Any) -> Node:
        spec = _object("bool", spec)
        clauses: dict[str, list[Node]] = {"must": [], "should": [], "filter": [], "must_not": []}
        for key, value in spec.items():
            if key in clauses:
                items = value if isinstance(value, list) else [value]
                clauses[key] += [self.parse(item) for item in items]
            elif key not in ("minimum_should_match", "boost", "adjust_pure_negative"):
                if key == "_name":
                    raise not_modelled("the [_name] parameter of the [bool] query")
                raise parsing(f"[bool] query does not support [{key}]")
        should = len(clauses["should"])
        raw = spec.get("minimum_should_match")
        msm = minimum_should_match(raw, should) if raw is not None else 0
        if raw is None and should and not clauses["must"] and not clauses["filter"]:
            msm = 1
        return Bool(clauses["must"], clauses["should"], clauses["filter"], clauses["must_not"],
                    msm, _boost("bool", spec))  # fmt: skip

    # match: MatchQueryBuilder.fromXContent → MatchQueryParser
    def _match(self, spec: Any) -> Node:
        name, value = _single_field("match", spec)
        params = value if isinstance(value, dict) else {"query": value}
        _check_params("match", params, ("query", "operator", "minimum_should_match"))
        text = params.get("query")
        if text is None or isinstance(text, dict | list):
            raise parsing("No text specified for text query")
        operator = _operator("match", params.get("operator", "OR"))
        return self.text_query(name, java_str(text), operator, params.get("minimum_should_match"),
                               _boost("match", params), "match")  # fmt: skip

    def text_query(self, name: str, text: str, operator: str, msm: Any, boost: float,
                   kind: str) -> Node:  # fmt: skip
        """A full-text query on one field as ``MatchQueryParser.parse`` builds it."""
        ftype = self.ctx.type_of(name)
        if ftype.kind == "semantic":
            if kind != "match":
                raise not_modelled(f"semantic_text field [{name}] in a [{kind}] query")
            return Sparse(name, text, None, "match", boost=boost)
        if ftype.kind == "text":
            terms = analyze(text)
            if not terms:
                return Nothing()  # zero_terms_query: none
            # QueryBuilder.createBooleanQuery: one clause per token, repeats included
            conjunction = operator == "AND"
            needed = 1 if conjunction else max(minimum_should_match(msm, len(terms)), 1)
            if msm is not None and minimum_should_match(msm, len(terms)) > len(terms):
                return Nothing()
            return Terms(name, terms, conjunction, needed, boost)
        return self.exact(name, text, boost, kind)

    def exact(self, name: str, value: Any, boost: float, kind: str) -> Node:
        """A term on one field: ``keyword``/``text`` → scored ``TermQuery``; numbers, booleans
        and dates → constant-score point queries (``NumberFieldMapper.termQuery``)."""
        ftype = self.ctx.type_of(name)
        if ftype.kind in ("keyword", "text"):
            return Terms(name, [_str(value)], False, 1, boost)
        if ftype.kind == "unmapped":
            return Nothing()
        if ftype.kind == "numeric":
            target = _number(name, value)
            return Const(lambda ctx, d: any(_num(v) == target for v in _values(d, ftype)), boost)
        if ftype.kind == "boolean":
            wanted = _boolean(name, value)
            return Const(lambda ctx, d: wanted in [_bool_value(v) for v in _values(d, ftype)],
                         boost)  # fmt: skip
        raise not_modelled(f"[{kind}] on a field of type [{ftype.kind}] ([{name}])")

    # multi_match: MultiMatchQueryBuilder.fromXContent → MultiMatchQueryParser
    def _multi_match(self, spec: Any) -> Node:
        spec = _object("multi_match", spec)
        _check_params("multi_match", spec,
                      ("query", "fields", "type", "tie_breaker", "operator",
                       "minimum_should_match"))  # fmt: skip
        text = spec.get("query")
        if text is None:
            raise parsing("No text specified for multi_match query")
        kind = spec.get("type", "best_fields")
        if kind not in ("best_fields", "most_fields"):
            if kind in ("cross_fields", "phrase", "phrase_prefix", "bool_prefix"):
                raise not_modelled(f"[multi_match] of type [{kind}]")
            raise parsing(f"[multi_match] query does not support type [{kind}]")
        fields = spec.get("fields")
        if fields is None:
            raise not_modelled("[multi_match] without [fields] (index.query.default_field)")
        fields = [fields] if isinstance(fields, str) else fields
        operator = _operator("multi_match", spec.get("operator", "OR"))
        clauses = []
        for raw in fields:
            name, _, weight = java_str(raw).partition("^")
            if "*" in name:
                raise not_modelled(f"field patterns in [multi_match] [fields] ([{name}])")
            field_boost = float(weight) if weight else 1.0
            clauses.append(self.text_query(name, java_str(text), operator,
                                           spec.get("minimum_should_match"), field_boost,
                                           "multi_match"))  # fmt: skip
        boost = _boost("multi_match", spec)
        if kind == "most_fields":  # MultiMatchQueryParser: a bool of should clauses
            return Bool([], clauses, [], [], 1, boost)
        tie = spec.get("tie_breaker", 0.0)  # best_fields: dis_max, tie_breaker 0.0
        return DisMax(clauses, float(tie), boost)

    # term / terms: TermQueryBuilder, TermsQueryBuilder (constant score TermInSetQuery)
    def _term(self, spec: Any) -> Node:
        name, value = _single_field("term", spec)
        params = value if isinstance(value, dict) else {"value": value}
        _check_params("term", params, ("value",))
        if params.get("value") is None:
            raise EsError("illegal_argument_exception", "value cannot be null")
        return self.exact(name, params["value"], _boost("term", params), "term")

    def _terms(self, spec: Any) -> Node:
        spec = _object("terms", spec)
        boost = _boost("terms", spec)
        names = [k for k in spec if k != "boost"]
        if len(names) != 1:
            raise parsing(f"[terms] query does not support multiple fields, found {names}")
        name, values = names[0], spec[names[0]]
        if not isinstance(values, list):
            if isinstance(values, dict):
                raise not_modelled("the terms lookup form of the [terms] query")
            raise parsing(f"[terms] query does not support [{name}]")
        ftype = self.ctx.type_of(name)
        if ftype.kind in ("text", "keyword"):
            wanted = {_str(v) for v in values}
            return Const(lambda ctx, d: bool(ctx.stats(name).terms.get(d.id, {}).keys() & wanted),
                         boost)  # fmt: skip
        if ftype.kind == "numeric":
            numbers = {_number(name, v) for v in values}
            return Const(lambda ctx, d: any(_num(v) in numbers for v in _values(d, ftype)), boost)
        if ftype.kind == "unmapped":
            return Nothing()
        raise not_modelled(f"[terms] on a field of type [{ftype.kind}] ([{name}])")

    # range: RangeQueryBuilder (gt/gte/lt/lte; numbers, dates (ISO/epoch millis), keywords)
    def _range(self, spec: Any) -> Node:
        name, params = _single_field("range", spec)
        params = _object("range", params)
        _check_params("range", params, ("gt", "gte", "lt", "lte"))
        ftype = self.ctx.type_of(name)
        if ftype.kind == "unmapped":
            return Nothing()
        convert: Callable[[Any], Any]
        if ftype.kind == "numeric":
            convert = _num
        elif ftype.kind == "date":
            convert = _date
        elif ftype.kind in ("keyword",):
            convert = _str
        else:
            raise not_modelled(f"[range] on a field of type [{ftype.kind}] ([{name}])")
        bounds = {k: convert(v) for k, v in params.items() if k in ("gt", "gte", "lt", "lte")
                  and v is not None}  # fmt: skip
        if any(b is None for b in bounds.values()):
            raise EsError("illegal_argument_exception", f"failed to parse range bounds of [{name}]")

        def inside(value: Any) -> bool:
            try:
                return (("gt" not in bounds or value > bounds["gt"])
                        and ("gte" not in bounds or value >= bounds["gte"])
                        and ("lt" not in bounds or value < bounds["lt"])
                        and ("lte" not in bounds or value <= bounds["lte"]))  # fmt: skip
            except TypeError:
                return False

        def matches(ctx: Context, d: Doc) -> bool:
            return any(v is not None and inside(v) for v in map(convert, _values(d, ftype)))

        return Const(matches, _boost("range", params))

    # exists: ExistsQueryBuilder
    def _exists(self, spec: Any) -> Node:
        spec = _object("exists", spec)
        _check_params("exists", spec, ("field",))
        name = spec.get("field")
        if not isinstance(name, str):
            raise parsing("[exists] must be provided with a [field]")
        if "*" in name:
            raise not_modelled(f"field patterns in [exists] ([{name}])")

        def present(ctx: Context, d: Doc) -> bool:
            ftype = ctx.type_of(name)
            if ftype.kind == "semantic":
                return bool(d.chunks.get(name)) or bool(field_values(d.source, name))
            return bool(_values(d, ftype))

        return Const(present, _boost("exists", spec))

    # ids: IdsQueryBuilder
    def _ids(self, spec: Any) -> Node:
        spec = _object("ids", spec)
        _check_params("ids", spec, ("values",))
        values = spec.get("values", [])
        if not isinstance(values, list):
            raise parsing("[ids] query does not support [values] of this type")
        wanted = {_str(v) for v in values}
        return Const(lambda ctx, d: d.id in wanted, _boost("ids", spec))

    # query_string / simple_query_string: the documented subset
    def _query_string(self, spec: Any) -> Node:
        return self._query_text("query_string", spec, '+-=&|><!(){}[]^"~*?:\\/')

    def _simple_query_string(self, spec: Any) -> Node:
        return self._query_text("simple_query_string", spec, '+|-"*()~')

    def _query_text(self, kind: str, spec: Any, special: str) -> Node:
        """Bare whitespace-separated terms on one field, combined by ``default_operator``:
        what ``QueryStringQueryParser``/``SimpleQueryStringQueryParser`` build for them (a
        boolean query of the analyzed terms). Any operator syntax is refused."""
        spec = _object(kind, spec)
        _check_params(kind, spec, ("query", "default_field", "fields", "default_operator"))
        text = spec.get("query")
        if not isinstance(text, str):
            raise parsing(f"[{kind}] must be provided with a [query]")
        used = sorted({c for c in text if c in special})
        words = {"AND", "OR", "NOT"} & set(text.split()) if kind == "query_string" else set()
        if used or words:
            raise not_modelled(f"[{kind}] syntax {sorted(words) + used} (only bare terms)")
        fields = spec.get("fields")
        if fields is not None:
            fields = [fields] if isinstance(fields, str) else fields
            if len(fields) != 1 or "default_field" in spec:
                raise not_modelled(f"[{kind}] over more than one field")
            name = java_str(fields[0])
        elif "default_field" in spec:
            name = java_str(spec["default_field"])
        else:
            raise not_modelled(f"[{kind}] without a field (index.query.default_field)")
        if "*" in name or "^" in name:
            raise not_modelled(f"field patterns and boosts in [{kind}] ([{name}])")
        operator = _operator(kind, spec.get("default_operator", "OR"))
        return self.text_query(name, text, operator, None, _boost(kind, spec), kind)

    # semantic: SemanticQueryBuilder
    def _semantic(self, spec: Any) -> Node:
        spec = _required("semantic", spec, ("field", "query"))
        _check_params("semantic", spec, ("field", "query"))
        name, text = spec["field"], spec["query"]
        ftype = self.ctx.type_of(name) if isinstance(name, str) else FieldType("unmapped", "")
        # SemanticQueryBuilder.doRewriteBuildSemanticQuery: unmapped → no hits; another type →
        # "Field [f] of type [t] does not support semantic queries"
        if isinstance(name, str) and name in self.ctx.mapping.plain:
            kind_name = java_str(self.ctx.mapping.plain[name].get("type", "object"))
            reason = f"Field [{name}] of type [{kind_name}] does not support semantic queries"
            raise EsError("illegal_argument_exception", reason)
        if ftype.kind != "semantic":
            return Nothing()
        return Sparse(name, text, None, "semantic", boost=_boost("semantic", spec))

    # sparse_vector: SparseVectorQueryBuilder (query_vector, or query + inference_id)
    def _sparse_vector(self, spec: Any) -> Node:
        spec = _required("sparse_vector", spec, ("field",))
        _check_params("sparse_vector", spec, ("field", "query_vector", "query", "inference_id"))
        name = spec["field"]
        node = Sparse(name, None, None, "sparse_vector", boost=_boost("sparse_vector", spec))
        if isinstance(spec.get("query_vector"), dict):
            try:
                node.vector = {str(k): float(v) for k, v in spec["query_vector"].items()}
            except (TypeError, ValueError):
                raise EsError("x_content_parse_exception", "[1:1] [sparse_vector] failed to "
                              "parse field [query_vector]", 400) from None  # fmt: skip
        else:
            inference_id = spec.get("inference_id")
            node.text = spec.get("query")
            node.inference_id = inference_id if isinstance(inference_id, str) else None
        return node

    # text_expansion: TextExpansionQueryBuilder.fromXContent (8.15+ copy: model_id required,
    # pruning_config, the deprecation warning) and doRewrite: model_text inferred by
    # CoordinatedInferenceAction on model_id (a deployment, its model or an endpoint), then
    # without pruning_config a bool of FeatureField term queries, weight as boost, scored as
    # sparse_vector is
    def _text_expansion(self, spec: Any) -> Node:
        if TEXT_EXPANSION_DEPRECATION not in self.warnings:
            self.warnings.append(TEXT_EXPANSION_DEPRECATION)
        spec = _object("text_expansion", spec)
        if len(spec) > 1:
            raise parsing("[text_expansion] query doesn't support multiple fields, found "
                          f"[{', '.join(spec)}]")  # fmt: skip
        if not spec:
            raise parsing("No text specified for text query")
        name, inner = next(iter(spec.items()))
        if not isinstance(inner, dict):  # {field: "text"}: no model_id
            if isinstance(inner, list):
                raise parsing(f"[text_expansion] unknown token [START_ARRAY] after [{name}]")
            raise EsError("illegal_argument_exception", NO_MODEL_ID)
        for key, value in inner.items():
            if key == "pruning_config":
                raise not_modelled("the [pruning_config] parameter of the [text_expansion] query")
            if key == "_name":
                raise not_modelled("the [_name] parameter of the [text_expansion] query")
            if key not in ("model_text", "model_id", "boost"):
                raise parsing(f"[text_expansion] query does not support [{key}]")
            if isinstance(value, dict | list):
                token = "START_OBJECT" if isinstance(value, dict) else "START_ARRAY"
                raise parsing(f"[text_expansion] unknown token [{token}] after [{key}]")
        if inner.get("model_text") is None:
            raise parsing("No text specified for text query")
        if inner.get("model_id") is None:
            raise EsError("illegal_argument_exception", NO_MODEL_ID)
        kind = self.ctx.type_of(name).kind
        if kind not in ("sparse_vector", "unmapped"):  # term queries on other field types
            raise not_modelled(f"the [text_expansion] query on a field of type [{kind}] "
                               f"([{name}])")  # fmt: skip
        node = Sparse(name, java_str(inner["model_text"]), java_str(inner["model_id"]),
                      "text_expansion", boost=_boost("text_expansion", inner))  # fmt: skip
        return node


def _required(kind: str, spec: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """A query object parsed by a ``ConstructingObjectParser``: an object, its required
    fields present (``Required [a, b]``)."""
    if not isinstance(spec, dict):
        raise parsing(f"[{kind}] query malformed, no start_object after query name")
    missing = [n for n in names if spec.get(n) is None]
    if missing:
        raise EsError("x_content_parse_exception", f"[1:1] [{kind}] failed to parse object",
                      400, caused_by=EsError("illegal_argument_exception",
                                             f"Required [{', '.join(missing)}]"))  # fmt: skip
    return spec


def _operator(kind: str, raw: Any) -> str:
    """``Operator.fromString``: or/and, any case."""
    text = java_str(raw).upper()
    if text not in ("OR", "AND"):
        reason = f"operator needs to be either [or, and], but not [{java_str(raw)}]"
        raise EsError("illegal_argument_exception", reason)
    return text


def _values(doc: Doc, ftype: FieldType) -> list[Any]:
    values = field_values(doc.source, ftype.source_path)
    return ftype.indexed([v for v in values if not isinstance(v, dict)])


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _number(name: str, value: Any) -> float:
    number = _num(value)
    if number is None or math.isnan(number):
        raise EsError("number_format_exception", f'For input string: "{java_str(value)}"', 400)
    return number


def _bool_value(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(str(value))


def _boolean(name: str, value: Any) -> bool:
    parsed = _bool_value(value)
    if parsed is None:
        raise EsError("illegal_argument_exception", f"Can't parse boolean value [{java_str(value)}]"
                      ", expected [true] or [false]")  # fmt: skip
    return parsed


def _date(value: Any) -> float | None:
    """A date as epoch millis: a number (millis) or ISO 8601 (``strict_date_optional_time``);
    date math (``now``, ``||``) is refused as not modelled."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    if "now" in text or "||" in text:
        raise not_modelled(f"date math in [range] ([{text}])")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() * 1000
