"""JSON values as AWS shows them in messages and history: compact text, and type names."""

from __future__ import annotations

import json
from typing import Any

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def to_json(value: Any) -> str:
    """Compact JSON text, as AWS renders payloads (no spaces, non-ASCII kept)."""
    return _encode(value)


def json_type(value: Any) -> str:
    """The JSON type name AWS uses in its messages: null, boolean, number, string, array, object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
