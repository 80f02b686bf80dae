"""One interface for everything that watches an execution run: debuggers, TestState's inspection
data, progress displays.

Attach an `Observer` with `StateMachine.run(input, observer=...)` (or `start`). The interpreter calls
it at each moment below, on the thread running that branch (Parallel branches and Map iterations with
Task states run on worker threads, so an observer that keeps state across branches must lock).
With no observer attached the interpreter skips all of this.

Stage names, in the order a state computes them (a state type only reports the ones it has):
`input`, `afterInputPath`, `afterItemsPath`, `maxConcurrency`, `toleratedFailureCount`,
`toleratedFailurePercentage`, `afterParameters` (JSONPath) / `afterArguments` (JSONata), `result`,
`afterResultSelector`, `afterResultPath`, `output`, `variables` (the Assign about to be applied).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.errors import StatesError

# Where a branch runs inside the execution: one (Parallel or Map state name, branch or iteration index)
# pair per level, outermost first; () for the execution's own top level.
Path = tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Context:
    """Identifies a moment's position: execution → Parallel branch / Map iteration → state → attempt."""

    execution_arn: str
    path: Path
    state: str
    retry_count: int  # retries of this state so far ($$.State.RetryCount)
    # The state run's evaluation environment (emulator.asl.paths.Env: `$$`, variables, randomness);
    # None for branch moments. Lets a debugger evaluate and edit what the state sees.
    env: Any = field(default=None, compare=False, repr=False)


class RunAgain(Exception):
    """Raised by an observer's `state_entered` or `state_failed` to run a state of the same branch again
    (the current one unless `state` names another) with `input`, instead of going on: what a debugger's
    edit-and-retry and "back" need. The interpreter catches it in its transition loop."""

    def __init__(self, input: Any, state: str | None = None) -> None:
        super().__init__(state)
        self.input = input
        self.state = state


class Observer:
    """Receives an execution's moments. Every method does nothing: override the ones you need."""

    def state_entered(self, ctx: Context, state: Any, input: Any) -> None:
        """A state starts, with its raw input."""

    def stage(self, ctx: Context, state: Any, name: str, value: Any) -> None:
        """A data-flow stage of the state was computed (names in the module docstring)."""

    def retry_scheduled(self, ctx: Context, state: Any, error: StatesError, retrier: int, delay: float) -> None:
        """Retrier number `retrier` matched `error`; the state runs again after `delay` seconds."""

    def error_caught(self, ctx: Context, state: Any, error: StatesError, catcher: int) -> None:
        """Catcher number `catcher` matched `error`; the state's output is the catcher's."""

    def state_exited(self, ctx: Context, state: Any, output: Any, next_state: str | None) -> None:
        """A state finished with `output`; `next_state` is None where its branch ends."""

    def state_failed(self, ctx: Context, state: Any, error: StatesError) -> None:
        """A state failed with an error no Retry or Catch handled."""

    def branch_started(self, ctx: Context, state: Any, index: int, input: Any) -> None:
        """Parallel branch (or Map iteration) `index` of `state` starts; `ctx.path` is the parent's."""

    def branch_ended(self, ctx: Context, state: Any, index: int, output: Any, error: StatesError | None) -> None:
        """That branch or iteration ended, with its output or its error."""
