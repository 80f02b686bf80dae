"""`sfn-local history` (folded values, --full, --state) and `sfn-local executions`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LONG = "x" * 1500
MACHINE = {"StartAt": "Make", "States": {
    "Make": {"Type": "Pass", "Parameters": {"text.$": "$.text"}, "Next": "Check"},
    "Check": {"Type": "Choice", "Default": "Broken", "Choices": [
        {"Variable": "$.text", "StringEquals": "ok", "Next": "Done"}]},
    "Done": {"Type": "Succeed"},
    "Broken": {"Type": "Fail", "Error": "Data.Invalid", "Cause": "text is not ok"}}}


def sfn(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SFN_LOCAL_WORKSPACE": str(cwd / ".ws")}
    return subprocess.run([sys.executable, "-c", "from emulator.cli import main; main()", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_history_folds_long_values_and_prints_them_whole_on_request(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps(MACHINE))
    assert sfn("run", "m.json", "--name", "long", "--input", json.dumps({"text": LONG}), cwd=tmp_path).returncode == 1
    folded = sfn("history", "long", cwd=tmp_path)
    assert folded.returncode == 0, folded.stderr
    assert LONG not in folded.stdout
    assert "chars, --full to show)" in folded.stdout
    entered = next(line for line in folded.stdout.splitlines() if "PassStateEntered" in line)
    hidden = int(entered.split("(+", 1)[1].split(" chars")[0])
    assert hidden == len(json.dumps({"text": LONG}, separators=(",", ":"))) - 200
    full = sfn("history", "long", "--full", cwd=tmp_path)
    assert LONG in full.stdout and "--full to show" not in full.stdout


def test_history_state_shows_one_states_visits_in_full(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps(MACHINE))
    sfn("run", "m.json", "--name", "one", "--input", json.dumps({"text": LONG}), cwd=tmp_path)
    shown = sfn("history", "one", "--state", "Make", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("Make  (Pass, entered at event #2")
    assert json.loads(lines[1].split("input:", 1)[1]) == {"text": LONG}
    assert json.loads(lines[2].split("output:", 1)[1]) == {"text": LONG}
    broken = sfn("history", "one", "--state", "Broken", cwd=tmp_path).stdout
    assert "(did not exit)" in broken
    missing = sfn("history", "one", "--state", "Nowhere", cwd=tmp_path)
    assert missing.returncode == 1 and "state 'Nowhere' was not entered" in missing.stderr


def test_executions_lists_saved_runs_with_status_duration_and_failing_state(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps(MACHINE))
    assert sfn("run", "m.json", "--name", "good", "--input", '{"text": "ok"}', cwd=tmp_path).returncode == 0
    assert sfn("run", "m.json", "--name", "bad", "--input", '{"text": "no"}', cwd=tmp_path).returncode == 1
    listed = sfn("executions", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {"good", "bad"}
    assert (rows["good"]["status"], rows["good"]["machine"], rows["good"]["failingState"]) == ("SUCCEEDED", "m", None)
    assert (rows["bad"]["status"], rows["bad"]["failingState"]) == ("FAILED", "Broken")
    assert all(isinstance(row["duration"], float) and row["duration"] >= 0 for row in rows.values())
    text = sfn("executions", cwd=tmp_path).stdout
    assert "failed in 'Broken'" in text and "SUCCEEDED" in text
