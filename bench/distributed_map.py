"""Distributed Map over a CSV in the local object store: µs per row and peak memory at 1k, 10k and 100k rows.

    python bench/distributed_map.py [--rows 1000,10000,100000] [--repeat 3]

Runs definitions/distributed_csv_batches.asl.json (1,000 rows a batch, results written to S3 as JSON Lines)
with its Pass processor, and the same map with a Python-handler Task instead, on CSV files generated at
run time (sample_data/distributed/generate.py). Time is the median of --repeat runs without tracing;
peak memory is tracemalloc's peak over one more run (Python allocations made by the run). The linearity
ratio is µs/row at the largest size over µs/row at the smallest (1.0: exactly linear). `STANDARD` repeats
the Pass run with Standard child executions, whose histories are kept in memory (Express ones are not).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.backends.objectstore import ObjectStore  # noqa: E402
from emulator.engine.execution import StateMachine  # noqa: E402
from emulator.workspace import Workspace  # noqa: E402
from sample_data.distributed.generate import csv_bytes  # noqa: E402

DEFINITION = ROOT / "definitions" / "distributed_csv_batches.asl.json"
HANDLER = "arn:aws:lambda:us-east-1:123456789012:function:sum-batch"


def sum_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    items = event["Items"]
    return {"source": event["BatchInput"]["source"], "rows": len(items),
            "total": sum(float(row["amount"]) for row in items)}


def variants() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    base = json.loads(DEFINITION.read_text())
    handler = copy.deepcopy(base)
    processor = handler["States"]["SumReadings"]["ItemProcessor"]
    processor["States"] = {"SumBatch": {"Type": "Task", "Resource": HANDLER, "End": True}}
    standard = copy.deepcopy(base)
    standard["States"]["SumReadings"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = "STANDARD"
    return {"Pass": (base, {}), "Python handler": (handler, {"sum-batch": sum_batch}),
            "Pass, STANDARD": (standard, {})}


def measure(definition: dict[str, Any], resources: dict[str, Any], rows: int, repeat: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Workspace(root=Path(tmp) / "ws", project=Path(tmp))
        ObjectStore(workspace).put("readings", "readings.csv", csv_bytes(rows))
        machine = StateMachine(definition, resources=resources, workspace=workspace)
        payload = {"bucket": "readings", "key": "readings.csv", "resultsBucket": "results"}

        def once() -> float:
            started = time.perf_counter()
            ex = machine.run(payload)
            elapsed = time.perf_counter() - started
            if ex.status != "SUCCEEDED" or ex.map_runs[0].item_counts["succeeded"] != rows:
                raise SystemExit(f"run failed: {ex.error} {ex.cause}")
            return elapsed

        once()  # warm: imports, compiled definition, bucket folders
        seconds = statistics.median(once() for _ in range(repeat))
        tracemalloc.start()
        once()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(n) for n in args.rows.split(",")]
    print(f"{'processor':<16}{'rows':>9}{'seconds':>10}{'µs/row':>9}{'peak MiB':>10}")
    for name, (definition, resources) in variants().items():
        per_row = []
        for rows in sizes:
            seconds, peak = measure(definition, resources, rows, args.repeat)
            per_row.append(seconds / rows * 1e6)
            print(f"{name:<16}{rows:>9,}{seconds:>10.3f}{per_row[-1]:>9.2f}{peak / 2**20:>10.2f}")
        print(f"{name:<16} linearity (µs/row at {sizes[-1]:,} / at {sizes[0]:,}): {per_row[-1] / per_row[0]:.2f}")


if __name__ == "__main__":
    main()
