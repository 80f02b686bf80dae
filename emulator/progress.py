"""What `sfn-local run` shows a person on a terminal: live progress.

`Progress` is an engine observer (`emulator.engine.observe`) that keeps the states running now and each
Parallel / Map state's branch counts, and draws them with a transient `rich.live.Live` while the
execution runs; `summary` is the one line left behind. (Athena results as tables: emulator/tables.py.)
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from rich.columns import Columns
from rich.console import Console, Group
from rich.live import Live
from rich.padding import Padding
from rich.panel import Panel
from rich.text import Text

from emulator import background
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
            parallels = {key for key, fan in self._fans.items() if fan.kind == "Parallel"}
        frame = _SPINNER[int((now - self._began) * 8) % len(_SPINNER)]
        lines: list[Any] = [Text(f"{frame} running {_seconds(now - self._began)} · {visited} states visited",
                                 style="bold")]
        # What runs inside a Parallel's branches is drawn in one column per branch, side by side.
        branches: dict[tuple[Path, str], dict[int, list[Text]]] = {}
        shown = 0
        for (path, state), (kind, since) in running:
            owner = (path[:-1], path[-1][0]) if path else None
            in_branch = owner in parallels
            line = Text(f"{state if in_branch else '  ' + _label(path, state)} ({kind}) {_seconds(now - since)}")
            if (key := (path, state)) in fans:
                line.append(f"  {fans[key]}", style="cyan")
            if in_branch:
                branches.setdefault(owner, {}).setdefault(path[-1][1], []).append(line)
            elif shown < MAX_RUNNING_SHOWN:
                shown += 1
                lines.append(line)
        for (path, name), by_branch in branches.items():
            lines.append(Text(f"  {_label(path, name)} branches:", style="cyan"))
            lines.append(Padding(Columns([Panel(Group(*texts), title=f"branch {index}", expand=False)
                                          for index, texts in sorted(by_branch.items())]), (0, 0, 0, 4)))
        hidden = len(running) - shown - sum(len(t) for b in branches.values() for t in b.values())
        if hidden > 0:
            lines.append(Text(f"  … and {hidden} more"))
        work = background.activity()
        for name, seconds in work[:MAX_RUNNING_SHOWN]:
            lines.append(Text(f"  ↳ {name} {_seconds(seconds)}", style="dim"))
        if work:
            lines.extend(Text(f"  ↳ {line}", style="magenta") for line in _spark_jobs())
        return Group(*lines)

    def summary(self, status: str, wall: float, virtual: float) -> str:
        """One line: status, real and virtual duration, states visited, each Parallel / Map's counts."""
        with self._lock:
            fans = [f"{self._fans[key].name} {self._fans[key].text()}" for key in self._order]
        parts = [status, f"real {_seconds(wall)}", f"virtual {_seconds(virtual)}", f"{self.visited} states visited"]
        return " · ".join(parts + fans)


def _spark_jobs() -> list[str]:
    """The local Spark session's running stages, from its status tracker (nothing when Spark is not loaded)."""
    # No import here, ever: the display draws while holding the console's lock, and a job thread
    # still importing pyspark may be waiting for that lock to print.
    spark_context = getattr(sys.modules.get("pyspark"), "SparkContext", None)
    context = getattr(spark_context, "_active_spark_context", None)
    if context is None or getattr(context, "_jsc", None) is None:  # not started, or still starting
        return []
    try:
        tracker = context.statusTracker()
        lines = []
        for stage_id in sorted(tracker.getActiveStageIds()):
            info = tracker.getStageInfo(stage_id)
            if info is not None:
                lines.append(f"spark stage {stage_id} ({info.name.split(' at ')[0]}): "
                             f"{info.numCompletedTasks}/{info.numTasks} tasks, {info.numActiveTasks} running")
        return lines
    except Exception:  # the session stopping under the display: show nothing this frame
        return []
