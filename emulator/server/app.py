"""The HTTP endpoint AWS's clients (boto3, the aws CLI) talk to: one route, dispatched by protocol.

`X-Amz-Target: AWSStepFunctions.<Action>` goes to the Step Functions front; anything else to
the data services' front (`emulator.server.data`: S3, Glue, Athena, EMR, SQS, SNS), which answers
None for a request that is not its own.
"""

from __future__ import annotations

import logging
import traceback

from anyio.to_thread import run_sync
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from emulator.backends import Backends, sparkservice
from emulator.server import data
from emulator.server.protocol import ServiceError, error_body, error_response, json_answer, parse_json_body
from emulator.server.stepfunctions import StepFunctions
from emulator.workspace import Workspace

_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
_SFN_PREFIX = "AWSStepFunctions."
_log = logging.getLogger("sfn-local.server")


def _unknown(request: Request) -> Response:
    target = request.headers.get("x-amz-target") or f"{request.method} {request.url.path}"
    return error_response(ServiceError("UnknownOperationException", f"Unknown operation: {target}"))


def _sfn_action(scope: Scope) -> str | None:
    """The Step Functions action a request calls (its X-Amz-Target's), or None for another service's."""
    for name, value in scope["headers"]:
        if name == b"x-amz-target":
            target = value.decode("latin-1")
            return target[len(_SFN_PREFIX):] if target.startswith(_SFN_PREFIX) else None
    return None


class _Endpoint(Starlette):
    """The Starlette app, with Step Functions requests answered straight off the ASGI messages: the API's
    requests (half of a busy server's) skip the routing, middleware and Request/Response objects."""

    front: StepFunctions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        action = _sfn_action(scope) if scope["type"] == "http" else None
        if action is None:
            await super().__call__(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            params = parse_json_body(body)
            result = self.front.answer_now(action, params)
            if result is None:
                result = await run_sync(self.front.call, action, params)
            status, headers, payload = json_answer(result)
        except ServiceError as err:
            status, headers, payload = json_answer(error_body(err), err.status)
            headers.append((b"x-amzn-errortype", err.code.encode()))
        except Exception as exc:  # a bug here must still answer in AWS's shape, not drop the connection
            _log.error("AWSStepFunctions.%s failed:\n%s", action, traceback.format_exc())
            err = ServiceError("InternalFailure", f"{type(exc).__name__}: {exc}", 500)
            status, headers, payload = json_answer(error_body(err), err.status)
            headers.append((b"x-amzn-errortype", err.code.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def create_app(workspace: Workspace | None = None, *, clock: str = "virtual",
               activity_poll_seconds: float = 60.0) -> Starlette:
    """The endpoint for one workspace. `clock`: "virtual" (Wait states jump) or "real";
    `activity_poll_seconds`: how long GetActivityTask waits for a task (AWS: 60 s)."""
    workspace = workspace or Workspace()
    backends = Backends(workspace)
    front = StepFunctions(workspace, backends, clock=clock, activity_poll_seconds=activity_poll_seconds)

    async def dispatch(request: Request) -> Response:
        try:
            response = await data.handle(request, backends)
        except ServiceError as err:
            return error_response(err)
        except Exception as exc:
            _log.error("%s %s failed:\n%s", request.method, request.url.path, traceback.format_exc())
            return error_response(ServiceError("InternalFailure", f"{type(exc).__name__}: {exc}", 500))
        return _unknown(request) if response is None else response

    app = _Endpoint(routes=[*sparkservice.routes(backends), Route("/{path:path}", dispatch, methods=_METHODS)])
    app.front = front
    # The web console (`/ui/`): only unsigned browser requests reach it, AWS clients never do.
    from emulator.console.routes import ConsoleMiddleware  # it imports this package: not at module level

    app.add_middleware(ConsoleMiddleware, stepfunctions=front, backends=backends)
    app.state.stepfunctions = front
    app.state.backends = backends
    return app
