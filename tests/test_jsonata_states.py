"""JSONata states: Arguments, Output, Assign, Condition, Items/ItemSelector, expressions in fields."""

from __future__ import annotations

import emulator
from tests.conftest import chain, types

FN = "arn:aws:lambda:us-east-1:123456789012:function:f"


def jsonata(*states, **top) -> dict:
    return chain(*states, QueryLanguage="JSONata", **top)


def test_pass_output_and_states_input() -> None:
    ex = emulator.run(jsonata(("A", {"Type": "Pass", "Output": {"sum": "{% $states.input.a + $states.input.b %}",
                                                                "static": [1, "{% $states.input.a %}"]}})),
                      {"a": 2, "b": 3})
    assert ex.output == {"sum": 5, "static": [1, 2]}


def test_default_output_is_input_for_pass_and_result_for_task() -> None:
    ex = emulator.run(jsonata(("P", {"Type": "Pass"}), ("T", {"Type": "Task", "Resource": FN})), {"v": 1},
                      resources={"f": lambda e: {"got": e}})
    assert ex.output == {"got": {"v": 1}}


def test_task_arguments_output_and_result() -> None:
    definition = jsonata(("T", {"Type": "Task", "Resource": FN,
                                "Arguments": {"x": "{% $states.input.n * 2 %}"},
                                "Output": {"in": "{% $states.input.n %}", "res": "{% $states.result.y %}"}}))
    ex = emulator.run(definition, {"n": 4}, resources={"f": lambda e: {"y": e["x"] + 1}})
    assert ex.output == {"in": 4, "res": 9}


def test_assign_then_reference_in_later_states_only() -> None:
    definition = jsonata(
        ("A", {"Type": "Pass", "Assign": {"x": 1}}),
        ("B", {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}", "old": "{% $x %}"}, "Output": {"x": "{% $x %}"}}),
        ("C", {"Type": "Pass", "Output": {"x": "{% $x %}", "old": "{% $old %}"}}),
    )
    ex = emulator.run(definition, {})
    assert ex.output == {"x": 2, "old": 1}
    exited = [e["stateExitedEventDetails"] for e in ex.history if e["type"] == "PassStateExited"]
    assert exited[1]["output"] == '{"x":1}'
    assert exited[1]["assignedVariables"] == {"x": "2", "old": "1"}


def test_choice_condition_with_rule_output_and_assign() -> None:
    definition = {"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Condition": "{% $states.input.n > 10 %}", "Next": "Big", "Output": {"size": "big"},
             "Assign": {"picked": "big"}},
            {"Condition": "{% $states.input.n > 5 %}", "Next": "Done"}],
            "Default": "Done", "Output": {"size": "default"}},
        "Big": {"Type": "Pass", "Output": {"size": "{% $states.input.size %}", "picked": "{% $picked %}"},
                "End": True},
        "Done": {"Type": "Succeed"}}}
    assert emulator.run(definition, {"n": 11}).output == {"size": "big", "picked": "big"}
    assert emulator.run(definition, {"n": 1}).output == {"size": "default"}


def test_map_items_and_item_selector() -> None:
    definition = jsonata(("M", {"Type": "Map", "Items": "{% $states.input.xs %}",
                                "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}",
                                                 "i": "{% $states.context.Map.Item.Index %}",
                                                 "tag": "{% $states.input.tag %}"},
                                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                                "Output": "{% $count($states.result) %}"}))
    ex = emulator.run(definition, {"xs": ["a", "b", "c"], "tag": "t"})
    assert ex.output == 3
    literal = jsonata(("M", {"Type": "Map", "Items": [1, 2],
                             "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}))
    assert emulator.run(literal, {}).output == [1, 2]


def test_map_items_must_be_an_array() -> None:
    definition = jsonata(("M", {"Type": "Map", "Items": "{% 1 %}",
                                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}))
    ex = emulator.run(definition, {})
    assert ex.status == "FAILED" and ex.error == "States.QueryEvaluationError"
    assert "Expected 'array'" in ex.cause
    assert types(ex)[-3:] == ["EvaluationFailed", "MapStateFailed", "ExecutionFailed"]


def test_undefined_output_is_query_evaluation_error_with_location() -> None:
    ex = emulator.run(jsonata(("S", {"Type": "Pass", "Output": "{% $doesNotExist %}"})), {})
    assert ex.status == "FAILED" and ex.error == "States.QueryEvaluationError"
    assert ex.cause == ("An error occurred while executing the state 'S' (entered at the event id #2). "
                        "The JSONata expression '$doesNotExist' specified for the field 'Output' returned nothing "
                        "(undefined).")
    failed = next(e for e in ex.history if e["type"] == "EvaluationFailed")["evaluationFailedEventDetails"]
    assert failed["state"] == "S" and failed["location"] == "Output"


def test_wait_seconds_and_timestamp_expressions() -> None:
    ex = emulator.run(jsonata(("W", {"Type": "Wait", "Seconds": "{% $states.input.s %}"})), {"s": 3600})
    span = (ex.history[-1]["timestamp"] - ex.history[0]["timestamp"]).total_seconds()
    assert ex.status == "SUCCEEDED" and span >= 3599
    bad = emulator.run(jsonata(("W", {"Type": "Wait", "Timestamp": "{% $states.input.t %}"})), {"t": "soon"})
    assert bad.error == "States.QueryEvaluationError"


def test_fail_error_and_cause_expressions() -> None:
    ex = emulator.run(jsonata(("F", {"Type": "Fail", "Error": "{% 'E.' & $states.input.code %}",
                                     "Cause": "{% $string($states.input.n) %}"})), {"code": "X", "n": 5})
    assert (ex.error, ex.cause) == ("E.X", "5")


def test_catch_output_and_assign_with_error_output() -> None:
    def boom(event):
        raise ValueError("bad")

    definition = jsonata(
        ("T", {"Type": "Task", "Resource": FN, "Assign": {"never": 1},
               "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "R",
                          "Output": {"e": "{% $states.errorOutput.Error %}", "in": "{% $states.input.k %}"},
                          "Assign": {"caught": "{% $states.errorOutput.Error %}"}}]}),
        ("R", {"Type": "Pass", "Output": {"e": "{% $states.input.e %}", "in": "{% $states.input.in %}",
                                          "caught": "{% $caught %}"}}),
    )
    ex = emulator.run(definition, {"k": 7}, resources={"f": boom})
    assert ex.output == {"e": "ValueError", "in": 7, "caught": "ValueError"}


def test_parallel_arguments_and_output() -> None:
    branches = [{"StartAt": f"B{i}", "States": {f"B{i}": {"Type": "Pass", "Output": f"{{% $states.input.v + {i} %}}",
                                                           "End": True}}} for i in range(3)]
    definition = jsonata(("P", {"Type": "Parallel", "Arguments": {"v": "{% $states.input.base %}"},
                                "Branches": branches, "Output": "{% $sum($states.result) %}"}))
    assert emulator.run(definition, {"base": 10}).output == 33


def test_jsonpath_machine_with_a_jsonata_state_and_variables_across() -> None:
    definition = chain(
        ("J", {"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"x": "{% $states.input.v * 10 %}"},
               "Output": {"v": "{% $states.input.v %}"}}),
        ("P", {"Type": "Pass", "Parameters": {"x.$": "$x", "v.$": "$.v"}}),
    )
    assert emulator.run(definition, {"v": 2}).output == {"x": 20, "v": 2}


def test_aws_functions_available() -> None:
    definition = jsonata(("A", {"Type": "Pass", "Output": {
        "parts": "{% $partition([1,2,3,4,5], 2) %}",
        "range": "{% $range(0, 10, 5) %}",
        "hash": "{% $hash('abc', 'SHA-256') %}",
        "parsed": "{% $parse('{\"a\": 1}') %}",
        "uuid": "{% $uuid() %}",
        "random": "{% $random() %}"}}))
    first = emulator.run(definition, {}, seed=5).output
    again = emulator.run(definition, {}, seed=5).output
    assert first["parts"] == [[1, 2], [3, 4], [5]]
    assert first["range"] == [0, 5, 10]
    assert first["hash"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert first["parsed"] == {"a": 1}
    assert len(first["uuid"]) == 36 and 0 <= first["random"] < 1
    assert first == again


def test_validate_reports_jsonpath_fields_in_jsonata_states() -> None:
    diagnostics = emulator.validate(jsonata(("A", {"Type": "Pass", "Parameters": {"a": 1}})))
    assert any(d.location == "/States/A/Parameters" for d in diagnostics)


def test_task_timeout_and_map_concurrency_as_expressions() -> None:
    def slow(event, context):
        context.sleep(30)
        return {}

    timed = jsonata(("T", {"Type": "Task", "Resource": FN, "TimeoutSeconds": "{% $states.input.t %}"}))
    assert emulator.run(timed, {"t": 10}, resources={"f": slow}).error == "States.Timeout"
    assert emulator.run(timed, {"t": 60}, resources={"f": slow}).status == "SUCCEEDED"
    bad = emulator.run(timed, {"t": "soon"}, resources={"f": slow})
    assert bad.error == "States.QueryEvaluationError" and "Expected 'integer'" in bad.cause
    mapped = jsonata(("M", {"Type": "Map", "MaxConcurrency": "{% $states.input.c %}",
                            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}))
    assert emulator.run(mapped, [1, 2]).status == "FAILED"  # the input is the items and has no "c"
    assert emulator.run(jsonata(("M", {**mapped["States"]["M"], "Items": "{% $states.input.xs %}"})),
                        {"xs": [1, 2], "c": 1}).output == [1, 2]


def test_retry_in_jsonata_state() -> None:
    calls = []

    def flaky(event):
        calls.append(event)
        if len(calls) < 3:
            raise RuntimeError("again")
        return {"n": len(calls)}

    definition = jsonata(("T", {"Type": "Task", "Resource": FN, "Arguments": {"try": "{% $states.context.State.RetryCount %}"},
                                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5}]}))
    ex = emulator.run(definition, {}, resources={"f": flaky})
    assert ex.output == {"n": 3}
    assert calls == [{"try": 0}, {"try": 1}, {"try": 2}]
