"""What `sfn-local run` shows a person: live progress on a terminal, Athena results as tables.

`Progress` is an engine observer (`emulator.engine.observe`) that keeps the states running now and each
Parallel / Map state's branch counts, and draws them with a transient `rich.live.Live` while the
execution runs; `summary` is the one line left behind. `render_output` prints an execution's output as
JSON with every Athena ResultSet inside it drawn as a table below.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from emulator.engine.observe import Context, Observer, Path
from emulator.errors import StatesError

MAX_RUNNING_SHOWN = 8  # running states listed before "… and N more" (a wide Map has hundreds)
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@dataclass
class _Fan:
    """One Parallel or Map state's branches (or iterations) in one run of it."""

    kind: str
    name: str
    total: int | None = None
    started: int = 0
    done: int = 0
    failed: int = 0

    def text(self) -> str:
        total = "?" if self.total is None else str(self.total)
        noun = "iterations" if self.kind == "Map" else "branches"
        running = self.started - self.done - self.failed
        parts = [f"{self.done + self.failed}/{total} {noun}"]
        if running:
            parts.append(f"{running} running")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return ", ".join(parts)


def _label(path: Path, state: str) -> str:
    return " > ".join([*(f"{name}[{index}]" for name, index in path), state])


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(value), 60)
    return f"{minutes}m {secs:02d}s"


class Progress(Observer):
    """Live progress of one execution; use as a context manager around `machine.run(..., observer=it)`."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()  # branches report from worker threads
        self._running: dict[tuple[Path, str], tuple[str, float]] = {}
        self._fans: dict[tuple[Path, str], _Fan] = {}
        self._order: list[tuple[Path, str]] = []  # fans in the order they started, for the summary
        self.visited = 0
        self._began = time.monotonic()
        self._live = Live(console=console, transient=True, refresh_per_second=8, get_renderable=self._render)

    def __enter__(self) -> Progress:
        self._began = time.monotonic()
        self._live.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._live.stop()

    # -- the observer -------------------------------------------------------------------------
    def state_entered(self, ctx: Context, state: Any, input: Any) -> None:
        kind = getattr(state, "type", type(state).__name__)
        with self._lock:
            self.visited += 1
            self._running[(ctx.path, ctx.state)] = (kind, time.monotonic())
            if kind in ("Parallel", "Map"):
                branches = getattr(state, "branches", None)
                self._start_fan(ctx, kind, len(branches) if kind == "Parallel" and branches else None)

    def stage(self, ctx: Context, state: Any, name: str, value: Any) -> None:
        if name == "afterItemsPath" and isinstance(value, list):
            with self._lock:
                self._start_fan(ctx, "Map", len(value))  # a retried Map starts its count again

    def state_exited(self, ctx: Context, state: Any, output: Any, next_state: str | None) -> None:
        with self._lock:
            self._running.pop((ctx.path, ctx.state), None)

    def state_failed(self, ctx: Context, state: Any, error: StatesError) -> None:
        with self._lock:
            self._running.pop((ctx.path, ctx.state), None)

    def branch_started(self, ctx: Context, state: Any, index: int, input: Any) -> None:
        with self._lock:
            if (fan := self._fans.get((ctx.path, ctx.state))) is not None:
                fan.started += 1

    def branch_ended(self, ctx: Context, state: Any, index: int, output: Any, error: StatesError | None) -> None:
        with self._lock:
            if (fan := self._fans.get((ctx.path, ctx.state))) is not None:
                if error is None:
                    fan.done += 1
                else:
                    fan.failed += 1

    def _start_fan(self, ctx: Context, kind: str, total: int | None) -> None:
        key = (ctx.path, ctx.state)
        if key not in self._fans:
            self._order.append(key)
        self._fans[key] = _Fan(kind, _label(ctx.path, ctx.state), total)

    # -- drawing ------------------------------------------------------------------------------
    def _render(self) -> Group:
        now = time.monotonic()
        with self._lock:
            running = sorted(self._running.items(), key=lambda item: item[1][1])
            fans = {key: self._fans[key].text() for key in self._running if key in self._fans}
            visited = self.visited
        frame = _SPINNER[int((now - self._began) * 8) % len(_SPINNER)]
        lines = [Text(f"{frame} running {_seconds(now - self._began)} · {visited} states visited", style="bold")]
        for (path, state), (kind, since) in running[:MAX_RUNNING_SHOWN]:
            line = Text(f"  {_label(path, state)} ({kind}) {_seconds(now - since)}")
            if (key := (path, state)) in fans:
                line.append(f"  {fans[key]}", style="cyan")
            lines.append(line)
        if len(running) > MAX_RUNNING_SHOWN:
            lines.append(Text(f"  … and {len(running) - MAX_RUNNING_SHOWN} more"))
        return Group(*lines)

    def summary(self, status: str, wall: float, virtual: float) -> str:
        """One line: status, real and virtual duration, states visited, each Parallel / Map's counts."""
        with self._lock:
            fans = [f"{self._fans[key].name} {self._fans[key].text()}" for key in self._order]
        parts = [status, f"real {_seconds(wall)}", f"virtual {_seconds(virtual)}", f"{self.visited} states visited"]
        return " · ".join(parts + fans)


# -- Athena results as tables ---------------------------------------------------------------------
def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(row, dict) and isinstance(row.get("Data"), list)
        and all(isinstance(cell, dict) for cell in row["Data"]) for row in value)


def _is_result_set(value: Any) -> bool:
    return isinstance(value, dict) and _is_rows(value.get("Rows"))


def _columns(result_set: dict[str, Any]) -> list[str] | None:
    info = (result_set.get("ResultSetMetadata") or {}).get("ColumnInfo")
    if isinstance(info, list) and all(isinstance(c, dict) for c in info):
        return [str(c.get("Label") or c.get("Name") or "") for c in info]
    return None


def result_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> Table:
    """Athena `Rows` as a table; its first row is the header (GetQueryResults' first page starts with the
    column names) unless `columns` are given and that row differs from them."""
    values = [[cell.get("VarCharValue") for cell in row["Data"]] for row in rows]
    if columns is None or (values and values[0] == columns):
        columns, values = [str(v) for v in values[0]], values[1:]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column)
    for row in values:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    return table


def _extract(value: Any, where: str, found: list[tuple[str, Table, int]]) -> Any:
    """`value` with each ResultSet (or Rows list) replaced by a note pointing at its table in `found`."""
    if _is_result_set(value) or _is_rows(value):
        rows = value["Rows"] if isinstance(value, dict) else value
        table = result_table(rows, _columns(value) if isinstance(value, dict) else None)
        found.append((where, table, table.row_count))
        return f"(table {len(found)} below: {table.row_count} rows)"
    if isinstance(value, dict):
        return {key: _extract(item, f"{where}.{key}", found) for key, item in value.items()}
    if isinstance(value, list):
        return [_extract(item, f"{where}[{i}]", found) for i, item in enumerate(value)]
    return value


def _tables(found: list[tuple[str, Table, int]]) -> Iterator[str]:
    for number, (where, table, _) in enumerate(found, 1):
        buffer = io.StringIO()
        Console(file=buffer, color_system=None, width=160, force_terminal=False).print(table)
        body = "\n".join(line.rstrip() for line in buffer.getvalue().rstrip().splitlines())
        yield f"table {number}: {where}\n{body}"


def render_output(output: Any) -> str:
    """An execution's output for a person: JSON, with every Athena ResultSet drawn as a table after it."""
    found: list[tuple[str, Table, int]] = []
    text = json.dumps(_extract(output, "$", found), indent=2, ensure_ascii=False, default=str)
    return "\n".join([text, *_tables(found)])
