"""Local mode makes no network call beyond loopback: the project's non-Spark pipelines run in-process
under a socket guard that refuses every connection (and name look-up) off the machine."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import emulator
from definitions import etl_handlers
from emulator.workspace import Workspace
from tests.test_switch_aws import CHILD, MIXED

ROOT = Path(__file__).resolve().parents[1]
DEFINITIONS = ROOT / "definitions"


class OffMachine(AssertionError):
    """A connection or look-up that would leave the machine."""


def _loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every connect / connect_ex / getaddrinfo to a non-loopback host raises OffMachine (and is recorded)."""
    refused: list[str] = []
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            refused.append(f"connect {address}")
            raise OffMachine(f"network call off the machine: {address}")

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        check(self, address)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> Any:
        check(self, address)
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):
            refused.append(f"getaddrinfo {host}")
            raise OffMachine(f"name look-up off the machine: {host}")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    for key in ("SFN_LOCAL_TARGET", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    yield refused
    assert refused == [], f"local runs reached off the machine: {refused}"


def test_the_guard_refuses_a_connection_off_the_machine(guard: list[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(OffMachine):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed, so nothing is sent either way
    with pytest.raises(OffMachine):
        socket.getaddrinfo("example.com", 443)
    assert guard == ["connect ('192.0.2.1', 443)", "getaddrinfo example.com"]
    guard.clear()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5):
            pass  # loopback is allowed


def _workspace(tmp_path: Path) -> Workspace:
    return Workspace(root=tmp_path / "ws", project=ROOT)


def _cases() -> list[tuple[str, str]]:
    config = json.loads((DEFINITIONS / "mocks.json").read_text())
    return [(machine, case) for machine, spec in config["StateMachines"].items() for case in spec["TestCases"]]


@pytest.mark.parametrize(("machine", "case"), _cases())
def test_every_mocked_pipeline_case_runs_without_the_network(guard: list[str], tmp_path: Path, machine: str,
                                                            case: str) -> None:
    config = json.loads((DEFINITIONS / "mocks.json").read_text())
    spec = config["StateMachines"][machine]["TestCases"][case]
    sm = emulator.StateMachine(DEFINITIONS / f"{machine}.asl.json", name=machine, workspace=_workspace(tmp_path))
    ex = sm.run(spec.get("Input", {}), mock_config=DEFINITIONS / "mocks.json", test_case=case)
    expect = spec["Expect"]
    # A case expecting an output expects success; one naming an error or a Fail path, failure.
    wanted = expect.get("status", "SUCCEEDED" if "output" in expect else "FAILED")
    assert ex.status == wanted, (ex.error, ex.cause)
    if "output" in expect:
        assert ex.output == expect["output"]


def test_demo_orders_with_its_configured_lambdas_runs_without_the_network(guard: list[str], tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    data = json.loads((ROOT / "sample_data" / "demo_orders.json").read_text())
    ex = emulator.run(DEFINITIONS / "demo_orders.asl.json", data, workspace=_workspace(tmp_path))
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)


def test_etl_pipeline_with_its_handlers_runs_without_the_network(guard: list[str], tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    source.write_text(",".join(etl_handlers.FIELDS) + "\no-1,ada,10.50,eur,2024-01-02\no-2,alan,3,GBP,2024-01-03\n")
    handlers = {"etl-extract": etl_handlers.extract, "etl-transform": etl_handlers.transform,
                "etl-validate": etl_handlers.validate, "etl-load": etl_handlers.load}
    data = {"source": str(source), "output": str(tmp_path / "out.json"), "threshold": 0.1}
    ex = emulator.run(DEFINITIONS / "etl_extract_transform_validate_load.asl.json", data,
                      workspace=_workspace(tmp_path), resources=handlers)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert json.loads((tmp_path / "out.json").read_text())["rows_loaded"] == 2


def test_s3_glue_sqs_sns_and_nested_executions_run_locally_without_the_network(guard: list[str],
                                                                               tmp_path: Path) -> None:
    data = {"record": {"id": 1}, "queue": "https://sqs.us-east-1.amazonaws.com/123456789012/events",
            "topic": "arn:aws:sns:us-east-1:123456789012:alerts"}
    ex = emulator.StateMachine(MIXED, workspace=_workspace(tmp_path), state_machines={"Child": CHILD}).run(data)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert ex.output["child"]["output"] == {"n": 42, "tag": "child"}
