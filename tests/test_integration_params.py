"""Integration parameters are checked against the AWS API's shapes: a wrong type, a missing required
member or an unknown aws-sdk member fails the task with the service's catchable validation error."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emulator
from emulator.backends import Backends
from emulator.errors import StatesError
from emulator.integrations import Registry, TaskContext, TaskRequest, parse_resource
from emulator.workspace import Workspace
from tests.conftest import chain

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(root=tmp_path / "ws", project=tmp_path)


def caught(resource: str, parameters: dict[str, Any], ws: Workspace) -> dict[str, Any]:
    """Run one Task whose errors are caught; the caught error (or None when it succeeded)."""
    definition = chain(
        ("T", {"Type": "Task", "Resource": resource, "Parameters": parameters, "ResultPath": "$.result",
               "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]}),
        ("Done", {"Type": "Succeed"}),
        ("Caught", {"Type": "Pass", "End": True}),
    )
    ex = emulator.run(definition, {}, workspace=ws, resources={"echo": lambda event: event})
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    return ex.output.get("error")


S3 = "arn:aws:states:::aws-sdk:s3:"


@pytest.mark.parametrize(("resource", "parameters", "error", "where"), [
    (S3 + "listObjectsV2", {"Bucket": ["b"]}, "S3.S3Exception", "Value '[\"b\"]' at 'bucket'"),
    (S3 + "listObjectsV2", {"Bucket": "data", "MaxKeys": "ten"}, "S3.S3Exception", "at 'maxKeys'"),
    (S3 + "listObjectsV2", {"Bucket": "data", "Prefix": 5}, "S3.S3Exception", "at 'prefix'"),
    (S3 + "listObjectsV2", {"Bucket": "data", "Delimiter": ["/"]}, "S3.S3Exception", "at 'delimiter'"),
    (S3 + "listObjectsV2", {"Bucket": "data", "EncodingType": "base64"}, "S3.S3Exception", "enum value set: [url]"),
    (S3 + "copyObject", {"Bucket": "data", "Key": "k", "CopySource": 5}, "S3.S3Exception", "at 'copySource'"),
    (S3 + "putObject", {"Key": "k"}, "S3.S3Exception", "Value null at 'bucket'"),
    (S3 + "getObject", {"Bucket": "data", "Key": "k", "Colour": "red"}, "S3.S3Exception", "at 'colour'"),
    (S3 + "putObject", {"Bucket": "data", "Key": "k", "Metadata": {"a": 1}}, "S3.S3Exception", "at 'metadata.a'"),
    ("arn:aws:states:::aws-sdk:glue:getTable", {"DatabaseName": 5, "Name": "t"}, "Glue.InvalidInputException",
     "at 'databaseName'"),
    ("arn:aws:states:::aws-sdk:glue:createTable", {"DatabaseName": "db", "TableInput": {
        "Name": "t", "StorageDescriptor": {"Columns": [{"Name": "a"}, {"Name": 7}]}}}, "Glue.InvalidInputException",
     "at 'tableInput.storageDescriptor.columns.2.member.name'"),
    ("arn:aws:states:::athena:startQueryExecution", {"QueryString": {"sql": "SELECT 1"}},
     "Athena.InvalidRequestException", "at 'queryString'"),
    ("arn:aws:states:::glue:startJobRun", {"JobName": "j", "Arguments": {"--n": 5}}, "Glue.InvalidInputException",
     "at 'arguments.--n'"),
    ("arn:aws:states:::elasticmapreduce:addStep", {"ClusterId": "j-1", "Step": {"Name": "s"}},
     "EMR.ValidationException", "at 'step.hadoopJarStep'"),
    ("arn:aws:states:::sqs:sendMessage", {"QueueUrl": QUEUE, "MessageBody": "x", "DelaySeconds": "5"},
     "SQS.InvalidParameterValueException", "for parameter DelaySeconds is invalid"),
    ("arn:aws:states:::aws-sdk:sqs:sendMessage", {"MessageBody": "x"}, "Sqs.MissingParameterException",
     "must contain the parameter QueueUrl"),
    ("arn:aws:states:::sns:publish", {"TopicArn": TOPIC, "Message": "m", "Subject": ["s"]},
     "SNS.InvalidParameterException", "Invalid parameter: Subject"),
    ("arn:aws:states:::states:startExecution", {"StateMachineArn": 5}, "StepFunctions.ValidationException",
     "at 'stateMachineArn'"),
    ("arn:aws:states:::lambda:invoke", {"Payload": {}}, "Lambda.InvalidParameterValueException",
     "Value null at 'functionName'"),
])
def test_wrong_parameters_fail_with_the_services_validation_error(ws: Workspace, resource: str,
                                                                 parameters: dict[str, Any], error: str,
                                                                 where: str) -> None:
    got = caught(resource, parameters, ws)
    assert got is not None and got["Error"] == error
    assert where in got["Cause"] and "Status Code: 400" in got["Cause"]


def test_every_problem_is_listed_in_one_message(ws: Workspace) -> None:
    got = caught(S3 + "listObjectsV2", {"MaxKeys": True, "Prefix": 1}, ws)
    assert got["Cause"].startswith("3 validation errors detected: ")
    assert all(f"at '{m}'" in got["Cause"] for m in ("bucket", "maxKeys", "prefix"))


def test_free_json_members_and_lambda_payloads_are_not_checked(ws: Workspace) -> None:
    anything = {"Bucket": ["b"], "MaxKeys": "ten", "n": [1, {"x": None}]}
    assert caught("arn:aws:lambda:us-east-1:123456789012:function:echo", anything, ws) is None
    assert caught("arn:aws:states:::lambda:invoke", {"FunctionName": "echo", "Payload": anything}, ws) is None
    assert caught("arn:aws:states:::sqs:sendMessage", {"QueueUrl": QUEUE, "MessageBody": anything}, ws) is None
    assert caught("arn:aws:states:::sns:publish", {"TopicArn": TOPIC, "Message": anything}, ws) is None
    assert caught(S3 + "putObject", {"Bucket": "data", "Key": "k", "Body": anything}, ws) is None


def test_valid_parameters_still_reach_the_service(ws: Workspace) -> None:
    assert caught(S3 + "putObject", {"Bucket": "data", "Key": "a/b", "Body": "x", "Metadata": {"m": "1"},
                                     "ContentType": "text/plain"}, ws) is None
    definition = chain(("L", {"Type": "Task", "Resource": S3 + "listObjectsV2",
                              "Parameters": {"Bucket": "data", "MaxKeys": 5, "Prefix": "a/", "Delimiter": "/",
                                             "FetchOwner": False}}))
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    assert [c["Key"] for c in ex.output["Contents"]] == ["a/b"] and ex.output["MaxKeys"] == 5


# -- random parameters: success or the service's error, never a Python error --------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3000) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)
names = st.text(min_size=1, max_size=12)
text_maps = st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=5), max_size=3)

# resource → (error prefix, member → a strategy for a value the service accepts)
CASES: dict[str, tuple[str, dict[str, st.SearchStrategy[Any]]]] = {
    S3 + "putObject": ("S3.", {"Bucket": st.just("data"), "Key": names, "Body": json_values,
                               "ContentType": st.text(max_size=8), "Metadata": text_maps}),
    S3 + "getObject": ("S3.", {"Bucket": st.sampled_from(["data", "nobucket"]), "Key": names}),
    S3 + "headObject": ("S3.", {"Bucket": st.just("data"), "Key": names}),
    S3 + "copyObject": ("S3.", {"Bucket": st.just("data"), "Key": names,
                                "CopySource": names.map(lambda k: f"data/{k}")}),
    S3 + "deleteObject": ("S3.", {"Bucket": st.just("data"), "Key": names}),
    S3 + "listObjectsV2": ("S3.", {"Bucket": st.just("data"), "Prefix": st.text(max_size=3),
                                   "Delimiter": st.sampled_from(["/", "", "a"]), "MaxKeys": st.integers(-5, 2000),
                                   "StartAfter": st.text(max_size=3), "ContinuationToken": st.text(max_size=3)}),
    "arn:aws:states:::aws-sdk:glue:getTable": ("Glue.", {"DatabaseName": names, "Name": names}),
    "arn:aws:states:::aws-sdk:glue:createDatabase": ("Glue.", {"DatabaseInput": st.fixed_dictionaries(
        {"Name": names}, optional={"Description": st.text(max_size=5)})}),
    "arn:aws:states:::aws-sdk:glue:getTables": ("Glue.", {"DatabaseName": names, "Expression": st.text(max_size=4),
                                                           "MaxResults": st.integers(-1, 2000),
                                                           "NextToken": st.text(max_size=4)}),
    "arn:aws:states:::athena:getQueryExecution": ("Athena.", {"QueryExecutionId": names}),
    "arn:aws:states:::sqs:sendMessage": ("SQS.", {"QueueUrl": st.sampled_from([QUEUE, QUEUE + ".fifo"]),
                                                  "MessageBody": json_values, "DelaySeconds": st.integers(-1, 1000),
                                                  "MessageGroupId": names}),
    "arn:aws:states:::aws-sdk:sns:publish": ("Sns.", {"TopicArn": st.just(TOPIC), "Message": json_values,
                                                      "Subject": st.text(max_size=5)}),
    "arn:aws:states:::states:startExecution": ("StepFunctions.", {
        "StateMachineArn": st.sampled_from(["arn:aws:states:us-east-1:123456789012:stateMachine:Nope", "x"]),
        "Input": json_values, "Name": names}),
    "arn:aws:states:::aws-sdk:emr:describeCluster": ("EMR.", {"ClusterId": names}),
    "arn:aws:states:::lambda:invoke": ("Lambda.", {"FunctionName": st.sampled_from(["echo", "ghost"]),
                                                   "Payload": json_values}),
}


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, Any]:
    resource = draw(st.sampled_from(sorted(CASES)))
    prefix, members = CASES[resource]
    params: dict[str, Any] = {}
    for name, valid in members.items():
        choice = draw(st.sampled_from(["valid", "valid", "random", "absent"]))
        if choice != "absent":
            params[name] = draw(valid if choice == "valid" else json_values)
    if draw(st.integers(0, 9)) == 0:
        params[draw(st.sampled_from(["Unknown", "bucket", "Extra"]))] = draw(json_values)
    payload: Any = params if draw(st.integers(0, 19)) else draw(json_values)
    return resource, prefix, payload


_tmp = tempfile.TemporaryDirectory()
_ws = Workspace(root=Path(_tmp.name) / "ws", project=Path(_tmp.name))
_registry = Registry({"echo": lambda event: event}, backends=Backends(_ws))
_registry.backends.object_store.put("data", "seed", b"x")


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests())
def test_random_parameters_give_success_or_the_services_error(request: tuple[str, str, Any]) -> None:
    resource_arn, prefix, payload = request
    resource = parse_resource(resource_arn)
    handler = _registry.resolve(resource)
    context = TaskContext(execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:e", state_name="T")
    try:
        result = handler(TaskRequest(resource, payload, context))
    except StatesError as exc:
        assert exc.error.startswith(prefix), (exc.error, exc.cause)
        assert exc.cause
    else:
        json.dumps(result)  # a task result is JSON
