"""The JSONata module: expressions, templates, AWS's added functions and their errors."""

from __future__ import annotations

import random

import pytest

from emulator.asl import jsonata
from emulator.errors import StatesError

RNG = random.Random(0)


def ev(text: str, **bindings):
    return jsonata.compile_expression("{% " + text + " %}").evaluate(bindings, random.Random(1))


@pytest.mark.parametrize(("value", "expected"), [
    ("{% $x %}", True), ("{%$x%}", True), (" {% $x %}", False), ("{% $x", False), ("$x", False), (3, False),
])
def test_is_expression(value, expected) -> None:
    assert jsonata.is_expression(value) is expected


def test_syntax_error_names_the_expression() -> None:
    with pytest.raises(jsonata.JsonataSyntaxError, match=r"'1 \+'"):
        jsonata.compile_expression("{% 1 + %}")


def test_undefined_is_not_null() -> None:
    assert ev("$nope") is jsonata.UNDEFINED
    assert ev("$x", x=None) is None
    assert ev("$states.input.a + 1", states={"input": {"a": 1}}) == 2


def test_runtime_error_is_query_evaluation_error() -> None:
    with pytest.raises(StatesError) as err:
        jsonata.compile_expression("{% 'a' + 1 %}").evaluate({}, RNG, "Output")
    assert err.value.error == "States.QueryEvaluationError"
    assert err.value.location == "Output" and "'a' + 1" in err.value.cause


def test_template_renders_at_depth_and_names_the_field_of_an_undefined() -> None:
    template = jsonata.Template({"a": ["x", "{% $v %}"], "b": {"c": "{% $v * 2 %}"}, "s": "static"}, "Output")
    assert template.dynamic
    assert template.render({"v": 2}, RNG) == {"a": ["x", 2], "b": {"c": 4}, "s": "static"}
    with pytest.raises(StatesError) as err:
        jsonata.Template({"result": "{% $doesNotExist %}"}, "Output").render({}, RNG)
    assert err.value.cause == ("The JSONata expression '$doesNotExist' specified for the field 'Output/result' "
                               "returned nothing (undefined).")
    static = jsonata.Template({"a": 1}, "Output")
    assert not static.dynamic and static.render({}, RNG) == {"a": 1}


def test_bindings_are_not_mutated_and_context_is_deferred() -> None:
    built = []
    states = {"input": {"a": 1}, "context": jsonata.Deferred(lambda: built.append(1) or {"Execution": {"Name": "n"}})}
    bindings = {"states": states, "x": [1]}
    assert ev("$states.input.a", **bindings) == 1
    assert built == []  # never built when not read
    assert ev("$states.context.Execution.Name", **bindings) == "n"
    assert built == [1]
    assert isinstance(states["context"], jsonata.Deferred) and bindings["x"] == [1]


def test_aws_functions() -> None:
    assert ev("$partition([1,2,3,4,5], 2)") == [[1, 2], [3, 4], [5]]
    assert ev("$range(0, 9, 3)") == [0, 3, 6, 9]
    assert ev("$range(1, 9, 9)") == 1
    assert ev("$hash('abc', 'MD5')") == "900150983cd24fb0d6963f7d28e17f72"
    assert ev("$parse('[1, {\"a\": null}]')") == [1, {"a": None}]
    assert ev("$random(7)") == ev("$random(7)")
    assert ev("$uuid()") == ev("$uuid()")  # same seeded generator each call here
    assert 0 <= ev("$random()") < 1


@pytest.mark.parametrize("text", ["$partition('x', 2)", "$range(0, 1, 0)", "$hash('a', 'SHA-3')", "$parse('{')",
                                  "$range(0, 5000, 1)"])
def test_aws_function_errors(text: str) -> None:
    with pytest.raises(StatesError) as err:
        jsonata.compile_expression("{% " + text + " %}").evaluate({}, RNG, "Output")
    assert err.value.error == "States.QueryEvaluationError"


def test_function_result_is_unsupported() -> None:
    with pytest.raises(StatesError, match="unsupported result type"):
        jsonata.compile_expression("{% function($x){$x} %}").evaluate({}, RNG, "Items")


def test_type_error_wording() -> None:
    err = jsonata.type_error("1", "Items", "array", {"a": 1})
    assert err.cause == ("The JSONata expression '1' specified for the field 'Items' returned an unexpected result "
                         "type. Expected 'array', but was 'object' for value: {\"a\":1}")
