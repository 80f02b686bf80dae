"""`sfn-local test` on the pipelines' mock suites (definitions/mocks.json): all services mocked, so no Spark."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.integrations.mocks import MockConfig
from emulator.testing.cli import test_command as sfn_test

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "definitions" / "mocks.json"
PIPELINES = ("car_rental_pipeline", "csv_to_parquet", "customer_dedup", "etl_extract_transform_validate_load")


@pytest.fixture(autouse=True)
def in_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_every_pipeline_has_success_retry_and_failure_cases() -> None:
    config = MockConfig.load(SUITE)
    assert set(config.machines) == set(PIPELINES)
    for machine, cases in config.machines.items():
        statuses = {case.expect.status for case in cases.values()}
        assert statuses == {"SUCCEEDED", "FAILED"}, machine
        retried = [c for c in cases.values() if any(n > 1 for n in c.expect.calls.values())]
        assert retried or machine == "csv_to_parquet", f"{machine} has no retry case"


def test_the_pipeline_suites_pass_fast_and_write_junit(tmp_path: Path) -> None:
    junit = tmp_path / "out" / "junit.xml"
    started = time.perf_counter()
    result = CliRunner().invoke(sfn_test, ["--junit", str(junit)])  # definitions/mocks.json is the default
    wall = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert "14 passed, 0 failed" in result.output and "FAIL" not in result.output
    root = ET.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures")) == ("14", "0")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == set(PIPELINES)
    times = [float(case.get("time")) for case in root.iter("testcase")]
    assert max(times) < 1.0 and wall < 10, (times, wall)


def test_a_failing_case_shows_its_first_difference(tmp_path: Path) -> None:
    suite = json.loads(SUITE.read_text())
    case = suite["StateMachines"]["customer_dedup"]["TestCases"]["Deduplicated"]
    case["Expect"]["output"]["crawler"]["State"] = "RUNNING"
    retried = suite["StateMachines"]["customer_dedup"]["TestCases"]["ConcurrentRunsRetried"]
    retried["Expect"]["calls"]["Deduplicate"] = 2
    path = tmp_path / "mocks.json"
    path.write_text(json.dumps(suite))
    junit = tmp_path / "junit.xml"
    result = CliRunner().invoke(sfn_test, [str(path), "--machine", "customer_dedup", "--junit", str(junit)],
                                terminal_width=200)
    assert result.exit_code == 1
    assert "1 passed, 2 failed" in result.output
    text = " ".join(result.output.split())
    assert "output $.crawler.State: expected \"RUNNING\", got \"READY\"" in text.replace("│ ", "").replace(" │", "")
    failures = {c.get("name"): c.find("failure") for c in ET.parse(junit).getroot().iter("testcase")}
    assert failures["ConcurrentRunsExhausted"] is None
    assert failures["ConcurrentRunsRetried"].get("message") == "calls Deduplicate: expected 2, got 3"
    assert failures["Deduplicated"].get("message").startswith(
        'output $.crawler.State: expected "RUNNING", got "READY" (last state')


def test_status_and_path_differences_name_the_state(tmp_path: Path) -> None:
    suite = json.loads(SUITE.read_text())
    cases = suite["StateMachines"]["etl_extract_transform_validate_load"]["TestCases"]
    cases["QualityGateFails"]["Expect"] = {"status": "SUCCEEDED"}
    cases["Loaded"]["Expect"]["path"][4] = "Loaded"
    path = tmp_path / "mocks.json"
    path.write_text(json.dumps(suite))
    junit = tmp_path / "junit.xml"
    result = CliRunner().invoke(sfn_test, [str(path), "--machine", "etl_extract_transform_validate_load",
                                           "--junit", str(junit)])
    assert result.exit_code == 1
    failures = {c.get("name"): c.find("failure") for c in ET.parse(junit).getroot().iter("testcase")}
    assert failures["QualityGateFails"].get("message").startswith(
        "status: expected SUCCEEDED, got FAILED (DataQualityCheckFailed in state 'DataQualityFailed'")
    assert failures["Loaded"].get("message") == "path[4]: expected state 'Loaded', got 'Load'"


def test_one_case_and_bad_selections(tmp_path: Path) -> None:
    result = CliRunner().invoke(sfn_test, [str(SUITE), "--machine", "customer_dedup", "--case", "Deduplicated"])
    assert result.exit_code == 0 and "1 passed, 0 failed" in result.output
    result = CliRunner().invoke(sfn_test, [str(SUITE), "--machine", "customer-dedup"])
    assert result.exit_code == 1
    assert "no state machine 'customer-dedup' (did you mean 'customer_dedup'?)" in result.output
    orphan = tmp_path / "orphan.json"
    orphan.write_text(json.dumps({"StateMachines": {"Nowhere": {"TestCases": {"T": {}}}}}))
    result = CliRunner().invoke(sfn_test, [str(orphan)])
    assert result.exit_code == 1 and "no definition for state machine 'Nowhere'" in " ".join(result.output.split())
