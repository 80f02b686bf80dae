"""Glue job: raw CSV → curated Parquet, optionally partitioned — the GlueContext version of csv_to_parquet.py.

Arguments as Glue passes them: --JOB_NAME, --source s3://raw/prefix/, --target s3://curated/prefix/ and
--partition_column (a column name, or "" for none). The target is emptied first, as the plain
PySpark job's overwrite does (Glue sinks append).
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "source", "target", "partition_column"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

raw = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["source"]], "recurse": True},
    format="csv", format_options={"withHeader": True, "separator": ","}, transformation_ctx="raw_csv")
if not raw.toDF().columns:
    raise ValueError(f"no CSV data under {args['source']}")

glueContext.purge_s3_path(args["target"], {"retentionPeriod": 0})
partition_keys = [args["partition_column"]] if args["partition_column"] else []
glueContext.write_dynamic_frame.from_options(
    frame=raw, connection_type="s3", connection_options={"path": args["target"], "partitionKeys": partition_keys},
    format="parquet", transformation_ctx="curated_parquet")
job.commit()
