"""The driver JVM's start options: C1 only and a class-data archive written once, then mapped."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.backends import Backends, sparkjvm
from emulator.backends import spark as spark_backend
from emulator.workspace import Config, Workspace

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("needs Java", allow_module_level=True)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(sparkjvm.CDS_ENV, raising=False)
    monkeypatch.setattr(sparkjvm, "_pending", None)
    yield tmp_path / "cache" / "sfn-local"


def java(options: str, *args: str) -> subprocess.Popen[bytes]:
    """A real JVM started with `options` (it dumps or maps the archive as they say), run to its end."""
    process = subprocess.Popen(["java", *shlex.split(options), *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    process.wait(timeout=120)
    return process


def test_the_first_jvm_writes_the_archive_and_later_ones_map_it(cache: Path) -> None:
    archive = sparkjvm.archive_path()
    assert archive is not None and archive.parent == cache
    first = sparkjvm.driver_options()
    assert first.split()[0] == sparkjvm.C1_ONLY and "-XX:ArchiveClassesAtExit=" in first
    # While this process's JVM has not written it, no other start dumps one too (nor maps a half-written one).
    assert sparkjvm.driver_options() == sparkjvm.C1_ONLY
    assert sparkjvm.exit_seconds() == sparkjvm.DUMP_EXIT_SECONDS

    sparkjvm.exited(java(first, "-version"))
    assert archive.is_file() and list(cache.glob("*.tmp")) == []
    assert sparkjvm.exit_seconds() == 10.0
    later = sparkjvm.driver_options()
    assert later == f"{sparkjvm.C1_ONLY} -XX:SharedArchiveFile={archive}"
    assert java(later, "-Xshare:on", "-version").returncode == 0  # -Xshare:on fails unless the archive maps


def test_a_jvm_that_fails_keeps_no_archive(cache: Path) -> None:
    sparkjvm.exited(java(sparkjvm.driver_options(), "-cp", str(cache), "NoSuchMainClass"))
    archive = sparkjvm.archive_path()
    assert archive is not None and not archive.exists() and list(cache.glob("*")) == []
    assert "-XX:ArchiveClassesAtExit=" in sparkjvm.driver_options()  # the next JVM tries again


def test_a_dead_process_leftover_is_removed_and_does_not_block_the_dump(cache: Path) -> None:
    archive = sparkjvm.archive_path()
    assert archive is not None
    ended = subprocess.Popen(["true"])
    ended.wait()
    cache.mkdir(parents=True)
    leftover = cache / f"{archive.name}.{ended.pid}.tmp"
    leftover.write_bytes(b"half an archive")
    assert "-XX:ArchiveClassesAtExit=" in sparkjvm.driver_options()
    assert not leftover.exists()


def test_the_archive_can_be_turned_off(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sparkjvm.CDS_ENV, "0")
    assert sparkjvm.driver_options() == sparkjvm.C1_ONLY
    assert not cache.exists()


def test_the_session_jvm_runs_c1_only_with_the_archive_and_without_whole_stage_codegen(tmp_path: Path) -> None:
    spark_backend.stop_session()
    archive = sparkjvm.archive_path()
    had_archive = archive is not None and archive.is_file()
    engine = Backends(Workspace(root=tmp_path / "ws", project=tmp_path, config=Config())).spark
    try:
        session = engine.session()
        jvm = session._jvm
        bean = jvm.java.lang.management.ManagementFactory.getPlatformMXBean(
            jvm.java.lang.Class.forName("com.sun.management.HotSpotDiagnosticMXBean"))
        assert bean.getVMOption("TieredStopAtLevel").getValue() == "1"
        if had_archive:
            assert bean.getVMOption("SharedArchiveFile").getValue() == str(archive)
        assert session.conf.get("spark.sql.codegen.wholeStage") == "false"
        script = tmp_path / "count.py"
        script.write_text("from pyspark.sql import SparkSession\n"
                          "spark = SparkSession.builder.getOrCreate()\n"
                          "spark.conf.set('spark.sql.codegen.wholeStage', 'true')\n"
                          "assert spark.range(5).groupBy().sum().collect()[0][0] == 10\n", encoding="utf-8")
        assert engine.run_script(script, []).state == "SUCCEEDED"
        # Back in the pool, cleared: the session's own setting again, not the job's.
        assert spark_backend._session is not None
        assert spark_backend._session.conf.get("spark.sql.codegen.wholeStage") == "false"
    finally:
        spark_backend.stop_session()
