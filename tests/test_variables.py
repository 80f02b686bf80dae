"""Workflow variables in JSONPath states: Assign, $name references, scopes and history."""

from __future__ import annotations

import emulator
from tests.conftest import chain


def _exited(ex, name: str) -> dict:
    return next(e["stateExitedEventDetails"] for e in ex.history
                if e["type"].endswith("StateExited") and e["stateExitedEventDetails"]["name"] == name)


def test_assign_and_reference_in_every_kind_of_field() -> None:
    definition = chain(
        ("Set", {"Type": "Pass", "Assign": {"n": 2, "who": "x", "obj": {"k": [1, 2]}, "from.$": "$.in"}}),
        ("Use", {"Type": "Pass", "Parameters": {"n.$": "$n", "k.$": "$obj.k[1]", "f.$": "$from",
                                                "s.$": "States.Format('{}-{}', $who, $n)"}}),
    )
    ex = emulator.run(definition, {"in": "input"})
    assert ex.output == {"n": 2, "k": 2, "f": "input", "s": "x-2"}
    assert _exited(ex, "Set")["assignedVariables"] == {"n": "2", "who": '"x"', "obj": '{"k":[1,2]}',
                                                      "from": '"input"'}
    assert _exited(ex, "Set")["assignedVariablesDetails"] == {"truncated": False}
    assert "assignedVariables" not in _exited(ex, "Use")


def test_assign_reads_the_result_and_values_take_effect_after_the_state() -> None:
    definition = chain(
        ("A", {"Type": "Pass", "Assign": {"x": 1}}),
        ("B", {"Type": "Pass", "Parameters": {"p": "param"}, "Assign": {"x": 2, "old.$": "$x", "fromResult.$": "$.p"},
               "ResultPath": "$.b"}),
        ("C", {"Type": "Pass", "Parameters": {"x.$": "$x", "old.$": "$old", "r.$": "$fromResult"}}),
    )
    assert emulator.run(definition, {}).output == {"x": 2, "old": 1, "r": "param"}


def test_task_assign_sees_result_after_result_selector() -> None:
    definition = chain(
        ("T", {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
               "ResultSelector": {"v.$": "$.value"}, "Assign": {"got.$": "$.v"}, "ResultPath": None}),
        ("Out", {"Type": "Pass", "Parameters": {"got.$": "$got"}}),
    )
    ex = emulator.run(definition, {}, resources={"f": lambda e: {"value": 9}})
    assert ex.output == {"got": 9}


def test_choice_and_wait_reference_variables() -> None:
    definition = {"StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"limit": 3, "pause": 60}, "Next": "W"},
        "W": {"Type": "Wait", "SecondsPath": "$pause", "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThanPath": "$limit", "Next": "Inc"}],
              "Default": "Done"},
        "Inc": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "C"},
        "Done": {"Type": "Succeed"}}}
    ex = emulator.run(definition, {"n": 0})
    assert ex.output == {"n": 3}


def test_catch_assign_sees_the_error_output() -> None:
    definition = chain(
        ("F", {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
               "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"err.$": "$.Error"}, "Next": "R"}]}),
        ("R", {"Type": "Pass", "Parameters": {"err.$": "$err"}}),
    )

    def boom(event):
        raise KeyError("k")

    assert emulator.run(definition, {}, resources={"f": boom}).output == {"err": "KeyError"}


def test_map_iterations_read_outer_but_assign_their_own() -> None:
    definition = chain(
        ("Set", {"Type": "Pass", "Assign": {"x": 10, "items": [1, 2, 3]}}),
        ("M", {"Type": "Map", "ItemsPath": "$items", "ItemProcessor": {"StartAt": "In", "States": {
            "In": {"Type": "Pass", "Assign": {"x.$": "$"}, "Next": "Read"},
            "Read": {"Type": "Pass", "Parameters": {"inner.$": "$x"}, "End": True}}}, "ResultPath": "$.m"}),
        ("After", {"Type": "Pass", "Parameters": {"outer.$": "$x", "m.$": "$.m"}}),
    )
    assert emulator.run(definition, {}).output == {"outer": 10, "m": [{"inner": 1}, {"inner": 2}, {"inner": 3}]}


def test_parallel_branches_do_not_leak_assignments() -> None:
    definition = chain(
        ("Set", {"Type": "Pass", "Assign": {"x": "outer"}}),
        ("P", {"Type": "Parallel", "ResultPath": None, "Branches": [
            {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Assign": {"x": "b1", "y": 1}, "End": True}}},
            {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "Parameters": {"x.$": "$x"}, "End": True}}}]}),
        ("After", {"Type": "Pass", "Parameters": {"x.$": "$x"}}),
    )
    assert emulator.run(definition, {}).output == {"x": "outer"}


def test_undefined_variable_fails_with_runtime_error() -> None:
    ex = emulator.run(chain(("A", {"Type": "Pass", "Parameters": {"v.$": "$nope"}})), {})
    assert ex.status == "FAILED" and ex.error == "States.Runtime"


def test_variable_size_limit() -> None:
    limit = 256 * 1024
    fits = emulator.run(chain(("A", {"Type": "Pass", "Result": "y" * (limit - 100), "Assign": {"v.$": "$"},
                                     "ResultPath": None})), {})
    assert fits.status == "SUCCEEDED"
    too_big = emulator.run(chain(("A", {"Type": "Pass", "Result": "y" * (limit + 10), "Assign": {"v.$": "$"},
                                        "ResultPath": None})), {})
    assert too_big.status == "FAILED" and too_big.error == "States.Runtime"
    assert "'v'" in too_big.cause
