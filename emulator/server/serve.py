"""`sfn-local serve`: the AWS endpoint on this machine, and the same in a thread for tests and `run`.

Clients point their endpoint URL at it, e.g. `boto3.client("stepfunctions",
endpoint_url="http://127.0.0.1:8083", ...)` or `aws stepfunctions ... --endpoint-url ...`.
StartSyncExecution is sent to a `sync-` host prefix by botocore: pass
`botocore.config.Config(inject_host_prefix=False)` or set AWS_DISABLE_HOST_PREFIX_INJECTION=true.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import click
import uvicorn

from emulator.integrations import endpoint
from emulator.server.app import create_app
from emulator.workspace import ConfigError, Workspace

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8083


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted connections: without it each answer waits ~40 ms for a delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _url(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_server(workspace: Workspace, clock: str = "virtual", log_level: str = "warning",
                activity_poll_seconds: float = 60.0) -> uvicorn.Server:
    """The endpoint for `workspace` as a uvicorn server, to run on sockets the caller bound."""
    app = create_app(workspace, clock=clock, activity_poll_seconds=activity_poll_seconds)
    # A stop must not wait out a GetActivityTask long poll (up to a minute). httptools parses HTTP in C (h11,
    # uvicorn's pure-Python parser, costs more than a short execution). asyncio's loop, not uvloop: with the
    # API's calls handed to threads and back, uvloop cost ~20% more CPU per call here. Requests are logged
    # at --log-level info only; no proxy stands in front of this server.
    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="off", timeout_graceful_shutdown=3,
                                         http="httptools", loop="asyncio",
                                         access_log=log_level in ("info", "debug"), proxy_headers=False))


def start_in_thread(workspace: Workspace | None = None, *, clock: str = "virtual",
                    activity_poll_seconds: float = 60.0) -> tuple[str, Callable[[], None]]:
    """Serve on a free loopback port in a background thread; returns (url, stop)."""
    sock = _bind(DEFAULT_HOST, 0)
    server = make_server(workspace or Workspace(), clock, "warning", activity_poll_seconds)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sfn-local-serve", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join()
        sock.close()

    return _url(sock, DEFAULT_HOST), stop


@click.command("serve")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port to listen on (0: any free port; the URL is printed).")
@click.option("--allow-remote", is_flag=True, help="Allow a non-loopback --host (the endpoint has no authentication).")
@click.option("--workspace", type=click.Path(file_okay=False), default=None,
              help="Local state; default the sfn-local --workspace, ./.sfn-local or $SFN_LOCAL_WORKSPACE.")
@click.option("--real-time", is_flag=True, help="Sleep for real in Wait states and retry back-off.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="warning", show_default=True, help="Server log level (info logs every request).")
@click.option("--mock-config", default=None, metavar="FILE",
              help="AWS's mock config file: StartExecution of `<stateMachineArn>#<TestCase>` runs that test case "
                   "(default $SFN_MOCK_CONFIG).")
def serve_command(host: str, port: int, allow_remote: bool, workspace: str | None, real_time: bool,
                  log_level: str, mock_config: str | None) -> None:
    """Serve the Step Functions API (and the local data services) for boto3 and the aws CLI."""
    loopback = is_loopback(host)
    if not loopback and not allow_remote:
        click.echo(f"error: refusing to serve on {host}: not a loopback address, and this endpoint has no "
                   f"authentication; pass --allow-remote to serve other machines anyway", err=True)
        sys.exit(2)
    space = open_workspace(workspace)
    sock = listen(host, port)
    if mock_config is not None:
        from emulator.integrations.mocks import MOCK_CONFIG_ENV, MockConfig, MockConfigError

        try:
            MockConfig.load(mock_config)  # a bad file is refused now, not at its first test case
        except MockConfigError as exc:
            click.echo(f"error: --mock-config: {exc}", err=True)
            sys.exit(2)
        os.environ[MOCK_CONFIG_ENV] = str(Path(mock_config).resolve())  # where executions look it up
    run_until_stopped(space, sock, host, real_time=real_time, log_level=log_level)


def open_workspace(workspace: str | None) -> Workspace:
    """The workspace a server command serves (its option, else the sfn-local --workspace); a bad config exits 2."""
    root = workspace or click.get_current_context().find_root().params.get("workspace")
    try:
        return Workspace(root)
    except ConfigError as exc:
        click.echo(f"error: config: {exc}", err=True)
        sys.exit(2)


def listen(host: str, port: int, hint: str = "") -> socket.socket:
    """The bound socket; a port that cannot be had exits 2, with `hint` after the reason."""
    try:
        return _bind(host, port)
    except OSError as exc:
        click.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}{hint}", err=True)
        sys.exit(2)


def run_until_stopped(space: Workspace, sock: socket.socket, host: str, *, real_time: bool, log_level: str = "warning",
                      note: str = "", started: Callable[[uvicorn.Server, str], None] | None = None) -> None:
    """Serve `space` on `sock` until stopped, with the project's EventBridge rules and the warm Spark service
    running beside it; `started(server, url)` is called once it is set up (before it accepts)."""
    clock = "real" if real_time else "virtual"
    server = make_server(space, clock, log_level, 60.0)
    url = _url(sock, host)
    loopback = is_loopback(host)
    if loopback:  # Lambda handlers run by this server call it rather than a second endpoint
        endpoint.register(space.root, url)
    click.echo(f"sfn-local serving on {url} ({'loopback only' if loopback else 'REMOTE ACCESS ALLOWED'}){note}")
    if started is not None:
        started(server, url)
    from emulator.watch import start_rules_thread  # EventBridge rules of sfn-local.toml, as `watch` runs them

    try:
        stop_rules = start_rules_thread(space, clock)
    except ConfigError as exc:
        click.echo(f"error: config: {exc}", err=True)
        sys.exit(2)
    from emulator.backends.sparkservice import advertise  # `run` on this workspace uses this server's warm Spark

    try:
        with advertise(space, url):
            server.run(sockets=[sock])
    finally:
        stop_rules()
