"""The local outbox behind SNS and SQS: every published or sent message, kept in the workspace.

Nothing is delivered anywhere: a message is appended as one JSON line to
`<workspace>/outbox/messages.jsonl`, so tests and `sfn-local outbox` can see what a state
machine sent, across processes. Appends hold an exclusive file lock, so two executions (or two
processes) writing at once never interleave lines, and FIFO sequence numbers and deduplication
are decided under that same lock.

Task tokens (`.waitForTaskToken`) get their answer through the outbox too: `send_task_success`
or `send_task_failure` writes `<workspace>/outbox/task-results/<token>.json`, which the waiting
task polls for (from this process or any other that shares the workspace).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.workspace import Workspace

# SQS and SNS FIFO drop a message whose deduplication ID was seen in the last five minutes.
DEDUPLICATION_WINDOW_SECONDS = 300

# Threads of one process share the file lock, so they also need a lock of their own.


@dataclass(frozen=True)
class Sent:
    """What the service answers for one message."""

    message_id: str
    sequence_number: str | None
    duplicate: bool  # a FIFO duplicate inside the window: accepted, answered, not recorded again


def _name_of(target: str) -> str:
    """The short name of a topic ARN (`...:orders`) or a queue URL (`.../123/orders`)."""
    return target.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class Outbox:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @property
    def folder(self) -> Path:
        return self.workspace.path("outbox")

    @property
    def log(self) -> Path:
        return self.folder / "messages.jsonl"

    def _read(self) -> list[dict[str, Any]]:
        if not self.log.is_file():
            return []
        with self.log.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def record(self, service: str, target: str, body: str, **fields: Any) -> Sent:
        """Append one message for `service` ("sns" or "sqs") to `target` (topic ARN, queue URL, phone).

        `fields` are kept as given (Subject, MessageAttributes, ...); None values are dropped.
        FIFO targets (names ending `.fifo`) get a sequence number and deduplication.
        """
        fifo = _name_of(target).endswith(".fifo")
        now = time.time()
        with self.workspace.lock("outbox"):
            sequence = None
            if fifo:
                earlier = [m for m in self._read() if m["Service"] == service and m["Target"] == target]
                dedup = fields.get("MessageDeduplicationId") or hashlib.sha256(body.encode("utf-8")).hexdigest()
                fields["MessageDeduplicationId"] = dedup
                for old in reversed(earlier):
                    if old.get("MessageDeduplicationId") == dedup and now - old["Timestamp"] < \
                            DEDUPLICATION_WINDOW_SECONDS:
                        return Sent(old["MessageId"], old.get("SequenceNumber"), duplicate=True)
                # AWS's are 20-digit, increasing per queue or topic; so are these.
                sequence = f"{len(earlier) + 1:020d}"
            message_id = str(uuid.uuid4())
            entry = {"MessageId": message_id, "Service": service, "Target": target, "Body": body,
                     "Timestamp": now, **{k: v for k, v in fields.items() if v is not None}}
            if sequence is not None:
                entry["SequenceNumber"] = sequence
            line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
            fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        return Sent(message_id, sequence, duplicate=False)

    def messages(self, topic: str | None = None, queue: str | None = None) -> list[dict[str, Any]]:
        """Recorded messages, oldest first; `topic` / `queue` match a full ARN/URL or the short name."""
        with self.workspace.lock("outbox"):
            entries = self._read()
        if topic is not None:
            entries = [m for m in entries if m["Service"] == "sns" and topic in (m["Target"], _name_of(m["Target"]))]
        if queue is not None:
            entries = [m for m in entries if m["Service"] == "sqs" and queue in (m["Target"], _name_of(m["Target"]))]
        return entries

    def clear(self) -> None:
        with self.workspace.lock("outbox"):
            self.log.unlink(missing_ok=True)

    # -- task tokens ------------------------------------------------------------------------
    def _result_path(self, token: str) -> Path:
        # Tokens are opaque text: hash them into a safe file name.
        return self.workspace.path("outbox", "task-results") / (hashlib.sha256(token.encode()).hexdigest() + ".json")

    def send_task_success(self, token: str, output: Any) -> None:
        """SendTaskSuccess: the task waiting on `token` succeeds with `output`."""
        self._answer(token, {"status": "SUCCEEDED", "output": output})

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        """SendTaskFailure: the task waiting on `token` fails with `error` and `cause`."""
        self._answer(token, {"status": "FAILED", "error": error, "cause": cause})

    def _answer(self, token: str, result: dict[str, Any]) -> None:
        path = self._result_path(token)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result), encoding="utf-8")
        tmp.replace(path)  # the waiting task never reads half an answer

    def take_task_result(self, token: str) -> dict[str, Any] | None:
        """The answer for `token` if one was sent (consumed: a token is answered once), else None."""
        path = self._result_path(token)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        path.unlink(missing_ok=True)
        return json.loads(text)

    # -- SQS consumers (the SQS HTTP front) ---------------------------------------------------
    # Queues created by CreateQueue, and what consumers did to messages (received, deleted,
    # purged), live in `sqs-state.json`; a queue a Task sent to without creating it exists too.
    @property
    def _sqs_state_file(self) -> Path:
        return self.folder / "sqs-state.json"

    def _sqs_state(self) -> dict[str, Any]:
        path = self._sqs_state_file
        state = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        state.setdefault("queues", {})
        state.setdefault("messages", {})
        return state

    def _save_sqs_state(self, state: dict[str, Any]) -> None:
        tmp = self._sqs_state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, separators=(",", ":")), encoding="utf-8")
        tmp.replace(self._sqs_state_file)

    def _queue(self, state: dict[str, Any], name: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        if name in state["queues"]:
            return state["queues"][name]
        sent = [m["Timestamp"] for m in entries if m["Service"] == "sqs" and _name_of(m["Target"]) == name]
        if not sent:
            raise QueueError("QueueDoesNotExist", "The specified queue does not exist.")
        return {"Attributes": _queue_attributes(name, {}), "Created": min(sent), "Purged": 0}

    def create_queue(self, name: str, attributes: dict[str, str]) -> None:
        """CreateQueue: idempotent for the same attributes, QueueNameExists for different ones."""
        if not _QUEUE_NAME.fullmatch(name):
            raise QueueError("InvalidParameterValue", "Can only include alphanumeric characters, hyphens, or "
                                                      "underscores. 1 to 80 in length")
        wanted = _queue_attributes(name, attributes)
        with self.workspace.lock("outbox"):
            state = self._sqs_state()
            existing = state["queues"].get(name)
            if existing is not None:
                if any(existing["Attributes"].get(k) != v for k, v in attributes.items()):
                    raise QueueError("QueueNameExists", f"A queue already exists with the same name and a "
                                                        f"different value for attribute(s): {name}")
                return
            state["queues"][name] = {"Attributes": wanted, "Created": time.time(), "Purged": 0}
            self._save_sqs_state(state)

    def queue_names(self) -> list[str]:
        """Queues created, plus queues messages were sent to."""
        with self.workspace.lock("outbox"):
            names = set(self._sqs_state()["queues"])
            names.update(_name_of(m["Target"]) for m in self._read() if m["Service"] == "sqs")
        return sorted(names)

    def queue_attributes(self, name: str) -> dict[str, str]:
        """GetQueueAttributes' full map: the queue's settings and its approximate counts."""
        with self.workspace.lock("outbox"):
            entries = self._read()
            state = self._sqs_state()
            queue = self._queue(state, name, entries)
            visible = in_flight = delayed = 0
            now = time.time()
            for message in self._live(state, queue, name, entries):
                seen = state["messages"].get(message["MessageId"], {})
                if seen.get("InvisibleUntil", 0) > now:
                    in_flight += 1
                elif self._delayed(queue, message, now):
                    delayed += 1
                else:
                    visible += 1
        stamp = str(int(queue["Created"]))
        return {**queue["Attributes"], "ApproximateNumberOfMessages": str(visible),
                "ApproximateNumberOfMessagesNotVisible": str(in_flight),
                "ApproximateNumberOfMessagesDelayed": str(delayed), "CreatedTimestamp": stamp,
                "LastModifiedTimestamp": stamp}

    @staticmethod
    def _live(state: dict[str, Any], queue: dict[str, Any], name: str,
              entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m for m in entries if m["Service"] == "sqs" and _name_of(m["Target"]) == name
                and m["Timestamp"] > queue.get("Purged", 0)
                and not state["messages"].get(m["MessageId"], {}).get("Deleted")]

    @staticmethod
    def _delayed(queue: dict[str, Any], message: dict[str, Any], now: float) -> bool:
        delay = message.get("DelaySeconds")
        if delay is None:
            delay = int(queue["Attributes"].get("DelaySeconds", "0"))
        return message["Timestamp"] + delay > now

    def receive(self, name: str, max_messages: int = 1, visibility_timeout: int | None = None) -> list[dict[str, Any]]:
        """ReceiveMessage: visible messages, oldest first, each hidden for the visibility timeout.

        A FIFO queue holds back a message group while an earlier receive of it is in flight.
        Each returned entry carries ReceiptHandle, ApproximateReceiveCount and FirstReceiveTimestamp.
        """
        out: list[dict[str, Any]] = []
        with self.workspace.lock("outbox"):
            entries = self._read()
            state = self._sqs_state()
            queue = self._queue(state, name, entries)
            timeout = visibility_timeout if visibility_timeout is not None else \
                int(queue["Attributes"].get("VisibilityTimeout", "30"))
            now = time.time()
            busy: set[str] = set()
            for message in self._live(state, queue, name, entries):
                seen = state["messages"].setdefault(message["MessageId"], {})
                group = message.get("MessageGroupId")
                if seen.get("InvisibleUntil", 0) > now:
                    if group is not None:
                        busy.add(group)
                    continue
                if group in busy or self._delayed(queue, message, now):
                    continue
                if len(out) >= max_messages:
                    break
                seen["ReceiveCount"] = seen.get("ReceiveCount", 0) + 1
                seen.setdefault("FirstReceive", now)
                seen["InvisibleUntil"] = now + timeout
                handle = f"{message['MessageId']}:{uuid.uuid4().hex}".encode()
                out.append({**message, "ReceiptHandle": base64.urlsafe_b64encode(handle).decode(),
                            "ApproximateReceiveCount": seen["ReceiveCount"],
                            "FirstReceiveTimestamp": seen["FirstReceive"]})
            self._save_sqs_state(state)
        return out

    def delete_message(self, name: str, receipt_handle: str) -> None:
        """DeleteMessage by the receipt handle a ReceiveMessage gave."""
        try:
            message_id = base64.urlsafe_b64decode(receipt_handle.encode()).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            message_id = ""
        with self.workspace.lock("outbox"):
            entries = self._read()
            state = self._sqs_state()
            self._queue(state, name, entries)
            if message_id not in state["messages"]:
                raise QueueError("ReceiptHandleIsInvalid", f'The input receipt handle "{receipt_handle}" is not a '
                                                           "valid receipt handle.")
            state["messages"][message_id]["Deleted"] = True
            self._save_sqs_state(state)

    def purge_queue(self, name: str) -> None:
        """PurgeQueue: every message sent so far is gone."""
        with self.workspace.lock("outbox"):
            entries = self._read()
            state = self._sqs_state()
            queue = state["queues"].setdefault(name, self._queue(state, name, entries))
            queue["Purged"] = time.time()
            self._save_sqs_state(state)

    # -- SNS topics (the SNS HTTP front) ---------------------------------------------------------
    @property
    def _topics_file(self) -> Path:
        return self.folder / "sns-topics.json"

    def _topics(self) -> dict[str, Any]:
        return json.loads(self._topics_file.read_text(encoding="utf-8")) if self._topics_file.is_file() else {}

    def create_topic(self, arn: str) -> None:
        """CreateTopic: idempotent."""
        with self.workspace.lock("outbox"):
            topics = self._topics()
            if arn not in topics:
                topics[arn] = {"Subscriptions": []}
                self._topics_file.write_text(json.dumps(topics), encoding="utf-8")

    def topic_arns(self) -> list[str]:
        """Topics created, plus topics messages were published to."""
        with self.workspace.lock("outbox"):
            arns = set(self._topics())
            arns.update(m["Target"] for m in self._read() if m["Service"] == "sns" and m["Target"].startswith("arn:"))
        return sorted(arns)

    def subscribe(self, arn: str, protocol: str, endpoint: str) -> str:
        """Subscribe: recorded only (nothing is delivered); returns the SubscriptionArn."""
        subscription = f"{arn}:{uuid.uuid4()}"
        with self.workspace.lock("outbox"):
            topics = self._topics()
            topics.setdefault(arn, {"Subscriptions": []})["Subscriptions"].append(
                {"SubscriptionArn": subscription, "Protocol": protocol, "Endpoint": endpoint})
            self._topics_file.write_text(json.dumps(topics), encoding="utf-8")
        return subscription


class QueueError(Exception):
    """An SQS error with SQS's code (QueueDoesNotExist, QueueNameExists, ReceiptHandleIsInvalid, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}(\.fifo)?")
_QUEUE_DEFAULTS = {"VisibilityTimeout": "30", "DelaySeconds": "0", "MaximumMessageSize": "262144",
                   "MessageRetentionPeriod": "345600", "ReceiveMessageWaitTimeSeconds": "0"}


def _queue_attributes(name: str, given: dict[str, str]) -> dict[str, str]:
    attributes = {**_QUEUE_DEFAULTS, "QueueArn": f"arn:aws:sqs:us-east-1:123456789012:{name}",
                  **{k: str(v) for k, v in given.items()}}
    if name.endswith(".fifo"):
        attributes.setdefault("FifoQueue", "true")
        attributes.setdefault("ContentBasedDeduplication", "false")
    return attributes
