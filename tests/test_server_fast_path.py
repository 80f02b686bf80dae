"""The endpoint's fast paths: short executions run inside StartExecution and are committed ended by
the commit that claims their name; Step Functions requests answered straight off ASGI; state machines
read from memory while no other process changes them. Behaviour and histories stay those of the
threaded path; everything a client is shown is committed."""

from __future__ import annotations

import http.client
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from emulator import StateMachine, Workspace
from emulator.server.stepfunctions import _runs_inline
from emulator.store import EXECUTION, MACHINE, Store

ROLE = "arn:aws:iam::123456789012:role/test"

SHORT = {"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.a", "Next": "Fan"},
    "Fan": {"Type": "Parallel", "ResultPath": "$.fan", "Next": "Pick", "Branches": [
        {"StartAt": "X", "States": {"X": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a.n, 1)"},
                                          "End": True}}},
        {"StartAt": "Y", "States": {"Y": {"Type": "Pass", "End": True}}}]},
    "Pick": {"Type": "Choice", "Choices": [{"Variable": "$.a.n", "NumericEquals": 1, "Next": "Done"}],
             "Default": "Bad"},
    "Bad": {"Type": "Fail", "Error": "Bad.Pick"},
    "Done": {"Type": "Succeed"},
}}
FAILS = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "My.Error", "Cause": "on purpose"}}}
LOOPS = {"StartAt": "Count", "States": {
    "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Again"},
    "Again": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 3, "Next": "Count"}],
              "Default": "End"},
    "End": {"Type": "Succeed"},
}}


def _client(url: str) -> Any:
    return boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x", config=Config(retries={"max_attempts": 0}))


def _machine(sfn: Any, definition: dict[str, Any]) -> str:
    return sfn.create_state_machine(name=f"m-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
                                    roleArn=ROLE)["stateMachineArn"]


def _strip(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Events without their timestamps: what two runs of one definition share."""
    return [(e["type"], e["id"], e["previousEventId"], json.dumps(
        {k: v for k, v in e.items() if k.endswith("EventDetails")}, sort_keys=True, default=str)) for e in events]


def test_which_definitions_run_inline() -> None:
    assert _runs_inline(SHORT) and _runs_inline(FAILS)
    assert not _runs_inline(LOOPS)  # a Choice back to an earlier state may loop for long
    task = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                             "End": True}}}
    wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "End": True}}}
    nested_task = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [task]}}}
    retried = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [FAILS],
                                                "Retry": [{"ErrorEquals": ["States.ALL"]}]}}}
    big = {"StartAt": "S0", "States": {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(60)}
           | {"S60": {"Type": "Succeed"}}}
    for definition in (task, wait, nested_task, retried, big):
        assert not _runs_inline(definition)


def test_short_execution_is_committed_ended_when_start_answers(served: tuple[str, Path]) -> None:
    url, root = served
    sfn = _client(url)
    arn = _machine(sfn, SHORT)
    started = sfn.start_execution(stateMachineArn=arn, name="first", input='{"k": "v"}')
    # Another connection (as another process would) sees it ended, with every event, before any other call.
    store = Store(Workspace(root))
    saved = store.get(EXECUTION, started["executionArn"])
    assert saved is not None and saved["status"] == "SUCCEEDED"
    events, paths = store.recorded(started["executionArn"])
    store.close()
    described = sfn.describe_execution(executionArn=started["executionArn"])
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"])["fan"] == [{"sum": 2}, {
        "a": {"n": 1}, "k": "v"}]
    assert described["startDate"] == started["startDate"]
    history = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=1000)["events"]
    assert [e["type"] for e in history] == [e["type"] for e in events]
    assert any(paths) and paths[0] == ()  # the Parallel branches' events keep their branch (what a resume replays)
    # The same history as the engine run on its own thread.
    engine = StateMachine(SHORT, role_arn=ROLE).start({"k": "v"}).wait(10)
    assert _strip(events) == _strip(engine.history)


def test_failed_short_execution_and_a_name_taken(served: tuple[str, Path]) -> None:
    url, _ = served
    sfn = _client(url)
    arn = _machine(sfn, FAILS)
    execution = sfn.start_execution(stateMachineArn=arn, name="once")["executionArn"]
    described = sfn.describe_execution(executionArn=execution)
    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "My.Error", "on purpose")
    assert described["redriveStatus"] == "REDRIVABLE"
    # It ended at once: the same name again is refused (AWS: a closed execution's name is taken), its
    # history untouched.
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="once")
    events = sfn.get_execution_history(executionArn=execution)["events"]
    assert [e["type"] for e in events] == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [(e["name"], e["status"]) for e in listed] == [("once", "FAILED")]


def test_name_taken_by_another_process_is_refused_and_nothing_recorded(served: tuple[str, Path]) -> None:
    url, root = served
    sfn = _client(url)
    arn = _machine(sfn, SHORT)
    taken = arn.replace(":stateMachine:", ":execution:") + ":theirs"
    other = Store(Workspace(root))  # another process claims the name first
    other.write([], [], [{"executionArn": taken, "stateMachineArn": arn, "name": "theirs", "status": "RUNNING",
                          "startDate": 1.0, "input": "{}"}])
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="theirs")
    assert other.recorded(taken) == ([], [])
    assert other.get(EXECUTION, taken)["status"] == "RUNNING"
    other.close()


def test_machine_changed_by_another_process_is_read_again(served: tuple[str, Path]) -> None:
    url, root = served
    sfn = _client(url)
    arn = _machine(sfn, SHORT)
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == json.dumps(SHORT)
    other = Store(Workspace(root))
    doc = other.get(MACHINE, arn)
    doc["definition"] = json.dumps(FAILS)
    other.put(MACHINE, arn, doc, name=doc["name"])
    other.close()
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == json.dumps(FAILS)
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(LOOPS))  # and a change made here
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == json.dumps(LOOPS)


def test_long_executions_still_start_at_once(served: tuple[str, Path]) -> None:
    url, _ = served
    sfn = _client(url)
    arn = _machine(sfn, LOOPS)
    execution = sfn.start_execution(stateMachineArn=arn, input='{"n": 0}')["executionArn"]
    for _ in range(500):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            break
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"n": 3}


def _raw(url: str, method: str, headers: dict[str, str], body: str) -> tuple[int, dict[str, str], Any]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request(method, "/", body, headers)
    response = connection.getresponse()
    answer = response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(response.read())
    connection.close()
    return answer


def test_wire_shape_of_answers_and_errors(served: tuple[str, Path]) -> None:
    url, _ = served
    sfn_json = {"Content-Type": "application/x-amz-json-1.0"}
    status, headers, body = _raw(url, "POST", {**sfn_json, "X-Amz-Target": "AWSStepFunctions.ListStateMachines"},
                                 "")
    assert status == 200 and body == {"stateMachines": []}
    assert headers["content-type"] == "application/x-amz-json-1.0" and uuid.UUID(headers["x-amzn-requestid"])
    status, headers, body = _raw(url, "POST", {**sfn_json, "X-Amz-Target": "AWSStepFunctions.NoSuchAction"}, "{}")
    assert status == 400 and headers["x-amzn-errortype"] == "UnknownOperationException"
    assert body == {"__type": "UnknownOperationException", "message": "Unknown operation: AWSStepFunctions.NoSuchAction"}
    status, headers, body = _raw(url, "POST", {**sfn_json, "X-Amz-Target": "AWSStepFunctions.DescribeExecution"},
                                 "[1]")
    assert status == 400 and body["__type"] == "SerializationException" == headers["x-amzn-errortype"]
    status, _, body = _raw(url, "POST", {**sfn_json, "X-Amz-Target": "AWSStepFunctions.DescribeExecution"},
                           json.dumps({"executionArn": "arn:aws:states:us-east-1:123456789012:execution:m:none"}))
    assert status == 400 and body["__type"] == "ExecutionDoesNotExist"
