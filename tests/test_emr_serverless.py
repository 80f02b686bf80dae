"""EMR Serverless through Step Functions' optimised integration: applications and job runs on local Spark."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import emulator
from emulator.backends import Backends
from emulator.workspace import Config, Workspace
from tests.conftest import chain

FIXTURES = Path(__file__).parent / "spark_fixtures"
ES = "arn:aws:states:::emr-serverless:"
SDK = "arn:aws:states:::aws-sdk:emrserverless:"
ROLE = "arn:aws:iam::123456789012:role/emr-serverless-job"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(root=tmp_path / "ws", project=tmp_path, config=Config())


def task(resource: str, parameters: dict[str, Any], result: str | None) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "Parameters": parameters, "ResultPath": result}


def create(name: str = "etl") -> dict[str, Any]:
    return task(ES + "createApplication.sync", {"Name": name, "ReleaseLabel": "emr-7.1.0", "Type": "SPARK"}, "$.app")


APP = {"ApplicationId.$": "$.app.ApplicationId"}


def test_application_lifecycle(ws: Workspace) -> None:
    definition = chain(
        ("Create", create()),
        ("Created", task(SDK + "getApplication", APP, "$.created")),
        ("Start", task(ES + "startApplication.sync", APP, "$.started")),
        ("Running", task(SDK + "getApplication", APP, "$.running")),
        ("Stop", task(ES + "stopApplication.sync", APP, "$.stopped")),
        ("Delete", task(ES + "deleteApplication.sync", APP, "$.deleted")),
        ("Gone", task(SDK + "getApplication", APP, "$.gone")),
    )
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    out = ex.output
    app_id = out["app"]["ApplicationId"]
    assert set(out["app"]) == {"ApplicationId", "Name", "Arn"} and out["app"]["Arn"].endswith(f"/applications/{app_id}")
    assert out["created"]["Application"]["State"] == "CREATED"
    assert out["running"]["Application"]["State"] == "STARTED"
    assert out["started"] == out["stopped"] == out["deleted"] == {"ApplicationId": app_id}
    assert out["gone"]["Application"]["State"] == "TERMINATED"


def test_request_errors(ws: Workspace) -> None:
    ex = emulator.run(chain(("Create", create()), ("Start", task(ES + "startApplication", APP, "$.s")),
                            ("Delete", task(ES + "deleteApplication", APP, "$.d"))), {}, workspace=ws)
    assert ex.error == "EMRServerless.ValidationException" and "CREATED or STOPPED" in ex.cause
    ex = emulator.run(chain(("Get", task(SDK + "getJobRun", {"ApplicationId": "00abc", "JobRunId": "00def"}, None))),
                      {}, workspace=ws)
    assert ex.error == "EMRServerless.ResourceNotFoundException"
    ex = emulator.run(chain(("Create", task(ES + "createApplication", {"ReleaseLabel": "emr-7.1.0"}, None))), {},
                      workspace=ws)
    assert ex.error == "EMRServerless.ValidationException" and "type" in ex.cause  # Type is required
    hive = {"ReleaseLabel": "emr-7.1.0", "Type": "HIVE"}
    ex = emulator.run(chain(("Create", task(ES + "createApplication", hive, None))), {}, workspace=ws)
    assert ex.error == "EMRServerless.ValidationException" and "SPARK" in ex.cause


def test_spark_job_runs_auto_start_the_application_and_report_failures(ws: Workspace, tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    rows = [("eu", 10.0), ("us", 2.5), ("eu", 4.0), ("apac", 7.25), ("us", 1.0)]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["region", "amount"])
    writer.writerows(rows)
    backends = Backends(ws)
    backends.object_store.put("in", "orders.csv", text.getvalue().encode())
    backends.object_store.put("code", "job.py", (FIXTURES / "csv_to_parquet.py").read_bytes())
    job = {"ApplicationId.$": "$.app.ApplicationId", "ExecutionRoleArn": ROLE, "Name": "totals",
           "JobDriver": {"SparkSubmit": {"EntryPoint": "s3://code/job.py",
                                         "EntryPointArguments": ["s3://in/orders.csv", "s3://out/totals/"],
                                         "SparkSubmitParameters": "--conf spark.sql.shuffle.partitions=3 "
                                                                  "--conf spark.executor.memory=4g"}}}
    failing = {**job, "Name": "broken", "JobDriver": {"SparkSubmit": {"EntryPoint": str(FIXTURES / "fails.py")}}}
    definition = chain(
        ("Create", create()),
        ("Run", task(ES + "startJobRun.sync", job, "$.run")),
        ("Get", task(SDK + "getJobRun", {"ApplicationId.$": "$.app.ApplicationId", "JobRunId.$": "$.run.JobRunId"},
                     "$.got")),
        ("Fail", {**task(ES + "startJobRun.sync", failing, "$.failed"),
                  "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Stop"}]}),
        ("Stop", task(ES + "stopApplication", APP, None)),
    )
    try:
        ex = emulator.run(definition, {}, workspace=ws)
    finally:
        backends.spark.stop()
    assert ex.status == "SUCCEEDED", ex.cause
    run = ex.output["got"]["JobRun"]
    assert set(ex.output["run"]) == {"ApplicationId", "JobRunId", "Arn"}
    assert run["State"] == "SUCCESS" and run["Name"] == "totals" and run["ExecutionRole"] == ROLE
    expected: dict[str, tuple[int, float]] = {}
    for region, amount in rows:
        n, total = expected.get(region, (0, 0.0))
        expected[region] = (n + 1, total + amount)
    written = pq.read_table(backends.object_store.local_path("s3://out/totals/")).to_pylist()
    assert {r["region"]: (r["n"], r["total"]) for r in written} == expected
    failed = json.loads(ex.output["error"]["Cause"])["JobRun"]
    assert failed["State"] == "FAILED" and failed["Name"] == "broken" and failed["StateDetails"]
