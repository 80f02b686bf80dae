"""The HTTP endpoint beside moto server: round trips, StartSyncExecution latency, a warm pipeline.

    python bench/server.py [--executions 300] [--threads 8] [--no-moto] [--no-spark]

Prints, for `sfn-local serve` and moto server (both started here as subprocesses on loopback,
driven by the same boto3 client code):
- StartExecution → SUCCEEDED round trips per second for a 3-state machine (start, then
  DescribeExecution until it is no longer RUNNING), from --threads client threads;
- p50/p99 latency of StartSyncExecution on an EXPRESS machine;
- the car-rental pipeline (EMR steps on Spark, crawler, Athena) run twice through the same
  `serve`: the first run starts the JVM, the second should find it warm (--no-spark skips it).
Load average is printed first: a figure taken on a busy machine says so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
ROLE = "arn:aws:iam::123456789012:role/bench"

THREE_STATES = {"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.a", "Next": "B"},
    "B": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a.n, 1)"}, "ResultPath": "$.b", "Next": "C"},
    "C": {"Type": "Succeed"},
}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not start within {seconds:.0f} s")


def _client(url: str) -> Any:
    return boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench",
                        config=Config(inject_host_prefix=False, max_pool_connections=64, retries={"max_attempts": 0}))


def _round_trips(client: Any, arn: str, executions: int, threads: int) -> float:
    """Executions per second, each started and then described until it left RUNNING."""

    def one(i: int) -> None:
        started = client.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps({"i": i}))
        while True:
            status = client.describe_execution(executionArn=started["executionArn"])["status"]
            if status != "RUNNING":
                if status != "SUCCEEDED":
                    raise SystemExit(f"execution {started['executionArn']} ended {status}")
                return
            time.sleep(0.002)

    begin = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(executions)))
    return executions / (time.perf_counter() - begin)


def _sync_latencies(client: Any, arn: str, count: int) -> list[float] | None:
    times = []
    for i in range(count):
        begin = time.perf_counter()
        try:
            answer = client.start_sync_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps({"i": i}))
        except client.exceptions.ClientError as exc:
            print(f"    StartSyncExecution not available: {exc.response['Error'].get('Code')}")
            return None
        if answer.get("status") != "SUCCEEDED":
            print(f"    StartSyncExecution answered {answer.get('status')}")
            return None
        times.append(time.perf_counter() - begin)
    return times


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _measure(name: str, url: str, executions: int, threads: int) -> dict[str, Any]:
    client = _client(url)
    standard = client.create_state_machine(name=f"bench-{int(time.time() * 1000)}", definition=json.dumps(THREE_STATES),
                                           roleArn=ROLE)["stateMachineArn"]
    express = client.create_state_machine(name=f"bench-x-{int(time.time() * 1000)}",
                                          definition=json.dumps(THREE_STATES), roleArn=ROLE,
                                          type="EXPRESS")["stateMachineArn"]
    _round_trips(client, standard, min(20, executions), threads)  # warm-up: connections, caches
    rates = [_round_trips(client, standard, executions, threads) for _ in range(3)]
    latencies = _sync_latencies(client, express, 200)
    figures: dict[str, Any] = {"rate": statistics.median(rates)}
    if latencies:
        figures["p50"], figures["p99"] = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    print(f"  {name:<16} {figures['rate']:>9,.0f} executions/s (runs: {', '.join(f'{r:,.0f}' for r in rates)})"
          + (f"   StartSyncExecution p50 {figures['p50'] * 1000:.1f} ms, p99 {figures['p99'] * 1000:.1f} ms"
             if latencies else ""))
    return figures


def _serve(workspace: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from emulator.cli import main; main()", "--workspace", str(workspace),
               "serve", "--port", str(port)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _moto(port: int) -> subprocess.Popen[bytes] | None:
    if shutil.which("moto_server") is None and not _importable("moto.server"):
        print("  moto server: not installed (pip install 'moto[server]'); left out")
        return None
    command = [sys.executable, "-c", "from moto.server import main; main()", "-H", "127.0.0.1", "-p", str(port)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _stopped(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _pipeline_twice(url: str) -> None:
    """The car-rental pipeline twice through one serve: cold (JVM start), then warm."""
    client = _client(url)
    definition = (ROOT / "definitions" / "car_rental_pipeline.asl.json").read_text()
    arn = client.create_state_machine(name="car-rental-bench", definition=definition, roleArn=ROLE)["stateMachineArn"]
    for label in ("first (cold JVM)", "second (warm)"):
        begin = time.perf_counter()
        execution = client.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex)["executionArn"]
        while (status := client.describe_execution(executionArn=execution)["status"]) == "RUNNING":
            time.sleep(0.05)
        print(f"  car-rental {label:<17} {time.perf_counter() - begin:6.2f} s  {status}")


def _with_server(start: Callable[[int], subprocess.Popen[bytes] | None], body: Callable[[str], Any]) -> Any:
    port = _free_port()
    proc = start(port)
    if proc is None:
        return None
    try:
        _wait_port(port, proc)
        return body(f"http://127.0.0.1:{port}")
    finally:
        _stopped(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--no-moto", action="store_true")
    parser.add_argument("--no-spark", action="store_true")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"{args.executions} executions x 3 runs, {args.threads} client threads")
    with tempfile.TemporaryDirectory() as tmp:
        ours = _with_server(lambda port: _serve(Path(tmp) / "ws", port),
                            lambda url: _measure("sfn-local serve", url, args.executions, args.threads))
        theirs = None
        if not args.no_moto:
            def moto_body(url: str) -> dict[str, Any]:
                # moto runs definitions only when asked (its default answers SUCCEEDED without running them).
                import urllib.request
                request = urllib.request.Request(f"{url}/moto-api/config", method="POST",
                                                 data=json.dumps({"stepfunctions": {"execute_state_machine": True}})
                                                 .encode(), headers={"Content-Type": "application/json"})
                urllib.request.urlopen(request, timeout=10).read()
                return _measure("moto server", url, max(20, args.executions // 10), args.threads)

            theirs = _with_server(_moto, moto_body)
        if theirs:
            print(f"  sfn-local / moto: {ours['rate'] / theirs['rate']:.1f}x executions/s "
                  "(target >= 10x and >= 1,000/s)")
        if not args.no_spark:
            _with_server(lambda port: _serve(Path(tmp) / "ws-spark", port), _pipeline_twice)


if __name__ == "__main__":
    main()
