"""Running compiled states: the transition loop, data flow, retries, fan-out and history.

The loop is the hot path: a transition records one history event pair (snapshots of the state's
input and output, whose JSON text is made when the history is read), checks its output's size on
that snapshot (engine/history.py) and does no parsing.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from marshal import dumps as _marshal
from typing import Any

from emulator import background
from emulator.asl import jsonata
from emulator.asl.choice import parse_timestamp
from emulator.asl.paths import PathNotFound
from emulator.asl.states import (
    UNSET,
    Catcher,
    ChoiceState,
    FailState,
    Machine,
    MapState,
    ParallelState,
    PassState,
    State,
    SucceedState,
    TaskState,
    WaitState,
)
from emulator.asl.values import from_json, to_json
from emulator.engine import distributed
from emulator.engine.clock import Cancelled, CancelToken, Clock, backoff_delay, iso8601
from emulator.engine.history import MAX_PAYLOAD_BYTES, History, check_payload, check_snapshot, snapshot
from emulator.engine.observe import Context, Observer, Path, RunAgain
from emulator.engine.variables import Variables
from emulator.errors import (
    ALL,
    EXCEED_TOLERATED_FAILURE_THRESHOLD,
    HEARTBEAT_TIMEOUT,
    NO_CHOICE_MATCHED,
    NOT_MATCHED_BY_ALL,
    QUERY_EVALUATION_ERROR,
    RUNTIME,
    TASK_FAILED,
    TIMEOUT,
    StatesError,
    TaskTimedOut,
)
from emulator.integrations import Registry, Resource, TaskContext, TaskRequest, parse_resource

# AWS rejects waits longer than a signed 32-bit number of seconds.
_MAX_WAIT_SECONDS = 2**31 - 1
# Errors the engine raises about a state, whose cause AWS prefixes with the state's name.
_LOCATED = frozenset({RUNTIME, QUERY_EVALUATION_ERROR})
# AWS runs at most 40 iterations of an inline Map at once.
_MAX_INLINE_CONCURRENCY = 40
_RETRYABLE = frozenset({"Task", "Parallel", "Map"})  # the state types that take Retry
# Each state type's entered and exited event types, and whether it takes Retry.
_EVENT_TYPES = {kind: (kind + "StateEntered", kind + "StateExited", kind in _RETRYABLE)
                for kind in ("Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")}


class ExecutionTimedOut(Exception):
    """The execution's TimeoutSeconds passed."""


@dataclass
class Run:
    """What every branch of one execution shares."""

    history: History
    registry: Registry
    random: random.Random
    execution_arn: str
    execution_name: str
    state_machine_arn: str
    state_machine_name: str
    role_arn: str
    input: Any
    start_time: float
    deadline: float | None
    real_clock: bool
    observer: Observer | None = None
    context: dict[str, Any] | None = None  # a fixed `$$` (TestState's context), else built per state
    redrive_count: int = 0  # $$.Execution.RedriveCount
    # A redrive: the top-level state to start at, and a Map's succeeded iterations to reuse {state: {index: output}}.
    redrive_from: str | None = None
    redrive_reuse: dict[str, dict[int, Any]] | None = None
    map_runs: list[Any] = field(default_factory=list)  # Distributed Map runs (engine/distributed.py)
    # A resumed execution: each branch's recorded events, matched instead of added again (engine/redrive.py).
    replay: Any = None


class Branch:
    """One thread of control: the execution itself, a Parallel branch or a Map iteration."""

    __slots__ = ("cancel", "checked", "clock", "last", "path", "snap", "variables")

    def __init__(self, clock: Clock, last: int, cancel: CancelToken, variables: Variables) -> None:
        self.clock = clock
        self.last = last  # id of this branch's latest event: the next one's previousEventId
        self.cancel = cancel
        self.variables = variables
        # The latest value known to be within the payload limit (the previous state's output), and its
        # snapshot (engine/history.py): a state passing its input on unchanged needs no new check, and the
        # next state's entered event records the same snapshot.
        self.checked: Any = UNSET
        self.snap: bytes | str = b""
        self.path: Path = ()  # (Parallel/Map state, index) per level, for observers

    def fork(self, last: int, cancel: CancelToken, variables: Variables | None = None) -> Branch:
        """A child branch: its own clock, and a variable scope that reads this one's."""
        return Branch(self.clock.fork(), last, cancel, variables if variables is not None else self.variables.child())


class Env:
    """Evaluation environment of one state run (asl.paths.Env): `$$`, variables, randomness."""

    __slots__ = ("_context", "branch", "entered", "entered_event", "map_item", "pending", "retry_count", "retryable",
                 "run", "state_name", "task_token")

    def __init__(self, run: Run, branch: Branch, state_name: str, entered: float, entered_event: int,
                 retryable: bool = True) -> None:
        self.run = run
        self.branch = branch
        self.state_name = state_name
        self.entered = entered
        self.entered_event = entered_event
        self.retry_count = 0
        self.retryable = retryable
        self.task_token: str | None = None
        self.map_item: dict[str, Any] | None = None
        self.pending: dict[str, Any] | None = None  # the state's Assign, applied when it exits
        self._context: dict[str, Any] | None = None

    @property
    def context(self) -> dict[str, Any]:
        if self.run.context is not None:
            # A fixed `$$` (TestState's); an ItemSelector still sees the item it selects from.
            if self.map_item is None:
                return self.run.context
            return {**self.run.context, "Map": {"Item": self.map_item}}
        if self._context is None:
            run = self.run
            doc: dict[str, Any] = {
                "Execution": {
                    "Id": run.execution_arn,
                    "Input": run.input,
                    "StartTime": iso8601(run.start_time),
                    "Name": run.execution_name,
                    "RoleArn": run.role_arn,
                    "RedriveCount": run.redrive_count,
                },
                "StateMachine": {"Id": run.state_machine_arn, "Name": run.state_machine_name},
                "State": {"EnteredTime": iso8601(self.entered), "Name": self.state_name},
            }
            if self.retryable:  # AWS's `$$.State` has RetryCount only in states that can retry
                doc["State"]["RetryCount"] = self.retry_count
            if self.task_token is not None:
                doc["Task"] = {"Token": self.task_token}
            if self.map_item is not None:
                doc["Map"] = {"Item": self.map_item}
            self._context = doc
        return self._context

    def invalidate(self) -> None:
        self._context = None

    @property
    def variables(self) -> Variables:
        return self.branch.variables

    def bindings(self, input: Any, result: Any = UNSET, error_output: Any = UNSET) -> dict[str, Any]:
        """What a JSONata expression sees: the variables in scope and `$states`."""
        states: dict[str, Any] = {"input": input, "context": jsonata.Deferred(lambda: self.context)}
        if result is not UNSET:
            states["result"] = result
        if error_output is not UNSET:
            states["errorOutput"] = error_output
        out = self.branch.variables.flatten()
        out["states"] = states
        return out

    @property
    def random(self) -> random.Random:
        return self.run.random


def _error_output(err: StatesError, error_key: str = "Error", cause_key: str = "Cause") -> dict[str, Any]:
    """The error as a Catch hands it on ({"Error", "Cause"}), or as event details ({"error", "cause"})."""
    out: dict[str, Any] = {}
    if err.error is not None:
        out[error_key] = err.error
    if err.cause is not None:
        out[cause_key] = err.cause
    return out


def _wait_path(path: Any, field: str, data: Any, env: Env) -> Any:
    """A Wait's SecondsPath/TimestampPath value; a missing one in AWS's words, naming the field and path."""
    try:
        return path.get(data, env)
    except PathNotFound:
        raise StatesError(RUNTIME, f"The {field} parameter does not reference an input value: {path.text}") from None


def _failure_details(err: StatesError) -> dict[str, Any]:
    return _error_output(err, "error", "cause")


def _failed_details(err: StatesError, names: dict[str, str] | None) -> dict[str, Any] | Callable[[], dict[str, Any]]:
    """A failed task's event details; a handler's error document (costly) is written when the history is read."""
    base = names or {}
    cause_later = getattr(err, "cause_later", None)
    if cause_later is None:
        return {**base, **_failure_details(err)}
    error, cause = err.error, cause_later()
    return lambda: {**base, "error": error, "cause": cause()}


def error_matches(error_equals: tuple[str, ...], error: str | None) -> bool:
    """Whether a Retrier or Catcher naming `error_equals` takes `error` (States.ALL, States.TaskFailed rules)."""
    if error in NOT_MATCHED_BY_ALL:
        return error in error_equals and error != RUNTIME
    return any(name in (ALL, error) or (name == TASK_FAILED and error != TIMEOUT) for name in error_equals)


def _display(value: Any) -> str:
    return value if isinstance(value, str) else to_json(value)


class Interpreter:
    """Runs machines for one execution."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.observer = run.observer
        self._resources: dict[int, Resource] = {}

    # -- events -------------------------------------------------------------------------
    def event(self, branch: Branch, event_type: str, key: str | None = None,
              details: Any = None, previous: int | None = None, second: Any = None) -> int:
        """Add an event (History.add's `details` and `second`) to the branch, or take the recorded one (a resumed
        execution's); its id."""
        if self.run.replay is not None and (recorded := self.run.replay.take(branch.path, event_type)) is not None:
            branch.last = recorded
            return recorded
        event_id = self.run.history.add(
            event_type, branch.last if previous is None else previous, branch.clock.now(), key, details, branch.path,
            second,
        )
        branch.last = event_id
        return event_id

    # -- the loop -----------------------------------------------------------------------
    def run_machine(self, machine: Machine, data: Any, branch: Branch, start: str | None = None) -> Any:
        states = machine.states
        name: str | None = start or machine.start_at
        deadline = self.run.deadline
        while True:
            if branch.cancel.cancelled:
                raise Cancelled()
            if deadline is not None and branch.clock.now() >= deadline:
                raise ExecutionTimedOut()
            try:
                data, name = self.run_state(states[name], data, branch)
            except RunAgain as again:  # only an observer (a debugger) raises it
                data, name = again.input, again.state or name
                continue
            if name is None:
                return data

    def run_state(self, state: State, data: Any, branch: Branch) -> tuple[Any, str | None]:
        kind = state.type
        entered_type, exited_type, retryable = _EVENT_TYPES[kind]
        run = self.run
        now = branch.clock.now()
        # The name and a snapshot: History builds AWS's details dict, and the value's text, when the event is read.
        snap = branch.snap if data is branch.checked else snapshot(data)
        if run.replay is None:
            entered = branch.last = run.history.add(entered_type, branch.last, now, "stateEnteredEventDetails",
                                                    state.name, branch.path, snap)
        else:
            entered = self.event(branch, entered_type, "stateEnteredEventDetails", state.name, second=snap)
        env = Env(run, branch, state.name, now, entered, retryable)
        obs = self.observer
        if obs is not None:
            obs.state_entered(self._ctx(env), state, data)
        try:
            try:
                output, next_name = _EXECUTORS[kind](self, state, data, branch, env)
            except RecursionError:
                # Parallel/Map states (or data) nested past the engine's recursion limit: a state error
                # the execution reports, never a Python exception escaping the run.
                raise StatesError(RUNTIME, "The state nests Parallel/Map states or data too deeply to run.") from None
        except StatesError as err:
            self._locate(err, state, entered, branch)
            catcher = self._catcher(state.catch, err)
            if catcher is None:
                if obs is not None:
                    obs.state_failed(self._ctx(env), state, err)
                raise
            if obs is not None:
                obs.error_caught(self._ctx(env), state, err, state.catch.index(catcher))
            output = self._caught(state, catcher, data, _error_output(err), env)
            next_name = catcher.next
        if output is not branch.checked:
            try:  # history.snapshot and check_snapshot, inlined for the common case: the hot path's costliest calls
                snap = _marshal(output, 2)
            except ValueError:  # snapshot's fallback: the text itself
                snap = to_json(output)
            if type(snap) is str or 6 * len(snap) > MAX_PAYLOAD_BYTES:
                check_snapshot(snap, state.name, output)
            branch.checked, branch.snap = output, snap
        details: Any = state.name
        snap = branch.snap
        if env.pending:
            if obs is not None:
                obs.stage(self._ctx(env), state, "variables", env.pending)
            details = {"name": state.name, "output": to_json(output), "outputDetails": {"truncated": False},
                       "assignedVariables": branch.variables.assign(env.pending),
                       "assignedVariablesDetails": {"truncated": False}}
            snap = None
        if run.replay is None:
            branch.last = run.history.add(exited_type, branch.last, branch.clock.now(), "stateExitedEventDetails",
                                          details, branch.path, snap)
        else:
            self.event(branch, exited_type, "stateExitedEventDetails", details, second=snap)
        if obs is not None:
            obs.state_exited(self._ctx(env), state, output, next_name)
        return output, next_name

    def _ctx(self, env: Env) -> Context:
        return Context(self.run.execution_arn, env.branch.path, env.state_name, env.retry_count, env)

    def _stage(self, state: State, env: Env, name: str, value: Any) -> None:
        """Report a data-flow stage (callers check `self.observer` first: the hot path skips the call)."""
        self.observer.stage(self._ctx(env), state, name, value)

    def _locate(self, err: StatesError, state: State, entered: int, branch: Branch) -> None:
        """Name the state in the cause of errors the engine itself raises, as AWS does (once)."""
        if err.error not in _LOCATED or err.cause is None or err.cause.startswith("An error occurred"):
            return
        err.cause = (f"An error occurred while executing the state '{state.name}' "
                     f"(entered at the event id #{entered}). {err.cause}")
        if err.error == QUERY_EVALUATION_ERROR:
            self.event(branch, "EvaluationFailed", "evaluationFailedEventDetails",
                       {"error": err.error, "cause": err.cause, "location": err.location or "", "state": state.name})

    def _caught(self, state: State, catcher: Catcher, data: Any, error_output: dict[str, Any], env: Env) -> Any:
        """The output (and Assign) a Catch gives: the state's own Assign does not apply."""
        env.pending = None
        if state.jsonata:
            bindings = env.bindings(data, error_output=error_output)
            if catcher.assign is not None:
                env.pending = catcher.assign.render(bindings, env.random)
            return catcher.output.render(bindings, env.random) if catcher.output is not None else error_output
        if catcher.assign is not None:
            env.pending = catcher.assign.render(error_output, env)
        return self._apply_result_path(catcher.result_path, data, error_output)

    @staticmethod
    def _catcher(catchers: list[Catcher], err: StatesError) -> Catcher | None:
        for catcher in catchers:
            if error_matches(catcher.error_equals, err.error):
                return catcher
        return None

    # -- data flow ----------------------------------------------------------------------
    @staticmethod
    def _select(path: Any, data: Any, env: Env) -> Any:
        """InputPath / OutputPath: absent keeps the data, null gives {}."""
        if path is UNSET:
            return data
        return {} if path is None else path.get(data, env)

    def _input(self, state: State, data: Any, env: Env) -> Any:
        """The effective input: InputPath applied (JSONata states take their input whole)."""
        if state.jsonata:
            return data
        effective = self._select(state.input_path, data, env)
        if self.observer is not None:
            self._stage(state, env, "afterInputPath", effective)
        return effective

    def _payload(self, state: State, effective: Any, env: Env) -> Any:
        """What a Task, Parallel branch or Pass works on: Parameters (JSONPath) or Arguments (JSONata)."""
        if state.jsonata:
            if not state.arguments:
                return effective
            payload = state.arguments.render(env.bindings(effective), env.random)
            if self.observer is not None:
                self._stage(state, env, "afterArguments", payload)
            return payload
        payload = state.parameters.render(effective, env) if state.parameters is not None else effective
        if self.observer is not None:
            self._stage(state, env, "afterParameters", payload)
        return payload

    @staticmethod
    def _apply_result_path(path: Any, data: Any, result: Any) -> Any:
        if path is UNSET:
            return result
        return data if path is None else path.set(data, result)

    def _output(self, state: State, data: Any, result: Any, env: Env, rule: Any = None) -> Any:
        """The state's output, and its Assign (kept pending until the state exits).

        JSONPath: ResultSelector → Assign (over the result) → ResultPath → OutputPath.
        JSONata: Assign and Output over $states.input/result. `result` is UNSET for states
        without one (Choice, Wait, Succeed: their effective input flows through).
        """
        assign = rule.assign if rule is not None and rule.assign is not None else state.assign
        if self.observer is not None and result is not UNSET:
            self._stage(state, env, "result", result)
        if state.jsonata:
            bindings = env.bindings(data, result)
            if assign is not None:
                env.pending = assign.render(bindings, env.random)
            output = rule.output if rule is not None and rule.output is not None else state.output
            if output is not None:
                return output.render(bindings, env.random)
            return data if result is UNSET else result
        if result is UNSET:
            if assign is not None:
                env.pending = assign.render(data, env)
            return self._select(state.output_path, data, env)
        if state.result_selector is not None:
            result = state.result_selector.render(result, env)
        if assign is not None:
            env.pending = assign.render(result, env)
        combined = self._apply_result_path(state.result_path, data, result)
        if self.observer is not None:
            self._stage(state, env, "afterResultSelector", result)
            self._stage(state, env, "afterResultPath", combined)
        return self._select(state.output_path, combined, env)

    # -- retry --------------------------------------------------------------------------
    def _with_retry(self, state: State, branch: Branch, env: Env, attempt: Callable[[], Any]) -> Any:
        counts = [0] * len(state.retry)
        while True:
            try:
                return attempt()
            except StatesError as err:
                index = next((i for i, r in enumerate(state.retry) if error_matches(r.error_equals, err.error)), None)
                if index is None:
                    raise
                retrier = state.retry[index]
                if counts[index] >= retrier.max_attempts:
                    raise
                delay = backoff_delay(retrier.interval_seconds, retrier.backoff_rate, counts[index],
                                      retrier.max_delay_seconds)
                if retrier.jitter_full:
                    delay = self.run.random.uniform(0, delay)
                if self.observer is not None:
                    self.observer.retry_scheduled(self._ctx(env), state, err, index, delay)
                counts[index] += 1
                env.retry_count += 1
                env.invalidate()
                self._sleep(branch, delay)

    def _sleep(self, branch: Branch, seconds: float) -> None:
        if self.run.replay is not None:  # resumed: a recorded wait is over, one cut short has its rest left
            seconds = self.run.replay.remaining(branch.path, seconds, branch.clock.real)
        deadline = self.run.deadline
        if deadline is not None and branch.clock.now() + seconds >= deadline:
            branch.clock.sleep(max(0.0, deadline - branch.clock.now()), branch.cancel)
            raise ExecutionTimedOut()
        branch.clock.sleep(seconds, branch.cancel)

    # -- state types --------------------------------------------------------------------
    @staticmethod
    def _field(state: State, value: Any, data: Any, env: Env) -> Any:
        """A field that JSONata states may write as an expression (Seconds, Error, MaxConcurrency, ...)."""
        if state.jsonata and value is not None:
            return value.render(env.bindings(data), env.random)
        return value

    def _pass(self, state: PassState, data: Any, branch: Branch, env: Env) -> tuple[Any, str | None]:
        if state.jsonata:
            return self._output(state, data, UNSET, env), state.next
        if self.observer is None and state.assign is None:  # the common case, without the stages' calls
            path = state.input_path
            effective = data if path is UNSET else {} if path is None else path.get(data, env)
            result = state.result
            if result is UNSET:
                result = state.parameters.render(effective, env) if state.parameters is not None else effective
            path = state.result_path
            combined = result if path is UNSET else data if path is None else path.set(data, result)
            path = state.output_path
            return (combined if path is UNSET else {} if path is None else path.get(combined, env)), state.next
        effective = self._input(state, data, env)
        result = state.result if state.result is not UNSET else self._payload(state, effective, env)
        return self._output(state, data, result, env), state.next

    def _succeed(self, state: SucceedState, data: Any, branch: Branch, env: Env) -> tuple[Any, str | None]:
        return self._output(state, self._input(state, data, env), UNSET, env), None

    def _fail(self, state: FailState, data: Any, branch: Branch, env: Env) -> tuple[Any, str | None]:
        error = self._fail_field(state, state.error, state.error_path, data, env, "Error")
        cause = self._fail_field(state, state.cause, state.cause_path, data, env, "Cause")
        raise StatesError(error, cause)

    def _fail_field(self, state: FailState, fixed: Any, path: Any, data: Any, env: Env, field: str) -> str | None:
        if path is None:
            value = self._field(state, fixed, data, env)
            if state.jsonata and value is not None and not isinstance(value, str):
                raise jsonata.type_error(fixed.source, field, "string", value)
            return value
        value = path.get(data, env) if hasattr(path, "get") else path.evaluate(data, env)
        if not isinstance(value, str):
            raise StatesError(RUNTIME, f"The {field}Path field must resolve to a string, but got: {to_json(value)}")
        return value

    def _choice(self, state: ChoiceState, data: Any, branch: Branch, env: Env) -> tuple[Any, str | None]:
        effective = self._input(state, data, env)
        for rule in state.choices:
            if rule.predicate(effective, env):
                if rule.assign is None and state.assign is None and not state.jsonata and self.observer is None:
                    path = state.output_path  # the common case, without _output's stages
                    return (effective if path is UNSET else {} if path is None else path.get(effective, env)), rule.next
                return self._output(state, effective, UNSET, env, rule), rule.next
        if state.default is None:
            raise StatesError(NO_CHOICE_MATCHED, "No Matches!")
        return self._output(state, effective, UNSET, env), state.default

    def _wait(self, state: WaitState, data: Any, branch: Branch, env: Env) -> tuple[Any, str | None]:
        effective = self._input(state, data, env)
        if state.seconds is not None:
            seconds = self._field(state, state.seconds, data, env)
            if state.jsonata and (isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0):
                raise jsonata.type_error(state.seconds.source, "Seconds", "integer", seconds)
        elif state.seconds_path is not None:
            value = _wait_path(state.seconds_path, "SecondsPath", effective, env)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool):
                raise StatesError(RUNTIME, f"The SecondsPath parameter cannot be parsed as a long value: "
                                           f"{state.seconds_path.text} == {_display(value)}")
            if value < 0:
                raise StatesError(RUNTIME, f"The SecondsPath parameter references a negative value: "
                                           f"{state.seconds_path.text} == {value}")
            seconds = value
        else:
            if state.timestamp_path is not None:
                text = _wait_path(state.timestamp_path, "TimestampPath", effective, env)
            else:
                text = self._field(state, state.timestamp, data, env)
            when = parse_timestamp(text)
            if when is None and state.timestamp_path is not None:
                raise StatesError(RUNTIME, "The TimestampPath parameter does not reference a valid ISO-8601 "
                                           f"extended offset date-time format string: {state.timestamp_path.text} == "
                                           f"{_display(text)}")
            if when is None:  # a literal Timestamp is checked by validation; this is a JSONata result
                raise StatesError(QUERY_EVALUATION_ERROR, "The Timestamp field cannot be parsed as an ISO-8601 "
                                                          f"extended offset date-time format string: {_display(text)}",
                                  "Timestamp")
            seconds = max(0.0, when.timestamp() - branch.clock.now())
        if seconds > _MAX_WAIT_SECONDS:
            raise StatesError(RUNTIME, "Wait state delay is too long.")
        self._sleep(branch, seconds)
        return self._output(state, effective, UNSET, env), state.next

    # -- Task -----------------------------------------------------------------------------
    def _task(self, state: TaskState, data: Any, branch: Branch, env: Env) -> tuple[Any, str | None]:
        effective = self._input(state, data, env)
        resource = self._resources.get(id(state))
        if resource is None:
            resource = self._resources[id(state)] = parse_resource(state.resource)
        if resource.pattern == "waitForTaskToken":
            env.task_token = str(uuid.UUID(int=self.run.random.getrandbits(128), version=4))
        timeout = self._seconds(state, state.timeout_seconds, state.timeout_seconds_path, effective, env,
                                "TimeoutSeconds")
        heartbeat = self._seconds(state, state.heartbeat_seconds, state.heartbeat_seconds_path, effective, env,
                                  "HeartbeatSeconds")
        handler = self.run.registry.resolve(resource)

        def attempt() -> Any:
            # The payload is rendered per attempt: $$.State.RetryCount changes between them.
            payload = self._payload(state, effective, env)
            return self._invoke(state, resource, handler, payload, branch, env, timeout, heartbeat)

        if env.task_token is None:
            result = self._with_retry(state, branch, env, attempt)
        else:
            from emulator.engine import tokens

            with tokens.issued(env.task_token):  # answerable from TaskScheduled on
                result = self._with_retry(state, branch, env, attempt)
        return self._output(state, data, result, env), state.next

    def _seconds(self, state: State, fixed: Any, path: Any, data: Any, env: Env, field: str) -> float | None:
        if path is None:
            value = self._field(state, fixed, data, env)
            if state.jsonata and value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                                        or value <= 0):
                raise jsonata.type_error(fixed.source, field, "integer", value)
            return value
        value = path.get(data, env)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise StatesError(RUNTIME, f"The {path.text} path must reference a positive integer, but got: "
                                       f"{_display(value)}")
        return value

    def _invoke(self, state: TaskState, resource: Resource, handler: Callable[[TaskRequest], Any], payload: Any,
                branch: Branch, env: Env, timeout: float | None, heartbeat: float | None) -> Any:
        lambda_style = resource.kind == "lambda"
        payload_text = to_json(payload)
        if lambda_style:
            names = None
            scheduled = {"resource": resource.arn, "input": payload_text, "inputDetails": {"truncated": False}}
            if timeout is not None:
                scheduled["timeoutInSeconds"] = int(timeout)
            self.event(branch, "LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails", scheduled)
            self.event(branch, "LambdaFunctionStarted")
        else:
            names = {"resourceType": resource.service, "resource": resource.history_resource}
            scheduled = {**names, "region": resource.region, "parameters": payload_text}
            if timeout is not None:
                scheduled["timeoutInSeconds"] = int(timeout)
            if heartbeat is not None:
                scheduled["heartbeatInSeconds"] = int(heartbeat)
            self.event(branch, "TaskScheduled", "taskScheduledEventDetails", scheduled)
            self.event(branch, "TaskStarted", "taskStartedEventDetails", dict(names))

        clock = branch.clock
        started = clock.now()
        beat = [started]

        def sleeper(seconds: float) -> None:
            if branch.cancel.cancelled:  # a virtual sleep never blocks, so StopExecution is seen here
                raise Cancelled()
            limit = None
            if timeout is not None:
                limit = (started + timeout, TIMEOUT)
            if heartbeat is not None and (limit is None or beat[0] + heartbeat < limit[0]):
                limit = (beat[0] + heartbeat, HEARTBEAT_TIMEOUT)
            if limit is not None and clock.now() + seconds > limit[0]:
                clock.sleep(max(0.0, limit[0] - clock.now()), branch.cancel)
                raise TaskTimedOut(limit[1])
            clock.sleep(seconds, branch.cancel)

        def heartbeater() -> None:
            beat[0] = clock.now()

        if self.run.replay is not None:  # resumed: a recorded outcome stands; a task cut short runs again
            handler = self.run.replay.outcome(branch.path) or handler
        context = TaskContext(
            execution_arn=self.run.execution_arn, state_name=state.name, task_token=env.task_token,
            credentials=state.credentials, sleeper=sleeper, heartbeater=heartbeater, idler=clock.timeline.idle,
        )
        try:
            # The handler gets its own copy: the payload may share objects with the definition,
            # the execution input or other iterations, and handlers may change what they get.
            request = TaskRequest(resource, from_json(payload_text), context)
            with background.owned_by(clock.owner):
                if clock.real and timeout is not None:
                    result = _call_with_deadline(handler, request, timeout)
                else:
                    result = handler(request)
            if timeout is not None and clock.now() - started > timeout:
                raise TaskTimedOut(TIMEOUT)
            text = to_json(result)
            check_payload(text, state.name)
            if isinstance(result, dict | list | tuple):
                # The run's own copy: the history shows this value later, and the handler may keep and change its own.
                result = from_json(text)
        except StatesError as err:
            if err.error == RUNTIME:
                raise
            outcome = "TimedOut" if isinstance(err, TaskTimedOut) else "Failed"
            details = _failed_details(err, names)
            if lambda_style:
                self.event(branch, f"LambdaFunction{outcome}", f"lambdaFunction{outcome}EventDetails", details)
            else:
                self.event(branch, f"Task{outcome}", f"task{outcome}EventDetails", details)
            raise
        if lambda_style:
            self.event(branch, "LambdaFunctionSucceeded", "lambdaFunctionSucceededEventDetails",
                       {"output": text, "outputDetails": {"truncated": False}})
        else:
            if resource.pattern.startswith("sync"):
                self.event(branch, "TaskSubmitted", "taskSubmittedEventDetails",
                           {**names, "output": payload_text, "outputDetails": {"truncated": False}})
            self.event(branch, "TaskSucceeded", "taskSucceededEventDetails",
                       {**names, "output": text, "outputDetails": {"truncated": False}})
        return result

    # -- Parallel -------------------------------------------------------------------------
    def _parallel(self, state: ParallelState, data: Any, branch: Branch, env: Env) -> tuple[Any, str | None]:
        payload = self._payload(state, self._input(state, data, env), env)

        def attempt() -> list[Any]:
            started = self.event(branch, "ParallelStateStarted")
            return self._fan_out(branch, state.branches, [payload] * len(state.branches), None, started,
                                 len(state.branches),
                                 state)

        # AWS emits no ParallelStateSucceeded, and ParallelStateFailed only once retries are spent.
        try:
            results = self._with_retry(state, branch, env, attempt)
        except StatesError:
            self.event(branch, "ParallelStateFailed")
            raise
        return self._output(state, data, results, env), state.next

    def _concurrent(self, machines: Sequence[Machine]) -> bool:
        return any(m.has_task or m.has_wait for m in machines)

    def _fan_out(self, branch: Branch, machines: Sequence[Machine], inputs: Sequence[Any],
                 wrap: Callable[[Branch, Any, int], Any] | None, started: int, workers: int,
                 owner: State | None = None) -> list[Any]:
        """Run sub-machines (Parallel branches, or Map iterations through `wrap`) on their inputs; results in
        their order.

        Runs them one after the other unless one can block (a Task, or a real-time Wait):
        pure-ASL work gains nothing from threads under the GIL, and order is deterministic.
        The first failure stops the rest and is raised.
        """
        cancel = CancelToken(branch.cancel)
        children: list[Branch] = []  # on threads: each child, for its clock and last event
        current: list[Branch] = [branch]  # one after the other: the child running (the parent before the first)
        results: list[Any] = [None] * len(machines)

        def one(index: int, last: int) -> Branch:
            machine, data = machines[index], inputs[index]
            # A machine that assigns nothing reads its parent's variables: it needs no scope of its own
            # (unless an observer may set variables in it: a debugger's `edit var`).
            shared = not machine.has_assign and self.observer is None
            child = current[0] = branch.fork(last, cancel, branch.variables if shared else None)
            if owner is not None:
                child.path = (*branch.path, (owner.name, index))
            obs = self.observer
            if obs is None or owner is None:
                results[index] = wrap(child, data, index) if wrap else self.run_machine(machine, data, child)
                return child
            ctx = Context(self.run.execution_arn, branch.path, owner.name, 0)
            obs.branch_started(ctx, owner, index, data)
            try:
                results[index] = wrap(child, data, index) if wrap else self.run_machine(machine, data, child)
            except StatesError as err:
                obs.branch_ended(ctx, owner, index, None, err)
                raise
            obs.branch_ended(ctx, owner, index, results[index], None)
            return child

        if workers <= 1 or not self._concurrent(machines):
            # One after the other, each from the parent's time: the latest child's clock is the join. A child
            # is not kept past its turn (a Map's thousand Branches and Clocks would count towards the cyclic
            # collector's next pass).
            last, latest = started, branch.clock
            try:
                for index in range(len(machines)):
                    try:
                        one(index, last)
                    finally:  # a child that failed (or was stopped) counts too: its events and its time
                        child = current[0]
                        last = child.last
                        if child.clock.offset > latest.offset:
                            latest = child.clock
            except BaseException:
                cancel.cancel()
                raise
            finally:
                branch.last = last
                branch.clock.join([latest])
            return results
        try:
            # The timeline counts a pool slot as running from submission to its last job's end,
            # so a sibling's virtual wait never ends while a queued job has yet to run.
            self.run.history.share()
            timeline, slots = branch.clock.timeline, min(workers, len(machines))
            queued, claim = [len(machines) - slots], threading.Lock()

            def job(index: int, last: int) -> Branch:
                try:
                    child = one(index, last)
                    children.append(child)
                    return child
                finally:
                    with claim:
                        handed_on = queued[0] > 0  # this slot passes to a queued job
                        queued[0] -= handed_on
                    if not handed_on:
                        timeline.exit()

            timeline.spawn(slots)
            with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="sfn-branch") as pool:
                futures = [pool.submit(job, i, started) for i in range(len(machines))]
                with timeline.idle():
                    wait(futures, return_when=FIRST_EXCEPTION)
                failed = [f for f in futures if f.done() and f.exception() is not None]
                if failed:
                    cancel.cancel()
                    with timeline.idle():
                        wait(futures)
                    raise failed[0].exception()
            branch.last = max((c.last for c in children), default=started)
        except BaseException:
            cancel.cancel()
            branch.last = max((c.last for c in children), default=started)
            raise
        finally:
            branch.clock.join([c.clock for c in children])
        return results

    # -- Map ------------------------------------------------------------------------------
    def _map(self, state: MapState, data: Any, branch: Branch, env: Env) -> tuple[Any, str | None]:
        effective = self._input(state, data, env)
        plan: distributed.Plan | None = None
        try:
            if state.distributed:  # items read (or listed) lazily, run as child executions
                plan = distributed.plan(self, state, data, effective, env)
                items, inputs, concurrency, length = plan.items, plan, plan.requested_concurrency, len(plan)
            else:
                items, inputs, concurrency = self._map_items(state, data, effective, env)
                length = len(items)
        except StatesError as err:
            if err.error != QUERY_EVALUATION_ERROR:
                raise
            # A JSONata evaluation failure still fails the Map as a state (AWS: EvaluationFailed, MapStateFailed).
            self._locate(err, state, env.entered_event, branch)
            self.event(branch, "MapStateFailed")
            raise
        # AWS reads the tolerated failures once the Map has started: a bad value fails the execution after
        # MapStateStarted, with no MapStateFailed.
        self.event(branch, "MapStateStarted", "mapStateStartedEventDetails", {"length": length})
        tolerated_count, tolerated_pct = self._tolerance(state, data, effective, env)
        if self.observer is not None:
            if items is not None and not state.jsonata:
                self._stage(state, env, "afterItemsPath", items)
            self._stage(state, env, "maxConcurrency", concurrency)
            if tolerated_count is not None:
                self._stage(state, env, "toleratedFailureCount", tolerated_count)
            if tolerated_pct is not None:
                self._stage(state, env, "toleratedFailurePercentage", tolerated_pct)
        tolerant = tolerated_count is not None or tolerated_pct is not None
        attempts = [0]

        def attempt() -> list[Any]:
            # Each retry of a Map starts it again; AWS reports MapStateFailed only at the end.
            if attempts[0]:
                self.event(branch, "MapStateStarted", "mapStateStartedEventDetails", {"length": length})
            attempts[0] += 1
            if plan is not None:
                return self._map_run(state, plan, branch, plan.concurrency, True, tolerated_count, tolerated_pct)
            return self._iterate(state, inputs, branch, concurrency, tolerant, tolerated_count, tolerated_pct)

        try:
            results = self._with_retry(state, branch, env, attempt)
        except StatesError:
            self.event(branch, "MapStateFailed")
            raise
        self.event(branch, "MapStateSucceeded")
        return self._output(state, data, results, env), state.next

    def _map_items(self, state: MapState, data: Any, effective: Any, env: Env) -> tuple[list[Any], list[Any], int]:
        """The items, each iteration's input (ItemSelector applied) and MaxConcurrency."""
        if state.jsonata:
            if state.items is None:
                if not isinstance(data, list):
                    raise StatesError(QUERY_EVALUATION_ERROR, f"Map state input must be an array but was: "
                                                              f"{to_json(data)}", "Items")
                items = data
            else:
                items = state.items.render(env.bindings(data), env.random)
                if not isinstance(items, list):
                    raise jsonata.type_error(state.items.source, "Items", "array", items)
        else:
            items = effective if state.items_path is UNSET else (
                None if state.items_path is None else state.items_path.get(effective, env)
            )
            if not isinstance(items, list):
                where = state.items_path.text if state.items_path not in (UNSET, None) else "$"
                raise StatesError(RUNTIME, f"Invalid path '{where}': The ItemsPath field refers to value "
                                           f"{to_json(items)} which is not a valid array.")
        concurrency = self._map_concurrency(state, data, effective, env)
        inputs = [self._item_input(state, data, effective, index, item, env) for index, item in enumerate(items)]
        return items, inputs, concurrency

    def _map_concurrency(self, state: MapState, data: Any, effective: Any, env: Env) -> int:
        concurrency = self._field(state, state.max_concurrency, data, env)
        if concurrency is None:
            concurrency = 0
        elif state.jsonata and (isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 0):
            raise jsonata.type_error(state.max_concurrency.source, "MaxConcurrency", "integer", concurrency)
        if state.max_concurrency_path is not None:
            concurrency = self._integer(state.max_concurrency_path, effective, env, "MaxConcurrencyPath")
        return concurrency

    def _tolerance(self, state: MapState, data: Any, effective: Any, env: Env) -> tuple[int | None, float | None]:
        count = self._field(state, state.tolerated_failure_count, data, env)
        if state.tolerated_failure_count_path is not None:
            count = self._integer(state.tolerated_failure_count_path, effective, env, "ToleratedFailureCountPath")
        if count is not None and count < 0:
            raise StatesError(RUNTIME, "ToleratedFailureCount cannot be negative.")
        pct = self._field(state, state.tolerated_failure_percentage, data, env)
        if state.tolerated_failure_percentage_path is not None:
            pct = self._number(state.tolerated_failure_percentage_path, effective, env,
                               "ToleratedFailurePercentagePath")
        if pct is not None and not 0 <= pct <= 100:
            raise StatesError(RUNTIME, "ToleratedFailurePercentage must be between 0 and 100.")
        return count, pct

    def _item_input(self, state: MapState, data: Any, effective: Any, index: int, item: Any, env: Env) -> Any:
        if state.item_selector is None:
            return item
        env.map_item = {"Index": index, "Value": item}
        env.invalidate()
        try:
            if state.jsonata:
                return state.item_selector.render(env.bindings(data), env.random)
            return state.item_selector.render(effective, env)
        finally:
            env.map_item = None
            env.invalidate()

    @staticmethod
    def _integer(path: Any, data: Any, env: Env, field: str) -> int:
        raw = path.get(data, env)
        value = distributed.numeric(raw)  # AWS reads numeric strings in these *Path fields as numbers
        if value is None or value != int(value):
            value = raw
            raise StatesError(RUNTIME, f"The {field} field refers to value \"{_display(value)}\" "
                                       f"which is not a valid integer: {path.text}")
        return int(value)

    @staticmethod
    def _number(path: Any, data: Any, env: Env, field: str) -> float:
        raw = path.get(data, env)
        value = distributed.numeric(raw)
        if value is None:
            value = raw
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise StatesError(RUNTIME, f"The {field} field refers to value \"{_display(value)}\" "
                                       f"which is not a valid float: {path.text}")
        return float(value)

    def _iterate(self, state: MapState, inputs: list[Any], branch: Branch, concurrency: int, tolerant: bool,
                 tolerated_count: int | None, tolerated_pct: float | None) -> list[Any]:
        failures: list[StatesError] = []
        lock = threading.Lock()
        reused = (self.run.redrive_reuse or {}).pop(state.name, None) if not branch.path else None

        def run(child: Branch, item: Any, index: int) -> Any:
            name = state.name  # the events' details with the index (History builds the dicts)
            if reused is not None and index in reused:  # a redrive re-runs only the failed iterations
                return reused[index]
            self.event(child, "MapIterationStarted", "mapIterationStartedEventDetails", index, second=name)
            try:
                out = self.run_machine(state.processor, item, child)
            except Cancelled:
                self.event(child, "MapIterationAborted", "mapIterationAbortedEventDetails", index, second=name)
                raise
            except StatesError as err:
                failed_after = child.last
                self.event(child, "MapIterationFailed", "mapIterationFailedEventDetails", index, second=name)
                child.last = failed_after
                if not tolerant:
                    raise
                with lock:
                    failures.append(err)
                    if self._exceeds(len(failures), len(inputs), tolerated_count, tolerated_pct):
                        raise StatesError(EXCEED_TOLERATED_FAILURE_THRESHOLD,
                                          "The specified tolerated failure threshold was exceeded") from None
                return _error_output(err)
            last_inner = child.last
            self.event(child, "MapIterationSucceeded", "mapIterationSucceededEventDetails", index, second=name)
            child.last = last_inner
            return out

        workers = concurrency if concurrency > 0 else _MAX_INLINE_CONCURRENCY
        return self._fan_out(branch, [state.processor] * len(inputs), inputs, run, branch.last,
                             min(workers, _MAX_INLINE_CONCURRENCY), state)

    @staticmethod
    def _exceeds(failed: int, total: int, count: int | None, pct: float | None) -> bool:
        if count is not None and failed > count:
            return pct is None or failed * 100 > pct * total
        if pct is not None and failed * 100 > pct * total:
            return count is None or failed > count
        return False

    def _map_run(self, state: MapState, inputs: distributed.Plan, branch: Branch, concurrency: int, tolerant: bool,
                 tolerated_count: int | None, tolerated_pct: float | None) -> Any:
        """A Distributed Map's run: child executions with their own histories (engine/distributed.py)."""
        return distributed.map_run(self, state, inputs, branch, concurrency, tolerated_count, tolerated_pct)


def _call_with_deadline(handler: Callable[[TaskRequest], Any], request: TaskRequest, timeout: float) -> Any:
    """Real clock: stop waiting for a handler after `timeout` seconds (it is left to finish on its own)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = handler(request)
        except BaseException as exc:
            box["error"] = exc

    worker = threading.Thread(target=target, name="sfn-task", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TaskTimedOut(TIMEOUT)
    if "error" in box:
        raise box["error"]
    return box["result"]


# Each state type's executor. A table of the class's functions rather than of an interpreter's bound
# methods: those would make every Interpreter (and the run and history it holds) a reference cycle.
_EXECUTORS: dict[str, Callable[[Interpreter, Any, Any, Branch, Env], tuple[Any, str | None]]] = {
    "Pass": Interpreter._pass,
    "Task": Interpreter._task,
    "Choice": Interpreter._choice,
    "Wait": Interpreter._wait,
    "Succeed": Interpreter._succeed,
    "Fail": Interpreter._fail,
    "Parallel": Interpreter._parallel,
    "Map": Interpreter._map,
}
