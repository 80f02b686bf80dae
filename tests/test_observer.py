"""The engine's observer interface: the moments of a run, in order, with what the history shows."""

from __future__ import annotations

import json
import threading
from typing import Any

import emulator
from emulator.engine.observe import Context, Observer
from emulator.errors import StatesError


class Recorder(Observer):
    def __init__(self) -> None:
        self.moments: list[tuple[Any, ...]] = []
        self.lock = threading.Lock()

    def _add(self, *moment: Any) -> None:
        with self.lock:
            self.moments.append(moment)

    def state_entered(self, ctx: Context, state: Any, input: Any) -> None:
        self._add("entered", ctx.path, state.name, json.dumps(input))

    def stage(self, ctx: Context, state: Any, name: str, value: Any) -> None:
        self._add("stage", ctx.path, state.name, name, value)

    def retry_scheduled(self, ctx: Context, state: Any, error: StatesError, retrier: int, delay: float) -> None:
        self._add("retry", ctx.path, state.name, error.error, retrier, delay, ctx.retry_count)

    def error_caught(self, ctx: Context, state: Any, error: StatesError, catcher: int) -> None:
        self._add("caught", ctx.path, state.name, error.error, catcher)

    def state_exited(self, ctx: Context, state: Any, output: Any, next_state: str | None) -> None:
        self._add("exited", ctx.path, state.name, output, next_state)

    def state_failed(self, ctx: Context, state: Any, error: StatesError) -> None:
        self._add("failed", ctx.path, state.name, error.error)

    def branch_started(self, ctx: Context, state: Any, index: int, input: Any) -> None:
        self._add("branch_started", ctx.path, state.name, index)

    def branch_ended(self, ctx: Context, state: Any, index: int, output: Any, error: StatesError | None) -> None:
        self._add("branch_ended", ctx.path, state.name, index, error.error if error else None)


def _run(definition: dict[str, Any], input: Any, **options: Any) -> tuple[emulator.Execution, Recorder]:
    recorder = Recorder()
    execution = emulator.StateMachine(definition).run(input, observer=recorder, **options)
    return execution, recorder


def _kinds(recorder: Recorder) -> list[str]:
    return [m[0] if m[0] != "stage" else f"stage:{m[3]}" for m in recorder.moments]


def test_pass_stages_in_order_and_equal_to_the_history() -> None:
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "InputPath": "$.in", "Parameters": {"v.$": "$.v"},
              "ResultPath": "$.r", "OutputPath": "$.r", "Assign": {"x.$": "$.v"}, "Next": "B"},
        "B": {"Type": "Pass", "Result": {"fixed": 1}, "End": True}}}
    execution, recorder = _run(definition, {"in": {"v": 5}})
    assert execution.status == "SUCCEEDED"
    assert _kinds(recorder) == [
        "entered", "stage:afterInputPath", "stage:afterParameters", "stage:result", "stage:afterResultSelector",
        "stage:afterResultPath", "stage:variables", "exited",
        "entered", "stage:afterInputPath", "stage:result", "stage:afterResultSelector", "stage:afterResultPath",
        "exited"]
    stages = {m[3]: m[4] for m in recorder.moments if m[0] == "stage" and m[2] == "A"}
    assert stages["afterInputPath"] == {"v": 5}
    assert stages["afterParameters"] == {"v": 5}
    assert stages["afterResultSelector"] == {"v": 5}
    assert stages["afterResultPath"] == {"in": {"v": 5}, "r": {"v": 5}}
    assert stages["variables"] == {"x": 5}
    # What the observer saw at entry and exit is what the history records.
    entered = [e["stateEnteredEventDetails"] for e in execution.history if e["type"] == "PassStateEntered"]
    exited = [e["stateExitedEventDetails"] for e in execution.history if e["type"] == "PassStateExited"]
    seen_in = [m[3] for m in recorder.moments if m[0] == "entered"]
    seen_out = [m[3] for m in recorder.moments if m[0] == "exited"]
    assert [json.loads(e["input"]) for e in entered] == [json.loads(s) for s in seen_in]
    assert [json.loads(e["output"]) for e in exited] == seen_out
    assert json.loads(exited[0]["assignedVariables"]["x"]) == 5
    assert [m[4] for m in recorder.moments if m[0] == "exited"] == ["B", None]


def test_task_retry_then_catch() -> None:
    calls = []

    def flaky(event: Any) -> Any:
        calls.append(event)
        raise StatesError("Flaky.Error", f"attempt {len(calls)}")

    definition = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:flaky",
              "Retry": [{"ErrorEquals": ["Other"]}, {"ErrorEquals": ["Flaky.Error"], "IntervalSeconds": 2,
                                                     "MaxAttempts": 2, "BackoffRate": 3}],
              "Catch": [{"ErrorEquals": ["Nope"], "Next": "Done"},
                        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Done"}],
              "End": True},
        "Done": {"Type": "Succeed"}}}
    recorder = Recorder()
    execution = emulator.StateMachine(definition, resources={"flaky": flaky}).run({"a": 1}, observer=recorder)
    assert execution.status == "SUCCEEDED"
    assert len(calls) == 3
    retries = [m for m in recorder.moments if m[0] == "retry"]
    assert [(m[3], m[4], m[5], m[6]) for m in retries] == [("Flaky.Error", 1, 2.0, 0), ("Flaky.Error", 1, 6.0, 1)]
    assert [m for m in recorder.moments if m[0] == "caught"] == [("caught", (), "T", "Flaky.Error", 1)]
    exited = [m for m in recorder.moments if m[0] == "exited"]
    assert exited[0][2:] == ("T", {"a": 1, "err": {"Error": "Flaky.Error", "Cause": "attempt 3"}}, "Done")
    # One retry event pair per retry in the history, as the observer saw them.
    assert sum(e["type"] == "LambdaFunctionFailed" for e in execution.history) == 3


def test_uncaught_failure_is_reported() -> None:
    execution, recorder = _run({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom"}}}, {})
    assert execution.status == "FAILED"
    assert _kinds(recorder) == ["entered", "failed"]
    assert recorder.moments[-1] == ("failed", (), "F", "Boom")


def test_choice_reports_its_next_state() -> None:
    definition = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Big"}],
              "Default": "Small"},
        "Big": {"Type": "Succeed"}, "Small": {"Type": "Succeed"}}}
    _, recorder = _run(definition, {"n": 5})
    assert [(m[2], m[4]) for m in recorder.moments if m[0] == "exited"] == [("C", "Big"), ("Big", None)]


def test_parallel_and_map_positions() -> None:
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "M", "Branches": [
            {"StartAt": "B0", "States": {"B0": {"Type": "Pass", "Result": "zero", "End": True}}},
            {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Result": "one", "End": True}}}]},
        "M": {"Type": "Map", "ItemsPath": "$", "MaxConcurrency": 2,
              "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}, "End": True}}}
    execution, recorder = _run(definition, {})
    assert execution.status == "SUCCEEDED"
    assert execution.output == ["zero", "one"]
    branches = [m[1:] for m in recorder.moments if m[0].startswith("branch")]
    assert branches == [((), "P", 0), ((), "P", 0, None), ((), "P", 1), ((), "P", 1, None),
                        ((), "M", 0), ((), "M", 0, None), ((), "M", 1), ((), "M", 1, None)]
    inner = [(m[1], m[2]) for m in recorder.moments if m[0] == "entered" and m[2] not in ("P", "M")]
    assert inner == [((("P", 0),), "B0"), ((("P", 1),), "B1"), ((("M", 0),), "I"), ((("M", 1),), "I")]
    map_stages = {m[3]: m[4] for m in recorder.moments if m[0] == "stage" and m[2] == "M"}
    assert map_stages["afterItemsPath"] == ["zero", "one"]
    assert map_stages["maxConcurrency"] == 2


def test_failed_map_iteration_ends_its_branch_with_the_error() -> None:
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemProcessor": {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Bad"}}},
        "End": True}}}
    execution, recorder = _run(definition, [1])
    assert execution.status == "FAILED"
    assert [m for m in recorder.moments if m[0] == "branch_ended"] == [("branch_ended", (), "M", 0, "Bad")]
    assert recorder.moments[-1] == ("failed", (), "M", "Bad")
