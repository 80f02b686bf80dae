"""Writes what Spark state it finds to a local JSON file (`--out PATH`) — a clean session finds none."""

import json
import sys

from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
sc = spark.sparkContext
try:
    spark.sql("SELECT left_udf(1)").collect()
    udf = True
except Exception:
    udf = False
state = {
    "temp_views": sorted(t.name for t in spark.catalog.listTables() if t.isTemporary),
    "global_views": sorted(t.name for t in spark.catalog.listTables("global_temp") if t.namespace == ["global_temp"]),
    "cache_empty": spark._jsparkSession.sharedState().cacheManager().isEmpty(),
    "persistent_rdds": len(sc._jsc.getPersistentRDDs()),
    "shuffle_partitions": spark.conf.get("spark.sql.shuffle.partitions"),
    "udf": udf,
    "hadoop_key": sc._jsc.hadoopConfiguration().get("sfn.pool.test"),
    "helper_imported": "pool_helper" in sys.modules,
    "application_id": sc.applicationId,
}
with open(sys.argv[sys.argv.index("--out") + 1], "w") as out:
    json.dump(state, out)
