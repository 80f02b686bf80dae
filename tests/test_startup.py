"""Start-up cost: light imports, one compile per distinct definition, a cheap handler call path."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import emulator
from emulator.engine import execution as execution_module
from emulator.integrations import python as python_handlers

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("duckdb", "sqlglot", "pyarrow", "pyspark", "starlette", "uvicorn", "rich", "boto3", "botocore")
# Modules a Pass-only run does not need either: TestState (and click with it), the HTTP Task's
# http.client and ssl, the Glue catalog.
UNNEEDED = ("emulator.teststate", "emulator.integrations.http", "http.client", "ssl", "emulator.backends.catalog")
PASS = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}
LOADED = (f"print(json.dumps(sorted(({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})) | "
          f"(set(sys.modules) & set({UNNEEDED!r})))))")


def python(code: str, cwd: Path) -> list[str]:
    """Run `code` in a fresh interpreter; it prints a JSON list on its last line."""
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(cwd)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_and_pass_run_load_no_heavy_module(tmp_path: Path) -> None:
    code = (f"import json, sys, emulator\nex = emulator.run({PASS!r})\n"
            f"assert ex.status == 'SUCCEEDED', ex\n{LOADED}")
    assert python(code, tmp_path) == []


def test_import_emulator_loads_no_engine_until_used(tmp_path: Path) -> None:
    code = ("import json, sys, emulator\n"
            "before = sorted(m for m in sys.modules if m.startswith('emulator'))\n"
            "machine = emulator.StateMachine({'StartAt': 'A', 'States': {'A': {'Type': 'Succeed'}}})\n"
            "print(json.dumps([before, 'emulator.engine.execution' in sys.modules, machine.run().status]))")
    assert python(code, tmp_path) == [["emulator", "emulator.errors"], True, "SUCCEEDED"]


def test_every_public_name_imports_from_the_package(tmp_path: Path) -> None:
    # Each in a fresh interpreter: a name must not depend on another having loaded its module first.
    for name in emulator.__all__:
        code = (f"import json\nfrom emulator import {name}\nimport emulator\n"
                f"print(json.dumps([getattr({name}, '__module__', None), {name} is emulator.{name}, "
                f"{name!r} in dir(emulator)]))")
        module, same, listed = python(code, tmp_path)
        assert module is not None and module.startswith("emulator"), (name, module)
        assert same and listed, name
    assert emulator.test_state.__module__ == "emulator.teststate"
    assert emulator.Workspace.__module__ == "emulator.workspace"
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        emulator.nothing_here  # noqa: B018


@pytest.mark.parametrize(("flags", "allowed"), [
    (["--json"], []),
    # The text output goes through emulator/progress.py, which draws Athena tables with rich.
    ([], ["rich"]),
])
def test_cli_run_of_a_pass_machine_loads_no_heavy_module(tmp_path: Path, flags: list[str],
                                                        allowed: list[str]) -> None:
    (tmp_path / "m.asl.json").write_text(json.dumps(PASS))
    code = (f"import json, sys\nfrom emulator.cli import main\nsys.argv = {['sfn-local', 'run', 'm.asl.json', *flags]!r}\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            f"print()\n{LOADED}")
    assert set(python(code, tmp_path)) <= set(allowed)


def test_a_service_module_loads_on_the_first_task_that_needs_it(tmp_path: Path) -> None:
    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double", "End": True}}}
    code = ("import json, sys, emulator\n"
            "before = 'emulator.integrations.awslambda' in sys.modules\n"
            f"ex = emulator.run({definition!r}, {{'n': 4}}, resources={{'double': lambda e: e['n'] * 2}})\n"
            "print(json.dumps([before, 'emulator.integrations.awslambda' in sys.modules, ex.status, ex.output]))")
    assert python(code, tmp_path) == [False, True, "SUCCEEDED", 8]


def _counting_parse(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []
    real = execution_module.parse

    def parse(definition: dict) -> object:
        calls.append(definition)
        return real(definition)

    monkeypatch.setattr(execution_module, "parse", parse)
    return calls


def _unique(definition: dict) -> dict:
    """The definition with a fresh Comment, so no earlier test's compile is in the cache."""
    return {**definition, "Comment": str(uuid.uuid4())}


def test_starting_one_definition_100_times_parses_it_once(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    calls = _counting_parse(monkeypatch)
    definition = _unique({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)", "tag": [1, 2]}, "Next": "B"},
        "B": {"Type": "Pass", "Result": {"nested": {"list": [1, 2, 3]}}, "ResultPath": "$.r", "End": True}}})
    executions = [emulator.start(definition, {"n": i}, workspace=tmp_path) for i in range(100)]
    outputs = [ex.wait(30).output for ex in executions]
    assert len(calls) == 1
    assert [ex.status for ex in executions] == ["SUCCEEDED"] * 100
    assert outputs == [{"n": i + 1, "tag": [1, 2], "r": {"nested": {"list": [1, 2, 3]}}} for i in range(100)]
    # Every run got the same compiled states, unchanged by the runs before it.
    assert len({id(ex.state_machine.machine) for ex in executions}) == 1


def test_the_cache_is_keyed_by_content(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = _counting_parse(monkeypatch)
    definition = _unique(PASS)
    first = emulator.StateMachine(definition, workspace=tmp_path)
    # The same content as JSON text with other key order and spacing is the same definition.
    reordered = json.dumps(dict(reversed(list(definition.items()))), indent=2)
    assert emulator.StateMachine(reordered, workspace=tmp_path).machine is first.machine
    # The caller changing its dict afterwards neither changes the compiled machine nor hits the cache.
    definition["States"]["A"]["Result"] = {"ok": False}
    assert first.run().output == {"ok": True}
    assert emulator.run(definition, workspace=tmp_path).output == {"ok": False}
    assert len(calls) == 2


def test_the_cache_keeps_the_most_recently_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(execution_module, "COMPILED_CACHE_SIZE", 2)
    calls = _counting_parse(monkeypatch)
    a, b, c = (_unique(PASS) for _ in range(3))
    for definition in (a, b, a, c):  # c evicts b, the least recently used
        emulator.StateMachine(definition, workspace=tmp_path)
    assert len(calls) == 3
    emulator.StateMachine(a, workspace=tmp_path)
    assert len(calls) == 3
    emulator.StateMachine(b, workspace=tmp_path)
    assert len(calls) == 4


def test_a_handler_signature_is_inspected_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    inspected: list[object] = []
    real = python_handlers.inspect.signature

    def signature(fn: object) -> object:
        inspected.append(fn)
        return real(fn)

    monkeypatch.setattr(python_handlers.inspect, "signature", signature)
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:"
                                                   "123456789012:function:echo", "End": True}}}

    def echo(event: dict, context: object) -> dict:
        return {"got": event, "state": context.state_name}

    machine = emulator.StateMachine(definition, resources={"echo": echo}, workspace=tmp_path)
    outputs = [machine.run({"i": i}).output for i in range(10)]
    assert outputs == [{"got": {"i": i}, "state": "T"} for i in range(10)]
    assert inspected.count(echo) == 1


def _failing_leaf(n: int) -> None:
    raise ValueError(f"bad item {n}")


def test_a_handler_stack_trace_has_only_user_frames(tmp_path: Path) -> None:
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:"
                                                   "123456789012:function:fails", "End": True}}}

    def fails(event: dict) -> None:
        _failing_leaf(event["n"])

    ex = emulator.run(definition, {"n": 3}, resources={"fails": fails}, workspace=tmp_path)
    assert (ex.status, ex.error) == ("FAILED", "ValueError")
    cause = json.loads(ex.cause)
    assert cause["errorMessage"] == "bad item 3"
    frames = cause["stackTrace"]
    assert [frame.split(", in ")[1].split("\n")[0] for frame in frames] == ["fails", "_failing_leaf"]
    assert all(f'File "{__file__}"' in frame for frame in frames)
    assert 'raise ValueError(f"bad item {n}")' in frames[-1]


def test_preflight_loads_no_engine_of_the_services_and_prewarm_loads_them_on_a_thread(tmp_path: Path) -> None:
    # Pre-flight only asks whether something backs each Task; what their first calls load (botocore's
    # models, DuckDB and pyarrow for Athena) `prewarm` loads on a thread while the run goes on.
    code = (f"import json, sys, emulator\n"
            f"from emulator.testing.preflight import preflight, resource_arns\n"
            f"from emulator.integrations.registry import prewarm\n"
            f"machine = emulator.StateMachine({str(ROOT / 'definitions' / 'car_rental_pipeline.asl.json')!r}, "
            f"workspace=emulator.Workspace(root='ws', project={str(ROOT)!r}))\n"
            f"assert preflight(machine) == []\n"
            f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & {{'duckdb', 'pyarrow', 'sqlglot', 'botocore'}})\n"
            f"thread = prewarm(resource_arns(machine.definition))\n"
            f"thread.join()\n"
            f"print(json.dumps([heavy, thread.daemon, 'emulator.backends.sql' in sys.modules, "
            f"'botocore' in sys.modules]))")
    assert python(code, tmp_path) == [[], False, True, True]
