"""Local engines that hold the data services' behaviour (moto's "models"): object store,
Glue Data Catalog and crawlers, Athena's SQL engine. `integrations/` only translates Task
requests to calls on these and results back to AWS's shapes; the CLI uses them directly.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from emulator.backends.objectstore import ObjectStore
from emulator.workspace import Workspace

if TYPE_CHECKING:
    from emulator.backends.catalog import Catalog
    from emulator.backends.outbox import Outbox
    from emulator.backends.spark import SparkEngine
    from emulator.backends.sql import QueryEngine


class Backends:
    """The backends of one workspace, each started on first use."""

    def __init__(self, workspace: Workspace | None = None) -> None:
        self.workspace = workspace or Workspace()

    @cached_property
    def object_store(self) -> ObjectStore:
        return ObjectStore(self.workspace)

    @cached_property
    def catalog(self) -> Catalog:
        from emulator.backends.catalog import Catalog

        return Catalog(self.workspace, self.object_store)

    @cached_property
    def outbox(self) -> Outbox:
        from emulator.backends.outbox import Outbox

        return Outbox(self.workspace)

    @cached_property
    def spark(self) -> SparkEngine:
        from emulator.backends.spark import SparkEngine

        return SparkEngine(self.workspace, self.object_store)

    @cached_property
    def sql(self) -> QueryEngine:
        from emulator.backends.sql import QueryEngine

        return QueryEngine(self.workspace, self.object_store, self.catalog)

    def settle(self) -> None:
        """Let background work (crawls) finish: a process that exits now would cut it short."""
        if "catalog" in self.__dict__:
            from emulator.backends.crawler import Crawlers

            Crawlers.wait_all()
