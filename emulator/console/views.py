"""What the console shows of one execution, derived from its history: each state visit with its
status, data-flow stages, attempts and timings; each state's status for colouring the graph; the
root cause of a failure; the nested executions it started.

Visit statuses: `running`, `succeeded`, `retried` (succeeded after a retry), `caught` (left through
its Catch), `failed`, `cancelled` (cut short by another branch's failure or a stop). A state no visit
reached is `notrun`. A state visited several times (a Map's iterations, a loop) takes the status
that matters most, in the order of `STATUS_PRIORITY`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from emulator.engine.report import root_cause
from emulator.engine.trace import Trace, parse_text

STATUS_PRIORITY = ("running", "failed", "caught", "retried", "cancelled", "succeeded")

_SCHEDULED = ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled")
_CONTAINER_STARTED = ("MapStateStarted", "ParallelStateStarted")
_SUCCEEDED = ("TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded")
_FAILED = ("TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed", "LambdaFunctionFailed",
           "LambdaFunctionTimedOut", "LambdaFunctionStartFailed", "LambdaFunctionScheduleFailed",
           "ActivityFailed", "ActivityTimedOut", "ActivityScheduleFailed", "MapStateFailed",
           "ParallelStateFailed", "EvaluationFailed")
_CONTAINERS = ("Map", "Parallel")
_CONTAINER_ENDED = ("MapStateSucceeded", "MapStateFailed", "MapStateAborted", "ParallelStateSucceeded",
                    "ParallelStateFailed", "ParallelStateAborted")
_ENDED = ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")
_PLACE = re.compile(r"([^.\[\]]+)\[(-?\d+)\]")
_PARENT_KEY = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"


def jsonable(value: Any) -> Any:
    """`value` with datetimes as epoch seconds, the way the API's JSON carries them."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


def _owners(history: list[dict[str, Any]]) -> dict[int, int | None]:
    """Event id → the StateEntered id of the state visit it belongs to (None: the execution itself).

    An event belongs to the visit its previous event belongs to, or that previous event enters. After
    a StateExited, or a Fail state (which never exits), the chain is back in the container's visit.
    Map and Parallel events belong to the nearest Map or Parallel visit up from there (of the name
    a MapIteration event gives): a failing iteration's chain runs on from its failed state."""
    by_id = {e["id"]: e for e in history}
    owner: dict[int, int | None] = {}
    for event in history:
        kind = event["type"]
        prev = by_id.get(event.get("previousEventId") or 0)
        if prev is None or kind.startswith("Execution"):
            owner[event["id"]] = None
            continue
        if prev["type"].endswith("StateEntered") and prev["type"] != "FailStateEntered":
            found: int | None = prev["id"]
        elif prev["type"].endswith("StateExited") or prev["type"] == "FailStateEntered":
            visit = owner.get(prev["id"]) if prev["type"].endswith("StateExited") else prev["id"]
            found = owner.get(visit) if visit is not None else None
        else:
            found = owner.get(prev["id"])
        own_events = not kind.endswith(("StateEntered", "StateExited"))
        container = next((c for c in _CONTAINERS if own_events and kind.startswith(c)), None)
        if container is not None:
            if prev["type"] in _CONTAINER_ENDED and found is not None:
                found = owner.get(found)  # a nested container ended: this event is its parent's
            name = _details(event).get("name") if kind.startswith("MapIteration") else None
            while found is not None and not (by_id[found]["type"] == f"{container}StateEntered" and (
                    name is None or by_id[found]["stateEnteredEventDetails"]["name"] == name)):
                found = owner.get(found)
        owner[event["id"]] = found
    return owner


def _visit_status(visit: dict[str, Any], running: bool) -> str:
    if visit["exited"]:
        if visit["caught"]:
            return "caught"
        return "retried" if len(visit["attempts"]) > 1 else "succeeded"
    if running:
        return "running"
    return "failed" if visit["error"] is not None or visit["type"] == "Fail" else "cancelled"


def merge_status(statuses: list[str]) -> str:
    """The status a graph node shows for several visits (`notrun` for none)."""
    return min(statuses, key=STATUS_PRIORITY.index) if statuses else "notrun"


def _state_definitions(definition: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Every state of a definition by name, branches and item processors included."""
    found: dict[str, dict[str, Any]] = {}
    stack = [definition or {}]
    while stack:
        for name, state in (stack.pop().get("States") or {}).items():
            if isinstance(state, dict):
                found[name] = state
                stack += [b for b in state.get("Branches") or [] if isinstance(b, dict)]
                processor = state.get("ItemProcessor") or state.get("Iterator")
                if isinstance(processor, dict):
                    stack.append(processor)
    return found


def _visits(history: list[dict[str, Any]], definition: dict[str, Any] | None, running: bool) -> list[dict[str, Any]]:
    by_id = {e["id"]: e for e in history}
    states = _state_definitions(definition)
    owner = _owners(history)
    owned: dict[int, list[dict[str, Any]]] = {}
    for event in history:
        key = owner[event["id"]]
        if key is not None:
            owned.setdefault(key, []).append(event)
    out = []
    for trace_visit in Trace(history, definition).visits:
        entered = by_id[trace_visit.entered_event]
        events = owned.get(entered["id"], [])
        attempts: list[dict[str, Any]] = []
        exited: dict[str, Any] | None = None
        error: dict[str, Any] | None = None
        for event in events:
            kind, details = event["type"], _details(event)
            if kind in _SCHEDULED or kind in _CONTAINER_STARTED:
                attempts.append({"started": event["timestamp"], "parameters": parse_text(
                    details.get("parameters", details.get("input"))), "resource": details.get("resource"),
                    "resourceType": details.get("resourceType")})
            elif kind in _SUCCEEDED and attempts:
                attempts[-1].update(ended=event["timestamp"], result=parse_text(details.get("output")))
            elif kind in _FAILED:
                error = {"error": details.get("error"), "cause": details.get("cause")}
                if attempts and "ended" not in attempts[-1]:
                    attempts[-1].update(ended=event["timestamp"], **error)
            elif kind.endswith("StateExited") and details.get("name") == trace_visit.name:
                exited = event
        state = states.get(trace_visit.name, {})
        if trace_visit.type == "Fail" and error is None and isinstance(state.get("Error"), str):
            error = {"error": state["Error"], "cause": state.get("Cause")}
        caught = exited is not None and by_id.get(exited.get("previousEventId") or 0, {}).get("type") in _FAILED
        stages: dict[str, Any] = {"input": trace_visit.input}
        if attempts and attempts[-1]["parameters"] is not None:
            stages["parameters"] = attempts[-1]["parameters"]
        if attempts and "result" in attempts[-1]:
            stages["result"] = attempts[-1]["result"]
        if exited is not None:
            stages["output"] = trace_visit.output
        visit = {
            "id": entered["id"], "name": trace_visit.name, "type": trace_visit.type, "label": trace_visit.label,
            "place": [[name, int(index)] for name, index in _PLACE.findall(trace_visit.label)],
            "entered": entered["timestamp"], "exited": exited is not None,
            "exitedAt": exited["timestamp"] if exited is not None else None,
            "error": error, "caught": caught, "attempts": attempts, "stages": stages,
        }
        visit["status"] = _visit_status(visit, running)
        out.append(visit)
    return out


def _children(visits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The executions `states:startExecution` tasks started, with what the parent saw of them."""
    found = []
    for visit in visits:
        for attempt in visit["attempts"]:
            if attempt.get("resourceType") != "states" or not str(attempt.get("resource", "")).startswith(
                    "startExecution"):
                continue
            seen = attempt.get("result") if "result" in attempt else parse_text(attempt.get("cause"))
            if isinstance(seen, dict) and seen.get("ExecutionArn"):
                found.append({"state": visit["name"], "label": visit["label"], "executionArn": seen["ExecutionArn"],
                              "status": seen.get("Status") or ("RUNNING" if "ended" not in attempt else None)})
    return found


def execution_view(describe: dict[str, Any], definition_text: str | None,
                   history: list[dict[str, Any]]) -> dict[str, Any]:
    """The console's document for one execution: DescribeExecution's fields (`execution`), the
    definition, the visits, each state's status, the root cause, parent and child executions."""
    describe = jsonable(describe)
    history = jsonable(history)
    definition = parse_text(definition_text) if definition_text else None
    definition = definition if isinstance(definition, dict) else None
    running = describe.get("status") == "RUNNING"
    visits = _visits(history, definition, running)
    by_state: dict[str, list[str]] = {}
    for visit in visits:
        by_state.setdefault(visit["name"], []).append(visit["status"])
    view: dict[str, Any] = {
        "execution": describe, "definition": definition, "visits": visits,
        "states": {name: merge_status(statuses) for name, statuses in by_state.items()},
        "events": history, "owners": {str(k): v for k, v in _owners(history).items() if v is not None},
        "children": _children(visits), "rootCause": None, "parent": None,
    }
    started_by = parse_text(describe.get("input"))
    if isinstance(started_by, dict) and isinstance(started_by.get(_PARENT_KEY), str):
        view["parent"] = started_by[_PARENT_KEY]
    if any(e["type"] in _ENDED for e in history):
        found = root_cause(history, definition, describe.get("error"), describe.get("cause"))
        if found is not None:
            view["rootCause"] = {"state": found.state, "label": found.label, "error": found.error,
                                 "cause": found.cause, "where": found.where, "travel": found.travel,
                                 "lines": found.lines()}
    return view


# The states whose stages TestState can rebuild from what the history recorded: a Map or Parallel's
# result is not an event of its own, so theirs stay the recorded input, request and output.
_REBUILT = frozenset({"Task", "Pass", "Choice", "Wait", "Succeed", "Fail"})


def visit_stages(describe: dict[str, Any], definition_text: str | None, history: list[dict[str, Any]],
                 visit_id: int) -> dict[str, Any]:
    """Every data-flow stage of one visit (afterInputPath, afterParameters, result, afterResultSelector,
    afterResultPath, ...), rebuilt by TestState from the visit's recorded input, the variables assigned
    before it and its recorded result or error, so nothing runs again."""
    from emulator.teststate import test_state

    describe, history = jsonable(describe), jsonable(history)
    definition = parse_text(definition_text) if definition_text else None
    if not isinstance(definition, dict):
        return {"stages": {}, "note": "the definition is not available"}
    visits = _visits(history, definition, describe.get("status") == "RUNNING")
    visit = next((v for v in visits if v["id"] == visit_id), None)
    if visit is None:
        return {"stages": {}, "note": f"no visit entered at event {visit_id}"}
    if visit["type"] not in _REBUILT:
        return {"stages": visit["stages"], "note": f"a {visit['type']} state's stages are its recorded ones"}
    state = dict(_state_definitions(definition).get(visit["name"]) or {})
    if "QueryLanguage" in definition and "QueryLanguage" not in state:
        state["QueryLanguage"] = definition["QueryLanguage"]
    variables: dict[str, Any] = {}
    for event in history:
        if event["id"] >= visit_id:
            break
        for name, text in (_details(event).get("assignedVariables") or {}).items():
            variables[name] = parse_text(text)
    mock: dict[str, Any] | None = None
    if visit["type"] == "Task":
        last = visit["attempts"][-1] if visit["attempts"] else {}
        if "result" in last:
            mock = {"result": json.dumps(last["result"]), "fieldValidationMode": "NONE"}
        elif last.get("error") is not None:
            mock = {"errorOutput": {"error": last["error"], "cause": last.get("cause") or ""}}
        else:
            return {"stages": visit["stages"], "note": "the task has not ended"}
    context = {"Execution": {"Id": describe.get("executionArn"), "Name": describe.get("name"),
                             "Input": parse_text(describe.get("input")), "RoleArn": describe.get("roleArn")},
               "StateMachine": {"Id": describe.get("stateMachineArn")},
               "State": {"Name": visit["name"]}}
    try:
        answer = test_state(state, visit["stages"].get("input"), inspection_level="DEBUG", mock=mock,
                            context=context, variables=variables or None)
    except Exception as exc:  # a definition TestState refuses: show what was recorded, and why
        return {"stages": visit["stages"], "note": f"stages could not be rebuilt: {exc}"}
    inspection = answer.get("inspectionData") or {}
    return {"stages": {key: parse_text(value) for key, value in inspection.items()},
            "status": answer.get("status"), "note": None}
