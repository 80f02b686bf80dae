"""Execution history, in the shape of GetExecutionHistory's events.

Events are dicts with `timestamp`, `type`, `id`, `previousEventId` and one `*EventDetails`
member, as boto3 returns them. Inputs and outputs are JSON text, as AWS stores them.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from emulator.errors import DATA_LIMIT_EXCEEDED, InvalidExecutionInput, StatesError

# AWS's quota for a Standard execution's history; passing it fails the execution.
MAX_EVENTS = 25_000
# AWS's payload limit for an input, output or result, in bytes of UTF-8.
MAX_PAYLOAD_BYTES = 256 * 1024
# How deeply arrays and objects may nest in an execution's input. AWS documents no figure; 1,000 is
# the default nesting limit of Jackson (StreamReadConstraints), the JSON library of AWS's Java services.
MAX_NESTING_DEPTH = 1000


def nesting_depth(value: Any, limit: int = MAX_NESTING_DEPTH) -> int:
    """How many arrays/objects deep `value` goes, counting no further than `limit + 1` (iteratively,
    so any depth is measured without recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list | tuple):
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        stack.extend((child, depth) for child in node if isinstance(child, dict | list | tuple))
    return deepest


def check_input_depth(value: Any) -> None:
    """StartExecution's check of the input's nesting, before anything serialises it."""
    if nesting_depth(value) > MAX_NESTING_DEPTH:
        raise InvalidExecutionInput("InvalidExecutionInput", f"Invalid State Machine Execution Input: arrays and "
                                    f"objects nest more than {MAX_NESTING_DEPTH} levels deep")


def check_input_size(text: str) -> None:
    """StartExecution's length constraint on the input (a ValidationException on AWS)."""
    size = payload_size(text)
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidExecutionInput("ValidationException", f"1 validation error detected: Value at 'input' failed "
                                    f"to satisfy constraint: Member must have length less than or equal to "
                                    f"{MAX_PAYLOAD_BYTES} (it has {size} bytes)")



def payload_size(text: str) -> int:
    # Characters are a lower bound on bytes; encode only when it could matter.
    return len(text) if len(text) * 4 <= MAX_PAYLOAD_BYTES else len(text.encode("utf-8"))


def check_payload(text: str, what: str) -> None:
    if payload_size(text) > MAX_PAYLOAD_BYTES:
        raise StatesError(
            DATA_LIMIT_EXCEEDED,
            f"The {what} has a size exceeding the maximum number of bytes service limit ({MAX_PAYLOAD_BYTES}).",
        )


class HistoryLimitExceeded(Exception):
    """The execution reached AWS's 25,000-event history quota."""


class History:
    """An append-only event list shared by every branch of one execution."""

    __slots__ = ("_lock", "events", "limit")

    def __init__(self, limit: int | None = MAX_EVENTS) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.limit = limit

    def add(self, event_type: str, previous: int, timestamp: float, details_key: str | None = None,
            details: dict[str, Any] | None = None) -> int:
        event: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(timestamp, tz=UTC),
            "type": event_type,
            "id": 0,
            "previousEventId": previous,
        }
        if details_key is not None:
            event[details_key] = details if details is not None else {}
        with self._lock:
            event_id = len(self.events) + 1
            if self.limit is not None and event_id > self.limit:
                raise HistoryLimitExceeded()
            event["id"] = event_id
            self.events.append(event)
        return event_id

    def __len__(self) -> int:
        return len(self.events)
