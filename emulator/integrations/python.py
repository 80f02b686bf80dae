"""Python callables as Task handlers: the way tests and local functions back a Resource.

A callable registered under a Resource ARN is called with the task's payload, or with
(payload, context) when it takes two arguments, as a Lambda handler does. A callable
registered under a function name backs that Lambda function (see `awslambda`).

The payload a handler gets is its own copy (the engine hands every call freshly parsed JSON),
and its result is marshalled as Lambda's Python runtime does: what does not serialise fails
the task with Runtime.MarshalError, and what does is parsed back, so the engine never holds
an object the handler may still change.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import itertools
import json
import linecache
import math
import os
import sys
import traceback
import weakref
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from emulator.asl.values import from_json
from emulator.errors import StatesError
from emulator.integrations.registry import TaskContext

MARSHAL_ERROR = "Runtime.MarshalError"


# wants_context by function: inspect.signature is slow, and a handler is called on every Task.
_WANTS_CONTEXT: weakref.WeakKeyDictionary[Callable[..., Any], bool] = weakref.WeakKeyDictionary()
# Frames from this package are left out of a handler's stack trace: Lambda shows only the user's code.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def wants_context(fn: Callable[..., Any]) -> bool:
    """True when `fn` takes (event, context) rather than (event)."""
    try:
        return _WANTS_CONTEXT[fn]
    except KeyError:
        _WANTS_CONTEXT[fn] = answer = _takes_context(fn)
        return answer
    except TypeError:  # not weakly referenceable or not hashable: ask every time
        return _takes_context(fn)


def _takes_context(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def call(fn: Callable[..., Any], payload: Any, context: TaskContext) -> Any:
    """Call a user function; its exceptions become StatesError named after their type.

    Returns the marshalled result: a fresh JSON value (see `marshal`).
    """
    try:
        result = fn(payload, context) if wants_context(fn) else fn(payload)
    except StatesError:
        raise
    except Exception as exc:
        raise HandlerError(exc) from exc
    return marshal(result)


class HandlerError(StatesError):
    """A handler's exception, named after its type; the cause (Lambda's error document) is written
    when first read: a retried failure often never needs it."""

    def __init__(self, exc: BaseException) -> None:
        Exception.__init__(self, type(exc).__name__)
        self.error, self.location = type(exc).__name__, None
        self._message, self._frames = str(exc), _user_frames(exc)
        self._cause: str | None = None

    @property  # type: ignore[override]
    def cause(self) -> str | None:
        if self._cause is None and self._frames is not None:
            self._cause = _error_document(self._message, self.error or "", _format_frames(self._frames))
            self._frames = None
        return self._cause

    @cause.setter
    def cause(self, value: str | None) -> None:
        self._cause, self._frames = value, None

    def cause_later(self) -> Callable[[], str | None]:
        """The cause as a function, for a history event built when read: it holds the message and frames,
        not this exception (whose traceback holds the run's frames)."""
        if self._frames is None:
            cause = self._cause
            return lambda: cause
        message, error, frames = self._message, self.error or "", self._frames
        return lambda: _error_document(message, error, _format_frames(frames))

    def __str__(self) -> str:
        return f"{self.error}: {self.cause}"


def _user_frames(exc: BaseException) -> list[tuple[str, int, str, str]]:
    """Where `exc` was raised, the user's frames only (Lambda shows no runtime frames), as
    (file, line number, function, source line) for StackSummary.from_list. Source lines are read now
    (linecache makes it cheap): a handler file fixed before the trace is written must not put its new
    lines into the old failure."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if not code.co_filename.startswith(_PACKAGE_DIR):
            frames.append((code.co_filename, tb.tb_lineno, code.co_name,
                           linecache.getline(code.co_filename, tb.tb_lineno).strip()))
        tb = tb.tb_next
    return frames


def _format_frames(frames: list[tuple[str, int, str, str]]) -> list[str]:
    """traceback's lines for the frames, written directly: StackSummary's formatting costs more than the rest
    of a failed call, and a Catch writes it for every failure it takes. It only differs for a frame repeated
    consecutively (recursion), which it then writes."""
    if any(a == b for a, b in itertools.pairwise(frames)):
        return traceback.StackSummary.from_list(frames).format()
    return [f'  File "{file}", line {line}, in {name}\n' + (f"    {source}\n" if source else "")
            for file, line, name, source in frames]


def _error_document(message: str, error_type: str, frames: list[str]) -> str:
    return json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": frames},
                      separators=(",", ":"))


class _ResponseEncoder(json.JSONEncoder):
    """json.dumps with Lambda's runtime additions: a Decimal is written as the number it holds."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            # NaN/Infinity decimals come out as floats, which allow_nan=False then rejects.
            return math.nan if o.is_nan() else json.loads(str(o))
        return super().default(o)


_encode_response = _ResponseEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode


def _reject_constant(name: str) -> Any:
    raise ValueError("Out of range float values are not JSON compliant")


def marshal(result: Any) -> Any:
    """A handler's result as Step Functions receives it from Lambda, as a new JSON value.

    Lambda's runtime serialises with json.dumps (Decimal allowed) and passes bytes through
    as the payload itself; a TypeError (datetime, set, object, tuple key, ...) fails the
    invocation with Runtime.MarshalError. NaN and Infinity are rejected too: the runtime
    writes them as bare tokens, which are not JSON, so Step Functions cannot take them.
    """
    try:
        if isinstance(result, bytes | bytearray):
            try:
                return json.loads(result, parse_constant=_reject_constant)
            except ValueError:  # not JSON text: what json.dumps says of bytes
                raise TypeError(f"Object of type {type(result).__name__} is not JSON serializable") from None
        return from_json(_encode_response(result))
    except (TypeError, ValueError, RecursionError) as exc:
        raise StatesError(MARSHAL_ERROR, _error_document(f"Unable to marshal response: {exc}", MARSHAL_ERROR, [])) \
            from None


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
        module = importlib.import_module(module_name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SyntaxError, SystemExit, anything the module raises while it is imported
        raise HandlerLoadError(f"cannot load {spec}: {_import_failure(exc, module_name)}") from None
    try:
        fn = getattr(module, attr)
    except AttributeError as exc:
        raise HandlerLoadError(f"cannot load {spec}: {exc}") from None
    if not callable(fn):
        raise HandlerLoadError(f"{spec} is not callable")
    return fn


def _import_failure(exc: BaseException, module_name: str) -> str:
    """What went wrong importing a module, and where: `file, line N: Type: message`."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}, line {exc.lineno}: {type(exc).__name__}: {exc.msg}"
    if isinstance(exc, SystemExit):
        what = f"the module called sys.exit({exc.code!r}) while being imported"
    else:
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    machinery = (__file__, importlib.__file__)
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename not in machinery and not f.filename.startswith("<frozen")]
    if frames:
        return f"{frames[-1].filename}, line {frames[-1].lineno}: {what}"
    try:  # failed before any of its lines ran (NUL bytes, undecodable source): name the file at least
        origin = importlib.util.find_spec(module_name).origin  # type: ignore[union-attr]
    except (Exception, SystemExit):
        origin = None
    return f"{origin}: {what}" if origin and not isinstance(exc, ImportError) else what
