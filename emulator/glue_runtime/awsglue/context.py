"""awsglue.context: GlueContext, reading and writing DynamicFrames on the local object store and Data Catalog.

Sources and sinks are S3 (`s3://` paths in the workspace's object store) and Data Catalog tables
on S3, in csv, json, parquet (also `glueparquet`) and orc. Catalog reads take the table's
location, format and registered partitions (push_down_predicate is a Spark SQL predicate on the
partition columns; catalogPartitionPredicate a GetPartitions expression). S3 sinks append, as
Glue's do; with enableUpdateCatalog a sink creates or updates the table and adds the partitions
it wrote. Job bookmarks (see awsglue.job) skip files a source with the same transformation_ctx
read in an earlier committed run. JDBC, DynamoDB, Kinesis, Kafka and the other AWS connections
raise NotAvailableLocallyError naming the call.
"""

from __future__ import annotations

import fnmatch
import sys
import time
from functools import reduce
from typing import TYPE_CHECKING, Any

from awsglue.dynamicframe import DynamicFrame, quote
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from emulator.backends.objectstore import S3Error, parse_uri
from emulator.glue_runtime import NotAvailableLocallyError, current

if TYPE_CHECKING:
    from awsglue.job import Job

    from emulator.backends.catalog import Catalog

_FORMATS = {"csv": "csv", "json": "json", "parquet": "parquet", "glueparquet": "parquet", "orc": "orc"}
_TEXT_IN = "org.apache.hadoop.mapred.TextInputFormat"
_TEXT_OUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
_STORAGE = {
    "parquet": {"InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                              "Parameters": {"serialization.format": "1"}}},
    "orc": {"InputFormat": "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.orc.OrcOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.orc.OrcSerde", "Parameters": {}}},
    "json": {"InputFormat": _TEXT_IN, "OutputFormat": _TEXT_OUT,
             "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe", "Parameters": {}}},
    "csv": {"InputFormat": _TEXT_IN, "OutputFormat": _TEXT_OUT,
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                          "Parameters": {"field.delim": ","}}},
}
# Characters Spark escapes (as %XX) in partition folder names.
_ESCAPED = set('"#%\'*/:=?\\\x7f{[]^') | {chr(c) for c in range(32)}


def _format_name(format: str | None, call: str) -> str:
    name = (format or "").lower()
    if name in _FORMATS:
        return _FORMATS[name]
    if name in ("avro", "xml", "ion", "grokLog".lower(), "hudi", "delta", "iceberg"):
        raise NotAvailableLocallyError(f"{call}(format={format!r})", "that format's reader is not in local Spark")
    raise ValueError(f"{call}: format {format!r} is not one of csv, json, parquet, glueparquet, orc")


def _check_s3(connection_type: str, call: str) -> None:
    if connection_type.lower() != "s3":
        raise NotAvailableLocallyError(f"{call}(connection_type={connection_type!r})",
                                       "only S3 connections are emulated; JDBC and other AWS data stores are not")


def _table_format(table: dict[str, Any]) -> str:
    """parquet, orc, json or csv: the table's classification, else what its formats say."""
    classification = str((table.get("Parameters") or {}).get("classification", "")).lower()
    if classification in _STORAGE:
        return classification
    storage = table.get("StorageDescriptor", {})
    described = f"{storage.get('InputFormat')} {(storage.get('SerdeInfo') or {}).get('SerializationLibrary')}".lower()
    return next((k for k in ("parquet", "orc", "json") if k in described), "csv")


def _partition_value(value: Any) -> str:
    if value is None:
        return "__HIVE_DEFAULT_PARTITION__"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _escape(value: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _ESCAPED else c for c in value)


def _folder(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def _union(frames: list[DataFrame]) -> DataFrame:
    """One frame of all; a field read as different types in different files becomes a string (a choice)."""
    types: dict[str, set[str]] = {}
    for df in frames:
        for field in df.schema.fields:
            types.setdefault(field.name, set()).add(field.dataType.simpleString())
    mixed = {name for name, seen in types.items() if len(seen) > 1}
    aligned = [df.select(*[F.col(quote(c)).cast("string").alias(c) if c in mixed else F.col(quote(c))
                           for c in df.columns]) for df in frames]
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), aligned)


class GlueContext:
    """Glue's entry point for DynamicFrames, on the warm local SparkSession."""

    def __init__(self, sparkContext: Any, **options: Any) -> None:
        self._sc = sparkContext
        self.spark_session = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
        self._runtime = current()
        self._job: Job | None = None
        self.create_dynamic_frame = _DynamicFrameReader(self)
        self.create_data_frame = _DataFrameReader(self)
        self.write_dynamic_frame = _DynamicFrameWriter(self)

    # -- plumbing -----------------------------------------------------------------------------
    def _catalog(self) -> Catalog:
        return self._runtime.catalog

    def _mount(self, *paths: str) -> None:
        """Make sure the buckets of `paths` resolve (a bucket created after the job started was not mounted)."""
        buckets = {parse_uri(p)[0] for p in paths if p.startswith(("s3://", "s3a://"))}
        if buckets:
            self._runtime.engine.mount(buckets)

    def _list(self, path: str, recurse: bool) -> list[tuple[str, str]]:
        """(s3 URI, ETag) of the data files at `path`: the object itself, or those under it as a folder."""
        if not path.startswith(("s3://", "s3a://")):
            raise ValueError(f"'{path}' is not an s3:// path")
        store = self._runtime.object_store
        bucket, key = parse_uri(path)
        scheme = path.split("://", 1)[0]
        if key and not key.endswith("/"):
            try:
                info = store.head(bucket, key)
                return [(path, info.etag)]
            except S3Error:  # not an object: read it as a folder
                pass
        prefix = _folder(key) if key else ""
        found: list[tuple[str, str]] = []
        token = None
        while True:
            listing = store.list(bucket, prefix, delimiter=None if recurse else "/", continuation=token)
            for info in listing.objects:
                parts = info.key[len(prefix):].split("/")
                if not any(p.startswith(("_", ".")) for p in parts) and parts[-1]:
                    found.append((f"{scheme}://{bucket}/{info.key}", info.etag))
            if not listing.is_truncated:
                return found
            token = listing.next_token

    def _bookmarked(self, transformation_ctx: str, files: list[tuple[str, str]]) -> list[str]:
        """The files to read: all of them, or with a bookmark only those new since its last committed run."""
        if self._job is None or not transformation_ctx:
            return [uri for uri, _ in files]
        return self._job._new_files(transformation_ctx, files)

    def _read(self, files: list[str], fmt: str, options: dict[str, Any], header: bool) -> DataFrame:
        reader = self.spark_session.read
        if fmt == "csv":
            reader = (reader.option("header", header).option("inferSchema", True)
                      .option("sep", options.get("separator", ","))
                      .option("quote", options.get("quoteChar", '"'))
                      .option("multiLine", bool(options.get("multiLine", False))))
            if "escaper" in options:
                reader = reader.option("escape", options["escaper"])
            df = reader.csv(files)
            return df if header else df.toDF(*[f"col{i}" for i in range(len(df.columns))])
        if fmt == "json":
            return reader.option("multiLine", bool(options.get("multiLine", False))).json(files)
        return reader.format(fmt).load(files)

    def _empty(self, ddl: str = "") -> DataFrame:
        return self.spark_session.createDataFrame([], ddl or StructType([]))

    # -- reading ------------------------------------------------------------------------------
    def create_dynamic_frame_from_options(self, connection_type: str, connection_options: dict[str, Any] | None = None,
                                          format: str | None = None,
                                          format_options: dict[str, Any] | None = None,
                                          transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        call = "GlueContext.create_dynamic_frame.from_options"
        _check_s3(connection_type, call)
        options = connection_options or {}
        paths = options.get("paths") or ([options["path"]] if "path" in options else [])
        if not paths:
            raise ValueError(f"{call}: connection_options needs 'paths' (a list of s3:// paths)")
        fmt = _format_name(format, call)
        recurse = bool(options.get("recurse", False))
        exclusions = options.get("exclusions") or []
        listed = [f for path in paths for f in self._list(path, recurse)]
        if exclusions:
            patterns = [exclusions] if isinstance(exclusions, str) else list(exclusions)
            listed = [f for f in listed if not any(fnmatch.fnmatch(f[0], p) for p in patterns)]
        files = self._bookmarked(transformation_ctx, listed)
        self._mount(*paths)
        format_options = format_options or {}
        header = str(format_options.get("withHeader", False)).lower() == "true"
        df = self._read(files, fmt, format_options, header) if files else self._empty()
        return DynamicFrame(df, self, transformation_ctx)

    def create_dynamic_frame_from_catalog(self, database: str, table_name: str, redshift_tmp_dir: str = "",
                                          transformation_ctx: str = "", push_down_predicate: str = "",
                                          additional_options: dict[str, Any] | None = None,
                                          catalog_id: str | None = None, **_: Any) -> DynamicFrame:
        call = "GlueContext.create_dynamic_frame.from_catalog"
        catalog = self._catalog()
        table = catalog.get_table(database, table_name)
        storage = table.get("StorageDescriptor") or {}
        location = storage.get("Location")
        if not location or not str(location).startswith(("s3://", "s3a://")):
            raise NotAvailableLocallyError(f"{call}({database}.{table_name})",
                                           f"the table's location {location!r} is not on S3")
        fmt = _table_format(table)
        columns = storage.get("Columns") or []
        keys = table.get("PartitionKeys") or []
        options = {**((storage.get("SerdeInfo") or {}).get("Parameters") or {})}
        csv_options = {"separator": options.get("field.delim") or options.get("separatorChar") or ",",
                       "quoteChar": options.get("quoteChar", '"')}
        header = str((table.get("Parameters") or {}).get("skip.header.line.count", "0")) != "0"
        extra = additional_options or {}
        if keys:
            partitions = catalog.get_partitions(database, table_name, extra.get("catalogPartitionPredicate"))
            if push_down_predicate:
                partitions = self._prune(partitions, keys, push_down_predicate)
            sources = [((p.get("StorageDescriptor") or {}).get("Location") or location, p["Values"])
                       for p in partitions]
        else:
            sources = [(location, [])]
        frames = []
        for place, values in sources:
            files = self._bookmarked(transformation_ctx, self._list(_folder(place), recurse=True))
            if not files:
                continue
            self._mount(place)
            df = self._read(files, fmt, csv_options, header)
            if fmt == "csv" and len(df.columns) == len(columns):
                df = df.toDF(*[c["Name"] for c in columns])
            for key, value in zip(keys, values, strict=True):
                df = df.withColumn(key["Name"], F.lit(value).try_cast(key.get("Type") or "string"))
            frames.append(df)
        if frames:
            df = _union(frames)
        else:
            df = self._empty(", ".join(f"{quote(c['Name'])} {c['Type']}" for c in columns + keys))
        return DynamicFrame(df, self, transformation_ctx)

    def _prune(self, partitions: list[dict[str, Any]], keys: list[dict[str, Any]],
               predicate: str) -> list[dict[str, Any]]:
        """The partitions whose values satisfy a Spark SQL predicate on the partition columns."""
        if not partitions:
            return []
        rows = [(i, *p["Values"]) for i, p in enumerate(partitions)]
        names = ["__index", *[k["Name"] for k in keys]]
        values = self.spark_session.createDataFrame(rows, names).select(
            "__index", *[F.col(quote(k["Name"])).try_cast(k.get("Type") or "string").alias(k["Name"]) for k in keys])
        kept = {row["__index"] for row in values.where(predicate).select("__index").collect()}
        return [p for i, p in enumerate(partitions) if i in kept]

    def create_dynamic_frame_from_rdd(self, data: Any, name: str, schema: Any = None, sample_ratio: float | None = None,
                                      transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return DynamicFrame(self.spark_session.createDataFrame(data, schema, sample_ratio), self, name)

    # -- writing ------------------------------------------------------------------------------
    def _write(self, frame: DynamicFrame, path: str, fmt: str, keys: list[str],
               options: dict[str, Any]) -> list[list[str]]:
        """Append the frame under `path`; returns the partition values written."""
        df = frame.toDF()
        if not df.columns:
            return []  # an empty frame (nothing new under a bookmark) writes nothing, as on Glue
        missing = [k for k in keys if k not in df.columns]
        if missing:
            raise ValueError(f"partitionKeys {missing} are not fields of the frame ({', '.join(df.columns)})")
        self._mount(path)
        writer = df.write.mode("append").format(fmt)
        if fmt == "csv":
            writer = (writer.option("header", str(options.get("writeHeader", True)).lower() == "true")
                      .option("sep", options.get("separator", ",")).option("quote", options.get("quoteChar", '"')))
        elif fmt == "parquet":
            writer = writer.option("compression", str(options.get("compression", "snappy")).lower())
        if keys:
            writer = writer.partitionBy(*keys)
        writer.save(path)
        if not keys:
            return []
        return [[_partition_value(v) for v in row] for row in df.select(*[quote(k) for k in keys]).distinct().collect()]

    def write_dynamic_frame_from_options(self, frame: DynamicFrame, connection_type: str,
                                         connection_options: dict[str, Any] | None = None,
                                         format: str | None = None,
                                         format_options: dict[str, Any] | None = None,
                                         transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        call = "GlueContext.write_dynamic_frame.from_options"
        _check_s3(connection_type, call)
        options = connection_options or {}
        if "path" not in options:
            raise ValueError(f"{call}: connection_options needs 'path' (an s3:// path)")
        self._write(frame, options["path"], _format_name(format, call), list(options.get("partitionKeys") or []),
                    format_options or {})
        return frame

    def write_dynamic_frame_from_catalog(self, frame: DynamicFrame, database: str, table_name: str,
                                         redshift_tmp_dir: str = "", transformation_ctx: str = "",
                                         additional_options: dict[str, Any] | None = None,
                                         catalog_id: str | None = None, **_: Any) -> DynamicFrame:
        table = self._catalog().get_table(database, table_name)
        options = additional_options or {}
        keys = [k["Name"] for k in table.get("PartitionKeys") or []] or list(options.get("partitionKeys") or [])
        location = (table.get("StorageDescriptor") or {}).get("Location")
        fmt = _table_format(table)
        header = str((table.get("Parameters") or {}).get("skip.header.line.count", "0")) != "0"
        written = self._write(frame, location, fmt, keys, {"writeHeader": header})
        if str(options.get("enableUpdateCatalog", False)).lower() == "true":
            self._update_catalog(database, table_name, location, fmt, frame.toDF(), keys, written,
                                 str(options.get("updateBehavior", "UPDATE_IN_DATABASE")))
        return frame

    def _update_catalog(self, database: str, table_name: str, path: str, fmt: str, df: DataFrame, keys: list[str],
                        written: list[list[str]], update_behavior: str) -> None:
        """Create or update the table for what was written, and add the partitions written, as Glue's sinks do."""
        if not df.columns:
            return
        catalog = self._catalog()
        types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        storage = {"Columns": [{"Name": n, "Type": t} for n, t in types.items() if n not in keys],
                   "Location": _folder(path), "Compressed": False, "NumberOfBuckets": -1, **_STORAGE[fmt],
                   "BucketColumns": [], "SortColumns": [], "Parameters": {"classification": fmt},
                   "StoredAsSubDirectories": False}
        parameters = {"classification": fmt, "UPDATED_BY_JOB": self._runtime.job_name or "",
                      "EXTERNAL": "TRUE"}
        if fmt == "csv":
            parameters["skip.header.line.count"] = "1"
        table_input = {"Name": table_name, "StorageDescriptor": storage, "TableType": "EXTERNAL_TABLE",
                       "PartitionKeys": [{"Name": k, "Type": types[k]} for k in keys], "Parameters": parameters}
        with catalog.lock:
            try:
                existing: dict[str, Any] | None = catalog.get_table(database, table_name)
            except Exception as exc:  # Glue's EntityNotFoundException for the table (a missing database propagates)
                if getattr(exc, "code", "") != "EntityNotFoundException" or "Database" in str(exc):
                    raise
                existing = None
            if existing is None:
                catalog.create_table(database, table_input)
            elif update_behavior == "UPDATE_IN_DATABASE":
                catalog.update_table(database, {**{k: v for k, v in existing.items() if k in (
                    "Description", "Owner", "Retention")}, **table_input,
                    "Parameters": {**(existing.get("Parameters") or {}), **parameters}})
            if written:
                catalog.batch_create_partitions(database, table_name, [
                    {"Values": values, "StorageDescriptor": {
                        **storage, "Location": _folder(path) + "/".join(
                            f"{_escape(k)}={_escape(v)}" for k, v in zip(keys, values, strict=True)) + "/"}}
                    for values in written])

    def getSink(self, connection_type: str, format: str | None = None,
                transformation_ctx: str = "", **options: Any) -> DataSink:
        _check_s3(connection_type, "GlueContext.getSink")
        return DataSink(self, format, options)

    def getSource(self, connection_type: str, format: str | None = None,
                  transformation_ctx: str = "", **options: Any) -> DataSource:
        _check_s3(connection_type, "GlueContext.getSource")
        return DataSource(self, format, options, transformation_ctx)

    # -- housekeeping -------------------------------------------------------------------------
    def purge_s3_path(self, s3_path: str, options: dict[str, Any] | None = None, transformation_ctx: str = "") -> None:
        """Delete the objects under `s3_path` older than retentionPeriod hours (Glue's default: 168)."""
        hours = float((options or {}).get("retentionPeriod", 168))
        cutoff = time.time() - hours * 3600
        store = self._runtime.object_store
        bucket, key = parse_uri(s3_path)
        token = None
        while True:
            listing = store.list(bucket, key, continuation=token)
            for info in listing.objects:
                if info.last_modified.timestamp() <= cutoff:
                    store.delete(bucket, info.key)
            if not listing.is_truncated:
                return
            token = listing.next_token

    def purge_table(self, database: str, table_name: str, options: dict[str, Any] | None = None,
                    transformation_ctx: str = "", catalog_id: str | None = None) -> None:
        """Delete the table's files (retentionPeriod as purge_s3_path); the catalog entry stays."""
        location = (self._catalog().get_table(database, table_name).get("StorageDescriptor") or {}).get("Location")
        self.purge_s3_path(_folder(location), options)

    def get_logger(self) -> _Logger:
        return _Logger()

    def extract_jdbc_conf(self, connection_name: str, catalog_id: str | None = None) -> Any:
        raise NotAvailableLocallyError("GlueContext.extract_jdbc_conf", "Glue connections are not emulated")

    def write_dynamic_frame_from_jdbc_conf(self, *args: Any, **kwargs: Any) -> Any:
        raise NotAvailableLocallyError("GlueContext.write_dynamic_frame.from_jdbc_conf",
                                       "JDBC connections to AWS databases are not emulated")

    def create_dynamic_frame_from_jdbc_conf(self, *args: Any, **kwargs: Any) -> Any:
        raise NotAvailableLocallyError("GlueContext.create_dynamic_frame.from_jdbc_conf",
                                       "JDBC connections to AWS databases are not emulated")


class _Logger:
    """GlueContext.get_logger(): lines on the job's output, which the run's log tail keeps."""

    def _log(self, level: str, message: Any) -> None:
        print(f"{level} [GlueLogger] {message}", file=sys.stdout)

    def info(self, message: Any) -> None:
        self._log("INFO", message)

    def warn(self, message: Any) -> None:
        self._log("WARN", message)

    warning = warn

    def error(self, message: Any) -> None:
        self._log("ERROR", message)

    def debug(self, message: Any) -> None:
        self._log("DEBUG", message)


class _DynamicFrameReader:
    def __init__(self, context: GlueContext) -> None:
        self.from_catalog = context.create_dynamic_frame_from_catalog
        self.from_options = context.create_dynamic_frame_from_options
        self.from_rdd = context.create_dynamic_frame_from_rdd
        self.from_jdbc_conf = context.create_dynamic_frame_from_jdbc_conf


class _DataFrameReader:
    def __init__(self, context: GlueContext) -> None:
        self._context = context

    def from_catalog(self, *args: Any, **kwargs: Any) -> DataFrame:
        return self._context.create_dynamic_frame_from_catalog(*args, **kwargs).toDF()

    def from_options(self, *args: Any, **kwargs: Any) -> DataFrame:
        return self._context.create_dynamic_frame_from_options(*args, **kwargs).toDF()


class _DynamicFrameWriter:
    def __init__(self, context: GlueContext) -> None:
        self.from_options = context.write_dynamic_frame_from_options
        self.from_catalog = context.write_dynamic_frame_from_catalog
        self.from_jdbc_conf = context.write_dynamic_frame_from_jdbc_conf


class DataSink:
    """getSink's sink: setFormat, setCatalogInfo, writeFrame; enableUpdateCatalog keeps the table up to date."""

    def __init__(self, context: GlueContext, format: str | None, options: dict[str, Any]) -> None:
        self._context = context
        self._format = format
        self._format_options: dict[str, Any] = {}
        self._options = options
        self._database: str | None = None
        self._table: str | None = None

    def setFormat(self, format: str, **options: Any) -> None:
        self._format = format
        self._format_options = options

    def setCatalogInfo(self, catalogDatabase: str, catalogTableName: str,
                       catalogId: str | None = None) -> None:
        self._database, self._table = catalogDatabase, catalogTableName

    def writeFrame(self, dynamic_frame: DynamicFrame, info: str = "") -> DynamicFrame:
        call = "DataSink.writeFrame"
        path = self._options.get("path")
        if not path:
            raise ValueError(f"{call}: getSink needs path='s3://...'")
        fmt = _format_name(self._format or "parquet", call)
        keys = list(self._options.get("partitionKeys") or [])
        written = self._context._write(dynamic_frame, path, fmt, keys, self._format_options)
        if str(self._options.get("enableUpdateCatalog", False)).lower() == "true":
            if not (self._database and self._table):
                raise ValueError(f"{call}: enableUpdateCatalog needs setCatalogInfo(catalogDatabase=..., "
                                 "catalogTableName=...)")
            self._context._update_catalog(self._database, self._table, path, fmt, dynamic_frame.toDF(), keys, written,
                                          str(self._options.get("updateBehavior", "UPDATE_IN_DATABASE")))
        return dynamic_frame

    write = writeFrame


class DataSource:
    """getSource's source: setFormat, then getFrame."""

    def __init__(self, context: GlueContext, format: str | None, options: dict[str, Any],
                 transformation_ctx: str) -> None:
        self._context = context
        self._format = format
        self._format_options: dict[str, Any] = {}
        self._options = options
        self._ctx = transformation_ctx

    def setFormat(self, format: str, **options: Any) -> None:
        self._format = format
        self._format_options = options

    def getFrame(self, **_: Any) -> DynamicFrame:
        return self._context.create_dynamic_frame_from_options("s3", self._options, self._format,
                                                                self._format_options, self._ctx)
