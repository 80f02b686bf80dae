"""Execution history, in the shape of GetExecutionHistory's events.

Events are dicts with `timestamp`, `type`, `id`, `previousEventId` and one `*EventDetails`
member, as boto3 returns them. Inputs and outputs are JSON text, as AWS stores them.

A run records each event compactly (a tuple of its values: the float time, and for the
state events of every transition a `snapshot` of the state's input or output: marshal's bytes,
which the size check makes anyway) and the dicts, with their JSON text, are built when someone
reads them, once: a history nobody reads costs little, and its records hold no containers the
cyclic collector has to keep visiting.
"""

from __future__ import annotations

import marshal
import math
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from emulator.asl.values import to_json
from emulator.errors import DATA_LIMIT_EXCEEDED, InvalidExecutionInput, StatesError

# AWS's quota for a Standard execution's history; passing it fails the execution.
MAX_EVENTS = 25_000
# AWS's payload limit for an input, output or result, in bytes of UTF-8.
MAX_PAYLOAD_BYTES = 256 * 1024
# How deeply arrays and objects may nest in an execution's input. AWS documents no figure; 1,000 is
# the default nesting limit of Jackson (StreamReadConstraints), the JSON library of AWS's Java services.
MAX_NESTING_DEPTH = 1000


_CONTAINERS = (dict, list, tuple)


def nesting_depth(value: Any, limit: int = MAX_NESTING_DEPTH) -> int:
    """How many arrays/objects deep `value` goes, counting no further than `limit + 1`: level by level
    (each level one comprehension, so a wide document costs little), without recursion."""
    level = [value] if isinstance(value, _CONTAINERS) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return depth
        level = [child for node in level for child in (node.values() if isinstance(node, dict) else node)
                 if isinstance(child, _CONTAINERS)]
    return depth


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


def check_payload(text: str, state: str) -> None:
    """States.DataLimitExceeded, in AWS's words, when a state's result or output passes 256 KiB."""
    if payload_size(text) > MAX_PAYLOAD_BYTES:
        raise StatesError(
            DATA_LIMIT_EXCEEDED,
            f"The state/task '{state}' returned a result with a size exceeding the maximum number of bytes service "
            "limit.",
        )


def snapshot(value: Any) -> bytes | str:
    """A state's input or output as the history keeps it until read: marshal's bytes (format 2), made in C
    in a fraction of the time JSON text takes, or the text itself for what marshal cannot write. Either
    is a copy (later changes to the value do not reach it) and holds no container the cyclic collector
    would have to visit in every live history."""
    try:
        return marshal.dumps(value, 2)
    except ValueError:  # not marshallable (a handler's own type), or too deep for marshal
        return to_json(value)


def check_snapshot(snap: bytes | str, state: str, value: Any = None) -> None:
    """check_payload for a snapshot, without making its text when it cannot be too long. Marshal format 2
    (no back-references: every occurrence is written out) takes at least one byte for every 6 the JSON
    text can take for the same value (a string's escapes, a number's digits, `false`), so 6 x its length
    bounds the text's UTF-8 length. `value`, when given, is the snapshot's value (saves reading it back)."""
    if type(snap) is str:
        check_payload(snap, state)
    elif 6 * len(snap) > MAX_PAYLOAD_BYTES:
        check_payload(to_json(value if value is not None else marshal.loads(snap)), state)


def snapshot_text(snap: bytes | str) -> str:
    return snap if type(snap) is str else to_json(marshal.loads(snap))


class HistoryLimitExceeded(Exception):
    """The execution reached AWS's 25,000-event history quota."""


# Details given as (name, snapshot) rather than a dict, by details key: the state events of every
# transition, stored as the state's name and its input or output, made into AWS's shape when read.
_COMPACT = {"stateEnteredEventDetails": ("input", "inputDetails"),
            "stateExitedEventDetails": ("output", "outputDetails")}


# Map iteration events' details given as (index, Map state's name).
_ITERATION = frozenset({"mapIterationStartedEventDetails", "mapIterationSucceededEventDetails",
                        "mapIterationFailedEventDetails", "mapIterationAbortedEventDetails"})


# A record's values: type, how far back the previous event is (id - previousEventId: nearly always a small
# int, which Python shares, where the id itself would be one more int object a kept execution holds), time,
# details key, details, path, pair's second value or None. Its id is its place: records are added and built
# in id order.
_FIELDS = 7


class EventList(list):  # type: ignore[type-arg]
    """The events of one execution as AWS-shaped dicts: a list to readers, filled by `owner` on read.

    `Execution.history` reads through `sync()`, which builds the dicts of events recorded since."""

    __slots__ = ("owner",)

    def __init__(self, events: Iterable[dict[str, Any]] = (), owner: History | None = None) -> None:
        super().__init__(events)
        self.owner = owner

    def sync(self) -> EventList:
        owner = self.owner
        if owner is not None and owner._pending:
            owner._materialise(self)
        return self


class History:
    """An append-only event log shared by every branch of one execution."""

    __slots__ = ("_built", "_cap", "_count", "_events", "_lock", "_pending", "_shared", "paths")

    def __init__(self, limit: int | None = MAX_EVENTS) -> None:
        self._events: EventList | None = EventList(owner=self)
        # Recorded, not yet built: each record's _FIELDS values, one after the other. Not a tuple per record:
        # a kept execution's tuples would be made anew, not from the interpreter's free list, and count
        # towards the cyclic collector's next pass, so that runs beside kept executions (a test's, a
        # server's) would pay for collections in proportion to their events.
        self._pending: list[Any] = []
        # Beside each event (built with it), the branch that added it ((Parallel/Map state, index) per
        # level): what a resumed execution replays each branch's recorded events by (engine/redrive.py).
        self.paths: list[tuple[tuple[str, int], ...]] = []
        # Taken by readers that build events, and by writers once branches on threads add them at once
        # (`share`): until then one thread adds, and a lock per event would cost half of what adding does.
        self._lock = threading.Lock()
        self._shared = False
        self._count = 0
        self._built = 0  # events built from records so far: the id of the last one built
        self._cap = limit if limit is not None else math.inf

    @property
    def limit(self) -> int | None:
        """The event quota (None: none; an execution's last event is added past it)."""
        return None if self._cap == math.inf else int(self._cap)

    @limit.setter
    def limit(self, value: int | None) -> None:
        self._cap = value if value is not None else math.inf

    def share(self) -> None:
        """Branches on threads are about to add events at once: take the lock for every event from now on."""
        self._shared = True

    @property
    def events(self) -> EventList:
        """Every event, as AWS-shaped dicts (built now for those recorded since the last read)."""
        if self._events is None:
            raise RuntimeError("the history was detached from its events when its run ended")
        return self._events.sync()

    @events.setter
    def events(self, events: list[dict[str, Any]]) -> None:
        """Go on from `events` (a redrive, a resumed execution): new events are appended to that list
        when it is an EventList, so whoever holds it sees them."""
        events = events.sync() if isinstance(events, EventList) else EventList(events)
        with self._lock:
            events.owner = self
            self._events, self._pending, self._count = events, [], len(events)
            self._built = len(events)

    def add(self, event_type: str, previous: int, timestamp: float, details_key: str | None = None,
            details: Any = None, path: tuple[tuple[str, int], ...] = (), second: Any = None) -> int:
        """Record an event; its id. For the keys in _COMPACT, `details` is the state's name and `second` the
        snapshot of its input or output; for those in _ITERATION, `details` is the iteration's index and
        `second` the Map state's name (either may also come as the pair itself, in `details`); else
        `details` is the details dict, or a function that makes it when the event is read.

        The pair's values are kept in the record, not as a tuple of their own: the cyclic collector would
        count and visit each such tuple a kept execution holds (see _pending)."""
        lock = self._lock if self._shared else None
        if lock is not None:
            lock.acquire()
        try:
            event_id = self._count + 1
            if event_id > self._cap:
                raise HistoryLimitExceeded()
            self._count = event_id
            pending = self._pending
            pending += (event_type, event_id - previous, timestamp, details_key, details, path, second)
        finally:
            if lock is not None:
                lock.release()
        return event_id

    def detach(self) -> None:
        """The run ended: its EventList, which keeps this History for the records it has yet to build, is
        no longer held from here. Else the two would form a reference cycle, and a finished execution's
        records would wait for the cyclic collector (whose passes over them slow every later run down)
        instead of going when the Execution goes."""
        self._events = None

    def _materialise(self, into: EventList) -> None:
        with self._lock:
            # Taken from the front, not swapped for a new list: an unshared writer may be appending now.
            records = self._pending
            count = len(records)
            pending = zip(*[iter(records[:count])] * _FIELDS, strict=True)
            del records[:count]
            append, paths = into.append, self.paths
            texts: dict[int, str] = {}  # a state's output is the next one's input: its text is made once
            event_id = self._built  # ids follow the records' order
            for event_type, back, timestamp, key, details, path, second in pending:
                event_id += 1
                paths.append(path)
                event: dict[str, Any] = {
                    "timestamp": datetime.fromtimestamp(timestamp, tz=UTC),
                    "type": event_type,
                    "id": event_id,
                    "previousEventId": event_id - back,
                }
                if key is not None:
                    if second is None and type(details) is tuple:
                        details, second = details
                    if second is None:
                        if callable(details):
                            details = details()
                    elif key in _ITERATION:
                        details = {"index": details, "name": second}
                    else:
                        text_key, flag_key = _COMPACT[key]
                        text = texts.get(id(second))
                        if text is None:
                            text = texts[id(second)] = snapshot_text(second)
                        details = {"name": details, text_key: text, flag_key: {"truncated": False}}
                    event[key] = details if details is not None else {}
                append(event)
            self._built = event_id

    def __len__(self) -> int:
        return self._count
