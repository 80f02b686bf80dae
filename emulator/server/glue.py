"""AWS Glue's JSON API (`X-Amz-Target: AWSGlue.<Action>`): the same catalog, crawler and job-run
actions `aws-sdk:glue:*` Tasks run (`integrations/glue.py`, `integrations/gluejobs.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.backends.catalog import GlueError
from emulator.integrations import glue as catalog_api
from emulator.integrations.gluejobs import GlueJobError, GlueJobs
from emulator.server.protocol import Action, Params, backend_action


def _catalog(action: Callable[[Any, Params], Params]) -> Action:
    return backend_action(action, lambda backends: backends.catalog, GlueError)


def _jobs(action: Callable[[GlueJobs, Params], Params]) -> Action:
    return backend_action(action, lambda backends: GlueJobs(backends.workspace, backends.spark), GlueJobError)


ACTIONS: dict[str, Action] = {
    **{name[0].upper() + name[1:]: _catalog(action) for name, action in catalog_api.ACTIONS.items()},
    "StartJobRun": _jobs(lambda jobs, p: {"JobRunId": jobs.start_job_run(p)["JobRunId"]}),
    "GetJobRun": _jobs(GlueJobs.get_job_run),
    "GetJobRuns": _jobs(GlueJobs.get_job_runs),
    # Workflows and triggers, Data Quality rulesets, runs and results.
    **{name[0].upper() + name[1:]: backend_action(action, lambda backends: backends, GlueError)
       for name, action in catalog_api.SERVICE_ACTIONS.items()},
}
