"""The engine-facing half of the debugger, shared by the terminal REPL and the DAP server.

A `Session` is an `Observer`: the execution runs in `StateMachine.start` on its own thread (Parallel
branches and Map iterations on worker threads), and a callback that decides to stop blocks its thread
on a condition variable until the front resumes it. One thread is stopped at a time; another thread
that wants to stop waits for its turn. The front learns of stops and of the end through `next_event`.

Re-running a state (edited input, `retry`, `mock`, `back`) raises `RunAgain` from the paused callback;
the interpreter's transition loop catches it. `back N` restarts from a state of the current branch that
ran earlier, with the input and variables it was entered with (no re-run from the start).
`mock` gives a Task its result through the registry's per-call mock hook, so the Task's history
events are written as for a mocked response.
"""

from __future__ import annotations

import importlib
import json
import queue
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.asl import jsonata
from emulator.asl.choice import compile_rule
from emulator.asl.paths import PathSyntaxError, compile_path
from emulator.engine.execution import Execution, StateMachine
from emulator.engine.observe import Context, Observer, Path, RunAgain
from emulator.errors import StatesError

# A breakpoint condition of the form `<JSONPath> <operator> <JSON literal>`, made into a Choice rule.
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_CHOICE_OPS = {"<": "LessThan", "<=": "LessThanEquals", ">": "GreaterThan", ">=": "GreaterThanEquals"}


class DebuggerError(ValueError):
    """A command the debugger cannot carry out; the message says why."""


@dataclass
class Stop:
    """Where a thread of the execution is stopped, and what the front asked it to do next."""

    reason: str  # entry, breakpoint, step, pause, exception
    kind: str  # entered (before the state runs) or failed (an error no Retry/Catch handled)
    ctx: Context
    state: Any
    input: Any
    error: StatesError | None = None
    note: str | None = None  # e.g. a breakpoint condition that could not be evaluated
    action: str | None = None
    rerun: tuple[Any, str | None] | None = None  # (input, state) to run instead of going on
    thread_id: int = 0

    @property
    def path(self) -> Path:
        return self.ctx.path

    @property
    def name(self) -> str:
        return self.ctx.state


@dataclass
class Breakpoint:
    state: str
    condition: str | None = None
    test: Callable[[Any, Any], bool] | None = None


@dataclass
class _Visit:
    """A state entered in a branch: what `back` restores."""

    state: str
    input: Any
    scopes: list[tuple[Any, dict[str, Any], dict[str, int]]] = field(default_factory=list)


@dataclass
class Finished:
    execution: Execution


def _related(path: Path, anchor: Path) -> bool:
    """The same branch, one inside it, or one it is inside."""
    n = min(len(path), len(anchor))
    return path[:n] == anchor[:n]


def _encloses(path: Path, anchor: Path) -> bool:
    """`path` is `anchor` or a branch that contains it."""
    return anchor[: len(path)] == path


def describe_path(path: Path, state: str | None = None, retry: int = 0) -> str:
    parts = ["execution"]
    for owner, index in path:
        parts.append(f"{owner}[{index}]")
    if state is not None:
        parts.append(state + (f" (retry {retry})" if retry else ""))
    return " → ".join(parts)


def compile_condition(text: str) -> Callable[[Any, Any], bool]:
    """A breakpoint condition over the state's input: `<JSONPath> <op> <JSON>` (Choice rule semantics:
    a value of another type never matches), a bare JSONPath (it selects something truthy), or JSONata
    (`{% ... %}` or a bare expression) seeing the input as `$states.input` and the variables."""
    text = text.strip()
    if text.startswith("$") and not text.startswith("$states"):
        for op in _OPERATORS:
            left, sep, right = text.partition(f" {op} ")
            if not sep:
                continue
            try:
                expected = json.loads(right)
                compile_path(left.strip())
            except (ValueError, PathSyntaxError):
                break
            rule = _choice_rule(left.strip(), op, expected)
            predicate = compile_rule(rule)
            return lambda data, env: bool(predicate(data, env))
        try:
            path = compile_path(text)
        except PathSyntaxError:
            pass
        else:
            return lambda data, env: path.exists(data, env)
    expression = _jsonata(text)
    return lambda data, env: bool(_jsonata_value(expression, data, env))


def _choice_rule(variable: str, op: str, expected: Any) -> dict[str, Any]:
    if isinstance(expected, bool):
        kind = "Boolean"
    elif isinstance(expected, int | float):
        kind = "Numeric"
    elif isinstance(expected, str):
        kind = "String"
    elif expected is None:
        rule: dict[str, Any] = {"Variable": variable, "IsNull": True}
        return {"Not": rule} if op == "!=" else rule
    else:
        raise DebuggerError(f"cannot compare with {json.dumps(expected)}: use a number, string, boolean or null")
    if op in ("==", "!="):
        rule = {"Variable": variable, f"{kind}Equals": expected}
        return {"Not": rule} if op == "!=" else rule
    if kind == "Boolean":
        raise DebuggerError(f"'{op}' does not order booleans")
    return {"Variable": variable, f"{kind}{_CHOICE_OPS[op]}": expected}


def _jsonata(text: str) -> jsonata.Expression:
    source = text if jsonata.is_expression(text) else "{% " + text + " %}"
    try:
        return jsonata.compile_expression(source)
    except jsonata.JsonataSyntaxError as exc:
        raise DebuggerError(f"not a JSONPath or JSONata expression: {exc}") from None


def _jsonata_value(expression: jsonata.Expression, data: Any, env: Any) -> Any:
    bindings: dict[str, Any] = dict(env.variables.flatten()) if env is not None else {}
    bindings["states"] = {"input": data, "context": env.context if env is not None else {}}
    value = expression.evaluate(bindings, env.random if env is not None else _RANDOM)
    return None if value is jsonata.UNDEFINED else value


# Expressions evaluated outside a state run ($random) draw from a fixed source, not the run's.
_RANDOM = random.Random(0)


def evaluate(text: str, data: Any, env: Any) -> Any:
    """`print`/`evaluate`: a JSONPath (`$.a`, `$$.Execution`, `$var.x`) over the state's input, else JSONata."""
    text = text.strip()
    if text.startswith("$") and not text.startswith("$states"):
        try:
            path = compile_path(text)
        except PathSyntaxError:
            pass
        else:
            return path.get(data, env)
    return _jsonata_value(_jsonata(text), data, env)


class _Mocks:
    """The registry's per-call mock hook: a result the debugger gave for the next run of a Task on a
    thread, else whatever handled the call before (a mock config, or the real handler)."""

    def __init__(self, session: Session, before: Any) -> None:
        self.session = session
        self.before = before

    def wrap(self, resource: Any, resolve: Callable[[], Any]) -> Callable[[Any], Any]:
        inner = self.before.wrap(resource, resolve) if self.before is not None else None
        real: list[Any] = []

        def handle(request: Any) -> Any:
            key = (threading.get_ident(), request.context.state_name)
            with self.session.lock:
                if key in self.session.mocks:
                    return self.session.mocks.pop(key)
            if inner is not None:
                return inner(request)
            if not real:
                real.append(resolve())
            return real[0](request)

        return handle


class Session(Observer):
    """One debugged execution: breakpoints, stepping, inspection and edits."""

    def __init__(self, machine: StateMachine, input: Any, *, seed: int | None = None, clock: str = "virtual",
                 break_on_error: bool = True, stop_on_entry: bool = True, name: str | None = None) -> None:
        self.machine = machine
        self.input = input
        self.options: dict[str, Any] = {"seed": seed, "clock": clock, "name": name}
        self.break_on_error = break_on_error
        self.stop_on_entry = stop_on_entry
        self.breakpoints: dict[str, list[Breakpoint]] = {}
        self.lock = threading.Condition()
        self.mocks: dict[tuple[int, str], Any] = {}
        self.execution: Execution | None = None
        self.current: Stop | None = None
        self._events: queue.Queue[Stop | Finished] = queue.Queue()
        self._mode = "continue"  # continue, step, next, out, quit
        self._pause_requested = False  # stop at the next state entered, on whichever thread enters it
        self._anchor: Path = ()
        self._entered_any = False
        self._seen_errors: list[StatesError] = []
        self._skip: set[tuple[int, str]] = set()  # a re-run the debugger asked for: not a new stop
        self._stages: dict[Path, list[tuple[str, Any]]] = {}
        self._outputs: dict[Path, tuple[str, Any]] = {}
        self._visits: dict[Path, list[_Visit]] = {}
        self._clocks: dict[Path, Any] = {}
        self._registry_hooked = False

    # -- control, from the front ------------------------------------------------------------
    def start(self) -> Execution:
        self.execution = self.machine.start(self.input, observer=self, **self.options)
        threading.Thread(target=self._watch, name="sfn-debug-watch", daemon=True).start()
        return self.execution

    def _watch(self) -> None:
        self.execution.wait()
        self._events.put(Finished(self.execution))

    def next_event(self, timeout: float | None = None) -> Stop | Finished:
        """The next stop, or the end of the execution."""
        return self._events.get(timeout=timeout)

    def add_breakpoint(self, spec: str) -> Breakpoint:
        """`STATE` or `STATE if CONDITION`."""
        state, sep, condition = spec.strip().partition(" if ")
        state = state.strip()
        if not state:
            raise DebuggerError("break needs a state name: break STATE [if CONDITION]")
        if state not in self.state_names():
            raise DebuggerError(f"no state named '{state}' in the definition")
        test = compile_condition(condition) if sep else None
        bp = Breakpoint(state, condition.strip() if sep else None, test)
        with self.lock:
            self.breakpoints.setdefault(state, []).append(bp)
        return bp

    def clear(self, state: str | None = None) -> int:
        with self.lock:
            if state is None:
                count = sum(len(b) for b in self.breakpoints.values())
                self.breakpoints.clear()
                return count
            return len(self.breakpoints.pop(state, []))

    def state_names(self) -> set[str]:
        names: set[str] = set()

        def walk(machine: Any) -> None:
            for name, state in machine.states.items():
                names.add(name)
                for sub in getattr(state, "branches", None) or ():
                    walk(sub)
                if getattr(state, "processor", None) is not None:
                    walk(state.processor)

        walk(self.machine.machine)
        return names

    def machine_state(self, name: str) -> str | None:
        """The type of the state called `name` (Map, Parallel, ...), wherever it is nested."""
        found: list[str] = []

        def walk(machine: Any) -> None:
            for key, state in machine.states.items():
                if key == name:
                    found.append(state.type)
                for sub in getattr(state, "branches", None) or ():
                    walk(sub)
                if getattr(state, "processor", None) is not None:
                    walk(state.processor)

        walk(self.machine.machine)
        return found[0] if found else None

    def resume(self, mode: str) -> None:
        """Let the stopped thread go on: continue, step (into branches), next (over them), out, quit."""
        stop = self.require_stop()
        with self.lock:
            self._mode = mode
            self._anchor = stop.path
            if mode == "quit" and self.execution is not None:
                self.execution.stop("Debugger.Quit", "The debugger quit.")
            stop.action = mode
            self.lock.notify_all()

    def pause(self) -> None:
        """Stop the running execution at the next state boundary (a stop with reason "pause")."""
        if self.execution is None or self.execution.status != "RUNNING":
            raise DebuggerError("the execution is not running")
        with self.lock:
            if self.current is None:
                self._pause_requested = True

    def require_stop(self) -> Stop:
        if self.current is None:
            raise DebuggerError("the execution is not stopped")
        return self.current

    # -- inspection and edits of the current stop ---------------------------------------------
    def stages(self) -> list[tuple[str, Any]]:
        stop = self.require_stop()
        return list(self._stages.get(stop.path, []))

    def variables(self) -> dict[str, Any]:
        env = self.require_stop().ctx.env
        return env.variables.flatten() if env is not None else {}

    def context_object(self) -> dict[str, Any]:
        env = self.require_stop().ctx.env
        return env.context if env is not None else {}

    def last_output(self) -> tuple[str, Any] | None:
        return self._outputs.get(self.require_stop().path)

    def history(self) -> list[dict[str, Any]]:
        return list(self.execution.history) if self.execution is not None else []

    def evaluate(self, text: str) -> Any:
        stop = self.require_stop()
        try:
            return evaluate(text, stop.input, stop.ctx.env)
        except StatesError as err:
            raise DebuggerError(f"{err.error}: {err.cause}") from None

    def edit_input(self, value: Any) -> None:
        """The state runs with `value` as its input: now (stopped on entry) or on `retry` (after a failure)."""
        stop = self.require_stop()
        stop.input = value
        if stop.kind == "entered":
            stop.rerun = (value, None)

    def edit_variable(self, name: str, value: Any) -> None:
        """Set a variable in the current branch's scope, as an Assign there would: a Map iteration or
        Parallel branch never changes what its siblings or the outer scope see."""
        env = self.require_stop().ctx.env
        if env is None:
            raise DebuggerError("no variables here")
        try:
            env.variables.assign({name: value})
        except StatesError as err:
            raise DebuggerError(f"{err.error}: {err.cause}") from None

    def mock(self, value: Any) -> None:
        """The current Task gets `value` as its result, without calling its handler."""
        stop = self.require_stop()
        if stop.state.type != "Task":
            raise DebuggerError(f"'{stop.name}' is a {stop.state.type} state: only a Task can be mocked")
        with self.lock:
            self.mocks[(stop.thread_id, stop.name)] = value
        stop.rerun = (stop.input, None)

    def retry(self, reload: bool = False) -> list[str]:
        """Run the stopped state again (with its possibly edited input); `reload` re-imports handler modules."""
        stop = self.require_stop()
        reloaded = self.reload_handlers() if reload else []
        stop.rerun = (stop.input, None)
        self.resume("step")
        return reloaded

    def reload_handlers(self) -> list[str]:
        env = self.require_stop().ctx.env
        registry = env.run.registry
        modules: dict[str, Any] = {}
        for key, fn in list(registry.callables.items()):
            module_name = getattr(fn, "__module__", None)
            if module_name is None or module_name not in sys.modules:
                continue
            if module_name not in modules:
                modules[module_name] = importlib.reload(sys.modules[module_name])
            registry.callables[key] = getattr(modules[module_name], fn.__name__, fn)
        return sorted(modules)

    def visits(self) -> list[_Visit]:
        return list(self._visits.get(self.require_stop().path, []))

    def back(self, steps: int) -> str:
        """Run again from the state `steps` states back in this branch (0: the current one), with the
        input and variables it was entered with."""
        stop = self.require_stop()
        visits = self._visits.get(stop.path, [])
        # The current state's own visit is the last one recorded.
        if steps < 0 or steps >= len(visits):
            raise DebuggerError(f"can go back 0 to {len(visits) - 1} states in this branch")
        visit = visits[-1 - steps]
        del visits[len(visits) - 1 - steps:]
        for scope, values, sizes in visit.scopes:
            scope.values.clear()
            scope.values.update(values)
            scope._sizes.clear()
            scope._sizes.update(sizes)
        stop.rerun = (visit.input, visit.state)
        self.resume("step")
        return visit.state

    # -- the observer, on the engine's threads --------------------------------------------------
    def state_entered(self, ctx: Context, state: Any, input: Any) -> None:
        with self.lock:
            if not self._registry_hooked and ctx.env is not None:
                registry = ctx.env.run.registry
                registry.mocks = _Mocks(self, registry.mocks)
                self._registry_hooked = True
            self._stages[ctx.path] = [("input", input)]
            self._clocks[ctx.path] = ctx.env.branch.clock if ctx.env is not None else None
            self._visits.setdefault(ctx.path, []).append(_Visit(state.name, input, _scopes(ctx.env)))
            key = (threading.get_ident(), state.name)
            if key in self._skip:
                self._skip.discard(key)
                return
            first = not self._entered_any
            self._entered_any = True

        def decide() -> Stop | None:
            reason, note = self._entered_reason(ctx, state, input, first)
            return None if reason is None else Stop(reason, "entered", ctx, state, input, note=note)

        self._pause(decide)

    def _entered_reason(self, ctx: Context, state: Any, input: Any, first: bool) -> tuple[str | None, str | None]:
        mode, anchor = self._mode, self._anchor
        if mode == "quit":
            return None, None
        if first and self.stop_on_entry:
            return "entry", None
        if self._pause_requested:
            self._pause_requested = False
            return "pause", None
        if mode == "step" and _related(ctx.path, anchor):
            return "step", None
        if mode == "next" and _encloses(ctx.path, anchor):
            return "step", None
        if mode == "out" and _encloses(ctx.path, anchor) and ctx.path != anchor:
            return "step", None
        for bp in list(self.breakpoints.get(state.name, ())):
            if bp.test is None:
                return "breakpoint", None
            try:
                if bp.test(input, ctx.env):
                    return "breakpoint", f"condition: {bp.condition}"
            except (StatesError, DebuggerError, ValueError) as exc:
                return "breakpoint", f"the condition '{bp.condition}' failed: {getattr(exc, 'cause', None) or exc}"
        return None, None

    def stage(self, ctx: Context, state: Any, name: str, value: Any) -> None:
        with self.lock:
            self._stages.setdefault(ctx.path, []).append((name, value))

    def state_exited(self, ctx: Context, state: Any, output: Any, next_state: str | None) -> None:
        with self.lock:
            self._outputs[ctx.path] = (state.name, output)

    def state_failed(self, ctx: Context, state: Any, error: StatesError) -> None:
        with self.lock:
            if not self.break_on_error or self._mode == "quit" or any(e is error for e in self._seen_errors):
                return
            self._seen_errors.append(error)
        self._pause(lambda: Stop("exception", "failed", ctx, state, self._visits[ctx.path][-1].input, error))

    def branch_ended(self, ctx: Context, state: Any, index: int, output: Any, error: StatesError | None) -> None:
        child = (*ctx.path, (state.name, index))
        with self.lock:
            self._clocks.pop(child, None)
            # Stepping past the end of a branch goes on in the branch around it.
            if self._mode in ("step", "next", "out") and self._anchor == child:
                self._anchor = ctx.path
                if self._mode == "out":
                    self._mode = "next"

    def _pause(self, decide: Callable[[], Stop | None]) -> None:
        """Stop this thread if `decide` (run once it is this thread's turn, with the latest mode) says so."""
        with self.lock:
            while self.current is not None:
                self.lock.wait()
            stop = decide() if self._mode != "quit" else None
            if stop is None:
                return
            stop.thread_id = threading.get_ident()
            stop.ctx.env.invalidate()  # `$$` as of now (RetryCount)
            self.current = stop
            paused = time.monotonic()
            self._events.put(stop)
            while stop.action is None:
                self.lock.wait()
            self._unfreeze(time.monotonic() - paused)
            self.current = None
            rerun = stop.rerun
            if rerun is not None and rerun[1] is None:  # the same state again: it was stopped at already
                self._skip.add((threading.get_ident(), stop.name))
                self._visits[stop.path].pop()
            self.lock.notify_all()
        if rerun is not None and stop.action != "quit":
            raise RunAgain(*rerun)

    def _unfreeze(self, seconds: float) -> None:
        """Virtual time moves only with the engine: the pause does not count."""
        for clock in self._clocks.values():
            if clock is not None and not clock.real:
                clock.offset -= seconds


def _scopes(env: Any) -> list[tuple[Any, dict[str, Any], dict[str, int]]]:
    out = []
    scope = env.variables if env is not None else None
    while scope is not None:
        out.append((scope, dict(scope.values), dict(scope._sizes)))
        scope = scope.parent
    return out
