"""Behaviour that changes a run's path or its messages, checked against what AWS does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import emulator
from emulator.backends.outbox import Outbox

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:{}"


def _parallel(slow_branch: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        slow_branch,
        {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "F"},
                                    "F": {"Type": "Fail", "Error": "Boom", "Cause": "first"}}},
    ]}}}


@pytest.mark.parametrize("clock", ["virtual", "real"])
def test_a_failing_branch_stops_a_waiting_sibling_before_its_next_task(clock: str) -> None:
    calls: list[Any] = []
    slow = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 100 if clock == "virtual" else 2, "Next": "T"},
        "T": {"Type": "Task", "Resource": LAMBDA.format("t"), "End": True}}}
    ex = emulator.run(_parallel(slow), {}, resources={"t": calls.append}, clock=clock)
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Boom", "first")
    assert calls == []  # the sibling's Task never started
    types = [e["type"] for e in ex.history]
    assert "WaitStateExited" not in types and "TaskStateEntered" not in types
    assert types[-2:] == ["ParallelStateFailed", "ExecutionFailed"]
    stamps = [e["timestamp"] for e in ex.history]
    assert stamps == sorted(stamps)
    assert (stamps[-1] - stamps[0]).total_seconds() < 1  # failed at once, not after the sibling's wait
    assert ex.root_cause.state == "F"


def test_waits_in_concurrent_branches_end_in_virtual_time_order() -> None:
    """Three branches wait 30 s, 10 s and 20 s of virtual time: their next states run in that order."""
    order: list[str] = []

    def branch(name: str, seconds: int) -> dict[str, Any]:
        return {"StartAt": f"W{name}", "States": {
            f"W{name}": {"Type": "Wait", "Seconds": seconds, "Next": f"T{name}"},
            f"T{name}": {"Type": "Task", "Resource": LAMBDA.format("mark"), "Parameters": {"name": name},
                         "End": True}}}

    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        branch("thirty", 30), branch("ten", 10), branch("twenty", 20)]}}}
    ex = emulator.run(definition, {}, resources={"mark": lambda e: order.append(e["name"]) or e})
    assert ex.status == "SUCCEEDED"
    assert order == ["ten", "twenty", "thirty"]
    stamps = [e["timestamp"] for e in ex.history]
    assert stamps == sorted(stamps)
    assert 29 < (stamps[-1] - stamps[0]).total_seconds() < 31  # side by side: 30 s in all, not 60


def test_a_map_iteration_waiting_for_its_turn_does_not_hold_back_the_others() -> None:
    """MaxConcurrency 2 with waits: queued iterations still run, in virtual-time order."""
    seen: list[int] = []
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "MaxConcurrency": 2, "End": True, "ItemProcessor": {"StartAt": "W", "States": {
            "W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "T"},
            "T": {"Type": "Task", "Resource": LAMBDA.format("seen"), "End": True}}}}}}
    items = [{"i": i, "s": s} for i, s in enumerate([50, 10, 30, 5])]
    ex = emulator.run(definition, items, resources={"seen": lambda e: seen.append(e["i"]) or e["i"]})
    assert ex.status == "SUCCEEDED" and ex.output == [0, 1, 2, 3]
    # slots: 0 (50 s) and 1 (10 s); 1 ends at 10 → 2 (30 s, ends at 40) → 3 (5 s, ends at 45); 0 at 50
    assert seen == [1, 2, 3, 0]


def test_a_task_token_answered_by_a_sibling_after_its_wait(tmp_path: Path) -> None:
    """One branch waits for a token that its sibling sends after a virtual Wait: no deadlock."""
    ws = emulator.Workspace(root=tmp_path / "ws", project=tmp_path)
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/asks"

    def answer(event: Any) -> Any:
        outbox = Outbox(ws)
        [message] = outbox.messages(queue="asks")
        outbox.send_task_success(json.loads(message["Body"])["token"], {"answered": True})
        return "sent"

    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Ask", "States": {"Ask": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True,
            "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}}}}},
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "Next": "Answer"},
                                    "Answer": {"Type": "Task", "Resource": LAMBDA.format("answer"), "End": True}}},
    ]}}}
    ex = emulator.run(definition, {}, resources={"answer": answer}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output == [{"answered": True}, "sent"]


def test_retry_count_is_in_the_context_of_states_that_retry_only() -> None:
    definition = {"StartAt": "Pass", "States": {
        "Pass": {"Type": "Pass", "Parameters": {"state.$": "$$.State"}, "ResultPath": "$.pass", "Next": "Task"},
        "Task": {"Type": "Task", "Resource": LAMBDA.format("echo"), "Parameters": {"state.$": "$$.State"},
                 "ResultPath": "$.task", "End": True}}}
    ex = emulator.run(definition, {}, resources={"echo": lambda e: e})
    assert set(ex.output["pass"]["state"]) == {"EnteredTime", "Name"}
    assert ex.output["task"]["state"]["RetryCount"] == 0


def test_a_bare_function_arn_fails_as_lambda_invoke_does() -> None:
    def boom(event: Any) -> Any:
        raise ValueError("bad thing")

    results = []
    for state in ({"Resource": LAMBDA.format("boom")},
                  {"Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": LAMBDA.format("boom"), "Payload.$": "$"}},
                  {"Resource": LAMBDA.format("missing")},
                  {"Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": LAMBDA.format("missing")}}):
        ex = emulator.run({"StartAt": "T", "States": {"T": {"Type": "Task", "End": True, **state}}}, {},
                          resources={"boom": boom})
        results.append((ex.error, json.loads(ex.cause) if ex.cause.startswith("{") else ex.cause))
    assert results[0] == results[1]
    assert results[0][0] == "ValueError" and results[0][1]["errorMessage"] == "bad thing"
    assert results[2] == results[3]
    assert results[2][0] == "Lambda.ResourceNotFoundException"
    assert "arn:aws:lambda:us-east-1:111111111111:function:missing" in results[2][1]


def test_size_limit_cause_in_aws_words() -> None:
    definition = {"StartAt": "Big", "States": {"Big": {"Type": "Task", "Resource": LAMBDA.format("big"), "End": True}}}
    ex = emulator.run(definition, {}, resources={"big": lambda e: "x" * 300_000})
    assert ex.error == "States.DataLimitExceeded"
    assert ex.cause == ("The state/task 'Big' returned a result with a size exceeding the maximum number of bytes "
                        "service limit.")


@pytest.mark.parametrize("field", ["SecondsPath", "TimestampPath"])
def test_a_wait_path_to_a_missing_field_names_the_field_and_path(field: str) -> None:
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", field: "$.when.at", "End": True}}}
    ex = emulator.run(definition, {"when": {}})
    assert ex.error == "States.Runtime"
    assert ex.cause.endswith(f"The {field} parameter does not reference an input value: $.when.at")


@pytest.mark.parametrize(("field", "value"), [("MaxConcurrencyPath", "2"), ("ToleratedFailureCountPath", "1"),
                                              ("ToleratedFailurePercentagePath", "50")])
def test_numeric_strings_in_number_paths(field: str, value: str) -> None:
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", field: "$.n", "End": True,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}
    ex = emulator.run(definition, {"items": [1, 2, 3], "n": value})
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output == [1, 2, 3]
