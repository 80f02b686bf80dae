"""Static checks on a definition, as CreateStateMachine / ValidateStateMachineDefinition make them.

`validate_definition` takes the parsed JSON and returns every problem it finds, each located by
a JSON Pointer and coded as AWS codes its diagnostics. It never raises, whatever it is given.

The rules are table driven: each state type lists the fields it allows, each field has one
checker, and sub-objects (retriers, catchers, Choice rules, ItemReader...) are checked by the
same walker with their own tables. AWS's documentation is the spec; where it is silent we
follow what AWS was measured doing, e.g. nested machines (Parallel branches, Map processors)
take the query language of the whole state machine, not of the state that holds them, and
empty Retry/Catch lists are accepted.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from emulator.asl.choice import COMPARISON_OPERATORS, parse_timestamp
from emulator.asl.jsonata import JsonataSyntaxError, compile_expression
from emulator.asl.paths import compile_path
from emulator.errors import ALL, Diagnostic

# AWS's diagnostic codes (ValidateStateMachineDefinitionDiagnostic). AWS reports an unreachable
# state with MISSING_TRANSITION_TARGET too ('State "X" is not reachable.'), so we do the same.
SCHEMA = "SCHEMA_VALIDATION_FAILED"
MISSING_DESCRIPTION = "MISSING_DESCRIPTION"
MISSING_TARGET = "MISSING_TRANSITION_TARGET"
MISSING_END = "MISSING_END_STATE"
DUPLICATE_NAME = "DUPLICATE_STATE_NAME"
INVALID_NAME = "INVALID_STATE_NAME"

JSONPATH, JSONATA = "JSONPath", "JSONata"
MAX_STATE_NAME = 80
MAX_SECONDS = 99_999_999  # AWS's ceiling for TimeoutSeconds, HeartbeatSeconds, Seconds, IntervalSeconds...
MAX_DELAY_SECONDS = 31_622_400  # Retry MaxDelaySeconds: "less than 31622401"
MAX_DEFINITION_BYTES = 1_048_576  # AWS quota: a definition is at most 1 MB of UTF-8
MAX_NON_JSON_REPORTS = 20  # a definition full of NaN gets this many diagnostics, not thousands

# Intrinsics AWS documents for Fail's ErrorPath/CausePath (the ones that return a string).
_FAIL_INTRINSICS = frozenset(
    ["States.Format", "States.JsonToString", "States.ArrayGetItem", "States.Base64Encode",
     "States.Base64Decode", "States.Hash", "States.UUID"]
)
_BOOLEAN_OPERATORS = ("And", "Or", "Not")
# Type tuples for isinstance: a `dict | list` union would be built anew on every call.
_CONTAINERS, _NUMBERS, _SCALARS, _OBJECT_OR_TEXT = (dict, list), (int, float), (str, int, float), (dict, str)

Checker = Callable[["_Ctx", str, Any, str], None]


# ---------------------------------------------------------------------------------------------
# Entry point


class NonJsonConstant(str):
    """NaN, Infinity or -Infinity read from definition text: Python's json accepts them, JSON does not."""

    __slots__ = ()


def validate_definition(definition: Any) -> list[Diagnostic]:
    """Every problem AWS would report for this definition; an empty list means it is valid."""
    validator = _Validator()
    known = getattr(_measured, "pair", None)
    text = known[1] if known is not None and known[0] is definition else None
    if definition is None or definition == "":
        validator.report("", "The definition is empty", MISSING_DESCRIPTION)
    elif not isinstance(definition, dict):
        validator.report("", f"The definition must be a JSON object, not {_kind(definition)}")
    elif ((size := _plain_json_size(definition) if text is None else _utf8_size(text)) is None
          and (problems := _non_json(definition))):
        return problems  # the rest of the checks assume JSON values
    elif (size := size if size is not None else _json_size(definition)) < 0:
        validator.report("", "The definition contains itself (an object or array inside its own value); JSON "
                             "cannot hold that", SCHEMA)
    elif size > MAX_DEFINITION_BYTES:
        validator.report("", f"The definition is {size:,} bytes as JSON; AWS limits a state machine definition "
                         f"to {MAX_DEFINITION_BYTES:,} bytes of UTF-8")
    else:
        language = definition.get("QueryLanguage", JSONPATH)
        # Any value other than exactly "JSONPath" is taken as JSONata (and reported by its checker).
        validator.top_jsonata = language != JSONPATH
        try:
            validator.machine(definition, "", _TOP_FIELDS, "the top level of a state machine")
        except RecursionError:
            return [Diagnostic("", "The definition nests states, arrays or objects too deeply to check", SCHEMA)]
    return validator.diagnostics


def _non_json(definition: dict[Any, Any]) -> list[Diagnostic]:
    """Values JSON cannot hold (NaN, Infinity, Python objects, non-string keys), by location.

    Walked with an explicit stack, so any depth is fine.
    """
    found: list[Diagnostic] = []
    stack: list[tuple[Any, str]] = [(definition, "")]
    seen: set[int] = set()  # containers walked: one the definition holds twice (or inside itself) is walked once
    while stack and len(found) < MAX_NON_JSON_REPORTS:
        value, loc = stack.pop()
        if isinstance(value, dict | list):
            if id(value) in seen:
                continue
            seen.add(id(value))
        if isinstance(value, dict):
            for key, item in reversed(value.items()):
                if not isinstance(key, str):
                    found.append(Diagnostic(loc, f"Object keys must be strings, not {_kind(key)} {key!r}", SCHEMA))
                stack.append((item, _ptr(loc, key)))
        elif isinstance(value, list):
            stack.extend((item, _ptr(loc, i)) for i, item in reversed(list(enumerate(value))))
        elif isinstance(value, NonJsonConstant) or (isinstance(value, float) and not math.isfinite(value)):
            name = value if isinstance(value, str) else repr(value).replace("nan", "NaN").replace("inf", "Infinity")
            found.append(Diagnostic(loc, f"{name} is not a JSON value (JSON numbers are finite)", SCHEMA))
        elif not (value is None or isinstance(value, _SCALARS)):
            found.append(Diagnostic(loc, f"A Python {type(value).__name__} is not a JSON value", SCHEMA))
    return found


# How NaN and Infinity markers (NonJsonConstant, a str) look once serialized: as strings.
_CONSTANT_TEXTS = tuple(json.dumps(name) for name in ("NaN", "Infinity", "-Infinity"))


class PlainJson(NamedTuple):
    """A plain-JSON definition as `plain_json` gives it."""

    text: str  # its compact JSON text
    key: str  # the same with the top-level fields in sorted order: what the definition is, for a cache
    copy: Any  # read back from the text: a private copy (None when `plain_json` was told it is parsed text)


def plain_json(definition: Any, parsed: bool = False) -> PlainJson | None:
    """The definition's compact JSON text, identity and a copy when it is plain JSON, else None.

    Passes in C instead of `_non_json`'s walk: serializing refuses NaN, Infinity and objects;
    reading the text back and comparing tells tuples and non-string keys apart (they serialize
    as arrays and strings); a marker serializes as its name, so only a text holding such a string
    takes the walk. The order of the top-level fields changes nothing a definition does, so the key
    ignores it; nested order orders outputs (Parameters), so the key keeps it.

    `parsed`: the definition was just read from JSON text, so it holds no tuples or non-string keys and
    nobody else has it: it is neither read back nor compared (a sixth of compiling a large definition).
    """
    try:
        if isinstance(definition, dict) and all(type(name) is str for name in definition):
            fields = [f"{_compact(name)}:{_compact(value)}" for name, value in definition.items()]
            text, key = "{" + ",".join(fields) + "}", "{" + ",".join(sorted(fields)) + "}"
            if key == text:  # fields already in order (Comment, StartAt, States): a cache keeps one string
                key = text
        else:
            text = key = _compact(definition)
        copy = None if parsed else json.loads(text)
        if not parsed and copy != definition:
            return None
    except (TypeError, ValueError, RecursionError):
        return None
    if any(constant in text for constant in _CONSTANT_TEXTS) and _non_json(definition):
        return None
    return PlainJson(text, key, copy)


# Compact JSON text, unmarked (a fifth quicker): a cycle ends in RecursionError rather than ValueError.
_compact = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                             check_circular=False)


# (definition, its compact JSON text) while `measured` holds: this thread's, so no other thread's validation
# takes a text that is not its definition's.
_measured = threading.local()


@contextlib.contextmanager
def measured(definition: Any, text: str | None) -> Iterator[None]:
    """Within the block, validating `definition` (this very object) takes `text`, its compact JSON text from
    `plain_json`, instead of serializing it again to see that it is plain JSON and to measure it (None: it
    is not plain JSON)."""
    _measured.pair = (definition, text)
    try:
        yield
    finally:
        _measured.pair = None


def _plain_json_size(definition: dict[str, Any]) -> int | None:
    """The definition's size as compact UTF-8 JSON when it is plain JSON, else None."""
    plain = plain_json(definition)
    return None if plain is None else _utf8_size(plain.text)


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _json_size(definition: dict[str, Any]) -> int:
    try:
        return len(json.dumps(definition, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
    except RecursionError:
        return 0  # too deep to measure here; the walk below reports the depth
    except ValueError:
        return -1  # a circular reference


# ---------------------------------------------------------------------------------------------
# Walking machines and states


class _Ctx:
    """What a field checker needs: where to report, the query language in force, transitions seen."""

    __slots__ = ("jsonata", "targets", "validator")

    def __init__(self, validator: _Validator, jsonata: bool) -> None:
        self.validator = validator
        self.jsonata = jsonata
        self.targets: list[tuple[str, str, str]] = []  # (state name, location, field)

    def error(self, loc: str, message: str, code: str = SCHEMA) -> None:
        self.validator.report(loc, message, code)


class _Validator:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.top_jsonata = False
        self.state_names: dict[str, str] = {}  # name -> where it was first defined, whole machine
        self.intrinsics = _intrinsics()

    def report(self, loc: str, message: str, code: str = SCHEMA) -> None:
        self.diagnostics.append(Diagnostic(loc, message, code))

    def machine(self, spec: Any, loc: str, table: Mapping[str, Checker], what: str) -> None:
        """A States block with its StartAt: the top level, a Parallel branch or a Map processor."""
        ctx = _Ctx(self, self.top_jsonata)
        if not isinstance(spec, dict):
            ctx.error(loc, f"{_cap(what)} must be a JSON object, not {_kind(spec)}")
            return
        _check_fields(ctx, spec, loc, table, what, required=[("StartAt",), ("States",)],
                      skip=("StartAt", "States"))
        states = spec.get("States")
        states_loc = _ptr(loc, "States")
        if "States" in spec and not isinstance(states, dict):
            ctx.error(states_loc, f"'States' must be a JSON object of states, not {_kind(states)}")
            states = None
        elif isinstance(states, dict) and not states:
            ctx.error(states_loc, "'States' must contain at least one state")
        start = spec.get("StartAt")
        if "StartAt" in spec and not isinstance(start, str):
            ctx.error(_ptr(loc, "StartAt"), f"'StartAt' must be a state name, not {_kind(start)}")
            start = None
        if not isinstance(states, dict):
            return
        states_ctx = {name: self.state(name, body, _ptr(states_loc, name)) for name, body in states.items()}
        self._graph(loc, start, states, states_ctx)

    def state(self, name: Any, body: Any, loc: str) -> _Ctx | None:
        if type(name) is not str or not 0 < len(name) <= MAX_STATE_NAME or name in self.state_names:
            self._state_name(name, loc)
        else:
            self.state_names[name] = loc
        ctx = _Ctx(self, self.top_jsonata)
        if not isinstance(body, dict):
            ctx.error(loc, f"State '{name}' must be a JSON object, not {_kind(body)}")
            return None
        kind = body.get("Type")
        if "Type" not in body:
            ctx.error(loc, f"State '{name}' has no 'Type'")
            return None
        if not isinstance(kind, str) or kind not in _STATE_TABLES:
            ctx.error(_ptr(loc, "Type"), f"{_show(kind)} is not a state type; expected one of {_names(_STATE_TABLES)}")
            return None
        if "QueryLanguage" in body:
            ctx.jsonata = body["QueryLanguage"] != JSONPATH
            if self.top_jsonata and not ctx.jsonata:
                ctx.error(_ptr(loc, "QueryLanguage"), "'QueryLanguage' can not be 'JSONPath' when the whole "
                          "state machine is set to 'JSONata'")
        quick = _QUICK_FIELDS.get(kind) if not ctx.jsonata else None
        if quick is None or (kind == "Task" and "Resource" not in body) or not _quick_fields(ctx, body, loc, quick):
            _check_fields(ctx, body, loc, _STATE_TABLES[kind], _STATE_WHAT[kind], required=_REQUIRED.get(kind, ()),
                          skip=_TYPE_FIELD)
        if kind == "Map":
            _distributed_map(ctx, body, loc)
        if kind not in _TERMINAL_TYPES:
            has_next, ends = "Next" in body, body.get("End") is True
            if has_next and ends:
                ctx.error(loc, f"State '{name}' has both 'Next' and 'End'; it must have exactly one")
            elif not has_next and not ends:
                ctx.error(loc, f"State '{name}' has neither 'Next' nor 'End'; it must have exactly one")
        return ctx

    def _state_name(self, name: Any, loc: str) -> None:
        if not isinstance(name, str) or not name or len(name) > MAX_STATE_NAME:
            self.report(loc, f"State name {_show(name)} must be 1 to {MAX_STATE_NAME} characters long", INVALID_NAME)
        if name in self.state_names:
            self.report(loc, f"State name '{name}' is already used at {self.state_names[name]}; state names "
                        "must be unique across the whole state machine", DUPLICATE_NAME)
        else:
            self.state_names[name] = loc

    def _graph(self, loc: str, start: str | None, states: dict[str, Any], ctxs: Mapping[str, _Ctx | None]) -> None:
        """Transitions within one States block: targets exist, all states reachable, one can end."""
        for ctx in ctxs.values():
            for target, target_loc, via in ctx.targets if ctx else ():
                if target not in states:
                    self.report(target_loc, f"Missing '{via}' target: '{target}' is not a state in this "
                                "States block", MISSING_TARGET)
        if start is not None and start not in states:
            self.report(_ptr(loc, "StartAt"), f"Missing 'StartAt' target: '{start}' is not a state in this "
                        "States block", MISSING_TARGET)
            return
        if start is None or None in ctxs.values():
            return  # a malformed state's transitions are unknown: graph checks would only add noise
        reached, todo = {start}, [start]
        while todo:
            for target, _, _ in ctxs[todo.pop()].targets:  # every ctx is there: checked just above
                if target not in reached and target in states:
                    reached.add(target)
                    todo.append(target)
        if len(reached) < len(states):
            for name in states:
                if name not in reached:
                    self.report(_ptr(_ptr(loc, "States"), name), f"State '{name}' is not reachable from "
                                f"StartAt '{start}'", MISSING_TARGET)
        if not any(_is_terminal(body) for body in reversed(states.values())):  # the last state, usually
            self.report(_ptr(loc, "States"), "No state ends the workflow: none is a Succeed or Fail state "
                        "or has \"End\": true", MISSING_END)


def _quick_fields(ctx: _Ctx, body: dict[str, Any], loc: str, allowed: frozenset[str]) -> bool:
    """The common JSONPath state checked in one loop: True when every field passes these quick checks, each
    one narrower than its checker's, so `_check_fields` would report nothing and record the same transition,
    which this records. False leaves the whole state to `_check_fields`, having changed nothing."""
    intrinsics = ctx.validator.intrinsics
    target = None
    for key, value in body.items():
        if key not in allowed:
            return False
        if key == "Next":
            if type(value) is not str or not value:
                return False
            target = value
        elif key == "Parameters" or key == "ResultSelector":
            if type(value) is not dict:
                return False
            for name, item in value.items():  # flat templates only: a nested one takes _dynamic_keys
                if ".$" in name and name.endswith(".$"):  # `in` first: a quicker test for most keys
                    if type(item) is not str or _text_problem(item, intrinsics) is not None:
                        return False
                elif isinstance(item, _CONTAINERS):
                    return False
        elif key == "ResultPath" or key == "InputPath" or key == "OutputPath":
            if value is not None:
                if type(value) is not str:
                    return False
                try:
                    path = compile_path(value)
                except ValueError:
                    return False
                if key == "ResultPath" and not path.is_reference:
                    return False
        elif key == "End":
            if type(value) is not bool:
                return False
        elif key == "Resource":
            if type(value) is not str or not value:
                return False
        elif key == "Comment" and type(value) is not str:
            return False
        # Type (checked by the caller) and Result (any value) need nothing.
    if target is not None:
        ctx.targets.append((target, f"{loc}/Next", "Next"))
    return True


def _is_terminal(body: Any) -> bool:
    return isinstance(body, dict) and (body.get("Type") in ("Succeed", "Fail") or body.get("End") is True)


def _check_fields(
    ctx: _Ctx,
    obj: dict[Any, Any],
    loc: str,
    table: Mapping[str, Checker],
    what: str,
    required: Iterable[tuple[str, ...]] = (),
    skip: Collection[str] = (),
) -> None:
    """Unknown fields, fields of the other query language, each field's own check, field groups."""
    split = _LANGUAGE_TABLES.get(id(table)) or _split(table)
    allowed = split[ctx.jsonata]
    refused = False
    for key, value in obj.items():
        checker = allowed.get(key)
        if checker is not None:
            checker(ctx, key, value, _ptr(loc, key) if "~" in key or "/" in key else f"{loc}/{key}")
            continue
        if key in skip:
            continue
        refused = True
        if key not in table:
            ctx.error(_ptr(loc, key), f"Field '{key}' is not supported in {what}")
        else:
            own, other = (JSONATA, JSONPATH) if ctx.jsonata else (JSONPATH, JSONATA)
            ctx.error(_ptr(loc, key), f"The QueryLanguage is set to '{own}', but field '{key}' is only supported "
                      f"for the '{other}' QueryLanguage")
    for group in required:
        if not any(name in obj for name in group):
            wanted = f"'{group[0]}'" if len(group) == 1 else f"one of {_names(group)}"
            ctx.error(loc, f"{_cap(what)} needs {wanted}")
    # Two fields of one group: possible only where the table allows both, or a field was refused above.
    if (refused or split[2]) and len(_GROUPED.intersection(obj)) > 1:
        for group in _AT_MOST_ONE:
            present = [name for name in group if name in obj]
            if len(present) > 1:
                ctx.error(loc, f"{_cap(what)} can have only one of {_names(group)}, but has {_names(present)}")


# table id -> (its fields a JSONPath object may hold, those a JSONata object may hold, whether it holds two
# fields of one _AT_MOST_ONE group); the tables are module constants, so each is split once.
_LANGUAGE_TABLES: dict[int, tuple[Mapping[str, Checker], Mapping[str, Checker], bool]] = {}


def _split(table: Mapping[str, Checker]) -> tuple[Mapping[str, Checker], Mapping[str, Checker], bool]:
    split = ({k: v for k, v in table.items() if k not in _JSONATA_ONLY},
             {k: v for k, v in table.items() if k not in _JSONPATH_ONLY},
             any(sum(name in table for name in group) > 1 for group in _AT_MOST_ONE))
    _LANGUAGE_TABLES[id(table)] = split
    return split


# ---------------------------------------------------------------------------------------------
# Field checkers: (ctx, field name, value, location)


def _comment(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    """Comment, Version: strings never evaluated."""
    if not isinstance(value, str):
        ctx.error(loc, f"'{name}' must be a string, not {_kind(value)}")


def _text(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    """Error, Cause: strings, evaluated in a JSONata state when wrapped in `{% %}`."""
    if not isinstance(value, str):
        ctx.error(loc, f"'{name}' must be a string, not {_kind(value)}")
    elif ctx.jsonata:
        _delimited(ctx, value, loc)


def _non_empty_text(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    if not isinstance(value, str) or not value:
        ctx.error(loc, f"'{name}' must be a non-empty string, not {_show(value)}")


def _boolean(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    if not isinstance(value, bool):
        ctx.error(loc, f"'{name}' must be true or false, not {_show(value)}")


def _anything(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    """Result: a literal, never evaluated."""


def _enum(*allowed: str) -> Checker:
    def check(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
        if value not in allowed:
            ctx.error(loc, f"'{name}' must be one of {_names(allowed)}, not {_show(value)}")

    return check


def _integer(minimum: int, maximum: int = MAX_SECONDS, *, expression: bool = True) -> Checker:
    """An integer in range; in a JSONata state also a `{% %}` expression when `expression`."""

    def check(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
        if expression and ctx.jsonata and isinstance(value, str):
            _expression(ctx, name, value, loc)
        elif not _is_integer(value) or not minimum <= value <= maximum:
            ctx.error(loc, f"'{name}' must be an integer from {minimum} to {maximum}, not {_show(value)}")

    return check


def _number(minimum: float, maximum: float | None = None, *, expression: bool = True) -> Checker:
    def check(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
        if expression and ctx.jsonata and isinstance(value, str):
            _expression(ctx, name, value, loc)
        elif not _is_number(value) or value < minimum or (maximum is not None and value > maximum):
            bounds = f"at least {minimum}" if maximum is None else f"from {minimum} to {maximum}"
            ctx.error(loc, f"'{name}' must be a number {bounds}, not {_show(value)}")

    return check


def _path(*, nullable: bool = False, reference: bool = False, definite: bool = False) -> Checker:
    """A JSONPath field. A Reference Path (ResultPath) names one node of the state's data by keys
    and indexes; a definite path (ItemsPath) may also start at `$$` or a variable."""

    def check(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, str):
            ctx.error(loc, f"'{name}' must be a path string{' or null' if nullable else ''}, not {_kind(value)}")
            return
        try:
            path = compile_path(value)
        except ValueError as exc:
            ctx.error(loc, f"'{name}' is not a valid path: {exc}")
            return
        if reference and not path.is_reference:
            ctx.error(loc, f"'{name}' must be a Reference Path ('$' followed by keys and indexes only), "
                      f"not '{value}'")
        elif definite and not path.definite:
            ctx.error(loc, f"'{name}' must select a single node (keys and indexes only), not '{value}'")

    return check


def _error_path(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    """Fail's ErrorPath/CausePath: a path, or one of the intrinsics that return a string."""
    if isinstance(value, str) and value.startswith("States."):
        function = value.split("(", 1)[0].strip()
        if function not in _FAIL_INTRINSICS:
            ctx.error(loc, f"'{name}' can't use {function}; allowed intrinsics are {_names(sorted(_FAIL_INTRINSICS))}")
            return
    problem = _dynamic_problem(value)
    if problem:
        ctx.error(loc, f"'{name}' {problem}")


def _template(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    """Parameters, ResultSelector, ItemSelector, Credentials, BatchInput: a payload template."""
    if ctx.jsonata:
        if not isinstance(value, _OBJECT_OR_TEXT):
            ctx.error(loc, f"'{name}' must be a JSON object or a JSONata expression, not {_kind(value)}")
        _jsonata_values(ctx, value, loc)
    elif not isinstance(value, dict):
        ctx.error(loc, f"'{name}' must be a JSON object, not {_kind(value)}")
    else:
        _dynamic_keys(ctx, value, loc)


def _assign(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    if not isinstance(value, dict):
        ctx.error(loc, f"'{name}' must be a JSON object of variable names and values, not {_kind(value)}")
    elif ctx.jsonata:
        _jsonata_values(ctx, value, loc)
    else:
        _dynamic_keys(ctx, value, loc)


def _jsonata_any(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    """Arguments, Output: any JSON, its strings evaluated when wrapped in `{% %}`."""
    _jsonata_values(ctx, value, loc)


def _items(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    if isinstance(value, str):
        _expression(ctx, name, value, loc)
    elif isinstance(value, _CONTAINERS):
        _jsonata_values(ctx, value, loc)
    else:
        ctx.error(loc, f"'{name}' must be a JSON array or a JSONata expression, not {_kind(value)}")


def _condition(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    if isinstance(value, str):
        _expression(ctx, name, value, loc)
    elif not isinstance(value, bool):
        ctx.error(loc, f"'{name}' must be a JSONata expression or a boolean, not {_kind(value)}")


def _timestamp(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    """Wait's Timestamp (a JSONata expression is allowed) and the Timestamp* comparison values."""
    if ctx.jsonata and isinstance(value, str) and value.startswith("{%"):
        _expression(ctx, name, value, loc)
    elif parse_timestamp(value) is None:
        ctx.error(loc, f"'{name}' must be an RFC 3339 timestamp such as '2016-03-14T01:59:00Z', not {_show(value)}")


def _string_value(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    if not isinstance(value, str):
        ctx.error(loc, f"'{name}' must be compared with a string, not {_kind(value)}")


def _numeric_value(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    if not _is_number(value):
        ctx.error(loc, f"'{name}' must be compared with a number, not {_kind(value)}")


def _next(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    """Next, Default and a catcher's Next: recorded here, checked against the States block later."""
    if isinstance(value, str) and value:
        ctx.targets.append((value, loc, name))
    else:
        ctx.error(loc, f"'{name}' must be a state name, not {_show(value)}")


def _list_of(what: str, item: Callable[[_Ctx, Any, str], None], *, error_handlers: bool = False) -> Checker:
    """A list, each element checked by `item`. Retry and Catch (`error_handlers`) may be empty, as
    AWS accepts, and their States.ALL element must come last; other lists need an element."""

    def check(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
        if not isinstance(value, list) or not (value or error_handlers):
            ctx.error(loc, f"'{name}' must be a {'' if error_handlers else 'non-empty '}list of {what}, "
                      f"not {_show(value)}")
            return
        for index, element in enumerate(value):
            item(ctx, element, _ptr(loc, index))
            if error_handlers and index < len(value) - 1 and _catches_all(element):
                ctx.error(_ptr(loc, index), f"The {what[:-1]} matching 'States.ALL' must be the last one in '{name}'")

    return check


def _catches_all(element: Any) -> bool:
    errors = element.get("ErrorEquals") if isinstance(element, dict) else None
    return isinstance(errors, list) and ALL in errors


def _error_equals(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    if not isinstance(value, list) or not value or not all(isinstance(e, str) and e for e in value):
        ctx.error(loc, f"'{name}' must be a non-empty list of error names, not {_show(value)}")
    elif ALL in value and len(value) > 1:
        ctx.error(loc, f"'{ALL}' must be the only error name in its '{name}'")


def _object(table: Mapping[str, Checker], what: str, required: Iterable[tuple[str, ...]] = ()) -> Checker:
    """A sub-object with its own field table (ItemReader, ProcessorConfig, ...)."""

    def check(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
        if isinstance(value, dict):
            _check_fields(ctx, value, loc, table, what, required)
        else:
            ctx.error(loc, f"'{name}' must be a JSON object, not {_kind(value)}")

    return check


def _csv_headers(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    if ctx.jsonata and isinstance(value, str):
        _expression(ctx, name, value, loc)
    elif not isinstance(value, list) or not value or not all(isinstance(h, str) and h for h in value):
        ctx.error(loc, f"'{name}' must be a non-empty list of column names, not {_show(value)}")


def _json_pointer(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    if not isinstance(value, str) or (value and not value.startswith("/")):
        ctx.error(loc, f"'{name}' must be a JSON Pointer such as '/data/items', not {_show(value)}")


_READER_RESOURCES = ("arn:aws:states:::s3:getObject", "arn:aws:states:::s3:listObjectsV2")
_WRITER_RESOURCE = "arn:aws:states:::s3:putObject"


def _distributed_map(ctx: _Ctx, body: dict[str, Any], loc: str) -> None:
    """What a Distributed Map's fields need of each other (each field's own shape is checked by its table)."""
    processor = body.get("ItemProcessor", body.get("Iterator"))
    config = processor.get("ProcessorConfig") if isinstance(processor, dict) else None
    distributed = isinstance(config, dict) and config.get("Mode") == "DISTRIBUTED"
    for key in ("ItemReader", "ItemBatcher", "ResultWriter"):
        if key in body and not distributed:
            ctx.error(_ptr(loc, key), f"'{key}' is only supported in a Map state whose ItemProcessor has "
                      "ProcessorConfig Mode 'DISTRIBUTED'")
    reader, writer = body.get("ItemReader"), body.get("ResultWriter")
    if isinstance(reader, dict):
        _reader_needs(ctx, reader, _ptr(loc, "ItemReader"))
    if isinstance(writer, dict):
        where = _ptr(loc, "ResultWriter")
        if "WriterConfig" not in writer and not ("Resource" in writer and _call_params(writer) is not None):
            ctx.error(where, "A ResultWriter needs 'WriterConfig', or 'Resource' and 'Parameters' (or "
                      "'Arguments'), or all three")
        if "Resource" in writer and writer["Resource"] != _WRITER_RESOURCE:
            ctx.error(_ptr(where, "Resource"), f"A ResultWriter's 'Resource' must be '{_WRITER_RESOURCE}', "
                      f"not {_show(writer['Resource'])}")
        _needs_params(ctx, writer, where, ("Bucket",))


def _call_params(spec: dict[str, Any]) -> Any:
    return spec.get("Parameters", spec.get("Arguments"))


def _needs_params(ctx: _Ctx, spec: dict[str, Any], loc: str, names: tuple[str, ...]) -> None:
    """Parameters naming each of `names` (or `name.$`); an Arguments expression is judged at run time."""
    params = _call_params(spec)
    if "Resource" not in spec or not isinstance(params, dict):
        if "Resource" in spec and params is None:
            ctx.error(loc, f"'{spec['Resource']}' needs 'Parameters' (or 'Arguments') with {_names(names)}")
        return
    key = "Parameters" if "Parameters" in spec else "Arguments"
    for name in names:
        if name not in params and f"{name}.$" not in params:
            ctx.error(_ptr(loc, key), f"'{key}' must name the '{name}'")


def _reader_needs(ctx: _Ctx, reader: dict[str, Any], loc: str) -> None:
    resource = reader.get("Resource")
    if "Resource" in reader and resource not in _READER_RESOURCES:
        ctx.error(_ptr(loc, "Resource"), f"An ItemReader's 'Resource' must be one of {_names(_READER_RESOURCES)}, "
                  f"not {_show(resource)}")
        return
    config = reader.get("ReaderConfig", {})
    if not isinstance(config, dict):
        return
    config_loc = _ptr(loc, "ReaderConfig")
    input_type = config.get("InputType")
    if resource == _READER_RESOURCES[0]:
        _needs_params(ctx, reader, loc, ("Bucket", "Key"))
        if "InputType" not in config:
            ctx.error(loc, "An ItemReader with 's3:getObject' needs 'ReaderConfig' with 'InputType'")
    elif resource == _READER_RESOURCES[1]:
        _needs_params(ctx, reader, loc, ("Bucket",))
        if "InputType" in config:
            ctx.error(_ptr(config_loc, "InputType"), "'InputType' is not used with 's3:listObjectsV2'")
    location = config.get("CSVHeaderLocation")
    if location == "GIVEN" and "CSVHeaders" not in config:
        ctx.error(config_loc, "'CSVHeaderLocation' 'GIVEN' needs 'CSVHeaders'")
    if "CSVHeaders" in config and location != "GIVEN":
        ctx.error(_ptr(config_loc, "CSVHeaders"), "'CSVHeaders' is only used with 'CSVHeaderLocation' 'GIVEN'")
    for key in ("CSVHeaderLocation", "CSVDelimiter"):
        if key in config and input_type not in ("CSV", None):
            ctx.error(_ptr(config_loc, key), f"'{key}' is only used with 'InputType' 'CSV'")
    if "ItemsPointer" in config and input_type != "JSON":
        ctx.error(_ptr(config_loc, "ItemsPointer"), "'ItemsPointer' is only used with 'InputType' 'JSON'")


def _retrier(ctx: _Ctx, value: Any, loc: str) -> None:
    _object(_RETRIER_FIELDS, "a retrier", [("ErrorEquals",)])(ctx, "Retry", value, loc)


def _catcher(ctx: _Ctx, value: Any, loc: str) -> None:
    _object(_CATCHER_FIELDS, "a catcher", [("ErrorEquals",), ("Next",)])(ctx, "Catch", value, loc)


def _branch(ctx: _Ctx, value: Any, loc: str) -> None:
    ctx.validator.machine(value, loc, _BRANCH_FIELDS, "a Parallel branch")


def _processor(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    ctx.validator.machine(value, loc, _PROCESSOR_FIELDS, f"a Map state's {name}")


# Choice rules -------------------------------------------------------------------------------


def _top_rule(ctx: _Ctx, rule: Any, loc: str) -> None:
    _rule(ctx, rule, loc, _TOP_RULE_FIELDS, "a Choice rule")
    if isinstance(rule, dict):
        if "Next" not in rule:
            ctx.error(loc, "A Choice rule needs 'Next'")
        if ctx.jsonata and "Condition" not in rule:
            ctx.error(loc, "A Choice rule in a JSONata state needs 'Condition'")


def _nested_rule(ctx: _Ctx, rule: Any, loc: str) -> None:
    _rule(ctx, rule, loc, _NESTED_RULE_FIELDS, "a nested Choice rule")


def _rule(ctx: _Ctx, rule: Any, loc: str, table: Mapping[str, Checker], what: str) -> None:
    if not isinstance(rule, dict):
        ctx.error(loc, f"{_cap(what)} must be a JSON object, not {_kind(rule)}")
        return
    _check_fields(ctx, rule, loc, table, what)
    if ctx.jsonata:
        return
    operators = [k for k in rule if k in COMPARISON_OPERATORS or k in _BOOLEAN_OPERATORS]
    if not operators:
        ctx.error(loc, f"{_cap(what)} needs a comparison operator (such as 'StringEquals') or 'And', 'Or', 'Not'")
    elif len(operators) > 1:
        ctx.error(loc, f"{_cap(what)} must have exactly one operator, but has {_names(operators)}")
    elif operators[0] in _BOOLEAN_OPERATORS:
        if "Variable" in rule:
            ctx.error(_ptr(loc, "Variable"), f"'Variable' can't be used with '{operators[0]}'")
    elif "Variable" not in rule:
        ctx.error(loc, f"{_cap(what)} with '{operators[0]}' needs 'Variable'")


def _not(ctx: _Ctx, name: str, value: Any, loc: str) -> None:
    _nested_rule(ctx, value, loc)


def _operator_checker(operator: str) -> Checker:
    """The value each comparison operator takes, read off its name."""
    if operator.endswith("Path"):
        return _path()
    if operator.startswith(("Is", "Boolean")):
        return _boolean
    if operator.startswith("Numeric"):
        return _numeric_value
    if operator.startswith("Timestamp"):
        return _timestamp
    return _string_value


# ---------------------------------------------------------------------------------------------
# `.$` keys (JSONPath) and `{% %}` strings (JSONata)


def _dynamic_keys(ctx: _Ctx, value: Any, loc: str) -> None:
    """Every key ending in `.$`, at any depth (arrays included), holds a path or an intrinsic."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.endswith(".$"):
                if isinstance(item, str):
                    problem = _text_problem(item, ctx.validator.intrinsics)
                else:
                    problem = _dynamic_problem(item)
                if problem:
                    ctx.error(_ptr(loc, key), f"The value of '{key}' {problem}")
            elif isinstance(item, _CONTAINERS):  # only containers can hold more `.$` keys
                _dynamic_keys(ctx, item, _ptr(loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, _CONTAINERS):
                _dynamic_keys(ctx, item, _ptr(loc, index))


def _dynamic_problem(value: Any) -> str | None:
    """Why a value is neither a path nor an intrinsic call, or None when it is one of them."""
    if not isinstance(value, str):
        return f"must be a path or an intrinsic function string, not {_kind(value)}"
    return _text_problem(value, _intrinsics())


def _intrinsics() -> Any:
    """The intrinsics module, or None while it is absent (it is written alongside this one). A look in
    sys.modules first: an import statement per `.$` value would cost more than checking the value."""
    module = sys.modules.get(_INTRINSICS_MODULE)
    if module is None and _INTRINSICS_MODULE not in sys.modules:
        try:
            from emulator.asl import intrinsics as module
        except ImportError:
            module = None
    return module


_INTRINSICS_MODULE = "emulator.asl.intrinsics"


@functools.lru_cache(maxsize=4096)
def _text_problem(value: str, intrinsics: Any) -> str | None:
    # A definition repeats its `.$` values ("$.id" in every state): each distinct text is parsed once.
    is_call = intrinsics.is_intrinsic(value) if intrinsics else value.startswith("States.")
    try:
        if is_call:
            if intrinsics:
                intrinsics.compile_intrinsic(value)
        elif value.startswith("$"):
            compile_path(value)
        else:
            return f"must be a path ('$...', '$$...', '$name...') or an intrinsic function, not {_show(value)}"
    except ValueError as exc:  # PathSyntaxError and IntrinsicSyntaxError both are ValueErrors
        return f"is not a valid {'intrinsic function' if is_call else 'path'}: {exc}"
    return None


def _jsonata_values(ctx: _Ctx, value: Any, loc: str) -> None:
    """Every string inside `value` that opens `{%` must close with `%}` around an expression."""
    if isinstance(value, str):
        _delimited(ctx, value, loc)
    elif isinstance(value, dict):
        for key, item in value.items():
            _jsonata_values(ctx, item, _ptr(loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _jsonata_values(ctx, item, _ptr(loc, index))


def _delimited(ctx: _Ctx, text: str, loc: str) -> None:
    if not text.startswith("{%"):
        return
    if len(text) < 4 or not text.endswith("%}"):
        ctx.error(loc, f"JSONata expression {_show(text)} starts with '{{%' but does not end with '%}}'")
    elif not text[2:-2].strip():
        ctx.error(loc, "JSONata expression '{% %}' is empty")
    else:
        try:
            compile_expression(text)
        except JsonataSyntaxError as exc:
            ctx.error(loc, str(exc))


def _expression(ctx: _Ctx, name: str, text: str, loc: str) -> None:
    """A field whose string value can only be a JSONata expression."""
    if text.startswith("{%"):
        _delimited(ctx, text, loc)
    else:
        ctx.error(loc, f"'{name}' must be a JSONata expression '{{% ... %}}' here, not {_show(text)}")


# ---------------------------------------------------------------------------------------------
# Tables

# Fields that exist in one query language only (checked wherever they appear).
_JSONPATH_ONLY = frozenset(
    ["InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "ItemsPath", "TimeoutSecondsPath",
     "HeartbeatSecondsPath", "SecondsPath", "TimestampPath", "MaxConcurrencyPath", "ToleratedFailurePercentagePath",
     "ToleratedFailureCountPath", "ErrorPath", "CausePath", "MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath",
     "MaxItemsPath",
     "Variable", *_BOOLEAN_OPERATORS, *COMPARISON_OPERATORS]
)
_JSONATA_ONLY = frozenset(["Arguments", "Output", "Condition", "Items"])

# Groups of fields of which an object may hold one at most.
_AT_MOST_ONE = [
    ("Seconds", "Timestamp", "SecondsPath", "TimestampPath"),
    ("TimeoutSeconds", "TimeoutSecondsPath"),
    ("HeartbeatSeconds", "HeartbeatSecondsPath"),
    ("MaxConcurrency", "MaxConcurrencyPath"),
    ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
    ("ToleratedFailureCount", "ToleratedFailureCountPath"),
    ("MaxItemsPerBatch", "MaxItemsPerBatchPath"),
    ("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"),
    ("MaxItems", "MaxItemsPath"),
    ("Error", "ErrorPath"),
    ("Cause", "CausePath"),
    ("ItemProcessor", "Iterator"),
    ("ItemSelector", "Parameters"),
]
_GROUPED = frozenset(name for group in _AT_MOST_ONE for name in group)

_RETRIER_FIELDS: dict[str, Checker] = {
    "ErrorEquals": _error_equals,
    "IntervalSeconds": _integer(1, expression=False),
    "MaxAttempts": _integer(0, expression=False),
    "BackoffRate": _number(1.0, expression=False),
    "MaxDelaySeconds": _integer(1, MAX_DELAY_SECONDS, expression=False),
    "JitterStrategy": _enum("FULL", "NONE"),
    "Comment": _comment,
}

_CATCHER_FIELDS: dict[str, Checker] = {
    "ErrorEquals": _error_equals,
    "Next": _next,
    "ResultPath": _path(nullable=True, reference=True),
    "Output": _jsonata_any,
    "Assign": _assign,
    "Comment": _comment,
}

_NESTED_RULE_FIELDS: dict[str, Checker] = {
    "Comment": _comment,
    "Variable": _path(),
    "And": _list_of("Choice rules", _nested_rule),
    "Or": _list_of("Choice rules", _nested_rule),
    "Not": _not,
    **{operator: _operator_checker(operator) for operator in COMPARISON_OPERATORS},
}
_TOP_RULE_FIELDS: dict[str, Checker] = {
    **_NESTED_RULE_FIELDS,
    "Next": _next,
    "Condition": _condition,
    "Assign": _assign,
    "Output": _jsonata_any,
}

_RESOURCE_CALL = {"Resource": _non_empty_text, "Parameters": _template, "Arguments": _jsonata_any}

_STATE_CHECKS: dict[str, Checker] = {
    "Comment": _comment,
    "QueryLanguage": _enum(JSONPATH, JSONATA),
    "Next": _next,
    "End": _boolean,
    "InputPath": _path(nullable=True),
    "OutputPath": _path(nullable=True),
    "Parameters": _template,
    "ResultSelector": _template,
    "ResultPath": _path(nullable=True, reference=True),
    "Arguments": _jsonata_any,
    "Output": _jsonata_any,
    "Assign": _assign,
    "Retry": _list_of("retriers", _retrier, error_handlers=True),
    "Catch": _list_of("catchers", _catcher, error_handlers=True),
    # Pass
    "Result": _anything,
    # Task
    "Resource": _non_empty_text,
    "TimeoutSeconds": _integer(1),
    "TimeoutSecondsPath": _path(),
    "HeartbeatSeconds": _integer(1),
    "HeartbeatSecondsPath": _path(),
    "Credentials": _template,
    # Choice
    "Choices": _list_of("Choice rules", _top_rule),
    "Default": _next,
    # Wait
    "Seconds": _integer(0),
    "Timestamp": _timestamp,
    "SecondsPath": _path(),
    "TimestampPath": _path(),
    # Fail
    "Error": _text,
    "Cause": _text,
    "ErrorPath": _error_path,
    "CausePath": _error_path,
    # Parallel
    "Branches": _list_of("branches", _branch),
    # Map
    "ItemProcessor": _processor,
    "Iterator": _processor,
    "ItemsPath": _path(definite=True),
    "Items": _items,
    "ItemSelector": _template,
    "ItemReader": _object({**_RESOURCE_CALL, "ReaderConfig": _object(
        {
            "InputType": _enum("CSV", "JSON", "JSONL", "MANIFEST", "PARQUET"),
            "CSVHeaderLocation": _enum("FIRST_ROW", "GIVEN"),
            "CSVHeaders": _csv_headers,
            "CSVDelimiter": _enum("COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB"),
            "MaxItems": _integer(0, 100_000_000),
            "MaxItemsPath": _path(),
            "ItemsPointer": _json_pointer,
            "ManifestType": _enum("S3_INVENTORY", "ATHENA_DATA"),
        },
        "a ReaderConfig",
    )}, "an ItemReader", [("Resource",)]),
    "ResultWriter": _object({**_RESOURCE_CALL, "WriterConfig": _object(
        {"OutputType": _enum("JSON", "JSONL"), "Transformation": _enum("NONE", "COMPACT", "FLATTEN")},
        "a WriterConfig",
    )}, "a ResultWriter"),
    "ItemBatcher": _object(
        {
            "MaxItemsPerBatch": _integer(0),
            "MaxItemsPerBatchPath": _path(),
            "MaxInputBytesPerBatch": _integer(0, 256 * 1024),
            "MaxInputBytesPerBatchPath": _path(),
            "BatchInput": _template,
        },
        "an ItemBatcher",
        [("MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath")],
    ),
    "MaxConcurrency": _integer(0),
    "MaxConcurrencyPath": _path(),
    "ToleratedFailurePercentage": _number(0, 100),
    "ToleratedFailurePercentagePath": _path(),
    "ToleratedFailureCount": _integer(0),
    "ToleratedFailureCountPath": _path(),
    "Label": _non_empty_text,
}

# The fields each state type allows (Amazon States Language plus AWS's additions).
_BASE = ("Comment", "QueryLanguage")  # and Type, which the state walker reads itself
_IO = ("InputPath", "OutputPath", "Output")
_FLOW = ("Next", "End", "Assign")
_RESULT = ("Parameters", "ResultPath", "ResultSelector", "Retry", "Catch")
_STATE_FIELDS: dict[str, tuple[str, ...]] = {
    "Pass": (*_BASE, *_IO, *_FLOW, "Parameters", "ResultPath", "Result"),
    "Task": (*_BASE, *_IO, *_FLOW, *_RESULT, "Arguments", "Resource", "TimeoutSeconds", "TimeoutSecondsPath",
             "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials"),
    "Choice": (*_BASE, *_IO, "Assign", "Choices", "Default"),
    "Wait": (*_BASE, *_IO, *_FLOW, "Seconds", "Timestamp", "SecondsPath", "TimestampPath"),
    "Succeed": (*_BASE, *_IO),
    "Fail": (*_BASE, "Error", "ErrorPath", "Cause", "CausePath"),
    "Parallel": (*_BASE, *_IO, *_FLOW, *_RESULT, "Arguments", "Branches"),
    "Map": (*_BASE, *_IO, *_FLOW, *_RESULT, "ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector",
            "ItemReader", "ItemBatcher", "ResultWriter", "MaxConcurrency", "MaxConcurrencyPath",
            "ToleratedFailurePercentage", "ToleratedFailurePercentagePath", "ToleratedFailureCount",
            "ToleratedFailureCountPath", "Label"),
}
_STATE_TABLES: dict[str, dict[str, Checker]] = {
    kind: {name: _STATE_CHECKS[name] for name in fields} for kind, fields in _STATE_FIELDS.items()
}
_REQUIRED: dict[str, list[tuple[str, ...]]] = {
    "Task": [("Resource",)],
    "Choice": [("Choices",)],
    "Wait": [("Seconds", "Timestamp", "SecondsPath", "TimestampPath")],
    "Parallel": [("Branches",)],
    "Map": [("ItemProcessor", "Iterator")],
}
_STATE_WHAT = {kind: f"a {kind} state" for kind in _STATE_FIELDS}
# What `_quick_fields` checks, by state type: fields of that type's table only, none in an _AT_MOST_ONE
# group with another, none with nested checks.
_QUICK_COMMON = ("Type", "Comment", "Next", "End", "InputPath", "OutputPath")
_QUICK_FIELDS = {
    "Pass": frozenset([*_QUICK_COMMON, "ResultPath", "Parameters", "Result"]),
    "Task": frozenset([*_QUICK_COMMON, "ResultPath", "Parameters", "ResultSelector", "Resource"]),
    "Succeed": frozenset(["Type", "Comment", "InputPath", "OutputPath"]),
}
_TYPE_FIELD = frozenset(["Type"])
_TERMINAL_TYPES = frozenset(["Choice", "Succeed", "Fail"])  # they end (or branch) by type: no Next/End

_TOP_FIELDS: dict[str, Checker] = {
    "Comment": _comment,
    "Version": _comment,
    "TimeoutSeconds": _integer(1, expression=False),
    "QueryLanguage": _enum(JSONPATH, JSONATA),
}
_BRANCH_FIELDS: dict[str, Checker] = {"Comment": _comment}
_PROCESSOR_FIELDS: dict[str, Checker] = {
    "Comment": _comment,
    "ProcessorConfig": _object(
        {"Mode": _enum("INLINE", "DISTRIBUTED"), "ExecutionType": _enum("STANDARD", "EXPRESS")},
        "a ProcessorConfig",
    ),
}


# ---------------------------------------------------------------------------------------------
# Small helpers


def _ptr(base: str, key: Any) -> str:
    """Append one JSON Pointer segment (RFC 6901 escaping)."""
    if type(key) is not str:
        key = str(key)
    if "~" in key or "/" in key:
        key = key.replace("~", "~0").replace("/", "~1")
    return f"{base}/{key}"



def _is_integer(value: Any) -> bool:
    # JSON has one number type: 5.0 is accepted where an integer is expected.
    return _is_number(value) and (isinstance(value, int) or value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBERS) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if _is_number(value) else type(value).__name__)


def _show(value: Any) -> str:
    text = json.dumps(value, default=repr, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _names(names: Iterable[Any]) -> str:
    return ", ".join(f"'{n}'" for n in names)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
