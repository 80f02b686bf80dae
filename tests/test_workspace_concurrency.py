"""Several processes on one workspace: catalog writes are not lost, names are not shared, and a
killed process leaves no EMR cluster RUNNING for the next one."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from emulator.backends import Backends
from emulator.integrations.emr import Emr, EmrError
from emulator.workspace import Config, Workspace

ROOT = Path(__file__).resolve().parents[1]


def start(code: str, *args: str) -> subprocess.Popen[str]:
    """A Python process running `code` (argv[1:] = args) with the project importable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen[str], timeout: float = 120) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


# Each process waits for the go file, so both write at the same time.
PREAMBLE = """
    import sys, time
    from pathlib import Path
    from emulator.backends import Backends
    from emulator.workspace import Config, Workspace
    root, who, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    catalog = Backends(Workspace(root=root, project=root.parent, config=Config())).catalog
    while not go.exists():
        time.sleep(0.005)
"""


def run_together(tmp_path: Path, code: str, count: int = 2) -> list[str]:
    go = tmp_path / "go"
    processes = [start(textwrap.dedent(PREAMBLE) + textwrap.dedent(code), str(tmp_path / "ws"), str(i), str(go))
                 for i in range(count)]
    time.sleep(1.5)  # both are importing; the go file releases them at once
    go.touch()
    return [finish(p) for p in processes]


def catalog_of(tmp_path: Path) -> Backends:
    return Backends(Workspace(root=tmp_path / "ws", project=tmp_path, config=Config()))


def test_two_processes_adding_60_partitions_each_keep_all_120(tmp_path: Path) -> None:
    catalog = catalog_of(tmp_path).catalog
    catalog.create_database({"Name": "lake"})
    catalog.create_table("lake", {"Name": "events", "PartitionKeys": [{"Name": "p", "Type": "string"}],
                                  "StorageDescriptor": {"Location": "s3://lake/events/", "Columns": []}})
    run_together(tmp_path, """
        for i in range(60):
            errors = catalog.batch_create_partitions("lake", "events", [{"Values": [f"{who}-{i}"]}])
            assert errors == [], errors
    """)
    values = sorted(p["Values"][0] for p in catalog.get_partitions("lake", "events"))
    assert values == sorted(f"{who}-{i}" for who in range(2) for i in range(60))


def test_two_processes_creating_databases_and_tables_lose_none(tmp_path: Path) -> None:
    catalog = catalog_of(tmp_path).catalog
    outputs = run_together(tmp_path, """
        from emulator.backends.catalog import GlueError
        catalog.ensure_database("shared")
        won = 0
        for i in range(25):
            catalog.create_database({"Name": f"db_{who}_{i}"})
            catalog.create_table("shared", {"Name": f"t_{who}_{i}", "StorageDescriptor": {"Columns": []}})
            try:  # both race for the same name: exactly one may win each
                catalog.create_table("shared", {"Name": f"race_{i}", "StorageDescriptor": {"Columns": []}})
                won += 1
            except GlueError as exc:
                assert exc.code == "AlreadyExistsException", exc
        print(won)
    """)
    databases = {d["Name"] for d in catalog.get_databases()}
    assert databases == {"shared"} | {f"db_{who}_{i}" for who in range(2) for i in range(25)}
    tables = {t["Name"] for t in catalog.get_tables("shared")}
    assert tables == {f"t_{who}_{i}" for who in range(2) for i in range(25)} | {f"race_{i}" for i in range(25)}
    assert sum(int(out) for out in outputs) == 25


def test_the_catalog_lock_excludes_another_process_and_is_freed_when_it_dies(tmp_path: Path) -> None:
    workspace = Workspace(root=tmp_path / "ws", project=tmp_path, config=Config())
    holder = start("""
        import sys, time
        from pathlib import Path
        from emulator.workspace import Config, Workspace
        root = Path(sys.argv[1])
        with Workspace(root=root, project=root.parent, config=Config()).lock("catalog"):
            print("held", flush=True)
            time.sleep(600)
    """, str(workspace.root))
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    probe = """
        import fcntl, os, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            print("free")
        except BlockingIOError:
            print("busy")
    """
    lock_file = str(workspace.root / "locks" / "catalog.lock")
    assert finish(start(probe, lock_file)).strip() == "busy"
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    assert finish(start(probe, lock_file)).strip() == "free"
    with workspace.lock("catalog"):  # and this process gets it at once
        pass


def test_processes_opening_a_new_store_together_all_open_it(tmp_path: Path) -> None:
    # SQLite refuses the switch to WAL at once ("database is locked") while another process makes the same
    # new file. 4 processes open each of 15 new stores at the same instant (a shared wall-clock schedule).
    code = """
        import sys, time
        from pathlib import Path
        from emulator.store import Store
        from emulator.workspace import Config, Workspace
        base, begin = Path(sys.argv[1]), float(sys.argv[2])
        for i in range(15):
            while time.time() < begin + i * 0.1:
                pass
            Store(Workspace(root=base / str(i), project=base, config=Config())).close()
    """
    begin = time.time() + 3  # after all 4 have imported
    processes = [start(code, str(tmp_path / "ws"), str(begin)) for _ in range(4)]
    for process in processes:
        finish(process)
    modes = {sqlite3.connect(tmp_path / "ws" / str(i) / "stepfunctions" / "store.sqlite3")
             .execute("PRAGMA journal_mode").fetchone()[0] for i in range(15)}
    assert modes == {"wal"}


def test_two_cli_runs_cannot_take_one_execution_name(tmp_path: Path) -> None:
    machine = tmp_path / "m.json"
    machine.write_text(json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}}))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SFN_LOCAL_WORKSPACE": str(tmp_path / "ws")}
    command = [sys.executable, "-c", "from emulator.cli import main; main()", "run", str(machine),
               "--name", "same", "--real-time"]
    runs = [subprocess.Popen(command, cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE) for _ in range(2)]
    results = [(r.returncode, *r.communicate(timeout=60)) for r in runs]
    results = [(r.returncode, out, err) for r, (_, out, err) in zip(runs, results, strict=True)]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, _, err in results if code == 2)
    assert "ExecutionAlreadyExists" in loser and "Traceback" not in loser
    db = sqlite3.connect(tmp_path / "ws" / "stepfunctions" / "store.sqlite3")
    records = db.execute("SELECT doc FROM records WHERE kind = 'execution'").fetchall()
    record = json.loads(records[0][0])
    events = db.execute("SELECT COUNT(*) FROM events WHERE execution = ?", (record["executionArn"],)).fetchone()[0]
    db.close()
    assert len(records) == 1 and record["name"] == "same" and record["status"] == "SUCCEEDED" and events == 4


def test_a_killed_process_leaves_its_cluster_terminated_with_errors_and_steps_cancelled(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    workspace = Workspace(root=tmp_path / "ws", project=tmp_path, config=Config())
    owner = start("""
        import json, sys, time
        from pathlib import Path
        from emulator.backends import Backends
        from emulator.integrations.emr import Emr
        from emulator.workspace import Config, Workspace
        root = Path(sys.argv[1])
        backends = Backends(Workspace(root=root, project=root.parent, config=Config()))
        backends.object_store.put("code", "sleep.py", b"import time\\ntime.sleep(600)\\n")
        emr = Emr(backends.workspace, backends.spark)
        cluster = emr.create_cluster({"Name": "doomed", "Steps": [{"Name": "sleepy", "HadoopJarStep": {
            "Jar": "command-runner.jar", "Args": ["spark-submit", "s3://code/sleep.py"]}}]})["ClusterId"]
        while emr.list_steps({"ClusterId": cluster})["Steps"][0]["Status"]["State"] != "RUNNING":
            time.sleep(0.1)
        print(cluster, flush=True)
        time.sleep(600)
    """, str(workspace.root))
    assert owner.stdout is not None
    cluster_id = owner.stdout.readline().strip()
    assert cluster_id.startswith("j-"), owner.stderr.read() if owner.stderr else ""

    emr = Emr(workspace, Backends(workspace).spark)
    # While its process lives, another process sees the cluster as it is and may not change it.
    assert emr.describe_cluster({"ClusterId": cluster_id})["Cluster"]["Status"]["State"] == "RUNNING"
    with pytest.raises(EmrError, match="another sfn-local process"):
        emr.terminate_cluster({"ClusterIds": [cluster_id]})
    owner.send_signal(signal.SIGKILL)
    owner.wait(10)
    cluster = emr.describe_cluster({"ClusterId": cluster_id})["Cluster"]
    assert cluster["Status"]["State"] == "TERMINATED_WITH_ERRORS"
    assert "SfnLocalOwner" not in cluster
    step = emr.list_steps({"ClusterId": cluster_id})["Steps"][0]
    assert step["Status"]["State"] == "CANCELLED" and "EndDateTime" in step["Status"]["Timeline"]
    on_disk = json.loads((workspace.root / "emr" / f"{cluster_id}.json").read_text())
    assert on_disk["Status"]["State"] == "TERMINATED_WITH_ERRORS"


def test_spark_jobs_of_two_processes_take_turns_while_one_process_jobs_share_the_lease(tmp_path: Path) -> None:
    from emulator.backends.spark import _job_lease

    workspace = Workspace(root=tmp_path / "ws", project=tmp_path, config=Config())
    lease = _job_lease(workspace)
    probe = """
        import sys, time
        from pathlib import Path
        from emulator.backends.spark import _job_lease
        from emulator.workspace import Config, Workspace
        root = Path(sys.argv[1])
        print("asking", flush=True)
        began = time.monotonic()
        with _job_lease(Workspace(root=root, project=root.parent, config=Config())):
            print(round(time.monotonic() - began, 1))
    """
    with lease:
        with lease:  # a second job of this process does not wait for the first
            other = start(probe, str(workspace.root))
            assert other.stdout is not None and other.stdout.readline().strip() == "asking"
            time.sleep(1.5)
        assert other.poll() is None  # the other process's job still waits
    waited = float(finish(other))
    assert waited >= 1.0
