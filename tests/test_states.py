"""Each state type's behaviour."""

from __future__ import annotations

import threading
import time

import pytest

import emulator
from tests.conftest import chain, types


def _choice(rule: dict, data: object) -> str:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}], "Default": "No"},
            "Yes": {"Type": "Pass", "Result": "yes", "End": True},
            "No": {"Type": "Pass", "Result": "no", "End": True},
        },
    }
    return emulator.run(definition, data).output


@pytest.mark.parametrize(
    ("rule", "data", "expected"),
    [
        ({"Variable": "$.v", "StringEquals": "a"}, {"v": "a"}, "yes"),
        ({"Variable": "$.v", "StringEquals": "a"}, {"v": 1}, "no"),
        ({"Variable": "$.v", "StringLessThan": "b"}, {"v": "a"}, "yes"),
        ({"Variable": "$.v", "StringGreaterThanEquals": "b"}, {"v": "b"}, "yes"),
        ({"Variable": "$.v", "StringEqualsPath": "$.w"}, {"v": "q", "w": "q"}, "yes"),
        ({"Variable": "$.v", "StringMatches": "log-*.txt"}, {"v": "log-2024.txt"}, "yes"),
        ({"Variable": "$.v", "StringMatches": "a\\*b"}, {"v": "a*b"}, "yes"),
        ({"Variable": "$.v", "StringMatches": "a\\*b"}, {"v": "axxb"}, "no"),
        ({"Variable": "$.v", "NumericEquals": 1}, {"v": 1.0}, "yes"),
        ({"Variable": "$.v", "NumericEquals": 1}, {"v": True}, "no"),
        ({"Variable": "$.v", "NumericLessThanPath": "$.w"}, {"v": 1, "w": 2}, "yes"),
        ({"Variable": "$.v", "NumericGreaterThan": 5}, {"v": "9"}, "no"),
        ({"Variable": "$.v", "BooleanEquals": False}, {"v": False}, "yes"),
        ({"Variable": "$.v", "BooleanEquals": False}, {"v": 0}, "no"),
        ({"Variable": "$.v", "TimestampEquals": "2024-01-01T00:00:00Z"}, {"v": "2024-01-01T01:00:00+01:00"}, "yes"),
        ({"Variable": "$.v", "TimestampLessThan": "2024-01-01T00:00:00Z"}, {"v": "2023-12-31T23:59:59.999Z"}, "yes"),
        ({"Variable": "$.v", "TimestampGreaterThanPath": "$.w"}, {"v": "2024-01-02T00:00:00Z", "w": "2024-01-01T00:00:00Z"}, "yes"),
        ({"Variable": "$.v", "IsNull": True}, {"v": None}, "yes"),
        ({"Variable": "$.v", "IsPresent": False}, {}, "yes"),
        ({"Variable": "$.v", "IsPresent": True}, {"v": None}, "yes"),
        ({"Variable": "$.v", "IsNumeric": True}, {"v": 2.5}, "yes"),
        ({"Variable": "$.v", "IsString": True}, {"v": ""}, "yes"),
        ({"Variable": "$.v", "IsBoolean": True}, {"v": 1}, "no"),
        ({"Variable": "$.v", "IsTimestamp": True}, {"v": "2016-03-14T01:59:00Z"}, "yes"),
        ({"Variable": "$.v", "IsTimestamp": True}, {"v": "2016-03-14"}, "no"),
        ({"And": [{"Variable": "$.a", "NumericGreaterThan": 1}, {"Not": {"Variable": "$.b", "IsNull": True}}]},
         {"a": 2, "b": 0}, "yes"),
        ({"Or": [{"Variable": "$.a", "NumericGreaterThan": 1}, {"Variable": "$.b", "BooleanEquals": True}]},
         {"a": 0, "b": False}, "no"),
    ],
)
def test_choice_operators(rule: dict, data: object, expected: str) -> None:
    assert _choice(rule, data) == expected


def test_choice_without_default_fails_with_no_choice_matched() -> None:
    definition = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.v", "IsPresent": True, "Next": "E"}]},
        "E": {"Type": "Succeed"}}}
    ex = emulator.run(definition, {})
    assert ex.status == "FAILED" and ex.error == "States.NoChoiceMatched"


def test_choice_on_missing_variable_is_runtime_error() -> None:
    ex = emulator.run({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Next": "E"}], "Default": "E"},
        "E": {"Type": "Succeed"}}}, {})
    assert ex.status == "FAILED" and ex.error == "States.Runtime"


def test_fail_state_fields_and_paths() -> None:
    ex = emulator.run(chain(("F", {"Type": "Fail", "Error": "Custom.Err", "Cause": "because"})))
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Custom.Err", "because")
    ex = emulator.run(chain(("F", {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('n={}', $.n)"})),
                      {"e": "E1", "n": 3})
    assert (ex.error, ex.cause) == ("E1", "n=3")
    assert types(ex)[-2:] == ["FailStateEntered", "ExecutionFailed"]


def test_succeed_applies_input_and_output_path() -> None:
    ex = emulator.run(chain(("S", {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"})), {"a": {"b": 3}})
    assert ex.output == 3


@pytest.mark.parametrize(
    ("field", "value", "data"),
    [("Seconds", 3600, {}), ("SecondsPath", "$.s", {"s": 3600}), ("Timestamp", None, {}), ("TimestampPath", "$.t", {})],
)
def test_wait_variants_advance_virtual_time(field: str, value: object, data: dict) -> None:
    from datetime import UTC, datetime, timedelta

    target = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if field == "Timestamp":
        value = target
    if field == "TimestampPath":
        data = {"t": target}
    started = time.perf_counter()
    ex = emulator.run(chain(("W", {"Type": "Wait", field: value})), data)
    assert time.perf_counter() - started < 1.0
    assert ex.status == "SUCCEEDED"
    span = (ex.history[-1]["timestamp"] - ex.history[0]["timestamp"]).total_seconds()
    assert 3590 <= span <= 3700


def test_wait_real_clock_sleeps() -> None:
    started = time.perf_counter()
    ex = emulator.run(chain(("W", {"Type": "Wait", "Seconds": 1})), {}, clock="real")
    assert ex.status == "SUCCEEDED"
    assert time.perf_counter() - started >= 0.95


def test_wait_bad_seconds_path() -> None:
    ex = emulator.run(chain(("W", {"Type": "Wait", "SecondsPath": "$.s"})), {"s": -1})
    assert ex.error == "States.Runtime" and "negative value: $.s == -1" in ex.cause


def test_parallel_results_in_branch_order() -> None:
    branches = [
        {"StartAt": f"A{i}", "States": {f"A{i}": {"Type": "Pass", "Result": i, "End": True}}} for i in range(5)
    ]
    ex = emulator.run(chain(("P", {"Type": "Parallel", "Branches": branches})), {})
    assert ex.output == [0, 1, 2, 3, 4]
    assert types(ex)[:3] == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]
    # As recorded on AWS: no ParallelStateSucceeded between the branches' last event and the exit.
    assert types(ex)[-3:] == ["PassStateExited", "ParallelStateExited", "ExecutionSucceeded"]


def test_parallel_task_branches_run_concurrently() -> None:
    barrier = threading.Barrier(3, timeout=5)

    def meet(event):
        barrier.wait()  # deadlocks unless all three branches run at once
        return event

    arn = "arn:aws:lambda:us-east-1:123456789012:function:meet"
    branches = [{"StartAt": f"T{i}", "States": {f"T{i}": {"Type": "Task", "Resource": arn, "End": True}}}
                for i in range(3)]
    ex = emulator.run(chain(("P", {"Type": "Parallel", "Branches": branches})), {"x": 1}, resources={"meet": meet})
    assert ex.status == "SUCCEEDED"
    assert ex.output == [{"x": 1}] * 3


def test_map_max_concurrency_is_respected_and_order_kept() -> None:
    running, peak, lock = [0], [0], threading.Lock()

    def work(event):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return event * 10

    arn = "arn:aws:lambda:us-east-1:123456789012:function:work"
    definition = chain(("M", {
        "Type": "Map", "MaxConcurrency": 3,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "T",
                          "States": {"T": {"Type": "Task", "Resource": arn, "End": True}}},
    }))
    ex = emulator.run(definition, list(range(12)), resources={"work": work})
    assert ex.output == [i * 10 for i in range(12)]
    assert peak[0] == 3


def test_map_failure_stops_and_reports_iteration() -> None:
    definition = chain(("M", {
        "Type": "Map", "MaxConcurrency": 1,
        "ItemProcessor": {"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Boom"}], "Default": "Ok"},
            "Boom": {"Type": "Fail", "Error": "Two"},
            "Ok": {"Type": "Pass", "End": True}}},
    }))
    ex = emulator.run(definition, [1, 2, 3])
    assert (ex.status, ex.error) == ("FAILED", "Two")
    assert types(ex).count("MapIterationStarted") == 2
    assert "MapIterationFailed" in types(ex) and "MapStateFailed" in types(ex)


def test_map_items_must_be_an_array() -> None:
    ex = emulator.run(chain(("M", {"Type": "Map", "ItemsPath": "$.x",
                                   "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}})),
                      {"x": 1})
    assert ex.error == "States.Runtime"


def test_distributed_map_tolerated_failures() -> None:
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericGreaterThan": 7, "Next": "Boom"}], "Default": "Ok"},
        "Boom": {"Type": "Fail", "Error": "Big"},
        "Ok": {"Type": "Pass", "End": True}}}
    tolerant = chain(("M", {"Type": "Map", "ToleratedFailureCount": 2, "ItemProcessor": processor}))
    ex = emulator.run(tolerant, list(range(10)))
    assert ex.status == "SUCCEEDED"
    assert ex.output[:8] == list(range(8)) and ex.output[8]["Error"] == "Big"
    assert "MapRunStarted" in types(ex) and "MapIterationStarted" not in types(ex)
    strict = chain(("M", {"Type": "Map", "ToleratedFailureCount": 1, "ItemProcessor": processor}))
    ex = emulator.run(strict, list(range(10)))
    assert (ex.status, ex.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")


def test_task_unknown_resource_is_clear() -> None:
    arn = "arn:aws:states:::sagemaker:createTrainingJob"
    ex = emulator.run(chain(("T", {"Type": "Task", "Resource": arn})), {})
    assert ex.status == "FAILED"
    assert f"No local handler for resource '{arn}'" in ex.cause


def test_lambda_invoke_shape_and_bare_function_arn() -> None:
    def double(event):
        return {"v": event["v"] * 2}

    invoke = chain(("T", {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                          "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:1:function:double:live",
                                         "Payload.$": "$"},
                          "OutputPath": "$.Payload"}))
    ex = emulator.run(invoke, {"v": 2}, resources={"double": double})
    assert ex.output == {"v": 4}
    assert "TaskScheduled" in types(ex) and "TaskSucceeded" in types(ex)
    bare = chain(("T", {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:double"}))
    ex = emulator.run(bare, {"v": 3}, resources={"double": double})
    assert ex.output == {"v": 6}
    assert "LambdaFunctionScheduled" in types(ex) and "LambdaFunctionSucceeded" in types(ex)


def test_wait_for_task_token_gets_a_token() -> None:
    tokens = []

    def worker(event):
        tokens.append(event["token"])
        return {"done": True}

    definition = chain(("T", {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                              "Parameters": {"FunctionName": "worker", "Payload": {"token.$": "$$.Task.Token"}}}))
    ex = emulator.run(definition, {}, resources={"worker": worker}, seed=1)
    assert ex.status == "SUCCEEDED" and len(tokens[0]) == 36


def test_start_and_stop_gives_aborted() -> None:
    definition = chain(("W", {"Type": "Wait", "Seconds": 30}))
    running = emulator.start(definition, {}, clock="real")
    time.sleep(0.1)
    running.stop(error="User.Stop", cause="enough")
    running.wait(5)
    assert running.status == "ABORTED"
    assert running.history[-1]["type"] == "ExecutionAborted"
