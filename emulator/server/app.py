"""The HTTP endpoint AWS's clients (boto3, the aws CLI) talk to: one route, dispatched by protocol.

`X-Amz-Target: AWSStepFunctions.<Action>` goes to the Step Functions front; anything else to
the data services' front (`emulator.server.data`: S3, Glue, Athena, EMR, SQS, SNS), which answers
None for a request that is not its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from concurrent.futures import ThreadPoolExecutor

from anyio.to_thread import run_sync
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from emulator.backends import Backends, sparkservice
from emulator.server import data
from emulator.server.protocol import (
    Params,
    ServiceError,
    error_body,
    error_response,
    json_answer,
    parse_json_body,
)
from emulator.server.stepfunctions import StepFunctions
from emulator.store import StoreUnavailable
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
    _batch: asyncio.Future[None] | None = None
    # One thread commits the loop's starts: commits run one at a time anyway (Recorder).
    _commits = ThreadPoolExecutor(1, thread_name_prefix="sfn-commit")

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
            status, headers, payload = json_answer(await self._answer(action, parse_json_body(body)))
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

    async def _answer(self, action: str, params: Params) -> Params:
        """A Step Functions call's answer: on the event loop when it needs no wait (a DescribeExecution answered
        from memory; a StartExecution run in place, which waits only for a commit it shares with the others
        of the loop's turn), else from a thread."""
        if action == "StartExecution":
            finish = self.front.start_inline(params)
            if finish is not None:
                await self._committed()
                return finish()
        else:
            answer = self.front.answer_now(action, params)
            if answer is not None:
                return answer
        return await run_sync(self.front.call, action, params)

    async def _committed(self) -> None:
        """Wait for a Recorder commit that begins after this call. The calls of one turn of the event loop
        share one: a single hand-off to the commit thread and a single transaction for all of them."""
        batch = self._batch
        if batch is None:
            loop = asyncio.get_running_loop()
            batch = self._batch = loop.create_future()
            loop.call_soon(self._flush, batch)
        await asyncio.shield(batch)

    def _flush(self, batch: asyncio.Future[None]) -> None:
        self._batch = None  # a call from now on waits for the next commit
        done = asyncio.get_running_loop().run_in_executor(self._commits, self._sync)
        done.add_done_callback(lambda f: batch.set_result(None) if f.exception() is None
                               else batch.set_exception(f.exception()))

    def _sync(self) -> None:
        with contextlib.suppress(StoreUnavailable):  # each claim says whether its commit failed (Recorder.confirm)
            self.front.recorder.sync()


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
