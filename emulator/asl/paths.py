"""JSONPath as ASL uses it, compiled once per state machine.

Three roots: `$` (the state's data), `$$` (the context object) and `$name` (a workflow variable).
Definite paths (names and indexes only) are walked directly, the hot case; indefinite ones
(wildcards, slices, unions, filters, `..`) are handed to jsonpath-ng and always yield a list,
as AWS's Jayway JsonPath does.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from jsonpath_ng import jsonpath as _jp
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext import parse as _jsonpath_parse

from emulator.errors import RUNTIME, StatesError


class Env(Protocol):
    """What evaluation needs beyond the state's data: built by the engine once per state run."""

    @property
    def context(self) -> dict[str, Any]:
        """The context object (`$$`), built on first use."""

    @property
    def variables(self) -> Mapping[str, Any]:
        """Workflow variables in scope (`$name`)."""

    @property
    def random(self) -> random.Random:
        """Seeded randomness for States.UUID and States.MathRandom."""


class PathSyntaxError(ValueError):
    """A path that cannot be parsed; the message says why."""


class PathNotFound(StatesError):
    """A definite path that selects nothing. The message is Jayway's, as AWS reports it."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(RUNTIME, f"Invalid path '{path}' : {detail}")
        self.path = path
        self.detail = detail


_VARIABLE_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_INDEX_RE = re.compile(r"-?\d+")


def _normalized(steps: list[str | int]) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f"['{s}']" for s in steps)


def _split(body: str, text: str) -> tuple[list[str | int], bool]:
    """Split what follows the root into steps; the flag is True when the path is indefinite."""
    steps: list[str | int] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch == ".":
            if body.startswith("..", i):
                return steps, True
            j = i + 1
            while j < n and body[j] not in ".[":
                j += 1
            name = body[i + 1 : j]
            if not name:
                raise PathSyntaxError(f"empty property name in path '{text}'")
            if name == "*" or name.endswith("()"):
                return steps, True
            steps.append(name)
            i = j
        elif ch == "[":
            j, quote = i + 1, None
            while j < n and (quote or body[j] != "]"):
                if body[j] in "'\"" and (quote is None or quote == body[j]):
                    quote = None if quote else body[j]
                j += 1
            if j >= n:
                raise PathSyntaxError(f"unclosed '[' in path '{text}'")
            inner = body[i + 1 : j].strip()
            if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"" and "," not in inner:
                steps.append(inner[1:-1])
            elif _INDEX_RE.fullmatch(inner):
                steps.append(int(inner))
            elif inner:
                return steps, True
            else:
                raise PathSyntaxError(f"empty brackets in path '{text}'")
            i = j + 1
        else:
            raise PathSyntaxError(f"unexpected character {ch!r} in path '{text}'")
    return steps, False


class Path:
    """A compiled JSONPath: `get(data, env)` returns what it selects."""

    __slots__ = ("_indefinite", "definite", "root", "steps", "text", "variable")

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.startswith("$"):
            raise PathSyntaxError(f"path must start with '$': {text!r}")
        self.text = text
        self.variable: str | None = None
        if text.startswith("$$"):
            self.root, body = "context", text[2:]
        elif (m := _VARIABLE_RE.match(text)) is not None:
            self.root, self.variable, body = "variable", m.group(1), text[m.end() :]
        else:
            self.root, body = "data", text[1:]
        self.steps, indefinite = _split(body, text)
        self.definite = not indefinite
        self._indefinite = None
        if indefinite:
            try:
                self._indefinite = _jayway_wildcards(_jsonpath_parse("$" + body))
            except (JsonPathLexerError, JsonPathParserError, Exception) as exc:
                raise PathSyntaxError(f"invalid JSONPath '{text}': {exc}") from None

    def __repr__(self) -> str:
        return f"Path({self.text!r})"

    @property
    def is_reference(self) -> bool:
        """A Reference Path (ResultPath's kind): one node, named by keys and indexes only."""
        return self.definite and self.root == "data"

    def _root_value(self, data: Any, env: Env | None) -> Any:
        if self.root == "data":
            return data
        if self.root == "context":
            return env.context if env is not None else {}
        variables = env.variables if env is not None else {}
        if self.variable not in variables:
            raise StatesError(RUNTIME, f"Invalid path '{self.text}': The variable '{self.variable}' is not defined.")
        return variables[self.variable]

    def get(self, data: Any, env: Env | None = None) -> Any:
        cur = self._root_value(data, env)
        if self._indefinite is not None:
            return [m.value for m in self._indefinite.find(cur)]
        steps = self.steps
        last = len(steps) - 1
        for pos, step in enumerate(steps):
            if isinstance(step, str):
                if isinstance(cur, dict) and step in cur:
                    cur = cur[step]
                    continue
            elif isinstance(cur, list) and -len(cur) <= step < len(cur):
                cur = cur[step]
                continue
            where = _normalized(steps[: pos + 1])
            detail = f"No results for path: {where}" if pos == last else f"Missing property in path {where}"
            raise PathNotFound(self.text, detail)
        return cur

    def get_for(self, data: Any, env: Env | None, describe: Callable[[Any], str]) -> Any:
        """`get`, but a miss fails with States.Runtime and `describe(searched document)` as the cause.

        Fields word their misses differently (Parameters, intrinsic arguments, ...); the
        document searched is the state's data, or the context object for `$$` paths.
        """
        try:
            return self.get(data, env)
        except PathNotFound:
            searched = env.context if self.root == "context" and env is not None else data
            raise StatesError(RUNTIME, describe(searched)) from None

    def exists(self, data: Any, env: Env | None = None) -> bool:
        try:
            value = self.get(data, env)
        except StatesError:
            return False
        return self.definite or bool(value)

    def set(self, data: Any, value: Any) -> Any:
        """Return a copy of `data` with `value` placed at this reference path (ResultPath).

        Only the containers along the path are copied, so the input is never mutated;
        missing objects on the way are created, as AWS does.
        """
        if not self.steps:
            return value
        return _put(data, self.steps, 0, value, self.text)


def _put(node: Any, steps: list[str | int], pos: int, value: Any, text: str) -> Any:
    step = steps[pos]
    last = pos == len(steps) - 1
    if isinstance(step, str):
        if node is _MISSING:
            node = {}
        if not isinstance(node, dict):
            raise StatesError(
                "States.ResultPathMatchFailure",
                f"Unable to apply step \"{step}\" to input {json.dumps(node, separators=(',', ':'))}",
            )
        out = dict(node)
        out[step] = value if last else _put(node.get(step, _MISSING), steps, pos + 1, value, text)
        return out
    if not isinstance(node, list) or not -len(node) <= step < len(node):
        raise StatesError(
            "States.ResultPathMatchFailure",
            f"Unable to apply ResultPath '{text}': index {step} is not within the array",
        )
    out = list(node)
    out[step] = value if last else _put(node[step], steps, pos + 1, value, text)
    return out


class _Missing:
    """Marks an intermediate object that does not exist yet (so ResultPath creates it)."""

    def __repr__(self) -> str:
        return "MISSING"


_MISSING = _Missing()


class _Wildcard(_jp.JSONPath):
    """`*` / `[*]` as Jayway evaluates them: an object's values or an array's elements, nothing else.

    jsonpath-ng treats `[*]` on an object as the object itself and `.*` on an array as nothing.
    """

    def find(self, datum: Any) -> list[_jp.DatumInContext]:
        datum = _jp.DatumInContext.wrap(datum)
        value = datum.value
        if isinstance(value, list):
            return [_jp.DatumInContext(v, path=_jp.Index(i), context=datum) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return [_jp.DatumInContext(v, path=_jp.Fields(k), context=datum) for k, v in value.items()]
        return []

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Wildcard)

    def __hash__(self) -> int:
        return hash("*")


def _jayway_wildcards(node: Any) -> Any:
    """Replace jsonpath-ng's wildcard nodes in a parsed path with `_Wildcard`."""
    if isinstance(node, _jp.Fields) and node.fields == ("*",):
        return _Wildcard()
    if isinstance(node, _jp.Slice) and node.start is None and node.end is None and node.step is None:
        return _Wildcard()
    for attr in ("left", "right"):
        if hasattr(node, attr):
            setattr(node, attr, _jayway_wildcards(getattr(node, attr)))
    return node


def compile_path(text: str) -> Path:
    """Parse a path once; raises PathSyntaxError with the reason."""
    return Path(text)
