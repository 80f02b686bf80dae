"""The switch to AWS for EMR `addStep.sync` (integrations/aws.py's DescribeStep poller), against moto's server.

moto's EMR never moves a step on by itself: a step added to an idle cluster stays RUNNING, one queued
behind another stays PENDING, and EMR has no state-manager model or moto-api endpoint (moto 5.2). So
these tests play the cluster's part: they move moto's own step records (`moto.backends.get_backend`,
the in-process backend ThreadedMotoServer serves) while the execution polls DescribeStep over HTTP.
Nothing of sfn-local is patched; what the poller sees is what moto's server answers.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.backends import get_backend
from moto.core.utils import utcnow

import emulator
from tests.moto_support import create_cluster_state, workspace_with_targets

ACCOUNT = "123456789012"
STEP = {"Name": "etl", "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar",
                          "Args": ["spark-submit", "s3://code/job.py", "2024-01-01"],
                          "Properties": [{"Key": "team", "Value": "data"}]}}
ADD_STEP_SYNC = {"StartAt": "Run", "States": {"Run": {
    "Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:addStep.sync",
    "Parameters": {"ClusterId.$": "$.cluster", "Step": STEP}, "End": True}}}


def _cluster() -> str:
    return boto3.client("emr").run_job_flow(
        Name="etl", ReleaseLabel="emr-7.1.0", ServiceRole="EMR_DefaultRole", JobFlowRole="EMR_EC2_DefaultRole",
        Instances={"KeepJobFlowAliveWhenNoSteps": True, "InstanceCount": 1,
                   "MasterInstanceType": "m5.xlarge"})["JobFlowId"]


def _moto_step(name: str, timeout: float = 10.0) -> Any:
    """moto's record of the step called `name`, once the execution's AddJobFlowSteps has made it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for cluster in list(get_backend("emr")[ACCOUNT]["us-east-1"].clusters.values()):
            for step in list(cluster.steps):
                if step.name == name:
                    return step
        time.sleep(0.01)
    raise AssertionError(f"no step {name!r} reached moto")


def _move(step: Any, state: str) -> None:
    """What the cluster does to a step (moto's EMR never does it): start it, or end it in `state`."""
    if state == "RUNNING":
        step.start()
    else:
        step.end_date_time = utcnow()
    step.state = state


def _described(cluster_id: str, step_id: str) -> dict[str, Any]:
    """DescribeStep as Step Functions' optimised integration returns it: dates in epoch milliseconds."""
    def millis(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: millis(v) for k, v in value.items()}
        if isinstance(value, list):
            return [millis(v) for v in value]
        return int(value.timestamp() * 1000) if isinstance(value, datetime) else value

    answer = boto3.client("emr").describe_step(ClusterId=cluster_id, StepId=step_id)
    answer.pop("ResponseMetadata")
    return millis(answer)


def _types(value: Any) -> Any:
    """The shape of a JSON value: member names and leaf types, no values."""
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


def test_add_step_sync_polls_a_queued_step_through_running_to_completed(aws: str, tmp_path: Path) -> None:
    cluster_id = _cluster()
    emr = boto3.client("emr")
    emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=[{**STEP, "Name": "earlier"}])
    ex = emulator.start(ADD_STEP_SYNC, {"cluster": cluster_id},
                        workspace=workspace_with_targets(tmp_path, "ws", elasticmapreduce="aws"))
    try:
        step = _moto_step("etl")
        assert step.state == "PENDING"  # queued behind "earlier", as moto queues steps
        time.sleep(0.3)  # several DescribeStep polls (50 ms, then doubling) see PENDING
        assert ex.status == "RUNNING"
        _move(_moto_step("earlier"), "COMPLETED")
        _move(step, "RUNNING")
        time.sleep(0.3)
        assert ex.status == "RUNNING"
        _move(step, "COMPLETED")
        ex.wait(10)
    finally:
        ex.stop()
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output == _described(cluster_id, step.id)
    out = ex.output["Step"]
    assert (out["Id"], out["Name"], out["ActionOnFailure"]) == (step.id, "etl", "CONTINUE")
    assert out["Config"] == {"Jar": "command-runner.jar", "Args": STEP["HadoopJarStep"]["Args"],
                             "Properties": {"team": "data"}}
    timeline = out["Status"]["Timeline"]
    assert out["Status"]["State"] == "COMPLETED"
    assert timeline["CreationDateTime"] <= timeline["StartDateTime"] <= timeline["EndDateTime"]
    types = [e["type"] for e in ex.history]
    assert types[-4:] == ["TaskSubmitted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED", "INTERRUPTED"])
def test_a_step_that_does_not_complete_fails_the_task_with_its_description(aws: str, tmp_path: Path,
                                                                           state: str) -> None:
    cluster_id = _cluster()
    definition = {"StartAt": "Run", "States": {
        "Run": {**ADD_STEP_SYNC["States"]["Run"], "End": False, "Next": "Done",
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Done"}]},
        "Done": {"Type": "Pass", "End": True}}}
    ex = emulator.start(definition, {"cluster": cluster_id},
                        workspace=workspace_with_targets(tmp_path, "ws", elasticmapreduce="aws"))
    try:
        step = _moto_step("etl")
        assert step.state == "RUNNING"  # moto starts the first step of an idle cluster at once
        time.sleep(0.2)
        assert ex.status == "RUNNING"
        _move(step, state)
        ex.wait(10)
    finally:
        ex.stop()
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["error"]["Error"] == "States.TaskFailed"
    cause = json.loads(ex.output["error"]["Cause"])
    assert cause == _described(cluster_id, step.id)
    assert cause["Step"]["Status"]["State"] == state
    failed = [e for e in ex.history if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["resourceType"] for e in failed] == ["elasticmapreduce"]
    assert failed[0]["taskFailedEventDetails"]["resource"] == "addStep.sync"


def test_timeout_seconds_ends_the_poll_of_a_step_that_never_ends_on_time(aws: str, tmp_path: Path) -> None:
    # Left alone, moto's step stays RUNNING for ever: only TimeoutSeconds ends the task. The poll
    # interval has grown past a second by then; the timeout must not wait for the next poll.
    definition = {"StartAt": "Run", "States": {"Run": {**ADD_STEP_SYNC["States"]["Run"], "TimeoutSeconds": 2}}}
    ex = emulator.run(definition, {"cluster": _cluster()},
                      workspace=workspace_with_targets(tmp_path, "ws", elasticmapreduce="aws"))
    assert (ex.status, ex.error) == ("FAILED", "States.Timeout")
    assert _moto_step("etl").state == "RUNNING"
    when = {e["type"]: e["timestamp"] for e in ex.history}
    took = (when["TaskTimedOut"] - when["TaskStarted"]).total_seconds()
    assert 2.0 <= took < 2.8, took  # the next poll would have come at 3.15 s


def test_stop_execution_ends_a_sync_step_task_without_waiting_for_the_next_poll(aws: str, tmp_path: Path) -> None:
    ex = emulator.start(ADD_STEP_SYNC, {"cluster": _cluster()},
                        workspace=workspace_with_targets(tmp_path, "ws", elasticmapreduce="aws"))
    _moto_step("etl")
    time.sleep(1.7)  # polls at 0.05 … 1.55 s: the next is more than a second away
    stopped = time.monotonic()
    ex.stop(error="Operator", cause="enough")
    ex.wait(10)
    assert ex.status == "ABORTED"
    assert time.monotonic() - stopped < 0.75


def test_add_step_sync_output_has_the_shape_of_the_local_run(aws: str, tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    script = Path(__file__).parent / "spark_fixtures" / "sleepy.py"
    step = {"Name": "nap", "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", str(script), "0"]}}
    definition = {"StartAt": "Create", "States": {
        "Create": create_cluster_state("emr-7.1.0"),
        "Step": {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:addStep.sync",
                 "Parameters": {"ClusterId.$": "$.cluster.ClusterId", "Step": step},
                 "ResultPath": "$.step", "Next": "Terminate"},
        "Terminate": {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:terminateCluster.sync",
                      "Parameters": {"ClusterId.$": "$.cluster.ClusterId"}, "ResultPath": None, "End": True}}}
    local = emulator.run(definition, {}, workspace=workspace_with_targets(tmp_path, "local"))
    remote = emulator.start(definition, {}, workspace=workspace_with_targets(tmp_path, "remote", elasticmapreduce="aws"))
    try:
        moto_step = _moto_step("nap")
        _move(moto_step, "RUNNING")
        time.sleep(0.2)
        _move(moto_step, "COMPLETED")
        remote.wait(10)
    finally:
        remote.stop()
    assert local.status == remote.status == "SUCCEEDED", (local.cause, remote.cause)
    assert _types(remote.output) == _types(local.output)

    def same(run: Any) -> Any:  # what both sides answer alike (ids and dates are each side's own)
        out = run.output["step"]["Step"]
        return out["Name"], out["ActionOnFailure"], out["Config"], out["Status"]["State"]

    assert same(remote) == same(local)
    assert remote.output["step"]["Step"]["Id"] == moto_step.id
