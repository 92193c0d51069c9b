"""The default objective's unloaded p99: fitted to what the probe's requests carried and applied
to the mix (capacity/unloaded.py), so it no longer swings with whether the probe drew a batch of
long passages.

The target here is an ``httpx.MockTransport`` whose latency is a known function of each
request's inputs and tokens, on a fake ``perf_counter``: deterministic, no port, no wait.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable

import httpx
import pytest

from elsercheck.capacity import deployment, unloaded
from elsercheck.capacity.command import Objective
from elsercheck.load.corpus import MAX_TOKENS, Corpus, Sampler, parse_mix
from elsercheck.load.options import DEFAULT_MIX
from elsercheck.runs.stats import percentile
from elsercheck.timebase import TimeBase
from elsercheck.timing import PRESETS

PER_INPUT_MS, PER_TOKEN_MS = 4.0, 0.6  # the fake target's unloaded latency
BATCH_SHARE = 0.1
CORPUS = Corpus.load(None)
TOKENS = {item.text: min(item.tokens, MAX_TOKENS) for name in CORPUS.counts()
          for item in CORPUS.bucket(name)}  # fmt: skip


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_target(
    clock: FakeClock, latency: Callable[[list[str]], float]
) -> httpx.Client:  # fmt: skip
    """A target that answers every inference after ``latency(inputs)`` ms of the fake clock;
    its stats API is not there (the probe does without the model time)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(404)
        inputs = json.loads(request.content)["input"]
        clock.now += latency(inputs if isinstance(inputs, list) else [inputs]) / 1000.0
        return httpx.Response(200, json={"sparse_embedding": []})

    return httpx.Client(base_url="http://fake", transport=httpx.MockTransport(handle))


def affine(inputs: list[str]) -> float:
    return sum(PER_INPUT_MS + PER_TOKEN_MS * TOKENS[text] for text in inputs)


def probe(seed: int, latency: Callable[[list[str]], float], monkeypatch: pytest.MonkeyPatch
          ) -> deployment.Probe:  # fmt: skip
    clock = FakeClock()
    monkeypatch.setattr(deployment.time, "perf_counter", clock)
    with fake_target(clock, latency) as client:
        return deployment.probe(client, "cell", DEFAULT_MIX, BATCH_SHARE, "", seed)


def true_p99_ms() -> float:
    """The mix's unloaded p99 on the fake target, from many draws."""
    draws = Sampler(CORPUS, parse_mix(DEFAULT_MIX), batch_share=BATCH_SHARE, seed="truth")
    values = sorted(affine(s.inputs) for s in itertools.islice(draws, 50_000))
    p99 = percentile(values, 99)
    assert p99 is not None
    return p99


def test_the_fitted_p99_is_the_mixs_whatever_the_probe_drew(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    truth = true_p99_ms()
    probes = [probe(seed, affine, monkeypatch) for seed in range(6)]
    fitted = [p.unloaded_p99_ms for p in probes]
    assert all(p.mix_p99_ms is not None for p in probes)
    # The same fit applied to the same draws: one objective, whatever the probe drew; and
    # the mix's (another seed's draws: within their quantile noise at a steep p99).
    assert max(fitted) / min(fitted) < 1.01, fitted
    assert all(abs(value / truth - 1) <= 0.1 for value in fitted), (truth, fitted)
    # What it replaces: the second-largest of 40 latencies, which swings with the draws.
    sampled = [p.p99_latency_ms for p in probes]
    assert max(sampled) / min(sampled) > 2, sampled


def test_a_target_whose_latency_is_not_what_it_carries_keeps_the_sample_p99(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(7)
    measured = probe(0, lambda _inputs: rng.uniform(10, 400), monkeypatch)
    assert measured.mix_p99_ms is None
    assert measured.unloaded_p99_ms == measured.p99_latency_ms


def test_the_objective_says_where_its_p99_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = TimeBase.of(PRESETS["fast"])
    fitted = probe(3, affine, monkeypatch)
    objective = Objective(None, "")
    slo = objective.settle(fitted, clock, "1 allocation(s) × 1 thread(s)")
    assert fitted.mix_p99_ms is not None
    assert slo >= 2 * clock.to_cluster(fitted.mix_p99_ms)
    assert "fitted to the probe" in objective.source
    assert f"{unloaded.MIX_DRAWS:,} draws of the mix" in objective.source
    given = Objective(800.0, "given")
    assert given.settle(fitted, clock, "cell") == 800.0 and given.source == "given"


@pytest.mark.parametrize(
    ("observations", "expected"),
    [
        # exact affine data: both coefficients recovered
        ([(n, t, 4.0 * n + 0.5 * t) for n, t in [(1, 10), (1, 80), (3, 40), (2, 300)] * 3],
         (4.0, 0.5)),
        # latency by tokens only: the per-input coefficient is not made negative
        ([(n, t, 0.5 * t) for n, t in [(1, 10), (1, 80), (3, 40), (2, 300)] * 3], (0.0, 0.5)),
        # no batch among them (inputs always 1): the per-input term is the intercept
        ([(1, t, 9.0 + 0.25 * t) for t in range(5, 200, 15)], (9.0, 0.25)),
    ],
)  # fmt: skip
def test_fit(observations: list[tuple[int, int, float]], expected: tuple[float, float]) -> None:
    found = unloaded.fit(observations)
    assert found is not None and found.r2 > 0.99
    assert (found.per_input_ms, found.per_token_ms) == pytest.approx(expected)


def test_too_few_requests_give_no_fit() -> None:
    assert unloaded.fit([(1, 10, 5.0)] * (unloaded.MIN_REQUESTS - 1)) is None


def test_the_deployments_work_is_fitted_to_each_requests_model_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Weights of the saturation point: the stats API's model time, read after each probe
    request, gives the per-input and per-token work exactly; the latency (model time plus a
    jittery HTTP round trip) gives a slope that is off."""
    model_input_ms, model_token_ms = 1.0, 0.136  # the embedded server's on the fast timing
    clock, rng = FakeClock(), random.Random(5)
    served = {"count": 0, "total_ms": 0.0}

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # the stats API: two nodes, counts and mean model time
            count, total = served["count"], served["total_ms"]
            nodes = [{"inference_count": count - count // 2,
                      "average_inference_time_ms": total / count if count else 0.0},
                     {"inference_count": count // 2,
                      "average_inference_time_ms": total / count if count else 0.0}]  # fmt: skip
            stats = {"deployment_id": "cell", "nodes": nodes}
            return httpx.Response(200, json={"trained_model_stats": [{"deployment_stats": stats}]})
        inputs = json.loads(request.content)["input"]
        inputs = inputs if isinstance(inputs, list) else [inputs]
        model = sum(model_input_ms + model_token_ms * TOKENS[text] for text in inputs)
        served["count"] += len(inputs)
        served["total_ms"] += model
        clock.now += (model + 3.0 + rng.expovariate(1 / 4.0)) / 1000.0  # round trip, jitter
        return httpx.Response(200, json={"sparse_embedding": []})

    monkeypatch.setattr(deployment.time, "perf_counter", clock)
    client = httpx.Client(base_url="http://fake", transport=httpx.MockTransport(handle))
    with client:
        measured = deployment.probe(client, "cell", DEFAULT_MIX, BATCH_SHARE, "", 0)
    assert measured.work_fit is not None and measured.fit is not None
    assert measured.work_ms() == pytest.approx((model_input_ms, model_token_ms), rel=1e-6)
    assert measured.fit.per_token_ms != pytest.approx(model_token_ms, rel=1e-3)
    # Without the stats API: the latency fit's slope, as before.
    assert probe(0, affine, monkeypatch).work_fit is None
