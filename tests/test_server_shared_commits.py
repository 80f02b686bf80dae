"""StartExecution of short executions on the event loop, their claims committed together: every answer is
durable when it is sent, AWS's name rules hold however the starts interleave, histories stay exact."""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from emulator import StateMachine, Workspace
from emulator.store import EXECUTION, Store

ROLE = "arn:aws:iam::123456789012:role/test"
THREE_STATES = {"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.a", "Next": "B"},
    "B": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a.n, 1)"}, "ResultPath": "$.b", "Next": "C"},
    "C": {"Type": "Succeed"},
}}


def _machine(url: str) -> str:
    sfn = boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x", config=Config(retries={"max_attempts": 0}))
    return sfn.create_state_machine(name=f"m-{uuid.uuid4().hex[:8]}", definition=json.dumps(THREE_STATES),
                                    roleArn=ROLE)["stateMachineArn"]


def _all_at_once(url: str, bodies: list[dict[str, Any]], check: Any = None) -> list[tuple[int, dict[str, Any]]]:
    """StartExecution with each body, each on its own connection, sent together (a barrier); `check(status,
    answer)` runs in the caller's thread as soon as the answer arrives. Returns (status, answer) by body."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    barrier = threading.Barrier(len(bodies))
    answers: list[Any] = [None] * len(bodies)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            connection.connect()
            barrier.wait()
            connection.request("POST", "/", json.dumps(bodies[i]), {
                "X-Amz-Target": "AWSStepFunctions.StartExecution", "Content-Type": "application/x-amz-json-1.0"})
            response = connection.getresponse()
            answers[i] = (response.status, json.loads(response.read()))
            connection.close()
            if check is not None:
                check(*answers[i])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return answers


def test_every_start_answered_is_committed_with_its_whole_history(served: tuple[str, Path]) -> None:
    url, root = served
    arn = _machine(url)
    other = Store(Workspace(root))  # another process's view of the store
    lock = threading.Lock()
    seen: dict[str, tuple[str, list[str]]] = {}

    def committed(status: int, answer: dict[str, Any]) -> None:
        assert status == 200, answer
        with lock:  # read the moment the answer arrives, before any other call
            doc = other.get(EXECUTION, answer["executionArn"])
            events, _ = other.recorded(answer["executionArn"])
        assert doc is not None
        seen[answer["executionArn"]] = (doc["status"], [e["type"] for e in events])

    bodies = [{"stateMachineArn": arn, "name": f"e{i}", "input": json.dumps({"i": i})} for i in range(24)]
    answers = _all_at_once(url, bodies, committed)
    expected = [e["type"] for e in StateMachine(THREE_STATES, role_arn=ROLE).start({"i": 0}).wait(10).history]
    assert len(seen) == 24 and {a["executionArn"] for _, a in answers} == set(seen)
    assert all(status == "SUCCEEDED" and types == expected for status, types in seen.values())
    for (_, answer), body in zip(answers, bodies, strict=True):  # each its own input, in its own history
        events, _ = other.recorded(answer["executionArn"])
        assert json.loads(events[0]["executionStartedEventDetails"]["input"]) == json.loads(body["input"])
        assert json.loads(events[-1]["executionSucceededEventDetails"]["output"])["b"] == {"sum": 2}
    other.close()


def test_one_name_started_many_times_at_once_is_one_execution(served: tuple[str, Path]) -> None:
    url, root = served
    arn = _machine(url)
    same = [{"stateMachineArn": arn, "name": "once", "input": '{"k": 1}'} for _ in range(12)]
    answers = _all_at_once(url, same)
    started = [a for status, a in answers if status == 200]
    refused = [a for status, a in answers if status != 200]
    # While it runs, the same name and input is the same execution; once it ended, the name is taken.
    assert started and len({(a["executionArn"], a["startDate"]) for a in started}) == 1
    assert all(a["__type"] == "ExecutionAlreadyExists" for a in refused)
    other = [{"stateMachineArn": arn, "name": "twice", "input": json.dumps({"k": i})} for i in range(12)]
    answers = _all_at_once(url, other)
    assert sum(status == 200 for status, _ in answers) == 1  # different inputs: one wins, the others are refused
    assert all(a["__type"] == "ExecutionAlreadyExists" for status, a in answers if status != 200)
    store = Store(Workspace(root))
    names = [d["name"] for d in store.list(EXECUTION, parent=arn)]
    assert sorted(names) == ["once", "twice"]
    for name in names:
        events, _ = store.recorded(f"{arn.replace(':stateMachine:', ':execution:')}:{name}")
        assert [e["id"] for e in events] == list(range(1, 9))  # one history each, never two interleaved
    store.close()
