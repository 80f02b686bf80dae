"""Lambda-style handlers for the debugger's tests (tests/test_debugger.py, tests/test_dap.py)."""

from __future__ import annotations

from typing import Any


def transform(event: dict[str, Any]) -> dict[str, Any]:
    """Doubles an item's value; an item without one fails, as a bad record would."""
    if "value" not in event:
        raise ValueError(f"item {event.get('id')} has no value")
    return {"id": event["id"], "doubled": event["value"] * 2}
