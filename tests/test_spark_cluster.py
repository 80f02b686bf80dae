"""`[spark] master = "spark://..."`: EMR steps and Glue jobs on an existing standalone Spark cluster.

The test starts the cluster itself from the installed pyspark distribution (a Master and one Worker,
bound to 127.0.0.1 on free ports), points a workspace's `[spark] master` at it and checks the jobs'
output and that the application really ran on the cluster (the master lists it, with an executor).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import emulator
import emulator.integrations.emr  # registers the services
import emulator.integrations.gluejobs
from emulator.backends import Backends
from emulator.backends import spark as spark_backend
from emulator.workspace import Config, Workspace
from tests.spark_support import ORDERS_CSV, assert_orders_written, free_port

pyspark = pytest.importorskip("pyspark")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "spark_fixtures"
SPARK_HOME = Path(pyspark.__file__).parent


def master_state(ui_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as response:
        return json.loads(response.read())


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as sink:  # the child keeps its own descriptor
        return subprocess.Popen(args, env=env, stdout=sink, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A standalone master and worker on loopback; yields (master URL, master web UI port)."""
    spark_backend.stop_session()  # this process's session may still serve clusters earlier tests left running
    logs = tmp_path_factory.mktemp("standalone")
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(logs),
           "SPARK_WORKER_DIR": str(logs / "work")}
    env.pop(spark_backend.MASTER_ENV, None)
    port, ui = free_port(), free_port()
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    processes = [spawn([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
                        str(port), "--webui-port", str(ui)], env, logs / "master.log")]
    url = f"spark://127.0.0.1:{port}"
    processes.append(spawn(
        [spark_class, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--port", str(free_port()),
         "--webui-port", str(free_port()), "--cores", "1", "--memory", "1g", "--work-dir", str(logs / "work")],
        env, logs / "worker.log"))
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if any(w["state"] == "ALIVE" for w in master_state(ui)["workers"]):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (logs / "master.log").read_text()[-2000:]
            assert all(p.poll() is None for p in processes), (logs / "worker.log").read_text()[-2000:]
            time.sleep(0.5)
        yield url, ui
    finally:
        spark_backend.stop_session()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def ws(cluster: tuple[str, int], tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("on-cluster")
    config = Config(
        spark={"master": cluster[0], "conf": {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
                                              "spark.cores.max": 1, "spark.executor.memory": "512m"}},
        glue_jobs={"to-parquet": {"ScriptLocation": str(ROOT / "spark_jobs" / "csv_to_parquet_glue.py")}})
    workspace = Workspace(root=root / "ws", project=root, config=config)
    store = Backends(workspace).object_store
    store.put("lake", "raw/orders.csv", ORDERS_CSV)
    return workspace


def test_an_emr_step_and_a_glue_job_run_on_the_standalone_cluster(ws: Workspace, cluster: tuple[str, int],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(spark_backend.MASTER_ENV, raising=False)
    definition = {"StartAt": "Create", "States": {
        "Create": {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:createCluster.sync",
                   "Parameters": {"Name": "on-standalone", "Instances": {"KeepJobFlowAliveWhenNoSteps": True}},
                   "ResultPath": "$.cluster", "Next": "Step"},
        "Step": {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:addStep.sync", "ResultPath": None,
                 "Parameters": {"ClusterId.$": "$.cluster.ClusterId", "Step": {"Name": "totals", "HadoopJarStep": {
                     "Jar": "command-runner.jar", "Args": ["spark-submit", str(FIXTURES / "csv_to_parquet.py"),
                                                          "s3://lake/raw/orders.csv", "s3a://lake/totals/"]}}},
                 "Next": "Glue"},
        "Glue": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync", "ResultPath": None,
                 "Parameters": {"JobName": "to-parquet", "Arguments": {
                     "--source": "s3://lake/raw/", "--target": "s3://lake/curated/", "--partition_column": "region"}},
                 "Next": "Terminate"},
        "Terminate": {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:terminateCluster.sync",
                      "Parameters": {"ClusterId.$": "$.cluster.ClusterId"}, "End": True}}}
    ex = emulator.run(definition, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause

    session = Backends(ws).spark.session()
    assert session.sparkContext.master == cluster[0]
    app = next(a for a in master_state(cluster[1])["activeapps"] if a["id"] == session.sparkContext.applicationId)
    assert app["cores"] >= 1  # an executor on the worker ran the jobs' tasks

    store = Backends(ws).object_store
    assert_orders_written(store)
