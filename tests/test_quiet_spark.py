"""Spark's and the JVM's own output goes to `<workspace>/logs/spark-driver.log`, never to the terminal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyspark")

JOB = """\
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
print("rows:", spark.range(1000).selectExpr("id % 7 AS k").groupBy("k").count().count())
"""

NOISE = ("WARN", "log4j", "Stage ", "SparkContext", "NativeCodeLoader", "Setting default log level")


def test_a_spark_job_run_from_the_cli_prints_no_jvm_output(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(JOB, encoding="utf-8")
    (tmp_path / "sfn-local.toml").write_text('[glue_jobs.tiny]\nScriptLocation = "tiny.py"\n', encoding="utf-8")
    definition = {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
        "Parameters": {"JobName": "tiny"}, "ResultSelector": {"state.$": "$.JobRunState"}, "End": True}}}
    (tmp_path / "job.asl.json").write_text(json.dumps(definition), encoding="utf-8")

    done = subprocess.run(
        [sys.executable, "-c", "from emulator.cli import main; main()", "--workspace", "ws", "run", "job.asl.json"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)

    assert done.returncode == 0, done.stdout
    assert '"state": "SUCCEEDED"' in done.stdout
    noisy = [line for line in done.stdout.splitlines() if any(word in line for word in NOISE)]
    assert noisy == []
    log = (tmp_path / "ws" / "logs" / "spark-driver.log").read_text(encoding="utf-8")
    # The JVM started with the workspace's log4j2 file (so Spark's default profile never announced itself)
    # and its own log lines landed in the file.
    assert "SparkContext" in log or "WARN" in log, log[:2000]
    assert "Using Spark's default log4j profile" not in log
    assert (tmp_path / "ws" / "logs" / "spark-log4j2.properties").is_file()
