"""JSONata expressions (`{% ... %}`) as JSONata states use them, compiled once.

`compile_expression` parses a `{% ... %}` string once into an `Expression`; `Template` compiles a
field's whole JSON value (expressions at any depth of objects and arrays) into a tree whose static
subtrees are kept as they are. Evaluation goes to jsonatapy, a Rust JSONata engine: as correct as
jsonata-python on the AWS-recorded corpus and on jsonata-js semantics probes, and 3 to 9 times
faster (bench/jsonata_libs.py: 3.7-4.4 µs a call against 11-40). AWS's additions are bound on
every expression:
$partition, $range, $hash, $random (optionally seeded), $uuid and $parse, and $eval taken away
(AWS: "$eval is not supported in Step Functions workflows"; $parse replaces it).

Three properties of jsonatapy shape the code:
- A compiled jsonatapy expression may only be used (and dropped) on the thread that compiled it,
  so each thread keeps its own cache of compiled expressions, keyed by source text, and no frame
  holds one in a variable: a frame kept by an exception's traceback would outlive its thread and
  drop the expression on another ("... is unsendable, but is being dropped on another thread").
- Its `evaluate` returns None both for JSON null and for "no value" (undefined). A None result is
  settled by a second, JSON-text evaluation, which tells the two apart (and, by returning "" where
  `evaluate` gave None, shows a function result). Only expressions free of side effects on the
  run's Random are re-run blindly; the others get the Random's state put back first.
- Bindings are converted to Rust values on every call, so each expression is handed only the
  variables its text names, and only the parts of `$states` it reads.

AWS error wordings live here (`undefined_error`, `type_error`, ...), taken from recorded AWS
executions (../shared/conformance); the engine prefixes "An error occurred while executing the
state ..." itself.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import jsonatapy

from emulator.asl.values import json_type, to_json
from emulator.errors import QUERY_EVALUATION_ERROR, StatesError

# A loop that never ends (`($f := function(){$f()}; $f())`, a tail call, so no stack limit
# catches it) would hang the run: cut it off. jsonatapy itself stops runaway recursion (U1001).
EVALUATION_TIMEOUT_MS = 10_000
MAX_RANGE_ITEMS = 1000  # $range is "the JSONata equivalent of States.ArrayRange", capped at 1000 items
# Each thread's cache of compiled expressions is cleared past this many, so a thread that compiles
# an endless stream of distinct expressions (generated tests) does not grow without bound.
_CACHE_LIMIT = 4096

_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}

_VARIABLE_RE = re.compile(r"\$(\w+)")
_STATES_RE = re.compile(r"\$states(?!\w)")
_STATES_FIELD_RE = re.compile(r"\s*\.\s*(input|result|errorOutput|context)(?!\w)")
_ERROR_CODE_RE = re.compile(r"^[A-Z]\d{4}: ")
_PARSE_ERROR_PREFIX = "Parse error: "
_HOST_ERROR_PREFIX = "host function raised "


class _Undefined:
    """JSONata's "no value": what an expression gives when it selects nothing."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNDEFINED"  # pickles as the module-level singleton


UNDEFINED: Any = _Undefined()


class JsonataSyntaxError(ValueError):
    """A `{% ... %}` string that does not parse; the message names the expression and the problem."""

    def __init__(self, message: str, source: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.source = source  # the expression as written between the delimiters, trimmed
        self.detail = detail  # the parser's own words, e.g. "S0207: Unexpected end of expression"


def is_expression(value: Any) -> bool:
    """AWS's rule: a string that starts with `{%` and ends with `%}`, with nothing outside them.

    `" {% $x %} "` (spaces outside the delimiters) is a plain string, as AWS treats it (corpus).
    """
    return isinstance(value, str) and len(value) >= 4 and value.startswith("{%") and value.endswith("%}")


# ---------------------------------------------------------------------------------------------
# AWS's error wordings (States.QueryEvaluationError). `field` is the path of the value inside the
# state: "Output", "Output/result", "Arguments/list[0]", "Items", "Choices[0]/Condition", ...


def _sentence(source: str, field: str | None) -> str:
    where = f" specified for the field '{field}'" if field else ""
    return f"The JSONata expression '{source}'{where}"


def _query_error(cause: str, field: str | None) -> StatesError:
    return StatesError(QUERY_EVALUATION_ERROR, cause, location=field)


def undefined_error(source: str, field: str | None) -> StatesError:
    """An expression gave no value where the field needs one (AWS, corpus)."""
    return _query_error(f"{_sentence(source, field)} returned nothing (undefined).", field)


def type_error(source: str, field: str | None, expected: str, value: Any) -> StatesError:
    """An expression gave a value of the wrong JSON type for its field (AWS, corpus), e.g.
    "... specified for the field 'Items' returned an unexpected result type. Expected 'array', but
    was 'number' for value: 1". UNDEFINED gives the "returned nothing" error instead."""
    if value is UNDEFINED:
        return undefined_error(source, field)
    return _query_error(
        f"{_sentence(source, field)} returned an unexpected result type. Expected '{expected}', "
        f"but was '{json_type(value)}' for value: {to_json(value)}",
        field,
    )


def unsupported_type_error(source: str, field: str | None) -> StatesError:
    """An expression gave something JSON cannot hold, e.g. a function (AWS, corpus)."""
    return _query_error(f"{_sentence(source, field)} returned an unsupported result type.", field)


def evaluation_error(source: str, field: str | None, message: str) -> StatesError:
    """The expression itself failed. AWS follows its sentence with ". CODE: message" for JSONata's
    coded errors and ": message" for others (as reported from AWS; not in our corpus)."""
    separator = ". " if _ERROR_CODE_RE.match(message) else ": "
    return _query_error(f"{_sentence(source, field)} threw an error during evaluation{separator}{message}", field)


def map_input_error(value: Any) -> StatesError:
    """A Map state whose input (no Items field) is not an array (AWS, corpus; no location)."""
    return StatesError(QUERY_EVALUATION_ERROR, f"Map state input must be an array but was: {to_json(value)}")


def timestamp_error(value: Any, field: str = "Timestamp") -> StatesError:
    """A Wait state's Timestamp that is not an ISO-8601 date-time (AWS, corpus)."""
    shown = value if isinstance(value, str) else to_json(value)
    return _query_error(
        f"The {field} field cannot be parsed as an ISO-8601 extended offset date-time format string: {shown}", field
    )


# ---------------------------------------------------------------------------------------------
# AWS's functions. jsonatapy calls them with the evaluated arguments (None for both null and
# undefined: it does not tell them apart) on the evaluating thread, which has put the run's Random
# in `_CALL.rng`. A failure is raised as _FunctionError and kept in `_CALL.error`, because jsonatapy
# reports a host function's exception only as text.

_CALL = threading.local()
_FALLBACK_RANDOM = random.Random()


class _FunctionError(Exception):
    pass


def _fail(message: str) -> _FunctionError:
    error = _FunctionError(message)
    _CALL.error = error
    return error


def _arity(name: str, args: tuple[Any, ...], fewest: int, most: int) -> None:
    if not fewest <= len(args) <= most:
        wanted = str(fewest) if fewest == most else f"{fewest} to {most}"
        raise _fail(f"The function ${name} takes {wanted} argument(s), but {len(args)} were given")


def _integer(name: str, value: Any, what: str) -> int:
    # AWS: "Built-in JSONata functions that require integer values as parameters will automatically
    # round down any non-integer numbers provided."
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(f"The {what} of ${name} must be a number, but was: {to_json(value)}")
    return math.floor(value)


def _partition(*args: Any) -> list[list[Any]]:
    _arity("partition", args, 2, 2)
    items, size = args
    if items is None or isinstance(items, dict):
        raise _fail(f"The first argument of $partition must be an array, but was: {to_json(items)}")
    if not isinstance(items, list):
        items = [items]  # a single value is an array of one, as JSONata's array parameters take it
    chunk = _integer("partition", size, "second argument (chunk size)")
    if chunk <= 0:
        raise _fail(f"The chunk size (second argument) of $partition must be a positive integer, but was: {chunk}")
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


def _range(*args: Any) -> Any:
    _arity("range", args, 3, 3)
    start = _integer("range", args[0], "first argument (start)")
    end = _integer("range", args[1], "second argument (end)")
    step = _integer("range", args[2], "third argument (step)")
    if step == 0:
        raise _fail("The step (third argument) of $range must not be zero")
    count = max(0, (end - start) // step + 1)  # the end is included when a step lands on it
    if count > MAX_RANGE_ITEMS:
        raise _fail(f"The range would hold {count} items; the limit is {MAX_RANGE_ITEMS}")
    values = list(range(start, start + count * step, step))
    # AWS returns a JSONata sequence: one value comes back on its own ($range(1, 9, 9) is 1, corpus).
    return values[0] if len(values) == 1 else values


def _hash(*args: Any) -> str:
    _arity("hash", args, 2, 2)
    data, algorithm = args
    if not isinstance(data, str):
        raise _fail(f"The first argument (data) of $hash must be a string, but was: {to_json(data)}")
    name = _HASHES.get(algorithm) if isinstance(algorithm, str) else None
    if name is None:
        raise _fail(
            f"The hashing algorithm (second argument) of $hash must be one of {', '.join(_HASHES)}, "
            f"but was: {to_json(algorithm)}"
        )
    return hashlib.new(name, data.encode("utf-8")).hexdigest()


def java_random_double(seed: int) -> float:
    """`new java.util.Random(seed).nextDouble()`: what AWS's seeded $random returns ($random(42) is
    0.7275636800328681 on AWS). A 48-bit linear congruential generator, two draws per double."""
    mask = (1 << 48) - 1
    state = (seed ^ 0x5DEECE66D) & mask
    state = (state * 0x5DEECE66D + 0xB) & mask
    high = state >> (48 - 26)
    state = (state * 0x5DEECE66D + 0xB) & mask
    low = state >> (48 - 27)
    return ((high << 27) + low) * (1.0 / (1 << 53))


def _random(*args: Any) -> float:
    _arity("random", args, 0, 1)
    if args and args[0] is not None:
        return java_random_double(_integer("random", args[0], "seed (argument)"))
    rng = getattr(_CALL, "rng", None)
    return (rng or _FALLBACK_RANDOM).random()


def _uuid(*args: Any) -> str:
    _arity("uuid", args, 0, 0)
    rng = getattr(_CALL, "rng", None) or _FALLBACK_RANDOM
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _parse(*args: Any) -> Any:
    _arity("parse", args, 1, 1)
    text = args[0]
    if not isinstance(text, str):
        raise _fail(f"The argument of $parse must be a string, but was: {to_json(text)}")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise _fail(f"The argument of $parse is not valid JSON: {exc}") from None


def _eval(*args: Any) -> Any:
    # What JSONata says when a name is not bound to a function: AWS removed $eval.
    raise _fail("T1006: Attempted to invoke a non-function")


# name -> implementation; `random` and `eval` replace JSONata's own.
AWS_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "partition": _partition,
    "range": _range,
    "hash": _hash,
    "random": _random,
    "uuid": _uuid,
    "parse": _parse,
}
_OVERRIDES = {"random": _random, "eval": _eval}


# ---------------------------------------------------------------------------------------------
# Compiled expressions


_THREAD = threading.local()  # .cache: source -> jsonatapy expression, for this thread only


def _compile_native(source: str) -> Any:
    """Compile with jsonatapy and bind AWS's functions (those the text names); raises ValueError."""
    native = jsonatapy.compile(source, timeout=EVALUATION_TIMEOUT_MS)
    for name, function in AWS_FUNCTIONS.items():
        if name not in _OVERRIDES and f"${name}" in source:
            native.register(name, function)
    for name, function in _OVERRIDES.items():
        if f"${name}" in source:
            native.register_override(name, function)
    return native


def _thread_native(source: str) -> Any:
    """This thread's compiled expression for `source`. Callers use it at once and never keep it in a
    variable (see the module docstring); a parse error raised here leaves no frame holding the cache."""
    try:
        return _THREAD.cache[source]
    except (AttributeError, KeyError):
        pass
    _cache_for_thread()[source] = _compile_native(source)
    return _THREAD.cache[source]


def _cache_for_thread() -> dict[str, Any]:
    cache: dict[str, Any] | None = getattr(_THREAD, "cache", None)
    if cache is None:
        cache = _THREAD.cache = {}
    elif len(cache) >= _CACHE_LIMIT:
        cache.clear()  # safe: every entry belongs to this thread
    return cache


def _inner(text: str) -> str:
    return text[2:-2].strip()


def _parser_detail(exc: Exception) -> str:
    message = str(exc)
    return message[len(_PARSE_ERROR_PREFIX) :] if message.startswith(_PARSE_ERROR_PREFIX) else message


def _states_fields(source: str) -> tuple[str, ...] | None:
    """The `$states` fields the text reads, or None when it uses `$states` some other way (whole)."""
    fields: list[str] = []
    for match in _STATES_RE.finditer(source):
        field = _STATES_FIELD_RE.match(source, match.end())
        if field is None:
            return None
        if field.group(1) not in fields:
            fields.append(field.group(1))
    return tuple(fields)


def _sanitized(value: Any) -> Any:
    """A copy with integers beyond 64 bits as floats, which JSONata numbers are anyway (doubles)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else float(value)
    if isinstance(value, dict):
        return {k: _sanitized(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_sanitized(v) for v in value]
    return value


class Deferred:
    """A binding built only if an expression reads it: the engine defers `$states.context`, which
    is costly to build (it holds the whole execution input) and which most expressions never read."""

    __slots__ = ("_build",)

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build

    def get(self) -> Any:
        return self._build()


def _resolved(value: Any) -> Any:
    return value.get() if isinstance(value, Deferred) else value


class Expression:
    """A compiled `{% ... %}` expression: `evaluate(bindings, rng)` gives its value or UNDEFINED.

    Safe to evaluate from several threads at once: it holds no per-evaluation state.
    """

    __slots__ = ("_names", "_random", "_states", "source", "text")

    def __init__(self, text: str) -> None:
        if not is_expression(text):
            raise JsonataSyntaxError(
                f"not a JSONata expression: {text!r} (it must start with '{{%' and end with '%}}')"
            )
        self.text = text
        self.source = _inner(text)  # as AWS quotes it in error causes
        if not self.source:
            raise JsonataSyntaxError(f"empty JSONata expression: {text!r}", self.source, "empty expression")
        try:
            _thread_native(self.source)  # parse now (and keep it for this thread)
        except ValueError as exc:
            detail = _parser_detail(exc)
            raise JsonataSyntaxError(
                f"invalid JSONata expression '{self.source}': {detail}", self.source, detail
            ) from None
        names = set(_VARIABLE_RE.findall(self.source))  # a superset: "$x" inside a string counts too
        self._states: tuple[str, ...] | bool | None = False  # False: no $states at all
        if "states" in names:
            names.discard("states")
            self._states = _states_fields(self.source)
        self._names = tuple(sorted(names))
        # Calls that draw from the run's Random: re-running such an expression must rewind it.
        self._random = "$random" in self.source or "$uuid" in self.source

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def _bindings(self, bindings: Mapping[str, Any]) -> dict[str, Any]:
        """Only what the expression names; `$states` trimmed to the fields it reads; Deferred
        values built. A new dict each time: the caller's bindings are never touched."""
        chosen = {name: _resolved(bindings[name]) for name in self._names if name in bindings}
        fields = self._states
        if fields is not False:
            states = bindings.get("states")
            if isinstance(states, Mapping):
                if fields is None:
                    fields = states.keys()
                chosen["states"] = {f: _resolved(states[f]) for f in fields if f in states}
            elif states is not None:
                chosen["states"] = states
        return chosen

    def evaluate(self, bindings: Mapping[str, Any], rng: random.Random, field: str | None = None) -> Any:
        """The expression's value over `bindings` (variable name -> JSON value, `states` included).

        UNDEFINED when it gives no value; a function result or a JSONata error raises
        States.QueryEvaluationError naming `field` when given. `rng` feeds $random() and $uuid().
        """
        chosen = self._bindings(bindings)
        _CALL.rng = rng
        _CALL.error = None
        saved = rng.getstate() if self._random else None
        try:
            try:
                value = _thread_native(self.source).evaluate(None, chosen)
            except OverflowError:
                chosen = _sanitized(chosen)
                value = _thread_native(self.source).evaluate(None, chosen)
            if value is not None:
                if value.__class__ is float and not math.isfinite(value):
                    # jsonatapy lets 1/0 through as inf, which JSON cannot hold; jsonata-js (AWS)
                    # fails the operation with D1001, whose text renders the value as JSON does.
                    raise evaluation_error(self.source, field, "D1001: Number out of range: null")
                return value
            # None is null, undefined or a function: the JSON-text evaluation tells which.
            if saved is not None:
                rng.setstate(saved)
            text = _thread_native(self.source).evaluate_json_or_none(None, chosen)
            if text is None:
                return UNDEFINED
            if text == "null":
                return None
            raise unsupported_type_error(self.source, field)
        except ValueError as exc:
            failure = self._failure(exc, field)
        except BaseException as exc:
            # A panic inside the engine (pyo3's PanicException is a BaseException) is still a
            # failure of this one expression, as AWS reports its evaluation failures.
            if type(exc).__name__ != "PanicException":
                raise
            failure = evaluation_error(self.source, field, str(exc))
        finally:
            _CALL.rng = None
            _CALL.error = None
        # Raised outside the handler, so it has no __context__: jsonatapy's exception keeps, through
        # its traceback, the expression (on another thread's cache) alive wherever this error goes.
        raise failure

    def _failure(self, exc: ValueError, field: str | None) -> StatesError:
        own = getattr(_CALL, "error", None)
        message = str(own) if own is not None else str(exc)
        if own is None and message.startswith(_HOST_ERROR_PREFIX):
            message = message[len(_HOST_ERROR_PREFIX) :]
        return evaluation_error(self.source, field, message)


def compile_expression(text: str) -> Expression:
    """Parse a whole `{% ... %}` string once; raises JsonataSyntaxError naming it and the problem."""
    return Expression(text)


# ---------------------------------------------------------------------------------------------
# Templates: a field's JSON value with expressions at any depth


class Template:
    """A JSONata state's field value compiled once: `render(bindings, rng)` builds the JSON value.

    Every `{% %}` string, at any depth of objects and arrays, is an expression that must give a
    value; static subtrees are kept as they are and shared (nothing in the engine mutates values in
    place). `field` names the field for error messages ("Output", "Arguments", "Items", ...); a
    nested value is named by its path, "Output/result" or "Arguments/list[0]".
    """

    __slots__ = ("_render", "dynamic", "field", "source")

    def __init__(self, spec: Any, field: str) -> None:
        self.field = field
        # The expression AWS quotes when the whole field is one (type errors on Items, Seconds...).
        self.source = _inner(spec) if is_expression(spec) else to_json(spec)
        self._render, self.dynamic = _compile_template(spec, field)

    def __repr__(self) -> str:
        return f"Template({self.field}: {self.source})"

    def render(self, bindings: Mapping[str, Any], rng: random.Random) -> Any:
        return self._render(bindings, rng) if self.dynamic else self._render


def _compile_template(spec: Any, path: str) -> tuple[Any, bool]:
    """Return (renderer, dynamic); a static spec comes back as the value itself."""
    if isinstance(spec, str):
        if not is_expression(spec):
            return spec, False
        try:
            expression = compile_expression(spec)
        except JsonataSyntaxError as exc:
            raise JsonataSyntaxError(
                f"invalid JSONata expression '{exc.source}' in the field '{path}': {exc.detail}", exc.source, exc.detail
            ) from None
        source = expression.source
        evaluate = expression.evaluate

        def render_expression(bindings: Mapping[str, Any], rng: random.Random) -> Any:
            value = evaluate(bindings, rng, path)
            if value is UNDEFINED:
                raise undefined_error(source, path)
            return value

        return render_expression, True
    if isinstance(spec, dict):
        parts = [(key, *_compile_template(value, f"{path}/{key}")) for key, value in spec.items()]
        if not any(dynamic for _, _, dynamic in parts):
            return spec, False

        def render_object(bindings: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
            return {key: (fn(bindings, rng) if dynamic else fn) for key, fn, dynamic in parts}

        return render_object, True
    if isinstance(spec, list):
        items = [_compile_template(value, f"{path}[{index}]") for index, value in enumerate(spec)]
        if not any(dynamic for _, dynamic in items):
            return spec, False

        def render_array(bindings: Mapping[str, Any], rng: random.Random) -> list[Any]:
            return [fn(bindings, rng) if dynamic else fn for fn, dynamic in items]

        return render_array, True
    return spec, False
