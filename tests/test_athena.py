"""Athena on the local SQL engine: state machines querying Parquet registered in the Glue catalog."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import emulator
import emulator.integrations.athena  # registers the service
from emulator.backends import Backends
from emulator.workspace import Workspace

REGIONS = ["eu", "us", "ap"]
RESULTS = "s3://query-results/athena/"


def task(action: str, **params: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": f"arn:aws:states:::athena:{action}", "Parameters": params}


def steps(*states: dict[str, Any]) -> dict[str, Any]:
    names = [f"S{i}" for i in range(len(states))]
    body = {}
    for i, state in enumerate(states):
        body[names[i]] = {**state, **({"Next": names[i + 1]} if i + 1 < len(states) else {"End": True})}
    return {"StartAt": names[0], "States": body}


def query(sql: str, database: str = "sales") -> dict[str, Any]:
    return task("startQueryExecution.sync", QueryString=sql, QueryExecutionContext={"Database": database},
                ResultConfiguration={"OutputLocation": RESULTS})


def results(**params: Any) -> dict[str, Any]:
    return task("getQueryResults", **{"QueryExecutionId.$": "$.q.QueryExecution.QueryExecutionId", **params})


def rows(result_set: dict[str, Any]) -> list[list[str | None]]:
    return [[d.get("VarCharValue") for d in row["Data"]] for row in result_set["Rows"]]


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(root=tmp_path / "ws", project=tmp_path)


@pytest.fixture
def orders(ws: Workspace) -> list[dict[str, Any]]:
    """200 orders as hive-partitioned Parquet (region=../day=..) under s3://lake/orders/, in the catalog."""
    backends = Backends(ws)
    data = [{"id": i, "amount": round(i * 1.25, 2), "customer": None if i % 7 == 0 else f"c{i % 5}",
             "region": REGIONS[i % 3], "day": 1 + i % 2} for i in range(200)]
    root = backends.object_store.local_path("s3://lake/orders/")
    for (region, day), group in _groups(data).items():
        folder = root / f"region={region}" / f"day={day}"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist([{k: r[k] for k in ("id", "amount", "customer")} for r in group]),
                       folder / "part-0.parquet")
    (root / "_SUCCESS").write_text("")  # hidden from Athena, as are `.`-files
    catalog = backends.catalog
    catalog.create_database({"Name": "sales"})
    catalog.create_table("sales", {
        "Name": "orders",
        "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "amount", "Type": "double"},
                                          {"Name": "customer", "Type": "string"}],
                              "Location": "s3://lake/orders/", "SerdeInfo": {}},
        "PartitionKeys": [{"Name": "region", "Type": "string"}, {"Name": "day", "Type": "int"}],
        "Parameters": {"classification": "parquet"},
    })
    return data


def _groups(data: list[dict[str, Any]]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in data:
        groups.setdefault((row["region"], row["day"]), []).append(row)
    return groups


def test_group_by_over_partitioned_parquet_matches_an_independent_count(ws: Workspace, orders: list[dict]) -> None:
    sql = ("SELECT region, count(*) AS n, sum(amount) AS total FROM orders WHERE day = 1 "
           "GROUP BY region ORDER BY region")
    ex = emulator.run(steps({**query(sql), "ResultPath": "$.q"}, {**results(), "ResultPath": "$.r"}), {},
                      workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    qe = ex.output["q"]["QueryExecution"]
    assert qe["Status"]["State"] == "SUCCEEDED"
    assert qe["StatementType"] == "DML" and qe["WorkGroup"] == "primary"
    assert qe["QueryExecutionContext"]["Database"] == "sales"
    assert qe["Statistics"]["DataScannedInBytes"] > 0
    assert qe["ResultConfiguration"]["OutputLocation"] == f"{RESULTS}{qe['QueryExecutionId']}.csv"
    expected_n = Counter(o["region"] for o in orders if o["day"] == 1)
    expected_total = {r: sum(o["amount"] for o in orders if o["day"] == 1 and o["region"] == r) for r in REGIONS}
    got = rows(ex.output["r"]["ResultSet"])
    assert got[0] == ["region", "n", "total"]  # the header row comes first, as Athena sends it
    assert [(r, int(n)) for r, n, _ in got[1:]] == sorted(expected_n.items())
    for region, _, total in got[1:]:
        assert float(total) == pytest.approx(expected_total[region])
    info = ex.output["r"]["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [(c["Name"], c["Type"]) for c in info] == [("region", "varchar"), ("n", "bigint"), ("total", "double")]
    assert info[0] == {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": "region", "Label": "region",
                       "Type": "varchar", "Precision": 2147483647, "Scale": 0, "Nullable": "UNKNOWN",
                       "CaseSensitive": True}


def test_paging_with_max_results_and_next_token(ws: Workspace, orders: list[dict]) -> None:
    definition = steps(
        {**query("SELECT id, customer FROM orders WHERE id < 12 ORDER BY id"), "ResultPath": "$.q"},
        {**results(MaxResults=5), "ResultPath": "$.p1"},
        {**results(MaxResults=5, **{"NextToken.$": "$.p1.NextToken"}), "ResultPath": "$.p2"},
        {**results(MaxResults=5, **{"NextToken.$": "$.p2.NextToken"}), "ResultPath": "$.p3"},
    )
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    pages = [rows(ex.output[p]["ResultSet"]) for p in ("p1", "p2", "p3")]
    assert [len(p) for p in pages] == [5, 5, 3]  # 1 header + 12 rows
    assert "NextToken" not in ex.output["p3"]
    flat = [row for page in pages for row in page]
    assert flat[0] == ["id", "customer"]
    assert [int(r[0]) for r in flat[1:]] == list(range(12))
    assert flat[1] == ["0", None]  # NULL: a Data entry without VarCharValue
    assert flat[8] == ["7", None] and flat[2] == ["1", "c1"]


def test_results_csv_and_metadata_are_written_to_the_output_location(ws: Workspace, orders: list[dict]) -> None:
    ex = emulator.run(steps({**query("SELECT id, customer FROM orders WHERE id IN (6, 7) ORDER BY id"),
                             "ResultPath": "$.q"}), {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    location = ex.output["q"]["QueryExecution"]["ResultConfiguration"]["OutputLocation"]
    path = Backends(ws).object_store.local_path(location)
    text = path.read_text(encoding="utf-8")
    assert text.splitlines() == ['"id","customer"', '"6","c1"', '"7",']  # every value quoted, NULL left empty
    assert list(csv.reader(text.splitlines()))[1] == ["6", "c1"]
    metadata = json.loads(Path(f"{path}.metadata").read_text(encoding="utf-8"))
    assert [c["Name"] for c in metadata["ColumnInfo"]] == ["id", "customer"]


def test_ctas_writes_parquet_and_registers_a_table_a_later_query_reads(ws: Workspace, orders: list[dict]) -> None:
    ctas = ("CREATE TABLE sales.region_totals WITH (format = 'PARQUET', external_location = 's3://lake/totals/', "
            "partitioned_by = ARRAY['region']) AS SELECT day, count(*) AS n, region FROM orders GROUP BY day, region")
    definition = steps(
        {**query(ctas), "ResultPath": "$.ctas"},
        {**results(**{"QueryExecutionId.$": "$.ctas.QueryExecution.QueryExecutionId"}), "ResultPath": "$.count"},
        {**query("SELECT region, sum(n) AS n FROM region_totals GROUP BY region ORDER BY region"),
         "ResultPath": "$.q"},
        {**results(), "ResultPath": "$.r"},
    )
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["ctas"]["QueryExecution"]["SubstatementType"] == "CREATE_TABLE_AS_SELECT"
    assert ex.output["count"]["UpdateCount"] == 6
    assert rows(ex.output["r"]["ResultSet"])[1:] == [[r, str(Counter(o["region"] for o in orders)[r])]
                                                     for r in sorted(REGIONS)]
    backends = Backends(ws)
    files = sorted(p.relative_to(backends.object_store.local_path("s3://lake/totals/")).parts[0]
                   for p in backends.object_store.local_path("s3://lake/totals/").rglob("*.parquet"))
    assert files == ["region=ap", "region=eu", "region=us"]
    table = backends.catalog.get_table("sales", "region_totals")
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [("day", "int"),
                                                                                        ("n", "bigint")]
    assert table["PartitionKeys"] == [{"Name": "region", "Type": "string"}]
    assert table["StorageDescriptor"]["Location"] == "s3://lake/totals/"
    assert sorted(p["Values"][0] for p in backends.catalog.get_partitions("sales", "region_totals")) == sorted(REGIONS)


def test_insert_into_appends_rows_and_partitions(ws: Workspace, orders: list[dict]) -> None:
    definition = steps(
        {**query("INSERT INTO orders (id, amount, region, day) VALUES (1000, 5.5, 'sa', 3), (1001, 4.5, 'sa', 3)"),
         "ResultPath": "$.ins"},
        {**results(**{"QueryExecutionId.$": "$.ins.QueryExecution.QueryExecutionId"}), "ResultPath": "$.count"},
        {**query("SELECT count(*), sum(amount), count(customer) FROM orders WHERE region = 'sa'"),
         "ResultPath": "$.q"},
        {**results(), "ResultPath": "$.r"},
    )
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["count"]["UpdateCount"] == 2
    assert rows(ex.output["r"]["ResultSet"]) == [["_col0", "_col1", "_col2"], ["2", "10.0", "0"]]
    partitions = Backends(ws).catalog.get_partitions("sales", "orders")
    assert [p["Values"] for p in partitions] == [["sa", "3"]]


def test_sql_error_fails_the_query_and_the_sync_task(ws: Workspace, orders: list[dict]) -> None:
    ex = emulator.run(steps(query("SELECT nope FROM orders")), {}, workspace=ws)
    assert ex.status == "FAILED"
    assert ex.error == "States.TaskFailed"
    qe = json.loads(ex.cause)["QueryExecution"]
    assert qe["Status"]["State"] == "FAILED"
    assert qe["Status"]["StateChangeReason"] == ("COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved or "
                                                 "requester is not authorized to access requested resources")
    assert qe["Status"]["AthenaError"]["ErrorCategory"] == 2


@pytest.mark.parametrize(("sql", "reason"), [
    ("SELECT id FROM missing", "TABLE_NOT_FOUND: line 1:16: Table 'awsdatacatalog.sales.missing' does not exist"),
    ("SELECT id FROM nodb.orders", "SCHEMA_NOT_FOUND: line 1:16: Schema 'nodb' does not exist"),
    ("SELECT id FORM orders", "SYNTAX_ERROR: line 1:"),
    ("SELECT region, id FROM orders GROUP BY region", "EXPRESSION_NOT_AGGREGATE: line 1:16: 'id' must be an"),
])
def test_sql_errors_in_athena_words_through_request_response(ws: Workspace, orders: list[dict], sql: str,
                                                            reason: str) -> None:
    start = task("startQueryExecution", QueryString=sql, QueryExecutionContext={"Database": "sales"})
    definition = steps({**start, "ResultPath": "$.s"},
                       {**task("getQueryExecution", **{"QueryExecutionId.$": "$.s.QueryExecutionId"}),
                        "ResultPath": "$.q"})
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause  # the query fails, not the task
    status = ex.output["q"]["QueryExecution"]["Status"]
    assert status["State"] == "FAILED"
    assert status["StateChangeReason"].startswith(reason)


def test_trino_functions_are_transpiled(ws: Workspace, orders: list[dict]) -> None:
    sql = ("SELECT approx_distinct(customer) AS customers, CAST(max(id) AS VARCHAR) AS top, "
           "date_format(from_iso8601_timestamp('2024-03-05T10:20:30Z'), '%Y-%m') AS month FROM orders")
    ex = emulator.run(steps({**query(sql), "ResultPath": "$.q"}, {**results(), "ResultPath": "$.r"}), {},
                      workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    assert rows(ex.output["r"]["ResultSet"]) == [["customers", "top", "month"], ["5", "199", "2024-03"]]


def test_aws_sdk_form_and_request_errors(ws: Workspace, orders: list[dict]) -> None:
    sdk = "arn:aws:states:::aws-sdk:athena:"
    definition = steps(
        {"Type": "Task", "Resource": f"{sdk}startQueryExecution",
         "Parameters": {"QueryString": "SELECT 1 AS one", "QueryExecutionContext": {"Database": "sales"}},
         "ResultPath": "$.s"},
        {"Type": "Task", "Resource": f"{sdk}getQueryResults",
         "Parameters": {"QueryExecutionId.$": "$.s.QueryExecutionId"}, "ResultPath": "$.r"},
        {"Type": "Task", "Resource": f"{sdk}stopQueryExecution",  # finished: stopping changes nothing
         "Parameters": {"QueryExecutionId.$": "$.s.QueryExecutionId"}, "ResultPath": None},
        {"Type": "Task", "Resource": f"{sdk}getQueryResults", "Parameters": {"QueryExecutionId": "no-such-id"}},
    )
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "FAILED"
    assert ex.error == "Athena.InvalidRequestException"
    assert "QueryExecution no-such-id was not found" in ex.cause and "Status Code: 400" in ex.cause
    done = [e for e in ex.history if e["type"] == "TaskSucceeded"]
    assert json.loads(done[1]["taskSucceededEventDetails"]["output"])["ResultSet"]["Rows"][1] == {
        "Data": [{"VarCharValue": "1"}]}
    # The default output location, when the request gives none.
    query_id = json.loads(done[0]["taskSucceededEventDetails"]["output"])["QueryExecutionId"]
    assert Backends(ws).object_store.local_path(f"s3://sfn-local-athena-results/{query_id}.csv").is_file()


def test_executions_persist_and_running_queries_can_be_cancelled(ws: Workspace, orders: list[dict]) -> None:
    engine = Backends(ws).sql
    done = engine.start_query_execution("SELECT count(*) FROM orders", database="sales")
    # A new engine on the same workspace (a restart) still knows the query and its results.
    again = Backends(Workspace(root=ws.root, project=ws.project)).sql
    assert again.get_query_execution(done)["Status"]["State"] == "SUCCEEDED"
    assert rows(again.get_query_results(done)["ResultSet"]) == [["_col0"], ["200"]]
    slow = engine.start_query_execution("SELECT count(*) FROM UNNEST(sequence(1, 100000000)) AS t(x) "
                                        "CROSS JOIN UNNEST(sequence(1, 100)) AS u(y)", wait=False)
    engine.stop_query_execution(slow)
    assert engine.get_query_execution(slow)["Status"]["State"] == "CANCELLED"


def test_csv_and_json_tables_and_parquet_schema_evolution(ws: Workspace) -> None:
    backends = Backends(ws)
    store, catalog = backends.object_store, backends.catalog
    store.put("lake", "people/p.csv", b"id,name\n1,ann\n2,bob\n")
    store.put("lake", "visits/v.json", b'{"id": 1, "page": "home"}\n{"id": 1, "page": "cart"}\n{"id": 2}\n')
    evolving = store.local_path("s3://lake/scores/")
    evolving.mkdir(parents=True)
    pq.write_table(pa.table({"id": [1]}), evolving / "old.parquet")  # written before `score` existed
    pq.write_table(pa.table({"id": [2], "score": [9.5]}), evolving / "new.parquet")
    catalog.create_database({"Name": "web"})
    columns = [{"Name": "id", "Type": "int"}]
    catalog.create_table("web", {"Name": "people", "Parameters": {"classification": "csv",
                                                                   "skip.header.line.count": "1"},
                                 "StorageDescriptor": {"Columns": [*columns, {"Name": "name", "Type": "string"}],
                                                       "Location": "s3://lake/people/",
                                                       "SerdeInfo": {"Parameters": {"field.delim": ","}}}})
    catalog.create_table("web", {"Name": "visits", "Parameters": {"classification": "json"},
                                 "StorageDescriptor": {"Columns": [*columns, {"Name": "page", "Type": "string"}],
                                                       "Location": "s3://lake/visits/"}})
    catalog.create_table("web", {"Name": "scores", "Parameters": {"classification": "parquet"},
                                 "StorageDescriptor": {"Columns": [*columns, {"Name": "score", "Type": "double"},
                                                                   {"Name": "rank", "Type": "int"}],
                                                       "Location": "s3://lake/scores/"}})
    sql = ("SELECT p.name, count(v.page) AS pages, max(s.score) AS score, max(s.rank) AS rank FROM people p "
           "JOIN visits v ON v.id = p.id LEFT JOIN web.scores s ON s.id = p.id GROUP BY p.name ORDER BY p.name")
    engine = backends.sql
    query_id = engine.start_query_execution(sql, database="web")
    assert engine.get_query_execution(query_id)["Status"]["State"] == "SUCCEEDED"
    assert rows(engine.get_query_results(query_id)["ResultSet"])[1:] == [["ann", "2", None, None],
                                                                         ["bob", "0", "9.5", None]]


def test_parallel_branches_query_at_once(ws: Workspace, orders: list[dict]) -> None:
    def branch(region: str) -> dict[str, Any]:  # state names are unique across the whole definition
        sql = f"SELECT count(*) AS n FROM orders WHERE region = '{region}'"
        return {"StartAt": f"Q{region}", "States": {f"Q{region}": {**query(sql), "ResultPath": "$.q",
                                                                     "Next": f"R{region}"},
                                                      f"R{region}": {**results(), "End": True}}}

    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True,
                                                   "Branches": [branch(r) for r in REGIONS]}}}
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    counts = Counter(o["region"] for o in orders)
    assert [rows(out["ResultSet"])[1] for out in ex.output] == [[str(counts[r])] for r in REGIONS]
