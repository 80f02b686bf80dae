"""InputPath → Parameters → ResultSelector → ResultPath → OutputPath, and the context object."""

from __future__ import annotations

import copy

import pytest

import emulator
from tests.conftest import chain

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:echo"


def test_full_pipeline_in_aws_order() -> None:
    definition = chain((
        "T",
        {
            "Type": "Task",
            "Resource": LAMBDA,
            "InputPath": "$.job",
            "Parameters": {"id.$": "$.id", "fixed": 1, "nested": {"list": [{"deep.$": "$.id"}]}},
            "ResultSelector": {"got.$": "$.received", "const": "c"},
            "ResultPath": "$.job.result",
            "OutputPath": "$.job",
        },
    ))
    seen = []

    def echo(event):
        seen.append(event)
        return {"received": event, "noise": True}

    ex = emulator.run(definition, {"job": {"id": 7}, "other": 1}, resources={"echo": echo})
    assert seen == [{"id": 7, "fixed": 1, "nested": {"list": [{"deep": 7}]}}]
    assert ex.status == "SUCCEEDED"
    assert ex.output == {"id": 7, "result": {"got": seen[0], "const": "c"}}


def test_null_paths() -> None:
    definition = chain(
        ("A", {"Type": "Pass", "InputPath": None, "Result": {"r": 1}, "ResultPath": "$.r"}),
        ("B", {"Type": "Pass", "Result": "ignored", "ResultPath": None}),
        ("C", {"Type": "Pass", "OutputPath": None}),
    )
    ex = emulator.run(definition, {"in": 1})
    assert ex.output == {}
    events = [e for e in ex.history if e["type"] == "PassStateExited"]
    assert events[0]["stateExitedEventDetails"]["output"] == '{"in":1,"r":{"r":1}}'
    assert events[1]["stateExitedEventDetails"]["output"] == '{"in":1,"r":{"r":1}}'


def test_input_is_never_mutated() -> None:
    data = {"a": {"b": 1}, "obj1": {"x": 1}, "obj2": {"y": 2}}
    frozen = copy.deepcopy(data)
    definition = chain(
        ("A", {"Type": "Pass", "Result": 2, "ResultPath": "$.a.c"}),
        ("B", {"Type": "Pass", "Parameters": {"m.$": "States.JsonMerge($.obj1, $.obj2, false)"}, "ResultPath": "$.m"}),
    )
    ex = emulator.run(definition, data)
    assert ex.output["a"] == {"b": 1, "c": 2}
    assert ex.output["m"] == {"m": {"x": 1, "y": 2}}
    assert data == frozen


def test_result_path_creates_missing_objects() -> None:
    ex = emulator.run(chain(("A", {"Type": "Pass", "Result": 5, "ResultPath": "$.x.y.z"})), {"k": 1})
    assert ex.output == {"k": 1, "x": {"y": {"z": 5}}}


def test_missing_input_path_is_a_runtime_error_with_awss_text() -> None:
    ex = emulator.run(chain(("pass", {"Type": "Pass", "InputPath": "$.NoSuch"})), {})
    assert ex.status == "FAILED"
    assert ex.error == "States.Runtime"
    assert ex.cause == (
        "An error occurred while executing the state 'pass' (entered at the event id #2). "
        "Invalid path '$.NoSuch' : No results for path: $['NoSuch']"
    )


def test_missing_parameter_path_names_the_field() -> None:
    ex = emulator.run(chain(("pass", {"Type": "Pass", "Parameters": {"value.$": "$.nope"}})), {"a": 1})
    assert ex.status == "FAILED"
    assert "The JSONPath '$.nope' specified for the field 'value.$' could not be found in the input '{\"a\":1}'" in ex.cause


def test_context_object() -> None:
    definition = chain((
        "Ctx",
        {
            "Type": "Pass",
            "Parameters": {
                "name.$": "$$.Execution.Name",
                "id.$": "$$.Execution.Id",
                "input.$": "$$.Execution.Input",
                "state.$": "$$.State.Name",
                "sm.$": "$$.StateMachine.Name",
                "role.$": "$$.Execution.RoleArn",
                "start.$": "$$.Execution.StartTime",
                "entered.$": "$$.State.EnteredTime",
            },
        },
    ))
    ex = emulator.StateMachine(definition, name="Orders").run({"q": 1}, name="exec-1")
    out = ex.output
    assert out["name"] == "exec-1"
    assert out["id"] == "arn:aws:states:us-east-1:123456789012:execution:Orders:exec-1"
    assert out["input"] == {"q": 1}
    assert out["state"] == "Ctx"
    assert out["sm"] == "Orders"
    assert out["role"].startswith("arn:aws:iam::")
    assert out["start"].endswith("Z") and "T" in out["start"]
    assert out["entered"] >= out["start"]


def test_map_item_context_in_item_selector() -> None:
    definition = chain((
        "M",
        {
            "Type": "Map",
            "ItemsPath": "$.xs",
            "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "c.$": "$.c"},
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        },
    ))
    ex = emulator.run(definition, {"xs": ["a", "b"], "c": 0})
    assert ex.output == [{"i": 0, "v": "a", "c": 0}, {"i": 1, "v": "b", "c": 0}]


def test_legacy_map_parameters_and_iterator() -> None:
    definition = chain((
        "M",
        {
            "Type": "Map",
            "ItemsPath": "$.xs",
            "Parameters": {"v.$": "$$.Map.Item.Value"},
            "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        },
    ))
    assert emulator.run(definition, {"xs": [1, 2]}).output == [{"v": 1}, {"v": 2}]


@pytest.mark.parametrize("source", ["dict", "text", "file"])
def test_definition_sources(tmp_path, source: str) -> None:
    import json

    definition = chain(("A", {"Type": "Pass", "Result": 1}))
    if source == "text":
        definition = json.dumps(definition)
    elif source == "file":
        path = tmp_path / "m.json"
        path.write_text(json.dumps(definition))
        definition = str(path)
    assert emulator.run(definition).output == 1


def test_state_machine_parses_once_runs_many() -> None:
    sm = emulator.StateMachine(chain(("A", {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}})))
    assert [sm.run({"n": i}).output for i in range(3)] == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_data_limit_exceeded() -> None:
    big = "x" * (256 * 1024)
    ex = emulator.run(chain(("A", {"Type": "Pass", "Result": big})), {})
    assert ex.status == "FAILED"
    assert ex.error == "States.DataLimitExceeded"
