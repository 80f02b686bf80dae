"""The three data services together, as a pipeline uses them: S3 → crawler → Athena, plus the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import emulator
from emulator.workspace import Config, Workspace

ROOT = Path(__file__).resolve().parents[1]


def _write_sales(root: Path) -> dict[str, int]:
    totals: dict[str, int] = {}
    for day in ("2024-01-01", "2024-01-02"):
        folder = root / "sales" / f"day={day}"
        folder.mkdir(parents=True)
        amounts = [10, 20, 30] if day.endswith("1") else [5, 7]
        pq.write_table(pa.table({"store": ["a", "b", "a"][: len(amounts)], "amount": amounts}), folder / "part-0.parquet")
        for store, amount in zip(["a", "b", "a"], amounts, strict=False):
            totals[store] = totals.get(store, 0) + amount
    return totals


PIPELINE = {
    "StartAt": "Crawl",
    "States": {
        "Crawl": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:startCrawler",
                  "Parameters": {"Name": "lake"}, "ResultPath": None, "Next": "Status"},
        "Status": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:getCrawler",
                   "Parameters": {"Name": "lake"}, "ResultSelector": {"state.$": "$.Crawler.State"},
                   "ResultPath": "$.crawler", "Next": "Ready?"},
        "Ready?": {"Type": "Choice", "Choices": [{"Variable": "$.crawler.state", "StringEquals": "READY",
                                                  "Next": "Query"}], "Default": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": 30, "Next": "Status"},
        "Query": {"Type": "Task", "Resource": "arn:aws:states:::athena:startQueryExecution.sync",
                  "Parameters": {"QueryString": "SELECT store, sum(amount) AS total FROM sales GROUP BY store "
                                                "ORDER BY store",
                                 "QueryExecutionContext": {"Database": "lake"},
                                 "ResultConfiguration": {"OutputLocation": "s3://results/q/"}},
                  "ResultSelector": {"id.$": "$.QueryExecution.QueryExecutionId"}, "ResultPath": "$.query",
                  "Next": "Results"},
        "Results": {"Type": "Task", "Resource": "arn:aws:states:::athena:getQueryResults",
                    "Parameters": {"QueryExecutionId.$": "$.query.id"}, "OutputPath": "$.ResultSet.Rows",
                    "End": True},
    },
}


def test_crawl_then_query_in_one_state_machine(tmp_path: Path) -> None:
    totals = _write_sales(tmp_path / "lake")
    config = Config(buckets={"lake": (tmp_path / "lake").resolve()},
                    crawlers={"lake": {"DatabaseName": "lake", "Targets": {"S3Targets": [{"Path": "s3://lake/sales/"}]}}})
    ws = Workspace(root=tmp_path / "ws", project=tmp_path, config=config)
    ex = emulator.run(PIPELINE, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    rows = [[d.get("VarCharValue") for d in r["Data"]] for r in ex.output]
    assert rows[0] == ["store", "total"]
    assert {r[0]: int(r[1]) for r in rows[1:]} == totals
    table = emulator.StateMachine(PIPELINE, workspace=ws).backends.catalog.get_table("lake", "sales")
    assert [k["Name"] for k in table["PartitionKeys"]] == ["day"]
    assert table["Parameters"]["classification"] == "parquet"


def test_cli_catalog_and_query(tmp_path: Path) -> None:
    _write_sales(tmp_path / "lake")
    (tmp_path / "sfn-local.toml").write_text(
        '[buckets]\nlake = "lake"\n[crawlers.lake]\nDatabaseName = "lake"\n'
        'Targets = { S3Targets = [{ Path = "s3://lake/sales/" }] }\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SFN_LOCAL_WORKSPACE": str(tmp_path / "ws")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from emulator.cli import main; main()", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)

    crawl = {"StartAt": "C", "States": {"C": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:startCrawler",
                                               "Parameters": {"Name": "lake"}, "End": True}}}
    (tmp_path / "crawl.json").write_text(json.dumps(crawl))
    assert cli("run", "crawl.json").returncode == 0
    shown = cli("catalog", "show", "lake.sales")
    assert shown.returncode == 0 and "amount" in shown.stdout and "(partition key)" in shown.stdout
    assert "sales" in cli("catalog", "ls", "lake").stdout
    query = cli("query", "SELECT count(*) AS n FROM sales", "--database", "lake")
    assert query.returncode == 0, query.stderr
    assert query.stdout.splitlines()[2].strip() == "5"
    bad = cli("query", "SELECT nope FROM sales", "--database", "lake")
    assert bad.returncode == 1 and "FAILED" in bad.stderr and "Traceback" not in bad.stderr
    missing = cli("catalog", "show", "lake.none")
    assert missing.returncode == 1 and "EntityNotFoundException" in missing.stderr
