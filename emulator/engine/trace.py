"""What an execution did, read from its history: the states it visited, the calls services got,
and assertions that explain a failure (root cause, path, last input) instead of just saying so.

State names are unique across a whole state machine (AWS requires it), so each StateEntered
event places its visit in the definition; Map iteration numbers come from the history itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

_TASK_EVENTS = ("Task", "LambdaFunction", "Activity")
_FAILURES = ("TaskFailed", "TaskTimedOut", "LambdaFunctionFailed", "LambdaFunctionTimedOut",
             "LambdaFunctionStartFailed", "LambdaFunctionScheduleFailed", "ActivityFailed", "ActivityTimedOut",
             "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")
_SCHEDULED = ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled")


@dataclass
class Visit:
    """One time a state ran: where (its label, with branch/iteration), what went in and out, how it failed."""

    name: str
    type: str
    label: str
    input: Any
    entered_event: int
    output: Any = None
    exited: bool = False
    error: str | None = None
    cause: str | None = None
    attempts: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)
    order: tuple[tuple[int, int], ...] = ()


def parse_text(text: Any) -> Any:
    """An event's JSON text as its value (text that is not JSON stays text)."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _containers(definition: dict[str, Any] | None) -> dict[str, tuple[str, int | None]]:
    """State name → (the Parallel or Map state holding it, the branch index for a Parallel, None for a Map)."""
    found: dict[str, tuple[str, int | None]] = {}

    def walk(states: dict[str, Any], parent: tuple[str, int | None] | None) -> None:
        for name, state in states.items():
            if parent is not None:
                found[name] = parent
            if not isinstance(state, dict):
                continue
            for index, branch in enumerate(state.get("Branches") or []):
                walk(branch.get("States") or {}, (name, index))
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if isinstance(processor, dict) and not _distributed(processor):
                walk(processor.get("States") or {}, (name, None))

    if definition:
        walk(definition.get("States") or {}, None)
    return found


def _distributed(processor: dict[str, Any]) -> bool:
    # A Distributed Map's iterations are child executions: their events are not in this history.
    return (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED"


class Trace:
    """The visits of one execution's history, in a deterministic order: execution order within a
    branch or iteration, branches and iterations by index."""

    def __init__(self, history: list[dict[str, Any]], definition: dict[str, Any] | None) -> None:
        self.events = {e["id"]: e for e in history}
        self.containers = _containers(definition)
        self.visits: list[Visit] = []
        by_entered: dict[int, Visit] = {}
        owner: dict[int, Visit] = {}
        for event in history:
            kind = event["type"]
            if kind.endswith("StateEntered"):
                details = event["stateEnteredEventDetails"]
                visit = Visit(details["name"], kind[: -len("StateEntered")], "", parse_text(details.get("input")),
                              event["id"])
                visit.label, visit.order = self._place(visit.name, event["id"])
                by_entered[event["id"]] = owner[event["id"]] = visit
                self.visits.append(visit)
            elif kind.endswith("StateExited"):
                details = event["stateExitedEventDetails"]
                visit = self._entered(event["id"], details["name"], by_entered)
                if visit is not None:
                    visit.exited, visit.output = True, parse_text(details.get("output"))
            elif kind.startswith(_TASK_EVENTS):
                visit = self._owner(event, owner)
                if visit is None:
                    continue
                owner[event["id"]] = visit
                if kind in _SCHEDULED:
                    visit.attempts += 1
                    details = next(iter(v for k, v in event.items() if k.endswith("EventDetails")), {})
                    visit.calls.append(details)
                if kind in _FAILURES:
                    details = next(iter(v for k, v in event.items() if k.endswith("EventDetails")), {})
                    visit.error, visit.cause = details.get("error"), details.get("cause")
        self.visits.sort(key=lambda v: v.order)

    def _previous(self, event_id: int) -> dict[str, Any] | None:
        prev = self.events[event_id].get("previousEventId")
        return self.events.get(prev) if prev else None

    def _entered(self, event_id: int, name: str, by_entered: dict[int, Visit]) -> Visit | None:
        """The visit of state `name` an event belongs to: the nearest earlier StateEntered of it on the chain."""
        event = self._previous(event_id)
        while event is not None:
            if event["type"].endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] == name:
                return by_entered.get(event["id"])
            event = self._previous(event["id"])
        return None

    def _owner(self, event: dict[str, Any], owner: dict[int, Visit]) -> Visit | None:
        prev = event.get("previousEventId")
        return owner.get(prev) if prev else None

    def _place(self, name: str, entered: int) -> tuple[str, tuple[tuple[int, int], ...]]:
        """The visit's label (`Fan[1].Inner[0].State`) and its sort key."""
        frames: list[tuple[str, int, int]] = []  # (container, index, container's StateEntered id)
        current, at = name, entered
        while current in self.containers:
            container, branch = self.containers[current]
            index, container_at = self._container_visit(at, container)
            frames.append((container, branch if branch is not None else index, container_at))
            current, at = container, container_at
        frames.reverse()
        label = "".join(f"{c}[{i}]." for c, i, _ in frames) + name
        return label, (*((at_, i) for _, i, at_ in frames), (entered, -1))

    def _container_visit(self, event_id: int, container: str) -> tuple[int, int]:
        """(Map iteration index or -1, the container's StateEntered id) for an event inside `container`."""
        index = -1
        event = self._previous(event_id)
        while event is not None:
            kind = event["type"]
            if kind == "MapIterationStarted" and index < 0 \
                    and event["mapIterationStartedEventDetails"].get("name") == container:
                index = event["mapIterationStartedEventDetails"]["index"]
            elif kind.endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] == container:
                return index, event["id"]
            event = self._previous(event["id"])
        return index, 0


def trace(execution: Any) -> Trace:
    return Trace(execution.history, getattr(execution, "definition", None))


def _matches(service: str, details: dict[str, Any], event_type: str) -> bool:
    if event_type == "LambdaFunctionScheduled":
        arn = details.get("resource", "")
        return service in (arn, f"lambda:{arn.split(':')[6] if arn.count(':') >= 6 else arn}")
    resource_type, resource = details.get("resourceType", ""), details.get("resource", "")
    action = resource.split(".", 1)[0]
    return service in (f"{resource_type}:{action}", f"{resource_type}:{resource}",
                       f"arn:aws:states:::{resource_type}:{resource}")


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def root_cause(execution: Any) -> tuple[str | None, str | None, str | None]:
    """(error, cause, state label) of the first error raised in the execution (emulator/engine/report.py)."""
    found = execution.root_cause
    if found is None or found.state is None:
        return execution.error, execution.cause, execution.failed_state
    return found.error, found.cause, found.label or found.state


def failure_report(execution: Any, headline: str) -> str:
    """A readable account of an execution: status, root cause, the path, and the last state's input."""
    visits = trace(execution).visits
    lines = [headline, f"  status: {execution.status}"]
    if execution.error is not None or execution.cause is not None:
        lines.append(f"  error:  {execution.error}: {execution.cause or ''}".rstrip())
    error, cause, state = root_cause(execution)
    if error is not None and state is not None:
        lines.append(f"  root cause: {error} in state '{state}'" + (f": {cause[:200]}" if cause else ""))
    lines.append(f"  path: {' -> '.join(v.label for v in visits) or '(no state entered)'}")
    if visits:
        last = max(visits, key=lambda v: v.entered_event)
        lines.append(f"  last state '{last.label}' input: {_short(last.input)}")
    if execution.status == "SUCCEEDED":
        lines.append(f"  output: {_short(execution.output)}")
    return "\n".join(lines)


class ExecutionAssertions:
    """Test helpers on Execution (mixed in): path, state visits, service calls and assertions."""

    history: list[dict[str, Any]]
    status: str
    output: Any
    error: str | None
    cause: str | None

    @property
    def path(self) -> list[str]:
        """The states visited, labelled with branch/iteration (`Fan[1].State`); branches in index order."""
        return [v.label for v in trace(self).visits]

    def state(self, name: str) -> list[Visit]:
        """Every visit of the state `name` (input, output, error, attempts), in path order."""
        return [v for v in trace(self).visits if v.name == name]

    def calls(self, service: str) -> list[Any]:
        """The requests a service received, e.g. `calls("glue:startJobRun")`, `calls("lambda:my-fn")`, or a
        Resource ARN: the parameters of each TaskScheduled (payload of each Lambda function call)."""
        found: list[tuple[int, Any]] = []
        for event in self.history:
            if event["type"] not in _SCHEDULED:
                continue
            details = next(iter(v for k, v in event.items() if k.endswith("EventDetails")), {})
            if _matches(service, details, event["type"]):
                found.append((event["id"], parse_text(details.get("parameters", details.get("input")))))
        return [request for _, request in sorted(found, key=lambda f: f[0])]

    def assert_succeeded(self) -> None:
        """Raise AssertionError with the root cause, path and last input unless the execution SUCCEEDED."""
        if self.status != "SUCCEEDED":
            raise AssertionError(failure_report(self, "expected the execution to succeed"))

    def assert_failed(self, error: str | None = None, cause: str | None = None) -> None:
        """Raise AssertionError unless the execution FAILED (with `error`, and a cause containing `cause`)."""
        wanted = f" with {error}" if error else ""
        if self.status != "FAILED" or (error is not None and self.error != error) or (
                cause is not None and cause not in (self.cause or "")):
            raise AssertionError(failure_report(self, f"expected the execution to fail{wanted}"))
