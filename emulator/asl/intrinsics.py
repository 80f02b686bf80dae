"""Intrinsic functions (`States.Format(...)` and the rest) for JSONPath states, compiled once.

`compile_intrinsic` parses the text with a small hand-written recursive-descent parser into a
tree: each argument becomes a function of (data, env) — a constant, a compiled Path or a nested
call — so `Intrinsic.evaluate` is a plain tree walk with no parsing or regex work per call.

The rules follow AWS's documentation (intrinsic-functions.html) and, where the documentation is
silent, what AWS was recorded doing (the conformance corpus). AWS runs on Java, which shows:
numbers given where integers are expected are rounded the way Java's Math.round does (half up);
States.Format renders objects and arrays as Java's Map/List toString (`{a=1, b=[]}`); doubles print
as Java's Double.toString (`1.0E7`); StringSplit splits like java.util.StringTokenizer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

from emulator.asl.paths import Env, Path, PathSyntaxError, compile_path
from emulator.asl.values import json_type
from emulator.errors import INTRINSIC_FAILURE, RUNTIME, StatesError

# AWS: "You can nest up to 10 intrinsic functions within a field". Enforced as a depth limit,
# which never rejects a definition AWS accepts whichever way AWS counts.
MAX_NESTING = 10
MAX_RANGE_ITEMS = 1000  # States.ArrayRange: "can't contain more than 1000 items"
MAX_TEXT_INPUT = 10_000  # Base64Encode/Base64Decode/Hash: input "of up to 10,000 characters"
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1  # States.MathAdd's documented operand range
_MAX_INT_DIGITS = 4000  # below Python's int-from-text limit (4300); far beyond any Java number type

_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}

_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_NAME_RE = re.compile(r"[A-Za-z0-9_]*")
_ESCAPABLE = "'{}\\"

Evaluator = Callable[[Any, Env | None], Any]


class IntrinsicSyntaxError(ValueError):
    """An intrinsic function call AWS would reject in a definition; the message says what and where."""


class _NotJson(ValueError):
    """A value JSON cannot write (NaN, Infinity, a Python object): the call fails, nothing prints it."""


def is_intrinsic(text: str) -> bool:
    """Whether a `.$` value is an intrinsic call rather than a path (AWS requires the prefix first)."""
    return isinstance(text, str) and text.startswith("States.")


def compile_intrinsic(text: str) -> Intrinsic:
    """Parse an intrinsic call once; raises IntrinsicSyntaxError with the reason and position."""
    parser = _Parser(text)
    call = parser.call(1)
    parser.skip_space()
    if parser.pos != len(text):
        raise parser.error("unexpected text after the closing ')'")
    return call


class Intrinsic:
    """A compiled intrinsic call: `evaluate(data, env)` returns its value without mutating `data`."""

    __slots__ = ("_args", "_impl", "_segments", "name", "text")

    def __init__(
        self,
        name: str,
        text: str,
        args: list[Evaluator],
        impl: Callable[[Intrinsic, list[Any], Env | None], Any],
        segments: list[str] | None,
    ) -> None:
        self.name = name
        self.text = text  # the call's own source, for error causes
        self._args = args
        self._impl = impl
        self._segments = segments  # States.Format with a literal template: the text around each {}

    def __repr__(self) -> str:
        return f"Intrinsic({self.text!r})"

    def evaluate(self, data: Any, env: Env | None = None) -> Any:
        try:
            return self._impl(self, [arg(data, env) for arg in self._args], env)
        except RecursionError:
            raise self.fail("the value is nested too deeply to process") from None
        except _NotJson as exc:
            raise self.fail(str(exc)) from None

    def fail(self, detail: str) -> StatesError:
        """The error for a bad argument value: the ASL spec's States.IntrinsicFailure, naming the call."""
        return StatesError(INTRINSIC_FAILURE, f"The function '{self.text}' had the following error: {detail}")


# ---------------------------------------------------------------------------------------------
# Parsing


class _StringLiteral:
    """A quoted literal: its value, plus where its unescaped `{}` pairs split it (Format templates)."""

    __slots__ = ("open_escape", "segments", "value")

    def __init__(self, value: str, segments: list[str], open_escape: str | None) -> None:
        self.value = value
        self.segments = segments
        self.open_escape = open_escape  # the first backslash sequence AWS does not define, if any


class _Parser:
    """Recursive descent over the text; `pos` is where parsing stands, reported in every error."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise IntrinsicSyntaxError(f"an intrinsic function must be a string, not {type(text).__name__}")
        self.text = text
        self.pos = 0

    def error(self, problem: str, at: int | None = None) -> IntrinsicSyntaxError:
        where = self.pos if at is None else at
        return IntrinsicSyntaxError(f"{problem} at position {where} in intrinsic function {self.text!r}")

    def skip_space(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos].isspace():
            pos += 1
        self.pos = pos

    def found(self) -> str:
        return repr(self.text[self.pos]) if self.pos < len(self.text) else "the end"

    def expect(self, char: str) -> None:
        if not self.text.startswith(char, self.pos):
            raise self.error(f"expected {char!r} but found {self.found()}")
        self.pos += 1

    def call(self, depth: int) -> Intrinsic:
        start = self.pos
        if depth > MAX_NESTING:
            raise self.error(f"intrinsic functions are nested deeper than AWS's limit of {MAX_NESTING}")
        if not self.text.startswith("States.", start):
            raise self.error("expected an intrinsic function name starting with 'States.'")
        match = _NAME_RE.match(self.text, start + len("States."))
        name = self.text[start : match.end()]
        spec = _FUNCTIONS.get(name)
        if spec is None:
            raise self.error(f"unknown intrinsic function {name!r}", start)
        self.pos = match.end()
        self.skip_space()
        self.expect("(")
        raw: list[Any] = []  # each argument as parsed: a constant, _StringLiteral, Path or Intrinsic
        self.skip_space()
        if self.text.startswith(")", self.pos):
            self.pos += 1
        else:
            while True:
                raw.append(self.argument(depth))
                self.skip_space()
                if self.text.startswith(",", self.pos):
                    self.pos += 1
                elif self.text.startswith(")", self.pos):
                    self.pos += 1
                    break
                else:
                    raise self.error(f"expected ',' or ')' after an argument but found {self.found()}")
        text = self.text[start : self.pos]
        low, high, impl = spec
        if len(raw) < low or (high is not None and len(raw) > high):
            wanted = f"at least {low}" if high is None else str(low) if low == high else f"{low} to {high}"
            raise self.error(f"{name} takes {wanted} argument(s) but {len(raw)} were given", start)
        segments = None
        if name == "States.Format" and isinstance(raw[0], _StringLiteral) and raw[0].open_escape is None:
            segments = raw[0].segments
            if len(segments) - 1 != len(raw) - 1:
                raise self.error(
                    f"States.Format's template has {len(segments) - 1} '{{}}' placeholder(s) "
                    f"but {len(raw) - 1} value argument(s) were given",
                    start,
                )
        return Intrinsic(name, text, [_evaluator(arg, text) for arg in raw], impl, segments)

    def argument(self, depth: int) -> Any:
        self.skip_space()
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise self.error("expected an argument but found the end")
        char = text[pos]
        if char == "'":
            return self.string()
        if char == "$":
            return self.path()
        if char == "-" or char.isdigit():
            match = _NUMBER_RE.match(text, pos)
            if match is None:
                raise self.error("malformed number")
            self.pos = match.end()
            literal = match.group()
            if not (match.group(1) or match.group(2)):
                if len(literal) > _MAX_INT_DIGITS:
                    raise self.error(f"the number has more than {_MAX_INT_DIGITS} digits", pos)
                return int(literal)
            value = float(literal)
            if not math.isfinite(value):
                raise self.error(f"the number {literal} is too large for a double", pos)
            return value
        if text.startswith("States.", pos):
            return self.call(depth + 1)
        for word, value in (("true", True), ("false", False), ("null", None)):
            end = pos + len(word)
            if text.startswith(word, pos) and (end == len(text) or not (text[end].isalnum() or text[end] == "_")):
                self.pos = end
                return value
        raise self.error(
            f"unexpected character {char!r}; an argument is a 'string', number, true, false, null, "
            "a path starting with '$' or an intrinsic function"
        )

    def string(self) -> _StringLiteral:
        """A single-quoted literal; `\\'`, `\\{`, `\\}` and `\\\\` are the only escapes AWS defines."""
        text = self.text
        pos = self.pos + 1
        out: list[str] = []
        segments: list[str] = []
        open_escape = None
        while True:
            if pos >= len(text):
                raise self.error("unterminated string literal", self.pos)
            char = text[pos]
            if char == "'":
                break
            if char == "\\":
                nxt = text[pos + 1] if pos + 1 < len(text) else ""
                if nxt and nxt in _ESCAPABLE:
                    out.append(nxt)
                    pos += 2
                    continue
                # AWS documents an unescaped backslash as a runtime error, not a definition error.
                open_escape = open_escape or text[pos : pos + 2]
                out.append(char)
            elif char == "{" and text.startswith("}", pos + 1):
                segments.append("".join(out))
                out.clear()
                pos += 2
                continue
            else:
                out.append(char)
            pos += 1
        self.pos = pos + 1
        segments.append("".join(out))
        return _StringLiteral("{}".join(segments), segments, open_escape)

    def path(self) -> Path:
        """A path runs to the next top-level ',' ')' or space; brackets may hold any of those."""
        text, start = self.text, self.pos
        pos, brackets, parens, quote = start, 0, 0, None
        while pos < len(text):
            char = text[pos]
            if quote:
                if char == quote:
                    quote = None
            elif brackets and char in "'\"":
                quote = char
            elif char == "[":
                brackets += 1
            elif char == "]":
                brackets -= 1
            elif char == "(":
                parens += 1
            elif char == ")" and parens:
                parens -= 1
            elif not brackets and not parens and (char in ",)" or char.isspace()):
                break
            pos += 1
        self.pos = pos
        try:
            return compile_path(text[start:pos])
        except PathSyntaxError as exc:
            raise self.error(f"invalid path argument: {exc}", start) from None


def _evaluator(arg: Any, call_text: str) -> Evaluator:
    """Turn a parsed argument into a function of (data, env)."""
    if isinstance(arg, Intrinsic):
        return arg.evaluate
    if isinstance(arg, Path):
        return _path_evaluator(arg, call_text)
    if isinstance(arg, _StringLiteral):
        if arg.open_escape is not None:
            cause = (
                f"The function '{call_text}' had the following error: "
                f"the string literal holds the undefined escape sequence {arg.open_escape!r}"
            )

            def open_escape(data: Any, env: Env | None) -> Any:
                raise StatesError(RUNTIME, cause)

            return open_escape
        arg = arg.value

    def constant(data: Any, env: Env | None, value: Any = arg) -> Any:
        return value

    return constant


def _path_evaluator(path: Path, call_text: str) -> Evaluator:
    """A path argument; one that selects nothing fails the state with States.Runtime, as AWS does."""
    def describe(searched: Any) -> str:
        return (f"The function '{call_text}' had the following error: The JsonPath argument for the field "
                f"'{path.text}' could not be found in the input '{_json_text(searched)}'")

    return path.getter(describe)


# ---------------------------------------------------------------------------------------------
# Rendering values the way AWS's Java runtime does


def _java_double(value: float) -> str:
    """Java's Double.toString: plain between 1e-3 and 1e7, else `d.dddE±n`; always a '.digit'."""
    if not math.isfinite(value):
        raise _NotJson(f"{value!r} is not a JSON number")
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()  # repr: shortest round-trip digits
    digits = "".join(map(str, digit_tuple))
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    digits = stripped
    point = len(digits) + exponent  # digits before the decimal point in plain notation
    if -3 < point <= 7:
        if point <= 0:
            body = "0." + "0" * -point + digits
        elif point >= len(digits):
            body = digits + "0" * (point - len(digits)) + ".0"
        else:
            body = digits[:point] + "." + digits[point:]
    else:
        body = f"{digits[0]}.{digits[1:] or '0'}E{point - 1}"
    return "-" + body if sign else body


def _json_text(value: Any) -> str:
    """Compact JSON as AWS writes it: no spaces, non-ASCII kept, doubles as Java prints them."""
    if isinstance(value, str):
        return encode_basestring(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # more digits than Python converts to text
            raise _NotJson("the integer has too many digits to write") from None
    if isinstance(value, dict):
        return "{" + ",".join(f"{encode_basestring(k)}:{_json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(map(_json_text, value)) + "]"
    raise _NotJson(f"a {type(value).__name__} is not a JSON value")


def _format_text(value: Any) -> str:
    """A States.Format value: strings raw, objects/arrays as Java Map/List toString (corpus-verified)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_format_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(_format_text, value)) + "]"
    return _json_text(value)


def _identity(value: Any) -> Any:
    """A hashable key equal only for equal JSON values, as Java's JsonNode.equals sees them.

    Python alone would call True == 1 == 1.0 equal; JSON (and AWS) do not.
    """
    if isinstance(value, dict):
        return ("o", frozenset((k, _identity(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("a", tuple(map(_identity, value)))
    return (type(value).__name__, value)


# ---------------------------------------------------------------------------------------------
# Argument checks


def _java_round(value: float) -> int:
    """Java's Math.round: the nearest integer, halves going up (-2.5 -> -2), as AWS rounds."""
    floor = math.floor(value)
    return floor + 1 if value - floor >= 0.5 else floor


def _integer(call: Intrinsic, value: Any, what: str) -> int:
    """An integer argument; AWS rounds non-integers to the nearest integer (documented)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise call.fail(f"the {what} must be a number, but got {json_type(value)} {_json_text(value)}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise call.fail(f"the {what} must be a finite number, but got {value}")
        return _java_round(value)
    return value


def _string(call: Intrinsic, value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise call.fail(f"the {what} must be a string, but got {json_type(value)} {_json_text(value)}")
    return value


def _array(call: Intrinsic, value: Any, what: str = "first argument") -> list[Any]:
    if not isinstance(value, list):
        raise call.fail(f"the {what} must be an array, but got {json_type(value)} {_json_text(value)}")
    return value


def _object(call: Intrinsic, value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise call.fail(f"the {what} must be a JSON object, but got {json_type(value)} {_json_text(value)}")
    return value


def _bounded_text(call: Intrinsic, value: Any, what: str) -> str:
    text = _string(call, value, what)
    if len(text) > MAX_TEXT_INPUT:
        raise call.fail(f"the {what} is {len(text)} characters long; the limit is {MAX_TEXT_INPUT}")
    return text


def _utf8(text: str) -> bytes:
    """UTF-8 bytes as Java's String.getBytes makes them: a lone surrogate (valid in JSON text as an
    escape) becomes '?' instead of failing."""
    return text.encode("utf-8", errors="replace")


def _random_source(env: Env | None) -> random.Random:
    # The engine's seeded Random makes runs reproducible; without an env any Random will do.
    return env.random if env is not None else _FALLBACK_RANDOM


_FALLBACK_RANDOM = random.Random()


# ---------------------------------------------------------------------------------------------
# The functions: each takes (call, evaluated args, env)


_INT64 = 2**63  # integers this small always convert to text


def _format(call: Intrinsic, args: list[Any], env: Env | None) -> str:
    segments = call._segments
    if segments is None:  # the template came from a path (or holds an open escape): split it now
        segments = _string(call, args[0], "template (first argument)").split("{}")
        if len(segments) != len(args):
            raise call.fail(
                f"the template has {len(segments) - 1} '{{}}' placeholder(s) but {len(args) - 1} "
                "value argument(s) were given"
            )
    if len(args) == 2:  # one placeholder, the usual call
        value = args[1]
        kind = type(value)
        if kind is str:
            return segments[0] + value + segments[1]
        return segments[0] + (str(value) if kind is int and -_INT64 < value < _INT64 else _format_text(value)) + \
            segments[1]
    parts = [segments[0]]
    for value, segment in zip(args[1:], segments[1:], strict=True):
        parts.append(_format_text(value))
        parts.append(segment)
    return "".join(parts)


def _string_to_json(call: Intrinsic, args: list[Any], env: Env | None) -> Any:
    text = _string(call, args[0], "argument")
    if not text.strip():
        return None  # AWS returns null for "" and " " (corpus)
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise call.fail("the argument nests arrays or objects too deeply to parse") from None
    except ValueError as exc:
        raise call.fail(f"the argument is not valid JSON: {exc}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    # A number beyond a double's range would become Infinity, which JSON cannot hold: fail instead.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text} is too large for a double")
    return value


def _json_to_string(call: Intrinsic, args: list[Any], env: Env | None) -> str:
    return _json_text(args[0])


def _array_of(call: Intrinsic, args: list[Any], env: Env | None) -> list[Any]:
    return args


def _array_partition(call: Intrinsic, args: list[Any], env: Env | None) -> list[list[Any]]:
    items = _array(call, args[0])
    size = _integer(call, args[1], "chunk size (second argument)")
    if size <= 0:
        raise call.fail(f"the chunk size must be a positive integer, but got {size}")
    return [items[i : i + size] for i in range(0, len(items), size)]


def _array_contains(call: Intrinsic, args: list[Any], env: Env | None) -> bool:
    items = _array(call, args[0])
    wanted = _identity(args[1])
    return any(_identity(item) == wanted for item in items)


def _array_range(call: Intrinsic, args: list[Any], env: Env | None) -> list[int]:
    start = _integer(call, args[0], "first argument")
    end = _integer(call, args[1], "second argument")
    step = _integer(call, args[2], "step (third argument)")
    if step == 0:
        raise call.fail("the step (third argument) must not be zero")
    count = max(0, (end - start) // step + 1)
    if count > MAX_RANGE_ITEMS:
        raise call.fail(f"the range would hold {count} items; the limit is {MAX_RANGE_ITEMS}")
    return list(range(start, start + count * step, step))


def _array_get_item(call: Intrinsic, args: list[Any], env: Env | None) -> Any:
    items = _array(call, args[0])
    index = args[1]
    # Unlike the numeric functions, AWS documents no rounding here: only integral values pass.
    if isinstance(index, float) and index.is_integer():
        index = int(index)
    if isinstance(index, bool) or not isinstance(index, int):
        raise call.fail(f"the index (second argument) must be an integer, but got {_json_text(index)}")
    if not 0 <= index < len(items):
        raise call.fail(f"the index {index} is out of bounds for an array of length {len(items)}")
    return items[index]


def _array_length(call: Intrinsic, args: list[Any], env: Env | None) -> int:
    return len(_array(call, args[0], "argument"))


def _array_unique(call: Intrinsic, args: list[Any], env: Env | None) -> list[Any]:
    seen: set[Any] = set()
    unique = []
    for item in _array(call, args[0], "argument"):
        key = _identity(item)
        if key not in seen:  # first occurrence wins, order kept
            seen.add(key)
            unique.append(item)
    return unique


def _base64_encode(call: Intrinsic, args: list[Any], env: Env | None) -> str:
    text = _bounded_text(call, args[0], "argument")
    return base64.b64encode(_utf8(text)).decode("ascii")


def _base64_decode(call: Intrinsic, args: list[Any], env: Env | None) -> str:
    text = _bounded_text(call, args[0], "argument")
    try:
        # MIME decoding (AWS's words) skips characters outside the alphabet, as validate=False does.
        raw = base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise call.fail(f"the argument is not valid Base64: {exc}") from None
    return raw.decode("utf-8", errors="replace")


def _hash(call: Intrinsic, args: list[Any], env: Env | None) -> str:
    text = _bounded_text(call, args[0], "data (first argument)")
    algorithm = _string(call, args[1], "algorithm (second argument)")
    name = _HASHES.get(algorithm)
    if name is None:
        raise call.fail(f"the algorithm {algorithm!r} is not one of {', '.join(_HASHES)}")
    return hashlib.new(name, _utf8(text)).hexdigest()


def _json_merge(call: Intrinsic, args: list[Any], env: Env | None) -> dict[str, Any]:
    first = _object(call, args[0], "first argument")
    second = _object(call, args[1], "second argument")
    deep = args[2]
    if not isinstance(deep, bool):
        raise call.fail(f"the deep-merge flag (third argument) must be a boolean, but got {_json_text(deep)}")
    if deep:
        raise call.fail("deep merging is not supported; the third argument must be false")
    return {**first, **second}  # shallow: the second object's keys win; new dict, inputs untouched


def _math_random(call: Intrinsic, args: list[Any], env: Env | None) -> int:
    start = _integer(call, args[0], "start (first argument)")
    end = _integer(call, args[1], "end (second argument)")
    if start >= end:
        raise call.fail(f"the start ({start}) must be less than the end ({end})")
    if len(args) == 3:
        # AWS: the same seed returns the same number, so a seeded call ignores the run's Random.
        return random.Random(_integer(call, args[2], "seed (third argument)")).randrange(start, end)
    return _random_source(env).randrange(start, end)


def _math_add(call: Intrinsic, args: list[Any], env: Env | None) -> int:
    total = 0
    for position, value in enumerate(args, 1):
        number = value if type(value) is int else _integer(call, value, f"argument {position}")
        if not _INT32_MIN <= number <= _INT32_MAX:
            raise call.fail(f"argument {position} ({number}) is outside the range {_INT32_MIN} to {_INT32_MAX}")
        total += number
    return total


def _string_split(call: Intrinsic, args: list[Any], env: Env | None) -> list[str]:
    text = _string(call, args[0], "first argument")
    delimiters = _string(call, args[1], "delimiter (second argument)")
    if not delimiters:
        return [text] if text else []
    # StringTokenizer semantics (corpus): every delimiter character splits, empty tokens are dropped.
    first = delimiters[0]
    if len(delimiters) > 1:
        text = text.translate(dict.fromkeys(map(ord, delimiters[1:]), first))
    return [token for token in text.split(first) if token]


def _uuid(call: Intrinsic, args: list[Any], env: Env | None) -> str:
    return str(uuid.UUID(int=_random_source(env).getrandbits(128), version=4))


# name -> (fewest args, most args or None for unbounded, implementation)
_FUNCTIONS: dict[str, tuple[int, int | None, Callable[[Intrinsic, list[Any], Env | None], Any]]] = {
    "States.Format": (1, None, _format),
    "States.StringToJson": (1, 1, _string_to_json),
    "States.JsonToString": (1, 1, _json_to_string),
    "States.Array": (0, None, _array_of),
    "States.ArrayPartition": (2, 2, _array_partition),
    "States.ArrayContains": (2, 2, _array_contains),
    "States.ArrayRange": (3, 3, _array_range),
    "States.ArrayGetItem": (2, 2, _array_get_item),
    "States.ArrayLength": (1, 1, _array_length),
    "States.ArrayUnique": (1, 1, _array_unique),
    "States.Base64Encode": (1, 1, _base64_encode),
    "States.Base64Decode": (1, 1, _base64_decode),
    "States.Hash": (2, 2, _hash),
    "States.JsonMerge": (3, 3, _json_merge),
    "States.MathRandom": (2, 3, _math_random),
    "States.MathAdd": (2, 2, _math_add),
    "States.StringSplit": (2, 2, _string_split),
    "States.UUID": (0, 0, _uuid),
}
