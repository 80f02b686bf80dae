"""Glue job: remove near-duplicate customers.

Matching rule (deterministic): two records are the same customer when their normalised e-mail
addresses are equal (lower-cased, trimmed, and for gmail.com without dots and +tags in the local
part), or when their normalised names (lower-cased, letters only) and the last 7 digits of their
phone numbers are equal. Of each group the earliest `created_at` (then the lowest id) is kept.

Arguments: --source s3://raw/customers/ --target s3://curated/customers/
"""

from __future__ import annotations

import argparse

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F


def _email_key(column: str) -> F.Column:
    email = F.lower(F.trim(F.col(column)))
    local, domain = F.split(email, "@").getItem(0), F.split(email, "@").getItem(1)
    gmail_local = F.regexp_replace(F.regexp_replace(local, r"\+.*$", ""), r"\.", "")
    return F.when(domain == "gmail.com", F.concat(gmail_local, F.lit("@"), domain)).otherwise(email)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    args, _ = parser.parse_known_args(argv)
    spark = SparkSession.builder.appName("customer-dedup").getOrCreate()
    customers = (
        spark.read.csv(args.source, header=True, inferSchema=False)
        .withColumn("email_key", _email_key("email"))
        .withColumn("name_key", F.regexp_replace(F.lower(F.col("name")), "[^a-z]", ""))
        .withColumn("phone_key", F.substring(F.regexp_replace(F.col("phone"), "[^0-9]", ""), -7, 7))
    )
    order = [F.col("created_at").asc(), F.col("customer_id").asc()]
    by_email = Window.partitionBy("email_key").orderBy(*order)
    by_name_phone = Window.partitionBy("name_key", "phone_key").orderBy(*order)
    kept = (
        customers.withColumn("rank", F.row_number().over(by_email)).filter("rank = 1").drop("rank")
        .withColumn("rank", F.row_number().over(by_name_phone)).filter("rank = 1")
        .drop("rank", "email_key", "name_key", "phone_key")
    )
    kept.write.mode("overwrite").parquet(args.target)


if __name__ == "__main__":
    main()
