"""Load, capacity and the gate against EIS endpoints: the load's EIS checks (load/eis.py), the
EIS-versus-ML-node comparison with figures worked out by hand (capacity/eis.py), and ``--eis``
on the commands that start an embedded server."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from elsercheck.capacity import eis as compare
from elsercheck.capacity.command import CapacityUsageError, add_options, check
from elsercheck.capacity.recommend import (
    CostEstimate,
    MeasuredCapacity,
    Reasoned,
    Recommendation,
)
from elsercheck.capacity.traffic import parse_traffic
from elsercheck.cli import build_parser
from elsercheck.commands import options as shared
from elsercheck.commands import target as target_command
from elsercheck.load import eis
from elsercheck.load.expectations import RunRecord, check_all, exit_code
from elsercheck.load.plans import TIMING_PROFILES, build_plan
from elsercheck.reference.config import EisLimits
from elsercheck.timebase import TimeBase

FAST = TIMING_PROFILES["fast"]
CONSTANT = build_plan("constant", FAST, 2)


def row(kind: str, status: int, tokens: int, retry_after: str = "", **extra: Any) -> dict:
    return {"request_type": kind, "status": status, "tokens": tokens,
            "error_kind": "" if status == 200 else str(status), "retry_after": retry_after,
            "elapsed_s": 1.0, **extra}  # fmt: skip


# -- the load's checks ------------------------------------------------------------------------
def test_usage_counts_offered_and_admitted_per_usage_context() -> None:
    rows = [
        row("POST", 200, 100), row("POST", 429, 50, "7"),
        row("SEARCH", 200, 10), row("SEARCH", 429, 12, ""),
        row("BULK", 200, 400, documents=4, acknowledged=3),
        {**row("POST", 0, 30), "error_kind": "backlog"},  # never sent: not offered
        row("LIFECYCLE", 200, 0),
    ]  # fmt: skip
    found = eis.usage(rows)
    assert found["unspecified"] == eis.ContextUsage("unspecified", 2, 1, 150, 100, 1, 1)
    assert found["search"] == eis.ContextUsage("search", 2, 1, 22, 10, 1, 0)
    # 3 of 4 documents acknowledged: 300 of 400 tokens admitted, the bulk not wholly admitted
    assert found["ingest"] == eis.ContextUsage("ingest", 1, 0, 400, 300, 0, 0)
    assert found["unspecified"].per_minute(0.5)["offered_tokens_per_minute"] == 300.0


def test_rate_limit_check_fails_a_429_without_retry_after() -> None:
    rows = [row("POST", 200, 100), row("POST", 429, 100, "3"), row("POST", 429, 100, "")]
    result = eis.check_rate_limits(rows, minutes=2.0)
    assert result.passed is False
    assert "1 of 2 429s carried Retry-After" in result.detail
    # 300 tokens offered in 2 minutes, 100 admitted
    assert "offered 150 tokens/min (2 req/min), admitted 50 tokens/min (0 req/min)" in (
        result.detail
    )
    assert result.observed["share_429"] == round(2 / 3, 4)
    assert eis.check_rate_limits(rows[:2], 2.0).passed is True
    assert eis.check_rate_limits(rows[:1], 2.0).passed is None  # no 429: not checked


def test_an_eis_run_skips_the_allocation_checks_and_adds_its_own() -> None:
    requests = [row("POST", 200, 80), {**row("POST", 429, 80, "2"), "elapsed_s": 6.0}]
    record = RunRecord(CONSTANT, [], requests, ended_s=9.0, service="elastic")
    results = {r.name: r for r in check_all(record)}
    for name in eis.ALLOCATION_CHECKS:
        assert results[name].passed is None and "Elastic Inference Service" in results[name].detail
    limits = results["eis-rate-limits"]
    assert limits.passed is True
    # sent over 6 wall seconds (the run ended later) × speedup 10 = one cluster minute
    assert limits.observed["minutes"] == pytest.approx(6.0 * FAST.speedup / 60)
    assert limits.observed["unspecified"]["offered_tokens"] == 160
    assert exit_code(results.values()) != 1
    # the same rows from an ML-node endpoint: no EIS check, the allocation checks have no data
    ml = {r.name: r for r in check_all(RunRecord(CONSTANT, [], requests, ended_s=6.0))}
    assert "eis-rate-limits" not in ml and ml["allocation-bounds"].passed is False


# -- the comparison, figures worked out by hand -----------------------------------------------
TRAFFIC = parse_traffic("peak=40,trough=2,idle_hours=12,peak_hours=6")
# a day: 40/s for 6 h = 864,000, 2/s for 6 h = 43,200, idle 12 h: 907,200 units
UNITS_A_DAY = 907_200


def recommendation(cost_per_day: float | None) -> Recommendation:
    reason = Reasoned(1, "")
    return Recommendation(
        num_threads=reason, max_number_of_allocations=Reasoned(3, ""),
        min_number_of_allocations=reason, scale_to_zero=Reasoned("never", ""),
        cost=CostEstimate(48.0, 48.0, 72.0, cost_per_day, ""),
        capacity=MeasuredCapacity(20.0, 18.0, 22.0, 1, 400.0), traffic=TRAFFIC, headroom=0.2,
    )  # fmt: skip


def test_the_knee_is_the_first_limit_reached() -> None:
    limits = EisLimits()  # 6,000 requests, 6,000,000 ingest and 600,000 search tokens a minute
    inference = compare.Demand("inference", "unspecified", 1.0, 100.0, "given")
    # requests: 6,000 / 1 / 60 = 100/s; tokens (ingest limit): 6,000,000 / 100 / 60 = 1,000/s
    assert compare.knee(inference, limits) == compare.Knee(100.0, "requests", 6000, 6_000_000,
                                                           "ingest")  # fmt: skip
    search = compare.Demand("search", "search", 1.0, 200.0, "given")
    # tokens: 600,000 / 200 / 60 = 50/s, before the requests' 100/s
    assert compare.knee(search, limits).units_per_s == pytest.approx(50.0)
    assert compare.knee(search, limits).binding == "tokens"
    bulk = compare.Demand("ingest", "ingest", 3.0, 5000.0, "given")
    # requests: 6,000 / 3 / 60 = 33.3/s; tokens: 6,000,000 / 5,000 / 60 = 20/s
    assert compare.knee(bulk, limits).units_per_s == pytest.approx(20.0)


def test_comparison_costs_and_verdict() -> None:
    demand = compare.Demand("inference", "unspecified", 1.0, 100.0, "given")
    assert compare.units_per_day(TRAFFIC) == pytest.approx(UNITS_A_DAY)
    result = compare.compare(demand, TRAFFIC, recommendation(43.2), ml_p99_ms=120.0,
                             price_per_million_tokens=0.5, eis_p99_ms=300.0)  # fmt: skip
    assert result.fits and result.refused_share_at_peak == 0.0
    assert result.tokens_per_day == pytest.approx(90_720_000)  # 907,200 × 100
    assert result.eis.cost_per_day == pytest.approx(45.36)  # 90.72 million × 0.5
    data = result.to_json()
    assert data["eis"]["cost_per_million_tokens"] == pytest.approx(0.5)
    assert data["eis"]["cost_per_1000_units"] == pytest.approx(0.05)  # 45.36 / 907.2
    assert data["ml_node"]["cost_per_million_tokens"] == pytest.approx(43.2 / 90.72)
    assert result.verdict == ("ML node: 43.20 a day against 45.36 (2.16 a day less), its p99 "
                              "120 ms at or below the EIS's 300 ms")  # fmt: skip
    assert any("ingest token limit" in a for a in result.assumptions)  # unspecified's limit
    json.dumps(data)  # capacity.json can hold it
    cheaper = compare.compare(demand, TRAFFIC, recommendation(43.2), ml_p99_ms=120.0,
                              price_per_million_tokens=0.25, eis_p99_ms=300.0)  # fmt: skip
    # 90.72 × 0.25 = 22.68 a day: EIS, 20.52 less, but slower
    assert cheaper.verdict.startswith("EIS: 22.68 a day against 43.20 (20.52 a day less)")
    assert "its p99 300 ms above the ML node's 120 ms" in cheaper.verdict


def test_a_peak_beyond_the_limit_recommends_the_ml_node() -> None:
    demand = compare.Demand("search", "search", 1.0, 200.0, "given")  # knee 50/s
    traffic = parse_traffic("peak=80,trough=2")
    result = compare.compare(demand, traffic, recommendation(None), ml_p99_ms=None)
    assert not result.fits
    assert result.refused_share_at_peak == pytest.approx(1 - 50 / 80)  # 0.375
    assert result.verdict.startswith("ML node: EIS's tokens limit admits 50.00 searches/s, 38% ")
    assert result.eis.cost_per_day is None  # no price: no EIS cost


def test_without_prices_there_is_no_cost_verdict() -> None:
    demand = compare.Demand("inference", "unspecified", 1.0, 100.0, "given")
    result = compare.compare(demand, TRAFFIC, recommendation(None), ml_p99_ms=100.0)
    assert result.verdict == ("the traffic fits EIS's limits; no cost verdict without "
                              "--vcpu-hour-price and --price-per-million-tokens")  # fmt: skip
    with pytest.raises(compare.ComparisonError, match="finite number"):
        compare.compare(demand, TRAFFIC, recommendation(None), ml_p99_ms=None,
                        price_per_million_tokens=float("nan"))  # fmt: skip


def test_demand_estimated_from_the_corpus() -> None:
    search = compare.demand_of("search", "", "", 0.1, 10)
    assert search.usage_context == "search" and search.requests_per_unit == 1.0
    assert 2 < search.tokens_per_unit < 64  # the corpus' queries: short
    bulk = compare.demand_of("ingest", "", "", 0.1, 10)
    assert bulk.usage_context == "ingest" and bulk.requests_per_unit >= 1
    assert bulk.tokens_per_unit > 10 * search.tokens_per_unit


def write_eis_run(run_dir: Path, service: str = "elastic") -> Path:
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({
        "run_id": "r1", "timing": {"speedup": 10.0},
        "endpoint": {"inference_id": ".elser-2-elastic", "service": service},
    }))  # fmt: skip
    lines = ["request_type,status,tokens,latency_ms"]
    lines += [f"POST,200,{t},{ms}" for t, ms in ((90, 10.0), (110, 20.0), (100, 30.0))]
    lines.append("POST,429,100,1.0")
    (run_dir / "requests.csv").write_text("\n".join(lines) + "\n")
    return run_dir


def test_a_measured_eis_run_gives_tokens_and_latency(tmp_path: Path) -> None:
    measured = compare.measured_run(write_eis_run(tmp_path / "run"), "inference")
    assert measured.demand.tokens_per_unit == pytest.approx(100.0)  # (90+110+100+100)/4
    assert measured.p99_ms is not None and 200.0 <= measured.p99_ms <= 300.0  # ×10: cluster ms
    with pytest.raises(compare.ComparisonError, match="service is 'elasticsearch'"):
        compare.measured_run(write_eis_run(tmp_path / "ml", "elasticsearch"), "inference")


def capacity_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_options(parser)
    return parser.parse_args(list(argv))


def test_capacity_refuses_a_comparison_without_traffic(tmp_path: Path) -> None:
    with pytest.raises(CapacityUsageError, match="--compare-eis compares for a traffic"):
        check(capacity_args("--compare-eis"))
    with pytest.raises(CapacityUsageError, match="--eis-run is read by --compare-eis"):
        check(capacity_args("--traffic", "peak=4,trough=1", "--eis-run", str(tmp_path)))
    run = write_eis_run(tmp_path / "ml", "elasticsearch")
    with pytest.raises(CapacityUsageError, match="not 'elastic'"):
        check(capacity_args("--traffic", "peak=4,trough=1", "--compare-eis", "--eis-run",
                            str(run)))  # fmt: skip
    with pytest.raises(CapacityUsageError, match="--eis-endpoint is measured for --compare-eis"):
        check(capacity_args("--traffic", "peak=4,trough=1", "--eis-endpoint", "e"))
    with pytest.raises(CapacityUsageError, match="give one"):
        check(capacity_args("--traffic", "peak=4,trough=1", "--compare-eis", "--eis-endpoint",
                            "e", "--eis-run", str(tmp_path)))  # fmt: skip
    check(capacity_args("--traffic", "peak=4,trough=1", "--compare-eis"))


# -- --eis on the commands that start the embedded server --------------------------------------
class FakeServer:
    url = "http://127.0.0.1:1"
    started: ClassVar[list[Any]] = []

    def __init__(self, config: Any) -> None:
        FakeServer.started.append(config)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *_: object) -> None:
        return None


@contextlib.contextmanager
def embedded_with(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    from elsercheck.reference import serve

    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    monkeypatch.setattr(serve, "EmbeddedServer", FakeServer)
    FakeServer.started = []
    yield FakeServer.started


@pytest.mark.parametrize("command", ["gate", "load", "capacity", "run"])
def test_eis_reaches_the_embedded_server(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_parser().parse_args([command, "--eis"])
    with embedded_with(monkeypatch) as started, target_command.target_or_embedded(args):
        pass
    assert started[0].eis is True
    plain = build_parser().parse_args([command])
    with embedded_with(monkeypatch) as started, target_command.target_or_embedded(plain):
        pass
    assert started[0].eis is False


def test_eis_is_refused_where_it_is_not_modelled(monkeypatch: pytest.MonkeyPatch) -> None:
    old = build_parser().parse_args(["gate", "--eis", "--es-version", "8.19"])
    with (
        pytest.raises(shared.UsageError, match=r"modelled from 9\.2"),
        embedded_with(monkeypatch),
        target_command.target_or_embedded(old),
    ):
        pass
    cluster = build_parser().parse_args(["load", "--eis", "--url", "http://127.0.0.1:9"])
    with (
        pytest.raises(
            shared.UsageError, match="--eis and --eis-limits choose the embedded server's model"
        ),
        target_command.target_or_embedded(cluster),
    ):
        pass


# -- end to end: a load at about twice EIS's limit ----------------------------------------------
PASSWORD = "eis-load-secret-4c1"


@pytest.mark.process  # locust children (elsercheck load)
@pytest.mark.slow
def test_a_load_beyond_the_eis_limit_shows_429s_with_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded server with EIS limited to 120 requests a minute (2/s of cluster time);
    2 users × 2 requests/s offer about twice that to ``.elser-2-elastic``."""
    from elsercheck.cli import main
    from elsercheck.reference.config import ServerConfig
    from elsercheck.reference.serve import EmbeddedServer
    from elsercheck.runs import rundir
    from elsercheck.timing import PRESETS

    config = ServerConfig(password=PASSWORD, timing=PRESETS["fast"], eis=True,
                          eis_limits=EisLimits(requests_per_minute=120))  # fmt: skip
    monkeypatch.setenv("ELASTICSEARCH_USERNAME", "elastic")
    monkeypatch.setenv("ELASTICSEARCH_PASSWORD", PASSWORD)
    out = tmp_path / "run"
    with EmbeddedServer(config) as server:
        code = main(["load", "--url", server.url, "--timing", "fast", "--inference-id",
                     ".elser-2-elastic", "--shape", "constant", "--peak-users", "2",
                     "--rate-per-user", "2", "--duration", "8", "--lifecycle-users", "0",
                     "--max-outstanding", "500", "--no-report", "--report-dir", str(out)])  # fmt: skip
    assert code in (0, 4), code  # 4: the load machine fell behind (said so), never a failure
    run = rundir.read_json(out / rundir.RUN_JSON)
    assert run["endpoint"]["service"] == "elastic"
    results = {e["name"]: e for e in rundir.read_json(out / rundir.EXPECTATIONS_JSON)}
    assert results["allocation-bounds"]["passed"] is None
    limits = results["eis-rate-limits"]
    assert limits["passed"] is True, limits  # 429s met, each with Retry-After
    usage = limits["observed"]["unspecified"]
    assert usage["rate_limited"] > 0
    assert usage["admitted_requests_per_minute"] < usage["offered_requests_per_minute"]
    assert usage["admitted_tokens_per_minute"] < usage["offered_tokens_per_minute"]
    limited = [r for r in rundir.read_csv(out / rundir.REQUESTS_CSV) if r.get("status") == 429]
    assert limited and all(str(r["retry_after"]).isdigit() for r in limited)


@pytest.mark.parametrize(("argv", "model"), [
    ([], "elser_model_2"),  # the ML node's default model id means EIS's ELSER
    (["--model-id", "elser_model_3"], "elser_model_3"),
])  # fmt: skip
def test_service_elastic_creates_an_eis_endpoint(
    argv: list[str], model: str, tmp_path: Path
) -> None:
    from loadtests.elser_locust.options import add_arguments, settings_from

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    common = ["--run-id", "r1", "--results-dir", str(tmp_path)]
    eis_settings = settings_from(parser.parse_args(["--service", "elastic", *argv, *common]))
    assert eis_settings.endpoint_body() == {"service": "elastic",
                                            "service_settings": {"model_id": model}}  # fmt: skip
    ml = settings_from(parser.parse_args(common)).endpoint_body()
    assert ml["service"] == "elasticsearch" and "adaptive_allocations" in ml["service_settings"]


def test_a_measured_knee_decides_whether_the_peak_fits() -> None:
    demand = compare.Demand("inference", "unspecified", 1.0, 100.0, "given")  # limits' knee 100/s
    # measured: EIS admitted 30/s only; the peak of 40/s does not fit, 25 % beyond it
    result = compare.compare(demand, TRAFFIC, recommendation(None), ml_p99_ms=None,
                             measured_knee=30.0)  # fmt: skip
    assert not result.fits and result.refused_share_at_peak == pytest.approx(0.25)
    assert result.verdict.startswith("ML node: EIS's requests limit admits 30.00 req/s, 25% ")
    assert result.to_json()["measured_knee_units_per_s"] == 30.0
    assert "measured 30.00 req/s admitted" in "\n".join(result.lines())


def test_eis_limits_reach_the_embedded_server_and_need_eis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = build_parser().parse_args(["capacity", "--eis", "--eis-limits",
                                      "requests=120,search_tokens=6000"])  # fmt: skip
    with embedded_with(monkeypatch) as started, target_command.target_or_embedded(args):
        pass
    assert started[0].eis_limits == EisLimits(requests_per_minute=120,
                                              search_tokens_per_minute=6000)  # fmt: skip
    alone = build_parser().parse_args(["gate", "--eis-limits", "requests=120"])
    with (
        pytest.raises(shared.UsageError, match="give --eis too"),
        embedded_with(monkeypatch),
        target_command.target_or_embedded(alone),
    ):
        pass
    with pytest.raises(SystemExit):  # argparse: a bad spec is a usage error (exit 2)
        build_parser().parse_args(["gate", "--eis", "--eis-limits", "requests=0"])


def test_the_capacity_page_shows_the_comparison() -> None:
    from elsercheck.capacity import page, result

    demand = compare.Demand("inference", "unspecified", 1.0, 100.0, "given")
    found = compare.compare(demand, TRAFFIC, recommendation(43.2), ml_p99_ms=120.0,
                            price_per_million_tokens=0.5, measured_knee=90.0)  # fmt: skip
    settings = result.settings(
        run_id="r1", target="http://127.0.0.1:9200", target_version="9.5.4", embedded=True,
        timing="fast", speedup=10.0, workload="inference", mix="query=1", batch_share=0.1,
        model_id="m", slo_p99_ms=400.0, slo_source="given", point_seconds=60.0,
        max_minutes=30.0, repeats=2,
    )  # fmt: skip
    data = {**result.document(settings, []), "eis_comparison": found.to_json()}
    import jsonschema

    jsonschema.Draft202012Validator(result.schema()).validate(json.loads(json.dumps(data)))
    html = page.render(data)
    assert "EIS versus the ML node" in html
    assert "measured 90.00 admitted" in html and "45.36" in html  # EIS's cost a day
    assert "ML node: 43.20 a day against 45.36" in html  # the verdict


def test_the_eis_sweep_finds_the_admitted_rate_at_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``capacity --eis-endpoint`` without a target: EIS admits 2 requests/s (120 a minute);
    a synthetic point above that has 429s for the rest. The sweep climbs from half the limits'
    knee and bisects to just below 2/s; points last three windows; tokens come from the last
    point's run."""
    from elsercheck.capacity import command
    from elsercheck.capacity.point import Point

    args = capacity_args("--traffic", "peak=4,trough=1", "--compare-eis", "--eis-endpoint",
                         ".elser-2-elastic", "--repeats", "1")  # fmt: skip
    lengths: list[float | None] = []  # each measure()'s point length
    points: list[Path] = []

    class Client:
        def __enter__(self) -> Client:
            return self

        def __exit__(self, *_: object) -> None:
            return None

        def get(self, path: str) -> Any:
            assert path == "/_inference/.elser-2-elastic"
            body = {"endpoints": [{"service": "elastic"}]}
            return type("Answer", (), {"status_code": 200, "json": lambda _self: body})()

    class Target:
        def client(self, **_: Any) -> Client:
            return Client()

    def measure(inference_id: str, client: Any, label: str, drain: bool = True,
                point_s: float | None = None) -> Any:  # fmt: skip
        assert (inference_id, label, drain) == (".elser-2-elastic", "eis", False)
        lengths.append(point_s)

        def run(rate: float) -> Point:
            run_dir = write_eis_run(tmp_path / "points" / f"eis-{len(points) + 1:02d}")
            points.append(run_dir)
            admitted = min(rate, 2.0)
            limited = round((rate - admitted) * 100)
            return Point(offered_rps=rate, window_s=100.0, sent_rps=rate,
                         throughput_rps=admitted, latency_ms={"p99": 100.0},
                         per_second_rps=(admitted,) * 10, bin_s=10.0,
                         sent_per_bin=(100,) * 10, rejected={"429": limited} if limited else {},
                         run_dir=str(run_dir))  # fmt: skip

        return run

    settings = command.CapacitySettings.from_values(vars(args))
    sweep = command.Sweep(settings, Target(), "r1", tmp_path, None, True, lambda _line: None)  # type: ignore[arg-type]
    # no waiting: a clock a million times fast
    monkeypatch.setattr(command.Sweep, "clock", property(lambda _self: TimeBase(1e6)))
    monkeypatch.setattr(sweep, "measure", measure)
    objective = command.Objective(400.0, "given")
    cell, measured = command._eis_cell(sweep, objective, deadline=float("inf"))
    assert lengths[0] == 3 * compare.WINDOW_S  # --point-seconds 60: raised to three windows
    # the limits' knee (6,000/min documented → 100/s) is the estimate; the climb from 50/s fails
    # at once, so it steps down, then up to the 2/s the synthetic EIS admits
    assert cell.estimate_rps == pytest.approx(100.0)
    # sustained: at most 1 % answered 429 (knee.py REJECTED_SHARE), so a hair above 2/s holds
    assert cell.knee.sustained_rps is not None and 1.8 <= cell.knee.sustained_rps <= 2.02
    assert cell.knee.failed_rps is not None and cell.knee.failed_rps > 2.02
    assert measured.demand.tokens_per_unit == pytest.approx(100.0)  # the run's requests.csv
