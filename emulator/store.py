"""The Step Functions control plane's saved state: state machines, versions, aliases, activities,
tags, executions and their history events, in one SQLite database (WAL) under the workspace.

Every record is a JSON document in the shape the API answers with (timestamps as epoch seconds),
kept under its ARN with a kind (`MACHINE`, `VERSION`, `ALIAS`, `ACTIVITY`, `EXECUTION`), the ARN
of its parent (a version's or an execution's state machine), a name and, for executions, the
status. Lists come back in creation order (or newest first), a page at a time:

    store = Store(Workspace())
    store.put(MACHINE, arn, {"name": "Orders", ...}, name="Orders")
    docs = store.list(EXECUTION, parent=machine_arn, status="SUCCEEDED", offset=0, limit=100, newest_first=True)
    store.append_events(execution_arn, events); store.events(execution_arn, offset=0, limit=100)

History events are written as they happen, many executions' at once in one short transaction
(`write`), each with the branch that added it (`recorded`: what resuming an execution replays).
A `Recorder` does that for running executions, for the endpoint and for `sfn-local run` alike: one
writer thread commits every running execution's new events every few milliseconds, and at once
(group commit) when a caller must not go on before what it shows is durable (`sync`).

Every execution is kept under the same rules wherever it ran: an execution's name is taken once per
state machine (`claim`, an INSERT that never replaces). A record made by `sfn-local run` names the
process that runs it (`_origin`, `_pid`); one left RUNNING by a process that is gone (killed) is
ended ABORTED when the store is next read (`settle_abandoned`), so `sfn-local redrive` can go on with it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.workspace import Workspace

if TYPE_CHECKING:
    from emulator.engine.execution import Execution

MACHINE = "machine"
VERSION = "version"
ALIAS = "alias"
ACTIVITY = "activity"
EXECUTION = "execution"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, arn TEXT NOT NULL, parent TEXT, name TEXT, status TEXT, created REAL NOT NULL,
    doc TEXT NOT NULL, PRIMARY KEY (kind, arn));
CREATE INDEX IF NOT EXISTS records_parent ON records (kind, parent, status);
CREATE INDEX IF NOT EXISTS records_status ON records (kind, status);
CREATE TABLE IF NOT EXISTS tags (arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (arn, key));
CREATE TABLE IF NOT EXISTS events (execution TEXT NOT NULL, id INTEGER NOT NULL, doc TEXT NOT NULL,
    path TEXT, PRIMARY KEY (execution, id));
"""
# Each event's branch: (Parallel/Map state, index) per level, outermost first.
BranchPath = tuple[tuple[str, int], ...]


# The kinds Store.get answers from memory: few, read often, changed seldom.
_CACHED = frozenset({MACHINE, VERSION, ALIAS})
# Who ran an execution: `sfn-local run` (and `redrive`, `watch`) in their own process, or the endpoint.
CLI = "cli"
# How often a Recorder commits running executions' new events: short, so a kill -9 loses little work.
FLUSH_SECONDS = 0.01
# How long a statement waits for another process's write before giving up with "database is locked".
_BUSY_SECONDS = 30.0

_INSERT = ("INSERT OR IGNORE INTO records (kind, arn, parent, name, status, created, doc) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)")
_PUT = ("INSERT INTO records (kind, arn, parent, name, status, created, doc) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (kind, arn) DO UPDATE SET parent = excluded.parent, name = excluded.name, "
        "status = excluded.status, doc = excluded.doc")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# One encoder for every document (json.dumps with options builds a new one per call).
_dump = json.JSONEncoder(default=_default, ensure_ascii=False, separators=(",", ":")).encode


def _dump_path(path: BranchPath) -> str:
    return _dump(path) if path else "[]"  # most events are at the top level


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch the database to WAL, waiting for other processes as every other statement does: SQLite answers
    "database is locked" at once, without its busy handler, when two processes open a new store together."""
    deadline = time.monotonic() + _BUSY_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


class Store:
    """One workspace's control-plane database; safe to share between threads."""

    def __init__(self, workspace: Workspace) -> None:
        self.path: Path = workspace.path("stepfunctions") / "store.sqlite3"
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=_BUSY_SECONDS)
        _use_wal(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        if "path" not in {row[1] for row in self._db.execute("PRAGMA table_info(events)")}:  # a store made before
            self._db.execute("ALTER TABLE events ADD COLUMN path TEXT")
        self._version: int = self._db.execute("PRAGMA data_version").fetchone()[0]
        # Documents of _CACHED kinds as read (JSON text), valid while no other process commits (`version`):
        # every StartExecution reads its state machine. `_generation` counts the changes made here, so a
        # read that raced a change does not keep what it read.
        self._cache: dict[tuple[str, str], str] = {}
        self._cache_version = self._version
        self._generation = 0
        self._cache_lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def version(self) -> int:
        """A number that changes whenever another connection (another process) commits a change: what
        a cache of this store's records is checked against. While a write is under way here, the number
        that write read as it began (it is that fresh) rather than a wait for it."""
        if not self._lock.acquire(blocking=False):
            return self._version
        try:
            self._version = self._db.execute("PRAGMA data_version").fetchone()[0]
            return self._version
        finally:
            self._lock.release()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- records ------------------------------------------------------------------------------
    def put(self, kind: str, arn: str, doc: dict[str, Any], *, parent: str | None = None, name: str | None = None,
            status: str | None = None, created: float | None = None) -> None:
        """Insert or replace a record; a replaced record keeps its place in the listing order."""
        self._query(_PUT, (kind, arn, parent, name, status, time.time() if created is None else created, _dump(doc)))
        self._forget(kind, arn)

    def get(self, kind: str, arn: str) -> dict[str, Any] | None:
        cached = kind in _CACHED
        if cached:
            version = self.version()
            with self._cache_lock:
                if version != self._cache_version:
                    self._cache.clear()
                    self._cache_version = version
                    self._generation += 1
                text = self._cache.get((kind, arn))
                generation = self._generation
            if text is not None:
                return json.loads(text)
        rows = self._query("SELECT doc FROM records WHERE kind = ? AND arn = ?", (kind, arn))
        if not rows:
            return None
        if cached:
            with self._cache_lock:
                if generation == self._generation:
                    self._cache[(kind, arn)] = rows[0][0]
        return json.loads(rows[0][0])

    def delete(self, kind: str, arn: str) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM records WHERE kind = ? AND arn = ?", (kind, arn))
            self._db.execute("DELETE FROM tags WHERE arn = ?", (arn,))
        self._forget(kind, arn)
        return cursor.rowcount > 0

    def _forget(self, kind: str, arn: str) -> None:
        if kind in _CACHED:
            with self._cache_lock:
                self._generation += 1
                self._cache.pop((kind, arn), None)

    def list(self, kind: str, *, parent: str | None = None, status: str | None = None, name: str | None = None,
             offset: int = 0, limit: int | None = None, newest_first: bool = False) -> list[dict[str, Any]]:
        """Records of one kind (optionally of one parent, status or name), one page of them."""
        sql, params = self._where(kind, parent, status, name)
        order = "DESC" if newest_first else "ASC"
        rows = self._query(f"SELECT doc FROM records {sql} ORDER BY rowid {order} LIMIT ? OFFSET ?",
                           [*params, -1 if limit is None else limit, offset])
        return [json.loads(row[0]) for row in rows]

    def count(self, kind: str, *, parent: str | None = None, status: str | None = None,
              name: str | None = None) -> int:
        sql, params = self._where(kind, parent, status, name)
        return self._query(f"SELECT COUNT(*) FROM records {sql}", params)[0][0]

    @staticmethod
    def _where(kind: str, parent: str | None, status: str | None, name: str | None) -> tuple[str, list[Any]]:
        clauses, params = ["kind = ?"], [kind]
        for column, value in (("parent", parent), ("status", status), ("name", name)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return "WHERE " + " AND ".join(clauses), params

    # -- executions -----------------------------------------------------------------------------
    def save_execution(self, doc: dict[str, Any]) -> None:
        """Save an execution in DescribeExecution's shape (plus what the front keeps beside it)."""
        self._query(_PUT, self._execution_row(doc))

    @staticmethod
    def _execution_row(doc: dict[str, Any]) -> tuple[Any, ...]:
        start = doc.get("startDate")
        created = start.timestamp() if isinstance(start, datetime) else start
        return (EXECUTION, doc["executionArn"], doc["stateMachineArn"], doc["name"], doc["status"],
                time.time() if created is None else created, _dump(doc))

    def append_events(self, execution_arn: str, events: Sequence[dict[str, Any]],
                      paths: Sequence[BranchPath] | None = None) -> None:
        """Add history events (GetExecutionHistory's shape); an event already saved (same id) is kept."""
        self.write([(execution_arn, events, paths)], [])

    def write(self, events: Iterable[tuple[str, Sequence[dict[str, Any]], Sequence[BranchPath] | None]],
              executions: Iterable[dict[str, Any]], claims: Iterable[dict[str, Any]] = ()) -> set[str]:
        """In one transaction: claims (new executions, refused when the ARN is taken), then (execution ARN,
        events, their branches or None) triples, then executions to save (save_execution's documents).
        Returns the ARNs of the refused claims."""
        rows = [(arn, event["id"], _dump(event), _dump_path(paths[i]) if paths is not None and i < len(paths) else None)
                for arn, batch, paths in events for i, event in enumerate(batch)]
        docs = [self._execution_row(doc) for doc in executions]
        new = [self._execution_row(doc) for doc in claims]
        if not rows and not docs and not new:
            return set()
        refused = set()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._version = self._db.execute("PRAGMA data_version").fetchone()[0]
                for row in new:
                    if self._db.execute(_INSERT, row).rowcount == 0:
                        refused.add(row[1])
                if rows:
                    self._db.executemany("INSERT OR IGNORE INTO events (execution, id, doc, path) VALUES (?, ?, ?, ?)",
                                         [row for row in rows if row[0] not in refused] if refused else rows)
                if docs:
                    self._db.executemany(_PUT, docs)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return refused

    def transition(self, doc: dict[str, Any], status: str, redrive_count: int) -> bool:
        """Save `doc` over the execution only while it is still `status` with `redrive_count` redrives (what
        its caller read): of two processes redriving one execution, one wins."""
        row = self._execution_row(doc)
        with self._lock:
            cursor = self._db.execute(
                "UPDATE records SET status = ?, doc = ? WHERE kind = ? AND arn = ? AND status = ? "
                "AND COALESCE(json_extract(doc, '$.redriveCount'), 0) = ?",
                (row[4], row[6], EXECUTION, row[1], status, redrive_count))
            return cursor.rowcount > 0

    def settle_abandoned(self) -> None:
        """End ABORTED the executions a `sfn-local run` process left RUNNING when it was killed: an
        ExecutionAborted event after their last, so `redrive` can run them on from where they stopped."""
        rows = self._query("SELECT doc FROM records WHERE kind = ? AND status = 'RUNNING'", (EXECUTION,))
        for doc in map(json.loads, (row[0] for row in rows)):
            if doc.get("_origin") != CLI or _alive(doc.get("_pid")):
                continue
            last = self._query("SELECT id FROM events WHERE execution = ? ORDER BY id DESC LIMIT 1",
                               (doc["executionArn"],))
            previous = last[0][0] if last else 0
            now = time.time()
            cause = f"The sfn-local process that ran the execution (pid {doc.get('_pid')}) ended before it did."
            event = {"id": previous + 1, "previousEventId": previous, "timestamp": now, "type": "ExecutionAborted",
                     "executionAbortedEventDetails": {"error": "States.Runtime", "cause": cause}}
            doc.update(status="ABORTED", stopDate=now, error="States.Runtime", cause=cause,
                       redriveStatus="REDRIVABLE")
            doc.pop("redriveStatusReason", None)
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    still = self._db.execute("SELECT 1 FROM records WHERE kind = ? AND arn = ? AND status = 'RUNNING'",
                                             (EXECUTION, doc["executionArn"])).fetchall()
                    if still:
                        self._db.execute("INSERT OR IGNORE INTO events (execution, id, doc, path) VALUES (?, ?, ?, ?)",
                                         (doc["executionArn"], event["id"], _dump(event), None))
                        self._db.execute(_PUT, self._execution_row(doc))
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")

    def recorded(self, execution_arn: str) -> tuple[list[dict[str, Any]], list[BranchPath]]:
        """An execution's events and the branch of each (the top level where not recorded)."""
        rows = self._query("SELECT doc, path FROM events WHERE execution = ? ORDER BY id", (execution_arn,))
        paths = [tuple((str(name), int(index)) for name, index in json.loads(path)) if path else ()
                 for _, path in rows]
        return [json.loads(doc) for doc, _ in rows], paths

    def event_count(self, execution_arn: str) -> int:
        return self._query("SELECT COUNT(*) FROM events WHERE execution = ?", (execution_arn,))[0][0]

    def events(self, execution_arn: str, *, offset: int = 0, limit: int | None = None,
               reverse: bool = False) -> list[dict[str, Any]]:
        order = "DESC" if reverse else "ASC"
        rows = self._query(f"SELECT doc FROM events WHERE execution = ? ORDER BY id {order} LIMIT ? OFFSET ?",
                           (execution_arn, -1 if limit is None else limit, offset))
        return [json.loads(row[0]) for row in rows]

    # -- tags -------------------------------------------------------------------------------------
    def tags(self, arn: str) -> dict[str, str]:
        return dict(self._query("SELECT key, value FROM tags WHERE arn = ? ORDER BY rowid", (arn,)))

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        with self._lock:
            self._db.executemany("INSERT INTO tags (arn, key, value) VALUES (?, ?, ?) "
                                 "ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
                                 [(arn, k, v) for k, v in tags.items()])

    def untag(self, arn: str, keys: Iterable[str]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM tags WHERE arn = ? AND key = ?", [(arn, k) for k in keys])


def _alive(pid: Any) -> bool:
    """Whether process `pid` still runs (on this machine): unknown or a living process counts as alive."""
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True


def execution_document(execution: Execution, extra: dict[str, Any], running: bool = False) -> dict[str, Any]:
    """An execution as DescribeExecution shows it (plus `extra`: what its front keeps beside it); `running`
    shows it RUNNING whatever the engine says, until its last event is durable."""
    doc = execution.describe()
    if running:
        doc = {k: v for k, v in doc.items() if k not in ("stopDate", "output", "error", "cause")}
        doc["status"] = "RUNNING"
    doc["inputDetails"] = {"included": True}
    if "output" in doc:
        doc["outputDetails"] = {"included": True}
    doc["redriveCount"] = execution.redrive_count
    express = extra.get("_type") == "EXPRESS"
    if doc["status"] in ("FAILED", "TIMED_OUT", "ABORTED") and not express:
        doc["redriveStatus"] = "REDRIVABLE"
    else:
        doc["redriveStatus"] = "NOT_REDRIVABLE"
        doc["redriveStatusReason"] = ("Express executions cannot be redriven" if express
                                      else f"Execution is {doc['status']} and cannot be redriven")
    return {**doc, **extra}


# What became of a claim (Live.claim): not committed yet, committed, refused (its ARN was taken), lost to a
# failed commit; a tracked execution (resumed, redriven) is no claim.
PENDING, HELD, REFUSED, FAILED, TRACKED = "pending", "held", "refused", "failed", "tracked"


class Live:
    """A running execution a Recorder writes: how many of its events are durable, what to show beside it
    and, for a new execution, what became of its claim."""

    __slots__ = ("claim", "execution", "extra", "saved_events")

    def __init__(self, execution: Execution, extra: dict[str, Any], saved_events: int = 0,
                 claim: str = TRACKED) -> None:
        self.execution = execution
        self.extra = extra
        self.saved_events = saved_events
        self.claim = claim


class StoreUnavailable(Exception):
    """The Recorder could not commit (a full disk, a store another process holds locked too long)."""


class Recorder:
    """Commits running executions to a Store as they run: each one's new events every `interval`
    seconds (a writer thread), many executions' in one transaction, and the final document of those
    that ended (then forgets them, calling `on_ended(live, document)` first). `sync()` commits, in the
    caller's thread, everything pending when it was called; callers that come while a commit is under
    way are served together by the next one (group commit)."""

    def __init__(self, store: Store, interval: float = FLUSH_SECONDS,
                 on_ended: Callable[[Live, dict[str, Any]], None] | None = None) -> None:
        self.store = store
        self.interval = interval
        self.on_ended = on_ended
        self._lives: dict[str, Live] = {}
        self._cond = threading.Condition(threading.Lock())
        self._commit_lock = threading.Lock()  # one commit at a time
        self._claims: list[tuple[dict[str, Any], Live]] = []
        self._docs: list[dict[str, Any]] = []
        self._events: list[tuple[str, Sequence[dict[str, Any]], Sequence[BranchPath] | None]] = []
        self._requested = 0  # commits asked for (tickets)
        self._committed = 0  # the tickets served
        # The last failed commit: the tickets it was to serve (after, up to] and why it failed.
        self._failure: tuple[int, int, BaseException] | None = None
        self._thread: threading.Thread | None = None
        self._idle = False  # the writer thread sleeps until woken (no execution runs)
        self._closed = False

    def live(self, arn: str) -> Live | None:
        return self._lives.get(arn)

    def lives(self) -> list[Live]:
        with self._cond:
            return list(self._lives.values())

    def claim(self, execution: Execution, extra: dict[str, Any]) -> Live | None:
        """Record a new execution RUNNING, durably, unless its ARN is taken (None then: ExecutionAlreadyExists).
        An execution that already ended (run before its claim: one without side effects) is recorded ended,
        with all its events, in the same commit."""
        live = self.propose(execution, extra)
        if live is None:
            return None
        self.sync()
        return live if self.confirm(live) else None

    def propose(self, execution: Execution, extra: dict[str, Any]) -> Live | None:
        """claim's first half: the claim queued for the next commit (None when the ARN runs here already).
        After a commit that began later (`sync`), `confirm` says whether it held."""
        live = Live(execution, extra, claim=PENDING)
        ended = execution._done.is_set()
        with self._cond:
            if execution.arn in self._lives:
                return None
            self._claims.append((execution_document(execution, extra, running=not ended), live))
            if ended:
                self._events.append((execution.arn, execution.history, execution.history_paths))
                live.saved_events = len(execution.history)
            self._lives[execution.arn] = live
        return live

    def confirm(self, live: Live) -> bool:
        """Whether a proposed claim was committed (False: its ARN was taken); StoreUnavailable when the commit
        holding it failed. Call after a sync that began after `propose`. A tracked execution's record is
        committed already."""
        with self._cond:
            claim, failure = live.claim, self._failure
        if claim == FAILED:
            raise StoreUnavailable(f"cannot write {self.store.path}: {failure[2] if failure else 'unknown error'}")
        if claim == PENDING:
            raise RuntimeError(f"{live.execution.arn}: confirmed before a commit took its claim")
        if claim == REFUSED:
            return False
        if not live.execution._done.is_set():  # an ended one is committed already: nothing for the writer thread
            self._ensure_thread()
        return True

    def track(self, execution: Execution, extra: dict[str, Any], saved_events: int) -> Live:
        """Record an execution that goes on (resumed, redriven) whose first `saved_events` events are saved."""
        live = Live(execution, extra, saved_events)
        with self._cond:
            self._lives[execution.arn] = live
        self._ensure_thread()
        return live

    def save(self, doc: dict[str, Any], events: Sequence[dict[str, Any]] = (),
             paths: Sequence[BranchPath] | None = None) -> None:
        """Save a finished execution (a synchronous one) with its events, durably."""
        with self._cond:
            self._events.append((doc["executionArn"], events, paths))
            self._docs.append(doc)
        self.sync()

    def sync(self) -> None:
        """Commit everything pending now (events so far, ended executions, claims); StoreUnavailable when
        that commit failed."""
        ticket = self._commit()
        with self._cond:
            if self._failure is not None and self._failure[0] < ticket <= self._failure[1]:
                raise StoreUnavailable(f"cannot write {self.store.path}: {self._failure[2]}")

    def wake(self) -> None:
        """Commit now rather than at the next tick (an execution ended: its readers need not wait for it);
        a failure is retried at the next tick."""
        self._commit()

    def close(self) -> None:
        """Commit what is pending and stop the writer thread (a Recorder for one run)."""
        try:
            self.sync()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
                thread = self._thread
            if thread is not None:
                thread.join()

    def _ensure_thread(self) -> None:
        with self._cond:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._loop, name="sfn-store-writer", daemon=True)
                self._thread.start()
            elif self._idle:
                self._cond.notify_all()

    def _loop(self) -> None:
        """The writer thread: a commit every tick while executions run; asleep while none does."""
        while True:
            with self._cond:
                if self._closed:
                    self._thread = None
                    return
                self._idle = not self._lives
                self._cond.wait(None if self._idle else self.interval)
                self._idle = False
                if self._closed:
                    self._thread = None
                    return
            self._commit()

    def _commit(self) -> int:
        """Take a ticket and see it served: by a commit under way that started after it was taken, or by
        one this thread makes. Returns the ticket."""
        with self._cond:
            self._requested += 1
            ticket = self._requested
        with self._commit_lock:
            with self._cond:
                if self._committed >= ticket:
                    return ticket
                after, target = self._committed, self._requested
                claims, self._claims = self._claims, []
                docs, self._docs = self._docs, []
                events, self._events = self._events, []
                lives = list(self._lives.values())
            try:
                self._write(claims, docs, events, lives)
            except (sqlite3.Error, OSError) as exc:
                with self._cond:
                    self._failure = (after, target, exc)
                    for doc, live in claims:
                        live.claim = FAILED
                        if self._lives.get(doc["executionArn"]) is live:
                            del self._lives[doc["executionArn"]]
            with self._cond:
                self._committed = target
        return ticket

    def _write(self, claims: list[tuple[dict[str, Any], Live]], docs: list[dict[str, Any]],
               events: list[tuple[str, Sequence[dict[str, Any]], Sequence[BranchPath] | None]],
               lives: list[Live]) -> None:
        claimed = {id(live) for _, live in claims}
        batch, ended, counts = list(events), [], []
        for live in lives:
            if id(live) in claimed:  # its RUNNING document is written first; its events with the next commit
                continue
            done = live.execution._done.is_set()  # before counting: an ended one has all its events
            history, paths = live.execution.history, live.execution.history_paths
            count = min(len(history), len(paths))
            if count > live.saved_events:
                batch.append((live.execution.arn, history[live.saved_events:count], paths[live.saved_events:count]))
            counts.append((live, count))
            if done:
                ended.append((live, execution_document(live.execution, live.extra)))
        refused = self.store.write(batch, [*docs, *(doc for _, doc in ended)], [doc for doc, _ in claims])
        ended += [(live, doc) for doc, live in claims  # claimed ended: run before their claim
                  if doc["status"] != "RUNNING" and doc["executionArn"] not in refused]
        if self.on_ended is not None:  # before they are forgotten: a reader finds them in one place or the other
            for live, doc in ended:
                self.on_ended(live, doc)
        with self._cond:
            for live, count in counts:
                live.saved_events = count
            for doc, live in claims:
                live.claim = REFUSED if doc["executionArn"] in refused else HELD
                if live.claim == REFUSED and self._lives.get(doc["executionArn"]) is live:
                    del self._lives[doc["executionArn"]]
            for live, _ in ended:
                if self._lives.get(live.execution.arn) is live:
                    del self._lives[live.execution.arn]
