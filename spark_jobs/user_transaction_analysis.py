"""User-transaction analysis: per-user spend and activity, and revenue per day.

    spark-submit user_transaction_analysis.py --rentals s3://raw/rental_transactions/ \
        --users s3://raw/users/ --output s3://curated/

Writes Parquet to <output>/user_metrics/ and <output>/daily_revenue/ (partitioned by month).
"""

from __future__ import annotations

import argparse

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    for name in ("--rentals", "--users", "--output"):
        parser.add_argument(name, required=True)
    args = parser.parse_args(argv)
    spark = SparkSession.builder.appName("user-transaction-analysis").getOrCreate()
    output = args.output.rstrip("/")

    rentals = spark.read.csv(args.rentals, header=True, inferSchema=True) \
        .withColumn("start_ts", F.to_timestamp("start_time"))
    users = spark.read.csv(args.users, header=True, inferSchema=True)

    per_user = (
        rentals.groupBy("user_id")
        .agg(
            F.count("*").alias("total_rentals"),
            F.round(F.sum("total_amount"), 2).alias("total_spent"),
            F.round(F.avg("total_amount"), 2).alias("avg_spent"),
            F.date_format(F.min("start_ts"), "yyyy-MM-dd").alias("first_rental"),
            F.date_format(F.max("start_ts"), "yyyy-MM-dd").alias("last_rental"),
        )
        .join(users.select("user_id", "name", "state"), "user_id")
    )
    per_user.write.mode("overwrite").parquet(f"{output}/user_metrics")

    daily = (
        rentals.withColumn("day", F.date_format("start_ts", "yyyy-MM-dd"))
        .withColumn("month", F.date_format("start_ts", "yyyy-MM"))
        .groupBy("month", "day")
        .agg(F.count("*").alias("rentals"), F.round(F.sum("total_amount"), 2).alias("revenue"))
    )
    daily.write.mode("overwrite").partitionBy("month").parquet(f"{output}/daily_revenue")


if __name__ == "__main__":
    main()
