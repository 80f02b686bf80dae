"""The local data services over HTTP, on the Step Functions server's port: one backend, two fronts.

boto3 clients (and Lambda handlers calling `boto3.client("s3")`, `("glue")`, ...) reach the same
backends Task states use, so a crawler started over boto3 is the crawler a state machine polls.
Requests are told apart as AWS's endpoints tell them: `X-Amz-Target` names the JSON services
(Glue, Athena, EMR: JSON 1.1; SQS: JSON 1.0), a form-encoded POST with `Version=2010-03-31` is
SNS's query protocol, and everything else is S3 REST-XML. Each front renders `ServiceError` in its
protocol's error shape, so boto3 raises its modelled exceptions.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from emulator.backends import Backends
from emulator.server import athena, emr, glue, s3, sns, sqs
from emulator.server.protocol import ServiceError, error_response, json_response, parse_json_body

log = logging.getLogger(__name__)

# X-Amz-Target prefix → (JSON protocol version, actions by API name).
_JSON_SERVICES = {
    "AWSGlue": ("1.1", glue.ACTIONS),
    "AmazonAthena": ("1.1", athena.ACTIONS),
    "ElasticMapReduce": ("1.1", emr.ACTIONS),
    "AmazonSQS": ("1.0", sqs.ACTIONS),
}
# Timestamps the backends keep as epoch milliseconds; the JSON protocols carry epoch seconds.
_MILLISECOND_FIELDS = frozenset({
    "SubmissionDateTime", "CompletionDateTime",  # Athena
    "CreationDateTime", "ReadyDateTime", "StartDateTime", "EndDateTime",  # EMR
    "StartedOn", "CompletedOn", "LastModifiedOn",  # Glue job runs
})


async def handle(request: Request, backends: Backends) -> Response | None:
    """The data service's response to `request`, or None when it is no data-service request."""
    target = request.headers.get("x-amz-target")
    if target is not None:
        prefix, _, action = target.partition(".")
        if prefix not in _JSON_SERVICES:
            return None
        return await _json_call(request, backends, prefix, action)
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("Version") == sns.VERSION and "Action" in form:
            return await run_in_threadpool(sns.handle, form, backends)
        if "Action" in form:
            return None  # another query-protocol service (STS, ...)
    return await s3.handle(request, backends)


async def _json_call(request: Request, backends: Backends, prefix: str, action: str) -> Response:
    version, actions = _JSON_SERVICES[prefix]
    media_type = f"application/x-amz-json-{version}"
    try:
        params = parse_json_body(await request.body())
        function = actions.get(action)
        if function is None:
            raise ServiceError("UnknownOperationException", f"{prefix}.{action} is not supported locally")
        result = await run_in_threadpool(function, backends, params)
    except ServiceError as exc:
        return error_response(exc, media_type)
    except Exception as exc:  # a fault of this emulator: answer as AWS does, not with a traceback page
        log.exception("%s.%s failed", prefix, action)
        return error_response(ServiceError("InternalFailure", f"{type(exc).__name__}: {exc}", 500), media_type)
    return json_response(_in_seconds(result), content_type=media_type)


def _in_seconds(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v / 1000 if k in _MILLISECOND_FIELDS and isinstance(v, int) and not isinstance(v, bool)
                else _in_seconds(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_in_seconds(v) for v in value]
    return value
