"""Executions: StartExecution → the interpreter → a finished (or running) Execution.

`StateMachine` parses and compiles a definition once; every `run` reuses that compiled form.
"""

from __future__ import annotations

import copy
import gc
import os
import random
import sys
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from emulator import background
from emulator.asl.parser import load_definition, parse
from emulator.asl.states import Machine
from emulator.asl.validate import PlainJson, measured, plain_json
from emulator.asl.values import from_json, to_json
from emulator.backends import Backends, events
from emulator.engine.clock import Cancelled, CancelToken, Clock
from emulator.engine.history import (
    MAX_EVENTS,
    MAX_NESTING_DEPTH,
    EventList,
    History,
    HistoryLimitExceeded,
    check_input_depth,
    check_input_size,
)
from emulator.engine.interpreter import Branch, ExecutionTimedOut, Interpreter, Run
from emulator.engine.observe import Observer
from emulator.engine.trace import ExecutionAssertions
from emulator.engine.variables import Variables
from emulator.errors import RUNTIME, TIMEOUT, DefinitionError, Diagnostic, StatesError, check_execution_name
from emulator.integrations import Registry
from emulator.integrations.mocks import MockConfig, MockSource, TestCase, test_case_for
from emulator.workspace import Workspace

if TYPE_CHECKING:
    from emulator.engine.report import RootCause

ACCOUNT = "123456789012"
REGION = "us-east-1"
DEFAULT_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/sfn-local"
# Python frames the engine may stack up. Each level of nested Parallel/Map takes about 7 (validating
# and copying a definition about as many), so Python's default 1,000 stops near 140 levels; 10,000
# allows about 1,400 and leaves the C stack (8 MiB a thread; ~100 bytes a JSON level) far from full.
# Deeper still is refused with an AWS error, never a RecursionError. Raised once, when the engine is
# imported, never lowered: it is process-wide.
RECURSION_LIMIT = 10_000
if sys.getrecursionlimit() < RECURSION_LIMIT:
    sys.setrecursionlimit(RECURSION_LIMIT)


_done_lock = threading.Lock()


class _Done:
    """Set when the execution has ended: threading.Event's set/clear/is_set/wait, with the Event made only
    for a caller that waits before the end (making one costs as much as a one-state execution's setup)."""

    __slots__ = ("_event", "_flag")

    def __init__(self) -> None:
        self._flag = False
        self._event: threading.Event | None = None

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        with _done_lock:
            self._flag = True
            if self._event is not None:
                self._event.set()

    def clear(self) -> None:
        with _done_lock:
            self._flag = False
            if self._event is not None:
                self._event.clear()

    def wait(self, timeout: float | None = None) -> bool:
        with _done_lock:
            if self._flag:
                return True
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        return event.wait(timeout)


class _FromText:
    """An attribute set as a value, or as JSON text (`Execution.text_values`, a compiled definition's text)
    read into its value when first asked for."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.value, self.text = f"_{name}", f"_{name}_text"

    def __get__(self, holder: Any, owner: type | None = None) -> Any:
        if holder is None:
            return self
        text = getattr(holder, self.text)
        if text is not None:
            self.__set__(holder, from_json(text))
        return getattr(holder, self.value)

    def __set__(self, holder: Any, value: Any) -> None:
        setattr(holder, self.value, value)
        setattr(holder, self.text, None)


class Execution(ExecutionAssertions):
    """One execution: its status, output or error, and its history (DescribeExecution + GetExecutionHistory).

    Test helpers (emulator/engine/trace.py): `path`, `state(name)`, `calls(service)`,
    `assert_succeeded()`, `assert_failed(error=...)`.
    """

    def __init__(self, name: str, arn: str, state_machine_arn: str, input: Any) -> None:
        self.name = name
        self.arn = arn
        self.state_machine_arn = state_machine_arn
        # The input and output are made from their JSON text when first read (`text_values`): a kept execution
        # (a test's, a server's) holds its text, not a Map's thousand objects twice over.
        self._input, self._input_text = input, None
        self.status = "RUNNING"
        self._output, self._output_text = None, None
        self.error: str | None = None
        self.cause: str | None = None
        self.start_date: datetime | None = None
        self.stop_date: datetime | None = None
        self._history = EventList()
        self.history_paths: list[tuple[tuple[str, int], ...]] = []  # each event's branch (History.paths)
        self.redrive_count = 0
        self.state_machine: StateMachine | None = None  # what `redrive` runs again
        self.map_runs: list[Any] = []  # its Distributed Map runs, with their child executions (engine/distributed.py)
        self._done = _Done()
        self._cancel = CancelToken()
        self._stop_reason: tuple[str | None, str | None] = (None, None)

    input = _FromText()  # the execution's input: its own copy
    output = _FromText()  # the output of a SUCCEEDED execution (its own copy), else None

    def text_values(self, input_text: str | None = None, output_text: str | None = None) -> None:
        """Set the input or output as JSON text (which `to_json` wrote), read into values when first asked for."""
        if input_text is not None:
            self._input, self._input_text = None, input_text
        if output_text is not None:
            self._output, self._output_text = None, output_text

    @property
    def history(self) -> list[dict[str, Any]]:
        """GetExecutionHistory's events, oldest first (built from the run's records as they are read)."""
        return self._history.sync()

    @history.setter
    def history(self, events: list[dict[str, Any]]) -> None:
        # A History's own list stays bound to it, so events recorded after this are seen here too.
        self._history = events if isinstance(events, EventList) else EventList(events)

    def __repr__(self) -> str:
        detail = f"error={self.error!r}" if self.error else f"output={to_json(self.output)[:60]}"
        return f"<Execution {self.name} {self.status} {detail}>"

    @property
    def definition(self) -> dict[str, Any] | None:
        """The state machine's definition: places each visited state in its branch or iteration (`path`)."""
        return self.state_machine.definition if self.state_machine is not None else None

    def redrive(self, resources: Mapping[str, Callable[..., Any]] | None = None) -> Execution:
        """RedriveExecution: run again from the states that did not succeed, in place (same name, ARN and
        history); `resources` replaces handlers (a fixed one). ExecutionNotRedrivable unless FAILED,
        ABORTED or TIMED_OUT. See emulator/engine/redrive.py."""
        from emulator.engine.redrive import redrive

        return redrive(self, resources=resources)

    @property
    def root_cause(self) -> RootCause | None:
        """Where the first error was raised and how it travelled (retries, Catch, Fail state); None unless
        the execution FAILED, TIMED_OUT or was ABORTED (see emulator/engine/report.py)."""
        if self.status in ("SUCCEEDED", "RUNNING"):
            return None
        from emulator.engine.report import root_cause  # read for failed executions only

        return root_cause(self.history, self.definition, self.error, self.cause)

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

    definition = _FromText()  # the definition: this StateMachine's own copy

    def __init__(self, definition: dict[str, Any] | str | os.PathLike[str], *, name: str = "StateMachine",
                 resources: Mapping[str, Callable[..., Any]] | None = None,
                 role_arn: str = DEFAULT_ROLE_ARN, workspace: Workspace | str | os.PathLike[str] | None = None,
                 state_machines: Mapping[str, Any] | None = None) -> None:
        try:
            source, self.machine = compile_definition(definition)
        except RecursionError:
            raise DefinitionError([Diagnostic("", "the definition nests states, arrays or objects too deeply to "
                                                  "process (Parallel and Map states about 1,400 levels at most)")]
                                  ) from None
        # This StateMachine's own copy of the definition, read from the compiled definition's text when asked for.
        self._definition, self._definition_text = (None, source) if isinstance(source, str) else (source, None)
        self.name = name
        self.arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        # A MockConfig or TestCase given as resources mocks every run (see emulator/integrations/mocks.py).
        self.mock_config: MockSource | None = None
        if isinstance(resources, MockConfig | TestCase):
            self.mock_config, resources = resources, None
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

    def prepare(self, input: Any = None, **options: Any) -> tuple[Execution, Callable[[], None]]:
        """The Execution, not started yet, and the work that runs it (for a caller that records the execution
        before it runs, then runs it where it likes). Options as `start`; StartExecutionError as `run`."""
        return self._prepare(input, **options)

    def _prepare(self, input: Any = None, *, name: str | None = None, clock: str = "virtual",
                 seed: int | None = None, resources: Mapping[str, Callable[..., Any]] | None = None,
                 max_events: int | None = MAX_EVENTS, state_machines: Mapping[str, Any] | None = None,
                 nesting: int = 0, mock_config: MockSource | None = None, test_case: str | None = None,
                 observer: Observer | None = None, nested: Any = None,
                 ) -> tuple[Execution, Callable[[], None]]:
        if clock not in ("virtual", "real"):
            raise ValueError(f"clock must be 'virtual' or 'real', not {clock!r}")
        if isinstance(resources, MockConfig | TestCase):  # a mock config given as the run's resources
            mock_config, resources = resources, None
        # mock_config: a MockConfig, TestCase, dict or file (else SFN_MOCK_CONFIG); test_case: its test case name.
        mock_config = self.mock_config if mock_config is None else mock_config
        case = test_case_for(self.name, mock_config, test_case) if nesting == 0 else None
        rng = _generator(seed)
        name = str(uuid.UUID(int=rng.getrandbits(128), version=4)) if name is None else check_execution_name(name)
        # The run and the Execution each get their own copy: the caller keeps theirs to change.
        value = {} if input is None else input
        input_text = _input_text(value)
        # Only text with more than 1,000 brackets can nest deeper than that: the walk is for those alone.
        if input_text.count("[") + input_text.count("{") > MAX_NESTING_DEPTH:
            check_input_depth(value)
        check_input_size(input_text)
        data = from_json(input_text)
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{self.name}:{name}"
        execution = Execution(name, arn, self.arn, None)
        execution.text_values(input_text)
        execution.state_machine = self
        history = History(limit=max_events)
        execution.history, execution.history_paths = history.events, history.paths
        start_clock = Clock(real=clock == "real", owner=execution)
        start = start_clock.now()
        execution.start_date = start_clock.datetime()
        timeout = self.machine.timeout_seconds
        registry = Registry({**self.resources, **(resources or {})}, self.backends)
        # Nested executions (integrations/stepfunctions.py) find their machines and inherit these options.
        registry.state_machines = {**self.state_machines, **(state_machines or {})}
        # `nesting`: how many states:startExecution tasks deep this execution runs (0 for a top-level one).
        registry.run_options = {"clock": clock, "seed": seed, "max_events": max_events, "nesting": nesting}
        if nested is not None:  # a NestedExecutions (integrations/stepfunctions.py): vets and records children
            registry.run_options["nested"] = nested
        registry.mocks = case.session() if case is not None else None
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
            observer=observer,
            map_runs=execution.map_runs,
        )

        def work() -> None:
            # Status change events (RUNNING, then how it ended), when an event rule may want them.
            announce = events.wants(self.backends.workspace, "aws.states")
            if announce:
                events.execution_status(self.backends.workspace, execution)
            try:
                _execute(self, execution, run, start_clock, input_text)
            finally:
                background.finished(execution, execution.status == "SUCCEEDED")
                execution._done.set()
                if announce:
                    events.execution_status(self.backends.workspace, execution)

        return execution, work


_SEEDED: dict[int, tuple[Any, ...]] = {}  # generator states by integer seed (a test suite uses a few)


def _generator(seed: Any) -> random.Random:
    """The execution's generator (its name, task tokens, States.UUID, $random): repeatable for a seed. Unseeded,
    it is seeded from 128 bits of the system's randomness, as Random() reads 2.5 KB of it (a fifth of a short
    execution's cost); seeding from an integer costs more than restoring the state it leads to."""
    if seed is None:
        return random.Random(int.from_bytes(os.urandom(16), "big"))
    if type(seed) is not int:
        return random.Random(seed)
    state = _SEEDED.get(seed)
    if state is None:
        rng = random.Random(seed)
        if len(_SEEDED) < 64:
            _SEEDED[seed] = rng.getstate()
        return rng
    rng = random.Random.__new__(random.Random)
    rng.setstate(state)
    return rng


# Compiled definitions by content, least recently used first: StateMachines made from the same
# definition share one compiled Machine (and the definition's JSON text), which executions only read,
# so parsing and validation happen once per distinct definition.
COMPILED_CACHE_SIZE = 256
_compiled: OrderedDict[str, tuple[Any, Machine]] = OrderedDict()
_compiled_lock = threading.Lock()


def compile_definition(definition: dict[str, Any] | str | os.PathLike[str]) -> tuple[Any, Machine]:
    """The definition's compact JSON text (or, when it is not plain JSON, a private copy of it) and its compiled
    Machine, from the cache when that content was compiled before.

    Raises DefinitionError for an invalid definition (never cached)."""
    loaded = load_definition(definition)
    # Compiling makes only lasting objects (frozen just below), so collecting while it runs finds nothing:
    # a 1,000-state definition would pay dozens of young collections for it, a sixth of its compile time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        # One serialization gives the cache key, the private copy, and the size validation measures.
        plain = plain_json(loaded, parsed=loaded is not definition)  # read from text here: already private
        key = plain.key if plain is not None else None  # not plain JSON (a NaN marker, a tuple): validation says why
        if key is not None:
            with _compiled_lock:
                if (hit := _compiled.get(key)) is not None:
                    _compiled.move_to_end(key)
                    return hit
        # The caller's dict is copied: the compiled states keep parts of it (Result, ...) and the caller may
        # change it.
        own = _private_copy(loaded, plain) if loaded is definition else loaded
        with measured(own, plain.text if plain is not None else None):  # validation need not serialize it again
            # The text, not the loaded copy: the copy's containers are half a compiled definition's memory,
            # and the machine keeps only what it uses of them. `StateMachine.definition` reads the text back.
            compiled = (plain.text if plain is not None else own, parse(own))
    finally:
        if collecting:
            gc.enable()
    # The compiled states live as long as the cache: out of the cyclic collector's sight, its full
    # collections (which a long run's own allocations trigger) need not walk them again and again.
    gc.freeze()
    if key is not None:
        with _compiled_lock:
            _compiled[key] = compiled
            while len(_compiled) > COMPILED_CACHE_SIZE:
                _compiled.popitem(last=False)
    return compiled


def _private_copy(definition: Any, plain: PlainJson | None) -> Any:
    """A deep copy: the one `plain_json` read back from the text when it is plain JSON; else deepcopy, which
    keeps what validation must see (tuples, NaN, non-string keys, markers)."""
    return plain.copy if plain is not None else copy.deepcopy(definition)


def _input_text(value: Any) -> str:
    try:
        return to_json(value)
    except RecursionError:
        check_input_depth(value)  # nested past the recursion limit: InvalidExecutionInput says how deep
        raise
    except (TypeError, ValueError) as exc:
        raise TypeError(f"execution input is not JSON: {exc}") from None


def _execute(machine: StateMachine, execution: Execution, run: Run, clock: Clock, input_text: str) -> None:
    interpreter = Interpreter(run)
    root = Branch(clock, 0, execution._cancel, Variables())
    run.history.add("ExecutionStarted", 0, clock.now(), "executionStartedEventDetails",
                    {"input": input_text, "inputDetails": {"truncated": False}, "roleArn": run.role_arn})
    root.checked, root.snap = run.input, input_text
    _execute_from(machine, execution, run, clock, root, run.input, interpreter)


def _execute_from(machine: StateMachine, execution: Execution, run: Run, clock: Clock, root: Branch, data: Any,
                  interpreter: Interpreter | None = None) -> None:
    """Run the machine (from `run.redrive_from` on a redrive) and finish the execution with its outcome."""
    interpreter = interpreter or Interpreter(run)
    try:
        output = interpreter.run_machine(machine.machine, data, root, run.redrive_from)
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
    except RecursionError:
        # Past RECURSION_LIMIT outside any branch (a state output nested thousands of levels deep).
        _finish(execution, run, root, "FAILED", "ExecutionFailed", "executionFailedEventDetails", RUNTIME,
                f"An error occurred while executing the state '{execution.failed_state}': its data or "
                "states nest too deeply to process.")
    else:
        text = to_json(output)
        # The caller's copy (made when read): the output may share objects with the definition (a Pass Result).
        execution.text_values(output_text=text)
        execution.status = "SUCCEEDED"
        run.history.add("ExecutionSucceeded", root.last, clock.now(), "executionSucceededEventDetails",
                        {"output": text, "outputDetails": {"truncated": False}})
        execution.stop_date = clock.datetime()
    finally:
        run.history.detach()
        # The handlers' AWS environment stays set between their calls, not after the run. Only a
        # loaded endpoint module can have set it: a run without Python handlers does not load it.
        endpoint = sys.modules.get("emulator.integrations.endpoint")
        if endpoint is not None:
            endpoint.release()


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
