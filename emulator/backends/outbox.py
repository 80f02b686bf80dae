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

import fcntl
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.workspace import Workspace

# SQS and SNS FIFO drop a message whose deduplication ID was seen in the last five minutes.
DEDUPLICATION_WINDOW_SECONDS = 300

# Threads of one process share the file lock, so they also need a lock of their own.
_THREAD_LOCK = threading.Lock()


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

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with _THREAD_LOCK, (self.folder / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

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
        with self._locked():
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
        with self._locked():
            entries = self._read()
        if topic is not None:
            entries = [m for m in entries if m["Service"] == "sns" and topic in (m["Target"], _name_of(m["Target"]))]
        if queue is not None:
            entries = [m for m in entries if m["Service"] == "sqs" and queue in (m["Target"], _name_of(m["Target"]))]
        return entries

    def clear(self) -> None:
        with self._locked():
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
