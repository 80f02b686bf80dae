"""Amazon SQS's JSON API (`X-Amz-Target: AmazonSQS.<Action>`, JSON 1.0) over the outbox.

SendMessage is the `sqs:sendMessage` Task's own code (`integrations/messaging.py`), so a message a
state machine sent is received here, and one sent here shows in `sfn-local outbox`. A queue exists
once CreateQueue made it or a Task sent to it. Queue URLs have AWS's form; requests go to the
endpoint, and only the URL's last segment (the queue name) identifies the queue.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from emulator.backends.outbox import Outbox, QueueError
from emulator.errors import StatesError
from emulator.integrations.messaging import md5_of_attributes, send_message
from emulator.integrations.registry import TaskContext
from emulator.server.protocol import Action, Params, ServiceError, backend_action

_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/{}"
_SENDER = "AIDAIT2UOQQY3AUEKVGXU"
_LONG_POLL_STEP = 0.05  # seconds between looks while ReceiveMessage waits for messages


def _name(params: Params, key: str = "QueueUrl") -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise ServiceError("MissingParameter", f"The request must contain the parameter {key}.")
    return value.rstrip("/").rsplit("/", 1)[-1]


def _create_queue(outbox: Outbox, p: Params) -> Params:
    name = _name(p, "QueueName")
    outbox.create_queue(name, p.get("Attributes") or {})
    return {"QueueUrl": _URL.format(name)}


def _get_queue_url(outbox: Outbox, p: Params) -> Params:
    name = _name(p, "QueueName")
    outbox.queue_attributes(name)
    return {"QueueUrl": _URL.format(name)}


def _list_queues(outbox: Outbox, p: Params) -> Params:
    urls = [_URL.format(n) for n in outbox.queue_names() if n.startswith(p.get("QueueNamePrefix") or "")]
    size = int(p.get("MaxResults") or 1000)
    start = int(p["NextToken"]) if str(p.get("NextToken", "")).isdigit() else 0
    out: Params = {"QueueUrls": urls[start:start + size]} if urls else {}
    if "MaxResults" in p and start + size < len(urls):
        out["NextToken"] = str(start + size)
    return out


def _send_message(outbox: Outbox, p: Params) -> Params:
    outbox.queue_attributes(_name(p))  # QueueDoesNotExist before anything is recorded
    try:
        return send_message(outbox, p, True, TaskContext(execution_arn="", state_name=""))
    except StatesError as exc:  # the Task integration names errors `Sqs.<Code>Exception`
        code = (exc.error or "").removeprefix("Sqs.").removesuffix("Exception")
        raise ServiceError(code, (exc.cause or "").split(" (Service: ", 1)[0]) from None


def _wanted(names: list[str], name: str) -> bool:
    return any(n in ("All", ".*", name) or (n.endswith(".*") and name.startswith(n[:-1])) for n in names)


def _receive_message(outbox: Outbox, p: Params) -> Params:
    name = _name(p)
    count = p.get("MaxNumberOfMessages", 1)
    if not isinstance(count, int) or not 1 <= count <= 10:
        raise ServiceError("InvalidParameterValue", f"Value {count} for parameter MaxNumberOfMessages is invalid. "
                                                    "Reason: Must be between 1 and 10, if provided.")
    wait = p.get("WaitTimeSeconds")
    if wait is None:
        wait = int(outbox.queue_attributes(name).get("ReceiveMessageWaitTimeSeconds", "0"))
    deadline = time.monotonic() + min(int(wait), 20)
    while not (received := outbox.receive(name, count, p.get("VisibilityTimeout"))) and time.monotonic() < deadline:
        time.sleep(_LONG_POLL_STEP)
    system = [*(p.get("AttributeNames") or []), *(p.get("MessageSystemAttributeNames") or [])]
    wanted_attributes = p.get("MessageAttributeNames") or []
    messages = []
    for entry in received:
        message: Params = {"MessageId": entry["MessageId"], "ReceiptHandle": entry["ReceiptHandle"],
                           "MD5OfBody": hashlib.md5(entry["Body"].encode("utf-8")).hexdigest(), "Body": entry["Body"]}
        available = {"SenderId": _SENDER, "SentTimestamp": str(int(entry["Timestamp"] * 1000)),
                     "ApproximateReceiveCount": str(entry["ApproximateReceiveCount"]),
                     "ApproximateFirstReceiveTimestamp": str(int(entry["FirstReceiveTimestamp"] * 1000)),
                     **{k: str(entry[k]) for k in ("MessageGroupId", "MessageDeduplicationId", "SequenceNumber")
                        if k in entry}}
        if chosen := {k: v for k, v in available.items() if _wanted(system, k)}:
            message["Attributes"] = chosen
        attributes = {k: v for k, v in (entry.get("MessageAttributes") or {}).items() if _wanted(wanted_attributes, k)}
        if attributes:
            message["MessageAttributes"] = attributes
            message["MD5OfMessageAttributes"] = md5_of_attributes(attributes)
        messages.append(message)
    return {"Messages": messages} if messages else {}


def _delete_message(outbox: Outbox, p: Params) -> Params:
    handle = p.get("ReceiptHandle")
    if not isinstance(handle, str) or not handle:
        raise ServiceError("MissingParameter", "The request must contain the parameter ReceiptHandle.")
    outbox.delete_message(_name(p), handle)
    return {}


def _get_queue_attributes(outbox: Outbox, p: Params) -> Params:
    attributes = outbox.queue_attributes(_name(p))
    names = p.get("AttributeNames") or []
    unknown = [n for n in names if n != "All" and n not in attributes]
    if unknown:
        raise ServiceError("InvalidAttributeName", f"Unknown Attribute {unknown[0]}.")
    chosen = {k: v for k, v in attributes.items() if "All" in names or k in names}
    return {"Attributes": chosen} if chosen else {}


def _purge_queue(outbox: Outbox, p: Params) -> Params:
    outbox.purge_queue(_name(p))
    return {}


def _wrap(action: Callable[[Outbox, Params], Params]) -> Action:
    return backend_action(action, lambda backends: backends.outbox, QueueError)


ACTIONS: dict[str, Action] = {
    "CreateQueue": _wrap(_create_queue),
    "GetQueueUrl": _wrap(_get_queue_url),
    "ListQueues": _wrap(_list_queues),
    "SendMessage": _wrap(_send_message),
    "ReceiveMessage": _wrap(_receive_message),
    "DeleteMessage": _wrap(_delete_message),
    "GetQueueAttributes": _wrap(_get_queue_attributes),
    "PurgeQueue": _wrap(_purge_queue),
}
