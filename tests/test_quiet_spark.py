"""Spark's and the JVM's own output goes to `<workspace>/logs/spark-driver.log`, never to the terminal."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pexpect
import pytest

pytest.importorskip("pyspark")

JOB = """\
import time

from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
print("rows:", spark.range(1000).selectExpr("id % 7 AS k").groupBy("k").count().count())
# A stage that lasts a few seconds, for the live display to show.
spark.sparkContext.parallelize(range(4), 4).map(lambda x: (time.sleep(1.5), x)[1]).count()
"""
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

NOISE = ("WARN", "log4j", "Stage ", "SparkContext", "NativeCodeLoader", "Setting default log level")


def test_a_spark_job_run_from_the_cli_on_a_terminal_shows_progress_and_no_jvm_output(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(JOB, encoding="utf-8")
    (tmp_path / "sfn-local.toml").write_text('[glue_jobs.tiny]\nScriptLocation = "tiny.py"\n', encoding="utf-8")
    definition = {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
        "Parameters": {"JobName": "tiny"}, "ResultSelector": {"state.$": "$.JobRunState"}, "End": True}}}
    (tmp_path / "job.asl.json").write_text(json.dumps(definition), encoding="utf-8")

    child = pexpect.spawn(sys.executable, ["-c", "from emulator.cli import main; main()", "--workspace", "ws", "run",
                                           "job.asl.json"], cwd=str(tmp_path), encoding="utf-8", timeout=300,
                          dimensions=(40, 160))
    child.expect(pexpect.EOF)
    child.close()
    screen = ANSI.sub("", child.before)

    assert child.exitstatus == 0, screen
    assert '"state": "SUCCEEDED"' in screen
    noisy = [line for line in screen.splitlines() if any(word in line for word in NOISE)]
    assert noisy == []
    # The live display showed the Glue run in the background and the Spark stage's tasks.
    assert re.search(r"↳ glue-\S+ [\d.]+ s", screen), screen
    assert re.search(r"↳ spark stage \d+ \(count\): \d/4 tasks", screen), screen
    log = (tmp_path / "ws" / "logs" / "spark-driver.log").read_text(encoding="utf-8")
    # The JVM started with the workspace's log4j2 file (so Spark's default profile never announced itself)
    # and its own log lines landed in the file.
    assert "SparkContext" in log or "WARN" in log, log[:2000]
    assert "Using Spark's default log4j profile" not in log
    assert (tmp_path / "ws" / "logs" / "spark-log4j2.properties").is_file()
