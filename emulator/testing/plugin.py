"""The sfn-local pytest plugin (registered through the `pytest11` entry point).

Fixtures:
    sfn_workspace   a fresh workspace in the test's tmp_path, with the project's config (rootdir)
    sfn             a runner on it: sfn.run(definition, input), sfn.start(...), sfn.mock(state, returns=... |
                    raises=(error, cause)), sfn.handler(resource, fn)
Marker:
    @pytest.mark.sfn_targets("local", "aws")   run the test once per target (the `sfn_target` fixture);
                    "aws" runs it against moto in-process (`mock_aws`, never real AWS): every service's Task
                    calls go to moto through boto3, Lambda functions stay the test's handlers.
Assertions: a failing `==` between JSON objects/arrays reports the JSON path of the first difference
and a JSON diff.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.integrations.mocks import MockedResponse, Outcome, TestCase
from emulator.testing.diff import first_difference
from emulator.workspace import Workspace

TARGETS = ("local", "aws")
# The aws target: every service on moto, except Lambda, whose functions are the test's Python handlers.
AWS_TARGET_SPEC = "aws,lambda=local"
_ALL_LATER = 2**31  # "every invocation from here on"


class SfnRunner:
    """Runs definitions in one workspace with the handlers and mocks a test sets up."""

    def __init__(self, workspace: Workspace, target: str = "local") -> None:
        self.workspace = workspace
        self.target = target
        self.resources: dict[str, Callable[..., Any]] = {}
        self._mocks: dict[str, list[tuple[int, int, Outcome]]] = {}

    def handler(self, resource: str, fn: Callable[..., Any]) -> None:
        """Back a Task resource (a full ARN, or a Lambda function name) with a Python function."""
        self.resources[resource] = fn

    def mock(self, state: str, returns: Any = None, raises: tuple[str, str | None] | str | None = None,
             times: int | None = None) -> None:
        """Mock the Task state `state`: its next `times` invocations (default: all the rest) return `returns`
        or raise `raises` (an error name, or (error, cause)). Calls add up in order, as AWS's "0", "1-2"."""
        if raises is not None:
            error, cause = (raises, None) if isinstance(raises, str) else raises
            outcome = Outcome(error=error, cause=cause)
        else:
            outcome = Outcome(value=json.loads(json.dumps(returns)))
        ranges = self._mocks.setdefault(state, [])
        first = ranges[-1][1] + 1 if ranges else 0
        if first > _ALL_LATER:
            raise ValueError(f"sfn.mock({state!r}): an earlier mock already answers every later invocation")
        ranges.append((first, first + times - 1 if times else _ALL_LATER, outcome))

    def _case(self, name: str) -> TestCase | None:
        if not self._mocks:
            return None
        states = {state: MockedResponse(f"sfn.mock({state!r})", tuple(ranges)) for state, ranges in self._mocks.items()}
        return TestCase(name, "pytest", states)

    def _machine(self, definition: Any, name: str) -> Any:
        from emulator.engine.execution import StateMachine

        return StateMachine(definition, name=name, resources=self.resources, workspace=self.workspace)

    def run(self, definition: dict[str, Any] | str | os.PathLike[str], input: Any = None, *,
            state_machine_name: str = "StateMachine", **options: Any) -> Any:
        """Run to the end; returns the Execution (with path, state(), calls(), assert_succeeded(), ...)."""
        case = self._case(state_machine_name)
        if case is not None:
            options.setdefault("mock_config", case)
        return self._machine(definition, state_machine_name).run(input, **options)

    def start(self, definition: dict[str, Any] | str | os.PathLike[str], input: Any = None, *,
              state_machine_name: str = "StateMachine", **options: Any) -> Any:
        """Start in the background; returns the RUNNING Execution (wait() / stop())."""
        case = self._case(state_machine_name)
        if case is not None:
            options.setdefault("mock_config", case)
        return self._machine(definition, state_machine_name).start(input, **options)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sfn_targets(*targets): run the test on each target, 'local' and/or 'aws'")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("sfn_targets")
    if marker is None or "sfn_target" not in metafunc.fixturenames:
        return
    targets = list(marker.args) or ["local"]
    metafunc.parametrize("sfn_target", targets, indirect=True, ids=targets)


@pytest.fixture
def sfn_target(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The target the test runs on: "local" unless @pytest.mark.sfn_targets says otherwise; "aws" runs
    the test inside moto's `mock_aws` with dummy credentials and SFN_LOCAL_TARGET switching to it."""
    target = getattr(request, "param", "local")
    if target not in TARGETS:
        pytest.fail(f"sfn_targets: unknown target {target!r} (targets: {', '.join(TARGETS)})", pytrace=False)
    if target == "local":
        yield target
        return
    try:
        from moto import mock_aws
    except ImportError:
        pytest.skip("the aws target runs against moto: pip install 'moto[server]'")
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")] + ["AWS_PROFILE", "AWS_SESSION_TOKEN"]:
        monkeypatch.delenv(key, raising=False)  # moto answers boto3's own endpoints, never a configured one
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    monkeypatch.setenv("SFN_LOCAL_TARGET", AWS_TARGET_SPEC)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield target


@pytest.fixture
def sfn_workspace(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Workspace]:
    """A fresh workspace under tmp_path with the project's config (sfn-local.toml at pytest's rootdir)."""
    yield Workspace(root=tmp_path / "sfn-local-workspace", project=request.config.rootpath)


@pytest.fixture
def sfn(sfn_workspace: Workspace, sfn_target: str) -> SfnRunner:
    """A runner bound to `sfn_workspace`: sfn.run(definition, input), sfn.mock(...), sfn.handler(...)."""
    return SfnRunner(sfn_workspace, sfn_target)


def _json_like(value: Any) -> bool:
    return isinstance(value, dict | list)


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any) -> list[str] | None:
    """`assert ex.output == {...}`: the JSON path of the first difference, then a JSON diff."""
    if op != "==" or not (_json_like(left) and _json_like(right)):
        return None
    found = first_difference(right, left)
    if found is None:
        return None
    try:
        left_text = json.dumps(left, indent=2, sort_keys=True, default=repr).splitlines()
        right_text = json.dumps(right, indent=2, sort_keys=True, default=repr).splitlines()
    except (TypeError, ValueError):
        return None
    where, wanted, got = found
    lines = [f"JSON values differ at {where}: left has {json.dumps(got, default=repr)[:200]}, "
             f"right has {json.dumps(wanted, default=repr)[:200]}", "JSON diff (-left +right):"]
    lines += [line.rstrip("\n") for line in difflib.unified_diff(left_text, right_text, lineterm="", n=2)][2:]
    return lines
