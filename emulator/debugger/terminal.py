"""`sfn-local debug`: a pdb-like REPL over a `Session`.

Commands (type `help`): step, next, out, continue, break STATE [if COND], clear [STATE], where, stages,
input, output, vars, ctx, print [--full] EXPR, history, edit input JSON, edit var NAME JSON,
retry [--reload], mock JSON, back N, quit. Values are syntax-coloured JSON (no colour with NO_COLOR);
values longer than a screenful are folded: add `--full` to see all of them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.syntax import Syntax

from emulator.cli import _load_machine, _read_input, execution_options
from emulator.debugger.session import DebuggerError, Finished, Session, Stop, describe_path

# Lines of a value shown before it is folded (`--full` shows the rest).
FOLD_LINES = 20

HELP = """\
step (s)              run to the next state, into Parallel branches and Map iterations
next (n)              run to the next state of this branch (over branches and iterations)
out                   run until this branch or iteration ends
continue (c)          run to the next breakpoint or error
break STATE [if C]    stop when STATE starts (C: `$.id == 3`, a JSONPath, or JSONata on $states.input)
clear [STATE]         remove breakpoints (all, or STATE's)
where (w)             where the execution is stopped: branch and iteration indexes, retry attempt
stages                the data-flow stages of this state so far
input | output | vars | ctx    the state's input, the last output in this branch, variables, $$
print [--full] EXPR   a JSONPath ($.a, $$.State, $var) or JSONata expression over the input
history [N]           the execution's events so far (the last N)
edit input JSON       the state runs with this input (after a failure: on `retry`)
edit var NAME JSON    set a variable
retry [--reload]      run the failed state again (--reload: re-import its handler modules first)
mock JSON             the current Task returns JSON without running its handler
back N                run again from N states back in this branch, with that state's input and variables
quit (q)              abort the execution and leave"""


class Repl:
    def __init__(self, session: Session, console: Console) -> None:
        self.session = session
        self.console = console

    # -- output ---------------------------------------------------------------------------------
    def show(self, value: Any, full: bool = False, title: str | None = None) -> None:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        lines = text.splitlines()
        folded = not full and len(lines) > FOLD_LINES
        if folded:
            text = "\n".join(lines[:FOLD_LINES])
        if title:
            self.console.print(f"[bold]{title}[/bold]")
        self.console.print(Syntax(text, "json", theme="ansi_dark", background_color="default", word_wrap=True))
        if folded:
            self.console.print(f"… {len(lines) - FOLD_LINES} more lines (add --full to see them all)",
                               style="dim", highlight=False)

    def say(self, text: str, style: str | None = None) -> None:
        self.console.print(text, style=style, highlight=False, markup=False, soft_wrap=True)

    def announce(self, stop: Stop) -> None:
        where = describe_path(stop.path, stop.name, stop.ctx.retry_count)
        if stop.kind == "failed":
            err = stop.error
            self.say(f"Error in {where}: {err.error}: {err.cause}", "bold red")
        else:
            self.say(f"Stopped ({stop.reason}) at {where}", "bold yellow")
        if stop.note:
            self.say(stop.note, "yellow")
        self.show(stop.input, title="input")

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> int:
        self.session.start()
        while True:
            event = self.session.next_event()
            if isinstance(event, Finished):
                return self.finished(event)
            self.announce(event)
            if self.prompt() == "quit":
                execution = self.session.execution
                execution.wait(5)
                self.say(f"Execution {execution.status}")
                return 1

    def finished(self, event: Finished) -> int:
        execution = event.execution
        if execution.status == "SUCCEEDED":
            self.say("Execution SUCCEEDED", "bold green")
            self.show(execution.output, title="output")
            return 0
        self.say(f"Execution {execution.status}: {execution.error}: {execution.cause}", "bold red")
        return 1

    def prompt(self) -> str:
        """Read commands until one resumes the execution; returns that command's name."""
        while True:
            try:
                line = input("(sfn) ")
            except EOFError:
                line = "quit"
            line = line.strip()
            if not line:
                continue
            name, _, rest = line.partition(" ")
            command = self.commands().get(name)
            if command is None:
                self.say(f"unknown command '{name}' (type help)", "red")
                continue
            try:
                resumed = command(rest.strip())
            except DebuggerError as exc:
                self.say(f"error: {exc}", "red")
                continue
            if resumed:
                return resumed

    def commands(self) -> dict[str, Callable[[str], str | None]]:
        table: dict[str, Callable[[str], str | None]] = {
            "step": self.resume("step"), "s": self.resume("step"),
            "next": self.resume("next"), "n": self.resume("next"),
            "out": self.resume("out"),
            "continue": self.resume("continue"), "c": self.resume("continue"),
            "quit": self.resume("quit"), "q": self.resume("quit"),
            "break": self.do_break, "b": self.do_break, "clear": self.do_clear,
            "where": self.do_where, "w": self.do_where, "stages": self.do_stages,
            "input": self.do_input, "output": self.do_output, "vars": self.do_vars, "ctx": self.do_ctx,
            "print": self.do_print, "p": self.do_print, "history": self.do_history,
            "edit": self.do_edit, "retry": self.do_retry, "mock": self.do_mock, "back": self.do_back,
            "help": self.do_help, "h": self.do_help,
        }
        return table

    def resume(self, mode: str) -> Callable[[str], str]:
        def go(_: str) -> str:
            self.session.resume(mode)
            return mode

        return go

    # -- commands -------------------------------------------------------------------------------
    def do_help(self, _: str) -> None:
        self.say(HELP)

    def do_break(self, arg: str) -> None:
        if not arg:
            for bps in self.session.breakpoints.values():
                for bp in bps:
                    self.say(f"break {bp.state}" + (f" if {bp.condition}" if bp.condition else ""))
            return
        bp = self.session.add_breakpoint(arg)
        self.say(f"Breakpoint at {bp.state}" + (f" if {bp.condition}" if bp.condition else ""))

    def do_clear(self, arg: str) -> None:
        count = self.session.clear(arg or None)
        self.say(f"Cleared {count} breakpoint(s)")

    def do_where(self, _: str) -> None:
        stop = self.session.require_stop()
        for depth, (owner, index) in enumerate(stop.path):
            kind = "iteration" if self.session.machine_state(owner) == "Map" else "branch"
            self.say(f"{'  ' * depth}{owner} {kind} {index}")
        retry = f", retry attempt {stop.ctx.retry_count}" if stop.ctx.retry_count else ""
        what = "failed" if stop.kind == "failed" else "about to run"
        self.say(f"{'  ' * len(stop.path)}→ {stop.name} ({stop.state.type}, {what}{retry})")

    def do_stages(self, arg: str) -> None:
        for name, value in self.session.stages():
            self.show(value, full=arg == "--full", title=name)

    def do_input(self, arg: str) -> None:
        self.show(self.session.require_stop().input, full=arg == "--full")

    def do_output(self, arg: str) -> None:
        last = self.session.last_output()
        if last is None:
            self.say("no state has finished in this branch yet")
            return
        self.show(last[1], full=arg == "--full", title=f"output of {last[0]}")

    def do_vars(self, arg: str) -> None:
        self.show(self.session.variables(), full=arg == "--full")

    def do_ctx(self, arg: str) -> None:
        self.show(self.session.context_object(), full=arg == "--full")

    def do_print(self, arg: str) -> None:
        full = arg.startswith("--full")
        expression = arg.removeprefix("--full").strip()
        if not expression:
            raise DebuggerError("print needs an expression: print [--full] $.path")
        self.show(self.session.evaluate(expression), full=full)

    def do_history(self, arg: str) -> None:
        events = self.session.history()
        if arg:
            events = events[-_integer(arg):]
        for event in events:
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), None)
            name = details.get("name", "") if isinstance(details, dict) else ""
            self.say(f"{event['id']:>4}  {event['type']}  {name}")

    def do_edit(self, arg: str) -> None:
        what, _, rest = arg.partition(" ")
        if what == "input":
            self.session.edit_input(_json(rest))
            stop = self.session.require_stop()
            when = "when it runs" if stop.kind == "entered" else "on retry"
            self.say(f"{stop.name} runs with the new input {when}")
        elif what == "var":
            name, _, value = rest.strip().partition(" ")
            if not name:
                raise DebuggerError("edit var NAME JSON")
            self.session.edit_variable(name, _json(value))
            self.say(f"${name} set")
        else:
            raise DebuggerError("edit input JSON | edit var NAME JSON")

    def do_retry(self, arg: str) -> str:
        stop = self.session.require_stop()
        reloaded = self.session.retry(reload=arg == "--reload")
        if reloaded:
            self.say(f"Reloaded {', '.join(reloaded)}")
        self.say(f"Running {stop.name} again")
        return "retry"

    def do_mock(self, arg: str) -> None:
        self.session.mock(_json(arg))
        self.say(f"{self.session.require_stop().name} returns the mocked result when it runs (continue/step/retry)")

    def do_back(self, arg: str) -> str:
        state = self.session.back(_integer(arg or "1"))
        self.say(f"Back to {state}")
        return "back"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DebuggerError(f"not JSON: {exc.msg} at column {exc.colno}") from None


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DebuggerError(f"expected a number, not '{text}'") from None


@click.command("debug")
@click.argument("definition")
@execution_options
@click.option("--break", "breaks", multiple=True, metavar="'STATE [if CONDITION]'",
              help="Stop when STATE starts (and CONDITION holds on its input). Repeatable.")
@click.option("--break-on-error/--no-break-on-error", default=True,
              help="Stop at an error no Retry or Catch handles (default: on).")
@click.option("--stop-on-entry/--no-stop-on-entry", default=True, help="Stop before the first state (default: on).")
def debug_command(definition: str, input_: str | None, name: str | None, real_time: bool, seed: int | None,
                  handlers: tuple[str, ...], breaks: tuple[str, ...], break_on_error: bool,
                  stop_on_entry: bool) -> None:
    """Run DEFINITION step by step (pdb-like; type `help` at the prompt)."""
    data = _read_input(input_) if input_ is not None else {}
    machine = _load_machine(definition, handlers)
    session = Session(machine, data, seed=seed, clock="real" if real_time else "virtual",
                      break_on_error=break_on_error, stop_on_entry=stop_on_entry, name=name)
    for spec in breaks:
        try:
            session.add_breakpoint(spec)
        except DebuggerError as exc:
            click.echo(f"error: --break {spec}: {exc}", err=True)
            sys.exit(2)
    console = Console(highlight=False)
    sys.exit(Repl(session, console).run())
