"""Athena SQL sees only the catalog's data: DuckDB's file readers, host statements and system functions
are refused (FAILED with Trino's words), and never hand back a host file's content."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import emulator
import emulator.integrations.athena  # registers the service
from emulator.backends import Backends
from emulator.backends.sql import AthenaError, QueryEngine
from emulator.cli import cli
from emulator.workspace import Config, Workspace

RESULTS = "s3://query-results/athena/"


class Lake:
    """A workspace with one CSV table (sales.people), a mapped bucket, and a secret file outside it all."""

    def __init__(self, root: Path) -> None:
        self.marker = f"SECRET-{uuid.uuid4().hex}"
        self.secret = root / "host" / "secret.txt"
        self.secret.parent.mkdir(parents=True)
        self.secret.write_text(f"{self.marker},{self.marker}\n{self.marker},x\n", encoding="utf-8")
        mapped = root / "project" / "raw-data"
        mapped.mkdir(parents=True)
        (mapped / "c.csv").write_text("id,city\n1,oslo\n2,lima\n", encoding="utf-8")
        self.ws = Workspace(root=root / "ws", project=root / "project", config=Config(buckets={"raw": mapped}))
        self.backends = Backends(self.ws)
        store, catalog = self.backends.object_store, self.backends.catalog
        store.put("lake", "people/p.csv", b"id,name\n1,ann\n2,bob\n")
        # The same secret inside a bucket: DuckDB may open that folder, but no Athena query names it.
        self.inside = store.local_path("s3://lake/loose/secret.txt")
        store.put("lake", "loose/secret.txt", self.secret.read_bytes())
        catalog.create_database({"Name": "sales"})
        for name, location, second in (("people", "s3://lake/people/", "name"), ("cities", "s3://raw/", "city")):
            catalog.create_table("sales", {
                "Name": name, "Parameters": {"classification": "csv", "skip.header.line.count": "1"},
                "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "int"}, {"Name": second, "Type": "string"}],
                                      "Location": location, "SerdeInfo": {"Parameters": {"field.delim": ","}}}})

    @property
    def engine(self) -> QueryEngine:
        return self.backends.sql

    def run(self, sql: str) -> dict[str, Any]:
        query_id = self.engine.start_query_execution(sql, database="sales", output_location=RESULTS)
        return self.engine.get_query_execution(query_id)

    def assert_not_leaked(self, *texts: str) -> None:
        """The marker is in no text given and in no file of the workspace but the planted copy."""
        for text in texts:
            assert self.marker not in text
        for path in self.ws.root.rglob("*"):
            if path.is_file() and path != self.inside:
                assert self.marker.encode() not in path.read_bytes(), path


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path)


@pytest.fixture(scope="module")
def shared_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    yield Lake(tmp_path_factory.mktemp("shared"))


def _reads(p: str) -> list[tuple[str, str]]:
    """(query, the start of its StateChangeReason) for every way of asking DuckDB for a file; `p` the path."""
    return [
        (f"SELECT * FROM read_text('{p}')", "FUNCTION_NOT_FOUND: line 1:15: Function 'read_text' not registered"),
        (f"SELECT * FROM read_csv('{p}')", "FUNCTION_NOT_FOUND: line 1:15: Function 'read_csv' not registered"),
        (f"SELECT * FROM read_csv_auto('{p}')", "FUNCTION_NOT_FOUND: line 1:15: Function 'read_csv_auto' not"),
        (f"SELECT * FROM read_blob('{p}')", "FUNCTION_NOT_FOUND: line 1:15: Function 'read_blob' not registered"),
        (f"SELECT * FROM sniff_csv('{p}')", "FUNCTION_NOT_FOUND: line 1:15: Function 'sniff_csv' not registered"),
        (f"SELECT * FROM read_json('{p}')", "FUNCTION_NOT_FOUND: line 1:15: Function 'read_json' not registered"),
        (f"SELECT * FROM read_parquet('{p}')", "FUNCTION_NOT_FOUND: line 1:15: Function 'read_parquet' not"),
        ("SELECT * FROM read_parquet('https://example.com/x.parquet')", "FUNCTION_NOT_FOUND: line 1:15: Function "
                                                                        "'read_parquet' not registered"),
        ("SELECT * FROM glob('/etc/*')", "SYNTAX_ERROR: line 1:"),
        (f"SELECT * FROM glob('{p}', 'x')", "FUNCTION_NOT_FOUND: line 1:15: Function 'glob' not registered"),
        (f"SELECT * FROM parquet_metadata('{p}')", "FUNCTION_NOT_FOUND: line 1:15: Function 'parquet_metadata'"),
        (f"SELECT * FROM ReAd_TeXt('{p}')", "FUNCTION_NOT_FOUND: line 1:15: Function 'read_text' not registered"),
        (f"SELECT * FROM \"read_text\"('{p}')", "FUNCTION_NOT_FOUND: line 1:15: Function 'read_text' not"),
        (f"SELECT * FROM main.read_text('{p}')", "FUNCTION_NOT_FOUND: line 1:20: Function 'read_text' not"),
        (f"SELECT * FROM TABLE(read_text('{p}'))", "FUNCTION_NOT_FOUND: line 1:21: Function 'read_text' not"),
        (f"SELECT * FROM '{p}'", f"TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.sales.{p}' does not exist"),
        (f"SELECT * FROM \"{p}\"", "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.sales."),
        (f"SELECT (SELECT content FROM read_text('{p}'))", "FUNCTION_NOT_FOUND: line 1:29: Function 'read_text'"),
        (f"WITH x AS (SELECT * FROM read_text('{p}')) SELECT * FROM x", "FUNCTION_NOT_FOUND: line 1:26: Function"),
        (f"SELECT name FROM people UNION ALL SELECT content FROM read_text('{p}')", "FUNCTION_NOT_FOUND: line "
                                                                                   "1:55: Function 'read_text'"),
        (f"SELECT * FROM people JOIN read_csv('{p}') AS r ON true", "FUNCTION_NOT_FOUND: line 1:27: Function "
                                                                    "'read_csv' not registered"),
        ("SELECT * FROM people p, LATERAL read_text(p.name)", "FUNCTION_NOT_FOUND: line 1:33: Function 'read_text'"),
        (f"SELECT * FROM \"{p}\" UNION ALL (WITH \"{p}\" AS (SELECT 'a') SELECT * FROM \"{p}\")",
         "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.sales."),  # the CTE's name is not in scope first
        (f"CREATE TABLE stolen AS SELECT * FROM read_text('{p}')", "FUNCTION_NOT_FOUND: line 1:38: Function "
                                                                   "'read_text' not registered"),
        (f"CREATE TABLE stolen AS SELECT * FROM '{p}'", "TABLE_NOT_FOUND: line 1:38: Table"),
        (f"INSERT INTO people SELECT 1, content FROM read_text('{p}')", "FUNCTION_NOT_FOUND: line 1:43: Function "
                                                                        "'read_text' not registered"),
        (f"INSERT INTO people SELECT * FROM read_csv_auto('{p}')", "FUNCTION_NOT_FOUND: line 1:34: Function "
                                                                   "'read_csv_auto' not registered"),
        (f"SELECT read_text('{p}')", "FUNCTION_NOT_FOUND: line 1:8: Function 'read_text' not registered"),
        ("SELECT getenv('HOME')", "FUNCTION_NOT_FOUND: line 1:8: Function 'getenv' not registered"),
        ("SELECT current_setting('allowed_directories')", "FUNCTION_NOT_FOUND: line 1:8: Function "
                                                          "'current_setting' not registered"),
        ("SELECT json_execute_serialized_sql('x')", "FUNCTION_NOT_FOUND: line 1:8: Function "
                                                    "'json_execute_serialized_sql' not registered"),
        (f"COPY (SELECT * FROM people) TO '{p}.out'", "SYNTAX_ERROR: line 1:1: mismatched input 'COPY'. Expecting:"),
        (f"ATTACH '{p}' AS stolen", "SYNTAX_ERROR: line 1:"),
        ("DETACH awsdatacatalog", "SYNTAX_ERROR: line 1:1: mismatched input 'DETACH'"),
        ("INSTALL httpfs", "SYNTAX_ERROR: line 1:1: mismatched input 'INSTALL'"),
        ("LOAD httpfs", "SYNTAX_ERROR: line 1:1: mismatched input 'LOAD'"),
        ("PRAGMA version", "SYNTAX_ERROR: line 1:1: mismatched input 'PRAGMA'"),
        (f"EXPORT DATABASE '{p}.db'", "SYNTAX_ERROR: line 1:"),
        (f"IMPORT DATABASE '{p}.db'", "SYNTAX_ERROR: line 1:"),
        ("SET enable_external_access = true", "NOT_SUPPORTED: sfn-local runs SELECT, CREATE TABLE AS SELECT and "
                                              "INSERT INTO; not SET ENABLE_EXTERNAL_ACCESS"),
        ("RESET lock_configuration", "NOT_SUPPORTED: "),
        ("CALL pragma_version()", "NOT_SUPPORTED: "),
        ("CREATE SECRET s (TYPE s3)", "NOT_SUPPORTED: "),
        ("CREATE MACRO m(a) AS a", "NOT_SUPPORTED: "),
        ("CREATE FUNCTION f(a) AS a", "NOT_SUPPORTED: "),
        (f"INSERT OVERWRITE DIRECTORY '{p}.d' SELECT * FROM people", "NOT_SUPPORTED: "),
    ]


READS = _reads("{secret}")
CLI_CASES = [r for r in READS if r[0].startswith(("SELECT * FROM read_", "SELECT * FROM '", "COPY", "INSTALL", "SET"))]
TASK_CASES = [r for r in READS if r[0].startswith(("SELECT * FROM read_", "SELECT * FROM '", "SELECT (", "WITH",
                                                   "CREATE TABLE stolen", "INSERT INTO", "SELECT getenv", "COPY",
                                                   "ATTACH", "LOAD", "PRAGMA", "CALL"))]


def _expand(template: str, path: Path) -> str:
    return template.replace("{secret}", str(path).replace("'", "''"))


def _reason(template: str, path: Path) -> str:
    """The expected reason: Athena names a missing table in lower case."""
    return template.replace("{secret}", str(path).lower())


@pytest.mark.parametrize(("sql", "reason"), READS, ids=[q for q, _ in READS])
@pytest.mark.parametrize("where", ["outside", "inside"])
def test_file_reads_and_host_statements_fail_through_the_engine(lake: Lake, sql: str, reason: str,
                                                                where: str) -> None:
    target = lake.secret if where == "outside" else lake.inside
    qe = lake.run(_expand(sql, target))
    status = qe["Status"]
    assert status["State"] == "FAILED"
    assert status["StateChangeReason"].startswith(_reason(reason, target))
    assert status["AthenaError"]["ErrorCategory"] == 2
    with pytest.raises(AthenaError, match="Final query state: FAILED"):
        lake.engine.get_query_results(qe["QueryExecutionId"])
    assert not lake.backends.object_store.local_path(qe["ResultConfiguration"]["OutputLocation"]).exists()
    assert "stolen" not in {t["Name"] for t in lake.backends.catalog.get_tables("sales")}
    lake.assert_not_leaked(json.dumps(qe))


def test_catalog_tables_still_answer_also_from_mapped_buckets_ctas_and_insert(lake: Lake) -> None:
    """The confinement leaves Athena's own reads and writes working."""
    sql = "SELECT p.name, c.city FROM people p JOIN cities c ON c.id = p.id ORDER BY p.id"
    qe = lake.run(sql)
    assert qe["Status"]["State"] == "SUCCEEDED", qe["Status"]
    rows = lake.engine.get_query_results(qe["QueryExecutionId"])["ResultSet"]["Rows"]
    assert [[d["VarCharValue"] for d in r["Data"]] for r in rows] == [["name", "city"], ["ann", "oslo"],
                                                                      ["bob", "lima"]]
    ctas = lake.run("CREATE TABLE copied WITH (external_location = 's3://lake/copied/') AS SELECT * FROM people")
    assert ctas["Status"]["State"] == "SUCCEEDED", ctas["Status"]
    insert = lake.run("INSERT INTO copied SELECT id + 10, city FROM cities")
    assert insert["Status"]["State"] == "SUCCEEDED", insert["Status"]
    total = lake.run("WITH c AS (SELECT * FROM copied) SELECT count(*), max(id) FROM c")
    rows = lake.engine.get_query_results(total["QueryExecutionId"])["ResultSet"]["Rows"]
    assert [d["VarCharValue"] for d in rows[1]["Data"]] == ["4", "12"]
    values = lake.run("VALUES (1, 'a'), (2, 'b')")
    rows = lake.engine.get_query_results(values["QueryExecutionId"])["ResultSet"]["Rows"]
    assert [[d["VarCharValue"] for d in r["Data"]] for r in rows] == [["_col0", "_col1"], ["1", "a"], ["2", "b"]]


def test_a_catalog_table_over_the_bucket_copy_does_read_it(lake: Lake) -> None:
    """Athena reads what the catalog points at: the leak check sees the marker when it is really returned."""
    lake.backends.catalog.create_table("sales", {
        "Name": "loose", "Parameters": {"classification": "csv"},
        "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "string"}, {"Name": "b", "Type": "string"}],
                              "Location": "s3://lake/loose/", "SerdeInfo": {"Parameters": {"field.delim": ","}}}})
    qe = lake.run("SELECT a FROM loose WHERE b = 'x'")
    assert qe["Status"]["State"] == "SUCCEEDED", qe["Status"]
    result = json.dumps(lake.engine.get_query_results(qe["QueryExecutionId"]))
    assert lake.marker in result
    with pytest.raises(AssertionError):
        lake.assert_not_leaked(result)


def test_duckdb_itself_refuses_host_files_and_settings_changes(lake: Lake) -> None:
    """The second wall: even SQL that got past the checks could not open a file or undo the settings."""
    cursor = lake.engine._con.cursor()
    secret = str(lake.secret).replace("'", "''")
    for sql in (f"SELECT * FROM read_text('{secret}')", f"SELECT * FROM '{secret}'",
                "SELECT * FROM read_parquet('https://example.com/x.parquet')", "INSTALL httpfs",
                f"COPY (SELECT 1) TO '{secret}.copy'"):
        with pytest.raises(duckdb.Error) as caught:
            cursor.sql(sql).fetchall()
        assert lake.marker not in str(caught.value)
    for sql in ("SET enable_external_access = true", "SET lock_configuration = false",
                "SET allowed_directories = ['/']", "SET autoinstall_known_extensions = true"):
        with pytest.raises(duckdb.InvalidInputException, match="configuration has been locked"):
            cursor.execute(sql)
    assert not Path(f"{lake.secret}.copy").exists()


def test_cli_query_fails_with_the_reason_and_never_prints_the_file(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(lake.ws.project)
    runner = CliRunner()
    for sql, reason in CLI_CASES:
        query = _expand(sql, lake.secret)
        result = runner.invoke(cli, ["--workspace", str(lake.ws.root), "query", query, "--database", "sales"])
        assert result.exit_code == 1, result.output
        assert "query FAILED: " + _reason(reason, lake.secret) in result.output
        lake.assert_not_leaked(result.output)
    ok = runner.invoke(cli, ["--workspace", str(lake.ws.root), "query", "SELECT name FROM people ORDER BY id",
                             "--database", "sales"])
    assert ok.exit_code == 0, ok.output
    assert "ann" in ok.output and "(2 row(s);" in ok.output


def _sync_query(sql: str) -> dict[str, Any]:
    return {"StartAt": "Q", "States": {"Q": {
        "Type": "Task", "Resource": "arn:aws:states:::athena:startQueryExecution.sync", "End": True,
        "Parameters": {"QueryString": sql, "QueryExecutionContext": {"Database": "sales"},
                       "ResultConfiguration": {"OutputLocation": RESULTS}}}}}


@pytest.mark.parametrize(("sql", "reason"), TASK_CASES, ids=[q for q, _ in TASK_CASES])
def test_state_machine_task_fails_with_athenas_failure_and_no_content(lake: Lake, sql: str, reason: str) -> None:
    ex = emulator.run(_sync_query(_expand(sql, lake.secret)), {}, workspace=lake.ws)
    assert ex.status == "FAILED"
    assert ex.error == "States.TaskFailed"
    status = json.loads(ex.cause)["QueryExecution"]["Status"]
    assert status["State"] == "FAILED"
    assert status["StateChangeReason"].startswith(_reason(reason, lake.secret))
    lake.assert_not_leaked(ex.cause, json.dumps(ex.history, default=str))


def _table_functions() -> list[str]:
    with duckdb.connect() as con:
        return sorted(r[0] for r in con.sql("SELECT DISTINCT function_name FROM duckdb_functions() "
                                            "WHERE function_type = 'table'").fetchall())


_SHAPES = ["SELECT * FROM {f}('{p}')", "SELECT * FROM {f}('{p}', '{p}')", "SELECT * FROM TABLE({f}('{p}'))",
           "SELECT (SELECT count(*) FROM {f}('{p}'))", "SELECT * FROM people, {f}('{p}')",
           "WITH t AS (SELECT * FROM {F}('{p}')) SELECT * FROM t", "SELECT {f}('{p}')",
           "CREATE TABLE t_{n} AS SELECT * FROM {f}('{p}')", "INSERT INTO people SELECT * FROM {F}('{p}')",
           "SELECT * FROM people UNION ALL SELECT * FROM \"{f}\"('{p}')"]


@settings(max_examples=150, deadline=None)
@given(function=st.sampled_from(_table_functions()), shape=st.sampled_from(_SHAPES), inside=st.booleans())
def test_no_table_function_returns_the_file(shared_lake: Lake, function: str, shape: str, inside: bool) -> None:
    path = str(shared_lake.inside if inside else shared_lake.secret).replace("'", "''")
    sql = shape.format(f=function, F=function.upper(), p=path, n=uuid.uuid4().hex[:8])
    qe = shared_lake.run(sql)
    text = json.dumps(qe)
    if qe["Status"]["State"] == "SUCCEEDED":  # e.g. range('x') as a scalar: allowed, but never the file
        text += json.dumps(shared_lake.engine.get_query_results(qe["QueryExecutionId"]))
    shared_lake.assert_not_leaked(text)
