"""RedriveExecution: run a FAILED, ABORTED or TIMED_OUT execution again from where it stopped.

As AWS does, the redrive keeps the execution's name and ARN and appends to its history: an
`ExecutionRedriven` event, then the top-level state that did not succeed runs again with the input
and variables it had (`$$.Execution.RedriveCount` counts the redrives). A Map that failed re-runs
only its failed iterations; the succeeded ones give their recorded outputs. Iterations of a
Distributed Map are child executions whose events are not in this history: they all run again.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from emulator import background
from emulator.engine.clock import CancelToken, Clock
from emulator.engine.history import History
from emulator.engine.interpreter import Branch, Run
from emulator.engine.variables import Variables
from emulator.errors import StartExecutionError
from emulator.integrations import Registry

if TYPE_CHECKING:
    from emulator.engine.execution import Execution, StateMachine

REDRIVABLE = ("FAILED", "ABORTED", "TIMED_OUT")


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


def redrive(execution: Execution, machine: StateMachine | None = None,
            resources: Mapping[str, Callable[..., Any]] | None = None) -> Execution:
    """Redrive `execution` in place (same name, ARN and history) and return it when it ends."""
    from emulator.engine.execution import _execute_from

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
    history = History(limit=None)
    history.events = execution.history  # appended to, as AWS appends a redrive to the same history
    clock = Clock(owner=execution)
    start = clock.now()
    registry = Registry({**machine.resources, **(resources or {})}, machine.backends)
    registry.state_machines = dict(machine.state_machines)
    registry.run_options = {"clock": "virtual", "seed": None, "max_events": None, "nesting": 0}
    registry.mocks = None
    timeout = machine.machine.timeout_seconds
    run = Run(history=history, registry=registry, random=random.Random(), execution_arn=execution.arn,
              execution_name=execution.name, state_machine_arn=machine.arn, state_machine_name=machine.name,
              role_arn=machine.role_arn, input=execution.input, start_time=start,
              deadline=start + timeout if timeout else None, real_clock=False,
              redrive_count=execution.redrive_count, redrive_from=name, redrive_reuse=reuse)
    execution.status, execution.error, execution.cause, execution.output = "RUNNING", None, None, None
    execution.stop_date = None
    execution._cancel = CancelToken()  # a stopped execution's token stays cancelled
    root = Branch(clock, 0, execution._cancel, Variables())
    root.variables.assign(variables)
    previous = execution.history[-1]["id"] if execution.history else 0
    root.last = history.add("ExecutionRedriven", previous, clock.now(), "executionRedrivenEventDetails",
                            {"redriveCount": execution.redrive_count})
    execution._done.clear()
    try:
        _execute_from(machine, execution, run, clock, root, json.loads(input_text))
    finally:
        background.finished(execution, execution.status == "SUCCEEDED")
        execution._done.set()
    return execution
