"""Nested executions: `arn:aws:states:::states:startExecution` (also `.sync` and `.sync:2`).

The StateMachineArn names a local state machine by its last part
(`arn:aws:states:us-east-1:123456789012:stateMachine:Orders[:version-or-alias]` → `Orders`):
first among the `state_machines` given to the run or StateMachine, then as
`<project>/definitions/Orders.asl.json` or `<project>/definitions/Orders.json`.

The child runs in the parent's workspace, with the parent's Task handlers, clock mode, history
quota and (derived) seed. It runs to its end before the task returns, whatever the pattern, so
its side effects are there to inspect; the request-response form returns only ExecutionArn and
StartDate, as AWS does, and on the virtual clock the child's waits are charged to the parent
only for `.sync` forms, the ones that wait for it on AWS.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
import uuid
from datetime import datetime
from typing import Any, Protocol

from emulator.errors import TASK_FAILED, DefinitionError, InvalidExecutionInput, InvalidName, StatesError
from emulator.integrations.registry import Handler, Registry, Resource, TaskRequest, register

# How many states:startExecution tasks deep executions may nest. AWS's bound is its quota of open
# executions; a machine that starts itself without end meets this first, with the same error.
MAX_NESTING = 100
MAX_CAUSE_LENGTH = 32_768
_MACHINE_ARN = re.compile(r"arn:[\w-]+:states:[\w-]+:\d+:stateMachine:(?P<name>[A-Za-z0-9_\-]+)(:[^:]+)?")


class NestedExecutions(Protocol):
    """Where the executions states:startExecution tasks start are known beside the local run (the
    endpoint's store): a name taken there fails the task as AWS fails it, and an ended child is kept."""

    def taken(self, execution_arn: str) -> bool: ...

    def ended(self, execution: Any) -> None: ...


def _error(code: str, message: str) -> StatesError:
    exception = code if code.endswith("Exception") else f"{code}Exception"
    return StatesError(f"StepFunctions.{exception}",
                       f"{message} (Service: AWSStepFunctions; Status Code: 400; Error Code: {code}; "
                       f"Request ID: {uuid.uuid4()}; Proxy: null)")


def _millis(value: datetime | None) -> int | None:
    """Dates in the optimised integration's results are epoch milliseconds."""
    return None if value is None else int(value.timestamp() * 1000)


def find_definition(registry: Registry, arn: str) -> tuple[str, Any]:
    """(name, definition or path) of the local state machine a StateMachineArn names."""
    match = _MACHINE_ARN.fullmatch(arn)
    if match is None:
        raise _error("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
    name = match.group("name")
    known = registry.state_machines
    if name in known:
        return name, known[name]
    folder = registry.backends.workspace.project / "definitions"
    for candidate in (folder / f"{name}.asl.json", folder / f"{name}.json"):
        if candidate.is_file():
            return name, candidate
    raise _error("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")


def _child_input(value: Any) -> Any:
    """Input may be any JSON value, or JSON text (which the child receives parsed)."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            raise _error("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{value}'") from None
    return value


def _child_seed(seed: int | None, parent_arn: str, number: int) -> int | None:
    """A seeded parent gives each child its own reproducible seed (so names and UUIDs differ per child)."""
    if seed is None:
        return None
    digest = hashlib.sha256(f"{seed}/{parent_arn}/{number}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def describe(execution: Any, parse_json: bool) -> dict[str, Any]:
    """DescribeExecution as the `.sync` integration returns it (PascalCase; Input/Output parsed for `:2`)."""
    out: dict[str, Any] = {
        "ExecutionArn": execution.arn,
        "Input": execution.input if parse_json else json.dumps(execution.input, separators=(",", ":")),
        "InputDetails": {"Included": True},
        "Name": execution.name,
        "StartDate": _millis(execution.start_date),
        "StateMachineArn": execution.state_machine_arn,
        "Status": execution.status,
        "StopDate": _millis(execution.stop_date),
    }
    if execution.status == "SUCCEEDED":
        out["Output"] = execution.output if parse_json else json.dumps(execution.output, separators=(",", ":"))
        out["OutputDetails"] = {"Included": True}
    if execution.error is not None:
        out["Error"] = execution.error
    if execution.cause is not None:
        # DescribeExecution's cause is at most 32,768 characters; without the cap, a chain of failing
        # nested executions would double it at every level (each quotes its child's, escaped).
        out["Cause"] = execution.cause[:MAX_CAUSE_LENGTH]
    return out


def _factory(resource: Resource, registry: Registry) -> Handler | None:
    if resource.action != "startExecution" or resource.pattern not in ("", "sync", "sync:2"):
        return None

    def start_execution(request: TaskRequest) -> Any:
        from emulator.engine.execution import StateMachine  # the engine imports the integrations

        params = request.payload if isinstance(request.payload, dict) else {}
        arn = params.get("StateMachineArn")
        if not arn:
            raise _error("InvalidArn", "Invalid Arn: 'StateMachineArn is required'")
        name, definition = find_definition(registry, str(arn))
        options = dict(registry.run_options)
        options["nesting"] = options.get("nesting", 0) + 1
        if options["nesting"] > MAX_NESTING:
            raise _error("ExecutionLimitExceeded", f"Execution Limit Exceeded: nested executions of '{name}' go "
                                                   f"more than {MAX_NESTING} levels deep")
        counter = registry.__dict__.setdefault("nested_executions", itertools.count(1))
        options["seed"] = _child_seed(options.get("seed"), request.context.execution_arn, next(counter))
        try:
            child = StateMachine(definition, name=name, resources=registry.callables,
                                 workspace=registry.backends.workspace, state_machines=registry.state_machines)
        except DefinitionError as exc:
            # AWS would have refused it at CreateStateMachine; the diagnostics say why.
            problems = "; ".join(str(d) for d in exc.diagnostics)
            raise _error("InvalidDefinition", f"Invalid State Machine Definition: '{problems}'") from None
        except OSError as exc:
            raise _error("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}' "
                                                     f"({exc.strerror or exc})") from None
        child.backends = registry.backends  # one set of open backends (outbox, catalog) for the whole run
        known: NestedExecutions | None = options.get("nested")
        if known is not None and params.get("Name"):
            child_arn = f"{child.arn.replace(':stateMachine:', ':execution:')}:{params['Name']}"
            if known.taken(child_arn):
                raise _error("ExecutionAlreadyExists", f"Execution Already Exists: '{child_arn}'")
        started = time.monotonic()
        try:
            execution = child.run(_child_input(params.get("Input")), name=params.get("Name"), **options)
        except (InvalidExecutionInput, InvalidName) as exc:
            raise _error(exc.code, exc.message) from None
        if known is not None:
            known.ended(execution)
        if not resource.pattern:
            return {"ExecutionArn": execution.arn, "StartDate": _millis(execution.start_date),
                    "SdkHttpMetadata": {"HttpStatusCode": 200}, "SdkResponseMetadata": {}}
        if options.get("clock") != "real" and execution.start_date and execution.stop_date:
            # The parent waited for the child: charge it the child's virtual time (its real time has passed).
            span = (execution.stop_date - execution.start_date).total_seconds()
            request.context.sleep(max(0.0, span - (time.monotonic() - started)))
        result = describe(execution, parse_json=resource.pattern == "sync:2")
        if execution.status != "SUCCEEDED":
            raise StatesError(TASK_FAILED, json.dumps(result, separators=(",", ":")))
        return result

    return start_execution


register("states", _factory)
