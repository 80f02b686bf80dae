"""A bookmarked incremental job: JSON events landed on S3 → Parquet; with job-bookmark-enable a run reads new files only."""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "source", "target"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

events = glueContext.create_dynamic_frame.from_options(
    connection_type="s3", connection_options={"paths": [args["source"]], "recurse": True},
    format="json", transformation_ctx="events_source")
glueContext.write_dynamic_frame.from_options(
    frame=events, connection_type="s3", connection_options={"path": args["target"]}, format="parquet",
    transformation_ctx="events_sink")
job.commit()
