"""Fuzzing the whole engine: whatever a user writes, the outcome is a diagnostic, a DefinitionError,
or an execution whose error is an AWS-style name — never a Python exception.

Examples are generated from a deterministic seed (derandomize), so CI sees the same cases every run;
set SFN_FUZZ_EXAMPLES to explore more locally (`SFN_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py`).
"""

from __future__ import annotations

import builtins
import json
import os
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emulator

EXAMPLES = int(os.environ.get("SFN_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])

# Python's own exception names: an execution failing with one of these leaked an internal error.
PYTHON_ERRORS = frozenset(name for name, obj in vars(builtins).items()
                          if isinstance(obj, type) and issubclass(obj, BaseException))
AWS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*")
# The error names the generated Fail states and handlers may use, and nothing else of theirs.
USER_ERRORS = ("Custom.Boom", "Custom.Other", "States.TaskFailed", "States.Timeout")

json_scalars = (st.none() | st.booleans() | st.integers(-(10**20), 10**20)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.sampled_from("abcnxyv"), inner, max_size=3), max_leaves=12)

# JSONPath pieces: valid, Jayway-only and broken ones, so both validation and the runtime are exercised.
path_pieces = st.sampled_from([
    ".a", ".b", ".n", ".v", "[0]", "[1]", "[-1]", "[*]", "..a", ".[0]", "['a']", "['a','b']", "[?(@.n > 0)]",
    "[?(@.a =~ /x.*/)]", "[?(@.a =~ /[/)]", "[0:2]", "[", "]", ".", "..", "['a\\'b']", ".length()", " ",
    "[?(@.n)]", ".*", "[1:]",
])
any_paths = st.builds(lambda head, parts: head + "".join(parts), st.sampled_from(["$", "$$", "$$.Execution", "$.",
                                                                                   "$x", "", "a"]),
                      st.lists(path_pieces, max_size=4))
# Mostly well-formed paths, so that most machines pass validation and their runtime is exercised.
sane_paths = st.sampled_from(["$", "$.a", "$.b", "$.n", "$.v", "$.a.b", "$.v[0]", "$.v[*]", "$..a", "$.a[?(@.n > 0)]",
                              "$$.Execution.Input", "$$.State.Name", "$.[0]", "$.a.[0].b", "$.x.y.z"])
paths = st.one_of(sane_paths, sane_paths, sane_paths, any_paths)
intrinsic_names = st.sampled_from([
    "States.Format", "States.StringToJson", "States.JsonToString", "States.Array", "States.ArrayPartition",
    "States.ArrayContains", "States.ArrayRange", "States.ArrayGetItem", "States.ArrayLength", "States.ArrayUnique",
    "States.Base64Encode", "States.Base64Decode", "States.Hash", "States.JsonMerge", "States.MathRandom",
    "States.MathAdd", "States.StringSplit", "States.UUID", "States.Nope",
])
intrinsic_args = st.lists(st.sampled_from(["$.a", "$.n", "$.v", "'x'", "'{}'", "1", "-1", "1e999", "null", "true",
                                           "'SHA-256'", "$", "States.Array(1, 2)", "'1e999'", "'[1,2'"]),
                          max_size=4)
intrinsics = st.builds(lambda name, args: f"{name}({', '.join(args)})", intrinsic_names, intrinsic_args)
jsonata = st.sampled_from([
    "{% $states.input %}", "{% $states.input.a %}", "{% 1/0 %}", "{% $x %}", "{% $undefinedFn() %}",
    "{% $states.input.n * 2 %}", "{% [1,2,3] %}", "{% 'abc' %}", "{% $string($states.input) %}", "{% %}",
    "{% $partition([1,2,3], 2) %}", "{% $random() %}", "{% $parse('{\"a\": 1}') %}", "{% ( %}",
])
odd_numbers = st.one_of(st.integers(-5, 5), st.integers(-(10**12), 10**12),
                        st.sampled_from([0, 1, 2**31, 1e300, 99999999, 31622401]),
                        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=3), st.none())
numbers = st.integers(0, 5) | st.integers(1, 3) | st.sampled_from([1, 2, 60, 3600, 2**31 - 1, 31622400]) | odd_numbers


class Pick:
    """Where fields come from: a sane machine draws well-formed values (so its runtime is exercised),
    a wild one draws from valid and broken values alike (so validation is)."""

    def __init__(self, draw: st.DrawFn, sane: bool) -> None:
        self.draw = draw
        self.sane = sane

    def path(self) -> str:
        return self.draw(sane_paths if self.sane else paths)

    def number(self) -> Any:
        return self.draw(st.integers(0, 3) | st.sampled_from([1, 2, 60, 3600, 2**31 - 1]) if self.sane else numbers)

    def value(self) -> Any:
        return self.draw(json_values)

    def template(self, depth: int = 0) -> dict[str, Any]:
        keys = self.draw(st.lists(st.sampled_from(["a", "b", "n", "v", "x"]), max_size=3, unique=True))
        out: dict[str, Any] = {}
        for key in keys:
            kind = self.draw(st.integers(0, 3))
            if kind == 0:
                out[key + ".$"] = self.path()
            elif kind == 1 and not self.sane:
                out[key + ".$"] = self.draw(intrinsics)
            elif kind == 2 and depth < 2:
                out[key] = self.template(depth + 1)
            else:
                out[key] = self.value()
        return out

    def jsonata(self) -> str:
        return self.draw(jsonata)


def _common(pick: Pick, body: dict[str, Any], jsonata_state: bool, has_result: bool) -> None:
    draw = pick.draw
    if jsonata_state:
        for field in ("Output", "Assign"):
            if draw(st.booleans()):
                body[field] = pick.jsonata() if field != "Assign" else {"x": pick.jsonata()}
        return
    for field in ("InputPath", "OutputPath", "ResultPath")[: 3 if has_result else 2]:
        if draw(st.integers(0, 3)) == 0:
            body[field] = pick.path() if draw(st.integers(0, 5)) else None
    if draw(st.integers(0, 4)) == 0:
        body["Assign"] = {"x": pick.value(), "y.$": pick.path()}


def _retry_catch(pick: Pick, body: dict[str, Any], names: list[str]) -> None:
    draw = pick.draw
    if draw(st.booleans()):
        retrier: dict[str, Any] = {
            "ErrorEquals": draw(st.sampled_from([["States.ALL"], ["Custom.Boom"], ["States.TaskFailed", "Custom.Other"],
                                                 ["States.Timeout"]])),
            "IntervalSeconds": max(pick.number(), 1) if pick.sane else pick.number(),
            "MaxAttempts": pick.number(),
            "BackoffRate": draw(st.sampled_from([1, 1.5, 2, 10, 1000, 1e300])) if pick.sane else pick.number(),
        }
        if draw(st.booleans()):
            retrier["MaxDelaySeconds"] = max(pick.number(), 1) if pick.sane else pick.number()
        if draw(st.booleans()):
            retrier["JitterStrategy"] = draw(st.sampled_from(["FULL", "NONE"] if pick.sane else ["FULL", "NONE", "x"]))
        body["Retry"] = [retrier]
    if draw(st.booleans()):
        catcher: dict[str, Any] = {"ErrorEquals": ["States.ALL"], "Next": draw(st.sampled_from(names))}
        if draw(st.booleans()):
            catcher["ResultPath"] = draw(st.sampled_from(["$.error", "$", None])) if pick.sane else pick.path()
        body["Catch"] = [catcher]


COMPARISONS = {
    "NumericEquals": st.integers(-3, 3), "NumericGreaterThan": st.floats(-5, 5), "StringEquals": st.text(max_size=3),
    "IsPresent": st.booleans(), "BooleanEquals": st.booleans(), "StringMatches": st.sampled_from(["a*", "*", "\\*x"]),
    "TimestampLessThan": st.just("2016-03-14T01:59:00Z"), "NumericEqualsPath": sane_paths, "IsNumeric": st.booleans(),
}
RESOURCE_ARNS = [
    "arn:aws:states:::lambda:invoke", "arn:aws:lambda:us-east-1:123456789012:function:echo",
    "arn:aws:lambda:us-east-1:123456789012:function:boom", "arn:aws:states:::aws-sdk:s3:getObject",
    "arn:aws:states:::aws-sdk:s3:putObject", "arn:aws:states:::aws-sdk:s3:listObjectsV2",
    "arn:aws:states:::sns:publish", "arn:aws:states:::states:startExecution.sync",
]


@st.composite
def machines(draw: st.DrawFn, depth: int = 0, prefix: str = "S", language: bool | None = None,
             sane: bool | None = None) -> dict[str, Any]:
    """A state machine of 1 to 5 states of every type; nested machines inherit the query language and sanity."""
    sane = draw(st.integers(0, 3)) > 0 if sane is None else sane
    pick = Pick(draw, sane)
    count = draw(st.integers(1, 5 if depth == 0 else 3))
    names = [f"{prefix}{i}" for i in range(count)]
    jsonata_machine = draw(st.integers(0, 4)) == 0 if language is None else language
    states: dict[str, Any] = {}
    for index, name in enumerate(names):
        kinds = ["Pass", "Task", "Choice", "Wait", "Fail", "Succeed"] + (["Parallel", "Map"] if depth < 2 else [])
        kind = draw(st.sampled_from(kinds))
        body: dict[str, Any] = {"Type": kind}
        following = names[index + 1] if index + 1 < count else None
        if kind in ("Pass", "Task", "Wait", "Parallel", "Map"):
            if following and (sane or draw(st.integers(0, 5))):
                body["Next"] = following
            else:
                body["End"] = True
            _common(pick, body, jsonata_machine, kind != "Wait")
        if kind == "Pass" and draw(st.booleans()):
            if jsonata_machine:
                body["Output"] = pick.jsonata()
            else:
                body[draw(st.sampled_from(["Result", "Parameters"]))] = pick.template()
        elif kind == "Task":
            body["Resource"] = draw(st.sampled_from(RESOURCE_ARNS + ([] if sane else ["arn:aws:states:::nope:x", "x"])))
            extra = draw(st.dictionaries(
                st.sampled_from(["FunctionName", "Bucket", "Key", "Body", "Prefix", "MaxKeys", "Delimiter",
                                 "TopicArn", "Message", "Payload", "CopySource", "StateMachineArn", "Input"]),
                json_values | st.sampled_from(["echo", "boom", "bucket-1", "k/x", "a//b", "..", ".",
                                               "arn:aws:states:us-east-1:123456789012:stateMachine:Missing"]),
                max_size=4))
            if jsonata_machine:
                body["Arguments"] = {**extra, "Payload": pick.jsonata()}
            else:
                body["Parameters"] = {**pick.template(), **extra}
                if draw(st.booleans()):
                    body["ResultSelector"] = pick.template()
            for field in ("TimeoutSeconds", "HeartbeatSeconds"):
                if draw(st.integers(0, 4)) == 0:
                    body[field] = pick.number() or 1
            _retry_catch(pick, body, names)
        elif kind == "Choice":
            if jsonata_machine:
                rule = {"Condition": pick.jsonata(), "Next": draw(st.sampled_from(names))}
            else:
                operator = draw(st.sampled_from(sorted(COMPARISONS)))
                value = draw(COMPARISONS[operator]) if sane else pick.value()
                rule = {"Variable": pick.path(), operator: value, "Next": draw(st.sampled_from(names))}
            body["Choices"] = [rule]
            if draw(st.booleans()):
                body["Default"] = draw(st.sampled_from(names))
        elif kind == "Wait":
            field = draw(st.sampled_from(["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]))
            if jsonata_machine:
                field = field.removesuffix("Path")
            if field.endswith("Path"):
                body[field] = pick.path()
            elif field == "Seconds":
                body[field] = pick.jsonata() if jsonata_machine and draw(st.booleans()) else pick.number()
            else:
                body[field] = draw(st.sampled_from(["2016-03-14T01:59:00Z", "9999-12-31T23:59:59Z",
                                                    "0001-01-01T00:00:00Z", "2016-03-14T01:59:00.123456789+14:00"]
                                                   + ([] if sane else ["not a time"])))
        elif kind == "Fail":
            if draw(st.booleans()):
                body["Error"] = draw(st.sampled_from(USER_ERRORS))
            if draw(st.booleans()):
                if jsonata_machine:
                    body["Cause"] = pick.jsonata()
                else:
                    body["CausePath"] = pick.path()
        elif kind == "Parallel":
            body["Branches"] = [draw(machines(depth + 1, f"{name}b{i}x", jsonata_machine, sane))
                                for i in range(draw(st.integers(1, 2)))]
            _retry_catch(pick, body, names)
        elif kind == "Map":
            body["ItemProcessor"] = draw(machines(depth + 1, f"{name}m", jsonata_machine, sane))
            if not jsonata_machine:
                if draw(st.booleans()):
                    body["ItemsPath"] = pick.path()
                if draw(st.booleans()):
                    body["ItemSelector"] = pick.template()
            elif draw(st.booleans()):
                body["Items"] = pick.jsonata()
            for field in ("MaxConcurrency", "ToleratedFailureCount", "ToleratedFailurePercentage"):
                if draw(st.integers(0, 4)) == 0:
                    body[field] = pick.number() if not sane or field != "ToleratedFailurePercentage" else 50
            _retry_catch(pick, body, names)
        states[name] = body
    start = names[0] if sane or draw(st.integers(0, 9)) else "Missing"
    out: dict[str, Any] = {"StartAt": start, "States": states}
    if jsonata_machine and depth == 0:
        out["QueryLanguage"] = "JSONata"
    if depth == 0 and draw(st.integers(0, 5)) == 0:
        out["TimeoutSeconds"] = pick.number() or 1
    return out


def _echo(event: Any) -> Any:
    return event


def _boom(event: Any) -> Any:
    raise emulator.StatesError("Custom.Boom", "it broke")


RESOURCES = {"echo": _echo, "boom": _boom}


def check_execution(execution: emulator.Execution) -> None:
    assert execution.status in ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"), execution.status
    if execution.status == "SUCCEEDED":
        json.dumps(execution.output, allow_nan=False)
        return
    error = execution.error
    assert error is None or (AWS_NAME.fullmatch(error) and error not in PYTHON_ERRORS), (error, execution.cause)
    assert "Traceback (most recent call last)" not in (execution.cause or ""), execution.cause


def run_any(definition: Any, data: Any, workspace: Any) -> None:
    """Validate, then run: every outcome is a diagnostic list, a DefinitionError or an AWS-named execution."""
    diagnostics = emulator.validate(definition)
    assert isinstance(diagnostics, list)
    assert all(isinstance(d, emulator.Diagnostic) for d in diagnostics)
    try:
        execution = emulator.run(definition, data, resources=RESOURCES, workspace=workspace, seed=1, max_events=400)
    except emulator.DefinitionError as exc:
        assert exc.diagnostics, "a DefinitionError must say what is wrong"
        return
    assert not diagnostics, f"validate() reported {diagnostics} but the definition ran"
    check_execution(execution)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> emulator.Workspace:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "project").mkdir()
    return emulator.Workspace(root / "ws", project=root / "project")


@FUZZ
@given(definition=machines(), data=json_values)
def test_generated_machines_end_in_aws_outcomes(definition: dict[str, Any], data: Any,
                                                workspace: emulator.Workspace) -> None:
    run_any(definition, data, workspace)


@FUZZ
@given(definition=json_values | st.text(max_size=20) | st.binary(max_size=20), data=json_values)
def test_arbitrary_documents_are_diagnosed(definition: Any, data: Any, workspace: emulator.Workspace) -> None:
    if isinstance(definition, str) and os.path.exists(definition):
        return  # a string naming a file is read as one
    run_any(definition, data, workspace)


@FUZZ
@given(action=st.sampled_from(["getObject", "putObject", "listObjectsV2", "copyObject", "deleteObject",
                               "headObject"]),
       params=st.dictionaries(st.sampled_from(["Bucket", "Key", "Body", "Prefix", "MaxKeys", "Delimiter",
                                               "CopySource", "ContinuationToken", "StartAfter", "Extra"]),
                              json_values | st.sampled_from(["bucket-1", "k", "a/b", "..", "/etc/passwd", "a//b"]),
                              max_size=5))
def test_integration_parameters_fail_as_the_service(action: str, params: dict[str, Any],
                                                   workspace: emulator.Workspace) -> None:
    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": f"arn:aws:states:::aws-sdk:s3:{action}", "Parameters": params, "End": True}}}
    execution = emulator.run(definition, {}, workspace=workspace, max_events=50)
    check_execution(execution)
    if execution.status == "FAILED":
        assert execution.error.startswith(("S3.", "States.")), execution.error
