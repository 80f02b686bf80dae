"""Glue's Python library (awsglue) on the local Spark: Glue-style scripts run unedited, from state machines and
directly; DynamicFrame methods and transforms checked against answers computed in plain Python."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import emulator
import emulator.integrations.glue  # the catalog actions share aws-sdk:glue with the job actions
import emulator.integrations.gluejobs  # registers glue and aws-sdk:glue job actions
from emulator import glue_runtime
from emulator.backends import Backends
from emulator.integrations.gluejobs import run_glue_script
from emulator.workspace import Config, Workspace

pytest.importorskip("pyspark")

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).parent / "glue_scripts"
LEASE = "tests/test_awsglue.py"
REGIONS = {"eu": 7, "us": 5, "ap": 3}
HEADER = "order_id,customer,amount,note,order_date\n"


def _orders_csv(region: str, count: int) -> str:
    """Orders whose amount is sometimes not a number (a choice of double and string) and whose note is always empty."""
    base = {"eu": 100, "us": 200, "ap": 300}[region]
    lines = [f"{base + i},cust{i % 3},{'n/a' if i % 4 == 1 else f'{i * 2.5:.2f}'},,2024-0{1 + i % 9}-1{i % 10}"
             for i in range(count)]
    return HEADER + "\n".join(lines) + "\n"


def _expected_orders(regions: list[str]) -> set[tuple[Any, ...]]:
    """What the job should write, from the CSV text with Python's csv module."""
    rows = set()
    for region in regions:
        for r in csv.DictReader(io.StringIO(_orders_csv(region, REGIONS[region]))):
            try:
                amount: float | None = float(r["amount"])
            except ValueError:
                amount = None
            rows.add((int(r["order_id"]), r["customer"], amount, date.fromisoformat(r["order_date"]), region))
    return rows


PEOPLE = [
    {"id": "p1", "name": "Ann", "contact": {"email": "ann@x.org", "phone": "1"},
     "memberships": [{"org_id": "o1", "role": "chair"}, {"org_id": "o2", "role": "member"}]},
    {"id": "p2", "name": "Bob", "contact": {"email": "bob@x.org", "phone": "2"},
     "memberships": [{"org_id": "o2", "role": "treasurer"}]},
    {"id": "p3", "name": "Cid", "contact": {"email": "cid@x.org", "phone": "3"}, "memberships": []},
]
ORGS = [{"org_id": "o1", "org_name": "Parks"}, {"org_id": "o2", "org_name": "Roads"}]


def _lines(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("awsglue")
    config = Config(glue_jobs={
        "orders-to-curated": {"ScriptLocation": str(SCRIPTS / "orders_to_curated.py"), "GlueVersion": "4.0",
                              "DefaultArguments": {"--source_database": "raw", "--source_table": "orders",
                                                   "--target_database": "curated"}},
        "incremental-events": {"ScriptLocation": str(SCRIPTS / "incremental_events.py"),
                               "DefaultArguments": {"--job-bookmark-option": "job-bookmark-enable",
                                                    "--source": "s3://landing/events/"}},
        "people-memberships": {"ScriptLocation": str(SCRIPTS / "people_memberships.py"),
                               "DefaultArguments": {"--people": "s3://landing/people/", "--orgs": "s3://landing/orgs/",
                                                    "--staging": "s3://scratch/staging/"}},
    })
    workspace = Workspace(root=root / "ws", project=root, config=config)
    backends = Backends(workspace)
    store, catalog = backends.object_store, backends.catalog
    for region, count in REGIONS.items():
        store.put("raw", f"orders/region={region}/part-0.csv", _orders_csv(region, count).encode())
    catalog.create_database({"Name": "raw"})
    catalog.create_database({"Name": "curated"})
    columns = [{"Name": n, "Type": t} for n, t in [("order_id", "bigint"), ("customer", "string"),
                                                   ("amount", "string"), ("note", "string"), ("order_date", "string")]]
    storage = {"Columns": columns, "Location": "s3://raw/orders/",
               "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
               "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                             "Parameters": {"field.delim": ","}}}
    catalog.create_table("raw", {"Name": "orders", "StorageDescriptor": storage,
                                 "PartitionKeys": [{"Name": "region", "Type": "string"}],
                                 "Parameters": {"classification": "csv", "skip.header.line.count": "1"}})
    catalog.batch_create_partitions("raw", "orders", [
        {"Values": [r], "StorageDescriptor": {**storage, "Location": f"s3://raw/orders/region={r}/"}} for r in REGIONS])
    store.put("landing", "people/people.json", _lines(PEOPLE))
    store.put("landing", "orgs/orgs.json", _lines(ORGS))
    backends.spark.acquire(LEASE)
    yield workspace
    backends.spark.release(LEASE)


def _task(resource: str, result: str, **params: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": f"arn:aws:states:::{resource}", "Parameters": params, "ResultPath": result}


def _start_job(ws: Workspace, job: str, arguments: dict[str, str]) -> dict[str, Any]:
    """glue:startJobRun.sync in a one-state machine; the finished JobRun."""
    definition = {"StartAt": "Run", "States": {"Run": {**_task("glue:startJobRun.sync", "$.run", JobName=job,
                                                               Arguments=arguments), "End": True}}}
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    return ex.output["run"]


def _run_directly(ws: Workspace, script: str, **arguments: str) -> None:
    argv = [part for key, value in {"JOB_NAME": script, **arguments}.items() for part in (f"--{key}", value)]
    result = run_glue_script(ws, Backends(ws).spark, SCRIPTS / script, argv, script)
    assert result.state == "SUCCEEDED", (result.error_message, result.log_tail)


def _check_curated(ws: Workspace, table: str, path: str) -> None:
    backends = Backends(ws)
    got = backends.catalog.get_table("curated", table)
    assert got["StorageDescriptor"]["Location"] == path
    assert [(c["Name"], c["Type"]) for c in got["StorageDescriptor"]["Columns"]] == [
        ("order_id", "bigint"), ("customer", "string"), ("amount", "double"), ("order_date", "date")]  # note dropped
    assert got["PartitionKeys"] == [{"Name": "region", "Type": "string"}]
    assert got["Parameters"]["classification"] == "parquet"
    partitions = backends.catalog.get_partitions("curated", table)
    assert sorted((p["Values"], p["StorageDescriptor"]["Location"]) for p in partitions) == [
        (["eu"], f"{path}region=eu/"), (["us"], f"{path}region=us/")]  # push_down_predicate left ap out
    rows = pq.read_table(backends.object_store.local_path(path)).to_pylist()
    assert {(r["order_id"], r["customer"], r["amount"], r["order_date"], str(r["region"])) for r in rows} == \
        _expected_orders(["eu", "us"])
    assert len(rows) == REGIONS["eu"] + REGIONS["us"]


def test_catalog_job_through_a_state_machine_updates_the_catalog(ws: Workspace) -> None:
    run = _start_job(ws, "orders-to-curated", {"--target_path": "s3://curated/orders_sfn/",
                                               "--target_table": "orders_sfn"})
    assert run["JobRunState"] == "SUCCEEDED"
    _check_curated(ws, "orders_sfn", "s3://curated/orders_sfn/")


def test_catalog_job_run_directly(ws: Workspace) -> None:
    _run_directly(ws, "orders_to_curated.py", source_database="raw", source_table="orders",
                  target_path="s3://curated/orders_direct/", target_database="curated", target_table="orders_direct")
    _check_curated(ws, "orders_direct", "s3://curated/orders_direct/")


def _events(day: int, count: int) -> bytes:
    return _lines([{"event_id": f"d{day}-{i}", "day": day, "value": i * day} for i in range(count)])


def _ids(ws: Workspace, path: str) -> list[str]:
    folder = Backends(ws).object_store.local_path(path)
    if not folder.exists():
        return []
    return sorted(r["event_id"] for r in pq.read_table(folder).to_pylist())


def test_bookmarked_job_reads_only_new_files(ws: Workspace) -> None:
    store = Backends(ws).object_store
    store.put("landing", "events/day=1/events.json", _events(1, 3))
    _start_job(ws, "incremental-events", {"--target": "s3://lake/events/run1/"})
    assert _ids(ws, "s3://lake/events/run1/") == ["d1-0", "d1-1", "d1-2"]

    store.put("landing", "events/day=2/events.json", _events(2, 2))
    _start_job(ws, "incremental-events", {"--target": "s3://lake/events/run2/"})
    assert _ids(ws, "s3://lake/events/run2/") == ["d2-0", "d2-1"]  # day 1 was read by the committed first run

    _start_job(ws, "incremental-events", {"--target": "s3://lake/events/run3/"})
    assert _ids(ws, "s3://lake/events/run3/") == []  # nothing new: nothing written

    store.put("landing", "events/day=3/events.json", _events(3, 1))
    _start_job(ws, "incremental-events", {"--target": "s3://lake/events/paused/",
                                          "--job-bookmark-option": "job-bookmark-pause"})
    assert _ids(ws, "s3://lake/events/paused/") == ["d3-0"]
    _start_job(ws, "incremental-events", {"--target": "s3://lake/events/run4/"})
    assert _ids(ws, "s3://lake/events/run4/") == ["d3-0"]  # the paused run left the bookmark where it was

    _start_job(ws, "incremental-events", {"--target": "s3://lake/events/all/",
                                          "--job-bookmark-option": "job-bookmark-disable"})
    assert len(_ids(ws, "s3://lake/events/all/")) == 6

    definition = {"StartAt": "Get", "States": {
        "Get": {**_task("aws-sdk:glue:getJobBookmark", "$.got", JobName="incremental-events"), "Next": "Reset"},
        "Reset": {**_task("aws-sdk:glue:resetJobBookmark", "$.reset", JobName="incremental-events"), "End": True}}}
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    entry = ex.output["got"]["JobBookmarkEntry"]
    assert entry["Run"] == 4 and entry["RunId"].startswith("jr_")  # the four enabled runs committed
    assert sorted(json.loads(entry["JobBookmark"])["events_source"]) == [
        f"s3://landing/events/day={d}/events.json" for d in (1, 2, 3)]
    _start_job(ws, "incremental-events", {"--target": "s3://lake/events/after_reset/"})
    assert len(_ids(ws, "s3://lake/events/after_reset/")) == 6


def _expected_memberships() -> list[tuple[str, str, str, str]]:
    orgs = {o["org_id"]: o["org_name"] for o in ORGS}
    return sorted((p["name"], p["contact"]["email"], orgs[m["org_id"]], m["role"])
                  for p in PEOPLE for m in p["memberships"])


def _json_rows(ws: Workspace, path: str) -> list[dict[str, Any]]:
    folder = Backends(ws).object_store.local_path(path)
    return [json.loads(line) for f in sorted(folder.glob("part-*")) for line in f.read_text().splitlines()]


def test_relationalize_and_join_of_nested_json(ws: Workspace) -> None:
    _run_directly(ws, "people_memberships.py", people="s3://landing/people/", orgs="s3://landing/orgs/",
                  target="s3://lake/memberships_direct/", staging="s3://scratch/staging/")
    rows = _json_rows(ws, "s3://lake/memberships_direct/")
    assert sorted((r["name"], r["email"], r["org_name"], r["role"]) for r in rows) == _expected_memberships()
    assert all(set(r) == {"name", "email", "org_name", "role"} for r in rows)


def test_relationalize_job_through_a_state_machine(ws: Workspace) -> None:
    _start_job(ws, "people-memberships", {"--target": "s3://lake/memberships_sfn/"})
    rows = _json_rows(ws, "s3://lake/memberships_sfn/")
    assert sorted((r["name"], r["email"], r["org_name"], r["role"]) for r in rows) == _expected_memberships()


def test_glue_version_of_csv_to_parquet_writes_what_the_plain_job_writes(ws: Workspace) -> None:
    backends = Backends(ws)
    source = ROOT / "sample_data" / "car_rental" / "vehicles" / "vehicles.csv"
    backends.object_store.put("raw", "vehicles/vehicles.csv", source.read_bytes())
    args = ["--JOB_NAME", "csv-to-parquet", "--source", "s3://raw/vehicles/", "--partition_column", "make"]
    plain = backends.spark.run_script(ROOT / "spark_jobs" / "csv_to_parquet.py",
                                      [*args, "--target", "s3://curated/vehicles_plain/"])
    assert plain.state == "SUCCEEDED", plain.error_message
    # A stale file under the target: the Glue job purges the target first, as the plain job's overwrite does.
    backends.object_store.put("curated", "vehicles_glue/make=Old/stale.parquet", b"not parquet")
    glue = run_glue_script(ws, backends.spark, ROOT / "spark_jobs" / "csv_to_parquet_glue.py",
                           [*args, "--target", "s3://curated/vehicles_glue/"], "csv-to-parquet")
    assert glue.state == "SUCCEEDED", (glue.error_message, glue.log_tail)
    plain_dir, glue_dir = (backends.object_store.local_path(f"s3://curated/vehicles_{k}/") for k in ("plain", "glue"))
    plain_table, glue_table = pq.read_table(plain_dir), pq.read_table(glue_dir)
    assert glue_table.schema == plain_table.schema
    key = sorted(plain_table.column_names)

    def rows(table: Any) -> list[tuple[Any, ...]]:
        return sorted(tuple(str(r[k]) for k in key) for r in table.to_pylist())

    assert rows(glue_table) == rows(plain_table)
    assert len(rows(glue_table)) == len(source.read_text().splitlines()) - 1
    folders = {k: backends.object_store.list("curated", f"vehicles_{k}/", delimiter="/").common_prefixes
               for k in ("plain", "glue")}
    assert [f.removeprefix("vehicles_glue/") for f in folders["glue"]] == [
        f.removeprefix("vehicles_plain/") for f in folders["plain"]]  # make=Old was purged


# -- the library used directly, in this process ---------------------------------------------------------------
@pytest.fixture(scope="module")
def glue(ws: Workspace) -> Iterator[Any]:
    sys.path.insert(0, str(glue_runtime.RUNTIME_PATH))
    backends = Backends(ws)
    try:
        with glue_runtime.bind(glue_runtime.runtime_for(ws, backends.spark, "in-process")):
            from awsglue.context import GlueContext

            yield GlueContext(backends.spark.session().sparkContext)
    finally:
        sys.path.remove(str(glue_runtime.RUNTIME_PATH))


def _frame(glue: Any, rows: list[dict[str, Any]], ddl: str) -> Any:
    from awsglue.dynamicframe import DynamicFrame

    return DynamicFrame.fromDF(glue.spark_session.createDataFrame(rows, ddl), glue, "frame")


def test_resolve_choice_actions_split_values_by_the_type_they_read_as(glue: Any) -> None:
    from awsglue.transforms import ResolveChoice

    values = ["1", "x", "2.5", None, "3000000000"]
    frame = _frame(glue, [{"id": i, "v": v} for i, v in enumerate(values)], "id int, v string")
    cols = frame.resolveChoice(specs=[("v", "make_cols")]).toDF()
    assert cols.columns == ["id", "v_int", "v_long", "v_double", "v_string"]
    got = {r["id"]: (r["v_int"], r["v_long"], r["v_double"], r["v_string"]) for r in cols.collect()}
    assert got == {0: (1, None, None, None), 1: (None, None, None, "x"), 2: (None, None, 2.5, None),
                   3: (None, None, None, None), 4: (None, 3000000000, None, None)}
    struct = ResolveChoice.apply(frame=frame, choice="make_struct").toDF()
    assert {r["id"]: r["v"]["int"] for r in struct.collect()}[0] == 1
    assert struct.schema["v"].dataType.simpleString() == "struct<int:int,long:bigint,double:double,string:string>"
    projected = frame.resolveChoice(specs=[("v", "project:double")]).toDF()
    assert [r["v"] for r in projected.orderBy("id").collect()] == [1.0, None, 2.5, None, 3e9]
    plain = _frame(glue, [{"id": 1, "v": "a"}], "id int, v string").resolveChoice(choice="make_cols")
    assert plain.toDF().columns == ["id", "v"]  # values of one type only: not a choice


def test_apply_mapping_nests_dotted_targets_and_skips_missing_sources(glue: Any) -> None:
    from awsglue.transforms import ApplyMapping

    frame = _frame(glue, [{"a": "1", "b": "x", "c": {"d": "2024-05-01"}}], "a string, b string, c struct<d:string>")
    mapped = ApplyMapping.apply(frame=frame, mappings=[("a", "string", "out.n", "int"), ("b", "string", "out.s", "string"),
                                                       ("c.d", "string", "when", "date"),
                                                       ("absent", "string", "z", "string")])
    row = mapped.toDF().first()
    assert mapped.toDF().columns == ["out", "when"]
    assert (row["out"]["n"], row["out"]["s"], row["when"]) == (1, "x", date(2024, 5, 1))


def test_record_transforms(glue: Any) -> None:
    from awsglue.transforms import DropNullFields, Filter, Map, SplitFields, SplitRows

    rows = [{"k": i, "name": f"n{i}", "gone": None} for i in range(6)]
    frame = _frame(glue, rows, "k int, name string, gone string")
    assert DropNullFields.apply(frame=frame).toDF().columns == ["k", "name"]
    kept = Filter.apply(frame=frame, f=lambda r: r["k"] % 2 == 0)
    assert sorted(r["k"] for r in kept.toDF().collect()) == [0, 2, 4]

    def double(record: dict[str, Any]) -> dict[str, Any]:
        record["twice"] = record["k"] * 2
        return record

    mapped = Map.apply(frame=frame, f=double).toDF()
    assert sorted((r["k"], r["twice"]) for r in mapped.collect()) == [(i, 2 * i) for i in range(6)]
    split = SplitRows.apply(frame=frame, comparison_dict={"k": {">": 1, "<=": 3}}, name1="mid", name2="rest")
    assert sorted(r["k"] for r in split["mid"].toDF().collect()) == [2, 3]
    assert split.select("rest").count() == 4
    fields = SplitFields.apply(frame=frame, paths=["name"], name1="names", name2="others")
    assert (fields["names"].toDF().columns, fields["others"].toDF().columns) == (["name"], ["k", "gone"])


def test_what_needs_aws_fails_with_a_clear_error_not_an_import_error(glue: Any) -> None:
    from awsglueml.transforms import FindMatches

    with pytest.raises(glue_runtime.NotAvailableLocallyError, match=r"FindMatches\.apply is not available locally"):
        FindMatches.apply(frame=None, transformId="tfm-1")
    with pytest.raises(glue_runtime.NotAvailableLocallyError, match="connection_type='postgresql'"):
        glue.create_dynamic_frame.from_options(connection_type="postgresql", connection_options={"dbtable": "t"})
    with pytest.raises(glue_runtime.NotAvailableLocallyError, match="from_jdbc_conf is not available locally"):
        glue.write_dynamic_frame.from_jdbc_conf(frame=None, catalog_connection="c")


def test_a_job_using_an_ml_transform_fails_naming_the_call(ws: Workspace, tmp_path: Path) -> None:
    script = tmp_path / "ml_job.py"
    script.write_text("from awsglueml.transforms import FindMatches\nFindMatches.apply(frame=None, transformId='t')\n")
    result = run_glue_script(ws, Backends(ws).spark, script, ["--JOB_NAME", "ml"], "ml")
    assert result.state == "FAILED"
    assert result.error_message.startswith("NotAvailableLocallyError: awsglueml.transforms.FindMatches.apply is not "
                                           "available locally")


def test_nested_field_operations_and_printing(glue: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from awsglue.transforms import DropFields, RenameField, UnnestFrame

    frame = _frame(glue, [{"id": 1, "c": {"email": "a@x", "phone": "9"}}, {"id": 2, "c": {"email": "b@x", "phone": None}}],
                   "id int, c struct<email:string,phone:string>")
    renamed = RenameField.apply(frame=frame, old_name="c.email", new_name="c.mail")
    assert renamed.toDF().schema["c"].dataType.simpleString() == "struct<phone:string,mail:string>"
    dropped = DropFields.apply(frame=frame, paths=["c.phone"])
    assert dropped.toDF().schema["c"].dataType.simpleString() == "struct<email:string>"
    flat = UnnestFrame.apply(frame=frame)
    assert flat.toDF().columns == ["id", "c.email", "c.phone"]
    merged = frame.mergeDynamicFrame(_frame(glue, [{"id": 2, "c": {"email": "new@x", "phone": "7"}}],
                                            "id int, c struct<email:string,phone:string>"), ["id"])
    assert sorted((r["id"], r["c"]["email"]) for r in merged.toDF().collect()) == [(1, "a@x"), (2, "new@x")]
    capsys.readouterr()
    frame.show(1)
    frame.printSchema()
    out = capsys.readouterr().out.splitlines()
    assert json.loads(out[0]) == {"id": 1, "c": {"email": "a@x", "phone": "9"}}
    assert out[1] == "root" and any("email: string" in line for line in out[2:])
