"""The car-rental pipeline's wall time: cold, warm in the same process, and through a warm `sfn-local serve`.

    python bench/car_rental.py [--repeat 3]

cold: a new Python process runs it (interpreter, imports, JVM start included; target <= 11 s on 2 cores).
warm pool: the same process runs it again: TerminateCluster returned the session to the pool, so no JVM
starts (target <= the jobs' own Spark time + 0.5 s; that time is the span of the two parallel steps).
warm serve: `sfn-local run` (a new CLI process) while `sfn-local serve` runs on the workspace: the CLI
hands the Spark jobs to the server's session (target <= 3 s on 2 cores). Also prints the two Spark jobs
run by plain `spark-submit`, one after the other, for comparison. Figures are medians of --repeat runs;
the machine's load average is printed beside them, so a noisy figure shows.

The driver JVM maps a class-data archive kept in the user's cache (emulator/backends/sparkjvm.py); the
first JVM ever started without one writes it as it exits. When there is none yet, the first cold run
writes it, is reported on its own line and left out of the cold median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFINITION = ROOT / "definitions" / "car_rental_pipeline.asl.json"
SFN_LOCAL = str(Path(sys.executable).with_name("sfn-local"))
RUN = (
    "import sys, time, emulator\n"
    "t = time.perf_counter()\n"
    "ex = emulator.run(sys.argv[1], {}, workspace=emulator.Workspace(root=sys.argv[2], project=sys.argv[3]))\n"
    "assert ex.status == 'SUCCEEDED', (ex.error, ex.cause)\n"
    "print(time.perf_counter() - t)\n"
)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("SFN_LOCAL_WORKSPACE", "SFN_LOCAL_SPARK_MASTER")}


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, cwd=ROOT, env=_env())
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({done.returncode}):\n"
                         f"{done.stdout.decode()[-3000:]}{done.stderr.decode()[-3000:]}")


def cold(workspace: Path) -> float:
    started = time.perf_counter()
    _run([sys.executable, "-c", RUN, str(DEFINITION), str(workspace), str(ROOT)])
    return time.perf_counter() - started


def steps_span(workspace: Path) -> float:
    """The jobs' own Spark time in the newest cluster: first step start to last step end."""
    newest = max((workspace / "emr").glob("j-*.json"), key=lambda p: p.stat().st_mtime)
    timelines = [s["Status"]["Timeline"] for s in json.loads(newest.read_text())["Steps"]]
    return (max(t["EndDateTime"] for t in timelines) - min(t["StartDateTime"] for t in timelines)) / 1000


def warm_pool(workspace: Path, repeat: int) -> tuple[list[float], list[float]]:
    import emulator

    machine = emulator.StateMachine(DEFINITION, workspace=emulator.Workspace(root=workspace, project=ROOT))
    machine.run({})  # starts the JVM; its TerminateCluster puts the session in the pool
    walls, spans = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        ex = machine.run({})
        walls.append(time.perf_counter() - started)
        assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
        spans.append(steps_span(workspace))
    from emulator.backends.spark import stop_session

    stop_session()  # the serve figures start their own JVM; two would compete for the 2 cores
    return walls, spans


def warm_serve(workspace: Path, repeat: int) -> tuple[list[float], list[float]]:
    """Wall times of `sfn-local run` while a serve runs on the workspace (after one run that warms it),
    and the jobs' own Spark time in each."""
    from emulator.backends import sparkservice
    from emulator.workspace import Config, Workspace

    workspace.mkdir(parents=True)
    log = workspace.parent / "serve.log"
    with open(log, "wb") as sink:
        server = subprocess.Popen([SFN_LOCAL, "--workspace", str(workspace), "serve", "--port", "0"], cwd=ROOT,
                                  env=_env(), stdout=sink, stderr=subprocess.STDOUT)
    try:
        while sparkservice.find(Workspace(root=workspace, project=ROOT, config=Config())) is None:
            if server.poll() is not None:
                raise SystemExit(f"sfn-local serve ended: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        walls, spans = [], []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            _run([SFN_LOCAL, "--workspace", str(workspace), "run", str(DEFINITION), "--json"])
            walls.append(time.perf_counter() - started)
            spans.append(steps_span(workspace))
        return walls[1:], spans[1:]
    finally:
        server.terminate()
        server.wait(timeout=60)


def spark_submit(out: Path) -> float:
    import pyspark

    home = Path(pyspark.__file__).parent
    env = {**_env(), "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable}
    raw = ROOT / "sample_data" / "car_rental"
    jobs = [
        ["vehicle_location_metrics.py", "--rentals", raw / "rental_transactions", "--vehicles", raw / "vehicles",
         "--locations", raw / "locations", "--output", out / "location_metrics"],
        ["user_transaction_analysis.py", "--rentals", raw / "rental_transactions", "--users", raw / "users",
         "--output", out],
    ]
    started = time.perf_counter()
    for script, *args in jobs:
        subprocess.run([str(home / "bin" / "spark-submit"), "--master", "local[2]", str(ROOT / "spark_jobs" / script),
                        *map(str, args)], check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    median = statistics.median

    from emulator.backends import sparkjvm

    archive = sparkjvm.archive_path()
    first_ever = None
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        if archive is not None and not archive.is_file() and os.environ.get(sparkjvm.CDS_ENV, "1") != "0":
            first_ever = cold(base / "first" / "ws")
        colds, loads = [], {}
        for i in range(args.repeat):
            colds.append(cold(base / f"cold{i}" / "ws"))
        loads["cold"] = os.getloadavg()[0]
        pool, spans = warm_pool(base / "pool" / "ws", args.repeat)
        loads["pool"] = os.getloadavg()[0]
        served, served_spans = warm_serve(base / "serve" / "ws", args.repeat)
        loads["serve"] = os.getloadavg()[0]
        submit = spark_submit(base / "submit")
        loads["submit"] = os.getloadavg()[0]
    print(f"car-rental pipeline, median of {args.repeat} (load average after each part in brackets)")
    if first_ever is not None:
        print(f"  first cold run, writing the class archive: {first_ever:6.2f} s")
    print(f"  cold (new process, JVM start):        {median(colds):6.2f} s   (target <= 11 s on 2 cores) "
          f"[{loads['cold']:.1f}]")
    overhead = median(w - s for w, s in zip(pool, spans, strict=True))
    print(f"  warm pool (same process, 2nd+ run):   {median(pool):6.2f} s   (jobs' own Spark time "
          f"{median(spans):.2f} s, overhead {overhead:.2f} s; target <= 0.5 s) [{loads['pool']:.1f}]")
    overhead = median(w - s for w, s in zip(served, served_spans, strict=True))
    print(f"  warm serve (`sfn-local run`, new CLI): {median(served):6.2f} s   (jobs' own Spark time "
          f"{median(served_spans):.2f} s, overhead {overhead:.2f} s; target <= 3 s on 2 cores) [{loads['serve']:.1f}]")
    print(f"  the two jobs by plain spark-submit, one after the other: {submit:6.2f} s [{loads['submit']:.1f}]")


if __name__ == "__main__":
    main()
