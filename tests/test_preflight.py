"""Pre-flight and `sfn-local check`: what a definition needs locally, what is missing and how to add it;
a Lambda function with no handler fails the task as AWS does (catchable)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import emulator
from emulator.integrations.mocks import MockConfig
from emulator.testing.preflight import check_command, format_missing, needs, preflight
from emulator.workspace import Config, ConfigError
from tests.conftest import chain

ROOT = Path(__file__).resolve().parents[1]
ETL = ROOT / "definitions" / "etl_extract_transform_validate_load.asl.json"
CSV = ROOT / "definitions" / "csv_to_parquet.asl.json"


@pytest.fixture
def project_ws(tmp_path: Path) -> emulator.Workspace:
    return emulator.Workspace(root=tmp_path / "ws", project=ROOT)


def test_missing_lambdas_are_reported_together_with_fixes(project_ws: emulator.Workspace) -> None:
    machine = emulator.StateMachine(ETL, workspace=project_ws)
    missing = preflight(machine)
    assert [(m.kind, m.name, m.state) for m in missing] == [
        ("lambda", "etl-extract", "Extract"), ("lambda", "etl-transform", "Transform"),
        ("lambda", "etl-validate", "Validate"), ("lambda", "etl-load", "Load")]
    text = format_missing(missing)
    assert "--handler etl-load=module:function" in text and "[lambdas] etl-load" in text
    # Handlers given to the run, or mocks for those states, satisfy it.
    assert preflight(machine, {"etl-extract": len, "etl-transform": len}, None)[0].name == "etl-validate"
    case = MockConfig.load(ROOT / "definitions" / "mocks.json").test_case(
        "etl_extract_transform_validate_load", "Loaded")
    assert preflight(machine, mocks=case) == []


def test_glue_jobs_scripts_and_crawlers_come_from_the_config(project_ws: emulator.Workspace) -> None:
    found = {(n.kind, n.name): n for n in needs(emulator.StateMachine(CSV, workspace=project_ws))}
    assert found["glue job", "csv-to-parquet"].present
    script = found["glue script", "s3://car-rental-code/spark_jobs/csv_to_parquet.py"]
    assert script.present and script.detail == str(ROOT / "spark_jobs" / "csv_to_parquet.py")
    assert found["crawler", "raw-csv"].present and found["crawler", "curated-parquet"].present


def test_unknown_job_crawler_and_resource_are_missing(tmp_path: Path) -> None:
    (tmp_path / "sfn-local.toml").write_text('[glue_jobs.gone]\nScriptLocation = "jobs/gone.py"\n')
    # Loading the config already names the missing script; pre-flight reports it with the rest.
    with pytest.raises(ConfigError, match=r"sfn-local\.toml:2: .*ScriptLocation.*jobs/gone\.py"):
        emulator.Workspace(root=tmp_path / "ws", project=tmp_path)
    ws = emulator.Workspace(root=tmp_path / "ws", project=tmp_path,
                            config=Config(glue_jobs={"gone": {"ScriptLocation": "jobs/gone.py"}}))
    definition = chain(
        ("Job", {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                 "Parameters": {"JobName": "gone"}}),
        ("Other", {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun", "Parameters": {"JobName": "nope"}}),
        ("Crawl", {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:startCrawler",
                   "Parameters": {"Name": "crawlr"}}),
        ("Train", {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob"}))
    missing = {(m.kind, m.name): m for m in preflight(emulator.StateMachine(definition, workspace=ws))}
    assert set(missing) == {("glue script", "jobs/gone.py"), ("glue job", "nope"), ("crawler", "crawlr"),
                            ("resource", "arn:aws:states:::sagemaker:createTrainingJob")}
    assert missing["glue script", "jobs/gone.py"].fix == f"put the script at {tmp_path / 'jobs' / 'gone.py'}"
    assert "No local handler" in missing["resource", "arn:aws:states:::sagemaker:createTrainingJob"].detail


def test_check_command_prints_a_table_and_exits_1_when_something_is_missing(monkeypatch: pytest.MonkeyPatch
                                                                            ) -> None:
    monkeypatch.chdir(ROOT)
    ok = CliRunner().invoke(check_command, [str(CSV)], terminal_width=200)
    assert ok.exit_code == 0, ok.output
    assert "csv-to-parquet" in ok.output and "NO" not in ok.output
    bad = CliRunner().invoke(check_command, [str(CSV), str(ETL)], terminal_width=200)
    assert bad.exit_code == 1
    assert bad.output.count("NO") == 4 and "[lambdas] etl-extract" in bad.output


def test_lambda_without_handler_fails_the_task_catchably(tmp_path: Path) -> None:
    ws = emulator.Workspace(root=tmp_path / "ws", project=tmp_path)
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:ghost"
    definition = chain(("Call", {"Type": "Task", "Resource": arn, "Catch": [
        {"ErrorEquals": ["Lambda.ResourceNotFoundException"], "Next": "Caught"}]}),
        ("Caught", {"Type": "Pass", "End": True}))
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["Error"] == "Lambda.ResourceNotFoundException"
    assert "function:ghost" in ex.output["Cause"] and "404" in ex.output["Cause"]
