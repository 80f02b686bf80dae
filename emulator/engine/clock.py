"""Time for an execution: virtual by default, real on request.

Each branch of control (the execution, a Parallel branch, a Map iteration) has its own clock
forked from its parent's, so two branches waiting an hour side by side take one virtual hour,
as they would on AWS. Virtual time runs with the wall clock and jumps forward at every wait.

Branches that run at once share one Timeline: a virtual wait ends only when every other branch
is waiting too and no wait ends sooner, so what happens in virtual time happens in that order
(a branch failing at 0 s stops a sibling waiting until 100 s before it runs another state).
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from emulator import background
from emulator.errors import RUNTIME, StatesError

# The latest instant a clock may reach: a day short of datetime's (and ISO-8601's four-digit) year
# 9999, so wall-clock time passing after a jump still stays inside the range history timestamps need.
LATEST = datetime(9999, 12, 31, tzinfo=UTC).timestamp() - 86_400


class Cancelled(Exception):
    """The branch was stopped: a sibling failed, or the execution was aborted or timed out."""


# Guards the lazy creation of CancelToken events and Timeline conditions (rare: only when a
# branch really waits, or the execution fans out to threads).
_CREATE = threading.Lock()


class CancelToken:
    """A stop flag that is also set when any ancestor's is (a failed Map stops its iterations).

    The flag is a plain attribute; a threading.Event (costly to make, and most tokens are never
    waited on) is made only when a real-time wait needs one."""

    __slots__ = ("_event", "_set", "parent")

    def __init__(self, parent: CancelToken | None = None) -> None:
        self._set = False
        self._event: threading.Event | None = None
        self.parent = parent

    def cancel(self) -> None:
        self._set = True
        event = self._event
        if event is not None:
            event.set()

    @property
    def cancelled(self) -> bool:
        token: CancelToken | None = self
        while token is not None:
            if token._set:
                return True
            token = token.parent
        return False

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` of real time; True when cancelled meanwhile."""
        if self._event is None:
            with _CREATE:
                if self._event is None:
                    self._event = threading.Event()
        if self._set:  # cancelled before the event existed: cancel() found none to set
            self._event.set()
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return self.cancelled
            if self._event.wait(min(left, 0.05)) or self.cancelled:
                return True


class Timeline:
    """The order of virtual waits among one execution's branches that run at once on threads.

    `running` counts the branches doing work (not waiting, not blocked on something outside the
    execution); a virtual wait may end only when it is 0 and no other wait ends sooner.
    """

    __slots__ = ("_condition", "_order", "_waits", "running")

    def __init__(self) -> None:
        self._condition: threading.Condition | None = None
        self._waits: list[tuple[float, int]] = []
        self._order = itertools.count()
        self.running = 1

    @property
    def _changed(self) -> threading.Condition:
        # Made on first use: most executions never run two branches at once.
        if self._condition is None:
            with _CREATE:
                if self._condition is None:
                    self._condition = threading.Condition()
        return self._condition

    def spawn(self, count: int) -> None:
        """`count` more branches start running (counted before they start, so no wait ends early)."""
        with self._changed:
            self.running += count

    def exit(self) -> None:
        """A running branch ended."""
        with self._changed:
            self.running -= 1
            self._changed.notify_all()

    @contextmanager
    def idle(self) -> Iterator[None]:
        """The calling branch waits on something outside virtual time (its sub-branches, a task token)."""
        self.exit()
        try:
            yield
        finally:
            self.spawn(1)

    def wait_until(self, wake: float, cancel: CancelToken | None) -> bool:
        """Block until this is the earliest wait and nothing else runs; True when cancelled meanwhile."""
        if self.running == 1 and not self._waits and self._condition is None:
            # Never fanned out: the calling branch is the only one, nothing can happen before it.
            return cancel is not None and cancel.cancelled
        with self._changed:
            if self.running == 1 and not self._waits:  # alone: nothing can happen before it
                return cancel is not None and cancel.cancelled
            entry = (wake, next(self._order))
            heapq.heappush(self._waits, entry)
            self.running -= 1
            self._changed.notify_all()
            try:
                while True:
                    if cancel is not None and cancel.cancelled:
                        return True
                    if self.running == 0 and self._waits[0] == entry:
                        return False
                    # A sibling's failure cancels without notifying: look again now and then.
                    self._changed.wait(0.05 if cancel is not None else None)
            finally:
                self._waits.remove(entry)
                heapq.heapify(self._waits)
                self.running += 1
                self._changed.notify_all()


class Clock:
    """Seconds since the epoch for one branch; `sleep` waits for real or jumps virtually."""

    __slots__ = ("_origin", "_start", "owner", "real", "timeline")

    def __init__(self, real: bool = False, start: float | None = None, owner: object = None) -> None:
        self.real = real
        self.owner = owner  # the execution, whose background work a virtual wait gives real time to
        # now() = monotonic time + _origin, where _origin folds in the start (wall clock) and the virtual
        # time jumped so far: it is read several times per state.
        self._start = (time.time() if start is None else start) - time.monotonic()
        self._origin = self._start
        self.timeline = Timeline()  # shared with every clock forked from this one

    @property
    def offset(self) -> float:
        """Virtual seconds jumped so far (0 on a real clock)."""
        return self._origin - self._start

    @offset.setter
    def offset(self, value: float) -> None:
        self._origin = self._start + value

    def now(self) -> float:
        return time.monotonic() + self._origin

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), tz=UTC)

    def sleep(self, seconds: float, cancel: CancelToken | None = None) -> None:
        """Spend `seconds`; States.Runtime when that would move the clock past year 9999 (or is not finite)."""
        if seconds <= 0:  # NaN is not <= 0: it is refused below
            return
        if not seconds <= LATEST - self.now():
            raise StatesError(RUNTIME, f"Waiting {seconds:g} seconds would move the execution's clock past the "
                                       f"latest supported date, {iso8601(LATEST)}.")
        if not self.real:
            background.settle(self.owner, seconds)  # its real work in flight (a Spark step) gets time first
            if self.timeline.wait_until(self.now() + seconds, cancel):
                raise Cancelled()
            self._origin += seconds
            return
        if cancel is None:
            time.sleep(seconds)
        elif cancel.wait(seconds):
            raise Cancelled()

    def fork(self) -> Clock:
        child = Clock.__new__(Clock)
        child.real, child._start, child._origin = self.real, self._start, self._origin
        child.owner, child.timeline = self.owner, self.timeline
        return child

    def join(self, children: list[Clock]) -> None:
        """After a fan-out, this branch is as late as its latest child."""
        if children:
            self._origin = max(self._origin, *(c._origin for c in children))


def backoff_delay(interval: float, rate: float, retries: int, max_delay: float | None) -> float:
    """A retrier's delay before retry `retries + 1`: IntervalSeconds * BackoffRate^retries, at most
    MaxDelaySeconds. Computed in log space, so a huge rate or count caps instead of overflowing; with no
    MaxDelaySeconds it is capped at the clock's whole range (sleeping that long is then States.Runtime)."""
    cap = LATEST if max_delay is None else min(float(max_delay), LATEST)
    if interval <= 0:
        return 0.0
    if rate > 1 and math.log(interval) + retries * math.log(rate) >= math.log(cap):
        return cap
    return min(interval * rate**retries, cap)


def iso8601(epoch: float) -> str:
    """AWS's timestamp format in the context object: millisecond precision, 'Z'."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
