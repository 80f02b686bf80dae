"""The compact history (built when read), the handlers' AWS environment kept between calls and given
back when the run ends, and a handler error's cause written on first read."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import emulator
from emulator.engine.history import MAX_EVENTS, History, HistoryLimitExceeded
from emulator.integrations.python import HandlerError, call
from emulator.integrations.registry import TaskContext

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def test_events_are_built_on_read_and_readers_holding_the_list_see_later_ones() -> None:
    history = History()
    held = history.events
    history.add("ExecutionStarted", 0, 0.0, "executionStartedEventDetails", {"input": "{}"})
    first = history.add("PassStateEntered", 1, 1.5, "stateEnteredEventDetails", ("P", '{"a":1}'))
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
        history.add("PassStateEntered", n, 0.0, "stateEnteredEventDetails", ("P", "{}"))
    try:
        history.add("PassStateExited", 3, 0.0, "stateExitedEventDetails", ("P", "{}"))
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
