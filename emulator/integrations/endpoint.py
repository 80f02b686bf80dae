"""The local AWS endpoint a Lambda handler's own boto3 calls reach, with no change to its code.

While sfn-local runs a handler, the process environment points the AWS SDKs at an endpoint
serving the execution's workspace (`AWS_ENDPOINT_URL`), with dummy credentials and region
us-east-1, so `boto3.client("s3")` inside the handler reads and writes the same local S3,
Glue catalog, Athena, ... as the Task states. The endpoint is started on first need, once per
workspace, on a free loopback port, and stopped at process exit; `sfn-local serve` registers
its own URL instead. The variables override the user's for the length of the call (local mode
makes no call off this machine). Setting and restoring them costs more than most handlers, so the
setting stays between one execution's calls and is undone by `release()` when the execution ends
(`emulator.run` returns with the user's environment), or before a handler of another workspace runs.

The environment is process-wide: handlers running at once (Map iterations on worker threads)
share one setting, counted in and out; a handler of another workspace waits until they are done.
"""

from __future__ import annotations

import atexit
import os
import selectors
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from emulator.backends import Backends
from emulator.workspace import Workspace

REGION = "us-east-1"
_FIXED = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # botocore would send StartSyncExecution (and other prefixed operations) to `sync-127.0.0.1`.
    "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
}
# Would send a client elsewhere than AWS_ENDPOINT_URL or make it ignore it: unset during the call.
_CLEARED_PREFIX = "AWS_ENDPOINT_URL_"
_CLEARED = ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")

# Re-entrant: url_for, called while it is held, takes it again. Entered as the lock itself (a Condition's
# `with` costs two Python calls, and it is entered around every handler call); waited on as `_changed`.
_lock = threading.RLock()
_changed = threading.Condition(_lock)
_urls: dict[Path, str] = {}
_endpoints: list[_Endpoint] = []
_saved: dict[Any, Any] = {}  # native names (bytes on POSIX) to the user's values (None: unset)


class _Active:
    """The workspace whose endpoint the environment points at (None: the user's environment), and how
    many calls are using it."""

    root: Path | None = None
    calls = 0


def register(root: Path, url: str) -> None:
    """Use `url` (an endpoint already serving the workspace at `root`) rather than starting one."""
    with _lock:
        _urls[root] = url


def url_for(backends: Backends) -> str:
    """The URL of an endpoint serving `backends`' workspace, started on first call."""
    root = backends.workspace.root
    with _lock:
        if root not in _urls:
            endpoint = _Endpoint(backends.workspace)
            if not _endpoints:
                atexit.register(_stop_all)
            _endpoints.append(endpoint)
            _urls[root] = endpoint.url
        return _urls[root]


class _Endpoint:
    """The AWS endpoint (emulator/server) in a background thread, on a port bound at once.

    The server (starlette, uvicorn: ~0.5 s to load) is loaded only when a client first connects, so
    a handler that never calls AWS costs a socket; a client that connects meanwhile waits in the
    listen queue.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server: Any = None
        self.stopping = False
        self._wake_r, self._wake_w = socket.socketpair()  # stop() wakes the wait for a first client
        self.thread = threading.Thread(target=self._run, args=(workspace,), name="sfn-local-endpoint", daemon=True)
        self.thread.start()

    def _run(self, workspace: Workspace) -> None:
        with selectors.DefaultSelector() as waiting:
            waiting.register(self.sock, selectors.EVENT_READ)
            waiting.register(self._wake_r, selectors.EVENT_READ)
            waiting.select()
        if self.stopping:
            return
        from emulator.server.serve import make_server

        # Without TCP_NODELAY each answer waits ~40 ms for a delayed ACK (as `sfn-local serve`).
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server = make_server(workspace)
        if not self.stopping:  # the process may end while the server was still loading
            self.server.run(sockets=[self.sock])

    def stop(self) -> None:
        self.stopping = True
        self._wake_w.send(b"x")
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(5)
        self.sock.close()
        self._wake_r.close()
        self._wake_w.close()


def _stop_all() -> None:
    release()
    while _endpoints:
        _endpoints.pop().stop()


class _Environment:
    """aws_environment's block (a class: it is entered around every handler call, and a generator-based
    context manager costs a few times more)."""

    __slots__ = ("backends",)

    def __init__(self, backends: Backends) -> None:
        self.backends = backends

    def __enter__(self) -> None:
        backends = self.backends
        root = backends.workspace.root
        with _lock:
            # `is` first: the same workspace's root object each call, and Path equality costs a microsecond.
            if _Active.root is not root and _Active.root != root:
                _changed.wait_for(lambda: _Active.calls == 0 or _Active.root == root)
                if _Active.root != root:
                    if _Active.root is not None:
                        _restore()
                    _apply(url_for(backends))
                    _Active.root = root
            _Active.calls += 1

    def __exit__(self, *exc_info: object) -> None:
        with _lock:
            _Active.calls -= 1
            if _Active.calls == 0:
                _changed.notify_all()


def aws_environment(backends: Backends) -> _Environment:
    """Run the block with the AWS SDKs pointed at the local endpoint of `backends`' workspace."""
    return _Environment(backends)


def release() -> None:
    """Give the user's environment back unless a handler is running (an execution ended)."""
    if _Active.root is None:  # nothing applied: the common case costs no lock
        return
    with _lock:
        if _Active.calls == 0 and _Active.root is not None:
            _restore()
            _Active.root = None


# os.environ's own mapping of encoded names to encoded values (POSIX): every run sets and gives back a
# dozen variables, and os.environ encodes and decodes on every access, so on POSIX this works on the
# encoded names and values themselves. Writes still go through putenv/unsetenv, as os.environ's do, so
# child processes and C libraries see them. Elsewhere, os.environ and str.
_RAW: dict[Any, Any] | None = getattr(os.environ, "_data", None) if os.name == "posix" else None
if not isinstance(_RAW, dict):
    _RAW = None
_native: Callable[[str], Any] = os.fsencode if _RAW is not None else str
_FIXED_NATIVE = {_native(k): _native(v) for k, v in _FIXED.items()}
_ENDPOINT = _native("AWS_ENDPOINT_URL")
_CLEARED_NAMES = tuple(_native(k) for k in _CLEARED)
_CLEARED_PREFIX_NATIVE, _NUL = _native(_CLEARED_PREFIX), _native("\0")


def _write(changes: Iterable[tuple[Any, Any]]) -> None:
    """Set variables (native names and values), removing those whose value is None."""
    if _RAW is None:
        for key, value in changes:
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        return
    for key, value in changes:
        if value is None:
            if key in _RAW:
                os.unsetenv(key)
                del _RAW[key]
        else:
            os.putenv(key, value)
            _RAW[key] = value


def _apply(url: str) -> None:
    environ = _RAW if _RAW is not None else os.environ
    wanted = {**_FIXED_NATIVE, _ENDPOINT: _native(url)}
    cleared = [k for k in _CLEARED_NAMES if k in environ]
    # Names joined first: the environment may hold hundreds, and seldom one with the prefix.
    if _CLEARED_PREFIX_NATIVE in _NUL.join(environ):
        cleared += [k for k in environ if k.startswith(_CLEARED_PREFIX_NATIVE)]
    for key in (*wanted, *cleared):
        _saved[key] = environ.get(key)
    _write([*((key, None) for key in cleared), *((k, v) for k, v in wanted.items() if _saved[k] != v)])


def _restore() -> None:
    _write(_saved.items())
    _saved.clear()
