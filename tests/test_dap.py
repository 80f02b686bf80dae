"""`sfn-local dap`: a Debug Adapter Protocol client talking to the server over its stdio pipes."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.test_debugger import ITEMS, PIPELINE

ROOT = Path(__file__).resolve().parent.parent


class Client:
    def __init__(self, workspace: Path, **env_extra: str) -> None:
        env = {**os.environ, "SFN_LOCAL_WORKSPACE": str(workspace), **env_extra}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from emulator.debugger.dap import dap_command; dap_command()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(ROOT), env=env,
        )
        self.seq = 0
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            header = out.readline()
            if not header:
                return
            length = int(header.split(b":")[1])
            out.readline()
            self.messages.put(json.loads(out.read(length)))

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command, "arguments": arguments}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()
        return self.wait(lambda m: m["type"] == "response" and m["request_seq"] == self.seq)

    def wait(self, test: Any) -> dict[str, Any]:
        skipped = []
        try:
            while True:
                message = self.messages.get(timeout=30)
                if test(message):
                    return message
                skipped.append(message)
        finally:
            for message in skipped:  # kept for a later wait (events may arrive before a response)
                self.messages.put(message)

    def event(self, name: str) -> dict[str, Any]:
        return self.wait(lambda m: m["type"] == "event" and m["event"] == name)

    def variables(self, reference: int) -> dict[str, Any]:
        response = self.request("variables", variablesReference=reference)
        assert response["success"], response
        return {v["name"]: v for v in response["body"]["variables"]}

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


def _program(tmp_path: Path) -> Path:
    program = tmp_path / "pipeline.asl.json"
    program.write_text(json.dumps(PIPELINE, indent=2))
    return program


def _line_of(program: Path, key: str) -> int:
    return next(n for n, line in enumerate(program.read_text().splitlines(), 1) if line.strip().startswith(key))


def test_breakpoint_on_a_line_stack_scopes_steps_and_the_end(tmp_path: Path) -> None:
    program = _program(tmp_path)
    client = Client(tmp_path / "ws")
    init = client.request("initialize", adapterID="sfn-local")
    assert init["body"]["supportsConfigurationDoneRequest"]
    client.event("initialized")
    # The line of Transform's key (inside the Map's ItemProcessor), with a condition.
    line = _line_of(program, '"Transform"')
    bps = client.request("setBreakpoints", source={"path": str(program)},
                         breakpoints=[{"line": line, "condition": "$.id == 3"}])
    assert bps["body"]["breakpoints"] == [{"verified": True, "line": line, "message": "Transform"}]
    launched = client.request("launch", program=str(program), input=ITEMS,
                              handlers={"transform": "tests.debug_handlers:transform"})
    assert launched["success"], launched
    # Breakpoints sent again after launch (as editors do) are applied to the session.
    client.request("setBreakpoints", source={"path": str(program)}, breakpoints=[{"line": line, "condition": "$.id == 3"}])
    client.request("configurationDone")

    stopped = client.event("stopped")
    assert stopped["body"]["reason"] == "breakpoint"
    assert client.request("threads")["body"]["threads"] == [{"id": 1, "name": "execution"}]
    frames = client.request("stackTrace", threadId=1)["body"]["stackFrames"]
    assert [(f["name"], f["line"]) for f in frames[:2]] == [("Transform", line), ("Items iteration 2", _line_of(program, '"Items"'))]
    assert frames[-1]["name"].startswith("execution ")

    scopes = {s["name"]: s["variablesReference"] for s in client.request("scopes", frameId=1)["body"]["scopes"]}
    assert set(scopes) == {"Stages", "Variables", "Context"}
    stages = client.variables(scopes["Stages"])
    assert json.loads(stages["input"]["value"]) == {"id": 3}
    assert client.variables(stages["input"]["variablesReference"])["id"]["value"] == "3"  # expandable
    assert json.loads(client.variables(scopes["Variables"])["batch"]["value"]) == "b1"
    context = client.variables(scopes["Context"])
    assert json.loads(client.variables(context["State"]["variablesReference"])["Name"]["value"]) == "Transform"
    assert json.loads(client.request("evaluate", expression="$.id", context="repl")["body"]["result"]) == 3

    # Fix the item's input, then step: the Task succeeds and the next state of the iteration stops.
    edited = client.request("setVariable", variablesReference=scopes["Stages"], name="input",
                            value='{"id": 3, "value": 7}')
    assert edited["success"], edited
    client.request("stepIn", threadId=1)
    assert client.event("stopped")["body"]["reason"] == "step"
    frames = client.request("stackTrace", threadId=1)["body"]["stackFrames"]
    assert frames[0]["name"] == "Format"
    scopes = {s["name"]: s["variablesReference"] for s in client.request("scopes", frameId=1)["body"]["scopes"]}
    assert json.loads(client.variables(scopes["Stages"])["input"]["value"]) == {"id": 3, "doubled": 14}

    # `next` at the iteration's last state goes on in the execution around it.
    client.request("next", threadId=1)
    assert client.event("stopped")["body"]["reason"] == "step"
    assert client.request("stackTrace", threadId=1)["body"]["stackFrames"][0]["name"] == "Done"
    client.request("continue", threadId=1)
    output = client.event("output")
    assert output["body"]["output"].startswith("Execution SUCCEEDED")
    assert json.loads(output["body"]["output"].split(": ", 1)[1])[2] == {"id": 3, "out": 14, "batch": "b1"}
    assert client.event("exited")["body"]["exitCode"] == 0
    client.event("terminated")
    client.request("disconnect")
    client.close()


def test_an_unhandled_error_stops_with_reason_exception(tmp_path: Path) -> None:
    program = _program(tmp_path)
    client = Client(tmp_path / "ws")
    client.request("initialize", adapterID="sfn-local")
    client.request("launch", program=str(program), input=ITEMS, stopOnEntry=True,
                   handlers={"transform": "tests.debug_handlers:transform"})
    client.request("configurationDone")
    assert client.event("stopped")["body"]["reason"] == "entry"
    client.request("continue", threadId=1)
    stopped = client.event("stopped")
    assert stopped["body"]["reason"] == "exception"
    assert stopped["body"]["text"] == "ValueError"
    client.request("stepOut", threadId=1)
    assert client.event("exited")["body"]["exitCode"] == 1
    client.request("disconnect")
    client.close()


def test_launch_errors_are_responses_not_crashes(tmp_path: Path) -> None:
    client = Client(tmp_path / "ws")
    client.request("initialize", adapterID="sfn-local")
    missing = client.request("launch", program=str(tmp_path / "nope.asl.json"))
    assert not missing["success"] and "cannot read program" in missing["message"]
    program = _program(tmp_path)
    bad = client.request("launch", program=str(program), handlers={"transform": "tests.nope:fn"})
    assert not bad["success"] and "handlers:" in bad["message"]
    assert not client.request("stackTrace", threadId=1)["success"]
    client.request("disconnect")
    client.close()


# A loop that runs until n reaches limit, each round a Task that takes real time.
LOOP = {"StartAt": "Count", "States": {
    "Count": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:tick", "Next": "More?"},
    "More?": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThanPath": "$.limit", "Next": "Count"}],
              "Default": "Done"},
    "Done": {"Type": "Succeed"}}}
TICK = "import time\n\ndef tick(event):\n    time.sleep(0.01)\n    return {'n': event['n'] + 1, 'limit': event['limit']}\n"


def test_pause_stops_the_running_execution_at_the_next_state(tmp_path: Path) -> None:
    (tmp_path / "loop_handlers.py").write_text(TICK)
    program = tmp_path / "loop.asl.json"
    program.write_text(json.dumps(LOOP, indent=2))
    client = Client(tmp_path / "ws", PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    client.request("initialize", adapterID="sfn-local")
    refused = client.request("pause", threadId=1)
    assert not refused["success"] and "launch" in refused["message"]
    launched = client.request("launch", program=str(program), input={"n": 0, "limit": 100000},
                              handlers={"tick": "loop_handlers:tick"})
    assert launched["success"], launched
    client.request("configurationDone")
    # Running (no breakpoint, no stop on entry) until the pause: the response comes first, then the stop.
    time.sleep(0.3)
    paused = client.request("pause", threadId=1)
    assert paused["success"], paused
    stopped = client.event("stopped")
    assert stopped["body"]["reason"] == "pause" and stopped["body"]["threadId"] == 1
    assert stopped["seq"] > paused["seq"]
    frame = client.request("stackTrace", threadId=1)["body"]["stackFrames"][0]
    assert frame["name"] in ("Count", "More?") and frame["line"] == _line_of(program, f'"{frame["name"]}"')
    scopes = {s["name"]: s["variablesReference"] for s in client.request("scopes", frameId=1)["body"]["scopes"]}
    at_pause = json.loads(client.variables(scopes["Stages"])["input"]["value"])
    assert 0 <= at_pause["n"] < 100000
    # Paused, nothing moves: a second look sees the same state and input.
    assert json.loads(client.variables(scopes["Stages"])["input"]["value"]) == at_pause
    # Skip to the end of the loop and let it finish.
    edited = client.request("setVariable", variablesReference=scopes["Stages"], name="input",
                            value=json.dumps({"n": 100000, "limit": 100000}))
    assert edited["success"], edited
    client.request("continue", threadId=1)
    output = client.event("output")["body"]["output"]
    assert output.startswith("Execution SUCCEEDED"), output
    assert json.loads(output.split(": ", 1)[1])["n"] >= 100000
    assert client.event("exited")["body"]["exitCode"] == 0
    ended = client.request("pause", threadId=1)
    assert not ended["success"] and "not running" in ended["message"]
    client.request("disconnect")
    client.close()
