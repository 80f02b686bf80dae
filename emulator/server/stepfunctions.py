"""The Step Functions API (AWS JSON 1.0, `X-Amz-Target: AWSStepFunctions.<Action>`) on the local engine.

`StepFunctions.call(action, params)` answers one request with the response document, or raises
ServiceError with AWS's error name. State machines, versions, aliases, activities, tags and
executions live in the workspace's Store (SQLite), so they survive a restart; executions run on
the engine, one compiled StateMachine per (machine, revision) or version. The store's Recorder writes
them: StartExecution answers once the RUNNING execution is committed (concurrent starts share one
commit), then a writer thread commits every running execution's new history events every few
milliseconds in one short transaction, and an execution's end at once. Nothing a client is shown is
uncommitted: DescribeExecution of an execution that ended, and GetExecutionHistory, wait for the
commit holding it (so no event a client saw is lost to a kill -9). Ended executions are answered
from memory (the latest ones), checked against changes other processes commit (`sfn-local redrive`).
Executions the server started and that were still RUNNING when it stopped resume at the next start:
they replay their recorded events and go on where they stopped (emulator/engine/redrive.py), with
the seed they ran with. Those of `sfn-local run` are not resumed (their handlers are the run's): one
whose process is gone is ended ABORTED (store.settle_abandoned), to redrive.
A StartExecution ARN may end in `#TestCase`: the test case of the mock config (SFN_MOCK_CONFIG,
`serve --mock-config`) the execution runs with, as in Step Functions Local.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
import re
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emulator.asl.validate import validate_definition
from emulator.backends import Backends
from emulator.backends import events as event_bus
from emulator.engine import tokens
from emulator.engine.execution import ACCOUNT, REGION, Execution, StateMachine
from emulator.engine.history import MAX_PAYLOAD_BYTES
from emulator.engine.redrive import ExecutionNotRedrivable, prepare_redrive, prepare_resume
from emulator.errors import MAX_NAME_LENGTH, DefinitionError, Diagnostic, forbidden_in_name
from emulator.integrations.mocks import MockConfigError, TestCase, test_case_for
from emulator.server.protocol import ServiceError
from emulator.store import (
    ACTIVITY,
    ALIAS,
    CLI,
    EXECUTION,
    MACHINE,
    PENDING,
    VERSION,
    Live,
    Recorder,
    Store,
    StoreUnavailable,
    execution_document,
)
from emulator.workspace import Workspace

_PREFIX = f"arn:aws:states:{REGION}:{ACCOUNT}"
_ARN = re.compile(r"arn:aws:states:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<kind>stateMachine|execution|"
                  r"activity|express):(?P<name>[^:]+)(?::(?P<qualifier>[^:]+))?")
# Names every client makes (UUIDs, words): letters, digits, - and _ only, which no rule forbids.
_PLAIN_NAME = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_NAME_LENGTH}}}")
_ALIAS_NAME = re.compile(r"(?=.*[A-Za-z_.-])[A-Za-z0-9_.-]{1,80}")
_TYPES = ("STANDARD", "EXPRESS")
_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
_DEFAULT_PAGE = 100
_MAX_PAGE = 1000
_TOKEN_PREFIX = "sfn-local:"
_DEFAULT_LOGGING = {"level": "OFF", "includeExecutionData": False}
_DEFAULT_TRACING = {"enabled": False}
# How long StopExecution waits for the execution to reach its next transition and end.
_STOP_WAIT_SECONDS = 10.0
# Ended executions answered from memory: the latest this many.
_RECENT = 10_000
_ENDED = {"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED", "ExecutionTimedOut": "TIMED_OUT",
          "ExecutionAborted": "ABORTED"}

# Executions StartExecution runs in place rather than on a thread of their own: those of machines with no
# state that acts outside the execution or waits (only these types, no Retry), no loop and few states, which
# end within a millisecond or so; run before their name is claimed, each is committed ended by that claim.
_INLINE_TYPES = frozenset({"Pass", "Choice", "Succeed", "Fail", "Parallel"})
_INLINE_MAX_STATES = 50

Params = dict[str, Any]
_ACTIONS: dict[str, Callable[..., Params]] = {}


def _api(method: Callable[..., Params]) -> Callable[..., Params]:
    """Expose a method as the API action of the same name in PascalCase."""
    _ACTIONS["".join(part.title() for part in method.__name__.split("_"))] = method
    return method


def _now() -> float:
    return time.time()


def _required(params: Params, key: str) -> Any:
    value = params.get(key)
    if value is None or value == "":
        raise ServiceError("ValidationException", f"1 validation error detected: Value null at '{key}' failed to "
                                                  "satisfy constraint: Member must not be null")
    return value


def _check_name(name: Any, what: str = "Name") -> str:
    """AWS's name rule for machines, executions and activities (emulator.errors.check_execution_name's
    characters), with every violation, length included, answered as InvalidName."""
    if isinstance(name, str) and _PLAIN_NAME.fullmatch(name):
        return name
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH or any(map(forbidden_in_name, name)):
        raise ServiceError("InvalidName", f"Invalid {what}: '{name}'")
    return name


def _parse_arn(arn: Any, *kinds: str) -> re.Match[str]:
    match = _ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None or match.group("kind") not in kinds:
        raise ServiceError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
    return match


def _public(doc: Params) -> Params:
    """A stored document as the API shows it: internal fields (leading `_`) and nulls left out."""
    return {k: v for k, v in doc.items() if not k.startswith("_") and v is not None}


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _tags_of(params: Params) -> dict[str, str]:
    tags = params.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, dict) and isinstance(t.get("key"), str) for t in tags):
        raise ServiceError("ValidationException", "tags must be a list of {key, value}")
    return {t["key"]: str(t.get("value", "")) for t in tags}


@dataclass(frozen=True)
class _Children:
    """The server's integrations.stepfunctions.NestedExecutions."""

    taken: Callable[[str], bool]
    ended: Callable[[Execution], None]


@dataclass(frozen=True)
class _Start:
    """A StartExecution prepared up to its claim: the execution, what runs it, what is kept beside it, and
    whether it ran in place already."""

    execution: Execution
    work: Callable[[], None]
    extra: Params
    inline: bool


@dataclass
class _Page:
    offset: int
    limit: int

    def answer(self, items: list[Any], key: str, total: int) -> Params:
        out: Params = {key: items}
        if self.offset + len(items) < total:
            out["nextToken"] = _encode_token(self.offset + len(items))
        return out


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{offset}".encode()).decode()


def _page(params: Params) -> _Page:
    size = params.get("maxResults") or _DEFAULT_PAGE
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= _MAX_PAGE:
        raise ServiceError("ValidationException", f"1 validation error detected: Value '{size}' at 'maxResults' "
                                                  f"failed to satisfy constraint: Member must have value less than "
                                                  f"or equal to {_MAX_PAGE}")
    token = params.get("nextToken")
    if token is None:
        return _Page(0, size)
    try:
        text = base64.urlsafe_b64decode(str(token).encode()).decode()
        if not text.startswith(_TOKEN_PREFIX):
            raise ValueError(text)
        offset = int(text.removeprefix(_TOKEN_PREFIX))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ServiceError("InvalidToken", f"Invalid Token: '{token}'") from None
    return _Page(max(offset, 0), size)


def _invalid_definition(diagnostics: list[Diagnostic]) -> ServiceError:
    problems = "; ".join(f"{d.code}: {d.message} at {d.location or '/'}" for d in diagnostics)
    return ServiceError("InvalidDefinition", f"Invalid State Machine Definition: '{problems}'")


def _load_definition(text: Any) -> dict[str, Any]:
    """The definition JSON text a client sent, parsed (never read as a file path)."""
    if not isinstance(text, str):
        raise ServiceError("InvalidDefinition", "Invalid State Machine Definition: 'definition must be a string'")
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _invalid_definition([Diagnostic("", f"{exc.msg} at line {exc.lineno} column {exc.colno}",
                                              "INVALID_JSON_DESCRIPTION")]) from None
    diagnostics = validate_definition(definition)
    if diagnostics:
        raise _invalid_definition(diagnostics)
    return definition


def _parse_input(text: Any, code: str = "InvalidExecutionInput", what: str = "State Machine Execution Input") -> Any:
    if text is None:
        return {}
    if not isinstance(text, str):
        raise ServiceError(code, f"Invalid {what}: 'must be a JSON text string'")
    if len(text.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise ServiceError(code, f"Invalid {what}: 'larger than {MAX_PAYLOAD_BYTES} bytes'")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ServiceError(code, f"Invalid {what}: '{exc.msg} at line {exc.lineno} column {exc.colno}'") from None


def _runs_inline(definition: Any) -> bool:
    """Whether a definition qualifies for running in place (see _INLINE_TYPES)."""
    count = 0

    def block(branch: Any) -> bool:
        nonlocal count
        states = branch.get("States") if isinstance(branch, dict) else None
        if not isinstance(states, dict):
            return False
        graph: dict[str, list[Any]] = {}
        for name, state in states.items():
            count += 1
            if count > _INLINE_MAX_STATES or not isinstance(state, dict) or "Retry" in state \
                    or state.get("Type") not in _INLINE_TYPES:
                return False
            if state["Type"] == "Parallel" and not all(map(block, state.get("Branches") or [None])):
                return False
            rules = [*(state.get("Choices") or []), *(state.get("Catch") or [])]
            graph[name] = [state.get("Next"), state.get("Default"),
                           *(rule.get("Next") for rule in rules if isinstance(rule, dict))]
        return _acyclic(graph)

    return block(definition)


def _acyclic(graph: dict[str, list[Any]]) -> bool:
    """Whether no state of a branch can be reached from itself (depth first, the current path kept)."""
    done: set[str] = set()
    for start in graph:
        if start in done:
            continue
        path, stack = {start}, [(start, iter(graph[start]))]
        while stack:
            node, edges = stack[-1]
            edge = next((e for e in edges if e in graph), None)
            if edge is None:
                stack.pop()
                path.discard(node)
                done.add(node)
            elif edge in path:
                return False
            elif edge not in done:
                path.add(edge)
                stack.append((edge, iter(graph[edge])))
    return True


def _strip_data(event: Params) -> Params:
    """An event without its inputs and outputs (GetExecutionHistory's includeExecutionData=false)."""
    out = dict(event)
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            out[key] = {k: v for k, v in value.items()
                        if k not in ("input", "output", "inputDetails", "outputDetails", "parameters")}
    return out


class StepFunctions:
    """The Step Functions control plane of one workspace."""

    def __init__(self, workspace: Workspace, backends: Backends | None = None, *, clock: str = "virtual",
                 activity_poll_seconds: float = 60.0) -> None:
        if clock not in ("virtual", "real"):
            raise ValueError(f"clock must be 'virtual' or 'real', not {clock!r}")
        self.workspace = workspace
        self.backends = backends or Backends(workspace)
        self.clock = clock
        self.activity_poll_seconds = activity_poll_seconds
        self.store = Store(workspace)
        self.recorder = Recorder(self.store, on_ended=self._ended)
        # What states:startExecution tasks of this server's executions start: names vetted, runs recorded.
        self._children = _Children(self._child_taken, self._record_child)
        self._compiled: dict[str, StateMachine] = {}
        self._inline: weakref.WeakKeyDictionary[StateMachine, bool] = weakref.WeakKeyDictionary()
        self._recent: OrderedDict[str, Params] = OrderedDict()
        self._recent_version = self.store.version()
        self._nested_cache: tuple[int, dict[str, str]] | None = None
        self._lock = threading.RLock()
        self._recover()

    def _recover(self) -> None:
        """After a restart: executions cut short resume; saved activities take tasks again."""
        for doc in self.store.list(ACTIVITY):
            tokens.ACTIVITIES.create(doc["activityArn"])
        self.store.settle_abandoned()
        for doc in self.store.list(EXECUTION, status="RUNNING"):
            if doc.get("_origin") == CLI:  # its `sfn-local run` process still runs it
                continue
            events, paths = self.store.recorded(doc["executionArn"])
            ended = _ENDED.get(events[-1]["type"]) if events else None
            if ended is not None:  # it ended; only its final document was not written
                details = next((v for k, v in events[-1].items() if k.endswith("EventDetails")), {})
                doc.update(status=ended, stopDate=events[-1]["timestamp"], output=details.get("output"),
                           error=details.get("error"), cause=details.get("cause"))
                if "output" in details:
                    doc["outputDetails"] = {"included": True}
                self.store.save_execution(doc)
                continue
            try:
                self._resume(doc, events, paths)
            except (ServiceError, MockConfigError, ValueError, KeyError) as exc:
                doc.update(status="ABORTED", stopDate=_now(), error="States.Runtime",
                           cause=f"The sfn-local server stopped while the execution was running, and it cannot "
                                 f"resume: {getattr(exc, 'message', None) or exc}")
                self.store.save_execution(doc)

    def _saved_engine(self, doc: Params) -> StateMachine:
        """The compiled state machine a saved execution ran (its snapshot of the definition)."""
        snapshot = doc["_machine"]
        return self._compile(f"{snapshot['stateMachineArn']}@{snapshot['revisionId']}", snapshot["name"],
                             json.loads(snapshot["definition"]), snapshot["roleArn"])

    def _saved_execution(self, doc: Params, engine: StateMachine, events: list[Params]) -> Execution:
        execution = Execution(doc["name"], doc["executionArn"], engine.arn, json.loads(doc.get("input") or "{}"))
        execution.state_machine = engine
        execution.start_date = datetime.fromtimestamp(doc["startDate"], tz=UTC)
        execution.status, execution.error, execution.cause = doc["status"], doc.get("error"), doc.get("cause")
        execution.redrive_count = int(doc.get("redriveCount") or 0)
        execution.history = events
        return execution

    def _resume(self, doc: Params, events: list[Params], paths: list[Any]) -> None:
        """Run a saved RUNNING execution on from its recorded events (from its start when it has none)."""
        engine = self._saved_engine(doc)
        extra = {k: v for k, v in doc.items() if k.startswith("_") or k in ("stateMachineVersionArn",
                                                                           "stateMachineAliasArn", "redriveDate")}
        case = test_case_for(engine.name, None, doc["_testCase"]) if doc.get("_testCase") else None
        if not events:
            execution, work = engine.prepare(json.loads(doc.get("input") or "{}"), name=doc["name"],
                                             clock=self.clock, seed=doc.get("_seed"), state_machines=self._nested(),
                                             mock_config=case, nested=self._children)
        else:
            execution = self._saved_execution(doc, engine, events)
            work = prepare_resume(execution, engine, paths, clock=self.clock, seed=doc.get("_seed"),
                                  state_machines=self._nested(), mocks=case)
        self.recorder.track(execution, extra, len(events))
        self._run(execution, work)

    def _run(self, execution: Execution, work: Callable[[], None]) -> None:
        """Run an execution in its own thread; its end is committed at once."""

        def run() -> None:
            try:
                work()
            finally:
                self.recorder.wake()

        threading.Thread(target=run, name=f"sfn-{execution.name}", daemon=True).start()

    def _ended(self, live: Live, doc: Params) -> None:
        """The Recorder committed an execution's end: keep its document to answer from memory."""
        with self._lock:
            self._recent[live.execution.arn] = doc
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)

    def _recent_doc(self, arn: str) -> Params | None:
        """An ended execution's document from memory, unless another process changed the store since."""
        version = self.store.version()
        with self._lock:
            if version != self._recent_version:
                self._recent.clear()
                self._recent_version = version
            return self._recent.get(arn)

    def answer_now(self, action: str, params: Params) -> Params | None:
        """The answer to a call that needs neither a wait nor a query (DescribeExecution of an ended execution
        in memory), else None: what an event loop may answer without handing the call to a thread."""
        if action != "DescribeExecution":
            return None
        arn = params.get("executionArn")
        if not isinstance(arn, str) or self.recorder.live(arn) is not None or not self._lock.acquire(blocking=False):
            return None
        try:
            doc = self._recent_doc(arn)
        finally:
            self._lock.release()
        return None if doc is None else _public(doc)

    def call(self, action: str, params: Params) -> Params:
        method = _ACTIONS.get(action)
        if method is None:
            raise ServiceError("UnknownOperationException", f"Unknown operation: AWSStepFunctions.{action}")
        return method(self, params)

    # -- state machines ---------------------------------------------------------------------------
    def _machine(self, arn: Any) -> Params:
        match = _parse_arn(arn, "stateMachine")
        base = f"{_PREFIX}:stateMachine:{match.group('name')}"
        doc = self.store.get(MACHINE, base)
        if doc is None:
            raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return doc

    def _unqualified(self, arn: Any) -> Params:
        if _parse_arn(arn, "stateMachine").group("qualifier") is not None:
            raise ServiceError("ValidationException", f"This operation takes an unqualified state machine ARN, "
                                                      f"not '{arn}'")
        return self._machine(arn)

    def _compile(self, key: str, name: str, definition: dict[str, Any], role_arn: str) -> StateMachine:
        with self._lock:
            machine = self._compiled.get(key)
        if machine is None:
            try:
                machine = StateMachine(definition, name=name, role_arn=role_arn, workspace=self.workspace)
            except DefinitionError as exc:
                raise _invalid_definition(exc.diagnostics) from None
            machine.backends = self.backends  # one set of local services (DuckDB, Spark, ...) for the server
            with self._lock:
                machine = self._compiled.setdefault(key, machine)
        return machine

    @_api
    def create_state_machine(self, params: Params) -> Params:
        name = _check_name(_required(params, "name"))
        text = _required(params, "definition")
        role_arn = _required(params, "roleArn")
        if not str(role_arn).startswith("arn:"):
            raise ServiceError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {role_arn}'")
        machine_type = params.get("type") or "STANDARD"
        if machine_type not in _TYPES:
            raise ServiceError("ValidationException", f"1 validation error detected: Value '{machine_type}' at "
                                                      f"'type' failed to satisfy constraint: Member must satisfy "
                                                      f"enum value set: [STANDARD, EXPRESS]")
        definition = _load_definition(text)
        tags = _tags_of(params)
        arn = f"{_PREFIX}:stateMachine:{name}"
        doc = {
            "stateMachineArn": arn, "name": name, "status": "ACTIVE", "definition": text, "roleArn": role_arn,
            "type": machine_type, "loggingConfiguration": params.get("loggingConfiguration") or _DEFAULT_LOGGING,
            "tracingConfiguration": params.get("tracingConfiguration") or _DEFAULT_TRACING,
            "revisionId": uuid.uuid4().hex, "_lastVersion": 0, "_publishedRevision": None,
        }
        with self._lock:
            existing = self.store.get(MACHINE, arn)
            if existing is not None:
                same = all(existing[k] == doc[k] for k in ("definition", "roleArn", "type", "loggingConfiguration",
                                                           "tracingConfiguration"))
                if not same:
                    raise ServiceError("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")
                return {"stateMachineArn": arn, "creationDate": existing["creationDate"]}
            self._compile(f"{arn}@{doc['revisionId']}", name, definition, role_arn)
            doc["creationDate"] = _now()
            self.store.put(MACHINE, arn, doc, name=name, created=doc["creationDate"])
            self._nested_cache = None
            self.store.tag(arn, tags)
            out: Params = {"stateMachineArn": arn, "creationDate": doc["creationDate"]}
            if params.get("publish"):
                out["stateMachineVersionArn"] = self._publish(doc, params.get("versionDescription"))["arn"]
        return out

    @_api
    def update_state_machine(self, params: Params) -> Params:
        fields = ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")
        with self._lock:
            doc = self._unqualified(_required(params, "stateMachineArn"))
            if all(params.get(k) is None for k in fields):
                raise ServiceError("MissingRequiredParameter", "Either the definition, the role ARN, the "
                                                               "LoggingConfiguration, or the TracingConfiguration "
                                                               "must be specified")
            if params.get("definition") is not None:
                definition = _load_definition(params["definition"])
            else:
                definition = json.loads(doc["definition"])
            changed = {k: params[k] for k in fields if params.get(k) is not None}
            if any(doc[k] != v for k, v in changed.items()):
                doc.update(changed, revisionId=uuid.uuid4().hex, updateDate=_now())
                self._compile(f"{doc['stateMachineArn']}@{doc['revisionId']}", doc["name"], definition,
                              doc["roleArn"])
            doc.setdefault("updateDate", _now())
            self.store.put(MACHINE, doc["stateMachineArn"], doc, name=doc["name"])
            self._nested_cache = None
            out: Params = {"updateDate": doc["updateDate"], "revisionId": doc["revisionId"]}
            if params.get("publish"):
                out["stateMachineVersionArn"] = self._publish(doc, params.get("versionDescription"))["arn"]
        return out

    @_api
    def delete_state_machine(self, params: Params) -> Params:
        arn = _required(params, "stateMachineArn")
        match = _parse_arn(arn, "stateMachine")
        if match.group("qualifier") is not None:
            raise ServiceError("ValidationException", f"Delete a version or alias with DeleteStateMachineVersion "
                                                      f"or DeleteStateMachineAlias, not '{arn}'")
        with self._lock:
            for kind in (VERSION, ALIAS):
                for doc in self.store.list(kind, parent=arn):
                    self.store.delete(kind, doc.get("stateMachineVersionArn") or doc["stateMachineAliasArn"])
            self.store.delete(MACHINE, arn)
            self._nested_cache = None
            self._compiled = {k: v for k, v in self._compiled.items() if not k.startswith(f"{arn}@")
                              and not k.startswith(f"{arn}:")}
        return {}

    def _describe_version(self, arn: str) -> Params:
        doc = self.store.get(VERSION, arn)
        if doc is None:
            raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return doc

    @_api
    def describe_state_machine(self, params: Params) -> Params:
        arn = _required(params, "stateMachineArn")
        qualifier = _parse_arn(arn, "stateMachine").group("qualifier")
        if qualifier is None:
            return _public(self._machine(arn))
        if not qualifier.isdigit():
            raise ServiceError("ValidationException", f"Describe an alias with DescribeStateMachineAlias: '{arn}'")
        self._machine(arn)
        doc = dict(self._describe_version(arn))
        doc["stateMachineArn"] = doc.pop("stateMachineVersionArn")
        return _public(doc)

    @_api
    def list_state_machines(self, params: Params) -> Params:
        page = _page(params)
        docs = self.store.list(MACHINE, offset=page.offset, limit=page.limit)
        items = [{k: d[k] for k in ("stateMachineArn", "name", "type", "creationDate")} for d in docs]
        return page.answer(items, "stateMachines", self.store.count(MACHINE))

    @_api
    def validate_state_machine_definition(self, params: Params) -> Params:
        text = _required(params, "definition")
        try:
            _load_definition(text)
            diagnostics: list[Diagnostic] = []
        except ServiceError:
            try:
                definition = json.loads(text)
            except (json.JSONDecodeError, TypeError) as exc:
                diagnostics = [Diagnostic("", f"The definition is not valid JSON: {exc}", "INVALID_JSON_DESCRIPTION")]
            else:
                diagnostics = validate_definition(definition)
        limit = params.get("maxResults") or _DEFAULT_PAGE
        shown = [{"severity": "ERROR", "code": d.code, "message": d.message, "location": d.location or "/"}
                 for d in diagnostics[:limit]]
        return {"result": "FAIL" if diagnostics else "OK", "diagnostics": shown,
                "truncated": len(diagnostics) > limit}

    # -- versions and aliases ------------------------------------------------------------------------
    def _publish(self, doc: Params, description: str | None) -> Params:
        """Publish the machine's current revision as a version (the existing one if already published)."""
        arn = doc["stateMachineArn"]
        if doc.get("_publishedRevision") == doc["revisionId"]:
            latest = self.store.get(VERSION, f"{arn}:{doc['_lastVersion']}")
            if latest is not None:
                return {"arn": latest["stateMachineVersionArn"], "creationDate": latest["creationDate"]}
        number = doc["_lastVersion"] + 1
        version_arn = f"{arn}:{number}"
        created = _now()
        version = {
            "stateMachineVersionArn": version_arn, "name": doc["name"], "status": "ACTIVE",
            "definition": doc["definition"], "roleArn": doc["roleArn"], "type": doc["type"],
            "creationDate": created, "loggingConfiguration": doc["loggingConfiguration"],
            "tracingConfiguration": doc["tracingConfiguration"], "revisionId": doc["revisionId"],
            "description": description, "_number": number,
        }
        self.store.put(VERSION, version_arn, version, parent=arn, name=str(number), created=created)
        doc.update(_lastVersion=number, _publishedRevision=doc["revisionId"])
        self.store.put(MACHINE, arn, doc, name=doc["name"])
        return {"arn": version_arn, "creationDate": created}

    @_api
    def publish_state_machine_version(self, params: Params) -> Params:
        with self._lock:
            doc = self._unqualified(_required(params, "stateMachineArn"))
            revision = params.get("revisionId")
            if revision is not None and revision != doc["revisionId"]:
                raise ServiceError("ConflictException", f"Failed to publish the State Machine version for revision "
                                                        f"{revision}. The current State Machine revision is "
                                                        f"{doc['revisionId']}.")
            published = self._publish(doc, params.get("description"))
        return {"creationDate": published["creationDate"], "stateMachineVersionArn": published["arn"]}

    @_api
    def list_state_machine_versions(self, params: Params) -> Params:
        doc = self._unqualified(_required(params, "stateMachineArn"))
        page = _page(params)
        arn = doc["stateMachineArn"]
        docs = self.store.list(VERSION, parent=arn, offset=page.offset, limit=page.limit, newest_first=True)
        items = [{"stateMachineVersionArn": d["stateMachineVersionArn"], "creationDate": d["creationDate"]}
                 for d in docs]
        return page.answer(items, "stateMachineVersions", self.store.count(VERSION, parent=arn))

    @_api
    def delete_state_machine_version(self, params: Params) -> Params:
        arn = _required(params, "stateMachineVersionArn")
        match = _parse_arn(arn, "stateMachine")
        if not (match.group("qualifier") or "").isdigit():
            raise ServiceError("ValidationException", f"Not a state machine version ARN: '{arn}'")
        base = arn.rsplit(":", 1)[0]
        with self._lock:
            for alias in self.store.list(ALIAS, parent=base):
                if any(r["stateMachineVersionArn"] == arn for r in alias["routingConfiguration"]):
                    raise ServiceError("ConflictException", f"Version {arn} is referenced by the alias "
                                                            f"{alias['stateMachineAliasArn']}")
            self.store.delete(VERSION, arn)
        return {}

    def _routing(self, routing: Any, base: str | None = None) -> tuple[str, list[Params]]:
        """Check a routingConfiguration: 1-2 distinct versions of one machine, weights summing to 100."""
        if not isinstance(routing, list) or not 1 <= len(routing) <= 2:
            raise ServiceError("ValidationException", "routingConfiguration must have one or two entries")
        arns = [r.get("stateMachineVersionArn") if isinstance(r, dict) else None for r in routing]
        weights = [r.get("weight") if isinstance(r, dict) else None for r in routing]
        if any(not isinstance(w, int) or isinstance(w, bool) or not 0 <= w <= 100 for w in weights) \
                or sum(weights) != 100:
            raise ServiceError("ValidationException", "The weights of routingConfiguration must add up to 100")
        if len(set(arns)) != len(arns):
            raise ServiceError("ValidationException", "routingConfiguration names the same version twice")
        for version_arn in arns:
            qualifier = _parse_arn(version_arn, "stateMachine").group("qualifier") or ""
            if not qualifier.isdigit():
                raise ServiceError("ValidationException", f"Not a state machine version ARN: '{version_arn}'")
            if self.store.get(VERSION, version_arn) is None:
                raise ServiceError("ResourceNotFound", f"Resource not found: '{version_arn}'")
        bases = {a.rsplit(":", 1)[0] for a in arns}
        if len(bases) != 1 or (base is not None and bases != {base}):
            raise ServiceError("ValidationException", "routingConfiguration must name versions of one state machine")
        return bases.pop(), [{"stateMachineVersionArn": a, "weight": w} for a, w in zip(arns, weights, strict=True)]

    def _alias(self, arn: Any) -> Params:
        qualifier = _parse_arn(arn, "stateMachine").group("qualifier")
        doc = self.store.get(ALIAS, arn) if qualifier and not qualifier.isdigit() else None
        if doc is None:
            raise ServiceError("ResourceNotFound", f"Resource not found: '{arn}'")
        return doc

    @_api
    def create_state_machine_alias(self, params: Params) -> Params:
        name = _required(params, "name")
        if not isinstance(name, str) or not _ALIAS_NAME.fullmatch(name):
            raise ServiceError("ValidationException", f"Invalid alias name: '{name}' (letters, digits, '-', '_', "
                                                      f"'.', not only digits)")
        with self._lock:
            base, routing = self._routing(_required(params, "routingConfiguration"))
            self._machine(base)
            arn = f"{base}:{name}"
            existing = self.store.get(ALIAS, arn)
            if existing is not None:
                if existing["routingConfiguration"] != routing or existing.get("description") != \
                        params.get("description"):
                    raise ServiceError("ConflictException", f"An alias with the name {name} already exists")
                return {"stateMachineAliasArn": arn, "creationDate": existing["creationDate"]}
            created = _now()
            doc = {"stateMachineAliasArn": arn, "name": name, "description": params.get("description"),
                   "routingConfiguration": routing, "creationDate": created, "updateDate": created}
            self.store.put(ALIAS, arn, doc, parent=base, name=name, created=created)
        return {"stateMachineAliasArn": arn, "creationDate": created}

    @_api
    def describe_state_machine_alias(self, params: Params) -> Params:
        return _public(self._alias(_required(params, "stateMachineAliasArn")))

    @_api
    def update_state_machine_alias(self, params: Params) -> Params:
        with self._lock:
            doc = self._alias(_required(params, "stateMachineAliasArn"))
            base = doc["stateMachineAliasArn"].rsplit(":", 1)[0]
            if params.get("routingConfiguration") is not None:
                doc["routingConfiguration"] = self._routing(params["routingConfiguration"], base)[1]
            if params.get("description") is not None:
                doc["description"] = params["description"]
            doc["updateDate"] = _now()
            self.store.put(ALIAS, doc["stateMachineAliasArn"], doc, parent=base, name=doc["name"])
        return {"updateDate": doc["updateDate"]}

    @_api
    def delete_state_machine_alias(self, params: Params) -> Params:
        doc = self._alias(_required(params, "stateMachineAliasArn"))
        self.store.delete(ALIAS, doc["stateMachineAliasArn"])
        return {}

    @_api
    def list_state_machine_aliases(self, params: Params) -> Params:
        arn = self._unqualified(_required(params, "stateMachineArn"))["stateMachineArn"]
        page = _page(params)
        docs = self.store.list(ALIAS, parent=arn, offset=page.offset, limit=page.limit)
        items = [{"stateMachineAliasArn": d["stateMachineAliasArn"], "creationDate": d["creationDate"]} for d in docs]
        return page.answer(items, "stateMachineAliases", self.store.count(ALIAS, parent=arn))

    # -- executions -----------------------------------------------------------------------------------
    def _target(self, arn: Any) -> tuple[Params, Params, Params]:
        """What StartExecution runs for a (qualified) state machine ARN: the machine's document, the
        definition's source (the machine or a version) and the ARNs to show beside the execution."""
        machine = self._machine(arn)
        qualifier = _parse_arn(arn, "stateMachine").group("qualifier")
        if qualifier is None:
            return machine, machine, {}
        if qualifier.isdigit():
            return machine, self._describe_version(arn), {"stateMachineVersionArn": arn}
        alias = self.store.get(ALIAS, arn)
        if alias is None:
            raise ServiceError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        routes = alias["routingConfiguration"]
        chosen = random.choices(routes, weights=[r["weight"] for r in routes])[0]["stateMachineVersionArn"]
        return machine, self._describe_version(chosen), {"stateMachineVersionArn": chosen,
                                                         "stateMachineAliasArn": arn}

    def _engine_for(self, machine: Params, source: Params) -> StateMachine:
        key = source.get("stateMachineVersionArn") or f"{machine['stateMachineArn']}@{source['revisionId']}"
        engine = self._compiled.get(key)  # compiled once: a start does not parse the definition again
        return engine or self._compile(key, machine["name"], json.loads(source["definition"]), source["roleArn"])

    def _nested(self) -> dict[str, str]:
        """Definitions by name, for states:startExecution tasks to run the server's other machines (read
        again when a machine changed here or in another process)."""
        version = self.store.version()
        cached = self._nested_cache
        if cached is not None and cached[0] == version:
            return cached[1]
        nested = {d["name"]: d["definition"] for d in self.store.list(MACHINE)}
        self._nested_cache = (version, nested)
        return nested

    @staticmethod
    def _machine_snapshot(machine: Params, source: Params) -> Params:
        return {"stateMachineArn": source.get("stateMachineVersionArn") or machine["stateMachineArn"],
                "name": machine["name"], "definition": source["definition"], "roleArn": source["roleArn"],
                "updateDate": machine.get("updateDate") or machine["creationDate"],
                "loggingConfiguration": source["loggingConfiguration"],
                "tracingConfiguration": source["tracingConfiguration"], "revisionId": source["revisionId"]}

    def _test_case(self, machine: Params, name: str) -> TestCase | None:
        """The mock config's test case `name` (from `stateMachineArn#name`), as Step Functions Local picks it."""
        if not name:
            return None
        try:
            return test_case_for(machine["name"], None, name)
        except MockConfigError as exc:
            raise ServiceError("ValidationException", f"Test case '{name}': {exc}") from None

    @_api
    def start_execution(self, params: Params) -> Params:
        start = self._begin_start(params, inline_only=False)
        try:
            if isinstance(start, Live):
                if start.claim == PENDING:
                    self.recorder.sync()
                return self._same(start)
            live = self.recorder.claim(start.execution, start.extra)
        except StoreUnavailable as exc:
            raise ServiceError("ServiceUnavailable", str(exc), 503) from None
        return self._started(start, live)

    def start_inline(self, params: Params) -> Callable[[], Params] | None:
        """StartExecution as far as it goes without waiting, for an event loop to run: None when the machine's
        executions do not run in place (call start_execution in a thread then), else `finish`, which answers
        once a Recorder commit that began after this call is over (several starts share it: `recorder.sync`)."""
        start = self._begin_start(params, inline_only=True)
        if start is None:
            return None
        if isinstance(start, Live):
            existing = start

            def answer() -> Params:
                return self._same(existing)
        else:
            prepared, live = start, self.recorder.propose(start.execution, start.extra)

            def answer() -> Params:
                return self._started(prepared, live if live is not None and self.recorder.confirm(live) else None)

        def finish() -> Params:
            try:
                return answer()
            except StoreUnavailable as exc:
                raise ServiceError("ServiceUnavailable", str(exc), 503) from None

        return finish

    def _begin_start(self, params: Params, *, inline_only: bool) -> _Start | Live | None:
        """StartExecution up to its claim: the execution prepared (run already when it runs in place); the
        execution of that name running with the same input (the start is answered with it once its claim is
        committed); None for `inline_only` and a machine whose executions do not run in place."""
        arn, _, case_name = str(_required(params, "stateMachineArn")).partition("#")
        name = _check_name(params.get("name") or str(uuid.uuid4()))
        text = params.get("input")
        value = _parse_input(text)
        machine, source, shown = self._target(arn)
        case = self._test_case(machine, case_name)
        engine = self._engine_for(machine, source)
        inline = self._runs_inline(engine)
        if inline_only and not inline:
            return None
        execution_arn = f"{_PREFIX}:execution:{machine['name']}:{name}"
        existing = self.recorder.live(execution_arn)
        if existing is not None and (text or "{}") == existing.extra.get("_inputText"):
            return existing
        # The seed is saved: an execution resumed after a restart draws the same task tokens and UUIDs.
        seed = random.getrandbits(63)
        nested = {} if inline else {"state_machines": self._nested(), "nested": self._children}
        execution, work = engine.prepare(value, name=name, clock=self.clock, seed=seed, mock_config=case,
                                         **nested)  # no Task: no nesting
        extra = {**shown, "_inputText": text or "{}", "_machine": self._machine_snapshot(machine, source),
                 "_type": machine["type"], "_seed": seed, "_testCase": case_name or None}
        if inline:  # nothing outside the execution sees it run: should its name be taken, it never ran
            work()
        return _Start(execution, work, extra, inline)

    def _same(self, live: Live) -> Params:
        """The answer to a start of an execution already started under that name with the same input (AWS's
        idempotency), once its claim was committed."""
        if not self.recorder.confirm(live):
            raise ServiceError("ExecutionAlreadyExists", f"Execution Already Exists: '{live.execution.arn}'")
        return {"executionArn": live.execution.arn, "startDate": live.execution.start_date}

    def _started(self, start: _Start, live: Live | None) -> Params:
        """StartExecution's answer once its claim was committed (`live`), or refused (None)."""
        if live is None:  # the name is taken (by an execution of this server, or of another process)
            raise ServiceError("ExecutionAlreadyExists", f"Execution Already Exists: '{start.execution.arn}'")
        if not start.inline:
            self._run(start.execution, start.work)
        return {"executionArn": start.execution.arn, "startDate": start.execution.start_date}

    def _child_taken(self, execution_arn: str) -> bool:
        return self.recorder.live(execution_arn) is not None or self.store.get(EXECUTION, execution_arn) is not None

    def _record_child(self, execution: Execution) -> None:
        """An execution a states:startExecution task ran (to its end): recorded as an execution of its
        machine, as AWS lists it, when that machine is one of this server's and the name is free."""
        try:
            machine, source, shown = self._target(execution.state_machine_arn)
        except ServiceError:  # a definitions/ file the server never had as a state machine
            return
        if self._child_taken(execution.arn):
            return
        extra = {**shown, "_inputText": json.dumps(execution.input, separators=(",", ":")),
                 "_machine": self._machine_snapshot(machine, source), "_type": machine["type"]}
        try:
            self.recorder.save(execution_document(execution, extra), execution.history, execution.history_paths)
        except StoreUnavailable:  # the parent's own record says what it started; the child is not lost to it
            return

    def _runs_inline(self, engine: StateMachine) -> bool:
        """Whether StartExecution runs the machine's executions in place (see _INLINE_TYPES): not while an
        event rule may want their status changes (an execution refused its name must not have sent any)."""
        inline = self._inline.get(engine)
        if inline is None:
            inline = self._inline[engine] = _runs_inline(engine.definition)
        return inline and not event_bus.wants(self.workspace, "aws.states")

    @_api
    def redrive_execution(self, params: Params) -> Params:
        arn = _required(params, "executionArn")
        doc, live = self._execution(arn)
        if live is not None or doc["status"] == "RUNNING":
            raise ServiceError("ExecutionNotRedrivable", f"Execution is RUNNING and cannot be redriven: '{arn}'")
        if doc.get("_type") == "EXPRESS":
            raise ServiceError("ExecutionNotRedrivable", f"Express executions cannot be redriven: '{arn}'")
        if doc["status"] == "SUCCEEDED":
            raise ServiceError("ExecutionNotRedrivable", f"Execution is SUCCEEDED and cannot be redriven: '{arn}'")
        doc = self.store.get(EXECUTION, arn) or doc  # as saved: its dates as epoch seconds
        engine = self._saved_engine(doc)
        with self._lock:
            if self.recorder.live(arn) is not None:
                raise ServiceError("ExecutionNotRedrivable", f"Execution is RUNNING and cannot be redriven: '{arn}'")
            events, paths = self.store.recorded(arn)
            execution = self._saved_execution(doc, engine, events)
            saved = len(events)
            try:
                work = prepare_redrive(execution, engine, clock=self.clock, seed=doc.get("_seed"),
                                       state_machines=self._nested(), paths=paths)
            except ExecutionNotRedrivable as exc:
                raise ServiceError("ExecutionNotRedrivable", exc.message) from None
            redriven = _now()
            extra = {k: v for k, v in doc.items() if k.startswith("_") or k in ("stateMachineVersionArn",
                                                                               "stateMachineAliasArn")}
            extra["redriveDate"] = redriven
            # Taken only while still as read: another process (`sfn-local redrive`) may redrive it too.
            if not self.store.transition(execution_document(execution, extra, running=True), doc["status"],
                                         int(doc.get("redriveCount") or 0)):
                raise ServiceError("ExecutionNotRedrivable", f"Execution is RUNNING and cannot be redriven: '{arn}'")
            self.recorder.track(execution, extra, saved)
        self._run(execution, work)
        return {"redriveDate": redriven}

    def _execution(self, arn: Any) -> tuple[Params, Live | None]:
        """An execution's document (live, recent or saved) and, while it runs, its live record. An execution
        that ended is shown once its end is committed."""
        _parse_arn(arn, "execution", "express")
        live = self.recorder.live(arn)
        if live is not None:
            if not live.execution._done.is_set():
                return execution_document(live.execution, live.extra, running=True), live
            self._sync()
            live = self.recorder.live(arn)
            if live is not None:  # ended again after a redrive started in between: running
                return execution_document(live.execution, live.extra, running=True), live
        doc = self._recent_doc(arn) or self.store.get(EXECUTION, arn)
        if doc is None:
            raise ServiceError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return doc, None

    def _sync(self) -> None:
        try:
            self.recorder.sync()
        except StoreUnavailable as exc:
            raise ServiceError("ServiceUnavailable", str(exc), 503) from None

    @_api
    def describe_execution(self, params: Params) -> Params:
        return _public(self._execution(_required(params, "executionArn"))[0])

    @_api
    def describe_state_machine_for_execution(self, params: Params) -> Params:
        return _public(self._execution(_required(params, "executionArn"))[0]["_machine"])

    @_api
    def stop_execution(self, params: Params) -> Params:
        doc, live = self._execution(_required(params, "executionArn"))
        if live is None:
            return {"stopDate": doc.get("stopDate") or _now()}
        live.execution.stop(params.get("error"), params.get("cause"))
        live.execution.wait(_STOP_WAIT_SECONDS)
        if live.execution.stop_date is not None:
            self._sync()
        return {"stopDate": live.execution.stop_date or datetime.now(UTC)}

    @_api
    def list_executions(self, params: Params) -> Params:
        arn = _required(params, "stateMachineArn")
        status = params.get("statusFilter")
        if status is not None and status not in _STATUSES:
            raise ServiceError("ValidationException", f"1 validation error detected: Value '{status}' at "
                                                      f"'statusFilter' failed to satisfy constraint: Member must "
                                                      f"satisfy enum value set: [{', '.join(_STATUSES)}]")
        base = self._machine(arn)["stateMachineArn"]
        page = _page(params)
        keys = ("executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate",
                "stateMachineVersionArn", "stateMachineAliasArn", "redriveCount")
        qualifier = _parse_arn(arn, "stateMachine").group("qualifier")
        if qualifier is None:
            docs = self.store.list(EXECUTION, parent=base, status=status, offset=page.offset, limit=page.limit,
                                   newest_first=True)
            total = self.store.count(EXECUTION, parent=base, status=status)
        else:  # a version's or an alias's executions: those it started
            field = "stateMachineVersionArn" if qualifier.isdigit() else "stateMachineAliasArn"
            docs = [d for d in self.store.list(EXECUTION, parent=base, status=status, newest_first=True)
                    if d.get(field) == arn]
            total = len(docs)
            docs = docs[page.offset:page.offset + page.limit]
        items = [_public({k: d.get(k) for k in keys}) for d in docs]
        return page.answer(items, "executions", total)

    @_api
    def get_execution_history(self, params: Params) -> Params:
        arn = _required(params, "executionArn")
        _, live = self._execution(arn)
        if live is not None and live.saved_events < len(live.execution.history):
            self._sync()  # the events about to be shown are committed first
        page = _page(params)
        events = self.store.events(arn, offset=page.offset, limit=page.limit,
                                   reverse=bool(params.get("reverseOrder")))
        if params.get("includeExecutionData") is False:
            events = [_strip_data(e) for e in events]
        return page.answer(events, "events", self.store.event_count(arn))

    @_api
    def start_sync_execution(self, params: Params) -> Params:
        arn = _required(params, "stateMachineArn")
        machine, source, shown = self._target(arn)
        if machine["type"] != "EXPRESS":
            raise ServiceError("StateMachineTypeNotSupported", "This operation is not supported by this type of "
                                                               "state machine")
        name = _check_name(params.get("name") or str(uuid.uuid4()))
        text = params.get("input")
        value = _parse_input(text)
        engine = self._engine_for(machine, source)
        began = time.monotonic()
        nested = {} if self._runs_inline(engine) else {"state_machines": self._nested(),
                                                        "nested": self._children}
        execution = engine.run(value, name=name, clock=self.clock, **nested)
        billed = max(100, math.ceil((time.monotonic() - began) * 10) * 100)
        extra = {**shown, "_inputText": text or "{}", "_machine": self._machine_snapshot(machine, source),
                 "_type": machine["type"]}
        doc = execution_document(execution, extra)
        try:
            self.recorder.save(doc, execution.history, execution.history_paths)
        except StoreUnavailable as exc:
            raise ServiceError("ServiceUnavailable", str(exc), 503) from None
        out = _public({k: v for k, v in doc.items() if not k.startswith("redrive")})
        out["billingDetails"] = {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": billed}
        return out

    # -- task tokens ----------------------------------------------------------------------------------
    @staticmethod
    def _waiter(params: Params) -> tokens.Waiter:
        token = _required(params, "taskToken")
        if not isinstance(token, str) or len(token) > 2048:
            raise ServiceError("InvalidToken", "Invalid Token: 'The task token is not valid'")
        waiter = tokens.find(token)
        if waiter is not None:
            return waiter
        if tokens.spent(token):
            raise ServiceError("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
        raise ServiceError("InvalidToken", "Invalid Token: 'Invalid token'")

    @_api
    def send_task_success(self, params: Params) -> Params:
        output = _parse_input(_required(params, "output"), "InvalidOutput", "Output")
        self._waiter(params).succeed(output)
        return {}

    @_api
    def send_task_failure(self, params: Params) -> Params:
        self._waiter(params).fail(params.get("error"), params.get("cause"))
        return {}

    @_api
    def send_task_heartbeat(self, params: Params) -> Params:
        self._waiter(params).heartbeat()
        return {}

    # -- activities -----------------------------------------------------------------------------------
    def _activity(self, arn: Any) -> Params:
        _parse_arn(arn, "activity")
        doc = self.store.get(ACTIVITY, arn)
        if doc is None:
            raise ServiceError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
        return doc

    @_api
    def create_activity(self, params: Params) -> Params:
        name = _check_name(_required(params, "name"))
        arn = f"{_PREFIX}:activity:{name}"
        tags = _tags_of(params)
        with self._lock:
            doc = self.store.get(ACTIVITY, arn)
            if doc is None:
                doc = {"activityArn": arn, "name": name, "creationDate": _now()}
                self.store.put(ACTIVITY, arn, doc, name=name, created=doc["creationDate"])
                self.store.tag(arn, tags)
            tokens.ACTIVITIES.create(arn)
        return {"activityArn": arn, "creationDate": doc["creationDate"]}

    @_api
    def describe_activity(self, params: Params) -> Params:
        return _public(self._activity(_required(params, "activityArn")))

    @_api
    def delete_activity(self, params: Params) -> Params:
        arn = _required(params, "activityArn")
        _parse_arn(arn, "activity")
        self.store.delete(ACTIVITY, arn)
        tokens.ACTIVITIES.delete(arn)
        return {}

    @_api
    def list_activities(self, params: Params) -> Params:
        page = _page(params)
        docs = self.store.list(ACTIVITY, offset=page.offset, limit=page.limit)
        return page.answer([_public(d) for d in docs], "activities", self.store.count(ACTIVITY))

    @_api
    def get_activity_task(self, params: Params) -> Params:
        arn = self._activity(_required(params, "activityArn"))["activityArn"]
        task = tokens.ACTIVITIES.take(arn, self.activity_poll_seconds)
        return {} if task is None else {"taskToken": task.token, "input": task.input}

    # -- tags ---------------------------------------------------------------------------------------------
    def _taggable(self, arn: Any) -> str:
        kind = _parse_arn(arn, "stateMachine", "activity").group("kind")
        if self.store.get(MACHINE if kind == "stateMachine" else ACTIVITY, arn) is None:
            raise ServiceError("ResourceNotFound", f"Resource not found: '{arn}'")
        return arn

    @_api
    def tag_resource(self, params: Params) -> Params:
        self.store.tag(self._taggable(_required(params, "resourceArn")), _tags_of(params))
        return {}

    @_api
    def untag_resource(self, params: Params) -> Params:
        keys = _required(params, "tagKeys")
        self.store.untag(self._taggable(_required(params, "resourceArn")), [str(k) for k in keys])
        return {}

    @_api
    def list_tags_for_resource(self, params: Params) -> Params:
        return {"tags": _tag_list(self.store.tags(self._taggable(_required(params, "resourceArn"))))}
