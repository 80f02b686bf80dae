"""`sfn-local ui`: open the web console in the browser, starting `sfn-local serve` first unless a
server already answers on the port."""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.request
import webbrowser

import click

from emulator.server.serve import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    _url,
    is_loopback,
    listen,
    open_workspace,
    run_until_stopped,
)


def running_console(base: str, timeout: float = 1.0) -> dict[str, object] | None:
    """The info of the sfn-local console answering at `base` (http://host:port), or None."""
    try:
        with urllib.request.urlopen(f"{base}/ui/api/info", timeout=timeout) as response:
            info = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and "sfnLocal" in info else None


def _open_when_started(server: object, url: str) -> None:
    while not getattr(server, "started", False) and not getattr(server, "should_exit", False):
        time.sleep(0.05)
    if getattr(server, "started", False):
        webbrowser.open(url)


@click.command("ui")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address of the server (loopback).")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port of the server: the console of a server already there is opened, else one is started.")
@click.option("--workspace", type=click.Path(file_okay=False), default=None,
              help="Local state of a server started here; default the sfn-local --workspace, ./.sfn-local "
                   "or $SFN_LOCAL_WORKSPACE.")
@click.option("--real-time", is_flag=True, help="A server started here sleeps for real in Wait states.")
@click.option("--no-browser", is_flag=True, help="Print the console's URL instead of opening a browser.")
def ui_command(host: str, port: int, workspace: str | None, real_time: bool, no_browser: bool) -> None:
    """Open the web console (executions as live graphs, the Glue catalog, buckets, Athena SQL)."""
    if not is_loopback(host):
        click.echo(f"error: {host} is not a loopback address; run `sfn-local serve --allow-remote` there and "
                   f"browse to its /ui/", err=True)
        sys.exit(2)
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    if port and running_console(base) is not None:
        click.echo(f"sfn-local console: {base}/ui/ (the server already running there)")
        if not no_browser:
            webbrowser.open(f"{base}/ui/")
        return
    space = open_workspace(workspace)
    sock = listen(host, port, " (and no sfn-local server answers there)")

    def opened(server: object, url: str) -> None:
        if not no_browser:
            threading.Thread(target=_open_when_started, args=(server, f"{url}/ui/"), daemon=True).start()

    url = _url(sock, host)
    run_until_stopped(space, sock, host, real_time=real_time, note=f"; console: {url}/ui/", started=opened)
