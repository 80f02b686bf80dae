"""Spark pipeline figures: warm-session start, addStep.sync overhead, and plain spark-submit for comparison.

    python bench/pipeline_spark.py

Overhead of a step = the task's wall time minus the script's own time on the session (JobResult.seconds,
as the step's StartDateTime..EndDateTime shows it), i.e. what the emulator adds around a job.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from functools import cached_property
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import emulator
import emulator.integrations.emr  # registers the service
from emulator.backends import Backends, spark
from emulator.backends.spark import SparkEngine
from emulator.workspace import Config, Workspace

JOB = Path(__file__).resolve().parents[1] / "tests" / "spark_fixtures" / "csv_to_parquet.py"


def main() -> None:
    if not hasattr(Backends, "spark"):  # until Backends wires the engine itself
        prop = cached_property(lambda self: SparkEngine(self.workspace, self.object_store))
        prop.__set_name__(Backends, "spark")
        Backends.spark = prop  # type: ignore[attr-defined]
    root = Path(tempfile.mkdtemp(prefix="sfn-spark-bench-"))
    ws = Workspace(root=root / "ws", project=root, config=Config())
    store = Backends(ws).object_store
    rows = "".join(f"{i},{i * 1.5},{['eu', 'us', 'ap'][i % 3]}\n" for i in range(50_000))
    store.put("lake", "orders.csv", f"id,amount,region\n{rows}".encode())

    def step(name: str) -> dict:
        return {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:addStep.sync", "ResultPath": f"$.{name}",
                "Parameters": {"ClusterId.$": "$.c.ClusterId", "Step": {"Name": name, "HadoopJarStep": {
                    "Jar": "command-runner.jar",
                    "Args": ["spark-submit", str(JOB), "s3://lake/orders.csv", f"s3a://lake/out/{name}/"]}}}}

    create = emulator.StateMachine({"StartAt": "C", "States": {"C": {
        "Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:createCluster.sync", "ResultPath": "$.c",
        "Parameters": {"Name": "bench", "Instances": {"KeepJobFlowAliveWhenNoSteps": True}}, "End": True}}},
        workspace=ws)
    began = time.monotonic()
    cluster = create.run({}).output
    print(f"cluster WAITING (session start) : {time.monotonic() - began:6.2f} s "
          f"(JVM + session {spark.started_in:.2f} s)")

    machine = emulator.StateMachine({"StartAt": "S", "States": {"S": {**step("s"), "End": True}}}, workspace=ws)
    for i in range(4):
        began = time.monotonic()
        ex = machine.run(cluster)
        wall = time.monotonic() - began
        timeline = ex.output["s"]["Step"]["Status"]["Timeline"]
        job = (timeline["EndDateTime"] - timeline["StartDateTime"]) / 1000
        print(f"addStep.sync #{i + 1}: wall {wall:5.2f} s, job {job:5.2f} s, overhead {wall - job:5.2f} s")
    emulator.run({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:terminateCluster.sync",
        "Parameters": {"ClusterId.$": "$.c.ClusterId"}, "End": True}}}, cluster, workspace=ws)

    submit = Path(sys.modules["pyspark"].__file__).parent / "bin" / "spark-submit"
    out = root / "submit-out"
    for i in range(2):
        began = time.monotonic()
        subprocess.run([str(submit), "--master", "local[2]", str(JOB), str(store.local_path("s3://lake/orders.csv")),
                        str(out / str(i))], check=True, capture_output=True)
        print(f"spark-submit #{i + 1} (fresh JVM each) : {time.monotonic() - began:6.2f} s")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
