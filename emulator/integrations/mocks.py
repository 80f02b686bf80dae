"""AWS Step Functions Local's mock configuration (MockConfigFile.json), read as Step Functions Local reads it.

    {"StateMachines": {"<machine>": {"TestCases": {"<case>": {"<Task state>": "<mocked response>"}}}},
     "MockedResponses": {"<mocked response>": {"0": {"Return": ...}, "1-2": {"Throw": {"Error": ..., "Cause": ...}}}}}

A test case maps Task state names to mocked responses; a mocked response maps zero-based invocation
numbers (or inclusive ranges) to a `Return` value or a `Throw` error. Invocations are counted per
state in invocation order, across retries and Map iterations. An invocation with no response fails
the execution, as Step Functions Local does. Unmocked states run on the local engines.

Our extension (sfn-local only; `Input` and `Expect` are reserved keys of a test case, and their
values are objects where a state mapping's value is a string):

    "<case>": {"<Task state>": "<mocked response>", ...,
               "Input": {...},                                  # the execution input
               "Expect": {"status": "SUCCEEDED", "output": ..., "error": ..., "cause": ...,
                          "path": ["StateA", "Fan[0].StateB"], "calls": {"StateA": 2}}}
"""

from __future__ import annotations

import difflib
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.errors import RUNTIME, StatesError
from emulator.integrations.registry import Handler, Resource, TaskRequest
from emulator.workspace import environment_variable

MOCK_CONFIG_ENV = "SFN_MOCK_CONFIG"
TEST_CASE_ENV = "SFN_MOCK_TEST_CASE"
EXTENSION_KEYS = ("Input", "Expect")
EXPECT_KEYS = ("status", "output", "error", "cause", "path", "calls")
STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
_INVOCATIONS = re.compile(r"(\d+)(?:-(\d+))?")


class MockConfigError(ValueError):
    """A mock configuration AWS's format does not allow; the message names the file and the key."""


def _suggest(name: str, known: Iterator[str] | list[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(frozen=True)
class Outcome:
    """One mocked invocation: a `Return` value, or a `Throw` error and cause."""

    value: Any = None
    error: str | None = None
    cause: str | None = None

    @property
    def throws(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class MockedResponse:
    """A named mocked response: invocation ranges (inclusive) → outcome."""

    name: str
    ranges: tuple[tuple[int, int, Outcome], ...]

    def at(self, invocation: int) -> Outcome | None:
        for first, last, outcome in self.ranges:
            if first <= invocation <= last:
                return outcome
        return None


_NO_OUTPUT: Any = object()


@dataclass(frozen=True)
class Expect:
    """What a test case's execution must end with (sfn-local's extension of the format)."""

    status: str = "SUCCEEDED"
    output: Any = _NO_OUTPUT
    error: str | None = None
    cause: str | None = None
    path: tuple[str, ...] | None = None
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def has_output(self) -> bool:
        return self.output is not _NO_OUTPUT


@dataclass(frozen=True)
class TestCase:
    """One test case of one state machine: its mocked states, and (our extension) its input and expectations."""

    __test__ = False  # not a pytest test class

    machine: str
    name: str
    states: dict[str, MockedResponse]
    input: Any = None
    expect: Expect = field(default_factory=Expect)

    def session(self) -> MockSession:
        return MockSession(self)


class MockSession:
    """The mocks of one execution: counts each mocked state's invocations, in invocation order."""

    def __init__(self, case: TestCase) -> None:
        self.case = case
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def respond(self, state: str) -> Any:
        """The mocked result of `state`'s next invocation; raises its Throw as a StatesError."""
        response = self.case.states[state]
        with self._lock:
            invocation = self.counts.get(state, 0)
            self.counts[state] = invocation + 1
        outcome = response.at(invocation)
        if outcome is None:
            raise StatesError(RUNTIME, f"The mocked response '{response.name}' of test case '{self.case.name}' has "
                                       f"no response for invocation {invocation} of state '{state}' "
                                       "(invocations are numbered from 0).")
        if outcome.throws:
            raise StatesError(outcome.error, outcome.cause)
        # A fresh copy each time: the engine may keep the result, and Map iterations share the response.
        return json.loads(json.dumps(outcome.value))

    def wrap(self, resource: Resource, resolve: Callable[[], Handler]) -> Handler:
        """A handler giving the mocked response for mocked states and the real handler's for the others.

        `.sync` and `.waitForTaskToken` mocked states return the mocked value at once, as Step Functions
        Local does. The real handler is resolved on the first unmocked call only: resolving may load a
        service's API model (botocore), which a fully mocked run never needs.
        """
        real: list[Handler] = []

        def handle(request: TaskRequest) -> Any:
            state = request.context.state_name
            if state in self.case.states:
                return self.respond(state)
            if not real:
                real.append(resolve())
            return real[0](request)

        return handle


def _where(source: str | None, *keys: str) -> str:
    return f"{source or 'mock config'}: {'.'.join(keys)}"


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MockConfigError(f"{where}: expected an object, got {json.dumps(value)[:80]}")
    return value


def _invocations(key: str, where: str) -> tuple[int, int]:
    m = _INVOCATIONS.fullmatch(key)
    if m is None:
        raise MockConfigError(f"{where}: '{key}' is not an invocation number (\"0\") or an inclusive range (\"1-2\")")
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) is not None else first
    if last < first:
        raise MockConfigError(f"{where}: the range '{key}' ends before it starts")
    return first, last


def _outcome(value: Any, where: str) -> Outcome:
    body = _object(value, where)
    if set(body) not in ({"Return"}, {"Throw"}):
        raise MockConfigError(f"{where}: a mocked response must contain a single field, Return or Throw "
                              f"(got {', '.join(sorted(body)) or 'none'})")
    if "Return" in body:
        return Outcome(value=body["Return"])
    throw = _object(body["Throw"], f"{where}.Throw")
    for key in ("Error", "Cause"):
        if key in throw and not isinstance(throw[key], str):
            raise MockConfigError(f"{where}.Throw.{key}: expected a string, got {json.dumps(throw[key])[:80]}")
    unknown = set(throw) - {"Error", "Cause"}
    if unknown:
        name = sorted(unknown)[0]
        raise MockConfigError(f"{where}.Throw: unknown field '{name}'{_suggest(name, ['Error', 'Cause'])}")
    if not throw.get("Error"):
        raise MockConfigError(f"{where}.Throw.Error: the error name is missing")
    return Outcome(error=throw["Error"], cause=throw.get("Cause"))


def _response(name: str, value: Any, source: str | None) -> MockedResponse:
    where = _where(source, "MockedResponses", name)
    ranges: list[tuple[int, int, Outcome]] = []
    for key, body in _object(value, where).items():
        first, last = _invocations(key, where)
        for other_first, other_last, _ in ranges:
            if first <= other_last and other_first <= last:
                raise MockConfigError(f"{where}: invocations '{key}' overlap another key's")
        ranges.append((first, last, _outcome(body, f"{where}.{key}")))
    if not ranges:
        raise MockConfigError(f"{where}: no invocation is mocked (add \"0\": {{\"Return\": ...}})")
    return MockedResponse(name, tuple(sorted(ranges, key=lambda r: r[0])))


def _expect(value: Any, where: str) -> Expect:
    body = _object(value, where)
    for key in body:
        if key not in EXPECT_KEYS:
            raise MockConfigError(f"{where}: unknown key '{key}'{_suggest(key, list(EXPECT_KEYS))}")
    status = body.get("status", "FAILED" if "error" in body else "SUCCEEDED")
    if status not in STATUSES:
        raise MockConfigError(f"{where}.status: expected one of {', '.join(STATUSES)}, got {json.dumps(status)}")
    for key in ("error", "cause"):
        if key in body and not isinstance(body[key], str):
            raise MockConfigError(f"{where}.{key}: expected a string, got {json.dumps(body[key])[:80]}")
    path = body.get("path")
    if path is not None and not (isinstance(path, list) and all(isinstance(p, str) for p in path)):
        raise MockConfigError(f"{where}.path: expected a list of state names")
    calls = body.get("calls", {})
    if not isinstance(calls, dict) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                              for n in calls.values()):
        raise MockConfigError(f"{where}.calls: expected {{\"StateName\": number of invocations}}")
    return Expect(status=status, output=body.get("output", _NO_OUTPUT), error=body.get("error"),
                  cause=body.get("cause"), path=tuple(path) if path is not None else None, calls=dict(calls))


class MockConfig:
    """A parsed mock configuration file: test cases by state machine, and the mocked responses they use."""

    def __init__(self, data: Any, source: str | os.PathLike[str] | None = None) -> None:
        self.source = str(source) if source is not None else None
        root = _object(data, self.source or "mock config")
        for key in root:
            if key not in ("StateMachines", "MockedResponses"):
                raise MockConfigError(f"{_where(self.source, key)}: unknown top-level field"
                                      f"{_suggest(key, ['StateMachines', 'MockedResponses'])}")
        self.responses = {name: _response(name, value, self.source)
                          for name, value in _object(root.get("MockedResponses", {}),
                                                     _where(self.source, "MockedResponses")).items()}
        self.machines: dict[str, dict[str, TestCase]] = {}
        machines = _object(root.get("StateMachines", {}), _where(self.source, "StateMachines"))
        for machine, spec in machines.items():
            where = _where(self.source, "StateMachines", machine)
            spec = _object(spec, where)
            for key in spec:
                if key != "TestCases":
                    raise MockConfigError(f"{where}: unknown field '{key}'{_suggest(key, ['TestCases'])}")
            cases = _object(spec.get("TestCases", {}), f"{where}.TestCases")
            self.machines[machine] = {name: self._case(machine, name, body) for name, body in cases.items()}

    def _case(self, machine: str, name: str, body: Any) -> TestCase:
        where = _where(self.source, "StateMachines", machine, "TestCases", name)
        states: dict[str, MockedResponse] = {}
        for state, response in _object(body, where).items():
            if state in EXTENSION_KEYS:
                continue
            if not isinstance(response, str):
                raise MockConfigError(f"{where}.{state}: expected the name of a mocked response (string), got "
                                      f"{json.dumps(response)[:80]}")
            if response not in self.responses:
                raise MockConfigError(f"{where}.{state}: the mocked response '{response}' is not defined in "
                                      f"MockedResponses{_suggest(response, list(self.responses))}")
            states[state] = self.responses[response]
        expect = _expect(body["Expect"], f"{where}.Expect") if "Expect" in body else Expect()
        return TestCase(machine, name, states, body.get("Input"), expect)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MockConfig:
        """Read a mock configuration file; MockConfigError names the file (and the line for bad JSON)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MockConfigError(f"{path}: cannot read the mock config: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MockConfigError(f"{path}, line {exc.lineno}, column {exc.colno}: not JSON: {exc.msg}") from None
        return cls(data, path)

    def test_case(self, machine: str, case: str) -> TestCase:
        """The test case `case` of the state machine `machine`; MockConfigError names what exists."""
        cases = self.machines.get(machine)
        if cases is None:
            raise MockConfigError(f"{_where(self.source, 'StateMachines')}: no state machine '{machine}'"
                                  f"{_suggest(machine, list(self.machines))}")
        if case not in cases:
            raise MockConfigError(f"{_where(self.source, 'StateMachines', machine, 'TestCases')}: no test case "
                                  f"'{case}'{_suggest(case, list(cases))}")
        return cases[case]

    def cases(self) -> Iterator[TestCase]:
        for cases in self.machines.values():
            yield from cases.values()

    def __repr__(self) -> str:
        return f"MockConfig({self.source or '<dict>'}, {sum(len(c) for c in self.machines.values())} test cases)"


MockSource = MockConfig | TestCase | Mapping[str, Any] | str | os.PathLike[str]


def test_case_for(machine: str, mock_config: MockSource | None = None, test_case: str | None = None
                  ) -> TestCase | None:
    """The test case a run uses: from `mock_config` (a MockConfig, TestCase, dict or file) and `test_case`,
    else from SFN_MOCK_CONFIG and SFN_MOCK_TEST_CASE; None when no test case is selected."""
    if isinstance(mock_config, TestCase):
        return mock_config
    if mock_config is None:
        mock_config = environment_variable(MOCK_CONFIG_ENV) or None
    test_case = test_case or environment_variable(TEST_CASE_ENV) or None
    if mock_config is None:
        if test_case is not None:
            raise MockConfigError(f"test case '{test_case}' given without a mock config (--mock-config or "
                                  f"{MOCK_CONFIG_ENV})")
        return None
    if test_case is None:
        return None  # as Step Functions Local: an execution without a test case runs unmocked
    if isinstance(mock_config, MockConfig):
        config = mock_config
    elif isinstance(mock_config, Mapping):
        config = MockConfig(dict(mock_config))
    else:
        config = MockConfig.load(mock_config)
    return config.test_case(machine, test_case)
