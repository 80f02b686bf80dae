"""Workflow variables (`Assign`, `$name`) and their scopes.

The top-level states share one scope. A Parallel branch or Map iteration gets a child scope:
it reads the outer variables, and what it assigns stays its own. New values are applied when
the assigning state finishes, so every expression in a state sees the values it was entered with.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from emulator.asl.values import to_json
from emulator.errors import RUNTIME, StatesError

# AWS's quotas: one variable, one state's assignments together, all variables of an execution.
MAX_VARIABLE_BYTES = 256 * 1024
MAX_ASSIGN_BYTES = 256 * 1024
MAX_TOTAL_BYTES = 10 * 1024 * 1024


class Variables(Mapping[str, Any]):
    """One scope of variables, falling back to its parent's for reads."""

    __slots__ = ("_sizes", "parent", "values")

    def __init__(self, parent: Variables | None = None) -> None:
        self.values: dict[str, Any] = {}
        self.parent = parent
        self._sizes: dict[str, int] = {}

    def __getitem__(self, name: str) -> Any:
        scope: Variables | None = self
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            scope = scope.parent
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        scope: Variables | None = self
        while scope is not None:
            if name in scope.values:
                return True
            scope = scope.parent
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.flatten())

    def __len__(self) -> int:
        return len(self.flatten())

    def flatten(self) -> dict[str, Any]:
        """Every visible variable, inner scopes winning (a fresh dict the caller may extend)."""
        if self.parent is None:
            return dict(self.values)
        out = self.parent.flatten()
        out.update(self.values)
        return out

    def child(self) -> Variables:
        return Variables(self)

    def assign(self, values: Mapping[str, Any]) -> dict[str, str]:
        """Apply one state's Assign; returns the JSON text of each value, as history shows it."""
        texts = {name: to_json(value) for name, value in values.items()}
        sizes = {name: len(text.encode("utf-8")) for name, text in texts.items()}
        for name, size in sizes.items():
            if size > MAX_VARIABLE_BYTES:
                raise StatesError(RUNTIME, f"The variable '{name}' has a size of {size} bytes, more than the "
                                           f"maximum of {MAX_VARIABLE_BYTES} bytes.")
        if sum(sizes.values()) > MAX_ASSIGN_BYTES:
            raise StatesError(RUNTIME, f"The variables assigned in this state exceed the maximum of "
                                       f"{MAX_ASSIGN_BYTES} bytes.")
        total = sum(self._sizes.values()) - sum(self._sizes.get(n, 0) for n in sizes) + sum(sizes.values())
        if total > MAX_TOTAL_BYTES:
            raise StatesError(RUNTIME, f"The variables of this execution exceed the maximum of "
                                       f"{MAX_TOTAL_BYTES} bytes.")
        self.values.update(values)
        self._sizes.update(sizes)
        return texts
