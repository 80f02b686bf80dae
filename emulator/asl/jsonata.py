"""JSONata (`{% ... %}`) for JSONata states, compiled once, on the jsonatapy engine.

jsonatapy (Rust) was chosen over jsonata-python: 3.6 µs against 46 µs median for a typical
Output expression here (bench/jsonata_libs.py), with custom functions and per-call bindings.
AWS adds `$partition`, `$range`, `$hash`, `$random([seed])`, `$uuid` and `$parse`; `$random`
and `$uuid` draw from the execution's seeded random generator so seeded runs reproduce.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import jsonatapy

from emulator.errors import QUERY_EVALUATION_ERROR, StatesError


class _Undefined:
    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()
"""What an expression that yields no value returns (JSONata's `undefined`)."""

_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
_local = threading.local()  # the evaluating execution's random generator, for $random and $uuid
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class JsonataSyntaxError(ValueError):
    """An expression jsonatapy cannot parse; the message names it."""


def is_expression(value: Any) -> bool:
    """AWS's rule: a string that starts with `{%` and ends with `%}`."""
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def type_error(source: str, field: str, expected: str, value: Any) -> StatesError:
    """AWS's QueryEvaluationError for a result of the wrong type."""
    return StatesError(
        QUERY_EVALUATION_ERROR,
        f"The JSONata expression '{source}' specified for the field '{field}' returned an unexpected result type. "
        f"Expected '{expected}', but was '{_kind(value)}' for value: {_compact(value)}",
        field,
    )


def _fail(name: str, message: str) -> ValueError:
    return ValueError(f"${name}: {message}")


def _partition(array: Any, size: Any) -> list[Any]:
    if not isinstance(array, list):
        raise _fail("partition", "the first argument must be an array")
    if isinstance(size, bool) or not isinstance(size, int | float) or size <= 0 or size != int(size):
        raise _fail("partition", "the size must be a positive integer")
    size = int(size)
    return [array[i : i + size] for i in range(0, len(array), size)]


def _range(start: Any, end: Any, step: Any) -> Any:
    values = (start, end, step)
    if any(isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) for v in values) or step == 0:
        raise _fail("range", "start, end and a non-zero step must be integers")
    out = list(range(int(start), int(end) + (1 if step > 0 else -1), int(step)))
    if len(out) > 1000:
        raise _fail("range", "the result can't contain more than 1000 items")
    # AWS returns a one-item range as the item itself (a JSONata singleton sequence).
    return out[0] if len(out) == 1 else out


def _hash(data: Any, algorithm: Any) -> str:
    if not isinstance(data, str):
        raise _fail("hash", "the data must be a string")
    if algorithm not in _HASHES:
        raise _fail("hash", f"the algorithm must be one of {', '.join(_HASHES)}")
    return hashlib.new(_HASHES[algorithm], data.encode("utf-8")).hexdigest()


def _random(seed: Any = None) -> float:
    if seed is not None:
        return random.Random(seed).random()
    return _local.rng.random()


def _uuid() -> str:
    return str(uuid.UUID(int=_local.rng.getrandbits(128), version=4))


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        raise _fail("parse", "the argument must be a string")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail("parse", f"the argument is not valid JSON: {exc.msg}") from None


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "partition": _partition, "range": _range, "hash": _hash, "uuid": _uuid, "parse": _parse,
}


def _result(text: str | None) -> Any:
    return UNDEFINED if text is None else json.loads(text)


class Deferred:
    """A binding built only if an expression reads it (the context object is costly to build)."""

    __slots__ = ("_build",)

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build

    def get(self) -> Any:
        return self._build()


_NAME_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class Expression:
    """One compiled `{% ... %}` expression."""

    __slots__ = ("_compiled", "_names", "_wants_context", "source")

    def __init__(self, text: str) -> None:
        if not is_expression(text):
            raise JsonataSyntaxError(f"a JSONata expression must be written as '{{% ... %}}': {text!r}")
        self.source = text[2:-2].strip()
        try:
            self._compiled = jsonatapy.compile(self.source)
        except ValueError as exc:
            raise JsonataSyntaxError(f"invalid JSONata expression '{self.source}': {exc}") from None
        for name, fn in _FUNCTIONS.items():
            self._compiled.register(name, fn)
        self._compiled.register_override("random", _random)
        # Every binding is converted for the Rust engine on each call, so pass only those the
        # expression names: the context object holds the whole execution input.
        self._names = frozenset(_NAME_RE.findall(self.source))
        self._wants_context = "context" in self.source

    def _bindings(self, bindings: Mapping[str, Any]) -> dict[str, Any]:
        out = {name: bindings[name] for name in self._names if name in bindings}
        states = out.get("states")
        if states is not None and isinstance(states.get("context"), Deferred):
            states = dict(states)
            if self._wants_context:
                states["context"] = states["context"].get()
            else:
                del states["context"]
            out["states"] = states
        return out

    def evaluate(self, bindings: Mapping[str, Any], rng: random.Random, field: str = "") -> Any:
        """The expression's value (UNDEFINED when it has none); errors are States.QueryEvaluationError."""
        _local.rng = rng
        try:
            # The JSON-text entry point is the one that tells undefined from null.
            scope = self._bindings(bindings)
            text = self._compiled.evaluate_json_or_none(None, scope)
            if text == '""' and self._compiled.evaluate(None, scope) != "":
                raise TypeError("a function is not a JSON value")  # jsonatapy renders functions as ""
            return _result(text)
        except ValueError as exc:
            raise StatesError(
                QUERY_EVALUATION_ERROR,
                f"The JSONata expression '{self.source}' specified for the field '{field}' threw an error "
                f"during evaluation: {exc}",
                field,
            ) from None
        except TypeError:
            raise StatesError(
                QUERY_EVALUATION_ERROR,
                f"The JSONata expression '{self.source}' specified for the field '{field}' returned an "
                "unsupported result type.",
                field,
            ) from None


def compile_expression(text: str) -> Expression:
    """Parse a `{% ... %}` string once; raises JsonataSyntaxError."""
    return Expression(text)


class Template:
    """A JSON value with `{% %}` strings at any depth (Output, Arguments, Assign, Items, ...)."""

    __slots__ = ("_render", "dynamic", "field", "source")

    def __init__(self, spec: Any, field: str) -> None:
        self.field = field
        # The text AWS quotes in type errors about the whole field.
        self.source = spec[2:-2].strip() if is_expression(spec) else _compact(spec)
        self._render, self.dynamic = _compile(spec, field)

    def render(self, bindings: Mapping[str, Any], rng: random.Random) -> Any:
        return self._render(bindings, rng) if self.dynamic else self._render


def _compile(spec: Any, field: str) -> tuple[Any, bool]:
    if is_expression(spec):
        expression = Expression(spec)

        def render_expression(bindings: Mapping[str, Any], rng: random.Random) -> Any:
            value = expression.evaluate(bindings, rng, field)
            if value is UNDEFINED:
                raise StatesError(
                    QUERY_EVALUATION_ERROR,
                    f"The JSONata expression '{expression.source}' specified for the field '{field}' returned "
                    "nothing (undefined).",
                    field,
                )
            return value

        return render_expression, True
    if isinstance(spec, dict):
        parts = [(key, *_compile(value, f"{field}/{key}")) for key, value in spec.items()]
        if not any(dynamic for _, _, dynamic in parts):
            return spec, False
        return (lambda bindings, rng: {key: fn(bindings, rng) if dyn else fn for key, fn, dyn in parts}), True
    if isinstance(spec, list):
        items = [_compile(value, f"{field}/{index}") for index, value in enumerate(spec)]
        if not any(dynamic for _, dynamic in items):
            return spec, False
        return (lambda bindings, rng: [fn(bindings, rng) if dyn else fn for fn, dyn in items]), True
    return spec, False
