"""The capacity sweep's search and ingest workloads: their units (searches/s; bulks/s, also
documents/s and chunks/s), the reference server's model for them, a bulk's item failures in the
verdict, and a search and an ingest sweep end to end on the embedded reference server (fast
timing; generous margins, no assertion about time)."""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest

from elsercheck.capacity import page
from elsercheck.capacity.cell import CellResult, sweep_cell
from elsercheck.capacity.knee import judge
from elsercheck.capacity.model import (
    _chunk_texts,
    capacity_per_allocation,
    chunks_per_bulk,
    mean_service_s,
    unit_jobs,
)
from elsercheck.capacity.point import Point, read_point
from elsercheck.capacity.result import document, schema, settings
from elsercheck.capacity.traffic import traffic_from_run
from elsercheck.capacity.units import DEFAULT_BULK_SIZE, REFUSED, UNITS
from elsercheck.cli import main
from elsercheck.endpoints import ELSER_V2_X86
from elsercheck.exit_codes import ExitCode
from elsercheck.load import documents
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.indices.ingest import MODEL_BATCH_SIZE
from elsercheck.reference.mlnode.sparse_encoder import token_count
from elsercheck.reference.rules import chunkers
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.runs import rundir
from elsercheck.timebase import TimeBase
from elsercheck.timing import PRESETS
from tests.loadrun_fixtures import capacity_until_decided

FAST = PRESETS["fast"]
WINDOW_S = 48.0


# -- units and model ---------------------------------------------------------------------------
def test_each_workload_counts_the_rows_of_its_own_unit():
    assert {w: u.request_type for w, u in UNITS.items()} == {
        "inference": "POST", "search": "SEARCH", "ingest": "BULK",
    }  # fmt: skip
    assert [w for w, u in UNITS.items() if u.per_document] == ["ingest"]
    assert set(REFUSED) == {"mixed"} and not set(REFUSED) & set(UNITS)


def test_a_bulk_costs_every_chunk_its_own_deployment_request():
    # A bulk's chunks are sent MODEL_BATCH_SIZE per inference call, but each is inferred as
    # its own deployment request (ES taskOperation: task.infer per input): one overhead each.
    bulk = next(unit_jobs(FAST, "", 0.0, 1, ELSER_V2_X86, workload="ingest", bulk_size=10))
    drawn = random.Random(0).choices(_chunk_texts(""), k=10)  # as the model draws them
    chunks = [token_count(text) for doc in drawn for text in doc]
    assert len(chunks) > 10  # documents of several chunks
    assert bulk == [FAST.service_time_seconds(tokens, 1, False) for tokens in chunks]


def test_the_ingest_model_is_chunks_times_their_service_time():
    docs = documents.load()
    # The documents' stored chunk counts are the server's chunker's (what requests.csv counts).
    per_doc = [len(chunkers.chunk(d.text, None)) for d in docs]
    assert per_doc == [d.chunks for d in docs]
    assert chunks_per_bulk("", 10) == pytest.approx(10 * sum(per_doc) / len(per_doc))
    bulks = capacity_per_allocation(FAST, "", 0.0, 1, ELSER_V2_X86, workload="ingest",
                                    bulk_size=10)  # fmt: skip
    # A bulk's time: every chunk's tokens and one overhead per chunk (each chunk is its own
    # deployment request); "low" would be one overhead per inference call of ten chunks. In
    # the cluster's time (the time-lapse changes nothing there).
    tokens = sum(
        token_count(d.text[s:e]) for d in docs for s, e in chunkers.chunk(d.text, None)
    ) / len(docs)
    chunks = sum(per_doc) / len(per_doc)
    scale = FAST.inference_time_scale * FAST.speedup  # wall service time → cluster time
    per_token, overhead = FAST.per_token_ms * scale, FAST.per_request_overhead_ms * scale
    low = 10 * (tokens * per_token + chunks * overhead / MODEL_BATCH_SIZE) / 1000
    high = 10 * (tokens * per_token + chunks * overhead) / 1000
    assert 0.85 / high <= bulks <= 1.15 / high < 1.15 / low, (bulks, low, high)
    # Chunks per second hardly depend on the bulk size (the work is the chunks'); bulks/s do.
    small = capacity_per_allocation(FAST, "", 0.0, 1, ELSER_V2_X86, workload="ingest",
                                    bulk_size=2)  # fmt: skip
    assert small / bulks == pytest.approx(5, rel=0.25)
    assert small * chunks_per_bulk("", 2) == pytest.approx(bulks * chunks_per_bulk("", 10),
                                                           rel=0.25)  # fmt: skip


def test_the_search_model_is_one_query_embedding_per_search():
    search = mean_service_s(FAST, "", 0.0, 1, ELSER_V2_X86, workload="search")
    from elsercheck.load.corpus import Corpus

    queries = [token_count(q.text) for q in Corpus.load(None).bucket("query")]
    service = [FAST.service_time_seconds(t, 1, False) * FAST.speedup for t in queries]
    assert min(service) <= search <= max(service)
    # A query is far shorter than a long passage: many more searches than requests per second.
    long = capacity_per_allocation(FAST, "long=1", 0.0, 1, ELSER_V2_X86)
    assert 1 / search > 3 * long
    two = capacity_per_allocation(FAST, "", 0.0, 2, ELSER_V2_X86, workload="search")
    assert two * search == pytest.approx(1 / 0.6)  # Amdahl over 2 threads, as for requests


# -- points: BULK rows, documents, chunks, item failures ---------------------------------------
def _write_run(directory: Path, rows: list[dict]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    rundir.write_csv(directory / rundir.REQUESTS_CSV, rundir.REQUEST_COLUMNS, rows)
    return directory


def _bulk_rows(count: int, duration: float, failures: str = "") -> list[dict]:
    return [
        {"elapsed_s": duration * i / count, "request_type": "BULK", "name": "bulk",
         "status": 200, "latency_ms": 50.0, "error_kind": "", "documents": 10, "chunks": 25,
         "acknowledged": 10, "item_failures": failures if i == count // 2 else ""}
        for i in range(count)
    ]  # fmt: skip


def test_an_ingest_point_counts_bulks_documents_and_chunks(tmp_path):
    rows = [
        *_bulk_rows(100, 10.0),
        {"elapsed_s": 5.0, "request_type": "POST", "status": 200, "latency_ms": 5.0,
         "error_kind": ""},
    ]  # fmt: skip
    run = _write_run(tmp_path / "run", rows)
    point = read_point(run, 1.0, 10.0, TimeBase(10.0), "BULK")
    # 80 bulks in the window of 8 wall s = 80 cluster s: 1 bulk, 10 documents, 25 chunks a s.
    assert point.sent_rps == pytest.approx(1.0)
    assert point.documents_rps == pytest.approx(10.0)
    assert point.chunks_rps == pytest.approx(25.0)
    assert point.item_failures == {}
    inference = read_point(run, 1.0, 10.0, TimeBase(10.0))  # the POST rows only
    assert inference.sent_rps == pytest.approx(1 / 80) and inference.chunks_rps is None


def test_a_point_with_bulk_item_failures_was_not_sustained(tmp_path):
    failures = "inference_exception/status_exception:2;es_rejected_execution_exception:1"
    run = _write_run(tmp_path / "run", _bulk_rows(100, 10.0, failures))
    point = read_point(run, 1.0, 10.0, TimeBase(10.0), "BULK")
    assert point.item_failures == {
        "inference_exception/status_exception": 2, "es_rejected_execution_exception": 1,
    }  # fmt: skip
    verdict = judge(point, slo_p99_ms=1000.0)
    assert not verdict.sustained and not verdict.inconclusive
    assert any("3 bulk item(s) failed" in reason for reason in verdict.reasons)
    clean = read_point(_write_run(tmp_path / "clean", _bulk_rows(100, 10.0)), 1.0, 10.0, TimeBase(10.0),
                       "BULK")  # fmt: skip
    assert judge(clean, slo_p99_ms=1000.0).sustained


def test_traffic_from_a_run_counts_the_capacitys_unit(tmp_path):
    rows = _bulk_rows(40, 20.0) + [
        {"elapsed_s": 20.0 * i / 200, "request_type": "POST", "status": 200,
         "latency_ms": 5.0, "error_kind": ""}
        for i in range(200)
    ]  # fmt: skip
    run = _write_run(tmp_path / "run", rows)
    (run / rundir.RUN_JSON).write_text(json.dumps({"run_id": "r", "timing": {"speedup": 1}}))
    assert traffic_from_run(run).peak_rps > 5  # requests first, by default
    bulks = traffic_from_run(run, request_type="BULK")
    assert bulks.peak_rps <= 3 and "bulk arrivals" in bulks.source
    with pytest.raises(ValueError, match="no SEARCH rows"):
        traffic_from_run(run, request_type="SEARCH")


# -- capacity.json and the page in the workload's units ---------------------------------------
def _ingest_point(rate: float) -> Point:
    done = min(rate, 2.0)
    return Point(
        offered_rps=rate, window_s=WINDOW_S, sent_rps=rate, throughput_rps=done,
        latency_ms={"count": 50, "p50": 10.0, "p90": 50.0, "p99": 100.0, "max": 200.0},
        per_second_rps=(done,) * 10, bin_s=WINDOW_S / 10,
        sent_per_bin=(round(rate * WINDOW_S / 10),) * 10,
        pending_growth=max(0.0, (rate - 2.0) * WINDOW_S), pending_max=3,
        documents_rps=rate * 10, chunks_rps=rate * 25,
    )  # fmt: skip


def test_an_ingest_cell_reports_bulks_documents_and_chunks_in_json_and_page():
    cell = sweep_cell(CellResult(2, 1, 3.0, 1000.0), _ingest_point, repeats=1,
                      deadline=math.inf, emit=lambda line: None)  # fmt: skip
    cell.model_rps, cell.model_chunks_rps = 2.0, 50.0
    assert cell.capacity_rps is not None
    assert cell.capacity_documents_rps == pytest.approx(cell.capacity_rps * 10)
    assert cell.capacity_chunks_rps == pytest.approx(cell.capacity_rps * 25)
    data = document(
        settings(run_id="r", target="http://x", target_version=None, embedded=True,
                 timing="fast", speedup=10.0, workload="ingest", mix="medium=1",
                 batch_share=0.0, model_id="m", slo_p99_ms=1000.0, slo_source="given",
                 point_seconds=60.0, max_minutes=30.0, repeats=1, rate_unit="bulks",
                 bulk_size=10),
        [cell],
    )  # fmt: skip
    jsonschema.Draft202012Validator(schema()).validate(data)
    [json_cell] = data["cells"]
    assert json_cell["per_allocation_chunks_rps"] == pytest.approx(cell.capacity_chunks_rps / 2)
    assert json_cell["per_allocation_documents_rps"] == pytest.approx(
        cell.capacity_documents_rps / 2
    )
    html = page.render(data)
    assert "bulks/s per allocation" in html and "chunks/s" in html and "documents/s" in html
    assert "bulks of 10 corpus documents" in html and "offered bulks/s" in html
    assert "requests/s per allocation" not in html
    inference = {**data, "workload": "inference", "rate_unit": "requests", "bulk_size": None}
    assert "requests/s per allocation" in page.render(inference)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema()).validate({**data, "workload": "mixed"})


def test_mixed_is_refused_in_one_line_and_bulk_size_defaults_to_ten(capsys):
    assert main(["capacity", "--workload", "mixed"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.startswith("elsercheck: error: ") and "one workload at a time" in err
    assert len(err.strip().splitlines()) == 1
    assert DEFAULT_BULK_SIZE == 10
    with pytest.raises(SystemExit) as stopped:
        main(["capacity", "--workload", "ingest", "--bulk-size", "0"])
    assert stopped.value.code == ExitCode.USAGE


@pytest.mark.parametrize("workload", ["ingest", "search"])
def test_a_corpus_without_documents_is_refused_for_the_index_workloads(workload, tmp_path,
                                                                      capsys):  # fmt: skip
    from elsercheck.load.corpus import default_directory

    for name in ("queries.jsonl", "passages.jsonl"):
        (tmp_path / name).write_bytes((Path(default_directory()) / name).read_bytes())
    assert main(["capacity", "--workload", workload, "--corpus", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--mix/--corpus: " in err and "documents.jsonl" in err
    assert len(err.strip().splitlines()) == 1


# -- end to end on the embedded server ---------------------------------------------------------
PASSWORD = "capacity-workloads-secret-7e2"
# Searches embed a short query (~10 ms of model time): a per-request overhead of 400 cluster ms
# keeps the rate within what the generator and the server's loop do on a busy machine.
SEARCH_TIMING = FAST.with_overrides(per_request_overhead_ms=400.0)
LOW, HIGH = 0.5, 1.25  # measured / model
COMMON = ("--timing", "fast", "--repeats", "1", "--slo-p99-ms", "600000")  # stability decides


def _server(timing) -> Iterator[EmbeddedServer]:
    config = ServerConfig(password=PASSWORD, timing=timing)
    with EmbeddedServer(config) as running:
        yield running


@pytest.fixture
def search_server() -> Iterator[EmbeddedServer]:
    yield from _server(SEARCH_TIMING)


@pytest.fixture
def fast_server() -> Iterator[EmbeddedServer]:
    yield from _server(FAST)


def _sweep(server: EmbeddedServer, out: Path, monkeypatch, *options: str) -> tuple[int, dict]:
    monkeypatch.setenv("ELASTICSEARCH_USERNAME", "elastic")
    monkeypatch.setenv("ELASTICSEARCH_PASSWORD", PASSWORD)
    return capacity_until_decided(["--url", server.url, *COMMON, *options], out)


def _leftovers(server: EmbeddedServer, run_id: str) -> list[str]:
    prefix = f"elsercheck-{run_id}"
    with httpx.Client(base_url=server.url, auth=("elastic", PASSWORD)) as client:
        found = [e["inference_id"] for e in client.get("/_inference/_all").json()["endpoints"]]
        indices = client.get(f"/_resolve/index/{prefix}*").json().get("indices", [])
    return [i for i in found if i.startswith(prefix)] + [i["name"] for i in indices]


def _rows(point: dict, request_type: str) -> list[dict]:
    with (Path(point["run_dir"]) / rundir.REQUESTS_CSV).open(encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["request_type"] == request_type]


@pytest.mark.slow
def test_a_search_sweep_measures_searches_per_second(search_server, tmp_path, monkeypatch):
    # --resolution 0.15: about two points fewer, the time the cell's saturation point takes.
    code, data = _sweep(search_server, tmp_path, monkeypatch, "--workload", "search",
                        "--point-seconds", "60", "--max-minutes", "2",
                        "--resolution", "0.15")  # fmt: skip
    assert code == ExitCode.OK, data
    jsonschema.Draft202012Validator(schema()).validate(data)
    assert data["workload"] == "search" and data["rate_unit"] == "semantic searches"
    [cell] = data["cells"]
    truth = capacity_per_allocation(SEARCH_TIMING, "", 0.0, 1, ELSER_V2_X86, workload="search")
    per = cell["per_allocation_rps"]
    assert LOW * truth <= per <= HIGH * truth, (per, truth)
    # The points sent semantic searches, nothing else, and the objective came from --slo-p99-ms.
    assert all(_rows(p, "SEARCH") and not _rows(p, "POST") for p in cell["points"])
    assert cell["capacity_chunks_rps"] is None
    assert "semantic searches/s per allocation" in (tmp_path / "capacity.html").read_text()
    _saturation_near(cell, truth, weighted=False)
    assert _leftovers(search_server, data["run_id"]) == []


def _saturation_near(cell: dict, truth: float, weighted: bool) -> None:
    """The cell's saturation point: searches counted, bulks weighed by their tokens, every
    allocation busy, its throughput the model's saturation within the margins of a busy
    machine, unless the simulator said it fell behind."""
    found = cell["saturation"]
    assert found and "skipped" not in found, found
    assert found["weighted"] is weighted
    assert found["units"] > 0 and not found["errors"], found
    if not found["inconclusive"]:
        assert found["saturated"], found
        assert 0.8 * truth <= found["per_allocation_rps"] <= 1.1 * truth, (found, truth)


@pytest.mark.slow
def test_an_ingest_sweep_measures_bulks_documents_and_chunks(fast_server, tmp_path, monkeypatch,
                                                             capsys):  # fmt: skip
    code, data = _sweep(fast_server, tmp_path, monkeypatch, "--workload", "ingest",
                        "--bulk-size", "1", "--point-seconds", "100", "--max-minutes", "2",
                        "--resolution", "0.15",
                        "--traffic", "peak=1,trough=0.2")  # fmt: skip
    assert code == ExitCode.OK, data
    jsonschema.Draft202012Validator(schema()).validate(data)
    assert data["rate_unit"] == "bulks" and data["bulk_size"] == 1
    [cell] = data["cells"]
    # One document a bulk (its 1-4 chunks in one deployment request): bulks of ~100 ms wall,
    # enough of them in a short window to judge the rate.
    bulks = capacity_per_allocation(FAST, "", 0.0, 1, ELSER_V2_X86, workload="ingest",
                                    bulk_size=1)  # fmt: skip
    chunks = bulks * chunks_per_bulk("", 1)
    assert LOW * bulks <= cell["per_allocation_rps"] <= HIGH * bulks
    assert LOW * chunks <= cell["per_allocation_chunks_rps"] <= HIGH * chunks, (cell, chunks)
    # One document a bulk: the documents' rate is the bulks'.
    assert cell["per_allocation_documents_rps"] == pytest.approx(
        cell["per_allocation_rps"], rel=0.02
    )
    rows = [row for p in cell["points"] for row in _rows(p, "BULK")]
    assert rows and all(row["documents"] == "1" for row in rows)
    # The recommendation is in bulks per second, as the traffic.
    advice = data["recommendation"]
    assert advice["capacity"]["workload"] == "ingest"
    assert advice["capacity"]["per_allocation_rps"] == pytest.approx(cell["per_allocation_rps"],
                                                                      rel=1e-3)  # fmt: skip
    out = capsys.readouterr().out
    assert "bulks/s per allocation" in out and "chunks/s" in out and "12 bulks" in out
    _saturation_near(cell, bulks, weighted=True)
    assert "saturation:" in out
    assert _leftovers(fast_server, data["run_id"]) == []


@pytest.mark.parametrize(
    ("workload", "says"), [("ingest", "bulks"), ("search", "semantic searches")]
)
def test_the_recommendation_says_which_unit_its_rates_count(workload, says):
    from elsercheck.capacity.recommend import MeasuredCapacity, recommend
    from elsercheck.capacity.traffic import parse_traffic

    capacity = MeasuredCapacity(2.0, 1.8, 2.4, 1, 1000.0, workload=workload)
    advice = recommend(capacity, parse_traffic("peak=4,trough=1"))
    assert any(f"rps here counts {says} per second" in note for note in advice.notes)
    plain = recommend(MeasuredCapacity(2.0, 1.8, 2.4, 1, 1000.0), parse_traffic("peak=4,trough=1"))
    assert not any("rps here counts" in note for note in plain.notes)
    assert advice.max_number_of_allocations.value == plain.max_number_of_allocations.value
