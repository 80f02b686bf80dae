"""Task integrations forwarded to AWS through boto3, for services switched to "aws" (emulator/targets.py).

Any Task resource of such a service becomes one boto3 call: the ASL action (`startJobRun`) names the
API operation (`StartJobRun`, found in botocore's model, so every service and action boto3 knows works)
and the resolved parameters are passed as given, member names matched to the model's spelling
(Step Functions takes PascalCase even where the API is camelCase) and JSON values serialised where
the API wants a string or blob, as Step Functions does. The few optimised integrations whose names
differ from the API (EMR's createCluster, addStep, ...) are translated as Step Functions translates them.

Clients come from boto3's standard configuration (profile, region, credentials, `AWS_ENDPOINT_URL` and
`AWS_ENDPOINT_URL_<SERVICE>`), one per service, region and configuration. Results drop boto3's
ResponseMetadata, have PascalCase member names and timestamps as Step Functions gives them (epoch
milliseconds for optimised integrations, ISO-8601 for aws-sdk ones); optimised SNS, SQS, DynamoDB,
Lambda and StartExecution results carry SdkHttpMetadata / SdkResponseMetadata.

Patterns:
- request-response: the call's result.
- `.sync` / `.sync:2`: the job, step, query or execution is polled as Step Functions polls it
  (GetJobRun, GetQueryExecution, DescribeStep / DescribeCluster, DescribeExecution, emr-serverless
  GetJobRun, ECS DescribeTasks, Batch DescribeJobs) on the execution's clock (TimeoutSeconds, heartbeat
  and StopExecution apply), starting at 50 ms and backing off to 5 s; a run that does not succeed fails
  the task with States.TaskFailed and the final description as the cause.
- `.waitForTaskToken`: the call is made (its parameters carry $$.Task.Token), then the task waits for
  the token's answer: SendTaskSuccess / SendTaskFailure on `sfn-local serve`, or the workspace outbox
  (`Outbox.send_task_success`) from any process.

Errors: a service error is `<Service>.<Code>Exception`: the SDK service name for aws-sdk resources
(`Glue.EntityNotFoundException`, `S3.NoSuchKeyException`), the name Step Functions uses for the
optimised ones (`SNS.`, `SQS.`, `EMR.`, `StepFunctions.`, `DynamoDB.`, `Lambda.`, ...).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emulator.errors import TASK_FAILED, StatesError
from emulator.integrations.registry import Handler, Registry, Resource, TaskRequest, register
from emulator.targets import client_name
from emulator.targets import region as session_region

Params = dict[str, Any]

POLL_FIRST_SECONDS = 0.05
POLL_MAX_SECONDS = 5.0
_CHECK_SECONDS = 0.05  # how often a virtual-clock poll wait looks at StopExecution / TimeoutSeconds

_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()

# Prefix of optimised integrations' errors, as Step Functions names them.
_OPTIMISED_PREFIX = {
    "sns": "SNS", "sqs": "SQS", "elasticmapreduce": "EMR", "athena": "Athena", "glue": "Glue",
    "states": "StepFunctions", "lambda": "Lambda", "dynamodb": "DynamoDB", "ecs": "ECS", "batch": "Batch",
    "emr-serverless": "EMRServerless", "events": "EventBridge", "s3": "S3",
}
# aws-sdk prefixes where the project's local integrations already fix one (emulator/integrations/shapes.py).
_SDK_PREFIX = {"emr": "EMR", "sfn": "Sfn"}
# Optimised integrations whose results carry SdkHttpMetadata / SdkResponseMetadata.
_WITH_METADATA = {"sns", "sqs", "dynamodb", "lambda", "states"}


def client(service: str, region: str | None = None) -> Any:
    """A boto3 client for `service` (a boto3 client name), cached per region and AWS configuration."""
    import boto3

    # The environment is part of the key: a changed profile or endpoint gets a new client.
    key = (service, region, tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))))
    with _clients_lock:
        if (found := _clients.get(key)) is None:
            session = boto3.session.Session()
            found = _clients[key] = session.client(service, region_name=region or session_region(session))
        return found


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def sdk_prefix(service: str) -> str:
    """The SDK's PascalCase service name (`DynamoDb`, `AcmPca`, `S3`, `Sns`) for aws-sdk errors."""
    if service in _SDK_PREFIX:
        return _SDK_PREFIX[service]
    try:
        service_id = client(client_name(service), "us-east-1").meta.service_model.service_id
    except Exception:  # no model (an unknown name): the resource's own name, capitalised
        return _pascal(service)
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z]*|[a-z]+|\d+", str(service_id))
    return "".join(w.capitalize() for w in words)


def _exception(code: str) -> str:
    code = code.rsplit("#", 1)[-1].rsplit(".", 1)[-1] or "Unknown"
    return code if code.endswith("Exception") else f"{code}Exception"


@dataclass(frozen=True)
class _Call:
    """One resource's boto3 call: which client and operation, and how its parameters and result adapt."""

    asl_service: str  # "glue", "aws-sdk:s3", ...
    service: str  # boto3 client name
    operation: str
    sdk: bool
    request: Callable[[Params], Params] = lambda p: p
    response: Callable[[Params], Any] = lambda r: r

    @property
    def prefix(self) -> str:
        if self.sdk:
            return sdk_prefix(self.asl_service.removeprefix("aws-sdk:"))
        return _OPTIMISED_PREFIX.get(self.asl_service, _pascal(self.asl_service))

    def error(self, code: str, message: str, status: int, request_id: str) -> StatesError:
        name = f"{self.prefix}.{_exception(code)}"
        if self.sdk:
            return StatesError(name, f"{message} (Service: {self.prefix}, Status Code: {status}, "
                                     f"Request ID: {request_id})")
        return StatesError(name, f"{message} (Service: {self.prefix}; Status Code: {status}; Error Code: {code}; "
                                 f"Request ID: {request_id}; Proxy: null)")

    def invoke(self, params: Params, region: str | None) -> tuple[Params, Params]:
        """The call's raw response (ResponseMetadata kept apart) and its output shape's conversion."""
        from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

        api = client(self.service, region)
        operation = api.meta.service_model.operation_model(self.operation)
        request = _conform(self.request(params), operation.input_shape)
        try:
            raw = getattr(api, _method(self.operation))(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            meta = exc.response.get("ResponseMetadata", {})
            raise self.error(str(error.get("Code") or "Unknown"), str(error.get("Message") or exc),
                             int(meta.get("HTTPStatusCode") or 400), str(meta.get("RequestId") or "")) from None
        except ParamValidationError as exc:
            raise self.error("ValidationException", str(exc).replace("\n", " "), 400, "") from None
        except BotoCoreError as exc:  # no connection, no credentials, ...: the service could not be reached
            raise StatesError(f"{self.prefix}.SdkClientException", f"{type(exc).__name__}: {exc}") from None
        meta = raw.pop("ResponseMetadata", {})
        return _output(raw, operation.output_shape, self.sdk), meta


def _method(operation: str) -> str:
    from botocore import xform_name

    return xform_name(operation)


def _conform(value: Any, shape: Any) -> Any:
    """`value` with member names spelt as `shape` spells them; JSON given for a string or blob serialised."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        lower = {name.lower(): name for name in members}
        out = {}
        for key, item in value.items():
            name = key if key in members else lower.get(str(key).lower(), key)
            out[name] = _conform(item, members.get(name))
        return out
    if kind == "list" and isinstance(value, list):
        return [_conform(item, shape.member) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: _conform(item, shape.value) for key, item in value.items()}
    if kind in ("string", "blob") and value is not None and not isinstance(value, str | bytes):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


def _output(value: Any, shape: Any, sdk: bool) -> Any:
    """A boto3 result as Step Functions returns it: PascalCase members, JSON-ready values."""
    if isinstance(value, dict):
        members = shape.members if shape is not None and shape.type_name == "structure" else None
        if members is not None:
            return {_pascal(k): _output(v, members.get(k), sdk) for k, v in value.items()}
        item_shape = shape.value if shape is not None and shape.type_name == "map" else None
        return {k: _output(v, item_shape, sdk) for k, v in value.items()}
    if isinstance(value, list):
        item_shape = shape.member if shape is not None and shape.type_name == "list" else None
        return [_output(v, item_shape, sdk) for v in value]
    if isinstance(value, datetime):
        if sdk:
            return value.strftime("%Y-%m-%dT%H:%M:%SZ")
        return int(value.timestamp() * 1000)
    if hasattr(value, "read"):  # a streaming body (S3 GetObject's Body)
        value = value.read()
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _metadata(meta: Params) -> Params:
    headers = {str(k): str(v) for k, v in (meta.get("HTTPHeaders") or {}).items()}
    return {"SdkHttpMetadata": {"AllHttpHeaders": {k: [v] for k, v in headers.items()}, "HttpHeaders": headers,
                                "HttpStatusCode": int(meta.get("HTTPStatusCode") or 200)},
            "SdkResponseMetadata": {"RequestId": str(meta.get("RequestId") or "")}}


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else None


# EMR's optimised actions, as Step Functions maps them onto the EMR API.
_EMR: dict[str, tuple[str, Callable[[Params], Params], Callable[[Params], Any]]] = {
    "createCluster": ("RunJobFlow", lambda p: p,
                      lambda r: {"ClusterArn": r.get("ClusterArn"), "ClusterId": r.get("JobFlowId")}),
    "addStep": ("AddJobFlowSteps",
                lambda p: {**{k: v for k, v in p.items() if k not in ("ClusterId", "Step")},
                           "JobFlowId": p.get("ClusterId"), "Steps": [p.get("Step")]},
                lambda r: {"StepId": _first(r.get("StepIds"))}),
    "terminateCluster": ("TerminateJobFlows", lambda p: {"JobFlowIds": [p.get("ClusterId")]}, lambda r: {}),
    "setClusterTerminationProtection": (
        "SetTerminationProtection",
        lambda p: {"JobFlowIds": [p.get("ClusterId")], "TerminationProtected": p.get("TerminationProtected")},
        lambda r: {}),
    "cancelStep": ("CancelSteps",
                   lambda p: {**{k: v for k, v in p.items() if k != "StepId"}, "StepIds": [p.get("StepId")]},
                   lambda r: _first(r.get("CancelStepsInfoList")) or {}),
}


def _call_for(resource: Resource) -> _Call | None:
    """The boto3 call behind a Task resource, or None when botocore has no such operation."""
    sdk = resource.service.startswith("aws-sdk:")
    service = client_name(resource.service)
    if not sdk and resource.service == "elasticmapreduce" and resource.action in _EMR:
        operation, request, response = _EMR[resource.action]
        return _Call(resource.service, service, operation, sdk, request, response)
    try:
        names = client(service, "us-east-1").meta.service_model.operation_names
    except Exception:  # botocore has no such service
        return None
    wanted = _pascal(resource.action)
    operation = wanted if wanted in names else next((n for n in names if n.lower() == wanted.lower()), None)
    return None if operation is None else _Call(resource.service, service, operation, sdk)


# -- .sync ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Poller:
    """How Step Functions follows one `.sync` integration to its end."""

    operation: str
    service: str
    describe: Callable[[Params, Any], Params]  # (task parameters, start result) → the describe call's parameters
    state: Callable[[Any], Any]  # the describe result → its status
    ended: frozenset[str]
    succeeded: frozenset[str]
    result: Callable[[Any, Any], Any] = lambda started, described: described


def _ecs_state(described: Any) -> str:
    tasks = described.get("Tasks") or []
    if not tasks or any(t.get("LastStatus") != "STOPPED" for t in tasks):
        return "RUNNING"
    exits = [c.get("ExitCode") for t in tasks for c in t.get("Containers") or []]
    return "SUCCEEDED" if all(code == 0 for code in exits) else "FAILED"


def _execution(described: Any, parse: bool) -> Params:
    """DescribeExecution as the `.sync` integration returns it (`.sync:2`: Input and Output parsed)."""
    out = {k: v for k, v in described.items() if k in (
        "ExecutionArn", "Input", "InputDetails", "Name", "StartDate", "StateMachineArn", "Status", "StopDate",
        "Output", "OutputDetails", "Error", "Cause")}
    if parse:
        for key in ("Input", "Output"):
            if isinstance(out.get(key), str):
                with contextlib.suppress(json.JSONDecodeError):  # not JSON text: kept as the string it is
                    out[key] = json.loads(out[key])
    return out


_POLLERS: dict[tuple[str, str], _Poller] = {
    ("glue", "startJobRun"): _Poller(
        "GetJobRun", "glue", lambda p, r: {"JobName": p.get("JobName"), "RunId": r.get("JobRunId")},
        lambda d: d["JobRun"].get("JobRunState"),
        frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED"}), frozenset({"SUCCEEDED"}),
        lambda started, d: d["JobRun"]),
    ("athena", "startQueryExecution"): _Poller(
        "GetQueryExecution", "athena", lambda p, r: {"QueryExecutionId": r.get("QueryExecutionId")},
        lambda d: d["QueryExecution"]["Status"].get("State"),
        frozenset({"SUCCEEDED", "FAILED", "CANCELLED"}), frozenset({"SUCCEEDED"})),
    ("elasticmapreduce", "addStep"): _Poller(
        "DescribeStep", "emr", lambda p, r: {"ClusterId": p.get("ClusterId"), "StepId": r.get("StepId")},
        lambda d: d["Step"]["Status"].get("State"),
        frozenset({"COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED"}), frozenset({"COMPLETED"})),
    ("elasticmapreduce", "createCluster"): _Poller(
        "DescribeCluster", "emr", lambda p, r: {"ClusterId": r.get("ClusterId")},
        lambda d: d["Cluster"]["Status"].get("State"),
        frozenset({"WAITING", "RUNNING", "TERMINATED", "TERMINATED_WITH_ERRORS"}), frozenset({"WAITING", "RUNNING"}),
        lambda started, d: started),
    ("elasticmapreduce", "terminateCluster"): _Poller(
        "DescribeCluster", "emr", lambda p, r: {"ClusterId": p.get("ClusterId")},
        lambda d: d["Cluster"]["Status"].get("State"),
        frozenset({"TERMINATED", "TERMINATED_WITH_ERRORS"}), frozenset({"TERMINATED", "TERMINATED_WITH_ERRORS"}),
        lambda started, d: started),
    ("states", "startExecution"): _Poller(
        "DescribeExecution", "stepfunctions", lambda p, r: {"executionArn": r.get("ExecutionArn")},
        lambda d: d.get("Status"), frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}),
        frozenset({"SUCCEEDED"}), lambda started, d: _execution(d, parse=False)),
    ("emr-serverless", "startJobRun"): _Poller(
        "GetJobRun", "emr-serverless",
        lambda p, r: {"applicationId": r.get("ApplicationId"), "jobRunId": r.get("JobRunId")},
        lambda d: d["JobRun"].get("State"), frozenset({"SUCCESS", "FAILED", "CANCELLED"}), frozenset({"SUCCESS"})),
    ("ecs", "runTask"): _Poller(
        "DescribeTasks", "ecs",
        lambda p, r: {"cluster": p.get("Cluster"), "tasks": [t.get("TaskArn") for t in r.get("Tasks") or []]},
        _ecs_state, frozenset({"SUCCEEDED", "FAILED"}), frozenset({"SUCCEEDED"})),
    ("batch", "submitJob"): _Poller(
        "DescribeJobs", "batch", lambda p, r: {"jobs": [r.get("JobId")]},
        lambda d: _first(d.get("Jobs") or [{}]).get("Status"), frozenset({"SUCCEEDED", "FAILED"}),
        frozenset({"SUCCEEDED"}), lambda started, d: _first(d.get("Jobs"))),
}


def _poll(poller: _Poller, call: _Call, params: Params, started: Any, request: TaskRequest, region: str | None,
          real_clock: bool, parse: bool) -> Any:
    describe = _Call(call.asl_service, poller.service, poller.operation, call.sdk)
    interval = POLL_FIRST_SECONDS
    while True:
        described, _ = describe.invoke(poller.describe(params, started), region)
        state = poller.state(described)
        if state in poller.ended:
            break
        _wait(request, interval, real_clock)
        interval = min(interval * 2, POLL_MAX_SECONDS)
    result = poller.result(started, described)
    if parse and isinstance(result, dict):
        result = _execution(described, parse=True)
    if state not in poller.succeeded:
        raise StatesError(TASK_FAILED, json.dumps(result, separators=(",", ":"), default=str))
    return result


def _wait(request: TaskRequest, seconds: float, real_clock: bool) -> None:
    """Let `seconds` pass on the execution's clock while AWS works (real time either way: the job is real)."""
    if real_clock:
        request.context.sleep(seconds)  # honours StopExecution, TimeoutSeconds and HeartbeatSeconds
        return
    # The virtual clock runs with the wall clock while nothing jumps it: wait for real, in slices after
    # each of which the execution checks its limits without moving time on, so a stop or a timeout is
    # seen within a slice rather than at the next poll (up to POLL_MAX_SECONDS later).
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        with request.context.idle():  # AWS's work is outside virtual time: sibling branches' waits may end
            time.sleep(min(left, _CHECK_SECONDS))
        request.context.sleep(1e-9)


# -- the handler ---------------------------------------------------------------------------------
def _lambda_function(resource: Resource, registry: Registry) -> Handler:
    """A Lambda function ARN as the Task's resource: Invoke it; the payload it returns is the result."""
    call = _Call("lambda", "lambda", "Invoke", sdk=False)

    def handle(request: TaskRequest) -> Any:
        result, _ = call.invoke({"FunctionName": resource.arn, "Payload": request.payload}, _region(resource))
        return _lambda_payload(result)

    return handle


def _lambda_payload(result: Params) -> Any:
    """The function's answer; a function error (FunctionError set) fails the task with its errorType."""
    text = result.get("Payload")
    try:
        payload = json.loads(text) if isinstance(text, str) and text else text
    except json.JSONDecodeError:
        payload = text
    if result.get("FunctionError"):
        error = payload.get("errorType") if isinstance(payload, dict) else None
        raise StatesError(str(error or "Lambda.Unknown"), text if isinstance(text, str) else json.dumps(payload))
    return payload


def _region(resource: Resource) -> str | None:
    """The resource ARN's region when it names one; else boto3's configured region."""
    parts = resource.arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def _factory(resource: Resource, registry: Registry) -> Handler | None:
    if resource.kind == "lambda":
        return _lambda_function(resource, registry)
    if resource.kind != "service":
        return None
    call = _call_for(resource)
    if call is None:
        return None
    sync = resource.pattern.startswith("sync")
    poller = _POLLERS.get((resource.service, resource.action)) if sync else None
    if sync and poller is None:
        return None  # no .sync form for this action: the registry reports it
    region = _region(resource)
    real_clock = registry.run_options.get("clock") == "real"

    def handle(request: TaskRequest) -> Any:
        params = request.payload if isinstance(request.payload, dict) else {}
        raw, meta = call.invoke(params, region)
        if not call.sdk and resource.service == "lambda" and resource.action == "invoke":
            raw = {**raw, "Payload": _lambda_payload(raw)}
        result = call.response(raw)
        if poller is not None:
            return _poll(poller, call, params, result, request, region, real_clock, resource.pattern == "sync:2")
        if resource.pattern == "waitForTaskToken":
            from emulator.integrations.messaging import wait_for_token

            return wait_for_token(registry.backends.outbox, request.context, real_clock)
        if not call.sdk and resource.service in _WITH_METADATA and isinstance(result, dict):
            return {**result, **_metadata(meta)}
        return result

    return handle


register("aws", _factory)
