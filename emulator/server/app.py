"""The HTTP endpoint AWS's clients (boto3, the aws CLI) talk to: one route, dispatched by protocol.

`X-Amz-Target: AWSStepFunctions.<Action>` goes to the Step Functions front; anything else to
the data services' front (`emulator.server.data`: S3, Glue, Athena, EMR, SQS, SNS), which answers
None for a request that is not its own.
"""

from __future__ import annotations

import logging
import traceback

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.backends import Backends, sparkservice
from emulator.server import data
from emulator.server.protocol import ServiceError, error_response, json_response, parse_json_body
from emulator.server.stepfunctions import StepFunctions
from emulator.workspace import Workspace

_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
_SFN_PREFIX = "AWSStepFunctions."
_log = logging.getLogger("sfn-local.server")


def _unknown(request: Request) -> Response:
    target = request.headers.get("x-amz-target") or f"{request.method} {request.url.path}"
    return error_response(ServiceError("UnknownOperationException", f"Unknown operation: {target}"))


def create_app(workspace: Workspace | None = None, *, clock: str = "virtual",
               activity_poll_seconds: float = 60.0) -> Starlette:
    """The endpoint for one workspace. `clock`: "virtual" (Wait states jump) or "real";
    `activity_poll_seconds`: how long GetActivityTask waits for a task (AWS: 60 s)."""
    workspace = workspace or Workspace()
    backends = Backends(workspace)
    front = StepFunctions(workspace, backends, clock=clock, activity_poll_seconds=activity_poll_seconds)

    async def dispatch(request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        if target.startswith(_SFN_PREFIX):
            try:
                params = parse_json_body(await request.body())
                result = await run_in_threadpool(front.call, target[len(_SFN_PREFIX):], params)
            except ServiceError as err:
                return error_response(err)
            except Exception as exc:  # a bug here must still answer in AWS's shape, not drop the connection
                _log.error("%s failed:\n%s", target, traceback.format_exc())
                return error_response(ServiceError("InternalFailure", f"{type(exc).__name__}: {exc}", 500))
            return json_response(result)
        try:
            response = await data.handle(request, backends)
        except ServiceError as err:
            return error_response(err)
        except Exception as exc:
            _log.error("%s %s failed:\n%s", request.method, request.url.path, traceback.format_exc())
            return error_response(ServiceError("InternalFailure", f"{type(exc).__name__}: {exc}", 500))
        return _unknown(request) if response is None else response

    app = Starlette(routes=[*sparkservice.routes(backends), Route("/{path:path}", dispatch, methods=_METHODS)])
    # The web console (`/ui/`): only unsigned browser requests reach it, AWS clients never do.
    from emulator.console.routes import ConsoleMiddleware  # it imports this package: not at module level

    app.add_middleware(ConsoleMiddleware, stepfunctions=front, backends=backends)
    app.state.stepfunctions = front
    app.state.backends = backends
    return app
