"""The bundled load-test corpus, the token estimator, mixes and the request sampler."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest

from elsercheck.load.corpus import (
    BUCKETS,
    DEFAULT_SHARES,
    FILES,
    MAX_TOKENS,
    Corpus,
    Item,
    Mix,
    Sampler,
    bucket_of,
    default_directory,
    estimate_tokens,
    parse_batch_sizes,
    parse_mix,
)
from elsercheck.paths import resource_dir

CORPUS_DIR = resource_dir("loadtests") / "corpus"
MAX_CORPUS_BYTES = 400_000


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus.load()


def write_corpus(directory: Path, queries: str, passages: str = "") -> Path:
    (directory / "queries.jsonl").write_text(queries, encoding="utf-8")
    (directory / "passages.jsonl").write_text(passages, encoding="utf-8")
    return directory


# --- the bundled files ------------------------------------------------------------------------


def test_default_directory_is_the_bundled_corpus() -> None:
    assert default_directory() == CORPUS_DIR
    assert (CORPUS_DIR / "README.md").is_file()


@pytest.mark.parametrize("name", FILES)
def test_files_are_utf8_jsonl_objects_with_id_and_text(name: str) -> None:
    raw = (CORPUS_DIR / name).read_bytes()
    text = raw.decode("utf-8")  # raises on anything else
    assert text.endswith("\n") and "\r" not in text
    lines = text.splitlines()
    assert len(lines) >= 50
    for line in lines:
        record = json.loads(line)
        assert isinstance(record, dict)
        assert isinstance(record["id"], str) and record["id"]
        assert isinstance(record["text"], str) and record["text"].strip() == record["text"]


def test_ids_are_unique_across_files() -> None:
    ids = [
        json.loads(line)["id"]
        for name in FILES
        for line in (CORPUS_DIR / name).read_text(encoding="utf-8").splitlines()
    ]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicates


def test_total_size_is_bounded() -> None:
    total = sum(path.stat().st_size for path in CORPUS_DIR.iterdir())
    assert total < MAX_CORPUS_BYTES


def test_sizes_are_as_documented(corpus: Corpus) -> None:
    sources = Counter(item.source for item in corpus.items)
    assert 140 <= sources["queries.jsonl"] <= 170
    assert 55 <= sources["passages.jsonl"] <= 80
    query_words = [len(i.text.split()) for i in corpus.items if i.source == "queries.jsonl"]
    assert min(query_words) >= 2 and max(query_words) <= 15
    passage_words = [len(i.text.split()) for i in corpus.items if i.source == "passages.jsonl"]
    assert min(passage_words) >= 20 and max(passage_words) <= 750


@pytest.mark.parametrize("bucket", BUCKETS)
def test_every_bucket_has_at_least_ten_items(corpus: Corpus, bucket: str) -> None:
    assert len(corpus.bucket(bucket)) >= 10, corpus.counts()


def test_items_carry_their_estimate_and_bucket(corpus: Corpus) -> None:
    assert len(corpus) == sum(corpus.counts().values())
    for item in corpus.items:
        assert item.tokens == estimate_tokens(item.text)
        assert item.bucket == bucket_of(item.tokens)
        assert item in corpus.bucket(item.bucket)


def test_passages_are_not_queries(corpus: Corpus) -> None:
    # A passage in the query bucket would make "query" traffic look longer than searches.
    assert all(item.source == "queries.jsonl" for item in corpus.bucket("query"))


def test_module_imports_neither_locust_nor_the_reference_server() -> None:
    # In a fresh interpreter: this test process may have imported both for other tests.
    code = (
        "import sys, elsercheck.load.corpus; "
        "print(sorted(m for m in sys.modules if m.startswith(('locust', 'elsercheck.reference'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- loading errors --------------------------------------------------------------------------


def test_load_reads_any_directory(tmp_path: Path) -> None:
    write_corpus(
        tmp_path,
        '{"id": "a", "text": "reset vpn password"}\n\n',
        '{"id": "b", "text": "' + "word " * 40 + 'end", "kind": "kb"}\n',
    )
    loaded = Corpus.load(tmp_path)
    assert [i.id for i in loaded.items] == ["a", "b"]
    assert [i.bucket for i in loaded.items] == ["query", "short"]
    assert [i.source for i in loaded.items] == ["queries.jsonl", "passages.jsonl"]


def test_missing_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "queries.jsonl").write_text('{"id": "a", "text": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"corpus file missing: .*passages\.jsonl"):
        Corpus.load(tmp_path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"queries\.jsonl:2: not valid JSON"),
        ('["id", "text"]', r"queries\.jsonl:2: expected a JSON object"),
        ('{"text": "no id"}', r"queries\.jsonl:2: 'id' must be a non-empty string"),
        ('{"id": 7, "text": "numeric id"}', r"queries\.jsonl:2: 'id' must be a non-empty string"),
        ('{"id": "b"}', r"queries\.jsonl:2: 'text' must be a non-empty string"),
        ('{"id": "b", "text": "  "}', r"queries\.jsonl:2: 'text' must be a non-empty string"),
        ('{"id": "a", "text": "same id"}', r"duplicate corpus id 'a'"),
    ],
)
def test_malformed_line_is_located(tmp_path: Path, line: str, message: str) -> None:
    write_corpus(tmp_path, '{"id": "a", "text": "first"}\n' + line + "\n")
    with pytest.raises(ValueError, match=message):
        Corpus.load(tmp_path)


def test_non_utf8_file_is_named(tmp_path: Path) -> None:
    write_corpus(tmp_path, "")
    (tmp_path / "passages.jsonl").write_bytes(b'{"id": "a", "text": "caf\xe9"}\n')
    with pytest.raises(ValueError, match=r"passages\.jsonl: not UTF-8"):
        Corpus.load(tmp_path)


# --- the token estimator ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 2),  # [CLS] and [SEP] only
        ("hello", 3),
        ("Hello, world!", 6),  # bert-base-uncased: hello , world ! (4) + 2
        ("The quick brown fox jumps over the lazy dog.", 12),  # bert-base-uncased: 10 + 2
        ("2024-05-01 error 404", 10),  # bert-base-uncased: 202 ##4 - 05 - 01 error 404 (8) + 2
        ("snake_case", 5),  # underscore is punctuation for BERT: snake _ case
        ("检索", 4),  # CJK ideographs are one token each
    ],
)
def test_estimate_on_known_strings(text: str, expected: int) -> None:
    assert estimate_tokens(text) == expected


def test_long_words_count_more_than_one_piece() -> None:
    assert estimate_tokens("a") == estimate_tokens("internationalisation") - 2
    assert estimate_tokens("x" * 80) == 2 + 10
    assert estimate_tokens("1234567890") > estimate_tokens("abcdefghij")


def test_estimate_grows_with_text(corpus: Corpus) -> None:
    text = corpus.bucket("xlong")[0].text
    previous = estimate_tokens("")
    for end in range(0, len(text), 97):
        current = estimate_tokens(text[:end].rsplit(" ", 1)[0])
        assert current >= previous
        previous = current
    doubled = estimate_tokens(text + " " + text)
    assert doubled == 2 * estimate_tokens(text) - 2


def test_estimate_is_about_english_wordpiece_density(corpus: Corpus) -> None:
    # bert-base-uncased gives 1.08-1.91 tokens per word on these passages (the most with
    # logs and code); far outside that range, the estimator is broken.
    for item in corpus.items:
        if item.source == "passages.jsonl":
            words = len(item.text.split())
            assert 1.0 * words <= item.tokens - 2 <= 1.9 * words, item.id


# --- buckets ---------------------------------------------------------------------------------


def test_buckets_tile_all_token_counts() -> None:
    bounds = list(BUCKETS.values())
    assert bounds[0][0] == 0 and bounds[-1][1] is None
    for (_, high), (low, _) in pairwise(bounds):
        assert high is not None and low == high + 1
    assert BUCKETS["long"][1] == MAX_TOKENS  # "xlong" is exactly what ELSER truncates


@pytest.mark.parametrize(
    ("tokens", "bucket"),
    [(0, "query"), (16, "query"), (17, "short"), (64, "short"), (65, "medium"),
     (256, "medium"), (257, "long"), (512, "long"), (513, "xlong"), (10**6, "xlong")],
)  # fmt: skip
def test_bucket_bounds_are_inclusive(tokens: int, bucket: str) -> None:
    assert bucket_of(tokens) == bucket


def test_unknown_bucket_is_an_error(corpus: Corpus) -> None:
    with pytest.raises(ValueError, match="unknown bucket 'huge'"):
        corpus.bucket("huge")


# --- mixes -----------------------------------------------------------------------------------


def test_default_mix() -> None:
    mix = Mix()
    assert dict(mix.shares) == pytest.approx(dict(DEFAULT_SHARES))
    assert sum(mix.shares.values()) == pytest.approx(1)
    assert parse_mix(str(mix)) == mix


def test_parse_mix_normalises_and_keeps_bucket_order() -> None:
    mix = parse_mix(" long=3, query = 1 ,short=0,")
    assert list(mix.shares) == ["query", "long"]  # zero shares dropped
    assert mix.shares["query"] == pytest.approx(0.25)
    assert mix.shares["long"] == pytest.approx(0.75)
    assert str(mix) == "query=0.25,long=0.75"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"empty mix"),
        ("query", r"'query' is not <bucket>=<share>"),
        ("=0.5", r"'=0.5' is not <bucket>=<share>"),
        ("query=0.5,huge=0.5", r"unknown bucket 'huge' in mix; buckets: query, short, medium"),
        ("query=lots", r"share of 'query' is not a number: 'lots'"),
        ("query=0.5,short=-0.1", r"share of 'short' must be a finite number >= 0, got -0.1"),
        ("query=nan", r"share of 'query' must be a finite number"),
        ("query=0,long=0", r"mix has no positive share"),
        ("query=1,query=2", r"bucket 'query' appears twice"),
    ],
)
def test_parse_mix_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mix(text)


def test_parse_batch_sizes() -> None:
    assert parse_batch_sizes("2-10") == tuple(range(2, 11))
    assert parse_batch_sizes("4, 8,10") == (4, 8, 10)
    with pytest.raises(ValueError, match=r"expected e\.g\. '2-10'"):
        parse_batch_sizes("10-2")
    with pytest.raises(ValueError, match="must be >= 2"):
        parse_batch_sizes("1-4")


# --- sampling --------------------------------------------------------------------------------


def draw(sampler: Sampler, n: int) -> list:
    return [sampler.next() for _ in range(n)]


def test_bucket_shares_converge_to_the_mix(corpus: Corpus) -> None:
    mix = parse_mix("query=0.5,short=0.2,medium=0.15,long=0.1,xlong=0.05")
    samples = draw(Sampler(corpus, mix, batch_share=0.2, seed=7), 20_000)
    counts = Counter(s.bucket for s in samples)
    for bucket, share in mix.shares.items():
        assert counts[bucket] / len(samples) == pytest.approx(share, abs=0.015), bucket


def test_buckets_left_out_of_the_mix_never_appear(corpus: Corpus) -> None:
    samples = draw(Sampler(corpus, parse_mix("query=1,xlong=1"), seed=1), 2_000)
    assert {s.bucket for s in samples} == {"query", "xlong"}


def test_batch_share_is_respected(corpus: Corpus) -> None:
    samples = draw(Sampler(corpus, batch_share=0.3, batch_sizes=(2, 5, 10), seed=3), 20_000)
    batches = [s for s in samples if s.batched]
    assert len(batches) / len(samples) == pytest.approx(0.3, abs=0.015)
    assert {len(s.inputs) for s in batches} == {2, 5, 10}
    assert all(len(s.inputs) == 1 for s in samples if not s.batched)
    # batches follow the same mix as single requests
    batch_buckets = Counter(s.bucket for s in batches)
    assert batch_buckets["query"] / len(batches) == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_batch_share_extremes(corpus: Corpus, share: float) -> None:
    samples = draw(Sampler(corpus, batch_share=share, seed=5), 500)
    assert all(s.batched is bool(share) for s in samples)


def test_sample_fields_agree(corpus: Corpus) -> None:
    by_id = {item.id: item for item in corpus.items}
    for s in draw(Sampler(corpus, batch_share=0.5, seed=11), 2_000):
        items = [by_id[i] for i in s.ids]
        assert s.inputs == [item.text for item in items]
        assert {item.bucket for item in items} == {s.bucket}
        assert s.tokens == sum(min(item.tokens, MAX_TOKENS) for item in items)
        assert s.name == (f"batch-{s.bucket}" if s.batched else s.bucket)
        if s.batched:
            assert len(set(s.ids)) == len(s.ids)  # every bucket holds >= 10 distinct items


def test_xlong_tokens_are_capped_at_the_window(corpus: Corpus) -> None:
    sampler = Sampler(corpus, parse_mix("xlong=1"), batch_share=0, seed=2)
    assert all(s.tokens == MAX_TOKENS for s in draw(sampler, 50))


def test_stats_names_are_few(corpus: Corpus) -> None:
    names = {s.name for s in draw(Sampler(corpus, batch_share=0.5, seed=4), 5_000)}
    assert names == set(BUCKETS) | {f"batch-{b}" for b in BUCKETS}


def test_same_seed_same_sequence(corpus: Corpus) -> None:
    def run(seed: int) -> list[tuple[str, ...]]:
        return [s.ids for s in draw(Sampler(corpus, batch_share=0.3, seed=seed), 300)]

    assert run(42) == run(42)
    assert run(42) != run(43)


def test_sampler_is_an_iterator(corpus: Corpus) -> None:
    sampler = Sampler(corpus, seed=9)
    first = next(iter(sampler))
    assert first == Sampler(corpus, seed=9).next()


def test_batches_larger_than_a_bucket_repeat_items() -> None:
    tiny = Corpus([Item.of("a", "reset password"), Item.of("b", "vpn login")])
    sample = Sampler(tiny, parse_mix("query=1"), batch_share=1, batch_sizes=(5,), seed=0).next()
    assert len(sample.inputs) == 5 and set(sample.ids) <= {"a", "b"}


def test_empty_bucket_with_a_share_is_an_error() -> None:
    tiny = Corpus([Item.of("a", "reset password")])
    with pytest.raises(ValueError, match=r"asks for bucket 'short', 'long' but the corpus has no"):
        Sampler(tiny, parse_mix("query=1,short=1,long=1"))
    Sampler(tiny, parse_mix("query=1,short=0"))  # a zero share needs no items


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_share": 1.5}, r"batch share must be between 0 and 1, got 1.5"),
        ({"batch_share": -0.1}, r"batch share must be between 0 and 1"),
        ({"batch_sizes": ()}, r"no batch sizes given"),
        ({"batch_sizes": (1, 4)}, r"batch sizes must be >= 2"),
    ],
)
def test_sampler_argument_errors(corpus: Corpus, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Sampler(corpus, **kwargs)
