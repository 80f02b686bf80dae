"""Vehicle-location metrics: per pickup location, rentals, revenue, average hours, distinct vehicles.

    spark-submit vehicle_location_metrics.py --rentals s3://raw/rental_transactions/ \
        --vehicles s3://raw/vehicles/ --locations s3://raw/locations/ --output s3://curated/location_metrics/

Reads the raw CSVs, writes Parquet partitioned by state. Runs unchanged on EMR and locally.
"""

from __future__ import annotations

import argparse

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    for name in ("--rentals", "--vehicles", "--locations", "--output"):
        parser.add_argument(name, required=True)
    args = parser.parse_args(argv)
    spark = SparkSession.builder.appName("vehicle-location-metrics").getOrCreate()

    rentals = spark.read.csv(args.rentals, header=True, inferSchema=True)
    vehicles = spark.read.csv(args.vehicles, header=True, inferSchema=True)
    locations = spark.read.csv(args.locations, header=True, inferSchema=True)

    hours = (F.unix_timestamp(F.to_timestamp("end_time")) - F.unix_timestamp(F.to_timestamp("start_time"))) / 3600
    metrics = (
        rentals.join(vehicles.select("vehicle_id", "make"), "vehicle_id")
        .withColumn("rental_hours", hours)
        .groupBy(F.col("pickup_location_id").alias("location_id"))
        .agg(
            F.count("*").alias("total_rentals"),
            F.round(F.sum("total_amount"), 2).alias("total_revenue"),
            F.round(F.avg("rental_hours"), 2).alias("avg_rental_hours"),
            F.countDistinct("vehicle_id").alias("unique_vehicles"),
            F.countDistinct("make").alias("unique_makes"),
        )
        .join(locations, "location_id")
        .select("location_id", "city", "state", "total_rentals", "total_revenue", "avg_rental_hours",
                "unique_vehicles", "unique_makes")
    )
    metrics.write.mode("overwrite").partitionBy("state").parquet(args.output)


if __name__ == "__main__":
    main()
