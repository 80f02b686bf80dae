"""TestState: run one state on its own and answer as AWS's TestState API does.

    emulator.test_state({"Type": "Pass", "Result": 1, "End": True}, {"a": 1}, inspection_level="DEBUG")

The state runs on the engine's interpreter; the inspection data (input, afterInputPath, afterParameters,
result, ...) is what the interpreter reports to its observer (engine/observe.py). Retry and Catch
answer as TestState does: a matching Retrier with attempts left stops the run as RETRIABLE (with the
back-off AWS would wait), a matching Catcher gives CAUGHT_ERROR with the catcher's output and Next.
A `mock` (AWS's MockInput) replaces what a Task calls, or what a Map's iterations or a Parallel's
branches return; its `result` is checked against the service API's output shape (botocore's models)
as `fieldValidationMode` asks.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import click

from emulator.asl.parser import load_definition
from emulator.asl.states import UNSET, Machine, MapState, ParallelState, State
from emulator.asl.validate import validate_definition
from emulator.asl.values import to_json
from emulator.engine.clock import CancelToken, Clock, backoff_delay, iso8601
from emulator.engine.execution import ACCOUNT, DEFAULT_ROLE_ARN, REGION, StateMachine
from emulator.engine.history import History
from emulator.engine.interpreter import Branch, Interpreter, Run, error_matches
from emulator.engine.observe import Context, Observer
from emulator.engine.variables import Variables
from emulator.errors import EXCEED_TOLERATED_FAILURE_THRESHOLD, RUNTIME, DefinitionError, StatesError
from emulator.integrations import Registry, Resource, TaskRequest, endpoint
from emulator.integrations.http import TRACE_KEY as HTTP_TRACE_KEY

LEVELS = ("INFO", "DEBUG", "TRACE")
VALIDATION_MODES = ("STRICT", "PRESENT", "NONE")
# The name a lone state (a definition that is one state, not a machine) runs under.
LONE_STATE_NAME = "StateName"
_MOCKABLE = ("Task", "Map", "Parallel")
_CONFIGURATION_KEYS = ("retrierRetryCount", "errorCausedByState", "mapIterationFailureCount", "mapItemReaderData")
# Data-flow stages reported as JSON text, as the API's inspectionData carries them.
_TEXT_STAGES = ("input", "afterInputPath", "afterItemsPath", "afterParameters", "afterArguments", "result",
                "afterResultSelector", "afterResultPath")
_NUMBER_STAGES = ("maxConcurrency", "toleratedFailureCount", "toleratedFailurePercentage")


class InvalidTestRequest(ValueError):
    """A TestState request AWS would refuse (ValidationException / InvalidDefinition)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclasses.dataclass(frozen=True)
class _Mock:
    result: Any = None
    error: StatesError | None = None


class _Unlocated(StatesError):
    """An error whose cause TestState gives as is, without the engine's "An error occurred while executing"."""


class _Retriable(Exception):
    """Stops the state where the engine would sleep before a retry."""

    def __init__(self, error: StatesError, index: int, delay: float) -> None:
        super().__init__(error.error)
        self.error, self.index, self.delay = error, index, delay


class _Recorder(Observer):
    """Collects the tested state's stages and its Retry/Catch decisions (not those of states nested in it)."""

    def __init__(self, name: str, retried: int, retriers: list[Any]) -> None:
        self.name = name
        self.retried = retried  # stateConfiguration.retrierRetryCount
        self.retriers = retriers  # the state's own retriers, before retried attempts were taken off
        self.stages: dict[str, Any] = {}
        self.caught: tuple[StatesError, int] | None = None

    def _mine(self, ctx: Context) -> bool:
        return not ctx.path and ctx.state == self.name

    def state_entered(self, ctx: Context, state: Any, input: Any) -> None:
        if self._mine(ctx):
            self.stages["input"] = to_json(input)

    def stage(self, ctx: Context, state: Any, name: str, value: Any) -> None:
        if self._mine(ctx):
            self.stages[name] = value if name in _NUMBER_STAGES else to_json(value)

    def retry_scheduled(self, ctx: Context, state: Any, error: StatesError, retrier: int, delay: float) -> None:
        if self._mine(ctx):
            spec = self.retriers[retrier]
            if self.retried:
                delay = backoff_delay(spec.interval_seconds, spec.backoff_rate, self.retried, spec.max_delay_seconds)
            raise _Retriable(error, retrier, delay)

    def error_caught(self, ctx: Context, state: Any, error: StatesError, catcher: int) -> None:
        if self._mine(ctx):
            self.caught = (error, catcher)


class _MockRegistry(Registry):
    """Every Task resource answers with the mock (when there is one) instead of calling anything; an HTTP
    Task's exchanges are kept for TRACE."""

    def __init__(self, mock: _Mock | None, validation: str, backends: Any) -> None:
        super().__init__(None, backends)
        self.mock = mock
        self.validation = validation
        self.exchanges: list[tuple[dict[str, str], dict[str, str] | None]] = []

    def resolve(self, resource: Resource) -> Callable[[TaskRequest], Any]:
        if self.mock is None:
            handler = super().resolve(resource)

            def traced(request: TaskRequest) -> Any:
                request.context.extra[HTTP_TRACE_KEY] = lambda sent, got: self.exchanges.append((sent, got))
                return handler(request)

            return traced
        mock = self.mock
        if mock.result is not None:
            _check_result(resource, mock.result, self.validation)

        def handler(request: TaskRequest) -> Any:
            if mock.error is not None:
                raise StatesError(mock.error.error, mock.error.cause)
            return copy.deepcopy(mock.result)

        return handler


class _TestInterpreter(Interpreter):
    """The interpreter with a Map's iterations and a Parallel's branches answered by the mock."""

    def __init__(self, run: Run, tested: State, mock: _Mock | None, failures: int, reader_items: Any) -> None:
        super().__init__(run)
        self.tested = tested
        self.mock = mock
        self.failures = failures
        self.reader_items = reader_items

    def _map_items(self, state: MapState, data: Any, effective: Any, env: Any) -> tuple[list[Any], list[Any], int]:
        if state is self.tested and self.reader_items is not None:
            # ItemReader's items come from stateConfiguration.mapItemReaderData, not from S3.
            return super()._map_items(state, self.reader_items, self.reader_items, env)
        try:
            return super()._map_items(state, data, effective, env)
        except StatesError as err:
            if state.jsonata or err.error != RUNTIME or "The ItemsPath field refers to value" not in (err.cause or ""):
                raise
            # TestState words an ItemsPath that is not an array its own way, with no state prefix, and names
            # a context path ($$.Execution.Input) from its object's root ($.Execution.Input).
            where = state.items_path.text if state.items_path not in (UNSET, None) else "$"
            where = "$" + where[2:] if where.startswith("$$") else where
            raise _Unlocated(RUNTIME, f'Reference path "{where}" must point to array.') from None

    def _locate(self, err: StatesError, state: State, entered: int, branch: Branch) -> None:
        if not isinstance(err, _Unlocated):
            super()._locate(err, state, entered, branch)

    def _fan_out(self, branch: Branch, machines: Sequence[Machine], inputs: Sequence[Any],
                 wrap: Callable[[Branch, Any, int], Any] | None, started: int, workers: int,
                 owner: State | None = None) -> list[Any]:
        if owner is self.tested and isinstance(owner, ParallelState) and self.mock is not None:
            return self._mocked()
        return super()._fan_out(branch, machines, inputs, wrap, started, workers, owner)

    def _iterate(self, state: MapState, inputs: list[Any], branch: Branch, concurrency: int, tolerant: bool,
                 tolerated_count: int | None, tolerated_pct: float | None) -> list[Any]:
        if state is self.tested and self.mock is not None:
            return self._mocked_map(inputs, tolerated_count, tolerated_pct)
        return super()._iterate(state, inputs, branch, concurrency, tolerant, tolerated_count, tolerated_pct)

    def _map_run(self, state: MapState, inputs: list[Any], branch: Branch, concurrency: int, tolerant: bool,
                 tolerated_count: int | None, tolerated_pct: float | None) -> list[Any]:
        if state is self.tested and self.mock is not None:
            return self._mocked_map(inputs, tolerated_count, tolerated_pct)
        return super()._map_run(state, inputs, branch, concurrency, tolerant, tolerated_count, tolerated_pct)

    def _mocked(self) -> Any:
        assert self.mock is not None
        if self.mock.error is not None:
            raise StatesError(self.mock.error.error, self.mock.error.cause)
        return copy.deepcopy(self.mock.result)

    def _mocked_map(self, inputs: list[Any], count: int | None, pct: float | None) -> Any:
        result = self._mocked()
        # stateConfiguration.mapIterationFailureCount: that many iterations failed (only a tolerance makes it fatal).
        if self.failures and self._exceeds(self.failures, len(inputs), count, pct):
            raise StatesError(EXCEED_TOLERATED_FAILURE_THRESHOLD,
                              "The specified tolerated failure threshold was exceeded")
        return result


def test_state(definition: dict[str, Any] | str, input: Any = None, *, state_name: str | None = None,
               inspection_level: str = "INFO", mock: dict[str, Any] | None = None, context: Any = None,
               variables: Any = None, state_configuration: dict[str, Any] | None = None,
               reveal_secrets: bool = False) -> dict[str, Any]:
    """Run one state as AWS's TestState API does; returns its response as boto3 gives it.

    `definition`: one state, or a whole machine with `state_name` (default: its StartAt; states inside
    Map and Parallel states are found too). `mock`: AWS's MockInput ({"result": JSON text} or
    {"errorOutput": {"error", "cause"}}, optional "fieldValidationMode"). `context` and `variables`: JSON
    text (or values) for `$$` and the variables in scope. `state_configuration`: retrierRetryCount,
    errorCausedByState, mapIterationFailureCount, mapItemReaderData. Raises InvalidTestRequest (or
    DefinitionError) for a request AWS would refuse.
    """
    level = inspection_level if inspection_level in LEVELS else _refuse(
        f"inspectionLevel must be one of {', '.join(LEVELS)}, not {inspection_level!r}")
    name, body, jsonata = _locate(definition, state_name)
    config = _configuration(state_configuration)
    parsed_mock, validation = _mock(mock, body)
    reader_items = _reader_items(body, config)
    machine = {"StartAt": name, "States": {name: body, **_stubs(body, name)}}
    if jsonata:
        machine["QueryLanguage"] = "JSONata"
    compiled = StateMachine(machine, name="TestStateMachine")
    state = compiled.machine.states[name]
    retried = config.get("retrierRetryCount", 0)
    recorder = _Recorder(name, retried, list(state.retry))
    if retried:
        # Attempts already made no longer count; the recorder reports the back-off of the next one.
        # Compiled machines are shared through the definition cache: change a copy, never the cached state.
        state = copy.copy(state)
        compiled.machine = copy.copy(compiled.machine)
        compiled.machine.states = {**compiled.machine.states, name: state}
        state.retry = [dataclasses.replace(r, max_attempts=max(0, r.max_attempts - retried)) for r in state.retry]
    data = _json_value(input, "input", {})
    rng = random.Random()
    execution = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    clock = Clock()
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:express:{compiled.name}:{execution}"
    if context is None:
        # TestState's `$$` is an Express execution's: no RedriveCount; the state is entered once, not retried.
        started = iso8601(clock.now())
        doc = {"Execution": {"Id": arn, "Input": data, "StartTime": started, "Name": execution,
                             "RoleArn": DEFAULT_ROLE_ARN},
               "StateMachine": {"Id": compiled.arn, "Name": compiled.name},
               "State": {"EnteredTime": started, "Name": name, "RetryCount": 0}}
    else:
        doc = _json_value(context, "context", None)
    registry = _MockRegistry(parsed_mock, validation, compiled.backends)
    run = Run(
        history=History(limit=None), registry=registry, random=rng,
        execution_arn=arn,
        execution_name=execution, state_machine_arn=compiled.arn, state_machine_name=compiled.name,
        role_arn=DEFAULT_ROLE_ARN, input=data, start_time=clock.now(), deadline=None, real_clock=False,
        observer=recorder, context=doc,
    )
    scope = Variables()
    scope.values.update(_variables(variables))
    branch = Branch(clock, 0, CancelToken(), scope)
    interpreter = _TestInterpreter(run, state, parsed_mock, config.get("mapIterationFailureCount", 0), reader_items)
    response: dict[str, Any]
    details: dict[str, Any] = {}
    try:
        output, next_name = interpreter.run_state(state, data, branch)
    except _Retriable as stop:
        response = {"status": "RETRIABLE", **_error_fields(stop.error)}
        details = {"retryIndex": stop.index, "retryBackoffIntervalSeconds": _seconds(stop.delay)}
    except StatesError as err:
        response = {"status": "FAILED", **_error_fields(err)}
        details = _retry_index(recorder.retriers, err)
    else:
        response = {"status": "SUCCEEDED", "output": to_json(output)}
    finally:
        endpoint.release()  # a handler's AWS environment stays set between calls, not after the state
    if response["status"] == "SUCCEEDED":
        if recorder.caught is not None:
            err, index = recorder.caught
            response.update(status="CAUGHT_ERROR", **_error_fields(err))
            details = {**_retry_index(recorder.retriers, err), "catchIndex": index}
        if next_name is not None:
            response["nextState"] = next_name
    if level != "INFO":
        response["inspectionData"] = _inspection(recorder.stages, state, branch, details)
    if level == "TRACE" and registry.exchanges:
        # The raw HTTP request and response of an HTTP Task (the last attempt's). Local EventBridge
        # connections add no secrets, so revealSecrets has nothing to reveal or hide.
        sent, got = registry.exchanges[-1]
        response["inspectionData"]["request"] = sent
        if got is not None:
            response["inspectionData"]["response"] = got
    return response


def _inspection(stages: dict[str, Any], state: State, branch: Branch, details: dict[str, Any]) -> dict[str, Any]:
    data = {key: stages[key] for key in (*_TEXT_STAGES, *_NUMBER_STAGES) if key in stages}
    if state.type == "Fail" and not state.jsonata and "input" in data:
        data.setdefault("afterInputPath", data["input"])  # a Fail state has no InputPath: its input passes whole
    if "variables" in stages or branch.variables.values:
        data["variables"] = to_json(branch.variables.flatten())
    if details:
        data["errorDetails"] = details
    return data


def _retry_index(retriers: list[Any], err: StatesError) -> dict[str, Any]:
    index = next((i for i, r in enumerate(retriers) if error_matches(r.error_equals, err.error)), None)
    return {} if index is None else {"retryIndex": index}


def _seconds(delay: float) -> int | float:
    return int(delay) if float(delay).is_integer() else delay


def _error_fields(err: StatesError) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if err.error is not None:
        out["error"] = err.error
    if err.cause is not None:
        out["cause"] = err.cause
    return out


def _refuse(message: str, code: str = "ValidationException") -> Any:
    raise InvalidTestRequest(code, message)


def _json_value(value: Any, field: str, default: Any) -> Any:
    """A request value given as JSON text or as a value, copied so the run never changes the caller's."""
    if value is None:
        return default
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError as exc:
            _refuse(f"{field} is not valid JSON: {exc}")
    try:
        return json.loads(to_json(value))
    except (TypeError, ValueError) as exc:
        return _refuse(f"{field} is not JSON: {exc}")


def _variables(value: Any) -> dict[str, Any]:
    parsed = _json_value(value, "variables", {})
    if not isinstance(parsed, dict):
        _refuse("variables must be a JSON object mapping variable names to values")
    return parsed


def _locate(definition: dict[str, Any] | str, state_name: str | None) -> tuple[str, dict[str, Any], bool]:
    """The tested state's name, a copy of its definition, and whether it runs as JSONata."""
    spec = load_definition(copy.deepcopy(definition) if isinstance(definition, dict) else definition)
    if not isinstance(spec, dict):
        _refuse("the definition must be a JSON object: a state, or a state machine", "InvalidDefinition")
    if "States" not in spec:
        if state_name is not None:
            _refuse("stateName is only accepted with a state machine definition")
        if "QueryLanguage" not in spec:
            return LONE_STATE_NAME, spec, False
        return LONE_STATE_NAME, spec, spec["QueryLanguage"] == "JSONata"
    # The whole machine must be valid, as AWS checks it before testing one of its states.
    diagnostics = validate_definition(spec)
    if diagnostics:
        raise DefinitionError(diagnostics)
    name = spec.get("StartAt") if state_name is None else state_name
    body = _find(spec.get("States") or {}, name)
    if body is None:
        _refuse(f"stateName {name!r} is not a state of the definition")
    top = spec.get("QueryLanguage", "JSONPath") == "JSONata"
    return name, copy.deepcopy(body), body.get("QueryLanguage", "JSONata" if top else "JSONPath") == "JSONata"


def _find(states: dict[str, Any], name: str | None) -> dict[str, Any] | None:
    for key, body in states.items():
        if key == name:
            return body
        inner = [body.get("ItemProcessor"), body.get("Iterator"), *(body.get("Branches") or [])]
        for machine in inner:
            if isinstance(machine, dict) and (found := _find(machine.get("States") or {}, name)) is not None:
                return found
    return None


def _stubs(body: dict[str, Any], name: str) -> dict[str, Any]:
    """Stand-ins for the states the tested state may go to, so its Next/Default/Catch targets exist."""
    targets = [body.get("Next"), body.get("Default")]
    targets += [rule.get("Next") for rule in body.get("Choices") or [] if isinstance(rule, dict)]
    targets += [c.get("Next") for c in body.get("Catch") or [] if isinstance(c, dict)]
    return {t: {"Type": "Succeed"} for t in targets if isinstance(t, str) and t != name}


def _configuration(config: dict[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, dict):
        _refuse("stateConfiguration must be an object")
    for key, value in config.items():
        if key not in _CONFIGURATION_KEYS:
            _refuse(f"stateConfiguration.{key} is not a known field ({', '.join(_CONFIGURATION_KEYS)})")
        if key in ("retrierRetryCount", "mapIterationFailureCount") and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0):
            _refuse(f"stateConfiguration.{key} must be a non-negative integer")
    return config


def _reader_items(body: dict[str, Any], config: dict[str, Any]) -> Any:
    """A Map's ItemReader is read from stateConfiguration.mapItemReaderData (TestState reads no S3)."""
    if "mapItemReaderData" in config and (body.get("Type") != "Map" or "ItemReader" not in body):
        _refuse("stateConfiguration.mapItemReaderData is only accepted for a Map state with an ItemReader")
    if body.get("Type") != "Map" or "ItemReader" not in body:
        return None
    if "mapItemReaderData" not in config:
        _refuse("a Map state with an ItemReader needs stateConfiguration.mapItemReaderData")
    items = _json_value(config["mapItemReaderData"], "stateConfiguration.mapItemReaderData", None)
    if not isinstance(items, list):
        _refuse("stateConfiguration.mapItemReaderData must be a JSON array")
    del body["ItemReader"]
    return items


def _mock(mock: dict[str, Any] | None, body: dict[str, Any]) -> tuple[_Mock | None, str]:
    if mock is None:
        return None, "NONE"
    kind = body.get("Type")
    if kind not in _MOCKABLE:
        _refuse(f"a mock is only accepted for Task, Map and Parallel states, not {kind}")
    if not isinstance(mock, dict):
        _refuse("mock must be an object with result or errorOutput")
    validation = mock.get("fieldValidationMode", "STRICT")
    if validation not in VALIDATION_MODES:
        _refuse(f"mock.fieldValidationMode must be one of {', '.join(VALIDATION_MODES)}, not {validation!r}")
    has_result, has_error = "result" in mock, "errorOutput" in mock
    if has_result == has_error:
        _refuse("mock takes exactly one of result and errorOutput")
    if has_error:
        spec = mock["errorOutput"]
        if not isinstance(spec, dict):
            _refuse("mock.errorOutput must be an object with error and cause")
        return _Mock(error=StatesError(spec.get("error"), spec.get("cause"))), validation
    result = _json_value(mock["result"], "mock.result", None)
    if kind in ("Map", "Parallel") and not isinstance(result, list):
        _refuse(f"the mock result of a {kind} state must be a JSON array")
    if kind == "Parallel" and len(result) != len(body.get("Branches") or []):
        _refuse(f"the mock result of a Parallel state must have one element per branch "
                f"({len(body.get('Branches') or [])}), not {len(result)}")
    return _Mock(result=result), validation


def _check_result(resource: Resource, result: Any, mode: str) -> None:
    """fieldValidationMode: STRICT checks required members and the type of each present member of the
    API's output shape; PRESENT only the present ones; members the API does not have are let through."""
    if mode == "NONE" or resource.kind != "service" or resource.pattern:
        return  # a Lambda function, an activity or a callback/.sync result has no API output shape
    from emulator.integrations.shapes import output_problems  # botocore loads only when a result is checked

    problems = output_problems(resource.service, resource.action, result) or []
    if mode == "PRESENT":
        problems = [p for p in problems if not p[2]]
    if problems:
        where, constraint, _ = problems[0]
        _refuse(f"The mock result does not match the {resource.service}:{resource.action} API's output: "
                f"{where or '$'}: {constraint}")


@click.command("test-state")
@click.argument("definition")
@click.option("--input", "input_text", default=None, help="The state's input: JSON text, or @FILE.")
@click.option("--state-name", default=None, help="The state to test in a whole state machine definition.")
@click.option("--inspection-level", type=click.Choice(LEVELS), default="INFO", show_default=True)
@click.option("--mock", "mock_text", default=None, help='AWS MockInput JSON, e.g. \'{"result": "{\\"a\\": 1}"}\'.')
@click.option("--variables", default=None, help="Variables in scope: a JSON object.")
@click.option("--context", default=None, help="The context object ($$): JSON.")
@click.option("--state-configuration", default=None, help="stateConfiguration JSON (retrierRetryCount, ...).")
def test_state_command(definition: str, input_text: str | None, state_name: str | None, inspection_level: str,
                       mock_text: str | None, variables: str | None, context: str | None,
                       state_configuration: str | None) -> None:
    """Run one state of DEFINITION (a file or JSON text) as AWS's TestState API; print the response."""
    try:
        response = test_state(
            definition, _cli_json(input_text, "--input"), state_name=state_name, inspection_level=inspection_level,
            mock=_cli_json(mock_text, "--mock"), context=context, variables=variables,
            state_configuration=_cli_json(state_configuration, "--state-configuration"))
    except InvalidTestRequest as exc:
        raise click.ClickException(str(exc)) from None
    except DefinitionError as exc:
        raise click.ClickException("InvalidDefinition: " + "; ".join(
            f"{d.location or '/'}: {d.message}" for d in exc.diagnostics)) from None
    click.echo(json.dumps(response, indent=2))
    sys.exit(0 if response["status"] in ("SUCCEEDED", "CAUGHT_ERROR") else 1)


def _cli_json(text: str | None, option: str) -> Any:
    if text is None:
        return None
    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {text[1:]}: {exc.strerror}", param_hint=option) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint=option) from None
