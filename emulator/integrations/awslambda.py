"""AWS Lambda: `arn:aws:states:::lambda:invoke` and bare function ARNs, backed by Python callables.

Functions are looked up by name (the last part of a function ARN, without alias or version).
`lambda:invoke` returns Lambda's Invoke response (Payload, StatusCode, ...); a bare function
ARN returns the function's result itself, as Step Functions does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from emulator.backends import Backends
from emulator.errors import StatesError
from emulator.integrations.endpoint import aws_environment
from emulator.integrations.python import HandlerLoadError, call, load_callable
from emulator.integrations.registry import Handler, Registry, Resource, TaskRequest, register


def function_name(name_or_arn: str) -> str:
    """`my-fn`, `my-fn:alias`, `arn:aws:lambda:r:a:function:my-fn[:alias]` → `my-fn`."""
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        return parts[6] if len(parts) > 6 else name_or_arn
    return name_or_arn.split(":", 1)[0]


def _not_found(name_or_arn: str, region: str) -> StatesError:
    """Lambda's error for a missing function, naming it by ARN (the caller's region and account when given)."""
    parts = name_or_arn.split(":")
    account = "123456789012"
    if name_or_arn.startswith("arn:") and len(parts) > 6:
        region, account = parts[3] or region, parts[4] or account
    name = function_name(name_or_arn)
    return StatesError(
        "Lambda.ResourceNotFoundException",
        f"Function not found: arn:aws:lambda:{region}:{account}:function:{name}:$LATEST "
        "(Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException)",
    )


def handler(resource: Resource, functions: Mapping[str, Callable[..., Any]], backends: Backends | None = None,
            ) -> Handler | None:
    """`backends`: the execution's, whose local endpoint the function's own AWS SDK calls reach (see `endpoint`)."""

    environment = aws_environment(backends) if backends is not None else None  # holds nothing per call

    def run(fn: Callable[..., Any], payload: Any, request: TaskRequest) -> Any:
        if environment is None:
            return call(fn, payload, request.context)
        with environment:
            return call(fn, payload, request.context)

    if resource.kind == "lambda":
        fn = functions.get(resource.action)
        if fn is None:
            # As AWS: a function that does not exist fails the task (catchable), not the execution.
            def missing(request: TaskRequest) -> Any:
                raise _not_found(resource.arn, resource.region)

            return missing
        return lambda request: run(fn, request.payload, request)
    if resource.action != "invoke":
        return None

    def invoke(request: TaskRequest) -> Any:
        payload = request.payload if isinstance(request.payload, dict) else {}
        requested = str(payload.get("FunctionName", ""))
        fn = functions.get(function_name(requested))
        if fn is None:
            raise _not_found(requested, resource.region)
        result = run(fn, payload.get("Payload"), request)
        return {
            "ExecutedVersion": "$LATEST",
            "Payload": result,
            "SdkHttpMetadata": {"HttpStatusCode": 200},
            "SdkResponseMetadata": {},
            "StatusCode": 200,
        }

    return invoke


class _Functions(dict):
    """Callables given to the run, then `[lambdas]` of the project's config, loaded on first use."""

    def __init__(self, registry: Registry) -> None:
        super().__init__(registry.callables)
        self.registry = registry

    def __missing__(self, name: str) -> Callable[..., Any]:
        workspace = self.registry.backends.workspace
        spec = workspace.config.lambdas.get(name)
        if spec is None:
            raise KeyError(name)
        try:
            # Under the local endpoint: a client the module makes at import time must reach it too.
            with aws_environment(self.registry.backends):
                fn = load_callable(spec, str(workspace.project))
        except HandlerLoadError as exc:
            raise StatesError("Lambda.ServiceException", f"Function {name} ({workspace.config.source}): {exc}") \
                from None
        self[name] = fn
        return fn

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default


def _factory(resource: Resource, registry: Registry) -> Handler | None:
    return handler(resource, _Functions(registry), registry.backends)


register("lambda", _factory)
