"""EventBridge rules from the project's config, and what a rule's target receives.

    [rules.landed-file]
    Description = "A CSV landing under incoming/ is cleaned and catalogued"
    EventPattern = '{"source": ["aws.s3"], "detail-type": ["Object Created"], ...}'   # or a TOML table
    ScheduleExpression = "rate(1 hour)"             # a rule may have either or both
    State = "ENABLED"                               # or DISABLED
    Targets = [{ Id = "pipeline", Arn = "arn:aws:states:us-east-1:123456789012:stateMachine:NAME",
                 InputTransformer = { InputPathsMap = { key = "$.detail.object.key" },
                                      InputTemplate = '{"key": <key>}' } }]

The field names are PutRule's and PutTargets'. A target is a Step Functions state machine, found
as `definitions/NAME.asl.json` (or `NAME.json`) in the project, as nested executions find theirs.
It receives the whole event, or `Input` (constant JSON), or the value at `InputPath`, or
`InputTransformer`'s template filled from the event: a `<name>` inside a JSON string is replaced by
the value's text, elsewhere by the value as JSON; a path the event lacks gives null (an empty
string inside a string). `<aws.events.rule-name>`, `<aws.events.rule-arn>`,
`<aws.events.event.ingestion-time>` and `<aws.events.event>` (the whole event) are always there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.asl.paths import PathNotFound, PathSyntaxError, compile_path
from emulator.backends.events import ACCOUNT, REGION
from emulator.events.patterns import Pattern, PatternError, compile_pattern
from emulator.events.schedule import Schedule, ScheduleError, parse_schedule
from emulator.workspace import ConfigError, Workspace

_MACHINE_ARN = re.compile(r"arn:[\w-]+:states:[\w-]*:\d*:stateMachine:(?P<name>[A-Za-z0-9_\-]+)")
_TARGET_ID = re.compile(r"[.\-_A-Za-z0-9]{1,64}")
_VARIABLE = re.compile(r"[A-Za-z0-9_\-]+")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_RULE_KEYS = {"EventPattern", "ScheduleExpression", "State", "Description", "Targets", "EventBusName", "RoleArn"}
# RetryPolicy and DeadLetterConfig are accepted as AWS takes them; a local start is not retried.
_TARGET_KEYS = {"Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "RetryPolicy", "DeadLetterConfig"}
_STATES = {"ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"}
MAX_PATHS = 100  # InputPathsMap entries, as PutTargets allows


class TargetInputError(ValueError):
    """A target's input could not be made from this event (the firing is recorded as failed)."""


@dataclass(frozen=True)
class Transformer:
    paths: dict[str, Any]  # variable -> compiled JSONPath
    template: str

    def render(self, event: dict[str, Any], rule: Rule) -> Any:
        values: dict[str, Any] = {"aws.events.rule-name": rule.name, "aws.events.rule-arn": rule.arn,
                                  "aws.events.event.ingestion-time": event.get("time"),
                                  "aws.events.event": event, "aws.events.event.json": event}
        missing = set()
        for name, path in self.paths.items():
            try:
                values[name] = path.get(event)
            except PathNotFound:
                missing.add(name)
        text = _fill(self.template, values, missing)
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise TargetInputError(f"InputTransformer gave {text[:200]!r}, which is not JSON; a state machine's "
                                   "input must be JSON (quote a text template: '\"...\"')") from None


def _fill(template: str, values: dict[str, Any], missing: set[str]) -> str:
    """Replace each known `<name>`: as text inside a JSON string, as JSON outside one."""
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        char = template[i]
        match = _PLACEHOLDER.match(template, i) if char == "<" else None
        if match is not None and (match.group(1) in values or match.group(1) in missing):
            value = values.get(match.group(1))
            if in_string:
                text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
                out.append(json.dumps(text, ensure_ascii=False)[1:-1])
            else:
                out.append(json.dumps(value, ensure_ascii=False))
            i = match.end()
            continue
        if char == "\\" and in_string:
            out.append(template[i:i + 2])
            i += 2
            continue
        if char == '"':
            in_string = not in_string
        out.append(char)
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class Target:
    id: str
    arn: str
    machine: str  # the state machine's name: definitions/<machine>.asl.json
    input: Any = None
    has_input: bool = False
    input_path: Any = None
    transformer: Transformer | None = None

    def input_for(self, event: dict[str, Any], rule: Rule) -> Any:
        """The execution input this target gets for `event` (TargetInputError when it cannot be made)."""
        if self.has_input:
            return self.input
        if self.input_path is not None:
            try:
                return self.input_path.get(event)
            except PathNotFound:
                raise TargetInputError(f"InputPath {self.input_path} selects nothing in the event") from None
        if self.transformer is not None:
            return self.transformer.render(event, rule)
        return event


@dataclass
class Rule:
    name: str
    pattern: Pattern | None
    schedule: Schedule | None
    expression: str | None
    enabled: bool
    targets: list[Target]
    description: str = ""
    arn: str = field(init=False)

    def __post_init__(self) -> None:
        self.arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{self.name}"


def definition_path(project: Path, machine: str) -> Path | None:
    folder = project / "definitions"
    for candidate in (folder / f"{machine}.asl.json", folder / f"{machine}.json"):
        if candidate.is_file():
            return candidate
    return None


def _fail(where: str, key: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {key}: {message}")


def _transformer(where: str, key: str, spec: Any) -> Transformer:
    if not isinstance(spec, dict) or not isinstance(spec.get("InputTemplate"), str) or not spec["InputTemplate"]:
        raise _fail(where, key, "expected a table with InputTemplate (a string) and optionally InputPathsMap")
    unknown = set(spec) - {"InputTemplate", "InputPathsMap"}
    if unknown:
        raise _fail(where, key, f"unknown key(s) {', '.join(sorted(unknown))}; expected InputPathsMap, InputTemplate")
    paths_map = spec.get("InputPathsMap", {})
    if not isinstance(paths_map, dict) or len(paths_map) > MAX_PATHS:
        raise _fail(where, f"{key}.InputPathsMap", f"expected a table of at most {MAX_PATHS} name = \"$.path\"")
    paths = {}
    for name, text in paths_map.items():
        at = f"{key}.InputPathsMap.{name}"
        if not _VARIABLE.fullmatch(name) or name.startswith("AWS.") or name.startswith("aws."):
            raise _fail(where, at, "a variable name is letters, digits, '-' and '_' and does not start with AWS.")
        try:
            paths[name] = compile_path(text) if isinstance(text, str) else None
        except PathSyntaxError as exc:
            raise _fail(where, at, f"not a JSONPath: {exc}") from None
        if paths[name] is None:
            raise _fail(where, at, "expected a JSONPath string such as \"$.detail.object.key\"")
    return Transformer(paths, spec["InputTemplate"])


def _target(where: str, key: str, spec: Any) -> Target:
    if not isinstance(spec, dict):
        raise _fail(where, key, "expected a table { Id, Arn, Input? | InputPath? | InputTransformer? }")
    unknown = set(spec) - _TARGET_KEYS
    if unknown:
        raise _fail(where, key, f"unknown key(s) {', '.join(sorted(unknown))}; PutTargets takes "
                                f"{', '.join(sorted(_TARGET_KEYS))}")
    target_id, arn = spec.get("Id"), spec.get("Arn")
    if not isinstance(target_id, str) or not _TARGET_ID.fullmatch(target_id):
        raise _fail(where, f"{key}.Id", "expected 1-64 letters, digits, '.', '-' or '_'")
    match = _MACHINE_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        raise _fail(where, f"{key}.Arn", f"expected a state machine ARN (arn:aws:states:{REGION}:{ACCOUNT}:"
                                         f"stateMachine:NAME); other target types do not run locally, got {arn!r}")
    given = [k for k in ("Input", "InputPath", "InputTransformer") if k in spec]
    if len(given) > 1:
        raise _fail(where, key, f"give at most one of Input, InputPath and InputTransformer, not {' and '.join(given)}")
    target = Target(target_id, arn, match.group("name"))
    if "Input" in spec:
        value = spec["Input"]
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise _fail(where, f"{key}.Input", f"not valid JSON: {exc.msg}") from None
        target = Target(target_id, arn, target.machine, input=value, has_input=True)
    elif "InputPath" in spec:
        try:
            path = compile_path(spec["InputPath"]) if isinstance(spec["InputPath"], str) else None
        except PathSyntaxError as exc:
            raise _fail(where, f"{key}.InputPath", f"not a JSONPath: {exc}") from None
        if path is None:
            raise _fail(where, f"{key}.InputPath", "expected a JSONPath string such as \"$.detail\"")
        target = Target(target_id, arn, target.machine, input_path=path)
    elif "InputTransformer" in spec:
        target = Target(target_id, arn, target.machine,
                        transformer=_transformer(where, f"{key}.InputTransformer", spec["InputTransformer"]))
    return target


def parse_rule(name: str, spec: Any, where: str = "sfn-local.toml", project: Path | None = None) -> Rule:
    """One `[rules.NAME]` table as a Rule; ConfigError naming `[rules.NAME] key` when PutRule/PutTargets
    would refuse it, or when a target's definition is not in the project's definitions/."""
    key = f"[rules.{name}]"
    if not isinstance(spec, dict):
        raise _fail(where, key, "expected a table (EventPattern, ScheduleExpression, Targets)")
    unknown = set(spec) - _RULE_KEYS
    if unknown:
        raise _fail(where, key, f"unknown key(s) {', '.join(sorted(unknown))}; expected "
                                f"{', '.join(sorted(_RULE_KEYS))}")
    if "EventPattern" not in spec and "ScheduleExpression" not in spec:
        raise _fail(where, key, "a rule needs an EventPattern or a ScheduleExpression")
    if spec.get("EventBusName", "default") != "default":
        raise _fail(where, f"{key} EventBusName", "only the default event bus runs locally")
    state = spec.get("State", "ENABLED")
    if state not in _STATES:
        raise _fail(where, f"{key} State", f"expected ENABLED or DISABLED, got {state!r}")
    pattern = schedule = None
    if "EventPattern" in spec:
        try:
            pattern = compile_pattern(spec["EventPattern"], "EventPattern")
        except PatternError as exc:
            raise _fail(where, f"{key} {exc.where or 'EventPattern'}", str(exc).removeprefix(f"{exc.where}: ")) \
                from None
    expression = spec.get("ScheduleExpression")
    if expression is not None:
        try:
            schedule = parse_schedule(expression)
        except ScheduleError as exc:
            raise _fail(where, f"{key} ScheduleExpression", str(exc)) from None
    targets_spec = spec.get("Targets", [])
    if not isinstance(targets_spec, list):
        raise _fail(where, f"{key} Targets", "expected an array of tables { Id, Arn, ... }")
    targets = [_target(where, f"{key} Targets[{i}]", t) for i, t in enumerate(targets_spec)]
    ids = [t.id for t in targets]
    if len(set(ids)) != len(ids):
        raise _fail(where, f"{key} Targets", "target Ids must be unique within a rule")
    for index, target in enumerate(targets):
        if project is not None and definition_path(project, target.machine) is None:
            raise _fail(where, f"{key} Targets[{index}].Arn",
                        f"no definitions/{target.machine}.asl.json (or .json) in {project}")
    description = spec.get("Description", "")
    if not isinstance(description, str):
        raise _fail(where, f"{key} Description", "expected a string")
    return Rule(name, pattern, schedule, expression, state != "DISABLED", targets, description)


def load_rules(workspace: Workspace) -> list[Rule]:
    """The project's rules, each checked (ConfigError naming the first problem)."""
    config = workspace.config
    where = str(config.source) if config.source else "config"
    return [parse_rule(name, spec, where, workspace.project) for name, spec in config.rules.items()]
