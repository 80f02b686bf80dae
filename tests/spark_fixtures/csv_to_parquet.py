"""Read a CSV from s3://, aggregate, write Parquet to s3a:// (paths from argv, as spark-submit passes them)."""

import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

source, target = sys.argv[1], sys.argv[2]
spark = SparkSession.builder.appName("csv_to_parquet").getOrCreate()
orders = spark.read.option("header", True).option("inferSchema", True).csv(source)
totals = orders.groupBy("region").agg(F.count("*").alias("n"), F.sum("amount").alias("total"))
totals.write.mode("overwrite").parquet(target)
print(f"wrote {totals.count()} regions to {target}")
spark.stop()  # must leave the emulator's warm session running
