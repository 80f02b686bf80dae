"""`sfn-local run`'s display: live progress on a terminal, plain output on a pipe, Athena results as tables."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pexpect

from emulator.tables import render_output

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CLI = [sys.executable, "-c", "from emulator.cli import main; main()"]

NAP = "arn:aws:lambda:us-east-1:123456789012:function:nap"
# Map iterations two at a time, each a Task that sleeps for real; then a Parallel of two such Tasks.
# (A Wait state only takes whole seconds: a handler keeps the test short.)
MACHINE = {"StartAt": "Fan", "States": {
    "Fan": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ResultPath": "$.mapped",
            "ItemProcessor": {"StartAt": "Nap", "States": {"Nap": {"Type": "Task", "Resource": NAP, "End": True}}},
            "Next": "Both"},
    "Both": {"Type": "Parallel", "ResultPath": None, "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": NAP, "End": True}}},
        {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": NAP, "End": True}}}]}}}
HANDLER = """\
import time


def nap(event, context):
    time.sleep(float(event) if isinstance(event, (int, float)) else 0.3)
    return event
"""


def _run_args(tmp_path: Path, items: list[float]) -> list[str]:
    definition = tmp_path / "fan.asl.json"
    definition.write_text(json.dumps(MACHINE), encoding="utf-8")
    (tmp_path / "naps.py").write_text(HANDLER, encoding="utf-8")
    return ["--workspace", str(tmp_path / "ws"), "run", str(definition), "--handler", "nap=naps:nap",
            "--input", json.dumps({"items": items})]


def test_a_terminal_shows_map_progress_while_the_execution_runs(tmp_path: Path) -> None:
    child = pexpect.spawn(CLI[0], [*CLI[1:], *_run_args(tmp_path, [0.3] * 5)], cwd=str(tmp_path), encoding="utf-8", timeout=60, dimensions=(40, 120))
    child.expect(pexpect.EOF)
    child.close()
    screen = ANSI.sub("", child.before)
    assert child.exitstatus == 0, screen
    # Frames drawn while iterations ran: some iterations done out of five, the Map named with its type.
    frames = re.findall(r"Fan \(Map\) [\d.]+ s\s+(\d)/5 iterations", screen)
    assert any(0 < int(done) < 5 for done in frames), screen
    assert "2 running" in screen
    # The summary left behind: status, durations, visits, each fan's final counts.
    summary = next(line for line in screen.splitlines() if line.startswith("SUCCEEDED · real"))
    assert "Fan 5/5 iterations" in summary and "Both 2/2 branches" in summary
    assert "9 states visited" in summary  # Fan, five Nap, Both, A, B


def test_piped_output_is_plain_and_has_no_progress(tmp_path: Path) -> None:
    done = subprocess.run([*CLI, *_run_args(tmp_path, [0.05, 0.1])], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout + done.stderr
    assert "iterations" not in done.stdout
    assert done.stdout.startswith("SUCCEEDED  ")
    assert json.loads(done.stdout.split("\n", 1)[1])["mapped"] == [0.05, 0.1]


def _cells(*values: str | None) -> dict[str, list[dict[str, str]]]:
    return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}


def test_an_athena_result_set_is_drawn_as_a_table_and_the_rest_stays_json() -> None:
    output = {
        "query": {"QueryExecutionId": "q-1", "ResultSet": {
            "Rows": [_cells("city", "total"), _cells("Oslo", "12"), _cells("Lima", None)],
            "ResultSetMetadata": {"ColumnInfo": [{"Name": "city", "Type": "varchar"},
                                                 {"Name": "total", "Type": "bigint"}]}}},
        "rows_only": [_cells("n"), _cells("7")],
        "count": 3,
    }
    text = render_output(output)
    head, _, tables = text.partition("\ntable 1: ")
    data = json.loads(head)
    assert data["count"] == 3 and data["query"]["QueryExecutionId"] == "q-1"
    assert data["query"]["ResultSet"] == "(table 1 below: 2 rows)"
    assert data["rows_only"] == "(table 2 below: 1 rows)"
    assert "VarCharValue" not in text
    first, _, second = tables.partition("\ntable 2: ")
    lines = [line.split() for line in first.splitlines()]
    assert lines[0] == ["$.query.ResultSet"]
    assert lines[1] == ["city", "total"]
    assert ["Oslo", "12"] in lines and ["Lima", "NULL"] in lines
    assert "city" not in first.split("\n", 2)[2]  # the header row is not repeated as data
    assert second.splitlines()[0] == "$.rows_only"
    assert ["7"] in [line.split() for line in second.splitlines()]


def test_output_without_result_sets_is_the_plain_json() -> None:
    output = {"Rows": [], "Data": [{"VarCharValue": "x"}], "n": [1, {"a": None}]}
    assert render_output(output) == json.dumps(output, indent=2)


def test_background_work_is_shown_while_it_runs() -> None:
    """A crawl, Athena query or Spark step in flight shows under the running states, with its age."""
    import threading

    from rich.console import Console

    from emulator import background
    from emulator.progress import Progress

    release = threading.Event()
    progress = Progress(Console(record=True, width=120))
    thread = background.spawn(release.wait, name="crawler-raw-csv")
    try:
        console = Console(record=True, width=120)
        console.print(progress._render())
        assert "↳ crawler-raw-csv" in console.export_text()
    finally:
        release.set()
        thread.join()
    console = Console(record=True, width=120)
    console.print(progress._render())
    assert "crawler-raw-csv" not in console.export_text()


def test_parallel_branches_are_drawn_side_by_side() -> None:
    from types import SimpleNamespace

    from rich.console import Console

    from emulator.engine.observe import Context
    from emulator.progress import Progress

    progress = Progress(Console(record=True, width=120))
    arn = "arn:aws:states:us-east-1:123456789012:execution:M:e"
    both = SimpleNamespace(type="Parallel", branches=[object(), object()])
    progress.state_entered(Context(arn, (), "Both", 0), both, {})
    for index, state in enumerate(("Load", "Index")):
        progress.branch_started(Context(arn, (), "Both", 0), both, index, {})
        progress.state_entered(Context(arn, (("Both", index),), state, 0), SimpleNamespace(type="Task"), {})
    console = Console(record=True, width=120)
    console.print(progress._render())
    screen = console.export_text()
    assert "Both (Parallel)" in screen and "0/2 branches, 2 running" in screen
    row = next(line for line in screen.splitlines() if "Load (Task)" in line)
    assert "Index (Task)" in row  # the two branches' states on one line, in their columns
    titles = next(line for line in screen.splitlines() if "branch 0" in line)
    assert "branch 1" in titles
