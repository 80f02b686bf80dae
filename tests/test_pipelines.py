"""The pipelines in definitions/, end to end on the sample data with real Spark, DuckDB and pyarrow."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import emulator
from emulator.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
DEFS = ROOT / "definitions"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """The project's own sfn-local.toml, with a throw-away workspace."""
    return Workspace(root=tmp_path / "ws", project=ROOT)


def _revenue_by_location() -> dict[str, float]:
    cities = {r["location_id"]: r["city"] for r in csv.DictReader((ROOT / "sample_data/car_rental/locations/locations.csv").open())}
    revenue: dict[str, float] = defaultdict(float)
    for r in csv.DictReader((ROOT / "sample_data/car_rental/rental_transactions/rental_transactions.csv").open()):
        revenue[cities[r["pickup_location_id"]]] += float(r["total_amount"])
    return revenue


@pytest.mark.parametrize("definition", ["car_rental_pipeline.asl.json", "car_rental_pipeline_polling.asl.json"])
def test_car_rental_pipeline(ws: Workspace, definition: str) -> None:
    ex = emulator.run(DEFS / definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    rows = [[d.get("VarCharValue") for d in r["Data"]] for r in ex.output["topLocations"]]
    assert rows[0] == ["city", "state", "total_rentals", "total_revenue"]
    expected = sorted(_revenue_by_location().items(), key=lambda kv: -kv[1])[:5]
    assert [(r[0], float(r[3])) for r in rows[1:]] == [(c, pytest.approx(round(v, 2))) for c, v in expected]
    assert [s["State"] for s in ex.output["steps"]] == ["COMPLETED", "COMPLETED"]
    catalog = emulator.StateMachine(DEFS / definition, workspace=ws).backends.catalog
    assert {t["Name"] for t in catalog.get_tables("car_rental")} >= {"location_metrics", "user_metrics", "daily_revenue"}
    terminated = [e for e in ex.history if e["type"] == "TaskSucceeded"
                  and e["taskSucceededEventDetails"]["resource"].startswith("terminateCluster")]
    assert terminated, "the cluster was terminated"


def test_car_rental_failure_terminates_cluster_and_alerts(ws: Workspace, tmp_path: Path) -> None:
    definition = (DEFS / "car_rental_pipeline.asl.json").read_text().replace(
        "s3://car-rental-raw/users/", "s3://car-rental-raw/no-such-prefix/")
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "FAILED" and ex.error == "CarRentalPipelineFailed"
    types = [e["type"] for e in ex.history]
    entered = [e["stateEnteredEventDetails"]["name"] for e in ex.history if e["type"].endswith("StateEntered")]
    assert "TerminateAfterFailure" in entered and "NotifyFailure" in entered
    assert "TaskFailed" in types
    alerts = emulator.StateMachine(definition, workspace=ws).backends.outbox.messages(topic="car-rental-alerts")
    assert len(alerts) == 1 and alerts[0]["Subject"] == "Car-rental pipeline failed"


def test_csv_to_parquet_pipeline(ws: Workspace) -> None:
    ex = emulator.run(DEFS / "csv_to_parquet.asl.json",
                      {"source": "s3://car-rental-raw/vehicles/", "target": "s3://curated-zone/vehicles/"},
                      workspace=ws)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    backends = emulator.StateMachine(DEFS / "csv_to_parquet.asl.json", workspace=ws).backends
    written = pq.read_table(backends.object_store.local_path("s3://curated-zone/vehicles/")).to_pylist()
    raw = list(csv.DictReader((ROOT / "sample_data/car_rental/vehicles/vehicles.csv").open()))
    assert sorted(r["vehicle_id"] for r in written) == sorted(r["vehicle_id"] for r in raw)
    assert backends.catalog.get_table("curated", "vehicles")["Parameters"]["classification"] == "parquet"
    assert "rental_transactions" in {t["Name"] for t in backends.catalog.get_tables("raw")}


def test_csv_to_parquet_fails_with_the_jobs_error(ws: Workspace) -> None:
    ex = emulator.run(DEFS / "csv_to_parquet.asl.json",
                      {"source": "s3://car-rental-raw/missing/", "target": "s3://curated-zone/missing/"},
                      workspace=ws)
    assert ex.status == "FAILED" and ex.error == "CsvToParquetFailed"
    assert "FAILED" in ex.cause


def test_customer_dedup_pipeline(ws: Workspace) -> None:
    ex = emulator.run(DEFS / "customer_dedup.asl.json", {}, workspace=ws)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    backends = emulator.StateMachine(DEFS / "customer_dedup.asl.json", workspace=ws).backends
    kept = pq.read_table(backends.object_store.local_path("s3://customers-curated/customers/")).num_rows
    raw = list(csv.DictReader((ROOT / "sample_data/customers/customers.csv").open()))
    assert 0 < kept < len(raw)
    assert backends.catalog.get_table("customers", "customers")["StorageDescriptor"]["Location"].startswith(
        "s3://customers-curated/")


def test_a_failed_execution_terminates_the_clusters_it_left_running(ws: Workspace) -> None:
    definition = {"StartAt": "Create", "States": {
        "Create": {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:createCluster.sync",
                   "Parameters": {"Name": "left-behind", "Instances": {"KeepJobFlowAliveWhenNoSteps": True}},
                   "ResultPath": "$.cluster", "Next": "Boom"},
        "Boom": {"Type": "Fail", "Error": "Oops"}}}
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "FAILED"
    cluster_id = json.loads(next(e for e in ex.history if e["type"] == "TaskSucceeded")
                            ["taskSucceededEventDetails"]["output"])["ClusterId"]
    describe = {"StartAt": "D", "States": {"D": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:emr:describeCluster",
                                                  "Parameters": {"ClusterId": cluster_id}, "End": True}}}
    state = emulator.run(describe, {}, workspace=ws).output["Cluster"]["Status"]["State"]
    assert state == "TERMINATED"


def test_demo_orders(ws: Workspace) -> None:
    from definitions import demo_handlers

    demo_handlers._attempts.clear()  # the handlers throttle each order's first call in this process
    orders = json.loads((ROOT / "sample_data" / "demo_orders.json").read_text())
    ex = emulator.run(DEFS / "demo_orders.asl.json", orders, workspace=ws)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    totals = {o["id"]: round(o["quantity"] * o["unit_price"], 2) for o in orders["orders"]}
    assert {r["id"]: r["total"] for r in ex.output["results"]} == totals
    assert ex.output["review"] == [i for i, t in totals.items() if t >= 100]
    retried = [e for e in ex.history if e["type"] == "LambdaFunctionFailed"]
    assert len(retried) == 2  # o-3 and o-6 are throttled once each, then retried
