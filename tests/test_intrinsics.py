"""Intrinsic functions: the recorded AWS corpus, then each function, the parser and the error rules."""

from __future__ import annotations

import copy
import json
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from emulator.asl.intrinsics import (
    MAX_NESTING,
    Intrinsic,
    IntrinsicSyntaxError,
    compile_intrinsic,
    is_intrinsic,
)
from emulator.asl.paths import compile_path
from emulator.errors import INTRINSIC_FAILURE, RUNTIME, StatesError

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "aws-recorded" / "cases.jsonl"


@dataclass
class Env:
    context: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    random: random.Random = field(default_factory=lambda: random.Random(7))


def ev(text: str, data: Any = None, env: Env | None = None) -> Any:
    return compile_intrinsic(text).evaluate(data, env if env is not None else Env())


def failure(text: str, data: Any = None, env: Env | None = None) -> StatesError:
    with pytest.raises(StatesError) as info:
        ev(text, data, env)
    return info.value


# ---------------------------------------------------------------------------------------------
# The recorded corpus: every deterministic single-Pass case whose Parameters use an intrinsic


def _uses_intrinsic(spec: Any) -> bool:
    if isinstance(spec, dict):
        return any(
            (k.endswith(".$") and isinstance(v, str) and is_intrinsic(v)) or _uses_intrinsic(v) for k, v in spec.items()
        )
    return isinstance(spec, list) and any(map(_uses_intrinsic, spec))


def _corpus_cases() -> list[Any]:
    if not CORPUS.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"conformance corpus not found at {CORPUS}"))]
    cases = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        states = case["definition"]["States"]
        if not case.get("deterministic") or len(states) != 1:
            continue
        (state,) = states.values()
        if state.get("Type") == "Pass" and _uses_intrinsic(state.get("Parameters")):
            cases.append(pytest.param(case, id=case["id"].split("::", 1)[-1]))
    return cases


def _render(spec: Any, data: Any, env: Env) -> Any:
    """Build Parameters the way the Pass state does: `.$` keys evaluated, the rest copied."""
    if isinstance(spec, dict):
        out = {}
        for key, value in spec.items():
            if key.endswith(".$") and isinstance(value, str):
                selector = compile_intrinsic(value) if is_intrinsic(value) else compile_path(value)
                out[key[:-2]] = selector.evaluate(data, env) if is_intrinsic(value) else selector.get(data, env)
            else:
                out[key] = _render(value, data, env)
        return out
    if isinstance(spec, list):
        return [_render(v, data, env) for v in spec]
    return spec


@pytest.mark.parametrize("case", _corpus_cases())
def test_recorded_aws_case(case: dict[str, Any]) -> None:
    (state,) = case["definition"]["States"].values()
    data = case["input"]
    env = Env(context={"Execution": {"Input": data}})
    pristine = copy.deepcopy(data)
    effective = compile_path(state.get("InputPath", "$")).get(data, env)
    params = _render(state["Parameters"], effective, env)
    result = compile_path(state.get("ResultPath", "$")).set(data, params)
    output = compile_path(state.get("OutputPath", "$")).get(result, env)
    expected = case["expected"]
    assert expected["status"] == "SUCCEEDED"
    assert output == expected["output"]
    assert json.dumps(output, sort_keys=True) == json.dumps(expected["output"], sort_keys=True)  # 1 vs 1.0 vs True
    assert data == pristine


# ---------------------------------------------------------------------------------------------
# Parsing


def test_is_intrinsic_needs_the_prefix_first() -> None:
    assert is_intrinsic("States.UUID()")
    assert not is_intrinsic(" States.UUID()")
    assert not is_intrinsic("$.States.UUID()")
    assert not is_intrinsic("states.UUID()")


def test_compile_records_name_and_text() -> None:
    call = compile_intrinsic("States.Array( 1 ,  'a' , $.x )")
    assert isinstance(call, Intrinsic)
    assert call.name == "States.Array"
    assert call.evaluate({"x": None}, None) == [1, "a", None]


def test_literal_kinds() -> None:
    assert ev("States.Array(0, -1, 2.5, -0.5, 1e3, 1E-2, true, false, null, '')") == [
        0,
        -1,
        2.5,
        -0.5,
        1000.0,
        0.01,
        True,
        False,
        None,
        "",
    ]
    assert isinstance(ev("States.Array(7)")[0], int)


def test_path_arguments_all_roots() -> None:
    env = Env(context={"Execution": {"Id": "arn:x"}}, variables={"v": {"k": [10, 20]}})
    data = {"a": {"b c": [1, 2]}, "n": 3}
    assert ev("States.Array($, $.n, $$.Execution.Id, $v.k[1], $.a['b c'][0])", data, env) == [
        data,
        3,
        "arn:x",
        20,
        1,
    ]


def test_path_with_brackets_commas_and_filters() -> None:
    data = {"items": [{"x": 1}, {"x": 2}, {"x": 3}]}
    assert ev("States.Array($.items[0,2].x, $.items[?(@.x > 1)].x)", data) == [[1, 3], [2, 3]]


def test_nested_calls() -> None:
    data = {"arn": "arn:aws:imagebuilder:us-east-1:1:image-recipe/my.recipe.name/1.0.0"}
    text = (
        "States.Format('{}.{}.{}', "
        "States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.arn, '/'), 1), '.'), 0), "
        "States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.arn, '/'), 1), '.'), 1), "
        "States.ArrayLength(States.StringSplit($.arn, '/')))"
    )
    assert ev(text, data) == "my.recipe.3"


def _nest(depth: int) -> str:
    text = "1"
    for _ in range(depth):
        text = f"States.Array({text})"
    return text


def test_nesting_up_to_the_limit_is_allowed() -> None:
    value = ev(_nest(MAX_NESTING))
    for _ in range(MAX_NESTING):
        value = value[0]
    assert value == 1


def test_nesting_beyond_the_limit_is_rejected() -> None:
    with pytest.raises(IntrinsicSyntaxError, match="nested deeper than AWS's limit of 10"):
        compile_intrinsic(_nest(MAX_NESTING + 1))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("States.Nope()", "unknown intrinsic function 'States.Nope'"),
        ("States.format('{}', 1)", "unknown intrinsic function 'States.format'"),
        ("States.UUID", "expected '('"),
        ("States.Array(", "expected an argument but found the end"),
        ("States.Array(1,)", "unexpected character ')'"),
        ("States.Array(1 2)", "expected ',' or ')' after an argument but found '2'"),
        ("States.Array('abc)", "unterminated string literal"),
        ("States.Array(abc)", "unexpected character 'a'"),
        ('States.Array("x")', "unexpected character '\"'"),
        ("States.Array(-x)", "malformed number"),
        ("States.Array(1) x", "unexpected text after the closing ')'"),
        ("States.Array($.a[)", "invalid path argument"),
        ("States.UUID(1)", "States.UUID takes 0 argument(s) but 1 were given"),
        ("States.ArrayLength()", "States.ArrayLength takes 1 argument(s) but 0 were given"),
        ("States.MathRandom(1)", "States.MathRandom takes 2 to 3 argument(s) but 1 were given"),
        ("States.Format()", "States.Format takes at least 1 argument(s) but 0 were given"),
        ("States.JsonMerge($.a, $.b)", "States.JsonMerge takes 3 argument(s) but 2 were given"),
        ("States.Format('{} {}', 1)", "has 2 '{}' placeholder(s) but 1 value argument(s)"),
        ("States.Format('none', 1)", "has 0 '{}' placeholder(s) but 1 value argument(s)"),
    ],
)
def test_syntax_errors_name_the_problem_and_position(text: str, problem: str) -> None:
    with pytest.raises(IntrinsicSyntaxError) as info:
        compile_intrinsic(text)
    assert problem in str(info.value)
    assert "at position" in str(info.value)
    assert repr(text) in str(info.value)


def test_trailing_space_is_allowed() -> None:
    assert ev("States.Array(1)  ") == [1]


# ---------------------------------------------------------------------------------------------
# Escapes and States.Format


def test_escapes_in_string_literals() -> None:
    assert ev(r"States.Array('it\'s', '\{', '\}', 'a\\b')") == ["it's", "{", "}", "a\\b"]


def test_format_escaped_braces_are_not_placeholders() -> None:
    assert ev(r"States.Format('\{\} {} \{x\}', 5)") == "{} 5 {x}"
    assert ev(r"States.Format('{\}')") == "{}"


def test_unescaped_braces_outside_format_are_plain_text() -> None:
    # AWS accepted this unescaped JSON inside a literal (corpus: test_json_merge_escaped_argument).
    assert ev('States.StringToJson(\'{"a": {"b": 1}}\')') == {"a": {"b": 1}}
    assert ev("States.Format('{a} {}', 1)") == "{a} 1"


def test_open_escape_is_a_runtime_error_not_a_definition_error() -> None:
    call = compile_intrinsic(r"States.Format('a\nb')")
    with pytest.raises(StatesError) as info:
        call.evaluate({}, Env())
    assert info.value.error == RUNTIME
    assert "\\n" in info.value.cause


def test_format_renders_values_like_aws() -> None:
    data = {"s": "text", "n": 1, "f": 1.5, "whole": 2.0, "b": True, "z": None, "o": {"Arg1": 1, "Arg2": []}}
    assert ev("States.Format('{}|{}|{}|{}|{}|{}|{}', $.s, $.n, $.f, $.whole, $.b, $.z, $.o)", data) == (
        "text|1|1.5|2.0|true|null|{Arg1=1, Arg2=[]}"
    )
    assert ev("States.Format('{}', $)", [1, "a", None, {"k": "v"}]) == "[1, a, null, {k=v}]"


def test_format_template_from_a_path_or_variable() -> None:
    env = Env(variables={"tpl": "It's {}!"})
    assert ev("States.Format($tpl, $.name)", {"name": "Pikachu"}, env) == "It's Pikachu!"
    assert ev("States.Format($.t, 1, 2)", {"t": "{}+{}"}) == "1+2"


def test_format_runtime_template_errors() -> None:
    err = failure("States.Format($.t, 1)", {"t": "no placeholder"})
    assert err.error == INTRINSIC_FAILURE
    assert "placeholder" in err.cause
    assert failure("States.Format($.t)", {"t": 3}).error == INTRINSIC_FAILURE


def test_java_double_rendering() -> None:
    cases = {
        1.0: "1.0",
        -2.5: "-2.5",
        0.001: "0.001",
        0.0001: "1.0E-4",
        1234567.0: "1234567.0",
        12345678.9: "1.23456789E7",
        1e22: "1.0E22",
        0.0: "0.0",
    }
    for number, text in cases.items():
        assert ev("States.JsonToString($)", number) == text
        assert ev("States.Format('{}', $)", number) == text


# ---------------------------------------------------------------------------------------------
# JSON functions


def test_json_to_string_is_compact_and_keeps_unicode() -> None:
    data = {"a": [1, 2, {"b": 'é"\n'}], "c": None, "d": True}
    assert ev("States.JsonToString($)", data) == '{"a":[1,2,{"b":"é\\"\\n"}],"c":null,"d":true}'
    assert json.loads(ev("States.JsonToString($)", data)) == data


def test_string_to_json() -> None:
    assert ev("States.StringToJson($)", '{"foo": "bar"}') == {"foo": "bar"}
    assert ev("States.StringToJson($)", "") is None
    assert ev("States.StringToJson($)", "  ") is None
    assert ev("States.StringToJson($)", "1.5") == 1.5
    for bad in ["{", "NaN", "[1,]", "1 2"]:
        assert failure("States.StringToJson($)", bad).error == INTRINSIC_FAILURE
    assert failure("States.StringToJson($)", 1).error == INTRINSIC_FAILURE


def test_json_merge_is_shallow_and_does_not_mutate() -> None:
    data = {"a": {"x": {"a1": 1}, "b": 2}, "b": {"x": {"a3": 3}, "c": 3}}
    pristine = copy.deepcopy(data)
    merged = ev("States.JsonMerge($.a, $.b, false)", data)
    assert merged == {"x": {"a3": 3}, "b": 2, "c": 3}
    assert list(merged) == ["x", "b", "c"]
    merged["new"] = 1
    assert data == pristine


def test_json_merge_rejects_deep_merge_and_non_objects() -> None:
    data = {"a": {}, "b": {}}
    assert "deep merging is not supported" in failure("States.JsonMerge($.a, $.b, true)", data).cause
    assert failure("States.JsonMerge($.a, $.b, 'false')", data).error == INTRINSIC_FAILURE
    assert failure("States.JsonMerge($.a, 1, false)", data).error == INTRINSIC_FAILURE


# ---------------------------------------------------------------------------------------------
# Array functions


def test_array_partition() -> None:
    assert ev("States.ArrayPartition($, 4)", [1, 2, 3, 4, 5, 6, 7, 8, 9]) == [[1, 2, 3, 4], [5, 6, 7, 8], [9]]
    assert ev("States.ArrayPartition($, 2.5)", [1, 2, 3, 4]) == [[1, 2, 3], [4]]  # 2.5 rounds to 3
    assert ev("States.ArrayPartition($, 1)", []) == []
    for size in ("0", "-1", "0.4", "'2'"):
        assert failure(f"States.ArrayPartition($, {size})", [1]).error == INTRINSIC_FAILURE
    assert failure("States.ArrayPartition($, 1)", {"a": 1}).error == INTRINSIC_FAILURE


def test_array_contains_uses_json_equality() -> None:
    assert ev("States.ArrayContains($, 5)", [1, 5]) is True
    assert ev("States.ArrayContains($.a, $.v)", {"a": [{"x": [1]}], "v": {"x": [1]}}) is True
    assert ev("States.ArrayContains($, true)", [1]) is False
    assert ev("States.ArrayContains($, 1)", [True, 1.0]) is False
    assert ev("States.ArrayContains($, null)", []) is False
    assert failure("States.ArrayContains($, 1)", "abc").error == INTRINSIC_FAILURE


def test_array_range() -> None:
    assert ev("States.ArrayRange(1, 9, 2)") == [1, 3, 5, 7, 9]
    assert ev("States.ArrayRange(0, 10, 3)") == [0, 3, 6, 9]
    assert ev("States.ArrayRange(9, 0, -3)") == [9, 6, 3, 0]
    assert ev("States.ArrayRange(5, 1, 1)") == []
    assert ev("States.ArrayRange(0.5, 2.4, 1)") == [1, 2]
    assert len(ev("States.ArrayRange(1, 1000, 1)")) == 1000
    assert "limit is 1000" in failure("States.ArrayRange(0, 1000, 1)").cause
    assert "must not be zero" in failure("States.ArrayRange(0, 10, 0)").cause
    assert failure("States.ArrayRange('0', 10, 1)").error == INTRINSIC_FAILURE


def test_array_get_item() -> None:
    assert ev("States.ArrayGetItem($, 5)", list(range(1, 10))) == 6
    assert ev("States.ArrayGetItem($, 1.0)", ["a", "b"]) == "b"
    for index in ("2", "-1", "0.5", "true", "'0'"):
        assert failure(f"States.ArrayGetItem($, {index})", ["a", "b"]).error == INTRINSIC_FAILURE
    assert "out of bounds" in failure("States.ArrayGetItem($, 2)", ["a", "b"]).cause


def test_array_length_and_array() -> None:
    assert ev("States.ArrayLength($)", [1, [2, 3]]) == 2
    assert ev("States.ArrayLength($)", []) == 0
    assert failure("States.ArrayLength($)", "abc").error == INTRINSIC_FAILURE
    assert ev("States.Array()") == []


def test_array_unique_keeps_first_occurrences_in_order() -> None:
    data = [None, None, True, True, 1, 1, 1.0, 0, "a", "a", [], [], [None], [None], {"a": 1, "b": 2}, {"b": 2, "a": 1}]
    assert ev("States.ArrayUnique($)", data) == [None, True, 1, 1.0, 0, "a", [], [None], {"a": 1, "b": 2}]
    assert [type(v) for v in ev("States.ArrayUnique($)", [True, 1, 1.0])] == [bool, int, float]


# ---------------------------------------------------------------------------------------------
# Encoding, hashing, strings, math, UUID


def test_base64_round_trip() -> None:
    assert ev("States.Base64Encode('Data to encode')") == "RGF0YSB0byBlbmNvZGU="
    assert ev("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')") == "Data to encode"
    assert ev("States.Base64Decode(States.Base64Encode($))", "héllo ✓") == "héllo ✓"
    assert ev("States.Base64Encode('')") == ""


def test_base64_limits_and_errors() -> None:
    assert ev("States.Base64Encode($)", "x" * 10_000)
    assert "limit is 10000" in failure("States.Base64Encode($)", "x" * 10_001).cause
    assert failure("States.Base64Decode($)", "Q" * 10_001).error == INTRINSIC_FAILURE
    assert failure("States.Base64Decode('abc')").error == INTRINSIC_FAILURE
    assert failure("States.Base64Encode(1)").error == INTRINSIC_FAILURE


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
        ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
        ("SHA-256", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
    ],
)
def test_hash(algorithm: str, digest: str) -> None:
    assert ev(f"States.Hash('input data', '{algorithm}')") == digest


def test_hash_errors() -> None:
    assert "not one of MD5, SHA-1" in failure("States.Hash('x', 'SHA-2')").cause
    assert failure("States.Hash('x', 'sha-256')").error == INTRINSIC_FAILURE
    assert failure("States.Hash($, 'MD5')", "x" * 10_001).error == INTRINSIC_FAILURE
    assert failure("States.Hash(1, 'MD5')").error == INTRINSIC_FAILURE


def test_string_split_on_any_delimiter_character_dropping_empties() -> None:
    assert ev("States.StringSplit('1,2,3,4,5', ',')") == ["1", "2", "3", "4", "5"]
    assert ev("States.StringSplit('This.is+a,test=string', '.+,=')") == ["This", "is", "a", "test", "string"]
    assert ev("States.StringSplit(',,a,,b,,', ',')") == ["a", "b"]
    assert ev("States.StringSplit(',,,', ',')") == []
    assert ev("States.StringSplit('abc', '')") == ["abc"]
    assert ev("States.StringSplit('', ',')") == []
    assert failure("States.StringSplit(1, ',')").error == INTRINSIC_FAILURE
    assert failure("States.StringSplit('a', 1)").error == INTRINSIC_FAILURE


@pytest.mark.parametrize(
    ("a", "b", "total"),
    [(111, -1, 110), (1.49, 1.5, 3), (1.5, 1.51, 4), (-1.49, -1.5, -2), (-2.5, 0, -2), (0.5, 0, 1), (-0.5, 0, 0)],
)
def test_math_add_rounds_each_operand_half_up(a: float, b: float, total: int) -> None:
    result = ev("States.MathAdd($.a, $.b)", {"a": a, "b": b})
    assert result == total
    assert type(result) is int


def test_math_add_errors() -> None:
    assert "outside the range" in failure("States.MathAdd(2147483648, 0)").cause
    assert ev("States.MathAdd(2147483647, -2147483648)") == -1
    for bad in ("'1'", "true", "null"):
        assert failure(f"States.MathAdd({bad}, 1)").error == INTRINSIC_FAILURE


def test_math_random_range_and_seed() -> None:
    env = Env(random=random.Random(3))
    values = {ev("States.MathRandom(1, 4)", None, env) for _ in range(200)}
    assert values == {1, 2, 3}
    seeded = {ev("States.MathRandom(0, 1000, 42)", None, Env(random=random.Random(n))) for n in range(5)}
    assert len(seeded) == 1
    assert ev("States.MathRandom(12.5, 14.4)") == 13  # rounded half up to [13, 14)
    assert failure("States.MathRandom(5, 5)").error == INTRINSIC_FAILURE
    assert failure("States.MathRandom('1', 5)").error == INTRINSIC_FAILURE


def test_uuid_is_v4_and_reproducible_with_a_seeded_random() -> None:
    first = ev("States.UUID()", None, Env(random=random.Random(9)))
    again = ev("States.UUID()", None, Env(random=random.Random(9)))
    other = ev("States.UUID()", None, Env(random=random.Random(10)))
    assert first == again != other
    parsed = uuid.UUID(first)
    assert parsed.version == 4
    assert str(parsed) == first


def test_random_functions_work_without_an_env() -> None:
    call = compile_intrinsic("States.UUID()")
    assert uuid.UUID(call.evaluate(None, None)).version == 4
    assert compile_intrinsic("States.MathRandom(0, 2)").evaluate(None, None) in (0, 1)


# ---------------------------------------------------------------------------------------------
# Errors and purity


def test_runtime_errors_name_the_failing_call() -> None:
    err = failure("States.Array(States.ArrayLength($.s))", {"s": "abc"})
    assert err.error == INTRINSIC_FAILURE
    assert err.cause.startswith("The function 'States.ArrayLength($.s)' had the following error:")


def test_missing_path_argument_is_a_runtime_error() -> None:
    err = failure("States.Format('{}', $.missing)", {"present": 1})
    assert err.error == RUNTIME
    assert "The JsonPath argument for the field '$.missing' could not be found" in err.cause
    assert '{"present":1}' in err.cause
    assert failure("States.Array($undefinedVar)").error == RUNTIME


def test_evaluate_never_mutates_its_input() -> None:
    data = {"a": {"k": [1, 2]}, "b": {"k": [3]}, "arr": [3, 1, 3, {"x": 1}], "s": "a,b"}
    pristine = copy.deepcopy(data)
    for text in [
        "States.JsonMerge($.a, $.b, false)",
        "States.ArrayUnique($.arr)",
        "States.ArrayPartition($.arr, 2)",
        "States.Array($.a, $.arr)",
        "States.ArrayGetItem($.arr, 3)",
        "States.StringSplit($.s, ',')",
        "States.JsonToString($)",
        "States.Format('{}', $.a)",
    ]:
        ev(text, data)
        assert data == pristine, text


def test_built_containers_are_new_objects() -> None:
    # Values are shared with the input (the engine never mutates in place), containers built are not.
    data = {"a": {"k": 1}, "b": {}, "arr": [1, 1]}
    assert ev("States.JsonMerge($.a, $.b, false)", data) is not data["a"]
    assert ev("States.JsonMerge($.b, $.a, false)", data) is not data["a"]
    assert ev("States.ArrayUnique($.arr)", data) is not data["arr"]
    assert ev("States.ArrayPartition($.arr, 5)", data)[0] is not data["arr"]


def test_compiled_call_is_reusable() -> None:
    call = compile_intrinsic("States.MathAdd($.n, 1)")
    assert [call.evaluate({"n": n}, None) for n in range(3)] == [1, 2, 3]
