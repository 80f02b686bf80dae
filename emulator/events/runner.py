"""The rule runner: follows the workspace's event bus, scans watched bucket folders, fires schedules,
and starts each matching rule's targets as executions.

One runner per workspace at a time (`<workspace>/locks/rules-runner.lock`, held while it runs), so
two `watch` processes, or `watch` beside `serve`, never fire a rule twice. The runner remembers
how far it has read the bus and what it has seen in the watched folders
(`<workspace>/events/runner.json`, written after each event), so every event is handled once
even across a restart; on its first start it begins at the bus's end and takes the folders as
they are, as a new AWS rule sees only later events. What fired is appended to
`<workspace>/events/fired.jsonl`.

Watched folders: for an S3 rule whose pattern names buckets exactly (`detail.bucket.name`), the
bucket's folder (its `[buckets]` folder, or the workspace's) is scanned under the key prefixes
the pattern gives (`detail.object.key` exact values or `prefix`), and a file that is new or
changed (size, modification time) and has been still for SETTLE_SECONDS becomes "Object
Created", one that disappeared "Object Deleted". Writes through the store (Task states, the
endpoint, `s3 cp`) are already on the bus and are not reported again. Hidden names and Spark's
`_temporary` folders are skipped.

Executions run one after another on the runner's thread, on the virtual clock unless the runner
was made with `clock="real"`.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emulator.backends import Backends, events
from emulator.backends.objectstore import S3Error
from emulator.engine.execution import Execution, StateMachine
from emulator.errors import DefinitionError, StartExecutionError
from emulator.events.rules import Rule, Target, TargetInputError, definition_path, load_rules
from emulator.workspace import Workspace, write_atomic

SETTLE_SECONDS = 0.5  # a dropped file must be this still before it counts (no half-copied files)
_SKIPPED_DIRS = ("_temporary",)


class RunnerBusy(RuntimeError):
    """Another process already runs this workspace's rules."""


@dataclass
class Firing:
    """One target started (or not) by one rule for one event."""

    rule: str
    target: str
    event: dict[str, Any]
    execution: Execution | None = None
    error: str | None = None

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {"time": events.now_iso(), "rule": self.rule, "target": self.target,
                               "eventId": self.event.get("id"), "detailType": self.event.get("detail-type"),
                               "eventTime": self.event.get("time")}
        if self.execution is not None:
            out.update(executionArn=self.execution.arn, name=self.execution.name, status=self.execution.status)
            if self.execution.error:
                out["executionError"] = self.execution.error
        if self.error is not None:
            out["error"] = self.error
        return out


def _watches(rule: Rule) -> list[tuple[str, str]]:
    """(bucket, key prefix) pairs an S3 rule's pattern names exactly: the folders worth scanning."""
    pattern = rule.pattern.source if rule.pattern is not None and rule.enabled else None
    if not isinstance(pattern, dict) or "aws.s3" not in (pattern.get("source") or []):
        return []
    detail = pattern.get("detail") if isinstance(pattern.get("detail"), dict) else {}
    bucket = detail.get("bucket") if isinstance(detail.get("bucket"), dict) else {}
    names = [n for n in bucket.get("name") or [] if isinstance(n, str)] if isinstance(bucket.get("name"), list) else []
    obj = detail.get("object") if isinstance(detail.get("object"), dict) else {}
    keys = obj.get("key") if isinstance(obj.get("key"), list) else None
    prefixes = [""]
    if keys:
        # A key's literal start: an exact key, a prefix, or a wildcard's text before its first `*`.
        starts = [k if isinstance(k, str) else k["prefix"] if isinstance(k, dict) and isinstance(k.get("prefix"), str)
                  else k["wildcard"].split("*", 1)[0].replace("\\", "")
                  if isinstance(k, dict) and isinstance(k.get("wildcard"), str) else None for k in keys]
        if None not in starts:
            prefixes = sorted(set(starts))
    return [(name, prefix) for name in names for prefix in prefixes]


class RuleRunner:
    """Runs one workspace's rules; `step()` handles what is new, `fire_schedules(now)` what is due."""

    def __init__(self, workspace: Workspace, rules: list[Rule] | None = None, *, clock: str = "virtual",
                 on_fire: Callable[[Firing], None] | None = None, schedule_start: datetime | None = None) -> None:
        self.workspace = workspace
        self.rules = load_rules(workspace) if rules is None else rules
        self.clock = clock
        self.on_fire = on_fire
        self.backends = Backends(workspace)
        self.folder = workspace.path("events")
        self._state_path = self.folder / "runner.json"
        self._machines: dict[str, StateMachine] = {}
        self._lock_fd: int | None = None
        self.offset = 0
        self.snapshots: dict[str, dict[str, list[int]]] = {}
        wanted = {w for rule in self.rules for w in _watches(rule)}
        # A folder under another watched one is already covered: scanning it too would report files twice.
        self.watches = sorted((b, p) for b, p in wanted
                              if not any(b == ob and p != op and p.startswith(op) for ob, op in wanted))
        start = schedule_start or datetime.now(UTC)
        self.anchor = start
        self.next_fires: dict[str, datetime] = {}
        for rule in self.rules:
            if rule.enabled and rule.schedule is not None:
                fire = rule.schedule.next_fire(start, start)
                if fire is not None:
                    self.next_fires[rule.name] = fire

    # -- lifetime ----------------------------------------------------------------------------------
    def __enter__(self) -> RuleRunner:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Take the workspace's runner lock (RunnerBusy if held) and resume where the last runner stopped."""
        path = self.workspace.path("locks") / "rules-runner.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = path.with_suffix(".pid")
            who = holder.read_text(encoding="utf-8").strip() if holder.is_file() else "another process"
            raise RunnerBusy(f"the rules of workspace {self.workspace.root} are already run by process {who}") \
                from None
        self._lock_fd = fd
        path.with_suffix(".pid").write_text(str(os.getpid()), encoding="utf-8")
        state = self._load_state()
        self.offset = state.get("offset", events.end_offset(self.workspace))
        self.snapshots = state.get("scan", {})
        for bucket, prefix in self.watches:
            if self._watch_key(bucket, prefix) not in self.snapshots:
                self.snapshots[self._watch_key(bucket, prefix)] = self._listing(bucket, prefix)
        self._save_state()

    def close(self) -> None:
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            os.close(fd)
        self.backends.settle()

    def _load_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self._state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _save_state(self) -> None:
        write_atomic(self._state_path, json.dumps({"offset": self.offset, "scan": self.snapshots}).encode("utf-8"))

    # -- events ------------------------------------------------------------------------------------
    def step(self) -> list[Firing]:
        """Handle the bus's new events, then scan the watched folders (their events are handled next step)."""
        fired = self.poll()
        self.scan()
        return fired

    def poll(self) -> list[Firing]:
        fired: list[Firing] = []
        if self.offset > events.end_offset(self.workspace):
            self.offset = 0  # the log was removed (a cleaned workspace): it starts again
        for offset, event, origin in events.read(self.workspace, self.offset):
            self._note(origin)
            fired += self.handle(event)
            self.offset = offset
            self._save_state()
        return fired

    def handle(self, event: dict[str, Any]) -> list[Firing]:
        """Start the targets of every enabled rule whose pattern matches `event`."""
        fired = []
        for rule in self.rules:
            if rule.enabled and rule.pattern is not None and rule.pattern.matches(event):
                fired += [self._fire(rule, target, event) for target in rule.targets]
        return fired

    def fire_schedules(self, now: datetime) -> list[Firing]:
        """Fire every schedule due at `now` (once each, however late), then plan its next fire."""
        fired = []
        for rule in self.rules:
            due = self.next_fires.get(rule.name)
            if due is None or due > now or rule.schedule is None:
                continue
            event = events.make_event("aws.events", "Scheduled Event", {}, [rule.arn], at=due)
            fired += [self._fire(rule, target, event) for target in rule.targets]
            upcoming = rule.schedule.next_fire(max(now, due), self.anchor)
            if upcoming is None:
                del self.next_fires[rule.name]
            else:
                self.next_fires[rule.name] = upcoming
        return fired

    def next_schedule(self) -> datetime | None:
        return min(self.next_fires.values(), default=None)

    def _fire(self, rule: Rule, target: Target, event: dict[str, Any]) -> Firing:
        firing = Firing(rule.name, target.id, event)
        try:
            data = target.input_for(event, rule)
            machine = self._machine(target)
            firing.execution = machine.run(data, name=str(uuid.uuid4()), clock=self.clock)
        except (TargetInputError, StartExecutionError, DefinitionError, OSError, TypeError) as exc:
            firing.error = f"{type(exc).__name__}: {exc}"
        with open(self.folder / "fired.jsonl", "a", encoding="utf-8") as log:
            log.write(json.dumps(firing.record(), default=str) + "\n")
        if self.on_fire is not None:
            self.on_fire(firing)
        return firing

    def _machine(self, target: Target) -> StateMachine:
        machine = self._machines.get(target.machine)
        if machine is None:
            path = definition_path(self.workspace.project, target.machine)
            if path is None:
                raise FileNotFoundError(f"no definitions/{target.machine}.asl.json in {self.workspace.project}")
            machine = StateMachine(path, name=target.machine, workspace=self.workspace)
            machine.backends = self.backends  # one set of open backends (Spark, catalog) for every run
            self._machines[target.machine] = machine
        return machine

    # -- watched folders ---------------------------------------------------------------------------
    @staticmethod
    def _watch_key(bucket: str, prefix: str) -> str:
        return f"{bucket}/{prefix}"

    def _note(self, origin: dict[str, Any]) -> None:
        """An S3 event from the store: its object version is known, so the scan does not report it again."""
        bucket, key = origin.get("bucket"), origin.get("key")
        if not isinstance(bucket, str) or not isinstance(key, str):
            return
        for watched, prefix in self.watches:
            if watched == bucket and key.startswith(prefix):
                snapshot = self.snapshots.setdefault(self._watch_key(bucket, prefix), {})
                if origin.get("deleted"):
                    snapshot.pop(key, None)
                else:
                    snapshot[key] = [origin.get("size"), origin.get("mtime_ns")]

    def _listing(self, bucket: str, prefix: str) -> dict[str, list[int]]:
        """key -> [size, mtime_ns] of the plain files under `prefix` in the bucket's folder."""
        try:
            root = self.backends.object_store.bucket_root(bucket)
        except S3Error:
            return {}
        folder = prefix.rpartition("/")[0]
        start = root.joinpath(*folder.split("/")) if folder else root
        found: dict[str, list[int]] = {}
        for current, dirs, files in os.walk(start):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS]
            base = Path(current)
            for name in files:
                path = base / name
                key = path.relative_to(root).as_posix()
                if name.startswith(".") or not key.startswith(prefix):
                    continue
                try:
                    info = path.lstat()
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    found[key] = [info.st_size, info.st_mtime_ns]
        return found

    def scan(self) -> int:
        """Publish Object Created / Deleted for what changed in the watched folders; returns how many."""
        published = 0
        for bucket, prefix in self.watches:
            snapshot = self.snapshots.setdefault(self._watch_key(bucket, prefix), {})
            listing = self._listing(bucket, prefix)
            settled = time.time_ns() - int(SETTLE_SECONDS * 1e9)
            for key, version in listing.items():
                if snapshot.get(key) == version or version[1] > settled:
                    continue
                try:
                    info = self.backends.object_store.head(bucket, key)
                except S3Error:
                    continue  # gone or replaced by a link since the walk
                events.object_created(self.workspace, bucket, key, info.size, info.etag, "PutObject", version[1])
                snapshot[key] = version
                published += 1
            for key in [k for k in snapshot if k not in listing]:
                events.object_deleted(self.workspace, bucket, key)
                del snapshot[key]
                published += 1
        if published:
            self._save_state()
        return published
