"""JSONPath as ASL uses it, compiled once per state machine.

Three roots: `$` (the state's data), `$$` (the context object) and `$name` (a workflow variable).
The syntax and the evaluation follow Jayway JsonPath, which AWS runs: a dot may precede a bracket
(`$.[0]`), a dotted name runs to the next `.`, `[` or `(` and may not hold a space, bracketed
names may hold an escaped quote (`$['a\\'b']`, kept as written), `['a','b']` at the end of a path merges those keys into
one object, and filters take `==`, `!=`, `<`, `<=`, `>`, `>=` and `=~ /regex/flags`.
Definite paths (names and indexes only) are walked directly, the hot case; indefinite ones
(wildcards, slices, unions, filters, `..`) always yield a list. What AWS documents as unsupported
(path functions such as `length()`, lexical filter operators such as `in` or `subsetof`) is a
syntax error, so `validate()` reports it.
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

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
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1  # Jayway parses indexes with Integer.parseInt
_NUMBERS = (int, float)  # for isinstance: an `int | float` union would be built anew on every call
_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
_LEXICAL_OPERATORS = ("in", "nin", "subsetof", "anyof", "noneof", "size", "empty", "contains", "all", "type",
                      "matches", "exists")


# ---------------------------------------------------------------------------------------------
# Tokens


class _Prop:
    __slots__ = ("names",)

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def __str__(self) -> str:
        return "[" + ",".join(f"'{n}'" for n in self.names) + "]"


class _Index:
    __slots__ = ("indexes",)

    def __init__(self, indexes: tuple[int, ...]) -> None:
        self.indexes = indexes

    def __str__(self) -> str:
        return "[" + ",".join(map(str, self.indexes)) + "]"


class _Slice:
    __slots__ = ("end", "start")

    def __init__(self, start: int | None, end: int | None) -> None:
        self.start, self.end = start, end

    def __str__(self) -> str:
        return f"[{'' if self.start is None else self.start}:{'' if self.end is None else self.end}]"


class _Wildcard:
    __slots__ = ()

    def __str__(self) -> str:
        return "[*]"


class _Scan:
    __slots__ = ()

    def __str__(self) -> str:
        return ".."


class _Filter:
    __slots__ = ("accepts",)

    def __init__(self, accepts: Callable[[Any, Any], bool]) -> None:
        self.accepts = accepts  # (item, document root) -> bool

    def __str__(self) -> str:
        return "[?]"


Token = _Prop | _Index | _Slice | _Wildcard | _Scan | _Filter


def _definite_token(tokens: list[Token], pos: int) -> bool:
    token = tokens[pos]
    if isinstance(token, _Prop):
        # Jayway: several names at the end of a path merge into one object, a definite result.
        return len(token.names) == 1 or pos == len(tokens) - 1
    return isinstance(token, _Index) and len(token.indexes) == 1


# ---------------------------------------------------------------------------------------------
# Parsing (Jayway's PathCompiler grammar)


class _Parser:
    """Reads the tokens that follow a path's root; `fail` names the position in the whole path."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos

    def fail(self, problem: str, at: int | None = None) -> PathSyntaxError:
        where = self.pos if at is None else at
        return PathSyntaxError(f"{problem} at position {where} in path '{self.text}'")

    def at(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.text[i] if i < len(self.text) else ""

    def skip_space(self) -> None:
        while self.at() in (" ", "\t", "\n", "\r"):
            self.pos += 1

    def tokens(self) -> list[Token]:
        tokens: list[Token] = []
        if self.pos == len(self.text):
            return tokens
        if self.at() not in ".[":
            raise self.fail(f"expected '.' or '[' after the root but found {self.at()!r}")
        while self.pos < len(self.text):
            self.token(tokens)
        return tokens

    def token(self, tokens: list[Token]) -> None:
        char = self.at()
        if char == ".":
            if self.at(1) == ".":
                tokens.append(_Scan())
                self.pos += 2
            else:
                self.pos += 1
            if self.pos >= len(self.text):
                raise self.fail("a path must not end with '.' or '..'")
            if self.at() == ".":
                raise self.fail("unexpected '.'")
            self.token(tokens)
        elif char == "[":
            tokens.append(self.bracket())
        elif char == "*":
            self.pos += 1
            tokens.append(_Wildcard())
        else:
            tokens.append(self.dotted_name())

    def dotted_name(self) -> _Prop:
        start = self.pos
        text = self.text
        while self.pos < len(text) and text[self.pos] not in ".[(":
            if text[self.pos] == " ":
                raise self.fail("use bracket notation ['my name'] for a name holding blanks")
            self.pos += 1
        name = text[start : self.pos]
        if self.at() == "(":
            raise self.fail(f"path functions such as '{name}()' are not supported by Step Functions", start)
        return _Prop((name,))

    def bracket(self) -> Token:
        open_at = self.pos
        self.pos += 1
        self.skip_space()
        char = self.at()
        if char in ("'", '"'):
            token: Token = self.quoted_names(char)
        elif char == "*":
            self.pos += 1
            token = _Wildcard()
        elif char == "?":
            self.pos += 1
            self.skip_space()
            if self.at() != "(":
                raise self.fail("expected '(' after '?' in a filter")
            token = _Filter(_FilterParser(self).parenthesised())
        elif char.isdigit() or char in "-:":
            token = self.indexes()
        elif not char:
            raise self.fail("unclosed '['", open_at)
        else:
            raise self.fail(f"expected a quoted name, an index, a slice, '*' or a filter after '[' but found {char!r}")
        self.skip_space()
        if self.at() != "]":
            raise self.fail(f"expected ']' but found {self.at()!r}" if self.at() else "unclosed '['")
        self.pos += 1
        return token

    def quoted_names(self, quote: str) -> _Prop:
        names = []
        while True:
            names.append(self.quoted(quote))
            self.skip_space()
            if self.at() != ",":
                return _Prop(tuple(names))
            self.pos += 1
            self.skip_space()
            if self.at() != quote:
                raise self.fail(f"expected a name in {quote} quotes after ','")

    def quoted(self, quote: str) -> str:
        """A quoted name. A backslash keeps the next character inside the name, but the name is
        taken as written, backslash included: AWS matched `$['Test\\""Name"']` to the key
        `Test\\""Name"` (recorded), so its Jayway does not unescape bracketed names."""
        start = self.pos
        self.pos += 1
        text = self.text
        while True:
            if self.pos >= len(text):
                raise self.fail(f"unclosed {quote} quote", start)
            char = text[self.pos]
            if char == quote:
                self.pos += 1
                return text[start + 1 : self.pos - 1]
            self.pos += 2 if char == "\\" else 1

    def indexes(self) -> Token:
        start = self.pos
        end = self.text.find("]", start)
        if end < 0:
            raise self.fail("unclosed '['", start - 1)
        body = self.text[start:end].strip()
        if any(not (c.isdigit() and c.isascii()) and c not in ",-: " for c in body):
            raise self.fail(f"'{body}' is not an index, a list of indexes or a slice", start)
        self.pos = end
        if ":" in body:
            # Java's split drops trailing empty parts; a third part (a step) is ignored, as Jayway does.
            parts = body.split(":")
            while parts and parts[-1] == "":
                parts.pop()
            bounds = [self.integer(p, start) if p else None for p in parts[:2]]
            bounds += [None] * (2 - len(bounds))
            if bounds[0] is None and bounds[1] is None:
                raise self.fail(f"the slice '{body}' needs a start or an end", start)
            return _Slice(bounds[0], bounds[1])
        return _Index(tuple(self.integer(p.strip(), start) for p in body.split(",")))

    def integer(self, text: str, at: int) -> int:
        if not re.fullmatch(r"-?[0-9]+", text):
            raise self.fail(f"'{text}' is not an integer", at)
        value = int(text)
        if not _INT32_MIN <= value <= _INT32_MAX:
            raise self.fail(f"the index {text} is out of range", at)
        return value


# ---------------------------------------------------------------------------------------------
# Filters: `[?( ... )]`


_UNDEFINED = object()  # what a filter path that selects nothing yields
Operand = Callable[[Any, Any], Any]  # (item, document root) -> value


class _FilterParser:
    """expression := and ('||' and)* ; and := unary ('&&' unary)* ;
    unary := '!' unary | '(' expression ')' | operand [operator operand]."""

    __slots__ = ("p",)

    def __init__(self, parser: _Parser) -> None:
        self.p = parser

    def parenthesised(self) -> Callable[[Any, Any], bool]:
        self.p.pos += 1  # '('
        predicate = self.expression()
        self.p.skip_space()
        if self.p.at() != ")":
            raise self.p.fail(f"expected ')' in a filter but found {self.p.at() or 'the end'!r}")
        self.p.pos += 1
        return predicate

    def expression(self) -> Callable[[Any, Any], bool]:
        parts = [self.conjunction()]
        while self.operator("||"):
            parts.append(self.conjunction())
        if len(parts) == 1:
            return parts[0]
        return lambda item, root: any(p(item, root) for p in parts)

    def conjunction(self) -> Callable[[Any, Any], bool]:
        parts = [self.unary()]
        while self.operator("&&"):
            parts.append(self.unary())
        if len(parts) == 1:
            return parts[0]
        return lambda item, root: all(p(item, root) for p in parts)

    def operator(self, symbol: str) -> bool:
        self.p.skip_space()
        if self.p.text.startswith(symbol, self.p.pos):
            self.p.pos += len(symbol)
            return True
        return False

    def unary(self) -> Callable[[Any, Any], bool]:
        self.p.skip_space()
        if self.p.at() == "!" and self.p.at(1) != "=":
            self.p.pos += 1
            inner = self.unary()
            return lambda item, root: not inner(item, root)
        if self.p.at() == "(":
            return self.parenthesised()
        return self.relation()

    def relation(self) -> Callable[[Any, Any], bool]:
        left, left_is_path, _ = self.operand()
        self.p.skip_space()
        start = self.p.pos
        while self.p.at() and self.p.at() in "=!<>~":
            self.p.pos += 1
        symbol = self.p.text[start : self.p.pos]
        if not symbol:
            word = re.match(r"[A-Za-z]+", self.p.text[self.p.pos :])
            if word and word.group().lower() in _LEXICAL_OPERATORS:
                raise self.p.fail(f"the filter operator '{word.group()}' is not supported by Step Functions "
                                  "(only ==, !=, <, <=, >, >= and =~)")
            if not left_is_path:
                raise self.p.fail("expected a comparison operator in the filter")
            return lambda item, root: left(item, root) is not _UNDEFINED
        compare = _COMPARISONS.get(symbol)
        if compare is None and symbol != "=~":
            raise self.p.fail(f"unknown filter operator '{symbol}'", start)
        right, _, regex = self.operand()
        if compare is None:
            if regex is None:
                raise self.p.fail("'=~' needs a /regular expression/ on its right")
            return lambda item, root: _regex_matches(regex, left(item, root))
        if regex is not None:
            raise self.p.fail("a /regular expression/ can only follow '=~'")
        return lambda item, root: compare(left(item, root), right(item, root))

    def operand(self) -> tuple[Operand, bool, re.Pattern[str] | None]:
        """(evaluator, is a path, the compiled pattern when a /regex/ literal)."""
        p = self.p
        p.skip_space()
        char = p.at()
        if char in ("@", "$"):
            return self.path(), True, None
        if char in ("'", '"'):
            value: Any = p.quoted(char)
        elif char == "/":
            pattern = self.regex()
            return (lambda item, root: pattern), False, pattern
        elif char in ("[", "{") or char == "-" or char.isdigit():
            try:
                value, end = _DECODER.raw_decode(p.text, p.pos)
            except ValueError:
                raise p.fail("malformed literal in the filter") from None
            p.pos = end
        else:
            for word, constant in (("true", True), ("false", False), ("null", None)):
                if p.text.startswith(word, p.pos):
                    p.pos += len(word)
                    value = constant
                    break
            else:
                raise p.fail(f"expected a value in the filter but found {char or 'the end'!r}")
        return (lambda item, root: value), False, None

    def path(self) -> Operand:
        """`@...` or `$...`: runs to a space, a comparison character or an unmatched ')'."""
        p = self.p
        start = p.pos
        depth, quote = 0, None
        while p.pos < len(p.text):
            char = p.text[p.pos]
            if quote:
                if char == "\\":
                    p.pos += 1
                elif char == quote:
                    quote = None
            elif depth and char in "'\"":
                quote = char
            elif char == "[":
                depth += 1
            elif char == "]":
                if not depth:
                    break
                depth -= 1
            elif not depth and (char in " \t\n\r=!<>~)" or p.text.startswith(("&&", "||"), p.pos)):
                break
            p.pos += 1
        text = p.text[start : p.pos]
        try:
            tokens = _Parser(text, 1).tokens()
        except PathSyntaxError as exc:
            raise p.fail(f"bad path '{text}' in the filter ({exc})", start) from None
        from_root = text[0] == "$"
        definite = all(_definite_token(tokens, i) for i in range(len(tokens)))

        def evaluate(item: Any, root: Any) -> Any:
            found: list[Any] = []
            _evaluate(tokens, 0, root if from_root else item, root, found)
            if definite:
                return found[0] if found else _UNDEFINED
            return found

        return evaluate

    def regex(self) -> re.Pattern[str]:
        p = self.p
        start = p.pos
        p.pos += 1
        while p.pos < len(p.text) and p.text[p.pos] != "/":
            p.pos += 2 if p.text[p.pos] == "\\" else 1
        if p.pos >= len(p.text):
            raise p.fail("unclosed /regular expression/", start)
        source = p.text[start + 1 : p.pos]
        p.pos += 1
        flags = 0
        while p.at().isalpha():
            flags |= _REGEX_FLAGS.get(p.at(), 0)  # Java's other flags (d, u, U) have no Python meaning
            p.pos += 1
        try:
            return re.compile(source, flags)
        except (re.error, OverflowError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, re.error) else type(exc).__name__
            raise p.fail(f"bad regular expression /{source}/ ({reason})", start) from None


_DECODER = json.JSONDecoder(parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBERS) and not isinstance(value, bool)


def _as_number(value: Any) -> Decimal | None:
    """Jayway compares a number with a string holding a number numerically."""
    if _is_number(value):
        return Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except (InvalidOperation, ValueError):
            return None
        return number if number.is_finite() else None
    return None


def _equals(left: Any, right: Any) -> bool:
    if left is _UNDEFINED or right is _UNDEFINED:
        return False
    if _is_number(left) or _is_number(right):
        a, b = _as_number(left), _as_number(right)
        return a is not None and b is not None and (_is_number(left) or isinstance(left, str)) and a == b
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return type(left) is type(right) and left == right


def _strict_equals(left: Any, right: Any) -> bool:
    return _equals(left, right) and (_is_number(left) == _is_number(right))


def _ordered(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        if _is_number(left) and _is_number(right):
            return test(left, right)
        if isinstance(left, str) and isinstance(right, str):
            return test(left, right)
        return False

    return compare


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": _equals,
    "!=": lambda left, right: not _equals(left, right),
    "===": _strict_equals,
    "!==": lambda left, right: not _strict_equals(left, right),
    "<": _ordered(lambda a, b: a < b),
    "<=": _ordered(lambda a, b: a <= b),
    ">": _ordered(lambda a, b: a > b),
    ">=": _ordered(lambda a, b: a >= b),
}  # and `=~`, parsed apart: its right side must be a /regex/


def _regex_matches(pattern: re.Pattern[str], value: Any) -> bool:
    """Java's Matcher.matches: the whole string; numbers and booleans as their text."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif _is_number(value):
        value = json.dumps(value)
    if not isinstance(value, str):
        return False
    return pattern.fullmatch(value) is not None


# ---------------------------------------------------------------------------------------------
# Evaluation (Jayway's token semantics, with an indefinite path never raising for a miss)


def _evaluate(tokens: list[Token], pos: int, node: Any, root: Any, out: list[Any]) -> None:
    if pos == len(tokens):
        out.append(node)
        return
    token = tokens[pos]
    nxt = pos + 1
    if isinstance(token, _Prop):
        if not isinstance(node, dict):
            return
        if len(token.names) > 1 and nxt == len(tokens):
            out.append({name: node[name] for name in token.names if name in node})
            return
        for name in token.names:
            if name in node:
                _evaluate(tokens, nxt, node[name], root, out)
    elif isinstance(token, _Index):
        if isinstance(node, list):
            for index in token.indexes:
                _at_index(tokens, nxt, node, index, root, out)
    elif isinstance(token, _Slice):
        if isinstance(node, list):
            for index in _slice_indexes(token, len(node)):
                _at_index(tokens, nxt, node, index, root, out)
    elif isinstance(token, _Wildcard):
        if isinstance(node, dict):
            for value in node.values():
                _evaluate(tokens, nxt, value, root, out)
        elif isinstance(node, list):
            for value in node:
                _evaluate(tokens, nxt, value, root, out)
    elif isinstance(token, _Scan):
        _scan(tokens, nxt, node, root, out)
    elif isinstance(node, dict):  # a filter on an object tests the object itself, as Jayway does
        if _accepts(token, node, root):
            _evaluate(tokens, nxt, node, root, out)
    elif isinstance(node, list):
        for item in node:
            if _accepts(token, item, root):
                _evaluate(tokens, nxt, item, root, out)


def _accepts(token: _Filter, item: Any, root: Any) -> bool:
    # AWS: "The @ operator ... does not match scalar values. It only matches objects."
    return isinstance(item, dict) and token.accepts(item, root)


def _at_index(tokens: list[Token], pos: int, node: list[Any], index: int, root: Any, out: list[Any]) -> None:
    effective = index + len(node) if index < 0 else index
    if 0 <= effective < len(node):
        _evaluate(tokens, pos, node[effective], root, out)


def _slice_indexes(token: _Slice, length: int) -> range:
    """Jayway's three slice forms; only `[from:]` and `[:to]` count a negative bound from the end."""
    start, end = token.start, token.end
    if end is None:
        first = max(0, start + length if start < 0 else start)
        return range(first, length)
    if start is None:
        return range(0, min(length, end + length if end < 0 else end))
    return range(start, min(length, end))


def _scan(tokens: list[Token], pos: int, node: Any, root: Any, out: list[Any]) -> None:
    """`..`: the next token applied at every node, depth first, each node before its children."""
    leaf = pos == len(tokens) - 1
    if isinstance(node, dict):
        if _scan_matches(tokens, pos, node, root):
            _evaluate(tokens, pos, node, root, out)
        for value in node.values():
            _scan(tokens, pos, value, root, out)
    elif isinstance(node, list):
        if _scan_matches(tokens, pos, node, root):
            if leaf:
                _evaluate(tokens, pos, node, root, out)
            else:
                # Jayway skips the matched token for each element here; kept for fidelity.
                for item in node:
                    _evaluate(tokens, pos + 1, item, root, out)
        for item in node:
            _scan(tokens, pos, item, root, out)


def _scan_matches(tokens: list[Token], pos: int, node: Any, root: Any) -> bool:
    token = tokens[pos]
    if isinstance(token, _Prop):
        return isinstance(node, dict) and (not _definite_token(tokens, pos) or all(n in node for n in token.names))
    if isinstance(token, _Index | _Slice):
        return isinstance(node, list)
    if isinstance(token, _Wildcard):
        return True
    if isinstance(token, _Filter):
        return _accepts(token, node, root)
    return False


# ---------------------------------------------------------------------------------------------
# Compiled paths


def _normalized(steps: list[str | int]) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f"['{s}']" for s in steps)


class Path:
    """A compiled JSONPath: `get(data, env)` returns what it selects."""

    __slots__ = ("_names", "_tokens", "definite", "root", "steps", "text", "variable")

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.startswith("$"):
            raise PathSyntaxError(f"path must start with '$': {text!r}")
        self.text = text
        self.variable: str | None = None
        body = text.rstrip(" \t\n\r")  # Jayway trims a path before reading it
        if body.startswith("$$"):
            self.root, start = "context", 2
        elif (m := _VARIABLE_RE.match(body)) is not None:
            self.root, self.variable, start = "variable", m.group(1), m.end()
        else:
            self.root, start = "data", 1
        try:
            tokens = _Parser(body, start).tokens()
        except RecursionError:
            raise PathSyntaxError(f"path '{text}' is nested too deeply") from None
        self.definite = all(_definite_token(tokens, i) for i in range(len(tokens)))
        simple = all(isinstance(t, _Prop | _Index) and _definite_token(tokens, i) and
                     not (isinstance(t, _Prop) and len(t.names) > 1) for i, t in enumerate(tokens))
        # Names and single indexes: walked directly (and settable, for ResultPath).
        self.steps: list[str | int] = (
            [t.names[0] if isinstance(t, _Prop) else t.indexes[0] for t in tokens] if simple else []
        )
        self._tokens: list[Token] | None = None if simple else tokens
        # `$.a.b`, the common case: a walk by names from the data, with no checks until one misses.
        self._names: tuple[str, ...] | None = (
            tuple(self.steps) if simple and self.root == "data" and all(isinstance(s, str) for s in self.steps)
            else None
        )

    def __repr__(self) -> str:
        return f"Path({self.text!r})"

    @property
    def is_reference(self) -> bool:
        """A Reference Path (ResultPath's kind): one node, named by keys and indexes only."""
        return self._tokens is None and self.root == "data"

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
        names = self._names
        if names is not None:
            cur = data
            for name in names:
                if type(cur) is not dict or name not in cur:
                    break  # a miss: the walk below says where
                cur = cur[name]
            else:
                return cur
        cur = self._root_value(data, env)
        if self._tokens is not None:
            return self._general(cur)
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

    def _general(self, root: Any) -> Any:
        found: list[Any] = []
        try:
            _evaluate(self._tokens, 0, root, root, found)
        except RecursionError:
            raise StatesError(RUNTIME, f"Invalid path '{self.text}' : the data is nested too deeply to search"
                              ) from None
        if not self.definite:
            return found
        if not found:
            raise PathNotFound(self.text, "No results for path: $" + "".join(map(str, self._tokens)))
        return found[0]

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

    def getter(self, describe: Callable[[Any], str]) -> Callable[[Any, Env | None], Any]:
        """`get_for` with `describe` bound, as a function of (data, env); a path of names only (`$.a.b`)
        gets a direct walk, which leaves every miss to `get_for`."""
        get_for = self.get_for
        names = self._names
        if not names:
            return lambda data, env: get_for(data, env, describe)
        if len(names) == 1:
            name = names[0]

            def get_name(data: Any, env: Env | None) -> Any:
                if type(data) is dict and name in data:
                    return data[name]
                return get_for(data, env, describe)

            return get_name

        def get_names(data: Any, env: Env | None) -> Any:
            cur = data
            for step in names:
                if type(cur) is not dict or step not in cur:
                    return get_for(data, env, describe)
                cur = cur[step]
            return cur

        return get_names

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
        names = self._names
        if names and type(data) is dict:
            # Names only, into plain objects: copy each one down the path, creating the missing ones.
            out = cur = data.copy()
            if len(names) == 1:
                out[names[0]] = value
                return out
            for name in names[:-1]:
                child = cur.get(name, _MISSING)
                if type(child) is dict:
                    child = child.copy()
                elif child is _MISSING:
                    child = {}
                else:
                    return _put(data, self.steps, 0, value, self.text)  # a mismatch (or a dict subclass)
                cur[name] = child
                cur = child
            cur[names[-1]] = value
            return out
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


def compile_path(text: str) -> Path:
    """Parse a path once; raises PathSyntaxError with the reason."""
    if isinstance(text, str):
        return _compiled_path(text)
    return Path(text)


@functools.lru_cache(maxsize=4096)
def _compiled_path(text: str) -> Path:
    # A definition repeats its paths ("$.id" in every state); a Path is only read once made, so one is shared.
    return Path(text)
