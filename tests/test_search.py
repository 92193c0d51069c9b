"""Search on the reference server: BM25 scores as Lucene computes them, bool/multi_match
combinations, the rrf and linear retrievers, _source/fields, and refusals by name.

Expected numbers are worked out here from the published formulas (Lucene BM25Similarity,
ES RRFRetrieverBuilder/LinearRetrieverBuilder), never read back from the server."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from elsercheck.reference.config import ServerConfig
from elsercheck.reference.indices import scoring
from elsercheck.timing import PRESETS
from tests.conftest import assert_error
from tests.inprocess import InProcessServer

NDJSON = {"Content-Type": "application/x-ndjson"}
K1, B = 1.2, 0.75


def idf(n: int, total: int) -> float:
    return math.log(1 + (total - n + 0.5) / (n + 0.5))


def tf(freq: float, dl: float, avgdl: float) -> float:
    """BM25's tf part (Lucene 8+: no (k1 + 1) factor)."""
    return freq / (freq + K1 * (1 - B + B * dl / avgdl))


# The corpus, with the statistics worked out by hand:
# title (text): d1 "the quick brown fox" (4 tokens), d2 "quick quick dog" (3), d3 "lazy cat" (2)
#   N 3, avgdl 9/3 = 3; "quick" df 2 → idf ln(1.6); d1 freq 1 dl 4, d2 freq 2 dl 3
# body (text): d1 "fox" (1), d2 "a red fox runs" (4), d3 "cat" (1): N 3, avgdl 2; "fox" df 2
# tag (keyword, no norms, dl 1, avgdl 3/3 = 1): animal, animal, pet
# n (long): 1, 5, 10
DOCS = {
    "d1": {"title": "the quick brown fox", "body": "fox", "tag": "animal", "n": 1},
    "d2": {"title": "quick quick dog", "body": "a red fox runs", "tag": "animal", "n": 5},
    "d3": {"title": "lazy cat", "body": "cat", "tag": "pet", "n": 10},
}
QUICK = {"d1": idf(2, 3) * tf(1, 4, 3), "d2": idf(2, 3) * tf(2, 3, 3)}
ANIMAL = idf(2, 3) * tf(1, 1, 1)  # keyword: freq 1, no norms
FOX_TITLE = idf(1, 3) * tf(1, 4, 3)  # d1 only
FOX_BODY = {"d1": idf(2, 3) * tf(1, 1, 2), "d2": idf(2, 3) * tf(1, 4, 2)}


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-6)


@pytest.fixture(scope="module")
def server() -> Iterator[InProcessServer]:
    config = ServerConfig(security=False, timing=PRESETS["instant"], conformant=True)
    with InProcessServer(config) as running:
        yield running


@pytest.fixture(scope="module")
def es(server: InProcessServer) -> Iterator[httpx.Client]:
    with server.client(timeout=60) as c:
        mapping = {"properties": {"title": {"type": "text"}, "body": {"type": "text"},
                                  "tag": {"type": "keyword"}, "n": {"type": "long"}}}  # fmt: skip
        assert c.put("/lex", json={"mappings": mapping}).status_code == 200
        lines = ""
        for doc_id, source in DOCS.items():
            lines += json.dumps({"index": {"_id": doc_id}}) + "\n" + json.dumps(source) + "\n"
        response = c.post("/lex/_bulk?refresh=true", content=lines, headers=NDJSON)
        assert response.json()["errors"] is False
        yield c


def search(es: httpx.Client, body: dict[str, Any], path: str = "/lex/_search") -> dict[str, Any]:
    response = es.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def scores(body: dict[str, Any]) -> list[tuple[str, float]]:
    return [(h["_id"], h["_score"]) for h in body["hits"]["hits"]]


# -- Lucene SmallFloat and BM25 ------------------------------------------------------------
@pytest.mark.parametrize(
    ("length", "read_back"),
    # intToByte4: < 24 exact; 41 = 24 + 17 → 4 significant bits of 17 = 16 → 40; 43 → 24 + 18;
    # 100 = 24 + 76 → 76 = 0b1001100 keeps 0b1001 << 3 = 72 → 96
    [(0, 0), (23, 23), (24, 24), (40, 40), (41, 40), (43, 42), (100, 96)],
)
def test_length_norm_is_lossy_as_lucene_small_float(length: int, read_back: int) -> None:
    assert scoring.byte4_to_int(scoring.int_to_byte4(length)) == read_back


def test_match_scores_are_bm25(es: httpx.Client) -> None:
    body = search(es, {"query": {"match": {"title": "quick"}}})
    assert [d for d, _ in scores(body)] == ["d2", "d1"]
    got = dict(scores(body))
    assert got["d2"] == approx(QUICK["d2"]) and got["d1"] == approx(QUICK["d1"])
    assert got["d1"] == approx(math.log(1.6) * 0.4)  # tf = 1 / (1 + 1.2 * 1.25)
    assert body["hits"]["total"] == {"value": 2, "relation": "eq"}
    assert body["hits"]["max_score"] == got["d2"]


def test_length_quantization_shows_in_the_score(es: httpx.Client) -> None:
    """A 43-token document is scored as 42 tokens long (SmallFloat), not 43."""
    assert (
        es.put("/quant", json={"mappings": {"properties": {"t": {"type": "text"}}}}).status_code
        == 200
    )
    try:
        long_text = "zebra " + " ".join(f"w{i}" for i in range(42))
        lines = (json.dumps({"index": {"_id": "long"}}) + "\n" + json.dumps({"t": long_text}) + "\n"
                 + json.dumps({"index": {"_id": "short"}}) + "\n" + json.dumps({"t": "other"}) + "\n")  # fmt: skip
        assert (
            es.post("/quant/_bulk?refresh=true", content=lines, headers=NDJSON).status_code == 200
        )
        got = search(es, {"query": {"match": {"t": "zebra"}}}, "/quant/_search")["hits"]["hits"]
        avgdl = (43 + 1) / 2
        assert got[0]["_score"] == approx(idf(1, 2) * tf(1, 42, avgdl))
        assert got[0]["_score"] != approx(idf(1, 2) * tf(1, 43, avgdl))
    finally:
        es.delete("/quant")


def test_match_operator_and_minimum_should_match(es: httpx.Client) -> None:
    either = search(es, {"query": {"match": {"title": {"query": "quick cat"}}}})
    assert {d for d, _ in scores(either)} == {"d1", "d2", "d3"}
    both = search(es, {"query": {"match": {"title": {"query": "quick fox", "operator": "and"}}}})
    assert [d for d, _ in scores(both)] == ["d1"]
    assert scores(both)[0][1] == approx(QUICK["d1"] + FOX_TITLE)
    msm = search(es, {"query": {"match": {"title": {"query": "quick fox",
                                                    "minimum_should_match": "100%"}}}})  # fmt: skip
    assert [d for d, _ in scores(msm)] == ["d1"]


def test_term_keyword_is_exact_and_scored_without_norms(es: httpx.Client) -> None:
    body = search(es, {"query": {"term": {"tag": "animal"}}})
    assert scores(body) == [("d1", approx(ANIMAL)), ("d2", approx(ANIMAL))]
    assert search(es, {"query": {"term": {"tag": "Animal"}}})["hits"]["total"]["value"] == 0


def test_constant_score_queries(es: httpx.Client) -> None:
    for query, ids in [
        ({"terms": {"tag": ["pet", "x"]}}, ["d3"]),
        ({"range": {"n": {"gte": 5}}}, ["d2", "d3"]),
        ({"range": {"n": {"gt": 1, "lt": 10}}}, ["d2"]),
        ({"exists": {"field": "tag"}}, ["d1", "d2", "d3"]),
        ({"ids": {"values": ["d3", "d1"]}}, ["d1", "d3"]),
    ]:
        assert scores(search(es, {"query": query})) == [(i, 1.0) for i in ids], query
    boosted = search(es, {"query": {"range": {"n": {"gte": 10, "boost": 2.5}}}})
    assert scores(boosted) == [("d3", 2.5)]


def test_bool_sums_must_and_should_and_filters_score_nothing(es: httpx.Client) -> None:
    body = search(es, {"query": {"bool": {
        "must": [{"match": {"title": "quick"}}], "should": [{"term": {"tag": "animal"}}],
    }}})  # fmt: skip
    got = dict(scores(body))
    assert got["d2"] == approx(QUICK["d2"] + ANIMAL) and got["d1"] == approx(QUICK["d1"] + ANIMAL)
    only_filter = search(es, {"query": {"bool": {"filter": [{"term": {"tag": "animal"}}]}}})
    assert scores(only_filter) == [("d1", 0.0), ("d2", 0.0)]
    negative = search(es, {"query": {"bool": {"must_not": [{"term": {"tag": "animal"}}]}}})
    assert scores(negative) == [("d3", 0.0)]
    boosted = search(es, {"query": {"bool": {"must": [{"term": {"tag": "pet"}}], "boost": 2}}})
    assert scores(boosted)[0][1] == approx(2 * idf(1, 3) * tf(1, 1, 1))


@pytest.mark.parametrize("msm", [2, "-1", "67%"])  # of 3 should clauses: 2, 3-1, floor(2.01)
def test_bool_minimum_should_match(es: httpx.Client, msm: Any) -> None:
    body = search(es, {"query": {"bool": {"minimum_should_match": msm, "should": [
        {"term": {"tag": "animal"}}, {"match": {"title": "quick"}}, {"range": {"n": {"gte": 5}}},
    ]}}})  # fmt: skip
    # d1: animal + quick; d2: all three; d3: the range only
    assert {d for d, _ in scores(body)} == {"d1", "d2"}
    assert dict(scores(body))["d2"] == approx(ANIMAL + QUICK["d2"] + 1.0)


def test_multi_match_best_and_most_fields(es: httpx.Client) -> None:
    best = search(es, {"query": {"multi_match": {"query": "fox", "fields": ["title", "body"],
                                                 "tie_breaker": 0.3}}})  # fmt: skip
    d1_title, d1_body = FOX_TITLE, FOX_BODY["d1"]
    expected_d1 = max(d1_title, d1_body) + 0.3 * min(d1_title, d1_body)
    assert dict(scores(best)) == {"d1": approx(expected_d1), "d2": approx(FOX_BODY["d2"])}
    most = search(es, {"query": {"multi_match": {"query": "fox", "fields": ["title^2", "body"],
                                                 "type": "most_fields"}}})  # fmt: skip
    assert dict(scores(most))["d1"] == approx(2 * d1_title + d1_body)
    refused = es.post("/lex/_search", json={"query": {"multi_match": {
        "query": "fox", "fields": ["title"], "type": "cross_fields"}}})  # fmt: skip
    assert_error(refused, 501, "status_exception",
                 "The reference server does not model [multi_match] of type [cross_fields]")  # fmt: skip


def test_query_string_subset(es: httpx.Client) -> None:
    body = search(es, {"query": {"query_string": {"query": "quick fox", "default_field": "title",
                                                  "default_operator": "AND"}}})  # fmt: skip
    assert scores(body) == [("d1", approx(QUICK["d1"] + FOX_TITLE))]
    simple = search(es, {"query": {"simple_query_string": {"query": "quick", "fields": ["title"]}}})
    assert dict(scores(simple)) == {"d1": approx(QUICK["d1"]), "d2": approx(QUICK["d2"])}
    refused = es.post("/lex/_search", json={"query": {"query_string": {
        "query": "title:quick", "default_field": "title"}}})  # fmt: skip
    assert refused.status_code == 501 and "does not model" in refused.json()["error"]["reason"]


# -- retrievers ----------------------------------------------------------------------------
QUICK_RETRIEVER = {"standard": {"query": {"match": {"title": "quick"}}}}  # d2, d1
RANGE_RETRIEVER = {"standard": {"query": {"range": {"n": {"gte": 5}}}}}  # d2, d3 (const 1.0)


def test_rrf_scores_are_reciprocal_ranks(es: httpx.Client) -> None:
    body = search(es, {"retriever": {"rrf": {"retrievers": [QUICK_RETRIEVER, RANGE_RETRIEVER]}}})
    # d2: 1/61 + 1/61; d1: 1/62 (2nd of the match); d3: 1/62 (2nd of the range); tie → d1 first
    assert scores(body) == [("d2", approx(2 / 61)), ("d1", approx(1 / 62)), ("d3", approx(1 / 62))]
    constant = search(es, {"retriever": {"rrf": {"retrievers": [QUICK_RETRIEVER, RANGE_RETRIEVER],
                                                 "rank_constant": 1}}})  # fmt: skip
    assert scores(constant) == [("d2", approx(1.0)), ("d1", approx(1 / 3)), ("d3", approx(1 / 3))]
    window = search(es, {"size": 1, "retriever": {"rrf": {
        "retrievers": [QUICK_RETRIEVER, RANGE_RETRIEVER], "rank_window_size": 1}}})  # fmt: skip
    assert scores(window) == [("d2", approx(2 / 61))]
    assert window["hits"]["total"]["value"] == 3  # every document a child matched


def test_rrf_window_smaller_than_size_is_refused(es: httpx.Client) -> None:
    response = es.post("/lex/_search", json={"size": 20, "retriever": {"rrf": {
        "retrievers": [QUICK_RETRIEVER, RANGE_RETRIEVER]}}})  # fmt: skip
    assert_error(response, 400, "action_request_validation_exception",
                 "Validation Failed: 1: [rrf] requires [rank_window_size: 10] be greater than or "
                 "equal to [size: 20];")  # fmt: skip


def test_linear_weights_and_normalizers(es: httpx.Client) -> None:
    body = search(es, {"retriever": {"linear": {"retrievers": [
        {"retriever": QUICK_RETRIEVER, "weight": 2, "normalizer": "minmax"},
        {"retriever": RANGE_RETRIEVER, "weight": 1},
    ]}}})  # fmt: skip
    # minmax of the match: d2 → 1, d1 → 0; range: 1.0 each for d2, d3 (normalizer none)
    assert scores(body) == [("d2", approx(3.0)), ("d3", approx(1.0)), ("d1", approx(0.0))]
    l2 = search(es, {"retriever": {"linear": {"retrievers": [
        {"retriever": QUICK_RETRIEVER, "normalizer": "l2_norm"}]}}})  # fmt: skip
    norm = math.hypot(QUICK["d2"], QUICK["d1"])
    assert scores(l2) == [("d2", approx(QUICK["d2"] / norm)), ("d1", approx(QUICK["d1"] / norm))]


def test_retriever_filter_and_min_score(es: httpx.Client) -> None:
    body = search(es, {"retriever": {"rrf": {
        "retrievers": [QUICK_RETRIEVER, RANGE_RETRIEVER], "filter": {"term": {"tag": "animal"}},
    }}})  # fmt: skip
    assert [d for d, _ in scores(body)] == ["d2", "d1"]  # d3 filtered out of both children
    scored = search(es, {"query": {"match": {"title": "quick"}}, "min_score": QUICK["d1"] + 0.01})
    assert [d for d, _ in scores(scored)] == ["d2"] and scored["hits"]["total"]["value"] == 1


# -- fetch ---------------------------------------------------------------------------------
def test_source_filtering_and_fields(es: httpx.Client) -> None:
    query = {"query": {"ids": {"values": ["d1"]}}}
    assert "_source" not in search(es, {**query, "_source": False})["hits"]["hits"][0]
    hit = search(es, {**query, "_source": {"includes": ["t*"], "excludes": ["tag"]}})["hits"][
        "hits"
    ][0]
    assert hit["_source"] == {"title": "the quick brown fox"}
    response = es.post("/lex/_search?_source_includes=n,tag", json=query)
    assert response.json()["hits"]["hits"][0]["_source"] == {"tag": "animal", "n": 1}
    hit = search(es, {**query, "fields": ["tag", {"field": "title"}]})["hits"]["hits"][0]
    assert hit["fields"] == {"tag": ["animal"], "title": ["the quick brown fox"]}


def test_pagination_and_total(es: httpx.Client) -> None:
    body = search(es, {"query": {"match_all": {}}, "from": 1, "size": 1})
    assert [d for d, _ in scores(body)] == ["d2"] and body["hits"]["total"]["value"] == 3
    assert "total" not in search(es, {"track_total_hits": False})["hits"]


# -- refusals ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"knn": {"field": "v", "query_vector": [1.0], "k": 1}}, "[knn]"),
        ({"retriever": {"knn": {}}}, "[knn] retriever"),
        ({"retriever": {"text_similarity_reranker": {}}}, "[text_similarity_reranker] retriever"),
        ({"highlight": {"fields": {"title": {}}}}, "[semantic] highlighter (on field [title])"),
        ({"highlight": {"fields": {"title": {"type": "unified"}}}}, "[unified] highlighter"),
        ({"aggs": {"t": {"terms": {"field": "tag"}}}}, "[aggs]"),
        ({"query": {"text_expansion": {"body": {"model_text": "x", "model_id": "m",
                                                "pruning_config": {}}}}}, "[pruning_config]"),
        ({"retriever": {"rrf": {"retrievers": [{"retriever": QUICK_RETRIEVER, "weight": 2}]}}},
         "weighted component form"),
    ],
)  # fmt: skip
def test_not_modelled_is_refused_by_name(
    es: httpx.Client, body: dict[str, Any], named: str
) -> None:
    response = es.post("/lex/_search", json=body)
    assert response.status_code == 501, response.text
    reason = response.json()["error"]["reason"]
    assert reason.startswith("The reference server does not model") and named in reason


def test_unknown_elements_are_elasticsearch_errors(es: httpx.Client) -> None:
    assert_error(es.post("/lex/_search", json={"nope": 1}), 400, "parsing_exception",
                 "Unknown key for a VALUE_NUMBER in [nope].")  # fmt: skip
    assert_error(es.post("/lex/_search", json={"query": {"nope": {}}}), 400, "parsing_exception",
                 "unknown query [nope]")  # fmt: skip
    response = es.post("/lex/_search?q=quick", json={})
    assert_error(response, 501, "status_exception",
                 "The reference server does not model the search URL parameter [q]")  # fmt: skip
    both = es.post("/lex/_search", json={"query": {"match_all": {}}, "retriever": QUICK_RETRIEVER})
    assert_error(both, 400, "illegal_argument_exception", "cannot specify [retriever] and [query]")


# -- semantic: hybrid queries and the semantic highlighter ----------------------------------
@pytest.fixture(scope="module")
def semantic(es: httpx.Client) -> Iterator[str]:
    """An index with a semantic_text field chunked by 10 words, overlap 1 (chunks start every 9
    words) and a text field. Document "s": chunk 0 (words 0-9) holds "dough", chunk 2 (words
    18-27) "bakers knead dough"; "t" neither."""
    endpoint = {"service": "elasticsearch", "service_settings": {
        "model_id": ".elser_model_2_linux-x86_64", "num_allocations": 1, "num_threads": 1},
        "chunking_settings": {"strategy": "word", "max_chunk_size": 10, "overlap": 1}}  # fmt: skip
    assert es.put("/_inference/sparse_embedding/words10", json=endpoint).status_code == 200
    mapping = {"properties": {"content": {"type": "semantic_text", "inference_id": "words10"},
                              "title": {"type": "text"}}}  # fmt: skip
    assert es.put("/sem", json={"mappings": mapping}).status_code == 200
    words = [f"filler{i}" for i in range(30)]
    words[3], words[21], words[22], words[23] = "dough", "bakers", "knead", "dough"
    docs = {"s": {"content": " ".join(words), "title": "bread"},
            "t": {"content": "rivers meet the sea", "title": "bread and sea"}}  # fmt: skip
    lines = "".join(
        json.dumps({"index": {"_id": i}}) + "\n" + json.dumps(d) + "\n" for i, d in docs.items()
    )
    response = es.post("/sem/_bulk?refresh=true", content=lines, headers=NDJSON)
    assert response.json()["errors"] is False, response.text
    yield " ".join(words)
    es.delete("/sem")
    es.delete("/_inference/words10?force=true")


SEMANTIC = {"semantic": {"field": "content", "query": "bakers knead dough"}}


def test_hybrid_bool_sums_bm25_and_semantic(es: httpx.Client, semantic: str) -> None:
    lexical = dict(scores(search(es, {"query": {"match": {"title": "sea"}}}, "/sem/_search")))
    meaning = dict(scores(search(es, {"query": SEMANTIC}, "/sem/_search")))
    both = dict(scores(search(es, {"query": {"bool": {"should": [
        {"match": {"title": "sea"}}, SEMANTIC]}}}, "/sem/_search")))  # fmt: skip
    # "sea": in t's title only (N 2, df 1, title lengths 1 and 3, avgdl 2)
    assert lexical == {"t": approx(idf(1, 2) * tf(1, 3, 2))}
    assert set(both) == set(lexical) | set(meaning)
    for doc_id, score in both.items():
        assert score == approx(lexical.get(doc_id, 0.0) + meaning.get(doc_id, 0.0))


def test_hybrid_rrf_over_match_and_semantic(es: httpx.Client, semantic: str) -> None:
    body = search(es, {"retriever": {"rrf": {"retrievers": [
        {"standard": {"query": {"match": {"title": "bread"}}}}, {"standard": {"query": SEMANTIC}},
    ]}}}, "/sem/_search")  # fmt: skip
    # match "bread": s (title length 1) before t (length 3); semantic: s first (its words)
    got = scores(body)
    assert got[0] == ("s", approx(2 / 61))
    assert got[1][0] == "t"


@pytest.mark.parametrize(
    ("options", "chunks"),
    [({"number_of_fragments": 1}, [2]), ({"number_of_fragments": 2, "order": "score"}, [2, 0]),
     ({}, [0, 2]), ({"number_of_fragments": 0}, [2])],
)  # fmt: skip
def test_semantic_highlighter_returns_the_best_chunks(
    es: httpx.Client, semantic: str, options: dict[str, Any], chunks: list[int]
) -> None:
    """Chunk 2 holds every query word, chunk 0 only "dough" (same weight): chunk 2 scores more.
    Default 5 fragments in chunk order; 0 fragments means 1."""
    body = search(es, {"query": SEMANTIC, "highlight": {"fields": {"content": options}}},
                  "/sem/_search")  # fmt: skip
    hit = next(h for h in body["hits"]["hits"] if h["_id"] == "s")
    words = semantic.split()
    assert [s.split() for s in hit["highlight"]["content"]] == [
        words[c * 9 : c * 9 + 10] for c in chunks
    ]


def test_sparse_vector_weights_are_stored_as_lucene_feature_fields(es: httpx.Client) -> None:
    """A sparse_vector field's weights keep 8 significant bits (FeatureField: float bits >>> 15):
    0.3 is read back as (1 + 51/256) / 4 = 0.2998046875, 1.5 exactly; the query is Σ w × S."""
    assert (
        es.put(
            "/vec", json={"mappings": {"properties": {"v": {"type": "sparse_vector"}}}}
        ).status_code
        == 200
    )
    try:
        line = (
            json.dumps({"index": {"_id": "x"}})
            + "\n"
            + json.dumps({"v": {"a": 0.3, "b": 1.5}})
            + "\n"
        )
        assert (
            es.post("/vec/_bulk?refresh=true", content=line, headers=NDJSON).json()["errors"]
            is False
        )
        body = search(es, {"query": {"sparse_vector": {"field": "v", "query_vector": {"a": 2.0, "b": 1.0}}}},
                      "/vec/_search")  # fmt: skip
        score = body["hits"]["hits"][0]["_score"]
        assert score == pytest.approx(2 * 0.2998046875 + 1.5, rel=1e-7)
        assert score != pytest.approx(2 * 0.3 + 1.5, rel=1e-7)
    finally:
        es.delete("/vec")


def test_standard_analyzer_approximation() -> None:
    """UAX #29 word breaks on common text, worked out from the rules (WB6/7 MidLetter and
    MidNumLet inside words, WB11/12 MidNum inside numbers, WB13a ExtendNumLet joins, hyphens
    break, ideographs one by one); then lower case."""
    text = "Don't stop U.S.A. 3.14 1,000 wi-fi foo_bar 東京 Café's"
    assert scoring.analyze(text) == [
        "don't", "stop", "u.s.a", "3.14", "1,000", "wi", "fi", "foo_bar", "東", "京", "café's",
    ]  # fmt: skip


def test_statistics_follow_each_refresh(es: httpx.Client) -> None:
    """idf is the refreshed snapshot's: one document of one → ln(1 + 0.5/1.5); after a second
    document without the term, N = 2 → ln(1 + 1.5/1.5)."""
    assert (
        es.put("/stats", json={"mappings": {"properties": {"t": {"type": "text"}}}}).status_code
        == 200
    )
    try:
        for doc_id, text, expected in [("a", "kiwi", idf(1, 1) * tf(1, 1, 1)),
                                       ("b", "plum", idf(1, 2) * tf(1, 1, 1))]:  # fmt: skip
            line = json.dumps({"index": {"_id": doc_id}}) + "\n" + json.dumps({"t": text}) + "\n"
            assert (
                es.post("/stats/_bulk?refresh=true", content=line, headers=NDJSON).status_code
                == 200
            )
            hits = search(es, {"query": {"match": {"t": "kiwi"}}}, "/stats/_search")["hits"]["hits"]
            assert [(h["_id"], h["_score"]) for h in hits] == [("a", approx(expected))]
    finally:
        es.delete("/stats")


def test_mapping_parameters_that_change_scoring_are_refused(es: httpx.Client) -> None:
    # Refused where the mapping is given (rules/semantic_text.py MODELLED_PARAMS), naming it:
    # an index whose scores the reference server could not compute is never created.
    mapping = {"properties": {"t": {"type": "text", "analyzer": "english"}}}
    response = es.put("/analyzed", json={"mappings": mapping})
    assert_error(response, 400, "status_exception", "The reference server does not model the "
                 "parameter [analyzer] of a [text] field ([t]) in mappings")  # fmt: skip
    assert es.head("/analyzed").status_code == 404
