"""`sfn-local run` records its executions in the workspace's SQLite store, the one `serve` keeps: as they
run (a killed run leaves its events so far), one name per state machine whoever took it, and `executions`,
`history` and `redrive` read that one store for the CLI's runs and the server's alike."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from emulator.server.serve import start_in_thread
from emulator.server.stepfunctions import StepFunctions
from emulator.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
ROLE = "arn:aws:iam::123456789012:role/sfn-local"
MACHINE = {"StartAt": "Make", "States": {
    "Make": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Next": "Check"},
    "Check": {"Type": "Choice", "Default": "Broken", "Choices": [{"Variable": "$.n", "NumericEquals": 1,
                                                                  "Next": "Done"}]},
    "Done": {"Type": "Succeed"},
    "Broken": {"Type": "Fail", "Error": "Data.Invalid", "Cause": "n is not 1"}}}
# A Task blocked until the file named in the input exists: a run still going when the test kills it.
HANDLERS = '''
import time
from pathlib import Path


def wait(event):
    deadline = time.monotonic() + 60
    while not Path(event["release"]).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"waited": event["n"]}


def broken(event):
    raise RuntimeError("still broken")
'''
BLOCKING = {"StartAt": "First", "States": {
    "First": {"Type": "Pass", "Result": "one", "ResultPath": "$.first", "Next": "Block"},
    "Block": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:wait",
              "ResultPath": "$.block", "End": True}}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "m.json").write_text(json.dumps(MACHINE))
    (tmp_path / "blocking.json").write_text(json.dumps(BLOCKING))
    (tmp_path / "store_handlers.py").write_text(HANDLERS)
    return tmp_path


def env(project: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(project)]),
            "SFN_LOCAL_WORKSPACE": str(project / "ws")}


def sfn(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from emulator.cli import main; main()", *args], cwd=project,
                          env=env(project), capture_output=True, text=True, timeout=120)


def query(project: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(project / "ws" / "stepfunctions" / "store.sqlite3")) as db:
        return db.execute(sql, params).fetchall()


def execution(project: Path, name: str) -> dict[str, Any]:
    rows = query(project, "SELECT doc FROM records WHERE kind = 'execution' AND name = ?", name)
    assert len(rows) == 1, rows
    return json.loads(rows[0][0])


def event_types(project: Path, arn: str) -> list[str]:
    return [json.loads(doc)["type"] for (doc,) in query(project, "SELECT doc FROM events WHERE execution = ? "
                                                                  "ORDER BY id", arn)]


def client(url: str) -> Any:
    return boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))


def test_run_records_machine_execution_and_events_the_server_serves(project: Path) -> None:
    assert sfn(project, "run", "m.json", "--name", "good", "--input", '{"n": 1}').returncode == 0
    assert sfn(project, "run", "m.json", "--name", "bad", "--input", '{"n": 2}').returncode == 1
    good = execution(project, "good")
    assert (good["status"], json.loads(good["output"]), good["_origin"]) == ("SUCCEEDED", {"n": 1}, "cli")
    assert json.loads(good["_machine"]["definition"]) == MACHINE
    assert event_types(project, good["executionArn"]) == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "ChoiceStateEntered", "ChoiceStateExited",
        "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"]
    url, stop = start_in_thread(Workspace(project / "ws"))
    try:
        api = client(url)
        machine = "arn:aws:states:us-east-1:123456789012:stateMachine:m"
        assert json.loads(api.describe_state_machine(stateMachineArn=machine)["definition"]) == MACHINE
        listed = api.list_executions(stateMachineArn=machine)["executions"]
        assert [(e["name"], e["status"]) for e in listed] == [("bad", "FAILED"), ("good", "SUCCEEDED")]
        bad = api.describe_execution(executionArn=listed[0]["executionArn"])
        assert (bad["error"], bad["cause"], bad["redriveStatus"]) == ("Data.Invalid", "n is not 1", "REDRIVABLE")
        history = api.get_execution_history(executionArn=good["executionArn"])["events"]
        assert [e["type"] for e in history] == event_types(project, good["executionArn"])
        # The server's name rule is the CLI's: one execution per name and machine, whoever took it.
        with pytest.raises(api.exceptions.ExecutionAlreadyExists):
            api.start_execution(stateMachineArn=machine, name="good", input='{"n": 1}')
        served = api.start_execution(stateMachineArn=machine, name="served", input='{"n": 1}')["executionArn"]
        while api.describe_execution(executionArn=served)["status"] == "RUNNING":
            time.sleep(0.01)
    finally:
        stop()
    taken = sfn(project, "run", "m.json", "--name", "served", "--input", '{"n": 1}')
    assert taken.returncode == 2 and f"ExecutionAlreadyExists: Execution Already Exists: '{served}'" in taken.stderr
    rows = {r["name"]: r for r in json.loads(sfn(project, "executions", "--json").stdout)}
    assert {n: (r["status"], r["source"], r["failingState"]) for n, r in rows.items()} == {
        "good": ("SUCCEEDED", "cli", None), "bad": ("FAILED", "cli", "Broken"), "served": ("SUCCEEDED", "server", None)}
    shown = sfn(project, "history", served)  # by ARN
    assert shown.returncode == 0 and shown.stdout.startswith(f"SUCCEEDED  served  {served}")
    assert "ExecutionSucceeded" in shown.stdout


def test_a_name_two_machines_use_is_asked_for_by_arn(project: Path) -> None:
    (project / "other.json").write_text(json.dumps(MACHINE))
    assert sfn(project, "run", "m.json", "--name", "same", "--input", '{"n": 1}').returncode == 0
    assert sfn(project, "run", "other.json", "--name", "same", "--input", '{"n": 2}').returncode == 1
    ambiguous = sfn(project, "history", "same")
    assert ambiguous.returncode == 2
    assert "execution name 'same' is used by several state machines (m, other): give its ARN" in ambiguous.stderr
    one = sfn(project, "history", "arn:aws:states:us-east-1:123456789012:execution:other:same")
    assert one.returncode == 0 and one.stdout.startswith("FAILED  same")


def test_a_killed_run_leaves_its_events_then_ends_aborted_and_redrives(project: Path) -> None:
    release = project / "release"
    run = subprocess.Popen([sys.executable, "-c", "from emulator.cli import main; main()", "run", "blocking.json",
                            "--name", "cut", "--input", json.dumps({"release": str(release), "n": 5}),
                            "--handler", "wait=store_handlers:wait"],
                           cwd=project, env=env(project), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:  # the events are committed while it runs, not at its end
            with contextlib.suppress(sqlite3.Error, AssertionError):
                arn = execution(project, "cut")["executionArn"]
                if "LambdaFunctionStarted" in event_types(project, arn):
                    break
            assert time.monotonic() < deadline and run.poll() is None, "the run's events were not recorded"
            time.sleep(0.02)
        # The server does not take over a run whose process still runs it.
        front = StepFunctions(Workspace(project / "ws"))
        try:
            assert front.call("DescribeExecution", {"executionArn": arn})["status"] == "RUNNING"
            assert front.recorder.live(arn) is None
        finally:
            front.store.close()
        assert sfn(project, "executions", "--json").stdout.count('"RUNNING"') == 1
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(20)
    types = event_types(project, arn)
    assert types[:5] == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "TaskStateEntered",
                         "LambdaFunctionScheduled"] and types[-1] == "LambdaFunctionStarted"
    listed = json.loads(sfn(project, "executions", "--json").stdout)
    assert [(r["name"], r["status"], r["failingState"]) for r in listed] == [("cut", "ABORTED", "Block")]
    aborted = execution(project, "cut")
    assert aborted["error"] == "States.Runtime" and f"pid {run.pid}" in aborted["cause"]
    assert event_types(project, arn) == [*types, "ExecutionAborted"]
    failing = sfn(project, "redrive", "cut", "--handler", "wait=store_handlers:broken")
    assert failing.returncode == 1 and "still broken" in failing.stdout
    release.touch()
    redriven = sfn(project, "redrive", arn, "--handler", "wait=store_handlers:wait", "--json")
    assert redriven.returncode == 0, redriven.stderr
    out = json.loads(redriven.stdout)
    assert (out["status"], out["output"], out["redriveCount"]) == (
        "SUCCEEDED", {"release": str(release), "n": 5, "first": "one", "block": {"waited": 5}}, 2)
    final = event_types(project, arn)
    assert final.count("ExecutionRedriven") == 2 and final[-1] == "ExecutionSucceeded"
    assert final.count("PassStateEntered") == 1  # the state that had succeeded did not run again
    assert [json.loads(d)["id"] for (d,) in query(project, "SELECT doc FROM events WHERE execution = ? ORDER BY id",
                                                  arn)] == list(range(1, len(final) + 1))
    again = sfn(project, "redrive", "cut")
    assert again.returncode == 1 and "ExecutionNotRedrivable" in again.stderr

