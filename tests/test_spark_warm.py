"""The warm Spark pool: clusters and Glue runs share one JVM, and each starts with clean Spark state."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import emulator
import emulator.integrations.emr  # registers the services
import emulator.integrations.gluejobs
from emulator.backends import Backends, sparkservice
from emulator.backends import spark as spark_backend
from emulator.backends.spark import SparkSettings, spark_settings
from emulator.workspace import WORKSPACE_ENV, Config, ConfigError, Workspace

pytest.importorskip("pyspark")

POOL = Path(__file__).parent / "spark_fixtures" / "warm_pool"
ROOT = Path(__file__).resolve().parents[1]
SFN_LOCAL = [str(Path(sys.executable).with_name("sfn-local"))]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("warm")
    config = Config(glue_jobs={"probe": {"ScriptLocation": str(POOL / "probe_state.py")},
                               "dirty": {"ScriptLocation": str(POOL / "dirty_state.py")}})
    yield Workspace(root=root / "ws", project=root, config=config)
    spark_backend.stop_session()


def step(name: str, script: str, *args: str) -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:addStep.sync", "ResultPath": None,
            "Parameters": {"ClusterId.$": "$.cluster.ClusterId", "Step": {"Name": name, "HadoopJarStep": {
                "Jar": "command-runner.jar", "Args": ["spark-submit", "--py-files", str(POOL / "deps"),
                                                      str(POOL / script), *args]}}}}


def cluster_run(*steps: dict[str, Any]) -> dict[str, Any]:
    """Create a cluster, run `steps`, terminate it."""
    states: dict[str, Any] = {"Create": {
        "Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:createCluster.sync", "ResultPath": "$.cluster",
        "Parameters": {"Name": "pool", "Instances": {"KeepJobFlowAliveWhenNoSteps": True}}}}
    for i, body in enumerate(steps):
        states[f"S{i}"] = body
    states["Terminate"] = {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:terminateCluster.sync",
                           "Parameters": {"ClusterId.$": "$.cluster.ClusterId"}, "End": True}
    for here, there in itertools.pairwise(list(states)):
        states[here]["Next"] = there
    return {"StartAt": "Create", "States": states}


def test_a_terminated_cluster_returns_a_cleared_session_on_the_same_jvm(ws: Workspace, tmp_path: Path) -> None:
    # The session's own setting before any job changes it (it depends on how the session was started).
    baseline = Backends(ws).spark.session().conf.get("spark.sql.shuffle.partitions")
    probe = step("probe", "probe_state.py", "--out", str(tmp_path / "same.json"))
    dirty = emulator.run(cluster_run(step("dirty", "dirty_state.py"), probe), {}, workspace=ws)
    assert dirty.status == "SUCCEEDED", dirty.cause
    jvm = spark_backend.jvm_process()
    assert jvm is not None and jvm.poll() is None  # TerminateCluster left the JVM up, in the pool
    same = json.loads((tmp_path / "same.json").read_text())
    # Within one cluster the state is there: the probe sees it.
    assert same["temp_views"] == ["left_view"] and same["global_views"] == ["left_global"]
    assert not same["cache_empty"] and same["persistent_rdds"] >= 1 and same["udf"]
    assert (same["shuffle_partitions"], same["hadoop_key"], same["helper_imported"]) == ("7", "dirty", True)

    clean = emulator.run(cluster_run(step("probe", "probe_state.py", "--out", str(tmp_path / "next.json"))), {}, workspace=ws)
    assert clean.status == "SUCCEEDED", clean.cause
    after = json.loads((tmp_path / "next.json").read_text())
    assert after == {"temp_views": [], "global_views": [], "cache_empty": True, "persistent_rdds": 0,
                     "shuffle_partitions": baseline, "udf": False, "hadoop_key": None, "helper_imported": False,
                     "application_id": same["application_id"]}  # same SparkContext: the JVM was reused
    assert spark_backend.jvm_process() is jvm and jvm.poll() is None


def test_a_glue_run_returns_the_session_to_the_pool_at_its_end(ws: Workspace, tmp_path: Path) -> None:
    baseline = Backends(ws).spark.session().conf.get("spark.sql.shuffle.partitions")
    jvm_before = spark_backend.jvm_process()
    glue = {"StartAt": "Dirty", "States": {
        "Dirty": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                  "Parameters": {"JobName": "dirty"}, "ResultPath": None, "Next": "Probe"},
        "Probe": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync", "ResultPath": None,
                  "Parameters": {"JobName": "probe", "Arguments": {"--out": str(tmp_path / "glue.json")}}, "End": True}}}
    ex = emulator.run(glue, {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    state = json.loads((tmp_path / "glue.json").read_text())
    assert state["temp_views"] == [] and state["global_views"] == [] and state["cache_empty"]
    assert (state["shuffle_partitions"], state["hadoop_key"], state["udf"]) == (baseline, None, False)
    assert spark_backend.jvm_process() is jvm_before and jvm_before.poll() is None


@pytest.mark.parametrize(("section", "message"), [
    ({"master": "yarn"}, '[spark] master: expected "local[N]" or "spark://host:port", got string \'yarn\''),
    ({"master": 7}, "[spark] master: expected"),
    ({"remote": "127.0.0.1:15002"}, "[spark] remote: expected a Spark Connect URL"),
    ({"conf": "x=1"}, "[spark] conf: expected a table"),
    ({"conf": {"spark.x": [1]}}, "[spark] conf.spark.x: expected a string, number or boolean"),
    ({"masters": "local[1]"}, "[spark] masters: unknown key"),
])
def test_bad_spark_settings_are_refused_naming_the_key(section: dict[str, Any], message: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(spark_backend.MASTER_ENV, raising=False)
    with pytest.raises(ConfigError) as raised:
        spark_settings(Config(spark=section, source=Path("/p/sfn-local.toml")))
    assert message in str(raised.value) and str(raised.value).startswith("/p/sfn-local.toml: ")


def test_spark_settings_read_master_and_conf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(spark_backend.MASTER_ENV, raising=False)
    settings = spark_settings(Config(spark={"master": "spark://127.0.0.1:7077",
                                            "conf": {"spark.cores.max": 1, "spark.ui.enabled": False}}))
    assert settings == SparkSettings("spark://127.0.0.1:7077", (("spark.cores.max", "1"), ("spark.ui.enabled", "false")))
    assert spark_settings(Config()).master == "local[2]"
    monkeypatch.setenv(spark_backend.MASTER_ENV, "local[1]")
    assert spark_settings(Config(spark={"master": "local[3]"})).master == "local[1]"


def test_a_bad_master_fails_the_cluster_with_the_config_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(spark_backend.MASTER_ENV, raising=False)
    bad = Workspace(root=tmp_path / "ws", project=tmp_path, config=Config(spark={"master": "yarn"}))
    ex = emulator.run(cluster_run(), {}, workspace=bad)
    assert (ex.status, ex.error) == ("FAILED", "States.TaskFailed")
    cluster = json.loads(ex.cause)["Cluster"]
    assert cluster["Status"]["StateChangeReason"]["Code"] == "BOOTSTRAP_FAILURE"
    assert "[spark] master: expected" in cluster["Status"]["StateChangeReason"]["Message"]


def test_the_cli_hands_spark_jobs_to_a_warm_serve_and_starts_no_jvm(tmp_path: Path) -> None:
    """`sfn-local run` of the car-rental pipeline twice while `sfn-local serve` runs on the workspace: the
    runs' CLI processes have no Java at all (JAVA_HOME points nowhere), so they can only succeed on the
    server's session; the server's SparkContext is the same for both; the second run is the faster."""
    workspace = tmp_path / "ws"
    env = {k: v for k, v in os.environ.items() if k not in (spark_backend.MASTER_ENV, WORKSPACE_ENV)}
    log = tmp_path / "serve.log"
    with open(log, "wb") as sink:
        server = subprocess.Popen([*SFN_LOCAL, "--workspace", str(workspace), "serve", "--port", "0"], cwd=ROOT,
                                  env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while (service := sparkservice.find(Workspace(root=workspace, project=ROOT, config=Config()))) is None:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert service.ping()["applicationId"] is None  # no session before a job

        no_java = {**env, "JAVA_HOME": str(tmp_path / "no-java")}
        walls, applications = [], []
        for _ in range(2):
            began = time.monotonic()
            run = subprocess.run([*SFN_LOCAL, "--workspace", str(workspace), "run",
                                  "definitions/car_rental_pipeline.asl.json", "--json"],
                                 cwd=ROOT, env=no_java, capture_output=True, text=True, timeout=600)
            walls.append(time.monotonic() - began)
            assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
            assert json.loads(run.stdout)["status"] == "SUCCEEDED"
            applications.append(service.ping()["applicationId"])
        print(f"car-rental through a warm serve: first {walls[0]:.2f} s, second {walls[1]:.2f} s")
        assert applications[0] is not None and applications[0] == applications[1]
        assert walls[1] < walls[0]
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C
        server.wait(timeout=60)
    assert not (workspace / sparkservice.SERVICE_FILE).exists()  # serve withdrew its offer on the way out
    # Without the server, the CLI runs Spark itself — and here it has no Java, so the pipeline fails.
    alone = subprocess.run([*SFN_LOCAL, "--workspace", str(workspace), "run", "definitions/car_rental_pipeline.asl.json",
                            "--json"], cwd=ROOT, env=no_java, capture_output=True, text=True, timeout=600)
    assert alone.returncode == 1 and json.loads(alone.stdout)["error"] == "CarRentalPipelineFailed"
    newest = max((workspace / "emr").glob("j-*.json"), key=lambda p: p.stat().st_mtime)
    assert json.loads(newest.read_text())["Status"]["StateChangeReason"]["Code"] == "BOOTSTRAP_FAILURE"
