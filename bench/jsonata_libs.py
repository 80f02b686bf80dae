"""Which JSONata package: correctness on the AWS-recorded corpus, then speed.

    pip install jsonata-python jsonatapy && python bench/jsonata_libs.py

For each library: how many of the corpus's `{% %}` expressions it parses; for the corpus cases
that are one JSONata Pass state with an Output, how many outputs match what AWS recorded; and
the median µs to evaluate a few typical expressions compiled once.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "aws-recorded" / "cases.jsonl"
UNDEFINED = object()


def _jsonatapy() -> tuple[Callable[[str], Any], Callable[[Any, dict[str, Any]], Any]] | None:
    try:
        import jsonatapy
    except ImportError:
        return None

    def run(expr: Any, bindings: dict[str, Any]) -> Any:
        text = expr.evaluate_json_or_none(None, bindings)
        return UNDEFINED if text is None else json.loads(text)

    return jsonatapy.compile, run


def _jsonata_python() -> tuple[Callable[[str], Any], Callable[[Any, dict[str, Any]], Any]] | None:
    try:
        import jsonata
    except ImportError:
        return None

    def run(expr: Any, bindings: dict[str, Any]) -> Any:
        value = expr.evaluate(None, bindings)
        return UNDEFINED if value is None else value

    return jsonata.Jsonata, run


def _expressions(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value[2:-2].strip()] if value.startswith("{%") and value.endswith("%}") else []
    if isinstance(value, dict):
        return [e for v in value.values() for e in _expressions(v)]
    if isinstance(value, list):
        return [e for v in value for e in _expressions(v)]
    return []


def _render(compile_: Callable[[str], Any], run: Callable[[Any, dict[str, Any]], Any], spec: Any,
            bindings: dict[str, Any]) -> Any:
    if isinstance(spec, str) and spec.startswith("{%") and spec.endswith("%}"):
        return run(compile_(spec[2:-2].strip()), bindings)
    if isinstance(spec, dict):
        return {k: _render(compile_, run, v, bindings) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_render(compile_, run, v, bindings) for v in spec]
    return spec


def correctness(compile_: Callable[[str], Any], run: Callable[[Any, dict[str, Any]], Any],
                cases: list[dict[str, Any]]) -> tuple[int, int, int, int]:
    expressions = {e for c in cases for e in _expressions(c["definition"])}
    parsed = 0
    for text in expressions:
        try:
            compile_(text)
            parsed += 1
        except Exception:
            pass
    compared = agreed = 0
    for case in cases:
        states = case["definition"]["States"]
        state = next(iter(states.values()))
        if len(states) != 1 or state.get("Type") != "Pass" or "Output" not in state or "Assign" in state:
            continue
        if case["expected"]["status"] != "SUCCEEDED" or not case["deterministic"]:
            continue
        compared += 1
        data = {} if case.get("input_omitted") else case["input"]
        with contextlib.suppress(Exception):  # a failure counts against the library
            agreed += _render(compile_, run, state["Output"], {"states": {"input": data}}) == case["expected"]["output"]
    return parsed, len(expressions), agreed, compared


SPEED = [
    "$states.input.id",
    "$states.input.id & '-x'",
    "{'id': $states.input.id, 'n': $count($states.input.items)}",
    "$sum($states.input.items.v)",
]


def speed(compile_: Callable[[str], Any], run: Callable[[Any, dict[str, Any]], Any]) -> list[float]:
    bindings = {"states": {"input": {"id": "abc", "items": [{"v": i} for i in range(10)]}}}
    out = []
    for text in SPEED:
        expr = compile_(text)
        times = []
        for _ in range(300):
            started = time.perf_counter()
            run(expr, bindings)
            times.append(time.perf_counter() - started)
        out.append(statistics.median(times) * 1e6)
    return out


def main() -> None:
    cases = []
    if CORPUS.is_file():
        cases = [c for c in map(json.loads, CORPUS.read_text().splitlines())
                 if "JSONata" in json.dumps(c["definition"]) and not c["needs_services"]]
    print(f"corpus: {len(cases)} JSONata cases ({CORPUS if cases else 'not found'})")
    for name, factory in (("jsonatapy", _jsonatapy), ("jsonata-python", _jsonata_python)):
        lib = factory()
        if lib is None:
            print(f"{name:15} not installed")
            continue
        parsed, total, agreed, compared = correctness(*lib, cases)
        micros = ", ".join(f"{m:.1f}" for m in speed(*lib))
        print(f"{name:15} parses {parsed}/{total} expressions; single-Pass outputs equal to AWS {agreed}/{compared}; "
              f"median µs [{micros}] for {SPEED}")


if __name__ == "__main__":
    main()
