"""The workspace: where every piece of local state lives, and the project's config.

All local state (object store, Glue catalog, query results, outboxes, saved executions) sits
under one directory, `./.sfn-local/` unless `--workspace` or SFN_LOCAL_WORKSPACE says otherwise,
so it survives restarts. The config comes from `sfn-local.toml`, or `[tool.sfn-local]` in
pyproject.toml, in the project directory:

    [buckets]                 # bucket name -> directory (relative to the project); others live in the workspace
    raw = "sample_data"
    [crawlers.raw_crawler]    # Glue crawlers: DatabaseName, Targets.S3Targets[].Path, TablePrefix, ...
    DatabaseName = "raw"
    Targets = { S3Targets = [{ Path = "s3://raw/" }] }
    [lambdas]                 # function name -> "module:function"
    enrich = "handlers:enrich"
"""

from __future__ import annotations

import bisect
import contextlib
import difflib
import fcntl
import json
import os
import re
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

WORKSPACE_ENV = "SFN_LOCAL_WORKSPACE"

# os.environ's own mapping of encoded names (POSIX), to ask for a name that is not set without the KeyError
# os.environ raises and catches for it.
_ENVIRON_DATA = getattr(os.environ, "_data", None) if os.name == "posix" else None


def environment_variable(name: str) -> str | None:
    """os.environ.get(name): quicker for a name that is not set, the common case of the few asked on every
    execution (SFN_MOCK_CONFIG, ...), where os.environ costs as much as a Pass state."""
    if isinstance(_ENVIRON_DATA, dict) and name.encode("utf-8", "surrogateescape") not in _ENVIRON_DATA:
        return None
    return os.environ.get(name)
DEFAULT_WORKSPACE = ".sfn-local"


class ConfigError(ValueError):
    """The config file is unreadable or malformed; the message lists every problem, each `file:line: key: problem`."""


@dataclass
class Config:
    buckets: dict[str, Path] = field(default_factory=dict)
    crawlers: dict[str, dict[str, Any]] = field(default_factory=dict)
    glue_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    lambdas: dict[str, str] = field(default_factory=dict)
    # Where each service's Task calls go: {"default": "local", "glue": "aws", ...}
    targets: dict[str, str] = field(default_factory=dict)
    # The Spark session's settings: master ("local[*]", "spark://host:7077") or remote ("sc://host:15002"), conf,
    # storage (the URI under which the cluster sees the buckets' folders)
    spark: dict[str, Any] = field(default_factory=dict)
    # EventBridge rules: name -> PutRule/PutTargets fields (EventPattern, ScheduleExpression, State, Targets, ...)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Glue workflows: name -> {Description?, Triggers = [CreateTrigger's fields: Name, Type, Predicate?, Actions]}
    glue_workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: Path | None = None
    # HTTP Tasks: {"allow": ["api.example.com", "*.example.org"]}, the hosts beyond loopback they may call ("*": any)
    http: dict[str, Any] = field(default_factory=dict)


# The known sections and keys. Crawler, job, rule and trigger keys are the AWS APIs' own names
# (Glue CreateCrawler/CreateJob/CreateWorkflow/CreateTrigger, EventBridge PutRule/PutTargets), so a
# definition copied from AWS reads unchanged; the entry's name comes from its table, not a Name key.
SECTIONS = ("buckets", "crawlers", "glue_jobs", "lambdas", "targets", "spark", "rules", "glue_workflows", "http")
CRAWLER_KEYS = ("Role", "DatabaseName", "Description", "Targets", "Schedule", "Classifiers", "TablePrefix",
                "SchemaChangePolicy", "RecrawlPolicy", "LineageConfiguration", "LakeFormationConfiguration",
                "Configuration", "CrawlerSecurityConfiguration", "Tags", "CatalogId")
CRAWLER_TARGET_KEYS = ("S3Targets", "JdbcTargets", "MongoDBTargets", "DynamoDBTargets", "CatalogTargets",
                       "DeltaTargets", "IcebergTargets", "HudiTargets")
S3_TARGET_KEYS = ("Path", "Exclusions", "ConnectionName", "SampleSize", "EventQueueArn", "DlqEventQueueArn")
# ScriptLocation stands at the top of a job locally (CreateJob nests it in Command; both are read).
GLUE_JOB_KEYS = ("ScriptLocation", "JobMode", "JobRunQueuingEnabled", "Description", "LogUri", "Role",
                 "ExecutionProperty", "Command", "DefaultArguments", "NonOverridableArguments", "Connections",
                 "MaxRetries", "AllocatedCapacity", "Timeout", "MaxCapacity", "SecurityConfiguration", "Tags",
                 "NotificationProperty", "GlueVersion", "NumberOfWorkers", "WorkerType", "CodeGenConfigurationNodes",
                 "ExecutionClass", "SourceControlDetails", "MaintenanceWindow")
GLUE_COMMAND_KEYS = ("Name", "ScriptLocation", "PythonVersion", "Runtime")
SPARK_KEYS = ("master", "remote", "conf", "storage")
# A Spark Connect endpoint: sc://host[:port][/;param=value;...] (Spark's own connection string).
SPARK_REMOTE_URL = re.compile(r"sc://[^\s/:;]+(:\d+)?(/(;[^\s;=]+=[^\s;]*)*)?")
# Where a cluster sees the buckets: <storage>/<bucket> (file:///shared/lake, hdfs://nn:8020/lake); not s3 itself.
SPARK_STORAGE_URI = re.compile(r"(?!s3a?://)[a-z][a-z0-9+.-]*://\S*")
RULE_KEYS = ("EventPattern", "ScheduleExpression", "State", "Description", "RoleArn", "Tags", "EventBusName",
             "Targets")
RULE_TARGET_KEYS = ("Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "KinesisParameters",
                    "RunCommandParameters", "EcsParameters", "BatchParameters", "SqsParameters", "HttpParameters",
                    "RedshiftDataParameters", "SageMakerPipelineParameters", "DeadLetterConfig", "RetryPolicy",
                    "AppSyncParameters")
WORKFLOW_KEYS = ("Description", "DefaultRunProperties", "Tags", "MaxConcurrentRuns", "Triggers")
TRIGGER_KEYS = ("Name", "Type", "Schedule", "Predicate", "Actions", "Description", "StartOnCreation", "Tags",
                "EventBatchingCondition")
TRIGGER_TYPES = ("SCHEDULED", "CONDITIONAL", "ON_DEMAND", "EVENT")
PREDICATE_KEYS = ("Logical", "Conditions")
CONDITION_KEYS = ("LogicalOperator", "JobName", "State", "CrawlerName", "CrawlState")
ACTION_KEYS = ("JobName", "Arguments", "Timeout", "SecurityConfiguration", "NotificationProperty", "CrawlerName")
_NAMED_SECTIONS = ("crawlers", "glue_jobs", "rules", "glue_workflows")

Key = tuple[str | int, ...]


def _kind(value: Any) -> str:
    """How a TOML value reads in an error message: its TOML type and the value itself."""
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
    return f"{names.get(type(value), type(value).__name__)} {value!r}"[:120]


def _suggest(name: str, known: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6) or difflib.get_close_matches(
        name.lower(), [k.lower() for k in known], n=1, cutoff=0.6)
    if not close:
        return f" (known: {', '.join(known)})" if len(known) <= 12 else ""
    match = next(k for k in known if k.lower() == close[0].lower())
    return f" (did you mean '{match}'?)"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# Numbers, booleans, dates and times (a date-time may have a space before its time): not a string, array or table.
_SCALAR = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}[^,\]}\s#]*|[^,\]}\s#]+")


class _Locator:
    """The line of every table header, key and array element in TOML text, keyed by its path.

    tomllib reports no positions, so this walks the text once more (it has parsed already, so
    the walk can be lenient): headers, dotted and quoted keys, inline tables, arrays (one index
    per element, arrays of tables counted per path) and multi-line strings are followed.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.lines: dict[Key, int] = {}
        self._tables: dict[Key, int] = {}

    def line(self) -> int:
        return bisect.bisect_right(self.starts, self.pos)

    def mark(self, path: Key) -> None:
        for depth in range(1, len(path) + 1):
            self.lines.setdefault(path[:depth], self.line())

    def scan(self) -> dict[Key, int]:
        # What was located before a surprise still helps; the rest falls back to its table's line.
        with contextlib.suppress(IndexError, ValueError):
            self._document()
        return self.lines

    def _peek(self, ahead: int = 0) -> str:
        return self.text[self.pos + ahead] if self.pos + ahead < len(self.text) else ""

    def _space(self, newlines: bool) -> None:
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            elif char in " \t\r" or (newlines and char == "\n"):
                self.pos += 1
            else:
                return

    def _document(self) -> None:
        table: Key = ()
        while True:
            self._space(newlines=True)
            if self.pos >= len(self.text):
                return
            if self.text.startswith("[[", self.pos):
                self.pos += 2
                path = self._key()
                index = self._tables.get(path, 0)
                self._tables[path] = index + 1
                table = (*path, index)
                self.mark(table)
                self.pos = self.text.index("]]", self.pos) + 2
            elif self._peek() == "[":
                self.pos += 1
                table = self._key()
                self.mark(table)
                self.pos = self.text.index("]", self.pos) + 1
            else:
                self._pair(table)

    def _key(self) -> Key:
        parts: list[str] = []
        while True:
            self._space(newlines=False)
            char = self._peek()
            if char in "\"'":
                parts.append(self._string())
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                if match is None:
                    raise ValueError(f"no key at offset {self.pos}")
                parts.append(match.group())
                self.pos = match.end()
            self._space(newlines=False)
            if self._peek() != ".":
                return tuple(parts)
            self.pos += 1

    def _pair(self, table: Key) -> None:
        self._space(newlines=False)
        path = (*table, *self._key())
        self.mark(path)
        self._space(newlines=False)
        if self._peek() != "=":
            raise ValueError(f"no '=' at offset {self.pos}")
        self.pos += 1
        self._value(path)

    def _value(self, path: Key) -> None:
        self._space(newlines=False)
        char = self._peek()
        if char == "{":
            self.pos += 1
            while True:
                self._space(newlines=True)
                if self._peek() == "}":
                    self.pos += 1
                    return
                self._pair(path)
                self._space(newlines=True)
                if self._peek() == ",":
                    self.pos += 1
        elif char == "[":
            self.pos += 1
            index = 0
            while True:
                self._space(newlines=True)
                if self._peek() == "]":
                    self.pos += 1
                    return
                self.mark((*path, index))
                self._value((*path, index))
                index += 1
                self._space(newlines=True)
                if self._peek() == ",":
                    self.pos += 1
        elif char in "\"'":
            self._string()
        else:
            match = _SCALAR.match(self.text, self.pos)
            if match is None:
                raise ValueError(f"no value at offset {self.pos}")
            self.pos = match.end()

    def _string(self) -> str:
        quote = self._peek()
        if self.text.startswith(quote * 3, self.pos):
            end = self.text.index(quote * 3, self.pos + 3)
            while self.text.startswith(quote, end + 3):  # up to two quotes may end the content
                end += 1
            body, self.pos = self.text[self.pos + 3:end], end + 3
            return body
        start = self.pos + 1
        end = start
        while self.text[end] != quote:
            end += 2 if quote == '"' and self.text[end] == "\\" else 1
        self.pos = end + 1
        body = self.text[start:end]
        return tomllib.loads(f"k = {quote}{body}{quote}")["k"] if "\\" in body else body


class _Problems:
    """Every problem found in one config file, each with the line of the key it is about."""

    def __init__(self, where: str, text: str, prefix: Key) -> None:
        self.where = where
        self.prefix = prefix
        self.lines = _Locator(text).scan()
        self.found: list[tuple[int, str]] = []

    def add(self, path: Key, problem: str) -> None:
        full = (*self.prefix, *path)
        line = next((self.lines[full[:depth]] for depth in range(len(full), 0, -1) if full[:depth] in self.lines), 1)
        self.found.append((line, f"{self.where}:{line}: {self._display(path)}: {problem}"))

    def expect(self, ok: bool, path: Key, expected: str, value: Any) -> bool:
        if not ok:  # TOML has no null: None is a key that is not there
            self.add(path, f"expected {expected}, " + ("but it is missing" if value is None else f"got {_kind(value)}"))
        return ok

    def keys(self, path: Key, table: dict[str, Any], known: tuple[str, ...]) -> None:
        for key in table:
            if key not in known:
                self.add((*path, key), f"unknown key{_suggest(key, known)}")

    def _display(self, path: Key) -> str:
        split = 2 if path and path[0] in _NAMED_SECTIONS else 1
        head = ".".join(_quoted(str(p)) for p in (*self.prefix, *path[:split]))
        rest = "".join(f"[{p}]" if isinstance(p, int) else f".{_quoted(p)}" for p in path[split:]).lstrip(".")
        return f"[{head}]" + (f" {rest}" if rest else "")

    def raise_if_any(self) -> None:
        if len(self.found) == 1:
            raise ConfigError(self.found[0][1])
        if self.found:
            lines = "\n".join(f"  {text}" for _, text in sorted(self.found, key=lambda found: found[0]))
            raise ConfigError(f"{len(self.found)} problems in {self.where}:\n{lines}")


def _quoted(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _strings(p: _Problems, path: Key, table: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in table:
            p.expect(isinstance(table[key], str), (*path, key), "a string", table[key])


def _table(p: _Problems, path: Key, value: Any, expected: str = "a table") -> dict[str, Any] | None:
    return value if p.expect(isinstance(value, dict), path, expected, value) else None


def _tables(p: _Problems, path: Key, value: Any, expected: str) -> list[tuple[Key, dict[str, Any]]]:
    """The tables of an array of tables, each with its path; the others reported."""
    if not p.expect(isinstance(value, list), path, expected, value):
        return []
    return [((*path, i), item) for i, item in enumerate(value) if _table(p, (*path, i), item) is not None]


def _check_buckets(p: _Problems, buckets: dict[str, Any], project: Path) -> dict[str, Path]:
    folders: dict[str, Path] = {}
    for name, folder in buckets.items():
        if not p.expect(_is_text(folder), ("buckets", name), "a folder path (string)", folder):
            continue
        folders[name] = (project / folder).resolve()
        if not folders[name].is_dir():
            what = "is not a folder" if folders[name].exists() else "does not exist"
            p.add(("buckets", name), f"the folder {folders[name]} {what} (create it, or fix the path)")
    return folders


def _check_crawler(p: _Problems, path: Key, crawler: Any) -> None:
    """The keys of Glue's CreateCrawler; the local crawls read DatabaseName, Targets.S3Targets, TablePrefix, ..."""
    if _table(p, path, crawler) is None:
        return
    p.keys(path, crawler, CRAWLER_KEYS)
    p.expect(_is_text(crawler.get("DatabaseName")), (*path, "DatabaseName"), "a database name (string)",
             crawler.get("DatabaseName"))
    _strings(p, path, crawler, ("Role", "TablePrefix", "Description", "Schedule", "Configuration",
                                "CrawlerSecurityConfiguration", "CatalogId"))
    for key, known in (("SchemaChangePolicy", ("UpdateBehavior", "DeleteBehavior")),
                       ("RecrawlPolicy", ("RecrawlBehavior",))):
        if key in crawler and (policy := _table(p, (*path, key), crawler[key])) is not None:
            p.keys((*path, key), policy, known)
            _strings(p, (*path, key), policy, known)
    targets = _table(p, (*path, "Targets"), crawler.get("Targets"),
                     "a table such as { S3Targets = [{ Path = \"s3://...\" }] }")
    if targets is None:
        return
    p.keys((*path, "Targets"), targets, CRAWLER_TARGET_KEYS)
    for at, target in _tables(p, (*path, "Targets", "S3Targets"), targets.get("S3Targets", []), "an array of tables"):
        p.keys(at, target, S3_TARGET_KEYS)
        p.expect(_is_text(target.get("Path")), (*at, "Path"), "an s3:// path (string)", target.get("Path"))
        exclusions = target.get("Exclusions", [])
        p.expect(isinstance(exclusions, list) and all(isinstance(e, str) for e in exclusions), (*at, "Exclusions"),
                 "an array of strings", exclusions)


def _check_arguments(p: _Problems, path: Key, job: dict[str, Any], key: str) -> None:
    arguments = _table(p, (*path, key), job.get(key, {}), "a table of \"--key\" = value")
    for arg, value in (arguments or {}).items():
        p.expect(isinstance(value, str | int | float | bool), (*path, key, arg), "a string, number or boolean", value)


def _check_glue_job(p: _Problems, path: Key, job: Any, project: Path, buckets: dict[str, Path]) -> None:
    if _table(p, path, job, "a table with ScriptLocation") is None:
        return
    p.keys(path, job, GLUE_JOB_KEYS)
    command = job.get("Command", {})
    script_at = (*path, "ScriptLocation")
    if _table(p, (*path, "Command"), command) is not None:
        p.keys((*path, "Command"), command, GLUE_COMMAND_KEYS)
        _strings(p, (*path, "Command"), command, GLUE_COMMAND_KEYS)
        if "ScriptLocation" not in job and "ScriptLocation" in command:
            job["ScriptLocation"] = command["ScriptLocation"]  # the runner reads the top-level key
            script_at = (*path, "Command", "ScriptLocation")
    location = job.get("ScriptLocation")
    if p.expect(_is_text(location), script_at, "a script path or s3:// URI (string)", location):
        _check_script(p, script_at, location, project, buckets)
    _check_arguments(p, path, job, "DefaultArguments")
    _check_arguments(p, path, job, "NonOverridableArguments")
    for key in ("Timeout", "MaxRetries", "NumberOfWorkers", "AllocatedCapacity"):
        if key in job:
            p.expect(_is_int(job[key]), (*path, key), "an integer" + (" (minutes)" if key == "Timeout" else ""),
                     job[key])
    _strings(p, path, job, ("Description", "Role", "GlueVersion", "WorkerType", "JobMode", "LogUri",
                            "SecurityConfiguration", "ExecutionClass", "MaintenanceWindow"))


def _check_script(p: _Problems, path: Key, location: str, project: Path, buckets: dict[str, Path]) -> None:
    """A local script, or one under a mapped bucket's folder, must exist; others live in the workspace's store."""
    if location.startswith(("s3://", "s3a://")):
        bucket, _, key = location.split("://", 1)[1].partition("/")
        if bucket not in buckets or not buckets[bucket].is_dir():
            return
        script = buckets[bucket].joinpath(*key.split("/"))
    else:
        script = Path(location) if Path(location).is_absolute() else project / location
    if not script.is_file():
        p.add(path, f"the script {script} does not exist")


def _check_targets(p: _Problems, targets: dict[str, Any]) -> None:
    """Keys are `default` or a service as Task resources name it (emulator/targets.py: what boto3 knows)."""
    if not targets:
        return
    from emulator.targets import CLIENT_NAMES, DEFAULT, client_name  # botocore only when targets are set

    known = _aws_services()
    names = sorted({DEFAULT, *known, *CLIENT_NAMES})
    for service, target in targets.items():
        if service != DEFAULT and client_name(service) not in known:
            p.add(("targets", service), f"unknown service{_suggest(service, names)}")
        p.expect(target in ("local", "aws"), ("targets", service), "\"local\" or \"aws\"", target)


def _aws_services() -> frozenset[str]:
    import botocore.session

    return frozenset(botocore.session.get_session().get_available_services())


def _check_http(p: _Problems, section: dict[str, Any]) -> None:
    p.keys(("http",), section, ("allow",))
    allow = section.get("allow", [])
    p.expect(isinstance(allow, list) and all(_is_text(host) for host in allow), ("http", "allow"),
             "an array of host names (\"api.example.com\", \"*.example.org\", \"*\")", allow)


def _check_spark(p: _Problems, spark: dict[str, Any]) -> None:
    p.keys(("spark",), spark, SPARK_KEYS)
    if "master" in spark:
        p.expect(_is_text(spark["master"]), ("spark", "master"), "a string", spark["master"])
    if "remote" in spark:
        p.expect(isinstance(spark["remote"], str) and SPARK_REMOTE_URL.fullmatch(spark["remote"]) is not None,
                 ("spark", "remote"), "a Spark Connect URL \"sc://host:port\"", spark["remote"])
    if "storage" in spark:
        p.expect(isinstance(spark["storage"], str) and SPARK_STORAGE_URI.fullmatch(spark["storage"]) is not None,
                 ("spark", "storage"), "the URI the cluster sees the buckets' folders under (\"file:///...\", "
                 "\"hdfs://host:port/...\")", spark["storage"])
    if "master" in spark and "remote" in spark:
        p.add(("spark", "remote"), "give master (a Spark cluster) or remote (Spark Connect), not both")
    conf = _table(p, ("spark", "conf"), spark.get("conf", {}), "a table of \"spark.key\" = value")
    for key, value in (conf or {}).items():
        p.expect(isinstance(value, str | int | float | bool), ("spark", "conf", key), "a string, number or boolean",
                 value)


def _check_rule(p: _Problems, path: Key, rule: Any) -> None:
    if _table(p, path, rule, "a table (EventPattern, ScheduleExpression, Targets)") is None:
        return
    p.keys(path, rule, RULE_KEYS)
    _strings(p, path, rule, ("ScheduleExpression", "Description", "RoleArn", "EventBusName"))
    if "State" in rule:
        states = ("ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
        p.expect(rule["State"] in states, (*path, "State"), " or ".join(states), rule["State"])
    if "EventPattern" in rule:
        p.expect(isinstance(rule["EventPattern"], dict | str), (*path, "EventPattern"), "a table or JSON text",
                 rule["EventPattern"])
    for at, target in _tables(p, (*path, "Targets"), rule.get("Targets", []), "an array of tables (Id, Arn, ...)"):
        p.keys(at, target, RULE_TARGET_KEYS)
        p.expect(_is_text(target.get("Arn")), (*at, "Arn"), "the target's ARN (string)", target.get("Arn"))
        _strings(p, at, target, ("Id", "RoleArn", "Input", "InputPath"))
        if "InputTransformer" in target and (shape := _table(p, (*at, "InputTransformer"),
                                                            target["InputTransformer"])) is not None:
            p.keys((*at, "InputTransformer"), shape, ("InputPathsMap", "InputTemplate"))


def _check_workflow(p: _Problems, path: Key, workflow: Any) -> None:
    if _table(p, path, workflow, "a table with Triggers") is None:
        return
    p.keys(path, workflow, WORKFLOW_KEYS)
    _strings(p, path, workflow, ("Description",))
    for at, trigger in _tables(p, (*path, "Triggers"), workflow.get("Triggers", []), "an array of tables"):
        p.keys(at, trigger, TRIGGER_KEYS)
        p.expect(_is_text(trigger.get("Name")), (*at, "Name"), "the trigger's name (string)", trigger.get("Name"))
        p.expect(trigger.get("Type") in TRIGGER_TYPES, (*at, "Type"), " or ".join(TRIGGER_TYPES), trigger.get("Type"))
        _strings(p, at, trigger, ("Schedule", "Description"))
        if "Predicate" in trigger and (predicate := _table(p, (*at, "Predicate"), trigger["Predicate"])) is not None:
            p.keys((*at, "Predicate"), predicate, PREDICATE_KEYS)
            for cat, condition in _tables(p, (*at, "Predicate", "Conditions"), predicate.get("Conditions", []),
                                          "an array of tables"):
                p.keys(cat, condition, CONDITION_KEYS)
        for aat, action in _tables(p, (*at, "Actions"), trigger.get("Actions", []), "an array of tables"):
            p.keys(aat, action, ACTION_KEYS)


def _validated(data: dict[str, Any], p: _Problems, project: Path) -> Config:
    """The config with every section, key and value checked; all problems are raised together."""
    for section in data:
        if section not in SECTIONS:
            p.add((section,), f"unknown section{_suggest(section, SECTIONS)}")
    sections = {name: _table(p, (name,), data.get(name, {})) or {} for name in SECTIONS}
    buckets = _check_buckets(p, sections["buckets"], project)
    for name, crawler in sections["crawlers"].items():
        _check_crawler(p, ("crawlers", name), crawler)
    for name, job in sections["glue_jobs"].items():
        _check_glue_job(p, ("glue_jobs", name), job, project, buckets)
    for name, spec in sections["lambdas"].items():
        p.expect(isinstance(spec, str) and ":" in spec, ("lambdas", name), "\"module:function\" (string)", spec)
    _check_targets(p, sections["targets"])
    _check_spark(p, sections["spark"])
    _check_http(p, sections["http"])
    for name, rule in sections["rules"].items():
        _check_rule(p, ("rules", name), rule)
    for name, workflow in sections["glue_workflows"].items():
        _check_workflow(p, ("glue_workflows", name), workflow)
    p.raise_if_any()
    return Config(buckets=buckets, crawlers=sections["crawlers"], glue_jobs=sections["glue_jobs"],
                  lambdas=dict(sections["lambdas"]), targets=dict(sections["targets"]), spark=dict(sections["spark"]),
                  rules=dict(sections["rules"]), glue_workflows=dict(sections["glue_workflows"]), source=Path(p.where),
                  http=dict(sections["http"]))


def load_config(project: Path) -> Config:
    """Read `sfn-local.toml`, else `[tool.sfn-local]` of pyproject.toml; an empty Config when neither.

    ConfigError lists every problem at once: unknown sections and keys (with the nearest known
    name), wrong types, a Glue job script or a bucket folder that does not exist.
    """
    candidates = [(project / "sfn-local.toml", ()), (project / "pyproject.toml", ("tool", "sfn-local"))]
    for path, keys in candidates:
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        for key in keys:
            data = data.get(key, {}) if isinstance(data, dict) else {}
        if keys and not data:
            continue
        problems = _Problems(str(path), text, keys)
        if not isinstance(data, dict):
            problems.add((), f"expected a table, got {_kind(data)}")
            problems.raise_if_any()
        return _validated(data, problems, project)
    return Config()


def flock_file(path: Path) -> int:
    """A descriptor of `path` (created if need be) holding an exclusive flock; closing it releases the lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


class WorkspaceLock:
    """A lock that holds across threads and processes: a thread RLock plus flock on a file.

    Re-entrant within a thread; the file lock is taken by the outermost `with` and dropped when
    it ends. The kernel drops a flock when its process dies, so a killed process never leaves
    the workspace locked.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def __enter__(self) -> WorkspaceLock:
        self._thread.acquire()
        if self._depth == 0:
            try:
                self._fd = flock_file(self.path)
            except BaseException:
                self._thread.release()
                raise
        self._depth += 1
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor releases the flock
        self._thread.release()


_LOCKS: dict[Path, WorkspaceLock] = {}
_LOCKS_GUARD = threading.Lock()


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: readers in any process see the old or the new content, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Workspace:
    """One workspace directory and the config of the project it belongs to."""

    def __init__(self, root: str | os.PathLike[str] | None = None, project: str | os.PathLike[str] | None = None,
                 config: Config | None = None) -> None:
        self.project = Path(project or Path.cwd()).resolve()
        self.root = Path(root or os.environ.get(WORKSPACE_ENV) or self.project / DEFAULT_WORKSPACE).resolve()
        self.config = config if config is not None else load_config(self.project)

    def path(self, *parts: str) -> Path:
        """A directory under the workspace, created on first use."""
        folder = self.root.joinpath(*parts)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def lock(self, name: str) -> WorkspaceLock:
        """The lock guarding `name`'s read-modify-writes in this workspace, across threads and processes."""
        path = self.root / "locks" / f"{name}.lock"
        with _LOCKS_GUARD:
            return _LOCKS.setdefault(path, WorkspaceLock(path))

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"
