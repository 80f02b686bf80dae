"""Where two JSON values first differ: the line `sfn-local test` and the pytest plugin print."""

from __future__ import annotations

from typing import Any


def first_difference(expected: Any, actual: Any, where: str = "$") -> tuple[str, Any, Any] | None:
    """The JSON path of the first place two JSON values differ, with both values there; None if equal."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in list(expected) + [k for k in actual if k not in expected]:
            if key not in actual:
                return f"{where}.{key}", expected[key], "<missing>"
            if key not in expected:
                return f"{where}.{key}", "<missing>", actual[key]
            found = first_difference(expected[key], actual[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        for index, (e, a) in enumerate(zip(expected, actual, strict=False)):
            found = first_difference(e, a, f"{where}[{index}]")
            if found:
                return found
        if len(expected) != len(actual):
            return f"{where}.length", len(expected), len(actual)
        return None
    # JSON's equality: 1 equals 1.0, but true is not 1.
    if expected == actual and isinstance(expected, bool) == isinstance(actual, bool):
        return None
    return where, expected, actual
