"""Glue crawlers: infer tables and partitions from the files under S3 targets, as Glue's crawler does.

A target pointing at a folder of files (or of `key=value` folders) is one table named after the
folder; a target whose subfolders hold the data gives one table per subfolder. Folder levels
below a table's root become string partition keys (`key=value` → key, else `partition_<i>`) and
every leaf folder a partition. Schemas: Parquet from footers only (never the data); CSV from the
first 1,000 records or 1 MB, with Glue's header rule; JSON lines likewise. Per-file schemas are
merged (new columns appended, conflicting types widened). A file that cannot be read is skipped
and named in LastCrawl.ErrorMessage while the crawl still SUCCEEDS, as Glue logs and moves on.

Crawlers come from the config (`[crawlers.<name>]`, CreateCrawler's shape) or CreateCrawler,
which persists them. `start` runs the crawl in a background thread so GetCrawler shows RUNNING,
then READY with LastCrawl; run state and metrics persist under `<workspace>/catalog/crawlers/`.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import os
import re
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq

from emulator import background
from emulator.backends import events
from emulator.backends.catalog import GlueError, entity_name, now_iso, read_json, write_json
from emulator.backends.objectstore import S3Error

if TYPE_CHECKING:
    from emulator.backends.catalog import Catalog

log = logging.getLogger("emulator.glue.crawler")

LOG_GROUP = "/aws-glue/crawlers"
DEFAULT_ROLE = "arn:aws:iam::123456789012:role/service-role/AWSGlueServiceRole"
SAMPLE_RECORDS = 1000
SAMPLE_BYTES = 1 << 20
_MAX_RUNTIMES = 20  # run durations kept for MedianRuntimeSeconds

# -- Glue type names ---------------------------------------------------------------------------
_INT_RANK = {"tinyint": 0, "smallint": 1, "int": 2, "bigint": 3}
_INT_DIGITS = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 19}
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")


def glue_type(arrow: pa.DataType) -> str:
    """An Arrow (Parquet) type → the Glue/Hive type name the crawler records."""
    if pa.types.is_dictionary(arrow):
        return glue_type(arrow.value_type)
    if pa.types.is_boolean(arrow):
        return "boolean"
    if pa.types.is_integer(arrow):
        signed = {8: "tinyint", 16: "smallint", 32: "int", 64: "bigint"}
        unsigned = {8: "smallint", 16: "int", 32: "bigint", 64: "bigint"}  # the next signed type that holds it
        return (signed if pa.types.is_signed_integer(arrow) else unsigned)[arrow.bit_width]
    if pa.types.is_float16(arrow) or pa.types.is_float32(arrow):
        return "float"
    if pa.types.is_float64(arrow):
        return "double"
    if pa.types.is_decimal(arrow):
        return f"decimal({arrow.precision},{arrow.scale})"
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow) or pa.types.is_null(arrow):
        return "string"
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow) or pa.types.is_fixed_size_binary(arrow):
        return "binary"
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    if pa.types.is_date(arrow):
        return "date"
    if pa.types.is_map(arrow):
        return f"map<{glue_type(arrow.key_type)},{glue_type(arrow.item_type)}>"
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow) or pa.types.is_fixed_size_list(arrow):
        return f"array<{glue_type(arrow.value_type)}>"
    if pa.types.is_struct(arrow):
        return "struct<" + ",".join(f"{f.name}:{glue_type(f.type)}" for f in arrow) + ">"
    return "string"  # time, interval, ...: Glue has no closer type


def _split_top(text: str) -> list[str]:
    """`a:int,b:struct<c:int,d:int>` → ['a:int', 'b:struct<c:int,d:int>']."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "<" or char == "(":
            depth += 1
        elif char == ">" or char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p]


def _struct_fields(type_name: str) -> dict[str, str]:
    return dict(part.split(":", 1) for part in _split_top(type_name[len("struct<"):-1]))


def widen(a: str | None, b: str | None) -> str | None:
    """The type both values fit in, as the crawler merges schemas: ints widen, ints and floats give
    double, decimals grow to hold both, date and timestamp give timestamp, structs merge field by
    field; anything else that conflicts becomes string. None means "no value seen yet"."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    if a in _INT_RANK and b in _INT_RANK:
        return a if _INT_RANK[a] >= _INT_RANK[b] else b
    numeric = {*_INT_RANK, "float", "double"}
    if a in numeric and b in numeric:
        return "double"
    dec_a, dec_b = _DECIMAL.fullmatch(a), _DECIMAL.fullmatch(b)
    if dec_a or dec_b:
        if (dec_a or a in _INT_RANK) and (dec_b or b in _INT_RANK):
            pa_, sa = (int(dec_a.group(1)), int(dec_a.group(2))) if dec_a else (_INT_DIGITS[a], 0)
            pb, sb = (int(dec_b.group(1)), int(dec_b.group(2))) if dec_b else (_INT_DIGITS[b], 0)
            scale = max(sa, sb)
            return f"decimal({min(38, max(pa_ - sa, pb - sb) + scale)},{scale})"
        return "double" if {a, b} & {"float", "double"} else "string"
    if {a, b} == {"date", "timestamp"}:
        return "timestamp"
    if a.startswith("struct<") and b.startswith("struct<"):
        merged = _struct_fields(a)
        for name, kind in _struct_fields(b).items():
            merged[name] = widen(merged.get(name), kind) or "string"
        return "struct<" + ",".join(f"{k}:{v}" for k, v in merged.items()) + ">"
    if a.startswith("array<") and b.startswith("array<"):
        return f"array<{widen(a[6:-1], b[6:-1])}>"
    return "string"


# -- per-file schemas ----------------------------------------------------------------------------
@dataclass
class FileSchema:
    """What one file says about its table: format, ordered columns, and format details."""

    classification: str  # parquet | csv | json
    columns: dict[str, str]
    records: int | None = None  # known exactly for Parquet (from the footer)
    details: dict[str, str] = field(default_factory=dict)  # csv: delimiter, quoted, header


class Unreadable(Exception):
    """The file is not valid in the format it claims (the crawl skips it)."""


_EXTENSIONS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".txt": "csv",
               ".json": "json", ".jsonl": "json", ".ndjson": "json"}
_BIGINT = re.compile(r"[+-]?\d{1,19}")
_DOUBLE = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?|[+-]?(?:NaN|Infinity)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?")
_DELIMITERS = (",", "\t", "|", ";", "\x01")


def classify(path: str | os.PathLike[str]) -> str:
    """parquet | csv | json, from the extension (ignoring .gz), else from the first bytes."""
    name = os.path.basename(path)
    name = name[:-3] if name.endswith(".gz") else name
    if (kind := _EXTENSIONS.get(os.path.splitext(name)[1].lower())) is not None:
        return kind
    with open(path, "rb") as handle:
        head = handle.read(64)
    if head.startswith(b"PAR1"):
        return "parquet"
    return "json" if head.lstrip()[:1] in (b"{", b"[") else "csv"


def read_file_schema(path: str | os.PathLike[str], classification: str | None = None) -> FileSchema:
    """The schema of one file; raises Unreadable when the file is not what it claims to be."""
    kind = classification or classify(path)
    if kind == "parquet":
        return _parquet_schema(path)
    text = _sample_text(path)
    return _csv_schema(text) if kind == "csv" else _json_schema(text)


_ARROW_CACHE: dict[pa.Schema, dict[str, str]] = {}
# (ParquetSchema, columns) of the previous file: a dataset's files mostly share one schema.
_last_parquet: list[tuple[Any, dict[str, str]] | None] = [None]


def _parquet_schema(path: str | os.PathLike[str]) -> FileSchema:
    try:
        with pa.OSFile(os.fspath(path)) as handle:  # a plain local file: skips pyarrow's filesystem resolution
            metadata = pq.ParquetFile(handle).metadata  # the footer only
        last = _last_parquet[0]
        if last is not None and metadata.schema.equals(last[0]):
            columns = last[1]
        else:
            arrow = metadata.schema.to_arrow_schema()
            columns = _ARROW_CACHE.get(arrow)
            if columns is None:
                columns = _ARROW_CACHE[arrow] = {f.name.lower(): glue_type(f.type) for f in arrow}
            _last_parquet[0] = (metadata.schema, columns)
    except (pa.ArrowException, OSError) as exc:
        raise Unreadable(f"not a readable Parquet file: {exc}") from None
    return FileSchema("parquet", columns, metadata.num_rows)


def _sample_text(path: str | os.PathLike[str]) -> str:
    opener: Callable[..., Any] = gzip.open if os.fspath(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read(SAMPLE_BYTES)
    except (OSError, EOFError) as exc:
        raise Unreadable(str(exc)) from None
    if b"\0" in data:
        raise Unreadable("binary content in a text file")
    return data.decode("utf-8", errors="replace")


def csv_value_type(value: str) -> str | None:
    """The type of one CSV field (None for empty: it says nothing about the column)."""
    value = value.strip()
    if not value:
        return None
    if _BIGINT.fullmatch(value) and -(2**63) <= int(value) < 2**63:
        return "bigint"
    if _DOUBLE.fullmatch(value):
        return "double"
    if value.lower() in ("true", "false"):
        return "boolean"
    if _DATE.fullmatch(value):
        return "date"
    if _TIMESTAMP.fullmatch(value):
        return "timestamp"
    return "string"


def _csv_schema(text: str) -> FileSchema:
    lines = text.splitlines()
    if len(text) >= SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut by the sample
    lines = [line for line in lines if line.strip()][: SAMPLE_RECORDS + 1]
    if not lines:
        raise Unreadable("empty file")
    delimiter = max(_DELIMITERS, key=lambda d: (_consistent_columns(lines[:20], d), -_DELIMITERS.index(d)))
    rows = list(csv.reader(lines, delimiter=delimiter))
    width = max(len(row) for row in rows)
    types = [[csv_value_type(v) for v in row] for row in rows]
    # Glue's header rule: every field of the first row is a string, the names are non-empty and
    # distinct, and some later row has a non-string field (else the header is just data).
    first = rows[0]
    header = (
        len(rows) > 1
        and all(t == "string" for t in types[0])
        and len(first) == width
        and len({v.strip().lower() for v in first}) == len(first)
        and any(t not in (None, "string") for row in types[1:] for t in row)
    )
    names = [v.strip().lower() for v in first] if header else [f"col{i}" for i in range(width)]
    column_types: list[str | None] = [None] * width
    for row in types[1:] if header else types:
        for i, kind in enumerate(row):
            column_types[i] = widen(column_types[i], kind)
    quoted = '"' in text[:SAMPLE_BYTES]
    details = {"delimiter": delimiter, "quoted": str(quoted).lower(), "header": str(header).lower()}
    return FileSchema("csv", {n: t or "string" for n, t in zip(names, column_types, strict=True)}, None, details)


def _consistent_columns(lines: list[str], delimiter: str) -> int:
    """How many columns `delimiter` splits every sample line into (0 when it is inconsistent)."""
    counts = {len(row) for row in csv.reader(lines, delimiter=delimiter)}
    count = counts.pop() if len(counts) == 1 else 0
    return count if count > 1 else 0


def json_value_type(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int" if -(2**31) <= value < 2**31 else "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        item: str | None = None
        for element in value:
            item = widen(item, json_value_type(element))
        return f"array<{item or 'string'}>"
    if isinstance(value, dict):
        return "struct<" + ",".join(f"{k.lower()}:{json_value_type(v) or 'string'}" for k, v in value.items()) + ">"
    return "string"


def _json_schema(text: str) -> FileSchema:
    records: list[Any] = []
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(stripped)
        except ValueError:
            raise Unreadable("not valid JSON") from None
    else:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(text) >= SAMPLE_BYTES and len(lines) > 1:
            lines = lines[:-1]
        for line in lines[:SAMPLE_RECORDS]:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    records = [r for r in records if isinstance(r, dict)][:SAMPLE_RECORDS]
    if not records:
        raise Unreadable("no JSON records")
    columns: dict[str, str | None] = {}
    for record in records:
        for key, value in record.items():
            name = key.lower()
            columns[name] = widen(columns.get(name), json_value_type(value))
    return FileSchema("json", {k: v or "string" for k, v in columns.items()})


# -- formats as Glue records them ----------------------------------------------------------------
_TEXT_IN = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"


def _storage(classification: str, columns: list[str], details: dict[str, str]) -> dict[str, Any]:
    if classification == "parquet":
        return {"InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                              "Parameters": {"serialization.format": "1"}}}
    if classification == "json":
        return {"InputFormat": _TEXT_IN, "OutputFormat": _TEXT_OUT,
                "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
                              "Parameters": {"paths": ",".join(columns)}}}
    delimiter = details.get("delimiter", ",")
    if details.get("quoted") == "true":  # quoted fields need OpenCSVSerde, as Glue picks it
        serde = {"SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
                 "Parameters": {"separatorChar": delimiter, "quoteChar": '"'}}
    else:
        serde = {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                 "Parameters": {"field.delim": delimiter}}
    return {"InputFormat": _TEXT_IN, "OutputFormat": _TEXT_OUT, "SerdeInfo": serde}


# -- finding datasets ------------------------------------------------------------------------------
@dataclass
class _File:
    path: str
    parts: tuple[str, ...]  # folders between the table root and the file
    size: int


@dataclass
class _Dataset:
    name: str
    location: str  # s3:// URI of the table root, with a trailing slash
    files: list[_File]


def _compile_exclusions(patterns: list[str]) -> re.Pattern[str] | None:
    """Glue's exclude globs: `*` stays within a folder, `**` crosses folders, `{a,b}` alternates."""
    if not patterns:
        return None
    out = []
    for pattern in patterns:
        regex, i = "", 0
        while i < len(pattern):
            char = pattern[i]
            if pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
                continue
            regex += {"*": "[^/]*", "?": "[^/]", "{": "(?:", "}": ")", ",": "|"}.get(char, re.escape(char))
            i += 1
        out.append(regex)
    return re.compile("|".join(f"(?:{r})" for r in out))


def _is_data_name(name: str) -> bool:
    # Hadoop/Spark markers and the object store's own files (its escape area is a dot folder) are not data.
    return not (name.startswith((".", "_")) or name.endswith((".crc", ".sfn-local-tmp", "$folder$")))


def _walk(folder: str, parts: tuple[str, ...], rel: str, exclude: re.Pattern[str] | None) -> Iterator[_File]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if not _is_data_name(entry.name):
            continue
        relative = f"{rel}{entry.name}"
        # Links are never followed: one could lead the crawl (and the files it reads) out of the bucket.
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path, (*parts, entry.name), relative + "/", exclude)
        elif entry.is_file(follow_symlinks=False) and (exclude is None or not exclude.fullmatch(relative)):
            yield _File(entry.path, parts, entry.stat(follow_symlinks=False).st_size)


def _datasets(catalog: Catalog, target: dict[str, Any], messages: list[str]) -> list[_Dataset]:
    uri = str(target.get("Path", "")).rstrip("/")
    try:
        local = catalog.object_store.local_path(uri)
    except S3Error as exc:
        messages.append(f"Target {uri} cannot be crawled: {exc.message}")
        return []
    exclude = _compile_exclusions(list(target.get("Exclusions") or []))
    folder_name = uri.rsplit("/", 1)[-1] if uri.count("/") > 2 else uri[len("s3://"):]
    if local.is_symlink():
        messages.append(f"Target {uri} is a symbolic link; links are not crawled.")
        return []
    if local.is_file():
        return [_Dataset(folder_name, uri.rsplit("/", 1)[0] + "/", [_File(str(local), (), local.stat().st_size)])]
    if not local.is_dir():
        messages.append(f"Target {uri} does not exist; nothing to crawl there.")
        return []
    entries = [e for e in os.scandir(local) if _is_data_name(e.name)]
    subfolders = sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
    if any(e.is_file(follow_symlinks=False) for e in entries) or all("=" in name for name in subfolders):
        roots = [(folder_name, local, "", uri + "/")]
    else:  # a folder of datasets: one table per subfolder
        roots = [(name, local / name, name + "/", f"{uri}/{name}/") for name in subfolders]
    found = []
    for name, root, rel, location in roots:
        files = list(_walk(str(root), (), rel, exclude))
        if files:
            found.append(_Dataset(name.lower(), location, files))
    return found


# -- one crawl -------------------------------------------------------------------------------------
@dataclass
class CrawlReport:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: list[str] = field(default_factory=list)  # "<uri>: <why>" for files the crawl could not read
    messages: list[str] = field(default_factory=list)


def _infer(dataset: _Dataset, report: CrawlReport) -> tuple[FileSchema, int, int] | None:
    """Merge the dataset's file schemas; (schema, object count, bytes), or None if nothing is readable."""
    kinds = [(f, classify(f.path)) for f in dataset.files]
    majority = Counter(kind for _, kind in kinds).most_common(1)[0][0]
    merged: FileSchema | None = None
    last_columns: dict[str, str] | None = None
    objects = size = 0
    for item, kind in kinds:
        where = dataset.location + "/".join((*item.parts, os.path.basename(item.path)))
        if kind != majority:
            report.skipped.append(f"{where}: {kind} file in a {majority} table")
            continue
        try:
            schema = read_file_schema(item.path, kind)
        except Unreadable as exc:
            report.skipped.append(f"{where}: {exc}")
            continue
        objects, size = objects + 1, size + item.size
        if merged is None:
            merged = FileSchema(kind, dict(schema.columns), schema.records, dict(schema.details))
            last_columns = schema.columns
            continue
        if schema.records is not None and merged.records is not None:
            merged.records += schema.records
        if schema.columns is last_columns:  # same Parquet schema as the previous file (cached)
            continue
        last_columns = schema.columns
        for name, kind_ in schema.columns.items():
            merged.columns[name] = widen(merged.columns.get(name), kind_) or "string"
        if schema.details.get("quoted") == "true":
            merged.details["quoted"] = "true"
    return (merged, objects, size) if merged is not None else None


def _partition_layout(dataset: _Dataset) -> tuple[list[str], dict[tuple[str, ...], str]]:
    """Partition keys (from the deepest folders) and {values: partition location}."""
    depth = max(len(f.parts) for f in dataset.files)
    sample = next(f.parts for f in dataset.files if len(f.parts) == depth)
    keys = [part.split("=", 1)[0].lower() if "=" in part else f"partition_{i}" for i, part in enumerate(sample)]
    partitions: dict[tuple[str, ...], str] = {}
    for item in dataset.files:
        if len(item.parts) == depth and depth:
            values = tuple(unquote(p.split("=", 1)[1] if "=" in p else p) for p in item.parts)
            partitions.setdefault(values, dataset.location + "/".join(item.parts) + "/")
    return keys, partitions


def _schema_view(table: dict[str, Any]) -> tuple[Any, ...]:
    sd = table.get("StorageDescriptor", {})
    return (sd.get("Columns"), table.get("PartitionKeys"), sd.get("Location"), sd.get("SerdeInfo"),
            table.get("Parameters", {}).get("classification"))


def crawl(catalog: Catalog, name: str, definition: dict[str, Any]) -> CrawlReport:
    """Crawl every S3 target of a crawler definition into its database; what changed is reported."""
    report = CrawlReport()
    database = definition["DatabaseName"]
    prefix = str(definition.get("TablePrefix") or "")
    policy = definition.get("SchemaChangePolicy") or {}
    update_behavior = policy.get("UpdateBehavior", "UPDATE_IN_DATABASE")
    delete_behavior = policy.get("DeleteBehavior", "DEPRECATE_IN_DATABASE")
    catalog.ensure_database(database)
    targets = list((definition.get("Targets") or {}).get("S3Targets") or [])
    seen: set[str] = set()
    for target in targets:
        for dataset in _datasets(catalog, target, report.messages):
            table_name = entity_name(prefix + dataset.name, "Table")
            if table_name in seen:  # two targets ending in the same folder name, as Glue disambiguates
                table_name = f"{table_name}_{uuid.uuid5(uuid.NAMESPACE_URL, dataset.location).hex[:8]}"
            inferred = _infer(dataset, report)
            if inferred is None:
                continue
            seen.add(table_name)
            # Check-then-create of the table must not interleave with another process's crawl of it.
            with catalog.lock:
                _apply(catalog, name, database, table_name, dataset, inferred, update_behavior, delete_behavior,
                       report)
    locations = [str(t.get("Path", "")).rstrip("/") + "/" for t in targets]
    for table in catalog.get_tables(database):
        location = table.get("StorageDescriptor", {}).get("Location", "")
        if (table["Name"] in seen or table.get("Parameters", {}).get("UPDATED_BY_CRAWLER") != name
                or not any(location.startswith(root) for root in locations)):
            continue
        if delete_behavior == "DELETE_FROM_DATABASE":
            catalog.delete_table(database, table["Name"])
            report.deleted += 1
            report.messages.append(f"Deleted table {table['Name']}: its data at {location} is gone.")
        elif delete_behavior == "DEPRECATE_IN_DATABASE" and "DEPRECATED_BY_CRAWLER" not in table["Parameters"]:
            table_input = {k: v for k, v in table.items() if k in _TABLE_INPUT_KEYS}
            table_input["Parameters"] = {**table["Parameters"], "DEPRECATED_BY_CRAWLER": "1"}
            catalog.update_table(database, table_input)
            report.messages.append(f"Deprecated table {table['Name']}: its data at {location} is gone.")
        else:
            report.messages.append(f"Table {table['Name']}: data at {location} is gone (DeleteBehavior LOG).")
    return report


_TABLE_INPUT_KEYS = ("Name", "Description", "Owner", "Retention", "StorageDescriptor", "PartitionKeys",
                     "TableType", "Parameters")


def _apply(catalog: Catalog, crawler: str, database: str, table_name: str, dataset: _Dataset,
           inferred: tuple[FileSchema, int, int], update_behavior: str, delete_behavior: str,
           report: CrawlReport) -> None:
    schema, objects, size = inferred
    keys, partitions = _partition_layout(dataset)
    columns = [{"Name": n, "Type": t} for n, t in schema.columns.items() if n not in keys]
    parameters = {"classification": schema.classification, "compressionType": "none", "typeOfData": "file",
                  "objectCount": str(objects), "sizeKey": str(size), "UPDATED_BY_CRAWLER": crawler,
                  "CrawlerSchemaDeserializerVersion": "1.0", "CrawlerSchemaSerializerVersion": "1.0"}
    if any(f.path.endswith(".gz") for f in dataset.files):
        parameters["compressionType"] = "gzip"
    if schema.records is not None:
        parameters["recordCount"] = str(schema.records)
        parameters["averageRecordSize"] = str(size // schema.records if schema.records else 0)
    if schema.classification == "csv":
        parameters.update({"delimiter": schema.details["delimiter"], "columnsOrdered": "true",
                           "areColumnsQuoted": schema.details["quoted"]})
        if schema.details.get("header") == "true":
            parameters["skip.header.line.count"] = "1"
    storage = {"Columns": columns, "Location": dataset.location, "Compressed": parameters["compressionType"] != "none",
               "NumberOfBuckets": -1, **_storage(schema.classification, [c["Name"] for c in columns], schema.details),
               "BucketColumns": [], "SortColumns": [], "Parameters": dict(parameters),
               "StoredAsSubDirectories": False}
    table_input = {"Name": table_name, "Owner": "owner", "Retention": 0, "StorageDescriptor": storage,
                   "PartitionKeys": [{"Name": k, "Type": "string"} for k in keys], "TableType": "EXTERNAL_TABLE",
                   "Parameters": parameters}
    try:
        existing: dict[str, Any] | None = catalog.get_table(database, table_name)
    except GlueError:
        existing = None
    changed = False
    if existing is None:
        catalog.create_table(database, table_input)
        report.created += 1
        report.messages.append(f"Created table {table_name} in database {database}.")
        table = table_input
    elif _schema_view(existing) != _schema_view(table_input):
        if update_behavior == "LOG":
            report.messages.append(f"Table {table_name} has a new schema; left as it is (UpdateBehavior LOG).")
            table = existing
        else:
            catalog.update_table(database, table_input)
            report.messages.append(f"Updated the schema of table {table_name}.")
            table, changed = table_input, True
    else:
        table = existing
    known = {tuple(p["Values"]) for p in (catalog.get_partitions(database, table_name) if existing else [])}
    new = [values for values in partitions if values not in known]
    if new:
        sd = table["StorageDescriptor"]
        catalog.batch_create_partitions(database, table_name, [
            {"Values": list(values), "StorageDescriptor": {**sd, "Location": partitions[values]},
             "Parameters": {}} for values in new])
        if existing is not None:
            report.messages.append(f"Added {len(new)} partition(s) to table {table_name}.")
            changed = True
    gone = [list(values) for values in known - partitions.keys()]
    if gone and delete_behavior == "DELETE_FROM_DATABASE":
        catalog.batch_delete_partitions(database, table_name, gone)
        report.messages.append(f"Deleted {len(gone)} partition(s) of table {table_name}.")
        changed = True
    report.updated += changed


# -- crawler definitions and runs ------------------------------------------------------------------
@dataclass
class _Active:
    started: float
    state: str = "RUNNING"
    done: threading.Event = field(default_factory=threading.Event)
    stop_requested: bool = False  # StopCrawler: the crawl's LastCrawl ends CANCELLED


# Crawls running in this process, by crawler state file: one workspace, one crawler state.
_ACTIVE: dict[Path, _Active] = {}
_ACTIVE_GUARD = threading.Lock()


def _not_found(name: str) -> GlueError:
    return GlueError("EntityNotFoundException", f"Crawler entry with name {name} does not exist")


class Crawlers:
    """The crawlers of one catalog: definitions (config + CreateCrawler), runs, LastCrawl, metrics."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.folder = catalog.root / "crawlers"

    def _file(self, name: str) -> Path:
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise GlueError("InvalidInputException", f"Crawler name '{name}' is not valid")
        return self.folder / f"{name}.json"

    def _state(self, name: str) -> dict[str, Any]:
        """The persisted record: Definition (for created crawlers), times, LastCrawl, metrics."""
        path = self._file(name)
        with self.catalog.lock:
            if path.is_file():
                return read_json(path)
            if name not in self.catalog.workspace.config.crawlers:
                raise _not_found(name)
            stamp = now_iso()
            state = {"CreationTime": stamp, "LastUpdated": stamp}
            write_json(path, state)
            return state

    def _definition(self, name: str, state: dict[str, Any]) -> dict[str, Any]:
        definition = state.get("Definition") or self.catalog.workspace.config.crawlers.get(name)
        if definition is None:
            raise _not_found(name)
        return {**definition, "Name": name}

    def names(self) -> list[str]:
        created = {p.stem for p in self.folder.glob("*.json")
                   if "Definition" in read_json(p)} if self.folder.is_dir() else set()
        return sorted(created | set(self.catalog.workspace.config.crawlers))

    def create(self, request: dict[str, Any]) -> None:
        """CreateCrawler: Name, Role and Targets are required; DatabaseName, TablePrefix, SchemaChangePolicy, ..."""
        for key in ("Name", "Role", "Targets"):
            if not request.get(key):
                raise GlueError("InvalidInputException", f"1 validation error detected: Value null at '{key}' "
                                "failed to satisfy constraint: Member must not be null")
        name = request["Name"]
        path = self._file(name)
        with self.catalog.lock:
            if name in self.catalog.workspace.config.crawlers or (path.is_file() and "Definition" in read_json(path)):
                raise GlueError("AlreadyExistsException", f"{name} already exists")
            stamp = now_iso()
            write_json(path, {"Definition": dict(request), "CreationTime": stamp, "LastUpdated": stamp})

    def get(self, name: str) -> dict[str, Any]:
        """GetCrawler's `Crawler`."""
        active = _ACTIVE.get(self._file(name))  # before the state: a run writes LastCrawl, then leaves _ACTIVE
        state = self._state(name)
        definition = self._definition(name, state)
        policy = {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DEPRECATE_IN_DATABASE",
                  **(definition.get("SchemaChangePolicy") or {})}
        crawler = {
            "Name": name,
            "Role": definition.get("Role", DEFAULT_ROLE),
            "Targets": {"S3Targets": [], "JdbcTargets": [], "MongoDBTargets": [], "DynamoDBTargets": [],
                        "CatalogTargets": [], "DeltaTargets": [], **(definition.get("Targets") or {})},
            "DatabaseName": definition.get("DatabaseName", "default"),
            "Classifiers": list(definition.get("Classifiers") or []),
            "RecrawlPolicy": definition.get("RecrawlPolicy") or {"RecrawlBehavior": "CRAWL_EVERYTHING"},
            "SchemaChangePolicy": policy,
            "LineageConfiguration": {"CrawlerLineageSettings": "DISABLE"},
            "State": active.state if active else "READY",
            "CrawlElapsedTime": int((time.time() - active.started) * 1000) if active else 0,
            "CreationTime": state["CreationTime"],
            "LastUpdated": state["LastUpdated"],
            "Version": 1,
            "LakeFormationConfiguration": {"UseLakeFormationCredentials": False, "AccountId": ""},
        }
        for key in ("Description", "TablePrefix", "Configuration", "Schedule"):
            if definition.get(key):
                crawler[key] = definition[key]
        if "LastCrawl" in state:
            crawler["LastCrawl"] = state["LastCrawl"]
        return crawler

    def metrics(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        """GetCrawlerMetrics' list: the last crawl's table counts and run times."""
        out = []
        for name in names if names else self.names():
            active = _ACTIVE.get(self._file(name))
            state = self._state(name)
            self._definition(name, state)
            runtimes = state.get("Runtimes", [])
            median = statistics.median(runtimes) if runtimes else 0.0
            left = max(0.0, median - (time.time() - active.started)) if active else 0.0
            out.append({"CrawlerName": name, "TimeLeftSeconds": left, "StillEstimating": bool(active and not runtimes),
                        "LastRuntimeSeconds": runtimes[-1] if runtimes else 0.0, "MedianRuntimeSeconds": median,
                        **state.get("Metrics", {"TablesCreated": 0, "TablesUpdated": 0, "TablesDeleted": 0})})
        return out

    def batch_get(self, names: list[str]) -> dict[str, Any]:
        """BatchGetCrawlers: the crawlers found, and the names that are not."""
        found, missing = [], []
        for name in names:
            try:
                found.append(self.get(name))
            except GlueError:
                missing.append(name)
        return {"Crawlers": found, "CrawlersNotFound": missing}

    def stop(self, name: str) -> None:
        """StopCrawler: the running crawl ends CANCELLED (what it wrote so far stays, as on Glue)."""
        self._definition(name, self._state(name))
        with _ACTIVE_GUARD:
            active = _ACTIVE.get(self._file(name))
            if active is None:
                raise GlueError("CrawlerNotRunningException", f"Crawler with name {name} isn't running")
            if active.state == "STOPPING":
                raise GlueError("CrawlerStoppingException", f"Crawler with name {name} is stopping")
            active.stop_requested = True
            active.state = "STOPPING"

    def update(self, request: dict[str, Any]) -> None:
        """UpdateCrawler: the given fields replace the definition's; refused while the crawler runs."""
        name = request.get("Name")
        path = self._file(name)
        with self.catalog.lock:
            state = self._state(name)
            definition = self._definition(name, state)
            if path in _ACTIVE:
                raise GlueError("CrawlerRunningException", f"Crawler with name {name} is running")
            updated = {**{k: v for k, v in definition.items() if k != "Name"},
                       **{k: v for k, v in request.items() if k != "Name"}}
            state.update(Definition=updated, LastUpdated=now_iso())
            write_json(path, state)

    def delete(self, name: str) -> None:
        """DeleteCrawler: refused while it runs; a crawler of the config is removed there, not here."""
        path = self._file(name)
        with self.catalog.lock:
            self._definition(name, self._state(name))
            if path in _ACTIVE:
                raise GlueError("CrawlerRunningException", f"Crawler with name {name} is running")
            if name in self.catalog.workspace.config.crawlers:
                raise GlueError("InvalidInputException", f"Crawler {name} is defined in the project's config "
                                                         f"([crawlers.{name}]); remove it there")
            path.unlink()

    def start(self, name: str) -> None:
        """StartCrawler: the crawl runs in the background; CrawlerRunningException if one already is."""
        state = self._state(name)
        definition = self._definition(name, state)
        if not definition.get("DatabaseName"):
            raise GlueError("InvalidInputException", f"Crawler {name} has no DatabaseName")
        path = self._file(name)
        with _ACTIVE_GUARD:
            if path in _ACTIVE:
                raise GlueError("CrawlerRunningException", f"Crawler with name {name} has already started")
            active = _ACTIVE[path] = _Active(time.time())
        events.glue_crawler_state(self.catalog.workspace, name, "Started")
        background.spawn(self._run, name, definition, active, name=f"crawler-{name}")

    def wait(self, name: str, timeout: float | None = None) -> dict[str, Any]:
        """Block until the crawler is READY (the `.sync` way); returns GetCrawler's `Crawler`."""
        active = _ACTIVE.get(self._file(name))
        if active is not None:
            active.done.wait(timeout)
        return self.get(name)

    @staticmethod
    def wait_all(timeout: float | None = None) -> None:
        """Block until every crawl of this process has finished (before a CLI process exits)."""
        with _ACTIVE_GUARD:
            running = list(_ACTIVE.values())
        for active in running:
            active.done.wait(timeout)

    def run(self, name: str) -> dict[str, Any]:
        """Start and wait: one synchronous crawl (CLI, tests, benchmarks)."""
        self.start(name)
        return self.wait(name)

    def _run(self, name: str, definition: dict[str, Any], active: _Active) -> None:
        prefix = str(uuid.uuid4())
        last: dict[str, Any] = {"Status": "SUCCEEDED", "LogGroup": LOG_GROUP, "LogStream": name,
                                "MessagePrefix": prefix, "StartTime": now_iso()}
        metrics = {"TablesCreated": 0, "TablesUpdated": 0, "TablesDeleted": 0}
        try:
            report = crawl(self.catalog, name, definition)
            metrics = {"TablesCreated": report.created, "TablesUpdated": report.updated,
                       "TablesDeleted": report.deleted}
            for message in report.messages:
                log.info("[%s] %s: %s", prefix, name, message)
            if report.skipped:
                for skipped in report.skipped:
                    log.warning("[%s] %s: skipped %s", prefix, name, skipped)
                last["ErrorMessage"] = (f"{len(report.skipped)} file(s) could not be read and were skipped: "
                                        + "; ".join(report.skipped[:5]))
            # A target that is missing (or unreadable) crawls nothing; saying so is what explains the empty database.
            unreached = [m for m in report.messages if m.startswith("Target ")]
            if unreached:
                last["ErrorMessage"] = "; ".join(filter(None, [last.get("ErrorMessage"), *unreached]))
        except Exception as exc:  # a crawl failure is the crawler's LastCrawl, never the caller's crash
            log.exception("[%s] %s: crawl failed", prefix, name)
            last.update(Status="FAILED", ErrorMessage=f"{type(exc).__name__}: {exc}")
        finally:
            active.state = "STOPPING"
            if active.stop_requested:
                last["Status"] = "CANCELLED"
            try:
                with self.catalog.lock:
                    state = self._state(name)
                    runtimes = [*state.get("Runtimes", []), round(time.time() - active.started, 3)]
                    state.update(LastCrawl=last, Metrics=metrics, Runtimes=runtimes[-_MAX_RUNTIMES:])
                    write_json(self._file(name), state)
            finally:
                with _ACTIVE_GUARD:
                    _ACTIVE.pop(self._file(name), None)
                active.done.set()
                events.glue_crawler_state(self.catalog.workspace, name, "Succeeded" if last["Status"] == "SUCCEEDED"
                                          else "Failed", last, metrics, time.time() - active.started)
