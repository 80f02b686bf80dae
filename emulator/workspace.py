"""The workspace: where every piece of local state lives, and the project's config.

All local state (object store, Glue catalog, query results, outboxes, saved executions) sits
under one directory, `./.sfn-local/` unless `--workspace` or SFN_LOCAL_WORKSPACE says otherwise,
so it survives restarts. The config comes from `sfn-local.toml`, or `[tool.sfn-local]` in
pyproject.toml, in the project directory:

    [buckets]                 # bucket name -> directory (relative to the project); others live in the workspace
    raw = "sample_data"
    [crawlers.raw_crawler]    # Glue crawlers: DatabaseName, Targets.S3Targets[].Path, TablePrefix, ...
    DatabaseName = "raw"
    Targets = { S3Targets = [{ Path = "s3://raw/" }] }
    [lambdas]                 # function name -> "module:function"
    enrich = "handlers:enrich"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WORKSPACE_ENV = "SFN_LOCAL_WORKSPACE"
DEFAULT_WORKSPACE = ".sfn-local"


class ConfigError(ValueError):
    """The config file is unreadable or malformed; the message names the file and the key."""


@dataclass
class Config:
    buckets: dict[str, Path] = field(default_factory=dict)
    crawlers: dict[str, dict[str, Any]] = field(default_factory=dict)
    glue_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    lambdas: dict[str, str] = field(default_factory=dict)
    source: Path | None = None


def _section(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    return value


def load_config(project: Path) -> Config:
    """Read `sfn-local.toml`, else `[tool.sfn-local]` of pyproject.toml; an empty Config when neither."""
    candidates = [(project / "sfn-local.toml", None), (project / "pyproject.toml", ("tool", "sfn-local"))]
    for path, keys in candidates:
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        for key in keys or ():
            data = data.get(key, {})
        if keys and not data:
            continue
        where = str(path)
        buckets = {name: (project / str(folder)).resolve() for name, folder in _section(data, "buckets", where).items()}
        return Config(
            buckets=buckets,
            crawlers=_section(data, "crawlers", where),
            glue_jobs=_section(data, "glue_jobs", where),
            lambdas={k: str(v) for k, v in _section(data, "lambdas", where).items()},
            source=path,
        )
    return Config()


class Workspace:
    """One workspace directory and the config of the project it belongs to."""

    def __init__(self, root: str | os.PathLike[str] | None = None, project: str | os.PathLike[str] | None = None,
                 config: Config | None = None) -> None:
        self.project = Path(project or Path.cwd()).resolve()
        self.root = Path(root or os.environ.get(WORKSPACE_ENV) or self.project / DEFAULT_WORKSPACE).resolve()
        self.config = config if config is not None else load_config(self.project)

    def path(self, *parts: str) -> Path:
        """A directory under the workspace, created on first use."""
        folder = self.root.joinpath(*parts)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"
