"""History events: AWS's names, detail shapes, ids and previousEventId."""

from __future__ import annotations

import json

import emulator
from tests.conftest import chain, types


def test_pass_chain_history_shape() -> None:
    ex = emulator.run(chain(("A", {"Type": "Pass", "Result": {"x": 1}}), ("B", {"Type": "Succeed"})), {"in": True})
    assert types(ex) == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "SucceedStateEntered",
                         "SucceedStateExited", "ExecutionSucceeded"]
    assert [e["id"] for e in ex.history] == list(range(1, 7))
    assert [e["previousEventId"] for e in ex.history] == [0, 0, 2, 3, 4, 5]
    started = ex.history[0]["executionStartedEventDetails"]
    assert json.loads(started["input"]) == {"in": True}
    assert started["inputDetails"] == {"truncated": False} and started["roleArn"].startswith("arn:aws:iam::")
    entered = ex.history[1]["stateEnteredEventDetails"]
    assert entered == {"name": "A", "input": '{"in":true}', "inputDetails": {"truncated": False}}
    exited = ex.history[2]["stateExitedEventDetails"]
    assert exited["name"] == "A" and exited["output"] == '{"x":1}'
    assert ex.history[-1]["executionSucceededEventDetails"]["output"] == '{"x":1}'
    stamps = [e["timestamp"] for e in ex.history]
    assert stamps == sorted(stamps) and stamps[0].tzinfo is not None


def test_task_events_for_service_integration() -> None:
    definition = chain(("T", {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                              "Parameters": {"FunctionName": "f", "Payload": {"a": 1}}, "TimeoutSeconds": 30}))
    ex = emulator.run(definition, {}, resources={"f": lambda e: e})
    assert types(ex) == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
                         "TaskStateExited", "ExecutionSucceeded"]
    scheduled = ex.history[2]["taskScheduledEventDetails"]
    assert scheduled["resourceType"] == "lambda" and scheduled["resource"] == "invoke"
    assert scheduled["region"] == "us-east-1" and scheduled["timeoutInSeconds"] == 30
    assert json.loads(scheduled["parameters"]) == {"FunctionName": "f", "Payload": {"a": 1}}
    succeeded = ex.history[4]["taskSucceededEventDetails"]
    assert json.loads(succeeded["output"])["Payload"] == {"a": 1}


def test_task_failure_events() -> None:
    def boom(event):
        raise ValueError("no")

    ex = emulator.run(chain(("T", {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                   "Parameters": {"FunctionName": "f"}})), {}, resources={"f": boom})
    assert types(ex)[-2:] == ["TaskFailed", "ExecutionFailed"]
    failed = ex.history[-2]["taskFailedEventDetails"]
    assert failed["error"] == "ValueError" and failed["resourceType"] == "lambda"
    assert ex.history[-1]["executionFailedEventDetails"]["error"] == "ValueError"


def test_map_iteration_events() -> None:
    definition = chain(("M", {"Type": "Map", "MaxConcurrency": 1,
                              "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}))
    ex = emulator.run(definition, [1, 2])
    assert types(ex) == ["ExecutionStarted", "MapStateEntered", "MapStateStarted",
                         "MapIterationStarted", "PassStateEntered", "PassStateExited", "MapIterationSucceeded",
                         "MapIterationStarted", "PassStateEntered", "PassStateExited", "MapIterationSucceeded",
                         "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
    assert ex.history[2]["mapStateStartedEventDetails"] == {"length": 2}
    assert ex.history[7]["mapIterationStartedEventDetails"] == {"index": 1, "name": "M"}
    # The first iteration hangs off MapStateStarted; its first state off the iteration.
    assert ex.history[3]["previousEventId"] == 3 and ex.history[4]["previousEventId"] == 4


def test_parallel_failure_caught_events() -> None:
    definition = chain(
        ("P", {"Type": "Parallel", "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}],
               "Catch": [{"ErrorEquals": ["E"], "Next": "C"}]}),
        ("C", {"Type": "Pass"}),
    )
    ex = emulator.run(definition, {})
    assert types(ex) == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted", "FailStateEntered",
                         "ParallelStateFailed", "ParallelStateExited", "PassStateEntered", "PassStateExited",
                         "ExecutionSucceeded"]


def test_wait_timestamps_are_virtual() -> None:
    ex = emulator.run(chain(("W", {"Type": "Wait", "Seconds": 86400})), {})
    entered, exited = ex.history[1]["timestamp"], ex.history[2]["timestamp"]
    assert 86399 < (exited - entered).total_seconds() < 86410
