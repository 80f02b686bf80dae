"""AWS Glue ETL jobs: `arn:aws:states:::glue:startJobRun[.sync]` and `aws-sdk:glue:startJobRun|getJobRun|
getJobRuns`, run as PySpark scripts on the warm local Spark session (`backends/spark.py`).

A job is named in the config: `[glue_jobs.NAME]` with `ScriptLocation` (a path relative to the
project, or s3://) and `DefaultArguments` ({"--key": "value"}); worker type, capacity and Glue
version are accepted and ignored. A run's script gets `--key value` for DefaultArguments merged
with the run's Arguments, plus `--JOB_NAME NAME` and `--JOB_RUN_ID jr_...`, as Glue passes them.
Scripts use Glue's Python library as on Glue: `awsglue.utils.getResolvedOptions`,
`awsglue.context.GlueContext`, DynamicFrames, `awsglue.transforms`, `awsglue.job.Job` with job
bookmarks (`--job-bookmark-option`), from our own implementation in `emulator/glue_runtime/`, which
a run puts on sys.path and binds to this workspace (object store, Data Catalog) while its script runs.
The run's end returns the Spark session to the pool, its Spark state cleared (`backends/spark.py`).
`run_glue_script` runs a script that way without a JobRun record (tests, scripts' own checks).

`startJobRun` returns `{JobName, JobRunId}` at once and runs the job in the background, so
`getJobRun` polling sees RUNNING then SUCCEEDED / FAILED; `.sync` returns the finished JobRun.
A FAILED run fails `.sync` with States.TaskFailed and the JobRun JSON as the cause.
`aws-sdk:glue:getJobBookmark` / `resetJobBookmark` read and clear a job's bookmarks. Unknown jobs
and runs fail with `Glue.EntityNotFoundException`. Runs are JSON files under `<workspace>/glue-jobs/`.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator import background, glue_runtime
from emulator.backends import events
from emulator.backends.spark import JobResult, SparkEngine
from emulator.errors import TASK_FAILED, StatesError
from emulator.glue_runtime import get_resolved_options
from emulator.integrations.registry import Handler, Registry, Resource, backend_handler, register
from emulator.workspace import Workspace

__all__ = ["GlueJobs", "get_resolved_options", "run_glue_script"]

Params = dict[str, Any]
_ENDED = {"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR"}
_lock = threading.RLock()
_done: dict[str, threading.Event] = {}  # run id → set when the run has ended (this process's runs)


class GlueJobError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def run_glue_script(workspace: Workspace, engine: SparkEngine, script: Path, argv: list[str], job_name: str,
                    job_group: str | None = None) -> JobResult:
    """Run a Glue script on the warm session with the awsglue library bound to `workspace` (the engine's)."""
    if workspace.root != engine.workspace.root:
        with glue_runtime.bind(glue_runtime.runtime_for(workspace, engine, job_name)):
            return engine.run_script(script, argv, py_files=[glue_runtime.RUNTIME_PATH], job_group=job_group)
    return engine.run_script(script, argv, job_group=job_group, glue_job=job_name)


class GlueJobs:
    def __init__(self, workspace: Workspace, engine: SparkEngine) -> None:
        self.workspace = workspace
        self.engine = engine
        self.folder = workspace.path("glue-jobs")

    def _job(self, name: Any) -> Params:
        job = self.workspace.config.glue_jobs.get(name) if isinstance(name, str) else None
        if job is None:
            raise GlueJobError("EntityNotFoundException", f"Failed to start job run due to missing metadata: {name}")
        return job

    def _path(self, run_id: str) -> Path:
        return self.folder / f"{run_id}.json"

    def _save(self, run: Params) -> None:
        tmp = self._path(run["Id"]).with_suffix(".tmp")
        tmp.write_text(json.dumps(run), encoding="utf-8")
        tmp.replace(self._path(run["Id"]))

    def start_job_run(self, p: Params) -> Params:
        name = p.get("JobName")
        job = self._job(name)
        arguments = {**(job.get("DefaultArguments") or {}), **(p.get("Arguments") or {})}
        run_id = "jr_" + secrets.token_hex(32)
        now = int(time.time() * 1000)
        run = {"Id": run_id, "Attempt": 0, "JobName": name, "StartedOn": now, "LastModifiedOn": now,
               "JobRunState": "RUNNING", "Arguments": p.get("Arguments") or {}, "PredecessorRuns": [],
               "Timeout": p.get("Timeout", job.get("Timeout", 2880)), "GlueVersion": job.get("GlueVersion", "4.0"),
               "LogGroupName": "/aws-glue/jobs"}
        with _lock:
            self._save(run)
            _done[run_id] = threading.Event()
        background.spawn(self._run, run, job, arguments, name=f"glue-{run_id[:12]}")
        return {"JobName": name, "JobRunId": run_id}

    def _run(self, run: Params, job: Params, arguments: dict[str, Any]) -> None:
        argv = [part for key, value in arguments.items() for part in (key, str(value))]
        argv += ["--JOB_NAME", run["JobName"], "--JOB_RUN_ID", run["Id"]]
        location = job.get("ScriptLocation")
        try:
            if not location:
                raise ValueError(f"Job {run['JobName']} has no ScriptLocation")
            result = run_glue_script(self.workspace, self.engine, self.engine.resolve(location), argv, run["JobName"],
                                     job_group=run["Id"])
            state, error, seconds = result.state, result.error_message, result.seconds
            if error and result.log_file:  # AWS points to CloudWatch; locally the driver log is a file
                error = f"{error}\nDriver log: {result.log_file}"
        except Exception as exc:  # a script that cannot be found or resolved fails the run, as on Glue
            state, error, seconds = "FAILED", str(exc), 0.0
        now = int(time.time() * 1000)
        with _lock:
            run.update(JobRunState=state, CompletedOn=now, LastModifiedOn=now, ExecutionTime=round(seconds))
            if error:
                run["ErrorMessage"] = error
            self._save(run)
            events.glue_job_state(self.workspace, run)
            _done[run["Id"]].set()

    def get_job_run(self, p: Params) -> Params:
        run_id = p.get("RunId")
        path = self._path(run_id) if isinstance(run_id, str) and run_id.startswith("jr_") else None
        with _lock:
            if path is None or not path.is_file():
                raise GlueJobError("EntityNotFoundException", f"Job Run with id {run_id} not found")
            run = json.loads(path.read_text(encoding="utf-8"))
        if p.get("JobName") not in (None, run["JobName"]):
            raise GlueJobError("EntityNotFoundException", f"Job Run with id {run_id} not found")
        return {"JobRun": run}

    def get_job_runs(self, p: Params) -> Params:
        name = p.get("JobName")
        self._job(name)
        with _lock:
            runs = [json.loads(f.read_text(encoding="utf-8")) for f in self.folder.glob("jr_*.json")]
        return {"JobRuns": sorted((r for r in runs if r["JobName"] == name), key=lambda r: -r["StartedOn"])}

    def _bookmark(self, name: Any) -> tuple[Path, Params]:
        self._job(name)
        path = glue_runtime.bookmark_path(self.workspace, name)
        if not path.is_file():
            raise GlueJobError("EntityNotFoundException", f"Continuation for job {name} not found")
        state = json.loads(path.read_text(encoding="utf-8"))
        entry = {"JobName": name, "Version": state.get("Run", 0), "Run": state.get("Run", 0), "Attempt": 0,
                 "PreviousRunId": state.get("PreviousRunId", ""), "RunId": state.get("RunId", ""),
                 "JobBookmark": json.dumps(state.get("Contexts", {}), separators=(",", ":"))}
        return path, entry

    def get_job_bookmark(self, p: Params) -> Params:
        return {"JobBookmarkEntry": self._bookmark(p.get("JobName"))[1]}

    def reset_job_bookmark(self, p: Params) -> Params:
        """ResetJobBookmark: the next bookmarked run reads everything again."""
        path, entry = self._bookmark(p.get("JobName"))
        path.unlink(missing_ok=True)
        return {"JobBookmarkEntry": entry}

    def start_job_run_sync(self, p: Params) -> Params:
        started = self.start_job_run(p)
        _done[started["JobRunId"]].wait()
        run = self.get_job_run({"RunId": started["JobRunId"]})["JobRun"]
        if run["JobRunState"] != "SUCCEEDED":
            raise StatesError(TASK_FAILED, json.dumps(run, separators=(",", ":")))
        return run


_ACTIONS: dict[tuple[str, str, str], Callable[[GlueJobs, Params], Params]] = {
    ("glue", "startJobRun", ""): GlueJobs.start_job_run,
    ("glue", "startJobRun", "sync"): GlueJobs.start_job_run_sync,
    ("aws-sdk:glue", "startJobRun", ""): lambda g, p: {"JobRunId": g.start_job_run(p)["JobRunId"]},
    ("aws-sdk:glue", "getJobRun", ""): GlueJobs.get_job_run,
    ("aws-sdk:glue", "getJobRuns", ""): GlueJobs.get_job_runs,
    ("aws-sdk:glue", "getJobBookmark", ""): GlueJobs.get_job_bookmark,
    ("aws-sdk:glue", "resetJobBookmark", ""): GlueJobs.reset_job_bookmark,
}


def _factory(resource: Resource, registry: Registry) -> Handler | None:
    action = _ACTIONS.get((resource.service, resource.action, resource.pattern))
    if action is None:
        return None  # the catalog and crawler actions of aws-sdk:glue belong to integrations/glue.py
    return backend_handler(action, lambda: GlueJobs(registry.backends.workspace, registry.backends.spark),
                           GlueJobError, _error)


def _error(exc: GlueJobError) -> StatesError:
    return StatesError(f"Glue.{exc.code}", f"{exc.message} (Service: Glue, Status Code: 400, Error Code: {exc.code})")


register("glue", _factory)
register("aws-sdk:glue", _factory)
