"""Failure reports: the root cause of a failed execution (state, error, retries, Catch, Fail state),
for Lambda-style tasks, Spark jobs that raise in a UDF, and crawls of a missing path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import emulator
import emulator.integrations.glue  # registers aws-sdk:glue
from emulator import StatesError
from emulator.workspace import Config, Workspace
from tests.conftest import chain

REPO = Path(__file__).resolve().parent.parent
PARSE_ARN = "arn:aws:lambda:us-east-1:123456789012:function:parse"


def pipeline() -> dict[str, Any]:
    """A Map of a retried Task, caught by the Map and routed through a Pass to a Fail state."""
    return {"StartAt": "Transform", "States": {
        "Transform": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
                      "ItemProcessor": {"StartAt": "Parse", "States": {
                          "Parse": {"Type": "Task", "Resource": PARSE_ARN, "End": True,
                                    "Retry": [{"ErrorEquals": ["Custom.BadRecord"], "MaxAttempts": 2,
                                               "IntervalSeconds": 1}]}}},
                      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}],
                      "End": True},
        "NotifyFailure": {"Type": "Pass", "Next": "Failed"},
        "Failed": {"Type": "Fail", "Error": "Pipeline.Failed", "Cause": "the pipeline failed"}}}


def parse(event: dict[str, Any]) -> dict[str, Any]:
    if event["id"] == 3:
        raise StatesError("Custom.BadRecord", f"record {event['id']} has no id")
    return event


def test_a_caught_error_routed_to_fail_names_the_task_its_error_the_catch_and_the_fail_state() -> None:
    ex = emulator.run(pipeline(), {"items": [{"id": i} for i in range(5)]}, resources={"parse": parse})
    assert ex.status == "FAILED" and ex.error == "Pipeline.Failed"
    root = ex.root_cause
    assert root is not None
    assert (root.state, root.label, root.error, root.cause) == ("Parse", "Transform[3].Parse", "Custom.BadRecord",
                                                               "record 3 has no id")
    assert (root.retries, root.caught_by, root.caught_to, root.fail_state) == (2, "Transform", "NotifyFailure",
                                                                               "Failed")
    assert root.lines()[:2] == [
        "root cause: state 'Parse' (Map 'Transform' iteration 3): Custom.BadRecord: record 3 has no id",
        "then: retried 2 times, caught by 'Transform' → 'NotifyFailure', ended in Fail state 'Failed'"]


def test_an_uncaught_fail_state_in_a_parallel_branch_is_its_own_root_cause() -> None:
    definition = {"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Fine", "States": {"Fine": {"Type": "Pass", "End": True}}},
        {"StartAt": "Check", "States": {"Check": {"Type": "Choice", "Default": "Broken", "Choices": [
            {"Variable": "$.ok", "BooleanEquals": True, "Next": "Good"}]},
            "Good": {"Type": "Succeed"},
            "Broken": {"Type": "Fail", "Error": "Data.Invalid", "Cause": "ok is false"}}}]}}}
    ex = emulator.run(definition, {"ok": False})
    root = ex.root_cause
    assert root is not None and (root.state, root.error, root.cause) == ("Broken", "Data.Invalid", "ok is false")
    assert root.place == "Parallel 'Fan' branch 1" and root.caught_by is None and root.retries == 0
    assert emulator.run(definition, {"ok": True}).root_cause is None


def test_the_run_command_prints_the_root_cause_and_its_travel(tmp_path: Path) -> None:
    (tmp_path / "machine.json").write_text(json.dumps(pipeline()))
    (tmp_path / "handlers.py").write_text(
        "def parse(event):\n"
        "    if event['id'] == 3:\n"
        "        raise KeyError('id')\n"
        "    return event\n")
    result = subprocess.run(
        [sys.executable, "-c", "from emulator.cli import main; main()", "run", "machine.json", "--input", json.dumps({"items": [
            {"id": i} for i in range(5)]}), "--handler", "parse=handlers:parse"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO), "SFN_LOCAL_WORKSPACE": str(tmp_path / "ws")})
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "root cause: state 'Parse' (Map 'Transform' iteration 3): KeyError" in out
    assert "then: caught by 'Transform' → 'NotifyFailure', ended in Fail state 'Failed'" in out
    assert "error: Pipeline.Failed" in out


def test_a_crawl_of_a_missing_path_is_named_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    ws = Workspace(root=tmp_path / "ws", project=tmp_path, config=Config(
        buckets={"lake": tmp_path / "lake"},
        crawlers={"orders": {"DatabaseName": "sales", "Targets": {"S3Targets": [{"Path": "s3://lake/orders/"}]}}}))
    glue = "arn:aws:states:::aws-sdk:glue:"
    definition = chain(
        ("Start", {"Type": "Task", "Resource": glue + "startCrawler", "Parameters": {"Name": "orders"},
                   "ResultPath": None}),
        ("Poll", {"Type": "Task", "Resource": glue + "getCrawler", "Parameters": {"Name": "orders"},
                  "ResultPath": "$.poll"}),
        ("Ready?", {"Type": "Choice", "Default": "Wait", "Choices": [
            {"Variable": "$.poll.Crawler.State", "StringEquals": "READY", "Next": "Table"}]}),
        ("Wait", {"Type": "Wait", "Seconds": 30, "Next": "Poll"}),
        ("Table", {"Type": "Task", "Resource": glue + "getTable",
                   "Parameters": {"DatabaseName": "sales", "Name": "orders"}}),
    )
    ex = emulator.run(definition, {}, workspace=ws, max_events=None)
    assert ex.status == "FAILED" and ex.error == "Glue.EntityNotFoundException"
    root = ex.root_cause
    assert root is not None and root.state == "Table" and root.error == "Glue.EntityNotFoundException"
    assert len(root.notes) == 1
    assert "crawler 'orders' last crawl SUCCEEDED: Target s3://lake/orders does not exist" in root.notes[0]
    assert "(targets: s3://lake/orders/)" in root.notes[0]


def test_a_spark_job_raising_in_a_udf_reports_the_python_error_and_its_frames(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    import emulator.integrations.emr  # registers the service

    job = tmp_path / "udf_job.py"
    job.write_text(
        "from pyspark.sql import SparkSession\n"
        "from pyspark.sql.functions import udf\n"
        "\n"
        "spark = SparkSession.builder.getOrCreate()\n"
        "\n"
        "\n"
        "def record_id(value):\n"
        "    if value == 7:\n"
        "        raise ValueError(f'record {value} has no id')\n"
        "    return value\n"
        "\n"
        "\n"
        "print('scoring records')\n"
        "spark.range(10).select(udf(record_id)('id')).collect()\n")
    ws = Workspace(root=tmp_path / "ws", project=tmp_path, config=Config())
    emr = "arn:aws:states:::elasticmapreduce:"
    definition = chain(
        ("Create", {"Type": "Task", "Resource": emr + "createCluster.sync", "ResultPath": "$.cluster", "Parameters": {
            "Name": "local", "ReleaseLabel": "emr-7.1.0", "Applications": [{"Name": "Spark"}],
            "ServiceRole": "EMR_DefaultRole", "JobFlowRole": "EMR_EC2_DefaultRole",
            "Instances": {"KeepJobFlowAliveWhenNoSteps": True, "InstanceCount": 1}}}),
        ("Score", {"Type": "Task", "Resource": emr + "addStep.sync", "Parameters": {
            "ClusterId.$": "$.cluster.ClusterId",
            "Step": {"Name": "score", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {
                "Jar": "command-runner.jar", "Args": ["spark-submit", str(job)]}}},
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Terminate"}]}),
        ("Terminate", {"Type": "Task", "Resource": emr + "terminateCluster.sync", "ResultPath": None,
                       "Parameters": {"ClusterId.$": "$.cluster.ClusterId"}, "Next": "Failed"}),
        ("Failed", {"Type": "Fail", "Error": "Pipeline.Failed", "Cause": "scoring failed"}),
    )
    ex = emulator.run(definition, {}, workspace=ws)  # terminating the last cluster stops the session
    root = ex.root_cause
    assert root is not None and root.state == "Score" and root.error == "States.TaskFailed", ex.history[-3:]
    assert root.cause.startswith("ValueError: record 7 has no id"), root.cause
    assert f'File "{job}", line 9, in record_id' in root.cause
    assert f'File "{job}", line 14, in <module>' in root.cause
    assert "at org.apache" not in root.cause and "pyspark/" not in root.cause
    assert (root.caught_by, root.caught_to, root.fail_state) == ("Score", "Terminate", "Failed")
    failed = next(e for e in ex.history if e["type"] == "TaskFailed")
    step_id = json.loads(failed["taskFailedEventDetails"]["cause"])["Step"]["Id"]
    assert root.log_file == str(ws.root / "logs" / f"{step_id}.log")
    log = Path(root.log_file).read_text()
    assert "scoring records" in log and "Traceback" in log
