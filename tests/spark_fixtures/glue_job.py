"""A Glue-style job: getResolvedOptions for its arguments, s3:// paths hard-coded in the job's own code."""

import sys

from awsglue.utils import getResolvedOptions
from pyspark.sql import SparkSession

args = getResolvedOptions(sys.argv, ["JOB_NAME", "min_amount", "label"])
spark = SparkSession.builder.getOrCreate()
orders = spark.read.option("header", True).option("inferSchema", True).csv("s3://lake/orders.csv")
kept = orders.where(orders.amount >= float(args["min_amount"]))
kept.selectExpr("*", f"'{args['label']}' AS label", f"'{args['JOB_NAME']}' AS job").write.mode(
    "overwrite").parquet("s3a://lake/glue-out/")
