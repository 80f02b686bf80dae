"""RedriveExecution, and resuming an execution its process stopped in the middle of.

Redrive: as AWS does, the redrive keeps the execution's name and ARN and appends to its history: an
`ExecutionRedriven` event, then the top-level state that did not succeed runs again with the input
and variables it had (`$$.Execution.RedriveCount` counts the redrives). A Map that failed re-runs
only its failed iterations; the succeeded ones give their recorded outputs. Iterations of a
Distributed Map are child executions whose events are not in this history: they all run again.

Resume: an execution that was RUNNING when its server was killed runs again from the start of its
latest run (its start, or its latest redrive) with a `Replay` of its recorded events: every branch
(the execution, each Parallel branch, each Map iteration) matches the events it recorded instead of
adding them again, takes a finished Task's recorded result or error instead of calling it, and skips
waits already spent. Where a branch's record ends it goes on for real: a Task that was scheduled or
started but not finished runs again (as AWS retries one after a service interruption), a Wait waits
what is left of it. The history goes on with the next id, equal to an uninterrupted run's.
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from emulator import background
from emulator.engine.clock import CancelToken, Clock
from emulator.engine.history import MAX_EVENTS, History
from emulator.engine.interpreter import Branch, Run
from emulator.engine.variables import Variables
from emulator.errors import RUNTIME, StartExecutionError, StatesError, TaskTimedOut
from emulator.integrations import Registry
from emulator.integrations.mocks import TestCase

if TYPE_CHECKING:
    from emulator.engine.execution import Execution, StateMachine

REDRIVABLE = ("FAILED", "ABORTED", "TIMED_OUT")
Path = tuple[tuple[str, int], ...]
_SUCCEEDED = ("TaskSucceeded", "LambdaFunctionSucceeded")
_FAILED = ("TaskFailed", "TaskTimedOut", "LambdaFunctionFailed", "LambdaFunctionTimedOut")


class ExecutionNotRedrivable(StartExecutionError):
    """RedriveExecution's ExecutionNotRedrivable: the execution succeeded, still runs, or never entered a state."""

    def __init__(self, arn: str, why: str) -> None:
        super().__init__("ExecutionNotRedrivable", f"Execution {arn} cannot be redriven: {why}")


def redrive_plan(history: list[dict[str, Any]], top_level: set[str]
                 ) -> tuple[str, str, dict[str, Any], dict[str, dict[int, Any]]]:
    """(state to restart at, its input as JSON text, the variables then, a Map's succeeded iteration outputs)."""
    entered = [e for e in history if e["type"].endswith("StateEntered")
               and e["stateEnteredEventDetails"]["name"] in top_level]
    if not entered:
        raise ValueError("no state was entered")
    restart = entered[-1]
    name = restart["stateEnteredEventDetails"]["name"]
    variables: dict[str, Any] = {}
    for event in history:
        details = event.get("stateExitedEventDetails")
        if details and details.get("name") in top_level and event["id"] < restart["id"]:
            variables.update({k: json.loads(v) for k, v in (details.get("assignedVariables") or {}).items()})
    by_id = {e["id"]: e for e in history}
    outputs: dict[int, Any] = {}
    for event in history:
        details = event.get("mapIterationSucceededEventDetails")
        if event["type"] != "MapIterationSucceeded" or not details or details.get("name") != name:
            continue
        last = by_id.get(event["previousEventId"], {}).get("stateExitedEventDetails")  # the iteration's output
        if last is not None:
            outputs[details["index"]] = json.loads(last["output"])
    return name, restart["stateEnteredEventDetails"]["input"], variables, {name: outputs} if outputs else {}


def epoch(stamp: Any) -> float:
    """An event's timestamp (a datetime in memory, epoch seconds when stored) in epoch seconds."""
    return stamp.timestamp() if isinstance(stamp, datetime) else float(stamp)


class Replay:
    """An execution's recorded events by branch, for its interpreter to match while it runs again.

    One branch runs on one thread at a time, so each branch's queue has one reader."""

    def __init__(self, events: list[dict[str, Any]], paths: list[Path]) -> None:
        self._queues: dict[Path, deque[dict[str, Any]]] = {}
        for event, path in zip(events, paths, strict=True):
            self._queues.setdefault(path, deque()).append(event)
        self._last: dict[Path, float] = {}  # when each branch's latest recorded event happened
        self._live: set[Path] = set()  # branches past their record

    def take(self, path: Path, event_type: str) -> int | None:
        """The id of the branch's next recorded event, which must be `event_type`; None past its record."""
        queue = self._queues.get(path)
        if not queue:
            self._live.add(path)
            return None
        event = queue.popleft()
        if event["type"] != event_type:
            raise StatesError(RUNTIME, f"The execution cannot resume: running it again gives {event_type} where "
                                       f"its history has {event['type']} (event #{event['id']}); the definition "
                                       "or a Task's handler does not give the same results again.")
        self._last[path] = epoch(event["timestamp"])
        return event["id"]

    def remaining(self, path: Path, seconds: float, real: bool) -> float:
        """How long a wait of `seconds` still has to run."""
        if self._queues.get(path):  # the branch went on after this wait: it is over
            return 0.0 if real else seconds
        if not real or path in self._live or path not in self._last:
            return seconds
        return max(0.0, self._last[path] + seconds - time.time())  # cut short: what is left of it

    def outcome(self, path: Path) -> Callable[[Any], Any] | None:
        """A handler giving the branch's recorded Task result (or raising its error); None when the Task
        did not finish before the stop (it runs again)."""
        queue = self._queues.get(path)
        if not queue:
            return None
        index = 1 if queue[0]["type"] == "TaskSubmitted" else 0
        if index >= len(queue):
            return None
        event = queue[index]
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), None) or {}
        if event["type"] in _SUCCEEDED:
            result = json.loads(details["output"])
            return lambda request: result
        if event["type"] in _FAILED:
            kind = TaskTimedOut if event["type"].endswith("TimedOut") else StatesError
            error = kind(details.get("error"), details.get("cause"))

            def fail(request: Any) -> Any:
                raise error

            return fail
        return None


def _datetime(stamp: Any) -> datetime:
    return stamp if isinstance(stamp, datetime) else datetime.fromtimestamp(float(stamp), tz=UTC)


def _run(execution: Execution, machine: StateMachine, history: History, start: float, *,
         resources: Mapping[str, Callable[..., Any]] | None, clock: str, seed: int | None,
         state_machines: Mapping[str, Any] | None, mocks: TestCase | None) -> Run:
    registry = Registry({**machine.resources, **(resources or {})}, machine.backends)
    registry.state_machines = {**machine.state_machines, **(state_machines or {})}
    registry.run_options = {"clock": clock, "seed": seed, "max_events": history.limit, "nesting": 0}
    registry.mocks = mocks.session() if mocks is not None else None
    timeout = machine.machine.timeout_seconds
    return Run(history=history, registry=registry, random=random.Random(seed), execution_arn=execution.arn,
               execution_name=execution.name, state_machine_arn=machine.arn, state_machine_name=machine.name,
               role_arn=machine.role_arn, input=execution.input, start_time=start,
               deadline=start + timeout if timeout else None, real_clock=clock == "real",
               redrive_count=execution.redrive_count)


def _history(execution: Execution, paths: list[Path] | None, limit: int | None) -> History:
    """The execution's history to go on with; `paths` the branches of its events (unknown: the top level)."""
    history = History(limit=limit)
    history.events = execution.history
    history.paths = list(paths) if paths is not None else [()] * len(execution.history)
    execution.history_paths = history.paths
    return history


def _work(machine: StateMachine, execution: Execution, run: Run, clock: Clock, root: Branch, data: Any
          ) -> Callable[[], None]:
    from emulator.engine.execution import _execute_from

    def work() -> None:
        try:
            _execute_from(machine, execution, run, clock, root, data)
        finally:
            background.finished(execution, execution.status == "SUCCEEDED")
            execution._done.set()

    return work


def prepare_redrive(execution: Execution, machine: StateMachine | None = None,
                    resources: Mapping[str, Callable[..., Any]] | None = None, *, clock: str = "virtual",
                    seed: int | None = None, state_machines: Mapping[str, Any] | None = None,
                    paths: list[Path] | None = None) -> Callable[[], None]:
    """Redrive `execution` in place: checks it, adds ExecutionRedriven and returns the work that runs it."""
    machine = machine or execution.state_machine
    if machine is None:
        raise ExecutionNotRedrivable(execution.arn, "its state machine is not known (pass `machine`)")
    if execution.status not in REDRIVABLE:
        raise ExecutionNotRedrivable(execution.arn, f"its status is {execution.status}; only FAILED, ABORTED "
                                                    "and TIMED_OUT executions can be redriven")
    try:
        name, input_text, variables, reuse = redrive_plan(execution.history, set(machine.machine.states))
    except ValueError as exc:
        raise ExecutionNotRedrivable(execution.arn, str(exc)) from None
    execution.redrive_count += 1
    history = _history(execution, paths, None)  # appended to, as AWS appends a redrive to the same history
    timer = Clock(real=clock == "real", owner=execution)
    run = _run(execution, machine, history, timer.now(), resources=resources, clock=clock, seed=seed,
               state_machines=state_machines, mocks=None)
    run.redrive_from, run.redrive_reuse = name, reuse
    execution.status, execution.error, execution.cause, execution.output = "RUNNING", None, None, None
    execution.stop_date = None
    execution._cancel = CancelToken()  # a stopped execution's token stays cancelled
    root = Branch(timer, 0, execution._cancel, Variables())
    root.variables.assign(variables)
    previous = execution.history[-1]["id"] if execution.history else 0
    root.last = history.add("ExecutionRedriven", previous, timer.now(), "executionRedrivenEventDetails",
                            {"redriveCount": execution.redrive_count})
    execution._done.clear()
    return _work(machine, execution, run, timer, root, json.loads(input_text))


def redrive(execution: Execution, machine: StateMachine | None = None,
            resources: Mapping[str, Callable[..., Any]] | None = None) -> Execution:
    """Redrive `execution` in place (same name, ARN and history) and return it when it ends."""
    prepare_redrive(execution, machine, resources)()
    return execution


def prepare_resume(execution: Execution, machine: StateMachine, paths: list[Path], *, clock: str = "virtual",
                   seed: int | None = None, state_machines: Mapping[str, Any] | None = None,
                   mocks: TestCase | None = None) -> Callable[[], None]:
    """The work that continues `execution`, RUNNING when its process stopped, whose `history` holds the
    events recorded until then (`paths`: their branches). The seed must be the one it ran with."""
    events = execution.history
    if not events:
        raise ValueError(f"execution {execution.arn} has no recorded events to resume from")
    for event in events:
        event["timestamp"] = _datetime(event["timestamp"])
    redriven = max((i for i, e in enumerate(events) if e["type"] == "ExecutionRedriven"), default=None)
    segment = 0 if redriven is None else redriven
    history = _history(execution, paths, MAX_EVENTS if redriven is None else None)
    # Virtual time goes on from the latest event; the context's start time is the run's own.
    timer = Clock(real=clock == "real", start=None if clock == "real" else max(epoch(e["timestamp"]) for e in events),
                  owner=execution)
    run = _run(execution, machine, history, epoch(events[segment]["timestamp"]), resources=None, clock=clock,
               seed=seed, state_machines=state_machines, mocks=mocks if redriven is None else None)
    run.replay = Replay(events[segment + 1:], history.paths[segment + 1:])
    root = Branch(timer, 0, execution._cancel, Variables())
    data = execution.input
    if redriven is not None:
        name, input_text, variables, reuse = redrive_plan(events[:redriven], set(machine.machine.states))
        run.redrive_from, run.redrive_reuse = name, reuse
        root.variables.assign(variables)
        root.last = events[redriven]["id"]
        data = json.loads(input_text)
    execution.status = "RUNNING"
    execution._done.clear()
    return _work(machine, execution, run, timer, root, data)
