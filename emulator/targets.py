"""Where each service's Task calls go: the local engines ("local") or AWS itself through boto3 ("aws").

One setting, three places, highest first: `--target SERVICE=local|aws` on the command line, the
`SFN_LOCAL_TARGET` environment variable ("aws", or "glue=aws,s3=local"), then `[targets]` in
`sfn-local.toml` (`default = "local"`, `glue = "aws"`, ...); anything unset is local. The first of those
places that says something about a service (its own key, else its `default`) decides for it.

Services are named as in Task resources: `s3`, `glue`, `athena`, `elasticmapreduce`, `emr-serverless`,
`lambda`, `sns`, `sqs`, `states`, `events`, `dynamodb`, `ecs`, `batch`, and `<service>` for
`aws-sdk:<service>`. Names that denote one AWS service (`elasticmapreduce` and `emr`, `states` and
`sfn`) are one key. `check_ready` is the pre-run check: every AWS-targeted service a definition uses
needs credentials and a region from boto3's standard chain, or the run stops before its first state.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from emulator.integrations.registry import Resource, parse_resource
from emulator.workspace import environment_variable

TARGET_ENV = "SFN_LOCAL_TARGET"
VALUES = ("local", "aws")
DEFAULT = "default"

# ASL / SDK service names → the boto3 client's name, where they differ.
CLIENT_NAMES = {
    "states": "stepfunctions", "sfn": "stepfunctions",
    "elasticmapreduce": "emr",
    "emrserverless": "emr-serverless", "emrcontainers": "emr-containers",
    "eventbridge": "events",
    "cloudwatchlogs": "logs",
    "bedrock": "bedrock-runtime",
}

# The command line's --target values for this process (set by `sfn-local run`).
_cli: dict[str, str] = {}


class TargetError(ValueError):
    """A target setting that cannot be used, or AWS targets without credentials/region; names where."""


def client_name(service: str) -> str:
    """The boto3 client behind a service name of a Task resource or a target key."""
    service = service.removeprefix("aws-sdk:")
    return CLIENT_NAMES.get(service, service)


def service_of(resource: Resource) -> str | None:
    """The target key of a Task resource: its service (`aws-sdk:` dropped), None for activities and others."""
    if resource.kind == "lambda":
        return "lambda"
    if resource.kind != "service":
        return None
    return resource.service.removeprefix("aws-sdk:")


def parse_spec(text: str, where: str) -> dict[str, str]:
    """`aws` / `local` (every service) or `glue=aws,s3=local` → {"default": "aws"} / {"glue": "aws", ...}."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        service, sep, value = (p.strip() for p in part.partition("="))
        if not sep:
            service, value = DEFAULT, service
        out.update(_entry(service, value, f"{where} '{part}'"))
    if not out:
        raise TargetError(f"{where}: expected 'aws', 'local' or SERVICE=local|aws[,...], got {text!r}")
    return out


def parse_cli(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """The repeatable `--target SERVICE=local|aws` (a bare `aws` / `local` sets every service)."""
    out: dict[str, str] = {}
    for value in values:
        out.update(parse_spec(value, "--target"))
    return out


def _entry(service: str, value: str, where: str) -> dict[str, str]:
    if value not in VALUES:
        raise TargetError(f"{where}: expected \"local\" or \"aws\" for {service or '(no service)'}, got {value!r}")
    check_service(service, where)
    return {service: value}


def check_service(service: str, where: str) -> None:
    """A target key must be `default` or a service boto3 knows (after CLIENT_NAMES)."""
    if service == DEFAULT:
        return
    if client_name(service) not in _known_services():
        raise TargetError(f"{where}: unknown service {service!r}; expected 'default' or an AWS service name "
                          "as in Task resources (s3, glue, athena, elasticmapreduce, emr-serverless, lambda, sns, "
                          "sqs, states, events, dynamodb, ecs, batch, or the <service> of aws-sdk:<service>)")


@functools.cache
def _known_services() -> frozenset[str]:
    import botocore.session  # only when targets are set: keeps `import emulator` light

    return frozenset(botocore.session.get_session().get_available_services())


def use_cli_targets(targets: Mapping[str, str]) -> None:
    """Make the command line's --target settings the highest layer for this process."""
    _cli.clear()
    _cli.update(targets)


@dataclass(frozen=True)
class Choice:
    target: str  # "local" | "aws"
    source: str  # where it was set: "--target glue=aws", "SFN_LOCAL_TARGET", "[targets] glue in ...", "default"


def _layers(config: Mapping[str, str], config_source: str) -> Iterator[tuple[dict[str, str], str]]:
    if _cli:
        yield dict(_cli), "--target"
    if (text := os.environ.get(TARGET_ENV, "").strip()):
        yield parse_spec(text, TARGET_ENV), TARGET_ENV
    if config:
        yield dict(config), f"[targets] in {config_source}"


def choose(service: str, config: Mapping[str, str] | None = None, config_source: str = "sfn-local.toml") -> Choice:
    """Where `service`'s calls go: the first layer (CLI, env, config) naming it or a default decides."""
    wanted = client_name(service)
    for layer, source in _layers(config or {}, config_source):
        for key, value in layer.items():
            if key != DEFAULT and client_name(key) == wanted:
                return Choice(value, f"{source} ({key} = {value})")
        if DEFAULT in layer:
            return Choice(layer[DEFAULT], f"{source} (default = {layer[DEFAULT]})")
    return Choice("local", "default")


def _config_of(workspace: Any) -> tuple[Mapping[str, str], str]:
    config = getattr(workspace, "config", None)
    source = getattr(config, "source", None)
    return (getattr(config, "targets", None) or {}), str(source or "sfn-local.toml")


def targeted_at_aws(resource: Resource, workspace: Any) -> bool:
    """True when the resource's service is switched to AWS for `workspace`'s project."""
    service = service_of(resource)
    if service is None:
        return False
    targets, source = _config_of(workspace)
    if not targets and not _cli and not (environment_variable(TARGET_ENV) or "").strip():
        return False  # the common case: nothing configured, nothing to parse
    return choose(service, targets, source).target == "aws"


def _task_resources(states: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        if state.get("Type") == "Task" and isinstance(state.get("Resource"), str):
            yield name, state["Resource"]
        for branch in state.get("Branches") or []:
            if isinstance(branch, dict):
                yield from _task_resources(branch.get("States"))
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, dict):
            yield from _task_resources(processor.get("States"))


def aws_services(definition: Mapping[str, Any], workspace: Any) -> dict[str, list[str]]:
    """The AWS-targeted services `definition` uses → the states that use them (in definition order)."""
    targets, source = _config_of(workspace)
    out: dict[str, list[str]] = {}
    for state, arn in _task_resources(definition.get("States")):
        service = service_of(parse_resource(arn))
        if service is not None and choose(service, targets, source).target == "aws":
            out.setdefault(service, []).append(state)
    return out


def validate_settings(workspace: Any) -> None:
    """Every layer's keys and values are usable (the env and CLI layers are checked when parsed)."""
    targets, source = _config_of(workspace)
    for key, value in targets.items():
        _entry(key, value, f"{source}: [targets] {key}")
    for key, value in _cli.items():
        _entry(key, value, f"--target {key}={value}")
    if (text := os.environ.get(TARGET_ENV, "").strip()):
        parse_spec(text, TARGET_ENV)


def check_ready(definition: Mapping[str, Any], workspace: Any) -> dict[str, list[str]]:
    """The pre-run check: AWS-targeted services need credentials and a region (boto3's chain), else one
    TargetError naming each service, the states using it, where it was switched and how to configure AWS."""
    validate_settings(workspace)
    used = aws_services(definition, workspace)
    if not used:
        return used
    missing = configuration_problems()
    if missing:
        targets, source = _config_of(workspace)
        lines = [f"{service} (states {', '.join(states)}) is switched to AWS by "
                 f"{choose(service, targets, source).source}" for service, states in used.items()]
        raise TargetError("; ".join(lines) + ", but " + " and ".join(missing)
                          + ". Configure AWS, or run these services locally with --target SERVICE=local.")
    return used


def region(session: Any) -> str | None:
    """boto3's region (AWS_DEFAULT_REGION, the profile), else AWS_REGION, which the other AWS SDKs read."""
    return session.region_name or os.environ.get("AWS_REGION") or None


def configuration_problems() -> list[str]:
    """What boto3's standard chain lacks to call AWS: credentials, a region (empty when both are there)."""
    import boto3

    session = boto3.session.Session()
    problems = []
    try:
        credentials = session.get_credentials()
    except Exception as exc:  # a broken profile or credential process: say so rather than crash
        credentials, broken = None, f" ({type(exc).__name__}: {exc})"
    else:
        broken = ""
    if credentials is None:
        problems.append("no AWS credentials were found" + broken + " (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                        "AWS_SECRET_ACCESS_KEY, or run `aws configure` / `aws sso login`)")
    if not region(session):
        problems.append("no AWS region is set (set AWS_REGION or AWS_DEFAULT_REGION, or region in the profile of "
                        "~/.aws/config)")
    return problems


def summary(used: Mapping[str, list[str]]) -> str:
    """The run summary's line naming the services that were real."""
    return "real AWS: " + ", ".join(sorted(used)) if used else "all services local"
