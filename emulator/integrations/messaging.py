"""SNS publish and SQS sendMessage, recorded in the workspace's outbox instead of delivered.

Resources: `arn:aws:states:::sns:publish`, `arn:aws:states:::sqs:sendMessage` (the optimised
integrations, answering with SdkHttpMetadata/SdkResponseMetadata as Step Functions does) and
`arn:aws:states:::aws-sdk:sns:publish`, `aws-sdk:sqs:sendMessage` (the SDK's bare response).
Errors are named as Step Functions names them: `SNS.<Code>Exception` for the optimised
integration, `Sns.<Code>Exception` (PascalCase service name) for aws-sdk.

`.waitForTaskToken`: the message is recorded, then the task waits until someone answers the
token with `Outbox.send_task_success` / `send_task_failure` (another thread, process or test),
bounded by the state's TimeoutSeconds / HeartbeatSeconds and StopExecution as on AWS.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import struct
import time
import uuid
from collections.abc import Callable
from typing import Any

from emulator.backends.outbox import Outbox
from emulator.engine import tokens
from emulator.errors import StatesError
from emulator.integrations.registry import Handler, Registry, Resource, TaskContext, TaskRequest, register

# How often a waiting task looks for its token's answer, in real seconds.
_POLL_SECONDS = 0.02


class _Service:
    """Naming of one service's errors and metadata, for the optimised and the aws-sdk flavour."""

    def __init__(self, optimised: str, sdk: str, long_name: str, content_type: str) -> None:
        self.optimised, self.sdk, self.long_name, self.content_type = optimised, sdk, long_name, content_type

    def error(self, sdk: bool, code: str, message: str, status: int = 400) -> StatesError:
        request_id = str(uuid.uuid4())
        if sdk:  # SDK v2 wording, as aws-sdk integrations report it
            cause = f"{message} (Service: {self.sdk}, Status Code: {status}, Request ID: {request_id})"
            return StatesError(f"{self.sdk}.{code}Exception", cause)
        cause = (f"{message} (Service: {self.long_name}; Status Code: {status}; Error Code: {code}; "
                 f"Request ID: {request_id}; Proxy: null)")
        return StatesError(f"{self.optimised}.{code}Exception", cause)

    def metadata(self) -> dict[str, Any]:
        """The SdkHttpMetadata / SdkResponseMetadata an optimised integration adds to its result."""
        request_id = str(uuid.uuid4())
        headers = {"Content-Type": self.content_type, "x-amzn-RequestId": request_id}
        return {
            "SdkHttpMetadata": {"AllHttpHeaders": {k: [v] for k, v in headers.items()}, "HttpHeaders": headers,
                                "HttpStatusCode": 200},
            "SdkResponseMetadata": {"RequestId": request_id},
        }


SNS = _Service("SNS", "Sns", "AmazonSNS", "text/xml")
SQS = _Service("SQS", "Sqs", "AmazonSQS", "application/x-amz-json-1.0")


def _text(value: Any) -> str:
    """A message as Step Functions sends it: a string as is, any other JSON value serialised."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def md5_of_attributes(attributes: dict[str, Any]) -> str:
    """MD5OfMessageAttributes, computed as SQS documents it: names sorted, every field length-prefixed."""
    digest = hashlib.md5()

    def field(data: bytes) -> None:
        digest.update(struct.pack(">I", len(data)) + data)

    for name in sorted(attributes):
        attribute = attributes[name]
        data_type = str(attribute.get("DataType", ""))
        field(name.encode("utf-8"))
        field(data_type.encode("utf-8"))
        if data_type.startswith("Binary"):
            digest.update(b"\x02")
            field(base64.b64decode(attribute.get("BinaryValue", "")))
        else:
            digest.update(b"\x01")
            field(str(attribute.get("StringValue", "")).encode("utf-8"))
    return digest.hexdigest()


def _check_attributes(service: _Service, sdk: bool, attributes: Any) -> dict[str, Any] | None:
    if attributes is None:
        return None
    if not isinstance(attributes, dict):
        raise service.error(sdk, "InvalidParameterValue", "MessageAttributes must be a map of name to attribute")
    for name, attribute in attributes.items():
        if not isinstance(attribute, dict) or not attribute.get("DataType"):
            raise service.error(sdk, "InvalidParameterValue",
                                f"The message attribute '{name}' must contain non-empty message attribute type.")
        if "StringValue" not in attribute and "BinaryValue" not in attribute:
            raise service.error(sdk, "InvalidParameterValue",
                                f"The message attribute '{name}' must contain non-empty message attribute value.")
    return attributes


def publish(outbox: Outbox, params: dict[str, Any], sdk: bool, context: TaskContext) -> dict[str, Any]:
    """SNS Publish: to a topic (TopicArn), an endpoint (TargetArn) or a phone number."""
    targets = [params[k] for k in ("TopicArn", "TargetArn", "PhoneNumber") if params.get(k)]
    if len(targets) != 1:
        reason = "no value for required parameter" if not targets else "Only one of them may be given"
        raise SNS.error(sdk, "InvalidParameter", f"Invalid parameter: TopicArn or TargetArn Reason: {reason}")
    target = str(targets[0])
    if params.get("Message") in (None, ""):
        raise SNS.error(sdk, "InvalidParameter", "Invalid parameter: Empty message")
    fifo = target.endswith(".fifo")
    if fifo and not params.get("MessageGroupId"):
        raise SNS.error(sdk, "InvalidParameter",
                        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
    if not fifo and params.get("MessageDeduplicationId"):
        raise SNS.error(sdk, "InvalidParameter", "Invalid parameter: MessageDeduplicationId Reason: The request "
                                                 "includes MessageDeduplicationId parameter that is not valid for "
                                                 "this topic type")
    sent = outbox.record(
        "sns", target, _text(params["Message"]), Subject=params.get("Subject"),
        MessageAttributes=_check_attributes(SNS, sdk, params.get("MessageAttributes")),
        MessageStructure=params.get("MessageStructure"), MessageGroupId=params.get("MessageGroupId"),
        MessageDeduplicationId=params.get("MessageDeduplicationId"),
        ExecutionArn=context.execution_arn or None, State=context.state_name or None,
        TaskToken=context.task_token,
    )
    out: dict[str, Any] = {"MessageId": sent.message_id}
    if sent.sequence_number is not None:
        out["SequenceNumber"] = sent.sequence_number
    return out if sdk else {**out, **SNS.metadata()}


def send_message(outbox: Outbox, params: dict[str, Any], sdk: bool, context: TaskContext) -> dict[str, Any]:
    """SQS SendMessage to QueueUrl; answers with the real MD5 of the body (and of the attributes)."""
    queue = params.get("QueueUrl")
    if not queue:
        raise SQS.error(sdk, "MissingParameter", "The request must contain the parameter QueueUrl.")
    if params.get("MessageBody") in (None, ""):
        raise SQS.error(sdk, "MissingParameter", "The request must contain the parameter MessageBody.")
    body = _text(params["MessageBody"])
    fifo = str(queue).endswith(".fifo")
    delay = params.get("DelaySeconds")
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 900):
        raise SQS.error(sdk, "InvalidParameterValue", f"Value {delay} for parameter DelaySeconds is invalid. "
                                                      "Reason: must be between 0 and 900, if provided.")
    if fifo and delay:
        raise SQS.error(sdk, "InvalidParameterValue", f"Value {delay} for parameter DelaySeconds is invalid. Reason: "
                                                      "The request include parameter that is not valid for this "
                                                      "queue type.")
    if fifo and not params.get("MessageGroupId"):
        raise SQS.error(sdk, "MissingParameter", "The request must contain the parameter MessageGroupId.")
    attributes = _check_attributes(SQS, sdk, params.get("MessageAttributes"))
    sent = outbox.record(
        "sqs", str(queue), body, MessageAttributes=attributes, DelaySeconds=delay,
        MessageGroupId=params.get("MessageGroupId"), MessageDeduplicationId=params.get("MessageDeduplicationId"),
        ExecutionArn=context.execution_arn or None, State=context.state_name or None,
        TaskToken=context.task_token,
    )
    out: dict[str, Any] = {"MD5OfMessageBody": hashlib.md5(body.encode("utf-8")).hexdigest(),
                           "MessageId": sent.message_id}
    if attributes:
        out["MD5OfMessageAttributes"] = md5_of_attributes(attributes)
    if sent.sequence_number is not None:
        out["SequenceNumber"] = sent.sequence_number
    return out if sdk else {**out, **SQS.metadata()}


def wait_for_token(outbox: Outbox, context: TaskContext, real_clock: bool) -> Any:
    """Block until the task's token is answered; the answer becomes the task's result or error."""
    token = context.task_token or ""
    # Registered while it waits, so the server's SendTask* calls can find (and vet) the token.
    with tokens.waiting(token, context, functools.partial(outbox.send_task_success, token),
                        functools.partial(outbox.send_task_failure, token)):
        while (answer := outbox.take_task_result(token)) is None:
            if real_clock:
                context.sleep(_POLL_SECONDS)  # real wait: honours StopExecution, TimeoutSeconds, HeartbeatSeconds
            else:
                # The virtual clock runs with the wall clock while nothing jumps it: wait for real,
                # and let the execution check its timeouts without moving time on.
                with context.idle():
                    time.sleep(_POLL_SECONDS)
                context.sleep(1e-9)
    if answer["status"] == "FAILED":
        raise StatesError(answer.get("error"), answer.get("cause"))
    return answer.get("output")


Action = Callable[[Outbox, dict[str, Any], bool, TaskContext], dict[str, Any]]
ACTIONS: dict[tuple[str, str], Action] = {("sns", "publish"): publish, ("sqs", "sendMessage"): send_message}


def _factory(resource: Resource, registry: Registry) -> Handler | None:
    sdk = resource.service.startswith("aws-sdk:")
    action = ACTIONS.get((resource.service.removeprefix("aws-sdk:"), resource.action))
    if action is None or resource.pattern not in ("", "waitForTaskToken"):
        return None

    def handle(request: TaskRequest) -> Any:
        params = request.payload if isinstance(request.payload, dict) else {}
        outbox = registry.backends.outbox
        result = action(outbox, params, sdk, request.context)
        if resource.pattern == "waitForTaskToken":
            options = getattr(registry, "run_options", {})
            return wait_for_token(outbox, request.context, options.get("clock") == "real")
        return result

    return handle


for _service in ("sns", "sqs", "aws-sdk:sns", "aws-sdk:sqs"):
    register(_service, _factory)
