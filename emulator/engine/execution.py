"""Executions: StartExecution → the interpreter → a finished (or running) Execution.

`StateMachine` parses and compiles a definition once; every `run` reuses that compiled form.
"""

from __future__ import annotations

import os
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from emulator import background
from emulator.asl.parser import load_definition, parse
from emulator.asl.values import to_json
from emulator.backends import Backends
from emulator.engine.clock import Cancelled, CancelToken, Clock
from emulator.engine.history import MAX_EVENTS, History, HistoryLimitExceeded, check_payload
from emulator.engine.interpreter import Branch, ExecutionTimedOut, Interpreter, Run
from emulator.engine.variables import Variables
from emulator.errors import RUNTIME, TIMEOUT, StatesError
from emulator.integrations import Registry
from emulator.workspace import Workspace

ACCOUNT = "123456789012"
REGION = "us-east-1"
DEFAULT_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/sfn-local"


class Execution:
    """One execution: its status, output or error, and its history (DescribeExecution + GetExecutionHistory)."""

    def __init__(self, name: str, arn: str, state_machine_arn: str, input: Any) -> None:
        self.name = name
        self.arn = arn
        self.state_machine_arn = state_machine_arn
        self.input = input
        self.status = "RUNNING"
        self.output: Any = None
        self.error: str | None = None
        self.cause: str | None = None
        self.start_date: datetime | None = None
        self.stop_date: datetime | None = None
        self.history: list[dict[str, Any]] = []
        self._done = threading.Event()
        self._cancel = CancelToken()
        self._stop_reason: tuple[str | None, str | None] = (None, None)

    def __repr__(self) -> str:
        detail = f"error={self.error!r}" if self.error else f"output={to_json(self.output)[:60]}"
        return f"<Execution {self.name} {self.status} {detail}>"

    @property
    def failed_state(self) -> str | None:
        """Name of the innermost state that was running when the execution stopped unsuccessfully."""
        if self.status == "SUCCEEDED":
            return None
        for event in reversed(self.history):
            if event["type"].endswith("StateEntered"):
                return event["stateEnteredEventDetails"]["name"]
        return None

    def wait(self, timeout: float | None = None) -> Execution:
        """Block until the execution ends (for `start`); returns self."""
        self._done.wait(timeout)
        return self

    def stop(self, error: str | None = None, cause: str | None = None) -> None:
        """StopExecution: the execution ends ABORTED at its next transition or wait."""
        self._stop_reason = (error, cause)
        self._cancel.cancel()

    def describe(self) -> dict[str, Any]:
        """The execution in DescribeExecution's shape."""
        out: dict[str, Any] = {
            "executionArn": self.arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": self.start_date,
            "input": to_json(self.input),
        }
        if self.stop_date is not None:
            out["stopDate"] = self.stop_date
        if self.status == "SUCCEEDED":
            out["output"] = to_json(self.output)
        if self.error is not None:
            out["error"] = self.error
        if self.cause is not None:
            out["cause"] = self.cause
        return out


class StateMachine:
    """A definition parsed and compiled once, ready to run any number of times."""

    def __init__(self, definition: dict[str, Any] | str | os.PathLike[str], *, name: str = "StateMachine",
                 resources: Mapping[str, Callable[..., Any]] | None = None,
                 role_arn: str = DEFAULT_ROLE_ARN, workspace: Workspace | str | os.PathLike[str] | None = None,
                 state_machines: Mapping[str, Any] | None = None) -> None:
        self.definition = load_definition(definition)
        self.machine = parse(self.definition)
        self.name = name
        self.arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        self.resources = dict(resources or {})
        self.role_arn = role_arn
        # Definitions (or paths) by name, for states:startExecution to run as nested executions.
        self.state_machines = dict(state_machines or {})
        # The workspace (local S3, catalog, query results) is opened on first use by a Task.
        self.backends = Backends(workspace if isinstance(workspace, Workspace) or workspace is None
                                 else Workspace(workspace))

    def run(self, input: Any = None, **options: Any) -> Execution:
        """Run to the end and return the finished Execution. Options as `start`."""
        execution, work = self._prepare(input, **options)
        work()
        return execution

    def start(self, input: Any = None, **options: Any) -> Execution:
        """Start in a background thread; `wait()` or `stop()` the returned Execution."""
        execution, work = self._prepare(input, **options)
        threading.Thread(target=work, name=f"sfn-{execution.name}", daemon=True).start()
        return execution

    def _prepare(self, input: Any = None, *, name: str | None = None, clock: str = "virtual",
                 seed: int | None = None, resources: Mapping[str, Callable[..., Any]] | None = None,
                 max_events: int | None = MAX_EVENTS, state_machines: Mapping[str, Any] | None = None,
                 ) -> tuple[Execution, Callable[[], None]]:
        if clock not in ("virtual", "real"):
            raise ValueError(f"clock must be 'virtual' or 'real', not {clock!r}")
        rng = random.Random(seed)
        name = name or str(uuid.UUID(int=rng.getrandbits(128), version=4))
        data = {} if input is None else input
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{self.name}:{name}"
        execution = Execution(name, arn, self.arn, data)
        history = History(limit=max_events)
        execution.history = history.events
        start_clock = Clock(real=clock == "real", owner=execution)
        start = start_clock.now()
        execution.start_date = start_clock.datetime()
        timeout = self.machine.timeout_seconds
        registry = Registry({**self.resources, **(resources or {})}, self.backends)
        # Nested executions (integrations/stepfunctions.py) find their machines and inherit these options.
        registry.state_machines = {**self.state_machines, **(state_machines or {})}
        registry.run_options = {"clock": clock, "seed": seed, "max_events": max_events}
        run = Run(
            history=history,
            registry=registry,
            random=rng,
            execution_arn=arn,
            execution_name=name,
            state_machine_arn=self.arn,
            state_machine_name=self.name,
            role_arn=self.role_arn,
            input=data,
            start_time=start,
            deadline=start + timeout if timeout else None,
            real_clock=clock == "real",
        )

        def work() -> None:
            try:
                _execute(self, execution, run, start_clock)
            finally:
                background.finished(execution, execution.status == "SUCCEEDED")
                execution._done.set()

        return execution, work


def _execute(machine: StateMachine, execution: Execution, run: Run, clock: Clock) -> None:
    interpreter = Interpreter(run)
    root = Branch(clock, 0, execution._cancel, Variables())
    input_text = to_json(run.input)
    run.history.add("ExecutionStarted", 0, clock.now(), "executionStartedEventDetails",
                    {"input": input_text, "inputDetails": {"truncated": False}, "roleArn": run.role_arn})
    root.last_value, root.last_text = run.input, input_text
    try:
        check_payload(input_text, "execution input")
        output = interpreter.run_machine(machine.machine, run.input, root)
    except StatesError as err:
        _finish(execution, run, root, "FAILED", "ExecutionFailed", "executionFailedEventDetails", err.error, err.cause)
    except ExecutionTimedOut:
        _finish(execution, run, root, "TIMED_OUT", "ExecutionTimedOut", "executionTimedOutEventDetails", TIMEOUT,
                "The execution timed out.")
    except Cancelled:
        error, cause = execution._stop_reason
        _finish(execution, run, root, "ABORTED", "ExecutionAborted", "executionAbortedEventDetails", error, cause)
    except HistoryLimitExceeded:
        run.history.limit = None
        _finish(execution, run, root, "FAILED", "ExecutionFailed", "executionFailedEventDetails", RUNTIME,
                f"The execution reached the maximum number of history events ({MAX_EVENTS}).")
    else:
        execution.output = output
        execution.status = "SUCCEEDED"
        text = root.text_of(output)
        run.history.add("ExecutionSucceeded", root.last, clock.now(), "executionSucceededEventDetails",
                        {"output": text, "outputDetails": {"truncated": False}})
        execution.stop_date = clock.datetime()


def _finish(execution: Execution, run: Run, root: Branch, status: str, event: str, key: str,
            error: str | None, cause: str | None) -> None:
    execution.status, execution.error, execution.cause = status, error, cause
    details = {}
    if error is not None:
        details["error"] = error
    if cause is not None:
        details["cause"] = cause
    run.history.limit = None
    run.history.add(event, root.last, root.clock.now(), key, details)
    execution.stop_date = root.clock.datetime()
