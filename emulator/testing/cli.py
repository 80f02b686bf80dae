"""`sfn-local test`: run every test case of a mock config and say which pass, and why the others do not.

Each test case runs its state machine (found by name: `definitions/<Name>.asl.json`) with the case's
mocks, its `Input`, and checks its `Expect` (sfn-local's extension of AWS's format; without one a case
must succeed). Cases run in parallel threads, each in a fresh temporary workspace with the project's
config, so unmocked (hybrid) states never touch the project's own workspace.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from emulator.engine.trace import root_cause, trace
from emulator.errors import DefinitionError
from emulator.integrations.mocks import MOCK_CONFIG_ENV, TEST_CASE_ENV, MockConfig, MockConfigError, TestCase
from emulator.testing.diff import first_difference
from emulator.workspace import ConfigError, Workspace, load_config

DEFAULT_MOCK_FILES = ("sfn-local.mocks.json", "definitions/mocks.json", "tests/mocks.json")


@dataclass
class CaseResult:
    """One test case's outcome: passed, or the first difference between what was expected and what happened."""

    __test__ = False

    machine: str
    case: str
    passed: bool
    seconds: float
    problem: str | None = None
    status: str | None = None


def default_mock_config(project: Path) -> Path | None:
    """The project's mock config: the first of DEFAULT_MOCK_FILES that exists."""
    for name in DEFAULT_MOCK_FILES:
        if (project / name).is_file():
            return project / name
    return None


def find_definition(machine: str, folders: list[Path]) -> Path | None:
    """`<folder>/<Name>.asl.json` (or `.json`), also under `<folder>/definitions/`, first found."""
    for folder in folders:
        for candidate in (folder / f"{machine}.asl.json", folder / "definitions" / f"{machine}.asl.json",
                          folder / f"{machine}.json", folder / "definitions" / f"{machine}.json"):
            if candidate.is_file():
                return candidate
    return None


def _value(value: Any) -> str:
    text = json.dumps(value, default=str) if value != "<missing>" else value
    return text if len(text) <= 120 else text[:117] + "..."


def compare(case: TestCase, execution: Any) -> str | None:
    """The first way the execution differs from the case's Expect, as one line; None when it matches."""
    expect = case.expect
    if execution.status != expect.status:
        error, cause, state = root_cause(execution)
        why = f" ({error} in state '{state}': {(cause or '')[:160]})" if error else ""
        return f"status: expected {expect.status}, got {execution.status}{why}"
    if expect.error is not None and execution.error != expect.error:
        return f"error: expected {expect.error}, got {execution.error} (state '{execution.failed_state}')"
    if expect.cause is not None and execution.cause != expect.cause:
        return f"cause: expected {_value(expect.cause)}, got {_value(execution.cause)}"
    if expect.has_output:
        found = first_difference(expect.output, execution.output)
        if found is not None:
            where, wanted, got = found
            visits = trace(execution).visits
            last = max(visits, key=lambda v: v.entered_event).label if visits else "-"
            return f"output {where}: expected {_value(wanted)}, got {_value(got)} (last state '{last}')"
    if expect.path is not None:
        actual = execution.path
        for index, (wanted, got) in enumerate(zip(expect.path, actual, strict=False)):
            if wanted != got:
                return f"path[{index}]: expected state '{wanted}', got '{got}'"
        if len(expect.path) != len(actual):
            extra = (f"missing '{expect.path[len(actual)]}'" if len(expect.path) > len(actual)
                     else f"then went on to '{actual[len(expect.path)]}'")
            return f"path: expected {len(expect.path)} states, got {len(actual)} ({extra})"
    visits = trace(execution).visits
    for state, count in expect.calls.items():
        got = sum(v.attempts for v in visits if v.name == state)
        if got != count:
            return f"calls {state}: expected {count}, got {got}"
    return None


def run_case(case: TestCase, definition: Path, project: Path) -> CaseResult:
    """Run one test case in a fresh temporary workspace with the project's config."""
    from emulator.engine.execution import StateMachine

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sfn-local-test-") as root:
        try:
            machine = StateMachine(definition, name=case.machine, workspace=Workspace(root, project))
            execution = machine.run(case.input, mock_config=case, name=f"{case.name}"[:80])
        except (DefinitionError, ValueError, TypeError) as exc:
            return CaseResult(case.machine, case.name, False, time.perf_counter() - started, str(exc))
        problem = compare(case, execution)
    return CaseResult(case.machine, case.name, problem is None, time.perf_counter() - started, problem,
                      execution.status)


def run_suite(config: MockConfig, project: Path, machine: str | None = None, case: str | None = None,
              jobs: int | None = None) -> list[CaseResult]:
    """Every selected test case, run in parallel threads; results in the config's order."""
    folders = [Path(config.source).parent] if config.source else []
    folders.append(project)
    work: list[Callable[[], CaseResult]] = []
    for test in config.cases():
        if (machine is not None and test.machine != machine) or (case is not None and test.name != case):
            continue
        definition = find_definition(test.machine, folders)
        if definition is None:
            where = ", ".join(str(f) for f in folders)
            problem = f"no definition for state machine '{test.machine}' ({test.machine}.asl.json in {where})"
            work.append(lambda t=test, p=problem: CaseResult(t.machine, t.name, False, 0.0, p))
        else:
            work.append(lambda t=test, d=definition: run_case(t, d, project))
    with ThreadPoolExecutor(max_workers=jobs or min(8, (os.cpu_count() or 2) * 2)) as pool:
        return list(pool.map(lambda job: job(), work))


def write_junit(results: list[CaseResult], path: Path) -> None:
    """JUnit XML: one testsuite per state machine, one testcase per test case, the difference as the failure."""
    root = ET.Element("testsuites", name="sfn-local", tests=str(len(results)),
                      failures=str(sum(not r.passed for r in results)))
    suites: dict[str, ET.Element] = {}
    for result in results:
        suite = suites.get(result.machine)
        if suite is None:
            suite = suites[result.machine] = ET.SubElement(root, "testsuite", name=result.machine)
        element = ET.SubElement(suite, "testcase", classname=result.machine, name=result.case,
                                time=f"{result.seconds:.3f}")
        if not result.passed:
            failure = ET.SubElement(element, "failure", message=result.problem or "failed")
            failure.text = result.problem
    for name, suite in suites.items():
        mine = [r for r in results if r.machine == name]
        suite.set("tests", str(len(mine)))
        suite.set("failures", str(sum(not r.passed for r in mine)))
        suite.set("time", f"{sum(r.seconds for r in mine):.3f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _print_results(results: list[CaseResult], wall: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="sfn-local test", title_justify="left")
    for column in ("state machine", "test case", "result", "time", "first difference"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(r.machine, r.case, "[green]PASS[/green]" if r.passed else "[red]FAIL[/red]",
                      f"{r.seconds * 1000:.0f} ms", r.problem or "")
    console = Console(width=max(120, Console().width))
    console.print(table)
    failed = sum(not r.passed for r in results)
    console.print(f"{len(results) - failed} passed, {failed} failed in {wall:.2f}s")


@click.command("test")
@click.argument("mock_config", required=False, type=click.Path(dir_okay=False))
@click.option("--machine", help="Only this state machine's test cases.")
@click.option("--case", "case", help="Only the test case of this name.")
@click.option("--junit", type=click.Path(dir_okay=False), help="Also write the results as JUnit XML to FILE.")
@click.option("--jobs", type=click.IntRange(min=1), help="Test cases run at once (default: twice the CPUs, at most 8).")
def test_command(mock_config: str | None, machine: str | None, case: str | None, junit: str | None,
                 jobs: int | None) -> None:
    """Run the test cases of a mock config (AWS Step Functions Local's MockConfigFile format).

    MOCK_CONFIG defaults to sfn-local.mocks.json, else definitions/mocks.json, else tests/mocks.json.
    Exits 0 only when every test case passes.
    """
    project = Path.cwd()
    path = Path(mock_config) if mock_config else default_mock_config(project)
    if path is None:
        raise click.UsageError(f"no mock config given and none of {', '.join(DEFAULT_MOCK_FILES)} exists")
    try:
        load_config(project)
        config = MockConfig.load(path)
        if machine is not None and machine not in config.machines:
            config.test_case(machine, case or "")
        if machine is not None and case is not None:
            config.test_case(machine, case)
    except (MockConfigError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    started = time.perf_counter()
    results = run_suite(config, project, machine, case, jobs)
    if not results:
        raise click.ClickException(f"{path}: no test case matches")
    _print_results(results, time.perf_counter() - started)
    if junit:
        write_junit(results, Path(junit))
    raise SystemExit(0 if all(r.passed for r in results) else 1)


def run_options(mock_config: str | None, test_case: str | None) -> dict[str, Any]:
    """Options for `StateMachine.run` from `sfn-local run --mock-config FILE --test-case NAME`.

    Either may come from SFN_MOCK_CONFIG / SFN_MOCK_TEST_CASE instead. Raises click.ClickException
    (naming the file and key) for a bad mock config, an unknown test case, or a test case without a config.
    """
    mock_config = mock_config or os.environ.get(MOCK_CONFIG_ENV) or None
    test_case = test_case or os.environ.get(TEST_CASE_ENV) or None
    if test_case is not None and mock_config is None:
        raise click.ClickException(f"--test-case {test_case} needs --mock-config FILE (or {MOCK_CONFIG_ENV})")
    if mock_config is None:
        return {}
    try:
        return {"mock_config": MockConfig.load(mock_config), "test_case": test_case}
    except MockConfigError as exc:
        raise click.ClickException(str(exc)) from None
