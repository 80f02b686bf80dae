"""Concurrent executions in one process: per-execution wall time for 1 vs N at once.

    python bench/concurrency.py [--concurrent 100] [--repeat 11] [--defs pass_chain,map_inline]

Each definition (bench/run.py's shapes, smaller so that 100 of them finish in seconds) is
compiled once; then "1 at a time" is the wall of N executions run one after another (each started
with `emulator.start` and waited for before the next), and "N at once" the wall from starting N
executions to the last one ending, each divided by N; both keep their N Executions, as a caller
collecting results does (medians over --repeat interleaved rounds). The GIL runs one thread's Python at
a time, so the target is throughput: N at once take no longer than N one after another (ratio <= 1.00).
Both wall and CPU time (the process's, all threads) are shown; the verdict reads CPU time. The ratios
are medians of each round's own ratio (its two sides ran back to back), with the CPU ratio's range. On a
loaded machine wall time favours the short single runs: one fits in a scheduler time slice,
while N at once last long enough to share the CPUs with everything else. The load average is
printed beside the figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import _load, _map_inline, _pass_chain  # noqa: E402

import emulator  # noqa: E402

DEFINITIONS = {
    "pass_chain_100": lambda: _pass_chain(100),
    "map_inline_100": lambda: _map_inline(100),
}


def one_at_a_time(machine: emulator.StateMachine, data: Any, count: int) -> tuple[float, float]:
    """(wall, CPU) seconds per execution of `count` executions run one after another."""
    wall, cpu = time.perf_counter(), time.process_time()
    executions = [machine.start(data).wait(120) for _ in range(count)]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert all(ex.status == "SUCCEEDED" for ex in executions), {ex.status for ex in executions}
    return wall / count, cpu / count


def all_at_once(machine: emulator.StateMachine, data: Any, concurrent: int) -> tuple[float, float]:
    """(wall, CPU) seconds per execution of `concurrent` executions started together."""
    wall, cpu = time.perf_counter(), time.process_time()
    executions = [machine.start(data) for _ in range(concurrent)]
    for ex in executions:
        ex.wait(600)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert all(ex.status == "SUCCEEDED" for ex in executions), {ex.status for ex in executions}
    return wall / concurrent, cpu / concurrent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrent", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--defs", default="", help="comma-separated name prefixes to run (default: all)")
    args = parser.parse_args()
    wanted = [w for w in args.defs.split(",") if w]
    print(f"sfn-local concurrency benchmark: 1 vs {args.concurrent} executions of emulator.start in one "
          f"process (median of {args.repeat} rounds); {_load()}")
    at_once = f"{args.concurrent} at once"
    print(f"{'definition':16} {'1 at a time: wall ms':>20} {'CPU ms':>7} {at_once + ': wall ms/ex':>20} "
          f"{'CPU ms/ex':>9} {'wall ratio':>10} {'CPU ratio':>9} {'range':>10}  verdict (CPU)")
    for name, make in DEFINITIONS.items():
        if wanted and not any(name.startswith(w) for w in wanted):
            continue
        definition, data = make()
        machine = emulator.StateMachine(definition)
        machine.run(data)  # warm-up: compiled, first-use modules loaded
        singles, together = [], []
        for _ in range(args.repeat):  # interleaved: a load spike on this shared machine hits both sides
            singles.append(one_at_a_time(machine, data, args.concurrent))
            together.append(all_at_once(machine, data, args.concurrent))
        single = [statistics.median(t[i] for t in singles) for i in (0, 1)]
        per_execution = [statistics.median(t[i] for t in together) for i in (0, 1)]
        # Each round's two sides ran back to back, so their ratio is the fair comparison: this machine's speed
        # drifts between rounds (a process runs at one of two speeds), which a ratio of medians would mix in.
        ratios = [[b[i] / a[i] for a, b in zip(singles, together, strict=True)] for i in (0, 1)]
        wall_ratio, cpu_ratio = statistics.median(ratios[0]), statistics.median(ratios[1])
        print(f"{name:16} {single[0] * 1000:20.2f} {single[1] * 1000:7.2f} {per_execution[0] * 1000:20.2f} "
              f"{per_execution[1] * 1000:9.2f} {wall_ratio:10.2f} {cpu_ratio:9.2f} {min(ratios[1]):5.2f}-"
              f"{max(ratios[1]):4.2f}  {'OK' if cpu_ratio <= 1.0 else 'SLOWER'}")
    print(_load())


if __name__ == "__main__":
    main()
