"""The web console's HTTP side: the page and its assets under `/ui/`, JSON under `/ui/api/`, live
updates as server-sent events (`/ui/api/stream`), all on `sfn-local serve`'s port.

AWS clients share that port (Step Functions and the JSON services POST to `/` with X-Amz-Target,
S3 is path-style REST, so `/ui/...` could be a bucket's key). The console therefore answers only
requests no AWS client sends: unsigned (no Authorization header, no presigned query), without
X-Amz-Target, for `/ui` and below, or a browser's GET of `/` (it asks for text/html), which is sent
on to `/ui/`. Everything else goes to the AWS fronts untouched.

Data comes from the server's own objects: executions and state machines through the Step
Functions front (so a running execution's newest events are read), the catalog, object store and
Athena's query engine from the server's Backends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.backends import Backends
from emulator.console.views import execution_view, jsonable, visit_stages
from emulator.server.protocol import ServiceError
from emulator.store import EXECUTION, MACHINE

STATIC = Path(__file__).parent / "static"
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
# How often a live stream looks for news, and the most rows a listing or a query answer carries.
POLL_SECONDS = 0.25
MAX_ROWS = 1000
PREVIEW_BYTES = 64 * 1024
_PRESIGNED = ("x-amz-signature", "x-amz-credential", "signature", "awsaccesskeyid")


class ConsoleError(Exception):
    """A console request the console cannot answer: `status` and a message for the page."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _json(value: Any, status: int = 200) -> Response:
    body = json.dumps(jsonable(value), ensure_ascii=False, default=str, separators=(",", ":"))
    return Response(body, status, media_type="application/json")


def _param(request: Request, name: str, required: bool = True) -> str | None:
    value = request.query_params.get(name)
    if required and not value:
        raise ConsoleError(f"missing query parameter '{name}'")
    return value or None


def _endpoint(handler: Callable[..., Any]) -> Callable[[Request], Any]:
    """Run a blocking handler(request, console) on a worker thread; errors answer as JSON."""

    async def endpoint(request: Request) -> Response:
        console: Console = request.app.state.console
        try:
            body = await request.json() if request.method == "POST" else None
            result = await run_in_threadpool(handler, console, request, body)
        except ConsoleError as exc:
            return _json({"error": exc.message}, exc.status)
        except ServiceError as exc:
            return _json({"error": f"{exc.code}: {exc.message}"}, 404 if "DoesNotExist" in exc.code else 400)
        except json.JSONDecodeError as exc:
            return _json({"error": f"the request body is not JSON: {exc.msg}"}, 400)
        return result if isinstance(result, Response) else _json(result)

    return endpoint


class Console:
    """The console's data access over one server's Step Functions front and backends."""

    def __init__(self, stepfunctions: Any, backends: Backends) -> None:
        self.sfn = stepfunctions
        self.backends = backends

    # -- Step Functions ----------------------------------------------------------------------
    def state_machines(self) -> list[dict[str, Any]]:
        store = self.sfn.store
        out = []
        for doc in store.list(MACHINE):
            arn = doc["stateMachineArn"]
            counts = {s: n for s in STATUSES if (n := store.count(EXECUTION, parent=arn, status=s))}
            out.append({"stateMachineArn": arn, "name": doc["name"], "type": doc["type"],
                        "creationDate": doc["creationDate"], "counts": counts})
        return out

    def executions(self, machine: str | None, status: str | None, name: str | None) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise ConsoleError(f"unknown status '{status}': one of {', '.join(STATUSES)}")
        docs = self.sfn.store.list(EXECUTION, parent=machine, status=status, newest_first=True)
        needle = (name or "").lower()
        keys = ("executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate", "error")
        found = [{k: d.get(k) for k in keys} for d in docs if needle in d["name"].lower()]
        return found[:MAX_ROWS]

    def _history(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        token = None
        while True:
            params: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
            if token:
                params["nextToken"] = token
            page = self.sfn.call("GetExecutionHistory", params)
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events

    def execution(self, arn: str) -> dict[str, Any]:
        describe = self.sfn.call("DescribeExecution", {"executionArn": arn})
        machine = self.sfn.call("DescribeStateMachineForExecution", {"executionArn": arn})
        view = execution_view(describe, machine.get("definition"), self._history(arn))
        store = self.sfn.store
        for child in view["children"]:
            child["known"] = store.get(EXECUTION, child["executionArn"]) is not None
        if view["parent"] is not None and store.get(EXECUTION, view["parent"]) is None:
            view["parentKnown"] = False
        else:
            view["parentKnown"] = view["parent"] is not None
        return view

    def stages(self, arn: str, visit: int) -> dict[str, Any]:
        describe = self.sfn.call("DescribeExecution", {"executionArn": arn})
        machine = self.sfn.call("DescribeStateMachineForExecution", {"executionArn": arn})
        return visit_stages(describe, machine.get("definition"), self._history(arn), visit)

    def progress(self, arn: str | None) -> tuple[Any, ...]:
        """What changes when there is news: an execution's status and event count, or the list's."""
        if arn is None:
            store = self.sfn.store
            return (*((s, store.count(EXECUTION, status=s)) for s in STATUSES), store.count(MACHINE))
        describe = self.sfn.call("DescribeExecution", {"executionArn": arn})
        page = self.sfn.call("GetExecutionHistory", {"executionArn": arn, "maxResults": 1, "reverseOrder": True})
        last = page["events"][0]["id"] if page["events"] else 0
        return describe["status"], last

    # -- data ------------------------------------------------------------------------------------
    def catalog(self) -> list[dict[str, Any]]:
        catalog = self.backends.catalog
        out = []
        for database in catalog.get_databases():
            tables = [{"Name": t["Name"], "TableType": t.get("TableType"),
                       "Location": (t.get("StorageDescriptor") or {}).get("Location"),
                       "Columns": len((t.get("StorageDescriptor") or {}).get("Columns") or []),
                       "PartitionKeys": [k["Name"] for k in t.get("PartitionKeys") or []]}
                      for t in catalog.get_tables(database["Name"])]
            out.append({"Name": database["Name"], "Description": database.get("Description"), "Tables": tables})
        return out

    def table(self, database: str, name: str) -> dict[str, Any]:
        from emulator.backends.catalog import GlueError

        try:
            table = self.backends.catalog.get_table(database, name)
            partitions = self.backends.catalog.get_partitions(database, name)
        except GlueError as exc:
            raise ConsoleError(str(exc), 404) from None
        return {"Table": table, "Partitions": partitions[:MAX_ROWS], "PartitionCount": len(partitions)}

    def buckets(self) -> list[str]:
        return self.backends.object_store.buckets()

    def listing(self, bucket: str, prefix: str) -> dict[str, Any]:
        from emulator.backends.objectstore import S3Error

        try:
            found = self.backends.object_store.list(bucket, prefix, delimiter="/", max_keys=MAX_ROWS)
        except S3Error as exc:
            raise ConsoleError(f"{exc.code}: {exc.message}", 404) from None
        return {"bucket": bucket, "prefix": prefix, "prefixes": found.common_prefixes, "truncated": found.is_truncated,
                "objects": [{"key": o.key, "size": o.size, "lastModified": o.last_modified} for o in found.objects]}

    def preview(self, bucket: str, key: str) -> dict[str, Any]:
        from emulator.backends.objectstore import S3Error

        try:
            body, info = self.backends.object_store.get(bucket, key)
        except S3Error as exc:
            raise ConsoleError(f"{exc.code}: {exc.message}", 404) from None
        head = body[:PREVIEW_BYTES]
        try:
            text: str | None = head.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return {"bucket": bucket, "key": key, "size": info.size, "contentType": info.content_type,
                "lastModified": info.last_modified, "text": text, "truncated": len(body) > PREVIEW_BYTES}

    def query(self, sql: str, database: str | None) -> dict[str, Any]:
        from emulator.backends.sql import AthenaError

        engine = self.backends.sql
        try:
            query_id = engine.start_query_execution(sql, database=database)
            record = engine.get_query_execution(query_id)
            answer: dict[str, Any] = {"queryExecutionId": query_id, "state": record["Status"]["State"],
                                      "reason": record["Status"].get("StateChangeReason"),
                                      "outputLocation": record["ResultConfiguration"]["OutputLocation"],
                                      "columns": [], "rows": [], "updateCount": 0, "truncated": False}
            if answer["state"] != "SUCCEEDED":
                return answer
            page = engine.get_query_results(query_id, max_results=MAX_ROWS)
        except AthenaError as exc:
            raise ConsoleError(f"{exc.code}: {exc.message}") from None
        rows = [[cell.get("VarCharValue") for cell in row["Data"]] for row in page["ResultSet"]["Rows"]]
        columns = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
        answer.update(columns=[{"name": c["Name"], "type": c.get("Type")} for c in columns],
                      rows=rows[1:] if columns else [], updateCount=page.get("UpdateCount", 0),
                      truncated="NextToken" in page)
        return answer


# -- endpoints ---------------------------------------------------------------------------------------
def _info(console: Console, request: Request, body: Any) -> dict[str, Any]:
    try:
        release = version("sfn-local")
    except PackageNotFoundError:
        release = "unknown"
    return {"sfnLocal": release, "workspace": str(console.sfn.workspace.root), "clock": console.sfn.clock}


def _machines(console: Console, request: Request, body: Any) -> list[dict[str, Any]]:
    return console.state_machines()


def _executions(console: Console, request: Request, body: Any) -> list[dict[str, Any]]:
    return console.executions(_param(request, "machine", False), _param(request, "status", False),
                              _param(request, "name", False))


def _execution(console: Console, request: Request, body: Any) -> dict[str, Any]:
    return console.execution(str(_param(request, "arn")))


def _stages(console: Console, request: Request, body: Any) -> dict[str, Any]:
    visit = str(_param(request, "visit"))
    if not visit.isdigit():
        raise ConsoleError(f"visit: expected the id of a state's entered event, got {visit!r}")
    return console.stages(str(_param(request, "arn")), int(visit))


def _catalog(console: Console, request: Request, body: Any) -> list[dict[str, Any]]:
    return console.catalog()


def _table(console: Console, request: Request, body: Any) -> dict[str, Any]:
    return console.table(request.path_params["database"], request.path_params["table"])


def _buckets(console: Console, request: Request, body: Any) -> list[str]:
    return console.buckets()


def _listing(console: Console, request: Request, body: Any) -> dict[str, Any]:
    return console.listing(request.path_params["bucket"], request.query_params.get("prefix", ""))


def _object(console: Console, request: Request, body: Any) -> dict[str, Any]:
    return console.preview(str(_param(request, "bucket")), str(_param(request, "key")))


def _query(console: Console, request: Request, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("sql"), str) or not body["sql"].strip():
        raise ConsoleError("the request needs {\"sql\": \"SELECT ...\"} (and optionally \"database\")")
    database = body.get("database")
    return console.query(body["sql"], database if isinstance(database, str) and database else None)


async def _stream(request: Request) -> Response:
    """Server-sent events: `execution` (the whole view) whenever an execution has news, until it ends;
    without `arn`, `executions` whenever the list changes (the page then reloads it)."""
    console: Console = request.app.state.console
    arn = request.query_params.get("arn") or None
    try:
        first = await run_in_threadpool(console.progress, arn)
    except ServiceError as exc:
        return _json({"error": f"{exc.code}: {exc.message}"}, 404)

    async def events() -> AsyncIterator[str]:
        seen: Any = None
        current = first
        while True:
            if current != seen:
                seen = current
                if arn is None:
                    yield f"event: executions\ndata: {json.dumps(list(current))}\n\n"
                else:
                    view = await run_in_threadpool(console.execution, arn)
                    yield f"event: execution\ndata: {json.dumps(jsonable(view), default=str)}\n\n"
                    if view["execution"]["status"] != "RUNNING":
                        yield "event: end\ndata: {}\n\n"
                        return
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_SECONDS)
            current = await run_in_threadpool(console.progress, arn)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _page(request: Request) -> Response:
    return Response((STATIC / "index.html").read_bytes(), media_type="text/html; charset=utf-8")


def create_console(stepfunctions: Any, backends: Backends) -> Starlette:
    """The console as an ASGI app serving `/ui/...` paths."""
    api = [
        Route("/ui/api/info", _endpoint(_info)),
        Route("/ui/api/state-machines", _endpoint(_machines)),
        Route("/ui/api/executions", _endpoint(_executions)),
        Route("/ui/api/execution", _endpoint(_execution)),
        Route("/ui/api/stages", _endpoint(_stages)),
        Route("/ui/api/stream", _stream),
        Route("/ui/api/catalog", _endpoint(_catalog)),
        Route("/ui/api/catalog/{database}/{table}", _endpoint(_table)),
        Route("/ui/api/buckets", _endpoint(_buckets)),
        Route("/ui/api/buckets/{bucket}", _endpoint(_listing)),
        Route("/ui/api/object", _endpoint(_object)),
        Route("/ui/api/query", _endpoint(_query), methods=["POST"]),
    ]
    app = Starlette(routes=[
        *api,
        Route("/ui/api/{rest:path}", lambda request: JSONResponse({"error": "no such console API"}, 404),
              methods=["GET", "POST"]),
        Route("/ui", lambda request: RedirectResponse("/ui/")),
        Route("/ui/", _page),
        Mount("/ui/static", StaticFiles(directory=STATIC), name="static"),
    ])
    app.state.console = Console(stepfunctions, backends)
    return app


def is_console_request(scope: Scope) -> bool:
    """Whether a request is the console's: unsigned, no X-Amz-Target, for `/ui...` (or a browser's `/`)."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD", "POST"):
        return False
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    if "authorization" in headers or "x-amz-target" in headers:
        return False
    query = {k.lower() for k in parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)}
    if query.intersection(_PRESIGNED):
        return False
    path = scope["path"]
    if path == "/":
        return scope["method"] == "GET" and "text/html" in headers.get("accept", "")
    return path == "/ui" or path.startswith("/ui/")


class ConsoleMiddleware:
    """Sends the console's requests (see `is_console_request`) to the console, the rest to `app`."""

    def __init__(self, app: ASGIApp, stepfunctions: Any, backends: Backends) -> None:
        self.app = app
        self.console = create_console(stepfunctions, backends)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_console_request(scope):
            await self.app(scope, receive, send)
        elif scope["path"] == "/":
            await RedirectResponse("/ui/")(scope, receive, send)
        else:
            await self.console(scope, receive, send)
