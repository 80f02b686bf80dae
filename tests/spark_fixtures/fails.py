"""A job that fails the way real ones do: a Spark error (missing input), surfaced as a Python exception."""

from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
print("about to read a missing file")
spark.read.parquet("s3://lake/does-not-exist/").count()
