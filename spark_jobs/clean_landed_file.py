"""Glue job: clean one landed CSV file into the curated Parquet table, one partition per file.

Arguments the Glue way (`--KEY value`): --source s3://landing/incoming/orders-0412.csv
--target s3://landing-clean/landed/. The file's rows go to `<target>source_file=<file stem>/`,
replacing that partition only, so a file landing again (or a retried run) never duplicates rows.
Cleaning: column names lower-cased with runs of other characters as `_`, text trimmed (empty text
becomes null), rows with no value at all dropped, exact duplicate rows dropped. Unknown arguments
(--JOB_NAME, ...) are ignored, as getResolvedOptions does.
"""

from __future__ import annotations

import argparse
import re

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def column_name(raw: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", raw.strip().lower()).strip("_") or "column"


def partition_value(source: str) -> str:
    stem = source.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem) or "file"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    args, _ = parser.parse_known_args(argv)
    spark = SparkSession.builder.appName("clean-landed-file").getOrCreate()
    frame = spark.read.csv(args.source, header=True, inferSchema=False)
    if not frame.columns:
        raise ValueError(f"no CSV data in {args.source}")
    frame = frame.toDF(*[column_name(c) for c in frame.columns])
    trimmed = [F.when(F.trim(F.col(c)) == "", None).otherwise(F.trim(F.col(c))).alias(c) for c in frame.columns]
    cleaned = frame.select(*trimmed).dropna(how="all").dropDuplicates()
    target = args.target.rstrip("/") + f"/source_file={partition_value(args.source)}/"
    cleaned.write.mode("overwrite").parquet(target)


if __name__ == "__main__":
    main()
