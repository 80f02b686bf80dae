"""Amazon Athena's JSON API (`X-Amz-Target: AmazonAthena.<Action>`): the actions `athena:*` Tasks run
(`integrations/athena.py`) on the same DuckDB query engine."""

from __future__ import annotations

from collections.abc import Callable

from emulator.backends.sql import AthenaError, QueryEngine
from emulator.errors import StatesError
from emulator.integrations import athena as athena_api
from emulator.server.protocol import Action, Params, ServiceError, backend_action


def _error(exc: AthenaError | StatesError) -> ServiceError:
    if isinstance(exc, AthenaError):
        return ServiceError(exc.code, exc.message)
    # The integration's request checks name the error `Athena.<Code>`.
    return ServiceError((exc.error or "").removeprefix("Athena."), (exc.cause or "").split(" (Service: ", 1)[0])


def _wrap(action: Callable[[QueryEngine, Params], Params]) -> Action:
    return backend_action(action, lambda backends: backends.sql, (AthenaError, StatesError), _error)


ACTIONS: dict[str, Action] = {name[0].upper() + name[1:]: _wrap(action) for name, action in athena_api.ACTIONS.items()}
