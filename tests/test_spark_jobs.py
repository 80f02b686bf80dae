"""The car-rental PySpark jobs on the committed sample data, checked against plain-Python answers."""

from __future__ import annotations

import csv
import runpy
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "sample_data" / "car_rental"
JOBS = ROOT / "spark_jobs"


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = SparkSession.builder.master("local[2]").appName("sfn-local-tests") \
        .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate()
    yield session
    session.stop()


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name / f"{name}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _run(script: str, *args: str) -> None:
    saved = sys.argv
    sys.argv = [str(JOBS / script), *args]
    try:
        runpy.run_path(str(JOBS / script), run_name="__main__")
    finally:
        sys.argv = saved


def test_generator_is_deterministic(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "sample_data"))
    try:
        from generate import generate
    finally:
        sys.path.pop(0)
    generate(tmp_path / "a", 400)
    for part in ("rental_transactions", "users", "vehicles", "locations"):
        assert (tmp_path / "a" / part / f"{part}.csv").read_text() == (DATA / part / f"{part}.csv").read_text()


def test_vehicle_location_metrics(spark, tmp_path: Path) -> None:
    out = tmp_path / "location_metrics"
    _run("vehicle_location_metrics.py", "--rentals", str(DATA / "rental_transactions"), "--vehicles",
         str(DATA / "vehicles"), "--locations", str(DATA / "locations"), "--output", str(out))
    table = pq.read_table(out).to_pylist()
    expected: dict[int, dict] = defaultdict(lambda: {"n": 0, "revenue": 0.0, "vehicles": set()})
    for r in _rows("rental_transactions"):
        e = expected[int(r["pickup_location_id"])]
        e["n"] += 1
        e["revenue"] += float(r["total_amount"])
        e["vehicles"].add(r["vehicle_id"])
    assert {row["location_id"] for row in table} == set(expected)
    for row in table:
        e = expected[row["location_id"]]
        assert row["total_rentals"] == e["n"]
        assert row["total_revenue"] == pytest.approx(round(e["revenue"], 2))
        assert row["unique_vehicles"] == len(e["vehicles"])
    assert all(p.name.startswith("state=") for p in out.iterdir() if p.is_dir())


def test_user_transaction_analysis(spark, tmp_path: Path) -> None:
    _run("user_transaction_analysis.py", "--rentals", str(DATA / "rental_transactions"), "--users",
         str(DATA / "users"), "--output", str(tmp_path))
    users = {row["user_id"]: row for row in pq.read_table(tmp_path / "user_metrics").to_pylist()}
    spent: dict[str, float] = defaultdict(float)
    days: dict[str, float] = defaultdict(float)
    for r in _rows("rental_transactions"):
        spent[r["user_id"]] += float(r["total_amount"])
        days[datetime.fromisoformat(r["start_time"]).date().isoformat()] += float(r["total_amount"])
    assert set(users) == set(spent)
    for user, total in spent.items():
        assert users[user]["total_spent"] == pytest.approx(round(total, 2))
    daily = {row["day"]: row["revenue"] for row in pq.read_table(tmp_path / "daily_revenue").to_pylist()}
    assert daily == pytest.approx({d: round(v, 2) for d, v in days.items()})


def test_csv_to_parquet(spark, tmp_path: Path) -> None:
    out = tmp_path / "curated"
    _run("csv_to_parquet.py", "--JOB_NAME", "csv-to-parquet", "--source", str(DATA / "vehicles"), "--target", str(out),
         "--partition_column", "make")
    table = pq.read_table(out).to_pylist()
    assert sorted(r["vehicle_id"] for r in table) == sorted(r["vehicle_id"] for r in _rows("vehicles"))
    assert {p.name for p in out.iterdir() if p.is_dir()} == {f"make={r['make']}" for r in _rows("vehicles")}


def _dedup_expected(rows: list[dict[str, str]]) -> set[str]:
    """The job's rule, in plain Python: earliest per e-mail key, then earliest per (name, phone) key."""
    import re

    def email_key(email: str) -> str:
        email = email.strip().lower()
        local, _, domain = email.partition("@")
        if domain == "gmail.com":
            local = re.sub(r"\+.*$", "", local).replace(".", "")
        return f"{local}@{domain}"

    def earliest(group: list[dict[str, str]]) -> dict[str, str]:
        return min(group, key=lambda r: (r["created_at"], r["customer_id"]))

    def keep(items: list[dict[str, str]], key) -> list[dict[str, str]]:
        groups: dict = defaultdict(list)
        for r in items:
            groups[key(r)].append(r)
        return [earliest(g) for g in groups.values()]

    first = keep(rows, lambda r: email_key(r["email"]))
    second = keep(first, lambda r: (re.sub("[^a-z]", "", r["name"].lower()), re.sub("[^0-9]", "", r["phone"])[-7:]))
    return {r["customer_id"] for r in second}


def test_customer_dedup(spark, tmp_path: Path) -> None:
    source = ROOT / "sample_data" / "customers"
    with (source / "customers.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    _run("customer_dedup.py", "--source", str(source), "--target", str(tmp_path / "dedup"))
    kept = {r["customer_id"] for r in pq.read_table(tmp_path / "dedup").to_pylist()}
    assert kept == _dedup_expected(rows)
    assert len(kept) < len(rows)  # the sample data does hold duplicates
