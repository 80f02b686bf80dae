"""`sfn-local dap`: the debugger as a Debug Adapter Protocol server over stdio.

Messages are JSON bodies after a `Content-Length: N` header and a blank line. The execution is one DAP
thread; its stack is the nesting of the stopped state (execution → Parallel branch / Map iteration →
state), each frame on its state's line in the `.asl.json` file. A breakpoint set on a line stops at the
state whose key is on that line (or the nearest state key above it); its condition is a breakpoint
condition of the terminal debugger (`$.id == 3`, a JSONPath, or JSONata over `$states.input`).
Launch arguments: `program` (the definition), `input` (a JSON value), `handlers` ({NAME_OR_ARN:
"module:function"}), `stopOnEntry` (default false), `breakOnError` (default true), `seed`, `workspace`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

import click

from emulator.debugger.session import DebuggerError, Finished, Session, Stop
from emulator.engine.execution import StateMachine
from emulator.errors import DefinitionError
from emulator.integrations.python import HandlerLoadError, load_callable
from emulator.workspace import ConfigError, Workspace

THREAD_ID = 1
_SCOPES = ("Stages", "Variables", "Context")


# -- where each state's key is in the definition's text -----------------------------------------------
class _Scanner:
    """A JSON reader that keeps, for every object, the line each of its keys is on."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1

    def skip(self) -> None:
        text = self.text
        while self.pos < len(text) and text[self.pos] in " \t\r\n":
            if text[self.pos] == "\n":
                self.line += 1
            self.pos += 1

    def value(self) -> Any:
        self.skip()
        char = self.text[self.pos]
        if char == "{":
            return self.obj()
        if char == "[":
            self.pos += 1
            items = []
            self.skip()
            if self.text[self.pos] == "]":
                self.pos += 1
                return items
            while True:
                items.append(self.value())
                self.skip()
                self.pos += 1  # , or ]
                if self.text[self.pos - 1] == "]":
                    return items
        if char == '"':
            return self.string()
        decoder = json.JSONDecoder()
        value, end = decoder.raw_decode(self.text, self.pos)
        self.pos = end
        return value

    def string(self) -> str:
        value, end = json.decoder.scanstring(self.text, self.pos + 1)
        self.pos = end
        return value

    def obj(self) -> dict[str, tuple[int, Any]]:
        self.pos += 1
        out: dict[str, tuple[int, Any]] = {}
        self.skip()
        if self.text[self.pos] == "}":
            self.pos += 1
            return out
        while True:
            self.skip()
            line = self.line
            key = self.string()
            self.skip()
            self.pos += 1  # :
            out[key] = (line, self.value())
            self.skip()
            self.pos += 1  # , or }
            if self.text[self.pos - 1] == "}":
                return out


def state_lines(text: str) -> dict[str, int]:
    """The line of each state's key, in the top-level "States" and in every nested one."""
    lines: dict[str, int] = {}

    def machine(node: Any) -> None:
        if not isinstance(node, dict) or not isinstance(node.get("States", (0, None))[1], dict):
            return
        for name, (line, body) in node["States"][1].items():
            lines.setdefault(name, line)
            if not isinstance(body, dict):
                continue
            branches = body.get("Branches", (0, None))[1]
            for branch in branches if isinstance(branches, list) else ():
                machine(branch)
            for key in ("ItemProcessor", "Iterator"):
                if key in body:
                    machine(body[key][1])

    # Not JSON: no lines, so breakpoints stay unverified.
    with contextlib.suppress(ValueError, IndexError):
        machine(_Scanner(text).value())
    return lines


# -- the server -------------------------------------------------------------------------------------
class Server:
    def __init__(self, reader: BinaryIO, writer: BinaryIO) -> None:
        self.reader = reader
        self.writer = writer
        self.write_lock = threading.Lock()
        self.seq = 0
        self.session: Session | None = None
        self.program: str | None = None
        self.lines: dict[str, int] = {}
        self.breakpoints: list[tuple[str, str | None]] = []  # (state, condition)
        self.configured = False
        self.launched = False
        self.started = False
        self.refs: dict[int, Any] = {}
        self.scope_refs: dict[int, str] = {}
        self.done = threading.Event()

    # -- framing ----------------------------------------------------------------------------------
    def read(self) -> dict[str, Any] | None:
        length = None
        while True:
            line = self.reader.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                break
            name, _, value = line.decode("ascii", "replace").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length is None:
            return None
        return json.loads(self.reader.read(length).decode("utf-8"))

    def send(self, message: dict[str, Any]) -> None:
        with self.write_lock:
            self.seq += 1
            message["seq"] = self.seq
            body = json.dumps(message, default=str).encode("utf-8")
            self.writer.write(f"Content-Length: {len(body)}\r\n\r\n".encode("ascii") + body)
            self.writer.flush()

    def event(self, name: str, body: dict[str, Any] | None = None) -> None:
        self.send({"type": "event", "event": name, "body": body or {}})

    def respond(self, request: dict[str, Any], body: dict[str, Any] | None = None, error: str | None = None) -> None:
        message: dict[str, Any] = {"type": "response", "request_seq": request.get("seq", 0),
                                   "command": request.get("command", ""), "success": error is None}
        if error is not None:
            message["message"] = error
            message["body"] = {"error": {"id": 1, "format": error}}
        else:
            message["body"] = body or {}
        self.send(message)

    # -- the loop ---------------------------------------------------------------------------------
    def serve(self) -> None:
        while not self.done.is_set():
            request = self.read()
            if request is None:
                break
            if request.get("type") != "request":
                continue
            command = request.get("command", "")
            handler = getattr(self, "on_" + command, None)
            if handler is None:
                self.respond(request, error=f"unsupported request '{command}'")
                continue
            try:
                body = handler(request.get("arguments") or {})
            except (DebuggerError, ValueError, KeyError, TypeError) as exc:
                self.respond(request, error=str(exc))
                continue
            self.respond(request, body)
            if command == "initialize":
                self.event("initialized")
            elif command == "disconnect":
                break

    def _maybe_start(self) -> None:
        if self.launched and self.configured and not self.started:
            self.started = True
            self.session.start()
            threading.Thread(target=self._pump, name="sfn-dap-events", daemon=True).start()

    def _pump(self) -> None:
        """Turn the session's stops and its end into DAP events."""
        while True:
            item = self.session.next_event()
            if isinstance(item, Finished):
                execution = item.execution
                detail = (json.dumps(execution.output) if execution.status == "SUCCEEDED"
                          else f"{execution.error}: {execution.cause}")
                self.event("output", {"category": "console", "output": f"Execution {execution.status}: {detail}\n"})
                self.event("exited", {"exitCode": 0 if execution.status == "SUCCEEDED" else 1})
                self.event("terminated")
                return
            self.refs.clear()
            self.scope_refs.clear()
            body: dict[str, Any] = {"reason": item.reason, "threadId": THREAD_ID, "allThreadsStopped": True}
            if item.error is not None:
                body["description"] = f"{item.error.error}: {item.error.cause}"
                body["text"] = item.error.error
            self.event("stopped", body)

    # -- requests -----------------------------------------------------------------------------------
    def on_initialize(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"supportsConfigurationDoneRequest": True, "supportsConditionalBreakpoints": True,
                "supportsSetVariable": True, "supportsEvaluateForHovers": False,
                "supportsTerminateRequest": False}

    def on_launch(self, args: dict[str, Any]) -> dict[str, Any]:
        program = args.get("program")
        if not isinstance(program, str):
            raise DebuggerError("launch needs 'program': the path of the .asl.json definition")
        try:
            text = Path(program).read_text(encoding="utf-8")
        except OSError as exc:
            raise DebuggerError(f"cannot read program '{program}': {exc.strerror or exc}") from None
        handlers = args.get("handlers") or {}
        if not isinstance(handlers, dict):
            raise DebuggerError("'handlers' must be an object: {NAME_OR_ARN: 'module:function'}")
        try:
            resources = {key: load_callable(spec, os.getcwd()) for key, spec in handlers.items()}
            workspace = Workspace(args.get("workspace"))
            machine = StateMachine(program, name=Path(program).name.split(".")[0] or "StateMachine",
                                   resources=resources, workspace=workspace)
        except HandlerLoadError as exc:
            raise DebuggerError(f"handlers: {exc}") from None
        except ConfigError as exc:
            raise DebuggerError(f"config: {exc}") from None
        except DefinitionError as exc:
            raise DebuggerError("; ".join(f"{d.location or '/'}: {d.message}" for d in exc.diagnostics)) from None
        self.program = program
        self.lines = state_lines(text)
        self.session = Session(machine, args.get("input", {}), seed=args.get("seed"),
                               break_on_error=bool(args.get("breakOnError", True)),
                               stop_on_entry=bool(args.get("stopOnEntry", False)))
        self._apply_breakpoints()
        self.launched = True
        self._maybe_start()
        return {}

    def on_setBreakpoints(self, args: dict[str, Any]) -> dict[str, Any]:
        by_line = sorted((line, name) for name, line in self.lines.items())
        if not by_line and (path := (args.get("source") or {}).get("path")):
            try:
                self.lines = state_lines(Path(path).read_text(encoding="utf-8"))
            except OSError:
                self.lines = {}
            by_line = sorted((line, name) for name, line in self.lines.items())
        self.breakpoints = []
        out = []
        for spec in args.get("breakpoints") or []:
            line = spec.get("line", 0)
            above = [entry for entry in by_line if entry[0] <= line]
            if not above:
                out.append({"verified": False, "line": line, "message": "no state on or above this line"})
                continue
            state_line, name = above[-1]
            self.breakpoints.append((name, spec.get("condition") or None))
            out.append({"verified": True, "line": state_line, "message": name})
        self._apply_breakpoints()
        return {"breakpoints": out}

    def _apply_breakpoints(self) -> None:
        if self.session is None:
            return
        self.session.clear()
        for name, condition in self.breakpoints:
            self.session.add_breakpoint(name + (f" if {condition}" if condition else ""))

    def on_configurationDone(self, args: dict[str, Any]) -> dict[str, Any]:
        self.configured = True
        self._maybe_start()
        return {}

    def on_threads(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"threads": [{"id": THREAD_ID, "name": "execution"}]}

    def _stop(self) -> Stop:
        if self.session is None:
            raise DebuggerError("not launched")
        return self.session.require_stop()

    def on_stackTrace(self, args: dict[str, Any]) -> dict[str, Any]:
        stop = self._stop()
        source = {"name": Path(self.program).name, "path": str(Path(self.program).resolve())}
        retry = f" (retry {stop.ctx.retry_count})" if stop.ctx.retry_count else ""
        frames = [{"id": 1, "name": f"{stop.name}{retry}", "line": self.lines.get(stop.name, 1), "column": 1,
                   "source": source}]
        for depth, (owner, index) in enumerate(reversed(stop.path)):
            kind = "iteration" if self.session.machine_state(owner) == "Map" else "branch"
            frames.append({"id": depth + 2, "name": f"{owner} {kind} {index}", "line": self.lines.get(owner, 1),
                           "column": 1, "source": source})
        execution = self.session.execution
        frames.append({"id": len(frames) + 1, "name": f"execution {execution.name}", "line": 1, "column": 1,
                       "source": source})
        return {"stackFrames": frames, "totalFrames": len(frames)}

    def _ref(self, value: Any) -> int:
        if not isinstance(value, dict | list) or not value:
            return 0
        ref = len(self.refs) + len(_SCOPES) + 1
        self.refs[ref] = value
        return ref

    def on_scopes(self, args: dict[str, Any]) -> dict[str, Any]:
        self._stop()
        scopes = []
        for number, name in enumerate(_SCOPES, start=1):
            self.scope_refs[number] = name
            scopes.append({"name": name, "variablesReference": number, "expensive": False})
        return {"scopes": scopes}

    def _scope_value(self, name: str) -> Any:
        session = self.session
        if name == "Stages":
            stages: dict[str, Any] = {}
            for stage, value in session.stages():
                stages[stage] = value
            return stages
        if name == "Variables":
            return session.variables()
        return session.context_object()

    def on_variables(self, args: dict[str, Any]) -> dict[str, Any]:
        self._stop()
        ref = args["variablesReference"]
        value = self._scope_value(self.scope_refs[ref]) if ref in self.scope_refs else self.refs.get(ref)
        items = value.items() if isinstance(value, dict) else enumerate(value or [])
        return {"variables": [self._variable(str(key), item) for key, item in items]}

    def _variable(self, name: str, value: Any) -> dict[str, Any]:
        return {"name": name, "value": json.dumps(value, ensure_ascii=False), "variablesReference": self._ref(value),
                "type": type(value).__name__}

    def on_setVariable(self, args: dict[str, Any]) -> dict[str, Any]:
        self._stop()
        scope = self.scope_refs.get(args["variablesReference"])
        try:
            value = json.loads(args["value"])
        except json.JSONDecodeError as exc:
            raise DebuggerError(f"not JSON: {exc.msg}") from None
        if scope == "Variables":
            self.session.edit_variable(args["name"], value)
        elif scope == "Stages" and args["name"] == "input":
            self.session.edit_input(value)
        else:
            raise DebuggerError("only the Variables and the Stages' input can be set")
        return {"value": json.dumps(value), "variablesReference": self._ref(value)}

    def on_evaluate(self, args: dict[str, Any]) -> dict[str, Any]:
        self._stop()
        value = self.session.evaluate(args.get("expression", ""))
        return {"result": json.dumps(value, ensure_ascii=False), "variablesReference": self._ref(value)}

    def _resume(self, mode: str) -> dict[str, Any]:
        self._stop()
        self.session.resume(mode)
        return {"allThreadsContinued": True}

    def on_continue(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._resume("continue")

    def on_next(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._resume("next")

    def on_stepIn(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._resume("step")

    def on_stepOut(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._resume("out")

    def on_pause(self, args: dict[str, Any]) -> dict[str, Any]:
        # DAP: the response first, then a `stopped` event (reason "pause") when the next state is entered.
        if self.session is None or not self.started:
            raise DebuggerError("nothing is running: launch the state machine first")
        self.session.pause()
        return {}

    def on_disconnect(self, args: dict[str, Any]) -> dict[str, Any]:
        session = self.session
        if session is not None and session.execution is not None:
            if session.current is not None:
                session.resume("quit")
            else:
                session.execution.stop("Debugger.Quit", "The debugger disconnected.")
        self.done.set()
        return {}


@click.command("dap")
def dap_command() -> None:
    """Serve the Debug Adapter Protocol on stdin/stdout (for editors: see the README's launch.json)."""
    reader, writer = sys.stdin.buffer, sys.stdout.buffer
    # Handlers that print must not corrupt the protocol stream.
    sys.stdout = sys.stderr
    Server(reader, writer).serve()
