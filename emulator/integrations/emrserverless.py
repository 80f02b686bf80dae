"""Amazon EMR Serverless: `arn:aws:states:::emr-serverless:<action>[.sync]` (createApplication,
startApplication, stopApplication, deleteApplication, startJobRun, cancelJobRun) and
`aws-sdk:emrserverless:getApplication|getJobRun|listApplications|listJobRuns`, with job runs on the
warm local Spark session (`backends/spark.py`).

Applications (Type SPARK) go CREATED → STARTED → STOPPED → TERMINATED; a STARTED application holds a
lease on the Spark session. StartJobRun on a CREATED or STOPPED application starts it first when
autoStartConfiguration is enabled (the default), as EMR Serverless does. A job run's
`JobDriver.SparkSubmit` gives the script (`EntryPoint`, a local path or s3://), its
`EntryPointArguments`, and `SparkSubmitParameters` of which `--conf k=v` and `--py-files` are
honoured (the rest places executors, which one local session does not need). Runs go SUBMITTED →
SCHEDULED → RUNNING → SUCCESS | FAILED | CANCELLED in a background thread.

As Step Functions documents: start/stop/deleteApplication answer `{ApplicationId}`; `.sync` waits for
CREATED / STARTED / STOPPED / TERMINATED, SUCCESS (startJobRun) or CANCELLED (cancelJobRun). A job run
that ends FAILED or CANCELLED fails `startJobRun.sync` with States.TaskFailed and GetJobRun's JSON as
the cause. Errors are `EMRServerless.<Code>` (ValidationException, ResourceNotFoundException).
Records are JSON files under `<workspace>/emr-serverless/`.
"""

from __future__ import annotations

import json
import secrets
import shlex
import string
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator import background
from emulator.backends.catalog import read_json, write_json
from emulator.backends.spark import SparkEngine
from emulator.errors import TASK_FAILED, StatesError
from emulator.integrations.emr import _parse_spark_submit
from emulator.integrations.registry import Handler, Registry, Resource, backend_handler, register, service_actions
from emulator.workspace import Workspace

Params = dict[str, Any]
_ARN = "arn:aws:emr-serverless:us-east-1:123456789012:/applications/{}"
_RUN_ENDED = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
_ALPHABET = string.digits + string.ascii_lowercase
_lock = threading.RLock()
_done: dict[str, threading.Event] = {}  # job run id → set when the run has ended (this process's runs)


class EmrServerlessError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _now_ms() -> int:
    return int(time.time() * 1000)


def _new_id() -> str:
    return "00" + "".join(secrets.choice(_ALPHABET) for _ in range(14))


def _required(p: Params, key: str) -> Any:
    value = p.get(key)
    if value is None or value == "":
        raise EmrServerlessError("ValidationException", f"{key} is required")
    return value


class EmrServerless:
    def __init__(self, workspace: Workspace, engine: SparkEngine) -> None:
        self.workspace = workspace
        self.engine = engine
        self.folder = workspace.path("emr-serverless")

    # -- records
    def _path(self, kind: str, record_id: Any) -> Path:
        if not isinstance(record_id, str) or not record_id.isalnum():
            what = "Application" if kind == "applications" else "Job run"
            raise EmrServerlessError("ResourceNotFoundException", f"{what} {record_id} does not exist")
        return self.folder / kind / f"{record_id}.json"

    def _read(self, kind: str, record_id: Any) -> Params:
        path = self._path(kind, record_id)
        with _lock:
            if not path.is_file():
                what = "Application" if kind == "applications" else "Job run"
                raise EmrServerlessError("ResourceNotFoundException", f"{what} {record_id} does not exist")
            return read_json(path)

    def _write(self, kind: str, record_id: str, record: Params) -> None:
        with _lock:
            write_json(self._path(kind, record_id), record)

    def _set_state(self, app: Params, state: str) -> None:
        with _lock:
            app.update(State=state, StateDetails="", UpdatedAt=_now_ms())
            self._write("applications", app["ApplicationId"], app)

    # -- applications
    def create_application(self, p: Params) -> Params:
        kind = _required(p, "Type")
        _required(p, "ReleaseLabel")
        if str(kind).upper() != "SPARK":
            raise EmrServerlessError("ValidationException", f"Application type {kind} is not supported locally; "
                                                            "sfn-local runs SPARK applications")
        app_id = _new_id()
        now = _now_ms()
        app = {"ApplicationId": app_id, "Name": p.get("Name", app_id), "Arn": _ARN.format(app_id),
               "ReleaseLabel": p["ReleaseLabel"], "Type": "Spark", "State": "CREATED", "StateDetails": "",
               "CreatedAt": now, "UpdatedAt": now, "Architecture": p.get("Architecture", "X86_64"),
               "AutoStartConfiguration": {"Enabled": True, **(p.get("AutoStartConfiguration") or {})},
               "AutoStopConfiguration": {"Enabled": True, "IdleTimeoutMinutes": 15,
                                         **(p.get("AutoStopConfiguration") or {})},
               "Tags": p.get("Tags") or {}}
        self._write("applications", app_id, app)
        return {"ApplicationId": app_id, "Name": app["Name"], "Arn": app["Arn"]}

    def get_application(self, p: Params) -> Params:
        return {"Application": self._read("applications", _required(p, "ApplicationId"))}

    def list_applications(self, p: Params) -> Params:
        folder = self.folder / "applications"
        with _lock:
            apps = [read_json(f) for f in folder.glob("*.json")] if folder.is_dir() else []
        states = p.get("States")
        keys = ("Id", "Name", "Arn", "ReleaseLabel", "Type", "State", "StateDetails", "CreatedAt", "UpdatedAt",
                "Architecture")
        return {"Applications": [{k: a["ApplicationId"] if k == "Id" else a[k] for k in keys}
                                 for a in sorted(apps, key=lambda a: -a["CreatedAt"])
                                 if not states or a["State"] in states]}

    def start_application(self, p: Params) -> Params:
        app = self._read("applications", _required(p, "ApplicationId"))
        if app["State"] == "TERMINATED":
            raise EmrServerlessError("ValidationException", f"Application {app['ApplicationId']} is terminated")
        if app["State"] != "STARTED":
            self.engine.acquire(self._lease(app))
            self._set_state(app, "STARTED")
        return {"ApplicationId": app["ApplicationId"]}

    def stop_application(self, p: Params) -> Params:
        app = self._read("applications", _required(p, "ApplicationId"))
        if app["State"] == "TERMINATED":
            raise EmrServerlessError("ValidationException", f"Application {app['ApplicationId']} is terminated")
        if self._active_runs(app["ApplicationId"]):
            raise EmrServerlessError("ValidationException", "Application has running jobs: all scheduled and "
                                                            "running jobs must end or be cancelled before stopping")
        if app["State"] == "STARTED":
            self._set_state(app, "STOPPED")
            self.engine.release(self._lease(app))
        elif app["State"] == "CREATED":
            self._set_state(app, "STOPPED")
        return {"ApplicationId": app["ApplicationId"]}

    def delete_application(self, p: Params) -> Params:
        app = self._read("applications", _required(p, "ApplicationId"))
        if app["State"] not in ("CREATED", "STOPPED"):
            raise EmrServerlessError("ValidationException", f"Application {app['ApplicationId']} must be CREATED "
                                                            f"or STOPPED to be deleted; it is {app['State']}")
        self._set_state(app, "TERMINATED")
        return {"ApplicationId": app["ApplicationId"]}

    def _lease(self, app: Params) -> str:
        return f"emr-serverless:{self.workspace.root}:{app['ApplicationId']}"

    def _active_runs(self, app_id: str) -> list[Params]:
        return [r for r in self._runs(app_id) if r["State"] not in _RUN_ENDED]

    def _runs(self, app_id: str) -> list[Params]:
        folder = self.folder / "jobruns"
        with _lock:
            runs = [read_json(f) for f in folder.glob("*.json")] if folder.is_dir() else []
        return [r for r in runs if r["ApplicationId"] == app_id]

    # -- job runs
    def start_job_run(self, p: Params) -> Params:
        app = self._read("applications", _required(p, "ApplicationId"))
        role = _required(p, "ExecutionRoleArn")
        driver = (p.get("JobDriver") or {}).get("SparkSubmit")
        if not isinstance(driver, dict) or not driver.get("EntryPoint"):
            raise EmrServerlessError("ValidationException", "JobDriver.SparkSubmit.EntryPoint is required "
                                                            "(sfn-local runs Spark jobs)")
        if app["State"] == "TERMINATED":
            raise EmrServerlessError("ValidationException", f"Application {app['ApplicationId']} is terminated")
        if app["State"] != "STARTED":
            if not app["AutoStartConfiguration"].get("Enabled", True):
                raise EmrServerlessError("ValidationException", f"Application {app['ApplicationId']} is not "
                                                                "started and auto-start is disabled")
            self.start_application({"ApplicationId": app["ApplicationId"]})
        run_id = _new_id()
        now = _now_ms()
        run = {"ApplicationId": app["ApplicationId"], "JobRunId": run_id, "Name": p.get("Name", run_id),
               "Arn": f"{app['Arn']}/jobruns/{run_id}", "CreatedBy": "arn:aws:sts::123456789012:assumed-role/sfn-local",
               "CreatedAt": now, "UpdatedAt": now, "ExecutionRole": role, "State": "SUBMITTED",
               "StateDetails": "", "ReleaseLabel": app["ReleaseLabel"], "JobDriver": p["JobDriver"],
               "ConfigurationOverrides": p.get("ConfigurationOverrides") or {}, "Tags": p.get("Tags") or {},
               "Mode": p.get("Mode", "BATCH"), "Attempt": 1, "AttemptCreatedAt": now, "AttemptUpdatedAt": now}
        with _lock:
            self._write("jobruns", run_id, run)
            _done[run_id] = threading.Event()
        background.spawn(self._run, run, driver, name=f"emr-serverless-{run_id}")
        return {"ApplicationId": app["ApplicationId"], "JobRunId": run_id, "Arn": run["Arn"]}

    def _update_run(self, run_id: str, **changes: Any) -> Params:
        with _lock:
            run = self._read("jobruns", run_id)
            if run["State"] in _RUN_ENDED:
                return run  # cancelled meanwhile: the cancellation stands
            now = _now_ms()
            run.update(changes, UpdatedAt=now, AttemptUpdatedAt=now)
            self._write("jobruns", run_id, run)
            return run

    def _run(self, run: Params, driver: Params) -> None:
        run_id = run["JobRunId"]
        try:
            self._update_run(run_id, State="SCHEDULED")
            conf, py_files, _, _ = _parse_spark_submit(shlex.split(driver.get("SparkSubmitParameters") or ""))
            for item in run["ConfigurationOverrides"].get("ApplicationConfiguration") or []:
                if item.get("Classification") == "spark-defaults":
                    conf = {**{k: str(v) for k, v in (item.get("Properties") or {}).items()}, **conf}
            args = [str(a) for a in driver.get("EntryPointArguments") or []]
            if self._update_run(run_id, State="RUNNING")["State"] != "RUNNING":
                return
            began = time.monotonic()
            result = self.engine.run_script(self.engine.resolve(driver["EntryPoint"]), args, conf,
                                            py_files=[self.engine.resolve(f) for f in py_files], job_group=run_id)
            seconds = round(time.monotonic() - began)
            usage = {"VCPUHour": 0.0, "MemoryGBHour": 0.0, "StorageGBHour": 0.0}
            if result.state == "SUCCEEDED":
                self._update_run(run_id, State="SUCCESS", StateDetails="", TotalExecutionDurationSeconds=seconds,
                                 TotalResourceUtilization=usage, EndedAt=_now_ms())
            else:
                self._update_run(run_id, State="FAILED", StateDetails=result.error_message or "Job failed",
                                 TotalExecutionDurationSeconds=seconds, TotalResourceUtilization=usage,
                                 EndedAt=_now_ms())
        except Exception as exc:  # an entry point that cannot be found or read fails the run, as on EMR
            self._update_run(run_id, State="FAILED", StateDetails=f"{type(exc).__name__}: {exc}", EndedAt=_now_ms())
        finally:
            _done[run_id].set()

    def get_job_run(self, p: Params) -> Params:
        run = self._read("jobruns", _required(p, "JobRunId"))
        if run["ApplicationId"] != _required(p, "ApplicationId"):
            raise EmrServerlessError("ResourceNotFoundException", f"Job run {p['JobRunId']} does not exist")
        return {"JobRun": run}

    def list_job_runs(self, p: Params) -> Params:
        app = self._read("applications", _required(p, "ApplicationId"))
        states = p.get("States")
        keys = ("ApplicationId", "Name", "Arn", "CreatedBy", "CreatedAt", "UpdatedAt", "ExecutionRole", "State",
                "StateDetails", "ReleaseLabel", "Mode", "Attempt")
        runs = sorted(self._runs(app["ApplicationId"]), key=lambda r: -r["CreatedAt"])
        return {"JobRuns": [{"Id": r["JobRunId"], **{k: r[k] for k in keys}} for r in runs
                            if not states or r["State"] in states]}

    def cancel_job_run(self, p: Params) -> Params:
        run = self.get_job_run(p)["JobRun"]
        if run["State"] in _RUN_ENDED:
            raise EmrServerlessError("ValidationException", f"Job run {run['JobRunId']} is already {run['State']}")
        self._update_run(run["JobRunId"], State="CANCELLED", StateDetails="Job run was cancelled", EndedAt=_now_ms())
        self.engine.cancel(run["JobRunId"])
        return {"ApplicationId": run["ApplicationId"], "JobRunId": run["JobRunId"]}

    def start_job_run_sync(self, p: Params) -> Params:
        started = self.start_job_run(p)
        _done[started["JobRunId"]].wait()
        run = self.get_job_run(started)["JobRun"]
        if run["State"] != "SUCCESS":
            raise StatesError(TASK_FAILED, json.dumps({"JobRun": run}, separators=(",", ":")))
        return started


_OPTIMIZED: dict[tuple[str, str], Callable[[EmrServerless, Params], Params]] = {
    ("createApplication", ""): EmrServerless.create_application,
    ("startApplication", ""): EmrServerless.start_application,
    ("stopApplication", ""): EmrServerless.stop_application,
    ("deleteApplication", ""): EmrServerless.delete_application,
    ("startJobRun", ""): EmrServerless.start_job_run,
    ("startJobRun", "sync"): EmrServerless.start_job_run_sync,
    ("cancelJobRun", ""): EmrServerless.cancel_job_run,
}
# Application changes and cancellations take effect at once here, so their `.sync` has nothing to wait for.
for (_action, _), _method in list(_OPTIMIZED.items()):
    if _action != "startJobRun":
        _OPTIMIZED[(_action, "sync")] = _method
_SDK: dict[str, Callable[[EmrServerless, Params], Params]] = {
    "getApplication": EmrServerless.get_application,
    "listApplications": EmrServerless.list_applications,
    "getJobRun": EmrServerless.get_job_run,
    "listJobRuns": EmrServerless.list_job_runs,
}


def _factory(resource: Resource, registry: Registry) -> Handler | None:
    action = service_actions(resource, "emr-serverless", _OPTIMIZED, _SDK)
    if action is None:
        return None
    return backend_handler(action, lambda: EmrServerless(registry.backends.workspace, registry.backends.spark),
                           EmrServerlessError, _error)


def _error(exc: EmrServerlessError) -> StatesError:
    return StatesError(f"EMRServerless.{exc.code}", f"{exc.message} (Service: EMRServerless, Status Code: 400, "
                       f"Error Code: {exc.code})")


register("emr-serverless", _factory)
register("aws-sdk:emrserverless", _factory)
