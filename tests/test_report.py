"""elsercheck report: files, exit codes, self-contained HTML, schema, gate, index, escaping."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from elsercheck.report import command
from elsercheck.report.index import write_index
from elsercheck.runs import rundir

from .loadrun_fixtures import write_empty_run, write_run
from .secret_scan import assert_no_secret

SCHEMA = json.loads(
    (Path(command.__file__).parent / "summary.schema.json").read_text(encoding="utf-8")
)
TIME_CHARTS = ("throughput", "latency", "allocations", "queue", "errors")
# src=/href= pointing anywhere remote (http:, https: or protocol-relative //)
REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)
JUNIT_OK = """<?xml version="1.0"?><testsuites><testsuite>
<testcase classname="test_routing" name="test_unknown_path" time="0.1"/>
<testcase classname="test_auth" name="test_no_credentials" time="0.2"/></testsuite></testsuites>"""
JUNIT_FAILED = """<?xml version="1.0"?><testsuites><testsuite>
<testcase classname="test_routing" name="test_unknown_path" time="0.1">
<failure message="assert 404 == 400">trace</failure></testcase></testsuite></testsuites>"""


def report(*args: str | Path) -> int:
    return command.main([str(arg) for arg in args])


def validate(document: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(document)


def read_summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    return tmp_path / "reports"


def test_schema_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_report_of_a_realistic_run(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = write_run(reports / "load" / "r1")
    assert report(run_dir, "--history", reports / "history") == 0
    out = capsys.readouterr().out
    assert "1199 inference requests" in out and "OK (exit 0)" in out
    assert f"report: {run_dir / 'report.html'}" in out

    document = read_summary(run_dir)
    validate(document)
    assert (
        document["schema_version"] == 4
    )  # 2: load.ingest / load.search; 3: cost, cold starts; 4: time_base
    assert document["load"]["ingest"] is None and document["load"]["search"] is None
    assert document["verdict"] == {"status": "ok", "exit_code": 0, "reasons": []}
    assert document["comparison"] is None and document["gate"] is None
    assert document["run"]["target_version"] == "9.1.5"
    assert document["load"]["allocations"]["max_allocation_count"] == 4
    assert document["load"]["errors"]["by_kind"]["429"] > 0
    # The history holds the same document under the run id.
    stored = reports / "history" / "20261121t100000-aaaa.json"
    assert json.loads(stored.read_text()) == document

    page = (run_dir / "report.html").read_text(encoding="utf-8")
    for key in (*TIME_CHARTS, "buckets"):
        match = re.search(rf'<svg class="chart" id="chart-{key}"[^>]*><title>([^<]+)</title>', page)
        assert match, f"no {key} chart"
    assert page.count("<svg") == 6  # no trend chart: one run only
    assert "Throughput and load (1 s windows)" in page
    for text in ("scale-up@up", "load_rose_at_s", "time_to_fully_allocated", "batch-medium",
                 "rejected: inference queue full", "No baseline"):  # fmt: skip
        assert text in page


def test_report_is_self_contained(reports: Path) -> None:
    run_dir = write_run(reports / "load" / "r1")
    assert report(run_dir, "--no-history") == 0
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert not REMOTE.search(page), REMOTE.search(page)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    # url() only for in-page references (SVG clip paths), never a fetch
    assert not re.search(r"""url\(\s*['"]?(?!#)""", page)
    # Several inline SVGs on one page: their ids (clip paths, markers) must not clash.
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)) and len(ids) > 20
    assert not (reports / "history").exists()


def test_empty_run(reports: Path) -> None:
    run_dir = write_empty_run(reports / "load" / "empty")
    assert report(run_dir, "--history", reports / "history") == 0
    document = read_summary(run_dir)
    validate(document)
    assert document["load"]["requests"]["total"] == 0
    assert document["load"]["latency_ms"]["p99"] is None
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<svg" not in page
    assert "No failed inference requests" in page and "No expectations were recorded" in page


def test_partial_run_without_run_json(reports: Path) -> None:
    run_dir = write_run(reports / "load" / "partial", files=[rundir.REQUESTS_CSV])
    assert report(run_dir, "--no-history") == 0
    document = read_summary(run_dir)
    validate(document)
    assert document["run"] == {"run_id": "partial"}
    assert document["load"]["allocations"]["samples"] == 0
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert 'id="chart-throughput"' in page and 'id="chart-allocations"' not in page


def test_failed_expectation_exits_1(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = write_run(reports / "load" / "failed", failed=True)
    assert report(run_dir, "--no-history") == 1
    out = capsys.readouterr().out
    assert "FAILED (exit 1)" in out and "expectation failed: scale-down@down" in out
    document = read_summary(run_dir)
    validate(document)
    assert document["verdict"]["status"] == "failed"
    assert "the load run exited with code 1" in document["verdict"]["reasons"]
    assert "Failed" in (run_dir / "report.html").read_text(encoding="utf-8")


def test_inconclusive_run_is_reported_exit_4(
    reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run whose real-time verdicts the load machine fell behind on (exit 4): `elsercheck
    load` reports every run by default, so its report must render too."""
    run_dir = write_run(reports / "load" / "behind")
    expectations = rundir.read_json(run_dir / rundir.EXPECTATIONS_JSON)
    expectations[0].update(passed=False, inconclusive=True)  # as expectations.py writes it
    rundir.write_json(run_dir / rundir.EXPECTATIONS_JSON, expectations)
    run = rundir.read_json(run_dir / rundir.RUN_JSON)
    rundir.write_json(run_dir / rundir.RUN_JSON, {**run, "exit_code": 4})
    assert report(run_dir, "--no-history") == 4, capsys.readouterr()
    document = read_summary(run_dir)
    validate(document)
    assert document["verdict"]["status"] == "inconclusive"
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<div class='verdict skipped'><strong class='skipped'>Inconclusive" in page


def test_gate_found_next_to_the_run(reports: Path) -> None:
    run_dir = write_run(reports / "load" / "20261121t100000-aaaa")
    gate_dir = reports / "gate" / "20261121t100000-aaaa"
    gate_dir.mkdir(parents=True)
    (gate_dir / "junit.xml").write_text(JUNIT_OK)
    (gate_dir / "gate.html").write_text("<html></html>")
    assert report(run_dir, "--no-history") == 0
    gate = read_summary(run_dir)["gate"]
    assert gate["conformant"] and gate["counts"]["passed"] == 2
    assert gate["html"] == "../../gate/20261121t100000-aaaa/gate.html"
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Conformant" in page and "href='../../gate/20261121t100000-aaaa/gate.html'" in page


def test_failed_gate_exits_1(reports: Path, tmp_path: Path) -> None:
    run_dir = write_run(reports / "load" / "r1")
    gate_dir = tmp_path / "elsewhere"
    gate_dir.mkdir()
    (gate_dir / "junit.xml").write_text(JUNIT_FAILED)
    assert report(run_dir, "--no-history", "--gate-dir", gate_dir) == 1
    document = read_summary(run_dir)
    validate(document)
    assert document["gate"]["failures"] == [
        {"name": "test_routing.py::test_unknown_path", "message": "assert 404 == 400"}
    ]
    assert document["verdict"]["reasons"] == [
        "conformance gate: not conformant (1 failed, 0 errors)"
    ]


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("missing", [], "is not a directory"),
        ("not-a-run", [], "is not a load run directory"),
        ("run", ["--gate-dir", "{tmp}/no-gate"], "no junit.xml in"),
        ("run", ["--history", "{tmp}/history", "--baseline", "nope"], "baseline run 'nope'"),
        ("run", ["--no-history", "--baseline", "x"], "--baseline needs a history"),
        ("corrupt-run-json", [], "no readable run file (run.json is not valid JSON)"),
        ("run-json-not-object", [], "no readable run file (run.json is not a JSON object)"),
        ("requests-not-utf8", [], "requests.csv is not UTF-8 text"),
        ("allocations-not-utf8", [], "allocations.csv is not UTF-8 text"),
        (
            "garbage-requests-csv",
            [],
            "no readable run file (requests.csv is not a CSV with a request_type column)",
        ),
        (
            "requests-csv-without-rows",
            [],
            "no readable run file (requests.csv is a CSV without a valid row (2 malformed))",
        ),
    ],
)
def test_usage_errors_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: str, args: list[str], message: str
) -> None:
    run_dir = tmp_path / "run"
    if setup == "not-a-run":
        run_dir.mkdir()
        (run_dir / "notes.txt").write_text("hello")
    elif setup == "run":
        write_run(run_dir)
    elif setup == "corrupt-run-json":  # the only file, cut short
        run_dir.mkdir()
        (run_dir / rundir.RUN_JSON).write_text('{"run_id": "r", "started_at": ')
    elif setup == "run-json-not-object":
        run_dir.mkdir()
        (run_dir / rundir.RUN_JSON).write_text("[1, 2]")
    elif setup == "garbage-requests-csv":  # the only file, and not a run's CSV at all
        run_dir.mkdir()
        (run_dir / rundir.REQUESTS_CSV).write_text("garbage\n\x01,,;;\nmore garbage, 1, 2\n")
    elif setup == "requests-csv-without-rows":  # its header, but no row that can be read
        run_dir.mkdir()
        (run_dir / rundir.REQUESTS_CSV).write_text(
            "timestamp,elapsed_s,request_type,latency_ms\nx,y\n,,POST,abc\n"
        )
    elif setup.endswith("-not-utf8"):  # a valid run, one CSV with Latin-1 bytes in a row
        write_run(run_dir)
        name = rundir.REQUESTS_CSV if setup.startswith("requests") else rundir.ALLOCATIONS_CSV
        with (run_dir / name).open("ab") as handle:
            handle.write(b"\xff\xfe caf\xe9\n")
    assert report(run_dir, *(arg.format(tmp=tmp_path) for arg in args)) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("elsercheck: error: ") and message in captured.err
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err
    assert not (run_dir / "report.html").exists()


def test_corrupt_run_json_beside_readable_files_still_reports(reports: Path) -> None:
    """A half-written run.json reads as absent when the run's other files are readable."""
    run_dir = write_run(reports / "load" / "cut", files=[rundir.REQUESTS_CSV])
    (run_dir / rundir.RUN_JSON).write_text('{"run_id": "cut", "sta')
    assert report(run_dir, "--no-history") == 0
    document = read_summary(run_dir)
    validate(document)
    assert document["run"] == {"run_id": "cut"}
    assert document["load"]["requests"]["total"] > 0


@pytest.mark.parametrize("threshold", ["p99=10", "latency_p99_ms", "latency_p99_ms=-5",
                                       "latency_p99_ms=fast"])  # fmt: skip
def test_bad_threshold_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], threshold: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        report(write_run(tmp_path / "run"), "--threshold", threshold)
    assert exit_info.value.code == 2
    assert "--threshold" in capsys.readouterr().err


def test_text_is_escaped_and_secrets_stay_out(
    reports: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = write_run(reports / "load" / "r1")
    run = rundir.read_json(run_dir / rundir.RUN_JSON)
    run["target_version"] = "<script>alert(1)</script>"
    run["target"] = "https://elastic:hunter2@es.example:9200"
    run["endpoint"]["settings"]["service_settings"]["api_key"] = "sekrit-key"
    rundir.write_json(run_dir / rundir.RUN_JSON, run)
    expectations = rundir.read_json(run_dir / rundir.EXPECTATIONS_JSON)
    expectations[0]["detail"] = "<img src=x onerror=alert(2)>"
    rundir.write_json(run_dir / rundir.EXPECTATIONS_JSON, expectations)
    assert report(run_dir, "--no-history") == 0
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    summary = (run_dir / "summary.json").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    for text in (page, summary):
        assert "hunter2" not in text and "sekrit-key" not in text
    assert "https://es.example:9200" in page
    # Every file the report wrote, and what it printed, in any encoding of the secrets.
    written = [run_dir / "report.html", run_dir / "summary.json"]
    output = capsys.readouterr()
    texts = {"stdout": output.out, "stderr": output.err}
    assert_no_secret("hunter2", username="elastic", paths=written, texts=texts)
    assert_no_secret("sekrit-key", paths=written, texts=texts)


def test_write_index_lists_newest_first(reports: Path) -> None:
    older = write_run(reports / "load" / "20261120t100000-aaaa", run_id="20261120t100000-aaaa",
                      started_at="2026-11-20T10:00:00Z")  # fmt: skip
    newer = write_run(reports / "load" / "20261121t100000-bbbb", run_id="20261121t100000-bbbb",
                      started_at="2026-11-21T10:00:00Z", failed=True)  # fmt: skip
    for run_dir in (newer, older):
        report(run_dir, "--no-history")
    write_run(reports / "load" / "no-report-yet")  # not listed: no report.html
    gate = reports / "gate" / "20261121t090000-cccc"
    gate.mkdir(parents=True)
    (gate / "junit.xml").write_text(JUNIT_FAILED)
    (gate / "gate.html").write_text("<html></html>")
    path = write_index(reports)
    assert path == reports / "index.html"
    page = path.read_text(encoding="utf-8")
    assert page.index("20261121t100000-bbbb") < page.index("20261120t100000-aaaa")
    assert "href='load/20261121t100000-bbbb/report.html'" in page
    assert "no-report-yet" not in page
    assert "href='gate/20261121t090000-cccc/gate.html'" in page and "1 failed" in page
    assert "<span class='failed'>failed</span>" in page
    assert not REMOTE.search(page)


def test_write_index_of_an_empty_tree(tmp_path: Path) -> None:
    page = write_index(tmp_path / "reports").read_text(encoding="utf-8")
    assert page.count("none yet") == 3


def test_garbage_in_the_run_files_does_not_break_the_report(reports: Path) -> None:
    """A harness bug (wrong types, inf/nan, junk rows) yields a report, not a traceback."""
    run_dir = reports / "load" / "weird"
    run_dir.mkdir(parents=True)
    (run_dir / rundir.RUN_JSON).write_text(json.dumps({
        "run_id": 5, "stages": "x", "started_at": 12, "finished_at": "nonsense", "target": ["a"],
        "exit_code": "1", "endpoint": "str", "timing": [1, 2], "shape": {"a": 1},
    }))  # fmt: skip
    (run_dir / rundir.EXPECTATIONS_JSON).write_text(
        json.dumps([{"name": 1, "passed": [1], "observed": [1]}, "junk", {"passed": False}])
    )
    (run_dir / rundir.ALLOCATIONS_CSV).write_text(
        "timestamp,elapsed_s,allocation_count,target_allocation_count,offered_rate,poll_error\n"
        "1,abc,x,2,,\n2,1.0,1,1,inf,\n3,2.0,,,,timeout\n"
    )
    (run_dir / rundir.REQUESTS_CSV).write_text(
        "timestamp,elapsed_s,request_type,name,latency_ms,error_kind\n"
        ",0.1,POST,short,abc,\n,0.2,POST,short,-5,\n,0.3,POST,,inf,\n,x,POST,a,1,\n,0.4,POST,a,7,\n"
    )
    assert report(run_dir, "--history", reports / "history") == 1  # the one failed expectation
    document = read_summary(run_dir)
    validate(document)
    assert document["run"]["run_id"] == "5" and document["run"]["stages"] == []
    assert document["load"]["requests"]["total"] == 4 and document["load"]["malformed_rows"] == 1
    assert document["load"]["latency_ms"]["count"] == 1  # only the 7 ms answer has a latency
    assert document["load"]["expectations"]["fail"] == 1
    assert (run_dir / "report.html").is_file()
