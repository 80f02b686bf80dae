"""The Glue Data Catalog: databases, tables and partitions in Glue's own shapes, kept as JSON.

Everything lives under `<workspace>/catalog/`: one file per database, per table and per
table's partitions, each replaced atomically (temp file + rename) so a crash never leaves a
half-written entry. Every read-modify-write holds the workspace's "catalog" lock (a flock, see
`Workspace.lock`), so several processes on one workspace never lose each other's changes.
Names are lower-cased as Glue stores them. Readers (the Athena engine, the CLI) resolve
`database.table` with `get_table`, which returns GetTable's `Table` shape.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.backends.objectstore import ObjectStore
from emulator.workspace import Workspace

if TYPE_CHECKING:
    from emulator.backends.crawler import Crawlers

ACCOUNT = "123456789012"
_BAD_NAME = re.compile(r"[/\\\x00-\x1f]|^\.\.?$")
# GetPartitions' Expression: `key op literal` terms joined by AND (the subset pipelines use).
_TERM = re.compile(r"\s*(\w+)\s*(=|<>|!=|<=|>=|<|>)\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?)\s*", re.IGNORECASE)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


class GlueError(Exception):
    """A Glue error with Glue's code (EntityNotFoundException, AlreadyExistsException, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def required(params: dict[str, Any], key: str, *, lists: bool = False) -> Any:
    """A required Glue API parameter, or InvalidInputException in AWS's words; `lists`: an empty list is missing too."""
    value = params.get(key)
    if value is None or value == "" or (lists and value == []):
        raise GlueError("InvalidInputException", f"1 validation error detected: Value null at '{key[0].lower()}"
                                                 f"{key[1:]}' failed to satisfy constraint: Member must not be null")
    return value


def now_iso() -> str:
    """Glue's timestamps as the SDK integration renders them: UTC, milliseconds, 'Z'."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def write_json(path: Path, value: Any) -> None:
    """Replace `path` with `value` as JSON; readers see the old or the new file, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(value, handle, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def entity_name(value: Any, what: str) -> str:
    """Validate a database/table name and return it lower-cased, as Glue stores it."""
    if not isinstance(value, str) or not value:
        raise GlueError("InvalidInputException", f"{what} name is required")
    if len(value) > 255 or _BAD_NAME.search(value):
        raise GlueError("InvalidInputException", f"{what} name '{value}' is not valid")
    return value.lower()


class Catalog:
    """One workspace's Data Catalog; safe across threads and processes, and shared state lives on disk."""

    def __init__(self, workspace: Workspace, object_store: ObjectStore) -> None:
        self.workspace = workspace
        self.object_store = object_store
        self.root = workspace.path("catalog")
        # Shared by parallel branches, crawler threads and other processes on the same workspace.
        self.lock = workspace.lock("catalog")

    @cached_property
    def crawlers(self) -> Crawlers:
        from emulator.backends.crawler import Crawlers

        return Crawlers(self)

    # -- where things are ----------------------------------------------------------------------
    def _db_dir(self, database: str) -> Path:
        return self.root / "databases" / database

    def _table_file(self, database: str, table: str) -> Path:
        return self._db_dir(database) / "tables" / f"{table}.json"

    def _partitions_file(self, database: str, table: str) -> Path:
        return self._db_dir(database) / "partitions" / f"{table}.json"

    def _require_database(self, database: str) -> str:
        name = entity_name(database, "Database")
        if not (self._db_dir(name) / "database.json").is_file():
            raise GlueError("EntityNotFoundException", f"Database {name} not found.")
        return name

    def _require_table(self, database: str, table: str) -> tuple[str, str, Path]:
        db = self._require_database(database)
        name = entity_name(table, "Table")
        path = self._table_file(db, name)
        if not path.is_file():
            raise GlueError("EntityNotFoundException", f"Table {name} not found.")
        return db, name, path

    # -- databases -----------------------------------------------------------------------------
    def create_database(self, database_input: dict[str, Any]) -> None:
        """CreateDatabase's DatabaseInput: Name, Description?, LocationUri?, Parameters?."""
        name = entity_name(database_input.get("Name"), "Database")
        with self.lock:
            path = self._db_dir(name) / "database.json"
            if path.is_file():
                raise GlueError("AlreadyExistsException", f"Database already exists: {name}")
            database = {"Name": name, **{k: v for k, v in database_input.items() if k != "Name"},
                        "CreateTime": now_iso(), "CatalogId": ACCOUNT}
            database.setdefault("Parameters", {})
            write_json(path, database)

    def ensure_database(self, name: str) -> None:
        """Create the database if it is missing (a crawler's output database)."""
        with self.lock:
            if not (self._db_dir(entity_name(name, "Database")) / "database.json").is_file():
                self.create_database({"Name": name})

    def get_database(self, name: str) -> dict[str, Any]:
        db = self._require_database(name)
        return read_json(self._db_dir(db) / "database.json")

    def get_databases(self) -> list[dict[str, Any]]:
        folder = self.root / "databases"
        names = sorted(p.name for p in folder.iterdir() if (p / "database.json").is_file()) if folder.is_dir() else []
        return [read_json(self._db_dir(name) / "database.json") for name in names]

    # -- tables --------------------------------------------------------------------------------
    def create_table(self, database: str, table_input: dict[str, Any]) -> None:
        """CreateTable's TableInput (Name, StorageDescriptor, PartitionKeys, TableType, Parameters)."""
        with self.lock:
            db = self._require_database(database)
            name = entity_name(table_input.get("Name"), "Table")
            path = self._table_file(db, name)
            if path.is_file():
                raise GlueError("AlreadyExistsException", f"Table already exists: {name}")
            stamp = now_iso()
            write_json(path, _table(db, name, table_input, stamp, stamp, "0"))

    def update_table(self, database: str, table_input: dict[str, Any]) -> None:
        """UpdateTable: replaces the definition, keeps CreateTime, bumps VersionId."""
        with self.lock:
            db, name, path = self._require_table(database, table_input.get("Name", ""))
            old = read_json(path)
            version = str(int(old.get("VersionId", "0")) + 1)
            write_json(path, _table(db, name, table_input, old["CreateTime"], now_iso(), version))

    def get_table(self, database: str, name: str) -> dict[str, Any]:
        """GetTable's `Table`: StorageDescriptor (Columns, Location, formats, SerdeInfo), PartitionKeys, ..."""
        return read_json(self._require_table(database, name)[2])

    def get_tables(self, database: str) -> list[dict[str, Any]]:
        db = self._require_database(database)
        folder = self._db_dir(db) / "tables"
        files = sorted(folder.glob("*.json")) if folder.is_dir() else []
        return [read_json(path) for path in files]

    def delete_table(self, database: str, name: str) -> None:
        with self.lock:
            db, table, path = self._require_table(database, name)
            path.unlink()
            self._partitions_file(db, table).unlink(missing_ok=True)

    # -- partitions ----------------------------------------------------------------------------
    def _load_partitions(self, database: str, table: str) -> list[dict[str, Any]]:
        path = self._partitions_file(database, table)
        return read_json(path) if path.is_file() else []

    def batch_create_partitions(self, database: str, table: str,
                                partition_inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """BatchCreatePartition: adds what is new; returns Glue's `Errors` for the rest."""
        with self.lock:
            db, name, _ = self._require_table(database, table)
            partitions = self._load_partitions(db, name)
            known = {tuple(p["Values"]) for p in partitions}
            errors, stamp = [], now_iso()
            for item in partition_inputs:
                values = [str(v) for v in item.get("Values", [])]
                if tuple(values) in known:
                    errors.append({"PartitionValues": values, "ErrorDetail": {
                        "ErrorCode": "AlreadyExistsException", "ErrorMessage": "Partition already exists."}})
                    continue
                known.add(tuple(values))
                partitions.append({**item, "Values": values, "DatabaseName": db, "TableName": name,
                                   "CreationTime": stamp, "CatalogId": ACCOUNT})
            write_json(self._partitions_file(db, name), partitions)
            return errors

    def batch_delete_partitions(self, database: str, table: str, values_list: list[list[str]]) -> None:
        with self.lock:
            db, name, _ = self._require_table(database, table)
            drop = {tuple(values) for values in values_list}
            kept = [p for p in self._load_partitions(db, name) if tuple(p["Values"]) not in drop]
            write_json(self._partitions_file(db, name), kept)

    def get_partitions(self, database: str, table: str, expression: str | None = None) -> list[dict[str, Any]]:
        """GetPartitions, optionally filtered by an Expression such as `year = '2024' AND month > '01'`."""
        db, name, path = self._require_table(database, table)
        partitions = self._load_partitions(db, name)
        if expression and expression.strip():
            keys = [k["Name"] for k in read_json(path).get("PartitionKeys", [])]
            test = _partition_filter(expression, keys)
            partitions = [p for p in partitions if test(p["Values"])]
        return partitions


def _table(database: str, name: str, table_input: dict[str, Any], created: str, updated: str,
           version: str) -> dict[str, Any]:
    table = {k: v for k, v in table_input.items() if k != "Name"}
    table.setdefault("PartitionKeys", [])
    table.setdefault("TableType", "EXTERNAL_TABLE")
    table.setdefault("Parameters", {})
    return {"Name": name, "DatabaseName": database, **table, "CreateTime": created, "UpdateTime": updated,
            "Retention": 0, "IsRegisteredWithLakeFormation": False, "CatalogId": ACCOUNT, "VersionId": version}


def _partition_filter(expression: str, keys: list[str]) -> Any:
    """Compile an Expression into a test on a partition's Values (numbers compare as numbers)."""
    tests = []
    for term in _AND.split(expression.strip()):
        match = _TERM.fullmatch(term)
        if match is None or match.group(1).lower() not in keys:
            raise GlueError("InvalidInputException", f"Unsupported expression: {expression}")
        index, op, literal = keys.index(match.group(1).lower()), match.group(2), match.group(3)
        value: Any = literal[1:-1].replace("''", "'") if literal.startswith("'") else float(literal)
        tests.append((index, op, value))

    def compare(values: list[str]) -> bool:
        for index, op, value in tests:
            left: Any = values[index]
            if isinstance(value, float):
                try:
                    left = float(left)
                except ValueError:
                    return False
            if not _OPS[op](left, value):
                return False
        return True

    return compare


_OPS = {
    "=": lambda a, b: a == b, "<>": lambda a, b: a != b, "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
}
