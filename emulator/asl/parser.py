"""Definition → typed, compiled states.

`load_definition` accepts what users hand us (a dict, JSON text or a file path); `parse`
validates it as AWS's CreateStateMachine would and compiles every state once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path as FilePath
from typing import Any

from emulator.asl.choice import compile_rule
from emulator.asl.intrinsics import compile_intrinsic, is_intrinsic
from emulator.asl.paths import compile_path
from emulator.asl.states import (
    UNSET,
    Catcher,
    ChoiceRule,
    ChoiceState,
    FailState,
    Machine,
    MapState,
    ParallelState,
    PassState,
    Retrier,
    State,
    SucceedState,
    TaskState,
    WaitState,
)
from emulator.asl.templates import Template
from emulator.asl.validate import validate_definition
from emulator.errors import DefinitionError, Diagnostic


def load_definition(source: dict[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """Read a definition given as a dict, JSON text, or the path of a JSON file."""
    if isinstance(source, dict):
        return source
    if isinstance(source, str) and source.lstrip().startswith("{"):
        text, origin = source, "definition"
    else:
        file = FilePath(source)
        origin = str(file)
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DefinitionError(
                [Diagnostic("", f"{origin} is not UTF-8 text: {exc.reason} at byte {exc.start}",
                            "INVALID_JSON_DESCRIPTION")]
            ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            [Diagnostic("", f"{origin} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                        "INVALID_JSON_DESCRIPTION")]
        ) from None


def parse(definition: dict[str, Any]) -> Machine:
    """Validate and compile a definition; raises DefinitionError listing every problem."""
    diagnostics = validate_definition(definition) or _unsupported(definition)
    if diagnostics:
        raise DefinitionError(diagnostics)
    machine = _machine(definition)
    machine.timeout_seconds = definition.get("TimeoutSeconds")
    return machine


def _unsupported(definition: dict[str, Any]) -> list[Diagnostic]:
    """Valid ASL this version cannot run yet: JSONata states, and Distributed Map's S3 reader/writer and batching."""
    found: list[Diagnostic] = []

    def visit(spec: dict[str, Any], pointer: str, language: str) -> None:
        language = spec.get("QueryLanguage", language)
        for name, body in spec.get("States", {}).items():
            here = f"{pointer}/States/{name}"
            state_language = body.get("QueryLanguage", language)
            if state_language == "JSONata":
                found.append(Diagnostic(here, "JSONata states are not supported yet", "UNSUPPORTED_FEATURE"))
            for key in ("ItemReader", "ResultWriter", "ItemBatcher"):
                if key in body:
                    found.append(Diagnostic(f"{here}/{key}", f"Map {key} is not supported yet", "UNSUPPORTED_FEATURE"))
            for key in ("ItemProcessor", "Iterator"):
                if isinstance(body.get(key), dict):
                    visit(body[key], f"{here}/{key}", state_language)
            for i, branch in enumerate(body.get("Branches", [])):
                visit(branch, f"{here}/Branches/{i}", state_language)

    visit(definition, "", "JSONPath")
    return found


def _machine(spec: dict[str, Any]) -> Machine:
    states = {name: _state(name, body) for name, body in spec["States"].items()}
    machine = Machine(start_at=spec["StartAt"], states=states, comment=spec.get("Comment"))
    for state in states.values():
        if isinstance(state, TaskState):
            machine.has_task = True
        elif isinstance(state, WaitState):
            machine.has_wait = True
        for sub in _children(state):
            machine.has_task |= sub.has_task
            machine.has_wait |= sub.has_wait
    return machine


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


def _path_or_none(body: dict[str, Any], key: str) -> Any:
    value = body.get(key)
    return None if value is None else compile_path(value)


def _path_or_intrinsic(text: str | None) -> Any:
    if text is None:
        return None
    return compile_intrinsic(text) if is_intrinsic(text) else compile_path(text)


def _own_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The state's fields without nested machines (their `$$` uses are their own)."""
    return {k: v for k, v in body.items() if k not in ("Branches", "ItemProcessor", "Iterator")}


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


def _state(name: str, body: dict[str, Any]) -> State:
    kind = body["Type"]
    state = _TYPES[kind](name=name, type=kind)
    state.next = body.get("Next")
    state.end = bool(body.get("End", False))
    state.input_path = _optional_path(body, "InputPath")
    state.output_path = _optional_path(body, "OutputPath")
    state.result_path = _optional_path(body, "ResultPath")
    if "Parameters" in body and kind != "Map":
        state.parameters = Template(body["Parameters"])
    if "ResultSelector" in body:
        state.result_selector = Template(body["ResultSelector"])
    state.retry = [_retrier(r) for r in body.get("Retry", [])]
    state.catch = [
        Catcher(tuple(c["ErrorEquals"]), c["Next"], _optional_path(c, "ResultPath")) for c in body.get("Catch", [])
    ]
    state.uses_context = "$$" in json.dumps(_own_fields(body))
    _specific[kind](state, body)
    return state


def _retrier(spec: dict[str, Any]) -> Retrier:
    return Retrier(
        error_equals=tuple(spec["ErrorEquals"]),
        interval_seconds=spec.get("IntervalSeconds", 1),
        max_attempts=spec.get("MaxAttempts", 3),
        backoff_rate=spec.get("BackoffRate", 2.0),
        max_delay_seconds=spec.get("MaxDelaySeconds"),
        jitter_full=spec.get("JitterStrategy", "NONE") == "FULL",
    )


def _pass(state: PassState, body: dict[str, Any]) -> None:
    state.result = body.get("Result", UNSET)


def _task(state: TaskState, body: dict[str, Any]) -> None:
    state.resource = body["Resource"]
    state.timeout_seconds = body.get("TimeoutSeconds")
    state.timeout_seconds_path = _path_or_none(body, "TimeoutSecondsPath")
    state.heartbeat_seconds = body.get("HeartbeatSeconds")
    state.heartbeat_seconds_path = _path_or_none(body, "HeartbeatSecondsPath")
    state.credentials = body.get("Credentials")


def _choice(state: ChoiceState, body: dict[str, Any]) -> None:
    state.choices = [ChoiceRule(compile_rule(rule), rule["Next"]) for rule in body["Choices"]]
    state.default = body.get("Default")


def _wait(state: WaitState, body: dict[str, Any]) -> None:
    state.seconds = body.get("Seconds")
    state.timestamp = body.get("Timestamp")
    state.seconds_path = _path_or_none(body, "SecondsPath")
    state.timestamp_path = _path_or_none(body, "TimestampPath")


def _fail(state: FailState, body: dict[str, Any]) -> None:
    state.error = body.get("Error")
    state.cause = body.get("Cause")
    state.error_path = _path_or_intrinsic(body.get("ErrorPath"))
    state.cause_path = _path_or_intrinsic(body.get("CausePath"))


def _parallel(state: ParallelState, body: dict[str, Any]) -> None:
    state.branches = [_machine(branch) for branch in body["Branches"]]


def _map(state: MapState, body: dict[str, Any]) -> None:
    processor = body.get("ItemProcessor") or body.get("Iterator")
    state.processor = _machine(processor)
    config = processor.get("ProcessorConfig") or body.get("ProcessorConfig") or {}
    state.distributed = config.get("Mode") == "DISTRIBUTED"
    state.items_path = _optional_path(body, "ItemsPath")
    selector = body.get("ItemSelector", body.get("Parameters"))
    state.item_selector = Template(selector) if selector is not None else None
    state.max_concurrency = body.get("MaxConcurrency", 0)
    state.max_concurrency_path = _path_or_none(body, "MaxConcurrencyPath")
    state.tolerated_failure_percentage = body.get("ToleratedFailurePercentage")
    state.tolerated_failure_percentage_path = _path_or_none(body, "ToleratedFailurePercentagePath")
    state.tolerated_failure_count = body.get("ToleratedFailureCount")
    state.tolerated_failure_count_path = _path_or_none(body, "ToleratedFailureCountPath")
    state.label = body.get("Label")


_specific = {
    "Pass": _pass,
    "Task": _task,
    "Choice": _choice,
    "Wait": _wait,
    "Succeed": lambda state, body: None,
    "Fail": _fail,
    "Parallel": _parallel,
    "Map": _map,
}
