"""The whole state machine on AWS Step Functions: `sfn-local deploy` and `sfn-local run --on aws`.

`deploy DEFINITION --name N [--role-arn R]` validates the definition locally (the same diagnostics as
`sfn-local validate`), then updates the state machine N in AWS Step Functions, or creates it (which
needs a role). `run DEFINITION --on aws` puts the definition on the state machine named after the file
(as a local run names it), starts an execution there and prints its history events as they arrive, in
the format of `run --history`, then the same summary as a local run. AWS is reached through boto3's
standard configuration (profile, region, `AWS_ENDPOINT_URL[_SFN]`).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click

POLL_FIRST_SECONDS = 0.1
POLL_MAX_SECONDS = 2.0


class RemoteError(Exception):
    """A deploy or remote run that cannot go on; the message says why and what to do."""


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _sfn() -> Any:
    from emulator.integrations.aws import client
    from emulator.targets import configuration_problems

    if problems := configuration_problems():
        raise RemoteError("AWS Step Functions (states) is needed, but " + " and ".join(problems))
    return client("stepfunctions")


def _client_error(exc: Exception) -> RemoteError:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    if error:
        return RemoteError(f"{error.get('Code')}: {error.get('Message')}")
    return RemoteError(f"{type(exc).__name__}: {exc}")


def _definition_text(definition: str) -> str:
    """The definition's JSON text, validated as AWS's ValidateStateMachineDefinition would; else RemoteError."""
    from emulator import validate

    path = Path(definition)
    text = definition if definition.lstrip().startswith("{") else path.read_text(encoding="utf-8")
    diagnostics = validate(text)
    if diagnostics:
        lines = [f"{definition}: {d.location or '/'}: {d.message} [{d.code}]" for d in diagnostics]
        raise RemoteError("the definition is not valid; nothing was sent to AWS:\n" + "\n".join(lines))
    return text


def find_state_machine(sfn: Any, name: str) -> str | None:
    """The ARN of the state machine called `name`, or None."""
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page.get("stateMachines", []):
            if machine.get("name") == name:
                return str(machine["stateMachineArn"])
    return None


def deploy(definition: str, name: str, role_arn: str | None = None) -> tuple[str, bool]:
    """Create or update the state machine `name` with `definition`; (its ARN, whether it was created)."""
    from botocore.exceptions import BotoCoreError, ClientError

    text = _definition_text(definition)
    sfn = _sfn()
    try:
        arn = find_state_machine(sfn, name)
        if arn is not None:
            role = {"roleArn": role_arn} if role_arn else {}
            sfn.update_state_machine(stateMachineArn=arn, definition=text, **role)
            return arn, False
        if not role_arn:
            raise RemoteError(f"there is no state machine '{name}' to update, and creating it needs a role: "
                              "add --role-arn arn:aws:iam::ACCOUNT:role/NAME")
        created = sfn.create_state_machine(name=name, definition=text, roleArn=role_arn)
        return str(created["stateMachineArn"]), True
    except (ClientError, BotoCoreError) as exc:
        raise _client_error(exc) from None


@click.command("deploy")
@click.argument("definition")
@click.option("--name", required=True, help="The state machine's name in AWS Step Functions.")
@click.option("--role-arn", default=None, help="The IAM role it runs as (needed to create it).")
def deploy_command(definition: str, name: str, role_arn: str | None) -> None:
    """Create or update state machine NAME in AWS Step Functions from DEFINITION (validated locally first)."""
    try:
        arn, created = deploy(definition, name, role_arn)
    except RemoteError as exc:
        _fail(str(exc), 1)
    click.echo(f"{'created' if created else 'updated'} {arn}")


def _events(sfn: Any, arn: str, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The history events after `token`, oldest first, and the token to continue from."""
    events: list[dict[str, Any]] = []
    while True:
        page = sfn.get_execution_history(executionArn=arn, **({"nextToken": token} if token else {}))
        events += page.get("events", [])
        if not page.get("nextToken"):
            return events, token
        token = page["nextToken"]


def run_on_aws(definition: str, data: Any, name: str, machine_name: str, as_json: bool, show_history: bool) -> int:
    """Start an execution of `definition` on AWS, stream its events, print the summary; the exit code."""
    from botocore.exceptions import BotoCoreError, ClientError

    from emulator.cli import _print_execution, _print_history

    text = _definition_text(definition)
    sfn = _sfn()
    started = time.perf_counter()
    try:
        machine_arn = find_state_machine(sfn, machine_name)
        if machine_arn is None:
            raise RemoteError(f"there is no state machine '{machine_name}' in AWS Step Functions: deploy it first "
                              f"with `sfn-local deploy {definition} --name {machine_name} --role-arn ROLE`")
        sfn.update_state_machine(stateMachineArn=machine_arn, definition=text)
        arn = sfn.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps(data))["executionArn"]
        history: list[dict[str, Any]] = []
        seen, interval = 0, POLL_FIRST_SECONDS
        while True:
            described = sfn.describe_execution(executionArn=arn)
            # Every event up to now: a page holds 100 at most, so read them all and print the new ones.
            events, _ = _events(sfn, arn, None)
            for event in events[seen:]:
                event.setdefault("previousEventId", 0)
                history.append(event)
                if not as_json:
                    _print_history([event])
            seen = len(events)
            if described["status"] != "RUNNING":
                break
            time.sleep(interval)
            interval = min(interval * 2, POLL_MAX_SECONDS)
    except (ClientError, BotoCoreError) as exc:
        raise _client_error(exc) from None
    wall = time.perf_counter() - started
    execution = _execution(described, history, data)
    if as_json:
        out = execution.describe()
        out["output"], out["input"] = execution.output, execution.input
        if show_history:
            out["history"] = history
        click.echo(json.dumps(out, default=str, indent=2, ensure_ascii=False))
    else:
        _print_execution(execution, None, wall)
        click.echo("real AWS: the whole state machine (AWS Step Functions)")
    return 0 if execution.status == "SUCCEEDED" else 1


def _execution(described: dict[str, Any], history: list[dict[str, Any]], data: Any) -> Any:
    """DescribeExecution's answer and the history as an Execution, for the local run's summary."""
    from emulator.engine.execution import Execution

    execution = Execution(described["name"], described["executionArn"], described["stateMachineArn"], data)
    execution.status = described["status"]
    execution.error, execution.cause = described.get("error"), described.get("cause")
    if described.get("output") is not None:
        execution.output = json.loads(described["output"])
    execution.start_date = _date(described.get("startDate"))
    execution.stop_date = _date(described.get("stopDate"))
    execution.history = history
    return execution


def _date(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None
