"""Definition → typed, compiled states.

`load_definition` accepts what users hand us (a dict, JSON text or a file path); `parse`
validates it as AWS's CreateStateMachine would and compiles every state once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path as FilePath
from typing import Any

from emulator.asl import jsonata
from emulator.asl.choice import compile_rule
from emulator.asl.intrinsics import compile_intrinsic, is_intrinsic
from emulator.asl.paths import compile_path
from emulator.asl.states import (
    UNSET,
    Catcher,
    ChoiceRule,
    ChoiceState,
    FailState,
    ItemBatcherSpec,
    ItemReaderSpec,
    Machine,
    MapState,
    ParallelState,
    PassState,
    ResultWriterSpec,
    Retrier,
    State,
    SucceedState,
    TaskState,
    WaitState,
)
from emulator.asl.templates import Template
from emulator.asl.validate import MAX_DEFINITION_BYTES, SCHEMA, NonJsonConstant, validate_definition
from emulator.errors import DefinitionError, Diagnostic

JSONPATH, JSONATA = "JSONPath", "JSONata"


def load_definition(source: Any) -> Any:
    """Read a definition given as a dict, JSON text (str or bytes), or the path of a JSON file.

    Whatever it is given, it returns the parsed value (which `validate_definition` then judges:
    a list or a number is reported there) or raises DefinitionError with a diagnostic; never
    OSError, RecursionError or UnicodeError. JSON's non-values NaN and Infinity are kept as
    `NonJsonConstant` markers so that validation can say where they are.
    """
    if isinstance(source, bytes | bytearray):
        try:
            source = bytes(source).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _invalid(f"the definition bytes are not UTF-8 text: {exc.reason} at byte {exc.start}") from None
        return _parse_text(source, "definition")
    if isinstance(source, str):
        stripped = source.strip()
        if not stripped:
            raise DefinitionError([Diagnostic("", "The definition is empty", "MISSING_DESCRIPTION")])
        if stripped[0] in "{[" or _too_large(source):
            return _parse_text(source, "definition")
        file = _existing_file(source)
        if file is None:
            try:
                return _parse_text(source, "definition")
            except DefinitionError:
                raise _invalid(f"cannot read definition {_preview(source)}: it is neither JSON text nor the "
                               "path of an existing file") from None
        return _read_file(file)
    if isinstance(source, os.PathLike):
        file = _existing_file(source)
        if file is None:
            raise _invalid(f"cannot read definition {os.fspath(source)!r}: no such file")
        return _read_file(file)
    return source


def _invalid(message: str) -> DefinitionError:
    return DefinitionError([Diagnostic("", message, "INVALID_JSON_DESCRIPTION")])


def _preview(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _too_large(text: str) -> bool:
    # Every character takes at least one UTF-8 byte: encode only when the count alone cannot tell.
    return len(text) > MAX_DEFINITION_BYTES or (len(text) * 4 > MAX_DEFINITION_BYTES
                                                 and len(text.encode("utf-8", "surrogatepass")) > MAX_DEFINITION_BYTES)


def _size_error(origin: str, size: int) -> DefinitionError:
    return DefinitionError([Diagnostic("", f"{origin} is {size:,} bytes; AWS limits a state machine definition "
                                           f"to {MAX_DEFINITION_BYTES:,} bytes of UTF-8", SCHEMA)])


def _existing_file(source: str | os.PathLike[str]) -> FilePath | None:
    """The file a string or path names, or None; a directory or an unreadable name is a diagnostic."""
    file = FilePath(source)
    try:
        is_dir, is_file = file.is_dir(), file.is_file()
    except (OSError, ValueError):  # a name too long, holding NUL, ...
        return None
    if is_dir:
        raise _invalid(f"{str(file)!r} is a directory, not a definition file")
    return file if is_file else None


def _read_file(file: FilePath) -> Any:
    origin = str(file)
    try:
        size = file.stat().st_size
        if size > MAX_DEFINITION_BYTES:
            raise _size_error(origin, size)
        raw = file.read_bytes()
    except OSError as exc:
        raise _invalid(f"cannot read definition {origin!r}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(f"{origin} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    return _parse_text(text, origin)


def _parse_text(text: str, origin: str) -> Any:
    if _too_large(text):
        raise _size_error(origin, len(text.encode("utf-8", "surrogatepass")))
    try:
        return json.loads(text, parse_constant=NonJsonConstant)
    except json.JSONDecodeError as exc:
        raise _invalid(f"{origin} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise _invalid(f"{origin} nests arrays or objects too deeply to read") from None


def parse(definition: dict[str, Any]) -> Machine:
    """Validate and compile a definition; raises DefinitionError listing every problem."""
    diagnostics = validate_definition(definition)
    if diagnostics:
        raise DefinitionError(diagnostics)
    machine = _machine(definition, definition.get("QueryLanguage", JSONPATH) == JSONATA)
    machine.timeout_seconds = definition.get("TimeoutSeconds")
    return machine


def _machine(spec: dict[str, Any], jsonata: bool) -> Machine:
    """`jsonata`: the top-level query language, which nested machines inherit (not their parent state's)."""
    states = {name: _state(name, body, jsonata) for name, body in spec["States"].items()}
    machine = Machine(start_at=spec["StartAt"], states=states, comment=spec.get("Comment"))
    for state in states.values():
        kind = state.type
        # (Empty lists tested first: a generator per state is a tenth of compiling a chain of Pass states.)
        if state.assign is not None or (state.catch and any(c.assign is not None for c in state.catch)) or \
                (kind == "Choice" and any(r.assign is not None for r in state.choices)):
            machine.has_assign = True
        if kind == "Task":
            machine.has_task = True
        elif kind == "Wait":
            machine.has_wait = True
        elif kind in _NESTING:
            for sub in _children(state):
                machine.has_task |= sub.has_task
                machine.has_wait |= sub.has_wait
    return machine


_NESTING = frozenset(["Parallel", "Map"])


def _children(state: State) -> list[Machine]:
    if isinstance(state, ParallelState):
        return state.branches
    if isinstance(state, MapState) and state.processor is not None:
        return [state.processor]
    return []


def _optional_path(body: dict[str, Any], key: str) -> Any:
    """UNSET when absent, None when null, else the compiled path."""
    if key not in body:
        return UNSET
    value = body[key]
    return None if value is None else compile_path(value)


def _nullable_path(value: str | None) -> Any:
    return None if value is None else compile_path(value)


def _path_or_none(body: dict[str, Any], key: str) -> Any:
    value = body.get(key)
    return None if value is None else compile_path(value)


def _path_or_intrinsic(text: str | None) -> Any:
    if text is None:
        return None
    return compile_intrinsic(text) if is_intrinsic(text) else compile_path(text)


_TYPES: dict[str, type[State]] = {
    "Pass": PassState,
    "Task": TaskState,
    "Choice": ChoiceState,
    "Wait": WaitState,
    "Succeed": SucceedState,
    "Fail": FailState,
    "Parallel": ParallelState,
    "Map": MapState,
}


def _state(name: str, body: dict[str, Any], top_jsonata: bool) -> State:
    kind = body["Type"]
    state = _TYPES[kind](name, kind, body.get("Next"), bool(body.get("End", False)))
    state.jsonata = body.get("QueryLanguage", JSONATA if top_jsonata else JSONPATH) == JSONATA
    if "Retry" in body:  # else the dataclass's own empty list: most states of a large definition have none
        state.retry = [_retrier(r) for r in body["Retry"]]
    if state.jsonata:
        state.arguments = _jsonata_template(body, "Arguments")
        state.output = _jsonata_template(body, "Output")
        state.assign = _jsonata_template(body, "Assign")
        if "Catch" in body:
            state.catch = [
                Catcher(tuple(c["ErrorEquals"]), c["Next"], output=_jsonata_template(c, "Output"),
                        assign=_jsonata_template(c, "Assign"))
                for c in body["Catch"]
            ]
    else:
        # Each absent field keeps the dataclass's default (UNSET or None).
        if "InputPath" in body:
            state.input_path = _nullable_path(body["InputPath"])
        if "OutputPath" in body:
            state.output_path = _nullable_path(body["OutputPath"])
        if "ResultPath" in body:
            state.result_path = _nullable_path(body["ResultPath"])
        if "Parameters" in body and kind != "Map":
            state.parameters = Template(body["Parameters"])
        if "ResultSelector" in body:
            state.result_selector = Template(body["ResultSelector"])
        if "Assign" in body:
            state.assign = Template(body["Assign"])
        if "Catch" in body:
            state.catch = [
                Catcher(tuple(c["ErrorEquals"]), c["Next"], _optional_path(c, "ResultPath"),
                        assign=Template(c["Assign"]) if "Assign" in c else None)
                for c in body["Catch"]
            ]
    _specific[kind](state, body, top_jsonata)
    return state


def _jsonata_template(body: dict[str, Any], key: str) -> jsonata.Template | None:
    return jsonata.Template(body[key], key) if key in body else None


def _value(state: State, body: dict[str, Any], key: str) -> Any:
    """A field that is a plain value in JSONPath states and may be an expression in JSONata states."""
    if key not in body:
        return None
    return jsonata.Template(body[key], key) if state.jsonata else body[key]


def _retrier(spec: dict[str, Any]) -> Retrier:
    return Retrier(
        error_equals=tuple(spec["ErrorEquals"]),
        interval_seconds=spec.get("IntervalSeconds", 1),
        max_attempts=spec.get("MaxAttempts", 3),
        backoff_rate=spec.get("BackoffRate", 2.0),
        max_delay_seconds=spec.get("MaxDelaySeconds"),
        jitter_full=spec.get("JitterStrategy", "NONE") == "FULL",
    )


def _pass(state: PassState, body: dict[str, Any], top_jsonata: bool) -> None:
    state.result = body.get("Result", UNSET)


def _task(state: TaskState, body: dict[str, Any], top_jsonata: bool) -> None:
    state.resource = body["Resource"]
    state.timeout_seconds = _value(state, body, "TimeoutSeconds")
    state.timeout_seconds_path = _path_or_none(body, "TimeoutSecondsPath")
    state.heartbeat_seconds = _value(state, body, "HeartbeatSeconds")
    state.heartbeat_seconds_path = _path_or_none(body, "HeartbeatSecondsPath")
    state.credentials = body.get("Credentials")


def _choice(state: ChoiceState, body: dict[str, Any], top_jsonata: bool) -> None:
    if state.jsonata:
        state.choices = [
            ChoiceRule(_condition(rule["Condition"]), rule["Next"], _jsonata_template(rule, "Output"),
                       _jsonata_template(rule, "Assign"))
            for rule in body["Choices"]
        ]
    else:
        state.choices = [
            ChoiceRule(compile_rule(rule), rule["Next"], assign=Template(rule["Assign"]) if "Assign" in rule else None)
            for rule in body["Choices"]
        ]
    state.default = body.get("Default")


def _condition(condition: Any) -> Any:
    """A JSONata Choice rule's Condition: a boolean, or an expression that must yield one."""
    if isinstance(condition, bool):
        return lambda data, env: condition
    expression = jsonata.compile_expression(condition)

    def predicate(data: Any, env: Any) -> bool:
        value = expression.evaluate(env.bindings(data), env.random)
        if not isinstance(value, bool):
            raise jsonata.type_error(expression.source, "Condition", "boolean", value)
        return value

    return predicate


def _wait(state: WaitState, body: dict[str, Any], top_jsonata: bool) -> None:
    state.seconds = _value(state, body, "Seconds")
    state.timestamp = _value(state, body, "Timestamp")
    state.seconds_path = _path_or_none(body, "SecondsPath")
    state.timestamp_path = _path_or_none(body, "TimestampPath")


def _fail(state: FailState, body: dict[str, Any], top_jsonata: bool) -> None:
    state.error = _value(state, body, "Error")
    state.cause = _value(state, body, "Cause")
    state.error_path = _path_or_intrinsic(body.get("ErrorPath"))
    state.cause_path = _path_or_intrinsic(body.get("CausePath"))


def _parallel(state: ParallelState, body: dict[str, Any], top_jsonata: bool) -> None:
    state.branches = [_machine(branch, top_jsonata) for branch in body["Branches"]]


def _map(state: MapState, body: dict[str, Any], top_jsonata: bool) -> None:
    processor = body.get("ItemProcessor") or body.get("Iterator")
    state.processor = _machine(processor, top_jsonata)
    config = processor.get("ProcessorConfig") or body.get("ProcessorConfig") or {}
    state.distributed = config.get("Mode") == "DISTRIBUTED"
    if state.jsonata:
        state.items = _jsonata_template(body, "Items")
        state.item_selector = _jsonata_template(body, "ItemSelector")
    else:
        state.items_path = _optional_path(body, "ItemsPath")
        selector = body.get("ItemSelector", body.get("Parameters"))
        state.item_selector = Template(selector) if selector is not None else None
    state.max_concurrency = _value(state, body, "MaxConcurrency")
    state.max_concurrency_path = _path_or_none(body, "MaxConcurrencyPath")
    state.tolerated_failure_percentage = _value(state, body, "ToleratedFailurePercentage")
    state.tolerated_failure_percentage_path = _path_or_none(body, "ToleratedFailurePercentagePath")
    state.tolerated_failure_count = _value(state, body, "ToleratedFailureCount")
    state.tolerated_failure_count_path = _path_or_none(body, "ToleratedFailureCountPath")
    state.label = body.get("Label")
    state.execution_type = config.get("ExecutionType", "STANDARD")
    if "ItemReader" in body:
        state.reader = _item_reader(state, body["ItemReader"])
    if "ItemBatcher" in body:
        state.batcher = _item_batcher(state, body["ItemBatcher"])
    if "ResultWriter" in body:
        state.writer = _result_writer(state, body["ResultWriter"])


def _call_parameters(state: State, spec: dict[str, Any]) -> Any:
    """An ItemReader's or ResultWriter's Parameters (JSONPath) or Arguments (JSONata)."""
    if state.jsonata:
        return _jsonata_template(spec, "Arguments")
    return Template(spec["Parameters"]) if "Parameters" in spec else None


def _item_reader(state: MapState, spec: dict[str, Any]) -> ItemReaderSpec:
    config = spec.get("ReaderConfig", {})
    if state.jsonata:
        return ItemReaderSpec(spec["Resource"], _call_parameters(state, spec), jsonata.Template(config, "ReaderConfig"))
    return ItemReaderSpec(spec["Resource"], _call_parameters(state, spec), config,
                          _path_or_none(config, "MaxItemsPath"))


def _item_batcher(state: MapState, spec: dict[str, Any]) -> ItemBatcherSpec:
    batch_input = None
    if "BatchInput" in spec:
        batch_input = (jsonata.Template(spec["BatchInput"], "BatchInput") if state.jsonata
                       else Template(spec["BatchInput"]))
    return ItemBatcherSpec(_value(state, spec, "MaxItemsPerBatch"), _path_or_none(spec, "MaxItemsPerBatchPath"),
                           _value(state, spec, "MaxInputBytesPerBatch"),
                           _path_or_none(spec, "MaxInputBytesPerBatchPath"), batch_input)


def _result_writer(state: MapState, spec: dict[str, Any]) -> ResultWriterSpec:
    config = spec.get("WriterConfig", {})
    return ResultWriterSpec(spec.get("Resource"), _call_parameters(state, spec), config.get("OutputType", "JSON"),
                            config.get("Transformation"))


_specific = {
    "Pass": _pass,
    "Task": _task,
    "Choice": _choice,
    "Wait": _wait,
    "Succeed": lambda state, body, top_jsonata: None,
    "Fail": _fail,
    "Parallel": _parallel,
    "Map": _map,
}
