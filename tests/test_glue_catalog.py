"""Glue Data Catalog and crawlers: Task states against real Parquet/CSV/JSON files."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import emulator
import emulator.integrations.glue  # registers aws-sdk:glue
from emulator.backends import Backends
from emulator.backends.catalog import Catalog, GlueError
from emulator.backends.crawler import csv_value_type, glue_type, read_file_schema, widen
from emulator.workspace import Config, Workspace
from tests.conftest import chain

GLUE = "arn:aws:states:::aws-sdk:glue:"


# -- helpers -----------------------------------------------------------------------------------------
def make_workspace(tmp_path: Path, **crawlers: dict[str, Any]) -> Workspace:
    lake = tmp_path / "lake"
    lake.mkdir(exist_ok=True)
    return Workspace(root=tmp_path / "ws", project=tmp_path, config=Config(buckets={"lake": lake}, crawlers=crawlers))


def crawler(path: str, database: str = "sales", **extra: Any) -> dict[str, Any]:
    return {"DatabaseName": database, "Targets": {"S3Targets": [{"Path": path}]}, **extra}


def write_parquet(path: Path, columns: dict[str, list[Any]], schema: pa.Schema | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=schema), path)


def task(action: str, parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": GLUE + action, "Parameters": parameters, **extra}


def crawl_definition(name: str) -> dict[str, Any]:
    """startCrawler, then a Wait/Choice loop polling getCrawler until READY, then getCrawlerMetrics."""
    return {
        "StartAt": "Start",
        "States": {
            "Start": task("startCrawler", {"Name": name}, ResultPath=None, Next="Poll"),
            "Poll": task("getCrawler", {"Name": name}, ResultSelector={"Crawler.$": "$.Crawler"},
                         ResultPath="$.poll", Next="Ready?"),
            "Ready?": {"Type": "Choice", "Choices": [
                {"Variable": "$.poll.Crawler.State", "StringEquals": "READY", "Next": "Metrics"}],
                "Default": "Wait"},
            "Wait": {"Type": "Wait", "Seconds": 30, "Next": "Poll"},
            "Metrics": task("getCrawlerMetrics", {"CrawlerNameList": [name]}, ResultPath="$.metrics", End=True),
        },
    }


def run_crawler(ws: Workspace, name: str) -> dict[str, Any]:
    ex = emulator.run(crawl_definition(name), {}, workspace=ws, max_events=None)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    return {"crawler": ex.output["poll"]["Crawler"], "metrics": ex.output["metrics"]["CrawlerMetricsList"][0],
            "execution": ex}


def call(ws: Workspace, action: str, parameters: dict[str, Any]) -> Any:
    ex = emulator.run(chain(("Call", task(action, parameters))), {}, workspace=ws)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    return ex.output


def columns(table: dict[str, Any]) -> dict[str, str]:
    return {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}


# -- crawling through state machines -------------------------------------------------------------------
def test_hive_partitions_become_partition_keys_and_partitions(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, orders_crawler=crawler("s3://lake/orders/"))
    for month in ("01", "02"):
        write_parquet(tmp_path / f"lake/orders/year=2024/month={month}/part-0.parquet",
                      {"order_id": [1, 2], "amount": [1.5, 2.5], "customer": ["a", "b"]})
    (tmp_path / "lake/orders/_SUCCESS").write_text("")

    result = run_crawler(ws, "orders_crawler")
    assert result["crawler"]["LastCrawl"]["Status"] == "SUCCEEDED"
    assert "ErrorMessage" not in result["crawler"]["LastCrawl"]
    assert result["metrics"]["TablesCreated"] == 1 and result["metrics"]["TablesUpdated"] == 0

    table = call(ws, "getTable", {"DatabaseName": "sales", "Name": "orders"})["Table"]
    assert table["Name"] == "orders" and table["DatabaseName"] == "sales"
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert columns(table) == {"order_id": "bigint", "amount": "double", "customer": "string"}
    assert table["PartitionKeys"] == [{"Name": "year", "Type": "string"}, {"Name": "month", "Type": "string"}]
    assert table["StorageDescriptor"]["Location"] == "s3://lake/orders/"
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert table["Parameters"]["classification"] == "parquet"
    assert table["Parameters"]["recordCount"] == "4"
    assert table["CreateTime"].endswith("Z")

    partitions = call(ws, "getPartitions", {"DatabaseName": "sales", "TableName": "orders"})["Partitions"]
    assert sorted(p["Values"] for p in partitions) == [["2024", "01"], ["2024", "02"]]
    assert {p["StorageDescriptor"]["Location"] for p in partitions} == {
        "s3://lake/orders/year=2024/month=01/", "s3://lake/orders/year=2024/month=02/"}
    filtered = call(ws, "getPartitions", {"DatabaseName": "sales", "TableName": "orders",
                                          "Expression": "year = '2024' AND month > '01'"})["Partitions"]
    assert [p["Values"] for p in filtered] == [["2024", "02"]]

    assert call(ws, "getDatabase", {"Name": "sales"})["Database"]["Name"] == "sales"
    assert [d["Name"] for d in call(ws, "getDatabases", {})["DatabaseList"]] == ["sales"]
    assert [t["Name"] for t in call(ws, "getTables", {"DatabaseName": "sales"})["TableList"]] == ["orders"]


def test_wait_choice_loop_sees_running_then_ready(tmp_path: Path, gate: threading.Event) -> None:
    ws = make_workspace(tmp_path, c=crawler("s3://lake/t/"))
    write_parquet(tmp_path / "lake/t/a.parquet", {"x": [1]})
    threading.Timer(0.1, gate.set).start()
    result = run_crawler(ws, "c")
    outputs = [json.loads(e["taskSucceededEventDetails"]["output"])
               for e in result["execution"].history if e["type"] == "TaskSucceeded"]
    polled = [output["Crawler"]["State"] for output in outputs if "Crawler" in output]
    assert polled[0] == "RUNNING" and polled[-1] == "READY"
    assert result["crawler"]["LastCrawl"]["Status"] == "SUCCEEDED"
    assert result["crawler"]["LastCrawl"]["LogGroup"] == "/aws-glue/crawlers"


def test_start_while_running_raises_crawler_running_exception(tmp_path: Path,
                                                               gate: threading.Event) -> None:
    ws = make_workspace(tmp_path, c=crawler("s3://lake/t/"))
    write_parquet(tmp_path / "lake/t/a.parquet", {"x": [1]})
    definition = chain(
        ("First", task("startCrawler", {"Name": "c"}, ResultPath=None)),
        ("Again", task("startCrawler", {"Name": "c"}, Catch=[
            {"ErrorEquals": ["Glue.CrawlerRunningException"], "ResultPath": "$.error", "Next": "Caught"}])),
        ("Missed", {"Type": "Fail", "Error": "NotRaised"}),
        ("Caught", {"Type": "Pass", "End": True}),
    )
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert ex.output["error"]["Error"] == "Glue.CrawlerRunningException"
    assert "(Service: Glue, Status Code: 400, Request ID: " in ex.output["error"]["Cause"]
    gate.set()
    assert Backends(ws).catalog.crawlers.wait("c", 10)["State"] == "READY"


def test_schema_evolution_appends_columns_and_widens_types(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, c=crawler("s3://lake/events/"))
    write_parquet(tmp_path / "lake/events/day=1/a.parquet", {"id": pa.array([1], pa.int32()), "name": ["a"]})
    write_parquet(tmp_path / "lake/events/day=2/b.parquet",
                  {"id": pa.array([2], pa.int64()), "name": ["b"], "score": [0.5]})
    run_crawler(ws, "c")
    table = call(ws, "getTable", {"DatabaseName": "sales", "Name": "events"})["Table"]
    assert list(columns(table).items()) == [("id", "bigint"), ("name", "string"), ("score", "double")]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["day"]


def test_corrupt_file_is_skipped_and_reported(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, c=crawler("s3://lake/t/"))
    write_parquet(tmp_path / "lake/t/good.parquet", {"x": [1]})
    (tmp_path / "lake/t/bad.parquet").write_bytes(b"this is not parquet at all")
    result = run_crawler(ws, "c")
    last = result["crawler"]["LastCrawl"]
    assert last["Status"] == "SUCCEEDED"
    assert "bad.parquet" in last["ErrorMessage"] and "good.parquet" not in last["ErrorMessage"]
    table = call(ws, "getTable", {"DatabaseName": "sales", "Name": "t"})["Table"]
    assert columns(table) == {"x": "bigint"} and table["Parameters"]["objectCount"] == "1"


def test_empty_folders_create_no_table(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, c=crawler("s3://lake/root/"), e=crawler("s3://lake/nothing/"))
    write_parquet(tmp_path / "lake/root/full/a.parquet", {"x": [1]})
    (tmp_path / "lake/root/empty/sub").mkdir(parents=True)
    (tmp_path / "lake/nothing").mkdir()
    assert run_crawler(ws, "c")["metrics"]["TablesCreated"] == 1
    result = run_crawler(ws, "e")
    assert result["crawler"]["LastCrawl"]["Status"] == "SUCCEEDED" and result["metrics"]["TablesCreated"] == 0
    assert [t["Name"] for t in call(ws, "getTables", {"DatabaseName": "sales"})["TableList"]] == ["full"]


def test_folder_of_datasets_with_table_prefix_csv_and_json(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, c=crawler("s3://lake/raw", TablePrefix="raw_",
                                            Targets={"S3Targets": [{"Path": "s3://lake/raw",
                                                                    "Exclusions": ["**.tmp"]}]}))
    (tmp_path / "lake/raw/customers").mkdir(parents=True)
    (tmp_path / "lake/raw/customers/c.csv").write_text(
        "id,name,joined,score,active,seen\n1,Ann,2024-01-02,1.5,true,2024-01-02 10:00:00\n"
        "2,Bob,2024-02-03,2,false,2024-02-03 11:00:00\n")
    (tmp_path / "lake/raw/customers/ignored.tmp").write_text("junk\x00")
    (tmp_path / "lake/raw/clicks").mkdir(parents=True)
    (tmp_path / "lake/raw/clicks/c.json").write_text(
        '{"user": 1, "page": "/", "tags": ["a"], "geo": {"lat": 1.5}}\n'
        '{"user": 5000000000, "page": "/x", "extra": true}\n')
    result = run_crawler(ws, "c")
    assert "ErrorMessage" not in result["crawler"]["LastCrawl"]
    assert result["metrics"]["TablesCreated"] == 2
    customers = call(ws, "getTable", {"DatabaseName": "sales", "Name": "raw_customers"})["Table"]
    assert columns(customers) == {"id": "bigint", "name": "string", "joined": "date", "score": "double",
                                  "active": "boolean", "seen": "timestamp"}
    assert customers["Parameters"]["classification"] == "csv"
    assert customers["Parameters"]["skip.header.line.count"] == "1"
    assert customers["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {"field.delim": ","}
    assert customers["StorageDescriptor"]["Location"] == "s3://lake/raw/customers/"
    clicks = call(ws, "getTable", {"DatabaseName": "sales", "Name": "raw_clicks"})["Table"]
    assert columns(clicks) == {"user": "bigint", "page": "string", "tags": "array<string>",
                               "geo": "struct<lat:double>", "extra": "boolean"}
    assert clicks["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"


def test_log_leaves_the_table_update_in_database_changes_it(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path,
        updating=crawler("s3://lake/t/"),
        logging_only=crawler("s3://lake/t/", SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}),
    )
    write_parquet(tmp_path / "lake/t/a.parquet", {"x": [1]})
    run_crawler(ws, "updating")
    write_parquet(tmp_path / "lake/t/b.parquet", {"x": [2], "y": ["new"]})

    logged = run_crawler(ws, "logging_only")
    assert logged["metrics"]["TablesUpdated"] == 0
    assert columns(call(ws, "getTable", {"DatabaseName": "sales", "Name": "t"})["Table"]) == {"x": "bigint"}

    updated = run_crawler(ws, "updating")
    assert updated["metrics"] == {**updated["metrics"], "TablesCreated": 0, "TablesUpdated": 1, "TablesDeleted": 0}
    table = call(ws, "getTable", {"DatabaseName": "sales", "Name": "t"})["Table"]
    assert columns(table) == {"x": "bigint", "y": "string"}
    assert table["VersionId"] == "1"


def test_recrawl_adds_new_partition(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, c=crawler("s3://lake/sales/"))
    write_parquet(tmp_path / "lake/sales/year=2024/month=01/a.parquet", {"x": [1]})
    run_crawler(ws, "c")
    again = run_crawler(ws, "c")
    assert (again["metrics"]["TablesCreated"], again["metrics"]["TablesUpdated"]) == (0, 0)
    write_parquet(tmp_path / "lake/sales/year=2024/month=02/a.parquet", {"x": [2]})
    third = run_crawler(ws, "c")
    assert (third["metrics"]["TablesCreated"], third["metrics"]["TablesUpdated"]) == (0, 1)
    partitions = call(ws, "getPartitions", {"DatabaseName": "sales", "TableName": "sales"})["Partitions"]
    assert sorted(p["Values"] for p in partitions) == [["2024", "01"], ["2024", "02"]]


def test_delete_behavior_removes_tables_whose_data_is_gone(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, c=crawler("s3://lake/root/", SchemaChangePolicy={
        "UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DELETE_FROM_DATABASE"}))
    write_parquet(tmp_path / "lake/root/a/x.parquet", {"x": [1]})
    write_parquet(tmp_path / "lake/root/b/x.parquet", {"x": [1]})
    run_crawler(ws, "c")
    (tmp_path / "lake/root/b/x.parquet").unlink()
    assert run_crawler(ws, "c")["metrics"]["TablesDeleted"] == 1
    assert [t["Name"] for t in call(ws, "getTables", {"DatabaseName": "sales"})["TableList"]] == ["a"]


def test_get_table_entity_not_found(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    call(ws, "createDatabase", {"DatabaseInput": {"Name": "sales"}})
    ex = emulator.run(chain(("Get", task("getTable", {"DatabaseName": "sales", "Name": "nope"}))), {}, workspace=ws)
    assert ex.status == "FAILED"
    assert ex.error == "Glue.EntityNotFoundException"
    assert ex.cause.startswith("Table nope not found. (Service: Glue, Status Code: 400, Request ID: ")
    ex = emulator.run(chain(("Get", task("getDatabase", {"Name": "other"}))), {}, workspace=ws)
    assert ex.error == "Glue.EntityNotFoundException"
    ex = emulator.run(chain(("Get", task("getTable", {"DatabaseName": "sales"}))), {}, workspace=ws)
    assert ex.error == "Glue.InvalidInputException"


def test_create_crawler_and_database_through_tasks(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    write_parquet(tmp_path / "lake/made/a.parquet", {"x": [1]})
    call(ws, "createDatabase", {"DatabaseInput": {"Name": "Made", "Description": "d"}})
    request = {"Name": "made", "Role": "arn:aws:iam::123456789012:role/r", "DatabaseName": "made",
               "Targets": {"S3Targets": [{"Path": "s3://lake/made/"}]}}
    assert call(ws, "createCrawler", request) == {}
    got = call(ws, "getCrawler", {"Name": "made"})["Crawler"]
    assert got["State"] == "READY" and "LastCrawl" not in got and got["DatabaseName"] == "made"
    assert run_crawler(ws, "made")["metrics"]["TablesCreated"] == 1

    dup = emulator.run(chain(("C", task("createCrawler", request))), {}, workspace=ws)
    assert dup.error == "Glue.AlreadyExistsException"
    no_role = emulator.run(chain(("C", task("createCrawler", {**request, "Name": "x", "Role": None}))), {},
                           workspace=ws)
    assert no_role.error == "Glue.InvalidInputException"
    missing = emulator.run(chain(("S", task("startCrawler", {"Name": "ghost"}))), {}, workspace=ws)
    assert missing.error == "Glue.EntityNotFoundException"
    dup_db = emulator.run(chain(("D", task("createDatabase", {"DatabaseInput": {"Name": "made"}}))), {},
                          workspace=ws)
    assert dup_db.error == "Glue.AlreadyExistsException"
    # a fresh workspace object over the same directory sees the persisted crawler and tables
    again = Workspace(root=ws.root, project=tmp_path, config=ws.config)
    assert call(again, "getCrawler", {"Name": "made"})["Crawler"]["LastCrawl"]["Status"] == "SUCCEEDED"
    assert call(again, "getTable", {"DatabaseName": "made", "Name": "made"})["Table"]["Name"] == "made"


def test_pagination(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    for name in ("a", "b", "c"):
        call(ws, "createDatabase", {"DatabaseInput": {"Name": name}})
    first = call(ws, "getDatabases", {"MaxResults": 2})
    assert [d["Name"] for d in first["DatabaseList"]] == ["a", "b"]
    rest = call(ws, "getDatabases", {"MaxResults": 2, "NextToken": first["NextToken"]})
    assert [d["Name"] for d in rest["DatabaseList"]] == ["c"] and "NextToken" not in rest


# -- the catalog itself ---------------------------------------------------------------------------------
def test_catalog_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path)
    catalog = Catalog(ws, Backends(ws).object_store)
    catalog.create_database({"Name": "db"})
    catalog.create_table("db", {"Name": "t", "StorageDescriptor": {"Columns": [], "Location": "s3://lake/t/"}})

    def boom(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", boom)
    with pytest.raises(OSError):
        catalog.update_table("db", {"Name": "t", "StorageDescriptor": {"Columns": [{"Name": "x", "Type": "int"}]}})
    monkeypatch.undo()
    assert catalog.get_table("db", "t")["StorageDescriptor"]["Columns"] == []
    assert not [p for p in catalog.root.rglob("*") if p.name.endswith(".tmp")]
    with pytest.raises(GlueError) as raised:
        catalog.create_table("db", {"Name": "T"})
    assert raised.value.code == "AlreadyExistsException"
    with pytest.raises(GlueError) as raised:
        catalog.get_table("db", "../escape")
    assert raised.value.code == "InvalidInputException"


# -- type inference -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [
    ("42", "bigint"), ("-7", "bigint"), ("3.25", "double"), ("1e5", "double"), ("TRUE", "boolean"),
    ("2024-01-31", "date"), ("2024-01-31 12:00:00.5", "timestamp"), ("2024-01-31T12:00:00", "timestamp"),
    ("hello", "string"), ("", None), ("99999999999999999999", "double"),
])
def test_csv_value_types(value: str, expected: str | None) -> None:
    assert csv_value_type(value) == expected


def test_csv_sampling_header_rule_and_widening(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id|price|note\n1|2|x\n2|2.5|\n3||y\n")
    schema = read_file_schema(path)
    assert schema.columns == {"id": "bigint", "price": "double", "note": "string"}
    assert schema.details["delimiter"] == "|" and schema.details["header"] == "true"
    # all-string rows: the first row is not different enough to be a header (Glue's rule)
    path.write_text("name,city\nann,paris\nbob,rome\n")
    schema = read_file_schema(path)
    assert schema.columns == {"col0": "string", "col1": "string"} and schema.details["header"] == "false"
    # mixed values in a column become string (the header still counts: later rows have non-strings)
    path.write_text("a,b\n1,true\nx,2\n")
    assert read_file_schema(path).columns == {"a": "string", "b": "string"}


def test_parquet_types_map_to_glue_names(tmp_path: Path) -> None:
    schema = pa.schema([
        ("i8", pa.int8()), ("i16", pa.int16()), ("i32", pa.int32()), ("i64", pa.int64()),
        ("f32", pa.float32()), ("f64", pa.float64()), ("flag", pa.bool_()), ("s", pa.string()),
        ("d", pa.date32()), ("ts", pa.timestamp("us")), ("money", pa.decimal128(12, 2)),
        ("tags", pa.list_(pa.string())), ("point", pa.struct([("x", pa.int32()), ("y", pa.float64())])),
        ("attrs", pa.map_(pa.string(), pa.int64())), ("blob", pa.binary()),
    ])
    row = {"i8": 1, "i16": 1, "i32": 1, "i64": 1, "f32": 1.0, "f64": 1.0, "flag": True, "s": "x",
           "d": None, "ts": None, "money": Decimal("1.25"), "tags": ["a"], "point": {"x": 1, "y": 2.0},
           "attrs": [("k", 1)], "blob": b"x"}
    path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pylist([row], schema=schema), path)
    assert read_file_schema(path).columns == {
        "i8": "tinyint", "i16": "smallint", "i32": "int", "i64": "bigint", "f32": "float", "f64": "double",
        "flag": "boolean", "s": "string", "d": "date", "ts": "timestamp", "money": "decimal(12,2)",
        "tags": "array<string>", "point": "struct<x:int,y:double>", "attrs": "map<string,bigint>",
        "blob": "binary",
    }
    assert glue_type(pa.dictionary(pa.int32(), pa.string())) == "string"
    assert glue_type(pa.uint32()) == "bigint"


def test_widening_rules() -> None:
    assert widen("int", "bigint") == "bigint"
    assert widen("int", "double") == "double"
    assert widen("decimal(10,2)", "decimal(12,4)") == "decimal(12,4)"
    assert widen("decimal(10,2)", "int") == "decimal(12,2)"
    assert widen("date", "timestamp") == "timestamp"
    assert widen("bigint", "string") == "string"
    assert widen("struct<a:int>", "struct<a:bigint,b:string>") == "struct<a:bigint,b:string>"
    assert widen("array<int>", "array<double>") == "array<double>"
    assert widen(None, "boolean") == "boolean"
