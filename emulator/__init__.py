"""sfn-local: run AWS Step Functions state machines locally.

    import emulator
    ex = emulator.run(definition, {"n": 1})
    ex.status, ex.output, ex.history
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from emulator.errors import DefinitionError, Diagnostic, StatesError

if TYPE_CHECKING:
    from emulator.engine.execution import Execution, StateMachine
    from emulator.teststate import test_state
    from emulator.workspace import Workspace

__all__ = [
    "DefinitionError",
    "Diagnostic",
    "Execution",
    "StateMachine",
    "StatesError",
    "Workspace",
    "run",
    "start",
    "test_state",
    "validate",
]

# Loaded on first use (PEP 562): `import emulator` stays cheap for the pytest plugin, the CLI's
# other commands and `except emulator.DefinitionError`, and TestState's module loads only for TestState.
_LAZY = {
    "Execution": "emulator.engine.execution",
    "StateMachine": "emulator.engine.execution",
    "Workspace": "emulator.workspace",
    "test_state": "emulator.teststate",
}

Definition = dict[str, Any] | str | os.PathLike[str]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'emulator' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def run(definition: Definition, input: Any = None, *, state_machine_name: str = "StateMachine",
        resources: Mapping[str, Callable[..., Any]] | None = None, workspace: Workspace | str | None = None,
        **options: Any) -> Execution:
    """Run a definition (dict, JSON text or file path) to the end.

    Options: name (execution name), clock ("virtual" | "real"), seed (States.UUID,
    States.MathRandom, jitter), resources ({resource ARN or Lambda function name: callable}),
    max_events (history quota; None for no limit); workspace (local S3/catalog/query results
    directory, default ./.sfn-local). Raises DefinitionError for an invalid definition.
    """
    from emulator.engine.execution import StateMachine

    return StateMachine(definition, name=state_machine_name, resources=resources, workspace=workspace).run(
        input, **options)


def start(definition: Definition, input: Any = None, *, state_machine_name: str = "StateMachine",
          resources: Mapping[str, Callable[..., Any]] | None = None, workspace: Workspace | str | None = None,
          **options: Any) -> Execution:
    """Start a definition in the background; returns a RUNNING Execution to `wait()` on or `stop()`."""
    from emulator.engine.execution import StateMachine

    return StateMachine(definition, name=state_machine_name, resources=resources, workspace=workspace).start(
        input, **options)


def validate(definition: Definition) -> list[Diagnostic]:
    """Every problem AWS would report for this definition; empty when it is valid."""
    from emulator.asl.parser import load_definition
    from emulator.asl.validate import validate_definition

    try:
        return validate_definition(load_definition(definition))
    except DefinitionError as exc:
        return exc.diagnostics
