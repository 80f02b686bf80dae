"""The root cause of a failed execution, read from its history, and how the error travelled.

The root cause is the first error raised: the earliest failed leaf state (a Task whose last
attempt failed, a Fail state, a state whose data flow failed) rather than the Map, Parallel or
Fail state it ended in. Then: how often that state was retried, which state's Catch took the
error and where it routed it, and the Fail state that ended the execution. For EMR steps and
Glue job runs the job's summarised Python error replaces the service's JSON, and the driver
log's path is kept; for Glue crawlers whose last crawl reported a problem, that message too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from emulator.engine.trace import Trace, Visit

_CONTAINERS = ("Map", "Parallel")
_CONTAINER_FAILED = ("MapStateFailed", "ParallelStateFailed")
_TASK_FAILED = ("TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed", "LambdaFunctionFailed",
                "LambdaFunctionTimedOut", "LambdaFunctionStartFailed", "LambdaFunctionScheduleFailed",
                "ActivityFailed", "ActivityTimedOut")
_DRIVER_LOG = re.compile(r"^Driver log: (.+)$", re.MULTILINE)


@dataclass
class RootCause:
    """Where an unsuccessful execution's first error was raised, and what happened to it next."""

    state: str | None  # the state that raised it
    label: str | None  # with its place: `Fan[1].Inner[0].State`, `Transform[3].Parse`
    error: str | None
    cause: str | None  # readable: a Spark job's Python error and frames instead of the service's JSON
    retries: int = 0  # retry attempts of that state
    caught_by: str | None = None  # the state whose Catch took the error
    caught_to: str | None = None  # the state that Catch went to
    fail_state: str | None = None  # the Fail state the execution ended in
    log_file: str | None = None  # a Spark job's full driver log
    notes: list[str] = field(default_factory=list)  # what services reported (a crawler's last crawl)
    place: str = ""  # `Map 'Transform' iteration 3`, `Parallel 'Fan' branch 1`, innermost last

    @property
    def where(self) -> str:
        """`state 'Parse' (Map iteration 3 of 'Transform')`, or the state alone at the top level."""
        if self.state is None:
            return "the execution"
        return f"state '{self.state}' ({self.place})" if self.place else f"state '{self.state}'"

    @property
    def travel(self) -> str:
        """`retried 2 times, caught by 'Transform' → 'NotifyFailure', ended in Fail state 'Failed'`."""
        parts = []
        if self.retries:
            parts.append(f"retried {self.retries} time{'s' if self.retries != 1 else ''}")
        if self.caught_by is not None:
            parts.append(f"caught by '{self.caught_by}' → '{self.caught_to}'" if self.caught_to
                         else f"caught by '{self.caught_by}'")
        if self.fail_state is not None and self.fail_state != self.state:
            parts.append(f"ended in Fail state '{self.fail_state}'")
        return ", ".join(parts)

    def lines(self) -> list[str]:
        """The report as lines: root cause, its travel, the driver log and service notes."""
        head = f"{self.error}: {self.cause}" if self.cause else str(self.error)
        first, *rest = head.splitlines() or [""]
        out = [f"root cause: {self.where}: {first}", *(f"    {line}" for line in rest)]
        if self.travel:
            out.append(f"then: {self.travel}")
        if self.log_file:
            out.append(f"driver log: {self.log_file}")
        out += [f"note: {note}" for note in self.notes]
        return out


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None


class _History:
    """The events of one history, each placed with the state visit it belongs to."""

    def __init__(self, history: list[dict[str, Any]], definition: dict[str, Any] | None) -> None:
        self.by_id = {e["id"]: e for e in history}
        self.after: dict[int, list[dict[str, Any]]] = {}
        # An event belongs to the state whose StateEntered its chain reaches before any StateExited.
        self.owned: dict[int, list[dict[str, Any]]] = {}
        owner: dict[int, int | None] = {}
        for event in history:
            prev = event.get("previousEventId") or 0
            self.after.setdefault(prev, []).append(event)
            kind = event["type"]
            if kind.endswith("StateEntered"):
                owner[event["id"]] = event["id"]
            elif kind.endswith("StateExited"):
                owner[event["id"]] = None
            else:
                owner[event["id"]] = owner.get(prev)
                if owner[event["id"]] is not None:
                    self.owned.setdefault(owner[event["id"]], []).append(event)
        self.visits = Trace(history, definition).visits
        self.exits: dict[int, dict[str, Any]] = {}
        for event in history:
            if event["type"].endswith("StateExited"):
                self.exits[self._entered_of(event)] = event

    def chain(self, event_id: int) -> list[dict[str, Any]]:
        """The events before `event_id` on its branch's chain, nearest first."""
        out = []
        prev = self.by_id.get(event_id, {}).get("previousEventId")
        while prev:
            event = self.by_id.get(prev)
            if event is None:
                break
            out.append(event)
            prev = event.get("previousEventId")
        return out

    def _entered_of(self, exit_event: dict[str, Any]) -> int:
        name = exit_event["stateExitedEventDetails"].get("name")
        prev = exit_event.get("previousEventId")
        while prev:
            event = self.by_id.get(prev)
            if event is None:
                break
            if event["type"].endswith("StateEntered") and event["stateEnteredEventDetails"].get("name") == name:
                return event["id"]
            prev = event.get("previousEventId")
        return 0

    def caught(self, visit: Visit) -> bool:
        """Whether the visit exited through its Catch: its StateExited follows its own failure event."""
        exit_event = self.exits.get(visit.entered_event)
        before = self.by_id.get(exit_event.get("previousEventId")) if exit_event is not None else None
        return before is not None and before["type"] in (*_TASK_FAILED, *_CONTAINER_FAILED, "EvaluationFailed")

    def next_state(self, exit_event: dict[str, Any]) -> str | None:
        entered = [e for e in self.after.get(exit_event["id"], []) if e["type"].endswith("StateEntered")]
        return entered[0]["stateEnteredEventDetails"]["name"] if entered else None


def root_cause(history: list[dict[str, Any]], definition: dict[str, Any] | None = None,
               error: str | None = None, cause: str | None = None) -> RootCause | None:
    """The root cause of an unsuccessful execution from its history (None if it did not fail).

    `error`/`cause`: the execution's own, used when the history names no earlier error (a Fail state)."""
    ended = next((e for e in reversed(history) if e["type"] in
                  ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")), None)
    if ended is None:
        return None
    if error is None and cause is None:
        details = _details(ended)
        error, cause = details.get("error"), details.get("cause")
    events = _History(history, definition)
    # After a redrive, only its own run explains how the execution ended.
    since = max((e["id"] for e in history if e["type"] == "ExecutionRedriven"), default=0)
    failed = [(v, events.caught(v)) for v in events.visits
              if v.entered_event > since and (not v.exited or events.caught(v))]
    if not failed:
        return RootCause(None, None, error, cause)
    # A Map or Parallel fails because of a state inside it: that state is the cause.
    leaves = [(v, c) for v, c in failed if v.type not in _CONTAINERS
              or not any(o.label.startswith(v.label + "[") for o, _ in failed)]

    def failure_event(visit: Visit) -> int:
        own = [e for e in events.owned.get(visit.entered_event, ()) if e["type"] in (*_TASK_FAILED, "EvaluationFailed")]
        return own[-1]["id"] if own else visit.entered_event

    # First the errors a service or an evaluation raised (by when), then Fail states, then any state left
    # unfinished (a sibling cancelled when another branch failed is never the cause of that failure).
    visit, caught = min(leaves, key=lambda f: (0 if failure_event(f[0]) != f[0].entered_event else
                                                1 if f[0].type == "Fail" else 2, failure_event(f[0])))
    report = RootCause(visit.name, visit.label, visit.error, visit.cause, retries=max(0, visit.attempts - 1))
    kinds = {v.name: v.type for v in events.visits}
    report.place = ", ".join(
        f"Map '{name}' iteration {index}" if kinds.get(name) == "Map" else f"Parallel '{name}' branch {index}"
        for name, index in re.findall(r"([^.\[\]]+)\[(-?\d+)\]", visit.label))
    evaluation = next((e for e in events.owned.get(visit.entered_event, ()) if e["type"] == "EvaluationFailed"), None)
    if report.error is None and evaluation is not None:
        report.error, report.cause = _details(evaluation).get("error"), _details(evaluation).get("cause")
    catcher = visit if caught else _catching_container(visit, failed)
    if catcher is not None:
        report.caught_by = catcher.name
        exit_event = events.exits.get(catcher.entered_event)
        report.caught_to = events.next_state(exit_event) if exit_event is not None else None
        if report.error is None:
            report.error, report.cause = _caught_error(catcher)
    if report.error is None and report.cause is None:
        report.error, report.cause = error, cause
    final = next((e for e in events.chain(ended["id"]) if e["type"].endswith("StateEntered")), None)
    if final is not None and final["type"] == "FailStateEntered":
        report.fail_state = final["stateEnteredEventDetails"]["name"]
    _explain_service(report)
    report.notes += _crawler_notes(history)
    return report


def _catching_container(visit: Visit, failed: list[tuple[Visit, bool]]) -> Visit | None:
    """The innermost Map/Parallel holding `visit` whose Catch took the error it passed on."""
    holders = [v for v, caught in failed if caught and v.type in _CONTAINERS
               and v.entered_event < visit.entered_event and visit.label.startswith(v.label + "[")]
    return max(holders, key=lambda v: len(v.label), default=None)


def _caught_error(catcher: Visit) -> tuple[str | None, str | None]:
    """The error a Catch handed on, found in the catching state's output (its ResultPath)."""
    stack = [catcher.output]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if isinstance(value.get("Error"), str):
                return value["Error"], value.get("Cause")
            stack.extend(value.values())
    return None, None


def _explain_service(report: RootCause) -> None:
    """An EMR step's or Glue job run's JSON cause → the job's own error, frames and driver log."""
    doc = _json(report.cause)
    if not isinstance(doc, dict):
        return
    text: str | None = None
    step = doc.get("Step")
    if isinstance(step, dict):
        failure = (step.get("Status") or {}).get("FailureDetails") or {}
        reason, message = str(failure.get("Reason") or ""), str(failure.get("Message") or "")
        start = message.find(reason) if reason else -1
        text = message[start:] if start >= 0 else reason or None
        report.notes.append(f"EMR step {step.get('Id')} ({step.get('Name')}) FAILED; step log {failure.get('LogFile')}")
    elif doc.get("JobRunState") in ("FAILED", "ERROR", "TIMEOUT", "STOPPED"):
        text = str(doc.get("ErrorMessage") or doc["JobRunState"])
        report.notes.append(f"Glue job {doc.get('JobName')} run {doc.get('Id')} {doc['JobRunState']}")
    if text is None:
        return
    found = _DRIVER_LOG.search(text)
    if found:
        report.log_file = found.group(1).strip()
        text = _DRIVER_LOG.sub("", text)
    report.cause = text.strip()


def _crawler_notes(history: list[dict[str, Any]]) -> list[str]:
    """The last reported problem of each crawler the execution read (GetCrawler results)."""
    found: dict[str, str] = {}
    for event in history:
        if event["type"] != "TaskSucceeded":
            continue
        details = _details(event)
        if "getCrawler" not in str(details.get("resource", "")):
            continue
        crawler = (_json(details.get("output")) or {}).get("Crawler") if isinstance(
            _json(details.get("output")), dict) else None
        if not isinstance(crawler, dict):
            continue
        last = crawler.get("LastCrawl") or {}
        if last.get("ErrorMessage"):
            targets = [t.get("Path") for t in (crawler.get("Targets") or {}).get("S3Targets") or []]
            found[str(crawler.get("Name"))] = (f"crawler '{crawler.get('Name')}' last crawl {last.get('Status')}: "
                                               f"{last['ErrorMessage']} (targets: {', '.join(map(str, targets))})")
    return list(found.values())
