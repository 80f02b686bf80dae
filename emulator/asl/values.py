"""JSON values as AWS shows them in messages and history: compact text, and type names."""

from __future__ import annotations

import json
from typing import Any

_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
# JSONEncoder.encode builds a new C encoder on every call; this one is built once, which makes a
# small document's text about twice as quick to make. It keeps no circular-reference marks (shared
# marks would not be safe across threads): a cycle ends in RecursionError, and the plain encoder
# then says what it is.
_c_encode = json.encoder.c_make_encoder and json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, True)


def to_json(value: Any) -> str:
    """Compact JSON text, as AWS renders payloads (no spaces, non-ASCII kept)."""
    if _c_encode is None or type(value) is str:
        return _encoder.encode(value)
    try:
        return _c_encode(value, 0)[0]
    except RecursionError:
        return _encoder.encode(value)


_c_scan = json.scanner.c_make_scanner and json.scanner.c_make_scanner(  # type: ignore[attr-defined]
    json.JSONDecoder())


def from_json(text: str) -> Any:
    """The value of JSON text `to_json` wrote: json.loads without its Python wrapper, which costs as much
    as decoding a small document (the engine copies every payload it hands a handler this way). Other
    text (spaces around it, an error) goes to json.loads, which says what is wrong."""
    if _c_scan is not None:
        try:
            value, end = _c_scan(text, 0)
        except StopIteration:
            pass
        else:
            if end == len(text):
                return value
    return json.loads(text)


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
