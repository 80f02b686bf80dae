"""Errors shared by every layer: the ASL error names and the exceptions that carry them."""

from __future__ import annotations

from dataclasses import dataclass

# Error names AWS Step Functions defines (ASL spec, "Error names").
ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
RUNTIME = "States.Runtime"
PERMISSIONS = "States.Permissions"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
BRANCH_FAILED = "States.BranchFailed"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
ITEM_READER_FAILED = "States.ItemReaderFailed"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"

# States.ALL does not match these: AWS treats them as terminal.
NOT_MATCHED_BY_ALL = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})


class StatesError(Exception):
    """A failure inside an execution: an ASL error name plus its cause.

    Raised by path evaluation, intrinsics, handlers and states; caught by Retry/Catch.
    """

    def __init__(self, error: str | None, cause: str | None = None, location: str | None = None) -> None:
        super().__init__(f"{error}: {cause}" if cause else str(error))
        self.error = error
        self.cause = cause
        self.location = location  # the field that failed, for States.QueryEvaluationError


class TaskTimedOut(StatesError):
    """A Task exceeded TimeoutSeconds or HeartbeatSeconds (raised through a handler's context)."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a definition: where (a JSON pointer into it) and what."""

    location: str
    message: str
    code: str = "SCHEMA_VALIDATION_FAILED"

    def __str__(self) -> str:
        return f"{self.location or '/'}: {self.message}"


class DefinitionError(ValueError):
    """A definition AWS would reject (CreateStateMachine's InvalidDefinition)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        lines = "\n".join(f"  {d}" for d in self.diagnostics)
        super().__init__(f"Invalid state machine definition ({len(self.diagnostics)} problem(s)):\n{lines}")
