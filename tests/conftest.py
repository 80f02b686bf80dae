"""Shared helpers: build small definitions inline."""

from __future__ import annotations

from typing import Any


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
