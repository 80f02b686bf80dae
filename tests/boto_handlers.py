"""A Lambda handler written for AWS, unchanged: plain `boto3.client(...)`, no endpoint or credentials.

Run by sfn-local, its calls must reach the local S3 and Glue of the execution's workspace
(tests/test_handler_boto3.py).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import boto3


def land_and_crawl(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Write a CSV to S3, crawl its folder with a Glue crawler, and report what the crawl found."""
    s3 = boto3.client("s3")
    glue = boto3.client("glue")
    bucket, prefix = event["bucket"], event["prefix"]
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"{prefix}part-0.csv", Body=b"id,city\n1,Oslo\n2,Lima\n")
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):
        glue.create_crawler(Name=event["crawler"], Role="arn:aws:iam::123456789012:role/crawler",
                            DatabaseName=event["database"], Targets={"S3Targets": [{"Path": f"s3://{bucket}/{prefix}"}]})
    glue.start_crawler(Name=event["crawler"])
    deadline = time.monotonic() + 60
    while (crawler := glue.get_crawler(Name=event["crawler"])["Crawler"])["State"] != "READY" \
            or "LastCrawl" not in crawler:
        if time.monotonic() > deadline:
            raise TimeoutError(f"crawler {event['crawler']} still {crawler['State']}")
        time.sleep(0.05)
    return {"key": f"{prefix}part-0.csv", "crawl": crawler["LastCrawl"]["Status"],
            "region": boto3.client("sts").meta.region_name, "endpoint": s3.meta.endpoint_url}
