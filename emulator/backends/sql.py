"""Athena's SQL engine on DuckDB: query executions, their results, CTAS and INSERT INTO.

A query (Athena SQL: Trino's dialect) is parsed once with sqlglot; its table references are
looked up in the Glue catalog and pointed at DuckDB views, and the DuckDB translation runs on
one in-process connection (a cursor per query, so Parallel branches can query at once).
A catalog table becomes the view `awsdatacatalog."<db>"."<table>"` over the files under its
Location (Parquet, CSV or JSON; `key=value` directories are partition columns), typed as the
catalog declares. The view is rebuilt only when the table's definition or its file list
changes, so a repeated query pays for its parse, a directory walk and its own run.

Executions are saved under `<workspace>/athena/` and survive restarts. A SELECT's result goes
to the OutputLocation as Athena writes it (`<id>.csv`, every value quoted, NULL empty; and
`<id>.csv.metadata`), and a typed copy beside the execution serves GetQueryResults' pages.
An error in the SQL ends the query FAILED with Trino's StateChangeReason style
("TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.db.t' does not exist"); only malformed
API calls (unknown id, bad NextToken, results of an unfinished query) raise AthenaError.

A query sees only the catalog's data, as in Athena: `sqlguard.check` refuses DuckDB's table
functions, host statements and system functions before DuckDB sees the query, and the
connection itself may open files only under the buckets' folders, loads no extension, and
has its configuration locked.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.feather as feather
import pyarrow.ipc
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from emulator import background
from emulator.backends.catalog import Catalog, GlueError, entity_name
from emulator.backends.objectstore import ObjectStore, S3Error, parse_uri
from emulator.backends.sqlguard import Rejected, check, refers_to_cte
from emulator.workspace import Workspace

DEFAULT_OUTPUT_LOCATION = "s3://sfn-local-athena-results/"
DEFAULT_DATABASE = "default"
_CATALOG = "awsdatacatalog"  # the DuckDB database holding one schema per Glue database
_MAX_RESULTS = 1000
_FINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
_ENGINE_VERSION = {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"}
_PARQUET_SERDE = {
    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    "Parameters": {"serialization.format": "1"},
}

# DuckDB result type → (Athena's ColumnInfo Type, Precision); unlisted types are reported as varchar.
_ATHENA_TYPES = {
    "VARCHAR": ("varchar", 2147483647), "BIGINT": ("bigint", 19), "HUGEINT": ("bigint", 19),
    "UBIGINT": ("bigint", 19), "INTEGER": ("integer", 10), "UINTEGER": ("bigint", 19),
    "SMALLINT": ("smallint", 5), "USMALLINT": ("integer", 10), "TINYINT": ("tinyint", 3),
    "UTINYINT": ("smallint", 5), "DOUBLE": ("double", 17), "FLOAT": ("float", 7), "BOOLEAN": ("boolean", 0),
    "DATE": ("date", 0), "TIMESTAMP": ("timestamp", 3), "TIMESTAMP WITH TIME ZONE": ("timestamp with time zone", 3),
    "TIME": ("time", 3), "BLOB": ("varbinary", 2147483647), "INTERVAL": ("interval day to second", 0),
    "UUID": ("uuid", 0), "JSON": ("json", 0),
}
# DuckDB names integer types wider than Hive's; CTAS/INSERT write them as BIGINT.
_WIDE_INTEGERS = frozenset({"HUGEINT", "UHUGEINT", "UBIGINT"})

_COLUMN_RE = re.compile(r'Referenced column "([^"]+)" not found|does not have a column named "([^"]+)"')
_FUNCTION_RE = re.compile(r"Function with name (\w+) does not exist")
_GROUP_BY_RE = re.compile(r'column "([^"]+)" must appear in the GROUP BY clause')


class AthenaError(Exception):
    """An Athena API error (InvalidRequestException, ...): the request itself was wrong."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _QueryFailed(Exception):
    """Ends a query FAILED; `reason` is its StateChangeReason in Trino's words."""

    def __init__(self, name: str, message: str, node: exp.Expression | None = None, category: int = 2,
                 where: tuple[int, int] | None = None) -> None:
        where = where or (_position(node) if node is not None else None)
        self.reason = f"{name}: line {where[0]}:{where[1]}: {message}" if where else f"{name}: {message}"
        self.category = category  # AthenaError.ErrorCategory: 1 system, 2 user
        super().__init__(self.reason)


@dataclass
class _Execution:
    record: dict[str, Any]  # the QueryExecution shape
    tree: exp.Expression | None = None
    error: _QueryFailed | None = None  # a syntax error found at submission
    columns: list[dict[str, Any]] = field(default_factory=list)
    update_count: int = 0
    cursor: duckdb.DuckDBPyConnection | None = None

    def saved(self) -> dict[str, Any]:
        return {"QueryExecution": self.record, "ColumnInfo": self.columns, "UpdateCount": self.update_count}


class QueryEngine:
    """Athena's StartQueryExecution / GetQueryExecution / GetQueryResults / StopQueryExecution."""

    def __init__(self, workspace: Workspace, object_store: ObjectStore, catalog: Catalog) -> None:
        self.workspace = workspace
        self.object_store = object_store
        self.catalog = catalog
        self._dir = workspace.path("athena")
        self._con = duckdb.connect()
        self._con.execute(f"ATTACH ':memory:' AS {_CATALOG}")
        self._confine()
        self._views: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._schemas: set[str] = set()
        self._view_lock = threading.Lock()
        self._executions: dict[str, _Execution] = {}
        self._lock = threading.Lock()

    def _confine(self) -> None:
        """Let DuckDB touch only the buckets' folders, fetch no extension, and keep it so.

        Queries run on cursors of this connection; the settings are global to it, and the lock
        makes a SET in a query fail. Views read their files lazily, from the allowed folders.
        """
        store = self.workspace.root / "s3"
        folders = sorted({str(store), *(str(p) for p in self.workspace.config.buckets.values())})
        allowed = "[" + ", ".join(_literal(f.rstrip("/") + "/") for f in folders) + "]"
        self._con.execute(f"SET allowed_directories = {allowed}")
        # Spills go to the workspace, not a `.tmp` in whatever the current directory is.
        self._con.execute(f"SET temp_directory = {_literal(str(self._dir / '.duckdb-tmp'))}")
        for setting in ("enable_external_access", "autoinstall_known_extensions", "autoload_known_extensions",
                        "python_enable_replacements"):
            self._con.execute(f"SET {setting} = false")
        self._con.execute("SET lock_configuration = true")

    # -- the API ------------------------------------------------------------------------------
    def start_query_execution(self, query: str, *, database: str | None = None, catalog: str | None = None,
                              output_location: str | None = None, work_group: str = "primary",
                              wait: bool = True) -> str:
        """Submit a query; returns its QueryExecutionId.

        With `wait` the query has finished when this returns (what Task states want: the next
        GetQueryExecution sees the outcome, so runs are deterministic); otherwise it runs on a
        thread of its own and StopQueryExecution can cancel it.
        """
        if not isinstance(query, str) or not query.strip():
            raise AthenaError("InvalidRequestException", "QueryString must be a non-empty string")
        query_id = str(uuid.uuid4())
        output = output_location or DEFAULT_OUTPUT_LOCATION
        try:
            parse_uri(output)
        except S3Error:
            raise AthenaError("InvalidRequestException", f"{output} is not a valid S3 path.") from None
        context = {"Database": (database or DEFAULT_DATABASE).lower(), "Catalog": catalog or "awsdatacatalog"}
        ex = _Execution({
            "QueryExecutionId": query_id,
            "Query": query,
            "StatementType": "DML",
            "ResultConfiguration": {"OutputLocation": output.rstrip("/") + f"/{query_id}.csv"},
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": context,
            "Status": {"State": "QUEUED", "SubmissionDateTime": _now_ms()},
            "Statistics": {"EngineExecutionTimeInMillis": 0, "DataScannedInBytes": 0,
                           "TotalExecutionTimeInMillis": 0, "QueryQueueTimeInMillis": 0},
            "WorkGroup": work_group,
            "EngineVersion": dict(_ENGINE_VERSION),
        })
        try:
            ex.tree = _parse(query)
            ex.record["StatementType"], ex.record["SubstatementType"] = _statement_type(ex.tree)
            check(ex.tree, query)
        except _QueryFailed as failed:
            ex.error = failed
        except Rejected as rejected:
            ex.error = _QueryFailed(rejected.name, rejected.message, rejected.node, where=rejected.where)
        with self._lock:
            self._executions[query_id] = ex
        self._save(ex)
        if wait:
            self._run(ex)
        else:
            background.spawn(self._run, ex, name=f"athena-{query_id}")
        return query_id

    def get_query_execution(self, query_execution_id: str) -> dict[str, Any]:
        ex = self._execution(query_execution_id)
        with self._lock:
            return json.loads(json.dumps(ex.record))

    def get_query_results(self, query_execution_id: str, max_results: int | None = None,
                          next_token: str | None = None) -> dict[str, Any]:
        """One page of a finished query's rows in Athena's ResultSet shape, header row first."""
        limit = _MAX_RESULTS if max_results is None else max_results
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_RESULTS:
            raise AthenaError("InvalidRequestException", f"1 validation error detected: Value '{max_results}' at "
                                                         "'maxResults' failed to satisfy constraint: Member must have "
                                                         f"value between 1 and {_MAX_RESULTS}")
        ex = self._execution(query_execution_id)
        state = ex.record["Status"]["State"]
        if state != "SUCCEEDED":
            if state in _FINAL:
                raise AthenaError("InvalidRequestException",
                                  f"Query did not finish successfully. Final query state: {state}")
            raise AthenaError("InvalidRequestException", f"Query has not yet finished. Current state: {state}")
        offset = _decode_token(next_token, query_execution_id) if next_token else 0
        rows: list[dict[str, Any]] = []
        total = 0
        if ex.columns:  # a SELECT: the header row, then the data rows, paged as one sequence
            table = self._results(query_execution_id)
            total = table.num_rows + 1
            if offset == 0:
                rows.append({"Data": [{"VarCharValue": c["Name"]} for c in ex.columns]})
            page = table.slice(max(0, offset - 1), limit - len(rows))
            # Read by position, column at a time: result names may repeat (SELECT a, a).
            values = [page.column(i).to_pylist() for i in range(page.num_columns)]
            for row in zip(*values, strict=True):
                rows.append({"Data": [{} if v is None else {"VarCharValue": v} for v in row]})
        result: dict[str, Any] = {
            "UpdateCount": ex.update_count,
            "ResultSet": {"Rows": rows, "ResultSetMetadata": {"ColumnInfo": ex.columns}},
        }
        if offset + len(rows) < total:
            result["NextToken"] = _encode_token(query_execution_id, offset + len(rows))
        return result

    def stop_query_execution(self, query_execution_id: str) -> None:
        """Cancel a queued or running query; a finished one is left as it is (as Athena does)."""
        ex = self._execution(query_execution_id)
        with self._lock:
            if ex.record["Status"]["State"] in _FINAL:
                return
            self._finish(ex, "CANCELLED", "Query was cancelled by user")
            cursor = ex.cursor
        if cursor is not None:
            with contextlib.suppress(duckdb.ConnectionException):  # the query ended (and closed it) meanwhile
                cursor.interrupt()
        self._save(ex)

    # -- running a query ----------------------------------------------------------------------
    def _run(self, ex: _Execution) -> None:
        started = time.perf_counter()
        with self._lock:
            if ex.record["Status"]["State"] != "QUEUED":
                return  # cancelled while queued
            ex.record["Status"]["State"] = "RUNNING"
            ex.cursor = cursor = self._con.cursor()
        ex.record["Statistics"]["QueryQueueTimeInMillis"] = _now_ms() - ex.record["Status"]["SubmissionDateTime"]
        state, reason, category = "SUCCEEDED", None, 0
        try:
            if ex.error is not None:
                raise ex.error
            assert ex.tree is not None
            ex.record["Statistics"]["DataScannedInBytes"] = self._execute(ex, ex.tree, cursor)
        except _QueryFailed as failed:
            state, reason, category = "FAILED", failed.reason, failed.category
        except duckdb.InterruptException:
            state = "CANCELLED"
        except duckdb.Error as exc:
            failed = _translate(exc, ex.tree)
            state, reason, category = "FAILED", failed.reason, failed.category
        except Exception as exc:  # never let an engine fault escape: Athena reports it on the query
            state, reason, category = "FAILED", f"GENERIC_INTERNAL_ERROR: {type(exc).__name__}: {exc}", 1
        finally:
            cursor.close()
            ex.tree = None  # only this run needed it
        engine_ms = int((time.perf_counter() - started) * 1000)
        with self._lock:
            ex.cursor = None
            ex.record["Statistics"]["EngineExecutionTimeInMillis"] = engine_ms
            if ex.record["Status"]["State"] == "RUNNING":  # not cancelled meanwhile
                self._finish(ex, state, reason, category)
        self._save(ex)

    def _finish(self, ex: _Execution, state: str, reason: str | None, category: int = 2) -> None:
        status = ex.record["Status"]
        status["State"] = state
        status["CompletionDateTime"] = _now_ms()
        if reason:
            status["StateChangeReason"] = reason
        if state == "FAILED":
            # ErrorType 1000 is "User error", 200 "Query engine had an internal error" (Athena error catalog).
            status["AthenaError"] = {"ErrorCategory": category, "ErrorType": 1000 if category == 2 else 200,
                                     "Retryable": False, "ErrorMessage": reason}
        ex.record["Statistics"]["TotalExecutionTimeInMillis"] = status["CompletionDateTime"] - status[
            "SubmissionDateTime"]

    def _execute(self, ex: _Execution, tree: exp.Expression, cursor: duckdb.DuckDBPyConnection) -> int:
        """Run the statement; returns the bytes of table data it read."""
        context = ex.record["QueryExecutionContext"]
        if context["Catalog"].lower() != _CATALOG:
            raise _QueryFailed("CATALOG_NOT_FOUND", f"Catalog '{context['Catalog']}' does not exist")
        database = context["Database"]
        if isinstance(tree, exp.Values):  # a bare VALUES list is a query of its own
            width = len(tree.expressions[0].expressions) if isinstance(tree.expressions[0], exp.Tuple) else 1
            tree = exp.select("*").from_(exp.Subquery(this=tree.copy(), alias=exp.TableAlias(
                this=exp.to_identifier("t"), columns=[exp.to_identifier(f"_col{i}") for i in range(width)])))
        if isinstance(tree, exp.Query):
            scanned = self._bind_tables(tree, database, cursor)
            self._select(ex, _duckdb_sql(tree), cursor)
            return scanned
        if isinstance(tree, exp.Create) and tree.kind == "TABLE" and isinstance(tree.expression, exp.Query):
            return self._create_table_as(ex, tree, database, cursor)
        if isinstance(tree, exp.Insert) and isinstance(tree.expression, (exp.Query, exp.Values)):
            return self._insert(ex, tree, database, cursor)
        statement = tree.sql(dialect="trino").split(None, 2)[:2]
        raise _QueryFailed("NOT_SUPPORTED", f"sfn-local runs SELECT, CREATE TABLE AS SELECT and INSERT INTO; "
                                            f"not {' '.join(statement).upper()}")

    def _select(self, ex: _Execution, sql: str, cursor: duckdb.DuckDBPyConnection) -> None:
        relation = cursor.sql(sql)  # binds only: names and types, nothing run yet
        names = [n.lower() for n in relation.columns]
        types = [str(t) for t in relation.types]
        inner = ", ".join(f"c{i}" for i in range(len(names)))
        shown = ", ".join(f"{_as_text(f'c{i}', t)} AS c{i}" for i, t in enumerate(types))
        # Athena's results are text: format once in DuckDB, then write the CSV and keep the copy.
        text = cursor.sql(f"SELECT {shown} FROM ({sql}) AS q({inner})").to_arrow_table()
        text = text.rename_columns(names)
        ex.columns = [_column_info(n, t) for n, t in zip(names, types, strict=True)]
        # The Arrow IPC file (Feather v2) written directly: write_feather would import pandas (~0.3 s) to
        # check whether it was given a DataFrame.
        with pa.ipc.new_file(self._dir / f"{ex.record['QueryExecutionId']}.arrow", text.schema) as results:
            results.write_table(text)
        target = self._local(ex.record["ResultConfiguration"]["OutputLocation"])
        pa_csv.write_csv(text, target, pa_csv.WriteOptions(quoting_style="all_valid"))
        # The real .metadata is Athena's binary encoding of ResultSetMetadata; ours holds the same as JSON.
        Path(f"{target}.metadata").write_text(json.dumps({"ColumnInfo": ex.columns}), encoding="utf-8")

    def _create_table_as(self, ex: _Execution, tree: exp.Create, database: str,
                         cursor: duckdb.DuckDBPyConnection) -> int:
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        db, name = (target.db or database).lower(), target.name.lower()
        try:
            entity_name(name, "Table")
        except GlueError as exc:  # before any file is written
            raise _QueryFailed("HIVE_METASTORE_ERROR", exc.message, target) from None
        props = _properties(tree)
        fmt = str(props.get("format", "PARQUET")).upper()
        if fmt != "PARQUET":
            raise _QueryFailed("NOT_SUPPORTED", f"sfn-local writes CTAS tables as PARQUET, not {fmt}", target)
        if self._table(db, name, target) is not None:
            if tree.args.get("exists"):
                return 0
            raise _QueryFailed("TABLE_ALREADY_EXISTS", f"Destination table '{db}.{name}' already exists", target)
        results = ex.record["ResultConfiguration"]["OutputLocation"].rsplit("/", 1)[0]
        location = str(props.get("external_location") or f"{results}/tables/{ex.record['QueryExecutionId']}/")
        location = location.rstrip("/") + "/"
        if _files(self._local(location, create=False)):
            raise _QueryFailed("HIVE_PATH_ALREADY_EXISTS", f"Target directory for table '{db}.{name}' already "
                                                           f"exists: {location}. You may need to manually clean the "
                                                           "data at location before running CTAS again.")
        partitions = [str(p).lower() for p in props.get("partitioned_by", [])]
        query = tree.expression
        scanned = self._bind_tables(query, database, cursor)
        sql = _duckdb_sql(query)
        relation = cursor.sql(sql)
        names = [n.lower() for n in relation.columns]
        types = [str(t) for t in relation.types]
        if partitions and names[-len(partitions):] != partitions:
            raise _QueryFailed("INVALID_TABLE_PROPERTY", "Partition keys must be the last columns in the table and "
                                                         f"in the same order as the table properties: {partitions}")
        types = ["BIGINT" if t in _WIDE_INTEGERS else t for t in types]
        inner = ", ".join(f"c{i}" for i in range(len(names)))
        select = ", ".join(f"CAST(c{i} AS {t}) AS {_quote(n)}" for i, (n, t) in enumerate(zip(names, types,
                                                                                                strict=True)))
        rows = self._write_parquet(cursor, f"SELECT {select} FROM ({sql}) AS q({inner})", location, partitions,
                                   ex.record["QueryExecutionId"])
        data = [(n, t) for n, t in zip(names, types, strict=True) if n not in partitions]
        keys = [(n, types[names.index(n)]) for n in partitions]
        self.catalog.create_table(db, {
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": _glue_type(t)} for n, t in data],
                "Location": location,
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": _PARQUET_SERDE,
            },
            "PartitionKeys": [{"Name": n, "Type": _glue_type(t)} for n, t in keys],
            "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE", "has_encrypted_data": "false"},
        })
        self._register_partitions(db, name, location, partitions, ex.record["QueryExecutionId"])
        ex.update_count = rows
        return scanned

    def _insert(self, ex: _Execution, tree: exp.Insert, database: str, cursor: duckdb.DuckDBPyConnection) -> int:
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        listed = [c.name.lower() for c in tree.this.expressions] if isinstance(tree.this, exp.Schema) else None
        db, name = (target.db or database).lower(), target.name.lower()
        table = self._table(db, name, target)
        if table is None:
            raise _QueryFailed("TABLE_NOT_FOUND", f"Table '{_CATALOG}.{db}.{name}' does not exist", target)
        if _format(table) != "parquet":
            raise _QueryFailed("NOT_SUPPORTED", f"sfn-local inserts into Parquet tables only; '{db}.{name}' is "
                                                f"{_format(table)}", target)
        storage = table.get("StorageDescriptor", {})
        keys = [k["Name"].lower() for k in table.get("PartitionKeys", [])]
        columns = [(c["Name"].lower(), _duck_type(c["Type"]))
                   for c in storage.get("Columns", []) + table.get("PartitionKeys", [])]
        scanned = self._bind_tables(tree.expression, database, cursor)
        sql = _duckdb_sql(tree.expression)
        width = len(cursor.sql(sql).columns)
        listed = listed or [n for n, _ in columns]
        unknown = [c for c in listed if c not in dict(columns)]
        if unknown:
            raise _QueryFailed("COLUMN_NOT_FOUND", f"Insert column name does not exist in target table: {unknown[0]}",
                               target)
        if width != len(listed):
            raise _QueryFailed("TYPE_MISMATCH", "Insert query has mismatched column sizes: "
                                                f"Table: [{len(listed)}], Query: [{width}]", tree.expression)
        inner = ", ".join(f"c{i}" for i in range(width))
        select = ", ".join(
            f"CAST(c{listed.index(n)} AS {t}) AS {_quote(n)}" if n in listed else f"CAST(NULL AS {t}) AS {_quote(n)}"
            for n, t in columns)
        location = storage["Location"].rstrip("/") + "/"
        ex.update_count = self._write_parquet(cursor, f"SELECT {select} FROM ({sql}) AS q({inner})", location, keys,
                                              ex.record["QueryExecutionId"])
        self._register_partitions(db, name, location, keys, ex.record["QueryExecutionId"])
        return scanned

    def _write_parquet(self, cursor: duckdb.DuckDBPyConnection, select: str, location: str, partitions: list[str],
                       query_id: str) -> int:
        """Write a query's rows as Parquet under `location`, beside what is there; returns the row count."""
        folder = self._local(location, create=True)
        if partitions:
            keys = ", ".join(_quote(p) for p in partitions)
            target = _literal(str(folder))
            options = f"FORMAT PARQUET, PARTITION_BY ({keys}), FILENAME_PATTERN '{query_id}_{{uuid}}', APPEND"
        else:
            target = _literal(str(folder / f"{query_id}_{uuid.uuid4().hex[:8]}.parquet"))
            options = "FORMAT PARQUET"
        row = cursor.execute(f"COPY ({select}) TO {target} ({options})").fetchone()
        return int(row[0]) if row else 0

    def _register_partitions(self, db: str, name: str, location: str, keys: list[str], query_id: str) -> None:
        """Add the `k=v/` partitions this query wrote files to (Athena registers them on CTAS/INSERT)."""
        if not keys:
            return
        root = self._local(location, create=False)
        found: set[tuple[str, ...]] = set()
        for path, _ in _files(root):
            if not os.path.basename(path).startswith(query_id):
                continue
            parts = Path(path).relative_to(root).parts[:len(keys)]
            if len(parts) == len(keys) and all(p.startswith(f"{k}=") for p, k in zip(parts, keys, strict=True)):
                found.add(tuple(p.split("=", 1)[1] for p in parts))
        storage = self.catalog.get_table(db, name).get("StorageDescriptor", {})
        self.catalog.batch_create_partitions(db, name, [
            {"Values": list(values),
             "StorageDescriptor": {**storage, "Location": location + "/".join(
                 f"{k}={v}" for k, v in zip(keys, values, strict=True)) + "/"}}
            for values in sorted(found)])

    # -- catalog tables as views --------------------------------------------------------------
    def _table(self, db: str, name: str, node: exp.Expression) -> dict[str, Any] | None:
        """The catalog's table, or None when the database exists but the table does not."""
        try:
            return self.catalog.get_table(db, name)
        except GlueError as exc:
            if exc.code not in ("EntityNotFoundException", "InvalidInputException"):
                raise _QueryFailed("GENERIC_INTERNAL_ERROR", exc.message, node, category=1) from None
            if exc.message.startswith("Database"):
                raise _QueryFailed("SCHEMA_NOT_FOUND", f"Schema '{db}' does not exist", node) from None
            return None

    def _bind_tables(self, tree: exp.Expression, database: str, cursor: duckdb.DuckDBPyConnection) -> int:
        """Point every catalog table the query names at its view; returns the bytes under their locations."""
        scanned = 0
        for node in list(tree.find_all(exp.Table)):
            if refers_to_cte(node):
                continue
            if node.catalog and node.catalog.lower() != _CATALOG:
                raise _QueryFailed("CATALOG_NOT_FOUND", f"Catalog '{node.catalog}' does not exist", node)
            db, name = (node.db or database).lower(), node.name.lower()
            table = self._table(db, name, node)
            if table is None:
                raise _QueryFailed("TABLE_NOT_FOUND", f"Table '{_CATALOG}.{db}.{name}' does not exist", node)
            scanned += self._ensure_view(db, name, table, cursor)
            node.set("catalog", exp.to_identifier(_CATALOG))
            node.set("db", exp.to_identifier(db, quoted=True))
            node.set("this", exp.to_identifier(name, quoted=True))
        return scanned

    def _ensure_view(self, db: str, name: str, table: dict[str, Any], cursor: duckdb.DuckDBPyConnection) -> int:
        storage = table.get("StorageDescriptor", {})
        location = storage.get("Location", "")
        files = _files(self._local(location, create=False)) if location else []
        signature = (json.dumps([storage.get("Columns"), storage.get("SerdeInfo"), table.get("PartitionKeys"),
                                 table.get("Parameters"), location], sort_keys=True, default=str),
                     tuple(path for path, _ in files))
        with self._view_lock:
            if self._views.get((db, name)) != signature:
                if db not in self._schemas:
                    cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {_CATALOG}.{_quote(db)}")
                    self._schemas.add(db)
                view = f"{_CATALOG}.{_quote(db)}.{_quote(name)}"
                cursor.execute(f"CREATE OR REPLACE VIEW {view} AS {_view_sql(table, files, cursor)}")
                self._views[(db, name)] = signature
        return sum(size for _, size in files)

    # -- storage ------------------------------------------------------------------------------
    def _local(self, uri: str, create: bool = True) -> Path:
        path = self.object_store.local_path(uri)
        if create:
            (path if uri.endswith("/") else path.parent).mkdir(parents=True, exist_ok=True)
        return path

    def _execution(self, query_execution_id: str) -> _Execution:
        with self._lock:
            ex = self._executions.get(query_execution_id)
        if ex is not None:
            return ex
        path = self._dir / f"{query_execution_id}.json"
        if not isinstance(query_execution_id, str) or "/" in query_execution_id or not path.is_file():
            raise AthenaError("InvalidRequestException", f"QueryExecution {query_execution_id} was not found")
        saved = json.loads(path.read_text(encoding="utf-8"))
        ex = _Execution(saved["QueryExecution"], columns=saved["ColumnInfo"], update_count=saved["UpdateCount"])
        with self._lock:
            return self._executions.setdefault(query_execution_id, ex)

    def _save(self, ex: _Execution) -> None:
        with self._lock:
            text = json.dumps(ex.saved())
        path = self._dir / f"{ex.record['QueryExecutionId']}.json"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)

    def _results(self, query_execution_id: str) -> pa.Table:
        return feather.read_table(self._dir / f"{query_execution_id}.arrow", memory_map=True)


# -- SQL helpers ------------------------------------------------------------------------------------
def _parse(query: str) -> exp.Expression:
    try:
        statements = [s for s in sqlglot.parse(query, read="trino") if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line, col = first.get("line", 1), first.get("col", 1)
        start = max(1, col - len(first.get("highlight", "")) + 1)
        near = first.get("highlight", "")
        raise _QueryFailed("SYNTAX_ERROR", f"line {line}:{start}: mismatched input '{near}'. "
                                           f"{first.get('description', str(exc))}") from None
    except TokenError as exc:  # an unclosed quote or comment: sqlglot fails before parsing
        raise _QueryFailed("SYNTAX_ERROR", f"line 1:1: {exc}") from None
    if len(statements) != 1:
        raise _QueryFailed("SYNTAX_ERROR", "Only one sql statement is allowed. Got: " + str(len(statements)))
    return statements[0]


def _statement_type(tree: exp.Expression) -> tuple[str, str]:
    """(StatementType, SubstatementType) as Athena reports them; CTAS counts as DML."""
    if isinstance(tree, (exp.Query, exp.Values)):
        return "DML", "SELECT"
    if isinstance(tree, exp.Create) and isinstance(tree.expression, exp.Query):
        return "DML", "CREATE_TABLE_AS_SELECT"
    if isinstance(tree, exp.Insert):
        return "DML", "INSERT"
    if isinstance(tree, exp.Describe) or (isinstance(tree, exp.Command) and tree.name.upper() in ("SHOW", "EXPLAIN")):
        return "UTILITY", tree.key.upper() if isinstance(tree, exp.Describe) else tree.name.upper()
    return "DDL", tree.key.upper()


def _duckdb_sql(query: exp.Expression) -> str:
    """The DuckDB text of a (table-bound) query; unnamed outputs get Trino's `_colN` names."""
    if isinstance(query, exp.Query):
        for i, projection in enumerate(query.selects):
            if not isinstance(projection, (exp.Column, exp.Alias, exp.Star)):
                projection.replace(exp.alias_(projection.copy(), f"_col{i}", quoted=True))
    return query.sql(dialect="duckdb")


def _position(node: exp.Expression) -> tuple[int, int] | None:
    """Line and 1-based column where a node starts in the query text (sqlglot keeps token spans)."""
    spans = [node.meta] if "line" in node.meta else [i.meta for i in node.find_all(exp.Identifier) if "line" in i.meta]
    if not spans:
        return None
    first = min(spans, key=lambda meta: meta.get("start", 0))
    return first["line"], first["col"] - (first.get("end", 0) - first.get("start", 0))


def _translate(exc: duckdb.Error, tree: exp.Expression | None) -> _QueryFailed:
    """A DuckDB error in Trino's words, pointing at the query's own text where we can find it."""
    message = str(exc).split("\n", 1)[0]
    message = re.sub(r"^\w+ Error: ", "", message)
    if m := _COLUMN_RE.search(message):
        column = m.group(1) or m.group(2)
        return _QueryFailed("COLUMN_NOT_FOUND", f"Column '{column}' cannot be resolved or requester is not "
                                                "authorized to access requested resources", _find_column(tree, column))
    if m := _GROUP_BY_RE.search(message):
        column = m.group(1)
        return _QueryFailed("EXPRESSION_NOT_AGGREGATE", f"'{column}' must be an aggregate expression or appear in "
                                                        "GROUP BY clause", _find_column(tree, column))
    if m := _FUNCTION_RE.search(message):
        node = next((f for f in tree.find_all(exp.Func) if f.sql_name().lower() == m.group(1).lower()), None) \
            if tree is not None else None
        return _QueryFailed("FUNCTION_NOT_FOUND", f"Function '{m.group(1).lower()}' not registered", node)
    if isinstance(exc, duckdb.ConversionException):
        return _QueryFailed("INVALID_CAST_ARGUMENT", message)
    if isinstance(exc, duckdb.ParserException):
        return _QueryFailed("SYNTAX_ERROR", message)
    return _QueryFailed("GENERIC_USER_ERROR", message)


def _find_column(tree: exp.Expression | None, name: str) -> exp.Expression | None:
    if tree is None:
        return None
    return next((c for c in tree.find_all(exp.Column) if c.name.lower() == name.lower()), None)


def _properties(tree: exp.Create) -> dict[str, Any]:
    """A CTAS's WITH (...) properties: format, external_location, partitioned_by, ... (lowercase names)."""
    found: dict[str, Any] = {}
    props = tree.args.get("properties")
    for prop in props.expressions if props else []:
        if isinstance(prop, exp.FileFormatProperty):
            found["format"] = prop.name or prop.this.sql()
        elif isinstance(prop, exp.PartitionedByProperty):
            values = prop.this.expressions if isinstance(prop.this, (exp.Array, exp.Schema, exp.Tuple)) else [prop.this]
            found["partitioned_by"] = [v.name for v in values]
        elif isinstance(prop, exp.Property):
            value = prop.args.get("value")
            found[prop.name.lower()] = [v.name for v in value.expressions] if isinstance(value, exp.Array) \
                else (value.name if value is not None else None)
    return found


def _view_sql(table: dict[str, Any], files: list[tuple[str, int]], cursor: duckdb.DuckDBPyConnection) -> str:
    """The SELECT behind a catalog table's view: its files read with the declared names and types."""
    storage = table.get("StorageDescriptor", {})
    data = [(c["Name"].lower(), _duck_type(c["Type"])) for c in storage.get("Columns", [])]
    keys = [(k["Name"].lower(), _duck_type(k["Type"])) for k in table.get("PartitionKeys", [])]
    if not files:
        return "SELECT " + ", ".join(f"CAST(NULL AS {t}) AS {_quote(n)}" for n, t in data + keys) + " WHERE false"
    paths = "[" + ", ".join(_literal(p) for p, _ in files) + "]"
    hive = "hive_partitioning=false"
    if keys:
        hive = "hive_partitioning=true, hive_types={" + ", ".join(f"{_literal(n)}: {_literal(t)}"
                                                                   for n, t in keys) + "}"
    fmt = _format(table)
    if fmt == "parquet":
        source = f"read_parquet({paths}, union_by_name=true, {hive})"
    else:
        declared = "{" + ", ".join(f"{_literal(n)}: {_literal(t)}" for n, t in data) + "}"
        if fmt == "json":
            source = f"read_json({paths}, format='newline_delimited', columns={declared}, {hive})"
        else:
            serde = (storage.get("SerdeInfo") or {}).get("Parameters") or {}
            delim = serde.get("field.delim") or serde.get("separatorChar") or ","
            quote = serde.get("quoteChar", '"' if "separatorChar" in serde else "")
            skip = int((table.get("Parameters") or {}).get("skip.header.line.count", "0"))
            source = (f"read_csv({paths}, columns={declared}, delim={_literal(delim)}, quote={_literal(quote)}, "
                      f"header={'true' if skip else 'false'}, auto_detect=false, {hive})")
    # Parquet files may lack a declared column (schema evolution): Athena reads it as NULL.
    present = {c.lower() for c in cursor.sql(f"SELECT * FROM {source} LIMIT 0").columns}
    columns = ", ".join(f"CAST({_quote(n)} AS {t}) AS {_quote(n)}" if n in present
                        else f"CAST(NULL AS {t}) AS {_quote(n)}" for n, t in data + keys)
    return f"SELECT {columns} FROM {source}"


def _format(table: dict[str, Any]) -> str:
    """parquet, json or csv: the table's classification, else what its SerDe says."""
    classification = str((table.get("Parameters") or {}).get("classification", "")).lower()
    if classification in ("parquet", "json", "csv"):
        return classification
    storage = table.get("StorageDescriptor", {})
    described = " ".join(str(v) for v in (storage.get("InputFormat"), (storage.get("SerdeInfo") or {}).get(
        "SerializationLibrary"))).lower()
    return "parquet" if "parquet" in described else "json" if "json" in described else "csv"


def _files(root: Path) -> list[tuple[str, int]]:
    """Data files under a table location, in order: Athena skips names starting with `_` or `.`."""
    if root.is_file():
        return [(str(root), root.stat().st_size)]
    found: list[tuple[str, int]] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(("_", ".")))
        for name in sorted(names):
            if not name.startswith(("_", ".")) and not name.endswith(".sfn-local-tmp"):
                path = os.path.join(folder, name)
                found.append((path, os.path.getsize(path)))
    return found


@lru_cache(maxsize=256)
def _duck_type(glue_type: str) -> str:
    """A Glue/Hive column type (`string`, `array<struct<a:int>>`, `decimal(10,2)`) in DuckDB's words."""
    built = exp.DataType.build(glue_type, dialect="hive")
    for node in built.find_all(exp.DataType):
        if node.this in exp.DataType.TEXT_TYPES:  # varchar(10), char(3): DuckDB has one unbounded text type
            node.set("expressions", [])
    return built.sql(dialect="duckdb")


@lru_cache(maxsize=256)
def _glue_type(duck_type: str) -> str:
    """A DuckDB type as a Glue column type: `string`, `bigint`, `array<struct<a:int>>`."""
    built = exp.DataType.build(duck_type, dialect="duckdb")
    return re.sub(r"\s+", "", built.sql(dialect="hive")).lower()


def _column_info(name: str, duck_type: str) -> dict[str, Any]:
    athena, precision = _ATHENA_TYPES.get(duck_type, ("varchar", 2147483647))
    scale = 0
    if m := re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", duck_type):
        athena, precision, scale = "decimal", int(m.group(1)), int(m.group(2))
    elif duck_type.endswith("[]"):
        athena, precision = "array", 0
    elif duck_type.startswith("STRUCT"):
        athena, precision = "row", 0
    elif duck_type.startswith("MAP"):
        athena, precision = "map", 0
    return {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name, "Type": athena,
            "Precision": precision, "Scale": scale, "Nullable": "UNKNOWN", "CaseSensitive": athena == "varchar"}


def _as_text(column: str, duck_type: str) -> str:
    """How Athena prints a value: timestamps with milliseconds, everything else DuckDB's text form."""
    if duck_type == "TIMESTAMP":
        return f"strftime({column}, '%Y-%m-%d %H:%M:%S.%g')"
    if duck_type == "VARCHAR":
        return column
    return f"CAST({column} AS VARCHAR)"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _encode_token(query_id: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{query_id}:{offset}".encode()).decode()


def _decode_token(token: str, query_id: str) -> int:
    try:
        owner, _, offset = base64.urlsafe_b64decode(token.encode()).decode().rpartition(":")
        if owner == query_id and int(offset) >= 0:
            return int(offset)
    except (ValueError, UnicodeDecodeError):
        pass
    raise AthenaError("InvalidRequestException", "The NextToken is not valid for this query")


def _now_ms() -> int:
    return int(time.time() * 1000)
