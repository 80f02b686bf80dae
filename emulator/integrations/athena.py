"""Amazon Athena: `arn:aws:states:::athena:<action>[.sync]` and `arn:aws:states:::aws-sdk:athena:<action>`,
on the local query engine (`backends/sql.py`).

Requests use the SDK's PascalCase (QueryString, QueryExecutionContext, ResultConfiguration,
WorkGroup, QueryExecutionId, MaxResults, NextToken) and results Athena's shapes.
`startQueryExecution.sync` returns GetQueryExecution's `{"QueryExecution": ...}` once the query
has finished; a query that FAILED or was CANCELLED fails the task with States.TaskFailed and
that same JSON as the cause, as Step Functions does for jobs it waits on. A malformed request
fails with `Athena.InvalidRequestException`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from emulator.errors import TASK_FAILED, StatesError
from emulator.integrations.registry import Handler, Registry, Resource, TaskRequest, backend_handler, register

if TYPE_CHECKING:  # the SQL backend (DuckDB, pyarrow, sqlglot) loads when a query runs, not when resolved
    from emulator.backends.sql import QueryEngine

Action = Callable[["QueryEngine", dict[str, Any]], Any]


def _error(code: str, message: str) -> StatesError:
    return StatesError(f"Athena.{code}", f"{message} (Service: Athena, Status Code: 400, Error Code: {code})")


def _text(params: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = params.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise _error("InvalidRequestException", f"{name} is required and must be a non-empty string")
    return value


def _object(params: dict[str, Any], name: str) -> dict[str, Any]:
    value = params.get(name, {})
    if not isinstance(value, dict):
        raise _error("InvalidRequestException", f"{name} must be an object")
    return value


def start_query_execution(engine: QueryEngine, params: dict[str, Any]) -> dict[str, Any]:
    context = _object(params, "QueryExecutionContext")
    results = _object(params, "ResultConfiguration")
    query_id = engine.start_query_execution(
        _text(params, "QueryString") or "",
        database=_text(context, "Database", required=False),
        catalog=_text(context, "Catalog", required=False),
        output_location=_text(results, "OutputLocation", required=False),
        work_group=_text(params, "WorkGroup", required=False) or "primary",
    )
    return {"QueryExecutionId": query_id}


def get_query_execution(engine: QueryEngine, params: dict[str, Any]) -> dict[str, Any]:
    return {"QueryExecution": engine.get_query_execution(_text(params, "QueryExecutionId") or "")}


def get_query_results(engine: QueryEngine, params: dict[str, Any]) -> dict[str, Any]:
    return engine.get_query_results(_text(params, "QueryExecutionId") or "", params.get("MaxResults"),
                                    _text(params, "NextToken", required=False))


def stop_query_execution(engine: QueryEngine, params: dict[str, Any]) -> dict[str, Any]:
    engine.stop_query_execution(_text(params, "QueryExecutionId") or "")
    return {}


def list_query_executions(engine: QueryEngine, params: dict[str, Any]) -> dict[str, Any]:
    """ListQueryExecutions: the work group's query ids, newest first, MaxResults (<= 50) a page."""
    work_group = _text(params, "WorkGroup", required=False) or "primary"
    executions = [engine.get_query_execution(path.stem) for path in engine.workspace.path("athena").glob("*.json")]
    ids = [e["QueryExecutionId"] for e in sorted(executions, key=lambda e: -e["Status"]["SubmissionDateTime"])
           if e.get("WorkGroup", "primary") == work_group]
    size = params.get("MaxResults") or 50
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= 50:
        raise _error("InvalidRequestException", "MaxResults must be between 0 and 50")
    token = _text(params, "NextToken", required=False)
    start = int(token) if token and token.isdigit() else 0
    out: dict[str, Any] = {"QueryExecutionIds": ids[start:start + size]}
    if start + size < len(ids):
        out["NextToken"] = str(start + size)
    return out


def batch_get_query_execution(engine: QueryEngine, params: dict[str, Any]) -> dict[str, Any]:
    """BatchGetQueryExecution: the executions found, the other ids as unprocessed."""
    from emulator.backends.sql import AthenaError

    found, missing = [], []
    for query_id in params.get("QueryExecutionIds") or []:
        try:
            found.append(engine.get_query_execution(query_id))
        except AthenaError as exc:
            missing.append({"QueryExecutionId": query_id, "ErrorCode": exc.code, "ErrorMessage": exc.message})
    return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}


def _run_to_completion(engine: QueryEngine, params: dict[str, Any]) -> dict[str, Any]:
    """startQueryExecution.sync: the finished QueryExecution, or the task fails with it."""
    query_id = start_query_execution(engine, params)["QueryExecutionId"]
    result = {"QueryExecution": engine.get_query_execution(query_id)}
    if result["QueryExecution"]["Status"]["State"] != "SUCCEEDED":
        raise StatesError(TASK_FAILED, json.dumps(result, separators=(",", ":")))
    return result


ACTIONS: dict[str, Action] = {
    "startQueryExecution": start_query_execution,
    "getQueryExecution": get_query_execution,
    "getQueryResults": get_query_results,
    "stopQueryExecution": stop_query_execution,
    "listQueryExecutions": list_query_executions,
    "batchGetQueryExecution": batch_get_query_execution,
}


def _factory(resource: Resource, registry: Registry) -> Handler | None:
    action = ACTIONS.get(resource.action)
    if resource.pattern.startswith("sync"):
        # Only StartQueryExecution has a .sync form; the aws-sdk integrations have none.
        action = _run_to_completion if resource.service == "athena" and resource.action == "startQueryExecution" \
            else None
    elif resource.pattern:
        action = None
    if action is None:
        return None

    def handle(request: TaskRequest) -> Any:
        from emulator.backends.sql import AthenaError

        return backend_handler(action, lambda: registry.backends.sql, AthenaError,
                               lambda e: _error(e.code, e.message))(request)

    return handle


register("athena", _factory)
register("aws-sdk:athena", _factory)
