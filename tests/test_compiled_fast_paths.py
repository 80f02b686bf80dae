"""The compiled forms' quick routes (names-only paths, object templates, the definition cache) keep the
general routes' results and errors exactly."""

from __future__ import annotations

import gc
import json
from collections import OrderedDict, defaultdict
from typing import Any

import pytest

import emulator
from emulator.asl.paths import Path, PathNotFound, compile_path
from emulator.asl.templates import Template
from emulator.asl.validate import validate_definition
from emulator.engine.execution import compile_definition
from emulator.errors import DefinitionError, StatesError


class Env:
    context = {"Execution": {"Id": "arn:exec"}}
    variables: dict[str, Any] = {"v": {"a": 1}}
    random = None


# ---------------------------------------------------------------------------------------------
# Paths of names: `$.a.b`


def test_names_path_reads_nested_objects_and_any_value() -> None:
    data = {"a": {"b": {"c": [1, 2]}, "n": None}}
    assert compile_path("$.a.b.c").get(data) == [1, 2]
    assert compile_path("$.a.n").get(data) is None
    assert compile_path("$.a").get(data) is data["a"]


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        ({"a": {}}, "Invalid path '$.a.b' : No results for path: $['a']['b']"),
        ({}, "Invalid path '$.a.b' : Missing property in path $['a']"),
        ({"a": [1]}, "Invalid path '$.a.b' : No results for path: $['a']['b']"),
        ({"a": "text"}, "Invalid path '$.a.b' : No results for path: $['a']['b']"),
        ([{"a": {"b": 1}}], "Invalid path '$.a.b' : Missing property in path $['a']"),
        ("b", "Invalid path '$.a.b' : Missing property in path $['a']"),
    ],
)
def test_names_path_misses_say_where(data: Any, cause: str) -> None:
    with pytest.raises(PathNotFound) as caught:
        compile_path("$.a.b").get(data)
    assert caught.value.cause == cause


def test_names_path_reads_mapping_subclasses_without_their_defaults() -> None:
    assert compile_path("$.a.b").get(OrderedDict(a=OrderedDict(b=3))) == 3
    counts: defaultdict[str, int] = defaultdict(int)
    with pytest.raises(PathNotFound):
        compile_path("$.missing").get(counts)
    assert "missing" not in counts  # no default made up for a miss


def test_set_by_names_copies_the_path_and_creates_missing_objects() -> None:
    data = {"a": {"keep": 1}, "other": [1]}
    out = compile_path("$.a.b.c").set(data, "v")
    assert out == {"a": {"keep": 1, "b": {"c": "v"}}, "other": [1]}
    assert data == {"a": {"keep": 1}, "other": [1]}  # the input is never changed
    assert out["other"] is data["other"]  # only the containers on the path are copied
    assert list(compile_path("$.z").set({"y": 1, "z": 0}, 5)) == ["y", "z"]  # key order kept
    assert compile_path("$").set(data, 7) == 7


def test_set_by_names_into_a_scalar_fails_as_aws_does() -> None:
    with pytest.raises(StatesError) as caught:
        compile_path("$.a.b").set({"a": [1, 2]}, 1)
    assert caught.value.error == "States.ResultPathMatchFailure"
    assert caught.value.cause == 'Unable to apply step "b" to input [1,2]'
    with pytest.raises(StatesError, match='Unable to apply step "a" to input "text"'):
        compile_path("$.a").set("text", 1)


def test_set_into_a_mapping_subclass_gives_plain_objects() -> None:
    out = compile_path("$.a.b").set(OrderedDict(a=OrderedDict(x=1)), 2)
    assert out == {"a": {"x": 1, "b": 2}} and type(out) is dict and type(out["a"]) is dict


# ---------------------------------------------------------------------------------------------
# Object templates


def test_template_keeps_key_order_and_fresh_objects() -> None:
    template = Template({"first": 1, "id.$": "$.id", "nested": {"x.$": "$.id", "s": [1]}, "last.$": "$$.Execution.Id"})
    out = template.render({"id": 7}, Env())
    assert json.dumps(out) == '{"first": 1, "id": 7, "nested": {"x": 7, "s": [1]}, "last": "arn:exec"}'
    out["first"] = "changed"
    out["nested"]["x"] = "changed"
    assert template.render({"id": 8}, Env()) == {"first": 1, "id": 8, "nested": {"x": 8, "s": [1]},
                                                  "last": "arn:exec"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"a": 1, "a.$": "$.x", "b": 2}, '{"a": "X", "b": 2}'),
        ({"a.$": "$.x", "a": 1, "b": 2}, '{"a": 1, "b": 2}'),
        ({"a.$": "$.x", "b": 2, "a": {"c.$": "$.x"}}, '{"a": {"c": "X"}, "b": 2}'),
    ],
)
def test_template_colliding_names_last_wins_at_first_place(spec: dict[str, Any], expected: str) -> None:
    assert json.dumps(Template(spec).render({"x": "X"}, None)) == expected


def test_template_evaluates_a_shadowed_entry_too() -> None:
    with pytest.raises(StatesError) as caught:
        Template({"a.$": "$.missing", "a": 1}).render({"x": 1}, None)
    assert caught.value.cause == ("The JSONPath '$.missing' specified for the field 'a.$' could not be found in the "
                                  "input '{\"x\":1}'")


def test_template_selector_miss_names_the_searched_document() -> None:
    with pytest.raises(StatesError) as caught:
        Template({"ok": 1, "id.$": "$.a.b"}).render({"a": {"c": 1}}, None)
    assert caught.value.cause == ("The JSONPath '$.a.b' specified for the field 'id.$' could not be found in the "
                                  "input '{\"a\":{\"c\":1}}'")
    with pytest.raises(StatesError) as caught:
        Template({"id.$": "$$.Nope"}).render({"a": 1}, Env())
    assert "in the input '{\"Execution\":{\"Id\":\"arn:exec\"}}'" in caught.value.cause


def test_template_static_and_array_specs() -> None:
    static = {"a": [1, {"b": 2}]}
    assert Template(static).render({"x": 1}, None) == static
    array = Template([{"v.$": "$.x"}, 3])
    assert array.render({"x": 5}, None) == [{"v": 5}, 3]
    assert Template({"v.$": "$v.a", "i.$": "States.Format('{}', $.x)"}).render({"x": 5}, Env()) == {"v": 1, "i": "5"}


# ---------------------------------------------------------------------------------------------
# The definition cache


def chain(order: tuple[str, ...]) -> dict[str, Any]:
    params = {"i.$": "$.i", "tag": "x"}
    return {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {k: params[k] for k in order},
                                             "End": True}}}


def test_cache_tells_key_orders_apart() -> None:
    (_, forward), (_, backward) = compile_definition(chain(("i.$", "tag"))), compile_definition(chain(("tag", "i.$")))
    assert forward is not backward
    assert list(forward.states["A"].parameters.render({"i": 1}, None)) == ["i", "tag"]
    assert list(backward.states["A"].parameters.render({"i": 1}, None)) == ["tag", "i"]
    assert compile_definition(chain(("i.$", "tag")))[1] is forward


def test_compiled_definition_is_a_private_copy() -> None:
    mine = chain(("i.$", "tag"))
    mine["States"]["A"]["Result"] = {"r": [1]}
    text, machine = compile_definition(mine)
    sm = emulator.StateMachine(mine)
    mine["States"]["A"]["Result"]["r"].append(2)
    assert json.loads(text)["States"]["A"]["Result"] == {"r": [1]}
    assert machine.states["A"].result == {"r": [1]}
    assert sm.definition["States"]["A"]["Result"] == {"r": [1]} and sm.machine is machine
    # Each StateMachine reads its own copy of the definition: changing one changes no other.
    sm.definition["States"]["A"]["Result"]["r"].append(3)
    other = emulator.StateMachine(json.loads(text))
    assert other.machine is machine and other.definition["States"]["A"]["Result"] == {"r": [1]}
    assert other.run({}).output == {"r": [1]}


def test_text_and_dict_forms_share_one_compiled_machine_and_text_nan_is_still_refused() -> None:
    definition = chain(("tag", "i.$"))
    definition["States"]["A"]["Result"] = {"from": "text"}
    _, from_text = compile_definition(json.dumps(definition, indent=2))  # read here: used as it is, not copied
    assert compile_definition(definition)[1] is from_text
    assert compile_definition(json.dumps(definition))[1] is from_text
    with pytest.raises(DefinitionError, match="NaN"):
        compile_definition('{"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": NaN, "End": true}}}')


def test_non_json_definitions_are_still_refused_and_collection_stays_on() -> None:
    assert gc.isenabled()
    bad = chain(("i.$", "tag"))
    bad["States"]["A"]["Result"] = (1, 2)
    with pytest.raises(DefinitionError, match="tuple is not a JSON value"):
        compile_definition(bad)
    assert gc.isenabled()
    named = chain(("i.$", "tag"))
    named["States"]["A"]["Result"] = "NaN"  # a string that reads like JSON's non-value: plain JSON all the same
    assert compile_definition(named)[1].states["A"].result == "NaN"
    assert gc.isenabled()


def test_path_objects_are_shared_between_definitions() -> None:
    assert compile_path("$.shared.x") is compile_path("$.shared.x")
    assert isinstance(compile_path("$.shared.x"), Path)


@pytest.mark.parametrize("filler", ["a" * 1_100_000, "é" * 530_000])
def test_compiling_measures_the_definition_as_validation_does(filler: str) -> None:
    big = chain(("i.$", "tag"))
    big["States"]["A"]["Result"] = filler
    with pytest.raises(DefinitionError) as caught:
        compile_definition(big)
    expected = validate_definition(big)
    assert [str(d) for d in caught.value.diagnostics] == [str(d) for d in expected]
    assert len(expected) == 1 and "bytes as JSON; AWS limits a state machine definition" in str(expected[0])
