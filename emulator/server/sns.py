"""Amazon SNS's query protocol (form-encoded POST, `Version=2010-03-31`, XML answers) over the outbox.

Publish is the `sns:publish` Task's own code (`integrations/messaging.py`): the message is recorded
in the outbox, never delivered. CreateTopic, ListTopics and Subscribe keep a topic list beside it.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from emulator.backends import Backends
from emulator.backends.outbox import Outbox
from emulator.errors import StatesError
from emulator.integrations.messaging import publish
from emulator.integrations.registry import TaskContext
from emulator.server.protocol import ServiceError

VERSION = "2010-03-31"
_NS = f"http://sns.amazonaws.com/doc/{VERSION}/"
_ARN = "arn:aws:sns:us-east-1:123456789012:{}"
_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}(\.fifo)?")
_ATTRIBUTE = re.compile(r"MessageAttributes\.entry\.(\d+)\.(Name|Value\.DataType|Value\.StringValue|"
                        r"Value\.BinaryValue)")

Form = dict[str, str]


def _create_topic(outbox: Outbox, form: Form) -> dict[str, Any]:
    name = form.get("Name", "")
    if not _TOPIC_NAME.fullmatch(name):
        raise ServiceError("InvalidParameter", "Invalid parameter: Topic Name")
    arn = _ARN.format(name)
    outbox.create_topic(arn)
    return {"TopicArn": arn}


def _list_topics(outbox: Outbox, form: Form) -> dict[str, Any]:
    return {"Topics": [{"TopicArn": arn} for arn in outbox.topic_arns()]}


def _publish(outbox: Outbox, form: Form) -> dict[str, Any]:
    params: dict[str, Any] = {k: v for k, v in form.items() if k in (
        "TopicArn", "TargetArn", "PhoneNumber", "Message", "Subject", "MessageStructure", "MessageGroupId",
        "MessageDeduplicationId")}
    entries: dict[str, dict[str, str]] = {}
    for key, value in form.items():
        if match := _ATTRIBUTE.fullmatch(key):
            entries.setdefault(match.group(1), {})[match.group(2).removeprefix("Value.")] = value
    if entries:
        params["MessageAttributes"] = {e.get("Name", ""): {k: v for k, v in e.items() if k != "Name"}
                                       for e in entries.values()}
    try:
        return publish(outbox, params, True, TaskContext(execution_arn="", state_name=""))
    except StatesError as exc:  # the Task integration names errors `Sns.<Code>Exception`
        code = (exc.error or "").removeprefix("Sns.").removesuffix("Exception")
        raise ServiceError(code, (exc.cause or "").split(" (Service: ", 1)[0]) from None


def _subscribe(outbox: Outbox, form: Form) -> dict[str, Any]:
    arn = form.get("TopicArn", "")
    if arn not in outbox.topic_arns():
        raise ServiceError("NotFound", "Topic does not exist", 404)
    return {"SubscriptionArn": outbox.subscribe(arn, form.get("Protocol", ""), form.get("Endpoint", ""))}


_ACTIONS: dict[str, Callable[[Outbox, Form], dict[str, Any]]] = {
    "CreateTopic": _create_topic,
    "ListTopics": _list_topics,
    "Publish": _publish,
    "Subscribe": _subscribe,
}


def handle(form: Form, backends: Backends) -> Response:
    """One query-protocol request: `<Action>Response` with its `<Action>Result`, or an ErrorResponse."""
    action = form.get("Action", "")
    request_id = str(uuid.uuid4())
    try:
        function = _ACTIONS.get(action)
        if function is None:
            raise ServiceError("InvalidAction", f"The action {action} is not valid for this endpoint.")
        result = function(backends.outbox, form)
    except ServiceError as exc:
        root = ET.Element("ErrorResponse", xmlns=_NS)
        error = ET.SubElement(root, "Error")
        for tag, text in (("Type", "Sender" if exc.status < 500 else "Receiver"), ("Code", exc.code),
                          ("Message", exc.message)):
            ET.SubElement(error, tag).text = text
        ET.SubElement(root, "RequestId").text = request_id
        return Response(ET.tostring(root, encoding="UTF-8", xml_declaration=True), exc.status, media_type="text/xml")
    root = ET.Element(f"{action}Response", xmlns=_NS)
    _to_xml(ET.SubElement(root, f"{action}Result"), result)
    ET.SubElement(ET.SubElement(root, "ResponseMetadata"), "RequestId").text = request_id
    return Response(ET.tostring(root, encoding="UTF-8", xml_declaration=True), media_type="text/xml")


def _to_xml(parent: ET.Element, value: dict[str, Any]) -> None:
    """Query-protocol XML: a list is `<member>` elements."""
    for key, item in value.items():
        child = ET.SubElement(parent, key)
        if isinstance(item, list):
            for member in item:
                _to_xml(ET.SubElement(child, "member"), member)
        else:
            child.text = str(item)
