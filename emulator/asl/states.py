"""Typed, compiled states: what the parser builds and the engine runs.

Every expression a state holds (paths, templates, intrinsics, choice rules) is compiled here,
once per state machine, so running a state does no parsing.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    output: Any = None  # JSONata: Output over $states.errorOutput
    assign: Any = None  # Assign (either language's template)


@dataclass(slots=True)
class ChoiceRule:
    predicate: Predicate
    next: str
    output: Any = None  # JSONata rules may carry their own Output and Assign
    assign: Any = None


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
    # Shared empty tuples, not a list per state: most states of a large definition have neither.
    retry: Sequence[Retrier] = ()
    catch: Sequence[Catcher] = ()
    jsonata: bool = False  # the state's query language
    assign: Any = None  # Assign: a JSONPath Template, or a JSONata Template
    arguments: Any = None  # JSONata: Arguments (Task, Parallel)
    output: Any = None  # JSONata: Output


@dataclass(slots=True, eq=False)
class PassState(State):
    result: Any = UNSET


@dataclass(slots=True, eq=False)
class TaskState(State):
    resource: str = ""
    timeout_seconds: Any = None  # seconds; in JSONata states a Template that may hold an expression
    timeout_seconds_path: Path | None = None
    heartbeat_seconds: Any = None
    heartbeat_seconds_path: Path | None = None
    credentials: Any = None


@dataclass(slots=True, eq=False)
class ChoiceState(State):
    choices: list[ChoiceRule] = field(default_factory=list)
    default: str | None = None


@dataclass(slots=True, eq=False)
class WaitState(State):
    seconds: Any = None  # in JSONata states Seconds / Timestamp are Templates
    timestamp: Any = None
    seconds_path: Path | None = None
    timestamp_path: Path | None = None


@dataclass(slots=True, eq=False)
class SucceedState(State):
    pass


@dataclass(slots=True, eq=False)
class FailState(State):
    error: Any = None  # a string; in JSONata states a Template
    cause: Any = None
    error_path: Path | Any | None = None  # a Path, or an intrinsic (anything with evaluate())
    cause_path: Path | Any | None = None


@dataclass(slots=True, eq=False)
class ParallelState(State):
    branches: list[Machine] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class MapState(State):
    processor: Machine | None = None
    items_path: Path | Any | None = UNSET
    items: Any = None  # JSONata: Items (array or expression)
    item_selector: Template | None = None
    max_concurrency: Any = None  # None: unlimited, as 0
    max_concurrency_path: Path | None = None
    tolerated_failure_percentage: Any = None
    tolerated_failure_percentage_path: Path | None = None
    tolerated_failure_count: Any = None
    tolerated_failure_count_path: Path | None = None
    distributed: bool = False
    label: str | None = None
    execution_type: str = "STANDARD"  # ProcessorConfig.ExecutionType of a Distributed Map's child executions
    reader: ItemReaderSpec | None = None
    batcher: ItemBatcherSpec | None = None
    writer: ResultWriterSpec | None = None


@dataclass(slots=True, eq=False)
class ItemReaderSpec:
    """A Distributed Map's ItemReader. In JSONata states `parameters` and `config` are JSONata Templates
    (Arguments, ReaderConfig); in JSONPath states a payload Template and a plain dict."""

    resource: str
    parameters: Any = None
    config: Any = None
    max_items_path: Path | None = None


@dataclass(slots=True, eq=False)
class ItemBatcherSpec:
    """ItemBatcher: each number a value (a JSONata Template in JSONata states) or a path; None when absent."""

    max_items: Any = None
    max_items_path: Path | None = None
    max_bytes: Any = None
    max_bytes_path: Path | None = None
    batch_input: Any = None


@dataclass(slots=True, eq=False)
class ResultWriterSpec:
    """ResultWriter: where child results go (Resource/Parameters, optional) and how (WriterConfig)."""

    resource: str | None = None
    parameters: Any = None
    output_type: str = "JSON"
    transformation: str | None = None  # None: NONE when exporting to S3, else COMPACT


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
    # Whether one of its own states assigns variables (Assign, a Catch's or a Choice rule's): a branch
    # or iteration running it needs a scope of its own only then.
    has_assign: bool = False
