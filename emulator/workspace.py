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

import fcntl
import os
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

WORKSPACE_ENV = "SFN_LOCAL_WORKSPACE"
DEFAULT_WORKSPACE = ".sfn-local"


class ConfigError(ValueError):
    """The config file is unreadable or malformed; the message names the file and the key."""


@dataclass
class Config:
    buckets: dict[str, Path] = field(default_factory=dict)
    crawlers: dict[str, dict[str, Any]] = field(default_factory=dict)
    glue_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    lambdas: dict[str, str] = field(default_factory=dict)
    # Where each service's Task calls go: {"default": "local", "glue": "aws", ...}
    targets: dict[str, str] = field(default_factory=dict)
    # The Spark session's settings: master ("local[*]", "spark://host:7077") or remote ("sc://host:15002"), conf
    spark: dict[str, Any] = field(default_factory=dict)
    # EventBridge rules: name -> PutRule/PutTargets fields (EventPattern, ScheduleExpression, State, Targets, ...)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Glue workflows: name -> {Description?, Triggers = [CreateTrigger's fields: Name, Type, Predicate?, Actions]}
    glue_workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: Path | None = None


def _kind(value: Any) -> str:
    """How a TOML value reads in an error message: its TOML type and the value itself."""
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
    return f"{names.get(type(value), type(value).__name__)} {value!r}"[:120]


def _expect(ok: bool, where: str, key: str, expected: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{where}: {key}: expected {expected}, got {_kind(value)}")


def _section(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    _expect(isinstance(value, dict), where, f"[{key}]", "a table", value)
    return value


def _check_crawler(where: str, name: str, crawler: Any) -> None:
    """The crawler keys the local crawls read: DatabaseName, Targets.S3Targets[].Path, TablePrefix, ..."""
    key = f"[crawlers.{name}]"
    _expect(isinstance(crawler, dict), where, key, "a table", crawler)
    database = crawler.get("DatabaseName")
    _expect(isinstance(database, str) and database != "", where, f"{key} DatabaseName", "a database name (string)",
            database)
    for optional in ("Role", "TablePrefix", "Description"):
        if optional in crawler:
            _expect(isinstance(crawler[optional], str), where, f"{key} {optional}", "a string", crawler[optional])
    if "SchemaChangePolicy" in crawler:
        policy = crawler["SchemaChangePolicy"]
        _expect(isinstance(policy, dict) and all(isinstance(v, str) for v in policy.values()), where,
                f"{key} SchemaChangePolicy", "a table of strings (UpdateBehavior, DeleteBehavior)", policy)
    targets = crawler.get("Targets")
    _expect(isinstance(targets, dict), where, f"{key} Targets",
            "a table such as { S3Targets = [{ Path = \"s3://...\" }] }", targets)
    s3_targets = targets.get("S3Targets", [])
    _expect(isinstance(s3_targets, list), where, f"{key} Targets.S3Targets", "an array of tables", s3_targets)
    for index, target in enumerate(s3_targets):
        at = f"{key} Targets.S3Targets[{index}]"
        _expect(isinstance(target, dict), where, at, "a table with Path", target)
        _expect(isinstance(target.get("Path"), str) and target["Path"] != "", where, f"{at}.Path",
                "an s3:// path (string)", target.get("Path"))
        exclusions = target.get("Exclusions", [])
        _expect(isinstance(exclusions, list) and all(isinstance(e, str) for e in exclusions), where,
                f"{at}.Exclusions", "an array of strings", exclusions)


def _check_glue_job(where: str, name: str, job: Any) -> None:
    key = f"[glue_jobs.{name}]"
    _expect(isinstance(job, dict), where, key, "a table with ScriptLocation", job)
    location = job.get("ScriptLocation")
    _expect(isinstance(location, str) and location != "", where, f"{key} ScriptLocation",
            "a script path or s3:// URI (string)", location)
    arguments = job.get("DefaultArguments", {})
    _expect(isinstance(arguments, dict), where, f"{key} DefaultArguments", "a table of \"--key\" = value", arguments)
    for arg, value in arguments.items():
        _expect(isinstance(value, str | int | float | bool), where, f"{key} DefaultArguments.{arg}",
                "a string, number or boolean", value)
    if "Timeout" in job:
        _expect(isinstance(job["Timeout"], int) and not isinstance(job["Timeout"], bool), where, f"{key} Timeout",
                "an integer (minutes)", job["Timeout"])


def _validated(data: dict[str, Any], where: str, project: Path) -> Config:
    """The config's sections with every value's type checked; a wrong one names the file and key."""
    buckets: dict[str, Path] = {}
    for name, folder in _section(data, "buckets", where).items():
        _expect(isinstance(folder, str) and folder != "", where, f"[buckets] {name}", "a folder path (string)", folder)
        buckets[name] = (project / folder).resolve()
    crawlers = _section(data, "crawlers", where)
    for name, crawler in crawlers.items():
        _check_crawler(where, name, crawler)
    glue_jobs = _section(data, "glue_jobs", where)
    for name, job in glue_jobs.items():
        _check_glue_job(where, name, job)
    lambdas = _section(data, "lambdas", where)
    for name, spec in lambdas.items():
        _expect(isinstance(spec, str) and ":" in spec, where, f"[lambdas] {name}", "\"module:function\" (string)",
                spec)
    targets = _section(data, "targets", where)
    for service, target in targets.items():
        _expect(target in ("local", "aws"), where, f"[targets] {service}", "\"local\" or \"aws\"", target)
    spark = _section(data, "spark", where)
    rules = _section(data, "rules", where)
    for name, rule in rules.items():
        _expect(isinstance(rule, dict), where, f"[rules.{name}]", "a table (EventPattern, ScheduleExpression, Targets)",
                rule)
    glue_workflows = _section(data, "glue_workflows", where)
    for name, workflow in glue_workflows.items():
        _expect(isinstance(workflow, dict), where, f"[glue_workflows.{name}]", "a table with Triggers", workflow)
    return Config(buckets=buckets, crawlers=crawlers, glue_jobs=glue_jobs, lambdas=dict(lambdas), targets=dict(targets),
                  spark=dict(spark), rules=dict(rules), glue_workflows=dict(glue_workflows), source=Path(where))


def load_config(project: Path) -> Config:
    """Read `sfn-local.toml`, else `[tool.sfn-local]` of pyproject.toml; an empty Config when neither."""
    candidates = [(project / "sfn-local.toml", None), (project / "pyproject.toml", ("tool", "sfn-local"))]
    for path, keys in candidates:
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        for key in keys or ():
            data = data.get(key, {}) if isinstance(data, dict) else {}
        if keys and not data:
            continue
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: [tool.sfn-local]: expected a table, got {_kind(data)}")
        return _validated(data, str(path), project)
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
