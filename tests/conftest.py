"""Shared helpers: build small definitions inline."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings

# Property tests: no per-example deadline (a loaded 2-core CI machine makes timing flaky), and in CI
# the same examples every run (derandomize), so a red run can be reproduced.
settings.register_profile("sfn-local", deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          derandomize=bool(os.environ.get("CI")))
settings.load_profile("sfn-local")


def chain(*states: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A definition whose states run in the order given (Next filled in, last one End)."""
    names = [name for name, _ in states]
    built = {}
    for i, (name, body) in enumerate(states):
        body = dict(body)
        terminal = body["Type"] in ("Choice", "Succeed", "Fail")
        if not terminal and "Next" not in body and "End" not in body:
            if i + 1 < len(states):
                body["Next"] = names[i + 1]
            else:
                body["End"] = True
        built[name] = body
    return {"StartAt": names[0], "States": built, **top}


def types(execution: Any) -> list[str]:
    return [e["type"] for e in execution.history]
