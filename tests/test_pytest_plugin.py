"""The pytest plugin (entry point pytest11 `sfn_local`), run through pytest's own pytester."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

DEFINITIONS = '''
FLOW = {"StartAt": "Fetch", "States": {
    "Fetch": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "fetch", "Payload.$": "$"},
              "ResultSelector": {"n.$": "$.Payload.n"}, "ResultPath": "$.f",
              "Retry": [{"ErrorEquals": ["Busy"], "MaxAttempts": 2}], "Next": "Fan"},
    "Fan": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.doubled",
            "ItemProcessor": {"StartAt": "Double", "States": {"Double": {
                "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double", "End": True}}},
            "Next": "Job"},
    "Job": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
            "Parameters": {"JobName": "nightly", "Arguments": {"--n.$": "States.Format('{}', $.f.n)"}},
            "ResultPath": null, "End": True}}}
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(DEFINITIONS.replace("null", "None"))
    pytester.makefile(".toml", **{"sfn-local": '[lambdas]\ndouble = "handlers:double"\n'})
    pytester.makepyfile(handlers="def double(event):\n    return event * 2\n")
    pytester.syspathinsert()
    return pytester


def test_fixtures_run_mock_and_handle(project: pytest.Pytester) -> None:
    project.makepyfile(test_flow='''
from conftest import FLOW

def test_flow(sfn, sfn_workspace):
    assert sfn.workspace is sfn_workspace and sfn_workspace.root.parent.name.startswith("test_flow")
    sfn.mock("Fetch", raises=("Busy", "try later"), times=1)
    sfn.mock("Fetch", returns={"Payload": {"n": 3}})
    sfn.mock("Job", returns={"JobRunState": "SUCCEEDED"})
    ex = sfn.run(FLOW, {"items": [1, 2]})
    ex.assert_succeeded()
    assert ex.output == {"items": [1, 2], "f": {"n": 3}, "doubled": [2, 4]}   # Double ran the config's handler
    assert ex.path == ["Fetch", "Fan", "Fan[0].Double", "Fan[1].Double", "Job"]
    [fetch] = ex.state("Fetch")
    assert fetch.attempts == 2 and fetch.output == {"items": [1, 2], "f": {"n": 3}}
    assert ex.calls("glue:startJobRun") == [{"JobName": "nightly", "Arguments": {"--n": "3"}}]
    assert ex.calls("lambda:double") == [1, 2]

def test_handler_and_start(sfn):
    sfn.handler("fetch", lambda event: {"n": len(event["items"])})
    sfn.mock("Job", raises="Glue.EntityNotFoundException")
    ex = sfn.start(FLOW, {"items": []}).wait(10)
    ex.assert_failed(error="Glue.EntityNotFoundException")
''')
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_failure_report_names_root_cause_path_and_last_input(project: pytest.Pytester) -> None:
    project.makepyfile(test_report='''
from conftest import FLOW

def test_report(sfn):
    sfn.mock("Fetch", returns={"Payload": {"n": 1}})
    sfn.mock("Job", raises=("Glue.ConcurrentRunsExceededException", "too many runs"))
    sfn.run(FLOW, {"items": [5]}).assert_succeeded()
''')
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*AssertionError: expected the execution to succeed",
        "*status: FAILED",
        "*root cause: Glue.ConcurrentRunsExceededException in state 'Job': too many runs",
        "*path: Fetch -> Fan -> Fan?0?.Double -> Job",  # fnmatch: [x] is a character class
        "*last state 'Job' input: {\"items\": ?5?, \"f\": {\"n\": 1}, \"doubled\": ?10?}",
    ])


def test_json_diff_for_a_plain_assert(project: pytest.Pytester) -> None:
    project.makepyfile(test_diff='''
def test_diff(sfn):
    ex = sfn.run({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"a": {"b": [1, 2]}, "c": "x"}, "End": True}}})
    assert ex.output == {"a": {"b": [1, 3]}, "c": "x"}
''')
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*JSON values differ at $.a.b?1?: left has 2, right has 3",
        "*JSON diff (-left +right):",
        "*-      2",
        "*+      3",
    ])


def test_targets_marker_runs_the_test_locally_and_against_moto(project: pytest.Pytester) -> None:
    project.makepyfile(test_targets='''
import json

import boto3
import pytest

from emulator.backends import Backends

PUT_GET = {"StartAt": "Put", "States": {
    "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
            "Parameters": {"Bucket": "plugin-bkt", "Key": "k.json", "Body.$": "$"}, "ResultPath": None,
            "Next": "Get"},
    "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": "plugin-bkt", "Key": "k.json"},
            "ResultSelector": {"body.$": "States.StringToJson($.Body)"}, "Next": "Fn"},
    "Fn": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double",
           "InputPath": "$.body.n", "ResultPath": "$.doubled", "End": True}}}
SEEN = []

@pytest.mark.sfn_targets("local", "aws")
def test_both(sfn, sfn_target, sfn_workspace):
    assert sfn.target == sfn_target
    if sfn_target == "aws":
        boto3.client("s3").create_bucket(Bucket="plugin-bkt")
    ex = sfn.run(PUT_GET, {"n": 21, "on": sfn_target})
    assert ex.output == {"body": {"n": 21, "on": sfn_target}, "doubled": 42}
    local = Backends(sfn_workspace).object_store
    if sfn_target == "aws":  # in moto, not in the workspace
        body = boto3.client("s3").get_object(Bucket="plugin-bkt", Key="k.json")["Body"].read()
        assert json.loads(body) == {"n": 21, "on": "aws"}
        assert "plugin-bkt" not in local.buckets()
    else:
        assert json.loads(local.get("plugin-bkt", "k.json")[0]) == {"n": 21, "on": "local"}
    SEEN.append(sfn_target)

def test_both_ran():
    assert SEEN == ["local", "aws"]

@pytest.mark.sfn_targets("lokal")
def test_typo(sfn):
    pass
''')
    # In a subprocess: moto and DuckDB must load once per process, which an in-process run cannot promise.
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.stdout.fnmatch_lines(["*test_both?local? PASSED*", "*test_both?aws? PASSED*"])
    result.stdout.fnmatch_lines(["*sfn_targets: unknown target 'lokal' (targets: local, aws)*"])
    result.assert_outcomes(passed=3, errors=1)
