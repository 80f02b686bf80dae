"""Glue's Python library for jobs on the local Spark: the `awsglue` (and `awsglueml`) packages here.

`RUNTIME_PATH` is the folder that holds them; a Glue job run (integrations/gluejobs.py) puts it on
sys.path while the job's script runs, so `import awsglue.context` works inside Glue jobs only and
the wheel installs no top-level `awsglue`. The packages find the workspace they work on (its object
store and Data Catalog, the Spark engine) through `bind`, which the job run holds around its script;
code that imports awsglue outside a job run gets the default workspace (SFN_LOCAL_WORKSPACE or ./.sfn-local).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emulator.backends.catalog import Catalog
    from emulator.backends.objectstore import ObjectStore
    from emulator.backends.spark import SparkEngine
    from emulator.workspace import Workspace

RUNTIME_PATH = Path(__file__).parent
_local = threading.local()


class NotAvailableLocallyError(RuntimeError):
    """A Glue feature that needs the AWS service itself (ML transforms, JDBC to AWS databases, ...)."""

    def __init__(self, call: str, why: str = "it needs the AWS Glue service") -> None:
        super().__init__(f"{call} is not available locally: {why} (sfn-local runs Glue jobs on local PySpark)")
        self.call = call


@dataclass
class GlueRuntime:
    """What the awsglue library works on: one workspace's object store, catalog and Spark engine."""

    workspace: Workspace
    object_store: ObjectStore
    catalog: Catalog
    engine: SparkEngine
    job_name: str | None = None


@contextmanager
def bind(runtime: GlueRuntime) -> Iterator[GlueRuntime]:
    """Make `runtime` the one awsglue uses in this thread (a job's script runs in its run's thread)."""
    previous = getattr(_local, "runtime", None)
    _local.runtime = runtime
    try:
        yield runtime
    finally:
        _local.runtime = previous


def runtime_for(workspace: Workspace, engine: SparkEngine | None = None, job_name: str | None = None) -> GlueRuntime:
    """The runtime of `workspace` (with `engine` as its Spark, or the workspace's own)."""
    from emulator.backends import Backends

    backends = Backends(workspace)
    return GlueRuntime(workspace, backends.object_store, backends.catalog, engine or backends.spark, job_name)


def current() -> GlueRuntime:
    """The bound runtime, else the default workspace's (awsglue imported outside a job run)."""
    runtime = getattr(_local, "runtime", None)
    if runtime is None:
        from emulator.workspace import Workspace

        runtime = _local.runtime = runtime_for(Workspace())
    return runtime


def bookmark_path(workspace: Workspace, job_name: str) -> Path:
    """Where a job's bookmarks live: `<workspace>/glue-bookmarks/<job>.json`."""
    return workspace.path("glue-bookmarks") / f"{re.sub(r'[^A-Za-z0-9._-]', '_', job_name)}.json"


def get_resolved_options(args: list[str], options: list[str]) -> dict[str, str]:
    """awsglue.utils.getResolvedOptions: the named `--KEY value` / `--KEY=value` arguments, all required."""
    found: dict[str, str] = {}
    for i, arg in enumerate(args):
        if not arg.startswith("--"):
            continue
        key, eq, value = arg[2:].partition("=")
        if not eq:
            value = args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("--") else ""
        found[key] = value
    missing = [o for o in options if o not in found]
    if missing:
        raise SystemExit(f"error: the following arguments are required: {', '.join('--' + m for m in missing)}")
    return {o: found[o] for o in options}
