"""`sfn-local serve`: the Step Functions API driven by the real boto3 client and the aws CLI.

The server runs as a subprocess (`python -m emulator.server --port 0`) on a temporary workspace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from emulator import Workspace
from emulator.server import start_in_thread

ROLE = "arn:aws:iam::123456789012:role/test"
AWS_CLI = Path(sys.executable).with_name("aws")
REPO = Path(__file__).resolve().parents[1]


class Server:
    def __init__(self, workspace: Path, cwd: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "emulator.server", "--port", "0", "--workspace", str(workspace), *args],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("sfn-local serving on http://127.0.0.1:"), line + self.proc.stderr.read()
        assert line.rstrip().endswith("(loopback only)")
        self.url = line.split()[3]

    def client(self, **config: Any) -> Any:
        return boto3.client("stepfunctions", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="x", aws_secret_access_key="x", config=Config(**config))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("serve")
    srv = Server(root / "ws", root)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def sfn(server: Server) -> Any:
    return server.client()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create(sfn: Any, definition: dict[str, Any], name: str | None = None, **extra: Any) -> str:
    return sfn.create_state_machine(name=name or unique("m"), definition=json.dumps(definition), roleArn=ROLE,
                                    **extra)["stateMachineArn"]


def finished(sfn: Any, arn: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        out = sfn.describe_execution(executionArn=arn)
        if out["status"] != "RUNNING" or time.monotonic() > deadline:
            return out
        time.sleep(0.05)


def pass_machine(result: Any) -> dict[str, Any]:
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": True}}}


# The SQS message carries the task token, as a worker would receive it.
TOKEN_MACHINE = {
    "StartAt": "Ask",
    "States": {
        "Ask": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/approvals",
                           "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
            "HeartbeatSeconds": 600,
            "End": True,
        }
    },
}


def wait_token(sfn: Any, execution_arn: str, timeout: float = 20) -> str:
    """The task token, from the TaskScheduled event's parameters (what the SQS message carried)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in sfn.get_execution_history(executionArn=execution_arn)["events"]:
            if event["type"] == "TaskScheduled":
                params = json.loads(event["taskScheduledEventDetails"]["parameters"])
                return params["MessageBody"]["token"]
        time.sleep(0.05)
    raise AssertionError("no TaskScheduled event")


def test_refuses_non_loopback_host_without_allow_remote(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "emulator.server", "--host", "0.0.0.0", "--port", "0",
                           "--workspace", str(tmp_path / "ws")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2
    assert "refusing to serve on 0.0.0.0" in proc.stderr and "--allow-remote" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "ws").exists()


def test_state_machine_create_describe_update_delete(sfn: Any) -> None:
    name = unique("crud")
    definition = pass_machine({"v": 1})
    created = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE,
                                       tags=[{"key": "team", "value": "data"}])
    arn = created["stateMachineArn"]
    assert arn == f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["name"] == name and described["type"] == "STANDARD" and described["status"] == "ACTIVE"
    assert json.loads(described["definition"]) == definition
    assert described["creationDate"] == created["creationDate"]
    # Same name and definition: CreateStateMachine is idempotent.
    again = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)
    assert again["stateMachineArn"] == arn and again["creationDate"] == created["creationDate"]
    with pytest.raises(sfn.exceptions.StateMachineAlreadyExists):
        sfn.create_state_machine(name=name, definition=json.dumps(pass_machine(2)), roleArn=ROLE)

    updated = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(pass_machine({"v": 2})))
    assert updated["revisionId"] != described["revisionId"]
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == pass_machine({"v": 2})
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert json.loads(finished(sfn, execution)["output"]) == {"v": 2}
    with pytest.raises(sfn.exceptions.MissingRequiredParameter):
        sfn.update_state_machine(stateMachineArn=arn)

    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn)
    assert arn not in [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]


def test_create_state_machine_errors(sfn: Any) -> None:
    with pytest.raises(sfn.exceptions.InvalidDefinition) as info:
        sfn.create_state_machine(name=unique("bad"), roleArn=ROLE,
                                 definition=json.dumps({"StartAt": "Nope", "States": {"A": {"Type": "Pass",
                                                                                             "End": True}}}))
    assert "/StartAt" in str(info.value)
    with pytest.raises(sfn.exceptions.InvalidDefinition, match="INVALID_JSON_DESCRIPTION"):
        sfn.create_state_machine(name=unique("bad"), definition="{not json", roleArn=ROLE)
    with pytest.raises(sfn.exceptions.InvalidDefinition):  # a path is not read as a file
        sfn.create_state_machine(name=unique("bad"), definition=str(REPO / "definitions" / "demo_orders.asl.json"),
                                 roleArn=ROLE)
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.create_state_machine(name="has space", definition=json.dumps(pass_machine(1)), roleArn=ROLE)
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.create_state_machine(name="x" * 81, definition=json.dumps(pass_machine(1)), roleArn=ROLE)
    with pytest.raises(sfn.exceptions.ClientError, match="ValidationException"):
        sfn.create_state_machine(name=unique("t"), definition=json.dumps(pass_machine(1)), roleArn=ROLE,
                                 type="FAST")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_state_machine(stateMachineArn="not-an-arn")
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.start_execution(stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:" + unique("none"))


def test_list_state_machines_pages(sfn: Any) -> None:
    names = {unique("page") for _ in range(5)}
    for name in names:
        create(sfn, pass_machine(1), name)
    seen: list[str] = []
    token = None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = sfn.list_state_machines(maxResults=2, **kwargs)
        assert len(page["stateMachines"]) <= 2
        seen += [m["name"] for m in page["stateMachines"]]
        token = page.get("nextToken")
        if not token:
            break
    assert names <= set(seen) and len(seen) == len(set(seen))
    # The paginator walks the same pages.
    listed = [m["name"] for p in sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 3})
              for m in p["stateMachines"]]
    assert listed == seen
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.list_state_machines(nextToken="garbage")


def test_execution_describe_history_and_machine_for_execution(sfn: Any) -> None:
    definition = {"StartAt": "Add", "States": {
        "Add": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, $.b)"}, "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    arn = create(sfn, definition)
    start = sfn.start_execution(stateMachineArn=arn, name="first", input=json.dumps({"a": 2, "b": 3}))
    assert start["executionArn"].endswith(":execution:" + arn.rsplit(":", 1)[1] + ":first")
    out = finished(sfn, start["executionArn"])
    assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"sum": 5}
    assert out["startDate"] == start["startDate"] and out["stopDate"] >= out["startDate"]
    assert json.loads(out["input"]) == {"a": 2, "b": 3}

    events = sfn.get_execution_history(executionArn=start["executionArn"])["events"]
    types = [e["type"] for e in events]
    assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "WaitStateEntered",
                     "WaitStateExited", "ExecutionSucceeded"]
    assert [e["id"] for e in events] == list(range(1, 7))
    # The hour-long Wait ran on the virtual clock: the events say an hour passed.
    assert (events[-1]["timestamp"] - events[0]["timestamp"]).total_seconds() >= 3600
    backwards = sfn.get_execution_history(executionArn=start["executionArn"], reverseOrder=True)["events"]
    assert [e["id"] for e in backwards] == list(range(6, 0, -1))
    paged, token = [], None
    while True:
        page = sfn.get_execution_history(executionArn=start["executionArn"], maxResults=4,
                                         **({"nextToken": token} if token else {}))
        paged += page["events"]
        token = page.get("nextToken")
        if not token:
            break
    assert paged == events
    bare = sfn.get_execution_history(executionArn=start["executionArn"], includeExecutionData=False)["events"]
    assert "input" in events[0]["executionStartedEventDetails"]
    assert "input" not in bare[0]["executionStartedEventDetails"]
    assert "roleArn" in bare[0]["executionStartedEventDetails"]

    machine = sfn.describe_state_machine_for_execution(executionArn=start["executionArn"])
    assert machine["stateMachineArn"] == arn and json.loads(machine["definition"]) == definition
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn=start["executionArn"] + "-nope")
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.get_execution_history(executionArn=start["executionArn"] + "-nope")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_execution(executionArn=arn)
    with pytest.raises(sfn.exceptions.InvalidExecutionInput):
        sfn.start_execution(stateMachineArn=arn, input="{oops")


def test_failed_execution_and_list_executions_filter_and_pages(sfn: Any) -> None:
    definition = {"StartAt": "Check", "States": {
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Done"}],
                  "Default": "Boom"},
        "Done": {"Type": "Succeed"},
        "Boom": {"Type": "Fail", "Error": "Orders.Rejected", "Cause": "not ok"}}}
    arn = create(sfn, definition)
    names = []
    for i in range(5):
        names.append(f"run-{i}")
        finished(sfn, sfn.start_execution(stateMachineArn=arn, name=f"run-{i}",
                                          input=json.dumps({"ok": i % 2 == 0}))["executionArn"])
    failed = sfn.describe_execution(executionArn=arn.replace(":stateMachine:", ":execution:") + ":run-1")
    assert failed["status"] == "FAILED" and failed["error"] == "Orders.Rejected" and failed["cause"] == "not ok"
    assert "output" not in failed

    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in listed] == names[::-1]  # newest first
    assert {e["name"] for e in sfn.list_executions(stateMachineArn=arn, statusFilter="FAILED")["executions"]} == \
        {"run-1", "run-3"}
    pages = list(sfn.get_paginator("list_executions").paginate(stateMachineArn=arn,
                                                               PaginationConfig={"PageSize": 2}))
    assert [len(p["executions"]) for p in pages] == [2, 2, 1]
    assert [e["name"] for p in pages for e in p["executions"]] == names[::-1]
    with pytest.raises(sfn.exceptions.ClientError, match="ValidationException"):
        sfn.list_executions(stateMachineArn=arn, statusFilter="DONE")
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.list_executions(stateMachineArn=arn + "-nope")


def test_wait_for_task_token_send_task_success_and_failure(sfn: Any) -> None:
    arn = create(sfn, TOKEN_MACHINE)
    ok = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order": 7}))["executionArn"]
    token = wait_token(sfn, ok)
    assert sfn.describe_execution(executionArn=ok)["status"] == "RUNNING"
    sfn.send_task_heartbeat(taskToken=token)
    with pytest.raises(sfn.exceptions.InvalidOutput):
        sfn.send_task_success(taskToken=token, output="{not json")
    sfn.send_task_success(taskToken=token, output=json.dumps({"approved": 7}))
    out = finished(sfn, ok)
    assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"approved": 7}
    # The token is spent: answering again is too late, as on AWS.
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=token, output="{}")
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.send_task_success(taskToken="no-such-token", output="{}")

    bad = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order": 8}))["executionArn"]
    sfn.send_task_failure(taskToken=wait_token(sfn, bad), error="Approval.Denied", cause="too big")
    out = finished(sfn, bad)
    assert (out["status"], out["error"], out["cause"]) == ("FAILED", "Approval.Denied", "too big")
    assert "TaskFailed" in [e["type"] for e in sfn.get_execution_history(executionArn=bad)["events"]]


def test_start_execution_name_idempotency(sfn: Any) -> None:
    arn = create(sfn, TOKEN_MACHINE)
    body = json.dumps({"order": 1})
    first = sfn.start_execution(stateMachineArn=arn, name="once", input=body)
    token = wait_token(sfn, first["executionArn"])
    # Same name and input while it runs: the same execution.
    again = sfn.start_execution(stateMachineArn=arn, name="once", input=body)
    assert again["executionArn"] == first["executionArn"] and again["startDate"] == first["startDate"]
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="once", input=json.dumps({"order": 2}))
    sfn.send_task_success(taskToken=token, output="{}")
    assert finished(sfn, first["executionArn"])["status"] == "SUCCEEDED"
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="once", input=body)
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.start_execution(stateMachineArn=arn, name="a/b")


def test_stop_execution(sfn: Any) -> None:
    arn = create(sfn, TOKEN_MACHINE)
    running = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order": 3}))["executionArn"]
    token = wait_token(sfn, running)
    stopped = sfn.stop_execution(executionArn=running, error="Ops.Cancelled", cause="by hand")
    out = sfn.describe_execution(executionArn=running)
    assert (out["status"], out["error"], out["cause"]) == ("ABORTED", "Ops.Cancelled", "by hand")
    assert out["stopDate"] == stopped["stopDate"]
    assert sfn.get_execution_history(executionArn=running)["events"][-1]["type"] == "ExecutionAborted"
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=token, output="{}")
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.stop_execution(executionArn=running + "x")


def test_activity_worker_loop(sfn: Any, server: Server) -> None:
    name = unique("resize")
    created = sfn.create_activity(name=name)
    activity = created["activityArn"]
    assert activity == f"arn:aws:states:us-east-1:123456789012:activity:{name}"
    assert sfn.create_activity(name=name)["activityArn"] == activity  # idempotent
    assert sfn.describe_activity(activityArn=activity)["name"] == name
    assert activity in [a["activityArn"] for a in sfn.list_activities()["activities"]]
    definition = {"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "ItemsPath": "$.sizes", "ItemProcessor": {"StartAt": "Work", "States": {
            "Work": {"Type": "Task", "Resource": activity, "HeartbeatSeconds": 600, "End": True,
                     "Catch": [{"ErrorEquals": ["Worker.TooBig"], "ResultPath": "$.error", "Next": "Skipped"}]},
            "Skipped": {"Type": "Pass", "Parameters": {"skipped.$": "$.size"}, "End": True}}},
                 "ItemSelector": {"size.$": "$$.Map.Item.Value"}, "End": True}}}
    arn = create(sfn, definition)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"sizes": [1, 2, 99]}))["executionArn"]

    worker = server.client()
    handled: list[int] = []

    def work() -> None:
        while len(handled) < 3:
            task = worker.get_activity_task(activityArn=activity, workerName="w1")
            if not task.get("taskToken"):
                continue
            size = json.loads(task["input"])["size"]
            handled.append(size)
            worker.send_task_heartbeat(taskToken=task["taskToken"])
            if size > 10:
                worker.send_task_failure(taskToken=task["taskToken"], error="Worker.TooBig", cause=str(size))
            else:
                worker.send_task_success(taskToken=task["taskToken"], output=json.dumps({"resized": size * 10}))

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(30)
    out = finished(sfn, execution)
    assert sorted(handled) == [1, 2, 99]
    assert out["status"] == "SUCCEEDED"
    assert json.loads(out["output"]) == [{"resized": 10}, {"resized": 20}, {"skipped": 99}]

    sfn.delete_activity(activityArn=activity)
    with pytest.raises(sfn.exceptions.ActivityDoesNotExist):
        sfn.describe_activity(activityArn=activity)
    with pytest.raises(sfn.exceptions.ActivityDoesNotExist):
        sfn.get_activity_task(activityArn=activity)
    # A machine using a deleted activity fails the way AWS reports a missing resource.
    failed = finished(sfn, sfn.start_execution(stateMachineArn=create(sfn, {"StartAt": "W", "States": {
        "W": {"Type": "Task", "Resource": activity, "End": True}}}))["executionArn"])
    assert failed["status"] == "FAILED" and failed["error"] == "States.Runtime" and activity in failed["cause"]


def test_versions_and_aliases(sfn: Any) -> None:
    name = unique("ver")
    created = sfn.create_state_machine(name=name, definition=json.dumps(pass_machine("v1")), roleArn=ROLE,
                                       publish=True, versionDescription="first")
    arn = created["stateMachineArn"]
    v1 = created["stateMachineVersionArn"]
    assert v1 == f"{arn}:1"
    revision = sfn.describe_state_machine(stateMachineArn=arn)["revisionId"]
    # Publishing an unchanged revision gives back the same version.
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == v1
    update = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(pass_machine("v2")), publish=True)
    v2 = update["stateMachineVersionArn"]
    assert v2 == f"{arn}:2"
    with pytest.raises(sfn.exceptions.ConflictException):
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=revision)
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [v2, v1]
    described = sfn.describe_state_machine(stateMachineArn=v1)
    assert json.loads(described["definition"]) == pass_machine("v1") and described["description"] == "first"

    on_v1 = sfn.start_execution(stateMachineArn=v1)["executionArn"]
    out = finished(sfn, on_v1)
    assert json.loads(out["output"]) == "v1" and out["stateMachineVersionArn"] == v1
    assert out["stateMachineArn"] == arn

    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": v2, "weight": 100}])["stateMachineAliasArn"]
    assert alias == f"{arn}:live"
    on_alias = finished(sfn, sfn.start_execution(stateMachineArn=alias)["executionArn"])
    assert json.loads(on_alias["output"]) == "v2"
    assert on_alias["stateMachineAliasArn"] == alias and on_alias["stateMachineVersionArn"] == v2
    assert [e["executionArn"] for e in sfn.list_executions(stateMachineArn=v1)["executions"]] == [on_v1]
    assert [e["executionArn"] for e in sfn.list_executions(stateMachineArn=alias)["executions"]] == [
        on_alias["executionArn"]]
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 2
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["routingConfiguration"] == [
        {"stateMachineVersionArn": v2, "weight": 100}]
    assert [a["stateMachineAliasArn"] for a in sfn.list_state_machine_aliases(stateMachineArn=arn)[
        "stateMachineAliases"]] == [alias]
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.create_state_machine_alias(name="half", routingConfiguration=[
            {"stateMachineVersionArn": v1, "weight": 50}])
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.create_state_machine_alias(name="gone", routingConfiguration=[
            {"stateMachineVersionArn": f"{arn}:9", "weight": 100}])
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 100}])
    assert json.loads(finished(sfn, sfn.start_execution(stateMachineArn=alias)["executionArn"])["output"]) == "v1"
    with pytest.raises(sfn.exceptions.ConflictException):
        sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    sfn.delete_state_machine_version(stateMachineVersionArn=v1)
    assert [v["stateMachineVersionArn"] for v in sfn.list_state_machine_versions(stateMachineArn=arn)[
        "stateMachineVersions"]] == [v2]


def test_tags(sfn: Any) -> None:
    arn = create(sfn, pass_machine(1), tags=[{"key": "a", "value": "1"}])
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "b", "value": "2"}, {"key": "a", "value": "3"}])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "a", "value": "3"},
                                                                   {"key": "b", "value": "2"}]
    sfn.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": "2"}]
    activity = sfn.create_activity(name=unique("act"), tags=[{"key": "k", "value": "v"}])["activityArn"]
    assert sfn.list_tags_for_resource(resourceArn=activity)["tags"] == [{"key": "k", "value": "v"}]
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.list_tags_for_resource(resourceArn=arn + "-nope")


def test_validate_state_machine_definition(sfn: Any) -> None:
    assert sfn.validate_state_machine_definition(definition=json.dumps(pass_machine(1)))["result"] == "OK"
    bad = sfn.validate_state_machine_definition(definition=json.dumps(
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}}}))
    assert bad["result"] == "FAIL"
    assert bad["diagnostics"] and all(d["severity"] == "ERROR" for d in bad["diagnostics"])
    assert any(d["location"] == "/States/A/Next" for d in bad["diagnostics"]), bad["diagnostics"]


def test_start_sync_execution_express(server: Server, sfn: Any) -> None:
    express = create(sfn, {"StartAt": "Double", "States": {
        "Double": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, $.n)"}, "End": True}}},
                     type="EXPRESS")
    sync = server.client(inject_host_prefix=False)  # botocore sends it to a "sync-" host otherwise
    out = sync.start_sync_execution(stateMachineArn=express, input=json.dumps({"n": 21}))
    assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"n": 42}
    assert out["billingDetails"]["billedDurationInMilliseconds"] >= 100
    failing = create(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "c"}}},
                     type="EXPRESS")
    out = sync.start_sync_execution(stateMachineArn=failing)
    assert (out["status"], out["error"], out["cause"]) == ("FAILED", "E", "c")
    with pytest.raises(sync.exceptions.StateMachineTypeNotSupported):
        sync.start_sync_execution(stateMachineArn=create(sfn, pass_machine(1)))


def test_errors_in_aws_json_shape(server: Server) -> None:
    def post(target: str, body: bytes) -> tuple[int, Any, dict[str, Any]]:
        request = urllib.request.Request(server.url + "/", data=body, method="POST", headers={
            "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, err.headers, json.loads(err.read())

    status, headers, body = post("AWSStepFunctions.DescribeExecution", json.dumps({
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:none:none"}).encode())
    assert status == 400 and body["__type"] == "ExecutionDoesNotExist" and "none:none" in body["message"]
    assert headers.get("X-Amzn-ErrorType") == "ExecutionDoesNotExist"
    assert headers.get("Content-Type") == "application/x-amz-json-1.0"
    status, _, body = post("AWSStepFunctions.NoSuchAction", b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, _, body = post("AWSStepFunctions.ListStateMachines", b"{oops")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, _, body = post("AWSStepFunctions.DescribeStateMachine", b"{}")
    assert (status, body["__type"]) == (400, "ValidationException")


def test_aws_cli(server: Server, sfn: Any, tmp_path: Path) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}

    def aws(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(AWS_CLI), "stepfunctions", *args, "--endpoint-url", server.url, "--output", "json"],
                              capture_output=True, text=True, env=env, timeout=60)

    name = unique("cli")
    made = aws("create-state-machine", "--name", name, "--role-arn", ROLE,
               "--definition", json.dumps(pass_machine({"from": "cli"})))
    assert made.returncode == 0, made.stderr
    arn = json.loads(made.stdout)["stateMachineArn"]
    listed = aws("list-state-machines")
    assert listed.returncode == 0, listed.stderr
    assert arn in [m["stateMachineArn"] for m in json.loads(listed.stdout)["stateMachines"]]
    started = aws("start-execution", "--state-machine-arn", arn, "--name", "cli-run", "--input", '{"x": 1}')
    assert started.returncode == 0, started.stderr
    execution = json.loads(started.stdout)["executionArn"]
    assert finished(sfn, execution)["status"] == "SUCCEEDED"
    described = aws("describe-execution", "--execution-arn", execution)
    assert json.loads(json.loads(described.stdout)["output"]) == {"from": "cli"}
    missing = aws("describe-state-machine", "--state-machine-arn", arn + "-nope")
    assert missing.returncode != 0 and "StateMachineDoesNotExist" in missing.stderr


def test_restart_keeps_machines_and_executions(tmp_path: Path) -> None:
    first = Server(tmp_path / "ws", tmp_path)
    try:
        sfn = first.client()
        arn = create(sfn, pass_machine({"kept": True}), "Kept", tags=[{"key": "k", "value": "v"}])
        done = sfn.start_execution(stateMachineArn=arn, name="done")["executionArn"]
        assert finished(sfn, done)["status"] == "SUCCEEDED"
        history = sfn.get_execution_history(executionArn=done)["events"]
        waiting = create(sfn, TOKEN_MACHINE, "Waiting")
        cut = sfn.start_execution(stateMachineArn=waiting, input=json.dumps({"order": 1}))["executionArn"]
        token = wait_token(sfn, cut)
        activity = sfn.create_activity(name="kept-activity")["activityArn"]
    finally:
        first.stop()

    second = Server(tmp_path / "ws", tmp_path)
    try:
        sfn = second.client()
        assert {m["name"] for m in sfn.list_state_machines()["stateMachines"]} == {"Kept", "Waiting"}
        assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == pass_machine({"kept": True})
        assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "k", "value": "v"}]
        out = sfn.describe_execution(executionArn=done)
        assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"kept": True}
        assert sfn.get_execution_history(executionArn=done)["events"] == history
        # An execution the server was running when it stopped resumes: its in-flight task runs again, with
        # the same token (the run's saved seed), and completes when the token is answered.
        assert sfn.describe_execution(executionArn=cut)["status"] == "RUNNING"
        deadline = time.monotonic() + 10
        while True:  # the resumed task takes its token again as soon as it runs
            try:
                sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True}))
                break
            except sfn.exceptions.InvalidToken:
                assert time.monotonic() < deadline, "the resumed execution never took its token again"
                time.sleep(0.05)
        out = finished(sfn, cut)
        assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"approved": True}
        types = [e["type"] for e in sfn.get_execution_history(executionArn=cut)["events"]]
        assert types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
                         "TaskStateExited", "ExecutionSucceeded"]
        assert sfn.describe_activity(activityArn=activity)["name"] == "kept-activity"
        with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
            sfn.start_execution(stateMachineArn=arn, name="done")
    finally:
        second.stop()


def test_start_in_thread_serves_and_stops(tmp_path: Path) -> None:
    url, stop = start_in_thread(Workspace(tmp_path / "ws", project=tmp_path))
    sfn = boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
    arn = create(sfn, pass_machine([1, 2]))
    assert json.loads(finished(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])["output"]) == [1, 2]
    activity = sfn.create_activity(name="idle")["activityArn"]
    # A worker long-polling (up to a minute) must not hold the stop up.
    outcome: list[Any] = []

    def poll() -> None:
        try:
            outcome.append(sfn.get_activity_task(activityArn=activity))
        except (BotoCoreError, ClientError) as exc:
            outcome.append(exc)

    threading.Thread(target=poll, daemon=True).start()
    time.sleep(0.3)
    began = time.monotonic()
    stop()
    assert time.monotonic() - began < 10
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=5)


def test_start_execution_runs_a_mock_config_test_case(tmp_path: Path) -> None:
    config = {"StateMachines": {"Mocked": {"TestCases": {
                  "HappyPath": {"Call": "Ok"}, "Broken": {"Call": "Boom"}}}},
              "MockedResponses": {"Ok": {"0": {"Return": {"mocked": True}}},
                                  "Boom": {"0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "down"}}}}}
    (tmp_path / "mocks.json").write_text(json.dumps(config))
    definition = {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "not-deployed-anywhere", "Payload.$": "$"}, "End": True}}}
    srv = Server(tmp_path / "ws", tmp_path, "--mock-config", "mocks.json")
    try:
        sfn = srv.client()
        arn = create(sfn, definition, "Mocked")
        happy = sfn.start_execution(stateMachineArn=f"{arn}#HappyPath")["executionArn"]
        out = finished(sfn, happy)
        assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"mocked": True}
        assert happy.startswith(arn.replace(":stateMachine:", ":execution:") + ":")
        broken = finished(sfn, sfn.start_execution(stateMachineArn=f"{arn}#Broken")["executionArn"])
        assert (broken["status"], broken["error"], broken["cause"]) == ("FAILED", "Lambda.ServiceException", "down")
        with pytest.raises(sfn.exceptions.ClientError, match="no test case 'Nope'"):
            sfn.start_execution(stateMachineArn=f"{arn}#Nope")
    finally:
        srv.stop()


def test_redrive_execution_refuses_what_aws_refuses(sfn: Any) -> None:
    done = finished(sfn, sfn.start_execution(stateMachineArn=create(sfn, pass_machine(1)))["executionArn"])
    assert done["redriveStatus"] == "NOT_REDRIVABLE" and done["redriveCount"] == 0
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable):
        sfn.redrive_execution(executionArn=done["executionArn"])
    failing = create(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope"}}})
    failed = finished(sfn, sfn.start_execution(stateMachineArn=failing)["executionArn"])
    assert failed["redriveStatus"] == "REDRIVABLE"
    sfn.redrive_execution(executionArn=failed["executionArn"])
    again = finished(sfn, failed["executionArn"])
    assert (again["status"], again["redriveCount"]) == ("FAILED", 1)
    types = [e["type"] for e in sfn.get_execution_history(executionArn=failed["executionArn"])["events"]]
    assert types == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed", "ExecutionRedriven",
                     "FailStateEntered", "ExecutionFailed"]
