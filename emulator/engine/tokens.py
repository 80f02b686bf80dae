"""Task tokens that can be answered from outside an execution, and activity tasks waiting for a worker.

A task waiting on a token (`.waitForTaskToken`, or an activity) registers here for as long as it
waits, so SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat (the server's Step Functions
front) can tell a live token from a spent or unknown one, and reach the waiting task.

Activities (`arn:aws:states:<region>:<account>:activity:<name>` as a Task Resource) exist once
created (`ACTIVITIES.create`); a Task using one queues an activity task for GetActivityTask and
waits for its token to be answered, bounded by TimeoutSeconds / HeartbeatSeconds and
StopExecution as on AWS.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from emulator.asl.values import to_json
from emulator.errors import StatesError
from emulator.integrations.registry import Handler, Registry, Resource, TaskContext, TaskRequest, register

# How often a waiting activity task looks for its answer, in real seconds.
_POLL_SECONDS = 0.02
# Spent tokens remembered, so answering one late is "timed out" rather than "invalid".
_SPENT_KEPT = 10_000

Answer = dict[str, Any]  # {"status": "SUCCEEDED", "output": value} or {"status": "FAILED", "error", "cause"}


@dataclass
class Waiter:
    """A task waiting on its token: how to answer it, and its context (for heartbeats)."""

    token: str
    context: TaskContext
    succeed: Callable[[Any], None]
    fail: Callable[[str | None, str | None], None]

    def heartbeat(self) -> None:
        self.context.heartbeat()


_lock = threading.Lock()
_waiting: dict[str, Waiter] = {}
_spent: OrderedDict[str, None] = OrderedDict()
# Tokens a task holds but does not wait on yet: it recorded TaskScheduled (a client may have read the token
# there) and its integration is on its way to `waiting`. An answer for one waits for that, briefly.
_issued: set[str] = set()
_changed = threading.Condition(_lock)
# How long an answer waits for an issued token's task to start waiting on it, in real seconds. The wait ends
# as soon as the task waits or gives the token up (it failed first); only a task that takes this long between
# the two (its integration's first call loads botocore's service model, slow on a busy machine: 5 s was seen
# to pass) sees InvalidToken for a token AWS would take.
ISSUED_WAIT_SECONDS = 30.0


@contextmanager
def issued(token: str) -> Iterator[None]:
    """`token` is the running task's from its TaskScheduled event on, until the task ends."""
    with _lock:
        _issued.add(token)
    try:
        yield
    finally:
        with _lock:
            _issued.discard(token)
            _changed.notify_all()


@contextmanager
def waiting(token: str, context: TaskContext, succeed: Callable[[Any], None],
            fail: Callable[[str | None, str | None], None]) -> Iterator[Waiter]:
    """Make `token` answerable while the block runs; the outermost registration of a token owns it."""
    with _lock:
        existing = _waiting.get(token)
        waiter = existing or Waiter(token, context, succeed, fail)
        _waiting[token] = waiter
        _changed.notify_all()
    try:
        yield waiter
    finally:
        if existing is None:
            with _lock:
                _waiting.pop(token, None)
                _spent[token] = None
                while len(_spent) > _SPENT_KEPT:
                    _spent.popitem(last=False)


def find(token: str) -> Waiter | None:
    """The task waiting on `token`, or None. A token whose task is between its TaskScheduled event and its
    wait is waited for (at most ISSUED_WAIT_SECONDS): on AWS a token is answerable once it was handed out."""
    with _lock:
        _changed.wait_for(lambda: token in _waiting or token not in _issued, ISSUED_WAIT_SECONDS)
        return _waiting.get(token)


def spent(token: str) -> bool:
    """True when `token` belonged to a task that no longer waits (answered, timed out, stopped)."""
    with _lock:
        return token in _spent


def await_answer(answers: queue.SimpleQueue[Answer], context: TaskContext, real_clock: bool) -> Any:
    """Block until an answer arrives; it becomes the task's result, or its error."""
    while True:
        try:
            with context.idle():
                answer = answers.get(timeout=_POLL_SECONDS)
            break
        except queue.Empty:
            # Real clock: the sleep honours StopExecution and the task's timeouts. Virtual clock:
            # time already ran with the wall clock; only let the execution check its limits.
            context.sleep(_POLL_SECONDS if real_clock else 1e-9)
    if answer["status"] == "FAILED":
        raise StatesError(answer.get("error"), answer.get("cause"))
    return answer.get("output")


@dataclass(frozen=True)
class ActivityTask:
    token: str
    input: str


class Activities:
    """Created activities and their queues of tasks waiting for a worker (process-wide)."""

    def __init__(self) -> None:
        self._queues: dict[str, queue.Queue[ActivityTask]] = {}
        self._lock = threading.Lock()

    def create(self, arn: str) -> None:
        with self._lock:
            self._queues.setdefault(arn, queue.Queue())

    def delete(self, arn: str) -> None:
        with self._lock:
            self._queues.pop(arn, None)

    def exists(self, arn: str) -> bool:
        with self._lock:
            return arn in self._queues

    def put(self, arn: str, task: ActivityTask) -> bool:
        with self._lock:
            tasks = self._queues.get(arn)
        if tasks is None:
            return False
        tasks.put(task)
        return True

    def take(self, arn: str, timeout: float) -> ActivityTask | None:
        """GetActivityTask: the oldest task still waiting, or None after `timeout` seconds."""
        with self._lock:
            tasks = self._queues.get(arn)
        if tasks is None:
            return None
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                task = tasks.get(timeout=left)
            except queue.Empty:
                return None
            if find(task.token) is not None:  # its execution may have stopped or timed out meanwhile
                return task
        return None


ACTIVITIES = Activities()


def _activity_factory(resource: Resource, registry: Registry) -> Handler | None:
    if not ACTIVITIES.exists(resource.arn):
        return None  # the registry reports "The activity ... does not exist."
    real_clock = registry.run_options.get("clock") == "real"

    def handle(request: TaskRequest) -> Any:
        token = uuid.uuid4().hex + uuid.uuid4().hex
        context = replace(request.context, task_token=token)
        answers: queue.SimpleQueue[Answer] = queue.SimpleQueue()
        with waiting(token, context, lambda output: answers.put({"status": "SUCCEEDED", "output": output}),
                     lambda error, cause: answers.put({"status": "FAILED", "error": error, "cause": cause})):
            if not ACTIVITIES.put(resource.arn, ActivityTask(token, to_json(request.payload))):
                raise StatesError("States.Runtime", f"The activity {resource.arn} does not exist.")
            return await_answer(answers, context, real_clock)

    return handle


register("activity", _activity_factory)
