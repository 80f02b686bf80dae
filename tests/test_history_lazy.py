"""The compact history (built when read), the handlers' AWS environment kept between calls and given
back when the run ends, and a handler error's cause written on first read."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import emulator
from emulator.asl.values import to_json
from emulator.engine.history import (
    MAX_EVENTS,
    MAX_PAYLOAD_BYTES,
    History,
    HistoryLimitExceeded,
    snapshot,
    snapshot_text,
)
from emulator.integrations.python import HandlerError, call
from emulator.integrations.registry import TaskContext

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def test_events_are_built_on_read_and_readers_holding_the_list_see_later_ones() -> None:
    history = History()
    held = history.events
    history.add("ExecutionStarted", 0, 0.0, "executionStartedEventDetails", {"input": "{}"})
    first = history.add("PassStateEntered", 1, 1.5, "stateEnteredEventDetails", ("P", snapshot({"a": 1})))
    assert len(history) == 2 and held == []  # recorded, not built yet
    events = history.events
    assert events is held and first == 2
    assert events[1] == {"timestamp": events[1]["timestamp"], "type": "PassStateEntered", "id": 2,
                         "previousEventId": 1, "stateEnteredEventDetails": {"name": "P", "input": '{"a":1}',
                                                                            "inputDetails": {"truncated": False}}}
    assert events[1]["timestamp"].timestamp() == 1.5


def test_the_event_quota_is_enforced_on_records() -> None:
    history = History(limit=3)
    for n in range(3):
        history.add("PassStateEntered", n, 0.0, "stateEnteredEventDetails", ("P", snapshot({})))
    try:
        history.add("PassStateExited", 3, 0.0, "stateExitedEventDetails", ("P", snapshot({})))
    except HistoryLimitExceeded:
        pass
    else:
        raise AssertionError("the 4th event passed a quota of 3")
    assert len(history.events) == 3 and MAX_EVENTS == 25_000


def test_a_run_history_matches_its_shape_and_a_redrive_appends_to_the_same_list() -> None:
    calls = []

    def flaky(event: Any) -> Any:
        calls.append(event)
        if len(calls) == 1:
            raise ValueError("first time")
        return {"ok": True}

    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "T"},
        "T": {"Type": "Task", "Resource": LAMBDA + "flaky", "End": True}}}
    ex = emulator.run(definition, {"n": 1}, resources={"flaky": flaky})
    assert ex.status == "FAILED" and ex.error == "ValueError"
    held = ex.history
    assert [e["id"] for e in held] == list(range(1, len(held) + 1))
    exited = held[2]
    assert exited["type"] == "PassStateExited"
    assert exited["stateExitedEventDetails"] == {"name": "A", "output": '{"n":1}', "outputDetails": {"truncated": False},
                                                 "assignedVariables": {"x": "1"},
                                                 "assignedVariablesDetails": {"truncated": False}}
    assert ex.redrive().status == "SUCCEEDED"
    assert ex.history is held and held[-1]["type"] == "ExecutionSucceeded"
    assert json.loads(held[-1]["executionSucceededEventDetails"]["output"]) == {"ok": True}


def test_the_environment_is_the_users_again_when_run_returns(tmp_path: Path) -> None:
    seen = []

    def handler(event: Any) -> Any:
        seen.append((os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_PROFILE")))
        return event

    os.environ["AWS_PROFILE"] = "mine"
    try:
        definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "End": True, "ItemProcessor": {
            "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA + "h", "End": True}}}}}}
        ex = emulator.run(definition, [1, 2, 3], resources={"h": handler}, workspace=str(tmp_path / "ws"))
        assert ex.status == "SUCCEEDED"
        assert len(seen) == 3 and all(url and url.startswith("http://127.0.0.1:") and profile is None
                                      for url, profile in seen)
        assert os.environ.get("AWS_PROFILE") == "mine" and "AWS_ENDPOINT_URL" not in os.environ
    finally:
        del os.environ["AWS_PROFILE"]


def test_a_handler_error_cause_is_lambdas_document_with_the_users_frames() -> None:
    def inner(event: Any) -> Any:
        raise KeyError("missing")

    def handler(event: Any) -> Any:
        return inner(event)

    try:
        call(handler, {}, TaskContext(execution_arn="arn", state_name="T"))
    except HandlerError as err:
        assert err.error == "KeyError"
        document = json.loads(err.cause)
        assert document["errorType"] == "KeyError" and document["errorMessage"] == "'missing'"
        assert len(document["stackTrace"]) == 2 and "raise KeyError" in document["stackTrace"][-1]
        assert all("emulator/" not in frame for frame in document["stackTrace"])
        assert str(err) == f"KeyError: {err.cause}"
    else:
        raise AssertionError("the handler's error was not raised")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec="utf-8")),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=6),
    max_leaves=40)


@given(json_values)
def test_the_cheap_size_bound_never_undercounts_the_text(value: Any) -> None:
    # check_snapshot trusts 6 x marshal's length as an upper bound of the JSON text's UTF-8 bytes, and the
    # history's text is made from the snapshot: it must be the value's own.
    snap = snapshot(value)
    assert 6 * len(snap) >= len(to_json(value).encode("utf-8"))
    assert snapshot_text(snap) == to_json(value)


@pytest.mark.parametrize("filler", ["a", "\u0001", "é", "\U0001F600"])
def test_the_payload_limit_holds_to_the_byte_for_outputs_whose_text_is_made_later(filler: str) -> None:
    # A Pass output of exactly 256 KiB of text passes; one byte more is States.DataLimitExceeded.
    def output_of(size: int) -> dict[str, Any]:
        unit = len(to_json(filler)) - 2 if filler.isascii() else len(filler.encode("utf-8"))
        text = filler * ((size - len('{"s":""}')) // unit)
        value = {"s": text + "a" * (size - len(to_json({"s": text}).encode("utf-8")))}
        assert len(to_json(value).encode("utf-8")) == size
        return value

    for size, status in ((MAX_PAYLOAD_BYTES, "SUCCEEDED"), (MAX_PAYLOAD_BYTES + 1, "FAILED")):
        definition = {"StartAt": "Big", "States": {"Big": {"Type": "Pass", "Result": output_of(size), "End": True}}}
        ex = emulator.run(definition, {})
        assert ex.status == status, (filler, size, ex.error)
        if status == "FAILED":
            assert ex.error == "States.DataLimitExceeded" and "'Big'" in ex.cause


def test_a_handler_changing_its_result_afterwards_does_not_change_the_history() -> None:
    kept: dict[str, Any] = {"n": 1}

    def handler(event: Any) -> Any:
        return kept

    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA + "h", "Next": "P"},
                                             "P": {"Type": "Pass", "End": True}}}
    ex = emulator.run(definition, {}, resources={"h": handler})
    kept["n"] = 2  # after the run, before anyone read the history
    exits = [e["stateExitedEventDetails"]["output"] for e in ex.history if e["type"].endswith("StateExited")]
    assert exits == ['{"n":1}', '{"n":1}'] and ex.output == {"n": 1}


def test_events_read_while_the_run_adds_them_are_all_kept_in_order() -> None:
    # One thread adds without a lock; a reader building events at the same time takes records from the
    # front of the list, so an event appended meanwhile is never lost.
    states = {f"P{i}": {"Type": "Pass", "Result": {"i": i}, "ResultPath": "$.last", "Next": f"P{i + 1}"}
              for i in range(3000)}
    states["P3000"] = {"Type": "Succeed"}
    machine = emulator.StateMachine({"StartAt": "P0", "States": states})
    ex = machine.start({})
    seen = 0
    while ex.status == "RUNNING":
        seen = max(seen, len(ex.history))
    ex.wait()
    ids = [e["id"] for e in ex.history]
    assert ex.status == "SUCCEEDED" and ids == list(range(1, 6005)) and seen <= len(ids)
    assert [e["previousEventId"] for e in ex.history][2:] == ids[1:-1]  # the first state's follows 0, as on AWS


def test_branches_on_threads_number_their_events_once_each() -> None:
    def slow(event: Any) -> Any:
        return event

    def branch(n: int) -> dict[str, Any]:
        return {"StartAt": f"T{n}", "States": {f"T{n}": {"Type": "Task", "Resource": LAMBDA + "slow", "Next": f"P{n}"},
                                                f"P{n}": {"Type": "Pass", "End": True}}}

    definition = {"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "Branches": [branch(n) for n in range(8)],
                                                       "End": True}}}
    ex = emulator.run(definition, {"x": 1}, resources={"slow": slow})
    ids = [e["id"] for e in ex.history]
    assert ex.status == "SUCCEEDED" and ids == list(range(1, len(ids) + 1))
    assert sum(e["type"] == "LambdaFunctionSucceeded" for e in ex.history) == 8


def test_a_finished_execution_leaves_no_reference_cycle() -> None:
    # Its records go when the Execution goes (reference counting), not at the cyclic collector's next
    # pass: passes over thousands of records of dead histories would slow every later run down.
    import gc

    definition = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {
        "StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"id.$": "$.id"}, "End": True}}},
        "End": True}}}
    machine = emulator.StateMachine(definition)
    machine.run({"items": [{"id": 1}]})
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        ex = machine.run({"items": [{"id": i} for i in range(50)]})
        assert ex.status == "SUCCEEDED" and len(ex.history) > 100
        del ex
        gc.collect()
        assert gc.garbage == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
