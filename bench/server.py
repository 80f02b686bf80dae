"""The HTTP endpoint beside moto server: round trips, StartSyncExecution latency, a warm pipeline.

    python bench/server.py [--executions 2000] [--clients 2] [--connections 16] [--boto3-clients 4]
                           [--threads 4] [--no-boto3] [--no-moto] [--no-spark]

Prints, for `sfn-local serve` and moto server (both started here as subprocesses on loopback, driven by
the same client code, moto given a tenth of the executions):
- StartExecution → SUCCEEDED round trips per second for a 3-state machine (start, then
  DescribeExecution until it is no longer RUNNING): the executions of all client processes over the time
  from the first start to the last end, median of 3 runs. Two clients, labelled:
  "raw HTTP client": --clients processes, each driving --connections keep-alive connections from one
  thread with pre-formatted, SigV4-signed AWS JSON requests (what botocore sends, without its cost); it
  costs far less CPU than either server, so the figure is the server's. "boto3 client": --boto3-clients
  processes of --threads threads with boto3 clients; boto3 costs ~2 ms of client CPU a call, so on a
  small machine this figure is the client's.
  Each line gives the clients' CPU per round trip and the server process's CPU per execution (the figure
  the machine's load changes least), and the load average; then the ratio to moto for each client;
- p50/p99 latency of StartSyncExecution on an EXPRESS machine (boto3);
- the car-rental pipeline (EMR steps on Spark, crawler, Athena) run twice through the same
  `serve`: the first run starts the JVM, the second should find it warm (--no-spark skips it).
Load average is printed first: a figure taken on a busy machine says so.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import hmac
import json
import multiprocessing
import os
import selectors
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
ROLE = "arn:aws:iam::123456789012:role/bench"
REGION, SERVICE, ACCESS_KEY, SECRET_KEY = "us-east-1", "states", "bench", "bench"
JSON_1_0 = "application/x-amz-json-1.0"
SIGNED_HEADERS = "content-type;host;x-amz-date;x-amz-target"
RAW, BOTO3 = "raw HTTP client", "boto3 client"

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
    return boto3.client("stepfunctions", endpoint_url=url, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY,
                        config=Config(inject_host_prefix=False, max_pool_connections=64, retries={"max_attempts": 0}))


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


class _Signer:
    """Signature Version 4 for the two AWS JSON calls, as botocore signs them (same headers signed), at a
    fraction of its cost: neither server checks signatures, but the requests are what a real client sends."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.day = ""
        self.key = b""

    def request(self, target: str, body: bytes) -> bytes:
        """The whole HTTP request: POST / with the AWS JSON 1.0 headers, signed."""
        amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        if day != self.day:  # the signing key changes once a day
            key = _hmac(f"AWS4{SECRET_KEY}".encode(), day)
            for part in (REGION, SERVICE, "aws4_request"):
                key = _hmac(key, part)
            self.day, self.key = day, key
        scope = f"{day}/{REGION}/{SERVICE}/aws4_request"
        canonical = (f"POST\n/\n\ncontent-type:{JSON_1_0}\nhost:{self.host}\nx-amz-date:{amz_date}\n"
                     f"x-amz-target:{target}\n\n{SIGNED_HEADERS}\n{hashlib.sha256(body).hexdigest()}")
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self.key, to_sign.encode(), hashlib.sha256).hexdigest()
        return (f"POST / HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: {JSON_1_0}\r\nX-Amz-Date: {amz_date}\r\n"
                f"X-Amz-Target: {target}\r\nAuthorization: AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, "
                f"SignedHeaders={SIGNED_HEADERS}, Signature={signature}\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode() + body


def _response(buffer: bytearray) -> tuple[int, bytes, bool] | None:
    """The response at the start of `buffer` once it is whole (then taken off it): (status, body, whether the
    server closes the connection after it: moto's werkzeug server does after every response)."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buffer[:end]).decode("latin-1").lower().split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    close = lines[0].startswith("http/1.0") or fields.get("connection", "").strip() == "close"
    if "content-length" in fields:
        total = end + 4 + int(fields["content-length"])
        if len(buffer) < total:
            return None
        body = bytes(buffer[end + 4:total])
        del buffer[:total]
        return status, body, close
    if fields.get("transfer-encoding", "").strip() != "chunked":
        raise RuntimeError("a response with neither Content-Length nor chunked encoding")
    body, at = bytearray(), end + 4
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
        if len(buffer) < line_end + 2 + size + 2:
            return None
        body += buffer[line_end + 2:line_end + 2 + size]
        at = line_end + 2 + size + 2
        if size == 0:
            del buffer[:at]
            return status, bytes(body), close


class _Connection:
    """One client connection of the raw client: its socket (None between a close and the next request), what
    it has read, the execution it follows and the call it waits for."""

    __slots__ = ("arn", "buffer", "call", "sock")

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.buffer = bytearray()
        self.arn = ""
        self.call = ""


def _raw_round_trips(url: str, arn: str, executions: int, connections: int) -> tuple[float, float]:
    """`executions` round trips over `connections` keep-alive connections driven by one thread (a selector):
    StartExecution, then DescribeExecution (again 2 ms later while RUNNING) until SUCCEEDED. Returns (first
    start, last end) on the monotonic clock."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    signer = _Signer(f"{host}:{port}")
    selector = selectors.DefaultSelector()
    timers: list[tuple[float, int, _Connection]] = []
    started = ended = 0

    def send(conn: _Connection, call: str, params: dict[str, Any]) -> None:
        if conn.sock is None:
            conn.sock = socket.create_connection((host, int(port)))
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            selector.register(conn.sock, selectors.EVENT_READ, conn)
        conn.call = call
        conn.sock.sendall(signer.request(f"AWSStepFunctions.{call}", json.dumps(params).encode()))

    def start(conn: _Connection) -> None:
        nonlocal started
        if started < executions:
            started += 1
            send(conn, "StartExecution", {"stateMachineArn": arn, "name": uuid.uuid4().hex,
                                          "input": json.dumps({"i": started})})

    def answered(conn: _Connection, status: int, body: bytes) -> None:
        nonlocal ended
        answer = json.loads(body)
        if status != 200:
            raise RuntimeError(f"{conn.call} answered {status}: {answer}")
        if conn.call == "StartExecution":
            conn.arn = answer["executionArn"]
            send(conn, "DescribeExecution", {"executionArn": conn.arn})
        elif answer["status"] == "RUNNING":
            heapq.heappush(timers, (time.monotonic() + 0.002, id(conn), conn))
        elif answer["status"] != "SUCCEEDED":
            raise RuntimeError(f"execution {conn.arn} ended {answer['status']}")
        else:
            ended += 1
            start(conn)

    begin = time.monotonic()
    pool = [_Connection() for _ in range(min(connections, executions))]
    for conn in pool:
        start(conn)
    while ended < executions:
        for key, _ in selector.select(max(0.0, timers[0][0] - time.monotonic()) if timers else None):
            conn = key.data
            data = conn.sock.recv(65536)
            if not data:
                raise RuntimeError("the server closed a connection before answering")
            conn.buffer += data
            while (whole := _response(conn.buffer)) is not None:
                status, body, close = whole
                if close:
                    selector.unregister(conn.sock)
                    conn.sock.close()
                    conn.sock = None
                    conn.buffer.clear()
                answered(conn, status, body)
        while timers and timers[0][0] <= time.monotonic():
            conn = heapq.heappop(timers)[2]
            send(conn, "DescribeExecution", {"executionArn": conn.arn})
    for conn in pool:
        if conn.sock is not None:
            conn.sock.close()
    selector.close()
    return begin, time.monotonic()


def _boto3_round_trips(url: str, arn: str, executions: int, threads: int) -> tuple[float, float]:
    """The same round trips through boto3 clients, from `threads` threads (one connection each)."""
    client = _client(url)

    def one(i: int) -> None:
        started = client.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps({"i": i}))
        while True:
            status = client.describe_execution(executionArn=started["executionArn"])["status"]
            if status != "RUNNING":
                if status != "SUCCEEDED":
                    raise RuntimeError(f"execution {started['executionArn']} ended {status}")
                return
            time.sleep(0.002)

    begin = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(executions)))
    return begin, time.monotonic()


def _client_process(kind: str, url: str, arn: str, executions: int, width: int, runs: int,
                    barrier: Any, results: Any) -> None:
    """One client process: warm up, then for each run start with the others (the barrier) and report
    (first start, last end, this process's CPU seconds), or the error that stopped it."""
    trips = _raw_round_trips if kind == RAW else _boto3_round_trips
    try:
        trips(url, arn, min(10, executions), width)  # connections, caches
        for _ in range(runs):
            barrier.wait()
            cpu = time.process_time()
            begin, end = trips(url, arn, executions, width)
            results.put((begin, end, time.process_time() - cpu))
    except BaseException as exc:
        barrier.abort()
        results.put(f"{type(exc).__name__}: {exc}")


@dataclass
class _Figures:
    """One client kind's runs against one server."""

    rates: list[float]  # executions per second, each run
    client_ms: float  # the client processes' CPU per round trip (median of the runs)
    server_ms: float | None  # the server process's CPU per execution, warm-up included
    load: float  # the 1-minute load average after the runs

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)


def _rates(kind: str, url: str, pid: int, arn: str, executions: int, clients: int, width: int,
           runs: int = 3) -> _Figures:
    """Executions per second of each run: all clients' executions over the time from the first start to the
    last end; with the clients' CPU per round trip and the server's per execution."""
    context = multiprocessing.get_context("spawn")  # a boto3 client must not cross a fork
    barrier, results = context.Barrier(clients + 1), context.Queue()
    share = max(1, executions // clients)
    procs = [context.Process(target=_client_process, args=(kind, url, arn, share, width, runs, barrier, results),
                             daemon=True) for _ in range(clients)]
    before = _cpu_seconds(pid)
    for proc in procs:
        proc.start()
    rates, client_ms = [], []
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
            rates.append(share * clients / (max(end for _, end, _ in spans) - min(begin for begin, _, _ in spans)))
            client_ms.append(sum(cpu for _, _, cpu in spans) / (share * clients) * 1000)
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    after = _cpu_seconds(pid)
    done = clients * (runs * share + min(10, share))
    server_ms = None if before is None or after is None else (after - before) / done * 1000
    return _Figures(rates, statistics.median(client_ms), server_ms, os.getloadavg()[0])


def _cpu_seconds(pid: int) -> float | None:
    """The CPU time (user + system) process `pid` used so far; None where /proc does not tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


@dataclass(frozen=True)
class _Load:
    """How hard to drive a server: executions per run, and the processes and connections of each client kind."""

    executions: int
    clients: int
    connections: int
    boto3_clients: int
    threads: int
    boto3: bool


def _line(name: str, kind: str, figures: _Figures) -> str:
    server = "" if figures.server_ms is None else f", server CPU {figures.server_ms:.2f} ms/execution"
    return (f"  {name:<16} {figures.rate:>7,.0f} executions/s, {kind:<15} (runs: "
            f"{', '.join(f'{r:,.0f}' for r in figures.rates)}); client CPU {figures.client_ms:.2f} ms/round trip"
            f"{server}; load {figures.load:.1f}")


def _measure(name: str, url: str, pid: int, load: _Load) -> dict[str, _Figures]:
    """The figures for one server (process `pid`), by client kind; StartSyncExecution's latency printed."""
    client = _client(url)
    standard = client.create_state_machine(name=f"bench-{int(time.time() * 1000)}", definition=json.dumps(THREE_STATES),
                                           roleArn=ROLE)["stateMachineArn"]
    express = client.create_state_machine(name=f"bench-x-{int(time.time() * 1000)}",
                                          definition=json.dumps(THREE_STATES), roleArn=ROLE,
                                          type="EXPRESS")["stateMachineArn"]
    figures = {RAW: _rates(RAW, url, pid, standard, load.executions, load.clients, load.connections)}
    print(_line(name, RAW, figures[RAW]))
    if load.boto3:
        figures[BOTO3] = _rates(BOTO3, url, pid, standard, load.executions, load.boto3_clients, load.threads)
        print(_line(name, BOTO3, figures[BOTO3]))
    latencies = _sync_latencies(client, express, 200)
    if latencies:
        print(f"  {name:<16} StartSyncExecution p50 {_percentile(latencies, 0.5) * 1000:.1f} ms, "
              f"p99 {_percentile(latencies, 0.99) * 1000:.1f} ms (boto3)")
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
    parser.add_argument("--executions", type=int, default=2000, help="executions per run (moto: a tenth)")
    parser.add_argument("--clients", type=int, default=2, help="raw HTTP client processes")
    parser.add_argument("--connections", type=int, default=16, help="connections of each raw client process")
    parser.add_argument("--boto3-clients", type=int, default=4, help="boto3 client processes")
    parser.add_argument("--threads", type=int, default=4, help="threads of each boto3 client process")
    parser.add_argument("--no-boto3", action="store_true", help="leave out the boto3 client's figures")
    parser.add_argument("--no-moto", action="store_true")
    parser.add_argument("--no-spark", action="store_true")
    args = parser.parse_args()
    ours_load = _Load(args.executions, args.clients, args.connections, args.boto3_clients, args.threads,
                      not args.no_boto3)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.executions} executions x 3 runs; "
          f"{RAW}: {args.clients} processes x {args.connections} connections; {BOTO3}: {args.boto3_clients} "
          f"processes x {args.threads} threads")
    with tempfile.TemporaryDirectory() as tmp:
        ours = _with_server(lambda port: _serve(Path(tmp) / "ws", port),
                            lambda url, pid: _measure("sfn-local serve", url, pid, ours_load))
        theirs = None
        if not args.no_moto:
            def moto_body(url: str, pid: int) -> dict[str, _Figures]:
                # moto runs definitions only when asked (its default answers SUCCEEDED without running them).
                import urllib.request
                request = urllib.request.Request(f"{url}/moto-api/config", method="POST",
                                                 data=json.dumps({"stepfunctions": {"execute_state_machine": True}})
                                                 .encode(), headers={"Content-Type": "application/json"})
                urllib.request.urlopen(request, timeout=10).read()
                executions = max(4 * max(args.clients, args.boto3_clients), args.executions // 10)
                return _measure("moto server", url, pid, _Load(executions, args.clients, args.connections,
                                                               args.boto3_clients, args.threads, not args.no_boto3))

            theirs = _with_server(_moto, moto_body)
        if theirs:
            for kind, figures in ours.items():
                print(f"  sfn-local / moto, {kind}: {figures.rate / theirs[kind].rate:.1f}x executions/s "
                      f"(target >= 10x and >= 1,000/s)")
        if not args.no_spark:
            _with_server(lambda port: _serve(Path(tmp) / "ws-spark", port), lambda url, _: _pipeline_twice(url))


if __name__ == "__main__":
    main()
