"""Task tokens: answerable from the moment a task hands one out (its TaskScheduled event), not only once
its integration starts waiting on it."""

from __future__ import annotations

import threading
import time
from typing import Any

from emulator.engine import tokens
from emulator.integrations.registry import TaskContext


def _context(token: str) -> TaskContext:
    return TaskContext(execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:e", state_name="Ask",
                       task_token=token)


def test_an_answer_for_an_issued_token_waits_for_its_task_to_wait_on_it() -> None:
    answers: list[Any] = []
    registered = threading.Event()

    def task() -> None:
        with tokens.issued("t-1"):
            time.sleep(0.3)  # the integration between TaskScheduled and its wait (sending the message, ...)
            with tokens.waiting("t-1", _context("t-1"), answers.append, lambda error, cause: None):
                registered.set()
                while not answers:
                    time.sleep(0.01)

    worker = threading.Thread(target=task)
    worker.start()
    time.sleep(0.05)
    started = time.monotonic()
    waiter = tokens.find("t-1")  # a client that read the token in TaskScheduled answers at once
    assert waiter is not None and registered.is_set() and time.monotonic() - started >= 0.2
    waiter.succeed({"ok": True})
    worker.join(5)
    assert answers == [{"ok": True}] and tokens.spent("t-1")


def test_unknown_and_retired_tokens_are_answered_at_once() -> None:
    started = time.monotonic()
    assert tokens.find("never-issued") is None
    with tokens.issued("t-2"):
        pass  # the task ended (failed) before it waited on its token
    assert tokens.find("t-2") is None
    assert time.monotonic() - started < 0.5
