"""EMR on the warm local Spark session: real PySpark steps driven by real state machines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import emulator
import emulator.integrations.emr  # registers the service
from emulator.backends import Backends
from emulator.backends import spark as spark_backend
from emulator.workspace import Config, Workspace

pytest.importorskip("pyspark")

FIXTURES = Path(__file__).parent / "spark_fixtures"
ORDERS = [(i, round(i * 1.5, 2), ["eu", "us", "ap"][i % 3]) for i in range(30)]
LEASE = "tests/test_emr.py"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One workspace and one warm session for the module; the lease keeps it warm between clusters."""
    root = tmp_path_factory.mktemp("emr")
    workspace = Workspace(root=root / "ws", project=root, config=Config())
    backends = Backends(workspace)
    text = "id,amount,region\n" + "".join(f"{i},{a},{r}\n" for i, a, r in ORDERS)
    backends.object_store.put("lake", "orders.csv", text.encode())
    backends.object_store.put("lake", "orders-eu.csv", ("id,amount,region\n" + "".join(
        f"{i},{a},{r}\n" for i, a, r in ORDERS if r == "eu")).encode())
    backends.object_store.put("code", "jobs/csv_to_parquet.py", (FIXTURES / "csv_to_parquet.py").read_bytes())
    engine = backends.spark
    engine.acquire(LEASE)
    engine.session()
    yield workspace
    engine.release(LEASE)


def task(resource: str, **params: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": f"arn:aws:states:::{resource}", "Parameters": params}


def chain(**states: dict[str, Any]) -> dict[str, Any]:
    """States in order, each going to the next unless it says where to go."""
    names = list(states)
    body = {}
    for i, name in enumerate(names):
        state = dict(states[name])
        if state["Type"] not in ("Choice", "Succeed", "Fail") and "Next" not in state and "End" not in state:
            state |= {"Next": names[i + 1]} if i + 1 < len(names) else {"End": True}
        body[name] = state
    return {"StartAt": names[0], "States": body}


def create_cluster(sync: bool = True, **extra: Any) -> dict[str, Any]:
    return {**task("elasticmapreduce:createCluster" + (".sync" if sync else ""), Name="local", ReleaseLabel="emr-7.1.0",
                   Applications=[{"Name": "Spark"}], ServiceRole="EMR_DefaultRole", JobFlowRole="EMR_EC2_DefaultRole",
                   Instances={"KeepJobFlowAliveWhenNoSteps": True, "InstanceCount": 3,
                              "MasterInstanceType": "m5.xlarge"}, **extra),
            "ResultPath": "$.cluster"}


def spark_step(name: str, *args: str, sync: bool = True, result: str | None = None) -> dict[str, Any]:
    state = task("elasticmapreduce:addStep" + (".sync" if sync else ""), **{
        "ClusterId.$": "$.cluster.ClusterId",
        "Step": {"Name": name, "ActionOnFailure": "CONTINUE",
                 "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", *args]}}})
    return {**state, "ResultPath": result or f"$.{name}"}


def terminate() -> dict[str, Any]:
    return {**task("elasticmapreduce:terminateCluster.sync", **{"ClusterId.$": "$.cluster.ClusterId"}),
            "ResultPath": None}


def describe_cluster(ws: Workspace, cluster_id: str) -> dict[str, Any]:
    ex = emulator.run(chain(D=task("aws-sdk:emr:describeCluster", ClusterId=cluster_id)), {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    return ex.output["Cluster"]


def test_two_steps_in_a_parallel_read_s3_csv_and_write_s3a_parquet(ws: Workspace) -> None:
    branch = [
        spark_step("all", "--deploy-mode", "cluster", "--master", "yarn", "--conf", "spark.sql.shuffle.partitions=2",
                   "s3://code/jobs/csv_to_parquet.py", "s3://lake/orders.csv", "s3a://lake/totals/all/"),
        spark_step("eu", "--conf=spark.sql.shuffle.partitions=3", str(FIXTURES / "csv_to_parquet.py"),
                   "s3a://lake/orders-eu.csv", "s3://lake/totals/eu/"),
    ]
    # Each branch returns its addStep.sync result (DescribeStep's {"Step": ...}) as is.
    parallel = {"Type": "Parallel", "ResultPath": "$.steps", "Branches": [
        {"StartAt": f"Run{i}", "States": {f"Run{i}": {**{k: v for k, v in s.items() if k != "ResultPath"},
                                                     "End": True}}}
        for i, s in enumerate(branch)]}
    definition = chain(Create=create_cluster(StepConcurrencyLevel=2,
                                             Configurations=[{"Classification": "spark-defaults",
                                                              "Properties": {"spark.sql.ansi.enabled": "true"}}]),
                       Steps=parallel, Terminate=terminate())
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    cluster_id = ex.output["cluster"]["ClusterId"]
    assert cluster_id.startswith("j-") and ex.output["cluster"]["ClusterArn"].endswith(f"cluster/{cluster_id}")
    steps = [r["Step"] for r in ex.output["steps"]]
    assert [s["Status"]["State"] for s in steps] == ["COMPLETED", "COMPLETED"]
    assert [s["Name"] for s in steps] == ["all", "eu"] and all(s["Id"].startswith("s-") for s in steps)
    assert steps[0]["Config"]["Jar"] == "command-runner.jar" and steps[0]["Config"]["Args"][0] == "spark-submit"
    timeline = steps[0]["Status"]["Timeline"]
    assert timeline["CreationDateTime"] <= timeline["StartDateTime"] <= timeline["EndDateTime"]
    # Both steps overlapped: StepConcurrencyLevel 2 lets them run at the same time on the shared session.
    (a, b) = (s["Status"]["Timeline"] for s in steps)
    assert a["StartDateTime"] < b["EndDateTime"] and b["StartDateTime"] < a["EndDateTime"]

    store = Backends(ws).object_store
    totals = {r["region"]: r for r in pq.read_table(store.local_path("s3://lake/totals/all/")).to_pylist()}
    for region in ("eu", "us", "ap"):
        assert totals[region]["n"] == sum(1 for o in ORDERS if o[2] == region)
        assert totals[region]["total"] == pytest.approx(sum(o[1] for o in ORDERS if o[2] == region))
    assert pq.read_table(store.local_path("s3://lake/totals/eu/")).to_pylist() == [
        {"region": "eu", "n": 10, "total": pytest.approx(sum(o[1] for o in ORDERS if o[2] == "eu"))}]
    assert not list(store.local_path("s3://lake/totals/").rglob("*.crc"))  # no Hadoop side files in the bucket

    cluster = describe_cluster(ws, cluster_id)
    assert cluster["Status"]["State"] == "TERMINATED"
    assert cluster["Status"]["StateChangeReason"] == {"Code": "USER_REQUEST", "Message": "Terminated by user request"}
    assert spark_backend.jvm_process() is not None  # the module's lease kept the session warm


def test_polling_describe_step_in_a_wait_choice_loop(ws: Workspace) -> None:
    definition = chain(
        Create=create_cluster(sync=False),
        Step=spark_step("nap", str(FIXTURES / "sleepy.py"), "1.5", sync=False, result="$.added"),
        Wait={"Type": "Wait", "Seconds": 1},
        Describe={**task("aws-sdk:emr:describeStep", **{"ClusterId.$": "$.cluster.ClusterId",
                                                        "StepId.$": "$.added.StepId"}), "ResultPath": "$.described"},
        Done={"Type": "Choice", "Default": "Wait", "Choices": [
            {"Variable": "$.described.Step.Status.State", "StringEquals": "COMPLETED", "Next": "List"},
            {"Variable": "$.described.Step.Status.State", "StringEquals": "FAILED", "Next": "Failed"}]},
        Failed={"Type": "Fail", "Error": "StepFailed"},
        List={**task("aws-sdk:emr:listSteps", **{"ClusterId.$": "$.cluster.ClusterId"}), "ResultPath": "$.listed"},
        Terminate=terminate(),
    )
    ex = emulator.run(definition, {}, workspace=ws, clock="real")
    assert ex.status == "SUCCEEDED", ex.cause
    exits = [e["stateExitedEventDetails"] for e in ex.history if e["type"] == "TaskStateExited"]
    seen = [json.loads(d["output"])["described"]["Step"]["Status"]["State"] for d in exits if d["name"] == "Describe"]
    assert seen[-1] == "COMPLETED" and set(seen[:-1]) <= {"PENDING", "RUNNING"} and "RUNNING" in seen
    assert [s["Id"] for s in ex.output["listed"]["Steps"]] == [ex.output["added"]["StepId"]]


def test_a_failing_job_fails_its_step_and_the_sync_task_and_catch_still_terminates(ws: Workspace) -> None:
    failing = {**spark_step("broken", str(FIXTURES / "fails.py")),
               "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Terminate"}]}
    definition = chain(Create=create_cluster(LogUri="s3://emr-logs/"), Broken=failing, Terminate=terminate())
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["error"]["Error"] == "States.TaskFailed"
    step = json.loads(ex.output["error"]["Cause"])["Step"]
    assert step["Status"]["State"] == "FAILED"
    details = step["Status"]["FailureDetails"]
    assert details["Reason"].startswith("AnalysisException: [PATH_NOT_FOUND] Path does not exist: s3://lake/does-")
    assert "about to read a missing file" in details["Message"]  # the job's own output is in the log tail
    cluster_id = ex.output["cluster"]["ClusterId"]
    assert details["LogFile"] == f"s3://emr-logs/{cluster_id}/steps/{step['Id']}/stderr"
    log = Backends(ws).object_store.local_path(details["LogFile"]).read_text()
    assert "PATH_NOT_FOUND" in log
    assert describe_cluster(ws, cluster_id)["Status"]["State"] == "TERMINATED"


def test_termination_protection_and_unknown_clusters(ws: Workspace) -> None:
    definition = chain(
        Create=create_cluster(),
        Protect={**task("elasticmapreduce:setClusterTerminationProtection", **{
            "ClusterId.$": "$.cluster.ClusterId", "TerminationProtected": True}), "ResultPath": None},
        Terminate={**terminate(), "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.refused",
                                             "Next": "Unprotect"}]},
        Unprotect={**task("elasticmapreduce:setClusterTerminationProtection", **{
            "ClusterId.$": "$.cluster.ClusterId", "TerminationProtected": False}), "ResultPath": None},
        Again=terminate(),
    )
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["refused"]["Error"] == "EMR.ValidationException"
    assert "termination protected" in ex.output["refused"]["Cause"]
    ex = emulator.run(chain(D=task("aws-sdk:emr:describeCluster", ClusterId="j-NOPE")), {}, workspace=ws)
    assert (ex.status, ex.error) == ("FAILED", "EMR.InvalidRequestException")


def test_terminating_the_last_cluster_returns_the_session_to_the_pool(ws: Workspace) -> None:
    engine = Backends(ws).spark
    created = emulator.run(chain(Create=create_cluster()), {}, workspace=ws)
    assert created.status == "SUCCEEDED", created.cause
    jvm = spark_backend.jvm_process()
    engine.release(LEASE)  # only the cluster holds the session now
    assert jvm is not None and jvm.poll() is None
    ex = emulator.run(chain(Step=spark_step("count", str(FIXTURES / "sleepy.py"), "0"), Terminate=terminate()),
                      created.output, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["count"]["Step"]["Status"]["State"] == "COMPLETED"
    # The JVM stays warm for the next cluster (its Spark state cleared: tests/test_spark_warm.py).
    assert engine.running and jvm.poll() is None
    assert spark_backend.jvm_process() is jvm
