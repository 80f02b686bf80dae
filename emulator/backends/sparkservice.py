"""Warm Spark across processes: `sfn-local serve` lends its Spark session to the other processes on its
workspace (`sfn-local run`, the Python API), so they start no JVM of their own.

One behaviour, two fronts: `SparkEngine.run_script` runs a job; in the serving process it runs on the
session there, elsewhere it posts the job here and the server runs the same `run_script`. While it
serves a loopback address, `serve` writes `<workspace>/spark-service.json` (its URL, pid, project and a
random token, readable by the workspace's owner only) and removes it when it stops. `find` uses a
server only when the file names a live process of the same project and the server answers a ping;
otherwise the engine runs the job itself. Requests carry the token, so only processes that can read
the workspace can submit scripts.

The server holds no lease for a client's cluster, so its session goes back to the pool (cleared)
whenever no job runs: steps of one client cluster do not share temp views, as separate spark-submit
applications on EMR do not. A job's printed output goes to the server's terminal and to the job's log
file under `<workspace>/logs/`, as the JobResult says. A serve stopped by SIGTERM or SIGKILL may leave
the file behind; clients ignore it once its process is gone.

Routes (under `/_sfn_local/spark`, which no AWS API uses): GET → {pid, workspace, applicationId};
POST /warm → starts the session; POST /jobs → a JobResult; POST /cancel → cancels a job group.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.workspace import Workspace, write_atomic

if TYPE_CHECKING:
    from starlette.routing import Route

    from emulator.backends import Backends

SERVICE_FILE = "spark-service.json"
TOKEN_HEADER = "X-Sfn-Local-Spark-Token"
PREFIX = "/_sfn_local/spark"
_PING_SECONDS = 2.0
_tokens: dict[Path, str] = {}  # workspace root → the token this process serves it with


class ServiceError(RuntimeError):
    """The server answered with an error (its message says why)."""


@dataclass
class Service:
    """A serving process's Spark, as a client sees it."""

    url: str
    token: str
    pid: int

    def _call(self, method: str, action: str, body: Any = None, timeout: float | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(f"{self.url}{PREFIX}{action}", data=data, method=method,
                                         headers={TOKEN_HEADER: self.token, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message")
            except (ValueError, AttributeError):
                message = None
            raise ServiceError(message or f"{self.url} answered {exc.code}") from None

    def ping(self) -> dict[str, Any]:
        return self._call("GET", "", timeout=_PING_SECONDS)

    def warm(self) -> dict[str, Any]:
        return self._call("POST", "/warm", {})

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        """Run a job to its end on the server; returns the JobResult's fields."""
        return self._call("POST", "/jobs", job)

    def cancel(self, job_group: str) -> None:
        self._call("POST", "/cancel", {"job_group": job_group}, timeout=_PING_SECONDS)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find(workspace: Workspace) -> Service | None:
    """The live server of `workspace` (same project, another process), or None."""
    path = workspace.root / SERVICE_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        service = Service(str(record["url"]), str(record["token"]), int(record["pid"]))
        project = record["project"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if service.pid == os.getpid() or project != str(workspace.project) or not _alive(service.pid):
        return None
    try:
        answer = service.ping()
    except (OSError, ValueError):
        return None
    return service if answer.get("workspace") == str(workspace.root) and answer.get("pid") == service.pid else None


@contextmanager
def advertise(workspace: Workspace, url: str) -> Iterator[None]:
    """Offer this process's Spark to the workspace's other processes while the block runs."""
    token = secrets.token_hex(16)
    path = workspace.root / SERVICE_FILE
    record = {"url": url, "pid": os.getpid(), "project": str(workspace.project), "token": token}
    _tokens[workspace.root] = token
    workspace.root.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(record).encode("utf-8"))
    path.chmod(0o600)
    try:
        yield
    finally:
        _tokens.pop(workspace.root, None)
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("token") == token:
                path.unlink()
        except (OSError, ValueError):
            pass  # already gone, or another server's now


def routes(backends: Backends) -> list[Route]:
    """The server's side: run the posted jobs on `backends.spark`, the serving process's session."""
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    engine = backends.spark

    def refused(request: Request) -> JSONResponse | None:
        token = _tokens.get(backends.workspace.root)
        if token is None or not secrets.compare_digest(request.headers.get(TOKEN_HEADER, ""), token):
            return JSONResponse({"message": "not a Spark client of this server's workspace"}, status_code=403)
        return None

    async def body(request: Request) -> dict[str, Any]:
        try:
            value = json.loads(await request.body() or b"{}")
        except ValueError:
            value = None
        return value if isinstance(value, dict) else {}

    async def ping(request: Request) -> JSONResponse:
        if (refusal := refused(request)) is not None:
            return refusal
        from emulator.backends import spark

        session = spark._session
        return JSONResponse({"pid": os.getpid(), "workspace": str(backends.workspace.root),
                             "applicationId": _application(session)})

    async def warm(request: Request) -> JSONResponse:
        if (refusal := refused(request)) is not None:
            return refusal
        from emulator.backends.spark import SparkBusyError
        from emulator.workspace import ConfigError

        try:
            session = await run_in_threadpool(engine.session)
        except (ConfigError, SparkBusyError) as exc:
            return JSONResponse({"message": str(exc)}, status_code=409)
        return JSONResponse({"applicationId": _application(session)})

    async def jobs(request: Request) -> JSONResponse:
        if (refusal := refused(request)) is not None:
            return refusal
        job = await body(request)
        if not isinstance(job.get("script"), str) or not isinstance(job.get("args", []), list):
            return JSONResponse({"message": "a job needs script (string) and args (list)"}, status_code=400)
        result = await run_in_threadpool(
            engine.run_script, Path(job["script"]), [str(a) for a in job.get("args", [])],
            {str(k): str(v) for k, v in (job.get("conf") or {}).items()},
            [Path(p) for p in job.get("py_files") or []], job.get("job_group"), job.get("glue_job"))
        return JSONResponse(result.to_json())

    async def cancel(request: Request) -> JSONResponse:
        if (refusal := refused(request)) is not None:
            return refusal
        job_group = (await body(request)).get("job_group")
        if isinstance(job_group, str):
            await run_in_threadpool(engine.cancel, job_group)
        return JSONResponse({})

    return [Route(PREFIX, ping, methods=["GET"]), Route(f"{PREFIX}/warm", warm, methods=["POST"]),
            Route(f"{PREFIX}/jobs", jobs, methods=["POST"]), Route(f"{PREFIX}/cancel", cancel, methods=["POST"])]


def _application(session: Any) -> str | None:
    """The warm session's Spark application id; a Spark Connect session's id (it has no SparkContext here)."""
    if session is None:
        return None
    from emulator.backends.spark import is_connect

    return session.session_id if is_connect(session) else session.sparkContext.applicationId
