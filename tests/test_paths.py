from __future__ import annotations

import pytest

from emulator.asl.paths import Path, PathNotFound, PathSyntaxError
from emulator.errors import StatesError


class Env:
    def __init__(self, context=None, variables=None):
        self.context = context or {}
        self.variables = variables or {}
        self.random = None


DOC = {"a": {"b": [10, {"c": "x"}]}, "delivery-partner": "UQS", "list": [{"v": 1}, {"v": 5}, {"w": 2}]}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DOC),
        ("$.a.b[0]", 10),
        ("$.a.b[-1].c", "x"),
        ("$['a']['b'][1]['c']", "x"),
        ('$["delivery-partner"]', "UQS"),
        ("$.delivery-partner", "UQS"),
    ],
)
def test_definite_paths(path: str, expected: object) -> None:
    p = Path(path)
    assert p.definite
    assert p.get(DOC) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.list[*].v", [1, 5]),
        ("$..v", [1, 5]),
        ("$.list[?(@.v > 2)].v", [5]),
        ("$.list[0:2].v", [1, 5]),
        ("$[*]", list(DOC.values())),
        ("$.*", list(DOC.values())),
        ("$.nothing[*]", []),
    ],
)
def test_indefinite_paths_always_give_lists(path: str, expected: object) -> None:
    p = Path(path)
    assert not p.definite
    assert p.get(DOC) == expected


def test_wildcard_on_empty_object_is_empty_as_in_jayway() -> None:
    assert Path("$[*]").get({}) == []


def test_missing_leaf_and_missing_parent_messages_are_jayways() -> None:
    with pytest.raises(PathNotFound) as leaf:
        Path("$.nope").get(DOC)
    assert leaf.value.cause == "Invalid path '$.nope' : No results for path: $['nope']"
    with pytest.raises(PathNotFound) as parent:
        Path("$.no.such.path").get(DOC)
    assert parent.value.cause == "Invalid path '$.no.such.path' : Missing property in path $['no']"
    assert parent.value.error == "States.Runtime"


def test_context_and_variable_roots() -> None:
    env = Env(context={"Execution": {"Name": "n1"}}, variables={"x": {"y": 3}})
    assert Path("$$.Execution.Name").get(None, env) == "n1"
    assert Path("$x.y").get(None, env) == 3
    with pytest.raises(StatesError):
        Path("$undefined").get(None, env)


def test_result_path_set_copies_and_creates_intermediates() -> None:
    data = {"a": {"keep": 1}}
    out = Path("$.a.b.c").set(data, 5)
    assert out == {"a": {"keep": 1, "b": {"c": 5}}}
    assert data == {"a": {"keep": 1}}  # input untouched
    assert Path("$").set(data, 7) == 7
    assert Path("$.l[1]").set({"l": [0, 0]}, 9) == {"l": [0, 9]}


def test_result_path_into_non_object_fails() -> None:
    with pytest.raises(StatesError) as err:
        Path("$.a.b").set({"a": 3}, 1)
    assert err.value.error == "States.ResultPathMatchFailure"


@pytest.mark.parametrize("bad", ["a.b", "$.", "$[", "$[]", "$.a[?(@.x >]"])
def test_syntax_errors(bad: str) -> None:
    with pytest.raises(PathSyntaxError):
        Path(bad)


def test_exists() -> None:
    assert Path("$.a.b").exists(DOC)
    assert not Path("$.zz").exists(DOC)
    assert not Path("$.list[?(@.v > 100)]").exists(DOC)
