"""The text the load test's inference user sends, and how it picks each request's inputs.

The corpus is ``loadtests/corpus/*.jsonl`` (one ``{"id": ..., "text": ...}`` object per line):
short search queries and passages from a few words up to ~700 words. Every item gets an
estimated token count and a length *bucket* from :data:`BUCKETS`; a :class:`Sampler` then draws
requests so that buckets appear in the shares of a :class:`Mix`, some requests carrying a
batch of several inputs.

Stats names (``Sample.name``) are the bucket for a single input (``"medium"``) and
``"batch-<bucket>"`` for a batch (``"batch-medium"``): at most ``2 * len(BUCKETS)`` names,
never the batch size, so locust's tables stay short.

Nothing here imports locust; the locust user only calls :meth:`Sampler.next`.
"""

from __future__ import annotations

import json
import math
import random
import re
import statistics
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from types import MappingProxyType

from elsercheck.paths import resource_dir
from elsercheck.runs import rundir

MAX_TOKENS = 512  # ELSER's window, [CLS] and [SEP] included; the server truncates the rest
SPECIAL_TOKENS = 2  # [CLS] and [SEP]

# The length buckets (the run format's request names: runs/rundir.py holds the table).
BUCKETS = rundir.BUCKETS

FILES = ("queries.jsonl", "passages.jsonl")  # the corpus files, each required

# What a request mostly looks like: searches are short and frequent; passages are what
# ingest (semantic_text) sends; a few pass ELSER's window to exercise truncation.
DEFAULT_SHARES: Mapping[str, float] = MappingProxyType(
    {"query": 0.5, "short": 0.2, "medium": 0.2, "long": 0.08, "xlong": 0.02}
)
DEFAULT_BATCH_SHARE = 0.1
# Elasticsearch's own service sends semantic_text chunks to the model 10 at a time
# (ElasticsearchInternalService.EMBEDDING_MAX_BATCH_SIZE).
DEFAULT_BATCH_SIZES = tuple(range(2, 11))

# BERT's basic tokenizer: CJK ideographs are single tokens, runs of letters and digits are
# words, every other non-space character (underscore included) is a token of its own.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+|[^\w\s]|_")
_DIGIT = re.compile(r"\d")


def _pieces(word: str) -> int:
    # WordPiece keeps common words whole and splits rarer, longer ones: one piece per 8
    # characters matches business English well. Numbers split sooner ("2024" -> "202", "##4").
    per_piece = 3 if _DIGIT.search(word) else 8
    return 1 + (len(word) - 1) // per_piece


def estimate_tokens(text: str) -> int:
    """Estimated BERT WordPiece tokens of ``text``, [CLS] and [SEP] included, not capped.

    An estimate, not ELSER's tokenizer (no vocabulary is shipped): words and punctuation
    count one token each, long words and numbers a few more. On the bundled passages it is
    within about 17% of bert-base-uncased's count; on a short query with rare names it may
    miss by a few tokens (``loadtests/corpus/README.md``).
    """
    return sum(_pieces(token) for token in _TOKEN.findall(text)) + SPECIAL_TOKENS


def default_directory() -> Path:
    """The bundled corpus: ``loadtests/corpus`` of the checkout, or of the installed wheel."""
    return resource_dir("loadtests") / "corpus"


def bucket_of(tokens: int) -> str:
    """The name of the :data:`BUCKETS` entry that holds ``tokens``."""
    for name, (low, high) in BUCKETS.items():
        if tokens >= low and (high is None or tokens <= high):
            return name
    raise ValueError(f"no bucket holds {tokens} tokens")


@dataclass(frozen=True)
class Item:
    """One text of the corpus, with its estimated tokens and bucket."""

    id: str
    text: str
    tokens: int
    bucket: str
    source: str = ""  # the file it came from, e.g. "queries.jsonl"

    @classmethod
    def of(cls, id: str, text: str, source: str = "") -> Item:
        """An item for ``text``, its tokens and bucket computed."""
        tokens = estimate_tokens(text)
        return cls(id=id, text=text, tokens=tokens, bucket=bucket_of(tokens), source=source)


class Corpus:
    """Texts grouped by bucket. Ids are unique."""

    def __init__(self, items: Iterable[Item]) -> None:
        self.items: tuple[Item, ...] = tuple(items)
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"duplicate corpus id {item.id!r}")
            seen.add(item.id)
        self._by_bucket = {
            name: tuple(i for i in self.items if i.bucket == name) for name in BUCKETS
        }

    @classmethod
    def load(cls, directory: str | Path | None = None) -> Corpus:
        """Load :data:`FILES` from ``directory`` (default: the bundled ``loadtests/corpus``).

        Raises ``ValueError`` naming the file (and line) when a file is missing, is not UTF-8,
        or a line is not a JSON object with non-empty strings ``id`` and ``text``.
        """
        directory = Path(directory) if directory is not None else default_directory()
        items: list[Item] = []
        for name in FILES:
            items.extend(_read_jsonl(directory / name))
        return cls(items)

    def bucket(self, name: str) -> tuple[Item, ...]:
        """The items of bucket ``name`` (empty when it has none)."""
        if name not in BUCKETS:
            raise ValueError(f"unknown bucket {name!r}; buckets: {', '.join(BUCKETS)}")
        return self._by_bucket[name]

    def counts(self) -> dict[str, int]:
        """Items per bucket, in :data:`BUCKETS` order."""
        return {name: len(items) for name, items in self._by_bucket.items()}

    def __len__(self) -> int:
        return len(self.items)


def _read_jsonl(path: Path) -> Iterator[Item]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ValueError(f"corpus file missing: {path}") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{where}: not valid JSON: {e.msg}") from None
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected a JSON object")
        id_, text = record.get("id"), record.get("text")
        if not isinstance(id_, str) or not id_:
            raise ValueError(f"{where}: 'id' must be a non-empty string")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{where}: 'text' must be a non-empty string")
        yield Item.of(id_, text, source=path.name)


@dataclass(frozen=True)
class Mix:
    """Shares of the buckets among requests, normalised to sum to 1.

    Zero shares are dropped; negative shares, unknown buckets and an all-zero mix are errors.
    ``str(mix)`` gives the form :func:`parse_mix` reads.
    """

    shares: Mapping[str, float] = field(default_factory=lambda: DEFAULT_SHARES)

    def __post_init__(self) -> None:
        unknown = [name for name in self.shares if name not in BUCKETS]
        if unknown:
            raise ValueError(
                f"unknown bucket {', '.join(map(repr, unknown))} in mix; "
                f"buckets: {', '.join(BUCKETS)}"
            )
        for name, share in self.shares.items():
            if not math.isfinite(share) or share < 0:
                raise ValueError(f"share of {name!r} must be a finite number >= 0, got {share}")
        total = sum(self.shares.values())
        if total <= 0:
            raise ValueError("mix has no positive share")
        normalised = {n: self.shares[n] / total for n in BUCKETS if self.shares.get(n, 0) > 0}
        # frozen: the normalised table replaces the given one once, here
        object.__setattr__(self, "shares", MappingProxyType(normalised))

    def __str__(self) -> str:
        return ",".join(f"{name}={share:.4g}" for name, share in self.shares.items())


def parse_mix(text: str) -> Mix:
    """Read a mix from a CLI string such as ``"query=0.5,short=0.2,long=0.3"``.

    Shares are relative (``"query=1,long=1"`` is half and half); buckets left out get none.
    """
    shares: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"mix entry {part.strip()!r} is not <bucket>=<share>")
        if name in shares:
            raise ValueError(f"bucket {name!r} appears twice in the mix")
        try:
            shares[name] = float(value)
        except ValueError:
            raise ValueError(f"share of {name!r} is not a number: {value.strip()!r}") from None
    if not shares:
        raise ValueError("empty mix; expected e.g. 'query=0.5,short=0.2,long=0.3'")
    return Mix(shares)


def parse_batch_sizes(text: str) -> tuple[int, ...]:
    """Read batch sizes from a CLI string: ``"2-10"`` (a range, inclusive) or ``"4,8,10"``."""
    try:
        if "-" in text:
            low, _, high = text.partition("-")
            sizes = tuple(range(int(low), int(high) + 1))
        else:
            sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        sizes = ()
    if not sizes:
        raise ValueError(f"batch sizes {text!r}: expected e.g. '2-10' or '4,8,10'")
    return _check_batch_sizes(sizes)


def _check_batch_sizes(sizes: Iterable[int]) -> tuple[int, ...]:
    sizes = tuple(sizes)
    if not sizes:
        raise ValueError("no batch sizes given")
    if any(size < 2 for size in sizes):
        raise ValueError(f"batch sizes must be >= 2 (a batch has several inputs), got {sizes}")
    return sizes


@dataclass(frozen=True)
class Sample:
    """The inputs of one inference request.

    ``bucket`` is the bucket of every input (a batch draws all its inputs from one bucket);
    ``tokens`` sums the inputs' estimated tokens, each capped at :data:`MAX_TOKENS` as the
    server truncates; ``name`` is the stats name: ``bucket``, or ``"batch-" + bucket``.
    """

    inputs: list[str]
    ids: tuple[str, ...]
    bucket: str
    batched: bool
    tokens: int

    @property
    def name(self) -> str:
        """The stats name: the bucket, prefixed ``batch-`` for a batch."""
        return f"batch-{self.bucket}" if self.batched else self.bucket


def expected_per_request(
    corpus: Corpus, mix: Mix, batch_share: float, value: Callable[[Item], float],
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
) -> float:  # fmt: skip
    """The expectation of ``value`` summed over a request's inputs, as :class:`Sampler` draws
    them: computed exactly, not sampled (a sample of a mix whose rare batches of long passages
    carry much of its tokens is off by per cents). A bucket in the mix's shares, then one item
    or a batch of items of it (size uniform over ``batch_sizes``; distinct items, each
    uniform): the shares' mean of each bucket's mean value, times the mean inputs."""
    total = math.fsum(mix.shares.values())
    per_input = math.fsum(
        share / total * statistics.fmean(value(item) for item in corpus.bucket(name))
        for name, share in mix.shares.items()
    )
    return per_input * ((1 - batch_share) + batch_share * statistics.fmean(batch_sizes))


class Sampler:
    """Draws samples: buckets in the shares of ``mix``, items uniformly within one.

    A request is a batch with probability ``batch_share``; its size is drawn uniformly from
    ``batch_sizes`` and its inputs are distinct items of one bucket (repeated only when the
    bucket has fewer items than the batch). The same ``seed`` gives the same sequence, so
    give each simulated user its own seed (e.g. run seed + user number).
    """

    def __init__(
        self,
        corpus: Corpus,
        mix: Mix | None = None,
        batch_share: float = DEFAULT_BATCH_SHARE,
        batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
        seed: int | str | None = None,
    ) -> None:
        self.mix = mix if mix is not None else Mix()
        empty = [name for name in self.mix.shares if not corpus.bucket(name)]
        if empty:
            raise ValueError(
                f"the mix asks for bucket {', '.join(map(repr, empty))} but the corpus has no "
                f"items there (items per bucket: {corpus.counts()})"
            )
        if not 0 <= batch_share <= 1:
            raise ValueError(f"batch share must be between 0 and 1, got {batch_share}")
        self.batch_share = batch_share
        self.batch_sizes = _check_batch_sizes(batch_sizes)
        self._pools = {name: corpus.bucket(name) for name in self.mix.shares}
        self._names = tuple(self.mix.shares)
        self._cum_weights = tuple(accumulate(self.mix.shares.values()))
        self._rng = random.Random(seed)

    def next(self) -> Sample:
        """The next request's inputs."""
        rng = self._rng
        bucket = rng.choices(self._names, cum_weights=self._cum_weights)[0]
        pool = self._pools[bucket]
        batched = rng.random() < self.batch_share
        if batched:
            size = rng.choice(self.batch_sizes)
            items = rng.sample(pool, size) if size <= len(pool) else rng.choices(pool, k=size)
        else:
            items = [rng.choice(pool)]
        return Sample(
            inputs=[item.text for item in items],
            ids=tuple(item.id for item in items),
            bucket=bucket,
            batched=batched,
            tokens=sum(min(item.tokens, MAX_TOKENS) for item in items),
        )

    def __iter__(self) -> Iterator[Sample]:
        return self

    def __next__(self) -> Sample:
        return self.next()
