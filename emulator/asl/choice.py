"""Choice rules (JSONPath): compiled once into predicates of (data, env).

Type rules follow AWS: a comparison whose operand has the wrong type is simply false
(NumericEquals on a string, BooleanEquals on 0); booleans are never numbers.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from emulator.asl.paths import Env, PathNotFound, compile_path
from emulator.errors import RUNTIME, StatesError

Predicate = Callable[[Any, "Env | None"], bool]

_ORDER = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}

# RFC 3339 as AWS accepts it: a full date-time with a 'T', seconds, optional fraction and a zone.
_TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|z|[+-]\d{2}:\d{2})")


def parse_timestamp(value: Any) -> datetime | None:
    """The instant an RFC 3339 timestamp names, or None when it is not one."""
    if not isinstance(value, str) or not _TIMESTAMP_RE.fullmatch(value):
        return None
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    head, _, frac_zone = text.partition(".")
    if frac_zone:
        # Python accepts at most 6 fractional digits; AWS accepts nanoseconds.
        digits = re.match(r"\d+", frac_zone).group(0)
        text = f"{head}.{digits[:6].ljust(6, '0')}{frac_zone[len(digits):]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


_NUMBERS = (int, float)  # a tuple: `int | float` would build a union on every call


def _is_number(v: Any) -> bool:
    return isinstance(v, _NUMBERS) and not isinstance(v, bool)


def _is_string(v: Any) -> bool:
    return isinstance(v, str)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _string_matches(pattern: str) -> Callable[[str], bool]:
    """StringMatches: `*` is any run of characters; `\\*` and `\\\\` are literal."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    rx = re.compile("".join(out), re.DOTALL)
    return lambda s: rx.fullmatch(s) is not None


_KINDS: dict[str, tuple[Callable[[Any], bool], Callable[[Any], Any]]] = {
    "String": (_is_string, lambda v: v),
    "Numeric": (_is_number, lambda v: v),
    "Boolean": (_is_bool, lambda v: v),
    "Timestamp": (lambda v: parse_timestamp(v) is not None, parse_timestamp),
}

_IS_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": _is_string,
    "IsBoolean": _is_bool,
    "IsTimestamp": lambda v: parse_timestamp(v) is not None,
}

COMPARISON_OPERATORS = frozenset(
    [f"{kind}{op}" for kind in _KINDS for op in _ORDER if not (kind == "Boolean" and op != "Equals")]
    + [f"{kind}{op}Path" for kind in _KINDS for op in _ORDER if not (kind == "Boolean" and op != "Equals")]
    + ["StringMatches", "IsPresent", *_IS_TESTS]
)


def compile_rule(rule: dict[str, Any]) -> Predicate:
    """Compile one Choice rule (top-level or nested) into a predicate."""
    if "And" in rule:
        parts = [compile_rule(r) for r in rule["And"]]
        return lambda data, env: all(p(data, env) for p in parts)
    if "Or" in rule:
        parts = [compile_rule(r) for r in rule["Or"]]
        return lambda data, env: any(p(data, env) for p in parts)
    if "Not" in rule:
        inner = compile_rule(rule["Not"])
        return lambda data, env: not inner(data, env)
    op = next((k for k in rule if k in COMPARISON_OPERATORS), None)
    if op is None:
        raise ValueError("Choice rule has no comparison operator")
    return _comparison(rule["Variable"], op, rule[op])


def _comparison(variable: str, op: str, expected: Any) -> Predicate:
    path = compile_path(variable)

    if op == "IsPresent":
        want = bool(expected)
        return lambda data, env: path.exists(data, env) is want

    def value_of(data: Any, env: Env | None) -> Any:
        try:
            return path.get(data, env)
        except PathNotFound:
            raise StatesError(
                RUNTIME, f"Invalid path '{variable}': The choice state's condition path references an invalid value."
            ) from None

    if op in _IS_TESTS:
        test, want = _IS_TESTS[op], bool(expected)

        def is_test(data: Any, env: Env | None) -> bool:
            try:
                value = path.get(data, env)
            except PathNotFound:
                return False
            return test(value) is want

        return is_test

    if op == "StringMatches":
        matches = _string_matches(expected)
        return lambda data, env: isinstance(v := value_of(data, env), str) and matches(v)

    by_path = op.endswith("Path")
    base = op[:-4] if by_path else op
    kind = next(k for k in _KINDS if base.startswith(k))
    check, convert = _KINDS[kind]
    compare = _ORDER[base[len(kind) :]]

    if by_path:
        other = compile_path(expected)

        def against_path(data: Any, env: Env | None) -> bool:
            left, right = value_of(data, env), other.get(data, env)
            return check(left) and check(right) and compare(convert(left), convert(right))

        return against_path

    target = convert(expected)

    def against_value(data: Any, env: Env | None) -> bool:
        left = value_of(data, env)
        return check(left) and compare(convert(left), target)

    return against_value
