"""awsglue.job: Job.init / Job.commit and job bookmarks.

`--job-bookmark-option` (from the job's arguments) is Glue's:
- job-bookmark-enable: a source with a transformation_ctx reads only the files that are new (or
  changed: another ETag) since the last committed run; `commit()` records what this run read.
- job-bookmark-pause: reads only what is new since the last committed run, and `commit()` leaves
  the bookmark as it was.
- job-bookmark-disable (the default): every run reads everything, and no bookmark is kept.
Bookmarks are kept per job name and transformation_ctx in `<workspace>/glue-bookmarks/<job>.json`
(a run that fails before `commit()` leaves them unchanged, as on Glue).
"""

from __future__ import annotations

import sys
from typing import Any

from emulator.backends.catalog import read_json, write_json
from emulator.glue_runtime import bookmark_path, current, get_resolved_options

ENABLE, PAUSE, DISABLE = "job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable"


def _option(args: dict[str, Any] | None) -> str:
    """The bookmark option: in the args given to init, else in the job's argv."""
    for key in ("job_bookmark_option", "job-bookmark-option"):
        if args and key in args:
            return str(args[key])
    argv = list(sys.argv)
    if "--job-bookmark-option" in argv or any(a.startswith("--job-bookmark-option=") for a in argv):
        return get_resolved_options(argv, ["job-bookmark-option"])["job-bookmark-option"]
    return DISABLE


def _run_id() -> str:
    argv = list(sys.argv)
    return get_resolved_options(argv, ["JOB_RUN_ID"])["JOB_RUN_ID"] if "--JOB_RUN_ID" in argv else ""


class Job:
    """A Glue job run as the script sees it: `Job(glueContext)`, `init(name, args)` first, `commit()` last."""

    def __init__(self, glue_context: Any) -> None:
        self._glue_context = glue_context
        self._name: str | None = None
        self._option = DISABLE
        self._state: dict[str, Any] = {"Run": 0, "Contexts": {}}
        self._pending: dict[str, dict[str, str]] = {}

    def init(self, job_name: str, args: dict[str, Any] | None = None) -> None:
        option = _option(args)
        if option not in (ENABLE, PAUSE, DISABLE):
            raise ValueError(f"--job-bookmark-option {option!r} is not one of {ENABLE}, {PAUSE}, {DISABLE}")
        self._name, self._option = job_name, option
        path = self._path()
        if option != DISABLE and path.is_file():
            self._state = read_json(path)
        self._glue_context._job = self

    def isInitialized(self) -> bool:
        return self._name is not None

    def _path(self) -> Any:
        return bookmark_path(current().workspace, self._name or "job")

    def _new_files(self, transformation_ctx: str, files: list[tuple[str, str]]) -> list[str]:
        """The files a bookmarked source reads; with job-bookmark-enable they are remembered for commit()."""
        if self._option == DISABLE:
            return [uri for uri, _ in files]
        seen: dict[str, str] = self._state["Contexts"].get(transformation_ctx, {})
        new = [(uri, etag) for uri, etag in files if seen.get(uri) != etag]
        if self._option == ENABLE:
            self._pending.setdefault(transformation_ctx, {}).update(new)
        return [uri for uri, _ in new]

    def commit(self) -> None:
        """Record what this run read (job-bookmark-enable only)."""
        if self._option != ENABLE:
            return
        with current().workspace.lock("glue-bookmarks"):
            path = self._path()
            state = read_json(path) if path.is_file() else {"Run": 0, "Contexts": {}}
            for ctx, files in self._pending.items():
                state["Contexts"].setdefault(ctx, {}).update(files)
            state["Run"] += 1
            state["JobName"] = self._name
            state["PreviousRunId"] = state.get("RunId", "")
            state["RunId"] = _run_id()
            write_json(path, state)
        self._state, self._pending = state, {}


__all__ = ["Job"]
