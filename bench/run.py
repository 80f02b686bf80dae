"""Engine throughput: wall time and state transitions per second, full history recorded.

    python bench/run.py [--repeat 5] [--defs pass_chain,map_inline] [--peers]

Definitions come from ../shared/bench/defs when it is there (the peers were measured on those),
else the same shapes are generated here. Figures are medians over --repeat runs (after one untimed
warm-up run; a short definition runs more often, for at least 0.3 s) of a StateMachine parsed once
("compile ms": the median of 5 first compiles, parse and validation included, each of the definition
with its own Comment, so each misses the compiled-definition cache; opening the workspace, which
StateMachine also does, is not compiling and is left out).
Peers are quoted only beside the definition of the same size they ran (choice_loop_10k: the
peers' 10,000 iterations; it runs without the 25,000-event quota). The
machine's load average is printed, and the time of a fixed reference loop (reference_ms), before and
after: on a shared machine a figure taken under load, or while the machine runs slow, is slower.
--peers also runs moto's Step Functions engine on them when moto is installed (it sleeps through
Wait and retry back-off, so those are left out for it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator import StateMachine  # noqa: E402  (the engine loads here, not in the timed compile)
from emulator.engine.execution import compile_definition  # noqa: E402

SHARED = ROOT.parent / "shared" / "bench" / "defs"

# Figures measured on this 2-core machine by the team (../shared/README.md): wall seconds.
PEER_NOTES = {
    "pass_chain_1000": {"moto 5.2.5": 1.72, "LocalStack 2026.3": 1.62, "aws-local-stepfunctions": 0.028},
    "choice_loop_10k": {"moto 5.2.5": 8.9, "LocalStack 2026.3": 7.7, "aws-local-stepfunctions": 0.18},
    "map_inline_1000": {"moto 5.2.5": 3.18, "LocalStack 2026.3": 3.22, "aws-local-stepfunctions": 0.105},
    "parallel_fanout": {"moto 5.2.5": 0.88, "LocalStack 2026.3": 0.64, "aws-local-stepfunctions": 0.013},
    "intrinsics_mix": {"moto 5.2.5": 0.84, "LocalStack 2026.3": 0.68, "aws-local-stepfunctions": 0.015},
}


def _pass_chain(n: int = 1000) -> tuple[dict[str, Any], Any]:
    states = {}
    for i in range(n):
        states[f"P{i:04d}"] = {"Type": "Pass", "Parameters": {"i.$": "$.i", "tag": "x", "k": i}, "ResultPath": "$.last",
                               **({"Next": f"P{i + 1:04d}"} if i + 1 < n else {"End": True})}
    return {"StartAt": "P0000", "States": states}, {"i": 1, "payload": {"a": [1, 2, 3], "b": "hello"}}


def _choice_loop(n: int = 5000) -> tuple[dict[str, Any], Any]:
    return {"StartAt": "Inc", "States": {
        "Inc": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": n, "Next": "Inc"}],
                  "Default": "Done"},
        "Done": {"Type": "Succeed"}}}, {"n": 0}


def _map_inline(n: int = 1000) -> tuple[dict[str, Any], Any]:
    step = {"Type": "Pass", "Parameters": {"id.$": "$.id", "label.$": "States.Format('{}-x', $.id)"}}
    processor = {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "A", "States": {
        "A": {**step, "Next": "B"}, "B": {**step, "Next": "C"}, "C": {**step, "End": True}}}
    return {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0,
                                             "ItemProcessor": processor, "ResultPath": "$.results", "End": True}}}, \
        {"items": [{"id": i} for i in range(n)]}


def _parallel_fanout(branches: int = 10, length: int = 50) -> tuple[dict[str, Any], Any]:
    def branch(b: int) -> dict[str, Any]:
        states = {f"B{b}S{k:02d}": {"Type": "Pass", "Parameters": {"v.$": "$.v", "b": b, "k": k},
                                     **({"Next": f"B{b}S{k + 1:02d}"} if k + 1 < length else {"End": True})}
                  for k in range(length)}
        return {"StartAt": f"B{b}S00", "States": states}

    return {"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "Branches": [branch(b) for b in range(branches)],
                                                 "End": True}}}, {"v": 1}


def _pass_chain_jsonata(n: int = 1000) -> tuple[dict[str, Any], Any]:
    """The Pass chain in JSONata: each state's Output is the JSONPath version's Parameters + ResultPath."""
    states = {}
    for i in range(n):
        output = f"{{% $merge([$states.input, {{'last': {{'i': $states.input.i, 'tag': 'x', 'k': {i}}}}}]) %}}"
        states[f"P{i:04d}"] = {"Type": "Pass", "Output": output,
                               **({"Next": f"P{i + 1:04d}"} if i + 1 < n else {"End": True})}
    return {"QueryLanguage": "JSONata", "StartAt": "P0000", "States": states}, _pass_chain(1)[1]


def _map_inline_jsonata(n: int = 1000) -> tuple[dict[str, Any], Any]:
    def step(suffix: str) -> dict[str, Any]:
        return {"Type": "Pass", "Output": {"id": "{% $states.input.id %}",
                                           "label": f"{{% $string($states.input.id) & '-{suffix}' %}}"}}

    processor = {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "A", "States": {
        "A": {**step("a"), "Next": "B"}, "B": {**step("b"), "Next": "C"}, "C": {**step("c"), "End": True}}}
    return {"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
        "Type": "Map", "Items": "{% $states.input.items %}", "MaxConcurrency": 0, "ItemProcessor": processor,
        "Output": "{% $merge([$states.input, {'results': $states.result}]) %}", "End": True}}}, \
        {"items": [{"id": i} for i in range(n)]}


def _wait_1h() -> tuple[dict[str, Any], Any]:
    return {"StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
                                           "Done": {"Type": "Succeed"}}}, {}


GENERATED = {
    "pass_chain_1000": _pass_chain,
    "choice_loop_5k": _choice_loop,
    "choice_loop_10k": lambda: _choice_loop(10_000),
    "map_inline_1000": _map_inline,
    "parallel_fanout": _parallel_fanout,
    "wait_1h": _wait_1h,
    "pass_chain_1000_jsonata": _pass_chain_jsonata,
    "map_inline_1000_jsonata": _map_inline_jsonata,
}
ORDER = ["pass_chain_1000", "pass_chain_1000_jsonata", "choice_loop_5k", "choice_loop_10k", "map_inline_1000",
         "map_inline_1000_jsonata", "parallel_fanout", "intrinsics_mix", "intrinsics_mix_flat", "wait_1h",
         "retry_backoff", "retry_backoff_task"]
# Past AWS's 25,000-event quota: run with none (the peers have none); a count here runs it fewer times.
# (A Map of 100,000 items is bench/distributed_map.py's: inline, its input and output pass 256 KiB.)
UNLIMITED: dict[str, int | None] = {"choice_loop_10k": None}


# Short runs are repeated for at least this long (at most MAX_RUNS times): a median of five sub-millisecond
# runs is mostly scheduling noise.
MIN_TIMED_SECONDS = 0.3
MAX_RUNS = 2000
# "compile ms" is a median too: one compile is a single sample of this machine's noise.
COMPILE_REPEATS = 5


def load(name: str) -> tuple[dict[str, Any], Any] | None:
    path = SHARED / f"{name}.json"
    if path.is_file():
        return json.loads(path.read_text()), json.loads((SHARED / f"{name}.input.json").read_text())
    if name in GENERATED:
        return GENERATED[name]()
    return None


def _always_fails(event: Any) -> Any:
    raise RuntimeError("always fails")


def _cold_compile(definition: dict[str, Any], run: int) -> float:
    """Seconds to parse, validate and compile the definition, as the first StateMachine of it does: its own
    Comment makes it a definition the compiled-definition cache has not seen."""
    fresh = {**definition, "Comment": f"bench/run.py compile {run}"}
    started = time.perf_counter()
    compile_definition(fresh)
    return time.perf_counter() - started


def measure(definition: dict[str, Any], data: Any, repeat: int, max_events: int | None = 25_000) -> dict[str, Any]:
    parse_s = statistics.median(_cold_compile(definition, i) for i in range(COMPILE_REPEATS))
    machine = StateMachine(definition, resources={"always-fails": _always_fails})  # compiled: from the cache
    walls, ex = [], None
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # One run untimed: a first run loads the integrations a Task uses, and Python's interpreter specialises
    # code as it runs it (a sub-millisecond run is twice as slow its first few times).
    machine.run(data, seed=0, max_events=max_events)
    enough = time.perf_counter() + MIN_TIMED_SECONDS
    while len(walls) < repeat or (time.perf_counter() < enough and len(walls) < MAX_RUNS):
        ex = None  # the previous execution's history is not kept alive through this one
        started = time.perf_counter()
        ex = machine.run(data, seed=0, max_events=max_events)
        walls.append(time.perf_counter() - started)
    history = ex.history  # built here, once, after the timed runs: the full history is available
    transitions = sum(1 for e in history if e["type"].endswith("StateEntered"))
    wall = statistics.median(walls)
    span = (history[-1]["timestamp"] - history[0]["timestamp"]).total_seconds()
    peak = max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    return {"status": ex.status, "wall": wall, "transitions": transitions, "events": len(history),
            "rate": transitions / wall if wall else float("inf"), "parse": parse_s, "virtual_span": span,
            "peak_mb": peak}


def measure_moto(definition: dict[str, Any], data: Any) -> float | None:
    """Wall seconds for moto's engine to finish one execution, or None when moto is not installed."""
    try:
        import boto3
        from moto import mock_aws
        from moto.stepfunctions.parser import models  # noqa: F401 - needs moto[stepfunctions]
    except ImportError:
        return None
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name="us-east-1")
        arn = client.create_state_machine(name="bench", definition=json.dumps(definition),
                                          roleArn="arn:aws:iam::123456789012:role/bench")["stateMachineArn"]
        started = time.perf_counter()
        execution = client.start_execution(stateMachineArn=arn, input=json.dumps(data))["executionArn"]
        while client.describe_execution(executionArn=execution)["status"] == "RUNNING":
            time.sleep(0.005)
        return time.perf_counter() - started


def reference_ms() -> float:
    """Milliseconds this machine takes, now, for a fixed piece of plain Python (dict and list work, as the
    engine does): best of five. A shared or throttled machine can run at half speed without the load average
    showing it; this figure does (compare it between runs)."""
    def work() -> None:
        table: dict[int, list[int]] = {}
        for i in range(100_000):
            table[i & 1023] = [i, i + 1]

    best = math.inf
    for _ in range(5):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return (f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs; reference loop "
            f"{reference_ms():.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--defs", default="", help="comma-separated name prefixes to run (default: all)")
    parser.add_argument("--peers", action="store_true", help="also run moto's engine where it is installed")
    args = parser.parse_args()
    wanted = [w for w in args.defs.split(",") if w]
    print(f"sfn-local engine benchmark (median of {args.repeat}+ runs after a warm-up, full history; defs from "
          f"{SHARED if SHARED.is_dir() else 'bench/run.py generators'}); {_load()}")
    print(f"{'definition':23} {'status':10} {'wall ms':>9} {'transitions':>11} {'trans/s':>9} {'µs/trans':>8} "
          f"{'events':>7} {'compile ms':>10} {'virtual s':>9} {'peak MB':>7}")
    rows = []
    for name in ORDER:
        if wanted and not any(name.startswith(w) for w in wanted):
            continue
        loaded = load(name)
        if loaded is None:
            continue
        repeat = UNLIMITED.get(name) or args.repeat
        r = measure(*loaded, repeat, max_events=None if name in UNLIMITED else 25_000)
        rows.append((name, loaded, r))
        print(f"{name:23} {r['status']:10} {r['wall'] * 1000:9.2f} {r['transitions']:11d} {r['rate']:9.0f} "
              f"{1e6 / r['rate']:8.2f} {r['events']:7d} {r['parse'] * 1000:10.1f} {r['virtual_span']:9.0f} "
              f"{r['peak_mb']:7.1f}")
    print(_load())
    # Peers after ours: moto keeps execution threads alive that would skew our figures.
    print("\npeers on the same definition, wall seconds and trans/s (noted: measured by the team on this machine, "
          "../shared/README.md)")
    for name, loaded, r in rows:
        notes = PEER_NOTES.get(name, {})
        if not notes:
            continue
        peers = [f"{peer} {secs:.3f} ({r['transitions'] / secs:,.0f}/s)" for peer, secs in notes.items()]
        if args.peers:
            moto = measure_moto(*loaded)
            peers.append("moto here, now: " + (f"{moto:.3f}" if moto is not None else "not installed"))
        print(f"  {name:20} ours {r['wall']:.3f} ({r['rate']:,.0f}/s); " + "; ".join(peers))


if __name__ == "__main__":
    main()
