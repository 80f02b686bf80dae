"""What every AWS wire protocol served here shares: the error a front raises for AWS to name,
and the AWS JSON 1.0 protocol (requests as JSON objects, answers and errors as JSON).

botocore's JSON parser takes an error's name from the body's `__type` (the part after `#`, if
any) and its text from `message`, so `{"__type": "StateMachineDoesNotExist", "message": ...}`
raises `client.exceptions.StateMachineDoesNotExist`. Timestamps travel as epoch seconds.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.responses import Response

AMZ_JSON_1_0 = "application/x-amz-json-1.0"

Params = dict[str, Any]
# A JSON-protocol action: the server's backends and the request's parameters → the response's.
Action = Callable[[Any, Params], Params]


class ServiceError(Exception):
    """An AWS API error: `code` is the exception name boto3 raises (e.g. "StateMachineDoesNotExist"),
    `status` the HTTP status AWS answers with (400 for client faults)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _code_and_message(exc: Any) -> ServiceError:
    return ServiceError(exc.code, exc.message)


def backend_action(action: Callable[[Any, Params], Params], backend: Callable[[Any], Any],
                   errors: type[Exception] | tuple[type[Exception], ...],
                   translate: Callable[[Any], ServiceError] = _code_and_message) -> Action:
    """An action calling `action(backend(backends), params)`, the backend's errors as the API's
    (the HTTP twin of integrations.registry.backend_handler: one backend, two fronts)."""

    def run(backends: Any, params: Params) -> Params:
        try:
            return action(backend(backends), params)
        except errors as exc:
            raise translate(exc) from None

    return run


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_ENCODER = json.JSONEncoder(default=_encode, ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    """JSON text for the wire: datetimes become epoch seconds (the JSON protocol's timestamp format)."""
    return _ENCODER.encode(value)


def request_id() -> str:
    """A request ID (a UUID) from the random module: os.urandom's system call costs more than the rest of
    an answer's headers, and an ID needs to be unique, not secret."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def json_response(payload: Any, status: int = 200, content_type: str = AMZ_JSON_1_0) -> Response:
    return Response(dumps(payload), status_code=status, media_type=content_type,
                    headers={"x-amzn-RequestId": request_id()})


def json_answer(payload: Any, status: int = 200) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """json_response as an ASGI answer: (status, headers, body), for an app that sends its own messages."""
    body = dumps(payload).encode()
    return status, [(b"content-type", AMZ_JSON_1_0.encode()), (b"content-length", str(len(body)).encode()),
                    (b"x-amzn-requestid", request_id().encode())], body


def error_body(error: ServiceError) -> dict[str, str]:
    """An error in AWS's JSON shape (sent with the x-amzn-ErrorType header)."""
    return {"__type": error.code, "message": error.message}


def error_response(error: ServiceError, content_type: str = AMZ_JSON_1_0) -> Response:
    """An error in AWS's JSON shape: body `{"__type", "message"}` plus the x-amzn-ErrorType header."""
    response = json_response(error_body(error), error.status, content_type)
    response.headers["x-amzn-ErrorType"] = error.code
    return response


def parse_json_body(body: bytes) -> dict[str, Any]:
    """A JSON protocol request body: a JSON object (an empty body is `{}`)."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ServiceError("SerializationException", f"The request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ServiceError("SerializationException", "The request body must be a JSON object")
    return value
