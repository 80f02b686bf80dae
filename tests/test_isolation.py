"""No caller-visible mutation: handlers, the caller and the definition never share a live value.

A handler that changes its event in place, or a result it keeps, must not change what any
later state, iteration, sibling branch or execution sees; nor may the caller's input, the
caller's definition dict or `$$.Execution.Input`. Handler results that are not JSON fail as
Lambda's Python runtime fails them: Runtime.MarshalError.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import threading
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import emulator
from tests.conftest import chain

FN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def _task(name: str, **extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": FN.format(name), **extra}


def _vandal(event: Any) -> dict[str, Any]:
    """Changes everything it can reach in its event, in place; returns what it first saw."""
    seen = copy.deepcopy(event)
    _scramble(event)
    return {"seen": seen}


def _scramble(value: Any) -> None:
    if isinstance(value, dict):
        for child in list(value.values()):
            _scramble(child)
        value["vandal"] = True
        value.pop(next(iter(value)), None)
    elif isinstance(value, list):
        for child in value:
            _scramble(child)
        value.append("vandal")


# -- one test per aliasing path ---------------------------------------------------------------

def test_static_parameters_are_not_changed_for_later_executions() -> None:
    definition = chain(("T", _task("vandal", Parameters={"cfg": {"tags": ["a"], "n": 1}})))
    sm = emulator.StateMachine(definition, resources={"vandal": _vandal})
    first, second = sm.run({}), sm.run({})
    assert first.output == second.output == {"seen": {"cfg": {"tags": ["a"], "n": 1}}}
    assert sm.definition["States"]["T"]["Parameters"] == {"cfg": {"tags": ["a"], "n": 1}}


def test_caller_input_and_execution_input_are_not_changed() -> None:
    caller = {"order": {"lines": [{"sku": "x"}]}, "id": 7}
    original = copy.deepcopy(caller)
    definition = chain(
        ("T", _task("vandal", ResultPath=None)),
        ("Look", {"Type": "Pass", "Parameters": {"data.$": "$", "input.$": "$$.Execution.Input"}}),
    )
    ex = emulator.run(definition, caller, resources={"vandal": _vandal})
    assert ex.status == "SUCCEEDED"
    assert caller == original
    assert ex.output == {"data": original, "input": original}
    assert ex.input == original


def test_execution_input_passed_to_a_handler_is_not_changed() -> None:
    definition = chain(
        ("T", _task("vandal", Parameters={"whole.$": "$$.Execution.Input"}, ResultPath=None)),
        ("Again", _task("vandal", Parameters={"whole.$": "$$.Execution.Input"})),
    )
    ex = emulator.run(definition, {"a": [1, {"b": 2}]}, resources={"vandal": _vandal})
    assert ex.output == {"seen": {"whole": {"a": [1, {"b": 2}]}}}


def test_pass_result_is_the_same_for_every_execution() -> None:
    definition = chain(("P", {"Type": "Pass", "Result": {"limits": {"max": 3}, "tags": []}}), ("T", _task("vandal")))
    sm = emulator.StateMachine(definition, resources={"vandal": _vandal})
    outputs = [sm.run({}).output for _ in range(3)]
    assert outputs == [{"seen": {"limits": {"max": 3}, "tags": []}}] * 3


def test_pass_result_reused_in_a_loop_is_fresh_each_round() -> None:
    def count_and_vandalise(event: dict[str, Any]) -> dict[str, Any]:
        seen = len(event["r"]["items"])
        event["r"]["items"].append("x")
        return {"i": event["i"] + 1, "seen": [*event["seen"], seen]}

    definition = {
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Result": {"i": 0, "seen": []}, "Next": "P"},
            "P": {"Type": "Pass", "Result": {"items": []}, "ResultPath": "$.r", "Next": "T"},
            "T": _task("count", Next="Loop"),
            "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThan": 4, "Next": "P"}],
                     "Default": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    ex = emulator.run(definition, {}, resources={"count": count_and_vandalise})
    assert ex.output == {"i": 4, "seen": [0, 0, 0, 0]}


@pytest.mark.parametrize("concurrency", [1, 0])
def test_static_item_selector_is_fresh_for_each_map_iteration(concurrency: int) -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def append(event: dict[str, Any]) -> int:
        with lock:
            seen.append(len(event["cfg"]["list"]))
        event["cfg"]["list"].append(event["value"])
        return len(event["cfg"]["list"])

    definition = chain(("M", {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": concurrency,
        "ItemSelector": {"cfg": {"list": []}, "value.$": "$$.Map.Item.Value"},
        "ItemProcessor": {"StartAt": "T", "States": {"T": _task("append", End=True)}},
    }))
    sm = emulator.StateMachine(definition, resources={"append": append})
    ex = sm.run({"items": list(range(6))})
    assert ex.output == [1] * 6 and seen == [0] * 6
    assert sm.run({"items": [1]}).output == [1]


def test_map_items_shared_by_iterations_and_the_input_are_not_changed() -> None:
    item = {"deep": {"k": [1]}}
    definition = chain(
        ("M", {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.out",
               "ItemProcessor": {"StartAt": "T", "States": {"T": _task("vandal", End=True)}}}),
    )
    ex = emulator.run(definition, {"items": [item, item, item]}, resources={"vandal": _vandal})
    assert ex.output["out"] == [{"seen": {"deep": {"k": [1]}}}] * 3
    assert ex.output["items"] == [{"deep": {"k": [1]}}] * 3


def test_jsonata_constant_arguments_are_fresh_for_every_call() -> None:
    definition = {
        "QueryLanguage": "JSONata", "StartAt": "M",
        "States": {"M": {
            "Type": "Map", "Items": "{% [1, 2, 3] %}", "MaxConcurrency": 1,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {
                "Type": "Task", "Resource": FN.format("vandal"), "Arguments": {"cfg": {"tags": ["a"]}}, "End": True,
            }}},
            "End": True,
        }},
    }
    sm = emulator.StateMachine(definition, resources={"vandal": _vandal})
    expected = [{"seen": {"cfg": {"tags": ["a"]}}}] * 3
    assert sm.run({}).output == expected
    assert sm.run({}).output == expected


def test_parallel_branches_do_not_see_a_sibling_change_their_shared_input() -> None:
    mutated = threading.Event()

    def first(event: dict[str, Any]) -> str:
        event["shared"]["list"].append("from branch 1")
        event["extra"] = True
        mutated.set()
        return "done"

    def second(event: dict[str, Any]) -> Any:
        mutated.wait(5)  # when the branches run on threads, look only after the sibling changed its copy
        return event

    definition = chain(("Par", {"Type": "Parallel", "Branches": [
        {"StartAt": "A", "States": {"A": _task("first", End=True)}},
        {"StartAt": "B", "States": {"B": _task("second", End=True)}},
        {"StartAt": "C", "States": {"C": {"Type": "Pass", "End": True}}},
    ]}))
    ex = emulator.run(definition, {"shared": {"list": ["original"]}}, resources={"first": first, "second": second})
    assert ex.output == ["done", {"shared": {"list": ["original"]}}, {"shared": {"list": ["original"]}}]
    assert mutated.is_set()


def test_a_result_the_handler_keeps_and_changes_later_does_not_change_the_run() -> None:
    kept: dict[str, Any] = {"count": 1, "tags": ["a"]}

    def give(event: Any) -> dict[str, Any]:
        return kept

    def change_kept(event: Any) -> str:
        kept["count"] = 99
        kept["tags"].clear()
        return "changed"

    definition = chain(("Give", _task("give", ResultPath="$.kept")), ("Change", _task("change", ResultPath="$.c")))
    ex = emulator.run(definition, {}, resources={"give": give, "change": change_kept})
    assert ex.output == {"kept": {"count": 1, "tags": ["a"]}, "c": "changed"}


def test_retry_attempts_each_get_a_fresh_payload() -> None:
    calls: list[Any] = []

    def fail_after_vandalising(event: dict[str, Any]) -> Any:
        calls.append(copy.deepcopy(event))
        _scramble(event)
        if len(calls) < 3:
            raise RuntimeError("again")
        return "ok"

    definition = chain(("T", _task("fn", Parameters={"cfg": {"n": [1]}},
                                   Retry=[{"ErrorEquals": ["RuntimeError"], "MaxAttempts": 3}])))
    ex = emulator.run(definition, {}, resources={"fn": fail_after_vandalising})
    assert ex.output == "ok" and calls == [{"cfg": {"n": [1]}}] * 3


@pytest.mark.parametrize("resource", ["function", "invoke", "arn"])
def test_every_handler_kind_gets_its_own_copy(resource: str) -> None:
    if resource == "invoke":
        task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload",
                "Parameters": {"FunctionName": "vandal", "Payload": {"cfg": {"n": [1]}}}}
        resources = {"vandal": _vandal}
    elif resource == "arn":
        task = {"Type": "Task", "Resource": "arn:aws:states:::custom:thing", "Parameters": {"cfg": {"n": [1]}}}
        resources = {"arn:aws:states:::custom:thing": _vandal}
    else:
        task = _task("vandal", Parameters={"cfg": {"n": [1]}})
        resources = {"vandal": _vandal}
    sm = emulator.StateMachine(chain(("T", task)), resources=resources)
    assert sm.run({}).output == sm.run({}).output == {"seen": {"cfg": {"n": [1]}}}


def test_caller_changing_the_output_does_not_change_the_definition() -> None:
    sm = emulator.StateMachine(chain(("P", {"Type": "Pass", "Result": {"tags": ["a"]}})))
    first = sm.run({})
    first.output["tags"].append("caller")
    assert sm.run({}).output == {"tags": ["a"]}


def test_caller_changing_its_definition_dict_does_not_change_the_machine() -> None:
    definition = chain(("P", {"Type": "Pass", "Result": {"tags": ["a"]}}))
    sm = emulator.StateMachine(definition)
    definition["States"]["P"]["Result"]["tags"].append("caller")
    assert sm.run({}).output == {"tags": ["a"]}


def test_caller_changing_its_input_while_the_execution_runs() -> None:
    release = threading.Event()

    def wait_for_caller(event: Any) -> str:
        release.wait(5)
        return "waited"

    definition = chain(
        ("T", _task("wait", ResultPath=None)),
        ("Look", {"Type": "Pass", "Parameters": {"data.$": "$", "input.$": "$$.Execution.Input"}}),
    )
    caller = {"n": [1]}
    running = emulator.StateMachine(definition, resources={"wait": wait_for_caller}).start(caller)
    caller["n"].append(2)
    caller["new"] = True
    release.set()
    ex = running.wait(10)
    assert ex.output == {"data": {"n": [1]}, "input": {"n": [1]}}
    assert ex.input == {"n": [1]}


def test_caller_changing_history_events_does_not_change_other_events_or_executions() -> None:
    definition = chain(("M", {"Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass",
                                                                                              "End": True}}}}))
    sm = emulator.StateMachine(definition)
    for event in sm.run([1]).history:
        for details in (v for k, v in event.items() if k.endswith("EventDetails")):
            for value in details.values():
                if isinstance(value, dict):
                    value["changed"] = True
            details["changed"] = True
    for event in sm.run([1]).history:
        assert "changed" not in json.dumps(event, default=str)


def test_input_that_is_not_json_is_refused_with_a_clear_message() -> None:
    with pytest.raises(TypeError, match="execution input is not JSON: Object of type set"):
        emulator.run(chain(("P", {"Type": "Pass"})), {"s": {1, 2}})


# -- the property: mutating handlers change nothing anyone else observes ---------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=6,
)
MUTATIONS = st.lists(
    st.tuples(st.integers(0, 40), st.sampled_from(["set", "delete", "clear", "append", "replace"]), JSON_VALUES),
    max_size=8,
)


def _containers(value: Any) -> list[Any]:
    found: list[Any] = []
    todo = [value]
    while todo:
        node = todo.pop()
        if isinstance(node, dict | list):
            found.append(node)
            todo.extend(node.values() if isinstance(node, dict) else node)
    return found


def _mutate(event: Any, mutations: list[tuple[int, str, Any]]) -> None:
    for index, kind, generated in mutations:
        value = copy.deepcopy(generated)  # inserted once, so it never ends up inside itself
        found = _containers(event)
        if not found:
            return
        target = found[index % len(found)]
        if kind == "clear":
            target.clear()
        elif isinstance(target, dict):
            if kind == "delete" and target:
                del target[next(iter(target))]
            else:
                target[f"k{index}"] = value
        elif kind == "delete" and target:
            target.pop(index % len(target))
        elif kind == "replace" and target:
            target[index % len(target)] = value
        else:
            target.append(value)


PROPERTY_MACHINE = chain(
    ("Static", {"Type": "Pass", "Result": {"cfg": {"tags": ["x", "y"], "limits": {"max": 3}}},
                "ResultPath": "$.static"}),
    ("Touch", _task("touch", ResultPath=None)),
    ("Each", {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.results",
              "ItemSelector": {"fixed": {"deep": [1, {"x": 2}]}, "value.$": "$$.Map.Item.Value",
                               "input.$": "$$.Execution.Input"},
              "ItemProcessor": {"StartAt": "T", "States": {
                  "T": _task("touch", ResultPath=None, Next="Look"),
                  "Look": {"Type": "Pass", "Parameters": {"after.$": "$"}, "End": True}}}}),
    ("Par", {"Type": "Parallel", "ResultPath": "$.par", "Branches": [
        {"StartAt": "A", "States": {"A": _task("touch", ResultPath=None, End=True)}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}},
    ]}),
    ("Final", {"Type": "Pass", "Parameters": {"input.$": "$$.Execution.Input", "data.$": "$"}}),
)


@settings(max_examples=30, deadline=None)
@given(data=st.dictionaries(st.sampled_from(["a", "b", "c"]), JSON_VALUES, max_size=3),
       items=st.lists(JSON_VALUES, min_size=1, max_size=4), mutations=MUTATIONS)
def test_mutating_handlers_change_nothing_observable(data: dict[str, Any], items: list[Any],
                                                     mutations: list[tuple[int, str, Any]]) -> None:
    caller = {**data, "items": items}
    original = copy.deepcopy(caller)
    calm = emulator.StateMachine(PROPERTY_MACHINE, resources={"touch": lambda event: None}).run(caller)
    sm = emulator.StateMachine(PROPERTY_MACHINE, resources={"touch": lambda event: _mutate(event, mutations)})
    first, second = sm.run(caller), sm.run(caller)
    assert calm.status == first.status == second.status == "SUCCEEDED"
    assert first.output == second.output == calm.output
    assert caller == original and calm.output["input"] == original


# -- results that are not JSON: Runtime.MarshalError ------------------------------------------

class Thing:
    pass


def _circular() -> list[Any]:
    loop: list[Any] = []
    loop.append(loop)
    return loop


NOT_JSON = [
    pytest.param(datetime.datetime(2024, 1, 2), "Object of type datetime is not JSON serializable", id="datetime"),
    pytest.param({"d": datetime.date(2024, 1, 2)}, "Object of type date is not JSON serializable", id="date"),
    pytest.param({1, 2}, "Object of type set is not JSON serializable", id="set"),
    pytest.param({"b": b"raw"}, "Object of type bytes is not JSON serializable", id="nested-bytes"),
    pytest.param(b"\xff not json", "Object of type bytes is not JSON serializable", id="bytes-not-json"),
    pytest.param([Thing()], "Object of type Thing is not JSON serializable", id="object"),
    pytest.param({(1, 2): "x"}, "keys must be str, int, float, bool or None, not tuple", id="tuple-key"),
    pytest.param({"x": math.nan}, "Out of range float values are not JSON compliant", id="nan"),
    pytest.param([math.inf], "Out of range float values are not JSON compliant", id="infinity"),
    pytest.param(-math.inf, "Out of range float values are not JSON compliant", id="-infinity"),
    pytest.param(Decimal("NaN"), "Out of range float values are not JSON compliant", id="decimal-nan"),
    pytest.param(Decimal("Infinity"), "Out of range float values are not JSON compliant", id="decimal-infinity"),
    pytest.param(_circular(), "Circular reference detected", id="circular"),
]


def _marshal_cause(message: str) -> str:
    return json.dumps({"errorMessage": f"Unable to marshal response: {message}", "errorType": "Runtime.MarshalError",
                       "stackTrace": []}, separators=(",", ":"))


@pytest.mark.parametrize(("result", "message"), NOT_JSON)
def test_result_that_is_not_json_fails_with_marshal_error(result: Any, message: str) -> None:
    definition = chain(("T", _task("fn", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}])),
                       ("Caught", {"Type": "Pass"}))
    ex = emulator.run(definition, {}, resources={"fn": lambda event: result})
    assert ex.status == "SUCCEEDED"
    assert ex.output == {"Error": "Runtime.MarshalError", "Cause": _marshal_cause(message)}
    failed = next(e for e in ex.history if e["type"] == "LambdaFunctionFailed")
    assert failed["lambdaFunctionFailedEventDetails"] == {"error": "Runtime.MarshalError",
                                                          "cause": _marshal_cause(message)}


def test_marshal_error_is_retried_and_caught_by_name() -> None:
    calls = []

    def when(event: Any) -> Any:
        calls.append(1)
        return {"at": datetime.datetime(2024, 1, 2)}

    definition = chain(
        ("T", _task("fn", Retry=[{"ErrorEquals": ["Runtime.MarshalError"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                    Catch=[{"ErrorEquals": ["Runtime.MarshalError"], "ResultPath": "$.error", "Next": "Caught"}])),
        ("Caught", {"Type": "Pass"}),
    )
    ex = emulator.run(definition, {"keep": 1}, resources={"fn": when})
    assert len(calls) == 3
    assert ex.output == {"keep": 1, "error": {"Error": "Runtime.MarshalError",
                                              "Cause": _marshal_cause("Object of type datetime is not JSON serializable")}}


def test_marshal_error_through_lambda_invoke_and_uncaught() -> None:
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "fn", "Payload": {}}}
    ex = emulator.run(chain(("T", task)), {}, resources={"fn": lambda event: {"s": {1}}})
    assert ex.status == "FAILED" and ex.error == "Runtime.MarshalError"
    assert ex.cause == _marshal_cause("Object of type set is not JSON serializable")


@pytest.mark.parametrize(("result", "expected"), [
    pytest.param({1: "int key", 2.5: "float key", None: "null key", False: "bool key"},
                 {"1": "int key", "2.5": "float key", "null": "null key", "false": "bool key"}, id="keys"),
    pytest.param(("a", ("b",)), ["a", ["b"]], id="tuples"),
    pytest.param({"d": Decimal("12.50"), "i": Decimal("3"), "e": Decimal("1E+2")}, {"d": 12.5, "i": 3, "e": 100.0},
                 id="decimal"),
    pytest.param(b'{"raw": [1, "bytes"]}', {"raw": [1, "bytes"]}, id="bytes-json"),
])
def test_results_lambda_marshals_as_json_dumps_does(result: Any, expected: Any) -> None:
    ex = emulator.run(chain(("T", _task("fn"))), {}, resources={"fn": lambda event: result})
    assert ex.status == "SUCCEEDED" and ex.output == expected
    assert json.loads(next(e for e in ex.history if e["type"] == "LambdaFunctionSucceeded")
                      ["lambdaFunctionSucceededEventDetails"]["output"]) == expected
