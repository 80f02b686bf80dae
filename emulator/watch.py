"""`sfn-local watch`: run the project's EventBridge rules (`[rules.NAME]` in sfn-local.toml) locally.

Event rules fire on what the local services emit in any process using the workspace (S3 writes,
files dropped into watched bucket folders, Glue job and crawler state changes, execution status
changes); schedule rules fire on a clock:

    sfn-local watch                                   # until Ctrl-C; schedules on the real clock
    sfn-local watch --clock virtual --until 1d        # a day of schedules at once, then stop
    sfn-local watch --max-fires 1 --timeout 60        # CI: wait for one firing, at most a minute

On the virtual clock the watch jumps from one scheduled fire to the next without sleeping (from
`--start`, default now) and stops at `--until`. Each firing is printed and its execution saved as
`run` saves one (`sfn-local history NAME`). `serve` runs the same rules in a background thread.
Exit status: 0 when every started execution succeeded, 1 otherwise, 2 for a bad option or config.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import click

from emulator.events.runner import Firing, RuleRunner, RunnerBusy
from emulator.workspace import ConfigError, Workspace

_DURATION = re.compile(r"(\d+)([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SERVE_POLL_SECONDS = 0.5


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"'{text}' is not an ISO date-time such as 2026-01-31T08:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _until(text: str | None, start: datetime) -> datetime | None:
    if text is None:
        return None
    if (match := _DURATION.fullmatch(text)) is not None:
        return start + timedelta(seconds=int(match.group(1)) * _SECONDS[match.group(2)])
    return _moment(text)


def _save(workspace: Workspace, firing: Firing) -> None:
    """The execution, in the workspace's store as `run` records one, so `sfn-local history NAME` shows it."""
    from emulator.cli import save_finished

    if firing.execution is not None:
        save_finished(workspace, firing.execution)


def _describe(firing: Firing) -> str:
    head = f"{firing.event.get('time')} rule {firing.rule} ({firing.event.get('detail-type')}) -> {firing.target}"
    if firing.execution is None:
        return f"{head}: not started: {firing.error}"
    execution = firing.execution
    tail = f" {execution.error}: {(execution.cause or '')[:200]}" if execution.error else ""
    return f"{head}: execution {execution.name} {execution.status}{tail}"


def start_rules_thread(workspace: Workspace, clock: str = "virtual") -> Callable[[], None]:
    """For `serve`: run the workspace's rules in a daemon thread (schedules on the real clock); returns stop.
    Nothing runs when the project has no rules or another process already runs them (said on stderr)."""
    if not workspace.config.rules:
        return lambda: None
    runner = RuleRunner(workspace, clock=clock, on_fire=lambda f: click.echo(_describe(f), err=True))
    try:
        runner.open()
    except RunnerBusy as exc:
        click.echo(f"warning: rules not run here: {exc}", err=True)
        return lambda: None
    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.is_set():
                try:
                    runner.step()
                    runner.fire_schedules(datetime.now(UTC))
                except Exception as exc:  # the endpoint keeps serving; the next round tries again
                    click.echo(f"warning: rules: {type(exc).__name__}: {exc}", err=True)
                stop.wait(SERVE_POLL_SECONDS)
        finally:
            runner.close()

    thread = threading.Thread(target=loop, name="sfn-local-rules", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join()

    return halt


@click.command("watch")
@click.option("--clock", type=click.Choice(["real", "virtual"]), default="real", show_default=True,
              help="Schedules on the real clock, or on a virtual one that jumps to each next fire.")
@click.option("--start", "start_text", default=None, metavar="ISO",
              help="Virtual clock: when it starts (default now); rate() schedules count from it.")
@click.option("--until", "until_text", default=None, metavar="ISO|DURATION",
              help="Stop at this time (2026-01-31T00:00:00Z), or this long after the start (90s, 15m, 2h, 3d).")
@click.option("--max-fires", type=click.IntRange(1), default=None, help="Stop after this many targets started.")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=None, metavar="SECONDS",
              help="Stop after this many real seconds.")
@click.option("--real-time", is_flag=True, help="Started executions sleep for real in Wait states and back-off.")
@click.option("--interval", type=click.FloatRange(0.05), default=0.5, show_default=True, metavar="SECONDS",
              help="How often the event log and the watched folders are read.")
@click.option("--json", "as_json", is_flag=True, help="Print each firing as one JSON line.")
def watch_command(clock: str, start_text: str | None, until_text: str | None, max_fires: int | None,
                  timeout: float | None, real_time: bool, interval: float, as_json: bool) -> None:
    """Run the project's EventBridge rules: start their state machines on events and schedules."""
    root = click.get_current_context().find_root().params.get("workspace")
    try:
        workspace = Workspace(root)
        start = _moment(start_text) if start_text else datetime.now(UTC)
        until = _until(until_text, start)
        runner = RuleRunner(workspace, clock="real" if real_time else "virtual", schedule_start=start)
    except ConfigError as exc:
        click.echo(f"error: config: {exc}", err=True)
        sys.exit(2)
    except click.BadParameter as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
    if not runner.rules:
        click.echo("error: no rules: add [rules.NAME] tables (EventPattern or ScheduleExpression, Targets) to "
                   "sfn-local.toml", err=True)
        sys.exit(2)
    virtual = clock == "virtual"
    if virtual and runner.next_fires and until is None and max_fires is None:
        click.echo("error: --clock virtual fires schedules without waiting: give --until or --max-fires", err=True)
        sys.exit(2)
    fired: list[Firing] = []

    def show(firing: Firing) -> None:
        fired.append(firing)
        _save(workspace, firing)
        click.echo(json.dumps(firing.record(), default=str) if as_json else _describe(firing))

    runner.on_fire = show
    try:
        runner.open()
    except RunnerBusy as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    watched = ", ".join(f"s3://{b}/{p}" for b, p in runner.watches) or "none"
    click.echo(f"watching {len(runner.rules)} rule(s) in {workspace.root} (folders: {watched}; "
               f"{clock} clock); Ctrl-C stops", err=True)
    deadline = time.monotonic() + timeout if timeout else None

    def done() -> bool:
        return (max_fires is not None and len(fired) >= max_fires) or \
            (deadline is not None and time.monotonic() >= deadline)

    try:
        while not done():
            runner.step()
            if done():
                break
            if virtual and runner.next_fires:
                upcoming = runner.next_schedule()
                if upcoming is not None and (until is None or upcoming <= until):
                    runner.fire_schedules(upcoming)
                    continue
                runner.step()  # what the last fires caused, before the clock stops
                break
            now = datetime.now(UTC)
            if until is not None and now >= until:
                break
            if not virtual:
                runner.fire_schedules(now)
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        runner.close()
    failed = [f for f in fired if f.execution is None or f.execution.status != "SUCCEEDED"]
    click.echo(f"{len(fired)} target(s) started, {len(failed)} not succeeded", err=True)
    sys.exit(1 if failed else 0)
