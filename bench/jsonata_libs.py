"""Which JSONata package: correct on the AWS-recorded corpus first, fast second.

    pip install jsonatapy jsonata-python && python bench/jsonata_libs.py [--quick]

Candidates: jsonatapy (Rust) and jsonata-python (pure Python, imported as `jsonata`). Both must
register custom functions and take variable bindings per evaluation; AWS's functions ($partition,
$range, $hash, $random, $uuid, $parse) come from emulator/asl/jsonata.py and are bound on both.

1. Corpus (../shared/conformance/aws-recorded/cases.jsonl, the cases whose definition mentions
   JSONata): every `{% %}` string at any depth of each definition, evaluated standalone with
   `$states.input` = the case input, a plausible `$states.context`, and the workflow variables the
   definition assigns literally (then its Assign expressions, in order). Counted: parsed, evaluated
   without error. Then the cases built only of Pass/Choice/Succeed/Fail/Wait/inline Map states
   (no service calls) are run end to end by a small interpreter here and compared with what AWS
   recorded: output for SUCCEEDED, error and cause for FAILED.
2. Semantics probes: expressions whose jsonata-js 2.0 answers the JSONata documentation gives
   (paths over arrays, singleton sequences, `[]`, rounding, number formatting, higher-order
   functions, ...): what AWS, which runs JSONata 2.0.6, would compute.
3. Speed: compile once, evaluate many; the median µs per evaluation of four typical expressions,
   for the library call alone and, for jsonatapy, through emulator.asl.jsonata.Expression.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator.asl import jsonata as sfn_jsonata  # AWS's functions and error wordings
from emulator.asl.choice import parse_timestamp
from emulator.errors import StatesError

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "aws-recorded" / "cases.jsonl"
UNDEFINED = sfn_jsonata.UNDEFINED
_PREFIX_END = "). "  # "An error occurred while executing the state 'X' (entered at the event id #N). "


class Unsupported(Exception):
    """A result JSON cannot hold (a function)."""


# ---------------------------------------------------------------------------------------------
# The two libraries behind one interface: compile(source) -> handle; evaluate(handle, bindings)
# -> JSON value or UNDEFINED, raising on a JSONata error.


class Jsonatapy:
    name = "jsonatapy"

    def __init__(self) -> None:
        import jsonatapy

        self.lib = jsonatapy

    def compile(self, source: str) -> Any:
        expr = self.lib.compile(source)
        for fname, fn in sfn_jsonata.AWS_FUNCTIONS.items():
            if fname != "random":
                expr.register(fname, fn)
        expr.register_override("random", sfn_jsonata.AWS_FUNCTIONS["random"])
        return expr

    def evaluate(self, expr: Any, bindings: dict[str, Any]) -> Any:
        value = expr.evaluate(None, bindings)
        if value is not None:
            return value
        text = expr.evaluate_json_or_none(None, bindings)  # tells null from undefined
        if text is None:
            return UNDEFINED
        if text != "null":
            raise Unsupported("function")
        return None


class JsonataPython:
    name = "jsonata-python"

    def __init__(self) -> None:
        from jsonata import Jsonata
        from jsonata.utils import Utils

        self.Jsonata, self.null = Jsonata, Utils.NULL_VALUE

    def compile(self, source: str) -> Any:
        expr = self.Jsonata(source)
        for fname, fn in sfn_jsonata.AWS_FUNCTIONS.items():
            expr.register_lambda(fname, fn)
        expr.set_output_convert_nulls(False)  # else null and undefined both come back as None
        return expr

    def evaluate(self, expr: Any, bindings: dict[str, Any]) -> Any:
        # A top-level None binding reads as undefined here; its null is Utils.NULL_VALUE.
        value = expr.evaluate(None, {k: self.null if v is None else v for k, v in bindings.items()})
        return UNDEFINED if value is None else self._plain(value)

    def _plain(self, value: Any) -> Any:
        if value is self.null:
            return None
        if isinstance(value, dict):
            return {k: self._plain(v) for k, v in value.items()}
        if isinstance(value, list):  # JList, its sequence type, is a list
            return [self._plain(v) for v in value]
        if value is None or isinstance(value, str | int | float | bool):
            return value
        raise Unsupported(type(value).__name__)


# ---------------------------------------------------------------------------------------------
# 1. The corpus


def _is_expr(value: Any) -> bool:
    return sfn_jsonata.is_expression(value)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if _is_expr(value) else []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _context(case: dict[str, Any], state: str = "State", item: tuple[int, Any] | None = None) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:sm:ex", "Input": case["input"],
                      "Name": "ex", "RoleArn": "arn:aws:iam::111111111111:role/r",
                      "StartTime": "2024-01-01T00:00:00.000Z", "RedriveCount": 0},
        "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:sm", "Name": "sm"},
        "State": {"Name": state, "EnteredTime": "2024-01-01T00:00:00.000Z", "RetryCount": 0},
    }
    if item is not None:
        ctx["Map"] = {"Item": {"Index": item[0], "Value": item[1]}}
    return ctx


def _assigns(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        found = [value["Assign"]] if isinstance(value.get("Assign"), dict) else []
        return found + [a for k, v in value.items() if k != "Assign" for a in _assigns(v)]
    if isinstance(value, list):
        return [a for v in value for a in _assigns(v)]
    return []


class _Rendered:
    """Renders a field spec through a library, with the module's error wordings."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib
        self.compiled: dict[str, Any] = {}

    def expr(self, text: str, bindings: dict[str, Any], field: str) -> Any:
        source = text[2:-2].strip()
        handle = self.compiled.get(source)
        if handle is None:
            handle = self.compiled[source] = self.lib.compile(source)
        try:
            return self.lib.evaluate(handle, bindings)
        except Unsupported:
            raise sfn_jsonata.unsupported_type_error(source, field) from None
        except StatesError:
            raise
        except Exception as exc:  # a JSONata error
            raise sfn_jsonata.evaluation_error(source, field, str(exc)) from None

    def render(self, spec: Any, bindings: dict[str, Any], field: str) -> Any:
        if _is_expr(spec):
            value = self.expr(spec, bindings, field)
            if value is UNDEFINED:
                raise sfn_jsonata.undefined_error(spec[2:-2].strip(), field)
            return value
        if isinstance(spec, dict):
            return {k: self.render(v, bindings, f"{field}/{k}") for k, v in spec.items()}
        if isinstance(spec, list):
            return [self.render(v, bindings, f"{field}[{i}]") for i, v in enumerate(spec)]
        return spec


class _NotComparable(Exception):
    pass


class MiniInterpreter:
    """Just enough of the ASL (JSONata states, no services) to run the corpus's simple machines."""

    def __init__(self, lib: Any, case: dict[str, Any]) -> None:
        self.r = _Rendered(lib)
        self.case = case

    def run(self) -> dict[str, Any]:
        definition = self.case["definition"]
        top = definition.get("QueryLanguage", "JSONPath") == "JSONata"
        try:
            output = self.machine(definition, self.case["input"], {}, top)
        except StatesError as err:
            return {"status": "FAILED", "error": err.error, "cause": err.cause}
        return {"status": "SUCCEEDED", "output": output}

    def machine(self, spec: dict[str, Any], data: Any, variables: dict[str, Any], top: bool,
                item: tuple[int, Any] | None = None) -> Any:
        name = spec["StartAt"]
        for _ in range(100):
            state = spec["States"][name]
            jsonata_state = state.get("QueryLanguage", "JSONata" if top else "JSONPath") == "JSONata"
            data, name = self.state(name, state, data, variables, jsonata_state, top, item)
            if name is None:
                return data
            item = None  # only the first state of an iteration sees $states.context.Map
        raise _NotComparable("too many transitions")

    def state(self, name: str, state: dict[str, Any], data: Any, variables: dict[str, Any], jsonata_state: bool,
              top: bool, item: tuple[int, Any] | None) -> tuple[Any, str | None]:
        kind = state["Type"]
        nxt = None if state.get("End") else state.get("Next")
        if not jsonata_state:
            if set(state) - {"Type", "Next", "End", "Comment", "QueryLanguage"} or kind not in ("Pass", "Succeed"):
                raise _NotComparable(f"JSONPath {kind} with fields")
            return data, nxt
        bindings = {**variables, "states": {"input": data, "context": _context(self.case, name, item)}}
        render = self.r.render
        if kind == "Fail":
            error = render(state["Error"], bindings, "Error") if "Error" in state else None
            cause = render(state["Cause"], bindings, "Cause") if "Cause" in state else None
            raise StatesError(error, cause)
        result: Any = UNDEFINED
        rule_output = rule_assign = None
        if kind == "Choice":
            for index, rule in enumerate(state["Choices"]):
                condition = rule["Condition"]
                if _is_expr(condition):
                    value = self.r.expr(condition, bindings, f"Choices[{index}]/Condition")
                    if not isinstance(value, bool):
                        raise sfn_jsonata.type_error(condition[2:-2].strip(), f"Choices[{index}]/Condition",
                                                     "boolean", value)
                    condition = value
                if condition:
                    nxt, rule_output, rule_assign = rule["Next"], rule.get("Output"), rule.get("Assign")
                    break
            else:
                if "Default" not in state:
                    raise StatesError("States.NoChoiceMatched", "No Matches!")
                nxt = state["Default"]
        elif kind == "Wait":
            if "Seconds" in state:
                seconds = render(state["Seconds"], bindings, "Seconds")
                if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                    raise sfn_jsonata.type_error(str(state["Seconds"])[2:-2].strip(), "Seconds", "number", seconds)
            if "Timestamp" in state:
                stamp = render(state["Timestamp"], bindings, "Timestamp")
                if parse_timestamp(stamp) is None:
                    raise sfn_jsonata.timestamp_error(stamp)
        elif kind == "Map":
            items = render(state["Items"], bindings, "Items") if "Items" in state else data
            if not isinstance(items, list):
                source = state["Items"][2:-2].strip() if _is_expr(state.get("Items")) else ""
                raise (sfn_jsonata.type_error(source, "Items", "array", items) if "Items" in state
                       else sfn_jsonata.map_input_error(items))
            processor = state.get("ItemProcessor") or state.get("Iterator")
            result = []
            for index, value in enumerate(items):
                if "ItemSelector" in state:
                    selector_bindings = {**variables, "states": {"input": data, "context": _context(
                        self.case, name, (index, value))}}
                    value = render(state["ItemSelector"], selector_bindings, "ItemSelector")
                result.append(self.machine(processor, value, dict(variables), top, (index, value)))
        elif kind not in ("Pass", "Succeed"):
            raise _NotComparable(kind)
        if result is not UNDEFINED:
            bindings["states"]["result"] = result
        assign = rule_assign if rule_assign is not None else state.get("Assign")
        if assign is not None:
            variables.update(render(assign, bindings, "Assign"))
        output_spec = rule_output if rule_output is not None else state.get("Output")
        if output_spec is not None:
            return render(output_spec, bindings, "Output"), nxt
        return (data if result is UNDEFINED else result), nxt


def _variables(lib: Any, case: dict[str, Any]) -> dict[str, Any]:
    """The variables the definition assigns: literal ones, then expression ones in order."""
    assigns = _assigns(case["definition"])
    variables = {k: v for a in assigns for k, v in a.items() if not _strings(v)}
    r = _Rendered(lib)
    for a in assigns:
        for k, v in a.items():
            if _strings(v):
                bindings = {**variables, "states": {"input": case["input"], "context": _context(case)}}
                with contextlib.suppress(Exception):  # a variable it cannot compute stays unbound
                    variables[k] = r.render(v, bindings, "Assign")
    return variables


def corpus(lib: Any, cases: list[dict[str, Any]]) -> dict[str, Any]:
    stats = {"expressions": 0, "parsed": 0, "evaluated": 0, "undefined": 0, "failures": [],
             "compared": 0, "agreed": 0, "disagreements": []}
    for case in cases:
        variables = _variables(lib, case)
        bindings = {**variables, "states": {"input": case["input"], "context": _context(case),
                                            "result": case["input"], "errorOutput": {"Error": "E", "Cause": "C"}}}
        for text in _strings(case["definition"]):
            stats["expressions"] += 1
            source = text[2:-2].strip()
            try:
                handle = lib.compile(source)
            except Exception as exc:
                stats["failures"].append((case["id"], source, f"parse: {exc}"))
                continue
            stats["parsed"] += 1
            try:
                value = lib.evaluate(handle, bindings)
            except Unsupported:
                value = "function"  # the expression is fine; its result is what AWS rejects
            except Exception as exc:
                stats["failures"].append((case["id"], source, f"evaluate: {exc}"))
                continue
            stats["evaluated"] += 1
            stats["undefined"] += value is UNDEFINED
        if case["needs_services"] or not case["deterministic"]:
            continue
        try:
            got = MiniInterpreter(lib, case).run()
        except _NotComparable:
            continue
        expected = dict(case["expected"])
        if expected.get("status") == "FAILED" and isinstance(expected.get("cause"), str):
            cause = expected["cause"]
            if cause.startswith("An error occurred while executing the state"):
                expected["cause"] = cause[cause.index(_PREFIX_END) + len(_PREFIX_END):]
        stats["compared"] += 1
        if got == expected:
            stats["agreed"] += 1
        else:
            stats["disagreements"].append((case["id"], got, expected))
    return stats


# ---------------------------------------------------------------------------------------------
# 2. Semantics probes: (expression, bindings, jsonata-js 2.0 answer per the JSONata documentation)

ORDERS = {"orders": [{"id": "a", "price": 5, "qty": 2}, {"id": "b", "price": 20, "qty": 1}]}
PROBES: list[tuple[str, dict[str, Any], Any]] = [
    ("$x.orders.price", {"x": ORDERS}, [5, 20]),
    ("$x.orders[price > 10].id", {"x": ORDERS}, "b"),  # a one-item sequence is the item
    ("$x.orders[price > 10].id[]", {"x": ORDERS}, ["b"]),  # `[]` keeps it an array
    ("$x.orders[0].id", {"x": ORDERS}, "a"),
    ("$x.orders[-1].id", {"x": ORDERS}, "b"),
    ("$sum($x.orders.(price * qty))", {"x": ORDERS}, 30),
    ("$x.orders^(>price).id", {"x": ORDERS}, ["b", "a"]),
    ("$x.orders{id: price}", {"x": ORDERS}, {"a": 5, "b": 20}),
    ("$x.missing.deeper", {"x": ORDERS}, UNDEFINED),
    ("[1,2,3].($ * 2)", {}, [2, 4, 6]),
    ("[1..3]", {}, [1, 2, 3]),
    ("$string(1.0)", {}, "1"),
    ("$string(1e21)", {}, "1e+21"),
    ("$string(0.1 + 0.2)", {}, "0.3"),  # $string writes numbers to 15 significant digits
    ("0.1 + 0.2", {}, 0.30000000000000004),
    ("$string({'a': [1, 2.5, null]})", {}, '{"a":[1,2.5,null]}'),
    ("$number('1e3')", {}, 1000),
    ("$round(2.5)", {}, 2),  # round half to even
    ("$round(3.5)", {}, 4),
    ("$round(1.255, 2)", {}, 1.26),
    ("$floor(-1.5)", {}, -2),
    ("$power(2, 10)", {}, 1024),
    ("$average([1, 2])", {}, 1.5),
    ("$formatNumber(1234.5, '#,##0.00')", {}, "1,234.50"),
    ("$formatBase(255, 16)", {}, "ff"),
    ("$substring('hello', 1, 3)", {}, "ell"),
    ("$pad('a', 3) & '|'", {}, "a  |"),
    ("$trim('  a   b ')", {}, "a b"),
    ("$split('a,b,c', ',', 2)", {}, ["a", "b"]),
    ("$join(['a', 'b'], '-')", {}, "a-b"),
    ("$replace('abcb', 'b', 'x')", {}, "axcx"),
    ("$match('ab12cd345', /\\d+/).match", {}, ["12", "345"]),
    ("$contains('hello$world', /^hello\\$/)", {}, True),
    ("$base64encode('hi')", {}, "aGk="),
    ("$encodeUrlComponent('a b&c')", {}, "a%20b%26c"),
    ("'a' & 1 & true", {}, "a1true"),
    ("1 = 1.0", {}, True),
    ("'b' in ['a', 'b']", {}, True),
    ("$boolean([])", {}, False),
    ("$boolean('0')", {}, True),
    ("$exists($nope)", {}, False),
    ("$type(null)", {}, "null"),
    ("$count($nope)", {}, 0),
    ("$keys({'b': 1, 'a': 2})", {}, ["b", "a"]),
    ("$merge([{'a': 1}, {'b': 2}, {'a': 3}])", {}, {"a": 3, "b": 2}),
    ("$spread({'a': 1, 'b': 2})", {}, [{"a": 1}, {"b": 2}]),
    ("$each({'a': 1}, function($v, $k){ $k & $v })", {}, "a1"),
    ("$sift({'a': 1, 'b': 2}, function($v){ $v > 1 })", {}, {"b": 2}),
    ("$map([1, 2], function($v, $i){ $v + $i })", {}, [1, 3]),
    ("$filter([1, 2, 3], function($v){ $v > 1 })", {}, [2, 3]),
    ("$reduce([1, 2, 3], function($a, $b){ $a + $b })", {}, 6),
    ("$sort([3, 1, 2])", {}, [1, 2, 3]),
    ("$sort(['b', 'a'], function($l, $r){ $l < $r })", {}, ["b", "a"]),
    ("$distinct([1, 1, 2])", {}, [1, 2]),
    ("$append([1], 2)", {}, [1, 2]),
    ("$zip([1, 2], [3, 4])", {}, [[1, 3], [2, 4]]),
    ("$lookup({'a': 1}, 'a')", {}, 1),
    ("($a := 2; $b := $a * 3; $b)", {}, 6),
    ("($f := function($n){ $n <= 1 ? 1 : $n * $f($n - 1) }; $f(5))", {}, 120),
    ("[1, 2] ~> $count()", {}, 2),
    ("$x ~> |a|{'b': 2}|", {"x": {"a": {"c": 1}}}, {"a": {"c": 1, "b": 2}}),
    ("$fromMillis(0)", {}, "1970-01-01T00:00:00.000Z"),
    ("$toMillis('1970-01-01T00:00:01Z')", {}, 1000),
    ("$fromMillis(1000, '[Y0001]-[M01]-[D01]')", {}, "1970-01-01"),
    ("{'a': $nope, 'b': 1}", {}, {"b": 1}),  # an undefined value drops its key
    ("[$nope, 1]", {}, [1]),
    ("$x = null", {"x": None}, True),
    ("$partition([1, 2, 3, 4, 5], 2)", {}, [[1, 2], [3, 4], [5]]),
    ("$range(0, 10, 5)", {}, [0, 5, 10]),
    ("$hash('input', 'SHA-1')", {}, "140f86aae51ab9e1cda9b4254fe98a74eb54c1a1"),
    ("$random(42)", {}, 0.7275636800328681),
    ("$parse('{\"a\": [1, null]}')", {}, {"a": [1, None]}),
]


def probes(lib: Any) -> tuple[int, list[tuple[str, Any, Any]]]:
    wrong = []
    for text, bindings, expected in PROBES:
        try:
            got = lib.evaluate(lib.compile(text), bindings)
        except Exception as exc:
            got = f"error: {exc}"
        if got != expected or type(got) is not type(expected):
            wrong.append((text, got, expected))
    return len(PROBES) - len(wrong), wrong


def threads(evaluate: Callable[[dict[str, Any]], Any]) -> str:
    """Compiled on this thread, evaluated from four others at once (Map and Parallel run so)."""
    failures: list[str] = []

    def work(k: int) -> None:
        try:
            for _ in range(200):
                if evaluate({"states": {"input": {"k": k}}}) != 2 * k:
                    failures.append("wrong result")
                    return
        except BaseException as exc:  # pyo3 reports a misuse as a PanicException (a BaseException)
            failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}")

    workers = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return "ok" if not failures else f"{len(failures)}/4 threads failed ({failures[0]})"


# ---------------------------------------------------------------------------------------------
# 3. Speed

SPEED = [
    "$states.input.id",
    "$states.input.id & '-x'",
    "{'id': $states.input.id, 'n': $count($states.input.items)}",
    "$sum($states.input.items.v)",
]


def _bindings() -> dict[str, Any]:
    data = {"id": "abc", "items": [{"v": i} for i in range(10)]}
    case = {"input": data}
    return {"counter": 3, "label": "x", "states": {"input": data, "context": _context(case)}}


def _median_us(call: Callable[[], Any], runs: int, batch: int) -> float:
    call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(batch):
            call()
        samples.append((time.perf_counter() - started) / batch)
    return statistics.median(samples) * 1e6


def speed(lib: Any, runs: int) -> list[float]:
    bindings = _bindings()
    out = []
    for text in SPEED:
        handle = lib.compile(text)
        out.append(_median_us(lambda h=handle: lib.evaluate(h, bindings), runs, 20))
    return out


def speed_module(runs: int) -> list[float]:
    bindings = _bindings()
    rng = random.Random(1)
    out = []
    for text in SPEED:
        expression = sfn_jsonata.compile_expression("{% " + text + " %}")
        out.append(_median_us(lambda e=expression: e.evaluate(bindings, rng), runs, 20))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer timing runs")
    parser.add_argument("--verbose", action="store_true", help="list every failure and disagreement")
    options = parser.parse_args()
    runs = 30 if options.quick else 200

    cases: list[dict[str, Any]] = []
    if CORPUS.is_file():
        lines = CORPUS.read_text().splitlines()
        cases = [c for c in map(json.loads, lines) if "JSONata" in json.dumps(c["definition"])]
        print(f"corpus: {len(cases)} JSONata cases in {CORPUS}")
    else:
        print(f"corpus not found at {CORPUS}: correctness on the corpus skipped")

    libs = []
    for factory in (Jsonatapy, JsonataPython):
        try:
            libs.append(factory())
        except ImportError:
            print(f"{factory.name}: not installed (pip install {factory.name})")

    for lib in libs:
        print(f"\n== {lib.name}")
        if cases:
            s = corpus(lib, cases)
            print(f"corpus expressions: {s['parsed']}/{s['expressions']} parse, {s['evaluated']}/{s['expressions']} "
                  f"evaluate without error ({s['undefined']} undefined)")
            print(f"corpus cases run end to end: {s['agreed']}/{s['compared']} agree with AWS")
            shown = s["failures"] if options.verbose else s["failures"][:5]
            for case_id, source, why in shown:
                print(f"  fails   {source!r} ({case_id}): {why[:160]}")
            shown = s["disagreements"] if options.verbose else s["disagreements"][:5]
            for case_id, got, expected in shown:
                print(f"  differs {case_id}: got {json.dumps(got)[:200]} expected {json.dumps(expected)[:200]}")
        right, wrong = probes(lib)
        print(f"semantics probes: {right}/{len(PROBES)} as jsonata-js answers")
        for text, got, expected in wrong:
            print(f"  {text!r}: got {got!r}, jsonata-js {expected!r}")
        handle = lib.compile("$states.input.k * 2")
        print(f"one compiled expression evaluated from 4 threads: {threads(partial(lib.evaluate, handle))}")
        micros = speed(lib, runs)
        print("median µs per evaluation (compiled once): " + ", ".join(f"{m:.2f}" for m in micros))
        if lib.name == "jsonatapy":
            expression = sfn_jsonata.compile_expression("{% $states.input.k * 2 %}")
            module_call = partial(expression.evaluate, rng=random.Random(1))
            print(f"  through emulator.asl.jsonata.Expression, from 4 threads: {threads(module_call)}")
            micros = speed_module(runs)
            print("  through emulator.asl.jsonata.Expression.evaluate: " + ", ".join(f"{m:.2f}" for m in micros))
    print("\nexpressions timed: " + " | ".join(SPEED))


if __name__ == "__main__":
    main()
