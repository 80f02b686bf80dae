"""The JSONata module: expressions, templates, AWS's added functions and their error wordings."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import threading
import uuid
from pathlib import Path

import pytest

from emulator.asl import jsonata
from emulator.errors import QUERY_EVALUATION_ERROR, StatesError

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "aws-recorded"
_PREFIX_END = "). "  # the end of the engine's "An error occurred while executing the state ..."


def ev(text: str, rng: random.Random | None = None, **bindings):
    expression = jsonata.compile_expression("{% " + text + " %}")
    return expression.evaluate(bindings, rng or random.Random(1))


def failure(text: str, field: str | None = "Output", **bindings) -> StatesError:
    with pytest.raises(StatesError) as err:
        jsonata.compile_expression("{% " + text + " %}").evaluate(bindings, random.Random(1), field)
    assert err.value.error == QUERY_EVALUATION_ERROR
    return err.value


# -- is_expression and compiling ------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("{% $x %}", True), ("{%$x%}", True), ("{%\n$x\n%}", True), ("{%%}", True),
    (" {% $x %}", False), ("{% $x %} ", False), (" {% states.input %} ", False),  # corpus: spaces outside
    ("{% $x", False), ("$x %}", False), ("{%}", False), ("$x", False), ("", False),
    (3, False), (None, False), (["{% $x %}"], False), ({"a": "{% $x %}"}, False),
])
def test_is_expression(value, expected) -> None:
    assert jsonata.is_expression(value) is expected


def test_source_is_the_trimmed_inside() -> None:
    assert jsonata.compile_expression("{%   $doesNotExist  %}").source == "$doesNotExist"
    assert jsonata.compile_expression("{%$x%}").source == "$x"
    assert jsonata.compile_expression("{% 'string' %}").source == "'string'"


@pytest.mark.parametrize("text", ["{% 1 + %}", "{% $f( %}", "{% [1, 2 %}", "{% 'open %}", "{% } %}"])
def test_syntax_errors_name_the_expression_and_the_problem(text: str) -> None:
    with pytest.raises(jsonata.JsonataSyntaxError) as err:
        jsonata.compile_expression(text)
    source = text[2:-2].strip()
    assert f"'{source}'" in str(err.value)
    assert err.value.source == source
    assert err.value.detail and err.value.detail in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("text", ["{%%}", "{%   %}", "$x", " {% $x %}"])
def test_empty_or_undelimited_text_is_not_compiled(text: str) -> None:
    with pytest.raises(jsonata.JsonataSyntaxError):
        jsonata.compile_expression(text)


def test_parser_detail_keeps_the_jsonata_code() -> None:
    with pytest.raises(jsonata.JsonataSyntaxError) as err:
        jsonata.compile_expression("{% 1 + %}")
    assert err.value.detail.startswith("S0")


# -- evaluate -------------------------------------------------------------------------------


def test_variables_and_states() -> None:
    states = {"input": {"a": 2, "items": [{"v": 1}, {"v": 2}]}, "context": {"Execution": {"Name": "n"}}}
    assert ev("$states.input.a + $x", states=states, x=3) == 5
    assert ev("$sum($states.input.items.v)", states=states) == 3
    assert ev("$states.context.Execution.Name", states=states) == "n"
    assert ev("$states.input.items[v > 1].v", states=states) == 2
    assert ev("$x & '-' & $y", x="a", y="b") == "a-b"
    assert ev("$keys($states)", states=states) == ["input", "context"]  # $states whole


def test_undefined_is_not_null() -> None:
    assert ev("$nope") is jsonata.UNDEFINED
    assert ev("$states.input.missing", states={"input": {}}) is jsonata.UNDEFINED
    assert ev("$states.input", states={}) is jsonata.UNDEFINED
    assert ev("$states.input.a") is jsonata.UNDEFINED  # no $states bound at all
    assert ev("$x", x=None) is None
    assert ev("null") is None
    assert ev("$states.input.n", states={"input": {"n": None}}) is None
    assert ev("{'a': $x, 'b': $nope}", x=None) == {"a": None}  # undefined drops the key, null stays
    assert ev("[null, $nope]") == [None]


def test_undefined_sentinel() -> None:
    assert repr(jsonata.UNDEFINED) == "UNDEFINED"
    assert not jsonata.UNDEFINED
    assert copy.deepcopy(jsonata.UNDEFINED) is jsonata.UNDEFINED


def test_results_are_json_values_with_integral_numbers_as_ints() -> None:
    assert ev("1 + 1") == 2 and type(ev("1 + 1")) is int
    assert type(ev("2 * 3.0")) is int
    assert type(ev("10 / 4")) is float and ev("10 / 4") == 2.5
    assert type(ev("$sum([1.5, 1.5])")) is int
    assert type(ev("$count([1, 2])")) is int
    assert ev("$x", x=1.0) == 1
    assert ev("[1, 'a', true, null, {'k': [2.5]}]") == [1, "a", True, None, {"k": [2.5]}]


def test_integers_beyond_64_bits_are_numbers_like_any_other() -> None:
    assert ev("$x", x=2**70) == float(2**70)
    assert ev("$x.n * 2", x={"n": 2**64}) == float(2**65)


def test_top_level_is_not_the_input() -> None:
    # AWS binds the input as $states.input only: a bare field name or `$` selects nothing.
    assert ev("states.input", states={"input": 1}) is jsonata.UNDEFINED
    assert ev("$", states={"input": 1}) is jsonata.UNDEFINED


def test_bindings_are_never_mutated() -> None:
    states = {"input": {"a": [1, {"b": 2}]}, "context": {"Execution": {"Name": "n"}}, "result": {"r": [3]}}
    bindings = {"states": states, "x": {"y": [1, 2]}, "z": None}
    before = copy.deepcopy(bindings)
    expression = jsonata.compile_expression(
        "{% ($a := $append($states.input.a, 9); $merge([$x, {'y': 0}]) ~> |$|{'added': 1}|) %}")
    result = expression.evaluate(bindings, random.Random(1))
    assert result == {"y": 0, "added": 1}
    result["y"] = "changed"
    out = jsonata.compile_expression("{% $states.input %}").evaluate(bindings, random.Random(1))
    out["a"].append("changed")  # the result is a copy, not the bound value
    assert bindings == before


def test_context_is_built_only_when_read() -> None:
    built: list[int] = []
    context = jsonata.Deferred(lambda: built.append(1) or {"Execution": {"Name": "n"}})
    states = {"input": {"a": 1}, "context": context}
    bindings = {"states": states, "x": [1]}
    assert ev("$states.input.a", **bindings) == 1
    assert ev("$x[0] + $states.input.a", **bindings) == 2
    assert built == []
    assert ev("$states.context.Execution.Name", **bindings) == "n"
    assert built == [1]
    assert ev("$states.context.Execution.Name & $states.input.a", **bindings) == "n1"
    assert built == [1, 1]
    assert ev("$count($keys($states))", **bindings) == 2  # $states whole: built too
    assert states["context"] is context and bindings["x"] == [1]


def test_expression_is_reusable_and_its_repr_shows_it() -> None:
    expression = jsonata.compile_expression("{% $states.input.n * 2 %}")
    assert [expression.evaluate({"states": {"input": {"n": n}}}, random.Random(0)) for n in range(3)] == [0, 2, 4]
    assert "$states.input.n * 2" in repr(expression)


# -- errors at evaluation -------------------------------------------------------------------


def test_runtime_error_names_expression_field_and_jsonata_code() -> None:
    err = failure("'a' + 1", "Output/total")
    assert err.cause == ("The JSONata expression ''a' + 1' specified for the field 'Output/total' threw an error "
                         "during evaluation. T2001: The left side of the + operator must evaluate to a number")
    assert err.location == "Output/total"


def test_runtime_error_without_a_field() -> None:
    err = failure("$error('boom')", None)
    assert err.cause == "The JSONata expression '$error('boom')' threw an error during evaluation. D3137: boom"
    assert err.location is None


def test_function_result_is_unsupported() -> None:
    err = failure("$fn := function($x){$x}", "Items")
    assert err.cause == ("The JSONata expression '$fn := function($x){$x}' specified for the field 'Items' "
                         "returned an unsupported result type.")  # corpus
    failure("function($x){$x}", "Items")


def test_empty_string_is_not_taken_for_a_function() -> None:
    assert ev("''") == ""
    assert ev("$x", x="") == ""


def test_division_by_zero_is_out_of_range() -> None:
    err = failure("1 / 0")
    assert "D1001" in err.cause


def test_eval_is_not_available() -> None:
    err = failure("$eval('1 + 1')")
    assert "T1006" in err.cause


def test_unknown_function() -> None:
    assert "T1006" in failure("$noSuchFunction(1)").cause


def test_endless_loop_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonata, "EVALUATION_TIMEOUT_MS", 50)
    err = failure("($loop := function($n){ $loop($n + 1) }; $loop(0)) /* timeout-test */")
    assert "D1012" in err.cause


def test_runaway_recursion_fails() -> None:
    err = failure("($f := function($n){ 1 + $f($n + 1) }; $f(0))")
    assert "overflow" in err.cause.lower()


# -- error wordings (AWS's, from the corpus) -------------------------------------------------


@pytest.mark.parametrize(("source", "value", "shown"), [
    ("1", 1, "'number' for value: 1"),
    ("'string'", "string", "'string' for value: \"string\""),
    ("{'foo': 'bar'}", {"foo": "bar"}, "'object' for value: {\"foo\":\"bar\"}"),
    ("$ItemsVar", True, "'boolean' for value: true"),
    ("$ItemsVar", None, "'null' for value: null"),
    ("$x", [1, "é"], "'array' for value: [1,\"é\"]"),
])
def test_type_error_wording(source: str, value, shown: str) -> None:
    err = jsonata.type_error(source, "Items", "array", value)
    assert err.error == QUERY_EVALUATION_ERROR and err.location == "Items"
    assert err.cause == (f"The JSONata expression '{source}' specified for the field 'Items' returned an unexpected "
                         f"result type. Expected 'array', but was {shown}")


def test_type_error_of_undefined_is_returned_nothing() -> None:
    err = jsonata.type_error("$x", "Choices[0]/Condition", "boolean", jsonata.UNDEFINED)
    assert err.cause == ("The JSONata expression '$x' specified for the field 'Choices[0]/Condition' returned "
                         "nothing (undefined).")


def test_other_wordings() -> None:
    err = jsonata.undefined_error("$doesNotExist", "Output")
    assert err.cause == "The JSONata expression '$doesNotExist' specified for the field 'Output' returned nothing (undefined)."
    assert err.location == "Output"
    assert jsonata.unsupported_type_error("$f", "Items").cause.endswith("returned an unsupported result type.")
    err = jsonata.map_input_error({"foo": "bar"})
    assert (err.error, err.cause) == (QUERY_EVALUATION_ERROR, 'Map state input must be an array but was: {"foo":"bar"}')
    err = jsonata.timestamp_error("2016-12-05 21:29:29Z")
    assert err.cause == ("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format "
                         "string: 2016-12-05 21:29:29Z")
    assert err.location == "Timestamp"
    assert jsonata.evaluation_error("$x", "Output", "not coded").cause.endswith("during evaluation: not coded")
    assert jsonata.evaluation_error("$x", "Output", "T1234: coded").cause.endswith("during evaluation. T1234: coded")


@pytest.mark.parametrize(("value", "name"), [
    (None, "null"), (True, "boolean"), (0, "number"), (1.5, "number"), ("", "string"), ([], "array"), ({}, "object"),
])
def test_json_type(value, name: str) -> None:
    assert jsonata.json_type(value) == name


# -- Template -------------------------------------------------------------------------------


def test_template_renders_expressions_at_any_depth() -> None:
    template = jsonata.Template({"a": ["x", "{% $v %}", {"deep": ["{% $v * 10 %}"]}], "b": {"c": "{% $v * 2 %}"},
                                 "s": "static", "n": None, "lit": " {% $v %} "}, "Output")
    assert template.dynamic
    assert template.render({"v": 2}, random.Random(1)) == {
        "a": ["x", 2, {"deep": [20]}], "b": {"c": 4}, "s": "static", "n": None, "lit": " {% $v %} "}


def test_template_of_one_expression() -> None:
    template = jsonata.Template("{% $states.input.xs %}", "Items")
    assert template.dynamic and template.source == "$states.input.xs" and template.field == "Items"
    assert template.render({"states": {"input": {"xs": [1]}}}, random.Random(1)) == [1]
    assert jsonata.Template("{% null %}", "Output").render({}, random.Random(1)) is None


def test_static_template_is_the_value_itself() -> None:
    spec = {"a": [1, {"b": "$states.input"}], "c": "not {% an expression %}"}
    template = jsonata.Template(spec, "Arguments")
    assert not template.dynamic
    assert template.render({}, random.Random(1)) is spec
    assert jsonata.Template(5, "Seconds").render({}, random.Random(1)) == 5
    assert jsonata.Template(5, "Seconds").source == "5"


def test_dynamic_template_shares_static_subtrees_and_never_changes_its_spec() -> None:
    static = {"deep": [1, 2]}
    spec = {"s": static, "d": "{% $v %}"}
    before = copy.deepcopy(spec)
    template = jsonata.Template(spec, "Output")
    first = template.render({"v": 1}, random.Random(1))
    second = template.render({"v": 2}, random.Random(1))
    assert first == {"s": static, "d": 1} and second["d"] == 2
    assert first is not second and first["s"] is static
    assert spec == before


@pytest.mark.parametrize(("spec", "field", "path"), [
    ("{% $doesNotExist %}", "Output", "Output"),
    ({"result": "{% $doesNotExist %}"}, "Output", "Output/result"),
    ({"result": "{% $doesNotExist %}"}, "Assign", "Assign/result"),
    ({"FunctionName": "{% $doesNotExist %}"}, "Arguments", "Arguments/FunctionName"),
    ({"a": {"b": "{% $doesNotExist %}"}}, "Output", "Output/a/b"),
    ({"values": ["{% $doesNotExist %}", 1]}, "Output", "Output/values[0]"),
    ({"a": {"b": [[1, "{% $doesNotExist %}"]]}}, "Output", "Output/a/b[0][1]"),
    (["x", {"k": "{% $doesNotExist %}"}], "ItemSelector", "ItemSelector[1]/k"),
])
def test_undefined_names_the_field_path(spec, field: str, path: str) -> None:
    with pytest.raises(StatesError) as err:
        jsonata.Template(spec, field).render({}, random.Random(1))
    assert err.value.error == QUERY_EVALUATION_ERROR
    assert err.value.cause == (f"The JSONata expression '$doesNotExist' specified for the field '{path}' returned "
                               "nothing (undefined).")
    assert err.value.location == path


def test_template_runtime_error_names_the_field_path() -> None:
    with pytest.raises(StatesError) as err:
        jsonata.Template({"a": [0, "{% 1 + 'x' %}"]}, "Arguments").render({}, random.Random(1))
    assert "specified for the field 'Arguments/a[1]' threw an error during evaluation. T2002" in err.value.cause


def test_template_syntax_error_names_the_field_path() -> None:
    with pytest.raises(jsonata.JsonataSyntaxError) as err:
        jsonata.Template({"a": {"b": "{% 1 + %}"}}, "Output")
    assert "'1 +'" in str(err.value) and "Output/a/b" in str(err.value)


def test_template_never_mutates_bindings() -> None:
    bindings = {"states": {"input": {"xs": [3, 1, 2]}}, "v": {"k": [1]}}
    before = copy.deepcopy(bindings)
    template = jsonata.Template({"sorted": "{% $sort($states.input.xs) %}", "v": "{% $v %}"}, "Output")
    out = template.render(bindings, random.Random(1))
    out["v"]["k"].append(2)
    assert out["sorted"] == [1, 2, 3] and bindings == before


# -- AWS's functions --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("$partition([1, 2, 3, 4, 5, 6, 7, 8, 9], 3)", [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),  # AWS's example
    ("$partition([1, 2, 3, 4, 5], 2)", [[1, 2], [3, 4], [5]]),
    ("$partition([0], 5)", [[0]]),  # corpus: the outer array stays an array
    ("$partition([0, 1, 2, 3], 3)", [[0, 1, 2], [3]]),
    ("$partition([], 2)", []),
    ("$partition([1, 2, 3], 2.9)", [[1, 2], [3]]),  # non-integers are rounded down
    ("$partition('a', 1)", [["a"]]),  # a single value is an array of one
])
def test_partition(text: str, expected) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize("text", [
    "$partition([1, 2], 0)", "$partition([1, 2], -1)", "$partition([1, 2], 0.5)", "$partition([1, 2], 'x')",
    "$partition([1, 2])", "$partition({'a': 1}, 2)", "$partition(null, 2)", "$partition([1], true)",
])
def test_partition_errors(text: str) -> None:
    err = failure(text)
    assert "$partition" in err.cause and "threw an error during evaluation" in err.cause


@pytest.mark.parametrize(("text", "expected"), [
    ("$range(0, 10, 2)", [0, 2, 4, 6, 8, 10]),  # AWS's example: the end is included when a step lands on it
    ("$range(0, 9, 3)", [0, 3, 6, 9]),  # corpus
    ("$range(1, 9, 2)", [1, 3, 5, 7, 9]),  # corpus
    ("$range(1, 9, 9)", 1),  # corpus: one value comes back on its own
    ("$range(0, 10, 3)", [0, 3, 6, 9]),
    ("$range(10, 0, -5)", [10, 5, 0]),
    ("$range(0.9, 3.5, 1.9)", [0, 1, 2, 3]),  # rounded down: (0, 3, 1)
    ("$range(5, 1, 1)", []),
])
def test_range(text: str, expected) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize("text", [
    "$range(0, 5, 0)", "$range(0, 5)", "$range('0', 5, 1)", "$range(0, 5000, 1)", "$range(0, 5, null)",
])
def test_range_errors(text: str) -> None:
    assert "$range" in failure(text).cause or "range" in failure(text).cause


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"])
def test_hash(algorithm: str) -> None:
    expected = hashlib.new(algorithm.replace("-", "").lower(), b"input data").hexdigest()
    assert ev(f"$hash('input data', '{algorithm}')") == expected


def test_hash_known_values() -> None:
    assert ev("$hash('input', 'SHA-1')") == "140f86aae51ab9e1cda9b4254fe98a74eb54c1a1"  # as AWS answers
    assert ev("$hash('abc', 'MD5')") == "900150983cd24fb0d6963f7d28e17f72"
    assert ev("$hash($states.input.content, 'SHA-256')", states={"input": {"content": "é"}}) == (
        hashlib.sha256("é".encode()).hexdigest())


@pytest.mark.parametrize("text", [
    "$hash('a', 'SHA-3')", "$hash('a', 'sha-256')", "$hash('a')", "$hash(1, 'MD5')", "$hash('a', null)",
])
def test_hash_errors(text: str) -> None:
    assert "$hash" in failure(text).cause


def test_random_seeded_is_java_random() -> None:
    assert ev("$random(42)") == 0.7275636800328681  # new java.util.Random(42).nextDouble(), as AWS answers
    assert jsonata.java_random_double(0) == 0.730967787376657
    assert ev("$random(42)", random.Random(1)) == ev("$random(42)", random.Random(2))  # the run's Random unused
    assert ev("$random(42.9)") == ev("$random(42)")  # rounded down
    assert ev("$random(-7)") == jsonata.java_random_double(-7)
    assert 0 <= ev("$random($states.input.seed)", states={"input": {"seed": 123456789}}) < 1


def test_random_unseeded_draws_from_the_run() -> None:
    first = ev("[$random(), $random()]", random.Random(5))
    assert first == ev("[$random(), $random()]", random.Random(5))  # seeded runs reproduce
    assert first != ev("[$random(), $random()]", random.Random(6))
    assert all(0 <= value < 1 for value in first) and first[0] != first[1]
    rng = random.Random(5)
    expected = random.Random(5)
    assert ev("$random()", rng) == expected.random()
    assert rng.random() == expected.random()  # one draw per call


def test_random_errors() -> None:
    assert "$random" in failure("$random('x')").cause
    assert "$random" in failure("$random(1, 2)").cause


def test_uuid_is_v4_from_the_run() -> None:
    value = ev("$uuid()", random.Random(3))
    assert uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value
    assert value == ev("$uuid()", random.Random(3))
    assert ev("[$uuid(), $uuid()]", random.Random(3))[0] == value
    pair = ev("[$uuid(), $uuid()]", random.Random(3))
    assert pair[0] != pair[1]
    assert "$uuid" in failure("$uuid(1)").cause


@pytest.mark.parametrize(("text", "expected"), [
    ("$parse('1')", 1),  # corpus
    ("$parse('true')", True),  # corpus
    ("$parse('[1, 2, \"HelloWorld\"]')", [1, 2, "HelloWorld"]),  # corpus
    ("$parse('{\"Arg1\": 1, \"Arg2\": []}')", {"Arg1": 1, "Arg2": []}),  # corpus
    ("$parse('{\"a\": {\"b\": null}}').a", {"b": None}),
    ("$parse('null')", None),
    ("$parse('\"s\"')", "s"),
])
def test_parse(text: str, expected) -> None:
    assert ev(text) == expected


def test_parse_of_a_nested_executions_output() -> None:
    states = {"input": {"Output": json.dumps({"total": 3, "items": ["a"]})}}
    assert ev("$parse($states.input.Output).items[0]", states=states) == "a"


@pytest.mark.parametrize("text", ["$parse('{')", "$parse(1)", "$parse('NaN')", "$parse()", "$parse('')"])
def test_parse_errors(text: str) -> None:
    assert "$parse" in failure(text).cause


def test_functions_errors_keep_their_own_message() -> None:
    err = failure("$partition([1], 0)", "Assign/chunks")
    assert err.cause == ("The JSONata expression '$partition([1], 0)' specified for the field 'Assign/chunks' threw "
                         "an error during evaluation: The chunk size (second argument) of $partition must be a "
                         "positive integer, but was: 0")
    assert err.location == "Assign/chunks"


def test_jsonata_builtins_still_work_beside_aws_functions() -> None:
    assert ev("$count($partition($range(1, 10, 1), 3))") == 4
    assert ev("$uppercase($hash('a', 'MD5'))") == hashlib.md5(b"a").hexdigest().upper()
    assert ev("$map($range(1, 3, 1), function($v){ $v * 2 })") == [2, 4, 6]


def test_rng_is_rewound_when_a_null_result_is_checked() -> None:
    # A None result is re-evaluated to tell null from undefined; the draw must not happen twice.
    rng = random.Random(9)
    assert ev("($r := $random(); null)", rng) is None
    expected = random.Random(9)
    expected.random()
    assert rng.random() == expected.random()


# -- threads ----------------------------------------------------------------------------------


def test_one_expression_evaluated_from_many_threads() -> None:
    expression = jsonata.compile_expression("{% {'k': $states.input.k * 2, 'r': $random(), 'u': $uuid()} %}")
    template = jsonata.Template({"v": "{% $states.input.k %}", "list": ["{% $x %}"]}, "Output")
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            rng = random.Random(k)
            out = []
            for _ in range(50):
                value = expression.evaluate({"states": {"input": {"k": k}}}, rng)
                assert value["k"] == 2 * k
                assert template.render({"states": {"input": {"k": k}}, "x": k}, rng) == {"v": k, "list": [k]}
                out.append((value["r"], value["u"]))
            results[k] = out
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == [] and len(results) == 6
    threaded = dict(results)
    for k in range(6):  # the same seeds, one after the other on this thread: the same draws
        work(k)
    assert results == threaded


# -- the corpus -------------------------------------------------------------------------------


def _corpus_cases() -> list[dict]:
    path = CORPUS / "cases.jsonl"
    if not path.is_file():
        pytest.skip(f"AWS-recorded corpus not found at {CORPUS}")
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [c for c in cases if "JSONata" in json.dumps(c["definition"])]


def _single_pass(case: dict) -> dict | None:
    states = case["definition"]["States"]
    if len(states) != 1:
        return None
    state = next(iter(states.values()))
    return state if state.get("Type") == "Pass" and "Output" in state and "Assign" not in state else None


def test_corpus_single_pass_outputs_match_aws() -> None:
    compared = 0
    for case in _corpus_cases():
        state = _single_pass(case)
        if state is None or not case["deterministic"]:
            continue
        bindings = {"states": {"input": case["input"]}}
        template = jsonata.Template(state["Output"], "Output")
        expected = case["expected"]
        if expected["status"] == "SUCCEEDED":
            assert template.render(bindings, random.Random(1)) == expected["output"], case["id"]
        else:
            with pytest.raises(StatesError) as err:
                template.render(bindings, random.Random(1))
            cause = expected["cause"]
            assert err.value.error == expected["error"], case["id"]
            assert err.value.cause == cause[cause.index(_PREFIX_END) + len(_PREFIX_END):], case["id"]
        compared += 1
    assert compared >= 20


def test_corpus_expressions_all_compile() -> None:
    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)

    count = 0
    for case in _corpus_cases():
        for text in strings(case["definition"]):
            if jsonata.is_expression(text):
                jsonata.compile_expression(text)
                count += 1
    assert count >= 100


def test_corpus_items_type_errors_word_as_aws() -> None:
    # The engine raises these (Map Items must be an array) through type_error / unsupported_type_error.
    checked = 0
    for case in _corpus_cases():
        cause = case["expected"].get("cause") or ""
        if "for the field 'Items' returned an unexpected result type" not in cause:
            continue
        state = next(s for s in case["definition"]["States"].values() if s.get("Type") == "Map")
        template = jsonata.Template(state["Items"], "Items")
        source = template.source
        value = json.loads(cause.rsplit("for value: ", 1)[1])
        err = jsonata.type_error(source, "Items", "array", value)
        assert err.cause == cause[cause.index(_PREFIX_END) + len(_PREFIX_END):], case["id"]
        checked += 1
    assert checked >= 5
