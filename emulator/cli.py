"""`sfn-local`: run, validate and inspect state machines from the shell.

Exit codes: 0 the execution succeeded (or the definitions are valid); 1 it did not
(FAILED, TIMED_OUT, ABORTED) or a definition is invalid; 2 the command itself was wrong
(missing file, malformed JSON, bad option). Never a traceback for bad input.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from emulator import DefinitionError, StateMachine, validate
from emulator.backends import Backends
from emulator.backends.catalog import GlueError
from emulator.backends.objectstore import ObjectStore, S3Error, parse_uri
from emulator.backends.sql import AthenaError
from emulator.engine.execution import Execution
from emulator.integrations.python import HandlerLoadError, load_callable
from emulator.workspace import ConfigError, Workspace


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


def _read_json_arg(value: str, what: str) -> Any:
    """`--input '{"a":1}'` or `--input @file.json`."""
    text, origin = value, what
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text, origin = path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            _fail(f"cannot read {what} file '{path}': {exc.strerror or exc}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"{origin} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")


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


def _record(execution: Execution) -> dict[str, Any]:
    """The saved form of an execution: DescribeExecution plus the history, JSON-ready."""
    out = execution.describe()
    out["history"] = execution.history
    return out


def _save(execution: Execution) -> Path | None:
    folder = _workspace().root / "executions"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{execution.name}.json"
        path.write_text(json.dumps(_record(execution), default=str, indent=1), encoding="utf-8")
    except OSError as exc:
        click.echo(f"warning: could not save the execution under {folder}: {exc.strerror or exc}", err=True)
        return None
    return path


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


@cli.command("run")
@click.argument("definition")
@click.option("--input", "input_", default=None, help="Execution input: JSON text, or @file.json.")
@click.option("--name", default=None, help="Execution name (default: a UUID).")
@click.option("--real-time", is_flag=True, help="Sleep for real in Wait states and retry back-off.")
@click.option("--seed", type=int, default=None, help="Seed for States.UUID, States.MathRandom and jitter.")
@click.option("--handler", "handlers", multiple=True, metavar="NAME_OR_ARN=module:function",
              help="Back a Task resource (or Lambda function name) with a Python function. Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the execution as JSON (DescribeExecution's shape).")
@click.option("--history", "show_history", is_flag=True, help="Also print the execution history.")
def run_command(definition: str, input_: str | None, name: str | None, real_time: bool, seed: int | None,
                handlers: tuple[str, ...], as_json: bool, show_history: bool) -> None:
    """Run DEFINITION (a .json file) and print its result."""
    machine = _load_machine(definition, handlers)
    data = _read_json_arg(input_, "input") if input_ is not None else None
    started = time.perf_counter()
    execution = machine.run(data, name=name, clock="real" if real_time else "virtual", seed=seed)
    wall = time.perf_counter() - started
    machine.backends.settle()
    saved = _save(execution)
    if as_json:
        out = execution.describe()
        out["output"] = execution.output
        out["input"] = execution.input
        if show_history:
            out["history"] = execution.history
        click.echo(json.dumps(out, default=str, indent=2, ensure_ascii=False))
    else:
        _print_execution(execution, saved, wall)
        if show_history:
            _print_history(execution.history)
    sys.exit(0 if execution.status == "SUCCEEDED" else 1)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.3f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _print_execution(execution: Execution, saved: Path | None, wall: float) -> None:
    states = sum(1 for e in execution.history if e["type"].endswith("StateEntered"))
    span = (execution.stop_date - execution.start_date).total_seconds() if execution.stop_date else 0.0
    click.echo(f"{execution.status}  {execution.name}  ({states} states; execution time {_duration(span)}, "
               f"ran in {wall * 1000:.0f} ms)")
    if execution.status == "SUCCEEDED":
        click.echo(_pretty(execution.output))
    else:
        click.echo(f"  state: {execution.failed_state}")
        click.echo(f"  error: {execution.error}")
        click.echo(f"  cause: {execution.cause}")
    if saved is not None:
        click.echo(f"history: sfn-local history {execution.name}", err=True)


def _print_history(events: list[dict[str, Any]]) -> None:
    for event in events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        stamp = event["timestamp"]
        stamp = stamp.isoformat(timespec="milliseconds") if hasattr(stamp, "isoformat") else str(stamp)
        brief = ", ".join(f"{k}={v}" for k, v in details.items() if not k.endswith("Details"))
        click.echo(f"{event['id']:>5} {event['previousEventId']:>5}  {stamp}  {event['type']:<28} {brief[:160]}")


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
def history_command(execution: str, as_json: bool) -> None:
    """Print the history of a saved EXECUTION (its name, ARN or saved file)."""
    name = execution.rsplit(":", 1)[-1]
    folder = _workspace().root / "executions"
    candidates = [Path(execution), folder / f"{name}.json"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        _fail(f"no saved execution '{execution}' (looked in {folder})")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        events = record["history"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        _fail(f"'{path}' is not a saved execution: {exc}")
    if as_json:
        click.echo(json.dumps(events, indent=2, ensure_ascii=False))
    else:
        click.echo(f"{record.get('status')}  {record.get('name')}  {record.get('executionArn')}")
        _print_history(events)


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
            rows += [[d.get("VarCharValue", "NULL") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
            token = page.get("NextToken")
            if not token:
                break
    except AthenaError as exc:
        _fail(f"{exc.code}: {exc}", 1)
    if not rows:
        click.echo(f"OK ({page.get('UpdateCount', 0)} row(s) affected)")
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            click.echo("  ".join("-" * w for w in widths))
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
