"""AWS Glue through the AWS SDK integration: `arn:aws:states:::aws-sdk:glue:<action>`.

Requests use the SDK's PascalCase parameters, responses Glue's response shapes; the work is
done by the workspace's Catalog (and its crawlers). A Glue error becomes `Glue.<Code>`, as Step
Functions names AWS SDK integration errors, with the service's message and a request id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from emulator.backends import dataquality, workflows
from emulator.backends.catalog import Catalog, GlueError, required
from emulator.errors import StatesError
from emulator.integrations.registry import Handler, Registry, Resource, backend_handler, register

Params = dict[str, Any]


def _page(items: list[Any], params: Params, key: str) -> Params:
    """MaxResults / NextToken over a listing (the token is the next item's offset)."""
    token = params.get("NextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise GlueError("InvalidInputException", "Invalid NextToken") from None
    size = int(params.get("MaxResults") or 100)
    out: Params = {key: items[start:start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


def _get_tables(catalog: Catalog, p: Params) -> Params:
    tables = catalog.get_tables(required(p, "DatabaseName"))
    if pattern := p.get("Expression"):  # Glue's Expression is a regular expression on table names
        try:
            regex = re.compile(pattern)
        except re.error:
            raise GlueError("InvalidInputException", f"Invalid Expression: {pattern}") from None
        tables = [t for t in tables if regex.fullmatch(t["Name"])]
    return _page(tables, p, "TableList")


def _get_partitions(catalog: Catalog, p: Params) -> Params:
    partitions = catalog.get_partitions(required(p, "DatabaseName"), required(p, "TableName"), p.get("Expression"))
    if p.get("ExcludeColumnSchema"):
        partitions = [{**part, "StorageDescriptor": {k: v for k, v in part["StorageDescriptor"].items()
                                                     if k != "Columns"}} for part in partitions]
    return _page(partitions, p, "Partitions")


def _create_partition(catalog: Catalog, p: Params) -> None:
    """CreatePartition: BatchCreatePartition of one, its error raised."""
    errors = catalog.batch_create_partitions(required(p, "DatabaseName"), required(p, "TableName"),
                                             [required(p, "PartitionInput")])
    if errors:
        raise GlueError(errors[0]["ErrorDetail"]["ErrorCode"], errors[0]["ErrorDetail"]["ErrorMessage"])


def _empty(action: Callable[[Catalog, Params], Any]) -> Callable[[Catalog, Params], Params]:
    """Glue's Create*/Start*/Delete* return an empty object."""
    def run(catalog: Catalog, p: Params) -> Params:
        action(catalog, p)
        return {}
    return run


ACTIONS: dict[str, Callable[[Catalog, Params], Params]] = {
    "createCrawler": _empty(lambda c, p: c.crawlers.create(p)),
    "startCrawler": _empty(lambda c, p: c.crawlers.start(required(p, "Name"))),
    "getCrawler": lambda c, p: {"Crawler": c.crawlers.get(required(p, "Name"))},
    "getCrawlers": lambda c, p: _page([c.crawlers.get(n) for n in c.crawlers.names()], p, "Crawlers"),
    "getCrawlerMetrics": lambda c, p: _page(c.crawlers.metrics(p.get("CrawlerNameList")), p, "CrawlerMetricsList"),
    "createDatabase": _empty(lambda c, p: c.create_database(required(p, "DatabaseInput"))),
    "getDatabase": lambda c, p: {"Database": c.get_database(required(p, "Name"))},
    "getDatabases": lambda c, p: _page(c.get_databases(), p, "DatabaseList"),
    "createTable": _empty(lambda c, p: c.create_table(required(p, "DatabaseName"), required(p, "TableInput"))),
    "updateTable": _empty(lambda c, p: c.update_table(required(p, "DatabaseName"), required(p, "TableInput"))),
    "deleteTable": _empty(lambda c, p: c.delete_table(required(p, "DatabaseName"), required(p, "Name"))),
    "getTable": lambda c, p: {"Table": c.get_table(required(p, "DatabaseName"), required(p, "Name"))},
    "getTables": _get_tables,
    "getPartitions": _get_partitions,
    "batchCreatePartition": lambda c, p: {"Errors": c.batch_create_partitions(
        required(p, "DatabaseName"), required(p, "TableName"), required(p, "PartitionInputList"))},
    "createPartition": _empty(_create_partition),
    "listCrawlers": lambda c, p: _page(c.crawlers.names(), p, "CrawlerNames"),
    "batchGetCrawlers": lambda c, p: c.crawlers.batch_get(required(p, "CrawlerNames")),
    "stopCrawler": _empty(lambda c, p: c.crawlers.stop(required(p, "Name"))),
    "updateCrawler": _empty(lambda c, p: c.crawlers.update({**p, "Name": required(p, "Name")})),
    "deleteCrawler": _empty(lambda c, p: c.crawlers.delete(required(p, "Name"))),
}
# Glue workflows and Data Quality: actions over the workspace's backends (backends/workflows.py, dataquality.py).
SERVICE_ACTIONS: dict[str, Callable[[Any, Params], Params]] = {**workflows.ACTIONS, **dataquality.ACTIONS}


def _factory(resource: Resource, registry: Registry) -> Handler | None:
    if resource.service == "glue":  # sfn-local's `.sync` for a Data Quality run (Glue's optimised API has none)
        if (resource.action, resource.pattern) != ("startDataQualityRulesetEvaluationRun", "sync"):
            return None
        return backend_handler(lambda b, p: dataquality.DataQuality(b).start_run_sync(p), lambda: registry.backends,
                               GlueError, _error)
    if resource.action in SERVICE_ACTIONS and not resource.pattern:
        return backend_handler(SERVICE_ACTIONS[resource.action], lambda: registry.backends, GlueError, _error)
    action = ACTIONS.get(resource.action)
    if action is None or resource.pattern:  # AWS SDK integrations have no .sync / .waitForTaskToken for Glue
        return None
    return backend_handler(action, lambda: registry.backends.catalog, GlueError, _error)


def _error(exc: GlueError) -> StatesError:
    return StatesError(f"Glue.{exc.code}", f"{exc.message} (Service: Glue, Status Code: 400, "
                       f"Request ID: {uuid.uuid4()})")


register("aws-sdk:glue", _factory)
register("glue", _factory)
