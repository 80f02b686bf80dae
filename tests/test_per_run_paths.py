"""What every execution and every handler call pays for, taken by quicker routes that must keep the
general routes' results: the done flag, the seeded generator, environment lookups, JSON copies, stack
traces, event-rule patterns, the history's records (and what they leave the cyclic collector)."""

from __future__ import annotations

import gc
import json
import threading
import traceback
from typing import Any

import pytest

import emulator
from emulator.asl.values import from_json, to_json
from emulator.backends import events
from emulator.engine.execution import _Done, _generator
from emulator.integrations.python import _format_frames
from emulator.workspace import environment_variable

PASS_CHAIN = {"StartAt": "P0", "States": {
    **{f"P{i}": {"Type": "Pass", "Parameters": {"i": i, "v.$": "$.v"}, "Next": f"P{i + 1}"} for i in range(50)},
    "P50": {"Type": "Pass", "End": True}}}
MAP = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
    "StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"id.$": "$.id"}, "End": True}}}}}}


# ---------------------------------------------------------------------------------------------
# The done flag: threading.Event's behaviour, with no Event until someone waits


def test_done_flag_waits_clears_and_times_out() -> None:
    done = _Done()
    assert not done.is_set()
    assert done.wait(0.01) is False
    waiter_saw: list[bool] = []
    waiter = threading.Thread(target=lambda: waiter_saw.append(done.wait(5)))
    waiter.start()
    done.set()
    waiter.join(5)
    assert waiter_saw == [True] and done.is_set() and done.wait(0) is True
    done.clear()  # a redrive runs the execution again
    assert not done.is_set() and done.wait(0.01) is False


def test_execution_wait_returns_when_a_started_execution_ends() -> None:
    machine = emulator.StateMachine({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}})
    execution = machine.start({}, clock="real")
    assert execution.wait(10).status == "SUCCEEDED"
    assert machine.run({}).status == "SUCCEEDED"  # ended before anyone waited: no Event needed


# ---------------------------------------------------------------------------------------------
# The execution's generator


def test_seeded_generator_repeats_a_fresh_random_of_that_seed() -> None:
    import random

    for seed in (0, 7, 2**70, -3):
        for _ in range(2):  # the second one comes from the saved state
            ours, fresh = _generator(seed), random.Random(seed)
            assert [ours.getrandbits(128) for _ in range(3)] == [fresh.getrandbits(128) for _ in range(3)]
            assert ours.random() == fresh.random()
    assert _generator("text").random() == random.Random("text").random()
    assert _generator(None).getrandbits(128) != _generator(None).getrandbits(128)


def test_seeded_executions_have_the_same_names_and_unseeded_ones_differ() -> None:
    machine = emulator.StateMachine({"StartAt": "U", "States": {"U": {
        "Type": "Pass", "Parameters": {"u.$": "States.UUID()"}, "End": True}}})
    first, again = machine.run({}, seed=5), machine.run({}, seed=5)
    assert (first.name, first.output) == (again.name, again.output)
    assert machine.run({}).name != machine.run({}).name


# ---------------------------------------------------------------------------------------------
# Environment lookups and JSON copies


def test_environment_variable_is_os_environ_get(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFN_LOCAL_TEST_VALUE", "é x")
    monkeypatch.delenv("SFN_LOCAL_TEST_UNSET", raising=False)
    assert environment_variable("SFN_LOCAL_TEST_VALUE") == "é x"
    assert environment_variable("SFN_LOCAL_TEST_UNSET") is None
    monkeypatch.setenv("SFN_LOCAL_TEST_UNSET", "")
    assert environment_variable("SFN_LOCAL_TEST_UNSET") == ""


@pytest.mark.parametrize("value", [{"a": [1, 2.5, None, True, "é\n\"x\""]}, [], "text", 0, -1.5e300, None])
def test_from_json_reads_what_to_json_wrote(value: Any) -> None:
    assert from_json(to_json(value)) == value


@pytest.mark.parametrize("text", ["", "{", '{"a":1}x', "[1,]", "nul"])
def test_from_json_reports_bad_text_as_json_loads_does(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as ours:
        from_json(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert str(ours.value) == str(theirs.value)


# ---------------------------------------------------------------------------------------------
# A failed handler's stack trace


@pytest.mark.parametrize("frames", [
    [],
    [("/p/handler.py", 3, "handler", "raise ValueError('x')"), ("/p/lib.py", 9, "helper", "")],
    [("/p/rec.py", 2, "again", "return again(n - 1)")] * 6,  # a recursion: the repeats are summarised
])
def test_frames_are_formatted_as_traceback_does(frames: list[tuple[str, int, str, str]]) -> None:
    assert _format_frames(frames) == traceback.StackSummary.from_list(frames).format()


def test_a_caught_handler_failure_carries_lambdas_error_document() -> None:
    def fails(event: Any) -> Any:
        raise KeyError("missing")

    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:fails",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}], "End": True},
        "Done": {"Type": "Succeed"}}}
    execution = emulator.run(definition, {}, resources={"fails": fails})
    document = json.loads(execution.output["error"]["Cause"])
    assert document["errorType"] == "KeyError" and document["errorMessage"] == "'missing'"
    # Only the user's frame, as Lambda shows: none of sfn-local's.
    assert document["stackTrace"] == [f'  File "{__file__}", line {fails.__code__.co_firstlineno + 1}, in fails\n'
                                      '    raise KeyError("missing")\n']


# ---------------------------------------------------------------------------------------------
# Event rules written as JSON text


def test_rule_patterns_in_text_and_object_form_want_the_same_sources() -> None:
    assert events._pattern_sources('{"source": ["aws.states", "aws.s3"]}') == frozenset({"aws.states", "aws.s3"})
    assert events._pattern_sources({"source": ["aws.states"]}) == frozenset({"aws.states"})
    for anything in ("not json", '["aws.states"]', '"aws.states"', '{"detail-type": ["x"]}', {"source": []}):
        assert events._pattern_sources(anything) == frozenset({"*"})


# ---------------------------------------------------------------------------------------------
# The history's records


def _records(execution: emulator.Execution) -> list[Any]:
    return execution._history.owner._pending  # type: ignore[union-attr]


@pytest.mark.parametrize(("definition", "data"), [(PASS_CHAIN, {"v": [1, 2]}),
                                                  (MAP, {"items": [{"id": i} for i in range(30)]})])
def test_a_kept_executions_records_hold_nothing_the_collector_tracks(definition: dict[str, Any], data: Any) -> None:
    """A tracked object per event would count towards the collector's next pass: every run beside kept
    executions (a test suite's, a server's) would pay for collections in proportion to their events. The
    state and Map iteration events (all but a few) hold only values it does not track, and their branch's
    path (one per Map iteration, shared by its events)."""
    execution = emulator.run(definition, data)
    values = _records(execution)
    records = [values[i:i + 7] for i in range(0, len(values), 7)]
    assert len(records) == len(execution._history.owner) > 50  # type: ignore[union-attr]
    per_event = [r for r in records if r[0].endswith(("StateEntered", "StateExited")) or "MapIteration" in r[0]]
    assert len(per_event) >= len(records) - 4
    assert [r for r in per_event if any(gc.is_tracked(v) for v in r[:5] + r[6:])] == []
    assert len({id(r[5]) for r in per_event if gc.is_tracked(r[5])}) <= len(data.get("items", []))


def test_records_read_while_running_and_after_the_end_build_the_same_events() -> None:
    gate, seen = threading.Event(), []

    def hold(event: Any) -> Any:
        gate.wait(10)
        return event

    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "T"},
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:hold", "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
            "StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}}}}
    machine = emulator.StateMachine(definition, resources={"hold": hold})
    execution = machine.start({"items": [1, 2]})
    while not any(e["type"] == "LambdaFunctionStarted" for e in execution.history):
        threading.Event().wait(0.01)
    seen = [dict(e) for e in execution.history]  # part of it, read while it runs
    gate.set()
    execution.wait(10)
    everything = execution.history
    assert everything[:len(seen)] == seen
    assert [e["id"] for e in everything] == list(range(1, len(everything) + 1))
    started = [e for e in everything if e["type"] == "MapIterationStarted"]
    assert [e["mapIterationStartedEventDetails"] for e in started] == [{"index": 0, "name": "M"},
                                                                       {"index": 1, "name": "M"}]
    entered = next(e for e in everything if e["type"] == "PassStateEntered" and
                   e["stateEnteredEventDetails"]["name"] == "B")
    assert json.loads(entered["stateEnteredEventDetails"]["input"]) == 1
    assert execution.history_paths[everything.index(entered)] == (("M", 0),)


# ---------------------------------------------------------------------------------------------
# The execution's input and output, read from their text when asked for


def test_input_and_output_are_the_callers_own_copies() -> None:
    given = {"items": [{"id": 1}], "note": "é"}
    execution = emulator.run({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"r": [1]},
                                                               "ResultPath": "$.result", "End": True}}}, given)
    given["items"].append({"id": 2})  # the caller's dict is not the execution's
    assert execution.input == {"items": [{"id": 1}], "note": "é"}
    assert execution.output == {"items": [{"id": 1}], "note": "é", "result": {"r": [1]}}
    execution.output["result"]["r"].append(2)  # one copy, kept once read
    assert execution.output["result"]["r"] == [1, 2]
    assert json.loads(execution.history[-1]["executionSucceededEventDetails"]["output"])["result"] == {"r": [1]}
    execution.input = {"replaced": True}
    assert execution.input == {"replaced": True}
    assert execution.describe()["input"] == '{"replaced":true}'


def test_a_failed_iteration_run_one_after_the_other_ends_the_map_where_it_failed() -> None:
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "Next": "After",
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "After", "ResultPath": "$.error"}],
        "ItemProcessor": {"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}], "Default": "D"},
            "D": {"Type": "Succeed"}, "F": {"Type": "Fail", "Error": "Bad", "Cause": "two"}}}},
        "After": {"Type": "Pass", "End": True}}}
    execution = emulator.run(definition, {"items": [1, 2, 3]})
    events = {e["type"]: e for e in execution.history}
    assert [e["mapIterationStartedEventDetails"]["index"] for e in execution.history
            if e["type"] == "MapIterationStarted"] == [0, 1]  # the third never starts
    failed_state = events["FailStateEntered"]["id"]
    assert events["MapIterationFailed"]["previousEventId"] == failed_state
    assert events["MapStateFailed"]["previousEventId"] == failed_state
    assert execution.output["error"] == {"Error": "Bad", "Cause": "two"}
