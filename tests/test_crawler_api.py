"""The rest of the crawler API: ListCrawlers, BatchGetCrawlers, StopCrawler, UpdateCrawler, DeleteCrawler,
through Task states and through boto3 against the endpoint."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import emulator
from emulator.backends import Backends
from emulator.workspace import Workspace
from tests.conftest import chain
from tests.test_glue_catalog import crawler, make_workspace, write_parquet
from tests.test_server_data import Served, data_app, serving

GLUE = "arn:aws:states:::aws-sdk:glue:"


def call(ws: Workspace, action: str, parameters: dict[str, Any]) -> Any:
    return emulator.run(chain(("Call", {"Type": "Task", "Resource": GLUE + action, "Parameters": parameters})), {},
                        workspace=ws)


def ok(ws: Workspace, action: str, parameters: dict[str, Any]) -> Any:
    ex = call(ws, action, parameters)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    return ex.output


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    workspace = make_workspace(tmp_path, configured=crawler("s3://lake/sales/"))
    write_parquet(tmp_path / "lake" / "sales" / "part-0.parquet", {"id": [1, 2], "amount": [3.5, 4.5]})
    write_parquet(tmp_path / "lake" / "stock" / "part-0.parquet", {"sku": ["a"], "count": [7]})
    return workspace


def test_list_and_batch_get(ws: Workspace) -> None:
    ok(ws, "createCrawler", {"Name": "created", "Role": "r", "DatabaseName": "inv",
                             "Targets": {"S3Targets": [{"Path": "s3://lake/stock/"}]}})
    assert ok(ws, "listCrawlers", {})["CrawlerNames"] == ["configured", "created"]
    out = ok(ws, "batchGetCrawlers", {"CrawlerNames": ["created", "ghost", "configured"]})
    assert [c["Name"] for c in out["Crawlers"]] == ["created", "configured"]
    assert out["CrawlersNotFound"] == ["ghost"]
    assert out["Crawlers"][0]["Targets"]["S3Targets"] == [{"Path": "s3://lake/stock/"}]


def test_update_changes_what_the_next_crawl_does(ws: Workspace) -> None:
    ok(ws, "updateCrawler", {"Name": "configured", "DatabaseName": "warehouse",
                             "Targets": {"S3Targets": [{"Path": "s3://lake/stock/"}]}})
    got = ok(ws, "getCrawler", {"Name": "configured"})["Crawler"]
    assert got["DatabaseName"] == "warehouse" and got["Targets"]["S3Targets"] == [{"Path": "s3://lake/stock/"}]
    catalog = Backends(ws).catalog
    catalog.crawlers.run("configured")
    assert [t["Name"] for t in catalog.get_tables("warehouse")] == ["stock"]


def test_stop_cancels_a_running_crawl(ws: Workspace, gate: threading.Event) -> None:
    assert call(ws, "stopCrawler", {"Name": "configured"}).error == "Glue.CrawlerNotRunningException"
    crawlers = Backends(ws).catalog.crawlers
    crawlers.start("configured")
    assert ok(ws, "stopCrawler", {"Name": "configured"}) == {}
    assert crawlers.get("configured")["State"] == "STOPPING"
    assert call(ws, "stopCrawler", {"Name": "configured"}).error == "Glue.CrawlerStoppingException"
    assert call(ws, "updateCrawler", {"Name": "configured", "DatabaseName": "x"}).error == \
        "Glue.CrawlerRunningException"
    assert call(ws, "deleteCrawler", {"Name": "configured"}).error == "Glue.CrawlerRunningException"
    gate.set()
    done = crawlers.wait("configured", 10)
    assert done["State"] == "READY" and done["LastCrawl"]["Status"] == "CANCELLED"


def test_delete(ws: Workspace) -> None:
    ok(ws, "createCrawler", {"Name": "temp", "Role": "r", "DatabaseName": "inv",
                             "Targets": {"S3Targets": [{"Path": "s3://lake/stock/"}]}})
    assert ok(ws, "deleteCrawler", {"Name": "temp"}) == {}
    assert call(ws, "getCrawler", {"Name": "temp"}).error == "Glue.EntityNotFoundException"
    assert call(ws, "deleteCrawler", {"Name": "temp"}).error == "Glue.EntityNotFoundException"
    failed = call(ws, "deleteCrawler", {"Name": "configured"})
    assert failed.error == "Glue.InvalidInputException" and "[crawlers.configured]" in failed.cause


def test_boto3_reaches_the_same_crawlers(ws: Workspace) -> None:
    with serving(data_app(Backends(ws))) as port:
        glue = Served(f"http://127.0.0.1:{port}", Backends(ws)).client("glue")
        assert glue.list_crawlers()["CrawlerNames"] == ["configured"]
        glue.update_crawler(Name="configured", Description="nightly sales")
        got = glue.batch_get_crawlers(CrawlerNames=["configured", "nope"])
        assert got["Crawlers"][0]["Description"] == "nightly sales" and got["CrawlersNotFound"] == ["nope"]
        with pytest.raises(glue.exceptions.CrawlerNotRunningException):
            glue.stop_crawler(Name="configured")
        with pytest.raises(ClientError) as missing:
            glue.delete_crawler(Name="nope")
        assert missing.value.response["Error"]["Code"] == "EntityNotFoundException"
