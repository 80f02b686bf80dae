"""`sfn-local debug` driven through a pseudo-terminal, as a user types at it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest

ROOT = Path(__file__).resolve().parent.parent
PROMPT = r"\(sfn\) "

# A Map whose Transform handler (tests/debug_handlers.py) fails for the item without a value.
PIPELINE = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Assign": {"batch": "b1"}, "Next": "Items"},
        "Items": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "StartAt": "Transform",
                "States": {
                    "Transform": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:transform",
                                  "Next": "Format"},
                    "Format": {"Type": "Pass", "Parameters": {"id.$": "$.id", "out.$": "$.doubled", "batch.$": "$batch"},
                               "End": True},
                },
            },
            "Next": "Done",
        },
        "Done": {"Type": "Pass", "End": True},
    },
}
ITEMS = {"items": [{"id": 1, "value": 1}, {"id": 2, "value": 2}, {"id": 3}, {"id": 4, "value": 4}]}


def _spawn(tmp_path: Path, *args: str, input: Any = ITEMS,
           handler: str = "tests.debug_handlers:transform") -> pexpect.spawn:
    definition = tmp_path / "pipeline.asl.json"
    definition.write_text(json.dumps(PIPELINE, indent=2))
    # PYTHONPATH: handler modules a test writes; no bytecode, so a rewritten module reloads from its source.
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb", "SFN_LOCAL_WORKSPACE": str(tmp_path / "ws"),
           "PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    child = pexpect.spawn(
        sys.executable,
        ["-c", "from emulator.debugger.terminal import debug_command; debug_command()", str(definition),
         "--input", json.dumps(input), "--handler", f"transform={handler}", *args],
        cwd=str(ROOT), env=env, encoding="utf-8", timeout=30, dimensions=(200, 200),
    )
    return child


def _command(child: pexpect.spawn, line: str, *expected: str) -> None:
    child.expect(PROMPT)
    child.sendline(line)
    for text in expected:
        child.expect_exact(text)


def test_break_in_a_map_iteration_edit_the_input_and_retry_to_success(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    child.expect_exact("Stopped (entry) at execution → Prepare")
    _command(child, "break Transform if $.id == 3", "Breakpoint at Transform if $.id == 3")
    _command(child, "continue", "Stopped (breakpoint) at execution → Items[2] → Transform")
    _command(child, "where", "Items iteration 2", "→ Transform (Task, about to run)")
    _command(child, "print $batch", '"b1"')  # the outer variable, seen from the iteration
    _command(child, "step", "Error in execution → Items[2] → Transform: ValueError:", "item 3 has no value")
    _command(child, "stages", "input", "afterInputPath", "afterParameters")
    _command(child, 'edit input {"id": 3, "value": 30}', "Transform runs with the new input on retry")
    _command(child, "retry", "Running Transform again", "Stopped (step) at execution → Items[2] → Format",
             '"doubled": 60')
    _command(child, "output", "output of Transform", '"doubled": 60')
    _command(child, "continue", "Execution SUCCEEDED", '"out": 60')
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_without_a_fix_the_error_ends_the_execution_failed(tmp_path: Path) -> None:
    child = _spawn(tmp_path, "--no-stop-on-entry")
    child.expect_exact("Error in execution → Items[2] → Transform: ValueError:")
    _command(child, "history", "TaskStateEntered  Transform", "LambdaFunctionFailed")
    _command(child, "continue", "Execution FAILED: ValueError")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1


def test_mock_a_task_and_go_back_to_an_earlier_state(tmp_path: Path) -> None:
    child = _spawn(tmp_path, "--no-stop-on-entry", "--break", "Transform if $states.input.id = 3",
                   "--break", "Done")
    child.expect_exact("Stopped (breakpoint) at execution → Items[2] → Transform")
    _command(child, 'mock {"id": 3, "doubled": 99}', "returns the mocked result")
    _command(child, "next", "Stopped (step) at execution → Items[2] → Format", '"doubled": 99')
    _command(child, "back 1", "Back to Transform", "Stopped (step) at execution → Items[2] → Transform")
    _command(child, "edit var batch \"b2\"", "$batch set")
    _command(child, 'edit input {"id": 3, "value": 5}', "runs with the new input when it runs")
    _command(child, "next", "Stopped (step) at execution → Items[2] → Format", '"doubled": 10')
    _command(child, "continue", "Stopped (breakpoint) at execution → Done")
    _command(child, "print --full $[2]", '"out": 10', '"batch": "b2"')
    _command(child, "print $[0].batch", '"b1"')
    _command(child, "continue", "Execution SUCCEEDED")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_retry_reloads_a_fixed_handler_module(tmp_path: Path) -> None:
    module = tmp_path / "fixable_handlers.py"
    # Only item 1 fails: iterations run on threads, so with several failing the first stop could be any of them.
    module.write_text("def transform(event):\n    if event['id'] == 1:\n        raise KeyError('value')\n"
                      "    return {'id': event['id'], 'doubled': 0}\n")
    child = _spawn(tmp_path, "--no-stop-on-entry", handler="fixable_handlers:transform")
    child.expect_exact("Error in execution → Items[0] → Transform: KeyError:")
    module.write_text("def transform(event):\n    return {'id': event['id'], 'doubled': -1}\n")
    _command(child, "retry --reload", "Reloaded fixable_handlers", "Running Transform again",
             "Stopped (step) at execution → Items[0] → Format", '"doubled": -1')
    _command(child, "continue", "Execution SUCCEEDED", '"out": -1')
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.parametrize("command, message", [
    ("break Nope", "no state named 'Nope'"),
    ("edit input {bad", "not JSON"),
    ("mock {}", "only a Task can be mocked"),
    ("print $.missing", "States.Runtime"),
    ("frobnicate", "unknown command 'frobnicate'"),
])
def test_bad_commands_say_why_and_keep_the_session(tmp_path: Path, command: str, message: str) -> None:
    child = _spawn(tmp_path)
    child.expect_exact("Stopped (entry) at execution → Prepare")
    _command(child, command, message)
    _command(child, "quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1


# -- the session (the engine-facing half both fronts share), driven directly ----------------------------
def _walk(definition: dict[str, Any], modes: list[str], **options: Any) -> list[tuple[Any, ...]]:
    """Stop on entry, resume with each mode in turn; the (path, state, reason) of every stop."""
    from emulator import StateMachine
    from emulator.debugger.session import Finished, Session

    session = Session(StateMachine(definition), {}, **options)
    session.start()
    stops: list[tuple[Any, ...]] = []
    pending = list(modes)
    while not isinstance(event := session.next_event(timeout=30), Finished):
        stops.append((event.path, event.name, event.reason))
        session.resume(pending.pop(0) if pending else "continue")
    stops.append(("end", event.execution.status))
    return stops


NESTED = {"StartAt": "P", "States": {
    "P": {"Type": "Parallel", "Next": "After", "Branches": [
        {"StartAt": "A1", "States": {"A1": {"Type": "Pass", "Next": "A2"}, "A2": {"Type": "Pass", "End": True}}},
        {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": True}}},
    ]},
    "After": {"Type": "Pass", "End": True},
}}


def test_step_goes_into_parallel_branches_in_turn() -> None:
    assert _walk(NESTED, ["step", "step", "step", "step"]) == [
        ((), "P", "entry"),
        ((("P", 0),), "A1", "step"),
        ((("P", 0),), "A2", "step"),
        ((("P", 1),), "B1", "step"),
        ((), "After", "step"),
        ("end", "SUCCEEDED"),
    ]


def test_next_steps_over_branches_and_out_leaves_one() -> None:
    assert _walk(NESTED, ["next", "continue"]) == [((), "P", "entry"), ((), "After", "step"), ("end", "SUCCEEDED")]
    assert _walk(NESTED, ["step", "out"]) == [
        ((), "P", "entry"), ((("P", 0),), "A1", "step"), ((), "After", "step"), ("end", "SUCCEEDED"),
    ]


def test_the_virtual_clock_stands_still_while_stopped() -> None:
    import time

    from emulator import StateMachine
    from emulator.debugger.session import Session

    session = Session(StateMachine(NESTED), {})
    execution = session.start()
    session.next_event(timeout=30)
    time.sleep(1.0)
    session.resume("continue")
    execution.wait(30)
    history = execution.history
    assert execution.status == "SUCCEEDED"
    assert (history[-1]["timestamp"] - history[0]["timestamp"]).total_seconds() < 0.5
