"""Redrive (RedriveExecution): re-run a FAILED, TIMED_OUT or ABORTED execution from where it stopped."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

import emulator
from emulator import StatesError
from emulator.engine.redrive import ExecutionNotRedrivable

LOAD_ARN = "arn:aws:lambda:us-east-1:123456789012:function:load"
ITEM_ARN = "arn:aws:lambda:us-east-1:123456789012:function:item"


def test_a_failed_task_succeeds_after_its_handler_is_fixed_with_its_input_and_variables() -> None:
    definition = {"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Result": {"n": 2}, "Assign": {"factor": 10}, "Next": "Load"},
        "Load": {"Type": "Task", "Resource": LOAD_ARN, "Parameters": {"n.$": "$.n", "factor.$": "$factor",
                                                                      "redrives.$": "$$.Execution.RedriveCount"},
                 "End": True}}}

    def broken(event: dict[str, Any]) -> Any:
        raise StatesError("Load.Unavailable", "the database is down")

    def fixed(event: dict[str, Any]) -> Any:
        return {"total": event["n"] * event["factor"], "redrives": event["redrives"]}

    ex = emulator.run(definition, {}, resources={"load": broken}, name="nightly")
    assert ex.status == "FAILED" and ex.error == "Load.Unavailable"
    failed_events = len(ex.history)
    arn = ex.arn
    ex.redrive(resources={"load": fixed})
    assert ex.status == "SUCCEEDED" and ex.output == {"total": 20, "redrives": 1}
    assert ex.output == emulator.run(definition, {}, resources={"load": fixed}).output | {"redrives": 1}
    assert (ex.arn, ex.name, ex.redrive_count) == (arn, "nightly", 1)
    redriven = ex.history[failed_events]
    assert redriven["type"] == "ExecutionRedriven" and redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}
    # Prepare succeeded and is not run again: only Load is entered after the redrive.
    again = [e["stateEnteredEventDetails"]["name"] for e in ex.history[failed_events:]
             if e["type"].endswith("StateEntered")]
    assert again == ["Load"]
    assert [e["id"] for e in ex.history] == list(range(1, len(ex.history) + 1))


def test_a_map_redrives_only_its_failed_iterations() -> None:
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": True,
        "ToleratedFailureCount": 2,  # the third failure (item 99, the last to run) fails the Map
        "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Task", "Resource": ITEM_ARN, "End": True}}}}}}
    bad = {7, 42, 99}
    calls: list[int] = []
    lock = threading.Lock()

    def handler(broken: bool) -> Any:
        def item(event: dict[str, Any]) -> Any:
            with lock:
                calls.append(event["i"])
            if broken and event["i"] in bad:
                raise StatesError("Item.Bad", f"item {event['i']}")
            return {"i": event["i"], "square": event["i"] ** 2}
        return item

    items = {"items": [{"i": i} for i in range(100)]}
    ex = emulator.run(definition, items, resources={"item": handler(True)})
    assert ex.status == "FAILED" and ex.error == "States.ExceedToleratedFailureThreshold"
    first_calls = len(calls)
    calls.clear()
    ex.redrive(resources={"item": handler(False)})
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert sorted(calls) == sorted(bad)
    assert ex.output == emulator.run(definition, items, resources={"item": handler(False)}).output
    assert first_calls == 100


def test_a_timed_out_execution_is_redriven() -> None:
    # The retries' back-off (10 s, 20 s, 40 s) outlasts the execution's 60 s: it ends TIMED_OUT.
    definition = {"StartAt": "Flaky", "TimeoutSeconds": 60, "States": {
        "Flaky": {"Type": "Task", "Resource": LOAD_ARN, "End": True,
                  "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10, "MaxAttempts": 5}]}}}

    def down(event: Any) -> Any:
        raise StatesError("Load.Unavailable", "still down")

    ex = emulator.run(definition, {"n": 1}, resources={"load": down})
    assert ex.status == "TIMED_OUT"
    ex.redrive(resources={"load": lambda event: {"loaded": event["n"]}})
    assert ex.status == "SUCCEEDED" and ex.output == {"loaded": 1} and ex.redrive_count == 1


def test_redriving_a_succeeded_execution_is_refused() -> None:
    ex = emulator.run({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}, {"a": 1})
    with pytest.raises(ExecutionNotRedrivable) as raised:
        ex.redrive()
    assert raised.value.code == "ExecutionNotRedrivable" and "SUCCEEDED" in raised.value.message
    assert ex.status == "SUCCEEDED" and json.dumps(ex.output) == '{"a": 1}'


def test_the_redrive_command_reruns_a_saved_execution_with_fixed_handlers(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    definition = {"StartAt": "Load", "States": {"Load": {"Type": "Task", "Resource": LOAD_ARN, "End": True}}}
    (tmp_path / "m.json").write_text(json.dumps(definition))
    (tmp_path / "broken.py").write_text("def load(event):\n    raise RuntimeError('down')\n")
    (tmp_path / "fixed.py").write_text("def load(event):\n    return {'loaded': event['n']}\n")
    env = {**os.environ, "PYTHONPATH": str(root), "SFN_LOCAL_WORKSPACE": str(tmp_path / "ws")}

    def sfn(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from emulator.cli import main; main()", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=60)

    assert sfn("run", "m.json", "--name", "job", "--input", '{"n": 3}', "--handler", "load=broken:load").returncode == 1
    redriven = sfn("redrive", "job", "--handler", "load=fixed:load", "--json")
    assert redriven.returncode == 0, redriven.stdout + redriven.stderr
    out = json.loads(redriven.stdout)
    assert out["status"] == "SUCCEEDED" and out["output"] == {"loaded": 3} and out["redriveCount"] == 1
    assert out["executionArn"].endswith(":execution:m:job")
    import sqlite3

    db = sqlite3.connect(tmp_path / "ws" / "stepfunctions" / "store.sqlite3")
    saved = json.loads(db.execute("SELECT doc FROM records WHERE kind = 'execution' AND name = 'job'").fetchone()[0])
    events = [json.loads(row[0]) for row in db.execute("SELECT doc FROM events WHERE execution = ? ORDER BY id",
                                                        (saved["executionArn"],))]
    db.close()
    assert saved["status"] == "SUCCEEDED" and saved["redriveCount"] == 1
    assert [e["type"] for e in events].count("ExecutionRedriven") == 1
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    again = sfn("redrive", "job")
    assert again.returncode == 1 and "ExecutionNotRedrivable" in again.stderr
