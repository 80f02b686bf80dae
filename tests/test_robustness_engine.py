"""Every failure inside an execution is an AWS-named error: arithmetic on the clock and retry back-off,
deep nesting of states and data, nested executions that cannot start, and JSONata on worker threads."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emulator
from emulator.engine.clock import LATEST, Clock, backoff_delay
from emulator.engine.execution import StateMachine
from emulator.engine.history import MAX_NESTING_DEPTH, nesting_depth
from emulator.errors import InvalidExecutionInput, StatesError
from emulator.integrations import stepfunctions
from emulator.workspace import Workspace
from tests.conftest import chain

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:"
QUICK = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _run(definition: dict[str, Any], data: Any = None, **options: Any) -> emulator.Execution:
    """Run and check the invariants every execution keeps, whatever went wrong inside it."""
    ex = emulator.run(definition, {} if data is None else data, **options)
    assert ex.status in ("SUCCEEDED", "FAILED", "TIMED_OUT")
    if ex.status == "FAILED":
        assert ex.error and (ex.error.startswith("States.") or "." in ex.error), ex.error
    assert all(isinstance(e["timestamp"], datetime) for e in ex.history)
    return ex


# ---------------------------------------------------------------------------------------------
# 1. Arithmetic: back-off and the clock

@given(interval=st.integers(1, 99_999_999), rate=st.floats(1.0, 1e308), retries=st.integers(0, 99_999_999),
       max_delay=st.none() | st.integers(1, 31_622_400))
def test_backoff_delay_is_finite_capped_and_exact_while_small(interval: int, rate: float, retries: int,
                                                              max_delay: int | None) -> None:
    delay = backoff_delay(interval, rate, retries, max_delay)
    cap = LATEST if max_delay is None else max_delay
    assert math.isfinite(delay) and 0 <= delay <= cap
    exact = math.log(interval) + retries * math.log(rate)
    if exact < math.log(cap) - 1e-9:
        assert delay == interval * rate**retries
    elif exact > math.log(cap) + 1e-9:
        assert delay == cap


def _retrying(retrier: dict[str, Any]) -> dict[str, Any]:
    return chain(("Flaky", {"Type": "Task", "Resource": FUNCTION + "flaky",
                            "Retry": [{"ErrorEquals": ["Flaky.Error"], **retrier}]}))


def _flaky(failures: int) -> Any:
    calls = [0]

    def handler(event: Any) -> Any:
        calls[0] += 1
        if calls[0] <= failures:
            raise StatesError("Flaky.Error", f"failure {calls[0]}")
        return {"calls": calls[0]}

    return handler


@QUICK
@given(interval=st.integers(1, 99_999_999), rate=st.sampled_from([1.0, 2.0, 1e10, 1e300, 1.7976931348623157e308]),
       attempts=st.integers(1, 40), failures=st.integers(0, 40), max_delay=st.none() | st.integers(1, 31_622_400),
       jitter=st.booleans(), seed=st.integers(0, 2**32))
def test_retry_back_off_never_overflows(interval: int, rate: float, attempts: int, failures: int,
                                        max_delay: int | None, jitter: bool, seed: int) -> None:
    retrier: dict[str, Any] = {"IntervalSeconds": interval, "BackoffRate": rate, "MaxAttempts": attempts}
    if max_delay is not None:
        retrier["MaxDelaySeconds"] = max_delay
    if jitter:
        retrier["JitterStrategy"] = "FULL"
    ex = _run(_retrying(retrier), resources={"flaky": _flaky(failures)}, seed=seed)
    if ex.status == "SUCCEEDED":
        assert ex.output == {"calls": failures + 1}
    elif failures > attempts:
        assert ex.error in ("Flaky.Error", "States.Runtime")
    else:
        # Only the clock's range stops retries the quota allows: the state is named.
        assert ex.error == "States.Runtime" and "'Flaky'" in ex.cause


def test_retry_with_max_delay_caps_each_wait_exactly() -> None:
    ex = _run(_retrying({"IntervalSeconds": 99_999_999, "BackoffRate": 1e308, "MaxAttempts": 3,
                         "MaxDelaySeconds": 31_622_400}), resources={"flaky": _flaky(3)})
    assert ex.status == "SUCCEEDED"
    assert (ex.stop_date - ex.start_date).total_seconds() >= 3 * 31_622_400


def test_retry_without_max_delay_past_year_9999_is_states_runtime() -> None:
    ex = _run(_retrying({"IntervalSeconds": 99_999_999, "BackoffRate": 1e308, "MaxAttempts": 5}),
              resources={"flaky": _flaky(5)})
    assert ex.error == "States.Runtime"
    assert "'Flaky'" in ex.cause and "9999-" in ex.cause


_EXTREME_SECONDS = st.sampled_from([0, 1, 2**31 - 1, 2**31, 10**18, 10**400, -1, 1.5, 1e308, -1e308])
_EXTREME_TIMES = st.sampled_from([
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "1970-01-01T00:00:00Z", "2090-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z", "9999-12-31T23:59:59.999999999-14:00", "10000-01-01T00:00:00Z", "not a date",
])


@QUICK
@given(how=st.sampled_from(["Seconds", "SecondsPath", "Timestamp", "TimestampPath", "JSONataSeconds",
                            "JSONataTimestamp"]), seconds=_EXTREME_SECONDS, when=_EXTREME_TIMES)
def test_waits_at_the_limits_end_in_aws_errors(how: str, seconds: Any, when: str) -> None:
    top: dict[str, Any] = {}
    wait: dict[str, Any] = {"Type": "Wait"}
    if how == "Seconds" and isinstance(seconds, int) and 0 <= seconds <= 99_999_999:
        wait["Seconds"] = seconds
    elif how == "Timestamp" and emulator.validate(chain(("W", {"Type": "Wait", "Timestamp": when}))) == []:
        wait["Timestamp"] = when
    elif how in ("Seconds", "SecondsPath"):
        wait["SecondsPath"] = "$.v"
    elif how in ("Timestamp", "TimestampPath"):
        wait["TimestampPath"] = "$.t"
    else:
        top["QueryLanguage"] = "JSONata"
        wait["Seconds" if how == "JSONataSeconds" else "Timestamp"] = (
            "{% $states.input.v %}" if how == "JSONataSeconds" else "{% $states.input.t %}")
    data = {"v": seconds, "t": when} if not (isinstance(seconds, int) and abs(seconds) > 10**300) else {"t": when}
    ex = _run(chain(("W", wait), **top), data)
    assert ex.error in (None, "States.Runtime", "States.QueryEvaluationError"), (ex.error, ex.cause)
    if ex.status == "SUCCEEDED":
        assert ex.stop_date.year <= 9999


def test_waiting_past_year_9999_fails_naming_the_wait() -> None:
    definition = {"StartAt": "Long", "States": {
        "Long": {"Type": "Wait", "Seconds": 99_999_999, "Next": "Again"},
        "Again": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Done"}],
                  "Default": "Long"},
        "Done": {"Type": "Succeed"}}}
    ex = _run(definition)
    assert ex.error == "States.Runtime"
    assert "'Long'" in ex.cause and "latest supported date" in ex.cause
    assert ex.stop_date.year == 9999


@given(seconds=st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**30), 10**30))
def test_clock_never_leaves_the_datetime_range(seconds: float) -> None:
    clock = Clock()
    try:
        clock.sleep(seconds)
    except StatesError as err:
        assert err.error == "States.Runtime"
        assert not seconds <= LATEST - clock.now()
    clock.datetime()  # always representable
    assert clock.now() <= LATEST


# ---------------------------------------------------------------------------------------------
# 2. Deep nesting of states and data

def _nested(depth: int, kind: str, innermost: dict[str, Any] | None = None) -> dict[str, Any]:
    machine = {"StartAt": "Leaf", "States": {"Leaf": innermost or {"Type": "Pass", "End": True}}}
    for level in range(depth):
        if kind == "Parallel":
            state = {"Type": "Parallel", "Branches": [machine], "OutputPath": "$[0]", "End": True}
        else:
            state = {"Type": "Map", "ItemsPath": "$.a", "ItemSelector": {"a.$": "$.a"}, "OutputPath": "$[0]",
                     "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, **machine}, "End": True}
        machine = {"StartAt": f"{kind}{level}", "States": {f"{kind}{level}": state}}
    return machine


@settings(max_examples=8, deadline=None)
@given(depth=st.integers(1, 200), kind=st.sampled_from(["Parallel", "Map"]))
def test_parallel_and_map_nested_200_deep_run(depth: int, kind: str) -> None:
    ex = _run(_nested(depth, kind), {"a": [1]})
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output == {"a": [1]}


def test_200_levels_with_a_task_run_on_threads() -> None:
    task = {"Type": "Task", "Resource": FUNCTION + "echo", "End": True}
    ex = _run(_nested(200, "Parallel", task), {"a": [1]}, resources={"echo": lambda event: event})
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output == {"a": [1]}


@pytest.mark.parametrize("kind", ["Parallel", "Map"])
def test_nesting_past_the_engine_limit_is_an_aws_error(kind: str) -> None:
    try:
        ex = emulator.run(_nested(3000, kind), {"a": [1]})
    except emulator.DefinitionError as exc:
        assert "too deeply" in str(exc)
    else:
        assert ex.error == "States.Runtime" and "too deeply" in ex.cause


def _deep(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@settings(max_examples=15, deadline=None)
@given(depth=st.integers(0, MAX_NESTING_DEPTH + 50))
def test_input_nesting_is_measured_and_limited_at_start_execution(depth: int) -> None:
    value = _deep(depth)
    assert nesting_depth(value) == min(depth, MAX_NESTING_DEPTH + 1)  # it stops counting past the limit
    machine = StateMachine(chain(("P", {"Type": "Pass"})))
    if depth <= MAX_NESTING_DEPTH:
        assert machine.run(value).output == value
    else:
        with pytest.raises(InvalidExecutionInput, match="more than 1000 levels") as raised:
            machine.run(value)
        assert raised.value.code == "InvalidExecutionInput"


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_very_deep_input_is_refused_before_the_execution_starts(depth: int) -> None:
    with pytest.raises(InvalidExecutionInput, match="nest more than"):
        emulator.start(chain(("P", {"Type": "Pass"})), _deep(depth))


def test_input_over_256_kib_is_refused_at_start_execution() -> None:
    with pytest.raises(InvalidExecutionInput, match="262144") as raised:
        emulator.run(chain(("P", {"Type": "Pass"})), {"x": "x" * (256 * 1024)})
    assert raised.value.code == "ValidationException"


# ---------------------------------------------------------------------------------------------
# 3. Nested executions that cannot start

_INVALID_CHILDREN = st.sampled_from([
    {"States": {"A": {"Type": "Pass", "End": True}}},
    {"StartAt": "Missing", "States": {"A": {"Type": "Pass", "End": True}}},
    {"StartAt": "A", "States": {"A": {"Type": "Teleport", "End": True}}},
    {"StartAt": "A", "States": {"A": {"Type": "Pass"}}},
    {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": -1, "End": True}}},
    {"StartAt": "A", "States": {"A": {"Type": "Task", "End": True}}},
])


def _parent(pattern: str, machine: str) -> dict[str, Any]:
    return {"StartAt": "Start", "States": {
        "Start": {"Type": "Task", "Resource": f"arn:aws:states:::states:startExecution{pattern}",
                  "Parameters": {"StateMachineArn": MACHINE + machine, "Input": {"n": 1}},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}


@QUICK
@given(pattern=st.sampled_from(["", ".sync", ".sync:2"]), child=_INVALID_CHILDREN)
def test_invalid_child_definition_is_a_catchable_invalid_definition(tmp_path_factory: pytest.TempPathFactory,
                                                                     pattern: str, child: dict[str, Any]) -> None:
    problems = emulator.validate(child)
    assert problems
    ws = Workspace(root=tmp_path_factory.mktemp("ws"), project=tmp_path_factory.mktemp("project"))
    ex = _run(_parent(pattern, "Broken"), workspace=ws, state_machines={"Broken": child})
    assert ex.status == "SUCCEEDED"  # the parent's Catch ran
    assert ex.output["Error"] == "StepFunctions.InvalidDefinitionException"
    assert problems[0].message in ex.output["Cause"]


@pytest.mark.parametrize("pattern", ["", ".sync", ".sync:2"])
def test_child_definition_file_that_is_not_json_or_missing(tmp_path: Path, pattern: str) -> None:
    (tmp_path / "definitions").mkdir()
    (tmp_path / "definitions" / "Garbled.asl.json").write_text("{not json", encoding="utf-8")
    ws = Workspace(root=tmp_path / "ws", project=tmp_path)
    ex = _run(_parent(pattern, "Garbled"), workspace=ws)
    assert ex.output["Error"] == "StepFunctions.InvalidDefinitionException"
    assert "not valid JSON" in ex.output["Cause"]
    ex = _run(_parent(pattern, "Nowhere"), workspace=ws)
    assert ex.output["Error"] == "StepFunctions.StateMachineDoesNotExistException"


def test_child_input_too_deep_is_invalid_execution_input(tmp_path: Path) -> None:
    ws = Workspace(root=tmp_path / "ws", project=tmp_path)
    definition = _parent(".sync:2", "Child")
    definition["States"]["Start"]["Parameters"] = {"StateMachineArn": MACHINE + "Child",
                                                   "Input": "[" * 5000 + "]" * 5000}
    ex = _run(definition, workspace=ws, state_machines={"Child": chain(("P", {"Type": "Pass"}))})
    assert ex.output["Error"] == "StepFunctions.InvalidExecutionInputException"


def test_a_machine_starting_itself_stops_at_the_nesting_limit(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace(root=tmp_path / "ws", project=tmp_path)
    itself = {"StartAt": "Again", "States": {"Again": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": MACHINE + "Loop"}, "End": True}}}
    ex = _run(itself, workspace=ws, state_machines={"Loop": itself})
    assert ex.error == "States.TaskFailed"  # each parent reports its child's failure ...
    assert len(ex.cause) < 3 * stepfunctions.MAX_CAUSE_LENGTH  # ... quoting a cause AWS caps at 32,768
    monkeypatch.setattr(stepfunctions, "MAX_NESTING", 2)
    ex = _run(itself, workspace=ws, state_machines={"Loop": itself})
    assert ex.error == "States.TaskFailed"
    assert "StepFunctions.ExecutionLimitExceededException" in ex.cause
    assert "more than 2 levels deep" in ex.cause


# ---------------------------------------------------------------------------------------------
# 4. JSONata on worker threads

_JSONATA_MAP = textwrap.dedent("""
    import gc
    import emulator

    def machine(output):
        return {"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
            "Type": "Map", "Items": "{% [1, 2, 3, 4, 5, 6] %}", "End": True,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "T", "States": {"T": {
                "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                "Arguments": {"v": "{% $states.input * 2 %}"}, "Output": output, "End": True}}}}}}

    good, bad = machine("{% $states.result.v + 1 %}"), machine("{% $states.result.v + $string('x') %}")
    for _ in range(RUNS):
        assert emulator.run(good, {}, resources={"f": lambda e: e}).output == [3, 5, 7, 9, 11, 13]
        assert emulator.run(bad, {}, resources={"f": lambda e: e}).error == "States.QueryEvaluationError"
        gc.collect()
""")


def test_jsonata_map_on_threads_prints_nothing() -> None:
    done = subprocess.run([sys.executable, "-c", _JSONATA_MAP.replace("RUNS", "15")], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parent.parent, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
