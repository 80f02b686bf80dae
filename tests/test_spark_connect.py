"""`[spark] remote = "sc://..."`: EMR steps and Glue jobs on a Spark Connect server.

The test starts the server itself from the installed pyspark distribution (SparkConnectServer through
spark-submit, bound to 127.0.0.1 on a free port), points workspaces' `[spark] remote` at it and checks
the jobs' output in the object store, that no JVM ran in this process, that clusters do not leak
state to the next one, that JVM-only calls fail naming themselves, and the `storage` mapping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import emulator
import emulator.integrations.emr  # registers the services
import emulator.integrations.gluejobs
from emulator.backends import Backends
from emulator.backends import spark as spark_backend
from emulator.backends.spark import spark_settings
from emulator.workspace import Config, ConfigError, Workspace, load_config
from tests.spark_support import ORDERS, ORDERS_CSV, assert_orders_written, free_port

pyspark = pytest.importorskip("pyspark")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "spark_fixtures"
SPARK_HOME = Path(pyspark.__file__).parent


def missing_requirement() -> str | None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java to run a Spark Connect server"
    if not list((SPARK_HOME / "jars").glob("spark-connect_*.jar")):
        return f"pyspark at {SPARK_HOME} has no spark-connect jar"
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark Connect server on loopback, started from pyspark's own spark-submit; yields its sc:// URL."""
    if (reason := missing_requirement()) is not None:
        print(f"skipped: {reason}")
        pytest.skip(reason)
    spark_backend.stop_session()  # this process's session may still serve clusters earlier tests left running
    logs = tmp_path_factory.mktemp("connect-server")
    port = free_port()
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(logs)}
    env.pop(spark_backend.MASTER_ENV, None)
    env.pop("SPARK_REMOTE", None)
    began = time.monotonic()
    with open(logs / "server.log", "wb") as sink:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [str(SPARK_HOME / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
             # C1 only and the serial GC: a short-lived server spends far less CPU compiling (~40% faster here)
             "--driver-java-options", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC", "--master", "local[2]", "--conf", f"spark.connect.grpc.binding.port={port}",
             "--conf", "spark.connect.grpc.binding.address=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
             "--conf", "spark.ui.enabled=false", "--conf", f"spark.pyspark.python={sys.executable}", "spark-internal"],
            env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while b"Spark Connect server started" not in (logs / "server.log").read_bytes():
            assert process.poll() is None, (logs / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (logs / "server.log").read_text()[-3000:]
            time.sleep(0.2)
        print(f"Spark Connect server started in {time.monotonic() - began:.1f}s")
        yield f"sc://127.0.0.1:{port}"
    finally:
        spark_backend.stop_session()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def workspace(root: Path, spark: dict[str, Any], **config: Any) -> Workspace:
    ws = Workspace(root=root / "ws", project=root, config=Config(spark=spark, **config))
    Backends(ws).object_store.put("lake", "raw/orders.csv", ORDERS_CSV)
    return ws


def cluster_pipeline(*steps: list[str], glue: dict[str, Any] | None = None) -> dict[str, Any]:
    """createCluster → one addStep.sync per spark-submit argument list → (a Glue run) → terminateCluster."""
    states: dict[str, Any] = {"Create": {
        "Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:createCluster.sync", "ResultPath": "$.cluster",
        "Parameters": {"Name": "on-connect", "Instances": {"KeepJobFlowAliveWhenNoSteps": True}}, "Next": "Step0"}}
    names = [f"Step{i}" for i in range(len(steps))] + (["Glue"] if glue else []) + ["Terminate"]
    for i, args in enumerate(steps):
        states[names[i]] = {
            "Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:addStep.sync", "ResultPath": None,
            "Parameters": {"ClusterId.$": "$.cluster.ClusterId", "Step": {"Name": f"step {i}", "HadoopJarStep": {
                "Jar": "command-runner.jar", "Args": ["spark-submit", *args]}}}, "Next": names[i + 1]}
    if glue:
        states["Glue"] = {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync", "ResultPath": None,
                          "Parameters": glue, "Next": "Terminate"}
    states["Terminate"] = {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:terminateCluster.sync",
                           "Parameters": {"ClusterId.$": "$.cluster.ClusterId"}, "End": True}
    return {"StartAt": "Create", "States": states}


def script(folder: Path, name: str, source: str) -> str:
    path = folder / name
    path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    return str(path)


@pytest.fixture
def no_master_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(spark_backend.MASTER_ENV, raising=False)


@pytest.mark.usefixtures("no_master_env")
def test_an_emr_step_and_a_glue_job_run_on_the_connect_server(server: str, tmp_path: Path) -> None:
    ws = workspace(tmp_path, {"remote": server, "conf": {"spark.sql.shuffle.partitions": 3}}, glue_jobs={
        "to-parquet": {"ScriptLocation": str(ROOT / "spark_jobs" / "csv_to_parquet_glue.py")}})
    began = time.monotonic()
    ex = emulator.run(cluster_pipeline(
        [str(FIXTURES / "csv_to_parquet.py"), "s3://lake/raw/orders.csv", "s3a://lake/totals/"],
        glue={"JobName": "to-parquet", "Arguments": {
            "--source": "s3://lake/raw/", "--target": "s3://lake/curated/", "--partition_column": "region"}}),
        {}, workspace=ws)
    print(f"EMR step + Glue job on Spark Connect: {time.monotonic() - began:.1f}s")
    assert ex.status == "SUCCEEDED", ex.cause

    session = Backends(ws).spark.session()
    assert type(session).__module__ == "pyspark.sql.connect.session"
    assert spark_backend.jvm_process() is None  # the server ran the jobs: this process started no JVM
    assert session.conf.get("spark.sql.shuffle.partitions") == "3"  # the workspace's conf is the session's

    store = Backends(ws).object_store
    assert_orders_written(store)
    assert not list(store.local_path("s3://lake/curated/").rglob("*.crc"))  # the session writes through RawLocalFileSystem, as locally


@pytest.mark.usefixtures("no_master_env")
def test_a_cluster_leaves_no_state_to_the_next_and_jvm_calls_fail_naming_themselves(server: str,
                                                                                    tmp_path: Path) -> None:
    ws = workspace(tmp_path, {"remote": server})
    first = script(tmp_path, "first.py", """
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.getOrCreate()
        spark.read.option("header", True).csv("s3://lake/raw/").createOrReplaceTempView("orders")
        spark.conf.set("spark.sql.shuffle.partitions", "7")
        spark.range(1).write.mode("overwrite").json("s3://lake/first/")
        spark.stop()  # leaves the warm session alone
        """)
    probe = script(tmp_path, "probe.py", """
        import sys
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.getOrCreate()
        views = [t.name for t in spark.catalog.listTables() if t.isTemporary]
        spark.createDataFrame([(",".join(views), spark.conf.get("spark.sql.shuffle.partitions"))],
                              "views string, partitions string").write.mode("overwrite").json(sys.argv[1])
        """)
    ex = emulator.run(cluster_pipeline([first], [probe, "s3://lake/same/"]), {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    ex = emulator.run(cluster_pipeline([probe, "s3://lake/next/"]), {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    store = Backends(ws).object_store

    def probed(prefix: str) -> dict[str, Any]:
        import json

        (part,) = store.local_path(f"s3://lake/{prefix}/").glob("part-*.json")
        return json.loads(part.read_text())

    assert probed("same") == {"views": "orders", "partitions": "7"}  # one cluster: one session
    assert probed("next") == {"views": "", "partitions": "4"}  # a new cluster: a fresh one, the emulator's conf

    rdd = script(tmp_path, "rdd.py", """
        from pyspark import SparkContext
        SparkContext.getOrCreate().parallelize([1, 2]).count()
        """)
    glue_map = script(tmp_path, "glue_map.py", """
        from awsglue.context import GlueContext
        from pyspark.context import SparkContext
        glue = GlueContext(SparkContext.getOrCreate())
        frame = glue.create_dynamic_frame.from_options("s3", {"paths": ["s3://lake/raw/"]}, "csv",
                                                       {"withHeader": True})
        print("records:", frame.count())
        frame.map(lambda record: record).count()
        """)
    ws.config.glue_jobs["mapper"] = {"ScriptLocation": glue_map}
    ex = emulator.run(cluster_pipeline([rdd]), {}, workspace=ws)
    assert ex.status == "FAILED"
    assert "ConnectUnsupportedError: SparkContext.parallelize is not available on a Spark Connect session" in ex.cause
    ex = emulator.run({"StartAt": "Glue", "States": {"Glue": {
        "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync", "Parameters": {"JobName": "mapper"},
        "End": True}}}, {}, workspace=ws)
    assert ex.status == "FAILED" and ex.error == "States.TaskFailed"
    assert "DynamicFrame.map is not available locally: it needs RDDs, which a Spark Connect session" in ex.cause
    assert f"records: {len(ORDERS)}" in (ws.root / "logs").joinpath(next(
        p.name for p in (ws.root / "logs").iterdir() if p.name.startswith("jr_"))).read_text()


@pytest.mark.usefixtures("no_master_env")
def test_storage_names_where_the_cluster_sees_the_buckets(server: str, tmp_path: Path) -> None:
    shared = tmp_path / "shared"  # the cluster's view of the buckets: another folder than the object store's
    (shared / "lake" / "raw").mkdir(parents=True)
    (shared / "lake" / "raw" / "orders.csv").write_bytes(ORDERS_CSV[:ORDERS_CSV.index(b"\n10,")])  # ids 0-9 only
    ws = workspace(tmp_path, {"remote": server, "storage": shared.as_uri()})
    ex = emulator.run(cluster_pipeline([str(FIXTURES / "csv_to_parquet.py"), "s3://lake/raw/", "s3://lake/totals/"]),
                      {}, workspace=ws)
    assert ex.status == "SUCCEEDED", ex.cause
    assert not Backends(ws).object_store.local_path("s3://lake/totals/").exists()
    totals = {row["region"]: row["n"] for row in pq.read_table(shared / "lake" / "totals").to_pylist()}
    assert totals == {"eu": 5, "us": 5}


@pytest.mark.parametrize(("section", "message"), [
    ({"remote": "http://127.0.0.1:15002"}, "[spark] remote: expected a Spark Connect URL \"sc://host:port\", got "
                                           "string 'http://127.0.0.1:15002'"),
    ({"remote": "sc://127.0.0.1:15002", "master": "local[1]"}, "[spark] remote: give master (a Spark cluster) or "
                                                               "remote (Spark Connect), not both"),
    ({"remote": "sc://h:1", "storage": "s3://lake/"}, "[spark] storage: expected the URI the cluster sees"),
    ({"remote": "sc://h:1", "storage": "/shared"}, "[spark] storage: expected the URI the cluster sees"),
])
def test_bad_remote_settings_are_refused_naming_the_key(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        spark_settings(Config(spark=section, source=Path("/p/sfn-local.toml")))
    assert str(info.value).startswith(f"/p/sfn-local.toml: {message}")


def test_remote_settings_read_from_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(spark_backend.MASTER_ENV, "local[1]")  # a default master does not override a remote
    settings = spark_settings(Config(spark={"remote": "sc://10.0.0.5:15002/;user_id=etl", "storage": "hdfs://nn/l"}))
    assert (settings.remote, settings.storage, settings.where) == ("sc://10.0.0.5:15002/;user_id=etl", "hdfs://nn/l",
                                                                   "sc://10.0.0.5:15002/;user_id=etl")
    assert spark_settings(Config(spark={"remote": "sc://h:1"}), master="local[2]").remote is None  # the caller's wins


def test_the_config_file_locates_bad_remote_keys(tmp_path: Path) -> None:
    (tmp_path / "sfn-local.toml").write_text('[spark]\nmaster = "local[2]"\nremote = "sc://h:15002"\n'
                                             'storage = "shared/lake"\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    where = tmp_path / "sfn-local.toml"
    assert str(info.value).splitlines()[1:] == [
        f"  {where}:3: [spark] remote: give master (a Spark cluster) or remote (Spark Connect), not both",
        f"  {where}:4: [spark] storage: expected the URI the cluster sees the buckets' folders under "
        "(\"file:///...\", \"hdfs://host:port/...\"), got string 'shared/lake'",
    ]
    (tmp_path / "sfn-local.toml").write_text('[spark]\nremote = "localhost:15002"\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(info.value) == f"{where}:2: [spark] remote: expected a Spark Connect URL \"sc://host:port\", got " \
                              "string 'localhost:15002'"


@pytest.mark.usefixtures("no_master_env")
def test_a_served_workspace_offers_its_connect_session_to_other_processes(server: str, tmp_path: Path) -> None:
    # `serve` on a workspace with `remote` advertises its (Connect) session like a local one: ping and warm
    # answer with the session's id, as they answer a local session's application id.
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from emulator.backends import sparkservice

    ws = workspace(tmp_path, {"remote": server})
    backends = Backends(ws)
    with sparkservice.advertise(ws, "http://127.0.0.1:1"), \
            TestClient(Starlette(routes=sparkservice.routes(backends))) as client:
        token = {sparkservice.TOKEN_HEADER: sparkservice._tokens[ws.root]}
        warmed = client.post(f"{sparkservice.PREFIX}/warm", headers=token)
        pinged = client.get(sparkservice.PREFIX, headers=token)
    assert warmed.status_code == 200 and pinged.status_code == 200, (warmed.text, pinged.text)
    session_id = warmed.json()["applicationId"]
    assert isinstance(session_id, str) and session_id == pinged.json()["applicationId"]
    assert pinged.json()["workspace"] == str(ws.root)
