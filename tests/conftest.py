"""Shared helpers: build small definitions inline."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Property tests: no per-example deadline (a loaded 2-core CI machine makes timing flaky), and in CI
# the same examples every run (derandomize), so a red run can be reproduced.
settings.register_profile("sfn-local", deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          derandomize=bool(os.environ.get("CI")))
settings.load_profile("sfn-local")


def chain(*states: tuple[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A definition whose states run in the order given (Next filled in, last one End)."""
    names = [name for name, _ in states]
    built = {}
    for i, (name, body) in enumerate(states):
        body = dict(body)
        terminal = body["Type"] in ("Choice", "Succeed", "Fail")
        if not terminal and "Next" not in body and "End" not in body:
            if i + 1 < len(states):
                body["Next"] = names[i + 1]
            else:
                body["End"] = True
        built[name] = body
    return {"StartAt": names[0], "States": built, **top}


def types(execution: Any) -> list[str]:
    return [e["type"] for e in execution.history]


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """moto's server on 127.0.0.1 and a free port (tests/moto_support.py)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh moto behind AWS_ENDPOINT_URL with dummy credentials; moto's Step Functions executes machines."""
    from emulator import targets
    from tests.moto_support import moto_api

    moto_api(moto_server, "reset", {})
    moto_api(moto_server, "config", {"stepfunctions": {"execute_state_machine": True}})
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "SFN_LOCAL_TARGET"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield moto_server
    targets.use_cli_targets({})


@pytest.fixture
def served(tmp_path: Any) -> Iterator[tuple[str, Any]]:
    """`sfn-local serve`'s app on a thread, on a fresh workspace: (its URL, the workspace's root)."""
    from emulator.server import start_in_thread
    from emulator.workspace import Workspace

    workspace = Workspace(tmp_path / "ws", project=tmp_path)
    url, stop = start_in_thread(workspace)
    yield url, workspace.root
    stop()


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Crawls wait for the returned threading.Event before crawling, so a crawl is observably running."""
    import threading

    from emulator.backends import crawler as crawler_module

    release = threading.Event()
    real = crawler_module.crawl

    def held(*args: Any) -> Any:
        release.wait(10)
        return real(*args)

    monkeypatch.setattr(crawler_module, "crawl", held)
    yield release
    release.set()
