"""EventBridge event patterns: compile one (checking it as PutRule does), then match events.

A pattern is a JSON object shaped like the events it matches. A field whose pattern value is an
object descends into the event's object there (into any element, when the event holds an array of
objects); a field whose pattern value is an array lists matchers, and the field matches when any
of the event's values there (each element, when the event holds an array) matches any matcher.
Every field of the pattern must match (AND); `"$or": [pattern, ...]` at any level matches when
one of its alternatives does. Matchers:

    "text", 5, null, true                exact value (numbers compare as numbers)
    {"prefix": "s"} {"suffix": "s"}      also {"prefix": {"equals-ignore-case": "s"}}, same for suffix
    {"equals-ignore-case": "s"}
    {"wildcard": "a*b"}                  `*` any run of characters, `\\*` a literal star
    {"anything-but": v | [v, ...] | {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": ...}}
    {"numeric": [">", 0, "<=", 5]}       also "=", ">=", "<"; numbers only
    {"exists": true | false}             on leaf values: false matches an absent field
    {"cidr": "10.0.0.0/24"}              an IP address string inside the block
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

Matcher = Callable[[Any], bool]

_NUMERIC_LIMIT = 5e9  # EventBridge matches numbers between -5.0e9 and +5.0e9
_LOWER = {">": lambda v, b: v > b, ">=": lambda v, b: v >= b}
_UPPER = {"<": lambda v, b: v < b, "<=": lambda v, b: v <= b}


class PatternError(ValueError):
    """A pattern EventBridge would refuse (InvalidEventPatternException); `where` is the field's path."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _leaves(value: Any) -> Iterator[Any]:
    """The leaf values at a field: its value, or each element of an array (nested arrays flattened)."""
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif not isinstance(value, dict):
        yield value


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


def _same(expected: Any) -> Matcher:
    if _is_number(expected):
        return lambda v: _is_number(v) and v == expected
    if expected is None or isinstance(expected, bool):
        return lambda v: v is expected
    return lambda v: isinstance(v, str) and v == expected


def _string(where: str, value: Any, operator: str) -> str:
    if not isinstance(value, str):
        raise PatternError(where, f"{operator} match pattern must be a string, got {json.dumps(value)}")
    return value


def _wildcard(where: str, text: Any) -> Matcher:
    text = _string(where, text, "wildcard")
    if "**" in text:
        raise PatternError(where, "consecutive wildcard characters ('**') are not allowed")
    parts, literal = [], []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped not in ("*", "\\"):
                raise PatternError(where, "in a wildcard pattern '\\' may only escape '*' or '\\'")
            literal.append(escaped)
        elif char == "*":
            parts.append(re.escape("".join(literal)))
            literal = []
            parts.append(".*")
        else:
            literal.append(char)
    parts.append(re.escape("".join(literal)))
    regex = re.compile("".join(parts), re.DOTALL)
    return lambda v: isinstance(v, str) and regex.fullmatch(v) is not None


def _affix(where: str, value: Any, operator: str) -> Matcher:
    """prefix / suffix, with an optional {"equals-ignore-case": s} inside."""
    ignore_case = isinstance(value, dict)
    if ignore_case:
        if set(value) != {"equals-ignore-case"}:
            raise PatternError(where, f"{operator} takes a string or {{\"equals-ignore-case\": string}}")
        value = value["equals-ignore-case"]
    text = _string(where, value, operator)
    if ignore_case:
        text = text.casefold()
    test = str.startswith if operator == "prefix" else str.endswith
    return lambda v: isinstance(v, str) and test(v.casefold() if ignore_case else v, text)


def _ignore_case(where: str, value: Any) -> Matcher:
    values = value if isinstance(value, list) else [value]
    texts = {_string(where, v, "equals-ignore-case").casefold() for v in values}
    if not texts:
        raise PatternError(where, "equals-ignore-case needs at least one string")
    return lambda v: isinstance(v, str) and v.casefold() in texts


def _anything_but(where: str, value: Any) -> Matcher:
    if isinstance(value, dict):
        if len(value) != 1:
            raise PatternError(where, "anything-but takes one of prefix, suffix, equals-ignore-case, wildcard")
        (operator, inner), = value.items()
        builders: dict[str, Callable[[str, Any], Matcher]] = {
            "prefix": lambda w, x: _affix(w, x, "prefix"), "suffix": lambda w, x: _affix(w, x, "suffix"),
            "equals-ignore-case": _ignore_case,
            "wildcard": lambda w, x: _any([_wildcard(w, i) for i in (x if isinstance(x, list) else [x])])}
        if operator not in builders:
            raise PatternError(where, f"unsupported anything-but operator '{operator}'")
        excluded = builders[operator](f"{where}.anything-but", inner)
        return lambda v: isinstance(v, str) and not excluded(v)
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) or _is_number(v) for v in values):
        raise PatternError(where, "anything-but takes a string, a number, or a non-empty array of them")
    excluded_values = [_same(v) for v in values]
    return lambda v: (isinstance(v, str) or _is_number(v)) and not any(m(v) for m in excluded_values)


def _bound(where: str, value: Any) -> float:
    if not _is_number(value) or not -_NUMERIC_LIMIT <= value <= _NUMERIC_LIMIT:
        raise PatternError(where, f"numeric bound must be a number between -5.0e9 and 5.0e9, got {json.dumps(value)}")
    return float(value)


def _numeric(where: str, spec: Any) -> Matcher:
    if not isinstance(spec, list) or not spec or len(spec) % 2:
        raise PatternError(where, "numeric takes pairs of an operator and a number, e.g. [\">\", 0, \"<=\", 5]")
    pairs = list(zip(spec[::2], spec[1::2], strict=True))
    if len(pairs) == 1 and pairs[0][0] == "=":
        equal = _bound(where, pairs[0][1])
        return lambda v: _is_number(v) and v == equal
    tests: list[Callable[[float], bool]] = []
    seen: set[str] = set()
    for operator, value in pairs:
        side = "lower" if operator in _LOWER else "upper" if operator in _UPPER else None
        if side is None or side in seen:
            raise PatternError(where, f"numeric: unexpected operator {json.dumps(operator)} (one of >, >= and one "
                                      "of <, <=, or = alone)")
        seen.add(side)
        bound, compare = _bound(where, value), {**_LOWER, **_UPPER}[operator]
        tests.append(lambda v, c=compare, b=bound: c(v, b))
    return lambda v: _is_number(v) and math.isfinite(v) and all(t(v) for t in tests)


def _cidr(where: str, spec: Any) -> Matcher:
    try:
        network = ipaddress.ip_network(_string(where, spec, "cidr"), strict=False)
    except ValueError as exc:
        raise PatternError(where, f"cidr: {exc}") from None

    def inside(value: Any) -> bool:
        try:
            return isinstance(value, str) and ipaddress.ip_address(value) in network
        except ValueError:
            return False

    return inside


def _any(matchers: list[Matcher]) -> Matcher:
    return lambda v: any(m(v) for m in matchers)


def _operator(where: str, spec: dict[str, Any]) -> Matcher | bool:
    """A matcher object's test; `exists` gives the bool itself (it is about presence, not values)."""
    if len(spec) != 1:
        raise PatternError(where, f"a matcher object holds exactly one operator, got {json.dumps(spec)}")
    (operator, value), = spec.items()
    if operator == "exists":
        if not isinstance(value, bool):
            raise PatternError(where, "exists takes true or false")
        return value
    builders: dict[str, Callable[[str, Any], Matcher]] = {
        "prefix": lambda w, x: _affix(w, x, "prefix"), "suffix": lambda w, x: _affix(w, x, "suffix"),
        "equals-ignore-case": lambda w, x: _ignore_case(w, _string(w, x, "equals-ignore-case")),
        "wildcard": _wildcard, "anything-but": _anything_but, "numeric": _numeric, "cidr": _cidr}
    if operator not in builders:
        raise PatternError(where, f"unrecognized match type '{operator}'")
    return builders[operator](f"{where}.{operator}", value)


class _Field:
    """One leaf field's matchers: any value there matching any of them (or the field's absence)."""

    def __init__(self, where: str, specs: list[Any]) -> None:
        if not specs:
            raise PatternError(where, "an empty array matches nothing; EventBridge refuses it")
        self.matchers: list[Matcher] = []
        self.exists: set[bool] = set()  # {True} / {False}: the field's presence is what matches
        for index, spec in enumerate(specs):
            at = f"{where}[{index}]"
            if isinstance(spec, dict):
                test = _operator(at, spec)
                if isinstance(test, bool):
                    self.exists.add(test)
                else:
                    self.matchers.append(test)
            elif isinstance(spec, list):
                raise PatternError(at, "arrays cannot be nested in a pattern")
            else:
                self.matchers.append(_same(spec))

    def matches(self, present: bool, value: Any) -> bool:
        leaves = list(_leaves(value)) if present else []
        if bool(leaves) in self.exists:
            return True
        return any(m(leaf) for leaf in leaves for m in self.matchers)


class Pattern:
    """A compiled event pattern: `matches(event)`."""

    def __init__(self, pattern: Any, where: str = "") -> None:
        if not isinstance(pattern, dict):
            raise PatternError(where, "an event pattern must be a JSON object")
        if not pattern:
            raise PatternError(where, "an event pattern cannot be empty")
        self._test = _compile_object(pattern, where)
        self.source = pattern  # what the rule was given

    def matches(self, event: Any) -> bool:
        return self._test(event)


def _compile_object(pattern: dict[str, Any], where: str) -> Callable[[dict[str, Any]], bool]:
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for key, spec in pattern.items():
        at = f"{where}.{key}" if where else key
        if key == "$or":
            if not isinstance(spec, list) or len(spec) < 2 or not all(isinstance(s, dict) and s for s in spec):
                raise PatternError(at, "$or takes an array of at least two pattern objects")
            alternatives = [_compile_object(s, f"{at}[{i}]") for i, s in enumerate(spec)]
            tests.append(lambda event, a=alternatives: any(t(event) for t in a))
        elif isinstance(spec, dict):
            if not spec:
                raise PatternError(at, "an empty object matches nothing; EventBridge refuses it")
            inner = _compile_object(spec, at)
            tests.append(lambda event, k=key, t=inner: any(t(o) for o in _objects(event.get(k))))
        elif isinstance(spec, list):
            leaf = _Field(at, spec)
            tests.append(lambda event, k=key, f=leaf: f.matches(k in event, event.get(k)))
        else:
            raise PatternError(at, f"{json.dumps(spec)} must be an object or an array")
    return lambda event: isinstance(event, dict) and all(t(event) for t in tests)


def compile_pattern(pattern: Any, where: str = "EventPattern") -> Pattern:
    """A Pattern from a dict or its JSON text; PatternError (naming the field) when EventBridge would refuse it."""
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except json.JSONDecodeError as exc:
            raise PatternError(where, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    return Pattern(pattern, where)
