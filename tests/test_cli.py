"""The sfn-local command: results, exit codes, and no traceback for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PASS = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}
FAIL = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "went wrong"}}}


def sfn(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SFN_LOCAL_WORKSPACE": str(cwd / ".ws")}
    return subprocess.run([sys.executable, "-c", "from emulator.cli import main; main()", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def write(tmp_path: Path):
    def _write(name: str, content: object) -> str:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)

    return _write


def test_run_success_prints_output_and_saves_history(tmp_path: Path, write) -> None:
    result = sfn("run", write("m.json", PASS), "--name", "e1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("SUCCEEDED  e1")
    assert '"ok": true' in result.stdout
    history = sfn("history", "e1", cwd=tmp_path)
    assert history.returncode == 0
    assert "PassStateEntered" in history.stdout and "ExecutionSucceeded" in history.stdout


def test_run_failure_names_state_error_and_cause(tmp_path: Path, write) -> None:
    result = sfn("run", write("f.json", FAIL), cwd=tmp_path)
    assert result.returncode == 1
    assert "FAILED" in result.stdout
    assert "state: F" in result.stdout and "error: Boom" in result.stdout and "cause: went wrong" in result.stdout


def test_run_json_and_input_file(tmp_path: Path, write) -> None:
    echo = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    result = sfn("run", write("m.json", echo), "--input", "@" + write("in.json", {"v": 1}), "--json", cwd=tmp_path)
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert doc["status"] == "SUCCEEDED" and doc["output"] == {"v": 1}


def test_handler_option(tmp_path: Path, write) -> None:
    (tmp_path / "myhandlers.py").write_text("def double(event):\n    return event * 2\n")
    task = {"StartAt": "T", "States": {"T": {"Type": "Task",
                                              "Resource": "arn:aws:lambda:us-east-1:1:function:double", "End": True}}}
    result = sfn("run", write("t.json", task), "--input", "21", "--handler", "double=myhandlers:double", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "42" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "missing.json"], "cannot read definition"),
        (["run", "@bad"], "cannot read definition"),
        (["run", "{not json"], "not valid JSON"),
        (["run", "PASS", "--input", "{oops"], "input is not valid JSON"),
        (["run", "PASS", "--input", "@nofile.json"], "cannot read input file"),
        (["run", "PASS", "--handler", "nonsense"], "--handler expects"),
        (["run", "PASS", "--handler", "x=nomodule_zz:f"], "cannot load"),
        (["history", "nobody"], "no saved execution"),
    ],
)
def test_bad_input_gives_a_message_not_a_traceback(tmp_path: Path, write, args: list[str], fragment: str) -> None:
    args = [write("p.json", PASS) if a == "PASS" else a for a in args]
    result = sfn(*args, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert fragment in result.stderr + result.stdout


def test_invalid_definition_lists_diagnostics(tmp_path: Path, write) -> None:
    bad = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    for command in ("run", "validate"):
        result = sfn(command, write("bad.json", bad), cwd=tmp_path)
        assert result.returncode == 1
        assert "/States/A/Next" in result.stdout
        assert "Traceback" not in result.stderr


def test_validate_ok_and_non_utf8(tmp_path: Path, write) -> None:
    good = write("good.json", PASS)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe{")
    result = sfn("validate", good, str(binary), cwd=tmp_path)
    assert result.returncode == 1
    assert f"{good}: OK" in result.stdout
    assert "not UTF-8" in result.stdout
    assert "Traceback" not in result.stderr


def test_validate_reports_jsonata_and_variable_mistakes(tmp_path: Path, write) -> None:
    bad = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": {"x": "{% 1 + %}"}, "InputPath": "$.a", "Next": "B"},
        "B": {"Type": "Pass", "Assign": {"v": "{% $states.input.a"}, "End": True}}}
    result = sfn("validate", write("j.json", bad), cwd=tmp_path)
    assert result.returncode == 1
    assert "/States/A/Output/x" in result.stdout and "invalid JSONata expression" in result.stdout
    assert "/States/A/InputPath" in result.stdout
    assert "/States/B/Assign/v" in result.stdout
    assert "Traceback" not in result.stderr
