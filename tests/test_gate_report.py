"""Reading JUnit XML into the gate's summary."""

from __future__ import annotations

from pathlib import Path

from elsercheck.gate_report import GateSummary, read_junit, write_html

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite>
<testcase classname="test_routing" name="test_unknown_path" time="0.1"/>
<testcase classname="test_auth.TestKeys" name="test_refused" time="0.2">
  <failure message="assert 200 == 403">trace</failure>
  <properties><property name="curl_1" value="curl -X PUT 'http://x/_inference/a'"/></properties>
</testcase>
<testcase classname="test_auth" name="test_no_credentials_401" time="0">
  <skipped type="pytest.skip" message="security off"/></testcase>
<testcase classname="test_lifecycle" name="test_rejected_put_leaves_nothing" time="0">
  <skipped type="pytest.xfail" message="#137127"/></testcase>
<testcase classname="test_schema" name="test_operation_honours_schema" time="0.5">
  <failure message="Undocumented HTTP status code">trace</failure>
  <properties><property name="operation" value="PUT /_inference/{task_type}/{inference_id}"/>
  </properties></testcase>
</testsuite></testsuites>"""


def test_read_junit(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    cases = {case.name: case for case in read_junit(path)}
    assert cases["test_routing.py::test_unknown_path"].outcome == "passed"
    failed = cases["test_auth.py::TestKeys::test_refused"]
    assert failed.outcome == "failed" and failed.message == "assert 200 == 403"
    assert failed.reproducers == ["curl -X PUT 'http://x/_inference/a'"]
    assert cases["test_auth.py::test_no_credentials_401"].outcome == "skipped"
    assert cases["test_lifecycle.py::test_rejected_put_leaves_nothing"].outcome == "xfailed"
    # A schema-driven failure names its operation (JUnit alone names only the test).
    operation = (
        "test_schema.py::test_operation_honours_schema[PUT /_inference/{task_type}/{inference_id}]"
    )
    assert cases[operation].outcome == "failed"
    summary = GateSummary(list(cases.values()), "http://x", "9.1.5", "r1", 1.0)
    assert not summary.conformant
    text = summary.text([path])
    assert text.startswith("NOT CONFORMANT") and "1 passed, 2 failed, 1 skipped, 1 xfailed" in text
    assert f"✗ {operation}: Undocumented HTTP status code" in text
    html = write_html(summary, tmp_path / "gate.html").read_text()
    assert "Not conformant" in html and "curl -X PUT" in html


def test_empty_run_is_not_conformant() -> None:
    assert not GateSummary([]).conformant


ERRORS_ONLY = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite>
<testcase classname="test_routing" name="test_unknown_path" time="0.1"/>
<testcase classname="test_auth" name="test_low_privilege_key_may_read_and_infer" time="0.2">
  <error message="failed on setup with &quot;AssertionError: 400&quot;">trace</error></testcase>
<testcase classname="test_auth" name="test_no_credentials_401" time="0">
  <skipped type="pytest.skip" message="target has security off"/></testcase>
<testcase classname="test_auth" name="test_bad_password_401" time="0">
  <skipped type="pytest.skip" message="target has security off"/></testcase>
</testsuite></testsuites>"""


def test_setup_errors_alone_are_incomplete_not_violations(tmp_path: Path) -> None:
    # The suite's own setup failing is no nonconformance of the target: no verdict on those.
    path = tmp_path / "junit.xml"
    path.write_text(ERRORS_ONLY)
    summary = GateSummary(read_junit(path), "http://x", "9.5.4", "r1", 1.0)
    assert summary.verdict == "INCOMPLETE" and not summary.conformant and not summary.failures
    text = summary.text([])
    assert text.startswith("INCOMPLETE") and "1 check(s) could not run" in text
    assert "? could not run: test_auth.py::test_low_privilege_key_may_read_and_infer" in text
    assert "- skipped (2): target has security off" in text
    html = write_html(summary, tmp_path / "gate.html").read_text()
    assert "Incomplete: no violation seen" in html and "Not conformant" not in html
    assert "<h2>Could not run" in html and "<h2>Skipped</h2>" in html


def test_a_violation_outranks_checks_that_could_not_run(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(ERRORS_ONLY.replace(
        '<testcase classname="test_routing" name="test_unknown_path" time="0.1"/>',
        '<testcase classname="test_routing" name="test_unknown_path" time="0.1">'
        '<failure message="assert 404 == 400">trace</failure></testcase>'))  # fmt: skip
    summary = GateSummary(read_junit(path))
    assert summary.verdict == "NOT CONFORMANT" and len(summary.not_run) == 1
