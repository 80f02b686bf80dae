"""Distributed Map over the local object store: readers, batching, result writing, tolerance, child executions."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import emulator
from emulator.backends.objectstore import ObjectStore
from emulator.engine.distributed import find_map_run
from emulator.workspace import Workspace
from tests.conftest import types

GET = "arn:aws:states:::s3:getObject"
LIST = "arn:aws:states:::s3:listObjectsV2"
PUT = "arn:aws:states:::s3:putObject"
FN = "arn:aws:lambda:us-east-1:123456789012:function:work"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(root=tmp_path / "ws", project=tmp_path)


@pytest.fixture
def store(ws: Workspace) -> ObjectStore:
    return ObjectStore(ws)


def dmap(processor_states: dict[str, Any] | None = None, execution_type: str = "STANDARD",
         jsonata: bool = False, **fields: Any) -> dict[str, Any]:
    states = processor_states or {"P": {"Type": "Pass", "End": True}}
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                 "StartAt": next(iter(states)), "States": states}
    top = {"QueryLanguage": "JSONata"} if jsonata else {}
    return {**top, "StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": processor, "End": True, **fields}}}


def reader(key: str, resource: str = GET, **config: Any) -> dict[str, Any]:
    return {"Resource": resource, "ReaderConfig": config, "Parameters": {"Bucket": "data", "Key": key}}


def run(definition: dict[str, Any], ws: Workspace, input: Any = None, **options: Any) -> Any:
    return emulator.run(definition, {} if input is None else input, workspace=ws, **options)


def ok(ex: Any) -> Any:
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    return ex.output


def parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return sink.getvalue()


# ---------------------------------------------------------------------------------------------
# Readers


def test_csv_first_row_reads_every_value_as_a_string(ws: Workspace, store: ObjectStore) -> None:
    store.put("data", "rows.csv", b"\xef\xbb\xbfid,name,score\n1,ann,9.5\n2,\"b, c\",10\n\n3,dee,\n")
    out = ok(run(dmap(ItemReader=reader("rows.csv", InputType="CSV", CSVHeaderLocation="FIRST_ROW")), ws))
    assert out == [{"id": "1", "name": "ann", "score": "9.5"}, {"id": "2", "name": "b, c", "score": "10"},
                   {"id": "3", "name": "dee", "score": ""}]


@pytest.mark.parametrize(("delimiter", "sep"), [("PIPE", "|"), ("SEMICOLON", ";"), ("TAB", "\t"), ("SPACE", " ")])
def test_csv_given_headers_and_delimiter(ws: Workspace, store: ObjectStore, delimiter: str, sep: str) -> None:
    store.put("data", "rows.txt", f"1{sep}x\n2{sep}y\n".encode())
    config = {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["n", "v"], "CSVDelimiter": delimiter}
    out = ok(run(dmap(ItemReader=reader("rows.txt", **config)), ws))
    assert out == [{"n": "1", "v": "x"}, {"n": "2", "v": "y"}]


def test_json_array_and_items_pointer(ws: Workspace, store: ObjectStore) -> None:
    store.put("data", "a.json", json.dumps([{"n": 1}, {"n": 2}]).encode())
    store.put("data", "doc.json", json.dumps({"meta": {}, "data": {"rows": [{"n": 3}, "four"]}}).encode())
    assert ok(run(dmap(ItemReader=reader("a.json", InputType="JSON")), ws)) == [{"n": 1}, {"n": 2}]
    out = ok(run(dmap(ItemReader=reader("doc.json", InputType="JSON", ItemsPointer="/data/rows")), ws))
    assert out == [{"n": 3}, "four"]


def test_json_lines(ws: Workspace, store: ObjectStore) -> None:
    store.put("data", "a.jsonl", b'{"n": 1}\n\n{"n": 2}\n[3]\n')
    assert ok(run(dmap(ItemReader=reader("a.jsonl", InputType="JSONL")), ws)) == [{"n": 1}, {"n": 2}, [3]]


def test_parquet_file(ws: Workspace, store: ObjectStore) -> None:
    store.put("data", "t.parquet", parquet_bytes([{"id": i, "name": f"n{i}"} for i in range(3)]))
    out = ok(run(dmap(ItemReader=reader("t.parquet", InputType="PARQUET")), ws))
    assert out == [{"id": i, "name": f"n{i}"} for i in range(3)]


def test_list_objects_v2_with_prefix(ws: Workspace, store: ObjectStore) -> None:
    for key in ("in/a.txt", "in/b/c.txt", "other/d.txt"):
        store.put("data", key, key.encode())
    spec = {"Resource": LIST, "Parameters": {"Bucket": "data", "Prefix": "in/"}}
    out = ok(run(dmap(ItemReader=spec), ws))
    assert [o["Key"] for o in out] == ["in/a.txt", "in/b/c.txt"]
    first = out[0]
    assert set(first) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
    assert first["Size"] == len("in/a.txt") and first["Etag"] == store.head("data", "in/a.txt").etag
    assert isinstance(first["LastModified"], int) and first["StorageClass"] == "STANDARD"


def test_s3_inventory_manifest_with_gzipped_csv_files(ws: Workspace, store: ObjectStore) -> None:
    store.put("inv", "data/part-1.csv.gz", gzip.compress(b'"src","a.txt","10"\n"src","b.txt","20"\n'))
    store.put("inv", "data/part-2.csv", b'"src","c.txt","30"\n')
    manifest = {"sourceBucket": "src", "destinationBucket": "arn:aws:s3:::inv", "fileFormat": "CSV",
                "fileSchema": "Bucket, Key, Size",
                "files": [{"key": "data/part-1.csv.gz", "size": 1}, {"key": "data/part-2.csv", "size": 1}]}
    store.put("data", "manifest.json", json.dumps(manifest).encode())
    out = ok(run(dmap(ItemReader=reader("manifest.json", InputType="MANIFEST")), ws))
    assert out == [{"Bucket": "src", "Key": "a.txt", "Size": "10"}, {"Bucket": "src", "Key": "b.txt", "Size": "20"},
                   {"Bucket": "src", "Key": "c.txt", "Size": "30"}]


def test_s3_inventory_manifest_with_parquet_files(ws: Workspace, store: ObjectStore) -> None:
    store.put("inv", "p/1.parquet", parquet_bytes([{"bucket": "src", "key": "a", "size": 1}]))
    store.put("inv", "p/2.parquet", parquet_bytes([{"bucket": "src", "key": "b", "size": 2}]))
    manifest = {"destinationBucket": "arn:aws:s3:::inv", "fileFormat": "Parquet", "fileSchema": "message s3 {}",
                "files": [{"key": "p/1.parquet"}, {"key": "p/2.parquet"}]}
    store.put("data", "manifest.json", json.dumps(manifest).encode())
    out = ok(run(dmap(ItemReader=reader("manifest.json", InputType="MANIFEST")), ws))
    assert out == [{"bucket": "src", "key": "a", "size": 1}, {"bucket": "src", "key": "b", "size": 2}]


def test_athena_data_manifest(ws: Workspace, store: ObjectStore) -> None:
    store.put("res", "q/1.csv", b"n\n1\n2\n")
    store.put("res", "q/2.csv", b"n\n3\n")
    store.put("data", "q-manifest.csv", b"s3://res/q/1.csv\ns3://res/q/2.csv\n")
    out = ok(run(dmap(ItemReader=reader("q-manifest.csv", ManifestType="ATHENA_DATA", InputType="CSV",
                                        CSVHeaderLocation="FIRST_ROW")), ws))
    assert out == [{"n": "1"}, {"n": "2"}, {"n": "3"}]


def test_max_items_and_max_items_path_with_a_numeric_string(ws: Workspace, store: ObjectStore) -> None:
    store.put("data", "a.jsonl", b"".join(b'{"n": %d}\n' % i for i in range(10)))
    fixed = reader("a.jsonl", InputType="JSONL", MaxItems=3)
    assert ok(run(dmap(ItemReader=fixed), ws)) == [{"n": 0}, {"n": 1}, {"n": 2}]
    by_path = reader("a.jsonl", InputType="JSONL", MaxItemsPath="$.limit")
    assert len(ok(run(dmap(ItemReader=by_path), ws, {"limit": "4"}))) == 4
    bad = run(dmap(ItemReader=by_path), ws, {"limit": "four"})
    assert (bad.status, bad.error) == ("FAILED", "States.Runtime") and "MaxItemsPath" in bad.cause


def test_item_selector_sees_each_read_item_and_its_index(ws: Workspace, store: ObjectStore) -> None:
    store.put("data", "a.csv", b"v\nx\ny\n")
    definition = dmap(ItemReader=reader("a.csv", InputType="CSV", CSVHeaderLocation="FIRST_ROW"),
                      ItemSelector={"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value.v", "run.$": "$.run"})
    assert ok(run(definition, ws, {"run": 7})) == [{"i": 0, "v": "x", "run": 7}, {"i": 1, "v": "y", "run": 7}]


def test_jsonata_reader_batcher_and_writer_forms(ws: Workspace, store: ObjectStore) -> None:
    store.put("data", "a.jsonl", b"".join(b'{"n": %d}\n' % i for i in range(7)))
    definition = dmap(
        jsonata=True,
        ItemReader={"Resource": GET, "ReaderConfig": {"InputType": "JSONL", "MaxItems": "{% $states.input.max %}"},
                    "Arguments": {"Bucket": "data", "Key": "{% $states.input.key %}"}},
        ItemSelector="{% {'n': $states.context.Map.Item.Value.n * 10} %}",
        ItemBatcher={"MaxItemsPerBatch": "{% $states.input.size %}", "BatchInput": {"who": "{% $states.input.who %}"}},
        ResultWriter={"Resource": PUT, "Arguments": {"Bucket": "out", "Prefix": "{% 'runs/' & $states.input.who %}"},
                      "WriterConfig": {"OutputType": "JSON", "Transformation": "COMPACT"}},
        ItemProcessor=None,
    )
    definition["States"]["M"]["ItemProcessor"] = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": "{% $sum($states.input.Items.n) %}", "End": True}}}
    out = ok(run(definition, ws, {"max": 5, "key": "a.jsonl", "size": 2, "who": "me"}))
    assert out["ResultWriterDetails"]["Key"].startswith("runs/me/")
    manifest = json.loads(store.get("out", out["ResultWriterDetails"]["Key"])[0])
    body = store.get("out", manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])[0]
    assert json.loads(body) == [10, 50, 40]  # batches [0,10] [20,30] [40]


# ---------------------------------------------------------------------------------------------
# Batching


def test_max_items_per_batch_and_batch_input(ws: Workspace, store: ObjectStore) -> None:
    definition = dmap(ItemsPath="$.items", ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"job.$": "$.job"}})
    ex = run(definition, ws, {"items": [1, 2, 3, 4, 5], "job": "j"})
    assert ok(ex) == [{"BatchInput": {"job": "j"}, "Items": [1, 2]}, {"BatchInput": {"job": "j"}, "Items": [3, 4]},
                      {"BatchInput": {"job": "j"}, "Items": [5]}]
    assert len(ex.map_runs[0].executions) == 3
    assert ex.map_runs[0].describe()["itemCounts"]["succeeded"] == 5


def test_max_input_bytes_per_batch_bounds_each_batch(ws: Workspace, store: ObjectStore) -> None:
    items = [{"id": i, "pad": "x" * (i % 7)} for i in range(40)]
    out = ok(run(dmap(ItemsPath="$.items", ItemBatcher={"MaxInputBytesPerBatch": 120}), ws, {"items": items}))
    assert [i for batch in out for i in batch["Items"]] == items
    sizes = [len(json.dumps(b, separators=(",", ":"))) for b in out]
    assert max(sizes) <= 120 and len(out) > 1
    # Greedy: no batch could have taken the next batch's first item.
    for batch, following in itertools.pairwise(out):
        grown = {"Items": [*batch["Items"], following["Items"][0]]}
        assert len(json.dumps(grown, separators=(",", ":"))) > 120


def test_batcher_paths_accept_numeric_strings(ws: Workspace) -> None:
    definition = dmap(ItemsPath="$.items", ItemBatcher={"MaxItemsPerBatchPath": "$.size"})
    out = ok(run(definition, ws, {"items": list(range(5)), "size": "3"}))
    assert [b["Items"] for b in out] == [[0, 1, 2], [3, 4]]


def test_an_item_larger_than_the_batch_byte_limit_fails(ws: Workspace) -> None:
    ex = run(dmap(ItemsPath="$.items", ItemBatcher={"MaxInputBytesPerBatch": 30}), ws, {"items": ["y" * 40]})
    assert ex.error == "States.Runtime" and "MaxInputBytesPerBatch" in ex.cause


# ---------------------------------------------------------------------------------------------
# Result writer


def _written(store: ObjectStore, out: dict[str, Any]) -> tuple[dict[str, Any], dict[str, bytes]]:
    details = out["ResultWriterDetails"]
    manifest = json.loads(store.get(details["Bucket"], details["Key"])[0])
    files = {f["Key"]: store.get(details["Bucket"], f["Key"])[0]
             for group in manifest["ResultFiles"].values() for f in group}
    return manifest, files


def test_result_writer_default_writes_manifest_and_none_entries(ws: Workspace, store: ObjectStore) -> None:
    definition = dmap(ItemsPath="$.items", Label="Rows",
                      ResultWriter={"Resource": PUT, "Parameters": {"Bucket": "out", "Prefix": "jobs/"}})
    ex = run(definition, ws, {"items": [{"n": 1}, {"n": 2}]})
    out = ok(ex)
    run_record = ex.map_runs[0]
    assert out == {"MapRunArn": run_record.arn,
                   "ResultWriterDetails": {"Bucket": "out", "Key": f"jobs/{run_record.id}/manifest.json"}}
    assert ":mapRun:StateMachine/Rows:" in run_record.arn
    manifest, files = _written(store, out)
    key = f"jobs/{run_record.id}/SUCCEEDED_0.json"
    assert manifest == {"DestinationBucket": "out", "MapRunArn": run_record.arn,
                        "ResultFiles": {"FAILED": [], "PENDING": [], "SUCCEEDED": [{"Key": key, "Size": len(files[key])}]}}
    entries = json.loads(files[key])
    assert [json.loads(e["Input"]) for e in entries] == [{"n": 1}, {"n": 2}]
    assert run_record.describe()["itemCounts"]["resultsWritten"] == 2
    assert [json.loads(e["Output"]) for e in entries] == [{"n": 1}, {"n": 2}]
    first = entries[0]
    assert first["Status"] == "SUCCEEDED" and first["ExecutionArn"] == run_record.executions[0].arn
    assert first["StateMachineArn"].endswith(":stateMachine:StateMachine/Rows")
    assert {"InputDetails", "OutputDetails", "Name", "StartDate", "StopDate", "RedriveCount"} <= set(first)


def test_result_writer_jsonl_compact_and_flatten(ws: Workspace, store: ObjectStore) -> None:
    processor = {"P": {"Type": "Pass", "Parameters": {"doubled.$": "States.Array($.n, $.n)"}, "OutputPath": "$.doubled",
                       "End": True}}
    for transformation, expected in (("COMPACT", [[1, 1], [2, 2]]), ("FLATTEN", [1, 1, 2, 2])):
        definition = dmap(processor, ItemsPath="$.items", ResultWriter={
            "Resource": PUT, "Parameters": {"Bucket": "out"},
            "WriterConfig": {"OutputType": "JSONL", "Transformation": transformation}})
        out = ok(run(definition, ws, {"items": [{"n": 1}, {"n": 2}]}))
        manifest, files = _written(store, out)
        (entry,) = manifest["ResultFiles"]["SUCCEEDED"]
        assert entry["Key"].endswith("/SUCCEEDED_0.jsonl") and not entry["Key"].startswith("/")
        assert [json.loads(line) for line in files[entry["Key"]].splitlines()] == expected


def test_writer_config_alone_transforms_the_state_output(ws: Workspace) -> None:
    processor = {"P": {"Type": "Pass", "OutputPath": "$.Items", "End": True}}
    definition = dmap(processor, ItemsPath="$.items", ItemBatcher={"MaxItemsPerBatch": 2},
                      ResultWriter={"WriterConfig": {"OutputType": "JSON", "Transformation": "FLATTEN"}})
    assert ok(run(definition, ws, {"items": [1, 2, 3]})) == [1, 2, 3]
    none = dmap(ItemsPath="$.items", ResultWriter={"WriterConfig": {"OutputType": "JSON", "Transformation": "NONE"}})
    out = ok(run(none, ws, {"items": [5]}))
    assert out[0]["Status"] == "SUCCEEDED" and json.loads(out[0]["Output"]) == 5


def test_failed_children_go_to_failed_files(ws: Workspace, store: ObjectStore) -> None:
    processor = {"C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericGreaterThan": 2, "Next": "Boom"}],
                       "Default": "Ok"},
                 "Boom": {"Type": "Fail", "Error": "TooBig", "Cause": "over two"}, "Ok": {"Type": "Pass", "End": True}}
    definition = dmap(processor, ItemsPath="$.items", ToleratedFailureCount=5,
                      ResultWriter={"Resource": PUT, "Parameters": {"Bucket": "out", "Prefix": "r"}})
    out = ok(run(definition, ws, {"items": [1, 2, 3, 4]}))
    manifest, files = _written(store, out)
    (failed,) = manifest["ResultFiles"]["FAILED"]
    entries = json.loads(files[failed["Key"]])
    assert [(e["Status"], e["Error"], e["Cause"], json.loads(e["Input"])) for e in entries] == [
        ("FAILED", "TooBig", "over two", 3), ("FAILED", "TooBig", "over two", 4)]
    assert len(json.loads(files[manifest["ResultFiles"]["SUCCEEDED"][0]["Key"]])) == 2


def test_a_result_writer_that_cannot_write_fails_with_result_writer_failed(ws: Workspace) -> None:
    definition = dmap(ItemsPath="$.items", ResultWriter={"Resource": PUT, "Parameters": {"Bucket": "Bad_Bucket!"}})
    ex = run(definition, ws, {"items": [1]})
    assert ex.error == "States.ResultWriterFailed"
    assert types(ex)[-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]
    assert "Bad_Bucket!" in ex.cause


# ---------------------------------------------------------------------------------------------
# Tolerated failures


FAIL_OVER_7 = {"C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 7, "Next": "Boom"}],
                     "Default": "Ok"},
               "Boom": {"Type": "Fail", "Error": "Big", "Cause": "n > 7"}, "Ok": {"Type": "Pass", "End": True}}


def _numbers(store: ObjectStore, count: int) -> dict[str, Any]:
    store.put("data", "n.jsonl", b"".join(b'{"n": %d}\n' % i for i in range(count)))
    return reader("n.jsonl", InputType="JSONL")


def test_no_tolerance_fails_the_map_run_on_the_first_failure(ws: Workspace, store: ObjectStore) -> None:
    ex = run(dmap(FAIL_OVER_7, ItemReader=_numbers(store, 10)), ws)
    assert (ex.status, ex.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    events = {e["type"]: e for e in ex.history}
    assert events["MapRunFailed"]["mapRunFailedEventDetails"]["error"] == "States.ExceedToleratedFailureThreshold"
    assert types(ex)[-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]
    record = ex.map_runs[0]
    assert record.status == "FAILED" and record.describe()["executionCounts"]["failed"] == 1
    assert [e.status for e in record.executions][-1] == "FAILED"


def test_tolerated_failure_count_and_percentage(ws: Workspace, store: ObjectStore) -> None:
    items = _numbers(store, 10)  # n = 8 and 9 fail: 2 of 10, 20%
    assert ok(run(dmap(FAIL_OVER_7, ItemReader=items, ToleratedFailureCount=2), ws))[8] == {"Error": "Big",
                                                                                             "Cause": "n > 7"}
    assert run(dmap(FAIL_OVER_7, ItemReader=items, ToleratedFailureCount=1), ws).error == \
        "States.ExceedToleratedFailureThreshold"
    # A percentage is judged against every item the reader gives, so early failures do not end the run.
    assert ok(run(dmap(FAIL_OVER_7, ItemReader=items, ToleratedFailurePercentage=20), ws))
    assert run(dmap(FAIL_OVER_7, ItemReader=items, ToleratedFailurePercentage=19.5), ws).error == \
        "States.ExceedToleratedFailureThreshold"


def test_tolerance_counts_items_of_failed_batches(ws: Workspace, store: ObjectStore) -> None:
    processor = {"C": {"Type": "Choice", "Choices": [{"Variable": "$.Items[0]", "NumericGreaterThan": 7,
                                                      "Next": "Boom"}], "Default": "Ok"},
                 "Boom": {"Type": "Fail", "Error": "Big"}, "Ok": {"Type": "Pass", "End": True}}
    base = {"ItemsPath": "$.items", "ItemBatcher": {"MaxItemsPerBatch": 2}}
    items = {"items": list(range(10))}  # the last batch [8, 9] fails: 2 items in 1 child
    assert ok(run(dmap(processor, **base, ToleratedFailureCount=2), ws, items))
    ex = run(dmap(processor, **base, ToleratedFailureCount=1), ws, items)
    assert ex.error == "States.ExceedToleratedFailureThreshold"
    assert ex.map_runs[0].describe()["itemCounts"]["failed"] == 2


def test_tolerance_and_concurrency_paths_accept_numeric_strings(ws: Workspace, store: ObjectStore) -> None:
    definition = dmap(FAIL_OVER_7, ItemReader=_numbers(store, 10), ToleratedFailureCountPath="$.count",
                      ToleratedFailurePercentagePath="$.pct", MaxConcurrencyPath="$.conc")
    ex = run(definition, ws, {"count": "2", "pct": "20.0", "conc": "3"})
    ok(ex)
    described = ex.map_runs[0].describe()
    assert (described["maxConcurrency"], described["toleratedFailureCount"],
            described["toleratedFailurePercentage"]) == (3, 2, 20.0)


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(("key", "body", "config", "fragment"), [
    ("missing.csv", None, {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}, "NoSuchKey"),
    ("bad.json", b"[1, 2", {"InputType": "JSON"}, "not valid JSON"),
    ("obj.json", b'{"a": 1}', {"InputType": "JSON"}, "must be an array"),
    ("obj.json", b'{"a": 1}', {"InputType": "JSON", "ItemsPointer": "/b"}, "selects nothing"),
    ("bad.jsonl", b'{"a": 1}\nnope\n', {"InputType": "JSONL"}, "Line 2"),
    ("ragged.csv", b"a,b\n1,2\n3\n", {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}, "Line 3"),
    ("bad.parquet", b"not parquet", {"InputType": "PARQUET"}, "Parquet"),
    ("m.json", b'{"files": 3}', {"InputType": "MANIFEST"}, "S3 Inventory manifest"),
])
def test_reader_failures_are_item_reader_failed(ws: Workspace, store: ObjectStore, key: str, body: bytes | None,
                                                config: dict[str, Any], fragment: str) -> None:
    store.create_bucket("data")
    if body is not None:
        store.put("data", key, body)
    ex = run(dmap(ItemReader=reader(key, **config)), ws)
    assert (ex.status, ex.error) == ("FAILED", "States.ItemReaderFailed")
    assert fragment in ex.cause
    assert types(ex)[-3:] == ["MapRunFailed", "MapStateFailed", "ExecutionFailed"]


def test_item_reader_failed_can_be_caught(ws: Workspace) -> None:
    definition = dmap(ItemReader=reader("nope.json", InputType="JSON"),
                      Catch=[{"ErrorEquals": ["States.ItemReaderFailed"], "Next": "Handled"}])
    del definition["States"]["M"]["End"]
    definition["States"]["M"]["Next"] = "Never"
    definition["States"]["Never"] = {"Type": "Succeed"}
    definition["States"]["Handled"] = {"Type": "Pass", "End": True}
    out = ok(run(definition, ws))
    assert out["Error"] == "States.ItemReaderFailed"


def test_retry_starts_a_new_map_run(ws: Workspace, store: ObjectStore) -> None:
    definition = dmap(FAIL_OVER_7, ItemReader=_numbers(store, 9),
                      Retry=[{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "MaxAttempts": 1}])
    ex = run(definition, ws)
    assert ex.error == "States.ExceedToleratedFailureThreshold"
    assert len(ex.map_runs) == 2 and ex.map_runs[0].arn != ex.map_runs[1].arn
    assert types(ex).count("MapRunStarted") == 2


# ---------------------------------------------------------------------------------------------
# Child executions


def test_children_have_their_own_histories_listable_by_map_run(ws: Workspace, store: ObjectStore) -> None:
    store.put("data", "a.csv", b"k\n1\n2\n3\n")
    definition = dmap(ItemReader=reader("a.csv", InputType="CSV", CSVHeaderLocation="FIRST_ROW"),
                      ItemSelector={"n.$": "States.StringToJson($$.Map.Item.Value.k)"},
                      ItemBatcher={"MaxItemsPerBatch": 2})
    ex = run(definition, ws)
    ok(ex)
    record = ex.map_runs[0]
    assert "MapIterationStarted" not in types(ex) and "PassStateEntered" not in types(ex)
    started = next(e for e in ex.history if e["type"] == "MapRunStarted")
    assert started["mapRunStartedEventDetails"]["mapRunArn"] == record.arn
    assert find_map_run(ex, record.arn) is record
    assert len(record.list_executions()) == 2 and record.list_executions("FAILED") == []
    child = record.executions[0]
    assert record.execution(child.name) is child and child.status == "SUCCEEDED"
    assert child.history[0]["type"] == "ExecutionStarted"
    assert json.loads(child.history[0]["executionStartedEventDetails"]["input"]) == {"Items": [{"n": 1}, {"n": 2}]}
    assert child.history[-1]["type"] == "ExecutionSucceeded"
    assert child.arn.startswith("arn:aws:states:us-east-1:123456789012:execution:StateMachine/M:")
    assert record.describe()["itemCounts"] == {**record.describe()["itemCounts"], "succeeded": 3, "total": 3}


def test_express_children_keep_no_history(ws: Workspace) -> None:
    ex = run(dmap(execution_type="EXPRESS", ItemsPath="$.items"), ws, {"items": [1, 2]})
    assert ok(ex) == [1, 2]
    assert [c.history for c in ex.map_runs[0].executions] == [[], []]


def test_python_handler_processor_runs_children_concurrently(ws: Workspace, store: ObjectStore) -> None:
    lock, running, peak, calls = threading.Lock(), [0], [0], [0]
    barrier = threading.Barrier(3, timeout=10)

    def work(event: dict[str, Any], context: Any = None) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            calls[0] += 1
            first = calls[0] <= 3
        if first:
            barrier.wait()  # the first three batches meet: they run at the same time
        with lock:
            running[0] -= 1
        return sum(int(row["v"]) for row in event["Items"])

    store.put("data", "v.csv", b"v\n" + b"".join(b"%d\n" % i for i in range(30)))
    definition = dmap({"T": {"Type": "Task", "Resource": FN, "End": True}}, MaxConcurrency=3,
                      ItemReader=reader("v.csv", InputType="CSV", CSVHeaderLocation="FIRST_ROW"),
                      ItemBatcher={"MaxItemsPerBatch": 5})
    ex = emulator.run(definition, {}, workspace=ws, resources={"work": work})
    assert ok(ex) == [sum(range(i, i + 5)) for i in range(0, 30, 5)]
    assert peak[0] == 3
    assert all(c.status == "SUCCEEDED" for c in ex.map_runs[0].executions)


# ---------------------------------------------------------------------------------------------
# Validation


def _inline(**fields: Any) -> dict[str, Any]:
    definition = dmap(**fields)
    definition["States"]["M"]["ItemProcessor"]["ProcessorConfig"] = {"Mode": "INLINE"}
    return definition


@pytest.mark.parametrize(("definition", "location", "fragment"), [
    (_inline(ItemReader=reader("k", InputType="CSV")), "/States/M/ItemReader", "'DISTRIBUTED'"),
    (_inline(ItemBatcher={"MaxItemsPerBatch": 2}), "/States/M/ItemBatcher", "'DISTRIBUTED'"),
    (dmap(ItemReader={"Resource": GET, "Parameters": {"Bucket": "b", "Key": "k"}}), "/States/M/ItemReader",
     "needs 'ReaderConfig' with 'InputType'"),
    (dmap(ItemReader={"Resource": GET, "ReaderConfig": {"InputType": "CSV"}, "Parameters": {"Bucket": "b"}}),
     "/States/M/ItemReader/Parameters", "'Key'"),
    (dmap(ItemReader={"Resource": "arn:aws:states:::s3:headObject", "Parameters": {}}),
     "/States/M/ItemReader/Resource", "must be one of"),
    (dmap(ItemReader=reader("k", InputType="XML")), "/States/M/ItemReader/ReaderConfig/InputType", "'CSV'"),
    (dmap(ItemReader=reader("k", InputType="CSV", CSVHeaderLocation="GIVEN")), "/States/M/ItemReader/ReaderConfig",
     "needs 'CSVHeaders'"),
    (dmap(ItemReader=reader("k", InputType="CSV", CSVDelimiter="DASH")),
     "/States/M/ItemReader/ReaderConfig/CSVDelimiter", "'COMMA'"),
    (dmap(ItemReader=reader("k", InputType="JSONL", ItemsPointer="/a")),
     "/States/M/ItemReader/ReaderConfig/ItemsPointer", "only used with 'InputType' 'JSON'"),
    (dmap(ItemReader=reader("k", InputType="JSON", MaxItems=1, MaxItemsPath="$.m")),
     "/States/M/ItemReader/ReaderConfig", "only one of 'MaxItems', 'MaxItemsPath'"),
    (dmap(ItemBatcher={"BatchInput": {}}), "/States/M/ItemBatcher", "needs one of 'MaxItemsPerBatch'"),
    (dmap(ItemBatcher={"MaxInputBytesPerBatch": 300_000}), "/States/M/ItemBatcher/MaxInputBytesPerBatch",
     "integer from 0 to 262144"),
    (dmap(ResultWriter={"Resource": PUT}), "/States/M/ResultWriter", "needs 'WriterConfig'"),
    (dmap(ResultWriter={"Resource": GET, "Parameters": {"Bucket": "b"}}), "/States/M/ResultWriter/Resource",
     "must be 'arn:aws:states:::s3:putObject'"),
    (dmap(ResultWriter={"WriterConfig": {"Transformation": "SQUASH"}}),
     "/States/M/ResultWriter/WriterConfig/Transformation", "'FLATTEN'"),
])
def test_distributed_fields_are_validated_with_their_location(definition: dict[str, Any], location: str,
                                                              fragment: str) -> None:
    found = [d for d in emulator.validate(definition) if d.location == location and fragment in d.message]
    assert found, emulator.validate(definition)


def test_the_sample_definition_is_valid_and_processes_its_csv(ws: Workspace, store: ObjectStore) -> None:
    root = Path(__file__).resolve().parents[1]
    definition = json.loads((root / "definitions" / "distributed_csv_batches.asl.json").read_text())
    assert emulator.validate(definition) == []
    rows = (root / "sample_data" / "distributed" / "readings.csv").read_bytes()
    store.put("readings", "readings.csv", rows)
    ex = run(definition, ws, {"bucket": "readings", "key": "readings.csv", "resultsBucket": "results"})
    out = ok(ex)
    record = ex.map_runs[0]
    lines = rows.decode().splitlines()[1:]
    assert record.describe()["itemCounts"]["succeeded"] == len(lines)
    manifest, files = _written(store, out["results"])
    assert [len(group) for group in manifest["ResultFiles"].values()] == [0, 0, 1]
    totals = [json.loads(line) for body in files.values() for line in body.splitlines()]
    assert sum(t["rows"] for t in totals) == len(lines)
    assert round(sum(t["total"] for t in totals), 6) == round(sum(float(line.split(",")[2]) for line in lines), 6)
