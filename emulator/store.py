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
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from emulator.workspace import Workspace

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
CREATE TABLE IF NOT EXISTS tags (arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (arn, key));
CREATE TABLE IF NOT EXISTS events (execution TEXT NOT NULL, id INTEGER NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (execution, id));
"""


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dump(doc: Any) -> str:
    return json.dumps(doc, default=_default, ensure_ascii=False, separators=(",", ":"))


class Store:
    """One workspace's control-plane database; safe to share between threads."""

    def __init__(self, workspace: Workspace) -> None:
        self.path: Path = workspace.path("stepfunctions") / "store.sqlite3"
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- records ------------------------------------------------------------------------------
    def put(self, kind: str, arn: str, doc: dict[str, Any], *, parent: str | None = None, name: str | None = None,
            status: str | None = None, created: float | None = None) -> None:
        """Insert or replace a record; a replaced record keeps its place in the listing order."""
        self._query(
            "INSERT INTO records (kind, arn, parent, name, status, created, doc) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (kind, arn) DO UPDATE SET parent = excluded.parent, name = excluded.name, "
            "status = excluded.status, doc = excluded.doc",
            (kind, arn, parent, name, status, time.time() if created is None else created, _dump(doc)),
        )

    def get(self, kind: str, arn: str) -> dict[str, Any] | None:
        rows = self._query("SELECT doc FROM records WHERE kind = ? AND arn = ?", (kind, arn))
        return json.loads(rows[0][0]) if rows else None

    def delete(self, kind: str, arn: str) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM records WHERE kind = ? AND arn = ?", (kind, arn))
            self._db.execute("DELETE FROM tags WHERE arn = ?", (arn,))
            return cursor.rowcount > 0

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
        start = doc.get("startDate")
        self.put(EXECUTION, doc["executionArn"], doc, parent=doc["stateMachineArn"], name=doc["name"],
                 status=doc["status"], created=start.timestamp() if isinstance(start, datetime) else start)

    def append_events(self, execution_arn: str, events: Iterable[dict[str, Any]]) -> None:
        """Add history events (GetExecutionHistory's shape); an event already saved (same id) is kept."""
        rows = [(execution_arn, event["id"], _dump(event)) for event in events]
        if rows:
            with self._lock:
                self._db.executemany("INSERT OR IGNORE INTO events (execution, id, doc) VALUES (?, ?, ?)", rows)

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
