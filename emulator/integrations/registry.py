"""Resource ARNs → handlers.

A service module registers a factory for its service name (`lambda`, `s3`, `glue`, ...);
user-supplied Python callables take precedence, keyed by full ARN or by a short name.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from emulator.backends import Backends
from emulator.errors import RUNTIME, StatesError

_SERVICE_ARN = re.compile(r"arn:(?P<partition>[\w-]+):states:(?P<region>[\w-]*):(?P<account>\d*):(?P<rest>.+)")
_LAMBDA_ARN = re.compile(r"arn:[\w-]+:lambda:(?P<region>[\w-]+):(?P<account>\d+):function:(?P<name>[^:]+)(:.+)?")
_PATTERNS = (".waitForTaskToken", ".sync:2", ".sync")


@dataclass(frozen=True, slots=True)
class Resource:
    """A parsed Task Resource, with the names AWS's history events use for it."""

    arn: str
    service: str  # "lambda", "aws-sdk:s3", "glue", "activity", ...
    action: str  # "invoke", "getObject", "startJobRun", or a function/activity name
    pattern: str = ""  # "", "sync", "sync:2" or "waitForTaskToken"
    region: str = "us-east-1"
    kind: str = "service"  # "service" (arn:aws:states:::...), "lambda" (a function ARN), "activity", "other"

    @property
    def history_resource(self) -> str:
        return f"{self.action}.{self.pattern}" if self.pattern else self.action


def parse_resource(arn: str) -> Resource:
    """Split a Task Resource into service, action and integration pattern."""
    if m := _LAMBDA_ARN.fullmatch(arn):
        return Resource(arn, "lambda", m.group("name"), region=m.group("region"), kind="lambda")
    if m := _SERVICE_ARN.fullmatch(arn):
        rest, region = m.group("rest"), m.group("region") or "us-east-1"
        if rest.startswith("activity:"):
            return Resource(arn, "activity", rest.split(":", 1)[1], region=region, kind="activity")
        pattern = ""
        for suffix in _PATTERNS:
            if rest.endswith(suffix):
                rest, pattern = rest[: -len(suffix)], suffix[1:]
                break
        service, _, action = rest.rpartition(":")
        return Resource(arn, service or rest, action, pattern, region)
    return Resource(arn, "other", arn, kind="other")


class Clock(Protocol):
    def sleep(self, seconds: float) -> None: ...


@dataclass
class TaskContext:
    """What a handler may know and do beyond its payload (the engine fills it in)."""

    execution_arn: str
    state_name: str
    task_token: str | None = None
    credentials: Any = None
    sleeper: Callable[[float], None] | None = None
    heartbeater: Callable[[], None] | None = None
    # Marks a wait on something outside the execution (a token's answer), so sibling branches'
    # virtual waits may end meanwhile (engine.clock.Timeline).
    idler: Callable[[], AbstractContextManager[None]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def sleep(self, seconds: float) -> None:
        """Take `seconds` on the execution's clock (virtual by default): counts toward TimeoutSeconds."""
        if self.sleeper is not None:
            self.sleeper(seconds)

    def idle(self) -> AbstractContextManager[None]:
        """A block in which this task waits for something outside the execution, in real time."""
        return self.idler() if self.idler is not None else nullcontext()

    def heartbeat(self) -> None:
        """SendTaskHeartbeat: resets the HeartbeatSeconds timer."""
        if self.heartbeater is not None:
            self.heartbeater()


@dataclass
class TaskRequest:
    resource: Resource
    payload: Any
    context: TaskContext


Handler = Callable[[TaskRequest], Any]
HandlerFactory = Callable[[Resource, "Registry"], Handler | None]

# Service modules add themselves with `register`: service name → factories, each returning a
# handler for the actions it knows (or None), asked in order.
SERVICES: dict[str, list[HandlerFactory]] = {}


# Service name → the modules (under emulator.integrations) that register it. A module is imported on
# the first Task naming one of its services, so `import emulator` loads no DuckDB, PySpark or botocore.
PROVIDERS: dict[str, tuple[str, ...]] = {
    "athena": ("athena",), "aws-sdk:athena": ("athena",),
    "lambda": ("awslambda",),
    "elasticmapreduce": ("emr",), "aws-sdk:emr": ("emr",),
    "glue": ("gluejobs", "glue"), "aws-sdk:glue": ("glue", "gluejobs"),
    "emr-serverless": ("emrserverless",), "aws-sdk:emrserverless": ("emrserverless",),
    "sns": ("messaging",), "sqs": ("messaging",), "aws-sdk:sns": ("messaging",), "aws-sdk:sqs": ("messaging",),
    "aws-sdk:s3": ("s3",),
    "states": ("stepfunctions",),
    "http": ("http",),
    "aws": ("aws",),  # every service switched to AWS (emulator/targets.py): boto3 calls
}
_loaded: set[str] = set()


def register(service: str, factory: HandlerFactory) -> None:
    SERVICES.setdefault(service, []).append(factory)


def factories(service: str) -> list[HandlerFactory]:
    """The handler factories for `service`, importing the modules that provide it the first time."""
    if service not in _loaded:
        for module in PROVIDERS.get(service, ()):
            importlib.import_module(f"emulator.integrations.{module}")
        _loaded.add(service)
    return SERVICES.get(service, [])


def backend_handler(action: Callable[[Any, dict[str, Any]], Any], backend: Callable[[], Any],
                    errors: type[Exception], translate: Callable[[Any], StatesError]) -> Handler:
    """A handler calling `action(backend, parameters)`, the backend's errors turned into the service's."""

    def handle(request: TaskRequest) -> Any:
        params = request.payload if isinstance(request.payload, dict) else {}
        try:
            return action(backend(), params)
        except errors as exc:
            raise translate(exc) from None

    return handle


def service_actions(resource: Resource, service: str, optimized: Mapping[tuple[str, str], Callable[[Any, Any], Any]],
                    sdk: Mapping[str, Callable[[Any, Any], Any]]) -> Callable[[Any, Any], Any] | None:
    """The action of an integration that has an optimised form (resources of `service`, keyed by (action, pattern))
    and an AWS SDK form (`aws-sdk:...`, by action, no .sync or .waitForTaskToken); None when it has none."""
    if resource.service == service:
        return optimized.get((resource.action, resource.pattern))
    return None if resource.pattern else sdk.get(resource.action)


class Registry:
    """Resolves Task resources for one state machine run; service handlers reach the backends through it."""

    def __init__(self, resources: Mapping[str, Callable[..., Any]] | None = None, backends: Backends | None = None,
                 ) -> None:
        self.callables: dict[str, Callable[..., Any]] = dict(resources or {})
        self._backends = backends
        # For nested executions (integrations/stepfunctions.py): machines by name, and the run's options.
        self.state_machines: dict[str, Any] = {}
        self.run_options: dict[str, Any] = {}
        # The active test case's mocks (emulator/integrations/mocks.py MockSession), consulted per call by state name.
        self.mocks: Any = None

    @property
    def backends(self) -> Backends:
        if self._backends is None:
            self._backends = Backends()
        return self._backends

    def resolve(self, resource: Resource) -> Handler:
        if self.mocks is not None:
            return self.mocks.wrap(resource, lambda: self._resolve(resource))
        return self._resolve(resource)

    def _resolve(self, resource: Resource, checked: bool = True) -> Handler:
        """The resource's handler; `checked`: behind the check of its parameters against the AWS API (made
        here, before the task's first event: a task token must be live when TaskScheduled is seen)."""
        handler = None
        if (fn := self.callables.get(resource.arn)) is not None:
            handler = _bind(fn)
        else:
            for factory in factories(_provider(resource, self)):
                if (handler := factory(resource, self)) is not None:
                    break
            if handler is not None and resource.kind == "service" and checked:
                handler = _validated(resource, handler)
        if handler is None:
            raise StatesError(RUNTIME, _unknown(resource))
        return handler


# What a service's first call loads beyond its integration module (integrations/athena.py resolves without them).
_FIRST_CALL_MODULES = {"athena": "emulator.backends.sql", "aws-sdk:athena": "emulator.backends.sql"}


def prewarm(arns: Iterable[str]) -> threading.Thread | None:
    """Load, on a thread, what the first calls of these Task resources load (their API models for the
    parameter checks, the SQL engine, ...): a run then does it while it waits on other work (a Spark step)
    rather than on its way. Not a daemon: an interpreter exiting in the middle of importing DuckDB or
    pyarrow aborts the process."""
    resources = [r for r in (parse_resource(arn) for arn in arns) if r.kind == "service"]
    if not resources:
        return None

    def load() -> None:
        from emulator.integrations.shapes import validator

        for resource in resources:
            with contextlib.suppress(Exception):  # a resource nothing backs is reported when it runs
                validator(resource.service, resource.action)
                if (module := _FIRST_CALL_MODULES.get(resource.service)) is not None:
                    importlib.import_module(module)

    thread = threading.Thread(target=load, name="sfn-local-prewarm")
    thread.start()
    return thread


def _provider(resource: Resource, registry: Registry) -> str:
    """The providers' key: the resource's service, or "aws" when its service is switched to AWS."""
    from emulator.targets import targeted_at_aws

    return "aws" if targeted_at_aws(resource, registry.backends.workspace) else resource.service


def _validated(resource: Resource, handler: Handler) -> Handler:
    """The handler behind a check of its parameters against the AWS API's input shape (integrations/shapes.py)."""
    from emulator.integrations.shapes import validator  # botocore loads only when a service task runs

    check = validator(resource.service, resource.action)
    if check is None:
        return handler

    def handle(request: TaskRequest) -> Any:
        check(request.payload)
        return handler(request)

    return handle


def _bind(fn: Callable[..., Any]) -> Handler:
    from emulator.integrations.python import call

    return lambda request: call(fn, request.payload, request.context)


def _unknown(resource: Resource) -> str:
    if resource.kind == "activity":
        return f"The activity {resource.arn} does not exist."
    return (
        f"No local handler for resource '{resource.arn}'. Register one with "
        f"resources={{'{resource.arn}': callable}} (Python API), --handler on the command line, "
        "a mocked response (--mock-config/--test-case) or in the project's config."
    )
