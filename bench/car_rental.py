"""The car-rental pipeline's wall time: cold (a new process, JVM start included) and warm.

    python bench/car_rental.py [--repeat 3]

Also prints the two Spark jobs run by plain `spark-submit`, one after the other, for comparison
(targets: cold <= 60 s on this 2-core machine; per-step overhead is in bench/pipeline_spark.py).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFINITION = ROOT / "definitions" / "car_rental_pipeline.asl.json"
RUN = (
    "import sys, time, emulator\n"
    "t = time.perf_counter()\n"
    "ex = emulator.run(sys.argv[1], {}, workspace=emulator.Workspace(root=sys.argv[2], project=sys.argv[3]))\n"
    "assert ex.status == 'SUCCEEDED', (ex.error, ex.cause)\n"
    "print(time.perf_counter() - t)\n"
)


def cold(workspace: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", RUN, str(DEFINITION), str(workspace), str(ROOT)], check=True,
                   capture_output=True, cwd=ROOT)
    return time.perf_counter() - started


def spark_submit(out: Path) -> float | None:
    submit = shutil.which("spark-submit") or str(Path(sys.executable).with_name("spark-submit"))
    if not Path(submit).exists():
        return None
    raw = ROOT / "sample_data" / "car_rental"
    jobs = [
        ["vehicle_location_metrics.py", "--rentals", raw / "rental_transactions", "--vehicles", raw / "vehicles",
         "--locations", raw / "locations", "--output", out / "location_metrics"],
        ["user_transaction_analysis.py", "--rentals", raw / "rental_transactions", "--users", raw / "users",
         "--output", out],
    ]
    started = time.perf_counter()
    for script, *args in jobs:
        subprocess.run([submit, "--master", "local[2]", str(ROOT / "spark_jobs" / script), *map(str, args)],
                       check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import emulator

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        colds = [cold(base / f"cold{i}") for i in range(args.repeat)]
        machine = emulator.StateMachine(DEFINITION, workspace=emulator.Workspace(root=base / "warm", project=ROOT))
        machine.run({})  # warms the session
        warms = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            ex = machine.run({})
            warms.append(time.perf_counter() - started)
            assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
        submit = spark_submit(base / "submit")
    print(f"car-rental pipeline, median of {args.repeat}")
    print(f"  cold (new process, JVM start):  {statistics.median(colds):6.2f} s   (target <= 60 s)")
    print(f"  warm (session already running): {statistics.median(warms):6.2f} s")
    if submit is None:
        print("  plain spark-submit: not found")
    else:
        print(f"  the two jobs by plain spark-submit, one after the other: {submit:6.2f} s")


if __name__ == "__main__":
    main()
