"""The HTTP endpoint beside moto server: round trips, StartSyncExecution latency, a warm pipeline.

    python bench/server.py [--executions 300] [--clients 4] [--threads 4] [--raw] [--no-moto] [--no-spark]

Prints, for `sfn-local serve` and moto server (both started here as subprocesses on loopback,
driven by the same client code):
- StartExecution → SUCCEEDED round trips per second for a 3-state machine (start, then
  DescribeExecution until it is no longer RUNNING), from --clients client processes of --threads
  threads each, each process with its own boto3 client (one Python process cannot drive more than a
  few hundred boto3 calls a second): the executions of all of them over the time from the first
  start to the last end, with the server process's CPU time per execution (the figure the machine's
  load changes least); --raw adds the same over plain http.client requests (no boto3), labelled;
- p50/p99 latency of StartSyncExecution on an EXPRESS machine;
- the car-rental pipeline (EMR steps on Spark, crawler, Athena) run twice through the same
  `serve`: the first run starts the JVM, the second should find it warm (--no-spark skips it).
Load average is printed first: a figure taken on a busy machine says so.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
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


# Unchecked by either server, but moto server finds the service in it.
_AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=bench/20240101/us-east-1/states/aws4_request, "
                  "SignedHeaders=host, Signature=0")


class _RawClient:
    """The two calls a round trip makes, as plain AWS JSON 1.0 requests over http.client (no boto3):
    what the server answers when the client costs next to nothing."""

    def __init__(self, url: str) -> None:
        self.host, self.port = url.removeprefix("http://").rsplit(":", 1)
        self.local = threading.local()

    def _call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(self.host, int(self.port), timeout=30)
        connection.request("POST", "/", json.dumps(params), {
            "X-Amz-Target": f"AWSStepFunctions.{action}", "Content-Type": "application/x-amz-json-1.0",
            "Authorization": _AUTHORIZATION})
        response = connection.getresponse()
        body = json.loads(response.read())
        if response.status != 200:
            raise SystemExit(f"{action} answered {response.status}: {body}")
        return body

    def start_execution(self, **params: Any) -> dict[str, Any]:
        return self._call("StartExecution", params)

    def describe_execution(self, **params: Any) -> dict[str, Any]:
        return self._call("DescribeExecution", params)


def _round_trips(client: Any, arn: str, executions: int, threads: int) -> tuple[float, float]:
    """Start `executions` executions from `threads` threads, each then described until it left RUNNING;
    returns (first start, last end) on the monotonic clock, which all processes of this machine share."""

    def one(i: int) -> None:
        started = client.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps({"i": i}))
        while True:
            status = client.describe_execution(executionArn=started["executionArn"])["status"]
            if status != "RUNNING":
                if status != "SUCCEEDED":
                    raise SystemExit(f"execution {started['executionArn']} ended {status}")
                return
            time.sleep(0.002)

    begin = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(executions)))
    return begin, time.monotonic()


def _client_process(url: str, arn: str, raw: bool, executions: int, threads: int, runs: int,
                    barrier: Any, results: Any) -> None:
    """One client process: warm up, then for each run start with the others (the barrier) and report
    (first start, last end), or the error that stopped it."""
    try:
        client = _RawClient(url) if raw else _client(url)
        _round_trips(client, arn, min(10, executions), threads)  # connections, caches
        for _ in range(runs):
            barrier.wait()
            results.put(_round_trips(client, arn, executions, threads))
    except BaseException as exc:
        barrier.abort()
        results.put(f"{type(exc).__name__}: {exc}")


def _rates(url: str, arn: str, raw: bool, executions: int, clients: int, threads: int,
           runs: int = 3) -> tuple[list[float], int]:
    """Executions per second of each run (all clients' executions over the time from the first start to
    the last end), and how many executions ran in all (warm-up included)."""
    context = multiprocessing.get_context("spawn")  # a boto3 client must not cross a fork
    barrier, results = context.Barrier(clients + 1), context.Queue()
    share = max(1, executions // clients)
    procs = [context.Process(target=_client_process, args=(url, arn, raw, share, threads, runs, barrier, results),
                             daemon=True) for _ in range(clients)]
    for proc in procs:
        proc.start()
    rates = []
    try:
        for _ in range(runs):
            try:
                barrier.wait(timeout=120)
            except threading.BrokenBarrierError:
                reason = "see its output above" if results.empty() else results.get()
                raise SystemExit(f"a client process failed: {reason}") from None
            spans = [results.get(timeout=600) for _ in procs]
            if failed := [span for span in spans if isinstance(span, str)]:
                raise SystemExit(f"a client process failed: {failed[0]}")
            rates.append(share * clients / (max(end for _, end in spans) - min(begin for begin, _ in spans)))
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    return rates, clients * (runs * share + min(10, share))


def _cpu_seconds(pid: int) -> float | None:
    """The CPU time (user + system) process `pid` used so far; None where /proc does not tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _per_execution(pid: int, before: float | None, executions: int) -> str:
    after = _cpu_seconds(pid)
    if before is None or after is None:
        return ""
    return f", server CPU {(after - before) / executions * 1000:.2f} ms per execution"


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


def _measure(name: str, url: str, pid: int, executions: int, clients: int, threads: int,
             raw: bool) -> dict[str, Any]:
    """The figures for one server (process `pid`); the server's CPU time per execution is what the
    machine's load does not change much."""
    client = _client(url)
    standard = client.create_state_machine(name=f"bench-{int(time.time() * 1000)}", definition=json.dumps(THREE_STATES),
                                           roleArn=ROLE)["stateMachineArn"]
    express = client.create_state_machine(name=f"bench-x-{int(time.time() * 1000)}",
                                          definition=json.dumps(THREE_STATES), roleArn=ROLE,
                                          type="EXPRESS")["stateMachineArn"]
    before = _cpu_seconds(pid)
    rates, done = _rates(url, standard, False, executions, clients, threads)
    cpu = _per_execution(pid, before, done)
    latencies = _sync_latencies(client, express, 200)
    figures: dict[str, Any] = {"rate": statistics.median(rates)}
    line = (f"  {name:<16} {figures['rate']:>9,.0f} executions/s boto3, load {os.getloadavg()[0]:.1f} "
            f"(runs: {', '.join(f'{r:,.0f}' for r in rates)}){cpu}")
    if latencies:
        figures["p50"], figures["p99"] = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
        line += f"   StartSyncExecution p50 {figures['p50'] * 1000:.1f} ms, p99 {figures['p99'] * 1000:.1f} ms"
    print(line)
    if raw:
        before = _cpu_seconds(pid)
        raw_rates, done = _rates(url, standard, True, executions, clients, threads)
        print(f"  {name:<16} {statistics.median(raw_rates):>9,.0f} executions/s raw http.client (no boto3), load "
              f"{os.getloadavg()[0]:.1f} (runs: {', '.join(f'{r:,.0f}' for r in raw_rates)})"
              f"{_per_execution(pid, before, done)}")
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


def _with_server(start: Callable[[int], subprocess.Popen[bytes] | None], body: Callable[[str, int], Any]) -> Any:
    """Start a server on a free port, run `body(url, its pid)`, stop it."""
    port = _free_port()
    proc = start(port)
    if proc is None:
        return None
    try:
        _wait_port(port, proc)
        return body(f"http://127.0.0.1:{port}", proc.pid)
    finally:
        _stopped(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--threads", type=int, default=4, help="threads in each client process")
    parser.add_argument("--raw", action="store_true", help="also drive the servers with plain http.client requests")
    parser.add_argument("--no-moto", action="store_true")
    parser.add_argument("--no-spark", action="store_true")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"{args.executions} executions x 3 runs, {args.clients} client processes x {args.threads} threads")
    with tempfile.TemporaryDirectory() as tmp:
        ours = _with_server(lambda port: _serve(Path(tmp) / "ws", port),
                            lambda url, pid: _measure("sfn-local serve", url, pid, args.executions, args.clients,
                                                      args.threads, args.raw))
        theirs = None
        if not args.no_moto:
            def moto_body(url: str, pid: int) -> dict[str, Any]:
                # moto runs definitions only when asked (its default answers SUCCEEDED without running them).
                import urllib.request
                request = urllib.request.Request(f"{url}/moto-api/config", method="POST",
                                                 data=json.dumps({"stepfunctions": {"execute_state_machine": True}})
                                                 .encode(), headers={"Content-Type": "application/json"})
                urllib.request.urlopen(request, timeout=10).read()
                return _measure("moto server", url, pid, max(4 * args.clients, args.executions // 10),
                                args.clients, args.threads, args.raw)

            theirs = _with_server(_moto, moto_body)
        if theirs:
            print(f"  sfn-local / moto: {ours['rate'] / theirs['rate']:.1f}x executions/s "
                  "(target >= 10x and >= 1,000/s)")
        if not args.no_spark:
            _with_server(lambda port: _serve(Path(tmp) / "ws-spark", port), lambda url, _: _pipeline_twice(url))


if __name__ == "__main__":
    main()
