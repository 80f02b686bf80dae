"""Distributed Map: item readers over the local object store, batching, child executions, result writing.

A Distributed Map runs a *map run*: each item (or batch of items) is a child execution with its own
history, recorded on the parent's `Execution.map_runs`. Items are streamed from the reader through
ItemSelector and the batcher to the children, so memory holds the batches in flight, not the whole
data set (a JSON array file is the exception: it is parsed whole, as it must be to find its items).

Python API (for the HTTP front and tests):
  `execution.map_runs` → [MapRun]; `MapRun.describe()` (DescribeMapRun's shape),
  `MapRun.executions` (child `Execution`s, each with `.history`), `MapRun.list_executions(status)`
  (ListExecutions' shape), `MapRun.execution(name_or_arn)`; `find_map_run(execution, arn)`.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import gzip
import io
import itertools
import json
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from emulator.asl.states import MapState
from emulator.asl.values import to_json
from emulator.backends.objectstore import ObjectStore, S3Error
from emulator.engine.clock import Cancelled, CancelToken, Clock, iso8601
from emulator.engine.history import MAX_EVENTS, History, HistoryLimitExceeded, check_payload
from emulator.engine.variables import Variables
from emulator.errors import (
    EXCEED_TOLERATED_FAILURE_THRESHOLD,
    ITEM_READER_FAILED,
    RESULT_WRITER_FAILED,
    RUNTIME,
    StatesError,
)

if TYPE_CHECKING:
    from emulator.engine.execution import Execution
    from emulator.engine.interpreter import Branch, Env, Interpreter

# AWS runs up to 10,000 child executions at once when MaxConcurrency is 0 (or absent); locally at most
# this many threads run children whose processor can block (a Task, a real-time Wait).
DEFAULT_MAX_CONCURRENCY = 10_000
LOCAL_THREADS = 40
_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
_THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"
_PARQUET_ROWS = 1024  # rows decoded at a time from a Parquet file


# ---------------------------------------------------------------------------------------------
# Map runs and their child executions


class MapRun:
    """One run of a Distributed Map state: its child executions and counts (DescribeMapRun)."""

    def __init__(self, arn: str, execution_arn: str, state_name: str, label: str, max_concurrency: int,
                 tolerated_count: int | None, tolerated_pct: float | None, start: datetime) -> None:
        self.arn = arn
        self.id = arn.rsplit(":", 1)[1]
        self.execution_arn = execution_arn
        self.state_name = state_name
        self.label = label
        self.max_concurrency = max_concurrency
        self.tolerated_failure_count = tolerated_count
        self.tolerated_failure_percentage = tolerated_pct
        self.status = "RUNNING"
        self.start_date = start
        self.stop_date: datetime | None = None
        self.error: str | None = None
        self.cause: str | None = None
        self.executions: list[Execution] = []
        self.item_counts = dict.fromkeys(("pending", "running", "succeeded", "failed", "timedOut", "aborted", "total",
                                          "resultsWritten"), 0)
        self.execution_counts = dict(self.item_counts)
        self.result_writer_details: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"<MapRun {self.label} {self.status} {len(self.executions)} executions>"

    def describe(self) -> dict[str, Any]:
        """DescribeMapRun's response."""
        out: dict[str, Any] = {
            "mapRunArn": self.arn, "executionArn": self.execution_arn, "status": self.status,
            "startDate": self.start_date, "maxConcurrency": self.max_concurrency,
            "toleratedFailurePercentage": float(self.tolerated_failure_percentage or 0),
            "toleratedFailureCount": int(self.tolerated_failure_count or 0),
            "itemCounts": {**self.item_counts, "failuresNotRedrivable": 0, "pendingRedrive": 0},
            "executionCounts": {**self.execution_counts, "failuresNotRedrivable": 0, "pendingRedrive": 0},
            "redriveCount": 0,
        }
        if self.stop_date is not None:
            out["stopDate"] = self.stop_date
        return out

    def list_executions(self, status: str | None = None) -> list[dict[str, Any]]:
        """ListExecutions(mapRunArn=...): the child executions, optionally of one status."""
        return [{"executionArn": e.arn, "stateMachineArn": e.state_machine_arn, "name": e.name, "status": e.status,
                 "startDate": e.start_date, "mapRunArn": self.arn,
                 **({"stopDate": e.stop_date} if e.stop_date is not None else {})}
                for e in self.executions if status is None or e.status == status]

    def execution(self, name_or_arn: str) -> Execution:
        for child in self.executions:
            if name_or_arn in (child.name, child.arn):
                return child
        raise KeyError(f"no child execution {name_or_arn!r} in map run {self.arn}")


def find_map_run(execution: Any, arn: str) -> MapRun | None:
    """The map run with this ARN in an execution or, recursively, in its child executions."""
    for run in getattr(execution, "map_runs", ()):
        if run.arn == arn:
            return run
        for child in run.executions:
            found = find_map_run(child, arn)
            if found is not None:
                return found
    return None


def _count(counts: dict[str, int], status: str, n: int = 1) -> None:
    key = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timedOut", "ABORTED": "aborted",
           "RUNNING": "running", "PENDING": "pending"}[status]
    counts[key] += n


# ---------------------------------------------------------------------------------------------
# What a Distributed Map state runs over: evaluated once when the state starts


@dataclasses.dataclass
class Batching:
    max_items: int | None
    max_bytes: int | None
    batch_input: Any  # rendered BatchInput, or None


@dataclasses.dataclass
class Writer:
    bucket: str | None  # None: WriterConfig only (the output is the transformed results)
    prefix: str
    output_type: str
    transformation: str


class Plan:
    """The items of one Distributed Map state run (re-read on each attempt), and its run options.

    Iterating gives each item's input (ItemSelector applied), lazily; `len()` is the count when the
    items came from the state input (a reader's count is known only once it has been read)."""

    def __init__(self, open_items: Callable[[], Iterator[Any]], known: int | None, requested_concurrency: int,
                 batching: Batching | None, writer: Writer | None, items: list[Any] | None) -> None:
        self.open_items = open_items
        self.known = known
        self.requested_concurrency = requested_concurrency  # MaxConcurrency as given (0: the default)
        self.concurrency = requested_concurrency or DEFAULT_MAX_CONCURRENCY
        self.batching = batching
        self.writer = writer
        self.items = items  # the items, when they came from the state input

    def __iter__(self) -> Iterator[Any]:
        return self.open_items()

    def __len__(self) -> int:
        return self.known or 0


def plan(interp: Interpreter, state: MapState, data: Any, effective: Any, env: Env) -> Plan:
    """What a Distributed Map state runs: its items (from the input or the ItemReader, read on each attempt),
    concurrency, batching and result writer; the interpreter runs it (`Interpreter._map`)."""
    if state.reader is None:
        items, inputs, concurrency = interp._map_items(state, data, effective, env)
        known: int | None = len(items)
        listed: list[Any] | None = items

        def open_items() -> Iterator[Any]:
            return iter(inputs)
    else:
        concurrency = interp._map_concurrency(state, data, effective, env)
        read = _reader(interp, state, data, effective, env)
        known, listed = None, None

        def open_items() -> Iterator[Any]:
            for index, item in enumerate(read()):
                yield interp._item_input(state, data, effective, index, item, env)

    return Plan(open_items, known, concurrency, _batching(interp, state, data, effective, env),
                _writer(interp, state, data, effective, env), listed)


def _render(interp: Interpreter, state: MapState, template: Any, data: Any, effective: Any, env: Env) -> Any:
    """A Parameters/Arguments/BatchInput template: JSONPath over the effective input, JSONata over $states."""
    if template is None:
        return None
    if state.jsonata:
        return template.render(env.bindings(data), env.random)
    return template.render(effective, env)


def whole_number(value: Any, field: str, where: str) -> int:
    """A count read from the input (a *Path field) or an expression: a number, or a numeric string, as AWS reads it."""
    number = numeric(value)
    if number is None or number != int(number) or number < 0:
        shown = value if isinstance(value, str) else to_json(value)
        raise StatesError(RUNTIME, f"The {field} field refers to value \"{shown}\" which is not a valid integer: "
                                   f"{where}")
    return int(number)


def numeric(value: Any) -> float | int | None:
    """A JSON number, or a string holding one (AWS reads numeric strings in *Path fields); else None."""
    if isinstance(value, str):
        try:
            value = json.loads(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _count_field(interp: Interpreter, state: MapState, value: Any, path: Any, data: Any, effective: Any, env: Env,
                 field: str) -> int | None:
    if path is not None:
        return whole_number(path.get(effective, env), f"{field}Path", path.text)
    value = interp._field(state, value, data, env)
    return None if value is None else whole_number(value, field, field)


def _batching(interp: Interpreter, state: MapState, data: Any, effective: Any, env: Env) -> Batching | None:
    spec = state.batcher
    if spec is None:
        return None
    max_items = _count_field(interp, state, spec.max_items, spec.max_items_path, data, effective, env,
                             "MaxItemsPerBatch")
    max_bytes = _count_field(interp, state, spec.max_bytes, spec.max_bytes_path, data, effective, env,
                             "MaxInputBytesPerBatch")
    return Batching(max_items or None, max_bytes or None, _render(interp, state, spec.batch_input, data, effective,
                                                                  env))


def _writer(interp: Interpreter, state: MapState, data: Any, effective: Any, env: Env) -> Writer | None:
    spec = state.writer
    if spec is None:
        return None
    if spec.resource is None:
        return Writer(None, "", spec.output_type, spec.transformation or "COMPACT")
    params = _render(interp, state, spec.parameters, data, effective, env) or {}
    bucket, prefix = params.get("Bucket") if isinstance(params, dict) else None, ""
    if not isinstance(bucket, str) or not bucket:
        raise StatesError(RESULT_WRITER_FAILED, f"The ResultWriter's Parameters must name a Bucket, not "
                                                f"{to_json(params)}")
    prefix = params.get("Prefix") or ""
    if not isinstance(prefix, str):
        raise StatesError(RESULT_WRITER_FAILED, f"The ResultWriter's Prefix must be a string, not {to_json(prefix)}")
    return Writer(bucket, prefix, spec.output_type, spec.transformation or "NONE")


# ---------------------------------------------------------------------------------------------
# Item readers


def _reader(interp: Interpreter, state: MapState, data: Any, effective: Any, env: Env) -> Callable[[], Iterator[Any]]:
    """The ItemReader's parameters and configuration evaluated now; the items are read when iterated."""
    spec = state.reader
    assert spec is not None
    params = _render(interp, state, spec.parameters, data, effective, env) or {}
    config = (spec.config.render(env.bindings(data), env.random) if state.jsonata else dict(spec.config)) or {}
    if not isinstance(params, dict) or not isinstance(config, dict):
        raise StatesError(ITEM_READER_FAILED, "The ItemReader's Parameters and ReaderConfig must be JSON objects")
    if spec.max_items_path is not None:
        max_items: int | None = whole_number(spec.max_items_path.get(effective, env), "MaxItemsPath",
                                             spec.max_items_path.text)
    else:
        max_items = None if config.get("MaxItems") is None else whole_number(config["MaxItems"], "MaxItems",
                                                                             "ReaderConfig.MaxItems")
    action = spec.resource.rsplit(":", 1)[-1]
    store = interp.run.registry.backends.object_store

    def read() -> Iterator[Any]:
        items = _items(store, action, params, config)
        return itertools.islice(items, max_items) if max_items else items

    return read


def _items(store: ObjectStore, action: str, params: dict[str, Any], config: dict[str, Any]) -> Iterator[Any]:
    bucket = params.get("Bucket")
    if not isinstance(bucket, str) or not bucket:
        raise StatesError(ITEM_READER_FAILED, f"The ItemReader's Parameters must name a Bucket, not {to_json(params)}")
    try:
        if action == "listObjectsV2":
            yield from _listed(store, bucket, params.get("Prefix") or "")
            return
        key = params.get("Key")
        if not isinstance(key, str) or not key:
            raise StatesError(ITEM_READER_FAILED, f"The ItemReader's Parameters must name a Key, not "
                                                  f"{to_json(params)}")
        input_type = config.get("InputType")
        if config.get("ManifestType") == "ATHENA_DATA":
            yield from _athena_manifest(store, bucket, key, input_type, config)
        elif input_type == "MANIFEST":
            yield from _inventory(store, bucket, key)
        else:
            yield from _file(store, bucket, key, input_type, config)
    except S3Error as exc:
        raise StatesError(ITEM_READER_FAILED, f"{exc.message} (Service: S3, Error Code: {exc.code})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StatesError(ITEM_READER_FAILED, f"Cannot read the ItemReader's object: {exc}") from None


def _listed(store: ObjectStore, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        page = store.list(bucket, prefix, max_keys=1000, continuation=token)
        for obj in page.objects:
            yield {"Etag": obj.etag, "Key": obj.key, "LastModified": int(obj.last_modified.timestamp()),
                   "Size": obj.size, "StorageClass": "STANDARD"}
        if not page.is_truncated:
            return
        token = page.next_token


def _file(store: ObjectStore, bucket: str, key: str, input_type: Any, config: dict[str, Any]) -> Iterator[Any]:
    with store.open(bucket, key) as stream:
        if input_type == "JSON":
            yield from _json_array(stream, key, config.get("ItemsPointer"))
        elif input_type == "JSONL":
            yield from _json_lines(stream, key)
        elif input_type == "CSV":
            yield from _csv(stream, key, config)
        elif input_type == "PARQUET":
            yield from _parquet(stream, key)
        else:
            raise StatesError(ITEM_READER_FAILED, f"ReaderConfig InputType {to_json(input_type)} is not one of "
                                                  "CSV, JSON, JSONL, MANIFEST, PARQUET")


def _json_array(stream: BinaryIO, key: str, pointer: Any) -> Iterator[Any]:
    try:
        value = json.load(stream)
    except ValueError as exc:
        raise StatesError(ITEM_READER_FAILED, f"Object '{key}' is not valid JSON: {exc}") from None
    if pointer:
        value = _pointed(value, pointer, key)
    if not isinstance(value, list):
        where = f"at ItemsPointer '{pointer}' " if pointer else ""
        raise StatesError(ITEM_READER_FAILED, f"The JSON {where}in object '{key}' must be an array, not "
                                              f"{type(value).__name__ if value is not None else 'null'}")
    yield from value


def _pointed(value: Any, pointer: str, key: str) -> Any:
    """RFC 6901: `/a/0/b` (with ~1 for '/' and ~0 for '~')."""
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise StatesError(ITEM_READER_FAILED, f"ItemsPointer '{pointer}' selects nothing in object '{key}'")
    return value


def _json_lines(stream: BinaryIO, key: str) -> Iterator[Any]:
    for number, line in enumerate(io.TextIOWrapper(stream, encoding="utf-8"), 1):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError as exc:
                raise StatesError(ITEM_READER_FAILED, f"Line {number} of object '{key}' is not valid JSON: "
                                                      f"{exc}") from None


def _csv(stream: BinaryIO, key: str, config: dict[str, Any], headers: list[str] | None = None) -> Iterator[Any]:
    """Rows as objects of strings (AWS reads every CSV value as a string), keyed by the header row or CSVHeaders."""
    delimiter = _DELIMITERS.get(config.get("CSVDelimiter") or "COMMA", ",")
    rows = csv.reader(io.TextIOWrapper(stream, encoding="utf-8-sig", newline=""), delimiter=delimiter)
    if headers is None and config.get("CSVHeaderLocation") == "GIVEN":
        headers = config.get("CSVHeaders")
        if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
            raise StatesError(ITEM_READER_FAILED, f"CSVHeaders must be a list of strings, not {to_json(headers)}")
    try:
        if headers is None:
            headers = next(rows, None)
            if headers is None:
                return
        width = len(headers)
        for row in rows:
            if not row:
                continue
            if len(row) != width:
                raise StatesError(ITEM_READER_FAILED, f"Line {rows.line_num} of object '{key}' has {len(row)} "
                                                      f"fields; the header has {width}")
            yield dict(zip(headers, row, strict=True))
    except csv.Error as exc:
        raise StatesError(ITEM_READER_FAILED, f"Object '{key}' is not valid CSV: {exc}") from None


def _parquet(stream: BinaryIO, key: str) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(stream)
        for batch in file.iter_batches(batch_size=_PARQUET_ROWS):
            for row in batch.to_pylist():
                yield {name: _plain(value) for name, value in row.items()}
    except pa.ArrowException as exc:
        raise StatesError(ITEM_READER_FAILED, f"Object '{key}' is not a readable Parquet file: {exc}") from None


def _plain(value: Any) -> Any:
    """A Parquet value as JSON: dates, times and decimals as text, binary as UTF-8 text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _inventory(store: ObjectStore, bucket: str, key: str) -> Iterator[Any]:
    """An S3 Inventory manifest.json: the rows of its CSV (gzipped or not) or Parquet data files."""
    body, _ = store.get(bucket, key)
    try:
        manifest = json.loads(body)
        files = [f["key"] for f in manifest["files"]]
        file_format = str(manifest.get("fileFormat", "CSV")).upper()
        destination = str(manifest.get("destinationBucket") or f"arn:aws:s3:::{bucket}").rsplit(":", 1)[-1]
        schema = [c.strip() for c in str(manifest.get("fileSchema", "")).split(",")]
    except (ValueError, KeyError, TypeError):
        raise StatesError(ITEM_READER_FAILED, f"Object '{key}' is not an S3 Inventory manifest (a JSON object with "
                                              "'files' [{'key': ...}], 'fileFormat' and 'fileSchema')") from None
    if file_format not in ("CSV", "PARQUET"):
        raise StatesError(ITEM_READER_FAILED, f"S3 Inventory files in {file_format} format cannot be read; "
                                              "CSV and Parquet can")
    for data_key in files:
        with store.open(destination, data_key) as stream:
            if file_format == "PARQUET":
                yield from _parquet(stream, data_key)
            else:
                yield from _csv(_maybe_gzip(stream), data_key, {}, schema)


def _maybe_gzip(stream: BinaryIO) -> BinaryIO:
    magic = stream.read(2)
    stream.seek(0)
    return gzip.GzipFile(fileobj=stream) if magic == b"\x1f\x8b" else stream  # type: ignore[return-value]


def _athena_manifest(store: ObjectStore, bucket: str, key: str, input_type: Any,
                     config: dict[str, Any]) -> Iterator[Any]:
    """An Athena data manifest: one s3:// URI a line, each a CSV, JSONL or Parquet data file."""
    body, _ = store.get(bucket, key)
    for line in body.decode("utf-8").splitlines():
        uri = line.strip()
        if not uri:
            continue
        if not uri.startswith("s3://") or "/" not in uri[5:]:
            raise StatesError(ITEM_READER_FAILED, f"Manifest '{key}' lists {uri!r}, which is not an s3:// URI")
        data_bucket, data_key = uri[5:].split("/", 1)
        yield from _file(store, data_bucket, data_key, input_type, config)


# ---------------------------------------------------------------------------------------------
# Batching


def _batches(inputs: Iterable[Any], batching: Batching | None) -> Iterator[tuple[Any, int]]:
    """(child input, item count): one item each, or {"BatchInput"?, "Items": [...]} batches."""
    if batching is None:
        for item in inputs:
            yield item, 1
        return
    max_items, max_bytes = batching.max_items, batching.max_bytes
    head = {} if batching.batch_input is None else {"BatchInput": batching.batch_input}
    # Bytes of `{"BatchInput":...,"Items":[]}`; each item adds its own JSON, and a comma after the first.
    base = len(to_json({**head, "Items": []}).encode("utf-8")) if max_bytes else 0
    items: list[Any] = []
    size = base
    for item in inputs:
        cost = len(to_json(item).encode("utf-8")) if max_bytes else 0
        if max_bytes and base + cost > max_bytes:
            raise StatesError(RUNTIME, f"An item of {cost} bytes does not fit in a batch of MaxInputBytesPerBatch "
                                       f"{max_bytes} bytes")
        if items and ((max_items and len(items) >= max_items) or (max_bytes and size + cost + 1 > max_bytes)):
            yield {**head, "Items": items}, len(items)
            items, size = [], base
        size += cost + (1 if items else 0)
        items.append(item)
    if items:
        yield {**head, "Items": items}, len(items)


# ---------------------------------------------------------------------------------------------
# Running the map run


class _Results:
    """Child results: kept in order for the state output, or spooled to files for the ResultWriter."""

    def __init__(self, writer: Writer | None) -> None:
        self.writer = writer
        self.exporting = writer is not None and writer.bucket is not None
        self.transformation = writer.transformation if writer is not None else "COMPACT"
        self.ordered: dict[int, Any] = {}
        self.spools: dict[str, Any] = {}
        self.written = [0, 0]  # child executions, items

    def add(self, index: int, record: Execution, input_text: str, output_text: str | None, size: int) -> None:
        succeeded = record.status == "SUCCEEDED"
        self.written[0] += 1
        self.written[1] += size
        if self.transformation == "NONE" or (self.exporting and not succeeded):
            entry: Any = _metadata(record, input_text, output_text)
        elif not succeeded:
            entry = {k: v for k, v in (("Error", record.error), ("Cause", record.cause)) if v is not None}
        elif self.exporting and self.transformation == "COMPACT":
            self._spool(record.status).write(f"{output_text}\n".encode())
            return
        else:
            entry = json.loads(output_text or "null")
        if not self.exporting:
            self.ordered[index] = entry
            return
        spool = self._spool(record.status)
        flat = entry if self.transformation == "FLATTEN" and succeeded and isinstance(entry, list) else [entry]
        for value in flat:
            spool.write(f"{to_json(value)}\n".encode())

    def _spool(self, status: str) -> Any:
        if status not in self.spools:
            self.spools[status] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by export() or discard()
        return self.spools[status]

    def output(self) -> list[Any]:
        values = [self.ordered[i] for i in sorted(self.ordered)]
        if self.transformation != "FLATTEN":
            return values
        return [v for value in values for v in (value if isinstance(value, list) else [value])]

    def export(self, store: ObjectStore, run: MapRun) -> dict[str, Any]:
        """manifest.json and the SUCCEEDED_0 / FAILED_0 / PENDING_0 files, as AWS lays them out."""
        assert self.writer is not None and self.writer.bucket is not None
        bucket, base = self.writer.bucket, "/".join(p for p in (self.writer.prefix.strip("/"), run.id) if p)
        jsonl = self.writer.output_type == "JSONL"
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        try:
            for status, spool in sorted(self.spools.items()):
                group = "PENDING" if status in ("ABORTED", "PENDING") else status if status in files else "FAILED"
                spool.seek(0)
                lines = spool.read().splitlines()
                body = b"\n".join(lines) + b"\n" if jsonl else b"[" + b",".join(lines) + b"]"
                key = f"{base}/{group}_{len(files[group])}.{'jsonl' if jsonl else 'json'}"
                store.put(bucket, key, body, "application/json")
                files[group].append({"Key": key, "Size": len(body)})
                spool.close()
            manifest = {"DestinationBucket": bucket, "MapRunArn": run.arn, "ResultFiles": files}
            key = f"{base}/manifest.json"
            store.put(bucket, key, to_json(manifest).encode("utf-8"), "application/json")
        except S3Error as exc:
            raise StatesError(RESULT_WRITER_FAILED, f"{exc.message} (Service: S3, Error Code: {exc.code})") from None
        run.result_writer_details = {"Bucket": bucket, "Key": key}
        run.execution_counts["resultsWritten"], run.item_counts["resultsWritten"] = self.written
        return {"MapRunArn": run.arn, "ResultWriterDetails": dict(run.result_writer_details)}

    def discard(self) -> None:
        for spool in self.spools.values():
            spool.close()


def _metadata(record: Execution, input_text: str, output_text: str | None) -> dict[str, Any]:
    """A child execution as Transformation NONE (and the FAILED/PENDING files) give it."""
    out: dict[str, Any] = {"ExecutionArn": record.arn, "Input": input_text, "InputDetails": {"Included": True},
                           "Name": record.name}
    if record.status == "SUCCEEDED":
        out["Output"] = output_text
        out["OutputDetails"] = {"Included": True}
    else:
        out.update({k: v for k, v in (("Error", record.error), ("Cause", record.cause)) if v is not None})
    out["RedriveCount"] = 0
    out["RedriveStatus"] = "NOT_REDRIVABLE" if record.status == "SUCCEEDED" else "REDRIVABLE_BY_MAP_RUN"
    if record.status == "SUCCEEDED":
        out["RedriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven"
    out["StartDate"] = iso8601(record.start_date.timestamp()) if record.start_date else None
    out["StateMachineArn"] = record.state_machine_arn
    out["Status"] = record.status
    if record.stop_date is not None:
        out["StopDate"] = iso8601(record.stop_date.timestamp())
    return out


def map_run(interp: Interpreter, state: MapState, plan: Plan, branch: Branch, concurrency: int,
            tolerated_count: int | None, tolerated_pct: float | None) -> Any:
    """One map run: MapRunStarted, the children (streamed, at most `concurrency` in flight), MapRunSucceeded/Failed."""
    from emulator.engine.execution import Execution

    run = interp.run
    label = state.label or state.name
    base = run.state_machine_arn.split(":stateMachine:", 1)
    prefix = base[0]
    run_id = str(uuid.UUID(int=run.random.getrandbits(128), version=4))
    record = MapRun(f"{prefix}:mapRun:{run.state_machine_name}/{label}:{run_id}", run.execution_arn, state.name, label,
                    concurrency, tolerated_count, tolerated_pct, branch.clock.datetime())
    child_machine_arn = f"{prefix}:stateMachine:{run.state_machine_name}/{label}"
    run.map_runs.append(record)
    interp.event(branch, "MapRunStarted", "mapRunStartedEventDetails", {"mapRunArn": record.arn})
    results = _Results(plan.writer)
    cancel = CancelToken(branch.cancel)
    latest = branch.clock.fork()
    failed_items = [0]
    processor = state.processor
    threaded = processor is not None and (processor.has_task or (run.real_clock and processor.has_wait))
    workers = min(concurrency, LOCAL_THREADS) if threaded else 1
    store = run.registry.backends.object_store if results.exporting else None

    def child(data: Any, size: int) -> tuple[Execution, str]:
        name = str(uuid.UUID(int=run.random.getrandbits(128), version=4))
        execution = Execution(name, f"{prefix}:execution:{run.state_machine_name}/{label}:{name}", child_machine_arn,
                              data)
        record.executions.append(execution)
        _count(record.execution_counts, "RUNNING")
        _count(record.item_counts, "RUNNING", size)
        return execution, to_json(data)

    def finished(index: int, execution: Execution, input_text: str, size: int, output_text: str | None) -> bool:
        """Book a finished child; True when the failures now exceed the tolerance."""
        _count(record.execution_counts, "RUNNING", -1)
        _count(record.item_counts, "RUNNING", -size)
        _count(record.execution_counts, execution.status)
        _count(record.item_counts, execution.status, size)
        if execution.status != "SUCCEEDED":
            failed_items[0] += size
        results.add(index, execution, input_text, output_text, size)
        if execution.status in ("FAILED", "TIMED_OUT", "ABORTED"):
            return _exceeded(failed_items[0], plan.known, tolerated_count, tolerated_pct)
        return False

    units = enumerate(_batches(plan, plan.batching))
    try:
        if workers <= 1:
            for index, (data, size) in units:
                execution, input_text = child(data, size)
                clock = branch.clock.fork()
                try:
                    out = _run_child(interp, state, execution, data, input_text, clock, cancel, branch, index)
                finally:
                    latest.join([clock])
                if finished(index, execution, input_text, size, out):
                    raise StatesError(EXCEED_TOLERATED_FAILURE_THRESHOLD, _THRESHOLD_CAUSE)
        else:
            _threaded(interp, state, units, child, finished, branch, cancel, workers, latest)
        if plan.known is None and _exceeded(failed_items[0], _total(record), tolerated_count, tolerated_pct,
                                            final=True):
            raise StatesError(EXCEED_TOLERATED_FAILURE_THRESHOLD, _THRESHOLD_CAUSE)
        if results.exporting:
            assert store is not None
            output = results.export(store, record)
        else:
            output = results.output()
    except StatesError as err:
        cancel.cancel()
        if results.exporting and err.error != RESULT_WRITER_FAILED:
            # AWS writes what the children did even when the map run fails.
            assert store is not None
            with contextlib.suppress(StatesError):
                results.export(store, record)
        results.discard()
        _stop(record, "FAILED", branch, err)
        interp.event(branch, "MapRunFailed", "mapRunFailedEventDetails", _details(err))
        raise
    except Cancelled:
        results.discard()
        _stop(record, "ABORTED", branch, None)
        interp.event(branch, "MapRunAborted")
        raise
    except BaseException:  # the execution's timeout: the execution ends, and this run with it
        results.discard()
        _stop(record, "ABORTED", branch, None)
        raise
    finally:
        record.item_counts["total"] = _total(record)
        record.execution_counts["total"] = len(record.executions)
        branch.clock.join([latest])
    _stop(record, "SUCCEEDED", branch, None)
    interp.event(branch, "MapRunSucceeded")
    return output


def _total(record: MapRun) -> int:
    counts = record.item_counts
    return sum(counts[k] for k in ("pending", "running", "succeeded", "failed", "timedOut", "aborted"))


def _details(err: StatesError) -> dict[str, Any]:
    return {k: v for k, v in (("error", err.error), ("cause", err.cause)) if v is not None}


def _stop(record: MapRun, status: str, branch: Branch, err: StatesError | None) -> None:
    record.status = status
    record.stop_date = branch.clock.datetime()
    if err is not None:
        record.error, record.cause = err.error, err.cause


def _exceeded(failed: int, total: int | None, count: int | None, pct: float | None, final: bool = False) -> bool:
    """Whether `failed` items break the tolerance (none given: no failure is tolerated). With a percentage and
    items still being read the total is unknown, so only the count decides until the end (`final`)."""
    if failed == 0:
        return False
    if count is None and pct is None:
        return True
    over_count = count is not None and failed > count
    if total is None and not final:
        return over_count and pct is None
    over_pct = pct is not None and failed * 100 > pct * (total or 0)
    if count is not None and pct is not None:
        return over_count and over_pct
    return over_count or over_pct


def _threaded(interp: Interpreter, state: MapState, units: Iterator[tuple[int, tuple[Any, int]]],
              child: Callable[[Any, int], tuple[Any, str]], finished: Callable[..., bool], branch: Branch,
              cancel: CancelToken, workers: int, latest: Clock) -> None:
    """Children on threads, at most `workers` in flight; results are booked on this (the dispatching) thread."""
    in_flight: dict[Future[Any], tuple[int, Any, str, int, Clock]] = {}

    def settle(future: Future[Any], strict: bool) -> bool:
        index, execution, input_text, size, clock = in_flight.pop(future)
        try:
            out = future.result()
        except BaseException:
            if strict:
                raise
            out = None  # stopping already: the child's outcome is on its record
        latest.join([clock])
        return finished(index, execution, input_text, size, out)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sfn-maprun") as pool:
        try:
            for index, (data, size) in units:
                while len(in_flight) >= workers:
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    if any([settle(f, True) for f in done]):
                        raise StatesError(EXCEED_TOLERATED_FAILURE_THRESHOLD, _THRESHOLD_CAUSE)
                execution, input_text = child(data, size)
                clock = branch.clock.fork()
                future = pool.submit(_run_child, interp, state, execution, data, input_text, clock, cancel, branch,
                                     index)
                in_flight[future] = (index, execution, input_text, size, clock)
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                if any([settle(f, True) for f in done]):
                    raise StatesError(EXCEED_TOLERATED_FAILURE_THRESHOLD, _THRESHOLD_CAUSE)
        except BaseException:
            cancel.cancel()
            wait(in_flight)
            for future in list(in_flight):
                settle(future, False)
            raise


def _run_child(parent: Interpreter, state: MapState, execution: Execution, data: Any, input_text: str, clock: Clock,
               cancel: CancelToken, branch: Branch, index: int) -> str | None:
    """One child execution with its own history; returns its output text (None unless it SUCCEEDED).

    A child that fails is recorded FAILED; the parent's timeout or stop ends it and is raised on."""
    from emulator.engine.interpreter import Branch as ChildBranch
    from emulator.engine.interpreter import ExecutionTimedOut, Interpreter

    history = History(limit=MAX_EVENTS)
    run = dataclasses.replace(parent.run, history=history, execution_arn=execution.arn, execution_name=execution.name,
                              state_machine_arn=execution.state_machine_arn,
                              state_machine_name=execution.state_machine_arn.rsplit(":", 1)[1], input=data,
                              start_time=clock.now(), redrive_from=None, redrive_reuse=None, redrive_count=0,
                              map_runs=execution.map_runs)
    interp = Interpreter(run)
    interp._resources = parent._resources
    keep = state.execution_type != "EXPRESS"  # AWS keeps no history of Express executions
    if keep:
        execution.history = history.events
    execution.start_date = clock.datetime()
    root = ChildBranch(clock, 0, CancelToken(cancel), Variables())
    root.path = (*branch.path, (state.name, index))
    output_text = None
    try:
        check_payload(input_text, "child execution input")
        history.add("ExecutionStarted", 0, clock.now(), "executionStartedEventDetails",
                    {"input": input_text, "inputDetails": {"truncated": False}, "roleArn": run.role_arn})
        root.checked, root.snap = data, input_text
        output = interp.run_machine(state.processor, data, root)
    except StatesError as err:
        _end(execution, history, root, "FAILED", "ExecutionFailed", "executionFailedEventDetails", err.error, err.cause)
    except HistoryLimitExceeded:
        _end(execution, history, root, "FAILED", "ExecutionFailed", "executionFailedEventDetails", RUNTIME,
             f"The execution reached the maximum number of history events ({MAX_EVENTS}).")
    except Cancelled:
        _end(execution, history, root, "ABORTED", "ExecutionAborted", "executionAbortedEventDetails", None, None)
        if branch.cancel.cancelled:
            raise
    except ExecutionTimedOut:
        _end(execution, history, root, "ABORTED", "ExecutionAborted", "executionAbortedEventDetails", None, None)
        raise
    else:
        output_text = to_json(output)
        execution.status = "SUCCEEDED"
        if keep:
            execution.output = output
        history.add("ExecutionSucceeded", root.last, clock.now(), "executionSucceededEventDetails",
                    {"output": output_text, "outputDetails": {"truncated": False}})
        execution.stop_date = clock.datetime()
    finally:
        history.detach()
        execution._done.set()
        if not keep:
            execution.input = None
    return output_text


def _end(execution: Execution, history: History, root: Branch, status: str, event: str, key: str,
         error: str | None, cause: str | None) -> None:
    execution.status, execution.error, execution.cause = status, error, cause
    history.limit = None
    history.add(event, root.last, root.clock.now(), key, _details(StatesError(error, cause)))
    execution.stop_date = root.clock.datetime()
