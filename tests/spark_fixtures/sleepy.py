"""A job that takes a while (polling tests see it RUNNING): seconds from argv."""

import sys
import time

from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
time.sleep(float(sys.argv[1]))
assert spark.range(10).count() == 10
