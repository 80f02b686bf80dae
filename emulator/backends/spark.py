"""A warm local Spark: PySpark scripts (EMR steps, Glue jobs) run in-process on one SparkSession.

Starting a JVM costs seconds, so every job of the process shares ONE SparkContext, started on first
use and kept until the process exits (or `stop_session`). Where it runs comes from `[spark]` in the
project's config: `master = "local[N]"` (default `local[2]`, or SFN_LOCAL_SPARK_MASTER) or
`master = "spark://host:7077"` (an existing standalone cluster), plus `conf = {...}` for the session's
Spark conf. A script runs as `__main__` with its own argv; `SparkSession.builder.getOrCreate()`
inside it returns the warm session, and its `spark.stop()` / `sc.stop()` are ignored.

The session is pooled: leases (`acquire` / `release`: an EMR cluster holds one while it lives) and
running jobs keep it busy; when the last ends, the session goes back to the pool with the jobs'
Spark state cleared (a new SQL session: temp views, UDFs, runtime conf, current database; cached
tables and RDDs, global temp views, Hadoop conf changes and bucket mounts, modules imported from
--py-files), so the next cluster or Glue run starts clean on the same JVM.

`s3://` and `s3a://` paths resolve to the local object store wherever they appear (step
arguments, literals in the job's code): both schemes are served by Hadoop's
ViewFileSystemOverloadScheme with, per bucket, a mount table whose fallback is the bucket's
directory. Mounts are set before each job for every bucket the store knows plus every bucket
named in the job's arguments or source, so buckets created after the session started work too.
On a standalone cluster the executors read those directories too, so its workers must share this
machine's filesystem (loopback), or `storage = "file:///shared/lake"` (any Hadoop URI) names where
the cluster sees them (bucket b is <storage>/b); a `conf` of `spark.hadoop.fs.s3a.impl` etc. maps s3 elsewhere.

`remote = "sc://host:15002"` runs the jobs on a Spark Connect server instead: the warm session is a
Connect session (no JVM in this process), a job's `SparkSession.builder.getOrCreate()` returns it,
and `SparkContext.getOrCreate()` returns a stand-in (`ConnectContext`) so Glue's boilerplate
`GlueContext(SparkContext.getOrCreate())` runs; what needs the JVM (RDDs, `sc._jsc`) fails naming the
call. The mount tables and `spark.hadoop.*` settings become the session's own conf (Spark copies a
session's SQL conf into the Hadoop conf of its file reads and writes). Between clusters the session
is released and a new one opened; its conf applies runtime settings only (static ones are the server's).
The status tracker is JVM-only, so the progress display shows no Spark stages.

Limits, because one JVM and one Python process serve every job: concurrent jobs run in parallel
threads but share the session's runtime conf (a `--conf` of one job is visible to the other while
both run), sys.path (for `--py-files`) and the mount tables (two workspaces using the same bucket
name at the same moment would collide). sys.argv and stdout/stderr are per job: they are
thread-local proxies while a job runs, so threads a job starts itself see the process's argv.

Several processes on one workspace: while `sfn-local serve` runs on it, the others hand their jobs
to its warm session over loopback (`sparkservice.py`) and start no JVM. Otherwise each has its own
session, and their jobs take turns. A process holds the workspace's `locks/spark-jobs.lock` (flock)
while any of its jobs runs, so its own jobs still run in parallel while another process's wait. Two
jobs of different processes overwriting one output path would otherwise share Hadoop's
`<output>/_temporary/0`: the first commit takes the other's files (duplicate rows) and deletes its
folder (the other job fails).
"""

from __future__ import annotations

import atexit
import builtins
import io
import os
import re
import sys
import threading
import time
import traceback
import xml.etree.ElementTree as ElementTree
from collections import UserList
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.backends import sparkjvm
from emulator.backends.objectstore import ObjectStore, S3Error
from emulator.workspace import (
    SPARK_KEYS,
    SPARK_REMOTE_URL,
    SPARK_STORAGE_URI,
    Config,
    ConfigError,
    Workspace,
    flock_file,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MASTER_ENV = "SFN_LOCAL_SPARK_MASTER"
DEFAULT_MASTER = "local[2]"
_MASTER = re.compile(r"local(\[(\*|[1-9]\d*)(,\d+)?\])?|spark://[^\s/,]+:\d+(,[^\s/,]+:\d+)*")
DRIVER_LOG = "spark-driver.log"  # the JVM's own output, under <workspace>/logs/
_LOG4J2_CONFIG = """\
rootLogger.level = warn
rootLogger.appenderRef.file.ref = driverLog
appender.file.type = File
appender.file.name = driverLog
appender.file.fileName = {file}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: %m%n
"""
LOG_TAIL_LINES = 40
_BUCKET_IN_TEXT = re.compile(r"s3a?://([a-z0-9][a-z0-9.\-_]{1,62})")
_VIEWFS = "org.apache.hadoop.fs.viewfs.ViewFileSystemOverloadScheme"
_EMULATOR_PACKAGE = str(Path(__file__).resolve().parents[1]) + "/"  # our own awsglue stays imported

# Settings every warm session starts with: s3/s3a through the mount tables, no per-instance FS
# cache (a cached FileSystem would keep the mount table it was created with), RawLocalFileSystem
# so Spark writes no .crc side files into buckets, and no UI server. No whole-stage code generation:
# compiling each query's generated Java costs more than it saves on local data (a cold session's first
# car-rental jobs take ~30% less CPU); `[spark] conf` can turn it back on.
_SESSION_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.codegen.wholeStage": "false",
    "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    **{key: value for scheme in ("s3", "s3a") for key, value in {
        f"spark.hadoop.fs.{scheme}.impl": _VIEWFS,
        f"spark.hadoop.fs.{scheme}.impl.disable.cache": "true",
        f"spark.hadoop.fs.viewfs.overload.scheme.target.{scheme}.impl": "org.apache.hadoop.fs.LocalFileSystem",
    }.items()},
}


@dataclass
class JobResult:
    state: str  # "SUCCEEDED" | "FAILED" | "CANCELLED"
    error_message: str | None
    log_tail: str
    seconds: float  # wall time of the script itself, session start excluded
    log_file: str | None = None  # the full driver log: <workspace>/logs/<job group>.log

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SparkSettings:
    """Where the session runs and the Spark conf it starts with (from `[spark]`)."""

    master: str = DEFAULT_MASTER
    conf: tuple[tuple[str, str], ...] = field(default=())
    remote: str | None = None  # a Spark Connect URL: the session is a Connect session, `master` unused
    storage: str | None = None  # the URI the cluster sees the buckets' folders under

    @property
    def where(self) -> str:
        return self.remote or self.master


class SparkBusyError(RuntimeError):
    """The process's session runs elsewhere than a workspace asks, and jobs still use it."""


def _shown(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
    return f"{names.get(type(value), type(value).__name__)} {value!r}"[:120]


def spark_settings(config: Config, master: str | None = None) -> SparkSettings:
    """`[spark]` checked: `master` ("local[N]" or "spark://host:port") or `remote` ("sc://host:port"), `conf`
    (a table of Spark conf), `storage`. `master` (the caller's) takes precedence over the file's master and
    remote; SFN_LOCAL_SPARK_MASTER over the file's master only (a remote names a server on purpose)."""
    where = f"{config.source}: [spark]" if config.source else "[spark]"
    section = config.spark or {}
    unknown = sorted(set(section) - set(SPARK_KEYS))
    if unknown:
        raise ConfigError(f"{where} {unknown[0]}: unknown key (expected master, remote, conf or storage)")
    remote, storage = section.get("remote"), section.get("storage")
    if remote is not None and not (isinstance(remote, str) and SPARK_REMOTE_URL.fullmatch(remote)):
        raise ConfigError(f"{where} remote: expected a Spark Connect URL \"sc://host:port\", got {_shown(remote)}")
    if remote is not None and "master" in section:
        raise ConfigError(f"{where} remote: give master (a Spark cluster) or remote (Spark Connect), not both")
    if storage is not None and not (isinstance(storage, str) and SPARK_STORAGE_URI.fullmatch(storage)):
        raise ConfigError(f"{where} storage: expected the URI the cluster sees the buckets' folders under "
                          f"(\"file:///...\", \"hdfs://host:port/...\"), got {_shown(storage)}")
    chosen, origin = section.get("master", DEFAULT_MASTER), f"{where} master"
    if master:
        chosen, origin, remote = master, "SparkEngine(master=...)", None
    elif remote is not None:
        chosen = DEFAULT_MASTER
    elif os.environ.get(MASTER_ENV):
        chosen, origin = os.environ[MASTER_ENV], MASTER_ENV
    if not isinstance(chosen, str) or not _MASTER.fullmatch(chosen):
        raise ConfigError(f"{origin}: expected \"local[N]\" or \"spark://host:port\", got {_shown(chosen)}")
    conf = section.get("conf", {})
    if not isinstance(conf, dict):
        raise ConfigError(f"{where} conf: expected a table of Spark settings, got {_shown(conf)}")
    pairs = []
    for key, value in conf.items():
        if not isinstance(value, str | int | float | bool):
            raise ConfigError(f"{where} conf.{key}: expected a string, number or boolean, got {_shown(value)}")
        pairs.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
    return SparkSettings(chosen, tuple(sorted(pairs)), remote, storage)


class _ThreadLocalArgv(UserList):
    """sys.argv while jobs run: each job thread sees its own list, other threads the process's."""

    def __init__(self, default: list[str]) -> None:  # UserList.__init__ would copy into .data
        self._default = default

    @property
    def data(self) -> list[str]:  # type: ignore[override]
        return getattr(_local, "argv", self._default)

    @data.setter
    def data(self, value: list[str]) -> None:
        _local.argv = value

    # UserList builds results with self.__class__, which would read the thread's argv again
    # (sys.argv[1:] would be the whole argv): derived lists are plain lists.
    def __getitem__(self, index: Any) -> Any:
        return self.data[index]

    def __add__(self, other: Any) -> list[str]:
        return self.data + list(other)

    def __radd__(self, other: Any) -> list[str]:
        return list(other) + self.data

    def __mul__(self, n: int) -> list[str]:
        return self.data * n

    def copy(self) -> list[str]:
        return list(self.data)


class _ThreadLocalStream(io.TextIOBase):
    """stdout/stderr while jobs run: a job thread's writes also go to its own log buffer."""

    def __init__(self, target: Any, name: str) -> None:
        self.target = target
        self.name = name

    def write(self, text: str) -> int:
        if (buffer := getattr(_local, "log", None)) is not None:
            buffer.write(text)
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()

    def fileno(self) -> int:
        return self.target.fileno()


_local = threading.local()
_lock = threading.RLock()  # guards the session, leases, the proxies and the mount tables
_session: SparkSession | None = None
_settings: SparkSettings | None = None  # what the running session was started with
_hadoop_baseline: dict[str, tuple[str, bool]] = {}  # the session's Hadoop conf as started, restored between clusters
_py_file_paths: set[str] = set()  # --py-files entries of jobs since the session was last cleared
_leases: dict[str, SparkSettings | None] = {}  # owner → the settings its workspace asks for (None: unreadable)
_remote_jobs: dict[tuple[Path, str], Any] = {}  # (workspace, job group) → the serving process running it
_jobs_running = 0
_saved_stdio: tuple[Any, Any, Any] | None = None
started_in: float | None = None  # seconds the last session start took (bench, logs)


class _JobLease:
    """Held by this process while any of its jobs on one workspace runs (see the module's docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._gate = threading.Lock()  # a job of this process waits here while another waits for the flock
        self._holders = 0
        self._fd: int | None = None

    def __enter__(self) -> None:
        with self._gate:
            if self._holders == 0:
                self._fd = flock_file(self.path)
            self._holders += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._gate:
            self._holders -= 1
            if self._holders == 0 and self._fd is not None:
                os.close(self._fd)  # releases the flock
                self._fd = None


_leases_by_path: dict[Path, _JobLease] = {}


def _job_lease(workspace: Workspace) -> _JobLease:
    path = workspace.root / "locks" / "spark-jobs.lock"
    with _lock:
        return _leases_by_path.setdefault(path, _JobLease(path))


class SparkEngine:
    """The warm session as one workspace sees it (its buckets are what s3:// paths resolve to)."""

    def __init__(self, workspace: Workspace, object_store: ObjectStore, master: str | None = None) -> None:
        self.workspace = workspace
        self.object_store = object_store
        self._master = master

    @property
    def master(self) -> str:
        """Where the session runs: the master URL, or the Spark Connect URL with `remote`."""
        return self.settings().where

    def settings(self) -> SparkSettings:
        """This workspace's `[spark]` settings; a bad key raises ConfigError naming it."""
        return spark_settings(self.workspace.config, self._master)

    # -- the session -----------------------------------------------------------------------
    def session(self) -> SparkSession:
        """The warm session, started on first use (or restarted, when idle, for other settings)."""
        global _session, _settings, started_in, _hadoop_baseline
        settings = self.settings()
        with _lock:
            if _session is not None and _alive(_session) and _settings != settings:
                if _jobs_running or any(wanted != settings for wanted in _leases.values()):
                    raise SparkBusyError(
                        f"this process's Spark session runs on {_settings.where if _settings else '?'} for other "
                        f"jobs; the [spark] settings of {self.workspace.root} need another one "
                        f"({settings.where}); one process runs one Spark session at a time")
                starting = dict(_leases)  # clusters starting on the new settings (their lease comes first) keep theirs
                stop_session()
                _leases.update(starting)
            if _session is not None and _alive(_session):
                return _session
            began = time.monotonic()
            if settings.remote:
                _session, _settings, _hadoop_baseline = _connect(settings), settings, {}
                _guard_stop()
            else:
                from pyspark.sql import SparkSession

                conf = self._conf(settings)
                # UDF workers run `python3` from PATH unless told: this interpreter has the project's packages
                # (pyarrow, which Arrow-optimised UDFs need once pandas is installed).
                os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
                builder = SparkSession.builder.master(settings.master).appName("sfn-local")
                for key, value in {**conf, **self._quiet_jvm(settings.master, conf)}.items():
                    builder = builder.config(key, value)
                _session = builder.getOrCreate()
                _session.sparkContext.setLogLevel("ERROR")
                _guard_stop()
                _settings = settings
                _hadoop_baseline = _hadoop_properties(_session)
            started_in = time.monotonic() - began
            return _session

    @staticmethod
    def _conf(settings: SparkSettings) -> dict[str, str]:
        conf = {**_SESSION_CONF, **dict(settings.conf)}
        if settings.master.startswith("spark://"):
            # Executors of a loopback cluster run Python UDFs with this interpreter unless conf says otherwise.
            conf.setdefault("spark.pyspark.python", sys.executable)
        return conf

    def _quiet_jvm(self, master: str, conf: dict[str, str]) -> dict[str, str]:
        """Keep the JVM's output (log4j, the launcher's warnings, progress bars) off the terminal: start the
        gateway ourselves with its stdout/stderr on `<workspace>/logs/spark-driver.log` and log4j2
        writing to that file too. Returns the settings the session must carry (the log4j2 option)."""
        from pyspark import SparkConf, SparkContext
        from pyspark.java_gateway import launch_gateway

        logs = self.workspace.path("logs")
        log_file = logs / DRIVER_LOG
        config = logs / "spark-log4j2.properties"
        config.write_text(_LOG4J2_CONFIG.format(file=log_file.as_posix()), encoding="utf-8")
        java_options = f"-Dlog4j2.configurationFile={config.as_uri()} {conf.get('spark.driver.extraJavaOptions', '')}"
        if SparkContext._gateway is None:  # the JVM started here: C1 only, class-data archive (sparkjvm.py)
            java_options = f"{sparkjvm.driver_options()} {java_options}"
        settings = {"spark.driver.extraJavaOptions": java_options.strip()}
        if SparkContext._gateway is None:
            launch = SparkConf(loadDefaults=False).setAll([*conf.items(), *settings.items(), ("spark.master", master)])
            with open(log_file, "ab") as sink:  # the JVM keeps its own descriptors; ours can close
                SparkContext._gateway = launch_gateway(launch, popen_kwargs={"stdout": sink, "stderr": sink})
            SparkContext._jvm = SparkContext._gateway.jvm
        return settings

    def warm_up(self) -> None:
        """Have a session ready for this workspace's jobs: the serving process's, else this process's own."""
        service = self._service()
        if service is not None:
            service.warm()
        else:
            self.session()

    def _service(self) -> Any:
        from emulator.backends import sparkservice

        return sparkservice.find(self.workspace)

    @property
    def running(self) -> bool:
        return _session is not None

    def acquire(self, owner: str) -> None:
        """Keep the session for `owner` (an EMR cluster) until `release`: it is not cleared meanwhile."""
        try:
            wanted = self.settings()
        except ConfigError:  # the session cannot start for it: the owner's warm-up reports the config error
            wanted = None
        with _lock:
            _leases[owner] = wanted

    def release(self, owner: str) -> None:
        """Drop `owner`'s lease; with no lease and no job left, the session goes back to the pool, cleared."""
        with _lock:
            _leases.pop(owner, None)
            _return_to_pool()

    def stop(self) -> None:
        """Stop the session and its JVM (the next job starts a new one)."""
        stop_session()

    def cancel(self, job_group: str) -> None:
        """Cancel the Spark jobs a running script started under `job_group` (CancelSteps)."""
        if (service := _remote_jobs.get((self.workspace.root, job_group))) is not None:
            service.cancel(job_group)
            return
        with _lock:
            if _session is not None and is_connect(_session):
                _session.interruptTag(job_group)
            elif _session is not None:
                _session.sparkContext.cancelJobGroup(job_group)

    # -- paths ------------------------------------------------------------------------------
    def mount(self, buckets: Iterable[str]) -> None:
        """Point s3://<bucket>/ and s3a://<bucket>/ at the buckets' local directories (or `<storage>/<bucket>`)."""
        session = self.session()
        storage = self.settings().storage
        conf = session.conf if is_connect(session) else session.sparkContext._jsc.hadoopConfiguration()
        with _lock:
            for bucket in buckets:
                try:
                    root = self.object_store.bucket_root(bucket)
                except S3Error:
                    continue  # not a valid bucket name: Hadoop will report the path as not found
                target = f"{storage.rstrip('/')}/{bucket}" if storage else root.resolve().as_uri()
                conf.set(f"fs.viewfs.mounttable.{bucket}.linkFallback", target)

    def resolve(self, location: str) -> Path:
        """A script or --py-files entry given as a local path or an s3:// URI."""
        if location.startswith(("s3://", "s3a://")):
            return self.object_store.local_path(location)
        path = Path(location)
        return path if path.is_absolute() else self.workspace.project / path

    # -- jobs -------------------------------------------------------------------------------
    def run_script(self, script: Path, args: list[str], conf: dict[str, str] | None = None,
                   py_files: list[Path] | None = None, job_group: str | None = None,
                   glue_job: str | None = None) -> JobResult:
        """Run a PySpark script to the end on the warm session; its failure becomes a FAILED JobResult.
        `glue_job`: run it as that Glue job (the awsglue library bound to this workspace). While
        `sfn-local serve` runs on the workspace, the job runs on the server's session instead."""
        service = self._service()
        if service is not None:
            return self._run_remote(service, script, args, conf, py_files, job_group, glue_job)
        log = io.StringIO()
        try:
            source = script.read_text(encoding="utf-8")
        except OSError as exc:
            return JobResult("FAILED", f"Cannot read script {script}: {exc.strerror or exc}", "", 0.0)
        if glue_job is None:
            with _job_lease(self.workspace):
                return self._run_source(script, source, args, conf, py_files, job_group, log)
        from emulator import glue_runtime

        with glue_runtime.bind(glue_runtime.runtime_for(self.workspace, self, glue_job)), _job_lease(self.workspace):
            return self._run_source(script, source, args, conf, [*(py_files or ()), glue_runtime.RUNTIME_PATH],
                                    job_group, log)

    def _run_remote(self, service: Any, script: Path, args: list[str], conf: dict[str, str] | None,
                    py_files: list[Path] | None, job_group: str | None, glue_job: str | None) -> JobResult:
        job = {"script": str(script.resolve()), "args": list(args), "conf": dict(conf or {}),
               "py_files": [str(p.resolve()) for p in py_files or ()], "job_group": job_group, "glue_job": glue_job}
        if job_group:
            _remote_jobs[(self.workspace.root, job_group)] = service
        from emulator.backends.sparkservice import ServiceError

        try:
            return JobResult(**service.run(job))
        except ServiceError as exc:
            return JobResult("FAILED", f"The sfn-local serve at {service.url} refused the job: {exc}", "", 0.0)
        except (OSError, ValueError) as exc:  # the server went away mid-job: its fate is unknown, so it failed
            return JobResult("FAILED", f"The sfn-local serve running this job ({service.url}) stopped answering: "
                             f"{exc}", "", 0.0)
        finally:
            if job_group:
                _remote_jobs.pop((self.workspace.root, job_group), None)

    def _run_source(self, script: Path, source: str, args: list[str], conf: dict[str, str] | None,
                    py_files: list[Path] | None, job_group: str | None, log: io.StringIO) -> JobResult:
        global _jobs_running
        with _lock:  # counted in with the session taken, so the pool cannot clear it under this job
            try:
                session = self.session()
            except Exception as exc:  # bad [spark] settings, a busy session, no Java: the job fails, not the caller
                return JobResult("FAILED", f"Spark session not started: {exc}", "", 0.0)
            _jobs_running += 1
        extra_paths = [str(p) for p in py_files or ()] + [str(script.parent)]
        try:
            self.mount({*self.object_store.buckets(), *_BUCKET_IN_TEXT.findall(" ".join([source, *args]))})
            applied = self._apply_conf(session, conf or {}, log)
            with _lock:
                _enter_job_mode()
                _py_file_paths.update(str(p) for p in py_files or ())
                for entry in reversed(extra_paths):
                    sys.path.insert(0, entry)
            return self._exec(session, script, source, args, job_group, log, applied)
        finally:
            with _lock:
                for entry in extra_paths:
                    if entry in sys.path:
                        sys.path.remove(entry)
                _jobs_running -= 1
                if _jobs_running == 0:
                    _leave_job_mode()
                _return_to_pool()

    def _exec(self, session: SparkSession, script: Path, source: str, args: list[str], job_group: str | None,
              log: io.StringIO, applied: dict[str, str | None]) -> JobResult:
        _local.argv, _local.log = [str(script), *args], log
        began = time.monotonic()
        state, error = "SUCCEEDED", None
        printed: str | None = None  # what the job printed before it raised
        connect = is_connect(session)
        try:
            if connect:
                _make_current(session)
            if job_group and connect:
                session.addTag(job_group)
            elif job_group:
                session.sparkContext.setJobGroup(job_group, f"sfn-local {job_group}", interruptOnCancel=True)
            code = compile(source, str(script), "exec")
            exec(code, {"__name__": "__main__", "__file__": str(script), "__builtins__": builtins})
        except SystemExit as exc:  # sys.exit(0) / sys.exit(None) is a clean end, as for spark-submit
            if exc.code not in (0, None):
                state, error = "FAILED", f"Script exited with status {exc.code}"
        except BaseException as exc:  # whatever the job raises fails the job, not the emulator
            state, error = "FAILED", summarize_exception(exc, str(script))
            printed = log.getvalue()
            log.write(traceback.format_exc())
        finally:
            seconds = time.monotonic() - began
            del _local.argv, _local.log
            if job_group and connect:
                session.removeTag(job_group)
            elif job_group:
                session.sparkContext.setLocalProperty("spark.jobGroup.id", None)
            self._restore_conf(session, applied)
        log_file = self._write_log(job_group or f"{script.stem}-{int(time.time() * 1000)}", log.getvalue())
        if printed is None:
            return JobResult(state, error, _tail(log.getvalue()), seconds, log_file)
        # The tail keeps what the job printed and its summarised error; the Java stack stays in the log file.
        where = f"\nDriver log: {log_file}" if log_file else ""
        return JobResult(state, error, _tail(f"{printed.rstrip()}\n{error}{where}".lstrip()), seconds, log_file)

    def _write_log(self, name: str, text: str) -> str | None:
        """The full driver log (output, Python and Java stacks) under `<workspace>/logs/`; None if unwritable."""
        try:
            path = self.workspace.path("logs") / f"{name}.log"
            path.write_text(text, encoding="utf-8")
        except OSError:
            return None
        return str(path)

    @staticmethod
    def _apply_conf(session: SparkSession, conf: dict[str, str], log: io.StringIO) -> dict[str, str | None]:
        """Set what the running session can take; static settings (executor memory, ...) are noted and skipped.
        Returns the previous values (`spark.hadoop.*` keys included) for `_restore_conf`."""
        previous: dict[str, str | None] = {}
        hadoop = session.conf if is_connect(session) else session.sparkContext._jsc.hadoopConfiguration()
        for key, value in conf.items():
            if key.startswith("spark.hadoop."):
                previous[key] = hadoop.get(key.removeprefix("spark.hadoop."))
                hadoop.set(key.removeprefix("spark.hadoop."), str(value))
                continue
            try:
                old = session.conf.get(key, None)
                session.conf.set(key, str(value))
                previous[key] = old
            except Exception as exc:  # Spark refuses static confs with various exception types
                log.write(f"sfn-local: --conf {key} not applied on the warm session ({type(exc).__name__})\n")
        return previous

    @staticmethod
    def _restore_conf(session: SparkSession, previous: dict[str, str | None]) -> None:
        hadoop = session.conf if is_connect(session) else session.sparkContext._jsc.hadoopConfiguration()
        for key, old in previous.items():
            name = key.removeprefix("spark.hadoop.")
            if name != key:
                hadoop.unset(name) if old is None else hadoop.set(name, old)
            elif old is None:
                session.conf.unset(key)
            else:
                session.conf.set(key, old)


def _hadoop_properties(session: SparkSession) -> dict[str, tuple[str, bool]]:
    """The session's Hadoop conf, key → (value, set by code rather than read from a *-default.xml), in
    one round trip to the JVM (its XML form) rather than one per key."""
    writer = session._jvm.java.io.StringWriter()
    session.sparkContext._jsc.hadoopConfiguration().writeXml(writer)
    return {prop.findtext("name") or "": (prop.findtext("value") or "",
                                          any(s.text == "programmatically" for s in prop.iter("source")))
            for prop in ElementTree.fromstring(writer.toString()).iter("property")}


def is_connect(session: Any) -> bool:
    """Whether `session` is a Spark Connect session (no JVM, no SparkContext in this process)."""
    return type(session).__module__.startswith("pyspark.sql.connect")


def _alive(session: Any) -> bool:
    if is_connect(session):
        return not getattr(session, "is_stopped", False)
    return session.sparkContext._jsc is not None


def _connect(settings: SparkSettings) -> SparkSession:
    """A new Spark Connect session on `settings.remote`, made the process's default, with the emulator's
    runtime conf (the mount tables' schemes, spark.sql.*) and the workspace's set on it."""
    assert settings.remote is not None
    from pyspark.sql.connect.session import SparkSession as ConnectSession
    # PySpark's functions and builders pick their Connect implementation from these variables;
    # SPARK_REMOTE also makes a job's `SparkSession.builder.getOrCreate()` return this session.
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    os.environ["SPARK_REMOTE"] = settings.remote
    session = ConnectSession.builder.remote(settings.remote).create()
    _make_current(session)
    conf = {key: value for key, value in _SESSION_CONF.items() if key.startswith(("spark.sql.", "spark.hadoop."))}
    for key, value in {**conf, **dict(settings.conf)}.items():
        try:
            session.conf.set(key.removeprefix("spark.hadoop."), value)  # a session's conf reaches its Hadoop conf
        except Exception:  # static settings (executor memory, ...) are the server's own, as with spark-submit --conf
            continue
    return session


def _make_current(session: SparkSession) -> None:
    """The Connect session `getOrCreate()` / `getActiveSession()` return: the default, and this thread's."""
    from pyspark.sql.connect.session import SparkSession as ConnectSession
    ConnectSession._default_session = session
    ConnectSession._active_session.session = session


def _really_stop(session: SparkSession) -> None:
    _local.stopping = True
    try:
        session.stop()
    finally:
        _local.stopping = False


class ConnectContext:
    """What `SparkContext.getOrCreate()` returns to a job on a Spark Connect session: enough for Glue's
    `GlueContext(SparkContext.getOrCreate())`; what needs the driver's JVM fails naming the call."""

    def __init__(self, remote: str) -> None:
        self.master = remote

    def setLogLevel(self, level: str) -> None:
        """The server's log level is the server's: nothing to set from a client."""

    def stop(self) -> None:
        """The warm session outlives the job, as in local mode."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # protocol probes (copy, pickle, ...) get the usual answer
            raise AttributeError(name)
        raise ConnectUnsupportedError(f"SparkContext.{name} is not available on a Spark Connect session "
                                      f"([spark] remote = \"{self.master}\"): use the SparkSession and DataFrame API")


class ConnectUnsupportedError(RuntimeError):
    """A job asked a Spark Connect session for what only a local JVM has (SparkContext, RDDs)."""


def _return_to_pool() -> None:
    """Clear the session's Spark state once nothing uses it (called under _lock); the JVM stays up.
    A session that cannot be cleared (its JVM died, ...) is stopped: the next job starts a new one."""
    if _leases or _jobs_running or _session is None or not _alive(_session):
        return
    try:
        if is_connect(_session):
            _clear_connect(_session)
        else:
            _clear(_session)
    except Exception:
        stop_session()


def _clear_connect(old: SparkSession) -> None:
    """`_clear` on a Connect session: the server-wide state dropped, then a new server-side session."""
    global _session
    old.catalog.clearCache()
    for table in old.catalog.listTables("global_temp"):
        if table.isTemporary and table.namespace == ["global_temp"]:
            old.catalog.dropGlobalTempView(table.name)
    _really_stop(old)  # releases the server's session: its temp views, UDFs, conf and mounts go with it
    assert _settings is not None and _settings.remote is not None
    _session = _connect(_settings)
    _forget_py_files()


def _clear(old: SparkSession) -> None:
    global _session
    from pyspark.sql import SparkSession

    old.catalog.clearCache()
    if not old.sparkContext._jsc.sc().getPersistentRDDs().isEmpty():  # the Java map's conversion costs ~0.1 s
        for rdd in old.sparkContext._jsc.getPersistentRDDs().values():
            rdd.unpersist()
    # Every global temp view in one call (catalog.listTables costs ~0.15 s even when there are none).
    old._jsparkSession.sharedState().globalTempViewManager().clear()
    fresh = old.newSession()  # temp views, UDFs, runtime conf and current database start over
    # A new SQL session takes its conf from the SparkContext: give it the session's own settings back.
    for key, value in {**_SESSION_CONF, **dict(_settings.conf if _settings else ())}.items():
        if key.startswith("spark.sql."):
            fresh.conf.set(key, str(value))
    java_class = SparkSession._get_j_spark_session_class(fresh._jvm)
    java_class.setDefaultSession(fresh._jsparkSession)
    java_class.setActiveSession(fresh._jsparkSession)
    SparkSession._instantiatedSession = SparkSession._activeSession = fresh
    _session = fresh
    hadoop = fresh.sparkContext._jsc.hadoopConfiguration()
    current = _hadoop_properties(fresh)
    for key, (value, programmatic) in current.items():
        if key not in _hadoop_baseline:
            if programmatic:  # bucket mounts and jobs' own settings; defaults loaded since then stay
                hadoop.unset(key)
        elif value != _hadoop_baseline[key][0]:
            hadoop.set(key, _hadoop_baseline[key][0])
    for key in _hadoop_baseline.keys() - current.keys():
        hadoop.set(key, _hadoop_baseline[key][0])
    _forget_py_files()


def _forget_py_files() -> None:
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None) or ""
        if any(where == path or where.startswith(path.rstrip("/") + "/") for path in _py_file_paths) \
                and not where.startswith(_EMULATOR_PACKAGE):
            del sys.modules[name]  # the next cluster imports its own --py-files afresh
    _py_file_paths.clear()


_PY_TRACEBACK = "Traceback (most recent call last):"


def summarize_exception(exc: BaseException, script: str) -> str:
    """A job's error as its author wants to read it: `Type: message`, then the frames of the job's own
    script (driver frames, then the Python worker's for a UDF). PySpark carries a UDF's worker traceback
    inside the exception's message (PythonException, or a Py4JJavaError's Java text); its last
    `Traceback ... Type: message` block names the real error. Frames of PySpark, Py4J and Java are dropped."""
    text = str(exc)
    head: str | None = None
    worker: list[list[str]] = []
    if _PY_TRACEBACK in text:
        for line in text[text.rindex(_PY_TRACEBACK) + len(_PY_TRACEBACK):].splitlines():
            if line.startswith("  File "):
                worker.append([line])
            elif line.startswith("    ") and worker:
                if line.strip().strip("^~"):  # not a caret marker line
                    worker[-1].append(line)
            elif line.strip():
                head = line.strip()
                break
    if head is None:
        lines = [ln.strip() for ln in text.split("JVM stacktrace:")[0].strip().splitlines() if ln.strip()]
        java = next((ln[2:] for ln in lines if ln.startswith(": ")), None)  # Py4JJavaError: ": java.Type: msg"
        head = java or (f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__)
    driver = [[f'  File "{f.filename}", line {f.lineno}, in {f.name}'] + ([f"    {f.line}"] if f.line else [])
              for f in traceback.extract_tb(exc.__traceback__) if f.filename == script]
    mine = driver + [frame for frame in worker if f'"{script}"' in frame[0]]
    return "\n".join([head, *(line for frame in mine for line in frame)])


def _tail(text: str) -> str:
    return "\n".join(text.rstrip().splitlines()[-LOG_TAIL_LINES:])


def _enter_job_mode() -> None:
    """Install the per-thread argv and stdio proxies (called under _lock by the first running job)."""
    global _saved_stdio
    if _saved_stdio is None:
        _saved_stdio = (sys.argv, sys.stdout, sys.stderr)
        sys.argv = _ThreadLocalArgv(list(sys.argv))  # type: ignore[assignment]
        sys.stdout = _ThreadLocalStream(sys.stdout, "<stdout>")
        sys.stderr = _ThreadLocalStream(sys.stderr, "<stderr>")


def _leave_job_mode() -> None:
    global _saved_stdio
    if _saved_stdio is not None:
        sys.argv, sys.stdout, sys.stderr = _saved_stdio
        _saved_stdio = None


def _guard_stop() -> None:
    """Make a job's `spark.stop()` / `sc.stop()` leave the warm session alone; `stop_session` still stops it."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    if _settings is not None and _settings.remote:
        _guard_connect()
    if getattr(SparkSession.stop, "_sfn_local_guard", False):
        return
    real_session_stop, real_context_stop = SparkSession.stop, SparkContext.stop

    def session_stop(self: SparkSession) -> None:
        if getattr(_local, "stopping", False):
            real_session_stop(self)

    def context_stop(self: SparkContext) -> None:
        if getattr(_local, "stopping", False):
            real_context_stop(self)

    session_stop._sfn_local_guard = True  # type: ignore[attr-defined]
    SparkSession.stop = session_stop  # type: ignore[method-assign]
    SparkContext.stop = context_stop  # type: ignore[method-assign]


def _guard_connect() -> None:
    """`_guard_stop` for Connect sessions; and `SparkContext.getOrCreate()` gives a ConnectContext in jobs."""
    from pyspark import SparkContext
    from pyspark.sql.connect.session import SparkSession as ConnectSession
    if getattr(ConnectSession.stop, "_sfn_local_guard", False):
        return
    real_stop, real_get_or_create = ConnectSession.stop, SparkContext.getOrCreate.__func__

    def session_stop(self: Any) -> None:
        if getattr(_local, "stopping", False) or self is not _session:
            real_stop(self)

    def get_or_create(cls: type[SparkContext], conf: Any = None) -> Any:
        if _session is not None and is_connect(_session) and _settings is not None and _settings.remote:
            return ConnectContext(_settings.remote)
        return real_get_or_create(cls, conf)

    session_stop._sfn_local_guard = True  # type: ignore[attr-defined]
    ConnectSession.stop = session_stop  # type: ignore[method-assign]
    SparkContext.getOrCreate = classmethod(get_or_create)  # type: ignore[method-assign, assignment]


def stop_session() -> None:
    """Stop the warm session and shut its JVM down, so no java process outlives it (a Connect session is
    released on its server; the server itself runs on)."""
    global _session, _settings
    with _lock:
        if _session is None:
            return
        from pyspark import SparkContext

        _settings = None
        _py_file_paths.clear()
        _leases.clear()  # what they kept no longer exists; a cluster still up gets a new session for its next step

        connect = is_connect(_session)
        _really_stop(_session)
        _session = None
        if connect:  # PySpark in this process is classic again (a later session may be local)
            os.environ.pop("SPARK_REMOTE", None)
            os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
        gateway = SparkContext._gateway
        if gateway is not None:
            process = getattr(gateway, "proc", None)
            gateway.shutdown()
            if process is not None:
                process.stdin.close()  # the JVM exits when its stdin closes (PySpark's launcher contract)
                try:
                    process.wait(timeout=sparkjvm.exit_seconds())
                except Exception:  # a JVM that ignores stdin is killed instead
                    process.kill()
                sparkjvm.exited(process)
            SparkContext._gateway = None
            SparkContext._jvm = None


def jvm_process() -> Any:
    """The running JVM's Popen, or None (tests check nothing is left behind)."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    return getattr(gateway, "proc", None) if gateway is not None else None


atexit.register(stop_session)
