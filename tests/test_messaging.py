"""SNS publish and SQS sendMessage on the local outbox: shapes, errors, FIFO, task tokens, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from functools import cached_property
from pathlib import Path

import pytest

import emulator
from emulator.backends import Backends
from emulator.backends.outbox import Outbox
from emulator.integrations import messaging  # noqa: F401  (registers sns / sqs until the package imports it)
from emulator.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"

if not hasattr(Backends, "outbox"):  # until Backends.outbox is wired in emulator/backends/__init__.py
    _outbox = cached_property(lambda self: Outbox(self.workspace))
    _outbox.__set_name__(Backends, "outbox")
    Backends.outbox = _outbox


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(root=tmp_path / "ws", project=tmp_path)


def task(resource: str, **extra) -> dict:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True, **extra}}}


def test_sns_publish_records_the_message_and_answers_like_step_functions(ws: Workspace) -> None:
    definition = task("arn:aws:states:::sns:publish", Parameters={
        "TopicArn": TOPIC, "Subject": "Hello", "Message.$": "$.doc",
        "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "test"}}})
    ex = emulator.run(definition, {"doc": {"n": 1, "s": "é"}}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    out = ex.output
    assert set(out) == {"MessageId", "SdkHttpMetadata", "SdkResponseMetadata"}
    assert out["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert out["SdkResponseMetadata"]["RequestId"] == out["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"]
    [message] = Outbox(ws).messages(topic="alerts")
    assert message["MessageId"] == out["MessageId"]
    assert json.loads(message["Body"]) == {"n": 1, "s": "é"}  # JSON messages are serialised
    assert message["Subject"] == "Hello" and message["Target"] == TOPIC
    assert message["MessageAttributes"] == {"kind": {"DataType": "String", "StringValue": "test"}}
    assert message["ExecutionArn"] == ex.arn and message["State"] == "T"
    assert Outbox(ws).messages(topic=TOPIC) == [message]
    assert Outbox(ws).messages(queue="alerts") == []


def test_sns_to_a_phone_number_and_through_aws_sdk(ws: Workspace) -> None:
    ex = emulator.run(task("arn:aws:states:::aws-sdk:sns:publish",
                           Parameters={"PhoneNumber": "+15555550100", "Message": "hi"}), workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    assert set(ex.output) == {"MessageId"}  # the SDK's own response: no Sdk*Metadata
    assert Outbox(ws).messages()[0]["Target"] == "+15555550100"


@pytest.mark.parametrize(("resource", "error"), [("arn:aws:states:::sns:publish", "SNS.InvalidParameterException"),
                                                 ("arn:aws:states:::aws-sdk:sns:publish",
                                                  "Sns.InvalidParameterException")])
def test_fifo_topic_needs_a_message_group(ws: Workspace, resource: str, error: str) -> None:
    ex = emulator.run(task(resource, Parameters={"TopicArn": TOPIC + ".fifo", "Message": "x"}), workspace=ws)
    assert ex.status == "FAILED"
    assert ex.error == error
    assert ex.cause.startswith("Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
    assert Outbox(ws).messages() == []


def test_sns_errors_can_be_caught(ws: Workspace) -> None:
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "Parameters": {"TopicArn": TOPIC},
              "Catch": [{"ErrorEquals": ["SNS.InvalidParameterException"], "Next": "Caught",
                         "ResultPath": "$.err"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED"
    assert ex.output["err"]["Error"] == "SNS.InvalidParameterException"
    assert "Empty message" in ex.output["err"]["Cause"]


def test_sqs_send_message_answers_with_the_real_md5(ws: Workspace) -> None:
    definition = task("arn:aws:states:::sqs:sendMessage", Parameters={
        "QueueUrl": QUEUE, "MessageBody.$": "$", "DelaySeconds": 5,
        "MessageAttributes": {"a": {"DataType": "String", "StringValue": "1"}}})
    ex = emulator.run(definition, {"order": 7}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    body = '{"order":7}'
    assert ex.output["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    # MD5OfMessageAttributes by hand: length-prefixed name, type, transport byte 1, value.
    expected = hashlib.md5(b"\0\0\0\x01a" + b"\0\0\0\x06String" + b"\x01" + b"\0\0\0\x011").hexdigest()
    assert ex.output["MD5OfMessageAttributes"] == expected
    assert "SequenceNumber" not in ex.output and ex.output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    [message] = Outbox(ws).messages(queue="jobs")
    assert message["Body"] == body and message["DelaySeconds"] == 5
    assert Outbox(ws).messages(queue=QUEUE) == [message]


def test_sqs_fifo_sequence_numbers_and_deduplication(ws: Workspace) -> None:
    fifo = QUEUE + ".fifo"
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.bodies", "MaxConcurrency": 1, "End": True,
        "ItemProcessor": {"StartAt": "S", "States": {"S": {
            "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sqs:sendMessage", "End": True,
            "Parameters": {"QueueUrl": fifo, "MessageBody.$": "$", "MessageGroupId": "g"}}}}}}}
    ex = emulator.run(definition, {"bodies": ["a", "b", "a"]}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    first, second, again = ex.output
    assert [first["SequenceNumber"], second["SequenceNumber"]] == ["00000000000000000001", "00000000000000000002"]
    assert len(first["SequenceNumber"]) == 20
    # Content-based deduplication: the repeat is answered with the first one's id and not stored twice.
    assert again["MessageId"] == first["MessageId"] and again["SequenceNumber"] == first["SequenceNumber"]
    assert [m["Body"] for m in Outbox(ws).messages(queue="jobs.fifo")] == ["a", "b"]


@pytest.mark.parametrize(("params", "error", "text"), [
    ({"QueueUrl": QUEUE + ".fifo", "MessageBody": "x"}, "SQS.MissingParameterException", "MessageGroupId"),
    ({"QueueUrl": QUEUE}, "SQS.MissingParameterException", "MessageBody"),
    ({"QueueUrl": QUEUE, "MessageBody": "x", "DelaySeconds": 901}, "SQS.InvalidParameterValueException",
     "DelaySeconds"),
])
def test_sqs_errors(ws: Workspace, params: dict, error: str, text: str) -> None:
    ex = emulator.run(task("arn:aws:states:::sqs:sendMessage", Parameters=params), workspace=ws)
    assert (ex.status, ex.error) == ("FAILED", error)
    assert text in ex.cause


def test_wait_for_task_token_waits_for_an_answer(ws: Workspace) -> None:
    definition = task("arn:aws:states:::sqs:sendMessage.waitForTaskToken", TimeoutSeconds=30, Parameters={
        "QueueUrl": QUEUE, "MessageBody": {"token.$": "$$.Task.Token", "job.$": "$.job"}})
    running = emulator.start(definition, {"job": 3}, workspace=ws)
    outbox = Outbox(ws)
    deadline = time.monotonic() + 10
    while not outbox.messages(queue="jobs") and time.monotonic() < deadline:
        time.sleep(0.01)
    [message] = outbox.messages(queue="jobs")
    assert running.status == "RUNNING"
    body = json.loads(message["Body"])
    assert body["job"] == 3 and message["TaskToken"] == body["token"]
    outbox.send_task_success(body["token"], {"done": True})
    assert running.wait(10).status == "SUCCEEDED"
    assert running.output == {"done": True}


def test_wait_for_task_token_failure_and_timeout(ws: Workspace) -> None:
    definition = task("arn:aws:states:::sns:publish.waitForTaskToken", TimeoutSeconds=1, Parameters={
        "TopicArn": TOPIC, "Message.$": "$$.Task.Token"})
    outbox = Outbox(ws)

    def answer() -> None:
        while not outbox.messages():
            time.sleep(0.01)
        outbox.send_task_failure(outbox.messages()[0]["Body"], "Review.Rejected", "no")

    threading.Thread(target=answer, daemon=True).start()
    ex = emulator.run(definition, {}, workspace=ws)
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Review.Rejected", "no")
    outbox.clear()
    ex = emulator.run(definition, {}, workspace=ws)  # nobody answers: TimeoutSeconds ends it
    assert (ex.status, ex.error) == ("FAILED", "States.Timeout")


def test_outbox_is_shared_between_threads_without_losing_lines(ws: Workspace) -> None:
    outbox = Outbox(ws)
    threads = [threading.Thread(target=lambda i=i: [outbox.record("sqs", QUEUE, f"{i}-{j}") for j in range(25)])
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bodies = [m["Body"] for m in Outbox(Workspace(root=ws.root, project=ws.project)).messages(queue="jobs")]
    assert sorted(bodies) == sorted(f"{i}-{j}" for i in range(8) for j in range(25))


def sfn(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", "from emulator.cli import main; main()", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_cli_outbox_lists_and_filters(tmp_path: Path) -> None:
    outbox = Outbox(Workspace(root=tmp_path / "ws", project=tmp_path))
    outbox.record("sns", TOPIC, "topic message", Subject="Alert")
    outbox.record("sqs", QUEUE, '{"job":1}')
    listed = sfn("--workspace", str(tmp_path / "ws"), "outbox", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "topic message" in listed.stdout and '{"job":1}' in listed.stdout and "Alert" in listed.stdout
    only_topic = sfn("--workspace", str(tmp_path / "ws"), "outbox", "--topic", "alerts", "--json", cwd=tmp_path)
    assert only_topic.returncode == 0, only_topic.stderr
    assert [m["Body"] for m in json.loads(only_topic.stdout)] == ["topic message"]
    only_queue = sfn("--workspace", str(tmp_path / "ws"), "outbox", "--queue", QUEUE, "--json", cwd=tmp_path)
    assert [m["Body"] for m in json.loads(only_queue.stdout)] == ['{"job":1}']
    empty = sfn("--workspace", str(tmp_path / "empty"), "outbox", cwd=tmp_path)
    assert empty.returncode == 0 and "no messages" in empty.stdout
