"""Payload templates: Parameters, ResultSelector, ItemSelector (JSONPath query language).

A template is compiled once into a tree of evaluators; keys ending in `.$` hold a path or an
intrinsic function, at any depth. Static subtrees are kept as they are and shared, which is
safe because nothing in the engine mutates a value in place, and code outside it only gets
copies: a Task handler its own parsed payload, the caller a parsed copy of the output.
"""

from __future__ import annotations

import functools
from typing import Any

from emulator.asl.intrinsics import compile_intrinsic, is_intrinsic
from emulator.asl.paths import Env, compile_path
from emulator.asl.values import to_json

_CONTAINERS = (dict, list)  # for isinstance: a `dict | list` union would be built anew on every call


class Template:
    """A compiled payload template: `render(data, env)` builds the new JSON value."""

    __slots__ = ("_fill", "_render", "_skeleton", "dynamic")

    def __init__(self, spec: Any) -> None:
        # Templates are objects nearly always: their top level is rendered here, without a closure's call.
        parts = _object_parts(spec) if isinstance(spec, dict) else None
        self._skeleton: dict[str, Any] | None = None
        self._fill: list[tuple[str, Any]] = []
        if parts is not None and parts[1]:
            self._skeleton, self._fill = parts
            self._render, self.dynamic = None, True
        else:
            self._render, self.dynamic = (spec, False) if parts is not None else _compile(spec)

    def render(self, data: Any, env: Env | None) -> Any:
        skeleton = self._skeleton
        if skeleton is not None:
            out = skeleton.copy()
            for name, fn in self._fill:
                out[name] = fn(data, env)
            return out
        return self._render(data, env) if self.dynamic else self._render


def _compile(spec: Any) -> tuple[Any, bool]:
    """Return (renderer, dynamic); a static spec comes back as the value itself."""
    if isinstance(spec, dict):
        parts = _object_parts(spec)
        if parts is None:
            return _merging_renderer(spec), True
        if not parts[1]:
            return spec, False
        return _object_renderer(*parts), True
    if isinstance(spec, list):
        items = [_compile(v) for v in spec]
        if not any(dyn for _, dyn in items):
            return spec, False

        def render_array(data: Any, env: Env | None) -> list[Any]:
            return [fn(data, env) if dyn else fn for fn, dyn in items]

        return render_array, True
    return spec, False


def _object_parts(spec: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, Any]]] | None:
    """An object template as a skeleton (its static entries, in the template's key order, with a place kept
    for each dynamic one) and the dynamic entries' (name, renderer) in that order; None when names collide."""
    skeleton: dict[str, Any] = {}
    dynamic: list[tuple[str, Any]] = []
    for key, value in spec.items():
        if ".$" in key and key.endswith(".$") and isinstance(value, str):  # `in` first: a quicker test for most keys
            name = key[:-2]
            if name in skeleton:  # `a` and `a.$` both: see _merging_renderer
                return None
            skeleton[name] = None
            dynamic.append((name, _selector(key, value)))
            continue
        if key in skeleton:
            return None
        if isinstance(value, _CONTAINERS):
            render, sub_dynamic = _compile(value)
            if sub_dynamic:
                skeleton[key] = None
                dynamic.append((key, render))
                continue
        skeleton[key] = value
    return skeleton, dynamic


def _object_renderer(skeleton: dict[str, Any], dynamic: list[tuple[str, Any]]) -> Any:
    """Copy the skeleton and fill in the dynamic entries, evaluated in the template's order."""
    if len(dynamic) == 1:
        name, fn = dynamic[0]

        def render_one(data: Any, env: Env | None) -> dict[str, Any]:
            out = skeleton.copy()
            out[name] = fn(data, env)
            return out

        return render_one

    def render_object(data: Any, env: Env | None) -> dict[str, Any]:
        out = skeleton.copy()
        for name, fn in dynamic:
            out[name] = fn(data, env)
        return out

    return render_object


def _merging_renderer(spec: dict[str, Any]) -> Any:
    """An object whose keys collide once `.$` is dropped: every entry is evaluated in order, and the last
    one with a name gives its value, at the place of the first."""
    parts = []
    for key, value in spec.items():
        if key.endswith(".$") and isinstance(value, str):
            parts.append((key[:-2], _selector(key, value), True))
        else:
            render, dynamic = _compile(value)
            parts.append((key, render, dynamic))

    def render_merged(data: Any, env: Env | None) -> dict[str, Any]:
        return {key: (fn(data, env) if dyn else fn) for key, fn, dyn in parts}

    return render_merged


@functools.lru_cache(maxsize=4096)
def _selector(key: str, expression: str) -> Any:
    """Compile one `key.$` value into a function of (data, env).

    Cached: a definition repeats its selectors (`"id.$": "$.id"` in every state), and a selector holds
    no state of its own.
    """
    if is_intrinsic(expression):
        return compile_intrinsic(expression).evaluate

    def describe(searched: Any) -> str:
        return (f"The JSONPath '{expression}' specified for the field '{key}' could not be found "
                f"in the input '{to_json(searched)}'")

    return compile_path(expression).getter(describe)
