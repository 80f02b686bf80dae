"""Amazon EMR: `arn:aws:states:::elasticmapreduce:<action>[.sync]` and `aws-sdk:emr:describeCluster|
describeStep|listSteps`, with clusters that are the warm local Spark session (`backends/spark.py`:
`[spark] master` may put it on a standalone cluster; under `sfn-local serve` it is the server's).
TerminateCluster returns the session to the pool, its Spark state cleared, rather than stopping the JVM.

A cluster's `Configurations` (classification `spark-defaults`) become conf for each of its steps;
instance settings, roles and applications are accepted and ignored. A step is a
`command-runner.jar` `spark-submit` command: `--conf k=v`, `--py-files a,b` and the script (local
path or s3://) with its arguments are honoured; `--master`, `--deploy-mode` and other options
are ignored. Steps run in background threads, `StepConcurrencyLevel` at a time (1 unless the
cluster asks for more, as on EMR), so polling DescribeStep sees PENDING, RUNNING, then
COMPLETED / FAILED / CANCELLED. Cluster and step records are JSON files under `<workspace>/emr/`.
A record names the process that runs the cluster (pid and start time): another process sees it
but cannot change it, and once that process is gone (ended, killed) the cluster reads as
TERMINATED_WITH_ERRORS with its pending and running steps CANCELLED, as after a lost EMR cluster.

`.sync` results: createCluster → `{ClusterId, ClusterArn}` once the cluster is WAITING;
addStep → DescribeStep's `{"Step": ...}` once the step ended; terminateCluster → `{}` once
TERMINATED. A step that FAILED or was CANCELLED fails `addStep.sync` with States.TaskFailed and
that `{"Step": ...}` JSON as the cause, as Step Functions reports jobs it waits on. A bad request
fails with `EMR.ValidationException` / `EMR.InvalidRequestException`.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator import background
from emulator.backends.spark import SparkEngine
from emulator.errors import TASK_FAILED, StatesError
from emulator.integrations.registry import Handler, Registry, Resource, backend_handler, register, service_actions
from emulator.workspace import Workspace, write_atomic

Params = dict[str, Any]
_ARN = "arn:aws:elasticmapreduce:us-east-1:123456789012:cluster/{}"
_ENDED_STEP = {"COMPLETED", "FAILED", "CANCELLED", "INTERRUPTED"}
_ENDED_CLUSTER = {"TERMINATED", "TERMINATED_WITH_ERRORS"}
_POLL = 0.02  # seconds between looks at a record in the .sync waits; local steps end in milliseconds+
_OWNER = "SfnLocalOwner"  # the record's process (Pid, Started); not part of DescribeCluster's answer

_lock = threading.RLock()  # guards every cluster record of the process (they are small JSON files)
_clusters: dict[tuple[Path, str], _Cluster] = {}  # live clusters: (emr folder, ClusterId) → runtime state


class EmrError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _now_ms() -> int:
    return int(time.time() * 1000)


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(7).upper()[:13]


def _process_started(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, from /proc), so a reused pid is not taken
    for the original; None where /proc is missing or the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of proc(5); fields here start at field 3


_OWN_PROCESS = {"Pid": os.getpid(), "Started": _process_started(os.getpid())}


def _alive(owner: Any) -> bool:
    """Whether the process a record names still runs (and is that process, not a reuse of its pid)."""
    if not isinstance(owner, dict) or not isinstance(owner.get("Pid"), int):
        return False
    try:
        os.kill(owner["Pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    started = _process_started(owner["Pid"])
    return owner.get("Started") is None or started is None or started == owner["Started"]


class _Cluster:
    """A cluster's record plus what only lives in this process: its step threads and their slots."""

    def __init__(self, folder: Path, record: Params, engine: SparkEngine) -> None:
        self.folder = folder
        self.record = record
        self.engine = engine
        self.slots = threading.Semaphore(int(record.get("StepConcurrencyLevel") or 1))
        self.ready = threading.Event()
        self.cancelled: set[str] = set()

    @property
    def id(self) -> str:
        return self.record["Id"]

    def save(self) -> None:
        write_atomic(self.folder / f"{self.id}.json", json.dumps(self.record, indent=1).encode("utf-8"))

    def step(self, step_id: str) -> Params:
        for step in self.record["Steps"]:
            if step["Id"] == step_id:
                return step
        raise EmrError("InvalidRequestException", f"Step id '{step_id}' is not valid.")

    def set_state(self, state: str, code: str | None = None, message: str | None = None) -> None:
        status = self.record["Status"]
        status["State"] = state
        status["StateChangeReason"] = {k: v for k, v in (("Code", code), ("Message", message)) if v}
        timeline = status["Timeline"]
        if state == "WAITING" and "ReadyDateTime" not in timeline:
            timeline["ReadyDateTime"] = _now_ms()
        if state in _ENDED_CLUSTER:
            timeline["EndDateTime"] = _now_ms()
        self.save()

    def spark_conf(self) -> dict[str, str]:
        conf: dict[str, str] = {}
        for item in self.record.get("Configurations", []):
            if item.get("Classification") == "spark-defaults":
                conf.update({k: str(v) for k, v in (item.get("Properties") or {}).items()})
        return conf


class Emr:
    """The EMR API over one workspace's clusters."""

    def __init__(self, workspace: Workspace, engine: SparkEngine) -> None:
        self.workspace = workspace
        self.engine = engine
        self.folder = workspace.path("emr")

    # -- clusters ---------------------------------------------------------------------------
    def cluster(self, cluster_id: Any) -> _Cluster:
        if not isinstance(cluster_id, str) or not cluster_id:
            raise EmrError("ValidationException", "ClusterId is required.")
        with _lock:
            if (live := _clusters.get((self.folder, cluster_id))) is not None:
                return live
            path = self.folder / f"{cluster_id}.json"
            if "/" in cluster_id or not path.is_file():
                raise EmrError("InvalidRequestException", f"Cluster id '{cluster_id}' is not valid.")
            # A cluster of another process: it can only be looked at. The emr lock makes one process
            # at a time decide that an owner is gone and rewrite its record.
            with self.workspace.lock("emr"):
                found = _Cluster(self.folder, json.loads(path.read_text(encoding="utf-8")), self.engine)
                if found.record["Status"]["State"] not in _ENDED_CLUSTER and not _alive(found.record.get(_OWNER)):
                    self._orphaned(found)
            return found

    def _orphaned(self, cluster: _Cluster) -> None:
        """The process running `cluster` ended without terminating it: end it as EMR ends a lost cluster."""
        for step in cluster.record["Steps"]:
            if step["Status"]["State"] in ("PENDING", "RUNNING"):
                step["Status"]["State"] = "CANCELLED"
                step["Status"]["Timeline"]["EndDateTime"] = _now_ms()
        cluster.set_state("TERMINATED_WITH_ERRORS", "INTERNAL_ERROR", "The emulator process that ran it ended")

    @staticmethod
    def _owned(cluster: _Cluster) -> None:
        """Refuse to change a cluster another live process runs (its Spark session is not ours)."""
        if (cluster.folder, cluster.id) not in _clusters and cluster.record["Status"]["State"] not in _ENDED_CLUSTER:
            owner = cluster.record.get(_OWNER) or {}
            raise EmrError("InvalidRequestException", f"Cluster {cluster.id} is run by another sfn-local process "
                           f"(pid {owner.get('Pid')}); only that process can change it.")

    def create_cluster(self, p: Params) -> Params:
        name = p.get("Name")
        if not isinstance(name, str) or not name:
            raise EmrError("ValidationException", "Name is required.")
        instances = p.get("Instances") or {}
        cluster_id = _new_id("j-")
        record = {
            "Id": cluster_id, "Name": name, "ClusterArn": _ARN.format(cluster_id),
            "Status": {"State": "STARTING", "StateChangeReason": {}, "Timeline": {"CreationDateTime": _now_ms()}},
            "ReleaseLabel": p.get("ReleaseLabel", "emr-7.0.0"),
            "Applications": p.get("Applications", [{"Name": "Spark"}]),
            "Configurations": p.get("Configurations", []),
            "LogUri": p.get("LogUri"),
            "AutoTerminate": not instances.get("KeepJobFlowAliveWhenNoSteps", True),
            "TerminationProtected": bool(instances.get("TerminationProtected", False)),
            "StepConcurrencyLevel": int(p.get("StepConcurrencyLevel") or 1),
            "VisibleToAllUsers": p.get("VisibleToAllUsers", True),
            "Tags": p.get("Tags", []),
            "Steps": [],
            _OWNER: _OWN_PROCESS,
        }
        cluster = _Cluster(self.folder, {k: v for k, v in record.items() if v is not None}, self.engine)
        with _lock:
            _clusters[(self.folder, cluster_id)] = cluster
            cluster.save()
        self.engine.acquire(cluster_id)
        background.on_failure(lambda: self._terminate(
            cluster, "USER_REQUEST", "Terminated because the execution that created it did not succeed"))
        for step in p.get("Steps") or []:
            self._add_step(cluster, step)
        background.spawn(self._boot, cluster, name=f"emr-{cluster_id}")
        return {"ClusterId": cluster_id, "ClusterArn": record["ClusterArn"]}

    def _boot(self, cluster: _Cluster) -> None:
        try:
            self.engine.warm_up()
        except Exception as exc:  # a session that cannot start ends the cluster, as a bootstrap failure
            with _lock:
                cluster.set_state("TERMINATED_WITH_ERRORS", "BOOTSTRAP_FAILURE", str(exc)[:1000])
            self.engine.release(cluster.id)
            cluster.ready.set()
            return
        with _lock:
            if cluster.record["Status"]["State"] == "STARTING":
                cluster.set_state("RUNNING" if cluster.record["Steps"] else "WAITING")
        cluster.ready.set()
        if cluster.record.get("AutoTerminate") and not cluster.record["Steps"]:
            self._terminate(cluster, "ALL_STEPS_COMPLETED", "Steps completed")

    def describe_cluster(self, p: Params) -> Params:
        record = self.cluster(p.get("ClusterId")).record
        with _lock:
            return {"Cluster": json.loads(json.dumps({k: v for k, v in record.items() if k not in ("Steps", _OWNER)}))}

    def list_clusters(self, p: Params) -> Params:
        """ListClusters: summaries, newest first, filtered by ClusterStates / CreatedAfter / CreatedBefore (ms)."""
        states, after, before = p.get("ClusterStates"), p.get("CreatedAfter"), p.get("CreatedBefore")
        summaries = []
        for path in self.folder.glob("j-*.json"):
            record = self.cluster(path.stem).record
            with _lock:
                created = record["Status"]["Timeline"]["CreationDateTime"]
                if (states and record["Status"]["State"] not in states) or (after is not None and created < after) \
                        or (before is not None and created > before):
                    continue
                summaries.append(json.loads(json.dumps({
                    "Id": record["Id"], "Name": record["Name"], "Status": record["Status"],
                    "NormalizedInstanceHours": 0, "ClusterArn": record["ClusterArn"]})))
        summaries.sort(key=lambda c: -c["Status"]["Timeline"]["CreationDateTime"])
        return {"Clusters": summaries}

    def set_termination_protection(self, p: Params) -> Params:
        ids = p.get("JobFlowIds") or ([p["ClusterId"]] if "ClusterId" in p else [])
        for cluster_id in ids:
            cluster = self.cluster(cluster_id)
            self._owned(cluster)
            with _lock:
                cluster.record["TerminationProtected"] = bool(p.get("TerminationProtected"))
                cluster.save()
        return {}

    def terminate_cluster(self, p: Params, wait: bool = False) -> Params:
        ids = p.get("ClusterIds") or p.get("JobFlowIds") or [p.get("ClusterId")]
        clusters = [self.cluster(cluster_id) for cluster_id in ids]
        for cluster in clusters:
            self._owned(cluster)
        if any(c.record.get("TerminationProtected") for c in clusters):
            raise EmrError("ValidationException",
                           "Could not shut down one or more job flows since they are termination protected.")
        for cluster in clusters:
            if wait:
                self._terminate(cluster, "USER_REQUEST", "Terminated by user request")
            else:
                background.spawn(self._terminate, cluster, "USER_REQUEST", "Terminated by user request",
                                 name="emr-terminate")
        return {}

    def _terminate(self, cluster: _Cluster, code: str, message: str) -> None:
        with _lock:
            if cluster.record["Status"]["State"] in _ENDED_CLUSTER | {"TERMINATING"}:
                pass_through = True
            else:
                pass_through = False
                cluster.set_state("TERMINATING", code, message)
                for step in cluster.record["Steps"]:
                    if step["Status"]["State"] == "PENDING":
                        self._end_step(cluster, step, "CANCELLED")
                    elif step["Status"]["State"] == "RUNNING":
                        cluster.cancelled.add(step["Id"])
                        self.engine.cancel(step["Id"])
        if pass_through:
            while cluster.record["Status"]["State"] == "TERMINATING":
                time.sleep(_POLL)
            return
        cluster.ready.wait()
        while any(s["Status"]["State"] == "RUNNING" for s in cluster.record["Steps"]):
            time.sleep(_POLL)  # EMR lets the instances shut down; here the running scripts wind down
        with _lock:
            cluster.set_state("TERMINATED", code, message)
            _clusters.pop((self.folder, cluster.id), None)
        self.engine.release(cluster.id)

    # -- steps ------------------------------------------------------------------------------
    def add_step(self, p: Params) -> Params:
        cluster = self.cluster(p.get("ClusterId"))
        step = p.get("Step")
        if not isinstance(step, dict):
            raise EmrError("ValidationException", "Step is required.")
        return {"StepId": self._add_step(cluster, step)}

    def add_job_flow_steps(self, p: Params) -> Params:
        cluster = self.cluster(p.get("JobFlowId"))
        return {"StepIds": [self._add_step(cluster, step) for step in p.get("Steps") or []]}

    def _add_step(self, cluster: _Cluster, config: Params) -> str:
        jar_step = config.get("HadoopJarStep") or {}
        if not isinstance(config.get("Name"), str) or not jar_step.get("Jar"):
            raise EmrError("ValidationException", "A step needs a Name and HadoopJarStep.Jar.")
        self._owned(cluster)
        with _lock:
            if cluster.record["Status"]["State"] in _ENDED_CLUSTER | {"TERMINATING"}:
                raise EmrError("ValidationException", f"A job flow that is shutting down, terminated, or finished "
                               f"may not be modified: {cluster.id}")
            step = {
                "Id": _new_id("s-"), "Name": config["Name"],
                "Config": {"Jar": jar_step["Jar"], "Properties": _properties(jar_step.get("Properties")),
                           "Args": [str(a) for a in jar_step.get("Args", [])],
                           **({"MainClass": jar_step["MainClass"]} if jar_step.get("MainClass") else {})},
                "ActionOnFailure": config.get("ActionOnFailure", "CONTINUE"),
                "Status": {"State": "PENDING", "StateChangeReason": {},
                           "Timeline": {"CreationDateTime": _now_ms()}},
            }
            cluster.record["Steps"].append(step)
            cluster.save()
        background.spawn(self._run_step, cluster, step, name=f"emr-{step['Id']}")
        return step["Id"]

    def _run_step(self, cluster: _Cluster, step: Params) -> None:
        cluster.ready.wait()
        with cluster.slots:
            with _lock:
                if step["Status"]["State"] != "PENDING":
                    return  # cancelled while it waited
                step["Status"]["State"] = "RUNNING"
                step["Status"]["Timeline"]["StartDateTime"] = _now_ms()
                if cluster.record["Status"]["State"] == "WAITING":
                    cluster.set_state("RUNNING")
                cluster.save()
            try:
                result = self._submit(cluster, step)
                state, error, log = result.state, result.error_message, result.log_tail
            except EmrError as exc:
                state, error, log = "FAILED", exc.message, ""
            if step["Id"] in cluster.cancelled:
                state = "CANCELLED"
            with _lock:
                self._end_step(cluster, step, "COMPLETED" if state == "SUCCEEDED" else state, error, log)
        self._after_step(cluster, step)

    def _submit(self, cluster: _Cluster, step: Params) -> Any:
        args = step["Config"]["Args"]
        if step["Config"]["Jar"] != "command-runner.jar" or not args or args[0] != "spark-submit":
            raise EmrError("ValidationException", "Only command-runner.jar steps running spark-submit are supported "
                           f"locally, not {step['Config']['Jar']} {shlex.join(args[:1])}")
        conf, py_files, script, script_args = _parse_spark_submit(args[1:])
        if script is None:
            raise EmrError("ValidationException", "spark-submit needs an application script")
        return self.engine.run_script(self.engine.resolve(script), script_args, {**cluster.spark_conf(), **conf},
                                      [self.engine.resolve(f) for f in py_files], job_group=step["Id"])

    def _end_step(self, cluster: _Cluster, step: Params, state: str, error: str | None = None,
                  log: str = "") -> None:
        status = step["Status"]
        status["State"] = state
        status["Timeline"]["EndDateTime"] = _now_ms()
        if state == "FAILED":
            log_file = self._write_log(cluster, step, log)
            status["FailureDetails"] = {"Reason": (error or "Unknown Error.").splitlines()[0][:256],
                                        "Message": log[-2000:] or error or "", "LogFile": log_file}
            status["StateChangeReason"] = {}
        cluster.save()

    def _write_log(self, cluster: _Cluster, step: Params, log: str) -> str:
        """The step's stderr where EMR would put it: under LogUri when the cluster has one, else the workspace."""
        relative = f"{cluster.id}/steps/{step['Id']}/stderr"
        log_uri = cluster.record.get("LogUri")
        if log_uri:
            path = self.engine.object_store.local_path(log_uri.rstrip("/") + "/" + relative)
            location = log_uri.rstrip("/") + "/" + relative
        else:
            path = self.folder / "logs" / relative
            location = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(log + "\n", encoding="utf-8")
        return location

    def _after_step(self, cluster: _Cluster, step: Params) -> None:
        state = step["Status"]["State"]
        action = step["ActionOnFailure"]
        if state == "FAILED" and action in ("TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW"):
            self._terminate(cluster, "STEP_FAILURE", f"Shut down as step failed: {step['Id']}")
            return
        with _lock:
            if state == "FAILED" and action == "CANCEL_AND_WAIT":
                for other in cluster.record["Steps"]:
                    if other["Status"]["State"] == "PENDING":
                        self._end_step(cluster, other, "CANCELLED")
            busy = any(s["Status"]["State"] in ("PENDING", "RUNNING") for s in cluster.record["Steps"])
            if not busy and cluster.record["Status"]["State"] == "RUNNING":
                cluster.set_state("WAITING")
        if not busy and cluster.record.get("AutoTerminate"):
            self._terminate(cluster, "ALL_STEPS_COMPLETED", "Steps completed")

    def cancel_step(self, p: Params) -> Params:
        cluster = self.cluster(p.get("ClusterId"))
        ids = p.get("StepIds") or ([p["StepId"]] if "StepId" in p else [])
        self._owned(cluster)
        infos = []
        with _lock:
            for step_id in ids:
                step = cluster.step(step_id)
                state = step["Status"]["State"]
                if state == "PENDING":
                    self._end_step(cluster, step, "CANCELLED")
                    infos.append({"StepId": step_id, "Status": "SUBMITTED", "Reason": ""})
                elif state == "RUNNING":
                    cluster.cancelled.add(step_id)
                    self.engine.cancel(step_id)  # the script's Spark jobs fail; the step ends CANCELLED
                    infos.append({"StepId": step_id, "Status": "SUBMITTED", "Reason": ""})
                else:
                    infos.append({"StepId": step_id, "Status": "FAILED",
                                  "Reason": f"Step {step_id} is in {state} state and cannot be cancelled"})
        return {"CancelStepsInfoList": infos}

    def describe_step(self, p: Params) -> Params:
        cluster = self.cluster(p.get("ClusterId"))
        with _lock:
            return {"Step": json.loads(json.dumps(cluster.step(p.get("StepId"))))}

    def list_steps(self, p: Params) -> Params:
        cluster = self.cluster(p.get("ClusterId"))
        states, ids = p.get("StepStates"), p.get("StepIds")
        with _lock:
            steps = [s for s in reversed(cluster.record["Steps"])  # newest first, as ListSteps orders them
                     if (not states or s["Status"]["State"] in states) and (not ids or s["Id"] in ids)]
            return {"Steps": json.loads(json.dumps(steps))}

    # -- .sync ------------------------------------------------------------------------------
    def create_cluster_sync(self, p: Params) -> Params:
        created = self.create_cluster(p)
        cluster = self.cluster(created["ClusterId"])
        cluster.ready.wait()
        state = cluster.record["Status"]["State"]
        if state in _ENDED_CLUSTER:
            raise StatesError(TASK_FAILED, json.dumps(self.describe_cluster({"ClusterId": cluster.id})))
        return created

    def add_step_sync(self, p: Params) -> Params:
        step_id = self.add_step(p)["StepId"]
        cluster = self.cluster(p["ClusterId"])
        while cluster.step(step_id)["Status"]["State"] not in _ENDED_STEP:
            time.sleep(_POLL)
        result = self.describe_step({"ClusterId": cluster.id, "StepId": step_id})
        if result["Step"]["Status"]["State"] != "COMPLETED":
            raise StatesError(TASK_FAILED, json.dumps(result, separators=(",", ":")))
        return result


def _properties(value: Any) -> dict[str, str]:
    """HadoopJarStep.Properties arrive as [{Key, Value}]; DescribeStep shows them as a map."""
    if isinstance(value, list):
        return {str(item.get("Key")): str(item.get("Value")) for item in value if isinstance(item, dict)}
    return dict(value or {})


def _parse_spark_submit(args: list[str]) -> tuple[dict[str, str], list[str], str | None, list[str]]:
    """spark-submit's options up to the application; everything after it belongs to the script."""
    conf: dict[str, str] = {}
    py_files: list[str] = []
    with_value = {"--master", "--deploy-mode", "--name", "--jars", "--packages", "--files", "--archives",
                  "--driver-memory", "--executor-memory", "--executor-cores", "--num-executors", "--class",
                  "--properties-file", "--driver-cores", "--queue", "--repositories", "--exclude-packages",
                  "--driver-java-options", "--driver-library-path", "--driver-class-path", "--total-executor-cores"}
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, inline = arg.partition("=")
        if name in ("--conf", "-c"):
            setting = inline if eq else args[i + 1] if i + 1 < len(args) else ""
            key, _, value = setting.partition("=")
            conf[key] = value
            i += 1 if eq else 2
        elif name == "--py-files":
            listing = inline if eq else args[i + 1] if i + 1 < len(args) else ""
            py_files += [f for f in listing.split(",") if f]
            i += 1 if eq else 2
        elif name in with_value:
            i += 1 if eq else 2  # cluster placement and resources: one local session serves every step
        elif arg.startswith("--"):
            i += 1  # flags such as --verbose / --supervise
        else:
            return conf, py_files, arg, args[i + 1:]
    return conf, py_files, None, []


def _emr(registry: Registry) -> Emr:
    return Emr(registry.backends.workspace, registry.backends.spark)


_OPTIMIZED: dict[tuple[str, str], Callable[[Emr, Params], Params]] = {
    ("createCluster", ""): Emr.create_cluster,
    ("createCluster", "sync"): Emr.create_cluster_sync,
    ("addStep", ""): Emr.add_step,
    ("addStep", "sync"): Emr.add_step_sync,
    ("terminateCluster", ""): Emr.terminate_cluster,
    ("terminateCluster", "sync"): lambda emr, p: emr.terminate_cluster(p, wait=True),
    ("setClusterTerminationProtection", ""): Emr.set_termination_protection,
    ("cancelStep", ""): lambda emr, p: emr.cancel_step(p)["CancelStepsInfoList"][0],
}
_SDK: dict[str, Callable[[Emr, Params], Params]] = {
    "describeCluster": Emr.describe_cluster,
    "listClusters": Emr.list_clusters,
    "describeStep": Emr.describe_step,
    "listSteps": Emr.list_steps,
    "addJobFlowSteps": Emr.add_job_flow_steps,
    "cancelSteps": Emr.cancel_step,
    "terminateJobFlows": Emr.terminate_cluster,
    "setTerminationProtection": Emr.set_termination_protection,
}


def _factory(resource: Resource, registry: Registry) -> Handler | None:
    action = service_actions(resource, "elasticmapreduce", _OPTIMIZED, _SDK)
    if action is None:
        return None
    return backend_handler(action, lambda: _emr(registry), EmrError, _error)


def _error(exc: EmrError) -> StatesError:
    return StatesError(f"EMR.{exc.code}", f"{exc.message} (Service: AmazonElasticMapReduce; Status Code: 400; "
                       f"Error Code: {exc.code})")


register("elasticmapreduce", _factory)
register("aws-sdk:emr", _factory)
