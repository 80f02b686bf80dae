"""Leaves Spark state behind on purpose: the warm pool must clear all of it before the next cluster."""

from pyspark.sql import SparkSession

try:
    import pool_helper  # on sys.path through --py-files (EMR steps)
except ImportError:
    pool_helper = None

spark = SparkSession.builder.getOrCreate()
spark.range(5).createOrReplaceTempView("left_view")
spark.range(3).createOrReplaceGlobalTempView("left_global")
spark.sql("CACHE TABLE left_view")
spark.sparkContext.parallelize([1, 2, 3]).cache().count()
spark.conf.set("spark.sql.shuffle.partitions", "7")
spark.udf.register("left_udf", lambda x: x)
spark.sparkContext._jsc.hadoopConfiguration().set("sfn.pool.test", "dirty")
assert pool_helper is None or pool_helper.LOADED_BY == "first cluster"
spark.stop()
