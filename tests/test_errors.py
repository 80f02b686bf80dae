"""Retry, Catch, timeouts and the errors AWS names."""

from __future__ import annotations

import time

import pytest

import emulator
from tests.conftest import chain, types

ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"


class Flaky:
    def __init__(self, failures: int, exc: type[Exception] = RuntimeError) -> None:
        self.failures, self.exc, self.calls = failures, exc, 0

    def __call__(self, event):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc(f"failure {self.calls}")
        return {"ok": self.calls}


def _task(**extra) -> dict:
    return chain(("T", {"Type": "Task", "Resource": ARN, **extra}), ("Caught", {"Type": "Pass"}))


def _gaps(ex) -> list[float]:
    """Seconds between each TaskFailed/LambdaFunctionFailed and the next scheduling."""
    out, failed_at = [], None
    for e in ex.history:
        if e["type"] == "LambdaFunctionFailed":
            failed_at = e["timestamp"]
        elif e["type"] == "LambdaFunctionScheduled" and failed_at is not None:
            out.append((e["timestamp"] - failed_at).total_seconds())
    return out


def test_retry_backoff_on_virtual_clock() -> None:
    fn = Flaky(3)
    ex = emulator.run(_task(Retry=[{"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 10, "BackoffRate": 3,
                                    "MaxAttempts": 3}]), {}, resources={"fn": fn})
    assert ex.status == "SUCCEEDED" and fn.calls == 4
    assert [round(g) for g in _gaps(ex)] == [10, 30, 90]


def test_max_delay_and_full_jitter() -> None:
    fn = Flaky(3)
    ex = emulator.run(_task(Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10, "BackoffRate": 10,
                                    "MaxAttempts": 3, "MaxDelaySeconds": 50, "JitterStrategy": "FULL"}]),
                      {}, resources={"fn": fn}, seed=3)
    gaps = _gaps(ex)
    assert len(gaps) == 3 and all(0 <= g <= 50.1 for g in gaps)
    again = emulator.run(_task(Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10, "BackoffRate": 10,
                                       "MaxAttempts": 3, "MaxDelaySeconds": 50, "JitterStrategy": "FULL"}]),
                         {}, resources={"fn": Flaky(3)}, seed=3)
    # The same seed, the same jittered waits. A gap also holds the real time between the two events (the
    # virtual clock runs on from real time), a few ms under load; jitters of other draws differ by seconds.
    assert len(_gaps(again)) == 3 and all(abs(a - b) < 0.25 for a, b in zip(_gaps(again), gaps, strict=True))


def test_max_attempts_zero_never_retries() -> None:
    fn = Flaky(1)
    ex = emulator.run(_task(Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}]), {}, resources={"fn": fn})
    assert ex.status == "FAILED" and fn.calls == 1
    assert ex.error == "RuntimeError"


def test_first_matching_retrier_owns_the_error() -> None:
    fn = Flaky(5, ValueError)
    ex = emulator.run(_task(Retry=[{"ErrorEquals": ["ValueError"], "MaxAttempts": 1},
                                   {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}]), {}, resources={"fn": fn})
    assert ex.status == "FAILED" and fn.calls == 2


def test_retry_count_in_context() -> None:
    seen = []

    def fn(event):
        seen.append(event["retry"])
        if len(seen) < 3:
            raise RuntimeError("again")
        return {}

    definition = _task(Parameters={"retry.$": "$$.State.RetryCount"},
                       Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}])
    emulator.run(definition, {}, resources={"fn": fn})
    assert seen == [0, 1, 2]


def test_catch_result_path_and_error_output() -> None:
    fn = Flaky(9, KeyError)
    ex = emulator.run(_task(Catch=[{"ErrorEquals": ["KeyError"], "ResultPath": "$.err", "Next": "Caught"}]),
                      {"keep": 1}, resources={"fn": fn})
    assert ex.status == "SUCCEEDED"
    assert ex.output["keep"] == 1
    assert ex.output["err"]["Error"] == "KeyError"
    assert "failure 1" in ex.output["err"]["Cause"]


def test_states_task_failed_matches_all_but_timeout() -> None:
    fn = Flaky(1)
    ex = emulator.run(_task(Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}]), {}, resources={"fn": fn})
    assert ex.status == "SUCCEEDED"

    def slow(event, context):
        context.sleep(100)
        return {}

    ex = emulator.run(_task(TimeoutSeconds=10, Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}]),
                      {}, resources={"fn": slow})
    assert (ex.status, ex.error) == ("FAILED", "States.Timeout")


def test_runtime_errors_are_not_caught() -> None:
    ex = emulator.run(_task(OutputPath="$.no.such", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]),
                      {}, resources={"fn": lambda e: {}})
    assert ex.status == "FAILED" and ex.error == "States.Runtime"
    assert "Missing property in path $['no']" in ex.cause


def test_task_timeout_virtual() -> None:
    def slow(event, context):
        context.sleep(3600)
        return {}

    ex = emulator.run(_task(TimeoutSeconds=60), {}, resources={"fn": slow})
    assert (ex.status, ex.error) == ("FAILED", "States.Timeout")
    assert "LambdaFunctionTimedOut" in types(ex)


def test_timeout_seconds_path() -> None:
    def slow(event, context):
        context.sleep(30)
        return {}

    assert emulator.run(_task(TimeoutSecondsPath="$.t"), {"t": 10}, resources={"fn": slow}).error == "States.Timeout"
    assert emulator.run(_task(TimeoutSecondsPath="$.t"), {"t": 60}, resources={"fn": slow}).status == "SUCCEEDED"


def test_task_timeout_real_clock() -> None:
    def slow(event):
        time.sleep(1.5)
        return {}

    ex = emulator.run(_task(TimeoutSeconds=1), {}, resources={"fn": slow}, clock="real")
    assert ex.error == "States.Timeout"


def test_heartbeat_timeout_and_heartbeats() -> None:
    def silent(event, context):
        context.sleep(100)
        return {}

    def chatty(event, context):
        for _ in range(10):
            context.sleep(20)
            context.heartbeat()
        return {"beats": 10}

    definition = chain(("T", {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                              "HeartbeatSeconds": 30, "Parameters": {"FunctionName": "fn", "Payload": {}}}))
    ex = emulator.run(definition, {}, resources={"fn": silent})
    assert (ex.status, ex.error) == ("FAILED", "States.HeartbeatTimeout")
    assert "TaskTimedOut" in types(ex)
    ex = emulator.run(definition, {}, resources={"fn": chatty})
    assert ex.status == "SUCCEEDED"


def test_execution_timeout() -> None:
    definition = chain(("W", {"Type": "Wait", "Seconds": 7200}), TimeoutSeconds=3600)
    ex = emulator.run(definition, {})
    assert ex.status == "TIMED_OUT" and ex.error == "States.Timeout"
    assert types(ex)[-1] == "ExecutionTimedOut"
    span = (ex.history[-1]["timestamp"] - ex.history[0]["timestamp"]).total_seconds()
    assert 3599 <= span <= 3700


def test_parallel_retry_then_catch() -> None:
    definition = chain(
        ("P", {"Type": "Parallel",
               "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "X", "Cause": "c"}}}],
               "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 60, "MaxAttempts": 2}],
               "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "R"}]}),
        ("R", {"Type": "Pass"}),
    )
    ex = emulator.run(definition, {})
    assert ex.output == {"error": {"Error": "X", "Cause": "c"}}
    assert types(ex).count("ParallelStateStarted") == 3
    span = (ex.history[-1]["timestamp"] - ex.history[0]["timestamp"]).total_seconds()
    assert span >= 180


def test_history_quota() -> None:
    loop = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Choice", "Choices": [{"Variable": "$.go", "BooleanEquals": True, "Next": "A"}],
              "Default": "E"},
        "E": {"Type": "Succeed"}}}
    ex = emulator.run(loop, {"go": True})
    assert ex.status == "FAILED" and ex.error == "States.Runtime"
    assert "25000" in ex.cause
    assert len(ex.history) == 25_001


@pytest.mark.parametrize("exc", [ValueError, emulator.StatesError])
def test_handler_errors_become_task_failures(exc) -> None:
    def boom(event):
        if exc is emulator.StatesError:
            raise emulator.StatesError("My.Error", "my cause")
        raise ValueError("bad value")

    ex = emulator.run(_task(), {}, resources={"fn": boom})
    assert ex.status == "FAILED"
    if exc is emulator.StatesError:
        assert (ex.error, ex.cause) == ("My.Error", "my cause")
    else:
        assert ex.error == "ValueError" and '"errorMessage":"bad value"' in ex.cause
