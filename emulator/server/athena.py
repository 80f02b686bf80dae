"""Amazon Athena's JSON API (`X-Amz-Target: AmazonAthena.<Action>`): the actions `athena:*` Tasks run
(`integrations/athena.py`) on the same DuckDB query engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.backends import Backends
from emulator.backends.sql import AthenaError, QueryEngine
from emulator.errors import StatesError
from emulator.integrations import athena as athena_api
from emulator.server.protocol import ServiceError

Params = dict[str, Any]
Action = Callable[[Backends, Params], Params]


def _wrap(action: Callable[[QueryEngine, Params], Params]) -> Action:
    def run(backends: Backends, params: Params) -> Params:
        try:
            return action(backends.sql, params)
        except AthenaError as exc:
            raise ServiceError(exc.code, exc.message) from None
        except StatesError as exc:  # the integration's request checks name the error `Athena.<Code>`
            code = (exc.error or "").removeprefix("Athena.")
            raise ServiceError(code, (exc.cause or "").split(" (Service: ", 1)[0]) from None
    return run


ACTIONS: dict[str, Action] = {name[0].upper() + name[1:]: _wrap(action) for name, action in athena_api.ACTIONS.items()}
