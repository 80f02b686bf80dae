"""Python callables as Task handlers: the way tests and local functions back a Resource.

A callable registered under a Resource ARN is called with the task's payload, or with
(payload, context) when it takes two arguments, as a Lambda handler does. A callable
registered under a function name backs that Lambda function (see `awslambda`).
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import traceback
from collections.abc import Callable
from typing import Any

from emulator.errors import StatesError
from emulator.integrations.registry import TaskContext


def wants_context(fn: Callable[..., Any]) -> bool:
    """True when `fn` takes (event, context) rather than (event)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def call(fn: Callable[..., Any], payload: Any, context: TaskContext) -> Any:
    """Call a user function; its exceptions become StatesError named after their type."""
    try:
        return fn(payload, context) if wants_context(fn) else fn(payload)
    except StatesError:
        raise
    except Exception as exc:
        raise StatesError(type(exc).__name__, lambda_error_cause(exc)) from exc


def lambda_error_cause(exc: BaseException) -> str:
    """The cause text Lambda reports for an unhandled exception."""
    frames = traceback.format_tb(exc.__traceback__)[1:]
    return json.dumps(
        {"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": frames},
        separators=(",", ":"),
    )


class HandlerLoadError(ValueError):
    """A `module:function` spec that does not name a loadable callable; the message says why."""


def load_callable(spec: str, search_path: str | None = None) -> Callable[..., Any]:
    """Import `package.module:function`, looking in `search_path` (the project) first."""
    module_name, colon, attr = spec.partition(":")
    if not colon or not module_name or not attr:
        raise HandlerLoadError(f"'{spec}' is not of the form module:function")
    if search_path and search_path not in sys.path:
        sys.path.insert(0, search_path)
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise HandlerLoadError(f"cannot load {spec}: {exc}") from None
    if not callable(fn):
        raise HandlerLoadError(f"{spec} is not callable")
    return fn
