"""Nested executions through states:startExecution: request-response, .sync and .sync:2."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import pytest

import emulator
from emulator.backends import Backends
from emulator.backends.outbox import Outbox
from emulator.integrations import messaging, stepfunctions  # noqa: F401  (register their services)
from emulator.workspace import Workspace

if not hasattr(Backends, "outbox"):  # until Backends.outbox is wired in emulator/backends/__init__.py
    _outbox = cached_property(lambda self: Outbox(self.workspace))
    _outbox.__set_name__(Backends, "outbox")
    Backends.outbox = _outbox

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"

CHILD = {"StartAt": "Wait", "States": {
    "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Double"},
    "Double": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload",
               "Parameters": {"FunctionName": "double", "Payload.$": "$"}, "End": True}}}
FAILING = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Child.Broken", "Cause": "on purpose"}}}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(root=tmp_path / "ws", project=tmp_path)


def double(event: dict) -> dict:
    return {"n": event["n"] * 2}


def parent(resource: str, machine: str = "Child", **extra) -> dict:
    return {"StartAt": "Start", "States": {"Start": {
        "Type": "Task", "Resource": resource, "End": True,
        "Parameters": {"StateMachineArn": ARN + machine, "Input": {"n.$": "$.n"}}, **extra}}}


def test_sync_2_returns_the_child_output_as_json(ws: Workspace) -> None:
    ex = emulator.run(parent("arn:aws:states:::states:startExecution.sync:2"), {"n": 21}, workspace=ws,
                      resources={"double": double}, state_machines={"Child": CHILD})
    assert ex.status == "SUCCEEDED", ex.cause
    out = ex.output
    assert out["Output"] == {"n": 42} and out["Input"] == {"n": 21}
    assert out["Status"] == "SUCCEEDED"
    assert out["ExecutionArn"].startswith("arn:aws:states:us-east-1:123456789012:execution:Child:")
    assert out["StateMachineArn"] == ARN + "Child"
    # The child's hour-long wait is the parent's too (virtual clock), and dates are epoch millis.
    assert out["StopDate"] - out["StartDate"] >= 3_600_000
    assert (ex.stop_date - ex.start_date).total_seconds() >= 3600
    types = [e["type"] for e in ex.history]
    assert "TaskSubmitted" in types and "TaskSucceeded" in types


def test_sync_returns_output_as_a_json_string(ws: Workspace) -> None:
    machine = emulator.StateMachine(parent("arn:aws:states:::states:startExecution.sync"), workspace=ws,
                                    resources={"double": double}, state_machines={"Child": CHILD})
    ex = machine.run({"n": 2})
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["Output"] == '{"n":4}' and json.loads(ex.output["Input"]) == {"n": 2}


def test_request_response_returns_arn_and_start_date(ws: Workspace) -> None:
    definition = {"StartAt": "Start", "States": {"Start": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution", "End": True,
        "Parameters": {"StateMachineArn": ARN + "Notify", "Name": "child-1", "Input": '{"msg": "hi"}'}}}}
    notify = {"StartAt": "P", "States": {"P": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                                               "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:1:t",
                                                              "Message.$": "$.msg"}, "End": True}}}
    ex = emulator.run(definition, {}, workspace=ws, state_machines={"Notify": notify})
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["ExecutionArn"] == "arn:aws:states:us-east-1:123456789012:execution:Notify:child-1"
    assert isinstance(ex.output["StartDate"], int) and "Output" not in ex.output
    assert [m["Body"] for m in Outbox(ws).messages(topic="t")] == ["hi"]  # the child ran in the same workspace


def test_failed_child_fails_the_sync_task_with_a_describe_execution_cause(ws: Workspace) -> None:
    ex = emulator.run(parent("arn:aws:states:::states:startExecution.sync:2", "Broken"), {"n": 1}, workspace=ws,
                      state_machines={"Broken": FAILING})
    assert (ex.status, ex.error) == ("FAILED", "States.TaskFailed")
    cause = json.loads(ex.cause)
    assert cause["Status"] == "FAILED" and cause["Error"] == "Child.Broken" and cause["Cause"] == "on purpose"
    assert cause["ExecutionArn"].startswith("arn:aws:states:us-east-1:123456789012:execution:Broken:")
    assert "Output" not in cause


def test_failed_child_can_be_retried_and_caught(ws: Workspace) -> None:
    definition = parent("arn:aws:states:::states:startExecution.sync", "Broken",
                        Retry=[{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                        Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handled"}])
    definition["States"]["Handled"] = {"Type": "Pass", "End": True}
    ex = emulator.run(definition, {"n": 1}, workspace=ws, state_machines={"Broken": FAILING})
    assert ex.status == "SUCCEEDED"
    assert sum(e["type"] == "TaskFailed" for e in ex.history) == 3


def test_machines_are_found_in_the_project_definitions_folder(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "definitions").mkdir()
    (tmp_path / "definitions" / "Child.asl.json").write_text(json.dumps(CHILD))
    ex = emulator.run(parent("arn:aws:states:::states:startExecution.sync:2"), {"n": 5}, workspace=ws,
                      resources={"double": double})
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["Output"] == {"n": 10}


def test_unknown_machine(ws: Workspace) -> None:
    ex = emulator.run(parent("arn:aws:states:::states:startExecution.sync", "Nowhere"), {"n": 1}, workspace=ws)
    assert (ex.status, ex.error) == ("FAILED", "StepFunctions.StateMachineDoesNotExistException")
    assert f"'{ARN}Nowhere'" in ex.cause


def test_seeded_runs_are_reproducible_and_children_differ(ws: Workspace) -> None:
    child = {"StartAt": "U", "States": {"U": {"Type": "Pass", "Parameters": {"id.$": "States.UUID()"},
                                              "End": True}}}
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": True,
        "ItemProcessor": {"StartAt": "S", "States": {"S": {
            "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "OutputPath": "$.Output",
            "Parameters": {"StateMachineArn": ARN + "Uuid"}, "End": True}}}}}}
    runs = [emulator.run(definition, {"items": [1, 2]}, workspace=ws, seed=7, state_machines={"Uuid": child})
            for _ in range(2)]
    assert runs[0].output == runs[1].output
    assert runs[0].output[0] != runs[0].output[1]
