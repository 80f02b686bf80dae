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


# StartExecution's `name`: 1-80 characters and none of these (the API reference's list). Whitespace
# is any Unicode whitespace (str.isspace), checked separately.
_NAME_FORBIDDEN = frozenset('<>{}[]?*"#%\\^|~`$&,;:/')
MAX_NAME_LENGTH = 80


def forbidden_in_name(char: str) -> bool:
    code = ord(char)
    return (char in _NAME_FORBIDDEN or char.isspace() or code <= 0x1F or 0x7F <= code <= 0x9F
            or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF, 0x10FFFF))


class StartExecutionError(ValueError):
    """StartExecution refused the call before anything ran; `.code` is AWS's exception name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidName(StartExecutionError):
    """StartExecution's InvalidName (or its ValidationException for the length); `.code` says which."""


class InvalidExecutionInput(StartExecutionError):
    """StartExecution refused the input (InvalidExecutionInput, or ValidationException for its length)."""


class ExecutionAlreadyExists(StartExecutionError):
    """StartExecution's ExecutionAlreadyExists: the name is taken by another execution."""

    def __init__(self, arn: str) -> None:
        super().__init__("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")


def check_execution_name(name: object) -> str:
    """Return `name` when AWS would accept it as an execution name; raise InvalidName otherwise."""
    if not isinstance(name, str):
        raise InvalidName("InvalidName", f"Invalid Name: '{name}'")
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        bound = "greater than or equal to 1" if not name else f"less than or equal to {MAX_NAME_LENGTH}"
        raise InvalidName("ValidationException", f"1 validation error detected: Value '{name}' at 'name' failed "
                          f"to satisfy constraint: Member must have length {bound}")
    if any(forbidden_in_name(c) for c in name):
        raise InvalidName("InvalidName", f"Invalid Name: '{name}'")
    return name
