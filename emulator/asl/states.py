"""Typed, compiled states: what the parser builds and the engine runs.

Every expression a state holds (paths, templates, intrinsics, choice rules) is compiled here,
once per state machine, so running a state does no parsing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.asl.choice import Predicate
from emulator.asl.paths import Path
from emulator.asl.templates import Template


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""A field the definition leaves out (as opposed to setting it to null)."""


@dataclass(slots=True)
class Retrier:
    error_equals: tuple[str, ...]
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    jitter_full: bool = False


@dataclass(slots=True)
class Catcher:
    error_equals: tuple[str, ...]
    next: str
    result_path: Path | Any | None = UNSET  # UNSET: "$"; None: discard the error output


@dataclass(slots=True)
class ChoiceRule:
    predicate: Predicate
    next: str


@dataclass(slots=True, eq=False)
class State:
    """Fields every state may have; the engine ignores what its type does not use."""

    name: str
    type: str
    next: str | None = None
    end: bool = False
    input_path: Path | Any | None = UNSET  # UNSET: "$"; None: {}
    output_path: Path | Any | None = UNSET
    result_path: Path | Any | None = UNSET  # UNSET: "$" (replace); None: keep the input
    parameters: Template | None = None
    result_selector: Template | None = None
    retry: list[Retrier] = field(default_factory=list)
    catch: list[Catcher] = field(default_factory=list)
    # True when some expression of the state reads `$$`: the context object is built only then.
    uses_context: bool = False


@dataclass(slots=True, eq=False)
class PassState(State):
    result: Any = UNSET


@dataclass(slots=True, eq=False)
class TaskState(State):
    resource: str = ""
    timeout_seconds: float | None = None
    timeout_seconds_path: Path | None = None
    heartbeat_seconds: float | None = None
    heartbeat_seconds_path: Path | None = None
    credentials: Any = None


@dataclass(slots=True, eq=False)
class ChoiceState(State):
    choices: list[ChoiceRule] = field(default_factory=list)
    default: str | None = None


@dataclass(slots=True, eq=False)
class WaitState(State):
    seconds: float | None = None
    timestamp: str | None = None
    seconds_path: Path | None = None
    timestamp_path: Path | None = None


@dataclass(slots=True, eq=False)
class SucceedState(State):
    pass


@dataclass(slots=True, eq=False)
class FailState(State):
    error: str | None = None
    cause: str | None = None
    error_path: Path | Any | None = None  # a Path, or an intrinsic (anything with evaluate())
    cause_path: Path | Any | None = None


@dataclass(slots=True, eq=False)
class ParallelState(State):
    branches: list[Machine] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class MapState(State):
    processor: Machine | None = None
    items_path: Path | Any | None = UNSET
    item_selector: Template | None = None
    max_concurrency: int = 0
    max_concurrency_path: Path | None = None
    tolerated_failure_percentage: float | None = None
    tolerated_failure_percentage_path: Path | None = None
    tolerated_failure_count: int | None = None
    tolerated_failure_count_path: Path | None = None
    distributed: bool = False
    label: str | None = None


@dataclass(slots=True, eq=False)
class Machine:
    """A set of states with a start: the whole definition, a Parallel branch or a Map's processor."""

    start_at: str
    states: dict[str, State]
    timeout_seconds: float | None = None
    comment: str | None = None
    # Whether running it can block on something outside the interpreter: a Task (any clock)
    # or a Wait (real clock only). Only then is it worth running branches on threads.
    has_task: bool = False
    has_wait: bool = False
