"""Glue job: raw CSV → curated Parquet, optionally partitioned.

Arguments the Glue way (`--KEY value`): --source s3://raw/prefix/ --target s3://curated/prefix/
[--partition_column col]. Unknown arguments (--JOB_NAME, ...) are ignored, as getResolvedOptions does.
"""

from __future__ import annotations

import argparse

from pyspark.sql import SparkSession


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--partition_column", default="")
    args, _ = parser.parse_known_args(argv)
    spark = SparkSession.builder.appName("csv-to-parquet").getOrCreate()
    frame = spark.read.csv(args.source, header=True, inferSchema=True)
    if not frame.columns:
        raise ValueError(f"no CSV data under {args.source}")
    writer = frame.write.mode("overwrite")
    if args.partition_column:
        writer = writer.partitionBy(args.partition_column)
    writer.parquet(args.target)


if __name__ == "__main__":
    main()
