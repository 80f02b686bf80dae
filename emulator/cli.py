"""`sfn-local`: run, validate and inspect state machines from the shell.

Exit codes: 0 the execution succeeded (or the definitions are valid); 1 it did not
(FAILED, TIMED_OUT, ABORTED) or a definition is invalid; 2 the command itself was wrong
(missing file, malformed JSON, bad option). Never a traceback for bad input.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from emulator import DefinitionError, StateMachine, validate
from emulator.backends import Backends
from emulator.backends.objectstore import ObjectStore, S3Error, parse_uri
from emulator.engine.execution import Execution
from emulator.engine.history import MAX_PAYLOAD_BYTES
from emulator.errors import ExecutionAlreadyExists, InvalidName, StartExecutionError, check_execution_name
from emulator.integrations.python import HandlerLoadError, load_callable
from emulator.workspace import ConfigError, Workspace

if TYPE_CHECKING:
    from emulator.store import Recorder, Store


def _workspace() -> Workspace:
    """The workspace chosen by --workspace / SFN_LOCAL_WORKSPACE (default ./.sfn-local)."""
    ctx = click.get_current_context()
    root = ctx.find_root().params.get("workspace")
    try:
        return Workspace(root)
    except ConfigError as exc:
        _fail(f"config: {exc}")


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _too_large(size: int) -> NoReturn:
    # StartExecution's `input` is limited to 262144 bytes of UTF-8 (its model's length constraint).
    _fail(f"ValidationException: 1 validation error detected: Value at 'input' failed to satisfy constraint: "
          f"Member must have length less than or equal to {MAX_PAYLOAD_BYTES} (the input has {size} bytes)")


def _read_input(value: str) -> Any:
    """`--input '{"a":1}'` or `--input @file.json`; refused unread when over StartExecution's size limit."""
    text, origin = value, "input"
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            if path.is_file() and (size := path.stat().st_size) > MAX_PAYLOAD_BYTES:
                _too_large(size)
            raw = path.read_bytes()
        except (OSError, ValueError) as exc:
            _fail(f"cannot read input file '{path}': {getattr(exc, 'strerror', None) or exc}")
        if len(raw) > MAX_PAYLOAD_BYTES:  # a pipe or device has no size until it is read
            _too_large(len(raw))
        origin = str(path)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            _fail(f"{origin} is not UTF-8 text (byte {exc.start}: {exc.reason}); the input must be JSON")
    elif (size := len(value.encode("utf-8", errors="surrogatepass"))) > MAX_PAYLOAD_BYTES:
        _too_large(size)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"{origin} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except RecursionError:
        _fail(f"{origin} is not usable JSON: it nests arrays/objects too deeply")


def _load_handler(spec: str) -> tuple[str, Callable[..., Any]]:
    """`NAME_OR_ARN=package.module:function` → (key, callable)."""
    key, sep, target = spec.partition("=")
    if not sep or not key:
        _fail(f"--handler expects NAME_OR_ARN=module:function, got '{spec}'")
    try:
        return key, load_callable(target, os.getcwd())
    except HandlerLoadError as exc:
        _fail(f"--handler {spec}: {exc}")


def _print_diagnostics(source: str, diagnostics: list[Any]) -> None:
    for d in diagnostics:
        click.echo(f"{source}: {d.location or '/'}: {d.message} [{d.code}]")


def _load_machine(definition: str, handlers: tuple[str, ...]) -> StateMachine:
    resources = dict(_load_handler(h) for h in handlers)
    name = Path(definition).name.split(".")[0] if not definition.lstrip().startswith("{") else "StateMachine"
    try:
        return StateMachine(definition, name=name or "StateMachine", resources=resources, workspace=_workspace())
    except DefinitionError as exc:
        _print_diagnostics(definition, exc.diagnostics)
        sys.exit(1)
    except OSError as exc:
        _fail(f"cannot read definition '{definition}': {exc.strerror or exc}")


@contextlib.contextmanager
def _store_errors(path: Path) -> Iterator[None]:
    """A store that cannot be read or written (not a database, locked too long) is one error line."""
    import sqlite3

    from emulator.store import StoreUnavailable

    try:
        yield
    except (sqlite3.Error, StoreUnavailable) as exc:
        _fail(f"{path}: cannot use the executions store: {exc}", 1)


def _store_path(ws: Workspace) -> Path:
    return ws.root / "stepfunctions" / "store.sqlite3"


def _open_store(ws: Workspace) -> Store:
    """The workspace's store of state machines and executions, the one `serve` keeps (made when missing)."""
    from emulator.store import Store

    with _store_errors(_store_path(ws)):
        return Store(ws)


def _machine_snapshot(store: Store, machine: StateMachine) -> dict[str, Any]:
    """Record the state machine as CreateStateMachine / UpdateStateMachine would (its definition a new
    revision when it changed) and return the snapshot an execution keeps of it."""
    from emulator.store import MACHINE

    text = json.dumps(machine.definition, ensure_ascii=False)
    revision = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    now = time.time()
    doc = store.get(MACHINE, machine.arn)
    if doc is None:
        doc = {"stateMachineArn": machine.arn, "name": machine.name, "status": "ACTIVE", "definition": text,
               "roleArn": machine.role_arn, "type": "STANDARD", "creationDate": now,
               "loggingConfiguration": {"level": "OFF", "includeExecutionData": False},
               "tracingConfiguration": {"enabled": False}, "revisionId": revision, "_lastVersion": 0,
               "_publishedRevision": None}
        store.put(MACHINE, machine.arn, doc, name=machine.name, created=now)
    elif doc.get("definition") != text:
        doc.update(definition=text, revisionId=revision, updateDate=now)
        store.put(MACHINE, machine.arn, doc, name=machine.name)
    return {"stateMachineArn": machine.arn, "name": machine.name, "definition": text, "roleArn": machine.role_arn,
            "updateDate": doc.get("updateDate") or doc["creationDate"],
            "loggingConfiguration": doc["loggingConfiguration"], "tracingConfiguration": doc["tracingConfiguration"],
            "revisionId": doc["revisionId"]}


def _extra(snapshot: dict[str, Any], seed: int | None) -> dict[str, Any]:
    """What the store keeps beside a CLI execution: its machine, and the process that runs it."""
    from emulator.store import CLI

    return {"_machine": snapshot, "_type": "STANDARD", "_seed": seed, "_origin": CLI, "_pid": os.getpid()}


def _claim(machine: StateMachine, execution: Execution, seed: int | None) -> Recorder:
    """Record the execution RUNNING before it runs (its events then as they happen), or fail with
    ExecutionAlreadyExists as StartExecution does: a name is taken once per state machine, by a run or the server."""
    from emulator.store import Recorder

    ws = machine.backends.workspace
    store = _open_store(ws)
    with _store_errors(_store_path(ws)):
        recorder = Recorder(store)
        if recorder.claim(execution, _extra(_machine_snapshot(store, machine), seed)) is None:
            store.close()
            exc = ExecutionAlreadyExists(execution.arn)
            _fail(f"{exc.code}: {exc.message} (see `sfn-local executions`; pick another --name)")
    return recorder


def _finish(recorder: Recorder) -> None:
    """Commit the execution's last events and its end, and close the store."""
    with _store_errors(recorder.store.path):
        recorder.close()
    recorder.store.close()


def save_finished(workspace: Workspace, execution: Execution) -> None:
    """Record an execution that ran to its end elsewhere (`watch`), with its events; warn when that fails."""
    from emulator.store import execution_document

    if execution.state_machine is None:
        return
    store = _open_store(workspace)
    try:
        with _store_errors(store.path):
            doc = execution_document(execution, _extra(_machine_snapshot(store, execution.state_machine), None))
            if store.write([(execution.arn, execution.history, execution.history_paths)], [], [doc]):
                click.echo(f"warning: not recorded: {ExecutionAlreadyExists(execution.arn).message}", err=True)
    finally:
        store.close()


def _execution_name(name: str | None) -> str:
    """The execution's name: --name, else a fresh UUID (as StartExecution makes one), whatever the --seed."""
    if name is not None:
        try:
            return check_execution_name(name)
        except InvalidName as exc:
            _fail(f"{exc.code}: {exc.message}")
    return str(uuid.uuid4())


# Commands whose modules pull in heavy dependencies (the ASGI stack, ...): imported only when used,
# so `sfn-local run` starts fast.
_LAZY_COMMANDS = {
    "serve": "emulator.server.serve:serve_command",
    "test-state": "emulator.teststate:test_state_command",
    "test": "emulator.testing.cli:test_command",
    "check": "emulator.testing.preflight:check_command",
    "debug": "emulator.debugger.terminal:debug_command",
    "dap": "emulator.debugger.dap:dap_command",
    "ui": "emulator.console.command:ui_command",
    "deploy": "emulator.remote:deploy_command",
    "watch": "emulator.watch:watch_command",
}


class _Cli(click.Group):
    """The root group: a file-system error in any command is one line (exit 1), not a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in _LAZY_COMMANDS:
            module, _, attr = _LAZY_COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{where}{exc.strerror or exc}", 1)
        except ConfigError as exc:
            _fail(f"config: {exc}")


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sfn-local")
@click.option("--workspace", type=click.Path(file_okay=False), default=None,
              help="Local state (S3, catalog, query results, executions); default ./.sfn-local "
                   "or $SFN_LOCAL_WORKSPACE.")
def cli(workspace: str | None) -> None:
    """Run AWS Step Functions state machines locally."""


def main() -> None:
    """Console entry point: any unexpected error is one line, not a traceback (SFN_LOCAL_DEBUG=1 shows it)."""
    try:
        cli(standalone_mode=True)
    except Exception as exc:
        if os.environ.get("SFN_LOCAL_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set SFN_LOCAL_DEBUG=1 for the traceback)", 3)


# The options of commands that start an execution (`run`, `debug`), in the order help lists them.
_EXECUTION_OPTIONS = (
    click.option("--input", "input_", default=None, help="Execution input: JSON text, or @file.json."),
    click.option("--name", default=None, help="Execution name (default: a UUID)."),
    click.option("--real-time", is_flag=True, help="Sleep for real in Wait states and retry back-off."),
    click.option("--seed", type=int, default=None, help="Seed for States.UUID, States.MathRandom and jitter."),
    click.option("--handler", "handlers", multiple=True, metavar="NAME_OR_ARN=module:function",
                 help="Back a Task resource (or Lambda function name) with a Python function. Repeatable."),
)


def execution_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --input, --name, --real-time, --seed and --handler to a command."""
    for option in reversed(_EXECUTION_OPTIONS):
        command = option(command)
    return command


@cli.command("run")
@click.argument("definition")
@execution_options
@click.option("--json", "as_json", is_flag=True, help="Print the execution as JSON (DescribeExecution's shape).")
@click.option("--history", "show_history", is_flag=True, help="Also print the execution history.")
@click.option("--mock-config", default=None, metavar="FILE",
              help="AWS's mock config file (Step Functions Local's format); default $SFN_MOCK_CONFIG.")
@click.option("--test-case", default=None, help="The mock config's test case to run; default $SFN_MOCK_TEST_CASE.")
@click.option("--allow-missing", is_flag=True,
              help="Run even when a Task's resource has no local handler, mock or backend (it fails as AWS would).")
@click.option("--target", "target_specs", multiple=True, metavar="SERVICE=local|aws",
              help="Send SERVICE's Task calls to AWS (boto3) or keep them local; beats SFN_LOCAL_TARGET and "
                   "[targets]. Repeatable.")
@click.option("--on", "on", type=click.Choice(["local", "aws"]), default="local", show_default=True,
              help="Run the whole state machine here, or on AWS Step Functions (its events streamed here).")
def run_command(definition: str, input_: str | None, name: str | None, real_time: bool, seed: int | None,
                handlers: tuple[str, ...], as_json: bool, show_history: bool, mock_config: str | None,
                test_case: str | None, allow_missing: bool, target_specs: tuple[str, ...], on: str) -> None:
    """Run DEFINITION (a .json file) and print its result."""
    from emulator import targets
    from emulator.integrations.mocks import MockConfigError, test_case_for
    from emulator.integrations.registry import prewarm
    from emulator.testing.cli import run_options
    from emulator.testing.preflight import format_missing, preflight, resource_arns

    chosen = _execution_name(name)
    data = _read_input(input_) if input_ is not None else {}
    if on == "aws":
        from emulator.remote import RemoteError, run_on_aws

        if handlers or mock_config or test_case or target_specs:
            _fail("--on aws runs the state machine in AWS Step Functions: --handler, --mock-config, --test-case "
                  "and --target apply to local runs only")
        stem = Path(definition).name.split(".")[0] if not definition.lstrip().startswith("{") else "StateMachine"
        try:
            sys.exit(run_on_aws(definition, data, chosen, stem or "StateMachine", as_json, show_history))
        except RemoteError as exc:
            _fail(str(exc), 1)
    try:
        targets.use_cli_targets(targets.parse_cli(target_specs))
    except targets.TargetError as exc:
        _fail(str(exc))
    machine = _load_machine(definition, handlers)
    mocks = run_options(mock_config, test_case)
    try:
        case = test_case_for(machine.name, **mocks)
    except MockConfigError as exc:
        _fail(str(exc))
    try:
        real = targets.check_ready(machine.definition, machine.backends.workspace)
    except targets.TargetError as exc:
        _fail(str(exc))
    # A state whose service is switched to AWS needs nothing local.
    missing = [m for m in preflight(machine, machine.resources, case)
               if not any(m.state in states for states in real.values())]
    if missing and not allow_missing:
        _fail(format_missing(missing), 1)
    prewarm(resource_arns(machine.definition))  # what its Tasks' first calls load, loaded while it runs
    progress = None
    if not as_json and sys.stdout.isatty():  # a person is watching: live progress, then one summary line
        from rich.console import Console

        from emulator.progress import Progress
        # The terminal itself, not whatever sys.stdout is when drawing: while the display is live, rich
        # and the Spark backend each wrap sys.stdout, and a console reading it would write into itself.
        progress = Progress(Console(file=sys.stdout))
    try:
        execution, work = machine.prepare(data, name=chosen, clock="real" if real_time else "virtual", seed=seed,
                                          observer=progress, **mocks)
    except StartExecutionError as exc:  # refused before it started: nothing is recorded
        _fail(f"{exc.code}: {exc.message}")
    recorder = _claim(machine, execution, seed)
    started = time.perf_counter()
    with progress or contextlib.nullcontext():
        work()
    wall = time.perf_counter() - started
    _finish(recorder)
    if progress is not None:
        span = (execution.stop_date - execution.start_date).total_seconds() if execution.stop_date else 0.0
        click.echo(progress.summary(execution.status, wall, span))
    machine.backends.settle()
    if as_json:
        out = execution.describe()
        out["output"] = execution.output
        out["input"] = execution.input
        if show_history:
            out["history"] = execution.history
        click.echo(json.dumps(out, default=str, indent=2, ensure_ascii=False))
    else:
        _print_execution(execution, True, wall)
        if real:
            click.echo(targets.summary(real))
        if show_history:
            _print_history(execution.history)
    sys.exit(0 if execution.status == "SUCCEEDED" else 1)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.3f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _print_execution(execution: Execution, recorded: bool | None, wall: float) -> None:
    states = sum(1 for e in execution.history if e["type"].endswith("StateEntered"))
    span = (execution.stop_date - execution.start_date).total_seconds() if execution.stop_date else 0.0
    click.echo(f"{execution.status}  {execution.name}  ({states} states; execution time {_duration(span)}, "
               f"ran in {wall * 1000:.0f} ms)")
    if execution.status == "SUCCEEDED":
        from emulator.tables import render_output

        click.echo(render_output(execution.output))
    else:
        click.echo(f"  state: {execution.failed_state}")
        # The first error and how it travelled: the Fail state's text alone hides what went wrong.
        root = execution.root_cause
        if root is not None and root.state is not None:
            for line in root.lines():
                click.echo(f"  {line}")
        click.echo(f"  error: {execution.error}")
        click.echo(f"  cause: {execution.cause}")
    if recorded:
        click.echo(f"history: sfn-local history {execution.name}", err=True)


# Longest value `history` prints before folding it (`--full` prints every value whole).
_FOLD_AT = 200


def _fold(value: Any, full: bool) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if full or len(text) <= _FOLD_AT:
        return text
    return f"{text[:_FOLD_AT]}… (+{len(text) - _FOLD_AT} chars, --full to show)"


def _print_history(events: list[dict[str, Any]], full: bool = False) -> None:
    for event in events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        stamp = event["timestamp"]
        stamp = stamp.isoformat(timespec="milliseconds") if hasattr(stamp, "isoformat") else str(stamp)
        brief = ", ".join(f"{k}={_fold(v, full)}" for k, v in details.items() if not k.endswith("Details"))
        click.echo(f"{event['id']:>5} {event['previousEventId']:>5}  {stamp}  {event['type']:<28} {brief}")


def _print_state(events: list[dict[str, Any]], definition: Any, name: str) -> None:
    """Every visit of state `name`: where it ran, its input, its output or error, its attempts, in full."""
    from emulator.engine.trace import Trace

    visits = [v for v in Trace(events, definition if isinstance(definition, dict) else None).visits
              if v.name == name]
    if not visits:
        _fail(f"state '{name}' was not entered in this execution", 1)
    for visit in visits:
        click.echo(f"{visit.label}  ({visit.type}, entered at event #{visit.entered_event}"
                   f"{f', {visit.attempts} attempt(s)' if visit.attempts else ''})")
        click.echo(f"  input:  {_fold(visit.input, True)}")
        if visit.error is not None or visit.cause is not None:
            click.echo(f"  error:  {visit.error}")
            click.echo(f"  cause:  {visit.cause}")
        if visit.exited:
            click.echo(f"  output: {_fold(visit.output, True)}")
        else:
            click.echo("  (did not exit)")


@cli.command("redrive")
@click.argument("execution")
@click.option("--handler", "handlers", multiple=True, metavar="NAME_OR_ARN=module:function",
              help="Back a Task resource (or Lambda function name) with a Python function. Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the execution as JSON (DescribeExecution's shape).")
def redrive_command(execution: str, handlers: tuple[str, ...], as_json: bool) -> None:
    """Redrive a saved FAILED, TIMED_OUT or ABORTED EXECUTION (its name or ARN) from the states that did not
    succeed, with the handlers of --handler and the project's config, as `run` finds them."""
    from emulator.engine.redrive import ExecutionNotRedrivable, prepare_redrive
    from emulator.store import Recorder, execution_document

    ws = _workspace()
    store, doc = _find_execution(ws, execution)
    snapshot = doc.get("_machine")
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("definition"), str):
        _fail(f"execution '{execution}' does not hold its state machine's definition; run it again")
    machine = _load_machine(snapshot["definition"], handlers)
    machine.name = str(snapshot.get("name") or machine.name)
    machine.arn = str(doc.get("stateMachineArn") or machine.arn)
    with _store_errors(store.path):
        events, paths = store.recorded(doc["executionArn"])
    saved = Execution(str(doc.get("name")), str(doc.get("executionArn")), machine.arn,
                      json.loads(doc.get("input") or "{}"))
    saved.status, saved.error, saved.cause = doc.get("status", "RUNNING"), doc.get("error"), doc.get("cause")
    saved.history, saved.state_machine = events, machine
    saved.redrive_count = int(doc.get("redriveCount") or 0)
    saved.start_date = _instant(doc.get("startDate"))
    try:
        work = prepare_redrive(saved, machine, seed=doc.get("_seed"), paths=paths)
    except ExecutionNotRedrivable as exc:
        _fail(f"{exc.code}: {exc.message}", 1)
    extra = {**{k: v for k, v in doc.items() if k.startswith("_") or k in ("stateMachineVersionArn",
                                                                           "stateMachineAliasArn")},
             **_extra(snapshot, doc.get("_seed")), "redriveDate": time.time()}
    with _store_errors(store.path):
        # Taken only while still as read: of two redrives of one execution (two processes, or the server), one runs.
        if not store.transition(execution_document(saved, extra, running=True), str(doc.get("status")),
                                int(doc.get("redriveCount") or 0)):
            _fail(f"ExecutionNotRedrivable: Execution {saved.arn} cannot be redriven: another process redrove it "
                  "first", 1)
        recorder = Recorder(store)
        recorder.track(saved, extra, len(events))
    started = time.perf_counter()
    work()
    wall = time.perf_counter() - started
    _finish(recorder)
    machine.backends.settle()
    if as_json:
        click.echo(json.dumps({**saved.describe(), "output": saved.output, "redriveCount": saved.redrive_count},
                              default=str, indent=2, ensure_ascii=False))
    else:
        _print_execution(saved, True, wall)
    sys.exit(0 if saved.status == "SUCCEEDED" else 1)


@cli.command("validate")
@click.argument("definitions", nargs=-1, required=True)
def validate_command(definitions: tuple[str, ...]) -> None:
    """Check DEFINITIONS as AWS's ValidateStateMachineDefinition would."""
    problems = 0
    for source in definitions:
        try:
            diagnostics = validate(source)
        except OSError as exc:
            click.echo(f"{source}: cannot read: {exc.strerror or exc}")
            problems += 1
            continue
        if diagnostics:
            _print_diagnostics(source, diagnostics)
            problems += len(diagnostics)
        else:
            click.echo(f"{source}: OK")
    sys.exit(1 if problems else 0)


@cli.command("history")
@click.argument("execution")
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
@click.option("--full", is_flag=True, help="Print every value whole (long ones are folded otherwise).")
@click.option("--state", "state_name", default=None, metavar="NAME",
              help="Only the visits of state NAME: input, output, error, in full.")
def history_command(execution: str, as_json: bool, full: bool, state_name: str | None) -> None:
    """Print the history of a saved EXECUTION (its name or ARN): a run's or the server's."""
    store, doc = _find_execution(_workspace(), execution)
    with _store_errors(store.path):
        events = [_readable(e) for e in store.events(doc["executionArn"])]
    if as_json:
        click.echo(json.dumps(events, indent=2, ensure_ascii=False, default=str))
    elif state_name is not None:
        _print_state(events, _definition(doc), state_name)
    else:
        click.echo(f"{doc.get('status')}  {doc.get('name')}  {doc.get('executionArn')}")
        _print_history(events, full)


def _readable(event: dict[str, Any]) -> dict[str, Any]:
    """A stored event with its timestamp (epoch seconds) as an ISO date-time."""
    stamp = _instant(event.get("timestamp"))
    return {**event, "timestamp": stamp.isoformat(timespec="milliseconds")} if stamp is not None else event


def _definition(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The definition a saved execution ran (its snapshot of the state machine)."""
    snapshot = doc.get("_machine")
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        definition = json.loads(snapshot["definition"])
        return definition if isinstance(definition, dict) else None
    return None


def _find_execution(ws: Workspace, execution: str) -> tuple[Store, dict[str, Any]]:
    """The store and the saved execution EXECUTION (its ARN, or its name when one state machine has it),
    or one error line."""
    from emulator.store import EXECUTION

    path = _store_path(ws)
    if not _is_file(path):
        _fail(f"no saved execution '{execution}' (there is no store at {path} yet)")
    store = _open_store(ws)
    with _store_errors(path):
        store.settle_abandoned()
        if execution.startswith("arn:"):
            found = [doc] if (doc := store.get(EXECUTION, execution)) is not None else []
        else:
            found = store.list(EXECUTION, name=execution)
    if not found:
        _fail(f"no saved execution '{execution}' in {path} (`sfn-local executions` lists them)")
    if len(found) > 1:
        machines = ", ".join(sorted(str(d.get("stateMachineArn", "")).rsplit(":", 1)[-1] for d in found))
        _fail(f"execution name '{execution}' is used by several state machines ({machines}): give its ARN")
    return store, found[0]


@cli.command("executions")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def executions_command(as_json: bool) -> None:
    """List saved executions, the CLI's runs and the server's, oldest first."""
    from emulator.engine.report import root_cause
    from emulator.store import CLI, EXECUTION

    ws = _workspace()
    rows: list[dict[str, Any]] = []
    if _is_file(_store_path(ws)):
        store = _open_store(ws)
        with _store_errors(store.path):
            store.settle_abandoned()
            for doc in store.list(EXECUTION):
                failed = doc.get("status") in ("FAILED", "TIMED_OUT", "ABORTED")
                events = store.events(doc["executionArn"]) if failed else []
                rows.append(_listing(doc, events, "cli" if doc.get("_origin") == CLI else "server", root_cause))
        store.close()
    rows.sort(key=lambda r: str(r["start"] or ""))
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"no saved executions in {ws.root}")
        return
    for row in rows:
        duration = "-" if row["duration"] is None else _duration(row["duration"])
        failing = f"  failed in '{row['failingState']}'" if row["failingState"] else ""
        click.echo(f"{row['status']:<10} {row['name']:<38} {row['machine']:<24} {row['start'] or '-':<32} "
                   f"{duration:>10}{failing}")


def _listing(doc: dict[str, Any], events: list[dict[str, Any]], source: str, find_cause: Any) -> dict[str, Any]:
    """One line of `executions`: name, machine, status, start, duration (execution time), failing state."""
    start, stop = _instant(doc.get("startDate")), _instant(doc.get("stopDate"))
    cause = None
    if events:
        with contextlib.suppress(KeyError, TypeError, AttributeError):  # a hand-edited record lists without it
            cause = find_cause(events, _definition(doc))
    return {"name": doc.get("name"), "machine": str(doc.get("stateMachineArn", "")).rsplit(":", 1)[-1],
            "status": doc.get("status"), "start": start.isoformat() if start else None,
            "duration": (stop - start).total_seconds() if start and stop else None,
            "failingState": cause.state if cause is not None else None, "redriveCount": doc.get("redriveCount", 0),
            "source": source}


def _instant(value: Any) -> Any:
    """A saved timestamp (epoch seconds) as a datetime, or None."""
    from datetime import UTC, datetime

    if isinstance(value, int | float) and not isinstance(value, bool):
        with contextlib.suppress(ValueError, OverflowError, OSError):
            return datetime.fromtimestamp(value, tz=UTC)
    return None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, or with a NUL
        return False


@cli.group("s3")
def s3_group() -> None:
    """The local object store: s3://bucket/key paths in the workspace (or configured folders)."""


def _store() -> ObjectStore:
    return Backends(_workspace()).object_store


@s3_group.command("ls")
@click.argument("uri", required=False)
def s3_ls(uri: str | None) -> None:
    """List buckets, or the objects under s3://bucket/prefix."""
    store = _store()
    if not uri:
        for bucket in store.buckets():
            click.echo(f"s3://{bucket}/")
        return
    try:
        bucket, prefix = parse_uri(uri)
        token = None
        while True:
            listing = store.list(bucket, prefix, "/", 1000, token)
            for common in listing.common_prefixes:
                click.echo(f"{'PRE':>30}  {common}")
            for obj in listing.objects:
                click.echo(f"{obj.last_modified:%Y-%m-%d %H:%M:%S} {obj.size:>10}  {obj.key}")
            if not listing.is_truncated:
                break
            token = listing.next_token
    except S3Error as exc:
        _fail(f"{exc.code}: {exc.message}", 1)


@s3_group.command("cp")
@click.argument("source")
@click.argument("destination")
def s3_cp(source: str, destination: str) -> None:
    """Copy a file to or from the store (one side s3://...), or between two s3:// URIs."""
    store = _store()
    try:
        if source.startswith("s3://") and destination.startswith("s3://"):
            (sb, sk), (db, dk) = parse_uri(source), parse_uri(destination)
            store.copy(sb, sk, db, dk or sk.rsplit("/", 1)[-1])
        elif destination.startswith("s3://"):
            bucket, key = parse_uri(destination)
            if not key or key.endswith("/"):
                key += Path(source).name
            store.put(bucket, key, Path(source).read_bytes())
        elif source.startswith("s3://"):
            bucket, key = parse_uri(source)
            body, _ = store.get(bucket, key)
            target = Path(destination)
            if target.is_dir():
                target = target / key.rsplit("/", 1)[-1]
            if target.exists():
                _fail(f"'{target}' exists; not overwriting it", 1)
            target.write_bytes(body)
        else:
            _fail("one of SOURCE and DESTINATION must be an s3:// URI")
    except S3Error as exc:
        _fail(f"{exc.code}: {exc.message}", 1)
    except OSError as exc:
        _fail(f"{exc.filename or source}: {exc.strerror or exc}", 1)
    click.echo(f"copied {source} -> {destination}")


@s3_group.command("cat")
@click.argument("uri")
def s3_cat(uri: str) -> None:
    """Print an object."""
    try:
        bucket, key = parse_uri(uri)
        body, _ = _store().get(bucket, key)
    except S3Error as exc:
        _fail(f"{exc.code}: {exc.message}", 1)
    click.echo(body.decode("utf-8", errors="replace"), nl=False)


@cli.group("catalog")
def catalog_group() -> None:
    """The local Glue Data Catalog: databases, tables, columns, partitions."""


@catalog_group.command("ls")
@click.argument("database", required=False)
def catalog_ls(database: str | None) -> None:
    """List databases, or the tables of DATABASE."""
    from emulator.backends.catalog import GlueError  # the catalog module loads for catalog commands only

    catalog = Backends(_workspace()).catalog
    try:
        if database is None:
            for db in catalog.get_databases():
                click.echo(db["Name"])
            return
        for table in catalog.get_tables(database):
            sd = table.get("StorageDescriptor", {})
            kind = table.get("Parameters", {}).get("classification", "?")
            click.echo(f"{table['Name']:<30} {kind:<8} {sd.get('Location', '')}")
    except GlueError as exc:
        _fail(f"{exc.code}: {exc}", 1)


@catalog_group.command("show")
@click.argument("table")
def catalog_show(table: str) -> None:
    """Show DB.TABLE: location, format, columns, partition keys and partitions."""
    from emulator.backends.catalog import GlueError

    database, dot, name = table.partition(".")
    if not dot or not name:
        _fail(f"expected DB.TABLE, got '{table}'")
    catalog = Backends(_workspace()).catalog
    try:
        entry = catalog.get_table(database, name)
        partitions = catalog.get_partitions(database, name)
    except GlueError as exc:
        _fail(f"{exc.code}: {exc}", 1)
    sd = entry.get("StorageDescriptor", {})
    click.echo(f"{database}.{name}  {entry.get('Parameters', {}).get('classification', '?')}  {sd.get('Location')}")
    for column in sd.get("Columns", []):
        click.echo(f"  {column['Name']:<30} {column['Type']}")
    for key in entry.get("PartitionKeys", []):
        click.echo(f"  {key['Name']:<30} {key['Type']}  (partition key)")
    click.echo(f"{len(partitions)} partition(s)")
    for partition in partitions:
        click.echo(f"  {'/'.join(partition['Values'])}  {partition.get('StorageDescriptor', {}).get('Location', '')}")


@cli.command("query")
@click.argument("sql")
@click.option("--database", default=None, help="Default database for unqualified table names.")
def query_command(sql: str, database: str | None) -> None:
    """Run Athena SQL on the local catalog (DuckDB) and print the result as a table."""
    from emulator.backends.sql import AthenaError  # DuckDB and sqlglot load only for this command
    from emulator.tables import result_rows, text_table

    engine = Backends(_workspace()).sql
    try:
        query_id = engine.start_query_execution(sql, database=database)
        execution = engine.get_query_execution(query_id)
        status = execution["Status"]
        if status["State"] != "SUCCEEDED":
            _fail(f"query {status['State']}: {status.get('StateChangeReason', '')}", 1)
        rows: list[list[str]] = []
        token = None
        while True:
            page = engine.get_query_results(query_id, next_token=token)
            rows += result_rows(page["ResultSet"]["Rows"]) if page["ResultSet"]["Rows"] else []
            token = page.get("NextToken")
            if not token:
                break
    except AthenaError as exc:
        _fail(f"{exc.code}: {exc}", 1)
    if not rows:
        click.echo(f"OK ({page.get('UpdateCount', 0)} row(s) affected)")
        return
    for line in text_table(rows):
        click.echo(line)
    click.echo(f"({len(rows) - 1} row(s); {execution['ResultConfiguration']['OutputLocation']})")


@cli.command("outbox")
@click.option("--topic", default=None, help="Only SNS messages to this topic (ARN or name).")
@click.option("--queue", default=None, help="Only SQS messages to this queue (URL or name).")
@click.option("--json", "as_json", is_flag=True, help="Print the messages as a JSON array.")
def outbox_command(topic: str | None, queue: str | None, as_json: bool) -> None:
    """List the SNS and SQS messages state machines sent (recorded locally, never delivered)."""
    from emulator.backends.outbox import Outbox

    if topic is not None and queue is not None:
        _fail("give --topic or --queue, not both")
    try:
        messages = Outbox(_workspace()).messages(topic=topic, queue=queue)
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        _fail(f"cannot read the outbox: {exc}", 1)
    if as_json:
        click.echo(json.dumps(messages, indent=2, ensure_ascii=False))
        return
    if not messages:
        click.echo("no messages")
        return
    for message in messages:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(message["Timestamp"]))
        subject = f"  [{message['Subject']}]" if message.get("Subject") else ""
        click.echo(f"{stamp}  {message['Service']}  {message['Target']}{subject}")
        click.echo(f"    {message['Body'][:200]}")
