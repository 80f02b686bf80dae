"""Catalog table → ApplyMapping → ResolveChoice → DropNullFields → partitioned Parquet, catalog updated by the sink."""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import ApplyMapping, DropNullFields, ResolveChoice
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "source_database", "source_table", "target_path",
                                     "target_database", "target_table"])
sc = SparkContext.getOrCreate()
glueContext = GlueContext(sc)
spark = glueContext.spark_session
job = Job(glueContext)
job.init(args["JOB_NAME"], args)
logger = glueContext.get_logger()

orders = glueContext.create_dynamic_frame.from_catalog(
    database=args["source_database"], table_name=args["source_table"],
    push_down_predicate="region != 'ap'", transformation_ctx="orders")
logger.info(f"read {orders.count()} orders")

mapped = ApplyMapping.apply(frame=orders, mappings=[
    ("order_id", "long", "order_id", "long"),
    ("customer", "string", "customer", "string"),
    ("amount", "string", "amount", "string"),
    ("note", "string", "note", "string"),
    ("order_date", "string", "order_date", "date"),
    ("region", "string", "region", "string"),
], transformation_ctx="mapped")
resolved = ResolveChoice.apply(frame=mapped, specs=[("amount", "project:double")], transformation_ctx="resolved")
cleaned = DropNullFields.apply(frame=resolved, transformation_ctx="cleaned")

sink = glueContext.getSink(path=args["target_path"], connection_type="s3", updateBehavior="UPDATE_IN_DATABASE",
                           partitionKeys=["region"], enableUpdateCatalog=True, transformation_ctx="sink")
sink.setCatalogInfo(catalogDatabase=args["target_database"], catalogTableName=args["target_table"])
sink.setFormat("glueparquet")
sink.writeFrame(cleaned)
job.commit()
