"""Glue ETL jobs as PySpark scripts on the warm local session, started from state machines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import emulator
import emulator.integrations.glue  # the catalog actions share aws-sdk:glue with the job actions
import emulator.integrations.gluejobs  # registers glue and aws-sdk:glue job actions
from emulator.backends import Backends
from emulator.integrations.gluejobs import get_resolved_options
from emulator.workspace import Config, Workspace

pytest.importorskip("pyspark")

FIXTURES = Path(__file__).parent / "spark_fixtures"
LEASE = "tests/test_glue_jobs.py"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("glue")
    config = Config(glue_jobs={
        "filter-orders": {"ScriptLocation": "s3://code/glue_job.py", "WorkerType": "G.1X", "NumberOfWorkers": 2,
                          "DefaultArguments": {"--min_amount": "20", "--label": "default"}},
        "broken": {"ScriptLocation": str(FIXTURES / "fails.py")},
    })
    workspace = Workspace(root=root / "ws", project=root, config=config)
    backends = Backends(workspace)
    rows = "".join(f"{i},{i * 2.0},{['eu', 'us'][i % 2]}\n" for i in range(20))
    backends.object_store.put("lake", "orders.csv", f"id,amount,region\n{rows}".encode())
    backends.object_store.put("code", "glue_job.py", (FIXTURES / "glue_job.py").read_bytes())
    backends.spark.acquire(LEASE)
    yield workspace
    backends.spark.release(LEASE)


def task(resource: str, result: str, **params: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": f"arn:aws:states:::{resource}", "Parameters": params, "ResultPath": result}


def chain(*states: dict[str, Any]) -> dict[str, Any]:
    body = {f"S{i}": {**s, **({"Next": f"S{i + 1}"} if i + 1 < len(states) else {"End": True})}
            for i, s in enumerate(states)}
    return {"StartAt": "S0", "States": body}


def test_start_job_run_sync_passes_merged_arguments_to_the_script(ws: Workspace) -> None:
    definition = chain(
        task("glue:startJobRun.sync", "$.run", JobName="filter-orders", Arguments={"--label": "nightly"}),
        task("aws-sdk:glue:getJobRun", "$.got", **{"JobName": "filter-orders", "RunId.$": "$.run.Id"}),
    )
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    run = ex.output["run"]
    assert run["Id"].startswith("jr_") and run["JobName"] == "filter-orders"
    assert run["JobRunState"] == "SUCCEEDED" and "ErrorMessage" not in run
    assert run["Arguments"] == {"--label": "nightly"}  # the run's own arguments, as GetJobRun shows them
    assert run["StartedOn"] <= run["CompletedOn"] and isinstance(run["ExecutionTime"], int)
    assert ex.output["got"]["JobRun"] == run
    out = pq.read_table(Backends(ws).object_store.local_path("s3://lake/glue-out/")).to_pylist()
    assert sorted(r["id"] for r in out) == list(range(10, 20))  # DefaultArguments' --min_amount 20
    assert {r["label"] for r in out} == {"nightly"} and {r["job"] for r in out} == {"filter-orders"}


def test_start_job_run_returns_at_once_and_a_failed_job_fails_the_sync_task(ws: Workspace) -> None:
    definition = chain(
        task("glue:startJobRun", "$.started", JobName="filter-orders"),
        {**task("glue:startJobRun.sync", "$.run", JobName="broken"),
         "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "S2"}]},
        task("aws-sdk:glue:getJobRun", "$.first", **{"JobName": "filter-orders", "RunId.$": "$.started.JobRunId"}),
    )
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    assert set(ex.output["started"]) == {"JobName", "JobRunId"}
    assert ex.output["error"]["Error"] == "States.TaskFailed"
    failed = json.loads(ex.output["error"]["Cause"])
    assert failed["JobRunState"] == "FAILED" and failed["JobName"] == "broken"
    assert failed["ErrorMessage"].startswith("AnalysisException: [PATH_NOT_FOUND]")
    assert ex.output["first"]["JobRun"]["JobRunState"] in ("RUNNING", "SUCCEEDED")


def test_unknown_jobs_and_runs(ws: Workspace) -> None:
    ex = emulator.run(chain(task("glue:startJobRun.sync", "$.r", JobName="nope")), {}, workspace=ws)
    assert (ex.status, ex.error) == ("FAILED", "Glue.EntityNotFoundException")
    ex = emulator.run(chain(task("aws-sdk:glue:getJobRun", "$.r", JobName="broken", RunId="jr_0")), {}, workspace=ws)
    assert (ex.status, ex.error) == ("FAILED", "Glue.EntityNotFoundException")


def test_get_resolved_options_reads_both_argument_forms() -> None:
    argv = ["script.py", "--JOB_NAME", "j", "--day=2024-01-01", "--flag", "--other", "x"]
    assert get_resolved_options(argv, ["JOB_NAME", "day"]) == {"JOB_NAME": "j", "day": "2024-01-01"}
    with pytest.raises(SystemExit, match="--missing"):
        get_resolved_options(argv, ["missing"])
