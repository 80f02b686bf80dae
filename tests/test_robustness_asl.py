"""The ASL layer never crashes: whatever a definition, a path, an intrinsic call or its data holds,
the outcome is a located Diagnostic, a DefinitionError, a value or a StatesError (an AWS name).

JSONPath follows Jayway (what AWS runs): a dot may precede a bracket, dotted names stop at a blank,
`['a','b']` at the end merges keys, filters compare and match /regex/ over the whole string.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emulator
from emulator.asl.intrinsics import _FUNCTIONS, IntrinsicSyntaxError, compile_intrinsic
from emulator.asl.parser import load_definition
from emulator.asl.paths import PathSyntaxError, compile_path
from emulator.errors import INTRINSIC_FAILURE, RUNTIME, DefinitionError, Diagnostic, StatesError

# Seeded (derandomize) for CI; SFN_FUZZ_EXAMPLES=5000 explores further locally.
FUZZ = settings(max_examples=int(os.environ.get("SFN_FUZZ_EXAMPLES", "300")), deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

DOC = {"a": [{"x": "abc", "n": 2, "y": 1}, {"x": "zz", "n": -1}], "b": {"c": [1, 2, 3]}, "a'b": 7, "": 5,
       "é": "u", "Test\\\"\"Name\"": "esc"}


def machine(state: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"StartAt": "S", "States": {"S": {**state}, **(extra or {})}}


def pass_with(**fields: Any) -> dict[str, Any]:
    return machine({"Type": "Pass", **fields, "End": True})


# ---------------------------------------------------------------------------------------------
# 1. JSONPath: Jayway's syntax accepted and evaluated; what it rejects is a located diagnostic


@pytest.mark.parametrize(("path", "expected"), [
    ("$.[0]", {"x": "abc", "n": 2, "y": 1}),  # on DOC['a'] below
    ("$.[1].x", "zz"),
    ("$.[*].['x','y']", [{"x": "abc", "y": 1}, {"x": "zz"}]),
    ("$.[?(@.n > 0)]", [{"x": "abc", "n": 2, "y": 1}]),
    ("$[?(@.x =~ /a.*/)].n", [2]),
    ("$[?(@.x =~ /A.*/i)].n", [2]),
    ("$[?(@.x =~ /b/)].n", []),  # Java's matches(): the whole string, not a search
    ("$[?(@.n != 2)].x", ["zz"]),
    ("$[?(@.y)].x", ["abc"]),
    ("$[?(!@.y)].x", ["zz"]),
    ("$[?(@.n >= -1 && @.x == 'zz')].n", [-1]),
    ("$[?(@.n == 5 || @.x == \"abc\")].n", [2]),
    ("$[-1:].x", ["zz"]),
    ("$[:1].x", ["abc"]),
])
def test_jayway_paths_over_an_array(path: str, expected: Any) -> None:
    assert compile_path(path).get(DOC["a"]) == expected


@pytest.mark.parametrize(("path", "expected"), [
    ("$.b.[0]", None),  # 'b' is an object: no index; definite miss below
    ("$['a','b']", {"a": DOC["a"], "b": DOC["b"]}),  # leaf union merges keys (definite, as Jayway)
    ("$['a\\'b']", None),  # kept as written: the key would be a\'b, which DOC lacks
    ("$['']", 5),
    ("$['é']", "u"),
    ("$['Test\\\"\"Name\"']", "esc"),  # AWS-recorded: the backslash stays part of the name
    ("$.b..[1]", [2]),
    ("$..c[0]", [1]),
    ("$.b.c[0,2]", [1, 3]),
])
def test_jayway_paths_over_an_object(path: str, expected: Any) -> None:
    compiled = compile_path(path)
    if expected is None:
        with pytest.raises(StatesError) as err:
            compiled.get(DOC)
        assert err.value.error == RUNTIME
        assert path in err.value.cause
    else:
        assert compiled.get(DOC) == expected


@pytest.mark.parametrize(("path", "reason"), [
    ("$.a..b * 2", "blanks"),
    ("$.a + 1", "blanks"),
    ("$.a[?(@.x =~ /[/)]", "regular expression"),
    ("$.a.length()", "length()"),
    ("$.a[?(@.x in ['a'])]", "'in'"),
    ("$.a[::2]", "slice"),
    ("$.a[99999999999]", "out of range"),
    ("$['a'", "unclosed"),
    ("$['a' 'b']", "expected ']'"),
    ("$...a", "unexpected '.'"),
    ("$.a.", "must not end"),
    ("$a b", "expected '.' or '['"),
    ("$x!", "expected '.' or '['"),
])
def test_paths_jayway_rejects_are_located_diagnostics(path: str, reason: str) -> None:
    with pytest.raises(PathSyntaxError, match=None) as err:
        compile_path(path)
    assert reason in str(err.value)
    diagnostics = emulator.validate(pass_with(Parameters={"v.$": path}))
    assert [d.location for d in diagnostics] == ["/States/S/Parameters/v.$"]
    assert reason in diagnostics[0].message


def test_dot_before_bracket_in_every_path_field() -> None:
    definition = {
        "StartAt": "P",
        "States": {
            "P": {"Type": "Pass", "InputPath": "$.[0]", "Parameters": {
                "first.$": "$.l.[0]", "names.$": "$.l.[*].['k']",
                "f.$": "States.Format('{}-{}', $.l.[1].k, $.l.[0])", "l.$": "$.l", "wait.$": "$.l.[0].k"}, "ResultPath": "$.[0]", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.[0].first.k", "NumericEquals": 1, "Next": "W"}],
                  "Default": "Bad"},
            "W": {"Type": "Wait", "SecondsPath": "$.[0].wait", "Next": "M"},
            "M": {"Type": "Map", "ItemsPath": "$.[0].l", "ItemProcessor": {
                "StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}, "ResultPath": "$.[1]",
                  "OutputPath": "$.[1].[*].k", "End": True},
            "Bad": {"Type": "Fail", "Error": "Bad"},
        },
    }
    assert emulator.validate(definition) == []
    document = [{"l": [{"k": 1}, {"k": 2}]}, {"unused": True}]
    ex = emulator.run(definition, document)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert ex.output == [1, 2]
    exited = json.loads(ex.history[2]["stateExitedEventDetails"]["output"])
    assert exited[0] == {"first": {"k": 1}, "names": [1, 2], "f": "2-{k=1}", "l": document[0]["l"], "wait": 1}


_PIECES = [".a", ".b", ".c", ".n", ".x", "[0]", "[1]", "[-1]", "[*]", "..a", "..n", ".[0]", ".[*]", "['a']",
           "['a','b']", "['a\\'b']", "['']", "[\"x\"]", "[?(@.n > 0)]", "[?(@.x =~ /a.*/)]", "[?(@.x =~ /[/)]",
           "[?(@.x =~ /(?i)Z+/)]", "[?(@.n)]", "[?(!@.n && @.x != 'q')]", "[?(@.n in [1])]", "[?(@ > 1)]",
           "[0:2]", "[1:]", "[:-1]", "[::]", "[0,1]", "[", "]", ".", "..", " ", " * 2", "+1", ".length()", ".é",
           "['é']", "[?(@.n > $.b)]", "[?(@.n === 2)]", "[?(@.x == [1,2])]", "[?(@.x == {\"a\": 1})]", "(",
           "[?(", "[?(@.x =~ /a/gimsx)]", "\\", "'", "[-]", "[1:2:3]", "[ 0 ]", "['a\"b']", "[?(@.x < 'b')]"]
_ROOTS = ["$", "$", "$", "$$", "$$.Execution", "$v", "$.", "$x.", "a", ""]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "c", "n", "x", ""]),
                                                                inner, max_size=3),
    max_leaves=15,
)
random_paths = st.builds(lambda root, parts: root + "".join(parts), st.sampled_from(_ROOTS),
                         st.lists(st.sampled_from(_PIECES), max_size=5))


class _Env:
    def __init__(self, value: Any) -> None:
        self.context = {"Execution": {"Input": value}, "State": {"Name": "S"}}
        self.variables = {"v": value}
        self.random = random.Random(7)


@FUZZ
@given(path=random_paths, data=json_values)
def test_random_paths_are_rejected_or_evaluate(path: str, data: Any) -> None:
    """validate() reports the path, or the compiled path evaluates to a value or a StatesError."""
    diagnostics = emulator.validate(pass_with(Parameters={"v.$": path}))
    assert all(isinstance(d, Diagnostic) and d.location == "/States/S/Parameters/v.$" for d in diagnostics)
    try:
        compiled = compile_path(path)
    except PathSyntaxError:
        assert diagnostics, f"{path!r} fails to compile but validates"
        return
    assert not diagnostics or path.startswith("$v"), diagnostics  # $v: a variable never assigned
    try:
        value = compiled.get(data, _Env(data))
    except StatesError as exc:
        assert exc.error == RUNTIME
        return
    json.dumps(value, allow_nan=False)  # whatever it selects is JSON
    if not compiled.definite:
        assert isinstance(value, list)


@FUZZ
@given(path=random_paths, data=json_values)
def test_random_paths_in_a_running_machine(path: str, data: Any) -> None:
    """The same paths as InputPath, a Choice Variable and an intrinsic argument, run for real."""
    definition = {
        "StartAt": "In",
        "States": {
            "In": {"Type": "Pass", "InputPath": path, "Parameters": {"f.$": f"States.Array({path})"}, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": path, "IsPresent": True, "Next": "Done"}],
                  "Default": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    if emulator.validate(definition):
        with pytest.raises(DefinitionError):
            emulator.StateMachine(definition)
        return
    ex = emulator.run(definition, {"a": data, "n": data, "x": data})
    assert ex.status in ("SUCCEEDED", "FAILED")
    if ex.status == "FAILED":
        assert ex.error.startswith("States."), (ex.error, ex.cause)


# ---------------------------------------------------------------------------------------------
# 2. NaN and Infinity are not JSON


def test_nan_and_infinity_in_definition_text_are_located() -> None:
    text = '{"StartAt":"S","States":{"S":{"Type":"Pass","Result":{"a":[1,NaN],"b":-Infinity},"End":true}}}'
    diagnostics = emulator.validate(text)
    assert [(d.location, d.message.split()[0]) for d in diagnostics] == [
        ("/States/S/Result/a/1", "NaN"), ("/States/S/Result/b", "-Infinity")]
    with pytest.raises(DefinitionError):
        emulator.StateMachine(text)


def test_nan_in_a_definition_dict_is_located() -> None:
    diagnostics = emulator.validate(pass_with(Result={"x": float("inf")}, Parameters={"y": [float("nan")]}))
    assert sorted(d.location for d in diagnostics) == ["/States/S/Parameters/y/0", "/States/S/Result/x"]


@pytest.mark.parametrize("text", ["1e999", "-1e999", "[1e400]", "NaN", "Infinity", "{\"a\": -Infinity}"])
def test_string_to_json_never_makes_infinity_or_nan(text: str) -> None:
    with pytest.raises(StatesError) as err:
        compile_intrinsic("States.StringToJson($.t)").evaluate({"t": text})
    assert err.value.error == INTRINSIC_FAILURE


@pytest.mark.parametrize("call", ["States.MathAdd(1e999, 1)", "States.Array(-1e999)",
                                  "States.MathAdd(" + "9" * 5000 + ", 1)"])
def test_number_literals_beyond_a_double_are_definition_errors(call: str) -> None:
    with pytest.raises(IntrinsicSyntaxError):
        compile_intrinsic(call)
    assert [d.location for d in emulator.validate(pass_with(Parameters={"v.$": call}))] == ["/States/S/Parameters/v.$"]


@pytest.mark.parametrize("args", ["$.big, 1", "$.huge, $.huge", "$.tiny, 1", "1.5e300, 2"])
def test_math_add_with_huge_numbers_fails_cleanly(args: str) -> None:
    data = {"big": 10**400, "huge": 1.7e308, "tiny": -1e308}
    with pytest.raises(StatesError) as err:
        compile_intrinsic(f"States.MathAdd({args})").evaluate(data)
    assert err.value.error == INTRINSIC_FAILURE


def test_json_to_string_of_a_non_finite_value_fails_instead_of_printing_infinity() -> None:
    for value in (float("inf"), {"a": [float("nan")]}):
        with pytest.raises(StatesError) as err:
            compile_intrinsic("States.JsonToString($.v)").evaluate({"v": value})
        assert err.value.error == INTRINSIC_FAILURE


def test_hash_and_base64_of_a_lone_surrogate_encode_like_java() -> None:
    text = json.loads('"a\\ud800b"')  # valid JSON text, not encodable as strict UTF-8
    assert compile_intrinsic("States.Base64Encode($.t)").evaluate({"t": text}) == "YT9i"  # 'a?b'
    assert compile_intrinsic("States.Hash($.t, 'MD5')").evaluate({"t": text}) == \
        compile_intrinsic("States.Hash('a?b', 'MD5')").evaluate({})


# ---------------------------------------------------------------------------------------------
# 3. Whatever validate()/StateMachine() are given: diagnostics, never a Python error


def _junk_cases(tmp_path: Any) -> list[Any]:
    binary = tmp_path / "binary.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    big = tmp_path / "big.json"
    big.write_text('{"Comment": "' + "x" * (50 * 1024 * 1024) + '"}')
    return [
        "", "   ", "[1]", "null", "42", "true", b'{"StartAt": 1}', b"\xff\xfe\x00", bytearray(b"[]"), tmp_path,
        str(tmp_path), binary, str(binary), big, "neither JSON nor an existing path", "a\x00b", "x" * 10_000,
        '{"Comment": "' + "y" * (2 * 1024 * 1024) + '"}', "[" * 100_000 + "]" * 100_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000, {1: "a"}, {"StartAt": "S", "States": {(1, 2): {}}},
        {"StartAt": {"x": {1, 2}}}, [1], 42, None, 3.5, object(), pass_with(Comment="z" * (2 * 1024 * 1024)),
    ]


def test_validate_returns_diagnostics_for_anything(tmp_path: Any) -> None:
    for case in _junk_cases(tmp_path):
        diagnostics = emulator.validate(case)
        assert diagnostics and all(isinstance(d, Diagnostic) for d in diagnostics), repr(case)[:80]
        with pytest.raises(DefinitionError):
            emulator.StateMachine(case)


def test_definition_size_limit_is_aws_one_megabyte(tmp_path: Any) -> None:
    just_under = pass_with(Comment="z" * (1024 * 1024 - 200))
    assert emulator.validate(just_under) == []
    over = emulator.validate(pass_with(Comment="é" * (600 * 1024)))  # 600 K characters, 1.2 MB of UTF-8
    assert over and "1,048,576" in over[0].message
    assert "1,048,576" in emulator.validate(json.dumps(pass_with(Comment="z" * (1024 * 1024))))[0].message


def test_a_deep_but_valid_definition_file_loads(tmp_path: Any) -> None:
    file = tmp_path / "m.asl.json"
    file.write_text(json.dumps(pass_with(Result=json.loads("[" * 500 + "]" * 500))))
    assert emulator.validate(file) == []
    assert load_definition(str(file))["StartAt"] == "S"


# ---------------------------------------------------------------------------------------------
# 4. Deep JSON through the intrinsics


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_string_to_json_of_deep_json(depth: int) -> None:
    text = "[" * depth + "]" * depth
    ex = emulator.run(pass_with(Parameters={"v.$": "States.StringToJson($.t)"}), {"t": text})
    if ex.status == "SUCCEEDED":
        value, levels = ex.output["v"], 0
        while value:
            value, levels = value[0], levels + 1
        assert levels == depth - 1
    else:
        assert ex.error == INTRINSIC_FAILURE, (ex.error, ex.cause)


@pytest.mark.parametrize("depth", [5_000, 50_000])
def test_json_to_string_of_deep_values(depth: int) -> None:
    value: Any = []
    for _ in range(depth):
        value = [value]
    call = compile_intrinsic("States.JsonToString($.v)")
    try:
        text = call.evaluate({"v": value})
    except StatesError as exc:
        assert exc.error == INTRINSIC_FAILURE
    else:
        assert text == "[" * (depth + 1) + "]" * (depth + 1)


# ---------------------------------------------------------------------------------------------
# 5. Every intrinsic with any arguments: a value or a StatesError


_ARG_LITERALS = ["'x'", "'{}'", "'{} {}'", "'a,b'", "'SHA-256'", "'MD5'", "'e30='", "'\\\\'", "'\\{'", "''",
                 "0", "1", "-1", "2.5", "1e300", "2147483648", "-2147483649", "1000", "true", "false", "null",
                 "'[1,2'", "'{\"a\": 1}'", "'1e999'", "' '"]
_ARG_PATHS = ["$.s", "$.n", "$.f", "$.l", "$.o", "$.nil", "$.t", "$.big", "$.missing", "$", "$.l[*]", "$.[0]",
              "$$.Execution.Input", "$.deep"]


@st.composite
def intrinsic_calls(draw: st.DrawFn, depth: int = 0) -> str:
    name = draw(st.sampled_from(sorted(_FUNCTIONS)))
    count = draw(st.integers(0, 4))
    args = []
    for _ in range(count):
        kind = draw(st.integers(0, 5 if depth < 2 else 3))
        if kind <= 1:
            args.append(draw(st.sampled_from(_ARG_LITERALS)))
        elif kind <= 3:
            args.append(draw(st.sampled_from(_ARG_PATHS)))
        else:
            args.append(draw(intrinsic_calls(depth + 1)))
    return f"{name}({', '.join(args)})"


_DATA = {"s": "a,b,c", "n": 3, "f": 2.5, "l": [1, "a", [1], {"k": 1}, 1], "o": {"a": 1, "b": [2]}, "nil": None,
         "t": True, "big": 10**30, "deep": json.loads("[" * 300 + "]" * 300)}


@FUZZ
@given(call=intrinsic_calls())
def test_every_intrinsic_gives_a_value_or_a_states_error(call: str) -> None:
    try:
        compiled = compile_intrinsic(call)
    except IntrinsicSyntaxError:
        assert emulator.validate(pass_with(Parameters={"v.$": call})), call
        return
    try:
        value = compiled.evaluate(_DATA, _Env(_DATA))
    except StatesError as exc:
        assert exc.error in (INTRINSIC_FAILURE, RUNTIME), exc
        return
    json.dumps(value, allow_nan=False)
