"""Work the data services do in the background (crawls, EMR steps, Glue runs, Athena queries).

It runs on real threads and takes real time, while Wait states run on the virtual clock: a
polling loop (Wait 30 s → describe → Choice) would spin thousands of times through virtual
hours before a real 4-second Spark step ended. So a virtual wait first lets real time pass
until some of its own execution's background work finishes (at most the wait's length), then
jumps. Work is owned by the execution whose Task started it. Threads are not daemons: an
interpreter exiting under a thread inside pyarrow, DuckDB or the JVM aborts the process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

_changed = threading.Condition()
_running: dict[object, int] = {}
_cleanups: dict[object, list[Callable[[], None]]] = {}
_local = threading.local()
_work: dict[threading.Thread, float] = {}  # running work and when it started (monotonic), for progress displays


class owned_by:
    """Background work spawned inside this block belongs to `owner` (an execution). A class rather than a
    generator: it is entered around every Task."""

    __slots__ = ("owner", "previous")

    def __init__(self, owner: object) -> None:
        self.owner = owner

    def __enter__(self) -> None:
        self.previous = getattr(_local, "owner", None)
        _local.owner = self.owner

    def __exit__(self, *exc_info: object) -> None:
        _local.owner = self.previous


def spawn(target: Callable[..., Any], *args: Any, name: str) -> threading.Thread:
    """Start `target(*args)` on a thread, counted as its owner's background work until it returns."""
    owner = getattr(_local, "owner", None)

    def run() -> None:
        _local.owner = owner  # work it starts in turn belongs to the same execution
        with _changed:
            _work[threading.current_thread()] = time.monotonic()
        try:
            target(*args)
        finally:
            with _changed:
                _running[owner] -= 1
                _work.pop(threading.current_thread(), None)
                _changed.notify_all()

    with _changed:
        _running[owner] = _running.get(owner, 0) + 1
    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def activity() -> list[tuple[str, float]]:
    """The background work running in this process: (thread name, seconds since it started), oldest first."""
    now = time.monotonic()
    with _changed:
        return [(thread.name, now - began) for thread, began in sorted(_work.items(), key=lambda item: item[1])]


def settle(owner: object, timeout: float) -> None:
    """Let up to `timeout` real seconds pass while `owner` has background work, until a piece ends."""
    if not _running.get(owner):  # the common case, without the lock: nothing of its own in flight
        return
    with _changed:
        if _running.get(owner):
            _changed.wait(timeout)


def on_failure(cleanup: Callable[[], None]) -> None:
    """Run `cleanup` if the current owner (execution) ends without succeeding: an EMR cluster it
    created must not keep a Spark JVM alive after a failed or stopped execution."""
    owner = getattr(_local, "owner", None)
    if owner is not None:
        with _changed:
            _cleanups.setdefault(owner, []).append(cleanup)


def finished(owner: object, succeeded: bool) -> None:
    """The owner ended: forget its cleanups, running them first when it did not succeed."""
    if owner not in _cleanups and owner not in _running:  # it started no background work
        return
    with _changed:
        cleanups = _cleanups.pop(owner, [])
        if not _running.get(owner):
            _running.pop(owner, None)
    if not succeeded:
        for cleanup in cleanups:
            cleanup()
