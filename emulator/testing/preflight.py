"""Pre-flight: what a definition needs locally, and whether each piece is there, before anything runs.

`preflight(machine)` lists the Task resources nothing local backs (no integration, no handler, no
config entry, no mock), each with what to add. `needs(machine)` lists everything the definition
reads (Lambda functions, Glue jobs and their scripts, crawlers, EMR step scripts, buckets, Athena
databases, SNS topics / SQS queues) with whether it is present; `sfn-local check` prints it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from emulator.errors import DefinitionError, StatesError
from emulator.integrations.mocks import TestCase
from emulator.integrations.registry import Registry, parse_resource
from emulator.workspace import ConfigError

_S3_URI = re.compile(r"s3a?://([^/\s]+)(/[^\s]*)?")


@dataclass(frozen=True)
class Need:
    """One thing a definition needs locally: what it is, which state needs it, whether it is there, how to add it."""

    kind: str  # "lambda", "glue job", "glue script", "crawler", "emr script", "bucket", "athena database", ...
    name: str
    state: str
    present: bool
    fix: str = ""
    detail: str = ""


Missing = Need


def _tasks(states: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches") or []:
            yield from _tasks(branch.get("States") or {})
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, dict):
            yield from _tasks(processor.get("States") or {})


def resource_arns(definition: Mapping[str, Any]) -> list[str]:
    """Every Task state's Resource, in Parallel branches and Map processors too."""
    return [state["Resource"] for _, state in _tasks(definition.get("States") or {})
            if isinstance(state.get("Resource"), str)]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _params(state: dict[str, Any]) -> dict[str, Any]:
    params = state.get("Parameters", state.get("Arguments"))
    return params if isinstance(params, dict) else {}


class _Checker:
    def __init__(self, machine: Any, resources: Mapping[str, Callable[..., Any]] | None) -> None:
        self.machine = machine
        self.callables = {**machine.resources, **(resources or {})}
        self.workspace = machine.backends.workspace
        self.config = self.workspace.config

    def _object_path(self, uri: str) -> Path:
        bucket, _, key = uri.split("://", 1)[1].partition("/")
        folder = self.config.buckets.get(bucket, self.workspace.root / "s3" / bucket)
        return folder.joinpath(*[p for p in key.split("/") if p])

    def lambda_need(self, name: str, state: str) -> Need:
        present = name in self.callables or name in self.config.lambdas
        return Need("lambda", name, state, present,
                    f'[lambdas] {name} = "module:function" in sfn-local.toml, --handler {name}=module:function, '
                    f"or a mocked response for state '{state}'")

    def resource_needs(self, state_name: str, state: dict[str, Any]) -> Iterator[Need]:
        arn = state.get("Resource")
        if not isinstance(arn, str):
            return
        resource = parse_resource(arn)
        params = _params(state)
        if resource.kind == "lambda":
            if arn not in self.callables:
                yield self.lambda_need(resource.action, state_name)
            return
        if resource.service == "lambda" and resource.action == "invoke":
            name = params.get("FunctionName")
            if isinstance(name, str):
                yield self.lambda_need(name.split(":")[6] if name.startswith("arn:") else name.split(":")[0],
                                       state_name)
            return
        if arn in self.callables:
            return
        try:
            Registry(self.callables, self.machine.backends)._resolve(resource, checked=False)
        except StatesError as exc:
            yield Need("resource", arn, state_name, False,
                       f"resources={{'{arn}': callable}}, --handler {arn}=module:function, or a mocked response "
                       f"for state '{state_name}'", exc.cause or "")
            return
        yield from self.service_needs(resource.service, resource.action, params, state_name)

    def service_needs(self, service: str, action: str, params: dict[str, Any], state: str) -> Iterator[Need]:
        if service == "glue" and action == "startJobRun" and isinstance(params.get("JobName"), str):
            name = params["JobName"]
            job = self.config.glue_jobs.get(name)
            yield Need("glue job", name, state, job is not None,
                       f'[glue_jobs.{name}] ScriptLocation = "s3://bucket/script.py" in sfn-local.toml')
            if job is not None:
                yield self.file_need("glue script", job["ScriptLocation"], state)
        elif service == "aws-sdk:glue" and action in ("startCrawler", "getCrawler") \
                and isinstance(params.get("Name"), str):
            name = params["Name"]
            yield Need("crawler", name, state, name in self.config.crawlers,
                       f'[crawlers.{name}] DatabaseName = "db", Targets = {{ S3Targets = [{{ Path = "s3://..." }}] }}')
        elif service == "elasticmapreduce" and action == "addStep":
            for text in _strings(params):
                if text.endswith(".py") and "/" in text:
                    yield self.file_need("emr script", text, state)
        elif service == "athena" and action == "startQueryExecution":
            database = (params.get("QueryExecutionContext") or {}).get("Database")
            if isinstance(database, str):
                crawlers = [n for n, c in self.config.crawlers.items() if c.get("DatabaseName") == database]
                known = database in self._catalog_databases()
                detail = f"made by crawler {', '.join(crawlers)}" if crawlers and not known else ""
                yield Need("athena database", database, state, known or bool(crawlers),
                           f'a crawler with DatabaseName = "{database}" or CREATE DATABASE', detail)
        elif service in ("sns", "aws-sdk:sns") or service in ("sqs", "aws-sdk:sqs"):
            target = params.get("TopicArn") or params.get("QueueUrl") or params.get("PhoneNumber")
            if isinstance(target, str):
                kind = "sns topic" if "sns" in service else "sqs queue"
                yield Need(kind, target, state, True, "", "recorded in the local outbox")
        for text in _strings(params):
            m = _S3_URI.fullmatch(text)
            if m and service != "athena":
                yield self.bucket_need(m.group(1), state)

    def file_need(self, kind: str, location: str, state: str) -> Need:
        path = self._object_path(location) if "://" in location else self.workspace.project / location
        bucket = location.split("://", 1)[1].split("/", 1)[0] if "://" in location else ""
        fix = (f"put the script at {path}" if not bucket or bucket in self.config.buckets
               else f'[buckets] {bucket} = "folder" in sfn-local.toml, with the script in it')
        return Need(kind, location, state, path.is_file(), fix, str(path))

    def bucket_need(self, bucket: str, state: str) -> Need:
        folder = self.config.buckets.get(bucket)
        if folder is not None:
            return Need("bucket", bucket, state, folder.is_dir(), f"create the folder {folder}", str(folder))
        return Need("bucket", bucket, state, True, "", "in the workspace (created on first write)")

    def _catalog_databases(self) -> set[str]:
        try:
            return {d["Name"] for d in self.machine.backends.catalog.get_databases()}
        except Exception:  # the catalog is only a hint here; a broken one is reported when it is used
            return set()


def needs(machine: Any, resources: Mapping[str, Callable[..., Any]] | None = None,
          mocks: TestCase | None = None) -> list[Need]:
    """Everything `machine` needs locally (deduplicated), mocked states excluded."""
    checker = _Checker(machine, resources)
    found: dict[tuple[str, str], Need] = {}
    for name, state in _tasks(machine.definition.get("States") or {}):
        if mocks is not None and name in mocks.states:
            continue
        for need in checker.resource_needs(name, state):
            found.setdefault((need.kind, need.name), need)
    return list(found.values())


def preflight(machine: Any, resources: Mapping[str, Callable[..., Any]] | None = None,
              mocks: TestCase | None = None) -> list[Missing]:
    """What `machine` needs and does not have: report them all, then run nothing (unless --allow-missing)."""
    return [need for need in needs(machine, resources, mocks) if not need.present]


def format_missing(missing: list[Missing]) -> str:
    """A message listing every missing piece with what to add."""
    lines = [f"{len(missing)} thing(s) this definition needs are missing locally (--allow-missing runs anyway):"]
    for need in missing:
        lines.append(f"  - {need.kind} '{need.name}' (state '{need.state}'): add {need.fix}")
    return "\n".join(lines)


@click.command("check")
@click.argument("definitions", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def check_command(definitions: tuple[str, ...]) -> None:
    """Print what each definition needs locally and whether it is present; exit 1 if something is missing."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from emulator.engine.execution import StateMachine

    console = Console(width=max(120, Console().width))
    missing = 0
    for path in definitions:
        try:
            machine = StateMachine(path, name=Path(path).name.split(".")[0])
            found = needs(machine)
        except (DefinitionError, ConfigError) as exc:
            raise click.ClickException(f"{path}: {exc}") from None
        table = Table(title=path, title_justify="left")
        for column in ("kind", "name", "state", "present", "where / what to add"):
            table.add_column(column, overflow="fold")
        for need in found:
            table.add_row(escape(need.kind), escape(need.name), escape(need.state),
                          "[green]yes[/green]" if need.present else "[red]NO[/red]",
                          escape(need.detail if need.present else need.fix))
        console.print(table if found else f"{path}: needs nothing local")
        missing += sum(not n.present for n in found)
    raise SystemExit(1 if missing else 0)
