"""Payload templates: Parameters, ResultSelector, ItemSelector (JSONPath query language).

A template is compiled once into a tree of evaluators; keys ending in `.$` hold a path or an
intrinsic function, at any depth. Static subtrees are kept as they are and shared, which is
safe because nothing in the engine mutates a value in place, and code outside it only gets
copies: a Task handler its own parsed payload, the caller a parsed copy of the output.
"""

from __future__ import annotations

from typing import Any

from emulator.asl.intrinsics import compile_intrinsic, is_intrinsic
from emulator.asl.paths import Env, compile_path
from emulator.asl.values import to_json


class Template:
    """A compiled payload template: `render(data, env)` builds the new JSON value."""

    __slots__ = ("_render", "dynamic")

    def __init__(self, spec: Any) -> None:
        self._render, self.dynamic = _compile(spec)

    def render(self, data: Any, env: Env | None) -> Any:
        return self._render(data, env) if self.dynamic else self._render


def _compile(spec: Any) -> tuple[Any, bool]:
    """Return (renderer, dynamic); a static spec comes back as the value itself."""
    if isinstance(spec, dict):
        parts: list[tuple[str, Any, bool]] = []
        dynamic = False
        for key, value in spec.items():
            if key.endswith(".$") and isinstance(value, str):
                parts.append((key[:-2], _selector(key, value), True))
                dynamic = True
            else:
                render, sub_dynamic = _compile(value)
                parts.append((key, render, sub_dynamic))
                dynamic = dynamic or sub_dynamic
        if not dynamic:
            return spec, False

        def render_object(data: Any, env: Env | None) -> dict[str, Any]:
            return {key: (fn(data, env) if dyn else fn) for key, fn, dyn in parts}

        return render_object, True
    if isinstance(spec, list):
        items = [_compile(v) for v in spec]
        if not any(dyn for _, dyn in items):
            return spec, False

        def render_array(data: Any, env: Env | None) -> list[Any]:
            return [fn(data, env) if dyn else fn for fn, dyn in items]

        return render_array, True
    return spec, False


def _selector(key: str, expression: str) -> Any:
    """Compile one `key.$` value into a function of (data, env)."""
    if is_intrinsic(expression):
        intrinsic = compile_intrinsic(expression)
        return intrinsic.evaluate
    path = compile_path(expression)

    def describe(searched: Any) -> str:
        return (f"The JSONPath '{expression}' specified for the field '{key}' could not be found "
                f"in the input '{to_json(searched)}'")

    return lambda data, env: path.get_for(data, env, describe)
