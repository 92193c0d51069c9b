"""The semantic_text load workloads (issue 14): the ingest documents, the run index's sweep,
and an ingest run on the embedded server (fast timing, locust in children as for
test_load_run.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from elsercheck.endpoints import Endpoints, HttpxTransport, elser_body, endpoint_prefix, sweep_run
from elsercheck.load import documents, make_documents, workloads
from elsercheck.load.options import OptionError, values_from
from elsercheck.reference.config import ServerConfig
from elsercheck.reference.serve import EmbeddedServer
from elsercheck.runs import rundir
from elsercheck.target import Target
from elsercheck.timing import PRESETS
from tests.test_load_run import PASSWORD, admin, endpoint_ids, run_cli

OTHER_INDEX = "customer-docs"  # an index the run must not touch


@pytest.fixture
def fast_server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(ServerConfig(password=PASSWORD, timing=PRESETS["fast"])) as running:
        with admin(running) as c:
            assert c.put("/_inference/sparse_embedding/customer-elser",
                         json=elser_body()).status_code == 200  # fmt: skip
            body = workloads.index_body("customer-elser")
            assert c.put(f"/{OTHER_INDEX}", json=body).status_code == 200
        yield running


def indices(server: EmbeddedServer, pattern: str = "*") -> list[str]:
    with admin(server) as c:
        return [i["name"] for i in c.get(f"/_resolve/index/{pattern}").json()["indices"]]


def test_documents_file_is_generated_from_the_passages_with_1_to_4_chunks():
    directory = documents.default_directory()
    assert (directory / documents.FILE).read_text(encoding="utf-8") == make_documents.render(
        directory
    )
    docs = documents.load()
    assert len(docs) >= 30
    assert {d.chunks for d in docs} == {1, 2, 3, 4}
    assert all(d.chunks == make_documents.chunk_count(d.text) for d in docs)
    assert sum(len(d.text.split()) >= 250 for d in docs) >= len(docs) * 3 // 4


def test_workload_and_bulk_size_are_checked_options():
    class Namespace:
        workload = "ingest"
        bulk_size = "7"

    values = values_from(Namespace())
    assert (values["workload"], values["bulk_size"]) == ("ingest", 7)
    Namespace.workload = "upload"
    with pytest.raises(OptionError, match="--workload"):
        values_from(Namespace())
    Namespace.workload, Namespace.bulk_size = "ingest", "0"
    with pytest.raises(OptionError, match="--bulk-size"):
        values_from(Namespace())


def test_the_sweep_deletes_the_runs_indices_and_endpoints_and_nothing_else(fast_server):
    prefix = endpoint_prefix("sweeptest")
    with admin(fast_server) as c:
        assert c.put(f"/_inference/sparse_embedding/{prefix}load",
                     json=elser_body()).status_code == 200  # fmt: skip
        for name in (f"{prefix}docs", f"{prefix}more", "elsercheck-sweeptest2-docs"):
            assert c.put(f"/{name}", json=workloads.index_body(f"{prefix}load")).status_code == 200
        tracked = Endpoints(HttpxTransport(c), prefix)
        with pytest.raises(ValueError):
            tracked.create_index(OTHER_INDEX, {})
    target = Target(url=fast_server.url, username="elastic", password=PASSWORD)
    assert sweep_run(target, "sweeptest") == []
    assert indices(fast_server) == sorted([OTHER_INDEX, "elsercheck-sweeptest2-docs"])
    assert f"{prefix}load" not in endpoint_ids(fast_server)
    assert "customer-elser" in endpoint_ids(fast_server)


@pytest.mark.slow
def test_an_ingest_run_scales_up_and_down_and_every_acknowledged_document_is_searchable(
    fast_server, tmp_path, monkeypatch, capsys
):
    """A spike of bulks (10 users × 0.02 bulks/s of 10 documents, about 2.3 allocations of
    ELSER work at the peak, a tenth of it after): allocations rise with the bulks and fall
    once the spike is over and its queue drained."""
    before_ids, before_indices = endpoint_ids(fast_server), indices(fast_server)
    code, out = run_cli(
        fast_server, tmp_path, "--workload", "ingest", "--shape", "spike", "--peak-users", "10",
        "--bulk-rate-per-user", "0.02", "--bulk-size", "10", "--lifecycle-users", "0",
        monkeypatch=monkeypatch,
    )  # fmt: skip
    log = (out / "locust.log").read_text() if (out / "locust.log").exists() else ""
    assert code in (0, 1, 4), capsys.readouterr().out + log

    rows = [r for r in rundir.read_csv(out / rundir.ALLOCATIONS_CSV) if not r["poll_error"]]
    counts = [r["allocation_count"] for r in rows]
    assert counts and max(counts) >= 2 and max(counts) > counts[0], counts  # bulks scaled it
    peak_at = counts.index(max(counts))
    assert min(counts[peak_at:]) < max(counts), counts  # and fell after the spike
    expectations = {e["name"]: e for e in json.loads((out / rundir.EXPECTATIONS_JSON).read_text())}
    assert expectations["scale-up@spike"]["passed"] is True, expectations
    assert expectations["scale-down@after"]["passed"] is True, expectations
    assert expectations["generator-kept-up"]["passed"] is True, expectations

    bulks = [r for r in rundir.read_csv(out / rundir.REQUESTS_CSV) if r["request_type"] == "BULK"]
    assert len(bulks) >= 10
    assert not any(r["request_type"] == "POST" for r in rundir.read_csv(out / rundir.REQUESTS_CSV))
    answered = [r for r in bulks if r["acknowledged"] is not None]
    assert answered and all(r["documents"] == 10 and 10 <= r["chunks"] <= 40 for r in answered)
    for row in answered:  # every item either acknowledged or counted as a failure by kind
        failed = sum(int(p.rsplit(":", 1)[1]) for p in row["item_failures"].split(";") if p)
        assert row["acknowledged"] + failed == row["documents"], row
    acknowledged = sum(r["acknowledged"] for r in answered)
    assert acknowledged > 0

    run = json.loads((out / rundir.RUN_JSON).read_text())
    assert run["workload"] == "ingest" and run["options"]["bulk_size"] == 10
    index = run["index"]
    assert index["name"] == f"{endpoint_prefix(run['run_id'])}docs"
    assert index["count"] == acknowledged + index["seeded"]  # counted before it was deleted

    assert endpoint_ids(fast_server) == before_ids  # nothing with the run prefix is left
    assert indices(fast_server) == before_indices
    assert run["leftovers"] == [] and not (out / rundir.LEFTOVERS_TXT).exists()


@pytest.mark.slow
def test_a_mixed_run_records_inference_bulk_and_search_and_leaves_nothing(
    fast_server, tmp_path, monkeypatch, capsys
):
    """``--workload mixed``: the three load user classes side by side on one endpoint and
    index; searches find the seeded documents; the report's sections get their rows."""
    before_ids, before_indices = endpoint_ids(fast_server), indices(fast_server)
    code, out = run_cli(
        fast_server, tmp_path, "--workload", "mixed", "--shape", "step", "--peak-users", "6",
        "--rate-per-user", "0.2", "--bulk-size", "5", "--lifecycle-users", "0",
        "--duration", "8", monkeypatch=monkeypatch,
    )  # fmt: skip
    output = capsys.readouterr().out
    assert code in (0, 1, 4), output
    rows = rundir.read_csv(out / rundir.REQUESTS_CSV)
    by_type: dict[str, list[dict]] = {}
    for row in rows:
        by_type.setdefault(row["request_type"], []).append(row)
    assert {"POST", "BULK", "SEARCH"} <= set(by_type), sorted(by_type)
    searches = [r for r in by_type["SEARCH"] if not r["error_kind"]]
    assert searches, by_type["SEARCH"][:3]
    run = json.loads((out / rundir.RUN_JSON).read_text())
    assert run["workload"] == "mixed" and run["index"]["seeded"] == workloads.SEED_DOCUMENTS
    acknowledged = sum(r["acknowledged"] or 0 for r in by_type["BULK"])
    assert run["index"]["count"] == acknowledged + workloads.SEED_DOCUMENTS
    assert "ingest" in output and "search" in output  # the terminal summary's lines
    assert endpoint_ids(fast_server) == before_ids
    assert indices(fast_server) == before_indices


@pytest.mark.slow
def test_ctrl_c_during_a_search_run_deletes_its_index_and_endpoint(fast_server, tmp_path):
    """Ctrl-C (SIGINT to the job's process group) once the run index exists: exit 130, the
    run's index and endpoint gone, the user's index and endpoint untouched."""
    before_ids, before_indices = endpoint_ids(fast_server), indices(fast_server)
    out = tmp_path / "run"
    env = {**os.environ, "ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": PASSWORD}
    process = subprocess.Popen(
        [sys.executable, "-m", "elsercheck", "load", "--url", fast_server.url, "--timing", "fast",
         "--workload", "search", "--shape", "step", "--load-report-dir", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not indices(fast_server, "elsercheck-*"):
        time.sleep(0.2)
    assert indices(fast_server, "elsercheck-*"), "the run never created its index"
    time.sleep(2)
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=90)
    assert process.returncode == 130, output
    assert "Traceback" not in output
    assert indices(fast_server) == before_indices
    assert endpoint_ids(fast_server) == before_ids
    run = json.loads((out / rundir.RUN_JSON).read_text())
    assert run["interrupted_by"] == "SIGINT" and run["leftovers"] == []


def test_search_query_shapes_are_checked_and_answered(fast_server):
    """``--search-query``: a checked option; each shape's body answers 200 with hits on an index
    of the run's mapping (the hybrid ones need the text field)."""

    class Namespace:
        search_query = "hybrid-knn"

    with pytest.raises(OptionError, match="--search-query"):
        values_from(Namespace())
    Namespace.search_query = "hybrid-rrf"
    assert values_from(Namespace())["search_query"] == "hybrid-rrf"
    with admin(fast_server) as c:
        assert c.put("/elsercheck-shapes-docs",
                     json=workloads.index_body("customer-elser", lexical=True)).status_code == 200  # fmt: skip
        try:
            doc = {
                workloads.SEMANTIC_FIELD: "bakers knead dough",
                workloads.LEXICAL_FIELD: "bakers knead dough",
            }
            bulk = c.post("/elsercheck-shapes-docs/_bulk?refresh=true", headers={"Content-Type": "application/x-ndjson"},
                   content='{"index":{"_id":"1"}}\n' + json.dumps(doc) + "\n")  # fmt: skip
            assert bulk.json()["errors"] is False, bulk.text
            for shape in workloads.SEARCH_QUERIES:
                body = workloads.search_body(shape, "knead dough")
                response = c.post("/elsercheck-shapes-docs/_search", json=body)
                assert response.status_code == 200, (shape, response.text)
                assert [h["_id"] for h in response.json()["hits"]["hits"]] == ["1"], shape
        finally:
            c.delete("/elsercheck-shapes-docs")
    rrf = workloads.search_body("hybrid-rrf", "q")["retriever"]["rrf"]["retrievers"]
    assert [list(r["standard"]["query"]) for r in rrf] == [["match"], ["semantic"]]


@pytest.mark.slow
def test_a_hybrid_rrf_search_run_is_recorded_like_the_rest(
    fast_server, tmp_path, monkeypatch, capsys
):
    """``--workload search --search-query hybrid-rrf``, briefly: the searches answer (rrf over a
    BM25 match and a semantic query), are recorded under the shape's name and in run.json."""
    code, out = run_cli(
        fast_server, tmp_path, "--workload", "search", "--search-query", "hybrid-rrf",
        "--shape", "step", "--peak-users", "2", "--rate-per-user", "0.5",
        "--lifecycle-users", "0", "--duration", "6", monkeypatch=monkeypatch,
    )  # fmt: skip
    output = capsys.readouterr().out
    assert code in (0, 1, 4), output  # 4: a run this short may leave an expectation inconclusive
    searches = [
        r for r in rundir.read_csv(out / rundir.REQUESTS_CSV) if r["request_type"] == "SEARCH"
    ]
    assert searches and all(r["name"] == "hybrid-rrf" for r in searches)
    assert [r for r in searches if not r["error_kind"]], searches[:3]
    run = json.loads((out / rundir.RUN_JSON).read_text())
    assert run["options"]["search_query"] == "hybrid-rrf"
    assert run["index"]["seeded"] == workloads.SEED_DOCUMENTS
    assert "search" in output
