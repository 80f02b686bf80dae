"""Glue workflows: triggers chaining crawlers and jobs, run by StartWorkflowRun and polled with GetWorkflowRun,
from state machines and from boto3. Expected tables and rows are computed here from the files written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import emulator
from emulator.backends import Backends
from emulator.backends.workflows import Workflows
from emulator.workspace import Config, Workspace
from tests.conftest import chain
from tests.test_glue_catalog import crawler, write_parquet
from tests.test_server_data import Served, data_app, serving

GLUE = "arn:aws:states:::aws-sdk:glue:"
JOB_SCRIPT = '''
import sys
from awsglue.utils import getResolvedOptions
from pyspark.sql import SparkSession, functions as F

args = getResolvedOptions(sys.argv, ["JOB_NAME", "WORKFLOW_NAME", "WORKFLOW_RUN_ID", "label"])
spark = SparkSession.builder.getOrCreate()
orders = spark.read.parquet("s3://lake/raw/orders/")
totals = orders.groupBy("region").agg(F.sum("amount").alias("total"))
totals = totals.withColumn("workflow", F.lit(args["WORKFLOW_NAME"])).withColumn("run", F.lit(args["WORKFLOW_RUN_ID"]))
totals.withColumn("label", F.lit(args["label"])).write.mode("overwrite").parquet("s3a://lake/curated/totals/")
'''


def poll_definition(name: str, properties: dict[str, str] | None = None) -> dict[str, Any]:
    """StartWorkflowRun, then Wait/GetWorkflowRun/Choice until the run is no longer RUNNING."""
    start: dict[str, Any] = {"Name": name}
    if properties:
        start["RunProperties"] = properties
    return {"StartAt": "Start", "States": {
        "Start": {"Type": "Task", "Resource": GLUE + "startWorkflowRun", "Parameters": start,
                  "ResultPath": "$.started", "Next": "Poll"},
        "Poll": {"Type": "Task", "Resource": GLUE + "getWorkflowRun",
                 "Parameters": {"Name": name, "RunId.$": "$.started.RunId"}, "ResultPath": "$.poll", "Next": "Done?"},
        "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.poll.Run.Status", "StringEquals": "RUNNING",
                                                 "Next": "Wait"}], "Default": "End"},
        "Wait": {"Type": "Wait", "Seconds": 30, "Next": "Poll"},
        "End": {"Type": "Succeed"}}}


def run_workflow(ws: Workspace, name: str, properties: dict[str, str] | None = None) -> dict[str, Any]:
    ex = emulator.run(poll_definition(name, properties), {}, workspace=ws, max_events=None)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    return ex.output["poll"]["Run"]


def conditional(name: str, actions: list[dict[str, Any]], *conditions: dict[str, str],
                logical: str = "AND") -> dict[str, Any]:
    return {"Name": name, "Type": "CONDITIONAL", "Actions": actions,
            "Predicate": {"Logical": logical, "Conditions": [{"LogicalOperator": "EQUALS", **c} for c in conditions]}}


def nodes(run: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {n["Name"]: n for n in run["Graph"]["Nodes"] if n["Type"] == kind}


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    folder = tmp_path / "lake"
    write_parquet(folder / "raw" / "orders" / "part-0.parquet",
                  {"id": [1, 2, 3, 4], "region": ["eu", "us", "eu", "us"], "amount": [10.0, 5.5, 2.5, 4.0]})
    write_parquet(folder / "raw" / "customers" / "part-0.parquet", {"id": [1, 2], "name": ["a", "b"]})
    return folder


def test_crawler_job_crawler_chain(tmp_path: Path, lake: Path) -> None:
    pytest.importorskip("pyspark")
    (tmp_path / "totals_job.py").write_text(JOB_SCRIPT)
    config = Config(
        buckets={"lake": lake},
        crawlers={"raw": crawler("s3://lake/raw/orders/", "raw"), "curated": crawler("s3://lake/curated/", "curated")},
        glue_jobs={"totals": {"ScriptLocation": "totals_job.py", "DefaultArguments": {"--label": "default"}}},
        glue_workflows={"nightly": {"DefaultRunProperties": {"stage": "prod"}, "Triggers": [
            {"Name": "kickoff", "Type": "ON_DEMAND", "Actions": [{"CrawlerName": "raw"}]},
            conditional("after-raw", [{"JobName": "totals", "Arguments": {"--label": "nightly"}}],
                        {"CrawlerName": "raw", "CrawlState": "SUCCEEDED"}),
            conditional("after-totals", [{"CrawlerName": "curated"}], {"JobName": "totals", "State": "SUCCEEDED"}),
            conditional("on-failure", [{"CrawlerName": "raw"}], {"JobName": "totals", "State": "FAILED"}),
        ]}})
    ws = Workspace(root=tmp_path / "ws", project=tmp_path, config=config)
    backends = Backends(ws)
    try:
        run = run_workflow(ws, "nightly", {"day": "2024-05-01"})
    finally:
        backends.spark.stop()
    assert run["Status"] == "COMPLETED", run
    assert run["WorkflowRunProperties"] == {"stage": "prod", "day": "2024-05-01"}
    stats = run["Statistics"]
    assert (stats["TotalActions"], stats["SucceededActions"], stats["FailedActions"], stats["RunningActions"]) == (
        3, 3, 0, 0)
    jobs, crawls, triggers = nodes(run, "JOB"), nodes(run, "CRAWLER"), nodes(run, "TRIGGER")
    assert set(triggers) == {"kickoff", "after-raw", "after-totals", "on-failure"}
    job_run = jobs["totals"]["JobDetails"]["JobRuns"][0]
    assert job_run["JobRunState"] == "SUCCEEDED" and job_run["TriggerName"] == "after-raw"
    assert [c["State"] for c in crawls["raw"]["CrawlerDetails"]["Crawls"]] == ["SUCCEEDED"]  # on-failure never fired
    assert [c["State"] for c in crawls["curated"]["CrawlerDetails"]["Crawls"]] == ["SUCCEEDED"]
    edges = {(e["SourceId"], e["DestinationId"]) for e in run["Graph"]["Edges"]}
    assert (triggers["after-raw"]["UniqueId"], jobs["totals"]["UniqueId"]) in edges
    assert (jobs["totals"]["UniqueId"], triggers["after-totals"]["UniqueId"]) in edges
    # The job saw the workflow's arguments; the last crawler catalogued what the job wrote.
    written = pq.read_table(lake / "curated" / "totals").to_pylist()
    expected: dict[str, float] = {}
    source = pq.read_table(lake / "raw" / "orders").to_pylist()
    for row in source:
        expected[row["region"]] = expected.get(row["region"], 0.0) + row["amount"]
    assert {r["region"]: r["total"] for r in written} == expected
    assert {(r["workflow"], r["run"], r["label"]) for r in written} == {("nightly", run["WorkflowRunId"], "nightly")}
    assert [t["Name"] for t in backends.catalog.get_tables("curated")] == ["totals"]
    assert [t["Name"] for t in backends.catalog.get_tables("raw")] == ["orders"]


@pytest.fixture
def crawler_ws(tmp_path: Path, lake: Path) -> Workspace:
    config = Config(buckets={"lake": lake}, crawlers={
        "orders": crawler("s3://lake/raw/orders/", "raw"), "customers": crawler("s3://lake/raw/customers/", "raw"),
        "broken": crawler("s3://lake/raw/orders/", ""), "summary": crawler("s3://lake/raw/", "all")})
    return Workspace(root=tmp_path / "ws", project=tmp_path, config=config)


def test_and_waits_for_every_condition_any_for_one(crawler_ws: Workspace) -> None:
    crawler_ws.config.glue_workflows.update({
        "fan": {"Triggers": [
            {"Name": "go", "Type": "ON_DEMAND", "Actions": [{"CrawlerName": "orders"}, {"CrawlerName": "customers"}]},
            conditional("both", [{"CrawlerName": "summary"}], {"CrawlerName": "orders", "CrawlState": "SUCCEEDED"},
                        {"CrawlerName": "customers", "CrawlState": "SUCCEEDED"}),
        ]},
        "either": {"Triggers": [
            {"Name": "go2", "Type": "ON_DEMAND", "Actions": [{"CrawlerName": "orders"}, {"CrawlerName": "broken"}]},
            conditional("any", [{"CrawlerName": "summary"}], {"CrawlerName": "orders", "CrawlState": "FAILED"},
                        {"CrawlerName": "broken", "CrawlState": "SUCCEEDED"}, logical="ANY"),
            conditional("all-of-them", [{"CrawlerName": "customers"}],
                        {"CrawlerName": "orders", "CrawlState": "SUCCEEDED"},
                        {"CrawlerName": "broken", "CrawlState": "SUCCEEDED"}),
        ]}})
    fan = run_workflow(crawler_ws, "fan")
    assert fan["Status"] == "COMPLETED"
    assert (fan["Statistics"]["TotalActions"], fan["Statistics"]["SucceededActions"]) == (3, 3)
    catalog = Backends(crawler_ws).catalog
    assert sorted(t["Name"] for t in catalog.get_tables("all")) == ["customers", "orders"]
    either = run_workflow(crawler_ws, "either")
    # "broken" has no database: StartCrawler refuses it, an ERRORED action; neither trigger's predicate holds.
    assert either["Status"] == "COMPLETED"
    stats = either["Statistics"]
    assert (stats["TotalActions"], stats["SucceededActions"], stats["ErroredActions"]) == (2, 1, 1)
    assert nodes(either, "CRAWLER")["broken"]["CrawlerDetails"]["Crawls"][0]["State"] == "ERROR"


def test_created_workflow_over_boto3_with_trigger_activation(crawler_ws: Workspace) -> None:
    backends = Backends(crawler_ws)
    with serving(data_app(backends)) as port:
        glue = Served(f"http://127.0.0.1:{port}", backends).client("glue")
        glue.create_workflow(Name="made", DefaultRunProperties={"a": "1"})
        glue.create_trigger(Name="start", WorkflowName="made", Type="ON_DEMAND",
                            Actions=[{"CrawlerName": "orders"}])
        glue.create_trigger(Name="next", WorkflowName="made", Type="CONDITIONAL", StartOnCreation=False,
                            Predicate={"Conditions": [{"LogicalOperator": "EQUALS", "CrawlerName": "orders",
                                                       "CrawlState": "SUCCEEDED"}]},
                            Actions=[{"CrawlerName": "customers"}])
        assert glue.get_trigger(Name="next")["Trigger"]["State"] == "CREATED"
        assert "made" in glue.list_workflows()["Workflows"]
        first = glue.start_workflow_run(Name="made")["RunId"]
        run = Workflows(backends).wait_run("made", first, 30)
        assert (run["Status"], run["Statistics"]["TotalActions"]) == ("COMPLETED", 1)  # "next" is not activated
        glue.start_trigger(Name="next")
        second = glue.start_workflow_run(Name="made", RunProperties={"b": "2"})["RunId"]
        Workflows(backends).wait_run("made", second, 30)
        got = glue.get_workflow_run(Name="made", RunId=second)["Run"]
        assert got["Status"] == "COMPLETED" and got["Statistics"]["SucceededActions"] == 2
        assert got["PreviousRunId"] == first
        assert glue.get_workflow_run_properties(Name="made", RunId=second)["RunProperties"] == {"a": "1", "b": "2"}
        with pytest.raises(glue.exceptions.IllegalWorkflowStateException):
            glue.stop_workflow_run(Name="made", RunId=second)
        assert glue.get_workflow(Name="made")["Workflow"]["LastRun"]["WorkflowRunId"] == second
        assert len(glue.get_workflow_runs(Name="made")["Runs"]) == 2
        with pytest.raises(glue.exceptions.EntityNotFoundException):
            glue.start_workflow_run(Name="ghost")


def test_config_errors_name_the_key(crawler_ws: Workspace) -> None:
    crawler_ws.config.glue_workflows["bad"] = {"Triggers": [
        {"Name": "t", "Type": "CONDITIONAL", "Actions": [{"CrawlerName": "orders"}],
         "Predicate": {"Conditions": [{"CrawlerName": "orders", "CrawlState": "DONE"}]}}]}
    ex = emulator.run(chain(("Start", {"Type": "Task", "Resource": GLUE + "startWorkflowRun",
                                       "Parameters": {"Name": "bad"}})), {}, workspace=crawler_ws)
    assert ex.error == "Glue.InvalidInputException"
    assert "[glue_workflows.bad] Triggers[0] Predicate.Conditions[0].CrawlState" in ex.cause


def test_stop_fires_nothing_more(crawler_ws: Workspace, gate: Any) -> None:
    crawler_ws.config.glue_workflows["two"] = {"Triggers": [
        {"Name": "go", "Type": "ON_DEMAND", "Actions": [{"CrawlerName": "orders"}]},
        conditional("then", [{"CrawlerName": "customers"}], {"CrawlerName": "orders", "CrawlState": "SUCCEEDED"})]}
    workflows = Workflows(Backends(crawler_ws))
    run_id = workflows.start_workflow_run({"Name": "two"})["RunId"]
    workflows.stop_workflow_run({"Name": "two", "RunId": run_id})
    assert workflows.get_workflow_run({"Name": "two", "RunId": run_id})["Run"]["Status"] == "STOPPING"
    gate.set()
    run = workflows.wait_run("two", run_id, 30)
    assert run["Status"] == "STOPPED" and run["Statistics"]["TotalActions"] == 1
