"""The local event bus: events the local services emit, in EventBridge's shape, for the rule runner.

Every process using a workspace (`sfn-local run`, `s3 cp`, `serve`, tests) appends its events to
one log, `<workspace>/events/bus.jsonl`, one JSON line each: `{"event": {...}, "origin": {...}}`
(`origin` says which object version an S3 event is about, so the runner's folder scan does not
report it again). Each line is one O_APPEND write, which a local file system never interleaves with
another's; readers follow the log by byte offset (`read`), so a runner in another process sees
every event once, in order.

Only events some rule could match are written: a source is wanted when a rule of the project's
config names it in its pattern's `source` (a rule without an exact `source` wants every source).
A project without event rules writes nothing.

Emitters: S3 Object Created / Object Deleted (objectstore.py), Glue Job State Change
(integrations/gluejobs.py), Glue Crawler State Change (crawler.py), Step Functions Execution
Status Change (engine/execution.py).
"""

from __future__ import annotations

import functools
import json
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emulator.workspace import Config, Workspace

ACCOUNT = "123456789012"
REGION = "us-east-1"
LOG = "bus.jsonl"
_ALL = frozenset({"*"})


def now_iso(moment: datetime | None = None) -> str:
    """EventBridge's `time`: UTC to the second."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_event(source: str, detail_type: str, detail: dict[str, Any], resources: list[str] | None = None,
               at: datetime | None = None) -> dict[str, Any]:
    """An event in EventBridge's envelope."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": source,
            "account": ACCOUNT, "time": now_iso(at), "region": REGION, "resources": resources or [],
            "detail": detail}


def _pattern_sources(pattern: Any) -> frozenset[str]:
    if isinstance(pattern, str):
        return _text_pattern_sources(pattern)
    sources = pattern.get("source") if isinstance(pattern, dict) else None
    if isinstance(sources, list) and sources and all(isinstance(s, str) for s in sources):
        return frozenset(sources)
    return _ALL


@functools.lru_cache(maxsize=256)
def _text_pattern_sources(pattern: str) -> frozenset[str]:
    """A pattern written as JSON text: parsed once, not on each of the two events every execution asks about."""
    try:
        loaded = json.loads(pattern)
    except json.JSONDecodeError:
        return _ALL  # the runner reports the error; until then nothing is filtered out
    return _pattern_sources(loaded) if isinstance(loaded, dict) else _ALL


def wanted_sources(config: Config) -> frozenset[str]:
    """The sources the config's enabled event rules may match ("*": any); a few rules, so not cached (their
    patterns' text is parsed once)."""
    found: frozenset[str] = frozenset()
    for rule in config.rules.values():
        if isinstance(rule, dict) and "EventPattern" in rule and rule.get("State", "ENABLED") != "DISABLED":
            found |= _pattern_sources(rule["EventPattern"])
    return found


def log_path(workspace: Workspace) -> Path:
    return workspace.root / "events" / LOG


def wants(workspace: Workspace, source: str) -> bool:
    sources = wanted_sources(workspace.config)
    return source in sources or "*" in sources


def publish(workspace: Workspace, event: dict[str, Any], origin: dict[str, Any] | None = None) -> bool:
    """Append `event` to the workspace's bus when a rule may want it; True when it was written."""
    if not wants(workspace, event["source"]):
        return False
    line = json.dumps({"event": event, "origin": origin or {}}, ensure_ascii=False, separators=(",", ":"),
                      default=str) + "\n"
    path = log_path(workspace)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    try:
        fd = os.open(path, flags, 0o644)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))  # one O_APPEND write: lines of concurrent writers never interleave
    finally:
        os.close(fd)
    return True


def end_offset(workspace: Workspace) -> int:
    try:
        return log_path(workspace).stat().st_size
    except FileNotFoundError:
        return 0


def read(workspace: Workspace, offset: int) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    """Whole lines after byte `offset`: (offset after the line, event, origin); a line still being
    written (no newline yet) waits for the next read."""
    try:
        with open(log_path(workspace), "rb") as log:
            log.seek(offset)
            data = log.read()
    except FileNotFoundError:
        return []
    out = []
    for raw in data.splitlines(keepends=True):
        if not raw.endswith(b"\n"):
            break
        offset += len(raw)
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # a damaged line is skipped, never retried forever
        if isinstance(record, dict) and isinstance(record.get("event"), dict):
            out.append((offset, record["event"], record.get("origin") or {}))
    return out


# -- the services' events ---------------------------------------------------------------------------------
def object_created(workspace: Workspace, bucket: str, key: str, size: int, etag: str, reason: str,
                   mtime_ns: int) -> None:
    """S3's "Object Created" (reason PutObject, CopyObject, CompleteMultipartUpload)."""
    if not wants(workspace, "aws.s3"):
        return
    detail = {"version": "0", "bucket": {"name": bucket},
              "object": {"key": key, "size": size, "etag": etag.strip('"'), "sequencer": f"{mtime_ns:018X}"},
              "request-id": uuid.uuid4().hex[:16].upper(), "requester": ACCOUNT, "source-ip-address": "127.0.0.1",
              "reason": reason}
    publish(workspace, make_event("aws.s3", "Object Created", detail, [f"arn:aws:s3:::{bucket}"]),
            {"bucket": bucket, "key": key, "size": size, "mtime_ns": mtime_ns})


def object_deleted(workspace: Workspace, bucket: str, key: str) -> None:
    """S3's "Object Deleted" for a DeleteObject that removed an object (unversioned: deleted permanently)."""
    if not wants(workspace, "aws.s3"):
        return
    detail = {"version": "0", "bucket": {"name": bucket},
              "object": {"key": key, "sequencer": f"{time.time_ns():018X}"},
              "request-id": uuid.uuid4().hex[:16].upper(), "requester": ACCOUNT, "source-ip-address": "127.0.0.1",
              "reason": "DeleteObject", "deletion-type": "Permanently Deleted"}
    publish(workspace, make_event("aws.s3", "Object Deleted", detail, [f"arn:aws:s3:::{bucket}"]),
            {"bucket": bucket, "key": key, "deleted": True})


def glue_job_state(workspace: Workspace, run: dict[str, Any]) -> None:
    """Glue's "Glue Job State Change" for a run that ended (SUCCEEDED, FAILED, TIMEOUT, STOPPED)."""
    state = run["JobRunState"]
    ok = state == "SUCCEEDED"
    message = "Job run succeeded" if ok else run.get("ErrorMessage") or f"Job run {state.lower()}"
    detail = {"jobName": run["JobName"], "severity": "INFO" if ok else "ERROR", "state": state,
              "jobRunId": run["Id"], "message": message}
    publish(workspace, make_event("aws.glue", "Glue Job State Change", detail))


def glue_crawler_state(workspace: Workspace, name: str, state: str, last_crawl: dict[str, Any] | None = None,
                       metrics: dict[str, int] | None = None, seconds: float = 0.0) -> None:
    """Glue's "Glue Crawler State Change": state Started, Succeeded or Failed (counts as strings, as Glue sends)."""
    detail: dict[str, Any] = {"crawlerName": name, "accountId": ACCOUNT, "state": state,
                              "message": f"Crawler {state}",
                              "cloudWatchLogLink": f"/aws-glue/crawlers;stream={name}"}
    if state == "Started":
        detail["startTime"] = now_iso()
    elif state == "Failed":
        detail["errorMessage"] = (last_crawl or {}).get("ErrorMessage", "")
    else:
        counts = metrics or {}
        detail.update({"tablesCreated": str(counts.get("TablesCreated", 0)),
                       "tablesUpdated": str(counts.get("TablesUpdated", 0)),
                       "tablesDeleted": str(counts.get("TablesDeleted", 0)),
                       "partitionsCreated": "0", "partitionsUpdated": "0", "partitionsDeleted": "0",
                       "warningMessage": (last_crawl or {}).get("ErrorMessage", "N/A"),
                       "runningTime (sec)": str(round(seconds)), "completionDate": now_iso()})
    publish(workspace, make_event("aws.glue", "Glue Crawler State Change", detail))


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def execution_status(workspace: Workspace, execution: Any) -> None:
    """Step Functions' "Step Functions Execution Status Change" for an execution's current status."""
    if not wants(workspace, "aws.states"):
        return
    ended = execution.status != "RUNNING"
    detail = {"executionArn": execution.arn, "stateMachineArn": execution.state_machine_arn,
              "name": execution.name, "status": execution.status, "startDate": _millis(execution.start_date),
              "stopDate": _millis(execution.stop_date) if ended else None,
              "input": json.dumps(execution.input, separators=(",", ":"), ensure_ascii=False),
              "output": json.dumps(execution.output, separators=(",", ":"), ensure_ascii=False)
              if execution.status == "SUCCEEDED" else None,
              "inputDetails": {"included": True}, "outputDetails": {"included": True} if ended else None,
              "error": execution.error, "cause": execution.cause}
    publish(workspace, make_event("aws.states", "Step Functions Execution Status Change", detail, [execution.arn]))
