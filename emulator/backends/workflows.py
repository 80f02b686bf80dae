"""Glue workflows: triggers chaining Glue jobs and crawlers, run by StartWorkflowRun.

A workflow comes from the config (`[glue_workflows.NAME]`: Description, DefaultRunProperties,
MaxConcurrentRuns, Triggers = [CreateTrigger's fields]) or from CreateWorkflow plus CreateTrigger
with `WorkflowName`. A run fires the workflow's start triggers (ON_DEMAND, or SCHEDULED: a run
started by hand starts where the schedule would) and then, each time one of its jobs or crawls ends,
every CONDITIONAL trigger whose predicate now holds (`Logical` AND: all conditions, ANY: one;
a condition is `JobName` + `State` or `CrawlerName` + `CrawlState`), each at most once per run.
Conditional triggers fire only when ACTIVATED, as in Glue: CreateTrigger with StartOnCreation or
StartTrigger; config triggers default to StartOnCreation = true. Jobs get `--WORKFLOW_NAME` and
`--WORKFLOW_RUN_ID` on top of the action's Arguments, as Glue passes them.

The run is COMPLETED when no action is running and no trigger can fire any more (failed actions
count in Statistics, as in Glue); StopWorkflowRun lets running actions end and fires nothing new
(STOPPING → STOPPED). GetWorkflowRun shows Statistics and the Graph (trigger, job and crawler nodes
with their runs, edges trigger → action and watched node → trigger). Runs execute in the process that
started them; records are JSON files under `<workspace>/glue-workflows/`.
"""

from __future__ import annotations

import hashlib
import queue
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator import background
from emulator.backends.catalog import GlueError, now_iso, read_json, required, write_json

if TYPE_CHECKING:
    from emulator.backends import Backends

Params = dict[str, Any]
_TYPES = ("ON_DEMAND", "CONDITIONAL", "SCHEDULED")
_JOB_STATES = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "RUNNING", "STARTING", "STOPPING", "WAITING")
_CRAWL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED", "RUNNING", "CANCELLING", "ERROR")
_JOB_ENDED = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR"})
_POLL = 0.05  # seconds between looks at a job run the workflow waits on
_STAT_KEYS = ("TotalActions", "TimeoutActions", "FailedActions", "StoppedActions", "SucceededActions",
              "RunningActions", "ErroredActions", "WaitingActions")
# A finished action's state → the Statistics counter it adds to.
_COUNTER = {"SUCCEEDED": "SucceededActions", "FAILED": "FailedActions", "STOPPED": "StoppedActions",
            "CANCELLED": "StoppedActions", "TIMEOUT": "TimeoutActions", "ERROR": "ErroredActions"}

_lock = threading.RLock()  # guards run records and the live runs of this process
_stopping: set[str] = set()  # run ids asked to stop
_done: dict[str, threading.Event] = {}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _node_id(workflow: str, kind: str, name: str) -> str:
    digest = hashlib.sha256(f"{workflow}\0{kind}\0{name}".encode()).hexdigest()[:32]
    return f"wnode_{digest}"


def check_trigger(trigger: Any, where: str) -> None:
    """CreateTrigger's shape; errors name `where` (a config key or the request)."""
    def bad(key: str, expected: str, value: Any) -> GlueError:
        return GlueError("InvalidInputException", f"{where} {key}: expected {expected}, got {value!r}")

    if not isinstance(trigger, dict):
        raise bad("", "a table with Name, Type and Actions", trigger)
    if not isinstance(trigger.get("Name"), str) or not trigger["Name"]:
        raise bad("Name", "a non-empty string", trigger.get("Name"))
    if trigger.get("Type") not in _TYPES:
        raise bad("Type", " | ".join(_TYPES), trigger.get("Type"))
    actions = trigger.get("Actions")
    if not isinstance(actions, list) or not actions:
        raise bad("Actions", "a non-empty list of {JobName | CrawlerName, Arguments}", actions)
    for i, action in enumerate(actions):
        if not isinstance(action, dict) or not (isinstance(action.get("JobName"), str)
                                                or isinstance(action.get("CrawlerName"), str)):
            raise bad(f"Actions[{i}]", "a table with JobName or CrawlerName", action)
        if not isinstance(action.get("Arguments", {}), dict):
            raise bad(f"Actions[{i}].Arguments", "a table of strings", action.get("Arguments"))
    if trigger["Type"] != "CONDITIONAL":
        return
    predicate = trigger.get("Predicate")
    if not isinstance(predicate, dict) or not isinstance(predicate.get("Conditions"), list) \
            or not predicate["Conditions"]:
        raise bad("Predicate.Conditions", "a non-empty list (a CONDITIONAL trigger needs a predicate)", predicate)
    if predicate.get("Logical", "AND") not in ("AND", "ANY"):
        raise bad("Predicate.Logical", "AND | ANY", predicate.get("Logical"))
    for i, condition in enumerate(predicate["Conditions"]):
        key = f"Predicate.Conditions[{i}]"
        if not isinstance(condition, dict):
            raise bad(key, "a table", condition)
        if condition.get("LogicalOperator", "EQUALS") != "EQUALS":
            raise bad(f"{key}.LogicalOperator", "EQUALS", condition.get("LogicalOperator"))
        if isinstance(condition.get("JobName"), str):
            if condition.get("State") not in _JOB_STATES:
                raise bad(f"{key}.State", " | ".join(_JOB_STATES), condition.get("State"))
        elif isinstance(condition.get("CrawlerName"), str):
            if condition.get("CrawlState") not in _CRAWL_STATES:
                raise bad(f"{key}.CrawlState", " | ".join(_CRAWL_STATES), condition.get("CrawlState"))
        else:
            raise bad(key, "JobName + State or CrawlerName + CrawlState", condition)


def _check_config(name: str, workflow: Any) -> None:
    where = f"[glue_workflows.{name}]"
    if not isinstance(workflow, dict):
        raise GlueError("InvalidInputException", f"{where}: expected a table with Triggers, got {workflow!r}")
    if not isinstance(workflow.get("DefaultRunProperties", {}), dict):
        raise GlueError("InvalidInputException", f"{where} DefaultRunProperties: expected a table of strings")
    triggers = workflow.get("Triggers", [])
    if not isinstance(triggers, list):
        raise GlueError("InvalidInputException", f"{where} Triggers: expected a list of triggers, got {triggers!r}")
    for i, trigger in enumerate(triggers):
        check_trigger(trigger, f"{where} Triggers[{i}]")


class Workflows:
    """Workflows, triggers and workflow runs of one workspace."""

    def __init__(self, backends: Backends) -> None:
        self.backends = backends
        self.workspace = backends.workspace
        self.folder = self.workspace.path("glue-workflows")

    # -- files
    def _file(self, kind: str, name: Any) -> Path:
        if not isinstance(name, str) or not name or "/" in name or name.startswith(".") or len(name) > 255:
            raise GlueError("InvalidInputException", f"'{name}' is not a valid name")
        return self.folder / kind / f"{name}.json"

    def _configured(self, name: str) -> Params | None:
        workflow = self.workspace.config.glue_workflows.get(name)
        if workflow is not None:
            _check_config(name, workflow)
        return workflow

    def _workflow(self, name: Any) -> Params:
        configured = self._configured(name) if isinstance(name, str) else None
        if configured is not None:
            return {"Name": name, **{k: v for k, v in configured.items() if k != "Triggers"}}
        path = self._file("workflows", name)
        if not path.is_file():
            raise GlueError("EntityNotFoundException", f"Workflow with name: {name} not found")
        return read_json(path)

    def _triggers(self, workflow: str) -> list[Params]:
        configured = self._configured(workflow)
        found: list[Params] = []
        if configured is not None:
            for trigger in configured.get("Triggers", []):
                state = self._trigger_state(trigger["Name"])
                active = trigger.get("StartOnCreation", True) and trigger["Type"] != "ON_DEMAND"
                found.append({**trigger, "WorkflowName": workflow,
                              "State": state or ("ACTIVATED" if active else "CREATED")})
        folder = self.folder / "triggers"
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                trigger = read_json(path)
                if trigger.get("WorkflowName") == workflow and "Type" in trigger:
                    found.append(trigger)
        return found

    def _trigger_state(self, name: str) -> str | None:
        path = self._file("trigger-states", name)
        return read_json(path)["State"] if path.is_file() else None

    # -- workflows
    def create_workflow(self, p: Params) -> Params:
        name = required(p, "Name")
        path = self._file("workflows", name)
        with self.workspace.lock("glue-workflows"):
            if name in self.workspace.config.glue_workflows or path.is_file():
                raise GlueError("AlreadyExistsException", f"Workflow with name {name} already exists")
            stamp = now_iso()
            record = {"Name": name, "CreatedOn": stamp, "LastModifiedOn": stamp}
            for key in ("Description", "DefaultRunProperties", "MaxConcurrentRuns"):
                if p.get(key) is not None:
                    record[key] = p[key]
            write_json(path, record)
        return {"Name": name}

    def get_workflow(self, p: Params) -> Params:
        name = required(p, "Name")
        workflow = self._workflow(name)
        shown = {k: v for k, v in workflow.items() if k not in ("Triggers",)}
        runs = self._runs(name)
        if runs:
            shown["LastRun"] = runs[0]
        if p.get("IncludeGraph", True):
            shown["Graph"] = self.graph(name, self._triggers(name), {})
        return {"Workflow": shown}

    def list_workflows(self, p: Params) -> Params:
        folder = self.folder / "workflows"
        created = {f.stem for f in folder.glob("*.json")} if folder.is_dir() else set()
        return {"Workflows": sorted(created | set(self.workspace.config.glue_workflows))}

    def batch_get_workflows(self, p: Params) -> Params:
        found, missing = [], []
        for name in required(p, "Names"):
            try:
                found.append(self.get_workflow({"Name": name, "IncludeGraph": p.get("IncludeGraph", False)})
                             ["Workflow"])
            except GlueError:
                missing.append(name)
        return {"Workflows": found, "MissingWorkflows": missing}

    def delete_workflow(self, p: Params) -> Params:
        name = required(p, "Name")
        if name in self.workspace.config.glue_workflows:
            raise GlueError("InvalidInputException", f"Workflow {name} is defined in the project's config "
                                                     f"([glue_workflows.{name}]); remove it there")
        with self.workspace.lock("glue-workflows"):
            self._file("workflows", name).unlink(missing_ok=True)
            for trigger in self._triggers(name):
                self._file("triggers", trigger["Name"]).unlink(missing_ok=True)
        return {"Name": name}

    # -- triggers
    def create_trigger(self, p: Params) -> Params:
        check_trigger(p, "CreateTrigger")
        name = p["Name"]
        workflow = p.get("WorkflowName")
        if workflow is not None:
            self._workflow(workflow)
        path = self._file("triggers", name)
        with self.workspace.lock("glue-workflows"):
            if path.is_file() or self._configured_trigger(name) is not None:
                raise GlueError("AlreadyExistsException", f"Trigger with name {name} already exists")
            active = bool(p.get("StartOnCreation")) and p["Type"] != "ON_DEMAND"
            record = {k: v for k, v in p.items() if k not in ("StartOnCreation", "Tags")}
            record.update(Id=name, State="ACTIVATED" if active else "CREATED")
            write_json(path, record)
        return {"Name": name}

    def _configured_trigger(self, name: str) -> Params | None:
        for workflow in self.workspace.config.glue_workflows:
            for trigger in self._triggers(workflow):
                if trigger["Name"] == name:
                    return trigger
        return None

    def _trigger(self, name: Any) -> Params:
        path = self._file("triggers", name)
        if path.is_file():
            return read_json(path)
        trigger = self._configured_trigger(name)
        if trigger is None:
            raise GlueError("EntityNotFoundException", f"Trigger with name {name} not found")
        return trigger

    def get_trigger(self, p: Params) -> Params:
        trigger = self._trigger(required(p, "Name"))
        return {"Trigger": {"Id": trigger["Name"], **{k: v for k, v in trigger.items()
                                                      if k not in ("StartOnCreation", "Tags")}}}

    def get_triggers(self, p: Params) -> Params:
        workflows = self.list_workflows({})["Workflows"]
        triggers = [t for w in workflows for t in self._triggers(w)]
        folder = self.folder / "triggers"
        if folder.is_dir():
            triggers += [read_json(f) for f in sorted(folder.glob("*.json")) if not read_json(f).get("WorkflowName")]
        if p.get("DependentJobName"):
            triggers = [t for t in triggers if any(a.get("JobName") == p["DependentJobName"] for a in t["Actions"])]
        return {"Triggers": [self.get_trigger({"Name": t["Name"]})["Trigger"] for t in triggers]}

    def _set_trigger_state(self, name: str, state: str) -> Params:
        trigger = self._trigger(name)
        if trigger["Type"] == "ON_DEMAND" and state == "ACTIVATED":
            raise GlueError("InvalidInputException", f"Trigger {name} is ON_DEMAND: it is started by StartWorkflowRun")
        with self.workspace.lock("glue-workflows"):
            path = self._file("triggers", name)
            if path.is_file():
                write_json(path, {**read_json(path), "State": state})
            else:
                write_json(self._file("trigger-states", name), {"State": state})
        return {"Name": name}

    def start_trigger(self, p: Params) -> Params:
        return self._set_trigger_state(required(p, "Name"), "ACTIVATED")

    def stop_trigger(self, p: Params) -> Params:
        return self._set_trigger_state(required(p, "Name"), "DEACTIVATED")

    def delete_trigger(self, p: Params) -> Params:
        name = required(p, "Name")
        if self._configured_trigger(name) is not None:
            raise GlueError("InvalidInputException", f"Trigger {name} is defined in the project's config "
                                                     "([glue_workflows.*] Triggers); remove it there")
        self._file("triggers", name).unlink(missing_ok=True)
        return {"Name": name}

    # -- runs
    def _run_file(self, workflow: str, run_id: Any) -> Path:
        if not isinstance(run_id, str) or not run_id.startswith("wr_") or "/" in run_id:
            raise GlueError("EntityNotFoundException", f"Workflow run with id {run_id} not found")
        return self._file("runs", workflow).with_suffix("") / f"{run_id}.json"

    def _runs(self, workflow: str) -> list[Params]:
        folder = self._file("runs", workflow).with_suffix("")
        with _lock:
            runs = [read_json(f) for f in folder.glob("wr_*.json")] if folder.is_dir() else []
        return sorted(runs, key=lambda r: -r["StartedOn"])

    def start_workflow_run(self, p: Params) -> Params:
        name = required(p, "Name")
        workflow = self._workflow(name)
        triggers = self._triggers(name)
        limit = workflow.get("MaxConcurrentRuns")
        if limit and sum(r["Status"] == "RUNNING" for r in self._runs(name)) >= int(limit):
            raise GlueError("ConcurrentRunsExceededException", f"Concurrent runs exceeded for workflow: {name}")
        run_id = "wr_" + secrets.token_hex(32)
        properties = {**(workflow.get("DefaultRunProperties") or {}), **(p.get("RunProperties") or {})}
        run: Params = {"Name": name, "WorkflowRunId": run_id, "WorkflowRunProperties": properties,
                       "StartedOn": _now_ms(), "Status": "RUNNING", "Statistics": dict.fromkeys(_STAT_KEYS, 0),
                       "Graph": self.graph(name, triggers, {})}
        previous = self._runs(name)
        if previous:
            run["PreviousRunId"] = previous[0]["WorkflowRunId"]
        path = self._run_file(name, run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _lock:
            _done[run_id] = threading.Event()
            write_json(path, run)
        background.spawn(_Driver(self, run, triggers).drive, name=f"workflow-{run_id[:12]}")
        return {"RunId": run_id}

    def get_workflow_run(self, p: Params) -> Params:
        name = required(p, "Name")
        self._workflow(name)
        path = self._run_file(name, required(p, "RunId"))
        with _lock:
            if not path.is_file():
                raise GlueError("EntityNotFoundException", f"Workflow run with id {p['RunId']} not found")
            run = read_json(path)
        if not p.get("IncludeGraph", True):
            run.pop("Graph", None)
        return {"Run": run}

    def get_workflow_runs(self, p: Params) -> Params:
        name = required(p, "Name")
        self._workflow(name)
        runs = self._runs(name)
        if not p.get("IncludeGraph", True):
            runs = [{k: v for k, v in r.items() if k != "Graph"} for r in runs]
        return {"Runs": runs[: int(p.get("MaxResults") or 100)]}

    def wait_run(self, name: str, run_id: str, timeout: float | None = None) -> Params:
        """The run once it has ended (tests, the CLI)."""
        event = _done.get(run_id)
        if event is not None:
            event.wait(timeout)
        return self.get_workflow_run({"Name": name, "RunId": run_id})["Run"]

    def get_run_properties(self, p: Params) -> Params:
        run = self.get_workflow_run({"Name": p.get("Name"), "RunId": p.get("RunId")})["Run"]
        return {"RunProperties": run["WorkflowRunProperties"]}

    def put_run_properties(self, p: Params) -> Params:
        name, run_id = required(p, "Name"), required(p, "RunId")
        properties = required(p, "RunProperties")
        self.update_run(name, run_id, lambda run: run["WorkflowRunProperties"].update(properties))
        return {}

    def stop_workflow_run(self, p: Params) -> Params:
        name, run_id = required(p, "Name"), required(p, "RunId")

        def stop(run: Params) -> None:
            if run["Status"] != "RUNNING":
                raise GlueError("IllegalWorkflowStateException",
                                f"Workflow run {run_id} is not in RUNNING state (it is {run['Status']})")
            run["Status"] = "STOPPING"
            _stopping.add(run_id)

        self.update_run(name, run_id, stop)
        return {}

    def update_run(self, name: str, run_id: str, change: Callable[[Params], None]) -> Params:
        path = self._run_file(name, run_id)
        with _lock:
            if not path.is_file():
                raise GlueError("EntityNotFoundException", f"Workflow run with id {run_id} not found")
            run = read_json(path)
            change(run)
            write_json(path, run)
            return run

    # -- the graph
    def graph(self, workflow: str, triggers: list[Params], runs: dict[tuple[str, str], list[Params]]) -> Params:
        nodes: dict[str, Params] = {}
        edges: list[Params] = []

        def node(kind: str, name: str) -> str:
            unique = _node_id(workflow, kind, name)
            if unique not in nodes:
                entry: Params = {"Type": kind, "Name": name, "UniqueId": unique}
                if kind == "JOB":
                    entry["JobDetails"] = {"JobRuns": runs.get(("JOB", name), [])}
                elif kind == "CRAWLER":
                    entry["CrawlerDetails"] = {"Crawls": runs.get(("CRAWLER", name), [])}
                nodes[unique] = entry
            return unique

        for trigger in triggers:
            trigger_id = node("TRIGGER", trigger["Name"])
            shown = {k: v for k, v in trigger.items() if k not in ("StartOnCreation", "Tags")}
            nodes[trigger_id]["TriggerDetails"] = {"Trigger": {"Id": trigger["Name"], **shown}}
            for action in trigger["Actions"]:
                kind, name = ("JOB", action["JobName"]) if action.get("JobName") else ("CRAWLER", action["CrawlerName"])
                edges.append({"SourceId": trigger_id, "DestinationId": node(kind, name)})
            for condition in (trigger.get("Predicate") or {}).get("Conditions", []):
                kind, name = (("JOB", condition["JobName"]) if condition.get("JobName")
                              else ("CRAWLER", condition["CrawlerName"]))
                edges.append({"SourceId": node(kind, name), "DestinationId": trigger_id})
        return {"Nodes": list(nodes.values()), "Edges": edges}


class _Driver:
    """One workflow run: fires triggers, starts their actions, waits for them, records everything."""

    def __init__(self, workflows: Workflows, run: Params, triggers: list[Params]) -> None:
        self.workflows = workflows
        self.name = run["Name"]
        self.run_id = run["WorkflowRunId"]
        self.triggers = triggers
        self.events: queue.Queue[tuple[str, str, str, Params]] = queue.Queue()
        self.fired: set[str] = set()
        self.outcomes: dict[tuple[str, str], str] = {}  # (JOB | CRAWLER, name) → its last final state
        self.history: dict[tuple[str, str], list[Params]] = {}
        self.running = 0

    def drive(self) -> None:
        try:
            for trigger in self.triggers:
                if trigger["Type"] in ("ON_DEMAND", "SCHEDULED"):
                    self._fire(trigger)
            while self.running:
                kind, name, state, detail = self.events.get()
                self.running -= 1
                self.outcomes[(kind, name)] = state
                self.history.setdefault((kind, name), []).append(detail)
                counter = _COUNTER.get(state, "FailedActions")
                self._record(lambda stats, c=counter: stats.update({c: stats[c] + 1, "RunningActions":
                                                                     stats["RunningActions"] - 1}))
                if self.run_id in _stopping:
                    continue
                for trigger in self.triggers:
                    if (trigger["Type"] == "CONDITIONAL" and trigger["Name"] not in self.fired
                            and trigger.get("State") == "ACTIVATED" and self._holds(trigger["Predicate"])):
                        self._fire(trigger)
            self._finish("STOPPED" if self.run_id in _stopping else "COMPLETED")
        except Exception as exc:  # a fault in the driver ends the run ERROR, never silently RUNNING
            self._finish("ERROR", f"{type(exc).__name__}: {exc}")

    def _holds(self, predicate: Params) -> bool:
        met = []
        for condition in predicate["Conditions"]:
            if condition.get("JobName"):
                met.append(self.outcomes.get(("JOB", condition["JobName"])) == condition["State"])
            else:
                met.append(self.outcomes.get(("CRAWLER", condition["CrawlerName"])) == condition["CrawlState"])
        return any(met) if predicate.get("Logical") == "ANY" else all(met)

    def _fire(self, trigger: Params) -> None:
        self.fired.add(trigger["Name"])
        for action in trigger["Actions"]:
            self.running += 1
            self._record(lambda stats: stats.update(TotalActions=stats["TotalActions"] + 1,
                                                    RunningActions=stats["RunningActions"] + 1))
            target = self._job if action.get("JobName") else self._crawl
            background.spawn(target, action, trigger["Name"], name=f"workflow-action-{self.run_id[:8]}")

    def _job(self, action: Params, trigger: str) -> None:
        from emulator.integrations.gluejobs import GlueJobError, GlueJobs  # the job runner lives with its API

        name = action["JobName"]
        jobs = GlueJobs(self.workflows.workspace, self.workflows.backends.spark)
        arguments = {**(action.get("Arguments") or {}), "--WORKFLOW_NAME": self.name,
                     "--WORKFLOW_RUN_ID": self.run_id}
        try:
            run_id = jobs.start_job_run({"JobName": name, "Arguments": arguments})["JobRunId"]
            while True:
                run = jobs.get_job_run({"RunId": run_id})["JobRun"]
                if run["JobRunState"] in _JOB_ENDED:
                    break
                time.sleep(_POLL)
            run["TriggerName"] = trigger
            self.events.put(("JOB", name, run["JobRunState"], run))
        except GlueJobError as exc:
            self.events.put(("JOB", name, "ERROR", {"JobName": name, "JobRunState": "ERROR",
                                                    "ErrorMessage": exc.message, "TriggerName": trigger}))

    def _crawl(self, action: Params, trigger: str) -> None:
        name = action["CrawlerName"]
        crawlers = self.workflows.backends.catalog.crawlers
        started = now_iso()
        try:
            crawlers.start(name)
            crawler = crawlers.wait(name)
            last = crawler.get("LastCrawl", {})
            state = last.get("Status", "FAILED")
            detail = {"State": state, "StartedOn": last.get("StartTime", started), "CompletedOn": now_iso(),
                      "LogGroup": last.get("LogGroup", ""), "LogStream": last.get("LogStream", "")}
            if last.get("ErrorMessage"):
                detail["ErrorMessage"] = last["ErrorMessage"]
        except GlueError as exc:
            state, detail = "ERROR", {"State": "ERROR", "StartedOn": started, "ErrorMessage": exc.message}
        self.events.put(("CRAWLER", name, state, detail))

    def _record(self, change: Callable[[Params], None]) -> None:
        def apply(run: Params) -> None:
            change(run["Statistics"])
            run["Graph"] = self.workflows.graph(self.name, self.triggers, self.history)

        self.workflows.update_run(self.name, self.run_id, apply)

    def _finish(self, status: str, error: str | None = None) -> None:
        def apply(run: Params) -> None:
            run.update(Status=status, CompletedOn=_now_ms())
            run["Graph"] = self.workflows.graph(self.name, self.triggers, self.history)
            if error:
                run["ErrorMessage"] = error

        try:
            self.workflows.update_run(self.name, self.run_id, apply)
        finally:
            _stopping.discard(self.run_id)
            _done[self.run_id].set()


# camelCase action → what it does, for `aws-sdk:glue:<action>` Tasks and the Glue HTTP front.
ACTIONS: dict[str, Callable[[Backends, Params], Params]] = {
    "createWorkflow": lambda b, p: Workflows(b).create_workflow(p),
    "getWorkflow": lambda b, p: Workflows(b).get_workflow(p),
    "listWorkflows": lambda b, p: Workflows(b).list_workflows(p),
    "batchGetWorkflows": lambda b, p: Workflows(b).batch_get_workflows(p),
    "deleteWorkflow": lambda b, p: Workflows(b).delete_workflow(p),
    "createTrigger": lambda b, p: Workflows(b).create_trigger(p),
    "getTrigger": lambda b, p: Workflows(b).get_trigger(p),
    "getTriggers": lambda b, p: Workflows(b).get_triggers(p),
    "startTrigger": lambda b, p: Workflows(b).start_trigger(p),
    "stopTrigger": lambda b, p: Workflows(b).stop_trigger(p),
    "deleteTrigger": lambda b, p: Workflows(b).delete_trigger(p),
    "startWorkflowRun": lambda b, p: Workflows(b).start_workflow_run(p),
    "getWorkflowRun": lambda b, p: Workflows(b).get_workflow_run(p),
    "getWorkflowRuns": lambda b, p: Workflows(b).get_workflow_runs(p),
    "getWorkflowRunProperties": lambda b, p: Workflows(b).get_run_properties(p),
    "putWorkflowRunProperties": lambda b, p: Workflows(b).put_run_properties(p),
    "stopWorkflowRun": lambda b, p: Workflows(b).stop_workflow_run(p),
}
