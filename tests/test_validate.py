"""validate_definition: accepts what AWS accepted (the recorded corpus), reports what AWS rejects."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import emulator
import emulator.asl
from emulator.asl.validate import validate_definition
from emulator.errors import DefinitionError

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CASES = SHARED / "conformance" / "aws-recorded" / "cases.jsonl"
BENCH = SHARED / "bench" / "defs"


def one(state: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A machine whose only state, S, is `state`."""
    return {"StartAt": "S", "States": {"S": state}, **top}


def task(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True, **fields}


def choice(*rules: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A Choice state S whose rules and Default all lead to the Succeed state Done."""
    return {
        "StartAt": "S",
        "States": {
            "S": {"Type": "Choice", "Choices": list(rules), "Default": "Done", **fields},
            "Done": {"Type": "Succeed"},
        },
    }


def rule(**fields: Any) -> dict[str, Any]:
    return {"Variable": "$.x", "Next": "Done", **fields}


def mapping(processor_states: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    states = processor_states or {"A": {"Type": "Pass", "End": True}}
    processor = {"StartAt": next(iter(states)), "States": states}
    return one({"Type": "Map", "ItemProcessor": processor, "End": True, **fields})


def parallel(*branches: Any, **fields: Any) -> dict[str, Any]:
    return one({"Type": "Parallel", "Branches": list(branches), "End": True, **fields})


def branch(**states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


def assert_reports(definition: Any, location: str, fragment: str, code: str | None = None) -> None:
    diagnostics = validate_definition(definition)
    found = [d for d in diagnostics if d.location == location and fragment in d.message]
    assert found, f"no diagnostic at {location!r} containing {fragment!r}; got:\n" + "\n".join(
        f"  {d.code} {d}" for d in diagnostics
    )
    if code is not None:
        assert found[0].code == code


def assert_valid(definition: Any) -> None:
    diagnostics = validate_definition(definition)
    assert diagnostics == [], "\n".join(f"{d.code} {d}" for d in diagnostics)


# ---------------------------------------------------------------------------------------------
# What AWS accepted must pass


def test_aws_recorded_definitions_have_no_diagnostics() -> None:
    if not CASES.is_file():
        pytest.skip(f"AWS-recorded corpus not found at {CASES}")
    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    failures = {case["id"]: validate_definition(case["definition"]) for case in cases}
    failures = {case_id: d for case_id, d in failures.items() if d}
    assert not failures, "\n".join(f"{case_id}: {[str(x) for x in d[:3]]}" for case_id, d in list(failures.items())[:20])
    assert len(cases) > 500


def test_benchmark_definitions_have_no_diagnostics() -> None:
    files = sorted(f for f in BENCH.glob("*.json") if not f.name.endswith(".input.json")) if BENCH.is_dir() else []
    if not files:
        pytest.skip(f"benchmark definitions not found at {BENCH}")
    for file in files:
        assert validate_definition(json.loads(file.read_text(encoding="utf-8"))) == [], file.name


def test_a_definition_using_most_jsonpath_fields_is_valid() -> None:
    assert_valid(
        {
            "Comment": "all the JSONPath fields",
            "Version": "1.0",
            "TimeoutSeconds": 300,
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Pass",
                    "InputPath": "$$.Execution.Input",
                    "Parameters": {"a.$": "$.a", "list": [{"b.$": "States.Format('{}', $.b)"}], "v.$": "$var.x"},
                    "ResultPath": "$.p",
                    "OutputPath": "$",
                    "Assign": {"var": 1, "other.$": "$.a"},
                    "Next": "T",
                },
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
                    "Parameters": {"FunctionName": "f"},
                    "ResultSelector": {"out.$": "$.Payload"},
                    "ResultPath": None,
                    "TimeoutSecondsPath": "$.timeout",
                    "HeartbeatSeconds": 10,
                    "Credentials": {"RoleArn.$": "$.role"},
                    "Retry": [
                        {"ErrorEquals": ["Custom"], "IntervalSeconds": 2, "MaxAttempts": 0, "BackoffRate": 1.5,
                         "MaxDelaySeconds": 10, "JitterStrategy": "FULL", "Comment": "c"},
                        {"ErrorEquals": ["States.ALL"]},
                    ],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "C"}],
                    "Next": "C",
                },
                "C": {
                    "Type": "Choice",
                    "Choices": [
                        {"And": [{"Variable": "$.a", "NumericGreaterThanEqualsPath": "$.b"},
                                 {"Not": {"Variable": "$.s", "StringMatches": "a*"}}], "Next": "W"},
                        {"Variable": "$.t", "TimestampLessThan": "2016-03-14T01:59:00Z", "Next": "M"},
                        {"Variable": "$$.Execution.Name", "IsPresent": True, "Next": "Par"},
                    ],
                    "Default": "F",
                },
                "W": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "M"},
                "M": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "ItemSelector": {"item.$": "$$.Map.Item.Value"},
                    "MaxConcurrencyPath": "$.concurrency",
                    "ToleratedFailurePercentage": 5.5,
                    "Label": "Items",
                    "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                                   "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                                   "Parameters": {"Bucket.$": "$.bucket", "Key": "k"}},
                    "ItemBatcher": {"MaxItemsPerBatch": 10, "BatchInput": {"n.$": "$.n"}},
                    "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b"}},
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                        "StartAt": "Inner",
                        "States": {"Inner": {"Type": "Succeed"}},
                    },
                    "Next": "Par",
                },
                "Par": {
                    "Type": "Parallel",
                    "Branches": [branch(B1={"Type": "Pass", "End": True}), branch(B2={"Type": "Succeed"})],
                    "ResultSelector": {"first.$": "$[0]"},
                    "Next": "Done",
                },
                "Done": {"Type": "Succeed"},
                "F": {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "States.Format('bad {}', $.why)"},
            },
        }
    )


def test_a_jsonata_definition_is_valid() -> None:
    assert_valid(
        {
            "QueryLanguage": "JSONata",
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Arguments": {"FunctionName": "f", "Payload": "{% $states.input %}"},
                    "Output": "{% $states.result.Payload %}",
                    "Assign": {"x": "{% $states.result %}"},
                    "TimeoutSeconds": "{% $timeout %}",
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Next": "C"}],
                    "Next": "C",
                },
                "C": {
                    "Type": "Choice",
                    "Choices": [{"Condition": "{% $x > 1 %}", "Next": "M", "Assign": {"y": 1}, "Output": {}}],
                    "Default": "W",
                },
                "W": {"Type": "Wait", "Seconds": "{% $states.input.wait %}", "Next": "M"},
                "M": {
                    "Type": "Map",
                    "Items": "{% $states.input.items %}",
                    "MaxConcurrency": "{% 2 %}",
                    "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "Output": 1, "End": True}}},
                    "Next": "F",
                },
                "F": {"Type": "Fail", "Error": "{% 'E' %}", "Cause": "literal cause"},
            },
        }
    )


def test_empty_retry_and_catch_lists_are_accepted() -> None:
    assert_valid(one(task(Retry=[], Catch=[])))


def test_a_jsonata_state_inside_a_jsonpath_machine_is_valid() -> None:
    assert_valid(one({"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input %}", "End": True}))


def test_every_problem_is_reported_not_just_the_first() -> None:
    definition = one({"Type": "Pass", "Foo": 1, "InputPath": "bad", "Next": "Nowhere"})
    locations = {d.location for d in validate_definition(definition)}
    assert {"/States/S/Foo", "/States/S/InputPath", "/States/S/Next"} <= locations


# ---------------------------------------------------------------------------------------------
# Bad input never raises


@pytest.mark.parametrize(
    "definition",
    [
        42,
        [],
        None,
        "",
        "text",
        {"StartAt": "S", "States": {"S": "Pass"}},
        {"StartAt": "S", "States": {"S": {"Type": "Choice", "Choices": {"a": 1}}}},
        {"StartAt": "S", "States": {"S": {"Type": {"a": 1}}}},
        {"StartAt": ["S"], "States": []},
        one(task(Retry={"ErrorEquals": ["x"]}, Catch=[1, None])),
        one({"Type": "Parallel", "Branches": ["x", {"StartAt": 1, "States": {"A": []}}], "End": True}),
        one({"Type": "Map", "Iterator": [], "ItemReader": "x", "End": "yes"}),
        one({"Type": "Pass", "Parameters": [{"x.$": {"y": 1}}], "End": True}),
        choice({"And": {"Variable": "$.a"}, "Next": 3}, {"Not": [], "Next": "Done"}),
        one({"Type": "Wait", "Seconds": 10**400, "End": True}),
        {"StartAt": "S", "States": {"S": {"Type": "Pass", "End": True}}, "TimeoutSeconds": float("nan")},
    ],
)
def test_bad_input_yields_diagnostics_without_raising(definition: Any) -> None:
    diagnostics = validate_definition(definition)
    assert diagnostics
    assert all(d.message and isinstance(d.location, str) for d in diagnostics)


def test_not_an_object_and_empty() -> None:
    assert_reports(42, "", "must be a JSON object")
    assert_reports([], "", "must be a JSON object")
    assert_reports(None, "", "empty", "MISSING_DESCRIPTION")


# ---------------------------------------------------------------------------------------------
# Top level


VALID_STATES = {"S": {"Type": "Succeed"}}


@pytest.mark.parametrize(
    ("definition", "location", "fragment"),
    [
        ({"States": VALID_STATES}, "", "needs 'StartAt'"),
        ({"StartAt": "S"}, "", "needs 'States'"),
        ({"StartAt": "S", "States": {}}, "/States", "at least one state"),
        ({"StartAt": "S", "States": [1]}, "/States", "must be a JSON object"),
        ({"StartAt": 1, "States": VALID_STATES}, "/StartAt", "must be a state name"),
        ({"StartAt": "S", "States": VALID_STATES, "Foo": 1}, "/Foo", "Field 'Foo' is not supported"),
        ({"StartAt": "S", "States": VALID_STATES, "TimeoutSeconds": 0}, "/TimeoutSeconds", "integer from 1"),
        ({"StartAt": "S", "States": VALID_STATES, "TimeoutSeconds": "10"}, "/TimeoutSeconds", "integer"),
        ({"StartAt": "S", "States": VALID_STATES, "QueryLanguage": "XPath"}, "/QueryLanguage", "'JSONPath', 'JSONata'"),
        ({"StartAt": "S", "States": VALID_STATES, "Version": 1}, "/Version", "must be a string"),
        ({"StartAt": "S", "States": VALID_STATES, "Comment": 5}, "/Comment", "must be a string"),
    ],
)
def test_top_level(definition: dict[str, Any], location: str, fragment: str) -> None:
    assert_reports(definition, location, fragment)


def test_start_at_must_name_a_state() -> None:
    assert_reports({"StartAt": "Nope", "States": VALID_STATES}, "/StartAt", "'Nope' is not a state",
                   "MISSING_TRANSITION_TARGET")


# ---------------------------------------------------------------------------------------------
# State types and their fields


@pytest.mark.parametrize(
    ("state", "location", "fragment"),
    [
        ({"End": True}, "/States/S", "has no 'Type'"),
        ({"Type": "Lambda", "End": True}, "/States/S/Type", "is not a state type"),
        ({"Type": "Pass", "Retry": [], "End": True}, "/States/S/Retry", "Field 'Retry' is not supported in a Pass state"),
        ({"Type": "Pass", "ResultSelector": {}, "End": True}, "/States/S/ResultSelector", "not supported in a Pass"),
        ({"Type": "Fail", "InputPath": "$"}, "/States/S/InputPath", "not supported in a Fail state"),
        ({"Type": "Fail", "Next": "S"}, "/States/S/Next", "not supported in a Fail state"),
        ({"Type": "Succeed", "End": True}, "/States/S/End", "not supported in a Succeed state"),
        ({"Type": "Succeed", "Assign": {}}, "/States/S/Assign", "not supported in a Succeed state"),
        ({"Type": "Wait", "Seconds": 1, "Catch": [], "End": True}, "/States/S/Catch", "not supported in a Wait"),
        ({"Type": "Task", "End": True}, "/States/S", "A Task state needs 'Resource'"),
        ({"Type": "Task", "Resource": "", "End": True}, "/States/S/Resource", "non-empty string"),
        (task(TimeoutSeconds=0), "/States/S/TimeoutSeconds", "integer from 1"),
        (task(HeartbeatSeconds=1.5), "/States/S/HeartbeatSeconds", "integer from 1"),
        (task(TimeoutSeconds=5, TimeoutSecondsPath="$.t"), "/States/S", "only one of 'TimeoutSeconds'"),
        (task(HeartbeatSeconds=5, HeartbeatSecondsPath="$.t"), "/States/S", "only one of 'HeartbeatSeconds'"),
        (task(Credentials="role"), "/States/S/Credentials", "must be a JSON object"),
        ({"Type": "Wait", "End": True}, "/States/S", "A Wait state needs one of 'Seconds'"),
        ({"Type": "Wait", "Seconds": 1, "TimestampPath": "$.t", "End": True}, "/States/S", "only one of"),
        ({"Type": "Wait", "Seconds": -1, "End": True}, "/States/S/Seconds", "integer from 0"),
        ({"Type": "Wait", "Timestamp": "tomorrow", "End": True}, "/States/S/Timestamp", "RFC 3339"),
        ({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}, "/States/S", "only one of 'Error', 'ErrorPath'"),
        ({"Type": "Fail", "Cause": "C", "CausePath": "$.c"}, "/States/S", "only one of 'Cause', 'CausePath'"),
        ({"Type": "Fail", "Error": 5}, "/States/S/Error", "must be a string"),
        ({"Type": "Fail", "CausePath": "States.ArrayLength($.a)"}, "/States/S/CausePath", "can't use States.ArrayLength"),
        ({"Type": "Fail", "ErrorPath": "error"}, "/States/S/ErrorPath", "must be a path"),
        ({"Type": "Pass", "Next": "S", "End": True}, "/States/S", "has both 'Next' and 'End'"),
        ({"Type": "Pass"}, "/States/S", "has neither 'Next' nor 'End'"),
        ({"Type": "Pass", "End": False}, "/States/S", "has neither 'Next' nor 'End'"),
        ({"Type": "Pass", "End": "true"}, "/States/S/End", "must be true or false"),
        ({"Type": "Pass", "Next": 3}, "/States/S/Next", "must be a state name"),
        ({"Type": "Choice", "Choices": [], "End": True}, "/States/S/End", "not supported in a Choice state"),
        ({"Type": "Choice", "Default": "S"}, "/States/S", "A Choice state needs 'Choices'"),
        ({"Type": "Pass", "Assign": [1], "End": True}, "/States/S/Assign", "variable names"),
        ({"Type": "Pass", "Comment": 1, "End": True}, "/States/S/Comment", "must be a string"),
    ],
)
def test_state_fields(state: dict[str, Any], location: str, fragment: str) -> None:
    assert_reports(one(state), location, fragment)


# ---------------------------------------------------------------------------------------------
# Names, transitions, reachability


def test_state_name_longer_than_80_characters() -> None:
    name = "N" * 81
    assert_reports({"StartAt": name, "States": {name: {"Type": "Succeed"}}}, f"/States/{name}", "1 to 80",
                   "INVALID_STATE_NAME")
    assert_valid({"StartAt": "N" * 80, "States": {"N" * 80: {"Type": "Succeed"}}})


def test_state_names_are_unique_across_nested_machines() -> None:
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [branch(P={"Type": "Succeed"})], "End": True}}}
    assert_reports(definition, "/States/P/Branches/0/States/P", "already used at /States/P", "DUPLICATE_STATE_NAME")


def test_next_target_must_exist() -> None:
    definition = {"StartAt": "CheckStatus", "States": {"CheckStatus": {"Type": "Pass", "Next": "Foo"},
                                                       "End": {"Type": "Succeed"}}}
    assert_reports(definition, "/States/CheckStatus/Next", "Missing 'Next' target: 'Foo'", "MISSING_TRANSITION_TARGET")


def test_default_and_choice_and_catch_targets_must_exist() -> None:
    assert_reports(choice(rule(BooleanEquals=True), Default="Gone"), "/States/S/Default", "Missing 'Default' target")
    assert_reports(choice(rule(BooleanEquals=True, Next="Gone")), "/States/S/Choices/0/Next", "'Gone' is not a state")
    assert_reports(one(task(Catch=[{"ErrorEquals": ["X"], "Next": "Gone"}])), "/States/S/Catch/0/Next",
                   "Missing 'Next' target: 'Gone'")


def test_each_nested_machine_is_its_own_scope() -> None:
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [branch(A={"Type": "Pass", "Next": "Out"})], "Next": "Out"},
        "Out": {"Type": "Succeed"}}}
    assert_reports(definition, "/States/P/Branches/0/States/A/Next", "'Out' is not a state in this States block")
    processor = {"StartAt": "Missing", "States": {"A": {"Type": "Pass", "End": True}}}
    assert_reports(one({"Type": "Map", "ItemProcessor": processor, "End": True}), "/States/S/ItemProcessor/StartAt",
                   "Missing 'StartAt' target: 'Missing'")


def test_unreachable_states() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "Lost": {"Type": "Succeed"}}}
    assert_reports(definition, "/States/Lost", "State 'Lost' is not reachable", "MISSING_TRANSITION_TARGET")
    nested = mapping({"A": {"Type": "Pass", "End": True}, "B": {"Type": "Pass", "End": True}})
    assert_reports(nested, "/States/S/ItemProcessor/States/B", "not reachable")


def test_states_reached_only_through_catch_or_choice_are_reachable() -> None:
    assert_valid({"StartAt": "T", "States": {
        "T": task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handler"}]),
        "Handler": {"Type": "Fail"}}})


def test_a_loop_with_no_way_out_has_no_end_state() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}
    assert_reports(definition, "/States", "No state ends the workflow", "MISSING_END_STATE")


# ---------------------------------------------------------------------------------------------
# Retry and Catch


@pytest.mark.parametrize(
    ("fields", "location", "fragment"),
    [
        ({"Retry": [{"ErrorEquals": []}]}, "/States/S/Retry/0/ErrorEquals", "non-empty list of error names"),
        ({"Retry": [{"ErrorEquals": "States.ALL"}]}, "/States/S/Retry/0/ErrorEquals", "non-empty list"),
        ({"Retry": [{"ErrorEquals": [1]}]}, "/States/S/Retry/0/ErrorEquals", "error names"),
        ({"Retry": [{"MaxAttempts": 1}]}, "/States/S/Retry/0", "A retrier needs 'ErrorEquals'"),
        ({"Retry": [{"ErrorEquals": ["States.ALL", "X"]}]}, "/States/S/Retry/0/ErrorEquals",
         "'States.ALL' must be the only error name"),
        ({"Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}, "/States/S/Retry/0",
         "must be the last one in 'Retry'"),
        ({"Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}]}, "/States/S/Retry/0/IntervalSeconds",
         "integer from 1"),
        ({"Retry": [{"ErrorEquals": ["X"], "MaxAttempts": -1}]}, "/States/S/Retry/0/MaxAttempts", "integer from 0"),
        ({"Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}, "/States/S/Retry/0/BackoffRate", "at least 1.0"),
        ({"Retry": [{"ErrorEquals": ["X"], "MaxDelaySeconds": 0}]}, "/States/S/Retry/0/MaxDelaySeconds",
         "integer from 1"),
        ({"Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "SOME"}]}, "/States/S/Retry/0/JitterStrategy",
         "'FULL', 'NONE'"),
        ({"Retry": [{"ErrorEquals": ["X"], "Next": "S"}]}, "/States/S/Retry/0/Next", "not supported in a retrier"),
        ({"Retry": {"ErrorEquals": ["X"]}}, "/States/S/Retry", "must be a list of retriers"),
        ({"Catch": [{"ErrorEquals": ["X"]}]}, "/States/S/Catch/0", "A catcher needs 'Next'"),
        ({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "S"}, {"ErrorEquals": ["X"], "Next": "S"}]},
         "/States/S/Catch/0", "must be the last one in 'Catch'"),
        ({"Catch": [{"ErrorEquals": ["X"], "Next": "S", "ResultPath": "$.a[*]"}]}, "/States/S/Catch/0/ResultPath",
         "Reference Path"),
        ({"Catch": [{"ErrorEquals": ["X"], "Next": "S", "MaxAttempts": 1}]}, "/States/S/Catch/0/MaxAttempts",
         "not supported in a catcher"),
    ],
)
def test_retry_and_catch(fields: dict[str, Any], location: str, fragment: str) -> None:
    assert_reports(one(task(**fields)), location, fragment)


# ---------------------------------------------------------------------------------------------
# Choice rules


@pytest.mark.parametrize(
    ("definition", "location", "fragment"),
    [
        (choice({"Variable": "$.x", "IsNull": True}), "/States/S/Choices/0", "A Choice rule needs 'Next'"),
        (choice({"And": [rule(IsNull=True)], "Next": "Done"}), "/States/S/Choices/0/And/0/Next",
         "not supported in a nested Choice rule"),
        (choice(rule(StringEquals="a", NumericEquals=1)), "/States/S/Choices/0", "exactly one operator"),
        (choice(rule()), "/States/S/Choices/0", "needs a comparison operator"),
        (choice({"StringEquals": "a", "Next": "Done"}), "/States/S/Choices/0", "with 'StringEquals' needs 'Variable'"),
        (choice({"And": [], "Next": "Done"}), "/States/S/Choices/0/And", "non-empty list of Choice rules"),
        (choice({"Or": {"Variable": "$.a", "IsNull": True}, "Next": "Done"}), "/States/S/Choices/0/Or",
         "non-empty list"),
        (choice({"Not": [rule(IsNull=True)], "Next": "Done"}), "/States/S/Choices/0/Not", "must be a JSON object"),
        (choice({"Variable": "$.x", "Not": {"Variable": "$.y", "IsNull": True}, "Next": "Done"}),
         "/States/S/Choices/0/Variable", "can't be used with 'Not'"),
        (choice(rule(StringEquals=1)), "/States/S/Choices/0/StringEquals", "compared with a string"),
        (choice(rule(StringMatches=None)), "/States/S/Choices/0/StringMatches", "compared with a string"),
        (choice(rule(NumericEquals="1")), "/States/S/Choices/0/NumericEquals", "compared with a number"),
        (choice(rule(NumericLessThan=True)), "/States/S/Choices/0/NumericLessThan", "compared with a number"),
        (choice(rule(BooleanEquals="true")), "/States/S/Choices/0/BooleanEquals", "true or false"),
        (choice(rule(TimestampEquals="2020-01-01")), "/States/S/Choices/0/TimestampEquals", "RFC 3339"),
        (choice(rule(StringEqualsPath="foo")), "/States/S/Choices/0/StringEqualsPath", "not a valid path"),
        (choice(rule(IsPresent="yes")), "/States/S/Choices/0/IsPresent", "true or false"),
        (choice(rule(Variable="x", IsNull=True)), "/States/S/Choices/0/Variable", "not a valid path"),
        (choice(rule(IsNull=True, Foo=1)), "/States/S/Choices/0/Foo", "Field 'Foo' is not supported in a Choice rule"),
        ({"StartAt": "S", "States": {"S": {"Type": "Choice", "Choices": {"a": 1}}}}, "/States/S/Choices",
         "non-empty list of Choice rules"),
        ({"StartAt": "S", "States": {"S": {"Type": "Choice", "Choices": ["rule"]}}}, "/States/S/Choices/0",
         "must be a JSON object"),
    ],
)
def test_choice_rules(definition: dict[str, Any], location: str, fragment: str) -> None:
    assert_reports(definition, location, fragment)


def test_choice_default_is_optional() -> None:
    definition = choice(rule(BooleanEquals=True))
    del definition["States"]["S"]["Default"]
    assert_valid(definition)


# ---------------------------------------------------------------------------------------------
# Paths, `.$` keys and intrinsics


@pytest.mark.parametrize(
    ("state", "location", "fragment"),
    [
        ({"Type": "Pass", "InputPath": "foo", "End": True}, "/States/S/InputPath", "not a valid path"),
        ({"Type": "Pass", "OutputPath": "$.a[", "End": True}, "/States/S/OutputPath", "not a valid path"),
        ({"Type": "Pass", "OutputPath": 5, "End": True}, "/States/S/OutputPath", "path string or null"),
        ({"Type": "Pass", "ResultPath": "$.a[*]", "End": True}, "/States/S/ResultPath", "Reference Path"),
        ({"Type": "Pass", "ResultPath": "$$.Execution", "End": True}, "/States/S/ResultPath", "Reference Path"),
        ({"Type": "Pass", "ResultPath": "$var", "End": True}, "/States/S/ResultPath", "Reference Path"),
        ({"Type": "Wait", "SecondsPath": "seconds", "End": True}, "/States/S/SecondsPath", "not a valid path"),
        (task(TimeoutSecondsPath=10), "/States/S/TimeoutSecondsPath", "path string"),
        ({"Type": "Pass", "Parameters": {"a.$": 5}, "End": True}, "/States/S/Parameters/a.$",
         "path or an intrinsic function string"),
        ({"Type": "Pass", "Parameters": {"a.$": "value"}, "End": True}, "/States/S/Parameters/a.$",
         "must be a path"),
        ({"Type": "Pass", "Parameters": {"list": [1, {"deep": {"a.$": "$.["}}]}, "End": True},
         "/States/S/Parameters/list/1/deep/a.$", "not a valid path"),
        ({"Type": "Pass", "Parameters": {"a.$": "States.Format('{}'"}, "End": True}, "/States/S/Parameters/a.$",
         "not a valid intrinsic function"),
        ({"Type": "Pass", "Parameters": "x", "End": True}, "/States/S/Parameters", "must be a JSON object"),
        (task(ResultSelector={"a.$": "Payload"}), "/States/S/ResultSelector/a.$", "must be a path"),
        ({"Type": "Pass", "Assign": {"v.$": 1}, "End": True}, "/States/S/Assign/v.$", "path or an intrinsic"),
    ],
)
def test_paths_and_dynamic_values(state: dict[str, Any], location: str, fragment: str) -> None:
    assert_reports(one(state), location, fragment)


def test_result_path_null_and_variable_and_context_paths_are_accepted() -> None:
    assert_valid(one({"Type": "Pass", "ResultPath": None, "InputPath": None, "OutputPath": "$myVar.x",
                      "Parameters": {"a.$": "$$.Execution.Id", "b.$": "$myVar", "c.$": "$.items[?(@.n > 1)]",
                                     "d.$": "States.Array($.a, $$.State.Name)"}, "End": True}))


def test_dynamic_values_are_checked_even_without_the_intrinsics_module(monkeypatch: pytest.MonkeyPatch) -> None:
    # The module not written yet: no package attribute, and None in sys.modules makes the import fail.
    monkeypatch.delattr(emulator.asl, "intrinsics", raising=False)
    monkeypatch.setitem(sys.modules, "emulator.asl.intrinsics", None)
    assert_valid(one({"Type": "Pass", "Parameters": {"a.$": "States.Format('{}'"}, "End": True}))
    assert_reports(one({"Type": "Pass", "Parameters": {"a.$": "$.["}, "End": True}), "/States/S/Parameters/a.$",
                   "not a valid path")


# ---------------------------------------------------------------------------------------------
# Map and Parallel


@pytest.mark.parametrize(
    ("definition", "location", "fragment"),
    [
        (one({"Type": "Map", "End": True}), "/States/S", "needs one of 'ItemProcessor', 'Iterator'"),
        (mapping(Iterator={"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}), "/States/S",
         "only one of 'ItemProcessor', 'Iterator'"),
        (mapping(ItemSelector={}, Parameters={}), "/States/S", "only one of 'ItemSelector', 'Parameters'"),
        (mapping(MaxConcurrency=-1), "/States/S/MaxConcurrency", "integer from 0"),
        (mapping(MaxConcurrency=2, MaxConcurrencyPath="$.m"), "/States/S", "only one of 'MaxConcurrency'"),
        (mapping(ToleratedFailurePercentage=101), "/States/S/ToleratedFailurePercentage", "from 0 to 100"),
        (mapping(ToleratedFailureCount=-2), "/States/S/ToleratedFailureCount", "integer from 0"),
        (mapping(ToleratedFailureCount=1, ToleratedFailureCountPath="$.c"), "/States/S", "only one of"),
        (mapping(ItemsPath="$.a[*]"), "/States/S/ItemsPath", "single node"),
        (mapping(TimeoutSeconds=5), "/States/S/TimeoutSeconds", "not supported in a Map state"),
        (mapping(ItemReader={"Parameters": {}}), "/States/S/ItemReader", "An ItemReader needs 'Resource'"),
        (mapping(ItemReader={"Resource": "r", "Foo": 1}), "/States/S/ItemReader/Foo", "not supported in an ItemReader"),
        (mapping(ItemBatcher={"MaxItemsPerBatch": -1}), "/States/S/ItemBatcher/MaxItemsPerBatch", "integer from 0"),
        (mapping(ItemSelector={"a.$": "nope"}), "/States/S/ItemSelector/a.$", "must be a path"),
        (mapping({"A": {"Type": "Passs", "End": True}}), "/States/S/ItemProcessor/States/A/Type",
         "is not a state type"),
        (one({"Type": "Map", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "PARALLEL"}, "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}}),
         "/States/S/ItemProcessor/ProcessorConfig/Mode", "'INLINE', 'DISTRIBUTED'"),
        (one({"Type": "Map", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"ExecutionType": "FAST"}, "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}}),
         "/States/S/ItemProcessor/ProcessorConfig/ExecutionType", "'STANDARD', 'EXPRESS'"),
        (one({"Type": "Map", "End": True, "ItemProcessor": {
            "QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}}),
         "/States/S/ItemProcessor/QueryLanguage", "Field 'QueryLanguage' is not supported"),
        (one({"Type": "Map", "End": True, "ItemProcessor": {"States": {"A": {"Type": "Succeed"}}}}),
         "/States/S/ItemProcessor", "needs 'StartAt'"),
        (parallel(), "/States/S/Branches", "non-empty list of branches"),
        (one({"Type": "Parallel", "Branches": {"StartAt": "A"}, "End": True}), "/States/S/Branches", "non-empty list"),
        (parallel({"States": {"A": {"Type": "Succeed"}}}), "/States/S/Branches/0", "needs 'StartAt'"),
        (parallel("branch"), "/States/S/Branches/0", "must be a JSON object"),
        (parallel(branch(A={"Type": "Pass"})), "/States/S/Branches/0/States/A", "has neither 'Next' nor 'End'"),
        (parallel(branch(A={"Type": "Succeed"}), Resource="r"), "/States/S/Resource",
         "not supported in a Parallel state"),
    ],
)
def test_map_and_parallel(definition: dict[str, Any], location: str, fragment: str) -> None:
    assert_reports(definition, location, fragment)


# ---------------------------------------------------------------------------------------------
# QueryLanguage


JSONATA_TOP = {"QueryLanguage": "JSONata"}


@pytest.mark.parametrize(
    ("definition", "location", "fragment"),
    [
        (one({"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}, **JSONATA_TOP), "/States/S/QueryLanguage",
         "can not be 'JSONPath'"),
        (one({"Type": "Pass", "QueryLanguage": "XPath", "End": True}), "/States/S/QueryLanguage",
         "'JSONPath', 'JSONata'"),
        (one({"Type": "Pass", "InputPath": "$", "End": True}, **JSONATA_TOP), "/States/S/InputPath",
         "field 'InputPath' is only supported for the 'JSONPath' QueryLanguage"),
        (one(task(Parameters={}), **JSONATA_TOP), "/States/S/Parameters", "only supported for the 'JSONPath'"),
        (one(task(ResultSelector={}), **JSONATA_TOP), "/States/S/ResultSelector", "only supported for the 'JSONPath'"),
        (one({"Type": "Pass", "ResultPath": "$.a", "End": True}, **JSONATA_TOP), "/States/S/ResultPath",
         "only supported for the 'JSONPath'"),
        (one({"Type": "Wait", "SecondsPath": "$.s", "End": True}, **JSONATA_TOP), "/States/S/SecondsPath",
         "only supported for the 'JSONPath'"),
        (one({"Type": "Fail", "CausePath": "$.c"}, **JSONATA_TOP), "/States/S/CausePath",
         "only supported for the 'JSONPath'"),
        ({**mapping(ItemsPath="$.a"), **JSONATA_TOP}, "/States/S/ItemsPath", "only supported for the 'JSONPath'"),
        ({**choice({"Variable": "$.x", "IsNull": True, "Next": "Done"}), **JSONATA_TOP}, "/States/S/Choices/0/Variable",
         "only supported for the 'JSONPath'"),
        ({**choice({"Condition": "{% true %}"}), **JSONATA_TOP}, "/States/S/Choices/0", "needs 'Next'"),
        ({**choice({"Next": "Done"}), **JSONATA_TOP}, "/States/S/Choices/0", "needs 'Condition'"),
        ({**choice({"Condition": "yes", "Next": "Done"}), **JSONATA_TOP}, "/States/S/Choices/0/Condition",
         "JSONata expression"),
        (one(task(Arguments={})), "/States/S/Arguments",
         "field 'Arguments' is only supported for the 'JSONata' QueryLanguage"),
        (one({"Type": "Pass", "Output": {}, "End": True}), "/States/S/Output", "only supported for the 'JSONata'"),
        (choice(rule(IsNull=True, Condition="{% true %}")), "/States/S/Choices/0/Condition",
         "only supported for the 'JSONata'"),
        (mapping(Items=[1]), "/States/S/Items", "only supported for the 'JSONata'"),
        (one(task(Catch=[{"ErrorEquals": ["X"], "Next": "S", "Output": 1}])), "/States/S/Catch/0/Output",
         "only supported for the 'JSONata'"),
        (one({"Type": "Pass", "Output": {"a": ["{% $x"]}, "End": True}, **JSONATA_TOP), "/States/S/Output/a/0",
         "does not end with '%}'"),
        (one({"Type": "Pass", "Output": "{%  %}", "End": True}, **JSONATA_TOP), "/States/S/Output", "is empty"),
        (one(task(TimeoutSeconds="10"), **JSONATA_TOP), "/States/S/TimeoutSeconds", "JSONata expression"),
        (one(task(TimeoutSeconds="{% 10"), **JSONATA_TOP), "/States/S/TimeoutSeconds", "does not end with '%}'"),
        (one(task(TimeoutSeconds="{% 10 %}")), "/States/S/TimeoutSeconds", "integer from 1"),
        ({**mapping(Items="items"), **JSONATA_TOP}, "/States/S/Items", "JSONata expression"),
        ({**mapping(Items=5), **JSONATA_TOP}, "/States/S/Items", "JSON array or a JSONata expression"),
    ],
)
def test_query_language(definition: dict[str, Any], location: str, fragment: str) -> None:
    assert_reports(definition, location, fragment)


def test_nested_states_take_the_machines_language_not_the_enclosing_states() -> None:
    # Measured on AWS: QueryLanguage on a Map does not carry into its ItemProcessor.
    inner = {"P": {"Type": "Pass", "Output": 1, "End": True}}
    assert_reports(mapping(inner, QueryLanguage="JSONata"), "/States/S/ItemProcessor/States/P/Output",
                   "only supported for the 'JSONata'")
    assert_valid({**mapping(inner), **JSONATA_TOP})


def test_jsonata_strings_in_a_jsonpath_state_are_plain_text() -> None:
    assert_valid(one({"Type": "Pass", "Result": "{% not closed", "Parameters": {"a": "{%"}, "End": True}))


def test_a_definition_that_contains_itself_is_refused_not_hung_on() -> None:
    definition: dict[str, Any] = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    definition["States"]["A"]["Result"] = definition
    with pytest.raises(DefinitionError) as info:
        emulator.StateMachine(definition)
    assert "contains itself" in str(info.value)
