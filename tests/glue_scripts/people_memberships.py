"""Nested JSON people with an array of memberships: relationalize, then join the memberships to organizations."""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.transforms import DropFields, Join, RenameField, SelectFields
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "people", "orgs", "target", "staging"])
glueContext = GlueContext(SparkContext.getOrCreate())
job = Job(glueContext)
job.init(args["JOB_NAME"], args)

people = glueContext.create_dynamic_frame.from_options(
    "s3", {"paths": [args["people"]]}, format="json", transformation_ctx="people")
orgs = glueContext.create_dynamic_frame.from_options(
    "s3", {"paths": [args["orgs"]]}, format="json", transformation_ctx="orgs")

tables = people.relationalize("people", args["staging"])
root = tables.select("people")
memberships = tables.select("people_memberships")
memberships = RenameField.apply(frame=memberships, old_name="memberships.val.org_id", new_name="org_id")
memberships = RenameField.apply(frame=memberships, old_name="memberships.val.role", new_name="role")

with_orgs = Join.apply(frame1=memberships, frame2=orgs, keys1=["org_id"], keys2=["org_id"])
joined = root.join(["memberships"], ["id"], with_orgs)
result = SelectFields.apply(frame=joined, paths=["name", "contact.email", "org_name", "role", "index"])
result = RenameField.apply(frame=result, old_name="contact.email", new_name="email")
result = DropFields.apply(frame=result, paths=["index"])
glueContext.write_dynamic_frame.from_options(
    frame=result.coalesce(1), connection_type="s3", connection_options={"path": args["target"]}, format="json")
job.commit()
