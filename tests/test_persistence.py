"""Persistence of the endpoint's executions: events committed as they happen, executions resumed after
a kill -9 of `sfn-local serve` with a history equal to an uninterrupted run's, many executions at once,
and RedriveExecution over boto3."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from emulator.engine.execution import Execution, StateMachine
from emulator.engine.redrive import prepare_resume
from emulator.errors import StatesError

REPO = Path(__file__).resolve().parents[1]
ROLE = "arn:aws:iam::123456789012:role/sfn-local"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"

HANDLERS = '''
import time
from pathlib import Path


def slow(event):
    """Blocks until the file named in the input exists: a Task still running when the server is killed."""
    deadline = time.monotonic() + 60
    while not Path(event["release"]).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"slow": event["n"]}


def fast(event):
    return {"fast": event * 10}


class NotYet(Exception):
    pass


def flaky(event):
    if not Path(event["fixed"]).exists():
        raise NotYet("the fix is not in yet")
    return {"fixed": True}
'''


class Server:
    """`sfn-local serve` in a subprocess, with this test's handlers, that the test can kill -9."""

    def __init__(self, project: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(project)])}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "emulator.server", "--port", "0", "--workspace", str(project / "ws"), *args],
            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("sfn-local serving on http://127.0.0.1:"), line + self.proc.stderr.read()
        self.url = line.split()[3]

    def client(self) -> Any:
        return boto3.client("stepfunctions", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="x",
                            aws_secret_access_key="x",
                            config=Config(retries={"max_attempts": 1}, max_pool_connections=50))

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.close()

    def close(self) -> None:
        self.proc.wait(20)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "persist_handlers.py").write_text(HANDLERS)
    (tmp_path / "sfn-local.toml").write_text('[lambdas]\nslow = "persist_handlers:slow"\n'
                                             'fast = "persist_handlers:fast"\nflaky = "persist_handlers:flaky"\n')
    return tmp_path


def finished(sfn: Any, arn: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        out = sfn.describe_execution(executionArn=arn)
        if out["status"] != "RUNNING":
            return out
        assert time.monotonic() < deadline, f"{arn} still RUNNING"
        time.sleep(0.05)


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if "nextToken" not in page:
            return events
        kwargs["nextToken"] = page["nextToken"]


def until_event(sfn: Any, arn: str, event_type: str, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        events = history(sfn, arn)
        if events and events[-1]["type"] == event_type:
            return events
        assert time.monotonic() < deadline, f"no {event_type} at the end of {[e['type'] for e in events]}"
        time.sleep(0.02)


def comparable(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Events without their timestamps: id, previous id, type and details."""
    return [(e["id"], e["previousEventId"], e["type"],
             {k: v for k, v in e.items() if k.endswith("EventDetails")}) for e in events]


# A Map of Tasks (one at a time), a Task blocked until released, a Wait: a kill can land in any of them.
KILLABLE = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Assign": {"batch": "b-1"}, "Next": "Each"},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ResultPath": "$.fast",
                 "ItemProcessor": {"StartAt": "Fast", "States": {
                     "Fast": {"Type": "Task", "Resource": LAMBDA + "fast", "End": True}}},
                 "Next": "Slow"},
        "Slow": {"Type": "Task", "Resource": LAMBDA + "slow", "ResultPath": "$.slow", "Next": "Pause"},
        "Pause": {"Type": "Wait", "Seconds": 2, "Next": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"batch.$": "$batch", "fast.$": "$.fast", "slow.$": "$.slow"},
                 "End": True},
    },
}


def test_kill_9_mid_task_and_mid_wait_resumes_to_the_same_history(project: Path) -> None:
    release = project / "release"
    data = json.dumps({"items": [1, 2, 3], "release": str(release), "n": 7})
    first = Server(project, "--real-time")
    try:
        sfn = first.client()
        machine = sfn.create_state_machine(name="Killable", definition=json.dumps(KILLABLE),
                                           roleArn=ROLE)["stateMachineArn"]
        cut = sfn.start_execution(stateMachineArn=machine, name="cut", input=data)["executionArn"]
        seen = until_event(sfn, cut, "LambdaFunctionStarted")  # the slow Task is in flight
    finally:
        first.kill()
    release.touch()
    second = Server(project, "--real-time")
    try:
        sfn = second.client()
        # Nothing a client saw was lost; the in-flight Task runs again, then the Wait starts.
        during = until_event(sfn, cut, "WaitStateEntered")
        assert comparable(during[:len(seen)]) == comparable(seen)
    finally:
        second.kill()
    time.sleep(1)  # the restart takes a while: a Wait waited again from the start is told apart below
    third = Server(project, "--real-time")
    ready = time.time()
    try:
        sfn = third.client()
        out = finished(sfn, cut)
        assert out["status"] == "SUCCEEDED", out
        assert json.loads(out["output"]) == {"batch": "b-1", "fast": [{"fast": 10}, {"fast": 20}, {"fast": 30}],
                                             "slow": {"slow": 7}}
        resumed = history(sfn, cut)
        # The Wait was not waited again from the start: only what was left of its 2 seconds.
        entered = next(e for e in resumed if e["type"] == "WaitStateEntered")["timestamp"]
        exited = next(e for e in resumed if e["type"] == "WaitStateExited")["timestamp"]
        assert (exited - entered).total_seconds() >= 2
        # It ends 2 s after it was entered, or at once on a restart that took longer; a Wait started again
        # would end 2 s after the restart (over a second after the Wait was entered).
        assert exited.timestamp() < max(entered.timestamp() + 2, ready) + 0.75
        whole = sfn.start_execution(stateMachineArn=machine, name="whole", input=data)["executionArn"]
        assert finished(sfn, whole)["status"] == "SUCCEEDED"
        assert comparable(resumed) == comparable(history(sfn, whole))
        assert [e["id"] for e in resumed] == list(range(1, len(resumed) + 1))
        listed = sfn.list_executions(stateMachineArn=machine)["executions"]
        assert {(e["name"], e["status"]) for e in listed} == {("cut", "SUCCEEDED"), ("whole", "SUCCEEDED")}
    finally:
        third.stop()


def test_redrive_execution_over_boto3(project: Path) -> None:
    fixed = project / "fixed"
    definition = {"StartAt": "Before", "States": {
        "Before": {"Type": "Pass", "Result": {"fixed": str(fixed)}, "Next": "Fix"},
        "Fix": {"Type": "Task", "Resource": LAMBDA + "flaky", "End": True}}}
    server = Server(project)
    try:
        sfn = server.client()
        machine = sfn.create_state_machine(name="Redrivable", definition=json.dumps(definition),
                                           roleArn=ROLE)["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, name="r1")["executionArn"]
        failed = finished(sfn, arn)
        assert (failed["status"], failed["error"], failed["redriveCount"]) == ("FAILED", "NotYet", 0)
        assert failed["redriveStatus"] == "REDRIVABLE"
        before = history(sfn, arn)
        fixed.touch()
        assert sfn.redrive_execution(executionArn=arn)["redriveDate"]
        out = finished(sfn, arn)
        assert (out["status"], out["redriveCount"], json.loads(out["output"])) == ("SUCCEEDED", 1, {"fixed": True})
        assert out["redriveDate"] and out["redriveStatus"] == "NOT_REDRIVABLE"
        events = history(sfn, arn)
        assert comparable(events[:len(before)]) == comparable(before)
        redriven = events[len(before)]
        assert redriven["type"] == "ExecutionRedriven"
        assert redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}
        # Only the state that failed ran again, from the input it had.
        assert [e["type"] for e in events[len(before) + 1:]] == [
            "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded",
            "TaskStateExited", "ExecutionSucceeded"]
        with pytest.raises(sfn.exceptions.ExecutionNotRedrivable):
            sfn.redrive_execution(executionArn=arn)
        with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
            sfn.redrive_execution(executionArn=arn + "-nope")
        listed = sfn.list_executions(stateMachineArn=machine)["executions"]
        assert [(e["name"], e["redriveCount"]) for e in listed] == [("r1", 1)]
    finally:
        server.stop()


# A Map of 20 and a Wait, started 200 times at once.
MAP_AND_WAIT = {
    "StartAt": "Each",
    "States": {
        "Each": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "Double", "States": {
            "Double": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($, $)"}, "End": True}}},
            "Next": "Pause"},
        "Pause": {"Type": "Wait", "Seconds": 30, "End": True},
    },
}


def test_200_concurrent_executions_complete_with_full_histories(project: Path) -> None:
    server = Server(project)
    try:
        sfn = server.client()
        machine = sfn.create_state_machine(name="Many", definition=json.dumps(MAP_AND_WAIT),
                                           roleArn=ROLE)["stateMachineArn"]

        def start(i: int) -> str:
            return sfn.start_execution(stateMachineArn=machine, name=f"e{i}",
                                       input=json.dumps({"items": list(range(i, i + 20))}))["executionArn"]

        with ThreadPoolExecutor(40) as pool:
            arns = list(pool.map(start, range(200)))
            outs = list(pool.map(lambda arn: finished(sfn, arn, 50), arns))
            histories = list(pool.map(lambda arn: history(sfn, arn), arns))
        for i, (out, events) in enumerate(zip(outs, histories, strict=True)):
            assert out["status"] == "SUCCEEDED", out
            assert json.loads(out["output"]) == [{"v": 2 * v} for v in range(i, i + 20)]
            types = [e["type"] for e in events]
            assert types[:3] == ["ExecutionStarted", "MapStateEntered", "MapStateStarted"]
            assert types.count("MapIterationStarted") == types.count("MapIterationSucceeded") == 20
            assert types.count("PassStateExited") == 20
            assert types[-5:] == ["MapStateSucceeded", "MapStateExited", "WaitStateEntered", "WaitStateExited",
                                  "ExecutionSucceeded"]
            assert [e["id"] for e in events] == list(range(1, len(events) + 1))
            assert len(events) == 3 + 20 * 4 + 2 + 3
    finally:
        server.stop()


# -- the replay itself, at every point a run could be cut ----------------------------------------

RESUMABLE = {
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Pass", "Assign": {"n": 1}, "Next": "Each"},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ResultPath": "$.doubled",
                 "ItemProcessor": {"StartAt": "Double", "States": {
                     "Double": {"Type": "Task", "Resource": LAMBDA + "double",
                                "Parameters": {"x.$": "$.x", "flaky.$": "$.flaky", "retry.$": "$$.State.RetryCount"},
                                "Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                                "Next": "Rest"},
                     "Rest": {"Type": "Wait", "Seconds": 5, "End": True}}},
                 "Next": "Both"},
        "Both": {"Type": "Parallel", "ResultPath": "$.both", "Next": "Check", "Branches": [
            {"StartAt": "One", "States": {"One": {"Type": "Pass", "Result": 1, "End": True}}},
            {"StartAt": "Two", "States": {"Two": {"Type": "Task", "Resource": LAMBDA + "double",
                                                  "Parameters": {"x.$": "$.doubled[0].x", "flaky": False,
                                                                 "retry": 0},
                                                  "End": True}}}]},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.both[1].x", "NumericEquals": 4, "Next": "Done"}],
                  "Default": "Wrong"},
        "Wrong": {"Type": "Fail", "Error": "Wrong"},
        "Done": {"Type": "Pass", "Parameters": {"n.$": "$n", "id.$": "States.UUID()"}, "End": True},
    },
}


def test_resume_from_every_point_gives_the_uninterrupted_history() -> None:
    calls: list[dict[str, Any]] = []

    def double(event: dict[str, Any]) -> dict[str, Any]:
        calls.append(event)
        if event["flaky"] and event["retry"] == 0:
            raise StatesError("Flaky", "first attempt")
        return {"x": event["x"] * 2}

    machine = StateMachine(RESUMABLE, name="Resumable", resources={"double": double})
    data = {"items": [{"x": 1, "flaky": False}, {"x": 2, "flaky": True}, {"x": 3, "flaky": False}]}
    whole = machine.run(data, name="e", seed=11)
    assert whole.status == "SUCCEEDED", whole.cause
    expected, all_calls = comparable(whole.history), len(calls)
    for cut in range(1, len(whole.history)):
        calls.clear()
        resumed = Execution("e", whole.arn, machine.arn, copy.deepcopy(data))
        resumed.history = copy.deepcopy(whole.history[:cut])
        prepare_resume(resumed, machine, list(whole.history_paths[:cut]), seed=11)()
        assert resumed.status == "SUCCEEDED", (cut, resumed.cause)
        assert comparable(resumed.history) == expected, cut
        assert resumed.output == whole.output  # the seed's UUID, the variables, the Map and Parallel results
        # Tasks whose outcome was recorded are not called again.
        finished_tasks = sum(1 for e in whole.history[:cut] if e["type"] in ("LambdaFunctionSucceeded",
                                                                              "LambdaFunctionFailed"))
        assert len(calls) == all_calls - finished_tasks, cut
