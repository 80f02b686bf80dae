"""awsglue.dynamicframe: DynamicFrame and DynamicFrameCollection, each DynamicFrame over one Spark DataFrame.

How this DynamicFrame differs from Glue's, which keeps a schema per record:

- Every record has the frame's one schema (the wrapped DataFrame's); a field a record lacks is null.
- Glue's choice types (a field that is an int in some records and a string in others) show here
  as a string column whose values read as several types: Spark widens mixed values to string when
  it infers a schema. `resolveChoice` (and `ResolveChoice`) look at those values: `make_cols` and
  `make_struct` split a column whose values read as two or more types (int, long, double, boolean,
  string) and leave other columns alone; `project:T` and `cast:T` convert any column, a value that
  does not convert becoming null.
- `schema()` returns Spark's StructType (Glue returns awsglue.gluetypes types).
- No error records: a record Spark cannot read fails the job (errorsCount() is always 0), and the
  stageThreshold / totalThreshold arguments are accepted and ignored.
- `relationalize` keeps its frames in memory (staging_path is not written) and links a parent to
  its array's rows with a 64-bit id (Glue's ids are small integers).
- `map` and `filter` hand the function each record as a plain dict (nested dicts for structs).
- In `join`, a field of the second frame named like a field of the first is dropped (the first's wins).
- On a Spark Connect session (`[spark] remote`) `map`, `filter`, `unbox` and `getNumPartitions`, which
  need RDDs, fail with NotAvailableLocallyError naming the call; the DataFrame-based rest works.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StructField, StructType

from emulator.glue_runtime import NotAvailableLocallyError

# Kinds a string value can read as, for choice resolution (Glue's choice members).
_KINDS = ("int", "long", "double", "boolean", "string")
_ROW_ID = "__sfn_local_row_id"


def quote(name: str) -> str:
    """A column name as Spark SQL reads it literally (dots and all)."""
    return "`" + name.replace("`", "``") + "`"


def _field(schema: StructType, path: str) -> StructField | None:
    """The field at a dotted path, or a top-level field whose name has dots; case-insensitive as Spark."""
    for field in schema.fields:
        if field.name.lower() == path.lower():
            return field
    head, dot, rest = path.partition(".")
    if dot:
        for field in schema.fields:
            if field.name.lower() == head.lower() and isinstance(field.dataType, StructType):
                return _field(field.dataType, rest)
    return None


def _column(df: DataFrame, path: str, alias: str = "") -> Column:
    """The column at `path`: a top-level column of that exact name, else a struct field path (of `alias`)."""
    prefix = f"{alias}." if alias else ""
    if any(c.lower() == path.lower() for c in df.columns):
        return F.col(prefix + quote(path))
    head, *rest = path.split(".")
    column = F.col(prefix + quote(head))
    for part in rest:
        column = column.getField(part)
    return column


def _spark_type(glue_type: str) -> str:
    """A Glue/Hive type name as Spark's cast takes it."""
    lowered = glue_type.strip().lower()
    return {"integer": "int", "long": "bigint", "short": "smallint", "byte": "tinyint"}.get(lowered, lowered)


def _convert(column: Column, glue_type: str) -> Column:
    """Cast that gives null for a value that does not convert (Glue's behaviour; Spark's ANSI cast would fail)."""
    if glue_type.strip().lower() in ("array", "struct", "map", "choice", "null"):
        return column
    return column.try_cast(_spark_type(glue_type))


def _nest(df: DataFrame, targets: list[tuple[str, Column]]) -> list[Column]:
    """Columns for dotted target paths: `a.b` and `a.c` become one struct column `a` with fields b and c."""
    tree: dict[str, Any] = {}
    for target, column in targets:
        node = tree
        *parents, leaf = target.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"mapping target {target!r} conflicts with a field of the same name")
        node[leaf] = column

    def build(node: dict[str, Any]) -> list[Column]:
        return [F.struct(*build(value)).alias(name) if isinstance(value, dict) else value.alias(name)
                for name, value in node.items()]

    return build(tree)


def _kind(column: Column) -> Column:
    """Which type a string value reads as: int, long, double, boolean or string (null for null)."""
    integral = column.rlike(r"^\s*[+-]?\d{1,18}\s*$")
    as_long = F.trim(column).try_cast("bigint")
    return (F.when(column.isNull(), F.lit(None))
            .when(integral & (F.abs(as_long) <= 2147483647), F.lit("int"))
            .when(integral, F.lit("long"))
            .when(F.trim(column).try_cast("double").isNotNull() & column.rlike(r"\d"), F.lit("double"))
            .when(F.lower(F.trim(column)).isin("true", "false"), F.lit("boolean"))
            .otherwise(F.lit("string")))


def _choice_kinds(df: DataFrame, names: list[str]) -> dict[str, list[str]]:
    """For each string column named, the kinds its values read as (one Spark job for all)."""
    strings = [n for n in names if (f := _field(df.schema, n)) is not None and f.dataType.simpleString() == "string"]
    if not strings:
        return {}
    row = df.agg(*[F.collect_set(_kind(_column(df, n))).alias(str(i)) for i, n in enumerate(strings)]).first()
    return {n: sorted(row[str(i)], key=_KINDS.index) for i, n in enumerate(strings)}


def _flatten_structs(df: DataFrame) -> DataFrame:
    """Struct fields become top-level columns named with dots (`a.b`), as Glue's unnest names them."""
    while any(isinstance(f.dataType, StructType) for f in df.schema.fields):
        columns: list[Column] = []
        for field in df.schema.fields:
            if isinstance(field.dataType, StructType):
                columns += [F.col(quote(field.name)).getField(sub.name).alias(f"{field.name}.{sub.name}")
                            for sub in field.dataType.fields]
            else:
                columns.append(F.col(quote(field.name)))
        df = df.select(*columns)
    return df


def _relationalize(df: DataFrame, name: str, out: dict[str, DataFrame]) -> None:
    """Flatten `df` into `out[name]`; each array column becomes its own frame `name_<column>`."""
    flat = _flatten_structs(df)
    arrays = [f.name for f in flat.schema.fields if isinstance(f.dataType, ArrayType)]
    if not arrays:
        out[name] = flat
        return
    # Materialised once so the parent's ids and the children's `id` come from the same numbering.
    flat = flat.withColumn(_ROW_ID, F.monotonically_increasing_id()).localCheckpoint()
    parent = flat
    for array in arrays:
        parent = parent.withColumn(array, F.when(F.col(quote(array)).isNotNull(), F.col(_ROW_ID)))
    out[name] = parent.drop(_ROW_ID)
    for array in arrays:
        child = flat.select(F.col(_ROW_ID).alias("id"), F.posexplode(F.col(quote(array))).alias("index", "val"))
        _relationalize(child.withColumnRenamed("val", f"{array}.val"), f"{name}_{array}", out)


def _rdd(df: DataFrame, call: str) -> Any:
    """The frame's RDD; a Spark Connect session (`[spark] remote`) has none, so `call` fails naming itself."""
    if type(df).__module__.startswith("pyspark.sql.connect"):
        raise NotAvailableLocallyError(f"DynamicFrame.{call}",
                                       "it needs RDDs, which a Spark Connect session ([spark] remote) does not have")
    return df.rdd


def _records(df: DataFrame, call: str) -> Any:
    """The frame's rows as dicts (on Spark's Python workers)."""
    return _rdd(df, call).map(lambda row: row.asDict(recursive=True))


class DynamicFrame:
    """A distributed collection of records over a Spark DataFrame (see the module docstring for differences)."""

    def __init__(self, df: DataFrame, glue_ctx: Any, name: str = "") -> None:
        self._df = df
        self.glue_ctx = glue_ctx
        self.name = name

    def _new(self, df: DataFrame, name: str | None = None) -> DynamicFrame:
        return DynamicFrame(df, self.glue_ctx, self.name if name is None else name)

    # -- conversion and inspection ------------------------------------------------------------
    @staticmethod
    def fromDF(dataframe: DataFrame, glue_ctx: Any, name: str) -> DynamicFrame:
        return DynamicFrame(dataframe, glue_ctx, name)

    def toDF(self, options: list[Any] | None = None) -> DataFrame:
        return self._df

    def count(self) -> int:
        return self._df.count()

    def schema(self) -> StructType:
        return self._df.schema

    def printSchema(self) -> None:
        print("root")
        print("\n".join(self._df.schema.treeString().splitlines()[1:]))

    def show(self, num_rows: int = 20) -> None:
        """Print the first records as JSON, as Glue's show does."""
        for row in self._df.limit(num_rows).collect():
            print(json.dumps(row.asDict(recursive=True), default=str))

    def getNumPartitions(self) -> int:
        return _rdd(self._df, "getNumPartitions").getNumPartitions()

    def errorsCount(self) -> int:
        return 0

    def stageErrorsCount(self) -> int:
        return 0

    def errorsAsDynamicFrame(self) -> DynamicFrame:
        return self._new(self._df.sparkSession.createDataFrame([], StructType([])))

    def assertErrorThreshold(self) -> None:
        """Nothing to assert: records Spark cannot read fail the job instead of becoming error records."""

    # -- fields -------------------------------------------------------------------------------
    def select_fields(self, paths: list[str], transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        df = self._df
        exact = {c.lower(): c for c in df.columns}
        top = [F.col(quote(exact[p.lower()])) for p in paths if p.lower() in exact]
        nested = [(p, _column(df, p)) for p in paths if p.lower() not in exact and _field(df.schema, p) is not None]
        return self._new(df.select(*top, *_nest(df, nested)))

    def drop_fields(self, paths: list[str], transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        df = self._df
        for path in paths:
            if path in df.columns or "." not in path:
                df = df.drop(path)
            elif _field(df.schema, path) is not None:
                head, _, rest = path.partition(".")
                df = df.withColumn(head, F.col(quote(head)).dropFields(rest))
        return self._new(df)

    def rename_field(self, oldName: str, newName: str, transformation_ctx: str = "",
                     **_: Any) -> DynamicFrame:
        df = self._df
        if oldName in df.columns or "." not in oldName:
            return self._new(df.withColumnRenamed(oldName, newName))
        if _field(df.schema, oldName) is None:
            return self
        old_parent, _, old_leaf = oldName.rpartition(".")
        new_parent, _, new_leaf = newName.rpartition(".")
        head, _, inner = old_parent.partition(".")
        value = _column(df, oldName)
        if new_parent == old_parent:  # renamed inside its struct
            path = f"{inner}.{new_leaf}" if inner else new_leaf
            df = df.withColumn(head, F.col(quote(head)).withField(path, value))
        else:
            df = df.withColumn(newName, value)
        parent = _field(df.schema, old_parent)
        if new_parent != old_parent and parent is not None and len(parent.dataType.fields) == 1:
            return self._new(df.drop(head) if not inner else df.withColumn(head, F.col(quote(head)).dropFields(inner)))
        dropped = f"{inner}.{old_leaf}" if inner else old_leaf
        return self._new(df.withColumn(head, F.col(quote(head)).dropFields(dropped)))

    def apply_mapping(self, mappings: list[tuple[str, ...]], case_sensitive: bool = False,
                      transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        """Keep the mapped fields only, each cast to its target type under its target name (dots nest)."""
        targets: list[tuple[str, Column]] = []
        for mapping in mappings:
            if len(mapping) != 4:
                raise ValueError(f"ApplyMapping: mapping {mapping!r} is not (source, source_type, target, "
                                 "target_type)")
            source, _, target, target_type = mapping
            if _field(self._df.schema, source) is None:
                continue  # Glue skips a source field the records lack
            targets.append((target, _convert(_column(self._df, source), target_type)))
        return self._new(self._df.select(*_nest(self._df, targets)))

    def resolveChoice(self, specs: list[tuple[str, str]] | None = None, choice: str = "",
                      database: str | None = None, table_name: str | None = None, transformation_ctx: str = "",
                      **_: Any) -> DynamicFrame:
        if specs and choice:
            raise ValueError("resolveChoice: give specs or choice, not both")
        if choice == "match_catalog":
            if not (database and table_name):
                raise ValueError("resolveChoice: choice='match_catalog' needs database and table_name")
            table = self.glue_ctx._catalog().get_table(database, table_name)
            declared = table["StorageDescriptor"].get("Columns", []) + table.get("PartitionKeys", [])
            specs = [(c["Name"], f"cast:{c['Type']}") for c in declared if _field(self._df.schema, c["Name"])]
        elif choice:
            specs = [(f.name, choice) for f in self._df.schema.fields]
        df = self._df
        actions = [(path, action) for path, action in specs or [] if _field(df.schema, path) is not None]
        needs_kinds = [p for p, a in actions if a in ("make_cols", "make_struct")]
        kinds = _choice_kinds(df, needs_kinds) if needs_kinds else {}
        for path, action in actions:
            verb, _, type_name = action.partition(":")
            if verb in ("cast", "project"):
                value = _convert(_column(df, path), type_name)
            elif verb in ("make_cols", "make_struct"):
                present = kinds.get(path, [])
                if len(present) < 2:
                    continue  # not a choice: Glue leaves the field as it is
                members = [F.when(_kind(_column(df, path)) == k, _convert(_column(df, path), k)).alias(k)
                           for k in present]
                if verb == "make_struct":
                    value = F.struct(*members)
                else:
                    position = df.columns.index(path) if path in df.columns else len(df.columns)
                    split = [m.alias(f"{path.replace('.', '_')}_{k}") for m, k in zip(members, present, strict=True)]
                    rest = [F.col(quote(c)) for c in df.columns if c != path]
                    df = df.select(*rest[:position], *split, *rest[position:])
                    continue
            else:
                raise ValueError(f"resolveChoice: unknown action {action!r} for {path!r} "
                                 "(cast:TYPE, project:TYPE, make_cols, make_struct, match_catalog)")
            df = self._set(df, path, value)
        return self._new(df)

    @staticmethod
    def _set(df: DataFrame, path: str, value: Column) -> DataFrame:
        if path in df.columns or "." not in path:
            return df.withColumn(path, value)
        head, _, rest = path.partition(".")
        return df.withColumn(head, F.col(quote(head)).withField(rest, value))

    def drop_null_fields(self, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        """Drop the fields that are null in every record (one Spark job)."""
        if not self._df.columns:
            return self
        counts = self._df.agg(*[F.count(F.col(quote(c))).alias(str(i)) for i, c in enumerate(self._df.columns)]).first()
        empty = [c for i, c in enumerate(self._df.columns) if counts[str(i)] == 0]
        return self._new(self._df.drop(*empty))

    def unnest(self, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return self._new(_flatten_structs(self._df))

    def unbox(self, path: str, format: str, transformation_ctx: str = "", **options: Any) -> DynamicFrame:
        """Parse a string field holding JSON into a struct (its schema inferred from the values)."""
        if format != "json":
            raise ValueError(f"unbox: format {format!r} is not supported locally (json is)")
        column = _column(self._df, path)
        texts = _rdd(self._df.select(column.alias("v")).where(F.col("v").isNotNull()), "unbox").map(lambda row: row[0])
        schema = self._df.sparkSession.read.json(texts).schema
        return self._new(self._set(self._df, path, F.from_json(column, schema)))

    # -- records ------------------------------------------------------------------------------
    def filter(self, f: Callable[[dict[str, Any]], bool], transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        kept = _records(self._df, "filter").filter(lambda record: bool(f(record)))
        return self._new(self._df.sparkSession.createDataFrame(kept, self._df.schema))

    def map(self, f: Callable[[dict[str, Any]], dict[str, Any]], transformation_ctx: str = "",
            **_: Any) -> DynamicFrame:
        """Apply `f` to every record; the result's schema is inferred from what `f` returns."""
        texts = _records(self._df, "map").map(lambda record: json.dumps(f(record), default=str))
        return self._new(self._df.sparkSession.read.json(texts))

    def join(self, paths1: list[str], paths2: list[str], frame2: DynamicFrame, transformation_ctx: str = "",
             **_: Any) -> DynamicFrame:
        if len(paths1) != len(paths2) or not paths1:
            raise ValueError("join: paths1 and paths2 must name the same number (at least one) of key fields")
        left, right = self._df.alias("l"), frame2.toDF().alias("r")
        condition = reduce(lambda a, b: a & b, [_column(left, a, "l") == _column(right, b, "r")
                                                for a, b in zip(paths1, paths2, strict=True)])
        mine = {c.lower() for c in left.columns}
        theirs = [F.col(f"r.{quote(c)}") for c in right.columns if c.lower() not in mine]
        return self._new(left.join(right, condition, "inner").select(F.col("l.*"), *theirs))

    def relationalize(self, root_table_name: str, staging_path: str = "", options: dict[str, Any] | None = None,
                      transformation_ctx: str = "", **_: Any) -> DynamicFrameCollection:
        frames: dict[str, DataFrame] = {}
        _relationalize(self._df, root_table_name, frames)
        return DynamicFrameCollection({k: self._new(v, k) for k, v in frames.items()}, self.glue_ctx)

    def split_fields(self, paths: list[str], name1: str, name2: str, transformation_ctx: str = "",
                     **_: Any) -> DynamicFrameCollection:
        rest = [c for c in self._df.columns if c not in paths]
        first = self.select_fields(paths)
        return DynamicFrameCollection({name1: first._new(first._df, name1),
                                       name2: self._new(self._df.select(*[quote(c) for c in rest]), name2)},
                                      self.glue_ctx)

    def split_rows(self, comparison_dict: dict[str, dict[str, Any]], name1: str, name2: str,
                   transformation_ctx: str = "", **_: Any) -> DynamicFrameCollection:
        ops = {"<": Column.__lt__, ">": Column.__gt__, "<=": Column.__le__, ">=": Column.__ge__,
               "=": Column.__eq__, "==": Column.__eq__, "!=": Column.__ne__}
        tests = [ops[op](_column(self._df, path), F.lit(value))
                 for path, comparisons in comparison_dict.items() for op, value in comparisons.items()]
        matched = F.coalesce(reduce(lambda a, b: a & b, tests), F.lit(False)) if tests else F.lit(True)
        return DynamicFrameCollection({name1: self._new(self._df.where(matched), name1),
                                       name2: self._new(self._df.where(~matched), name2)}, self.glue_ctx)

    def mergeDynamicFrame(self, stage_dynamic_frame: DynamicFrame, primary_keys: list[str],
                          transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        """Records of the stage frame replace this frame's records with the same primary keys."""
        stage = stage_dynamic_frame.toDF()
        kept = self._df.join(stage.select(*primary_keys), primary_keys, "left_anti")
        return self._new(kept.unionByName(stage, allowMissingColumns=True))

    # -- partitions and sampling --------------------------------------------------------------
    def repartition(self, num_partitions: int, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return self._new(self._df.repartition(num_partitions))

    def coalesce(self, num_partitions: int, shuffle: bool = False, transformation_ctx: str = "",
                 **_: Any) -> DynamicFrame:
        df = self._df.repartition(num_partitions) if shuffle else self._df.coalesce(num_partitions)
        return self._new(df)

    def spigot(self, path: str, options: dict[str, Any] | None = None, transformation_ctx: str = "",
               **_: Any) -> DynamicFrame:
        """Write a sample (the first `topk` records, default 100, or a `prob` fraction) as JSON to `path`."""
        options = options or {}
        sample = self._df.sample(fraction=float(options["prob"]), seed=0) if "prob" in options else self._df
        self.glue_ctx._mount(path)
        sample.limit(int(options.get("topk", 100))).write.mode("overwrite").json(path)
        return self


class DynamicFrameCollection:
    """Named DynamicFrames, as transforms such as Relationalize and SplitFields return them."""

    def __init__(self, dynamic_frames: dict[str, DynamicFrame], glue_ctx: Any) -> None:
        self._frames = dict(dynamic_frames)
        self.glue_ctx = glue_ctx

    def keys(self) -> list[str]:
        return list(self._frames)

    def values(self) -> list[DynamicFrame]:
        return list(self._frames.values())

    def select(self, key: str, transformation_ctx: str = "") -> DynamicFrame:
        if key not in self._frames:
            raise KeyError(f"DynamicFrameCollection has no frame {key!r} (it has {', '.join(self._frames)})")
        return self._frames[key]

    def __getitem__(self, key: str) -> DynamicFrame:
        return self.select(key)

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def __contains__(self, key: object) -> bool:
        return key in self._frames

    def map(self, callable: Callable[[DynamicFrame, str], DynamicFrame],
            transformation_ctx: str = "") -> DynamicFrameCollection:
        return DynamicFrameCollection({k: callable(v, f"{transformation_ctx}:{k}") for k, v in self._frames.items()},
                                      self.glue_ctx)

    def flatMap(self, f: Callable[[DynamicFrame, str], Any], transformation_ctx: str = "") -> DynamicFrameCollection:
        frames: dict[str, DynamicFrame] = {}
        for key, frame in self._frames.items():
            result = f(frame, f"{transformation_ctx}:{key}")
            if isinstance(result, DynamicFrameCollection):
                frames.update({f"{key}_{k}": v for k, v in result._frames.items()})
            else:
                frames[key] = result
        return DynamicFrameCollection(frames, self.glue_ctx)
